"""X API v2 as the simulator serves it: tweets, mentions, recent search and DMs.

Ids are increasing snowflake-like integers (one counter for tweets and DM events), so
`since_id` works as on X. Each index is a list of ids in ascending order, so a page of 100
out of 100,000 is a couple of bisects and a slice. Text is stored as the customer typed it and
HTML-escaped (& < >) on the way out, as X v2 does for tweet text.
"""

import random
import re
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Any

from listening.simulator import x_traffic
from listening.simulator.generator import Draft, TrafficGenerator
from listening.simulator.state import Account, PendingAnswer
from listening.simulator.x_json import tweet_json, user_json, with_includes
from listening.simulator.x_query import compile_query
from listening.simulator.x_text import MAX_WEIGHTED_LENGTH, weighted_length
from listening.simulator.x_wire import (
    DM_DEFAULT_FIELDS,
    TCO,
    DMEvent,
    Tweet,
    XUser,
    decode_token,
    encode_token,
    escape_x,
    fields_param,
    forbidden,
    id_bounds,
    id_param,
    int_param,
    invalid_request,
    iso_x,
    page_of,
    time_param,
)

if TYPE_CHECKING:
    from listening.simulator.state import SimState

ID_STEP = 4_194_304  # one millisecond in a snowflake
# GET /2/users/:id/mentions: "up to the most recent 800 Tweets can be retrieved".
MENTIONS_REACH = 800
# GET /2/tweets/search/recent: the last 7 days.
SEARCH_WINDOW_S = 7 * 86_400
_WORD = re.compile(r"[\w']+", re.UNICODE)

# Per 15-minute window; reported in x-rate-limit-* headers (not enforced: faults do that).
RATE_LIMITS = {
    "mentions": 450,
    "search": 450,
    "dm_events": 300,
    "user_tweets": 900,
    "tweet_lookup": 900,
    "tweets_lookup": 900,
    "create_tweet": 100,
    "create_dm": 200,
    "me": 75,
}


