"""How long, in the desk's words: "8 s", "9 min", "2 h 5 min", "30 h", "3 d 4 h".

One wording everywhere a duration is shown: the inbox's waiting times, the case page's clocks,
"replied 4 min ago" in the composer, the networks' reply windows in error messages, the wait
QA scores, channel health and the alerts. Templates use the `duration` and `since` filters
({% load desk %}); in the browser, SocialDesk.formatDuration in static/js/desk.js says the same.
"""

from __future__ import annotations

from datetime import timedelta


def format_duration(value: timedelta) -> str:
    """`value` in its two largest units, rounded down: seconds under a minute, then minutes,
    hours (up to 48, so a 24-hour window reads "24 h") and days; "0 s" for none or less."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
