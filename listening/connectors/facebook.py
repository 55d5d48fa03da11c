"""The Facebook (Graph API) connector, on facebook-sdk 3.1.0's `GraphAPI`.

Streams and their cursor keys (values are unix seconds, as strings):
"feed" (visitor posts on the page, created since the cursor), "comments" (comments on the
page's most recently active posts, since the newest post activity seen), "tagged" (posts
that tag the page) and "messenger" (conversations updated since the cursor, then their
new messages). facebook-sdk's defects are neutralised in `listening.connectors.http`
and in `_graph` (the version is set after construction).
"""

import json
import logging
import re
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import facebook
import requests
from django.conf import settings

from listening.connectors import http, target_mention
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    ConnectorError,
    PermanentError,
    TransientError,
)
from listening.posts import Author, FetchBatch, FetchResult, InboundPost, Quarantined

if TYPE_CHECKING:
    from cases.models import Reply
    from listening.models import Channel

log = logging.getLogger(__name__)

NETWORK = "facebook"
MAX_PAGES = 20
PAGE_SIZE = 100
# On the first poll, comments are read on this many of the most recent posts.
RECENT_POSTS = 25
# On the first poll, messages are read in this many of the most recent conversations.
RECENT_CONVERSATIONS = 25
MESSAGES_PAGE_SIZE = 25
FIND_PUBLISHED_SLACK = timedelta(minutes=2)

POST_FIELDS = "id,message,created_time,updated_time,from,permalink_url"
TAGGED_FIELDS = "id,message,created_time,from,permalink_url"
COMMENT_FIELDS = "id,message,created_time,from,parent,permalink_url"
ACTIVITY_FIELDS = "id,updated_time,created_time"
CONVERSATION_FIELDS = "id,updated_time"
MESSAGE_FIELDS = "id,message,created_time,from,to"

UNKNOWN_AUTHOR = Author(external_id="unknown", name="Facebook user")

MAX_ID = 255  # Mention.external_id
MAX_AUTHOR_ID = 64  # Identity.external_id
MAX_NAME = 200
# Ids go into URL paths when we reply: only the characters Graph ids are made of.
_GRAPH_ID = re.compile(r"^[A-Za-z0-9_.$:\-]{1,200}$")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_EDGES = frozenset({"feed", "tagged", "comments", "messages", "conversations"})


