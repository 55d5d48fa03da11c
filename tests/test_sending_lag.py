"""Exactly once under the networks' real behaviour: listing lag, duplicate-content answers,
identical replies, frozen workers, and who may send an unconfirmed reply again.

The real connectors (tweepy, facebook-sdk) talk to the simulator. Time is injected: the
simulator's clock and the `now` the sender is given move together, so a look-up "two
minutes later" runs at once and sees what the network would show then.
"""

from datetime import datetime, timedelta

import pytest
from django.db import DatabaseError, IntegrityError
from django.urls import reverse
from django.utils import timezone

from cases import sending
from cases.models import Case, CaseEvent, DeskSettings, Reply
from cases.replies import AlreadySubmitted
from cases.sending import SendOutcome
from tests.conftest import logged_in
from tests.factories import ingest_one, queue_committed
from tests.simulator import SimulatorClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]

State = Reply.State
SCHEDULE = sending.settle_schedule()
PUBLISH_PATH = {"x": "/2/tweets", "facebook": "/comments"}
KIND = {"x": "mention", "facebook": "comment"}


class Clock:
    """The simulator's clock, moved forward by the test (never backwards)."""

    def __init__(self, sim: SimulatorClient) -> None:
        self.sim = sim

    def at(self, moment: datetime) -> datetime:
        """Move the network's clock on to `moment` (desk time) and return it."""
        ahead = (moment - timezone.now()).total_seconds() - self.sim.state.clock.offset
        if ahead > 0:
            self.sim.advance(ahead)
        return moment


@pytest.fixture
def clock(sim) -> Clock:
    return Clock(sim)


@pytest.fixture
def channels(x_channel_sim, fb_channel_sim):
    return {"x": x_channel_sim, "facebook": fb_channel_sim}


def look_ups(reply: Reply, clock: Clock, until: int | None = None) -> list[str]:
    """Each due look-up of the settle window, at its own time, until the reply leaves it."""
    outcomes = []
    for _ in range(len(SCHEDULE) if until is None else until):
        reply.refresh_from_db()
        if reply.state != State.RECONCILING:
            break
        outcomes.append(sending.send_reply(reply.pk, now=clock.at(reply.next_attempt_at)))
    reply.refresh_from_db()
    return outcomes


# ---- listing lag ---------------------------------------------------------------------------


@pytest.mark.parametrize("network", ["x", "facebook"])
def test_reply_is_posted_once_under_a_listing_lag_longer_than_the_first_checks(
    network, sim, clock, channels, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, channels[network], KIND[network]).case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    # Accepted, answer lost; then listed only 60 s later (after the look-ups at 0, 5, 15, 45 s).
    sim.fault(network, "accept_then_500", path_contains=PUBLISH_PATH[network])
    sim.fault(network, "visibility_lag", path_contains=PUBLISH_PATH[network], seconds=60)

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    reply.refresh_from_db()
    assert reply.state == State.RECONCILING and reply.reconcile_checks == 1
    assert len(sim.replies(network)) == 1  # on the network, not listed yet

    outcomes = look_ups(reply, clock)

    assert outcomes == [SendOutcome.CHECKING] * 3 + [SendOutcome.SENT]  # 5, 15, 45 s; 120 s
    received = sim.replies(network)
    assert len(received) == 1
    assert reply.state == State.SENT and reply.external_id == received[0]["id"]
    assert reply.attempts == 1


@pytest.mark.parametrize(
    ("network", "kind", "path"),
    [("x", "dm", "/dm_conversations/"), ("facebook", "comment", "/messages")],
)
def test_a_private_reply_is_posted_once_under_a_listing_lag(
    network, kind, path, sim, clock, channels, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, channels[network], kind).case
    with django_capture_on_commit_callbacks(execute=True):
        reply = sending.do_queue_reply(
            case, author=agent, text="Let's sort this out here.", is_private=True
        )
    sim.fault(network, "accept_then_500", path_contains=path)
    sim.fault(network, "visibility_lag", path_contains=path, seconds=30)

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    assert look_ups(reply, clock)[-1] == SendOutcome.SENT

    received = sim.replies(network)
    assert len(received) == 1
    assert reply.external_id == received[0]["id"]


