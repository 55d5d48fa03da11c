"""What every part of the health page is made of: a `Check`, and the page's wording of times
and counts (durations are socialdesk.durations'). The apps' health modules (listening.health)
and socialdesk.health, which composes the page, share these."""

from dataclasses import dataclass
from datetime import datetime
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


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def when(value: datetime | None) -> str:
    if value is None:
        return "an unknown time"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