class FacebookConnector:
    """Fetch, publish and reconcile on a Facebook page. Never writes to the database."""

    network = NETWORK

    # ---- fetch -------------------------------------------------------------------------

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult:
        """Read every stream of the page since `cursor`.

        Returns new posts (the page's own items skipped, duplicates within this fetch
        removed), rejects, the cursor to store (old values kept for streams that brought
        nothing) and the number of objects read. Raises a ConnectorError subclass on
        failure, so the caller keeps the old cursor.
        """
        graph = _graph(channel)
        page_id = str(channel.external_account_id)
        batch = _Batch(own_id=page_id)
        new_cursor = dict(cursor)

        self._fetch_posts(
            graph, f"{page_id}/feed", POST_FIELDS, "visitor_post", "feed", cursor, new_cursor, batch
        )
        self._fetch_comments(graph, page_id, cursor, new_cursor, batch)
        self._fetch_posts(
            graph, f"{page_id}/tagged", TAGGED_FIELDS, "tag", "tagged", cursor, new_cursor, batch
        )
        self._fetch_messenger(graph, page_id, cursor, new_cursor, batch)
        return FetchResult(
            posts=batch.posts,
            new_cursor=new_cursor,
            quarantined=batch.quarantined,
            reads=batch.reads,
        )

    def _fetch_posts(
        self,
        graph: facebook.GraphAPI,
        edge: str,
        fields: str,
        kind: str,
        cursor_key: str,
        cursor: dict[str, Any],
        new_cursor: dict[str, Any],
        batch: "_Batch",
    ) -> None:
        """Posts of one page edge (feed: visitor posts; tagged: posts tagging the page)."""
        since = _cursor_time(cursor.get(cursor_key))
        newest = since
        for page in _pages(graph, edge, {"fields": fields, "limit": PAGE_SIZE}, since=since):
            for item in batch.read(page):
                newest = _later(newest, item.get("created_time"))
                batch.keep(normalise_post(item, kind=kind))
        _store(new_cursor, cursor_key, newest)

    def _fetch_comments(
        self,
        graph: facebook.GraphAPI,
        page_id: str,
        cursor: dict[str, Any],
        new_cursor: dict[str, Any],
        batch: "_Batch",
    ) -> None:
        # /feed is ordered by recent activity; a post's updated_time moves with each new
        # comment. Only posts active since the cursor are read again.
        since = _cursor_time(cursor.get("comments"))
        recent = _get(graph, f"{page_id}/feed", {"fields": ACTIVITY_FIELDS, "limit": RECENT_POSTS})
        newest = since
        for post in batch.read(recent):
            post_id = _id(post)
            activity = parse_graph_time(post.get("updated_time") or post.get("created_time"))
            if not post_id or activity is None:
                continue
            if since is not None and activity < since:
                continue
            # The cursor is the newest activity *listed*, not the newest comment read: a
            # comment landing on another post while we read stays after the cursor.
            newest = activity if newest is None or activity > newest else newest
            args = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "chronological",
                "limit": PAGE_SIZE,
            }
            for page in _pages(graph, f"{post_id}/comments", args, since=since):
                for item in batch.read(page):
                    batch.keep(normalise_comment(item, post_id=post_id))
        _store(new_cursor, "comments", newest)

    def _fetch_messenger(
        self,
        graph: facebook.GraphAPI,
        page_id: str,
        cursor: dict[str, Any],
        new_cursor: dict[str, Any],
        batch: "_Batch",
    ) -> None:
        # Graph has no `since` on conversations: they come most recently updated first, and
        # we stop at the first one not updated since the cursor.
        since = _cursor_time(cursor.get("messenger"))
        limit = PAGE_SIZE if since is not None else RECENT_CONVERSATIONS
        args = {"platform": "messenger", "fields": CONVERSATION_FIELDS, "limit": limit}
        newest = since
        updated: list[tuple[str, datetime]] = []
        for page in _pages(graph, f"{page_id}/conversations", args, since=since, send_since=False):
            reached_old = False
            for conversation in batch.read(page):
                conversation_id = _id(conversation)
                updated_at = parse_graph_time(conversation.get("updated_time"))
                if not conversation_id or updated_at is None:
                    continue
                # Graph times have one-second resolution: an update in the cursor's own
                # second may be new, so it is read again (ingest drops what it has).
                if since is not None and updated_at < since:
                    reached_old = True
                    continue
                updated.append((conversation_id, updated_at))
            if reached_old:
                break
        for conversation_id, updated_at in updated:
            # As for comments: the cursor is the newest conversation update *listed*.
            newest = updated_at if newest is None or updated_at > newest else newest
            self._read_messages(graph, conversation_id, since, batch)
        _store(new_cursor, "messenger", newest)

    def _read_messages(
        self,
        graph: facebook.GraphAPI,
        conversation_id: str,
        since: datetime | None,
        batch: "_Batch",
    ) -> None:
        args = {"fields": MESSAGE_FIELDS, "limit": MESSAGES_PAGE_SIZE}
        path = f"{conversation_id}/messages"
        for page in _pages(graph, path, args, since=since, send_since=False):
            reached_old = False
            for item in batch.read(page):
                created = parse_graph_time(item.get("created_time"))
                if since is not None and created is not None and created < since:
                    reached_old = True  # newest first: the rest was read by earlier polls
                    continue
                batch.keep(normalise_message(item, conversation_id=conversation_id))
            if reached_old:
                break

    # ---- import ------------------------------------------------------------------------

    def normalise_payload(
        self, payload: dict[str, Any], *, account_id: str = ""
    ) -> tuple[list[InboundPost], list[Quarantined]]:
        """Normalise one raw Graph response for import.

        Accepts a connection response {"data": [...], "paging": {...}} from /feed, /tagged,
        /{post}/comments, /{conversation}/messages or /conversations (with nested
        `messages`), or an object with a nested connection ({"id": post, "comments":
        {"data": [...]}}). The endpoint is told by the paging URLs when present, else by
        the items' fields. With `account_id` (the page id), the page's own items are skipped.
        """
        batch = _Batch(own_id=account_id)
        if not isinstance(payload, dict):
            return [], [Quarantined(reason="not a Graph API response object", payload=payload)]
        for connection in ("comments", "messages", "feed", "tagged"):
            nested = payload.get(connection)
            if isinstance(nested, dict) and isinstance(nested.get("data"), list):
                _normalise_items(batch, connection, _str(payload.get("id")), nested["data"])
                return batch.posts, batch.quarantined
        data = payload.get("data")
        if not isinstance(data, list):
            if "error" in payload:
                reason = "Graph API error response"
            else:
                reason = "Graph API response without a data list"
            return [], [Quarantined(reason=reason, payload=payload)]
        edge, parent = _edge_from_paging(payload.get("paging"))
        if edge is None:
            edge = _edge_from_items(data)
        _normalise_items(batch, edge, parent, data)
        return batch.posts, batch.quarantined

    # ---- publish -----------------------------------------------------------------------

    def publish(self, reply: "Reply") -> str:
        """Post `reply`: a comment under the post/comment, or a private message. Returns its id.

        Private replies to a comment or visitor post use recipient.comment_id (Facebook's
        one private reply per comment); in a Messenger conversation, recipient.id (the PSID).
        Raises AmbiguousSend when the request may have reached Facebook.
        """
        channel = reply.case.channel
        graph = _graph(channel)
        page_id = str(channel.external_account_id)
        target = target_mention(reply)
        try:
            if reply.is_private:
                if target.kind == "dm":
                    recipient = {"id": target.author.external_id}
                else:
                    recipient = {"comment_id": target.external_id}
                answer = graph.request(
                    f"{graph.version}/{page_id}/messages",
                    post_args={
                        "recipient": json.dumps(recipient),
                        "message": json.dumps({"text": reply.text}),
                        "messaging_type": "RESPONSE",
                    },
                )
                external_id = answer.get("message_id") if isinstance(answer, dict) else None
            else:
                if target.is_private:
                    raise PermanentError("A Messenger message cannot be answered in public.")
                answer = graph.put_object(target.external_id, "comments", message=reply.text)
                external_id = answer.get("id") if isinstance(answer, dict) else None
        except ConnectorError as exc:
            if isinstance(exc, TransientError) and not isinstance(exc, AmbiguousSend):
                # A 5xx on a POST: Facebook may have stored the reply before failing.
                raise AmbiguousSend(f"Facebook failed after the request was sent: {exc}") from exc
            raise
        except Exception as exc:
            raise _map_error(exc, sending=True) from exc
        if not external_id:
            raise AmbiguousSend("Facebook accepted the request but its answer carries no id")
        return str(external_id)

    def find_published(self, reply: "Reply", exclude: Collection[str] = ()) -> str | None:
        """The id of the page's item that is this reply, or None if Graph lists none yet.

        What identifies it: written by the page (`from`), where the reply was sent (public:
        a comment under the target post or comment; Messenger: the conversation's
        messages; private reply to a comment: the page's recently updated
        conversations), created after the reply's first attempt began (minus two minutes
        for clock skew), with the same text, and not one of the ids in `exclude` (items
        already recorded for other replies). Graph lists a new comment some seconds after
        accepting it: None is "not listed yet", never "not sent".
        """
        channel = reply.case.channel
        graph = _graph(channel)
        page_id = str(channel.external_account_id)
        target = target_mention(reply)
        started = (
            reply.first_attempt_at
            or reply.sending_started_at
            or reply.queued_at
            or reply.created_at
        )
        not_before = started - FIND_PUBLISHED_SLACK
        wanted = _comparable(reply.text)
        taken = set(exclude)

        def matches(item: dict[str, Any]) -> bool:
            author = item.get("from")
            created = parse_graph_time(item.get("created_time"))
            return (
                isinstance(author, dict)
                and _str(author.get("id")) == page_id
                and _str(item.get("id")) not in taken
                and _comparable(_str(item.get("message"))) == wanted
                and (created is None or created >= not_before)
            )

        if not reply.is_private:
            args = {
                "fields": "id,message,created_time,from",
                "filter": "stream",
                "order": "chronological",
                "limit": PAGE_SIZE,
            }
            path = f"{target.external_id}/comments"
            for page in _pages(graph, path, args, since=not_before, follow=True):
                for item in _data(page):
                    if matches(item):
                        return _str(item.get("id"))
            return None

        if target.kind == "dm" and target.conversation_id.startswith("msg:"):
            conversations = [target.conversation_id.removeprefix("msg:")]
        else:
            listing = _get(
                graph,
                f"{page_id}/conversations",
                {"platform": "messenger", "fields": CONVERSATION_FIELDS, "limit": 25},
            )
            conversations = [
                _str(c.get("id"))
                for c in _data(listing)
                if (parse_graph_time(c.get("updated_time")) or not_before) >= not_before
            ]
        for conversation_id in conversations:
            if not conversation_id:
                continue
            messages = _get(
                graph, f"{conversation_id}/messages", {"fields": MESSAGE_FIELDS, "limit": 25}
            )
            for item in _data(messages):
                if matches(item):
                    return _str(item.get("id"))
        return None


