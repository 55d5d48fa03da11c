"""What Meta's webhooks say, read into the desk's shapes (the push half of `facebook`).

A delivery is {"object": "page", "entry": [...]}; each entry names the account (`id`, the Page
id) and carries either `changes` (one {"field", "value"} per change: the Page's `feed`) or
`messaging` (Messenger events: {"sender", "recipient", "timestamp", "message": {"mid",
"text", "is_echo"?}}). Each Graph-shaped item is rebuilt from the webhook's fields and goes
through the poll's own normalisers (`normalise_post`, `normalise_comment`,
`normalise_message`), so a post that arrives by webhook and by poll gets the same external id,
conversation and author, and ingest stores it once:

* feed `item` status/post/photo/video, verb add: `value.post_id` ("<page id>_<post id>",
  the id the feed lists), a visitor post;
* feed `item` comment, verb add: `value.comment_id` (the id the comments edge lists),
  threaded under `value.post_id`, answering `value.parent_id` when that is another comment;
* Messenger message: `message.mid` (the id the conversation's messages list), in the
  conversation Graph lists for the sender (`conversation_of`, asked once per new sender).

The brand's own items (`from.id` or the sender is the Page, Messenger echoes) are dropped as
a poll drops them. The verbs edited, remove, hide and unhide, and Messenger's `message_edit`,
become `SourceChange`s. Likes, reactions, shares and read receipts are counted as ignored.

`READERS` maps (object, field) to the reader of that kind of entry; a None reader is a kind
the desk can store but not read yet. Instagram's fields (`comments`, `mentions`, `messages`)
are read by `instagram_webhooks`. A reader asks Graph only through its `Lookups`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from listening.connectors import instagram_webhooks
from listening.connectors.facebook import (
    CONVERSATION_FIELDS,
    _get,
    _graph,
    _str,
    normalise_comment,
    normalise_message,
    normalise_post,
    parse_graph_time,
)
from listening.posts import FetchBatch, InboundPost, Quarantined, SourceChange

if TYPE_CHECKING:
    from listening.models import Channel

# Feed items that are posts on the Page (Graph lists them on /feed as visitor posts).
POST_ITEMS = frozenset({"status", "post", "photo", "video"})
SOURCE_CHANGE_VERBS = {"edited": "edit", "remove": "remove", "hide": "hide", "unhide": "unhide"}
# Meta's object -> the desk's network of the channels its entries belong to.
NETWORKS = {"page": "facebook", "instagram": "instagram"}
# An entry time above this is in milliseconds (Messenger), below it in seconds (feed).
_MILLISECONDS = 10**11


@dataclass(slots=True)
class EntryReading:
    """What one entry (or one field of it) says for the account `account_id`."""

    account_id: str
    posts: list[InboundPost] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    changes: list[SourceChange] = field(default_factory=list)
    ignored: int = 0


# (psid) -> (conversation id, sender name): the conversation Graph lists for a Messenger user
# (or, on Instagram, the IGSID -> the conversation and the username).
ConversationFinder = Callable[[str], tuple[str, str]]
# (comment id, media id) -> the mention Graph reads for them (`InstagramConnector.fetch_mention`).
MentionFetcher = Callable[[str, str], "InboundPost | Quarantined"]


@dataclass(frozen=True, slots=True)
class Lookups:
    """What a reader may ask Graph while reading one entry (each raises ConnectorError when
    Graph cannot be asked: the event is then retried)."""

    conversation_of: ConversationFinder
    mention: MentionFetcher | None = None


Reader = Callable[[EntryReading, FetchBatch, Any, datetime | None, Lookups], None]


def entry_time(entry: Any) -> datetime | None:
    """An entry's `time` (seconds for feed changes, milliseconds for Messenger), or None."""
    value = entry.get("time") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value > _MILLISECONDS:
        value = value / 1000
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def entries(payload: Any) -> list[dict[str, Any]]:
    """The entries of a delivery that are objects (anything else is ignored)."""
    items = payload.get("entry") if isinstance(payload, dict) else None
    return [e for e in items or [] if isinstance(e, dict)] if isinstance(items, list) else []


