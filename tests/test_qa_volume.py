"""The dashboard's mention counts (qa.volume): the same volume and spikes as counting the
mentions themselves, whatever has been counted, deleted or emptied since."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from listening import radar
from listening.models import Mention, Network
from qa import dashboard as dash
from qa import service, tasks
from qa.models import MentionVolume, MentionVolumeMark
from qa.volume import SETTLE, count_new_mentions
from tests.conftest import logged_in, make_channel
from tests.factories import add_mention, make_case

NOW = datetime(2026, 3, 12, 15, 40, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=1)  # received well before SETTLE


@pytest.fixture(autouse=True)
def _no_dashboard_cache(monkeypatch):
    monkeypatch.setattr(service, "SERVICE_CACHE_SECONDS", 0)


@pytest.fixture
def cases(db):
    """A case on each of two channels (their first mentions were received just now)."""
    return make_case(make_channel(Network.X)), make_case(make_channel(Network.FACEBOOK))


def post(case, posted_at, sentiment=0.0, received_at=LONG_AGO) -> Mention:
    return add_mention(
        case, "text", posted_at=posted_at, sentiment=sentiment, received_at=received_at
    )


def figures(user):
    """What the dashboard shows of the mentions: volume per channel and day, and spikes."""
    d = dash.build(user, 4, NOW)
    return d.volume, [(s.channel_id, s.hours, s.mean, s.sd, s.recent) for s in d.spikes]


def month_of_mentions(cases):
    """Mentions over four weeks on both channels, every sentiment, and a storm two hours ago
    on the first channel over a baseline of one mention an hour."""
    hour = NOW.replace(minute=0)
    for i, sentiment in enumerate([-0.6, -0.05, 0.0, 0.04, 0.05, 0.9] * 6):
        post(cases[i % 2], NOW - timedelta(days=i % 27, minutes=7 * i), sentiment)
    for i in range(24):
        post(cases[0], hour - timedelta(days=3, hours=i, minutes=-5))
    for minute in range(0, 48, 8):
        post(cases[0], hour - timedelta(hours=2) + timedelta(minutes=minute), -0.3)


def test_counted_mentions_show_as_the_mentions_themselves(cases, admin):
    month_of_mentions(cases)
    before = figures(admin)
    assert before[1], "the storm is a spike"
    count_new_mentions(NOW)
    assert MentionVolume.objects.exists()
    assert figures(admin) == before


def test_counts_per_quarter_hour_and_sentiment(cases):
    x = cases[0]
    post(x, datetime(2026, 3, 10, 9, 0, tzinfo=UTC), -0.06)
    post(x, datetime(2026, 3, 10, 9, 14, 59, tzinfo=UTC), 0.0)
    post(x, datetime(2026, 3, 10, 9, 15, tzinfo=UTC), 0.06)
    count_new_mentions(NOW)
    rows = MentionVolume.objects.filter(channel=x.channel, quarter__lt=NOW).order_by("quarter")
    assert [(r.quarter, r.negative, r.neutral, r.positive) for r in rows] == [
        (datetime(2026, 3, 10, 9, 0, tzinfo=UTC), 1, 1, 0),
        (datetime(2026, 3, 10, 9, 15, tzinfo=UTC), 0, 0, 1),
    ]


@pytest.mark.parametrize(
    ("sentiment", "label", "counts"),
    [
        (-0.0501, "Negative", (1, 0, 0)),
        (-0.05, "Neutral", (0, 1, 0)),  # the bounds themselves are neutral
        (0.05, "Neutral", (0, 1, 0)),
        (0.0501, "Positive", (0, 0, 1)),
    ],
)
def test_the_sentiment_bounds_read_alike_on_the_volume_chart_and_the_case_page(
    cases, admin, sentiment, label, counts
):
    x = cases[1]
    Case.objects.filter(pk=x.pk).update(sentiment=sentiment)
    posted_at = NOW - timedelta(hours=1)
    day = timezone.localdate(posted_at)

    def added_on_the_day(before=(0, 0, 0)):
        now = figures(admin)[0].get(x.channel_id, {}).get(day, (0, 0, 0))
        return tuple(a - b for a, b in zip(now, before, strict=True))

    before = added_on_the_day()
    post(x, posted_at, sentiment)
    assert added_on_the_day(before) == counts  # from the mentions themselves
    count_new_mentions(NOW)
    assert MentionVolume.objects.filter(channel=x.channel).exists()
    assert added_on_the_day(before) == counts  # from the counts
    assert radar.is_negative(sentiment) == (label == "Negative")
    assert radar.is_positive(sentiment) == (label == "Positive")
    page = logged_in(admin).get(reverse("cases:detail", args=[x.pk])).content.decode()
    assert f"<dt>Sentiment</dt><dd>{label} " in page


def test_mentions_received_lately_wait_for_a_later_count(cases, admin):
    counted = post(cases[0], NOW - timedelta(hours=3))
    just_in = NOW - SETTLE + timedelta(seconds=1)
    later = post(cases[0], NOW - timedelta(hours=3), received_at=just_in)
    count_new_mentions(NOW)
    assert MentionVolumeMark.objects.get().last_mention_id == counted.pk
    volume, _ = figures(admin)
    assert volume[cases[0].channel_id][timezone.localdate(counted.posted_at)] == (0, 2, 0)
    count_new_mentions(NOW + timedelta(seconds=2))
    assert MentionVolumeMark.objects.get().last_mention_id == later.pk
    assert figures(admin)[0] == volume


def test_counting_again_adds_only_the_new_mentions(cases, admin):
    month_of_mentions(cases)
    count_new_mentions(NOW)
    post(cases[1], NOW - timedelta(hours=5), 0.7)
    post(cases[1], NOW - timedelta(days=2), -0.7)
    expected = figures(admin)
    count_new_mentions(NOW)
    count_new_mentions(NOW)
    assert figures(admin) == expected


def test_mentions_deleted_after_counting_drop_out(cases, admin):
    month_of_mentions(cases)
    count_new_mentions(NOW)
    gone = post(cases[1], NOW - timedelta(days=1), -0.9)
    count_new_mentions(NOW)
    with_it = figures(admin)[0]
    Mention.objects.filter(pk=gone.pk).update(deleted_at=NOW)
    day = timezone.localdate(gone.posted_at)
    negative, neutral, positive = with_it[cases[1].channel_id][day]
    assert figures(admin)[0][cases[1].channel_id][day] == (negative - 1, neutral, positive)


def test_emptied_mentions_make_the_counts_start_again(cases, admin):
    month_of_mentions(cases)
    count_new_mentions(NOW)
    mark = MentionVolumeMark.objects.get().last_mention_id
    Mention.objects.filter(channel=cases[0].channel).delete()  # the mark's mention with them
    assert not Mention.objects.filter(pk=mark).exists()
    expected = figures(admin)  # the stale counts are ignored
    count_new_mentions(NOW)
    assert not MentionVolume.objects.filter(channel=cases[0].channel).exists()
    assert figures(admin) == expected


def test_volume_follows_the_local_days_of_a_half_hour_time_zone(cases, admin):
    late = datetime(2026, 3, 10, 18, 40, tzinfo=UTC)  # 00:10 on the 11th in Kolkata
    post(cases[0], late)
    post(cases[0], late - timedelta(minutes=20))  # 23:50 on the 10th
    count_new_mentions(NOW)
    with timezone.override("Asia/Kolkata"):
        volume = dash.build(admin, 4, NOW).volume[cases[0].channel_id]
    assert volume[date(2026, 3, 10)] == (0, 1, 0)
    assert volume[date(2026, 3, 11)] == (0, 1, 0)


def test_beat_task_counts(cases):
    now = timezone.now()
    mention = post(cases[0], now - timedelta(hours=1), received_at=now - SETTLE * 2)
    tasks.count_mentions()
    assert MentionVolumeMark.objects.get().last_mention_id == mention.pk
    assert MentionVolume.objects.filter(quarter__lte=mention.posted_at).get().neutral == 1
