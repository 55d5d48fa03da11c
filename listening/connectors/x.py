"""The X (API v2) connector, on tweepy 4.17's `Client`.

Streams and their cursor keys: "mentions" (users/{id}/mentions with since_id; the part of a
backlog beyond its 800-post reach is read by recent search under "mentions:search"), "rule:<id>"
for each enabled listening rule (tweets/search/recent with since_id) and "dm" (dm_events,
which has no since_id: paging stops at the newest event id stored). Cursor values are the
newest id seen, as a string, or a continuation while a backlog is read over several polls
(`x_paging`). X bills every post read, so a stream without a cursor reads one page only;
backfills go through `manage.py import_posts`.
"""

import logging
import re
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
import tweepy
from django.utils import timezone

from listening.connectors import http, x_media
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    ConnectorError,
    DuplicatePost,
    PermanentError,
    PostGone,
    RateLimited,
    TransientError,
    transport_reason,
)
from listening.connectors.x_normalise import (
    NETWORK,
    _dig,
    _is_bare_item,
    _replied_to,
    _short,
    _str_or_none,
    _text,
    _users_by_id,
    normalise_dm,
    normalise_tweet,
    parse_x_time,
)
from listening.connectors.x_oauth import XClient
from listening.posts import (
    FetchBatch,
    FetchPage,
    FetchResult,
    Hydration,
    InboundPost,
    ModeratedPost,
    OutboundReply,
    Quarantined,
    collect,
)

if TYPE_CHECKING:
    from listening.models import Channel

log = logging.getLogger(__name__)

PAGE_SIZE = 100
LOOKUP_BATCH = 100  # ids per GET /2/tweets, X's maximum
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)
# A reply we may have sent is looked for from this long before the send started.
FIND_PUBLISHED_SLACK = timedelta(minutes=2)
FIND_PUBLISHED_MAX_PAGES = 5

TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "in_reply_to_user_id",
    "lang",
    "public_metrics",
    "referenced_tweets",
    "entities",
    "attachments",
]
TWEET_EXPANSIONS = [
    "author_id",
    "referenced_tweets.id",
    "in_reply_to_user_id",
    "attachments.media_keys",
]
USER_FIELDS = ["id", "name", "username", "verified", "public_metrics", "profile_image_url"]
DM_EVENT_FIELDS = [
    "id",
    "text",
    "event_type",
    "created_at",
    "sender_id",
    "dm_conversation_id",
    "attachments",
]
OWN_TWEET_FIELDS = ["created_at", "referenced_tweets", "in_reply_to_user_id", "conversation_id"]

_URL = re.compile(r"https?://\S+", re.IGNORECASE)


