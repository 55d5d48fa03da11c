"""The Instagram connector: an Instagram professional account linked to a Facebook Page,
read and answered through the Instagram Graph API on the Graph host, with facebook-sdk.

The account is the channel's `external_account_id` (the IG user id); the credentials hold the
linked Page's access token and the Page id (`/{page-id}/conversations?platform=instagram` and
`/{page-id}/messages` are Page edges). The session, version and error handling are the Facebook
connector's (`facebook._graph`, `facebook._get`, `facebook._map_error`); reading page by page
across polls is `instagram_paging`, built on `facebook_paging`.

What Graph sends, and what it leaves out unless asked for (see the IG Comment, IG Media, IG
User tags and conversations references):

* IG Comment: `id`, `text`, `timestamp` by default; `username` on request; `from`
  ({"id": IGSID, "username"}) on request and only with instagram_manage_comments, so an item
  with `username` but no `from` is kept under its username; `parent_id` on replies;
  `replies{...}` nests the first page of a comment's replies (Instagram keeps one level).
* IG Media (the account's, and on /tags those it is tagged in): `id` by default; `caption`,
  `timestamp`, `username`, `permalink`, `comments_count` on request.
* Instagram messages (Page conversations with platform=instagram): `from` and `to` carry
  {"username", "id": IGSID}; `message` and `created_time` on request.

Normalisers exposed for webhook intake (`object: instagram`): `normalise_comment(item,
media_id=...)` takes a `comments` change value ({"id", "text", "from": {"id", "username"},
"media": {"id"}, "parent_id"}; give `timestamp` from the entry's `time`), `normalise_message`
a conversation message, `normalise_media` a tagged or mentioned media, and
`normalise_mentioned_comment` the answer of `GET /{ig-user-id}?fields=mentioned_comment...`
(`InstagramConnector.fetch_mention` asks for it, given the ids a `mentions` change carries).
"""

import logging
import re
from collections.abc import Collection, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import facebook

