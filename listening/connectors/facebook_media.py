"""The images of Facebook posts, comments and Messenger messages as Graph lists them (part
of the Facebook connector).

* A post asked for `attachments{media,media_type,type,url,subattachments}` lists
  `attachments.data[]`, each with `type` ("photo", "album", "video_inline",
  "animated_image_share"...) and `media.image` {src, width, height} (a video's still for
  videos); an album's photos are in `subattachments.data[]`, shaped the same.
* A comment asked for `attachment` carries one such object (no list, no subattachments).
* A Messenger message asked for `attachments` lists `attachments.data[]` with `mime_type`
  and `image_data` {url, preview_url, width, height, animated_gif_url} for images, or
  `video_data` {preview_url, width, height} for videos. The Send API and webhook shape,
  {"type": "image", "payload": {"url": ...}}, is read too (saved webhook events, imports).

Links shared in a post (type "share") carry the linked page's preview image, not the
customer's: they are left out, as are stickers.
"""

from typing import Any

from listening.connectors.attachments import attachment, kept
from listening.posts import Attachment

POST_ATTACHMENT_FIELDS = "attachments{media,media_type,type,url,subattachments}"
COMMENT_ATTACHMENT_FIELDS = "attachment"
MESSAGE_ATTACHMENT_FIELDS = "attachments"

_PHOTOS = frozenset({"photo", "cover_photo", "profile_media", "new_album"})
_GIFS = frozenset({"animated_image_share", "animated_image_video", "animated_image_autoplay"})


def post_attachments(item: dict[str, Any]) -> tuple[Attachment, ...]:
    """The images of a feed or tagged post (its attachments and an album's photos)."""
    found: list[Attachment | None] = []
    for entry in _data(item.get("attachments")):
        found.extend(_story_attachment(entry))
        for sub in _data(entry.get("subattachments")):
            found.extend(_story_attachment(sub))
    return kept(found)


def comment_attachments(item: dict[str, Any]) -> tuple[Attachment, ...]:
    """The image of a comment (Graph gives a comment at most one attachment)."""
    entry = item.get("attachment")
    return kept(_story_attachment(entry)) if isinstance(entry, dict) else ()


def message_attachments(item: dict[str, Any]) -> tuple[Attachment, ...]:
    """The images of a Messenger message (Conversations API or Send API/webhook shape)."""
    holder = item.get("attachments")
    entries = holder if isinstance(holder, list) else _data(holder)
    found: list[Attachment | None] = []
    for entry in entries:
        image, video = entry.get("image_data"), entry.get("video_data")
        payload = entry.get("payload")
        if isinstance(image, dict):
            gif = isinstance(image.get("animated_gif_url"), str)
            found.append(
                attachment(
                    "gif" if gif else "photo",
                    image.get("url") or image.get("preview_url"),
                    width=image.get("width"),
                    height=image.get("height"),
                )
            )
        elif isinstance(video, dict):
            found.append(
                attachment(
                    "video",
                    video.get("preview_url"),
                    width=video.get("width"),
                    height=video.get("height"),
                )
            )
        elif isinstance(payload, dict) and entry.get("type") == "image":
            found.append(attachment("photo", payload.get("url")))
    return kept(found)


def _story_attachment(entry: Any) -> list[Attachment | None]:
    if not isinstance(entry, dict):
        return []
    kind_name = entry.get("type") if isinstance(entry.get("type"), str) else ""
    if kind_name in _PHOTOS:
        kind = "photo"
    elif kind_name in _GIFS:
        kind = "gif"
    elif kind_name.startswith("video"):
        kind = "video"
    else:
        return []  # albums are read through their subattachments; shares, stickers left out
    media = entry.get("media")
    image = media.get("image") if isinstance(media, dict) else None
    if not isinstance(image, dict):
        return []
    return [
        attachment(kind, image.get("src"), width=image.get("width"), height=image.get("height"))
    ]


def _data(value: Any) -> list[dict[str, Any]]:
    items = value.get("data") if isinstance(value, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]