# ---- reading -------------------------------------------------------------------------------


class _Batch(FetchBatch):
    """One fetch of a page; `own_id` is the page id (its own posts are skipped)."""

    def read(self, page: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of one page, counted as read. Non-objects are quarantined here."""
        items = page.get("data") if isinstance(page, dict) else None
        if not isinstance(items, list):
            return []
        self.reads += len(items)
        good = []
        for item in items:
            if isinstance(item, dict):
                good.append(item)
            else:
                self.quarantined.append(Quarantined(reason="item is not an object", payload=item))
        return good


def _graph(channel: "Channel") -> facebook.GraphAPI:
    token = (channel.credentials or {}).get("page_access_token")
    if not token:
        raise AuthError("The Facebook channel has no page access token: reconnect it.")
    graph = facebook.GraphAPI(
        access_token=token, timeout=settings.SOCIAL_HTTP_TIMEOUT, session=http.graph_session()
    )
    # facebook-sdk rejects every version after 3.1 in its constructor and defaults to v2.8,
    # which Graph no longer serves: set the attribute it formats into every path instead.
    graph.version = settings.FACEBOOK_GRAPH_VERSION
    return graph


def _get(graph: facebook.GraphAPI, path: str, args: dict[str, Any]) -> dict[str, Any]:
    """GET {version}/{path}; every failure becomes a ConnectorError."""
    try:
        answer = graph.request(f"{graph.version}/{path}", dict(args))
    except ConnectorError:
        raise
    except Exception as exc:
        raise _map_error(exc, sending=False) from exc
    if not isinstance(answer, dict):
        raise TransientError("Graph answered with something that is not a JSON object")
    return answer


def _pages(
    graph: facebook.GraphAPI,
    path: str,
    args: dict[str, Any],
    *,
    since: datetime | None,
    send_since: bool = True,
    follow: bool | None = None,
) -> Iterator[dict[str, Any]]:
    """Pages of a Graph connection. Without a cursor (since None) only the first page is
    read, unless `follow` says otherwise; with one, pages are followed (capped)."""
    follow = since is not None if follow is None else follow
    request = dict(args)
    if since is not None and send_since:
        request["since"] = int(since.timestamp())
    for page_number in range(1, MAX_PAGES + 1):
        page = _get(graph, path, request)
        yield page
        paging = page.get("paging") if isinstance(page.get("paging"), dict) else {}
        after = _str((paging.get("cursors") or {}).get("after")) if paging else ""
        if not follow or not paging.get("next") or not after or not _data(page):
            return
        request["after"] = after
        if page_number == MAX_PAGES:
            log.warning("Graph paging capped", extra={"path": path, "pages": MAX_PAGES})


def _map_error(exc: Exception, *, sending: bool) -> ConnectorError:
    """Translate a facebook-sdk or requests failure into a connector error."""
    if isinstance(exc, facebook.GraphAPIError):
        # A 200 whose body says "error" is stopped by GraphSession; what reaches here is
        # facebook-sdk's own complaint about an answer it cannot read.
        result = exc.result if isinstance(exc.result, dict) else {}
        error = http.graph_error(200, result, None)
        if isinstance(error, PermanentError) and not result:
            return TransientError(f"Graph answer unreadable: {exc}")
        return error
    if isinstance(exc, requests.RequestException) and not isinstance(exc, ValueError):
        if sending and http.was_sent(exc):
            return AmbiguousSend(f"Facebook did not answer after the request was sent: {exc}")
        return TransientError(f"Facebook unreachable: {exc}")
    if isinstance(exc, ValueError):
        if sending:
            return AmbiguousSend(f"Facebook answered with invalid JSON after the request: {exc}")
        return TransientError(f"Facebook answered with invalid JSON: {exc}")
    # Anything else is a bug on our side, not a network condition: let it surface as is.
    raise exc


# ---- normalisation -------------------------------------------------------------------------


def normalise_post(item: Any, *, kind: str) -> InboundPost | Quarantined:
    """A feed or tagged post -> InboundPost (its own conversation) or Quarantined."""
    checked = _check(item)
    if isinstance(checked, Quarantined):
        return checked
    post_id, text, posted_at = checked
    return InboundPost(
        network=NETWORK,
        external_id=post_id,
        kind=kind,
        text=text,
        posted_at=posted_at,
        author=_author(item.get("from")),
        conversation_id=post_id,
        url=_url(item.get("permalink_url")),
    )


def normalise_comment(item: Any, *, post_id: str) -> InboundPost | Quarantined:
    """A comment on `post_id` -> InboundPost threaded under the post, or Quarantined."""
    checked = _check(item)
    if isinstance(checked, Quarantined):
        return checked
    comment_id, text, posted_at = checked
    parent = item.get("parent")
    parent_id = _str(parent.get("id")) if isinstance(parent, dict) else ""
    conversation = post_id or _post_of_comment(comment_id)
    return InboundPost(
        network=NETWORK,
        external_id=comment_id,
        kind="comment",
        text=text,
        posted_at=posted_at,
        author=_author(item.get("from")),
        conversation_id=conversation[:128],
        in_reply_to_id=(parent_id or conversation)[:MAX_ID],
        url=_url(item.get("permalink_url")),
    )


def normalise_message(item: Any, *, conversation_id: str) -> InboundPost | Quarantined:
    """A Messenger message -> InboundPost (kind "dm", private) or Quarantined."""
    checked = _check(item)
    if isinstance(checked, Quarantined):
        return checked
    message_id, text, posted_at = checked
    author = _author(item.get("from"))
    # PSIDs are page-scoped: they are not profile ids, so no profile link.
    author = Author(external_id=author.external_id, name=author.name)
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
    )


def parse_graph_time(value: Any) -> datetime | None:
    """An aware UTC datetime from Graph's "2026-11-23T10:15:00+0000" (or unix seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    for parse in (
        lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z"),
        datetime.fromisoformat,
    ):
        try:
            parsed = parse(value)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


