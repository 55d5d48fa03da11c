"""The Graph API as the simulator serves it: page feed, comments, tags and Messenger.

Ids look like Graph's: posts "<page id>_<n>", comments "<post n>_<m>", Messenger
conversations "t_<n>", messages "m_<...>". The feed is ordered by `updated_time` (a comment
bumps its post, and `since` filters on it, as on Graph); comments by `created_time`. Indexes are
append-only or sorted lists, so paging is a bisect and a slice; cursors are opaque base64.
"""

import base64
import random
from bisect import bisect_left, insort
from typing import TYPE_CHECKING, Any

from listening.simulator import media as sim_media
from listening.simulator import traffic, webhooks
from listening.simulator.generator import Draft, TrafficGenerator
from listening.simulator.graph_params import (
    check_private_reply,
    decode_cursor,
    encode_cursor,
    graph_error,
    json_field,
    no_such_object,
    page_limit,
    paged,
    requested_fields,
    time_param,
)
from listening.simulator.graph_wire import (
    FBComment,
    FBConversation,
    FBMessage,
    FBPost,
    email_person,
    iso_graph,
    person,
)
from listening.simulator.state import Account, PendingAnswer

if TYPE_CHECKING:
    from listening.simulator.state import SimState

POST_DEFAULT_FIELDS = ("id", "message", "created_time")
COMMENT_DEFAULT_FIELDS = ("id", "message", "created_time", "from")
CONVERSATION_DEFAULT_FIELDS = ("id", "updated_time")
MESSAGE_DEFAULT_FIELDS = ("id", "created_time")
MESSENGER_WINDOW = 24 * 3600


