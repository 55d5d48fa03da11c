"""Spikes (listening.spikes): an hour far above the channel's 7-day hourly baseline."""

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from listening.spikes import BASELINE_HOURS, SPIKE_MIN_HISTORY_HOURS, find_spikes


def test_spike_is_an_hour_above_mean_plus_three_sd():
    now_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now_hour - timedelta(hours=23)
    hourly = {}
    # baseline: 2 mentions every hour, 6 every sixth hour -> mean 2.667, sd 1.491
    for i in range(1, BASELINE_HOURS + 1):
        hourly[start - timedelta(hours=i)] = 6 if i % 6 == 0 else 2
    hourly[start + timedelta(hours=5)] = 7  # under 2.667 + 3 * 1.491 = 7.14
    hourly[start + timedelta(hours=9)] = 8  # over
    flagged, mean, sd, recent = find_spikes(hourly, now_hour)
    assert mean == pytest.approx(16 / 6)
    assert sd == pytest.approx(math.sqrt((5 * (2 - 16 / 6) ** 2 + (6 - 16 / 6) ** 2) / 6))
    assert flagged == [(start + timedelta(hours=9), 8)]
    assert recent[9] == 8 and len(recent) == 24


def test_one_post_on_a_silent_channel_is_no_spike():
    now_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    flagged, mean, sd, _ = find_spikes({now_hour: 3}, now_hour)
    assert (mean, sd) == (0, 0)
    assert flagged == []  # above 0 + 3*0, but under the minimum of 5


def test_no_spike_without_enough_history():
    """A new channel (or one silent all week) has no baseline to be far above."""
    now_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now_hour - timedelta(hours=23)
    burst = {now_hour: 40}
    assert find_spikes(burst, now_hour)[0] == []

    # A quiet but watched channel: one mention in each of 12 baseline hours is history enough.
    quiet = {start - timedelta(hours=10 * i): 1 for i in range(1, SPIKE_MIN_HISTORY_HOURS + 1)}
    assert find_spikes({**quiet, now_hour: 40}, now_hour)[0] == [(now_hour, 40)]
    one_hour_short = dict(list(quiet.items())[1:])
    assert find_spikes({**one_hour_short, now_hour: 40}, now_hour)[0] == []