def _check(item: Any) -> tuple[str, str, datetime] | Quarantined:
    """The id, text and time every Graph item needs, or the reason it cannot be kept."""
    if not isinstance(item, dict):
        return Quarantined(reason="item is not an object", payload=item)
    item_id = _str(item.get("id"))
    if not item_id:
        return Quarantined(reason="missing id", payload=item)
    if not _GRAPH_ID.match(item_id):
        return Quarantined(reason="invalid id", payload=item, external_id=item_id[:MAX_ID])
    if len(item_id) > MAX_ID:
        # Mention.external_id holds 64 characters; some Messenger message ids are longer.
        return Quarantined(reason="id too long", payload=item, external_id=item_id[:MAX_ID])
    text = item.get("message")
    if not isinstance(text, str) or not text.strip():
        return Quarantined(reason="missing message", payload=item, external_id=item_id)
    posted_at = parse_graph_time(item.get("created_time"))
    if posted_at is None:
        reason = "unparseable created_time" if item.get("created_time") else "missing created_time"
        return Quarantined(reason=reason, payload=item, external_id=item_id)
    return item_id, text, posted_at


def _author(value: Any) -> Author:
    """The author from "from"; missing when the profile is deleted or restricted."""
    if not isinstance(value, dict):
        return UNKNOWN_AUTHOR
    author_id = _str(value.get("id"))
    if not _GRAPH_ID.match(author_id) or len(author_id) > MAX_AUTHOR_ID:
        return UNKNOWN_AUTHOR
    name = value.get("name")
    return Author(
        external_id=author_id,
        name=name[:MAX_NAME] if isinstance(name, str) else "",
        profile_url=f"https://www.facebook.com/{author_id}",
    )


