"""Meta webhooks end to end: the simulator delivers signed webhooks to a live desk, whose real
Celery worker takes them into cases, with no poll at all (the worker runs without beat)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from listening.models import Mention, QuarantinedPost, WebhookEvent
from tests.conftest import make_channel, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-app-secret"


@pytest.mark.parametrize("worker", [{"beat": False}], indirect=True)
def test_the_simulators_webhooks_reach_the_desk_once_each(settings, simulator, worker, live_server):
    settings.META_APP_SECRET = SECRET
    page = make_channel(
        "facebook",
        external_account_id="2000",
        handle="Acme",
        credentials={"page_access_token": "e2e-page-token"},
        next_poll_at=timezone.now() + timedelta(days=1),
    )
    simulator.webhooks(f"{live_server.url}/webhooks/meta/", SECRET)
    simulator.fault("facebook", "webhook_duplicate", count=3)
    simulator.fault("facebook", "webhook_bad_signature", count=2)
    simulator.fault("facebook", "webhook_unsigned", count=1)

    ids = []
    for kind, count in (("visitor_post", 8), ("comment", 8), ("comment_reply", 6), ("message", 8)):
        ids += simulator.publish("facebook", count, account_id="2000", kind=kind)

    def arrived() -> set[str]:
        """Stored, or left to the poll (Meta did not name the author: Graph hides them)."""
        stored = set(Mention.objects.values_list("external_id", flat=True))
        for outcome in WebhookEvent.objects.values_list("outcome", flat=True):
            stored |= {left["external_id"] for left in outcome.get("left_to_poll", [])}
        return stored

    wait_for(lambda: set(ids) <= arrived(), message="every published post, by webhook")
    wait_for(
        lambda: not WebhookEvent.objects.filter(state="received").exists(),
        message="every stored event processed",
    )
    assert simulator.state.webhooks.wait_idle(30)

    assert Mention.objects.count() == len(set(Mention.objects.values_list("external_id")))
    left = [
        item["external_id"]
        for outcome in WebhookEvent.objects.values_list("outcome", flat=True)
        for item in outcome["left_to_poll"]
    ]
    assert Mention.objects.filter(channel=page).count() + len(left) == len(ids)
    assert not QuarantinedPost.objects.exists()
    assert not WebhookEvent.objects.filter(state__in=["failed", "unmatched"]).exists()
    stats = simulator.stats()["webhooks"]
    assert (stats["forged_refused"], stats["forged_accepted"], stats["failed"]) == (3, 0, 0)
    page.refresh_from_db()
    assert page.last_poll_at is None  # no poll: the webhooks alone
    assert page.cursor == {}
    assert page.webhook_received_at is not None
    assert page.webhook_refused == 3 + 3  # the forged copies and the replayed duplicates
