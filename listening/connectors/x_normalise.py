"""X API v2 answers read into the desk's plain values: a tweet or a DM event becomes an
`InboundPost`, or a `Quarantined` item with the reason it cannot be kept. Everything here treats
X's JSON as hostile: wrong types, missing fields and oversized values are refused or cut to the
columns they go into, never passed on."""

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from listening.connectors import x_media
from listening.posts import Author, InboundPost, Quarantined

NETWORK = "x"

# Column sizes of Mention / Identity: longer values from a hostile network would break ingest.
MAX_ID = 255  # Mention.external_id
MAX_HANDLE = 100
MAX_NAME = 200
MAX_LANG = 16

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# Ids go into URL paths (replies, DMs): only the characters X ids are made of.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def normalise_tweet(
    item: Any,
    users: dict[str, dict[str, Any]],
    kind_hint: str | None = None,
    media: dict[str, dict[str, Any]] | None = None,
) -> InboundPost | Quarantined:
    """One v2 tweet object -> InboundPost, or Quarantined with the reason it cannot be kept.

    `media` is the page's includes.media by media_key (`x_media.media_by_key`)."""
    checked = _id_and_text(item, "tweet")
    if isinstance(checked, Quarantined):
        return checked
    tweet_id, text = checked
    author_id = _str_or_none(item.get("author_id"))
    if not author_id:
        # A response saved with the default fields: `hydrate` can ask X for the rest.
        return Quarantined("missing author_id", item, tweet_id, needs_lookup=True)
    if not _SAFE_ID.match(author_id):
        return Quarantined(reason="invalid author_id", payload=item, external_id=tweet_id)
    posted_at = parse_x_time(item.get("created_at"))
    if posted_at is None:
        missing = not item.get("created_at")
        return Quarantined(_time_reason(item), item, tweet_id, needs_lookup=missing)

    replied_to = _replied_to(item)
    if kind_hint:
        kind = kind_hint
    elif replied_to:
        kind = "reply"
    elif _referenced(item, "quoted"):
        kind = "quote"
    else:
        kind = "mention"
    author = _author(author_id, users.get(author_id))
    conversation = _str_or_none(item.get("conversation_id")) or tweet_id
    return InboundPost(
        network=NETWORK,
        external_id=tweet_id,
        kind=kind,
        text=_text(text),
        posted_at=posted_at,
        author=author,
        conversation_id=conversation[:128],
        in_reply_to_id=(replied_to or "")[:MAX_ID],
        lang=_short(item.get("lang"), MAX_LANG),
        url=_tweet_url(author.handle, tweet_id),
        metrics=_metrics(item.get("public_metrics")),
        attachments=x_media.attachments_of(item, media or {}),
        edit_of=_edit_of(item, tweet_id),
    )


def _edit_of(item: dict[str, Any], tweet_id: str) -> tuple[str, ...]:
    """The ids of the earlier versions of an edited tweet, oldest first; () for an original.

    X gives every edit a new id; `edit_history_tweet_ids` (a default field) chains the
    versions, oldest first, ending with this one."""
    history = item.get("edit_history_tweet_ids")
    if not isinstance(history, list):
        return ()
    ids = (_str_or_none(i) for i in history)
    return tuple(i for i in ids if i and i != tweet_id and _SAFE_ID.match(i))


def normalise_dm(
    item: Any, users: dict[str, dict[str, Any]], media: dict[str, dict[str, Any]] | None = None
) -> InboundPost | Quarantined:
    """One v2 MessageCreate DM event -> InboundPost (kind "dm", private) or Quarantined."""
    checked = _id_and_text(item, "DM event")
    if isinstance(checked, Quarantined):
        return checked
    event_id, text = checked
    sender_id = _str_or_none(item.get("sender_id"))
    if not sender_id:
        return Quarantined(reason="missing sender_id", payload=item, external_id=event_id)
    if not _SAFE_ID.match(sender_id):
        return Quarantined(reason="invalid sender_id", payload=item, external_id=event_id)
    posted_at = parse_x_time(item.get("created_at"))
    if posted_at is None:
        return Quarantined(reason=_time_reason(item), payload=item, external_id=event_id)
    # One-to-one conversation ids are "<smaller id>-<larger id>"; fall back to the sender.
    conversation = _str_or_none(item.get("dm_conversation_id")) or sender_id
    return InboundPost(
        network=NETWORK,
        external_id=event_id,
        kind="dm",
        text=_text(text),
        posted_at=posted_at,
        author=_author(sender_id, users.get(sender_id)),
        conversation_id=("dm:" + conversation)[:128],
        is_private=True,
        attachments=x_media.attachments_of(item, media or {}),
    )


def _id_and_text(item: Any, what: str) -> tuple[str, str] | Quarantined:
    """A tweet's or DM event's id and raw text, or Quarantined with why it cannot be kept."""
    if not isinstance(item, dict):
        return Quarantined(reason=f"{what} is not a JSON object", payload=item)
    item_id = _str_or_none(item.get("id"))
    if not item_id:
        return Quarantined(reason="missing id", payload=item)
    if not _SAFE_ID.match(item_id):
        return Quarantined(reason="invalid id", payload=item, external_id=item_id[:MAX_ID])
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        return Quarantined(reason="empty text", payload=item, external_id=item_id)
    return item_id, text


def _is_bare_item(payload: dict[str, Any]) -> bool:
    """A single tweet or DM event rather than a response (the quarantine keeps items)."""
    return "data" not in payload and "id" in payload and ("text" in payload)


def parse_x_time(value: Any) -> datetime | None:
    """An aware UTC datetime from X's "2026-11-23T10:15:00.000Z", or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # v2 always says Z; a bare time is UTC too
    return parsed.astimezone(UTC)


def _time_reason(item: dict[str, Any]) -> str:
    return "unparseable created_at" if item.get("created_at") else "missing created_at"


def _text(value: Any) -> str:
    """X v2 HTML-escapes &, < and > in text: undo exactly those three (templates re-escape)."""
    if not isinstance(value, str):
        return ""
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _author(author_id: str, user: dict[str, Any] | None) -> Author:
    """The author from includes.users; a deleted or suspended one keeps just the id."""
    if not isinstance(user, dict):
        return Author(external_id=author_id)
    username = _short(user.get("username"), MAX_HANDLE)
    metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
    return Author(
        external_id=author_id,
        handle=username,
        name=_short(user.get("name"), MAX_NAME),
        followers=_count(metrics.get("followers_count")),
        verified=user.get("verified") is True,
        profile_url=f"https://x.com/{username}" if _USERNAME.match(username) else "",
    )


def _users_by_id(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    includes = page.get("includes")
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {str(u["id"]): u for u in users if isinstance(u, dict) and u.get("id") is not None}


def _tweet_url(username: str, tweet_id: str) -> str:
    safe_id = quote(tweet_id, safe="")
    if _USERNAME.match(username):
        return f"https://x.com/{username}/status/{safe_id}"
    return f"https://x.com/i/web/status/{safe_id}"


def _metrics(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    names = {
        "like_count": "likes",
        "retweet_count": "reposts",
        "reply_count": "replies",
        "quote_count": "quotes",
    }
    return {ours: _count(value.get(theirs)) for theirs, ours in names.items() if theirs in value}


def _referenced(item: dict[str, Any], kind: str) -> str | None:
    refs = item.get("referenced_tweets")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("type") == kind and ref.get("id") is not None:
            return str(ref["id"])
    return None


def _replied_to(item: dict[str, Any]) -> str | None:
    return _referenced(item, "replied_to")


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _short(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