class XConnector:
    """Fetch, publish and reconcile on X.

    Reads channel state; writes only the channel's credentials, when an OAuth 2.0 user token
    is refreshed (see `x_oauth`).
    """

    network = NETWORK

    # ---- fetch -------------------------------------------------------------------------

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult:
        """Every page one poll of `channel` reads since `cursor`, merged (see `fetch_pages`)."""
        return collect(self.fetch_pages(channel, cursor), cursor)

    def fetch_pages(self, channel: "Channel", cursor: dict[str, Any]) -> Iterator[FetchPage]:
        """Read every stream of `channel` since `cursor`, one FetchPage per page read.

        Each page carries its new posts (own posts skipped, repeats within the poll removed),
        rejects, reads and the whole cursor to store once it is stored: a backlog bigger than
        the poll's budget leaves a continuation there (see `x_paging`). Raises a
        ConnectorError subclass on failure; the pages handed on before it stay valid.
        """
        from listening.connectors import x_paging

        yield from x_paging.fetch_pages(channel, XClient(channel), cursor)

    # ---- import ------------------------------------------------------------------------

    def normalise_payload(
        self, payload: dict[str, Any], *, account_id: str = ""
    ) -> tuple[list[InboundPost], list[Quarantined]]:
        """Normalise one raw X API v2 response (tweets or dm_events) for import.

        The shape is told by its items: DM events carry event_type / dm_conversation_id.
        With `account_id`, the brand's own posts are skipped as in `fetch`. A payload that
        is not an X v2 response comes back as one Quarantined item with the reason.
        """
        if not isinstance(payload, dict):
            return [], [Quarantined(reason="not an X API v2 response object", payload=payload)]
        if _is_bare_item(payload):
            payload = {"data": [payload]}  # one item, as the quarantine keeps it
        data = payload.get("data")
        if data is None:
            if isinstance(payload.get("meta"), dict) or "errors" in payload:
                return [], []
            return [], [Quarantined(reason="X API v2 response without data", payload=payload)]
        if isinstance(data, dict):
            payload = {**payload, "data": [data]}
        elif not isinstance(data, list):
            return [], [Quarantined(reason="X API v2 data is not a list", payload=payload)]
        batch = _Batch(own_id=account_id)
        items = payload["data"]
        is_dm = any(
            isinstance(i, dict) and ("event_type" in i or "dm_conversation_id" in i) for i in items
        )
        if is_dm:
            batch.add_dm_page(payload, stop_at=None)
        else:
            batch.add_tweet_page(payload, kind_hint=None)
        return batch.posts, batch.quarantined

    def lookup_ids(self, records: list[Any]) -> list[str]:
        """Ids of the items of `records` that `hydrate` would ask the network for."""
        from listening.connectors.x_lookup import lookup_ids

        return lookup_ids(records)

    def hydrate(
        self,
        channel: "Channel",
        records: list[Any],
        *,
        dry_run: bool = False,
        skip: Collection[str] = (),
    ) -> Hydration:
        """Complete saved tweets that lack their author or date through X's tweet look-up.

        `records` are raw v2 responses (or single items) as `normalise_payload` takes them.
        Tweets without author_id or created_at are asked for again with GET /2/tweets?ids=
        (100 ids a request, with the author expansion and the fields a poll asks for), and
        replaced by X's answer, their authors added to the record's includes. X bills every
        post it returns: `reads` counts them. Ids X does not return (deleted, protected,
        suspended) or that could not be asked for (no credentials, X unreachable, rate
        limited) are in `unresolved` with the reason, their tweets left as they were, so
        normalisation holds them in the quarantine: never stored without an author. With
        `dry_run` nothing is sent and the counts say what the look-up would cost at most.
        """
        from listening.connectors.x_lookup import lookup_ids, merge_lookup

        wanted = [i for i in lookup_ids(records) if i not in skip]
        result = Hydration(records=records, wanted=len(wanted))
        chunks = [wanted[i : i + LOOKUP_BATCH] for i in range(0, len(wanted), LOOKUP_BATCH)]
        if dry_run:
            result.requests, result.reads = len(chunks), len(wanted)
            return result
        if not chunks:
            return result
        found: dict[str, dict[str, Any]] = {}
        users: dict[str, dict[str, Any]] = {}
        media: dict[str, dict[str, Any]] = {}
        try:
            client = XClient(channel)
        except ConnectorError as exc:
            result.give_up(wanted, "X", exc)
            return result
        for number, chunk in enumerate(chunks):
            try:
                answer = _call(client.get_tweets, ids=chunk, user_auth=False, **_tweet_params())
            except ConnectorError as exc:
                # Unreachable, refused or rate limited: ask no more; the rest is held.
                for rest in chunks[number:]:
                    result.give_up(rest, "X", exc)
                break
            result.requests += 1
            items = _items(answer)
            result.reads += len(items)
            users.update(_users_by_id(answer))
            media.update(x_media.media_by_key(answer))
            found.update((str(item["id"]), item) for item in items)
            for error in answer.get("errors") or []:
                if isinstance(error, dict) and error.get("resource_type") == "tweet":
                    missing = str(error.get("resource_id") or error.get("value") or "")
                    title = _short(error.get("title"), 100) or "error"
                    result.fail([missing], f"author unknown: X did not return the post ({title})")
            result.fail(
                [i for i in chunk if i not in found],
                "author unknown: X did not return the post",
            )
        result.records = [merge_lookup(record, found, users, media) for record in records]
        return result

    # ---- deletions ---------------------------------------------------------------------

    def find_missing_posts(self, channel: "Channel", ids: list[str]) -> tuple[set[str], int]:
        """Which of the tweets `ids` X no longer has, and how many posts X billed for.

        GET /2/tweets?ids= (100 ids a request) answers 200 with the tweets it still has in
        `data` and one `errors` entry per id it cannot find, typed
        ".../problems/resource-not-found": deleted by its author (or its account gone).
        Only those are missing: an id withheld for another reason (a protected account,
        "not-authorized-for-resource") or absent without an error is not. Asks for no
        expansions: the look-up needs nothing but the ids. Raises ConnectorError.
        """
        client = XClient(channel)
        missing: set[str] = set()
        reads = 0
        for start in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[start : start + LOOKUP_BATCH]
            answer = _call(client.get_tweets, ids=chunk, user_auth=False)
            reads += len(_items(answer))
            asked = set(chunk)
            for error in answer.get("errors") or []:
                if not isinstance(error, dict) or error.get("resource_type") != "tweet":
                    continue
                if not str(error.get("type") or "").endswith("/resource-not-found"):
                    continue
                gone = str(error.get("resource_id") or error.get("value") or "")
                if gone in asked:
                    missing.add(gone)
        return missing, reads

    # ---- publish -----------------------------------------------------------------------

    def publish(self, reply: OutboundReply) -> str:
        """Post `reply` on X: a reply tweet, or a DM to the customer. Returns its id.

        Raises AmbiguousSend when the request may have reached X (timeout after sending,
        5xx, unreadable answer): the caller must reconcile with `find_published`.
        """
        client = XClient(reply.channel)
        target = reply.target
        try:
            if reply.is_private:
                answer = client.create_direct_message(
                    participant_id=target.author_id, text=reply.text, user_auth=False
                )
                external_id = _dig(answer, "data", "dm_event_id")
            else:
                if target.is_private:
                    raise PermanentError("A DM cannot be answered with a public reply on X.")
                answer = client.create_tweet(
                    text=reply.text, in_reply_to_tweet_id=target.external_id, user_auth=False
                )
                external_id = _dig(answer, "data", "id")
        except ConnectorError:
            raise
        except Exception as exc:
            raise _map_error(exc, sending=True) from exc
        if not external_id:
            raise AmbiguousSend("X accepted the request but its answer carries no id")
        return str(external_id)

    def set_hidden(self, post: ModeratedPost, *, hidden: bool) -> None:
        raise PermanentError("The desk does not hide posts on X")

    def delete_post(self, post: ModeratedPost) -> bool:
        """Delete the account's own post; False if X no longer has it (moderation.py)."""
        from listening.connectors.moderation import x_delete

        return x_delete(post)

    def find_published(self, reply: OutboundReply) -> str | None:
        """The id of the brand's post that is this reply, or None if X lists none yet.

        What identifies it: posted by the channel's account (its own timeline, or a DM it
        sent in the conversation with the customer), answering the reply's target tweet,
        created after the reply's first attempt began (minus two minutes for clock skew),
        with the same text (URLs masked: X rewrites links to t.co), and not one of the ids
        in `reply.taken` (posts already recorded for other replies). X lists a post some
        seconds after accepting it: None is "not listed yet", never "not sent".
        """
        client = XClient(reply.channel)
        account_id = str(reply.channel.external_account_id)
        target, taken = reply.target, reply.taken
        not_before = reply.started_at - FIND_PUBLISHED_SLACK
        wanted = _comparable(reply.text)
        try:
            if reply.is_private:
                answer = client.get_direct_message_events(
                    participant_id=target.author_id,
                    dm_event_fields=DM_EVENT_FIELDS,
                    event_types="MessageCreate",
                    max_results=PAGE_SIZE,
                    user_auth=False,
                )
                for event in _items(answer):
                    if (
                        str(event.get("sender_id")) == account_id
                        and str(event.get("id")) not in taken
                        and _comparable(_text(event.get("text"))) == wanted
                        and _after(event.get("created_at"), not_before)
                    ):
                        return str(event["id"])
                return None
            token = None
            for _ in range(FIND_PUBLISHED_MAX_PAGES):
                params: dict[str, Any] = {
                    "start_time": not_before,
                    "max_results": PAGE_SIZE,
                    "tweet_fields": OWN_TWEET_FIELDS,
                }
                if token:
                    params["pagination_token"] = token
                answer = client.get_users_tweets(account_id, user_auth=False, **params)
                for tweet in _items(answer):
                    if (
                        _replied_to(tweet) == target.external_id
                        and str(tweet.get("id")) not in taken
                        and _comparable(_text(tweet.get("text"))) == wanted
                        and _after(tweet.get("created_at"), not_before)
                    ):
                        return str(tweet["id"])
                token = _dig(answer, "meta", "next_token")
                if not token:
                    break
        except ConnectorError:
            raise
        except Exception as exc:
            raise _map_error(exc, sending=False) from exc
        return None


