"""Meta webhooks: verification, the durable outbox, each field and verb, and polling's safety net.

Deliveries follow Meta's Webhooks for Pages (`feed`) and Messenger (`messaging`) references
(tests/payloads/meta_webhooks.json). Graph, where processing asks it (a Messenger sender's
conversation), is faked at the HTTP edge with `responses`, or served by the simulator.
"""

import copy
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from listening import polling, webhooks
from listening.ingest import ingest
from listening.models import Channel, Mention, QuarantinedPost, WebhookEvent
from listening.simulator import webhooks as sim_webhooks
from tests.conftest import calls_to, logged_in, make_channel
from tests.factories import post as inbound_post
from tests.simulator import running_simulator

PAYLOADS = json.loads((Path(__file__).parent / "payloads" / "meta_webhooks.json").read_text())
SECRET = "test-app-secret"
VERIFY = "test-verify-token"
GRAPH = "http://graph-sim.test:8100"
URL = "/webhooks/meta/"


@pytest.fixture
def meta(settings):
    settings.META_APP_SECRET = SECRET
    settings.META_WEBHOOK_VERIFY_TOKEN = VERIFY
    settings.META_WEBHOOK_MAX_AGE = 3600
    settings.FACEBOOK_GRAPH_URL = GRAPH
    cache.delete(webhooks.REFUSED_FOR_APP_KEY)
    return settings


@pytest.fixture
def page(db) -> Channel:
    return make_channel("facebook", external_account_id="2000", handle="Acme")


def delivery(name: str, *, at: float | None = None) -> bytes:
    """The named delivery with every entry's time set to `at` (default now), as bytes."""
    payload = copy.deepcopy(PAYLOADS[name])
    when = time.time() if at is None else at
    for entry in payload["entry"]:
        entry["time"] = int(when * 1000) if "messaging" in entry else int(when)
    return json.dumps(payload).encode()


def post(body: bytes, signature: str | None = "good") -> object:
    headers = {}
    if signature == "good":
        headers["HTTP_X_HUB_SIGNATURE_256"] = webhooks.signature_of(body, SECRET)
    elif signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return Client().post(URL, body, content_type="application/json", **headers)


def receive(name: str, capture) -> WebhookEvent:
    """Deliver `name`, check it is stored and enqueued once, and process it as a worker would."""
    with capture() as callbacks:
        response = post(delivery(name))
    assert response.status_code == 200
    assert len(callbacks) == 1  # process_webhook_event, after the row committed
    event = WebhookEvent.objects.latest("received_at")
    webhooks.process_event(event.pk)
    event.refresh_from_db()
    return event


# ---- the endpoint -------------------------------------------------------------------------


def test_the_url_is_the_one_meta_is_given():
    assert reverse("meta_webhook") == URL


def test_verification_echoes_the_challenge_for_our_token(meta, db):
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    response = Client().get(URL, params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_verification_refuses_anything_else(meta, db, params):
    response = Client().get(URL, params)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_without_an_app_secret_the_endpoint_does_not_exist(meta, page):
    meta.META_APP_SECRET = ""
    assert Client().get(URL, {"hub.mode": "subscribe", "hub.verify_token": VERIFY}).status_code == (
        404
    )
    assert post(delivery("feed_status_add"), signature=None).status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_a_signed_delivery_is_stored_raw_and_enqueued_after_commit(
    meta, page, django_capture_on_commit_callbacks
):
    body = delivery("feed_status_add")
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.body.encode() == body
    assert (event.state, event.object, event.attempts) == ("received", "page", 0)
    assert len(callbacks) == 1
    page.refresh_from_db()
    assert page.webhook_received_at is not None
    assert page.webhook_refused == 0


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (None, 403),  # unsigned
        ("sha256=" + "0" * 64, 403),  # signed with something else
        ("sha1=0123", 403),  # the old header's algorithm
    ],
)
def test_unsigned_and_badly_signed_deliveries_are_refused_and_counted(
    meta, page, signature, status
):
    response = post(delivery("feed_status_add"), signature=signature)
    assert response.status_code == status
    assert WebhookEvent.objects.count() == 0
    page.refresh_from_db()
    assert page.webhook_refused == 1
    assert page.webhook_received_at is None


