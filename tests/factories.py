"""Small builders for network-neutral posts, used by ingest, radar and benchmark tests."""

from datetime import UTC, datetime, timedelta

from listening.posts import Author, InboundPost

BASE_TIME = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def author(n: int = 1, **fields) -> Author:
    defaults = {
        "external_id": f"u{n}",
        "handle": f"customer{n}",
        "name": f"Customer {n}",
        "followers": 120,
    }
    defaults.update(fields)
    return Author(**defaults)


def post(
    n: int, *, by: Author | None = None, conversation: str | None = None, **fields
) -> InboundPost:
    defaults = {
        "network": "x",
        "external_id": str(10_000 + n),
        "kind": "mention",
        "text": f"@acme_support question number {n}?",
        "posted_at": BASE_TIME + timedelta(minutes=n),
        "author": by or author(n),
        "conversation_id": conversation or str(10_000 + n),
        "lang": "en",
    }
    defaults.update(fields)
    return InboundPost(**defaults)
