"""Saved X responses completed by a tweet look-up (the import half of the X connector):
which saved tweets lack their author or date, and how X's answer is merged back in."""

from typing import Any

from listening.connectors.x_media import media_by_key
from listening.connectors.x_normalise import _SAFE_ID, _is_bare_item, _str_or_none, _users_by_id


def _is_dm_page(items: list[Any]) -> bool:
    return any(
        isinstance(i, dict) and ("event_type" in i or "dm_conversation_id" in i) for i in items
    )


def tweets_of(record: Any) -> list[dict[str, Any]]:
    """The tweet objects of a saved response or single item (DM events have no look-up)."""
    if not isinstance(record, dict):
        return []
    if _is_bare_item(record):
        items: Any = [record]
    else:
        items = record.get("data")
        items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or _is_dm_page(items):
        return []
    return [i for i in items if isinstance(i, dict)]


def lookup_ids(records: list[Any]) -> list[str]:
    """Ids of the saved tweets that lack what a post needs (author, date), each once."""
    wanted: dict[str, None] = {}
    for record in records:
        for item in tweets_of(record):
            tweet_id = _str_or_none(item.get("id"))
            if not tweet_id or not _SAFE_ID.match(tweet_id):
                continue
            if not _str_or_none(item.get("author_id")) or not item.get("created_at"):
                wanted[tweet_id] = None
    return list(wanted)


def merge_lookup(
    record: Any,
    found: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]],
    media: dict[str, dict[str, Any]],
) -> Any:
    """`record` with its looked-up tweets completed, their authors in includes.users and
    their images in includes.media."""
    tweets = tweets_of(record)
    hits = [t for t in tweets if str(t.get("id")) in found]
    if not hits:
        return record
    for tweet in hits:
        tweet.update(found[str(tweet["id"])])
    if _is_bare_item(record):
        record = {"data": [record]}
    includes = record.get("includes") if isinstance(record.get("includes"), dict) else {}
    known = _users_by_id(record)
    for tweet in hits:
        author_id = str(tweet.get("author_id"))
        if author_id in users and author_id not in known:
            known[author_id] = users[author_id]
    images = media_by_key(record)
    for tweet in hits:
        holder = tweet.get("attachments")
        keys = holder.get("media_keys") if isinstance(holder, dict) else None
        for key in keys if isinstance(keys, list) else []:
            if isinstance(key, str) and key in media:
                images.setdefault(key, media[key])
    record["includes"] = {**includes, "users": list(known.values())}
    if images:
        record["includes"]["media"] = list(images.values())
    return record