def test_a_signature_over_another_body_is_refused(meta, page):
    body = delivery("feed_status_add")
    other = body.replace(b"router", b"toaster")
    response = post(other, signature=webhooks.signature_of(body, SECRET))
    assert response.status_code == 403
    assert WebhookEvent.objects.count() == 0


def test_a_refused_delivery_naming_no_channel_is_counted_for_the_app(meta, db):
    x = make_channel("x", external_account_id="2000")  # the same number on another network
    post(delivery("feed_status_add"), signature=None)
    post(b"not json", signature=None)
    post(b"[" * 100_000, signature=None)
    assert webhooks.refused_for_app() == 3
    x.refresh_from_db()
    assert x.webhook_refused == 0


def test_a_replayed_delivery_is_stored_and_processed_once(
    meta, page, django_capture_on_commit_callbacks
):
    body = delivery("feed_comment_add")
    with django_capture_on_commit_callbacks() as callbacks:
        first, again = post(body), post(body)
    assert (first.status_code, first.content) == (200, b"ok")
    # Answered 200 so that Meta stops retrying a delivery whose answer it lost, but not stored.
    assert (again.status_code, again.content) == (200, b"duplicate")
    assert WebhookEvent.objects.count() == 1
    assert len(callbacks) == 1
    page.refresh_from_db()
    assert page.webhook_refused == 1


def test_a_stale_delivery_is_refused(meta, page):
    old = time.time() - 3600 - 120
    response = post(delivery("feed_status_add", at=old))
    assert (response.status_code, response.content) == (400, b"stale")
    assert WebhookEvent.objects.count() == 0
    # Within the window, the same delivery is fine (Meta retries for hours).
    assert post(delivery("feed_status_add", at=time.time() - 3000)).status_code == 200


def test_a_signed_body_that_is_no_delivery_is_refused(meta, page):
    utf16 = json.dumps(PAYLOADS["feed_status_add"]).encode("utf-16")
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (b"{not json", b'{"object": "page"}', b"[]", utf16, deep):
        assert post(body).status_code == 400
    assert WebhookEvent.objects.count() == 0


# ---- the feed -----------------------------------------------------------------------------


def test_a_visitor_post_opens_a_case_under_the_id_the_feed_lists(
    meta, page, django_capture_on_commit_callbacks
):
    event = receive("feed_status_add", django_capture_on_commit_callbacks)
    assert event.state == "processed"
    assert (event.outcome["posts"], event.outcome["created"]) == (1, 1)
    mention = Mention.objects.get()
    assert mention.external_id == "2000_122100000000501"
    assert mention.kind == "visitor_post"
    assert mention.conversation_id == "2000_122100000000501"
    assert mention.text == "My router is broken <b>again</b> & nobody answers"
    assert mention.author.external_id == "6100000000000123"
    assert mention.author.name == "Chloé Dubois"
    assert Case.objects.get().mentions.count() == 1
    page.refresh_from_db()
    assert page.cursor == {}  # a webhook never moves the poll's cursor


def test_comments_thread_under_their_post_and_answer_their_parent(
    meta, page, django_capture_on_commit_callbacks
):
    receive("feed_comment_add", django_capture_on_commit_callbacks)
    receive("feed_comment_reply_add", django_capture_on_commit_callbacks)
    top, reply = Mention.objects.order_by("posted_at")
    assert top.external_id == "122100000000401_122100000000777"
    assert top.kind == "comment"
    assert top.conversation_id == "2000_122100000000401"
    assert top.in_reply_to_id == "2000_122100000000401"
    assert reply.external_id == "122100000000401_122100000000799"
    assert reply.in_reply_to_id == "122100000000401_122100000000777"
    assert top.case_id == reply.case_id  # one customer, one conversation, one case


