"""Spikes: the hours in which a channel drew far more mentions than it usually does.

A channel's hourly mention count in the last 24 hours is held against its baseline, the
BASELINE_HOURS (7 days) before them, hours without mentions counting as 0. An hour is flagged
above mean + SPIKE_SD standard deviations, and only with at least SPIKE_MIN_MENTIONS mentions,
so one post on a silent channel is not an alarm. Without enough history (mentions in fewer than
SPIKE_MIN_HISTORY_HOURS of the baseline's hours: a new channel, or one that was silent all week)
there is no baseline to be far above, so nothing is flagged: a "0.0 ± 0.0" baseline says
nothing about what is normal.

Pure functions of the hourly counts: the caller reads them (the dashboard from qa.volume).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

SPIKE_SD = 3.0
SPIKE_MIN_MENTIONS = 5
SPIKE_MIN_HISTORY_HOURS = 12
BASELINE_HOURS = 7 * 24


def find_spikes(
    hourly: dict[datetime, int], current_hour: datetime
) -> tuple[list[tuple[datetime, int]], float, float, list[int]]:
    """(flagged hours of the last 24 with counts, baseline mean, baseline sd, last 24 counts).

    The baseline is the 168 hours before the last 24, hours without mentions counting as 0.
    """
    recent_start = current_hour - timedelta(hours=23)
    baseline_start = recent_start - timedelta(hours=BASELINE_HOURS)
    baseline = [hourly.get(baseline_start + timedelta(hours=i), 0) for i in range(BASELINE_HOURS)]
    mean = sum(baseline) / BASELINE_HOURS
    sd = math.sqrt(sum((c - mean) ** 2 for c in baseline) / BASELINE_HOURS)
    threshold = mean + SPIKE_SD * sd
    recent = [hourly.get(recent_start + timedelta(hours=i), 0) for i in range(24)]
    if sum(1 for count in baseline if count) < SPIKE_MIN_HISTORY_HOURS:
        return [], mean, sd, recent
    flagged = [
        (recent_start + timedelta(hours=i), c)
        for i, c in enumerate(recent)
        if c > threshold and c >= SPIKE_MIN_MENTIONS
    ]
    return flagged, mean, sd, recent


@dataclass
class Spike:
    channel_id: int
    name: str
    network: str
    hours: list[tuple[datetime, int]]  # flagged hours and their counts
    mean: float
    sd: float
    recent: list[int]  # the last 24 hourly counts, oldest first
    hours_start: datetime  # the hour of recent[0]

    @property
    def threshold(self) -> float:
        return self.mean + SPIKE_SD * self.sd

    @property
    def flagged_indexes(self) -> set[int]:
        return {int((h - self.hours_start).total_seconds() // 3600) for h, _ in self.hours}


def channel_spikes(
    hourly: dict[int, dict[datetime, int]],
    current_hour: datetime,
    channels: dict[int, tuple[str, str]],
) -> list[Spike]:
    """The channels with a flagged hour, the highest hour first.

    `hourly` maps a channel id to its mention count per hour (hours from current_hour - 23 -
    BASELINE_HOURS on); `channels` maps an id to its (name, network).
    """
    spikes = []
    for channel_id, counts in hourly.items():
        flagged, mean, sd, recent = find_spikes(counts, current_hour)
        if flagged:
            name, network = channels.get(channel_id, (f"#{channel_id}", ""))
            spikes.append(
                Spike(
                    channel_id,
                    name,
                    network,
                    flagged,
                    mean,
                    sd,
                    recent,
                    hours_start=current_hour - timedelta(hours=23),
                )
            )
    return sorted(spikes, key=lambda s: -max(c for _, c in s.hours))
