"""What every part of the health page is made of: a `Check`, and the page's wording of times,
durations and counts. The apps' health modules (listening.health) and socialdesk.health, which
composes the page, share these."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone


@dataclass(frozen=True, slots=True)
class Check:
    """One part of the system: fine or not, and what to tell the operator.

    `known` is False when the part could not be measured (shown as "unknown", not a problem).
    """

    ok: bool
    detail: str
    known: bool = True

    @property
    def level(self) -> str:
        """ "ok", "unknown" or "problem": the page's dot."""
        if not self.known:
            return "unknown"
        return "ok" if self.ok else "problem"

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, "known": self.known}


def format_duration(value: timedelta) -> str:
    """A short duration: "8 s", "9 min", "2 h 5 min", "3 d 4 h"."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def when(value: datetime | None) -> str:
    if value is None:
        return "an unknown time"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