def test_the_pages_own_comment_opens_no_case(meta, page, django_capture_on_commit_callbacks):
    event = receive("feed_page_comment_add", django_capture_on_commit_callbacks)
    assert event.state == "processed"
    assert event.outcome["posts"] == 0
    assert Mention.objects.count() == 0
    assert Case.objects.count() == 0


def test_an_item_without_its_author_is_left_to_the_poll(
    meta, page, django_capture_on_commit_callbacks
):
    payload = copy.deepcopy(PAYLOADS["feed_comment_add"])
    del payload["entry"][0]["changes"][0]["value"]["from"]  # Meta leaves it out at times
    payload["entry"][0]["time"] = int(time.time())
    with django_capture_on_commit_callbacks(execute=False):
        assert post(json.dumps(payload).encode()).status_code == 200
    event = WebhookEvent.objects.get()
    assert webhooks.process_event(event.pk) == "processed"
    event.refresh_from_db()
    [left] = event.outcome["left_to_poll"]
    assert left["external_id"] == "122100000000401_122100000000777"
    assert left["reason"].startswith("author unknown")
    # Neither a guessed author nor a quarantine row: the poll reads it whole (and looks it up).
    assert Mention.objects.count() == 0
    assert QuarantinedPost.objects.count() == 0


def test_an_event_whose_processing_never_finishes_is_failed_after_the_last_attempt(
    meta, page, django_capture_on_commit_callbacks
):
    meta.META_WEBHOOK_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=False):
        post(delivery("feed_comment_add"))
    event = WebhookEvent.objects.get()
    # Three workers died holding it.
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=3)
    assert webhooks.process_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.error == "processing never finished"
    assert Mention.objects.count() == 0


def test_reactions_are_ignored(meta, page, django_capture_on_commit_callbacks):
    event = receive("feed_reaction_add", django_capture_on_commit_callbacks)
    assert (event.state, event.outcome["ignored"], event.outcome["posts"]) == ("processed", 1, 0)


COMMENT_ID = "122100000000401_122100000000777"


def stored(page: Channel, external_id: str, kind: str = "comment") -> Mention:
    """The post a change is about, as a poll stored it before the change arrived."""
    ingest(
        page,
        [
            inbound_post(
                1,
                network="facebook",
                external_id=external_id,
                kind=kind,
                text="Where is my order #123456?",
                is_private=kind == "dm",
            )
        ],
    )
    return Mention.objects.get(channel=page, external_id=external_id)


def test_an_edit_replaces_the_text_and_keeps_the_earlier_version(
    meta, page, django_capture_on_commit_callbacks
):
    mention = stored(page, COMMENT_ID)
    event = receive("feed_comment_edited", django_capture_on_commit_callbacks)
    mention.refresh_from_db()
    assert event.outcome["changes"] == 1 and event.outcome["awaiting_handler"] == []
    assert mention.text.endswith("#123457?")
    assert [version["text"] for version in mention.earlier_texts] == ["Where is my order #123456?"]


def test_a_messenger_edit_replaces_the_message_text(meta, page, django_capture_on_commit_callbacks):
    mention = stored(page, "m_MTIyOjEyMw", kind="dm")
    receive("messaging_edit", django_capture_on_commit_callbacks)
    mention.refresh_from_db()
    assert mention.text.endswith("my laptop?")


@pytest.mark.parametrize(
    ("name", "external_id"),
    [("feed_comment_remove", COMMENT_ID), ("feed_status_remove", "2000_122100000000501")],
)
def test_a_removal_blanks_the_text_and_keeps_that_the_post_existed(
    meta, page, django_capture_on_commit_callbacks, name, external_id
):
    mention = stored(page, external_id)
    receive(name, django_capture_on_commit_callbacks)
    mention.refresh_from_db()
    assert mention.deleted_at is not None and mention.text == ""
    assert mention.removed_how == "webhook"