def entry_fields(obj: str, entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) of every change of `entry`; Messenger events count as field "messaging"
    (Instagram's messages arrive the same way, as "messages")."""
    found: list[tuple[str, Any]] = []
    changes = entry.get("changes")
    if isinstance(changes, list):
        for change in changes:
            if isinstance(change, dict):
                found.append((_str(change.get("field")), change.get("value")))
    messaging = entry.get("messaging")
    if isinstance(messaging, list):
        name = "messages" if obj == "instagram" else "messaging"
        found.extend((name, event) for event in messaging)
    return found


def read_feed(
    reading: EntryReading,
    batch: FetchBatch,
    value: Any,
    at: datetime | None,
    lookups: Lookups,
) -> None:
    """One `feed` change: a post or comment added, or a change to one."""
    if not isinstance(value, dict):
        reading.ignored += 1
        return
    item, verb = _str(value.get("item")), _str(value.get("verb"))
    post_id, comment_id = _str(value.get("post_id")), _str(value.get("comment_id"))
    target = comment_id if item == "comment" else post_id if item in POST_ITEMS else ""
    if not target:
        reading.ignored += 1  # reactions, likes, shares, events, ratings...
        return
    if verb in SOURCE_CHANGE_VERBS:
        text = value.get("message") if verb == "edited" else ""
        when = parse_graph_time(value.get("created_time")) if verb == "edited" else None
        reading.changes.append(
            SourceChange(SOURCE_CHANGE_VERBS[verb], target, _text(text), at or when)
        )
        return
    if verb != "add":
        reading.ignored += 1
        return
    graph_item: dict[str, Any] = {
        "id": target,
        "message": value.get("message"),
        "created_time": value.get("created_time"),
    }
    if "from" in value:
        graph_item["from"] = value["from"]
    if item == "comment":
        parent_id = _str(value.get("parent_id"))
        if parent_id and parent_id != post_id:
            graph_item["parent"] = {"id": parent_id}
        batch.keep(normalise_comment(graph_item, post_id=post_id))
    else:
        batch.keep(normalise_post(graph_item, kind="visitor_post"))


def read_messaging(
    reading: EntryReading,
    batch: FetchBatch,
    event: Any,
    at: datetime | None,
    lookups: Lookups,
) -> None:
    """One Messenger event: a customer's message (echoes of the Page's own are dropped)."""
    if not isinstance(event, dict):
        reading.ignored += 1
        return
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    psid = _str(sender.get("id"))
    edit = event.get("message_edit")
    if isinstance(edit, dict) and _str(edit.get("mid")):
        when = parse_graph_time(_seconds(event.get("timestamp")))
        reading.changes.append(
            SourceChange("edit", _str(edit.get("mid")), _text(edit.get("text")), when or at)
        )
        return
    message = event.get("message")
    if not isinstance(message, dict) or message.get("is_echo") or psid == batch.own_id:
        reading.ignored += 1  # our own message, a delivery or read receipt, a postback...
        return
    item: dict[str, Any] = {
        "id": message.get("mid"),
        "message": message.get("text"),
        "created_time": _seconds(event.get("timestamp")),
    }
    conversation_id, name = ("", "")
    if psid:
        conversation_id, name = lookups.conversation_of(psid)
        item["from"] = {"id": psid, "name": name} if name else {"id": psid}
    batch.keep(normalise_message(item, conversation_id=conversation_id))


READERS: dict[tuple[str, str], Reader | None] = {
    ("page", "feed"): read_feed,
    ("page", "messaging"): read_messaging,
    ("instagram", "comments"): instagram_webhooks.read_comments,
    ("instagram", "mentions"): instagram_webhooks.read_mentions,
    ("instagram", "messages"): instagram_webhooks.read_messages,
}


def read_entry(obj: str, entry: dict[str, Any], lookups: Lookups) -> tuple[EntryReading, int]:
    """Everything `entry` says for its account, and how many of its changes no reader
    takes (fields not subscribed to, or objects the desk cannot read yet)."""
    account_id = _str(entry.get("id"))
    reading = EntryReading(account_id)
    batch = FetchBatch(own_id=account_id)
    at = entry_time(entry)
    unread = 0
    for name, value in entry_fields(obj, entry):
        reader = READERS.get((obj, name))
        if reader is None:
            unread += 1
            continue
        reader(reading, batch, value, at, lookups)
    reading.posts, reading.quarantined = batch.posts, batch.quarantined
    return reading, unread


def conversation_of(channel: "Channel", psid: str) -> tuple[str, str]:
    """The conversation Graph lists for the person `psid`, and their name (on Instagram their
    username; `psid` is then their IGSID).

    GET /{page}/conversations?platform=messenger|instagram&user_id=…: the id the poll threads
    that person's messages under (an Instagram channel asks its linked Page). ("", "") when
    Graph lists none. Raises a ConnectorError when Graph cannot be asked (the event is then
    retried).
    """
    graph = _graph(channel)
    instagram = channel.network == "instagram"
    page_id = str(
        (channel.credentials or {}).get("page_id") if instagram else channel.external_account_id
    )
    answer = _get(
        graph,
        f"{page_id}/conversations",
        {
            "platform": "instagram" if instagram else "messenger",
            "user_id": psid,
            "fields": f"{CONVERSATION_FIELDS},participants",
        },
    )
    channel.count_api_use(reads=1)
    data = answer.get("data") if isinstance(answer.get("data"), list) else []
    for conversation in data:
        if not isinstance(conversation, dict) or not _str(conversation.get("id")):
            continue
        participants = conversation.get("participants")
        people = participants.get("data") if isinstance(participants, dict) else None
        name = ""
        for person in people if isinstance(people, list) else []:
            if isinstance(person, dict) and _str(person.get("id")) == psid:
                name = _str(person.get("username" if instagram else "name"))
        return _str(conversation.get("id")), name
    return "", ""


def _seconds(timestamp: Any) -> float | None:
    """Messenger's `timestamp` (milliseconds) as unix seconds."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    return timestamp / 1000 if timestamp > _MILLISECONDS else float(timestamp)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
