"""The desk's template filters: {% load desk %}."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from listening import radar
from socialdesk.durations import format_duration

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """{{ case.waiting|duration }}: "2 h 5 min" (socialdesk.durations); "" for anything but a
    timedelta (None, a missing variable), as Django's own filters fail quietly."""
    return format_duration(value) if isinstance(value, timedelta) else ""


@register.filter
def since(value: datetime | None, now: datetime | None = None) -> str:
    """{{ reply.created_at|since }} ago: the time from `value` to `now` (default the present)
    in the same words; "" for anything but a datetime."""
    if not isinstance(value, datetime):
        return ""
    return format_duration((now if isinstance(now, datetime) else timezone.now()) - value)


@register.filter
def sentiment_badge(polarity: float | None) -> str:
    """{{ case.sentiment|sentiment_badge }}: the badge class of a polarity as listening.radar
    reads it: angry blocks, negative warns, anything else is muted."""
    if not isinstance(polarity, int | float):
        return "badge--muted"
    if radar.is_angry(polarity):
        return "badge--check-block"
    return "badge--check-warn" if radar.is_negative(polarity) else "badge--muted"