def test_hiding_and_showing_at_the_source_is_recorded(
    meta, page, django_capture_on_commit_callbacks
):
    mention = stored(page, COMMENT_ID)
    receive("feed_comment_hide", django_capture_on_commit_callbacks)
    mention.refresh_from_db()
    assert mention.hidden_at is not None
    receive("feed_comment_unhide", django_capture_on_commit_callbacks)
    mention.refresh_from_db()
    assert mention.hidden_at is None


def test_a_change_to_a_post_the_desk_does_not_hold_changes_nothing(
    meta, page, django_capture_on_commit_callbacks
):
    event = receive("feed_comment_remove", django_capture_on_commit_callbacks)
    assert event.state == "processed" and event.outcome["changes"] == 1
    assert Mention.objects.count() == 0


def test_a_source_change_goes_to_the_handler_of_its_kind(
    meta, page, django_capture_on_commit_callbacks, monkeypatch
):
    seen = []
    monkeypatch.setitem(
        webhooks.SOURCE_CHANGE_HANDLERS, "remove", lambda channel, change: seen.append(change)
    )
    event = receive("feed_comment_remove", django_capture_on_commit_callbacks)
    assert [(c.kind, c.external_id) for c in seen] == [
        ("remove", "122100000000401_122100000000777")
    ]
    assert event.outcome["awaiting_handler"] == []


def test_the_dispatch_table_covers_every_kind_of_source_change():
    assert set(webhooks.SOURCE_CHANGE_HANDLERS) == {"edit", "remove", "hide", "unhide"}


# ---- Messenger ----------------------------------------------------------------------------


@responses.activate
def test_a_message_joins_the_conversation_graph_lists_for_its_sender(
    meta, page, django_capture_on_commit_callbacks
):
    conversations = f"{GRAPH}/v23.0/2000/conversations"
    responses.get(
        conversations,
        json={
            "data": [
                {
                    "id": "t_122100000000321",
                    "updated_time": "2026-12-01T10:00:00+0000",
                    "participants": {
                        "data": [
                            {"name": "Ana Silva", "id": "6100000000000789"},
                            {"name": "Acme", "id": "2000"},
                        ]
                    },
                }
            ]
        },
    )
    receive("messaging_message", django_capture_on_commit_callbacks)
    receive("messaging_echo", django_capture_on_commit_callbacks)
    receive("messaging_read", django_capture_on_commit_callbacks)
    receive("messaging_message_2", django_capture_on_commit_callbacks)

    [call] = calls_to(responses.mock, conversations)  # the second message: stored conversation
    assert "user_id=6100000000000789" in call.request.url
    first, second = Mention.objects.order_by("posted_at")
    assert (first.external_id, second.external_id) == ("m_MTIyOjEyMw", "m_MTIyOjEyNA")
    assert first.kind == "dm" and first.is_private
    assert first.conversation_id == second.conversation_id == "msg:t_122100000000321"
    assert first.author.name == "Ana Silva"
    assert first.case_id == second.case_id
    assert Mention.objects.filter(external_id="m_MTIyOjEyNQ").count() == 0  # our own echo


@responses.activate
def test_a_graph_failure_keeps_the_event_for_a_later_attempt(
    meta, page, django_capture_on_commit_callbacks
):
    conversations = f"{GRAPH}/v23.0/2000/conversations"
    responses.get(conversations, status=500, json={"error": {"message": "x", "code": 2}})
    event = receive("messaging_message", django_capture_on_commit_callbacks)
    assert event.state == "received"
    assert event.attempts == 1
    assert event.error
    assert event.claimed_until > timezone.now()  # the back-off: not swept before it
    assert Mention.objects.count() == 0

    responses.replace(responses.GET, conversations, json={"data": [{"id": "t_9"}]})
    later = event.claimed_until + timedelta(seconds=1)
    assert webhooks.process_event(event.pk, now=later) == "processed"
    assert Mention.objects.get().conversation_id == "msg:t_9"


# ---- what no channel reads ----------------------------------------------------------------