class GraphNetwork(TrafficGenerator):
    NETWORK = "facebook"
    KINDS = ("visitor_post", "comment", "comment_reply", "tagged", "message", "reply_to_brand")
    KIND_WEIGHTS = (25, 30, 10, 8, 20, 7)
    ANSWERED = ("comment", "message", "private_reply")
    FALLBACK_KIND = "comment"

    def __init__(self, state: "SimState", id_base: int) -> None:
        self.state = state
        self._next = id_base
        self.posts: dict[str, FBPost] = {}
        self.comments: dict[str, FBComment] = {}
        self.conversations: dict[str, FBConversation] = {}
        self.messages: dict[str, FBMessage] = {}
        # page id -> sorted [(updated, seq)], and seq -> post id, for the feed.
        self.feed: dict[str, list[tuple[float, int]]] = {}
        self.tagged: dict[str, list[tuple[float, int]]] = {}
        self.post_by_seq: dict[int, str] = {}
        self.page_posts: dict[str, list[str]] = {}
        self.comments_by_post: dict[str, list[str]] = {}
        self.replies_by_comment: dict[str, list[str]] = {}
        self.conversation_by_user: dict[tuple[str, str], str] = {}
        self.calls = 0
        self.customers_by_id = {c.fb_id: c for c in state.customers}

    def new_number(self) -> int:
        self._next += 1 + self._next % 7
        return self._next

    # -- storage ------------------------------------------------------------------------

    def add_page(self, account: Account) -> None:
        self.feed.setdefault(account.account_id, [])
        self.tagged.setdefault(account.account_id, [])
        self.page_posts.setdefault(account.account_id, [])
        rng = random.Random(f"page-{account.account_id}")
        now = self.state.now()
        for n in range(3):
            # Page posts from the last days, oldest first, so that customers have posts to
            # comment on; their updated_time moves when comments arrive.
            self._add_post(
                account.account_id,
                "page",
                traffic.page_post(rng, n),
                (account.account_id, account.name),
                created=now - (3 - n) * 86_400,
            )

    def _add_post(
        self,
        page_id: str,
        kind: str,
        message: str,
        author: tuple[str, str] | None,
        created: float | None = None,
        owner_id: str = "",
    ) -> FBPost:
        number = self.new_number()
        created = self.state.now() if created is None else created
        prefix = owner_id if kind == "tagged" else page_id
        post_id = f"{prefix}_{number}"
        post = FBPost(
            id=post_id,
            seq=number,
            page_id=page_id,
            kind=kind,
            message=message,
            created=created,
            updated=created,
            author=author,
            permalink=f"https://www.facebook.com/{prefix}/posts/{number}",
        )
        self.posts[post_id] = post
        self.post_by_seq[number] = post_id
        self.comments_by_post[post_id] = []
        index = self.tagged if kind == "tagged" else self.feed
        insort(index.setdefault(page_id, []), (post.updated, number))
        if kind == "page":
            self.page_posts.setdefault(page_id, []).append(post_id)
        elif kind == "visitor":
            self.state.webhooks.enqueue(webhooks.feed_post(post, self.state.now()))
        return post

    def kind_of(self, item_id: str) -> str:
        """What `item_id` is: a post's kind ("visitor", "tagged", ...), "comment" (a
        comment or a reply to one) or "message"."""
        if item_id in self.posts:
            return self.posts[item_id].kind
        return "comment" if item_id in self.comments else "message"

    def _add_comment(
        self, post: FBPost, parent: FBComment | None, message: str, author: tuple[str, str] | None
    ) -> FBComment:
        number = self.new_number()
        if parent is not None and parent.parent_id is not None:
            # Graph keeps two levels: a reply to a reply hangs under the top-level comment.
            parent = self.comments[parent.parent_id]
        comment_id = f"{post.seq}_{number}"
        comment = FBComment(
            id=comment_id,
            seq=number,
            post_id=post.id,
            parent_id=parent.id if parent else None,
            message=message,
            created=self.state.now(),
            author=author,
            permalink=f"{post.permalink}?comment_id={number}",
        )
        self.comments[comment_id] = comment
        self.comments_by_post[post.id].append(comment_id)
        self.replies_by_comment[comment_id] = []
        if parent is not None:
            self.replies_by_comment[parent.id].append(comment_id)
        self._touch(post, comment.created)
        if post.kind != "tagged":  # a tagged post is on the customer's timeline, not the feed
            self.state.webhooks.enqueue(webhooks.feed_comment(comment, post, self.state.now()))
        return comment

    def edit_comment(self, comment_id: str, message: str) -> FBComment:
        """The author edits a comment: Graph keeps its id and serves the new `message`; the
        post's updated_time moves, as for any activity on it."""
        comment = self.comments[comment_id]
        comment.message = message
        self._touch(self.posts[comment.post_id], self.state.now())
        return comment

    def delete_item(self, item_id: str) -> list[str]:
        """The author deletes a post or a comment: what went with it (a post's comments, a
        comment's replies), as ids. Brand replies waiting for an answer there are forgotten."""
        if item_id in self.posts:
            post, comment = self.posts[item_id], None
        else:
            comment = self.comments[item_id]
            post = self.posts[comment.post_id]
        gone = self.delete_post(item_id) if comment is None else self.delete_comment(item_id)
        self.state.pending = [p for p in self.state.pending if p.ref not in gone]
        if post.kind != "tagged":  # Meta reports deletions on the Page's own feed
            self.state.webhooks.enqueue(
                webhooks.feed_remove(item_id, post, comment, self.state.now())
            )
        return gone

    def delete_post(self, post_id: str) -> list[str]:
        """A visitor or tagged post deleted by its author, with every comment under it. The
        page's own posts are the page's: not deleted here."""
        post = self.posts[post_id]
        if post.kind == "page":
            raise ValueError("the page's own posts are not deleted by customers")
        index = self.tagged[post.page_id] if post.kind == "tagged" else self.feed[post.page_id]
        index.remove((post.updated, post.seq))
        gone = [post_id, *self.comments_by_post.pop(post_id, [])]
        for item in gone[1:]:
            self.comments.pop(item, None)
            self.replies_by_comment.pop(item, None)
        del self.posts[post_id], self.post_by_seq[post.seq]
        return gone

    def delete_comment(self, comment_id: str) -> list[str]:
        """The author deletes a comment, and with it the replies under it. Returns the ids."""
        comment = self.comments[comment_id]
        gone = [comment_id, *self.replies_by_comment.get(comment_id, [])]
        for item in gone:
            self.comments.pop(item, None)
            self.replies_by_comment.pop(item, None)
        ids = self.comments_by_post[comment.post_id]
        ids[:] = [i for i in ids if i not in gone]
        if comment.parent_id is not None and comment.parent_id in self.replies_by_comment:
            self.replies_by_comment[comment.parent_id].remove(comment_id)
        self._touch(self.posts[comment.post_id], self.state.now())
        return gone

    def _touch(self, post: FBPost, when: float) -> None:
        index = self.tagged[post.page_id] if post.kind == "tagged" else self.feed[post.page_id]
        pos = bisect_left(index, (post.updated, post.seq))
        if pos < len(index) and index[pos] == (post.updated, post.seq):
            del index[pos]
        post.updated = max(post.updated, when)
        insort(index, (post.updated, post.seq))

    def _conversation(self, page: Account, user_id: str, user_name: str) -> FBConversation:
        key = (page.account_id, user_id)
        if key in self.conversation_by_user:
            return self.conversations[self.conversation_by_user[key]]
        number = self.new_number()
        conversation = FBConversation(
            f"t_{number}", number, page.account_id, user_id, user_name, self.state.now()
        )
        self.conversations[conversation.id] = conversation
        self.conversation_by_user[key] = conversation.id
        return conversation

    def _add_message(
        self, conversation: FBConversation, page: Account, text: str, from_page: bool
    ) -> FBMessage:
        number = self.new_number()
        token = base64.urlsafe_b64encode(f"{conversation.seq}:{number}".encode()).decode()
        user = (conversation.user_id, conversation.user_name)
        brand = (page.account_id, page.name)
        message = FBMessage(
            id=f"m_{token.rstrip('=')}",
            seq=number,
            conversation_id=conversation.id,
            message=text,
            created=self.state.now(),
            sender=brand if from_page else user,
            recipient=user if from_page else brand,
        )
        self.messages[message.id] = message
        conversation.messages.append(message.id)
        conversation.updated = message.created
        if not from_page:
            conversation.last_customer_message = message.created
        self.state.webhooks.enqueue(
            webhooks.messenger_message(message, page.account_id, self.state.now())
        )
        return message

    # -- traffic ------------------------------------------------------------------------

    def add_item(self, account: Account, rng: random.Random, kind: str, draft: Draft) -> str:
        """`draft` as a customer item of `kind` for the page (Graph has no language to set); a
        reply to a comment with no comments to answer yet is a comment instead."""
        customer, text = draft.customer, draft.text
        author = None if customer.fb_hidden else (customer.fb_id, customer.name)
        page_id = account.account_id
        if kind == "comment_reply":
            recent = [
                c
                for post_id in self.page_posts[page_id][-5:]
                for c in self.comments_by_post[post_id][-20:]
            ]
            if not recent:
                kind = "comment"
            else:
                parent = self.comments[rng.choice(recent)]
                post = self.posts[parent.post_id]
                return self._add_comment(post, parent, text, author).id
        if kind == "comment":
            pool = self.page_posts[page_id]
            visitor = [p for _, s in self.feed[page_id][-30:] if (p := self.post_by_seq[s])]
            choices = pool + [p for p in visitor if self.posts[p].kind == "visitor"]
            post = self.posts[rng.choice(choices) if rng.random() < 0.3 else rng.choice(pool)]
            return self._add_comment(post, None, text, author).id
        if kind == "tagged":
            owner = customer.fb_id
            return self._add_post(
                page_id,
                "tagged",
                f"{text} @{account.name}",
                (customer.fb_id, customer.name),
                owner_id=owner,
            ).id
        if kind == "message":
            conversation = self._conversation(account, customer.fb_id, customer.name)
            return self._add_message(conversation, account, text, from_page=False).id
        return self._add_post(page_id, "visitor", text, author).id

    def answer(self, account: Account, pending: PendingAnswer, rng: random.Random) -> str:
        if pending.kind in ("message", "private_reply"):
            conversation = self.conversations[self.messages[pending.ref].conversation_id]
            customer = self.customers_by_id.get(conversation.user_id)
            lang = customer.lang if customer else "en"
            text, _ = traffic.answer_to(rng, lang, account.name, pending.survey)
            return self._add_message(conversation, account, text, from_page=False).id
        brand_comment = self.comments[pending.ref]
        # The person the page answered answers back: not the top-level comment's author, which
        # is the page itself when it answered a reply under its own comment (Graph keeps two
        # levels, so such a reply hangs under the page's comment).
        author = brand_comment.answering
        customer = self.customers_by_id.get(author[0]) if author else None
        if author is None:
            customer = rng.choice(self.state.customers)
            author = (customer.fb_id, customer.name)
        text, _ = traffic.follow_up(rng, customer.lang if customer else "en", account.name)
        post = self.posts[brand_comment.post_id]
        return self._add_comment(post, brand_comment, text, author).id

    # -- serialisation ------------------------------------------------------------------

    def post_json(self, post: FBPost, fields: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": post.id}
        if "message" in fields:
            item["message"] = post.message
        if "created_time" in fields:
            item["created_time"] = iso_graph(post.created)
        if "updated_time" in fields:
            item["updated_time"] = iso_graph(post.updated)
        if "from" in fields and post.author is not None:
            item["from"] = person(post.author)
        if "permalink_url" in fields:
            item["permalink_url"] = post.permalink
        sim_media.add_fb_image(item, "post", post.id, fields, self.state.own_url)
        return item

    def comment_json(self, comment: FBComment, fields: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": comment.id}
        if "message" in fields:
            item["message"] = comment.message
        if "created_time" in fields:
            item["created_time"] = iso_graph(comment.created)
        if "from" in fields and comment.author is not None:
            item["from"] = person(comment.author)
        if "parent" in fields and comment.parent_id is not None:
            parent = self.comments[comment.parent_id]
            item["parent"] = {
                "created_time": iso_graph(parent.created),
                "message": parent.message,
                "id": parent.id,
            }
        if "permalink_url" in fields:
            item["permalink_url"] = comment.permalink
        if "comment_count" in fields:
            item["comment_count"] = len(self.replies_by_comment.get(comment.id, []))
        if "is_hidden" in fields:
            item["is_hidden"] = comment.hidden
        if "can_hide" in fields:  # the page may hide others' comments, never its own
            page_id = self.posts[comment.post_id].page_id
            item["can_hide"] = comment.author is None or comment.author[0] != page_id
        sim_media.add_fb_image(item, "comment", comment.id, fields, self.state.own_url)
        return item

    def message_json(self, message: FBMessage, fields: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": message.id}
        if "message" in fields:
            item["message"] = message.message
        if "created_time" in fields:
            item["created_time"] = iso_graph(message.created)
        if "from" in fields:
            item["from"] = email_person(message.sender)
        if "to" in fields:
            item["to"] = {"data": [email_person(message.recipient)]}
        sim_media.add_fb_image(item, "message", message.id, fields, self.state.own_url)
        return item

    # -- endpoints ----------------------------------------------------------------------

    def page(self, page_id: str) -> Account:
        account = self.state.accounts.get(("facebook", page_id))
        if account is None:
            raise no_such_object(page_id)
        return account

    def get_object(self, object_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        params = ctx["params"]
        if ("facebook", object_id) in self.state.accounts:
            account = self.state.accounts[("facebook", object_id)]
            return {"id": object_id, "name": account.name}
        if object_id in self.posts:
            return self.post_json(
                self.posts[object_id], requested_fields(params, POST_DEFAULT_FIELDS)
            )
        if object_id in self.comments:
            return self.comment_json(
                self.comments[object_id], requested_fields(params, COMMENT_DEFAULT_FIELDS)
            )
        if object_id in self.messages:
            return self.message_json(
                self.messages[object_id], requested_fields(params, MESSAGE_DEFAULT_FIELDS)
            )
        raise no_such_object(object_id)

    def get_objects(self, ctx: dict[str, Any]) -> dict[str, Any]:
        """GET /?ids=a,b&fields=…: each object keyed by its id, at most 50 ids. As on Graph,
        one id that does not exist fails the whole request (#803)."""
        raw = ctx["params"].get("ids", "")
        ids = [i for i in raw.split(",") if i]
        if not ids:
            raise graph_error(400, "(#100) The parameter ids is required", 100)
        if len(ids) > 50:
            raise graph_error(400, f"(#100) Too many IDs. Maximum: 50. Provided: {len(ids)}.", 100)
        missing = [
            i
            for i in ids
            if i not in self.posts
            and i not in self.comments
            and i not in self.messages
            and ("facebook", i) not in self.state.accounts
        ]
        if missing:
            raise graph_error(
                404,
                "(#803) Some of the aliases you requested do not exist: " + ",".join(missing),
                803,
            )
        return {i: self.get_object(i, ctx) for i in dict.fromkeys(ids)}

    def get_feed(self, page_id: str, edge: str, ctx: dict[str, Any]) -> dict[str, Any]:
        """Feed (visitor and page posts), posts (the page's own) or tagged, newest first."""
        self.page(page_id)
        params = ctx["params"]
        index = self.tagged[page_id] if edge == "tagged" else self.feed[page_id]
        limit = page_limit(params)
        since = time_param(params, "since")
        until = time_param(params, "until")
        lo = bisect_left(index, (since, -1)) if since is not None else 0
        hi = len(index)
        if until is not None:
            hi = bisect_left(index, (until + 1, -1))
        if params.get("after"):
            updated, seq = decode_cursor(params["after"])[:2]
            hi = min(hi, bisect_left(index, (updated, int(seq))))
        fields = requested_fields(params, POST_DEFAULT_FIELDS)
        data: list[dict[str, Any]] = []
        keys: list[tuple[float, int]] = []
        pos = hi - 1
        while pos >= lo and len(data) < limit:
            key = index[pos]
            post = self.posts[self.post_by_seq[key[1]]]
            if edge != "posts" or post.kind == "page":
                data.append(self.post_json(post, fields))
                keys.append(key)
            pos -= 1
        more = pos >= lo
        if edge == "posts" and more:
            more = any(
                self.posts[self.post_by_seq[s]].kind == "page" for _, s in index[lo : pos + 1]
            )
        first = encode_cursor(*keys[0]) if keys else None
        last = encode_cursor(*keys[-1]) if keys else None
        return paged(data, first, last, more, ctx)

    def get_comments(self, object_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        """Comments on a post (filter toplevel or stream) or replies to a comment."""
        params = ctx["params"]
        if object_id in self.posts:
            ids = self.comments_by_post[object_id]
            toplevel = params.get("filter", "toplevel") != "stream"
        elif object_id in self.comments:
            ids = self.replies_by_comment[object_id]
            toplevel = False
        else:
            raise no_such_object(object_id)
        ids = self.state.listed_only(ids)  # the page's newest replies may lag (visibility_lag)
        limit = page_limit(params)
        since = time_param(params, "since")
        until = time_param(params, "until")
        reverse = params.get("order") == "reverse_chronological"
        fields = requested_fields(params, COMMENT_DEFAULT_FIELDS)

        def created(comment_id: str) -> float:
            return self.comments[comment_id].created

        lo = bisect_left(ids, since, key=created) if since is not None else 0
        hi = bisect_left(ids, until + 1, key=created) if until is not None else len(ids)
        after = int(decode_cursor(params["after"])[0]) if params.get("after") else None
        positions = range(hi - 1, lo - 1, -1) if reverse else range(lo, hi)
        if after is not None:
            positions = range(after - 1, lo - 1, -1) if reverse else range(after + 1, hi)
        data: list[dict[str, Any]] = []
        served: list[int] = []
        more = False
        for pos in positions:
            comment = self.comments[ids[pos]]
            if toplevel and comment.parent_id is not None:
                continue
            if len(data) == limit:
                more = True
                break
            data.append(self.comment_json(comment, fields))
            served.append(pos)
        first = encode_cursor(served[0]) if served else None
        last = encode_cursor(served[-1]) if served else None
        return paged(data, first, last, more, ctx)

    def get_conversations(self, page_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        self.page(page_id)
        params = ctx["params"]
        if params.get("platform", "messenger") != "messenger":
            return {"data": []}
        fields = requested_fields(params, CONVERSATION_DEFAULT_FIELDS)
        limit = page_limit(params)
        # Conversations are few next to posts; sorting them per request stays cheap.
        ordered = sorted(
            (
                c
                for c in self.conversations.values()
                if c.page_id == page_id
                and (not c.messages or self.state.listed_only(c.messages))
                and params.get("user_id") in (None, "", c.user_id)
            ),
            key=lambda c: (c.updated, c.seq),
            reverse=True,
        )
        if params.get("after"):
            updated, seq = decode_cursor(params["after"])[:2]
            ordered = [c for c in ordered if (c.updated, c.seq) < (updated, int(seq))]
        page = ordered[:limit]
        data = []
        for conversation in page:
            item: dict[str, Any] = {"id": conversation.id}
            if "updated_time" in fields:
                item["updated_time"] = iso_graph(conversation.updated)
            if "message_count" in fields:
                item["message_count"] = len(conversation.messages)
            if "participants" in fields:
                account = self.state.accounts[("facebook", page_id)]
                item["participants"] = {
                    "data": [
                        email_person((conversation.user_id, conversation.user_name)),
                        email_person((page_id, account.name)),
                    ]
                }
            if "link" in fields:
                item["link"] = f"/{page_id}/inbox/{conversation.seq}/"
            data.append(item)
        first = encode_cursor(page[0].updated, page[0].seq) if page else None
        last = encode_cursor(page[-1].updated, page[-1].seq) if page else None
        return paged(data, first, last, len(ordered) > limit, ctx)

    def get_messages(self, conversation_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise no_such_object(conversation_id)
        params = ctx["params"]
        fields = requested_fields(params, MESSAGE_DEFAULT_FIELDS)
        limit = page_limit(params)
        ids = self.state.listed_only(conversation.messages)
        hi = len(ids)
        if params.get("after"):
            hi = min(hi, int(decode_cursor(params["after"])[0]))
        start = max(0, hi - limit)
        page = list(range(hi - 1, start - 1, -1))
        data = [self.message_json(self.messages[ids[p]], fields) for p in page]
        first = encode_cursor(page[0]) if page else None
        last = encode_cursor(page[-1]) if page else None
        return paged(data, first, last, start > 0, ctx)

    def post_comment(self, object_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """The page answers a post or a comment in public."""
        message = form.get("message")
        if not isinstance(message, str) or not message.strip():
            raise graph_error(400, "(#100) The parameter message is required", 100)
        if len(message) > 8000:
            raise graph_error(400, "(#100) The message is too long", 100)
        if object_id in self.posts:
            post, parent = self.posts[object_id], None
        elif object_id in self.comments:
            parent = self.comments[object_id]
            post = self.posts[parent.post_id]
        else:
            raise no_such_object(object_id)
        page = self.state.accounts[("facebook", post.page_id)]
        answered = parent.author if parent is not None else post.author
        siblings = self.replies_by_comment[object_id] if parent else self.comments_by_post[post.id]
        already = any(
            self.comments[c].message == message
            and self.comments[c].author == (page.account_id, page.name)
            for c in siblings
        )
        if self.state.refuses_duplicate("facebook", f"/{object_id}/comments", already):
            raise graph_error(400, "(#506) Duplicate status message", 506)
        comment = self._add_comment(post, parent, message, (page.account_id, page.name))
        if answered is not None and answered[0] != page.account_id:
            comment.answering = answered
        self.state.lag_publication("facebook", f"/{object_id}/comments", comment.id)
        self.state.record_reply(
            "facebook",
            page.account_id,
            {
                "id": comment.id,
                "kind": "comment",
                "text": message,
                "in_reply_to": object_id,
                "recipient": answered[0] if answered else None,
            },
        )
        return {"id": comment.id}

    def post_message(self, page_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """A private reply to a comment, or a Messenger message to a person (PSID)."""
        page = self.page(page_id)
        recipient = json_field(form, "recipient")
        message = json_field(form, "message")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(recipient, dict) or not recipient:
            raise graph_error(400, "(#100) param recipient must be non-empty.", 100)
        if not isinstance(text, str) or not text.strip():
            raise graph_error(400, "(#100) The parameter message[text] is required", 100)
        if len(text) > 2000:
            raise graph_error(
                400, "(#100) Length of param message[text] must be less than or equal to 2000", 100
            )
        now = self.state.now()
        target_id = str(recipient.get("comment_id") or recipient.get("post_id") or "")
        if target_id:
            target: FBComment | FBPost | None = self.comments.get(target_id) or self.posts.get(
                target_id
            )
            if target is None:
                raise no_such_object(target_id)
            check_private_reply(target.private_replied, target.created, now)
            if target.author is None:
                raise graph_error(
                    400, "(#551) This person isn't available right now.", 551, 1545041
                )
            target.private_replied = True
            conversation = self._conversation(page, target.author[0], target.author[1])
            kind, in_reply_to = "private_reply", target_id
        else:
            user_id = str(recipient.get("id", ""))
            key = (page_id, user_id)
            if key not in self.conversation_by_user:
                raise graph_error(400, "(#100) No matching user found", 100, 2018001)
            conversation = self.conversations[self.conversation_by_user[key]]
            if (
                form.get("messaging_type", "RESPONSE") == "RESPONSE"
                and now - conversation.last_customer_message > MESSENGER_WINDOW
            ):
                raise graph_error(
                    400,
                    "(#10) This message is sent outside of allowed window.",
                    10,
                    2018278,
                )
            kind, in_reply_to = "message", None
        sent = self._add_message(conversation, page, text, from_page=True)
        self.state.lag_publication("facebook", f"/{page_id}/messages", sent.id)
        self.state.record_reply(
            "facebook",
            page_id,
            {
                "id": sent.id,
                "kind": kind,
                "text": text,
                "in_reply_to": in_reply_to,
                "recipient": conversation.user_id,
                "conversation_id": conversation.id,
            },
        )
        return {"recipient_id": conversation.user_id, "message_id": sent.id}
