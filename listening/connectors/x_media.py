"""The images of X posts and DMs as X API v2 lists them (part of the X connector).

A tweet or DM event names its media in `attachments.media_keys`; the media objects come in
the response's `includes.media` when asked for with `expansions=attachments.media_keys`, and
carry `url` (photos), `preview_image_url` (videos and GIFs: a still image), `width`,
`height` and `alt_text` only when asked for in `media.fields`. DM images live on
ton.twitter.com, which serves them only to a signed request: the fetch records the refusal.
"""

from typing import Any

from listening.connectors.attachments import attachment, kept
from listening.posts import Attachment

MEDIA_FIELDS = ["url", "preview_image_url", "type", "width", "height", "alt_text"]
_KINDS = {"photo": "photo", "animated_gif": "gif", "video": "video"}


def media_by_key(page: Any) -> dict[str, dict[str, Any]]:
    """A response's includes.media by media_key."""
    includes = page.get("includes") if isinstance(page, dict) else None
    media = includes.get("media") if isinstance(includes, dict) else None
    if not isinstance(media, list):
        return {}
    return {
        str(m["media_key"]): m
        for m in media
        if isinstance(m, dict) and isinstance(m.get("media_key"), str | int)
    }


def attachments_of(
    item: dict[str, Any], media: dict[str, dict[str, Any]]
) -> tuple[Attachment, ...]:
    """The images of one tweet or DM event: a photo's own URL, a video's or GIF's still.

    A key missing from includes.media (media deleted, or not expanded) is left out.
    """
    holder = item.get("attachments")
    keys = holder.get("media_keys") if isinstance(holder, dict) else None
    if not isinstance(keys, list):
        return ()
    found = []
    for key in keys:
        entry = media.get(str(key)) if isinstance(key, str | int) else None
        if not isinstance(entry, dict):
            continue
        kind = _KINDS.get(entry.get("type"))  # type: ignore[arg-type]
        if kind is None:
            continue
        url = entry.get("url") if kind == "photo" else entry.get("preview_image_url")
        found.append(
            attachment(
                kind,
                url,
                alt_text=entry.get("alt_text"),
                width=entry.get("width"),
                height=entry.get("height"),
            )
        )
    return kept(found)
