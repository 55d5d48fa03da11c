"""What Meta's Instagram webhooks say, read into the desk's shapes (the push half of
`instagram`), for the `("instagram", field)` slots of `facebook_webhooks.READERS`.

A delivery is {"object": "instagram", "entry": [...]}; each entry's `id` is the IG user id
(the channel's account id) and `time` when Meta sent it. Per field (Instagram Webhooks and
Instagram Messaging webhooks references):

* `comments`: {"field": "comments", "value": {"id", "text", "from": {"id": IGSID,
  "username"}, "media": {"id", "media_product_type"}, "parent_id"?}}: a comment on the
  account's media, or a reply (`parent_id`). Meta sends no creation time: the entry's `time`
  stands for it. The comment goes through the poll's `normalise_comment` under
  `media.id`, so webhook and poll give it the same external id and thread.
* `mentions`: {"field": "mentions", "value": {"media_id", "comment_id"?}}: the account was
  @mentioned in a comment (`comment_id`) or in a caption (`media_id` alone) on someone else's
  media. The value carries no text: the mention is read with `fetch_mention` (Graph's
  mentioned_comment / mentioned_media expansions). No listing shows these, so a missed
  `mentions` webhook is not caught up by the poll.
* `messages` (Instagram Messaging; an entry's `messaging` list): {"sender": {"id": IGSID},
  "recipient": {"id": IG user id}, "timestamp" (ms), "message": {"mid", "text",
  "attachments"?: [{"type": "image", "payload": {"url"}}]}}. `is_echo`
  marks the account's own message (dropped, as the poll drops it); `is_deleted` a message
  its sender unsent (a "remove" source change); `message_edit` {"mid", "text"} an edit. A
  DM is threaded in the conversation Graph lists for the sender (`Lookups.conversation_of`,
  the poll's `msg:<conversation id>`), so one customer never has two threads; while Graph
  lists none for the sender, the DM is left to the poll.

Meta sends no webhook when an Instagram comment is edited or deleted; those are learned when
the desk next reads the comment.

This module imports nothing from `facebook_webhooks` at run time (that module imports it).
"""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from listening.connectors.instagram import _str, normalise_comment, normalise_message
from listening.posts import FetchBatch, Quarantined, SourceChange

if TYPE_CHECKING:
    from listening.connectors.facebook_webhooks import EntryReading, Lookups

_MILLISECONDS = 10**11


def read_comments(
    reading: "EntryReading",
    batch: FetchBatch,
    value: Any,
    at: datetime | None,
    lookups: "Lookups",
) -> None:
    """One `comments` change: a comment (or reply) on the account's media."""
    if not isinstance(value, dict) or not _str(value.get("id")):
        reading.ignored += 1
        return
    media = value.get("media") if isinstance(value.get("media"), dict) else {}
    media_id = _str(media.get("id"))
    item: dict[str, Any] = {
        "id": value.get("id"),
        "text": value.get("text"),
        "timestamp": _iso(at),
    }
    if "from" in value:
        item["from"] = value["from"]
    if _str(value.get("parent_id")):
        item["parent_id"] = value["parent_id"]
    batch.keep(normalise_comment(item, media_id=media_id))


def read_mentions(
    reading: "EntryReading",
    batch: FetchBatch,
    value: Any,
    at: datetime | None,
    lookups: "Lookups",
) -> None:
    """One `mentions` change: the comment or caption that @mentions the account, read
    from Graph by the ids the change names."""
    if not isinstance(value, dict) or lookups.mention is None:
        reading.ignored += 1
        return
    comment_id, media_id = _str(value.get("comment_id")), _str(value.get("media_id"))
    if not comment_id and not media_id:
        reading.ignored += 1
        return
    batch.keep(lookups.mention(comment_id, media_id))


def read_messages(
    reading: "EntryReading",
    batch: FetchBatch,
    event: Any,
    at: datetime | None,
    lookups: "Lookups",
) -> None:
    """One Instagram Messaging event: a customer's DM, its edit or its unsending."""
    if not isinstance(event, dict):
        reading.ignored += 1
        return
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    igsid = _str(sender.get("id"))
    when = _time(event.get("timestamp")) or at
    edit = event.get("message_edit")
    if isinstance(edit, dict) and _str(edit.get("mid")):
        text = edit.get("text") if isinstance(edit.get("text"), str) else ""
        reading.changes.append(SourceChange("edit", _str(edit.get("mid")), text, when))
        return
    message = event.get("message")
    if not isinstance(message, dict) or message.get("is_echo") or igsid == batch.own_id:
        reading.ignored += 1  # our own message, a reaction, a read receipt, a postback...
        return
    mid = _str(message.get("mid"))
    if message.get("is_deleted"):
        if mid:
            reading.changes.append(SourceChange("remove", mid, "", when))
        else:
            reading.ignored += 1
        return
    item: dict[str, Any] = {"id": mid, "message": message.get("text"), "created_time": _iso(when)}
    if isinstance(message.get("attachments"), list):
        item["attachments"] = message["attachments"]  # [{"type": "image", "payload": {"url"}}]
    conversation_id = ""
    if igsid:
        conversation_id, username = lookups.conversation_of(igsid)
        item["from"] = {"id": igsid, "username": username} if username else {"id": igsid}
        if not conversation_id and mid:
            # Graph does not list the conversation yet: threaded under the sender alone it
            # would open a second case beside the poll's. The poll reads it in its thread.
            reason = "Graph lists no conversation for the sender yet"
            batch.quarantined.append(Quarantined(reason, event, mid))
            return
    batch.keep(normalise_message(item, conversation_id=conversation_id))


def _time(timestamp: Any) -> datetime | None:
    """Instagram Messaging's `timestamp` (milliseconds, or seconds) as a datetime."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    seconds = timestamp / 1000 if timestamp > _MILLISECONDS else float(timestamp)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(when: datetime | None) -> str | None:
    """Graph's time format, which the poll's normalisers read."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000") if when else None