def _normalise_items(batch: _Batch, edge: str, parent: str, items: list[Any]) -> None:
    """Import: normalise items of a known edge ("feed", "tagged", "comments", ...)."""
    batch.reads += len(items)
    for item in items:
        if edge == "conversations":
            # /{page}/conversations?fields=messages{...}: each carries its messages.
            nested = item.get("messages") if isinstance(item, dict) else None
            messages = nested.get("data") if isinstance(nested, dict) else None
            if not isinstance(messages, list):
                batch.keep(Quarantined(reason="conversation without messages", payload=item))
                continue
            _normalise_items(batch, "messages", _str(item.get("id")), messages)
        elif edge == "messages":
            batch.keep(normalise_message(item, conversation_id=parent or _psid_of(item)))
        elif edge == "comments":
            batch.keep(normalise_comment(item, post_id=parent))
        elif edge == "tagged":
            batch.keep(normalise_post(item, kind="tag"))
        else:
            batch.keep(normalise_post(item, kind="visitor_post"))


def _edge_from_paging(paging: Any) -> tuple[str | None, str]:
    """("comments", "<post id>") from a paging URL such as .../v23.0/<post>/comments?..."""
    if not isinstance(paging, dict):
        return None, ""
    for key in ("next", "previous"):
        url = paging.get(key)
        if not isinstance(url, str):
            continue
        parts = [p for p in urlparse(url).path.split("/") if p]
        if len(parts) >= 2 and parts[-1] in _EDGES:
            return parts[-1], parts[-2]
    return None, ""


