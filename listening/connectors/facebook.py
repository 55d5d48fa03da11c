"""The Facebook (Graph API) connector, on facebook-sdk 3.1.0's `GraphAPI`.

Streams and their cursor keys (values are unix seconds, as strings):
"feed" (visitor posts on the page, created since the cursor), "comments" (comments on
every post active since the cursor, each post's comments paged to the end), "tagged" (posts
that tag the page) and "messenger" (conversations updated since the cursor, then their
new messages). Every edge is paged with Graph's `after` cursors and a backlog continues
across polls: see `facebook_paging`. facebook-sdk's defects are neutralised in
`listening.connectors.http` and in `_graph` (the version is set after construction).
"""

import logging
import re
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import facebook
import requests
from django.conf import settings

from listening.connectors import http
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    ConnectorError,
    PermanentError,
    TransientError,
    transport_reason,
)
from listening.connectors.facebook_media import (
    COMMENT_ATTACHMENT_FIELDS,
    MESSAGE_ATTACHMENT_FIELDS,
    POST_ATTACHMENT_FIELDS,
    comment_attachments,
    message_attachments,
    post_attachments,
)
from listening.posts import (
    Author,
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

NETWORK = "facebook"
MAX_PAGES = 20
PAGE_SIZE = 100
# On the first poll, the newest comments are read on this many of the most recent posts.
RECENT_POSTS = 25
# On the first poll, messages are read in this many of the most recent conversations.
RECENT_CONVERSATIONS = 25
MESSAGES_PAGE_SIZE = 25
FIND_PUBLISHED_SLACK = timedelta(minutes=2)

POST_FIELDS = f"id,message,created_time,updated_time,from,permalink_url,{POST_ATTACHMENT_FIELDS}"
TAGGED_FIELDS = f"id,message,created_time,from,permalink_url,{POST_ATTACHMENT_FIELDS}"
COMMENT_FIELDS = f"id,message,created_time,from,parent,permalink_url,{COMMENT_ATTACHMENT_FIELDS}"
ACTIVITY_FIELDS = "id,updated_time,created_time"
CONVERSATION_FIELDS = "id,updated_time"
MESSAGE_FIELDS = f"id,message,created_time,from,to,{MESSAGE_ATTACHMENT_FIELDS}"

NO_AUTHOR = "author unknown: Graph sent the item without `from`"
# The author id given to a person Graph does not name (one identity per post: nothing links them).
UNDISCLOSED_PREFIX = "undisclosed."

MAX_ID = 255  # Mention.external_id
MAX_AUTHOR_ID = 64  # Identity.external_id
MAX_NAME = 200
# Ids go into URL paths when we reply: only the characters Graph ids are made of.
_GRAPH_ID = re.compile(r"^[A-Za-z0-9_.$:\-]{1,200}$")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_EDGES = frozenset({"feed", "tagged", "comments", "messages", "conversations"})


CREDENTIAL_KEYS = ("page_access_token",)


def check_credentials(credentials: dict[str, Any]) -> None:
    """Raise ValueError, with what to fix, unless `credentials` can authenticate on Graph."""
    token = credentials.get("page_access_token")
    if not isinstance(token, str) or not token.strip():
        given = ", ".join(sorted(credentials)) or "nothing"
        raise ValueError(
            "A Facebook channel needs page_access_token (the Page access token, a non-empty "
            f"string); the credentials given have {given}."
        )
    unknown = sorted(set(credentials) - set(CREDENTIAL_KEYS))
    if unknown:
        raise ValueError(
            f"Facebook credentials take only page_access_token; remove {', '.join(unknown)}."
        )


class FacebookConnector:
    """Fetch, publish and reconcile on a Facebook page. Never writes to the database."""

    network = NETWORK

    # ---- fetch -------------------------------------------------------------------------

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult:
        """Every page one poll of the page reads since `cursor`, merged (see `fetch_pages`)."""
        return collect(self.fetch_pages(channel, cursor), cursor)

    def fetch_pages(self, channel: "Channel", cursor: dict[str, Any]) -> Iterator[FetchPage]:
        """Read every stream of the page since `cursor`, one FetchPage per Graph page read.

        Each page carries its new posts (the page's own items skipped, repeats within the
        poll removed), rejects, reads and the whole cursor to store once it is stored: a
        backlog bigger than the poll's budget leaves a continuation (see `facebook_paging`).
        Raises a ConnectorError subclass on failure; the pages handed on before it stay valid.
        """
        from listening.connectors import facebook_paging

        yield from facebook_paging.fetch_pages(channel, _graph(channel), cursor)

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
        if _is_bare_item(payload):
            payload = {"data": [payload]}  # one item, as the quarantine keeps it
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

    def lookup_ids(self, records: list[Any]) -> list[str]:
        """Ids of the items of `records` that `hydrate` would ask the network for."""
        from listening.connectors.facebook_authors import lookup_ids

        return lookup_ids(records)

    def hydrate(
        self,
        channel: "Channel",
        records: list[Any],
        *,
        dry_run: bool = False,
        skip: Collection[str] = (),
    ) -> Hydration:
        """Look up the authors (and dates) saved Graph items lack, in place.

        Items without `from` or created_time are asked for with GET /?ids=…&fields=from,…
        (50 ids a request); `reads` counts the objects Graph returned. Ids Graph cannot
        complete (deleted, `from` not disclosed, no token, Graph unreachable) are in
        `unresolved` with the reason and stay held in the quarantine. With `dry_run` nothing
        is sent and the counts say what the look-up would cost at most. Ids in `skip` (posts
        already stored) are not asked for.
        """
        from listening.connectors.facebook_authors import LOOKUP_BATCH, look_up, lookup_ids

        wanted = [i for i in lookup_ids(records) if i not in skip]
        result = Hydration(records=records, wanted=len(wanted))
        if dry_run:
            result.requests, result.reads = -(-len(wanted) // LOOKUP_BATCH), len(wanted)
            return result
        if not wanted:
            return result
        try:
            graph = _graph(channel)
        except ConnectorError as exc:
            result.give_up(wanted, "Graph", exc)
            return result
        look_up(graph, records, result, skip)
        return result

    # ---- publish -----------------------------------------------------------------------

    def publish(self, reply: OutboundReply) -> str:
        """Post `reply`: a comment under the post/comment, or a private message. Returns its id.

        Private replies to a comment or visitor post use recipient.comment_id (Facebook's
        one private reply per comment); in a Messenger conversation, recipient.id (the PSID).
        Raises AmbiguousSend when the request may have reached Facebook.
        """
        if not reply.is_private and reply.target.is_private:
            raise PermanentError("A Messenger message cannot be answered in public.")
        from listening.connectors.facebook_sending import graph_publish

        return graph_publish(
            _graph(reply.channel),
            str(reply.channel.external_account_id),
            reply,
            network="Facebook",
            public_edge="comments",
            messaging_type="RESPONSE",
        )

    def set_hidden(self, post: ModeratedPost, *, hidden: bool) -> None:
        """Hide a customer's comment, or show it again (see listening.connectors.moderation)."""
        from listening.connectors.moderation import graph_set_hidden

        graph_set_hidden(post, hidden=hidden)

    def delete_post(self, post: ModeratedPost) -> bool:
        """Delete the page's own comment; False if Graph no longer has it."""
        from listening.connectors.moderation import graph_delete

        return graph_delete(post)

    def find_published(self, reply: OutboundReply) -> str | None:
        """The id of the page's item that is this reply, or None if Graph lists none yet.

        What identifies it: written by the page (`from`), where the reply was sent (public:
        a comment under the target post or comment; Messenger: the conversation's
        messages; private reply to a comment: the page's recently updated
        conversations), created after the reply's first attempt began (minus two minutes
        for clock skew), with the same text, and not one of the ids in `reply.taken` (items
        already recorded for other replies). Graph lists a new comment some seconds after
        accepting it: None is "not listed yet", never "not sent".
        """
        graph = _graph(reply.channel)
        page_id = str(reply.channel.external_account_id)
        target, taken = reply.target, reply.taken
        not_before = reply.started_at - FIND_PUBLISHED_SLACK
        wanted = _comparable(reply.text)

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

        from listening.connectors.facebook_sending import find_in_conversations

        return find_in_conversations(
            graph, page_id, target, platform="messenger", not_before=not_before, matches=matches
        )


# ---- reading -------------------------------------------------------------------------------


class _Batch(FetchBatch):
    """One fetch of a page; `own_id` is the page id (its own posts are skipped)."""

    def __init__(self, own_id: str) -> None:
        super().__init__(own_id=own_id)
        self.looked_up: set[str] = set()  # ids already asked of Graph in this fetch
        self.saw_author = False  # Graph named an author in this fetch: the token may read them

    def keep(self, result: InboundPost | Quarantined) -> None:
        if isinstance(result, InboundPost):
            self.saw_author = True
        super().keep(result)

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
            return AmbiguousSend(
                f"Facebook did not answer after the request was sent: {transport_reason(exc)}"
            )
        return TransientError(f"Facebook unreachable: {transport_reason(exc)}")
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
    author = _author(item.get("from"))
    if author is None:
        edge = "tagged" if kind == "tag" else "feed"
        return _held(item, post_id, {"id": "", edge: {"data": [item]}})
    return InboundPost(
        network=NETWORK,
        external_id=post_id,
        kind=kind,
        text=text,
        posted_at=posted_at,
        author=author,
        conversation_id=post_id,
        url=_url(item.get("permalink_url")),
        attachments=post_attachments(item),
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
    author = _author(item.get("from"))
    if author is None:
        return _held(item, comment_id, {"id": post_id, "comments": {"data": [item]}})
    return InboundPost(
        network=NETWORK,
        external_id=comment_id,
        kind="comment",
        text=text,
        posted_at=posted_at,
        author=author,
        conversation_id=conversation[:128],
        in_reply_to_id=(parent_id or conversation)[:MAX_ID],
        url=_url(item.get("permalink_url")),
        attachments=comment_attachments(item),
    )


def normalise_message(item: Any, *, conversation_id: str) -> InboundPost | Quarantined:
    """A Messenger message -> InboundPost (kind "dm", private) or Quarantined."""
    checked = _check(item)
    if isinstance(checked, Quarantined):
        return checked
    message_id, text, posted_at = checked
    author = _author(item.get("from"))
    if author is None:
        return _held(item, message_id, {"id": conversation_id, "messages": {"data": [item]}})
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
        attachments=message_attachments(item),
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
        # A photo posted without words (a screenshot) is a post all the same.
        if not (post_attachments(item) or comment_attachments(item) or message_attachments(item)):
            return Quarantined(reason="missing message", payload=item, external_id=item_id)
        text = ""
    posted_at = parse_graph_time(item.get("created_time"))
    if posted_at is None:
        reason = "unparseable created_time" if item.get("created_time") else "missing created_time"
        return Quarantined(reason=reason, payload=item, external_id=item_id)
    return item_id, text, posted_at


def _author(value: Any) -> Author | None:
    """The author from "from", or None when Graph left it out or sent no usable id.

    Graph omits `from` unless it is asked for and the token may read it, so an item
    without one may as well be the page's own post: it is never given a guessed author.
    """
    if not isinstance(value, dict):
        return None
    author_id = _str(value.get("id"))
    if not _GRAPH_ID.match(author_id) or len(author_id) > MAX_AUTHOR_ID:
        return None
    name = value.get("name")
    if author_id.startswith(UNDISCLOSED_PREFIX):
        return Author(external_id=author_id, name="Facebook user (name not disclosed)")
    return Author(
        external_id=author_id,
        name=name[:MAX_NAME] if isinstance(name, str) else "",
        profile_url=f"https://www.facebook.com/{author_id}",
    )


def _held(item: dict[str, Any], item_id: str, context: dict[str, Any]) -> Quarantined:
    """An item without a usable author, kept with its edge and parent (a field-expansion
    response, which `normalise_payload` reads) so that a look-up or a replay can finish it."""
    reason = NO_AUTHOR if "from" not in item else "author unknown: unusable `from`"
    return Quarantined(reason, context, item_id, needs_lookup=True)


def _is_bare_item(payload: dict[str, Any]) -> bool:
    """A single post, comment or message rather than a response (the quarantine keeps items)."""
    if "data" in payload or any(isinstance(payload.get(edge), dict) for edge in _EDGES):
        return False
    return "id" in payload and ("message" in payload or "created_time" in payload)


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


def _edge_from_paging(paging: Any, edges: Collection[str] = _EDGES) -> tuple[str | None, str]:
    """("comments", "<post id>") from a paging URL such as .../v23.0/<post>/comments?...,
    for an edge among `edges`."""
    if not isinstance(paging, dict):
        return None, ""
    for key in ("next", "previous"):
        url = paging.get(key)
        if not isinstance(url, str):
            continue
        parts = [p for p in urlparse(url).path.split("/") if p]
        if len(parts) >= 2 and parts[-1] in edges:
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
