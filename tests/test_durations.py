"""One wording for durations: socialdesk.durations, its template filters, and desk.js."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from socialdesk.durations import format_duration

WORDS = [
    (timedelta(seconds=-5), "0 s"),
    (timedelta(0), "0 s"),
    (timedelta(seconds=8.9), "8 s"),
    (timedelta(seconds=59), "59 s"),
    (timedelta(seconds=60), "1 min"),
    (timedelta(minutes=59, seconds=59), "59 min"),
    (timedelta(hours=1), "1 h"),
    (timedelta(hours=2, minutes=5), "2 h 5 min"),
    (timedelta(hours=24), "24 h"),  # a 24-hour window reads as one
    (timedelta(hours=47, minutes=59), "47 h 59 min"),
    (timedelta(hours=48), "2 d"),
    (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),
    (timedelta(days=7), "7 d"),
]


@pytest.mark.parametrize(("value", "words"), WORDS)
def test_a_duration_in_its_two_largest_units_rounded_down(value, words):
    assert format_duration(value) == words


def test_the_template_filters_say_the_same():
    now = timezone.now()
    context = {"wait": timedelta(hours=2, minutes=5), "sent": now - timedelta(days=3), "now": now}
    html = Template(
        "{% load desk %}{{ wait|duration }} · {{ sent|since:now }} · {{ missing|duration }}"
        "{{ missing|since }}."
    ).render(Context(context))
    assert html == "2 h 5 min · 3 d · ."


@pytest.mark.e2e
def test_the_browser_says_the_same(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")  # every page loads static/js/desk.js
    for value, words in WORDS:
        ms = value.total_seconds() * 1000
        assert page.evaluate("ms => SocialDesk.formatDuration(ms)", ms) == words, value
    page.close()
