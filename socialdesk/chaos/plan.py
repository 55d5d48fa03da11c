"""What a fault run does and what it reports: the plan (faults, backlogs, sizes), the figures,
and which intake stream reads each kind of post the simulator publishes."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

X_ACCOUNT, FB_PAGE = "1000", "2000"
# Faults on sends, all queued at once (they do not touch polling).
SEND_FAULTS = [
    ("x", "503", 2, "/2/tweets"),
    ("x", "timeout", 1, "/2/tweets"),
    ("x", "accept_then_timeout", 2, "/2/tweets"),
    ("facebook", "accept_then_timeout", 1, "/comments"),
]
# Faults on reads, one at a time (see Harness.start_read_faults): (fault, path, options).
X_READ_FAULTS = [
    ("429", "/mentions", {"reset_in": 3}),
    ("malformed", "/mentions", {"variant": "bad_date", "index": 3}),
    ("503", "/mentions", {}),
    ("repeat_page", "/mentions", {}),
    ("timeout", "/mentions", {}),
    ("malformed", "/mentions", {"variant": "text_null", "index": 5}),
    ("500", "/mentions", {"html": True}),
    ("repeat_page", "/mentions", {}),
    ("malformed", "/mentions", {"variant": "missing_created_at", "index": 7}),
]
FACEBOOK_READ_FAULTS = [
    ("500", "/feed", {}),
    ("repeat_page", "/comments", {}),
    ("timeout", "/feed", {}),
    ("malformed", "/feed", {"variant": "bad_date", "index": 1}),
    ("503", "/comments", {}),
    ("429", "/feed", {"code": 32, "reset_in": 30}),
]
# Backlogs are published while the channel is not polled, then polled in one go: each one is
# larger than what one poll reads of that stream (20 pages of 100).
BACKLOG_PAST_CAP = 2_100


@dataclass
class Plan:
    posts: int
    replies: int
    backlogs: list[tuple[str, str, int]]  # (network, kind, count)
    visibility_lag: float = 10.0
    read_faults: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)
    ingest_burst: int = 1_200  # posts whose ingest is cut by pg_terminate_backend
    settle_timeout: float = 420.0
    freeze: bool = True

    @classmethod
    def for_size(cls, posts: int, replies: int) -> "Plan":
        """The full plan from 10,000 posts up; below, smaller Facebook backlogs and fewer
        read faults (a backlog past X's cap and every process fault stay)."""
        full = posts >= 10_000
        backlogs = [("x", "mention", BACKLOG_PAST_CAP)]
        if full:
            backlogs += [
                ("x", "dm", BACKLOG_PAST_CAP),
                ("facebook", "comment", BACKLOG_PAST_CAP),
                ("facebook", "visitor_post", 300),
            ]
        else:
            backlogs += [("facebook", "comment", 150), ("facebook", "visitor_post", 40)]
        return cls(
            posts=posts,
            replies=replies,
            backlogs=backlogs,
            read_faults={
                "x": X_READ_FAULTS if full else X_READ_FAULTS[:5],
                "facebook": FACEBOOK_READ_FAULTS if full else FACEBOOK_READ_FAULTS[:4],
            },
            ingest_burst=1_200 if full else 500,
        )


@dataclass
class Figures:
    lines: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, name: str, value: Any) -> None:
        self.lines[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.lines[name]

    def print(self, out: Callable[[str], None] = print) -> None:
        for name, value in self.lines.items():
            out(f"{name}: {value}")


# The desk's intake stream for each kind of item the simulator publishes.
_STREAMS = {
    ("x", "mention"): "mentions",
    ("x", "dm"): "dm",
    ("x", "search"): "rule:",
    ("facebook", "visitor"): "feed",
    ("facebook", "page"): "feed",
    ("facebook", "tagged"): "tagged",
    ("facebook", "comment"): "comments",
    ("facebook", "message"): "messenger",
}


def stream_of(network: str, kind: str) -> str:
    return _STREAMS.get((network, kind), f"{network}:{kind}")


def same_stream(stream: str | None, gap_stream: str) -> bool:
    """Whether a gap recorded on `gap_stream` covers posts read by `stream` (any rule's
    search covers a post found by search)."""
    if stream is None:
        return False
    return gap_stream.startswith(stream) if stream.endswith(":") else gap_stream == stream


def epoch(value: Any) -> float | None:
    """Unix seconds of an ISO time as a gap records it, or None."""
    try:
        return datetime.fromisoformat(str(value)).timestamp() if value else None
    except ValueError:
        return None
