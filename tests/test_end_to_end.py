"""The whole radar: simulator → real tweepy / facebook-sdk → Celery worker and beat → cases.

A real Celery worker (with its embedded beat) runs in a subprocess against the test database
and Redis, and polls the simulator over HTTP, exactly as `make run` does.
"""

import pytest
from django.utils import timezone

from cases.models import Case
from listening.models import Channel, ListeningRule, Mention
from tests.conftest import make_channel, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_worker_polling_the_simulator_stores_exactly_what_was_published(simulator, worker):
    x = make_channel(
        "x",
        external_account_id="1000",
        handle="@acme_support",
        poll_interval=1,
        credentials={"bearer_token": "e2e-x-token"},
    )
    ListeningRule.objects.create(channel=x, name="Brand name", query="acme")
    fb = make_channel(
        "facebook",
        external_account_id="2000",
        handle="Acme",
        poll_interval=1,
        credentials={"page_access_token": "e2e-page-token"},
    )

    x_ids = simulator.publish("x", 40, account_id="1000")
    fb_ids = simulator.publish("facebook", 25, account_id="2000")
    wait_for(lambda: Mention.objects.count() == len(x_ids) + len(fb_ids))

    # A second wave larger than one API page: the cursor must page through it, once.
    x_ids += simulator.publish("x", 150, account_id="1000")
    wait_for(lambda: Mention.objects.filter(channel=x).count() == len(x_ids))
    x.refresh_from_db()
    reads_after_wave = x.api_reads
    # At least one more poll of each channel, started after everything was stored: nothing
    # is stored twice, nothing read twice.
    stored_at = timezone.now()
    wait_for(
        lambda: (
            Channel.objects.filter(pk__in=[x.pk, fb.pk], last_poll_at__gt=stored_at).count() == 2
        ),
        message="one more poll of each channel",
    )

    assert set(Mention.objects.filter(channel=x).values_list("external_id", flat=True)) == set(
        x_ids
    )
    assert set(Mention.objects.filter(channel=fb).values_list("external_id", flat=True)) == set(
        fb_ids
    )
    assert Mention.objects.filter(case__isnull=True).count() == 0
    assert Case.objects.count() > 0
    assert sum(Case.objects.values_list("mention_count", flat=True)) == Mention.objects.count()
    for channel in (x, fb):
        channel.refresh_from_db()
        assert channel.last_success_at is not None
        assert channel.last_error == ""
    # X bills reads: a quiet poll reads no post again. The one exception is the DM probe
    # (dm_events has no since_id): one event per poll to learn that nothing is new.
    assert x.api_reads - reads_after_wave <= 2
    assert x.cursor.keys() >= {"mentions", f"rule:{x.rules.get().pk}"}
    assert Channel.objects.filter(needs_reauth=True).count() == 0