def _edge_from_items(items: list[Any]) -> str:
    objects = [i for i in items if isinstance(i, dict)]
    if any("messages" in i for i in objects):
        return "conversations"
    if any("to" in i or _str(i.get("id")).startswith("m_") for i in objects):
        return "messages"
    if any("parent" in i or "comment_id=" in _str(i.get("permalink_url")) for i in objects):
        return "comments"
    return "feed"


def _post_of_comment(comment_id: str) -> str:
    # Comment ids are "<post object id>_<comment id>": the thread is the post object.
    return comment_id.rsplit("_", 1)[0] if "_" in comment_id else comment_id


def _psid_of(item: Any) -> str:
    author = item.get("from") if isinstance(item, dict) else None
    return _str(author.get("id")) if isinstance(author, dict) else ""


def _cursor_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromtimestamp(int(float(value)), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return parse_graph_time(value)


def _later(current: datetime | None, value: Any) -> datetime | None:
    parsed = parse_graph_time(value)
    if parsed is None:
        return current
    return parsed if current is None or parsed > current else current


def _store(cursor: dict[str, Any], key: str, value: datetime | None) -> None:
    if value is not None:
        cursor[key] = str(int(value.timestamp()))


def _data(page: Any) -> list[dict[str, Any]]:
    items = page.get("data") if isinstance(page, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def _id(item: dict[str, Any]) -> str:
    value = _str(item.get("id"))
    return value if _GRAPH_ID.match(value) else ""


def _url(value: Any) -> str:
    if isinstance(value, str) and value.startswith("https://") and len(value) <= 500:
        return value
    return ""


def _comparable(text: str) -> str:
    return _URL.sub("<url>", text).strip()


def _str(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()
