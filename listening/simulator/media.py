"""Images on simulated X and Facebook posts, and the "CDN" that serves them.

One customer tweet in four carries a photo, as a real one does: `attachments.media_keys` on
the tweet only when tweet.fields asks for `attachments`, the media object in
`includes.media` only with `expansions=attachments.media_keys`, and its `url`, `width`,
`height` and `alt_text` only when media.fields asks for them (type and media_key are its
default fields). The image itself is a small PNG drawn for the tweet, served at
/cdn/x/<tweet id>.png on the simulator's own address, which the desk accepts only when it is
its SIMULATOR_URL (tests and demo).

On Facebook one customer post, comment or message in four carries a photo, listed only when
the request's fields name it: a post's `attachments` and a comment's `attachment` ({media:
{image: {src, width, height}}, type: "photo", url}), a message's `attachments` (image_data
{url, preview_url, width, height}), served at /cdn/fb/<item id>.png. Instagram DMs follow
the same rule and shape (and the webhook's [{"type": "image", "payload": {"url"}}]); every
Instagram media is a photo, its `media_url` (with `media_type` IMAGE) at /cdn/ig/<id>.png.
"""

import re
import struct
import zlib
from typing import Any

CDN_PREFIX = "/cdn/x/"
FB_CDN_PREFIX = "/cdn/fb/"
IG_CDN_PREFIX = "/cdn/ig/"
_FB_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
WIDTH, HEIGHT = 320, 200
ALT_TEXTS = (
    "Screenshot of the checkout page: an error banner reads \u201cPayment failed (code 51)\u201d",
    "Photo of a parcel with a crushed corner",
    "Screenshot of the app's order list, the last order marked \u201cstuck\u201d",
    "",  # not every customer describes their images
)
_PALETTE = ((31, 95, 191), (161, 27, 27), (29, 107, 54), (138, 67, 0))


def has_image(tweet_id: int) -> bool:
    return tweet_id % 4 == 1


def media_key(tweet_id: int) -> str:
    return f"3_{tweet_id}"


def media_json(tweet_id: int, base_url: str, fields: set[str]) -> dict[str, Any]:
    """The media object of a tweet's photo, with the fields asked for."""
    item: dict[str, Any] = {"media_key": media_key(tweet_id), "type": "photo"}
    if "url" in fields:
        item["url"] = f"{base_url}{CDN_PREFIX}{tweet_id}.png"
    if "width" in fields:
        item["width"] = WIDTH
    if "height" in fields:
        item["height"] = HEIGHT
    alt = ALT_TEXTS[tweet_id // 4 % len(ALT_TEXTS)]
    if "alt_text" in fields and alt:
        item["alt_text"] = alt
    return item


def include(
    includes: dict[str, Any], tweet_ids: list[int], params: dict[str, str], base: str
) -> None:
    """Add the photos of `tweet_ids` to a response's includes (expansions asked for them)."""
    fields = {f.strip() for f in params.get("media.fields", "").split(",") if f.strip()}
    media = [media_json(i, base, fields) for i in tweet_ids if has_image(i)]
    if media:
        includes["media"] = media


def fb_has_image(item_id: str) -> bool:
    return bool(_FB_ID.match(item_id)) and zlib.crc32(item_id.encode()) % 4 == 1


def add_fb_image(
    item: dict[str, Any], kind: str, item_id: str, fields: set[str], base: str
) -> None:
    """Put the photo of Graph item `item_id` on its JSON `item` ("post", "comment" or
    "message"), when it has one and the request's fields ask for it."""
    if not fb_has_image(item_id):
        return
    url = f"{base}{FB_CDN_PREFIX}{item_id}.png"
    image = {"height": HEIGHT, "src": url, "width": WIDTH}
    story = {
        "media": {"image": image},
        "type": "photo",
        "url": f"https://www.facebook.com/photo.php?fbid={zlib.crc32(item_id.encode())}",
    }
    if kind == "post" and "attachments" in fields:
        item["attachments"] = {"data": [story]}
    elif kind == "comment" and "attachment" in fields:
        item["attachment"] = story
    elif kind == "message" and "attachments" in fields:
        data = {"width": WIDTH, "height": HEIGHT, "url": url, "preview_url": url, "image_type": 1}
        item["attachments"] = {
            "data": [
                {
                    "id": str(zlib.crc32(item_id.encode())),
                    "mime_type": "image/png",
                    "name": f"image-{zlib.crc32(item_id.encode())}.png",
                    "size": len(png(zlib.crc32(item_id.encode()))),
                    "image_data": data,
                }
            ]
        }


def ig_media_url(media_id: str, base: str) -> str:
    """Every Instagram media is a photo here: its image at /cdn/ig/<media id>.png."""
    return f"{base}{IG_CDN_PREFIX}{media_id}.png"


def ig_message_image(message_id: str, base: str) -> str | None:
    """The image one Instagram DM in four carries (served as a Facebook item's)."""
    return f"{base}{FB_CDN_PREFIX}{message_id}.png" if fb_has_image(message_id) else None


def image_for(path: str) -> bytes | None:
    """The PNG at a CDN path, or None for a path that names no image."""
    if path.startswith(IG_CDN_PREFIX):
        stem = path.removeprefix(IG_CDN_PREFIX).removesuffix(".png")
        if not path.endswith(".png") or not stem.isdigit() or len(stem) > 30:
            return None
        return png(zlib.crc32(stem.encode()))
    if path.startswith(FB_CDN_PREFIX):
        item_id = path.removeprefix(FB_CDN_PREFIX).removesuffix(".png")
        if not path.endswith(".png") or not fb_has_image(item_id):
            return None
        return png(zlib.crc32(item_id.encode()))
    name = path.removeprefix(CDN_PREFIX)
    stem = name.removesuffix(".png")
    if not path.startswith(CDN_PREFIX) or not name.endswith(".png") or not stem.isdigit():
        return None
    if not has_image(int(stem)):
        return None
    return png(int(stem))


def png(seed: int) -> bytes:
    """A WIDTHxHEIGHT PNG: a coloured header bar over light grey "text" lines, like a
    screenshot of an app."""
    colour = _PALETTE[seed // 4 % len(_PALETTE)]
    light, line = (244, 246, 249), (205, 212, 221)
    rows = []
    for y in range(HEIGHT):
        if y < 36:
            pixel_row = bytes(colour) * WIDTH
        elif y % 22 in range(10, 16) and y < HEIGHT - 20:
            length = WIDTH - 40 - (y * 37 + seed) % 120
            pixel_row = (
                bytes(light) * 20 + bytes(line) * length + bytes(light) * (WIDTH - 20 - length)
            )
        else:
            pixel_row = bytes(light) * WIDTH
        rows.append(b"\x00" + pixel_row)
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