def test_the_beat_enqueues_a_look_up_only_when_it_is_due(
    sim, clock, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    enqueued.clear()
    sim.fault("x", "accept_then_500", path_contains="/2/tweets")
    sim.fault("x", "visibility_lag", path_contains="/2/tweets", seconds=600)
    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    reply.refresh_from_db()
    due = reply.next_attempt_at

    assert sending.recover_stuck_replies(now=due - timedelta(seconds=1))["enqueued"] == 0
    assert sending.send_reply(reply.pk, now=due - timedelta(seconds=1)) == "not_claimed"
    assert sending.recover_stuck_replies(now=due)["enqueued"] == 1
    assert enqueued == [reply.pk]


def test_a_reply_is_posted_again_only_after_the_whole_window_said_not_found(
    sim, clock, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    sim.fault("x", "500", path_contains="/2/tweets")  # a 5xx: X may or may not have it

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    outcomes = look_ups(reply, clock)

    assert outcomes == [SendOutcome.CHECKING] * (len(SCHEDULE) - 2) + [SendOutcome.RETRY]
    assert reply.state == State.QUEUED and sim.replies("x") == []
    waited = reply.next_attempt_at - reply.reconcile_started_at
    assert waited >= SCHEDULE[-1]
    assert sending.send_reply(reply.pk, now=clock.at(reply.next_attempt_at)) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1


def test_look_ups_that_keep_failing_end_as_an_unconfirmed_failure_never_a_repost(
    sim, clock, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    sim.fault("x", "accept_then_500", path_contains="/2/tweets")
    sim.fault("x", "503", count=1000, path_contains="/2/users/")  # the look-up

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    reply.refresh_from_db()
    assert "checking whether it went out failed" in reply.error
    assert reply.reconcile_checks == 0  # the same look-up again, later
    started = reply.reconcile_started_at

    give_up = started + sending.RECONCILE_GIVE_UP + timedelta(seconds=1)
    assert sending.send_reply(reply.pk, now=clock.at(give_up)) == SendOutcome.FAILED

    reply.refresh_from_db()
    assert reply.state == State.FAILED and reply.unconfirmed
    assert reply.error.startswith("could not confirm whether X received this reply")
    assert len(sim.replies("x")) == 1  # the first and only post
    failed = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.REPLY_FAILED)
    assert failed.data["unconfirmed"] is True


# ---- duplicate content ---------------------------------------------------------------------


@pytest.mark.parametrize("network", ["x", "facebook"])
def test_a_duplicate_content_answer_reconciles_to_the_first_post(
    network, sim, clock, channels, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, channels[network], KIND[network]).case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    path = PUBLISH_PATH[network]
    # The first post is listed only after the whole settle window: the desk posts again,
    # and the network refuses the copy as X and Graph do.
    sim.fault(network, "accept_then_500", path_contains=path)
    sim.fault(network, "visibility_lag", path_contains=path, seconds=SCHEDULE[-1].seconds + 60)
    sim.fault(network, "duplicate_content", path_contains=path)

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    assert look_ups(reply, clock)[-1] == SendOutcome.RETRY
    first = sim.replies(network)[0]["id"]

    again = sending.send_reply(reply.pk, now=clock.at(reply.next_attempt_at))
    assert again == SendOutcome.CHECKING  # refused as a duplicate: reconciling, not failed
    reply.refresh_from_db()
    assert reply.duplicate_answer and reply.state == State.RECONCILING
    assert sim.stats()["faults_fired"]["duplicate_content"] == 1

    assert look_ups(reply, clock)[-1] == SendOutcome.SENT
    assert [r["id"] for r in sim.replies(network)] == [first]
    assert reply.state == State.SENT and reply.external_id == first
    assert reply.attempts == 2


def test_a_duplicate_answer_with_no_post_to_find_fails_unconfirmed_and_never_posts(
    sim, clock, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    sent = queue_committed(django_capture_on_commit_callbacks, case, agent, text=reply.text)
    assert sending.send_reply(sent.pk) == SendOutcome.SENT  # the same text, another reply
    sim.fault("x", "duplicate_content", path_contains="/2/tweets")

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING
    assert look_ups(reply, clock)[-1] == SendOutcome.FAILED

    assert reply.state == State.FAILED and reply.unconfirmed
    assert "refused this reply as a copy" in reply.error
    assert len(sim.replies("x")) == 1


# ---- identical replies ---------------------------------------------------------------------


@pytest.mark.parametrize("network", ["x", "facebook"])
def test_two_identical_replies_to_one_post_are_each_posted_once_with_their_own_ids(
    network, sim, clock, channels, agent, enqueued, django_capture_on_commit_callbacks
):
    mention = ingest_one(sim, channels[network], KIND[network])
    text = "Thanks, we are on it."
    first = queue_committed(
        django_capture_on_commit_callbacks, mention.case, agent, text=text, in_reply_to=mention
    )
    assert sending.send_reply(first.pk) == SendOutcome.SENT
    second = queue_committed(
        django_capture_on_commit_callbacks, mention.case, agent, text=text, in_reply_to=mention
    )
    sim.fault(network, "accept_then_500", path_contains=PUBLISH_PATH[network])
    sim.fault(network, "visibility_lag", path_contains=PUBLISH_PATH[network], seconds=30)

    # The first reply's post matches everything but its id: it is not taken for the second.
    assert sending.send_reply(second.pk) == SendOutcome.CHECKING
    assert look_ups(second, clock)[-1] == SendOutcome.SENT

    first.refresh_from_db()
    received = [r["id"] for r in sim.replies(network)]
    assert len(received) == 2
    assert [first.external_id, second.external_id] == received


def test_an_id_held_by_another_reply_is_never_recorded_for_a_second_one(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    first = queue_committed(django_capture_on_commit_callbacks, case, agent)
    assert sending.send_reply(first.pk) == SendOutcome.SENT
    first.refresh_from_db()
    second = queue_committed(django_capture_on_commit_callbacks, case, agent)

    assert sending._record_sent(second, first.external_id) is False

    second.refresh_from_db()
    assert second.state == State.QUEUED and second.external_id == ""


# ---- claims --------------------------------------------------------------------------------


def test_a_worker_whose_claim_was_taken_over_does_not_publish(
    sim, clock, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    t0 = timezone.now()
    claimed = sending.claim_reply(reply.pk, now=t0)
    assert claimed is not None and claimed.claim_token is not None

    # The worker freezes (SIGSTOP, a VM pause); the recovery takes its claim over.
    later = t0 + sending.claim_lease() + timedelta(seconds=1)
    assert sending.recover_stuck_replies(now=later)["reconciled"] == 1
    # The worker wakes up and reaches the network call.
    assert sending.publish_claimed(claimed, now=t0 + timedelta(seconds=1)) == "not_claimed"
    assert sim.replies("x") == []

    reply.refresh_from_db()
    assert reply.state == State.RECONCILING and reply.claim_token is None
    assert look_ups(reply, clock)[-1] == SendOutcome.RETRY  # never published: posted now
    assert sending.send_reply(reply.pk, now=clock.at(reply.next_attempt_at)) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1


def test_a_worker_whose_lease_runs_out_hands_the_reply_back_unpublished(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    t0 = timezone.now()
    claimed = sending.claim_reply(reply.pk, now=t0)

    too_late = t0 + sending.claim_lease() - sending.publish_budget() + timedelta(seconds=1)
    assert sending.publish_claimed(claimed, now=too_late) == SendOutcome.RETRY

    assert sim.replies("x") == []
    reply.refresh_from_db()
    assert reply.state == State.QUEUED and reply.attempts == 0 and reply.claim_token is None
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1


def test_each_claim_carries_a_new_token_and_the_first_attempt_time_stays(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    t0 = timezone.now()
    one = sending.claim_reply(reply.pk, now=t0)
    Reply.objects.filter(pk=reply.pk).update(state=State.QUEUED)
    two = sending.claim_reply(reply.pk, now=t0 + timedelta(minutes=1))
    assert one.claim_token != two.claim_token
    assert two.first_attempt_at == t0 and two.sending_started_at == t0 + timedelta(minutes=1)


# ---- controls ------------------------------------------------------------------------------


def test_an_agents_own_decision_cannot_lift_the_radars_escalation(
    sim, x_channel_sim, agent, supervisor, enqueued, django_capture_on_commit_callbacks
):
    DeskSettings.objects.update_or_create(pk=1, defaults={"approval_for_escalated": True})
    case = ingest_one(sim, x_channel_sim, "mention").case
    Case.objects.filter(pk=case.pk).update(
        triage_suggestion="escalate", triage_decision="engage", triage_decided_by=agent
    )
    case.refresh_from_db()

    assert sending.needs_approval(case)
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    assert reply.state == State.AWAITING_APPROVAL

    Case.objects.filter(pk=case.pk).update(triage_decided_by=supervisor)
    case.refresh_from_db()
    assert not sending.needs_approval(case)  # a supervisor may lift it


def unconfirmed_failure(case: Case, agent) -> Reply:
    return Reply.objects.create(
        case=case,
        author=agent,
        text="Sorry about that!",
        state=State.FAILED,
        unconfirmed=True,
        error="could not confirm whether X received this reply (timeout): look on X",
    )


def test_an_agent_cannot_send_an_unconfirmed_reply_again_and_a_supervisor_can(
    sim, x_channel_sim, agent, supervisor, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = unconfirmed_failure(case, agent)
    url = reverse("cases:retry", args=[reply.pk])

    page = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Only a supervisor can send it again." in page and url not in page
    response = logged_in(agent).post(url, follow=True)
    assert "only a supervisor can send it again" in response.content.decode()
    reply.refresh_from_db()
    assert reply.state == State.FAILED and reply.unconfirmed

    page = logged_in(supervisor).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "look at the conversation there first" in page and url in page
    assert "I checked: send it again" in page
    with django_capture_on_commit_callbacks(execute=True):
        logged_in(supervisor).post(url)
    reply.refresh_from_db()
    assert reply.state == State.QUEUED and not reply.unconfirmed
    assert enqueued[-1] == reply.pk
    retried = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.REPLY_QUEUED)
    assert retried.actor == supervisor and retried.data["unconfirmed"] is True


def test_an_ordinary_failure_keeps_the_agents_retry(sim, x_channel_sim, agent, enqueued):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = Reply.objects.create(
        case=case, author=agent, text="Hi!", state=State.FAILED, error="X refused it"
    )
    sending.do_retry_reply(reply, actor=agent)
    assert reply.state == State.QUEUED


# ---- the composer's submit token -----------------------------------------------------------


def test_the_submit_token_is_unique_in_the_database(sim, x_channel_sim, agent):
    case = ingest_one(sim, x_channel_sim, "mention").case
    token = "0" * 31 + "1"
    Reply.objects.create(case=case, author=agent, text="a", submit_token=token)
    Reply.objects.create(case=case, author=agent, text="b")  # no token: no limit
    Reply.objects.create(case=case, author=agent, text="c")
    with pytest.raises(IntegrityError):
        Reply.objects.create(case=case, author=agent, text="d", submit_token=token)


def test_queueing_the_same_submit_token_twice_names_the_first_reply(
    sim, x_channel_sim, agent, enqueued
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    token = "ab" * 16
    first = sending.do_queue_reply(
        case, author=agent, text="Hi!", is_private=False, submit_token=token
    )
    with pytest.raises(AlreadySubmitted) as refused:
        sending.do_queue_reply(case, author=agent, text="Hi!", is_private=False, submit_token=token)
    assert refused.value.reply == first
    assert Reply.objects.count() == 1


def test_a_database_error_while_queueing_leaves_nothing_and_the_resend_works(
    sim, x_channel_sim, agent, enqueued, monkeypatch
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    client = logged_in(agent)
    fields = {"text": "Sorry to hear that, we are on it.", "submit_token": "cd" * 16}
    url = reverse("cases:send", args=[case.pk])

    def lost(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr(CaseEvent.objects, "bulk_create", lost)
        failed = client.post(url, fields, HTTP_HX_REQUEST="true")
    assert "could not save the reply" in failed.content.decode()
    assert not Reply.objects.exists()

    sent = client.post(url, fields, HTTP_HX_REQUEST="true")
    assert "Reply queued" in sent.content.decode()
    assert Reply.objects.get().submit_token.hex == "cd" * 16
    again = client.post(url, fields, HTTP_HX_REQUEST="true")
    assert "This reply was already sent." in again.content.decode()
    assert Reply.objects.count() == 1