# ---- reading -------------------------------------------------------------------------------


class _Batch(FetchBatch):
    """One fetch of an account; `own_id` is the brand's X user id (its own posts skipped)."""

    def add_tweet_page(self, page: dict[str, Any], kind_hint: str | None) -> int:
        """Normalise one page of tweets; returns how many items it held (all billed)."""
        users = _users_by_id(page)
        media = x_media.media_by_key(page)
        items = page.get("data") or []
        if not isinstance(items, list):
            items = [items]
        self.reads += len(items)
        for item in items:
            self.keep(normalise_tweet(item, users, kind_hint, media))
        return len(items)

    def add_dm_page(self, page: dict[str, Any], stop_at: str | None = None) -> int:
        """Normalise one dm_events page, skipping events up to `stop_at` (stored before)."""
        users = _users_by_id(page)
        media = x_media.media_by_key(page)
        items = page.get("data") or []
        if not isinstance(items, list):
            items = [items]
        self.reads += len(items)
        for item in items:
            if not isinstance(item, dict):
                self.keep(normalise_dm(item, users, media))
                continue
            event_id = _str_or_none(item.get("id"))
            if event_id and stop_at and not _is_newer(event_id, stop_at):
                continue  # stored by an earlier poll
            if item.get("event_type", "MessageCreate") != "MessageCreate":
                continue  # participants joining or leaving: not a message
            self.keep(normalise_dm(item, users, media))
        return len(items)


