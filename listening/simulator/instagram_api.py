"""The Instagram Graph API as the simulator serves it, on the Graph host beside `graph_api`.

An Instagram professional account (an IG user id such as 17841400000000001) is linked to a
Facebook Page; its media, their comments and replies, the media that tag it and its
Instagram conversations (a Page edge with platform=instagram) live here. As strict as Graph:
media answer only `id` and comments only `id,text,timestamp` unless more fields are asked
for; `from` is {"id": IGSID, "username"}; replies nest one level deep; pages are capped at
100 items; cursors are opaque; errors come in Graph's shape.
"""

import random
import re
from dataclasses import dataclass, field
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
)
from listening.simulator.graph_wire import iso_graph
from listening.simulator.state import Account, PendingAnswer

if TYPE_CHECKING:
    from listening.simulator.state import SimState

MEDIA_DEFAULT_FIELDS = ("id",)
COMMENT_DEFAULT_FIELDS = ("id", "text", "timestamp")
CONVERSATION_DEFAULT_FIELDS = ("id", "updated_time")
MESSAGE_DEFAULT_FIELDS = ("id", "created_time")
NESTED_REPLIES = 25
COMMENT_LIMIT = 2200
DM_LIMIT = 1000
DM_WINDOW = 24 * 3600
MENTIONED = re.compile(r"(mentioned_comment|mentioned_media)\.\w+\((\w+)\)(?:\{(.*)\})?")


@dataclass(slots=True)
class IGMedia:
    id: str
    owner: str  # the IG account it belongs to (own media) or tags (tagged media)
    kind: str  # "own" or "tagged"
    caption: str
    created: float
    author: tuple[str, str]  # (IG user id, username)
    comments: list[str] = field(default_factory=list)  # top-level comment ids, oldest first


@dataclass(slots=True)
class IGComment:
    id: str
    media_id: str
    parent_id: str | None
    text: str
    created: float
    author: tuple[str, str]  # (IGSID, username)
    replies: list[str] = field(default_factory=list)
    private_replied: bool = False
    hidden: bool = False


@dataclass(slots=True)
class IGConversation:
    id: str
    account_id: str
    user: tuple[str, str]
    updated: float
    messages: list[str] = field(default_factory=list)
    last_customer_message: float = 0.0


@dataclass(slots=True)
class IGMessage:
    id: str
    conversation_id: str
    text: str
    created: float
    sender: tuple[str, str]
    recipient: tuple[str, str]


def igsid(customer: traffic.Customer) -> str:
    """The customer's Instagram-scoped id (numeric, as on Graph)."""
    return str(17_841_000_000_000_000 + int(customer.fb_id) % 10**12)