from listening.connectors import facebook as fb
from listening.connectors.attachments import attachment, kept
from listening.connectors.errors import (
    AuthError,
    PermanentError,
)
from listening.connectors.facebook_media import message_attachments
from listening.posts import (
    Attachment,
    Author,
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

NETWORK = "instagram"
PAGE_SIZE = 50
COMMENT_FIELDS = "id,text,timestamp,username,from,parent_id"
COMMENTS_WITH_REPLIES = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
MEDIA_FIELDS = "id,timestamp,comments_count"
TAG_FIELDS = "id,caption,timestamp,username,permalink,media_type,media_url,thumbnail_url"
MENTIONED_COMMENT_FIELDS = "id,text,timestamp,username,media{id,permalink}"
MENTIONED_MEDIA_FIELDS = TAG_FIELDS
FIND_PUBLISHED_SLACK = timedelta(minutes=2)

CREDENTIAL_KEYS = ("page_access_token", "page_id", "ig_user_id")
NO_TEXT_TAG = "(tagged the brand in a post without a caption)"
# Authors Graph names only by username (no `from`: the token lacks the permission).
USERNAME_PREFIX = "ig.username."
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_NUMERIC_ID = re.compile(r"^[0-9]{1,40}$")
EDGES = ("comments", "replies", "tags", "messages", "conversations")  # read from paging URLs


def check_credentials(credentials: dict[str, Any]) -> None:
    """Raise ValueError, with what to fix, unless `credentials` name a Page token and Page id.

    `ig_user_id`, when given, is the Instagram account's id (the channel's account id).
    """
    missing = [
        key
        for key in ("page_access_token", "page_id")
        if not isinstance(credentials.get(key), str) or not credentials[key].strip()
    ]
    if missing:
        given = ", ".join(sorted(credentials)) or "nothing"
        raise ValueError(
            "An Instagram channel needs page_access_token (the access token of the Facebook "
            "Page linked to the Instagram account) and page_id (that Page's id), both "
            f"non-empty strings; missing {', '.join(missing)}; the credentials given have "
            f"{given}."
        )
    if not _NUMERIC_ID.match(credentials["page_id"].strip()):
        raise ValueError("page_id must be the Facebook Page's numeric id.")
    ig_user_id = credentials.get("ig_user_id")
    if ig_user_id is not None and not (
        isinstance(ig_user_id, str) and _NUMERIC_ID.match(ig_user_id.strip())
    ):
        raise ValueError("ig_user_id must be the Instagram account's numeric id.")
    unknown = sorted(set(credentials) - set(CREDENTIAL_KEYS))
    if unknown:
        raise ValueError(
            "Instagram credentials take only page_access_token, page_id and ig_user_id; "
            f"remove {', '.join(unknown)}."
        )


class InstagramConnector:
    """Fetch, publish and reconcile on an Instagram account. Never writes to the database."""

    network = NETWORK

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult:
        """Every page one poll reads since `cursor`, merged (see `fetch_pages`)."""
        return collect(self.fetch_pages(channel, cursor), cursor)

    def fetch_pages(self, channel: "Channel", cursor: dict[str, Any]) -> Iterator[FetchPage]:
        """Comments and replies on the account's media, media it is tagged in, and its
        Instagram DMs, one FetchPage per Graph page read (see `instagram_paging`)."""
        from listening.connectors import instagram_paging

        yield from instagram_paging.fetch_pages(channel, graph_for(channel), cursor)

    def fetch_mention(
        self, channel: "Channel", *, comment_id: str = "", media_id: str = ""
    ) -> InboundPost | Quarantined:
        """A comment or caption that @mentions the account, by the id a `mentions` webhook
        change carries (Graph lists such mentions nowhere: only these field expansions)."""
        graph = graph_for(channel)
        account = str(channel.external_account_id)
        if comment_id:
            field = f"mentioned_comment.comment_id({comment_id}){{{MENTIONED_COMMENT_FIELDS}}}"
        else:
            field = f"mentioned_media.media_id({media_id}){{{MENTIONED_MEDIA_FIELDS}}}"
        answer = fb._get(graph, account, {"fields": field})
        if comment_id:
            return normalise_mentioned_comment(answer.get("mentioned_comment"))
        return normalise_media(answer.get("mentioned_media"), kind="mention")

    # ---- import ------------------------------------------------------------------------

    def normalise_payload(
        self, payload: dict[str, Any], *, account_id: str = ""
    ) -> tuple[list[InboundPost], list[Quarantined]]:
        """Normalise one raw Graph response for import.

        Accepts a connection response {"data": [...]} from /{media}/comments (replies nested or
        not), /{comment}/replies, /{ig-user}/tags, /{conversation}/messages or /conversations
        with nested `messages`; an object with a nested connection ({"id": media, "comments":
        {...}}); a {"mentioned_comment": {...}} or {"mentioned_media": {...}} answer; or one
        bare item. With `account_id` (the IG user id), the account's own items are skipped.
        """
        batch = Batch(own_id=account_id)
        if not isinstance(payload, dict):
            return [], [Quarantined(reason="not a Graph API response object", payload=payload)]
        if isinstance(payload.get("mentioned_comment"), dict):
            batch.keep(normalise_mentioned_comment(payload["mentioned_comment"]))
            return batch.posts, batch.quarantined
        if isinstance(payload.get("mentioned_media"), dict):
            batch.keep(normalise_media(payload["mentioned_media"], kind="mention"))
            return batch.posts, batch.quarantined
        if "data" not in payload and "id" in payload and not _nested(payload):
            payload = {"data": [payload]}
        for edge in ("comments", "replies", "messages"):
            nested = payload.get(edge)
            if isinstance(nested, dict) and isinstance(nested.get("data"), list):
                _normalise_items(batch, edge, _str(payload.get("id")), nested["data"])
                return batch.posts, batch.quarantined
        data = payload.get("data")
        if not isinstance(data, list):
            reason = (
                "Graph API error response"
                if "error" in payload
                else "Graph API response without a data list"
            )
            return [], [Quarantined(reason=reason, payload=payload)]
        edge, parent = fb._edge_from_paging(payload.get("paging"), EDGES)
        _normalise_items(batch, edge or _edge_from_items(data), parent, data)
        return batch.posts, batch.quarantined

    def lookup_ids(self, records: list[Any]) -> list[str]:
        """Nothing to look up: Graph names an Instagram author whenever it is asked to."""
        return []

    def hydrate(
        self,
        channel: "Channel",
        records: list[Any],
        *,
        dry_run: bool = False,
        skip: Collection[str] = (),
    ) -> Hydration:
        return Hydration(records=records)

    # ---- publish -----------------------------------------------------------------------

    def publish(self, reply: OutboundReply) -> str:
        """Post `reply`; returns its id. Raises AmbiguousSend when it may have been stored.

        Public: a reply under the comment (`POST /{ig-comment-id}/replies`). Private: a
        private reply to a comment (`recipient.comment_id`, once, within 7 days) or a DM in
        the customer's 24-hour window (`recipient.id`, the IGSID), both `POST
        /{page-id}/messages`.
        """
        target = reply.target
        if not reply.is_private and target.is_private:
            raise PermanentError("An Instagram DM cannot be answered in public.")
        if not reply.is_private and target.kind != "comment":
            raise PermanentError(
                "Instagram does not allow comments on media the brand is tagged or "
                "mentioned in: answer it with a private message."
            )
        from listening.connectors.facebook_sending import graph_publish

        return graph_publish(
            graph_for(reply.channel),
            page_id_of(reply.channel),
            reply,
            network="Instagram",
            public_edge="replies",
        )

    def set_hidden(self, post: ModeratedPost, *, hidden: bool) -> None:
        """Hide a customer's comment on the account's media, or show it again
        (`POST /{ig-comment-id}` with `hide`; see listening.connectors.moderation)."""
        from listening.connectors.moderation import graph_set_hidden

        graph_for(post.channel)  # the linked Page's token and id, or AuthError
        graph_set_hidden(post, hidden=hidden, param="hide")

    def delete_post(self, post: ModeratedPost) -> bool:
        """Delete the account's own comment; False if Graph no longer has it."""
        from listening.connectors.moderation import graph_delete

        graph_for(post.channel)
        return graph_delete(post)

    def find_published(self, reply: OutboundReply) -> str | None:
        """The id of the account's item that is this reply, or None if Graph lists none yet.

        It is written by the account (its IG user id or username), where the reply was sent
        (public: among the replies of the comment's top-level comment; private: the messages
        of the recently updated Instagram conversations), created after the first attempt
        began (less two minutes of clock skew), with the same text, and not in `reply.taken`.
        None means "not listed yet", never "not sent".
        """
        graph = graph_for(reply.channel)
        account = str(reply.channel.external_account_id)
        handle = reply.channel.handle.lstrip("@").lower()
        target, taken = reply.target, reply.taken
        not_before = reply.started_at - FIND_PUBLISHED_SLACK
        wanted = fb._comparable(reply.text)

        def matches(item: dict[str, Any], text_key: str, time_key: str) -> bool:
            author = item.get("from") if isinstance(item.get("from"), dict) else {}
            username = _str(item.get("username") or author.get("username")).lower()
            created = fb.parse_graph_time(item.get(time_key))
            return (
                (_str(author.get("id")) == account or (bool(handle) and username == handle))
                and _str(item.get("id")) not in taken
                and fb._comparable(_str(item.get(text_key))) == wanted
                and (created is None or created >= not_before)
            )

        if not reply.is_private:
            comment = fb._get(graph, target.external_id, {"fields": "id,parent_id"})
            top = _str(comment.get("parent_id")) or target.external_id
            args: dict[str, Any] = {"fields": COMMENT_FIELDS, "limit": PAGE_SIZE}
            for _ in range(20):
                page = fb._get(graph, f"{top}/replies", args)
                for item in fb._data(page):
                    if matches(item, "text", "timestamp"):
                        return _str(item.get("id"))
                after = _next_after(page)
                if not after:
                    return None
                args["after"] = after
            return None
        from listening.connectors.facebook_sending import find_in_conversations

        return find_in_conversations(
            graph,
            page_id_of(reply.channel),
            target,
            platform="instagram",
            not_before=not_before,
            matches=lambda item: matches(item, "message", "created_time"),
        )


# ---- plumbing ----------------------------------------------------------------------------


def graph_for(channel: "Channel") -> facebook.GraphAPI:
    """facebook-sdk's client on the linked Page's token, with the Facebook connector's fixes."""
    credentials = channel.credentials or {}
    if not credentials.get("page_access_token") or not credentials.get("page_id"):
        raise AuthError(
            "The Instagram channel lacks the linked Page's access token or id: reconnect it."
        )
    return fb._graph(channel)


def page_id_of(channel: "Channel") -> str:
    return _str((channel.credentials or {}).get("page_id"))


class Batch(fb._Batch):
    """One fetch of an account: its own items (by IG user id or username) are skipped."""

    def __init__(self, own_id: str, own_handle: str = "") -> None:
        super().__init__(own_id=own_id)
        self.own_handle = own_handle.lstrip("@").lower()

    def keep(self, result: InboundPost | Quarantined) -> None:
        if (
            isinstance(result, InboundPost)
            and self.own_handle
            and result.author.handle.lower() == self.own_handle
        ):
            return  # the brand's own comment or reply, named by username only
        super().keep(result)


# ---- normalisation -------------------------------------------------------------------------


def normalise_comment(item: Any, *, media_id: str) -> InboundPost | Quarantined:
    """An IG comment or reply on `media_id` -> InboundPost threaded under the media.

    Its parent is `parent_id` (a reply) or the media. The author is `from` when Graph sends it,
    else the `username` alone; neither: Quarantined.
    """
    checked = _check(item, "text", "timestamp")
    if isinstance(checked, Quarantined):
        return checked
    comment_id, text, posted_at = checked
    author = _author(item)
    if author is None:
        return Quarantined(
            _no_author(item), {"id": media_id, "comments": {"data": [item]}}, comment_id
        )
    media = item.get("media")
    media_id = media_id or (_str(media.get("id")) if isinstance(media, dict) else "")
    parent = _str(item.get("parent_id"))
    return InboundPost(
        network=NETWORK,
        external_id=comment_id,
        kind="comment",
        text=text,
        posted_at=posted_at,
        author=author,
        conversation_id=(media_id or parent or comment_id)[:128],
        in_reply_to_id=(parent or media_id)[: fb.MAX_ID],
    )


def comment_items(item: Any) -> list[Any]:
    """A comment and the replies nested in it (replies{...}), each knowing its parent."""
    if not isinstance(item, dict):
        return [item]
    items: list[Any] = [item]
    nested = item.get("replies")
    replies = nested.get("data") if isinstance(nested, dict) else None
    for reply in replies if isinstance(replies, list) else []:
        if isinstance(reply, dict) and not reply.get("parent_id") and item.get("id"):
            reply = {**reply, "parent_id": item["id"]}
        items.append(reply)
    return items


def normalise_media(item: Any, *, kind: str) -> InboundPost | Quarantined:
    """Media another user tagged the account in ("tag") or @mentioned it in ("mention")."""
    if isinstance(item, dict) and not _str(item.get("caption")):
        item = {**item, "caption": NO_TEXT_TAG}
    checked = _check(item, "caption", "timestamp")
    if isinstance(checked, Quarantined):
        return checked
    media_id, text, posted_at = checked
    author = _author(item)
    if author is None:
        return Quarantined(_no_author(item), item, media_id)
    return InboundPost(
        network=NETWORK,
        external_id=media_id,
        kind=kind,
        text=text,
        posted_at=posted_at,
        author=author,
        conversation_id=media_id[:128],
        url=fb._url(item.get("permalink")),
        attachments=media_attachments(item),
    )


def media_attachments(item: dict[str, Any]) -> tuple[Attachment, ...]:
    """The image of an IG Media: `media_url` for a photo or an album's cover, the still
    (`thumbnail_url`) of a video; both only when the request's fields name them."""
    media_type = _str(item.get("media_type"))
    if media_type == "VIDEO":
        return kept([attachment("video", item.get("thumbnail_url"))])
    if media_type in ("IMAGE", "CAROUSEL_ALBUM"):
        return kept([attachment("photo", item.get("media_url"))])
    return ()


def normalise_mentioned_comment(item: Any) -> InboundPost | Quarantined:
    """A comment on someone else's media that @mentions the account (kind "mention")."""
    post = normalise_comment(item, media_id="")
    if isinstance(post, Quarantined):
        return post
    media = item.get("media") if isinstance(item.get("media"), dict) else {}
    return InboundPost(
        network=NETWORK,
        external_id=post.external_id,
        kind="mention",
        text=post.text,
        posted_at=post.posted_at,
        author=post.author,
        conversation_id=post.conversation_id,
        in_reply_to_id=post.in_reply_to_id,
        url=fb._url(media.get("permalink")),
    )


def normalise_message(item: Any, *, conversation_id: str) -> InboundPost | Quarantined:
    """An Instagram direct message -> InboundPost (kind "dm", private) or Quarantined."""
    checked = _check(item, "message", "created_time")
    if isinstance(checked, Quarantined):
        return checked
    message_id, text, posted_at = checked
    author = _author(item)
    if author is None:
        held = {"id": conversation_id, "messages": {"data": [item]}}
        return Quarantined(_no_author(item), held, message_id)
    conversation = conversation_id or author.external_id
    return InboundPost(
        network=NETWORK,
        external_id=message_id,
        kind="dm",
        text=text,
        posted_at=posted_at,
        author=author,
        conversation_id=("msg:" + conversation)[:128],
        is_private=True,
        attachments=message_attachments(item),
    )


def _check(item: Any, text_key: str, time_key: str) -> tuple[str, str, datetime] | Quarantined:
    """The id, text and time every item needs, or the reason it cannot be kept."""
    if not isinstance(item, dict):
        return Quarantined(reason="item is not an object", payload=item)
    item_id = _str(item.get("id"))
    if not item_id:
        return Quarantined(reason="missing id", payload=item)
    if not fb._GRAPH_ID.match(item_id) or len(item_id) > fb.MAX_ID:
        return Quarantined(reason="invalid id", payload=item, external_id=item_id[: fb.MAX_ID])
    text = item.get(text_key)
    if not isinstance(text, str) or not text.strip():
        return Quarantined(reason=f"missing {text_key}", payload=item, external_id=item_id)
    raw_time = item.get(time_key)
    posted_at = fb.parse_graph_time(raw_time)
    if posted_at is None:
        reason = f"unparseable {time_key}" if raw_time else f"missing {time_key}"
        return Quarantined(reason=reason, payload=item, external_id=item_id)
    return item_id, text, posted_at


def _author(item: dict[str, Any]) -> Author | None:
    """`from` ({"id": IGSID, "username"}) when present, else the item's `username` alone."""
    sender = item.get("from") if isinstance(item.get("from"), dict) else {}
    username = _str(sender.get("username") or item.get("username")).lstrip("@")
    if not _USERNAME.match(username):
        username = ""
    author_id = _str(sender.get("id"))
    if not fb._GRAPH_ID.match(author_id) or len(author_id) > fb.MAX_AUTHOR_ID:
        author_id = ""
    if not author_id and not username:
        return None
    if not author_id:
        author_id = USERNAME_PREFIX + username.lower()
    return Author(
        external_id=author_id[: fb.MAX_AUTHOR_ID],
        handle=username,
        name=username,
        profile_url=f"https://www.instagram.com/{username}/" if username else "",
    )


def _no_author(item: dict[str, Any]) -> str:
    return "author unknown: Graph sent the item without `from` or `username`"


def _nested(payload: dict[str, Any]) -> bool:
    return any(isinstance(payload.get(edge), dict) for edge in ("comments", "replies", "messages"))


def _normalise_items(batch: Batch, edge: str, parent: str, items: list[Any]) -> None:
    batch.reads += len(items)
    for item in items:
        if edge == "conversations":
            nested = item.get("messages") if isinstance(item, dict) else None
            messages = nested.get("data") if isinstance(nested, dict) else None
            if not isinstance(messages, list):
                batch.keep(Quarantined(reason="conversation without messages", payload=item))
                continue
            _normalise_items(batch, "messages", _str(item.get("id")), messages)
        elif edge == "messages":
            batch.keep(normalise_message(item, conversation_id=parent))
        elif edge == "tags":
            batch.keep(normalise_media(item, kind="tag"))
        elif edge == "replies":
            # /{comment}/replies: the media is not named; the thread is the parent comment.
            reply = item if not isinstance(item, dict) else {"parent_id": parent, **item}
            batch.keep(normalise_comment(reply, media_id=""))
        else:
            for one in comment_items(item):
                batch.keep(normalise_comment(one, media_id=parent))


def _edge_from_items(items: list[Any]) -> str:
    objects = [i for i in items if isinstance(i, dict)]
    if any("messages" in i for i in objects):
        return "conversations"
    if any("message" in i or "to" in i for i in objects):
        return "messages"
    if any("caption" in i or "permalink" in i for i in objects):
        return "tags"
    return "comments"


def _next_after(page: dict[str, Any]) -> str | None:
    from listening.connectors.facebook_paging import _next_after as next_after

    return next_after(page)


def _str(value: Any) -> str:
    return fb._str(value)