def test_entries_for_an_unknown_page_are_stored_as_unmatched(
    meta, db, django_capture_on_commit_callbacks
):
    make_channel("facebook", external_account_id="3000")
    event = receive("feed_status_add", django_capture_on_commit_callbacks)
    assert event.state == "unmatched"
    assert event.outcome["unmatched_accounts"] == ["2000"]
    assert Mention.objects.count() == 0
    assert webhooks.process_event(event.pk) == "busy"  # done with: no retry loop


def test_instagram_entries_are_stored_as_unmatched(meta, db, django_capture_on_commit_callbacks):
    event = receive("instagram_comment", django_capture_on_commit_callbacks)
    assert (event.object, event.state) == ("instagram", "unmatched")


# ---- the database is the outbox -----------------------------------------------------------


def test_an_event_whose_message_was_lost_is_processed_by_the_sweep(
    meta, page, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the message
        post(delivery("feed_comment_add"))
    event = WebhookEvent.objects.get()
    enqueued: list[int] = []
    assert webhooks.sweep_events(enqueue=enqueued.append) == 0  # within the grace period
    later = timezone.now() + webhooks.SWEEP_GRACE + timedelta(seconds=1)
    assert webhooks.sweep_events(now=later, enqueue=enqueued.append) == 1
    assert enqueued == [event.pk]
    assert webhooks.process_event(event.pk) == "processed"
    assert Mention.objects.get().external_id == "122100000000401_122100000000777"
    assert webhooks.sweep_events(now=later, enqueue=enqueued.append) == 0


def test_a_claimed_event_is_not_processed_twice(meta, page, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        post(delivery("feed_comment_add"))
    event = WebhookEvent.objects.get()
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(claimed_until=now + timedelta(seconds=30))
    assert webhooks.process_event(event.pk, now=now) == "busy"
    swept: list[int] = []
    webhooks.sweep_events(now=now + timedelta(seconds=20), enqueue=swept.append)
    assert swept == []
    # The worker holding it died: once its lease is over the sweep hands it on.
    webhooks.sweep_events(now=now + timedelta(seconds=31), enqueue=swept.append)
    assert swept == [event.pk]
    assert webhooks.process_event(event.pk, now=now + timedelta(seconds=31)) == "processed"


# ---- webhook and poll together ------------------------------------------------------------


@pytest.fixture
def simulated_page(meta, db):
    with running_simulator(seed=5) as sim:
        meta.FACEBOOK_GRAPH_URL = sim.url
        channel = make_channel(
            "facebook",
            external_account_id="2000",
            credentials={"page_access_token": "sim-page-token"},
        )
        polling.poll_channel(channel.pk)  # the first look: the cursor starts here
        yield sim, channel


def _deliver_latest_comment(sim, capture) -> str:
    """The simulator's newest comment, delivered as Meta would (its own payload builder)."""
    state = sim.state
    with state.lock:
        comment = max(state.fb.comments.values(), key=lambda c: c.seq)
        body = sim_webhooks.feed_comment(comment, state.fb.posts[comment.post_id], time.time())
    with capture(execute=False):
        assert post(json.dumps(body).encode()).status_code == 200
    webhooks.process_event(WebhookEvent.objects.latest("received_at").pk)
    return comment.id


def test_a_comment_by_webhook_then_by_poll_is_one_mention(
    simulated_page, django_capture_on_commit_callbacks
):
    sim, channel = simulated_page
    sim.publish("facebook", 1, account_id="2000", kind="comment", seed=3)
    comment_id = _deliver_latest_comment(sim, django_capture_on_commit_callbacks)
    assert Mention.objects.filter(external_id=comment_id).count() == 1

    assert polling.poll_channel(channel.pk) == "ok"
    assert Mention.objects.filter(channel=channel).count() == 1
    assert Case.objects.get().mention_count == 1
    channel.refresh_from_db()
    assert channel.cursor  # the poll moved its own cursor past the comment


def test_a_comment_by_poll_then_by_webhook_is_one_mention(
    simulated_page, django_capture_on_commit_callbacks
):
    sim, channel = simulated_page
    sim.publish("facebook", 1, account_id="2000", kind="comment", seed=3)
    assert polling.poll_channel(channel.pk) == "ok"
    comment_id = _deliver_latest_comment(sim, django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    assert (event.outcome["posts"], event.outcome["created"]) == (1, 0)
    assert Mention.objects.filter(external_id=comment_id).count() == 1


def test_a_delivery_the_desk_missed_is_read_by_the_next_poll(
    simulated_page, django_capture_on_commit_callbacks
):
    sim, channel = simulated_page
    ids = sim.publish("facebook", 3, account_id="2000", kind="comment", seed=4)
    # Only the last one arrives by webhook; the poll must still find the first two.
    _deliver_latest_comment(sim, django_capture_on_commit_callbacks)
    assert polling.poll_channel(channel.pk) == "ok"
    stored = set(Mention.objects.values_list("external_id", flat=True))
    held = set(QuarantinedPost.objects.values_list("external_id", flat=True))
    assert set(ids) <= stored | held


# ---- health -------------------------------------------------------------------------------


def test_health_shows_each_pages_last_webhook_and_refusals(
    meta, page, supervisor, django_capture_on_commit_callbacks
):
    x = make_channel("x", name="Acme on X")
    with django_capture_on_commit_callbacks(execute=False):
        post(delivery("feed_status_add"))
    post(delivery("feed_comment_add"), signature="sha256=" + "f" * 64)
    post(b'{"object": "page", "entry": [{"id": "9999"}]}', signature=None)

    client = logged_in(supervisor)
    html = client.get(reverse("listening:health")).content.decode()
    assert ">Webhook</th>" in html
    assert "1 refused" in html
    assert "polled only" in html  # X cannot push
    assert "1 refused delivery named no channel." in html

    data = client.get(reverse("listening:health"), HTTP_ACCEPT="application/json").json()
    channels = {c["id"]: c for c in data["channels"]}
    assert channels[page.pk]["webhook_refused"] == 1
    assert channels[page.pk]["webhook_received_at"]
    assert channels[x.pk]["webhook_received_at"] is None
    assert data["webhooks"] == {"refused_for_app": 1, "unmatched_day": 0, "failed": 0}


@responses.activate
def test_an_event_that_keeps_failing_is_failed_visibly_and_can_be_processed_again(
    meta, page, django_capture_on_commit_callbacks
):
    meta.META_WEBHOOK_MAX_ATTEMPTS = 2
    conversations = f"{GRAPH}/v23.0/2000/conversations"
    responses.get(conversations, status=503, json={"error": {"message": "down", "code": 2}})
    event = receive("messaging_message", django_capture_on_commit_callbacks)
    later = event.claimed_until + timedelta(seconds=1)
    assert webhooks.process_event(event.pk, now=later) == "failed"
    event.refresh_from_db()
    assert (event.state, event.attempts, event.claimed_until) == ("failed", 2, None)
    assert webhooks.summary()["failed"] == 1

    responses.replace(responses.GET, conversations, json={"data": [{"id": "t_5"}]})
    with django_capture_on_commit_callbacks() as callbacks:
        assert webhooks.do_process_events_again([event.pk]) == 1
    assert len(callbacks) == 1
    assert webhooks.process_event(event.pk) == "processed"
    assert Mention.objects.get().conversation_id == "msg:t_5"


def test_events_past_the_stale_window_are_forgotten_unless_a_change_awaits_its_handler(
    meta, page, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setitem(webhooks.SOURCE_CHANGE_HANDLERS, "remove", None)  # a kind not handled
    plain = receive("feed_status_add", django_capture_on_commit_callbacks)
    waiting = receive("feed_comment_remove", django_capture_on_commit_callbacks)
    soon = timezone.now() + timedelta(seconds=3600)
    assert webhooks.forget_old_events(soon) == 0
    later = timezone.now() + timedelta(seconds=3600, days=1, minutes=1)
    assert webhooks.forget_old_events(later) == 1
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert not WebhookEvent.objects.filter(pk=plain.pk).exists()