class XNetwork(TrafficGenerator):
    NETWORK = "x"
    KINDS = ("mention", "thread", "reply_to_brand", "quote", "search", "dm")
    KIND_WEIGHTS = (55, 10, 8, 7, 8, 12)
    ANSWERED = ("tweet", "dm")
    FALLBACK_KIND = "mention"

    def __init__(self, state: "SimState", id_base: int) -> None:
        self.state = state
        self._next_id = id_base
        self.users: dict[str, XUser] = {}
        self.tweets: dict[int, Tweet] = {}
        self.all_ids: list[int] = []
        self.mentions: dict[str, list[int]] = {}
        self.timelines: dict[str, list[int]] = {}
        self.dm_events: dict[int, DMEvent] = {}
        self.dm_by_user: dict[str, list[int]] = {}
        self.dm_by_conversation: dict[str, list[int]] = {}
        self.window_calls: dict[str, list[float]] = {}
        self.customers_by_id = {c.x_id: c for c in state.customers}
        for c in state.customers:
            self.users[c.x_id] = XUser(
                c.x_id,
                c.username,
                c.name,
                c.followers,
                c.following,
                c.posts,
                c.verified,
                c.bio,
                c.created_at,
                c.suspended,
            )

    # -- storage ------------------------------------------------------------------------

    def new_id(self) -> int:
        self._next_id += ID_STEP + (self._next_id // ID_STEP) % 97
        return self._next_id

    def add_brand(self, account: Account) -> None:
        user = self.users.get(account.account_id)
        if user is None:
            self.users[account.account_id] = XUser(
                account.account_id,
                account.handle,
                account.name,
                48_200,
                310,
                12_000,
                True,
                f"Official support for {account.name}. We answer 7 days a week.",
                1_300_000_000.0,
            )
        else:
            user.username, user.name = account.handle, account.name
        self.mentions.setdefault(account.account_id, [])

    def add_tweet(
        self,
        author_id: str,
        text: str,
        lang: str,
        rng: random.Random,
        *,
        mentions_of: tuple[str, ...] = (),
        reply_to: Tweet | None = None,
        quote_of: Tweet | None = None,
        expanded: dict[str, str] | None = None,
    ) -> Tweet:
        tweet_id = self.new_id()
        referenced: list[tuple[str, int]] = []
        conversation_id = tweet_id
        in_reply_to_user_id = None
        if reply_to is not None:
            referenced.append(("replied_to", reply_to.id))
            conversation_id = reply_to.conversation_id
            in_reply_to_user_id = reply_to.author_id
        if quote_of is not None:
            referenced.append(("quoted", quote_of.id))
        author = self.users[author_id]
        reach = max(1, author.followers)
        likes = int(rng.expovariate(1 / max(1.0, reach**0.5 / 4)))
        tweet = Tweet(
            id=tweet_id,
            author_id=author_id,
            text=text,
            created=self.state.now(),
            conversation_id=conversation_id,
            lang=lang,
            in_reply_to_user_id=in_reply_to_user_id,
            referenced=tuple(referenced),
            urls=tuple((u, (expanded or {}).get(u, u)) for u in TCO.findall(text)),
            metrics={
                "retweet_count": likes // 5,
                "reply_count": rng.randint(0, 3),
                "like_count": likes,
                "quote_count": likes // 20,
                "bookmark_count": likes // 10,
                "impression_count": likes * 40 + rng.randint(5, 300),
            },
            words=frozenset(w.lower() for w in _WORD.findall(text)),
        )
        self.tweets[tweet_id] = tweet
        self.all_ids.append(tweet_id)
        self.timelines.setdefault(author_id, []).append(tweet_id)
        for account_id in mentions_of:
            self.mentions.setdefault(account_id, []).append(tweet_id)
        return tweet

    def edit_tweet(self, tweet_id: int, text: str) -> Tweet:
        """The author edits a tweet, as on X: a new tweet with a new id and the new text, in the
        same conversation and timelines, whose `edit_history_tweet_ids` chain the versions
        from the original. The earlier versions stay readable by their ids."""
        old = self.tweets[tweet_id]
        brands = [a for a, ids in self.mentions.items() if _contains(ids, tweet_id)]
        tweet_new = self.add_tweet(old.author_id, text, old.lang, self.state.rng, mentions_of=())
        tweet_new.conversation_id = old.conversation_id
        tweet_new.in_reply_to_user_id = old.in_reply_to_user_id
        tweet_new.referenced = old.referenced
        tweet_new.earlier = (*old.earlier, old.id)
        for account_id in brands:
            self.mentions[account_id].append(tweet_new.id)
        return tweet_new

    def delete_tweet(self, tweet_id: int) -> list[int]:
        """The author deletes a tweet: as on X, every version of its edit chain goes, from every
        listing and look-up. Returns the ids deleted."""
        tweet = self.tweets[tweet_id]
        root = tweet.earlier[0] if tweet.earlier else tweet.id
        chain = [
            i for i, t in self.tweets.items() if i == root or (t.earlier and t.earlier[0] == root)
        ]
        for i in chain:
            gone = self.tweets.pop(i)
            for ids in (
                self.all_ids,
                self.timelines.get(gone.author_id, []),
                *self.mentions.values(),
            ):
                pos = bisect_left(ids, i)
                if pos < len(ids) and ids[pos] == i:
                    del ids[pos]
        return sorted(chain)

    def kind_of(self, item_id: str) -> str:
        """What `item_id` is, as the brand's reads see it: "dm" (dm_events), "mention" (in an
        account's mentions timeline) or "search" (found by search only)."""
        number = int(item_id)
        if number in self.dm_events:
            return "dm"
        if any(_contains(ids, number) for ids in self.mentions.values()):
            return "mention"
        return "search"

    def add_dm(self, sender_id: str, other_id: str, text: str) -> DMEvent:
        low, high = sorted((sender_id, other_id), key=int)
        conversation_id = f"{low}-{high}"
        event = DMEvent(self.new_id(), text, sender_id, conversation_id, self.state.now())
        self.dm_events[event.id] = event
        for user_id in {sender_id, other_id}:
            self.dm_by_user.setdefault(user_id, []).append(event.id)
        self.dm_by_conversation.setdefault(conversation_id, []).append(event.id)
        return event

    # -- traffic ------------------------------------------------------------------------

    def add_item(self, account: Account, rng: random.Random, kind: str, draft: Draft) -> str:
        return x_traffic.add_customer_post(self, account, rng, kind, draft)

    def answer(self, account: Account, pending: PendingAnswer, rng: random.Random) -> str:
        return x_traffic.follow_up(self, account, pending, rng)

    def _timeline(
        self, ids: list[int], params: dict[str, str], count: int, token_name: str
    ) -> dict[str, Any]:
        token_raw = params.get(token_name) or params.get("pagination_token")
        token = decode_token(token_raw) if token_raw else None
        since_id = id_param(params, "since_id")
        until_id = id_param(params, "until_id")
        start_time = time_param(params, "start_time")
        end_time = time_param(params, "end_time")
        if start_time is not None or end_time is not None:
            # Times rise with ids, so a time bound is an id bound found by bisecting times.
            def created(i: int) -> float:
                return self.tweets[i].created

            if start_time is not None:
                pos = bisect_left(ids, start_time, key=created)
                if pos > 0:
                    since_id = max(since_id or 0, ids[pos - 1])
            if end_time is not None:
                pos = bisect_left(ids, end_time, key=created)
                if pos < len(ids):
                    until_id = min(until_id, ids[pos]) if until_id else ids[pos]
        page_ids, more = page_of(ids, count, since_id, until_id, token)
        return self._tweet_page(page_ids, more, params, token_name)

    def _tweet_page(
        self, page_ids: list[int], more: bool, params: dict[str, str], token_name: str
    ) -> dict[str, Any]:
        if not page_ids:
            return {"meta": {"result_count": 0}}
        tweets = [self.tweets[i] for i in page_ids]
        fields = fields_param(params, "tweet.fields")
        body = with_includes(self, [tweet_json(self, t, fields) for t in tweets], tweets, params)
        meta: dict[str, Any] = {
            "newest_id": str(page_ids[0]),
            "oldest_id": str(page_ids[-1]),
            "result_count": len(page_ids),
        }
        if more:
            meta[token_name] = encode_token(page_ids[-1])
        body["meta"] = meta
        return body

    def count_window(self, route: str) -> dict[str, str]:
        """x-rate-limit-* headers for one more call to `route` in its 15-minute window."""
        now = self.state.now()
        window = 900
        calls = self.window_calls.setdefault(route, [])
        start = now - (now % window)
        calls[:] = [t for t in calls if t >= start]
        calls.append(now)
        limit = RATE_LIMITS.get(route, 300)
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(1, limit - len(calls))),
            "x-rate-limit-reset": str(int(start + window)),
        }

    # -- endpoints ----------------------------------------------------------------------

    def get_mentions(self, user_id: str, params: dict[str, str]) -> dict[str, Any]:
        """The mentions timeline: only its MENTIONS_REACH most recent posts, however paged."""
        count = int_param(params, "max_results", 10, 5, 100)
        ids = self.mentions.get(user_id, [])[-MENTIONS_REACH:]
        return self._timeline(ids, params, count, "next_token")

    def get_user_tweets(self, user_id: str, params: dict[str, str]) -> dict[str, Any]:
        count = int_param(params, "max_results", 10, 5, 100)
        own = self.state.listed_only(self.timelines.get(user_id, []))
        return self._timeline(own, params, count, "next_token")

    def search_recent(self, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("query", "")
        if not query:
            raise invalid_request("query", "", "The `query` query parameter can not be empty")
        matcher = compile_query(query)
        count = int_param(params, "max_results", 10, 10, 100)
        token_raw = params.get("next_token") or params.get("pagination_token")
        token = decode_token(token_raw) if token_raw else None
        since_id = id_param(params, "since_id")
        until_id = id_param(params, "until_id")
        start_time = time_param(params, "start_time")
        if since_id is not None and start_time is not None:
            raise invalid_request(
                "since_id", str(since_id), "since_id and start_time cannot be used together"
            )
        week_ago = self.state.now() - SEARCH_WINDOW_S
        if start_time is not None and start_time < week_ago:
            raise invalid_request(
                "start_time",
                params["start_time"],
                f"Invalid 'start_time':'{params['start_time']}'. 'start_time' must be on or"
                f" after {iso_x(week_ago)}",
            )
        ids = self.all_ids
        if since_id is not None and self._before_window(since_id, week_ago):
            # X refuses a since_id older than the 7-day window rather than serving from it.
            raise invalid_request(
                "since_id",
                str(since_id),
                f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created after"
                f" {iso_x(week_ago)}",
            )
        lo, hi = id_bounds(ids, since_id, until_id, token)
        floor = max(week_ago, start_time or week_ago)
        page: list[int] = []
        more = False
        for pos in range(hi - 1, lo - 1, -1):
            tweet = self.tweets[ids[pos]]
            if tweet.created < floor:
                break
            if tweet.author_id in self.customers_by_id and matcher(self, tweet):
                if len(page) == count:
                    more = True
                    break
                page.append(tweet.id)
        return self._tweet_page(page, more, params, "next_token")

    def _before_window(self, tweet_id: int, week_ago: float) -> bool:
        """Whether id `tweet_id` was issued before the search window, told by the newest tweet
        at or before it (ids rise with time); an id older than every tweet is too old."""
        pos = bisect_right(self.all_ids, tweet_id)
        if pos == 0:
            return True
        return self.tweets[self.all_ids[pos - 1]].created < week_ago

    def get_tweet(self, tweet_id: str, params: dict[str, str]) -> dict[str, Any]:
        tweet = self.tweets.get(int(tweet_id)) if tweet_id.isdigit() else None
        if tweet is None:
            return {
                "errors": [
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with id: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "id",
                        "resource_id": tweet_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            }
        body = with_includes(
            self, [tweet_json(self, tweet, fields_param(params, "tweet.fields"))], [tweet], params
        )
        body["data"] = body["data"][0]
        return body

    def get_tweets(self, params: dict[str, str]) -> dict[str, Any]:
        """GET /2/tweets?ids=: 1 to 100 ids. As on X, an id that is gone (deleted, never
        existed) is no failure: the answer is 200 with the tweets found in `data` (absent
        when none is) and one `errors` entry per missing id."""
        raw = params.get("ids", "")
        ids = raw.split(",") if raw else []
        if not 1 <= len(ids) <= 100:
            raise invalid_request(
                "ids",
                raw,
                f"The number of values in the `ids` query parameter list [{len(ids)}] is not "
                "between 1 and 100",
            )
        for value in ids:
            if not value.isdigit() or len(value) > 19:
                raise invalid_request(
                    "ids", value, f"The `ids` query parameter value [{value}] is not valid"
                )
        found = [self.tweets[int(i)] for i in ids if int(i) in self.tweets]
        fields = fields_param(params, "tweet.fields")
        if "author_id" in fields_param(params, "expansions"):
            fields.add("author_id")  # an expansion's id is always in the data object
        body = with_includes(self, [tweet_json(self, t, fields) for t in found], found, params)
        if not found:
            del body["data"]
        known = {str(t.id) for t in found}
        missing = [
            {
                "value": value,
                "detail": f"Could not find tweet with id: [{value}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "ids",
                "resource_id": value,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for value in dict.fromkeys(ids)
            if value not in known
        ]
        if missing:
            body["errors"] = missing + body.get("errors", [])
        return body

    def get_me(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        return {
            "data": user_json(self.users[account.account_id], fields_param(params, "user.fields"))
        }

    def _dm_page(self, ids: list[int], params: dict[str, str]) -> dict[str, Any]:
        count = int_param(params, "max_results", 100, 1, 100)
        token_raw = params.get("pagination_token")
        token = decode_token(token_raw) if token_raw else None
        page_ids, more = page_of(ids, count, None, None, token)
        if not page_ids:
            return {"meta": {"result_count": 0}}
        fields = fields_param(params, "dm_event.fields") | set(DM_DEFAULT_FIELDS)
        data = []
        sender_ids: list[str] = []
        for event_id in page_ids:
            event = self.dm_events[event_id]
            item: dict[str, Any] = {"id": str(event.id), "event_type": "MessageCreate"}
            item["text"] = event.text
            if "sender_id" in fields:
                item["sender_id"] = event.sender_id
            if "dm_conversation_id" in fields:
                item["dm_conversation_id"] = event.conversation_id
            if "created_at" in fields:
                item["created_at"] = iso_x(event.created)
            if "participant_ids" in fields:
                item["participant_ids"] = event.conversation_id.split("-")
            data.append(item)
            sender_ids.append(event.sender_id)
        body: dict[str, Any] = {"data": data}
        if "sender_id" in fields_param(params, "expansions"):
            user_fields = fields_param(params, "user.fields")
            unique = dict.fromkeys(sender_ids)
            users = [
                user_json(self.users[u], user_fields)
                for u in unique
                if u in self.users and not self.users[u].suspended
            ]
            if users:
                body["includes"] = {"users": users}
        meta: dict[str, Any] = {"result_count": len(page_ids)}
        if more:
            meta["next_token"] = encode_token(page_ids[-1])
        body["meta"] = meta
        return body

    def get_dm_events(self, account: Account, params: dict[str, str]) -> dict[str, Any]:
        if params.get("event_types", "MessageCreate") not in ("MessageCreate", ""):
            return {"meta": {"result_count": 0}}
        return self._dm_page(
            self.state.listed_only(self.dm_by_user.get(account.account_id, [])), params
        )

    def get_dm_conversation_events(
        self, account: Account, participant_id: str, params: dict[str, str]
    ) -> dict[str, Any]:
        low, high = sorted((account.account_id, participant_id), key=_numeric)
        events = self.dm_by_conversation.get(f"{low}-{high}", [])
        return self._dm_page(self.state.listed_only(events), params)

    def create_tweet(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("text", str(text), "The `text` field is required")
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            raise forbidden("Your Tweet text is too long.")
        reply = body.get("reply") or {}
        target_id = str(reply.get("in_reply_to_tweet_id", ""))
        target = self.tweets.get(int(target_id)) if target_id.isdigit() else None
        if target_id and target is None:
            raise forbidden(
                "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        author = account
        if target is not None:
            # The brand the customer addressed answers, whichever token was used.
            owner = next(
                (
                    a
                    for a in self.state.accounts.values()
                    if a.network == "x"
                    and _contains(self.mentions.get(a.account_id, []), target.id)
                ),
                None,
            )
            author = owner or account
        already = any(
            self.tweets[i].text == text
            and (target is None or ("replied_to", target.id) in self.tweets[i].referenced)
            for i in self.timelines.get(author.account_id, [])
        )
        if self.state.refuses_duplicate("x", "/2/tweets", already):
            raise forbidden("You are not allowed to create a Tweet with duplicate content.")
        tweet = self.add_tweet(author.account_id, text, "en", self.state.rng, reply_to=target)
        self.state.lag_publication("x", "/2/tweets", str(tweet.id))
        self.state.record_reply(
            "x",
            author.account_id,
            {
                "id": str(tweet.id),
                "kind": "tweet",
                "text": text,
                "in_reply_to": target_id or None,
                "recipient": target.author_id if target else None,
            },
        )
        return {
            "data": {
                "id": str(tweet.id),
                "text": escape_x(text),
                "edit_history_tweet_ids": [str(tweet.id)],
            }
        }

    def create_dm(
        self, account: Account, participant_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("text", str(text), "The `text` field is required")
        if participant_id not in self.users or self.users[participant_id].suspended:
            raise forbidden("You cannot send messages to this user.")
        if len(text) > 10_000:
            raise invalid_request("text", text[:20], "The text is longer than 10000 characters")
        event = self.add_dm(account.account_id, participant_id, text)
        self.state.lag_publication(
            "x", f"/2/dm_conversations/with/{participant_id}/messages", str(event.id)
        )
        self.state.record_reply(
            "x",
            account.account_id,
            {
                "id": str(event.id),
                "kind": "dm",
                "text": text,
                "in_reply_to": None,
                "recipient": participant_id,
                "dm_conversation_id": event.conversation_id,
            },
        )
        return {"data": {"dm_conversation_id": event.conversation_id, "dm_event_id": str(event.id)}}


def _numeric(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _contains(ids: list[int], value: int) -> bool:
    pos = bisect_left(ids, value)
    return pos < len(ids) and ids[pos] == value