def _call(call: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    try:
        answer = call(**kwargs)
    except ConnectorError:
        raise
    except Exception as exc:
        raise _map_error(exc, sending=False) from exc
    if not isinstance(answer, dict):
        raise TransientError("X answered with something that is not a JSON object")
    return answer


def _tweet_params() -> dict[str, Any]:
    return {
        "expansions": TWEET_EXPANSIONS,
        "tweet_fields": TWEET_FIELDS,
        "user_fields": USER_FIELDS,
        "media_fields": x_media.MEDIA_FIELDS,
    }


def _map_error(exc: Exception, *, sending: bool) -> ConnectorError:
    """Translate a tweepy or requests failure into a connector error."""
    if isinstance(exc, tweepy.TooManyRequests):
        if exc.reset_time:
            reset_at = datetime.fromtimestamp(exc.reset_time, tz=UTC)
        else:
            reset_at = timezone.now() + DEFAULT_RATE_LIMIT_WAIT
        return RateLimited(f"X rate limit: {exc}", reset_at=reset_at)
    if isinstance(exc, tweepy.Unauthorized):
        return AuthError(f"X rejected the token: {exc}")
    if isinstance(exc, tweepy.TwitterServerError):
        if sending:
            return AmbiguousSend(f"X failed after the request was sent: {exc}")
        return TransientError(f"X server error: {exc}")
    if isinstance(exc, tweepy.Forbidden) and sending and _says_duplicate(exc):
        return DuplicatePost(f"X refused the post as a duplicate: {exc}")
    if sending and (isinstance(exc, tweepy.NotFound) or _says_gone(exc)):
        return PostGone(f"X says the post is gone: {exc}")
    if isinstance(exc, tweepy.HTTPException):  # 400, 403, 404 and other 4xx
        return PermanentError(f"X refused the request: {exc}")
    if isinstance(exc, requests.RequestException) and not isinstance(exc, ValueError):
        if sending and http.was_sent(exc):
            return AmbiguousSend(
                f"X did not answer after the request was sent: {transport_reason(exc)}"
            )
        return TransientError(f"X unreachable: {transport_reason(exc)}")
    if isinstance(exc, ValueError):  # requests.JSONDecodeError: an unreadable answer
        if sending:
            return AmbiguousSend(f"X answered with invalid JSON after the request: {exc}")
        return TransientError(f"X answered with invalid JSON: {exc}")
    # Anything else is a bug on our side, not a network condition: let it surface as is.
    raise exc


def _says_gone(exc: Exception) -> bool:
    """X's 403 for a reply to a tweet its author deleted: "You attempted to reply to a Tweet
    that is deleted or not visible to you." (v2 `detail`; v1.1 code 385)."""
    if not isinstance(exc, tweepy.Forbidden):
        return False
    return 385 in exc.api_codes or any(
        "deleted or not visible" in str(message).lower() for message in exc.api_messages
    )


def _says_duplicate(exc: tweepy.HTTPException) -> bool:
    """X's 403 for a text the account already posted: "...a Tweet with duplicate content."

    v2 puts it in `detail`; v1.1 answered code 187 "Status is a duplicate."
    """
    return 187 in exc.api_codes or any(
        "duplicate content" in str(message).lower()
        or "status is a duplicate" in str(message).lower()
        for message in exc.api_messages
    )


def _page_ids(page: dict[str, Any]) -> list[str]:
    ids = [str(i["id"]) for i in page.get("data") or [] if isinstance(i, dict) and i.get("id")]
    newest = _dig(page, "meta", "newest_id")
    if newest:
        ids.append(str(newest))
    return ids


def _is_newer(candidate: str, than: str) -> bool:
    """X ids are snowflakes: newer means numerically larger (string order is wrong)."""
    if candidate.isdigit() and than.isdigit():
        return int(candidate) > int(than)
    return candidate > than


def _newest(old: str | None, ids: list[str]) -> str | None:
    newest = old
    for candidate in ids:
        if newest is None or _is_newer(candidate, newest):
            newest = candidate
    return newest


def _comparable(text: str) -> str:
    return _URL.sub("<url>", text).strip()


def _after(value: Any, not_before: datetime) -> bool:
    posted = parse_x_time(value)
    return posted is None or posted >= not_before


def _items(answer: Any) -> list[dict[str, Any]]:
    data = answer.get("data") if isinstance(answer, dict) else None
    return [i for i in data or [] if isinstance(i, dict) and i.get("id")]
