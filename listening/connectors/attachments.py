"""What every connector does with the images a network lists on a post: keep the usable ones
as plain `Attachment` values, whatever the network's JSON shape (which only the connector
knows). The URL is not checked against the CDN allow-list here: the fetch does that, and
records why it refused, so an agent sees that an image existed."""

from typing import Any

from listening.posts import Attachment

# More than any network allows on one post (X 4, a Facebook album shows 10 or so): a hostile
# item listing thousands must not cost thousands of fetches.
MAX_ATTACHMENTS = 10
MAX_URL = 2000  # cases.MentionMedia.source_url
MAX_ALT_TEXT = 1000  # X allows 1,000 characters of alt text
KINDS = frozenset({"photo", "gif", "video"})


def attachment(
    kind: str, url: Any, *, alt_text: Any = "", width: Any = 0, height: Any = 0
) -> Attachment | None:
    """An Attachment, or None when `url` is not a URL at all (absent, not text, too long).

    A URL the fetch would refuse (http://, another host) is kept: the refusal and its reason
    are shown on the post rather than the image silently dropped.
    """
    if kind not in KINDS or not isinstance(url, str):
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > MAX_URL:
        return None
    return Attachment(
        kind=kind,
        url=url,
        alt_text=alt_text.strip()[:MAX_ALT_TEXT] if isinstance(alt_text, str) else "",
        width=_size(width),
        height=_size(height),
    )


def kept(items: list[Attachment | None]) -> tuple[Attachment, ...]:
    """The usable attachments, each URL once, at most MAX_ATTACHMENTS."""
    seen: set[str] = set()
    result = []
    for item in items:
        if item is not None and item.url not in seen:
            seen.add(item.url)
            result.append(item)
    return tuple(result[:MAX_ATTACHMENTS])


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, min(int(value), 100_000))