class InstagramNetwork(TrafficGenerator):
    NETWORK = "instagram"
    # "mention": a comment on another user's media that @mentions the brand. Graph lists such
    # comments nowhere (only a webhook names them), so background traffic makes none.
    KINDS = ("comment", "comment_reply", "tag", "message", "reply_to_brand", "mention")
    KIND_WEIGHTS = (40, 12, 8, 30, 10, 0)
    ANSWERED = ("comment", "message", "private_reply")
    FALLBACK_KIND = "comment"

    def __init__(self, state: "SimState", id_base: int) -> None:
        self.state = state
        self._next = id_base
        self.media: dict[str, IGMedia] = {}
        self.comments: dict[str, IGComment] = {}
        self.conversations: dict[str, IGConversation] = {}
        self.messages: dict[str, IGMessage] = {}
        self.own_media: dict[str, list[str]] = {}  # account -> media ids, oldest first
        self.tagged: dict[str, list[str]] = {}
        self.page_of: dict[str, str] = {}  # IG account -> linked Facebook Page
        self.conversation_by_user: dict[tuple[str, str], str] = {}
        self.mentions: dict[str, set[str]] = {}  # account -> comments that @mention it
        self.customers_by_id = {igsid(c): c for c in state.customers}

    def new_id(self) -> str:
        self._next += 1 + self._next % 5
        return str(self._next)

    def owns(self, object_id: str) -> bool:
        return (
            object_id in self.media
            or object_id in self.comments
            or object_id in self.conversations
            or object_id in self.own_media
        )

    # -- storage ------------------------------------------------------------------------

    def add_account(self, account: Account, page_id: str) -> None:
        self.page_of[account.account_id] = page_id
        if account.account_id in self.own_media:
            return
        self.own_media[account.account_id] = []
        self.tagged[account.account_id] = []
        rng = random.Random(f"ig-{account.account_id}")
        now = self.state.now()
        for n in range(4):
            self._add_media(
                account.account_id,
                "own",
                traffic.page_post(rng, n),
                (account.account_id, account.handle),
                now - (4 - n) * 86_400,
            )

    def _add_media(
        self, owner: str, kind: str, caption: str, author: tuple[str, str], created: float
    ) -> IGMedia:
        media = IGMedia(self.new_id(), owner, kind, caption, created, author)
        self.media[media.id] = media
        if kind in ("own", "tagged"):
            (self.own_media if kind == "own" else self.tagged)[owner].append(media.id)
        return media

    def _add_comment(
        self, media: IGMedia, parent: IGComment | None, text: str, author: tuple[str, str]
    ) -> IGComment:
        if parent is not None and parent.parent_id is not None:
            parent = self.comments[parent.parent_id]  # one level of replies, as on Instagram
        comment = IGComment(
            self.new_id(),
            media.id,
            parent.id if parent else None,
            text,
            self.state.now(),
            author,
        )
        self.comments[comment.id] = comment
        (parent.replies if parent else media.comments).append(comment.id)
        if media.kind == "own":
            self.state.webhooks.enqueue(webhooks.ig_comment(comment, media.owner, comment.created))
        return comment

    def _conversation(self, account_id: str, user: tuple[str, str]) -> IGConversation:
        key = (account_id, user[0])
        if key not in self.conversation_by_user:
            number = self.new_id()
            conversation = IGConversation(f"aWdfZ{number}", account_id, user, self.state.now())
            self.conversations[conversation.id] = conversation
            self.conversation_by_user[key] = conversation.id
        return self.conversations[self.conversation_by_user[key]]

    def _add_message(
        self, conversation: IGConversation, account: Account, text: str, from_brand: bool
    ) -> IGMessage:
        brand = (account.account_id, account.handle)
        message = IGMessage(
            f"aWdfbWVzc2FnZ{self.new_id()}",
            conversation.id,
            text,
            self.state.now(),
            brand if from_brand else conversation.user,
            conversation.user if from_brand else brand,
        )
        self.messages[message.id] = message
        conversation.messages.append(message.id)
        conversation.updated = message.created
        if not from_brand:
            conversation.last_customer_message = message.created
        image = sim_media.ig_message_image(message.id, self.state.own_url)
        self.state.webhooks.enqueue(
            webhooks.ig_message(message, account.account_id, message.created, image=image)
        )
        return message

    def comment_count(self, media: IGMedia) -> int:
        return sum(1 + len(self.comments[c].replies) for c in media.comments)

    # -- traffic ------------------------------------------------------------------------

    def add_item(self, account: Account, rng: random.Random, kind: str, draft: Draft) -> str:
        customer = draft.customer
        author = (igsid(customer), customer.username)
        own = self.own_media[account.account_id]
        if kind == "comment_reply":
            recent = [c for m in own[-3:] for c in self.media[m].comments[-20:]]
            if recent:
                parent = self.comments[rng.choice(recent)]
                media = self.media[parent.media_id]
                return self._add_comment(media, parent, draft.text, author).id
            kind = "comment"
        if kind == "comment":
            media = self.media[rng.choice(own[-3:]) if rng.random() < 0.8 else rng.choice(own)]
            return self._add_comment(media, None, draft.text, author).id
        if kind == "mention":
            owner = self.state.customers[(self.state.customers.index(customer) + 1) % 7]
            media = self._add_media(
                igsid(owner),
                "other",
                traffic.page_post(rng, 0),
                (igsid(owner), owner.username),
                self.state.now(),
            )
            text = f"@{account.handle} {draft.text}"
            comment = self._add_comment(media, None, text, author)
            self.mentions.setdefault(account.account_id, set()).add(comment.id)
            self.state.webhooks.enqueue(
                webhooks.ig_mention(account.account_id, media.id, comment.id, comment.created)
            )
            return comment.id
        if kind == "tag":
            caption = f"{draft.text} @{account.handle}"
            return self._add_media(
                account.account_id, "tagged", caption, author, self.state.now()
            ).id
        conversation = self._conversation(account.account_id, author)
        return self._add_message(conversation, account, draft.text, from_brand=False).id

    def answer(self, account: Account, pending: PendingAnswer, rng: random.Random) -> str:
        if pending.kind in ("message", "private_reply"):
            conversation = self.conversations[self.messages[pending.ref].conversation_id]
            customer = self.customers_by_id.get(conversation.user[0])
            lang = customer.lang if customer else "en"
            text, _ = traffic.answer_to(rng, lang, account.name, pending.survey)
            return self._add_message(conversation, account, text, from_brand=False).id
        brand_reply = self.comments[pending.ref]
        top = self.comments[brand_reply.parent_id] if brand_reply.parent_id else brand_reply
        customer = self.customers_by_id.get(top.author[0])
        text, _ = traffic.follow_up(rng, customer.lang if customer else "en", account.name)
        media = self.media[brand_reply.media_id]
        return self._add_comment(media, top, text, top.author).id

    def kind_of(self, item_id: str) -> str:
        if item_id in self.media:
            return "tag"
        if any(item_id in ids for ids in self.mentions.values()):
            return "mention"
        if item_id in self.comments:
            return "comment_reply" if self.comments[item_id].parent_id else "comment"
        return "message"

    # -- what authors do afterwards -----------------------------------------------------

    def delete_item(self, item_id: str) -> list[str]:
        """The author deletes a comment (its replies go with it), a media tagging the account,
        or unsends a DM. Only the unsent DM is reported by a webhook (`is_deleted`), as on
        Instagram. Returns the ids gone."""
        if item_id in self.messages:
            message = self.messages.pop(item_id)
            conversation = self.conversations[message.conversation_id]
            conversation.messages.remove(item_id)
            account_id, now = conversation.account_id, self.state.now()
            self.state.webhooks.enqueue(webhooks.ig_message(message, account_id, now, deleted=True))
            gone = [item_id]
        elif item_id in self.comments:
            gone = self.remove_comment(item_id)
        else:
            media = self.media.pop(item_id)
            if media.kind == "own":
                self.media[item_id] = media
                raise ValueError("the account's own media are not deleted by customers")
            if media.kind == "tagged":
                self.tagged[media.owner].remove(item_id)
            gone = [item_id, *self.remove_comments(media)]
        self.state.pending = [p for p in self.state.pending if p.ref not in gone]
        return gone

    def remove_comment(self, comment_id: str) -> list[str]:
        """A comment and its replies, gone from every listing. Returns their ids."""
        comment = self.comments.pop(comment_id)
        gone = [comment_id, *comment.replies]
        for reply in comment.replies:
            self.comments.pop(reply, None)
        if comment.parent_id is not None and comment.parent_id in self.comments:
            self.comments[comment.parent_id].replies.remove(comment_id)
        elif comment.media_id in self.media:
            self.media[comment.media_id].comments.remove(comment_id)
        for mentioned in self.mentions.values():
            mentioned.difference_update(gone)
        return gone

    def remove_comments(self, media: IGMedia) -> list[str]:
        gone: list[str] = []
        for comment_id in list(media.comments):
            gone += self.remove_comment(comment_id)
        return gone

    # -- serialisation ------------------------------------------------------------------

    def media_json(self, media: IGMedia, fields: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": media.id}
        if "caption" in fields:
            item["caption"] = media.caption
        if "timestamp" in fields:
            item["timestamp"] = iso_graph(media.created)
        if "username" in fields:
            item["username"] = media.author[1]
        if "comments_count" in fields:
            item["comments_count"] = self.comment_count(media)
        if "media_type" in fields:
            item["media_type"] = "IMAGE"
        if "media_url" in fields:
            item["media_url"] = sim_media.ig_media_url(media.id, self.state.own_url)
        if "permalink" in fields:
            item["permalink"] = f"https://www.instagram.com/p/Sim{media.id}/"
        return item

    def comment_json(self, comment: IGComment, fields: set[str], raw: str) -> dict[str, Any]:
        item: dict[str, Any] = {"id": comment.id}
        if "text" in fields:
            item["text"] = comment.text
        if "timestamp" in fields:
            item["timestamp"] = iso_graph(comment.created)
        if "username" in fields:
            item["username"] = comment.author[1]
        if "from" in fields:
            item["from"] = {"id": comment.author[0], "username": comment.author[1]}
        if "parent_id" in fields and comment.parent_id:
            item["parent_id"] = comment.parent_id
        if "like_count" in fields:
            item["like_count"] = 0
        if "hidden" in fields:
            item["hidden"] = comment.hidden
        if "media" in fields:
            inner = requested_fields({"fields": _inner(raw, "media")}, MEDIA_DEFAULT_FIELDS)
            item["media"] = self.media_json(self.media[comment.media_id], inner)
        if "replies" in fields and comment.parent_id is None and comment.replies:
            inner = requested_fields({"fields": _inner(raw, "replies")}, COMMENT_DEFAULT_FIELDS)
            ids = self.state.listed_only(comment.replies)
            data = [self.comment_json(self.comments[i], inner, "") for i in ids[:NESTED_REPLIES]]
            nested: dict[str, Any] = {"data": data}
            if len(ids) > NESTED_REPLIES:
                cursor = encode_cursor(NESTED_REPLIES - 1)
                nested["paging"] = {
                    "cursors": {"before": encode_cursor(0), "after": cursor},
                    "next": f"/{comment.id}/replies?after={cursor}",
                }
            item["replies"] = nested
        return item

    def message_json(self, message: IGMessage, fields: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": message.id}
        if "message" in fields:
            item["message"] = message.text
        if "created_time" in fields:
            item["created_time"] = iso_graph(message.created)
        if "from" in fields:
            item["from"] = {"username": message.sender[1], "id": message.sender[0]}
        if "to" in fields:
            item["to"] = {"data": [{"username": message.recipient[1], "id": message.recipient[0]}]}
        sim_media.add_fb_image(item, "message", message.id, fields, self.state.own_url)
        return item

    def _slice(
        self, ids: list[str], ctx: dict[str, Any], newest_first: bool
    ) -> tuple[list[int], bool]:
        """Positions of one page over `ids` (oldest first), from the `after` cursor on."""
        params = ctx["params"]
        limit = page_limit(params)
        after = int(decode_cursor(params["after"])[0]) if params.get("after") else None
        if newest_first:
            start = (after - 1) if after is not None else len(ids) - 1
            positions = list(range(start, max(-1, start - limit), -1))
            return positions, bool(positions) and positions[-1] > 0
        start = (after + 1) if after is not None else 0
        positions = list(range(start, min(len(ids), start + limit)))
        return positions, bool(positions) and positions[-1] < len(ids) - 1

    # -- endpoints ----------------------------------------------------------------------

    def get_object(self, object_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        params = ctx["params"]
        if object_id in self.media:
            return self.media_json(
                self.media[object_id], requested_fields(params, MEDIA_DEFAULT_FIELDS)
            )
        if object_id in self.comments:
            fields = requested_fields(params, COMMENT_DEFAULT_FIELDS)
            return self.comment_json(self.comments[object_id], fields, params.get("fields", ""))
        if object_id in self.own_media:
            return self.get_account(object_id, params.get("fields", ""))
        raise no_such_object(object_id)

    def get_account(self, account_id: str, raw: str) -> dict[str, Any]:
        """The IG user; `mentioned_comment.comment_id(ID){...}` and
        `mentioned_media.media_id(ID){...}` read one mention of it (the ids a webhook names)."""
        account = self.state.accounts[("instagram", account_id)]
        answer: dict[str, Any] = {"id": account_id}
        if "username" in requested_fields({"fields": raw}, ("id",)):
            answer["username"] = account.handle
        found = MENTIONED.search(raw)
        if found is None:
            return answer
        edge, wanted, inner = found.group(1), found.group(2), found.group(3) or ""
        if edge == "mentioned_comment":
            if wanted not in self.mentions.get(account_id, set()):
                raise no_such_object(wanted)
            fields = requested_fields({"fields": inner}, COMMENT_DEFAULT_FIELDS)
            answer[edge] = self.comment_json(self.comments[wanted], fields, inner)
            return answer
        media = self.media.get(wanted)
        if media is None or f"@{account.handle}" not in media.caption:
            raise no_such_object(wanted)
        fields = requested_fields({"fields": inner}, MEDIA_DEFAULT_FIELDS)
        answer[edge] = self.media_json(media, fields)
        return answer

    def get_media(self, account_id: str, edge: str, ctx: dict[str, Any]) -> dict[str, Any]:
        """/{ig-user}/media (own media) or /tags (media tagging the account), newest first."""
        if account_id not in self.own_media:
            raise no_such_object(account_id)
        ids = (self.own_media if edge == "media" else self.tagged)[account_id]
        fields = requested_fields(ctx["params"], MEDIA_DEFAULT_FIELDS)
        positions, more = self._slice(ids, ctx, newest_first=True)
        data = [self.media_json(self.media[ids[p]], fields) for p in positions]
        return _page(data, positions, more, ctx)

    def get_comments(self, object_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        """Top-level comments of a media, newest first (replies nested on request)."""
        media = self.media.get(object_id)
        if media is None or media.kind != "own":
            raise no_such_object(object_id)
        ids = self.state.listed_only(media.comments)
        raw = ctx["params"].get("fields", "")
        fields = requested_fields(ctx["params"], COMMENT_DEFAULT_FIELDS)
        positions, more = self._slice(ids, ctx, newest_first=True)
        data = [self.comment_json(self.comments[ids[p]], fields, raw) for p in positions]
        return _page(data, positions, more, ctx)

    def get_replies(self, comment_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        """Replies to a top-level comment, oldest first (a reply has none)."""
        comment = self.comments.get(comment_id)
        if comment is None:
            raise no_such_object(comment_id)
        ids = self.state.listed_only(comment.replies)
        fields = requested_fields(ctx["params"], COMMENT_DEFAULT_FIELDS)
        positions, more = self._slice(ids, ctx, newest_first=False)
        data = [self.comment_json(self.comments[ids[p]], fields, "") for p in positions]
        return _page(data, positions, more, ctx)

    def get_conversations(self, page_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        accounts = [a for a, p in self.page_of.items() if p == page_id]
        ordered = sorted(
            (
                c
                for c in self.conversations.values()
                if c.account_id in accounts
                and self.state.listed_only(c.messages)
                and ctx["params"].get("user_id") in (None, "", c.user[0])
            ),
            key=lambda c: (c.updated, c.id),
        )
        ids = [c.id for c in ordered]
        fields = requested_fields(ctx["params"], CONVERSATION_DEFAULT_FIELDS)
        positions, more = self._slice(ids, ctx, newest_first=True)
        data = []
        for p in positions:
            item: dict[str, Any] = {"id": ids[p]}
            conversation = self.conversations[ids[p]]
            if "updated_time" in fields:
                item["updated_time"] = iso_graph(conversation.updated)
            if "participants" in fields:
                account = self.state.accounts[("instagram", conversation.account_id)]
                item["participants"] = {
                    "data": [
                        {"username": conversation.user[1], "id": conversation.user[0]},
                        {"username": account.handle, "id": account.account_id},
                    ]
                }
            data.append(item)
        return _page(data, positions, more, ctx)

    def get_messages(self, conversation_id: str, ctx: dict[str, Any]) -> dict[str, Any]:
        conversation = self.conversations[conversation_id]
        ids = self.state.listed_only(conversation.messages)
        fields = requested_fields(ctx["params"], MESSAGE_DEFAULT_FIELDS)
        positions, more = self._slice(ids, ctx, newest_first=True)
        data = [self.message_json(self.messages[ids[p]], fields) for p in positions]
        return _page(data, positions, more, ctx)

    def post_reply(self, comment_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """The account replies under a comment (a reply to a reply joins its top-level one)."""
        message = form.get("message")
        if not isinstance(message, str) or not message.strip():
            raise graph_error(400, "(#100) The parameter message is required", 100)
        if len(message) > COMMENT_LIMIT:
            raise graph_error(400, "(#100) The comment is too long (2,200 characters at most)", 100)
        parent = self.comments.get(comment_id)
        if parent is None:
            raise no_such_object(comment_id)
        media = self.media[parent.media_id]
        account = self.state.accounts[("instagram", media.owner)]
        top = self.comments[parent.parent_id] if parent.parent_id else parent
        brand = (account.account_id, account.handle)
        already = any(
            self.comments[c].text == message and self.comments[c].author == brand
            for c in top.replies
        )
        if self.state.refuses_duplicate("facebook", f"/{comment_id}/replies", already):
            raise graph_error(400, "(#506) Duplicate status message", 506)
        reply = self._add_comment(media, top, message, brand)
        self.state.lag_publication("facebook", f"/{comment_id}/replies", reply.id)
        self.state.record_reply(
            "instagram",
            account.account_id,
            {
                "id": reply.id,
                "kind": "comment",
                "text": message,
                "in_reply_to": comment_id,
                "recipient": parent.author[0],
            },
        )
        return {"id": reply.id}

    def takes_message(self, page_id: str, form: dict[str, Any]) -> bool:
        """Whether POST /{page}/messages is an Instagram send (to an IG comment or IGSID)."""
        if page_id not in self.page_of.values():
            return False
        recipient = json_field(form, "recipient")
        if not isinstance(recipient, dict):
            return False
        if recipient.get("comment_id"):
            return str(recipient["comment_id"]) in self.comments
        accounts = [a for a, p in self.page_of.items() if p == page_id]
        return any((a, str(recipient.get("id", ""))) in self.conversation_by_user for a in accounts)

    def post_message(self, page_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """A private reply to an IG comment (once, within 7 days) or a DM in the 24-hour window."""
        recipient = json_field(form, "recipient")
        message = json_field(form, "message")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise graph_error(400, "(#100) The parameter message[text] is required", 100)
        if len(text) > DM_LIMIT:
            raise graph_error(
                400, "(#100) Length of param message[text] must be less than 1000", 100, 2534015
            )
        now = self.state.now()
        if recipient.get("comment_id"):
            comment = self.comments[str(recipient["comment_id"])]
            check_private_reply(comment.private_replied, comment.created, now)
            account_id = self.media[comment.media_id].owner
            comment.private_replied = True
            conversation = self._conversation(account_id, comment.author)
            kind, in_reply_to = "private_reply", comment.id
        else:
            accounts = [a for a, p in self.page_of.items() if p == page_id]
            user_id = str(recipient.get("id", ""))
            key = next((a, user_id) for a in accounts if (a, user_id) in self.conversation_by_user)
            conversation = self.conversations[self.conversation_by_user[key]]
            if now - conversation.last_customer_message > DM_WINDOW:
                raise graph_error(
                    400, "(#10) This message is sent outside of allowed window.", 10, 2534022
                )
            kind, in_reply_to = "message", None
        account = self.state.accounts[("instagram", conversation.account_id)]
        sent = self._add_message(conversation, account, text, from_brand=True)
        self.state.lag_publication("facebook", f"/{page_id}/messages", sent.id)
        self.state.record_reply(
            "instagram",
            account.account_id,
            {
                "id": sent.id,
                "kind": kind,
                "text": text,
                "in_reply_to": in_reply_to,
                "recipient": conversation.user[0],
                "conversation_id": conversation.id,
            },
        )
        return {"recipient_id": conversation.user[0], "message_id": sent.id}


def _inner(raw: str, name: str) -> str:
    """The field list nested in `name{...}` of a fields parameter ("" if none)."""
    start = raw.find(name + "{")
    if start < 0:
        return ""
    depth, begin = 0, start + len(name)
    for pos in range(begin, len(raw)):
        if raw[pos] == "{":
            depth += 1
        elif raw[pos] == "}":
            depth -= 1
            if depth == 0:
                return raw[begin + 1 : pos]
    return ""


def _page(data: list[Any], positions: list[int], more: bool, ctx: dict[str, Any]) -> dict[str, Any]:
    """A page over a list, its cursors the items' positions."""
    first = encode_cursor(positions[0]) if positions else None
    last = encode_cursor(positions[-1]) if positions else None
    return paged(data, first, last, more, ctx)
