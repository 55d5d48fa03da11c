"""Sending replies at most once: the real connectors (tweepy, facebook-sdk) against the simulator.

Each fault test asserts through the simulator's own record (`sim.replies(network)`) how many
times the network received the reply. Cases come from simulator posts polled through the
real poller. Celery is not eager here: `enqueued` records the task messages the code sends
(after commit), and the tests run the task body, `sending.send_reply`, themselves.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from cases import sending, tasks
from cases.models import Case, CaseEvent, CaseStatus, DeskSettings, Identity, Reply
from cases.sending import SendOutcome
from listening.connectors.x import XConnector
from listening.models import Channel, Mention
from tests.conftest import X_BRAND, make_channel, make_user, wait_for
from tests.factories import ingest_one, make_case, queue_committed, queue_reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


State = Reply.State
Kind = CaseEvent.Kind


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler sees it."""


def send_killed_at(monkeypatch, owner, name: str, reply: Reply) -> None:
    """Run the send task as a worker SIGKILLed when it reaches `owner.name`."""

    def die(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(owner, name, die)
        with pytest.raises(WorkerKilled):
            sending.send_reply(reply.pk)


def claim_outlived(reply: Reply) -> None:
    """The reply's send began longer ago than the task time limit plus the recovery margin."""
    limit = settings.CELERY_TASK_TIME_LIMIT + settings.REPLY_RECOVERY_MARGIN_SECONDS + 1
    Reply.objects.filter(pk=reply.pk).update(
        sending_started_at=timezone.now() - timedelta(seconds=limit)
    )


def come_due(reply: Reply) -> None:
    """Time passes until the reply's retry time."""
    Reply.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def settle(reply: Reply) -> list[str]:
    """Run a reconciling reply's look-ups as the beat does, each as it comes due."""
    outcomes = []
    for _ in range(len(sending.settle_schedule()) + 1):
        if Reply.objects.get(pk=reply.pk).state != State.RECONCILING:
            break
        come_due(reply)
        outcomes.append(sending.send_reply(reply.pk))
    return outcomes


def events(case: Case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))


# ---- the normal path -----------------------------------------------------------------------


def test_queued_reply_is_enqueued_on_commit_and_sent_once_as_an_x_reply(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    mention = ingest_one(sim, x_channel_sim, "mention")
    case = mention.case
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply = queue_reply(case, agent)
    assert enqueued == []  # nothing leaves before the transaction commits
    assert reply.state == State.QUEUED and reply.queued_at is not None
    assert reply.in_reply_to == mention
    callbacks[0]()
    assert enqueued == [reply.pk]

    assert tasks.send_reply(reply.pk) == SendOutcome.SENT  # the Celery task's body

    received = sim.replies("x")
    assert len(received) == 1
    assert received[0]["kind"] == "tweet"
    assert received[0]["in_reply_to"] == mention.external_id
    assert received[0]["text"] == reply.text
    reply.refresh_from_db()
    assert reply.state == State.SENT
    assert reply.external_id == received[0]["id"]
    assert reply.attempts == 1 and reply.error == ""
    case.refresh_from_db()
    assert case.first_response_at == reply.sent_at
    assert case.status == CaseStatus.PENDING  # waiting for the customer
    assert events(case) == [Kind.REPLY_QUEUED, Kind.REPLY_SENT, Kind.STATUS]
    x_channel_sim.refresh_from_db()
    assert x_channel_sim.api_posts == 1


def test_running_the_task_twice_for_one_reply_posts_once(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)

    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    assert sending.send_reply(reply.pk) == SendOutcome.NOT_CLAIMED

    assert len(sim.replies("x")) == 1
    reply.refresh_from_db()
    assert reply.attempts == 1


def test_a_reply_to_an_older_post_keeps_the_case_open_when_the_customer_wrote_since(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.OPEN)
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    Case.objects.filter(pk=case.pk).update(last_inbound_at=timezone.now() + timedelta(seconds=5))

    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert case.first_response_at is not None


# ---- faults: at most once ------------------------------------------------------------------


def test_reply_is_posted_once_when_the_worker_dies_after_publishing(
    sim, x_channel_sim, agent, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    enqueued.clear()

    send_killed_at(monkeypatch, sending, "_record_sent", reply)  # published, not recorded
    assert len(sim.replies("x")) == 1
    reply.refresh_from_db()
    assert reply.state == State.SENDING

    # A live worker may still hold a recent claim: the recovery leaves it alone.
    assert sending.recover_stuck_replies() == {"reconciled": 0, "enqueued": 0}
    reply.refresh_from_db()
    assert reply.state == State.SENDING

    claim_outlived(reply)
    assert tasks.recover_stuck_replies() == {"reconciled": 1, "enqueued": 1}
    reply.refresh_from_db()
    assert reply.state == State.RECONCILING and reply.claim_token is None
    assert enqueued == [reply.pk]
    assert sending.send_reply(reply.pk) == SendOutcome.SENT  # the look-up the beat enqueued

    received = sim.replies("x")
    assert len(received) == 1  # found, not posted again
    reply.refresh_from_db()
    assert reply.state == State.SENT
    assert reply.external_id == received[0]["id"]
    assert Kind.REPLY_SENT in events(case)


def test_a_reply_left_sending_is_taken_over_after_the_time_limit_plus_the_margin(settings):
    settings.CELERY_TASK_TIME_LIMIT, settings.REPLY_RECOVERY_MARGIN_SECONDS = 20, 5

    assert sending.claim_lease() == timedelta(seconds=25)


def test_reply_lost_before_publishing_is_reconciled_then_sent_once(
    sim, x_channel_sim, agent, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    enqueued.clear()

    send_killed_at(monkeypatch, XConnector, "publish", reply)  # claimed, not published
    reply.refresh_from_db()
    assert reply.state == State.SENDING
    claim_outlived(reply)

    assert sending.recover_stuck_replies() == {"reconciled": 1, "enqueued": 1}
    assert enqueued == [reply.pk]

    # Not listed is not "not sent": every look-up of the settle window runs first.
    outcomes = settle(reply)
    assert outcomes == [SendOutcome.CHECKING] * (len(sending.settle_schedule()) - 1) + [
        SendOutcome.RETRY
    ]
    reply.refresh_from_db()
    assert reply.state == State.QUEUED
    assert "worker stopped" in reply.error and "did not list it" in reply.error
    assert sim.replies("x") == []
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1
    reply.refresh_from_db()
    assert reply.attempts == 2


def test_timeout_after_x_accepted_the_reply_is_recorded_as_sent_once(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    sim.fault("x", "accept_then_timeout", path_contains="/2/tweets")

    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    received = sim.replies("x")
    assert len(received) == 1
    reply.refresh_from_db()
    assert reply.state == State.SENT
    assert reply.external_id == received[0]["id"]
    assert reply.attempts == 1


@pytest.mark.parametrize("fault", ["500", "503"])
def test_server_error_on_x_is_reconciled_retried_later_and_posted_once(
    fault, sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    enqueued.clear()
    sim.fault("x", fault, path_contains="/2/tweets")
    started = timezone.now()

    assert sending.send_reply(reply.pk) == SendOutcome.CHECKING

    assert sim.replies("x") == []
    reply.refresh_from_db()
    assert reply.state == State.RECONCILING and reply.reconcile_checks == 1
    assert reply.next_attempt_at >= started + sending.settle_schedule()[1]
    assert fault in reply.error
    # Not due yet: a duplicate message finds nothing to do, the recovery enqueues nothing.
    assert sending.send_reply(reply.pk) == SendOutcome.NOT_CLAIMED
    assert sending.recover_stuck_replies()["enqueued"] == 0

    come_due(reply)
    assert sending.recover_stuck_replies()["enqueued"] == 1
    assert sending.recover_stuck_replies()["enqueued"] == 0  # its message is still queued
    assert enqueued == [reply.pk]
    assert settle(reply)[-1] == SendOutcome.RETRY
    reply.refresh_from_db()
    assert reply.state == State.QUEUED and reply.next_attempt_at <= timezone.now()
    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    assert len(sim.replies("x")) == 1
    reply.refresh_from_db()
    assert reply.state == State.SENT and reply.attempts == 2 and reply.error == ""


def test_rate_limit_waits_until_the_reset_time_then_posts_once(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    other = queue_committed(django_capture_on_commit_callbacks, case, agent, text="And thanks!")
    enqueued.clear()
    sim.fault("x", "429", path_contains="/2/tweets", reset_in=600)
    expected_reset = timezone.now() + timedelta(seconds=600)

    assert sending.send_reply(reply.pk) == SendOutcome.RETRY

    reply.refresh_from_db()
    assert reply.state == State.QUEUED
    assert abs((reply.next_attempt_at - expected_reset).total_seconds()) <= 3
    assert reply.attempts == 0  # the network refused before doing anything
    assert "rate limit" in reply.error
    other.refresh_from_db()
    assert other.next_attempt_at == reply.next_attempt_at  # same channel, same limit
    assert sending.send_reply(other.pk) == SendOutcome.NOT_CLAIMED
    assert sending.recover_stuck_replies()["enqueued"] == 0
    assert sim.replies("x") == []

    come_due(reply)
    assert sending.recover_stuck_replies()["enqueued"] == 1
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    received = sim.replies("x")
    assert len(received) == 1 and received[0]["text"] == reply.text


def test_revoked_token_fails_the_reply_with_the_reason_and_flags_the_channel(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    enqueued.clear()
    sim.fault("x", "revoked", path_contains="/2/tweets")

    assert sending.send_reply(reply.pk) == SendOutcome.FAILED

    assert sim.replies("x") == []
    reply.refresh_from_db()
    assert reply.state == State.FAILED
    assert "the channel's token was rejected: an admin must reconnect it" in reply.error
    x_channel_sim.refresh_from_db()
    assert x_channel_sim.needs_reauth
    assert "reconnect" in x_channel_sim.last_error
    failure = CaseEvent.objects.get(case=case, kind=Kind.REPLY_FAILED)
    assert failure.data["reason"] == reply.error
    assert failure.actor is None

    # Retrying before an admin reconnects would fail the same way: refused with the reason.
    with pytest.raises(ValueError, match="reconnected by an admin"):
        sending.do_retry_reply(reply, actor=agent)
    Channel.objects.filter(pk=x_channel_sim.pk).update(needs_reauth=False)
    with django_capture_on_commit_callbacks(execute=True):
        sending.do_retry_reply(reply, actor=agent)
    assert reply.state == State.QUEUED and reply.error == "" and reply.attempts == 0
    assert enqueued == [reply.pk]
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1
    with pytest.raises(ValueError, match="Only a failed reply"):
        sending.do_retry_reply(reply, actor=agent)


def test_network_refusal_fails_with_the_networks_reason(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    too_long = "We are so sorry. " * 20  # 340 characters: X refuses it
    reply = queue_committed(
        django_capture_on_commit_callbacks,
        case,
        agent,
        text=too_long,
        checks=[{"code": "length", "severity": "block", "message": "Too long for X"}],
        override_reason="testing the network's own refusal",
    )

    assert sending.send_reply(reply.pk) == SendOutcome.FAILED

    reply.refresh_from_db()
    assert reply.state == State.FAILED
    assert "too long" in reply.error
    assert sim.replies("x") == []
    x_channel_sim.refresh_from_db()
    assert not x_channel_sim.needs_reauth


def test_sender_gives_up_after_five_attempts_with_the_last_reason(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)
    sim.fault("x", "503", count=sending.MAX_ATTEMPTS, path_contains="/2/tweets")

    outcomes = []
    for _ in range(sending.MAX_ATTEMPTS):
        assert sending.send_reply(reply.pk) == SendOutcome.CHECKING  # a 5xx is ambiguous
        outcomes.append(settle(reply)[-1])
        come_due(reply)

    assert outcomes == [SendOutcome.RETRY] * 4 + [SendOutcome.FAILED]
    reply.refresh_from_db()
    assert reply.state == State.FAILED
    assert reply.error.startswith("gave up after 5 attempts: ")
    assert "503" in reply.error
    assert sim.replies("x") == []
    assert events(case).count(Kind.REPLY_FAILED) == 1


def test_retry_delays_double_and_are_capped():
    assert [sending.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert sending.retry_delay(20) == sending.RETRY_MAX


# ---- approval ------------------------------------------------------------------------------


def test_reply_on_an_escalated_case_waits_for_a_supervisor(
    sim, x_channel_sim, agent, supervisor, enqueued, django_capture_on_commit_callbacks
):
    DeskSettings.objects.update_or_create(pk=1, defaults={"approval_for_escalated": True})
    case = ingest_one(sim, x_channel_sim, "mention").case
    Case.objects.filter(pk=case.pk).update(triage_decision="escalate")
    case.refresh_from_db()

    reply = queue_committed(django_capture_on_commit_callbacks, case, agent)

    assert reply.state == State.AWAITING_APPROVAL and reply.needs_approval
    assert reply.queued_at is None
    assert enqueued == []
    assert sending.send_reply(reply.pk) == SendOutcome.NOT_CLAIMED
    assert CaseEvent.objects.get(case=case, kind=Kind.REPLY_QUEUED).data["awaiting_approval"]

    with django_capture_on_commit_callbacks(execute=True):
        sending.do_approve_reply(reply, approver=supervisor)
    assert reply.state == State.QUEUED
    assert reply.approved_by == supervisor and reply.approved_at is not None
    assert enqueued == [reply.pk]
    assert CaseEvent.objects.get(case=case, kind=Kind.REPLY_APPROVED).actor == supervisor
    with pytest.raises(ValueError, match="no longer waiting"):
        sending.do_approve_reply(reply, approver=supervisor)

    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    assert len(sim.replies("x")) == 1

    # A supervisor's own reply on such a case needs no second pair of eyes.
    own = queue_committed(django_capture_on_commit_callbacks, case, supervisor, text="On it.")
    assert own.state == State.QUEUED and own.approved_by == supervisor


@pytest.mark.parametrize(
    ("desk", "case_fields", "followers", "expected"),
    [
        ({}, {"triage_suggestion": "escalate", "sentiment": -0.9}, 10**6, False),
        ({"approval_for_escalated": True}, {"triage_suggestion": "escalate"}, 10, True),
        # A decision by no one who may approve does not lift the radar's escalation.
        (
            {"approval_for_escalated": True},
            {"triage_suggestion": "escalate", "triage_decision": "engage"},
            10,
            True,
        ),
        ({"approval_for_escalated": True}, {"triage_decision": "escalate"}, 10, True),
        ({"approval_min_followers": 5000}, {}, 4999, False),
        ({"approval_min_followers": 5000}, {}, 5000, True),
        ({"approval_max_sentiment": -0.5}, {"sentiment": -0.4}, 10, False),
        ({"approval_max_sentiment": -0.5}, {"sentiment": -0.5}, 10, True),
    ],
)
def test_needs_approval_follows_the_desk_settings(
    sim, x_channel_sim, desk, case_fields, followers, expected
):
    DeskSettings.objects.update_or_create(pk=1, defaults=desk)
    case = ingest_one(sim, x_channel_sim, "mention").case
    Case.objects.filter(pk=case.pk).update(**case_fields)
    Identity.objects.filter(customer=case.customer).update(followers=followers)
    case.refresh_from_db()
    assert sending.needs_approval(case) is expected


# ---- validation ----------------------------------------------------------------------------


def test_empty_reply_and_unjustified_override_are_refused(sim, x_channel_sim, agent, enqueued):
    case = ingest_one(sim, x_channel_sim, "mention").case
    with pytest.raises(ValueError, match="The reply is empty"):
        queue_reply(case, agent, text="   \n ")
    blocking = {"code": "pii", "severity": "block", "message": "Remove the phone number"}
    with pytest.raises(ValueError, match="Remove the phone number"):
        queue_reply(case, agent, checks=[blocking])
    assert not Reply.objects.exists()


def test_override_reason_and_checks_are_recorded(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    case = ingest_one(sim, x_channel_sim, "mention").case
    warn = {"code": "empathy", "severity": "warn", "message": "No empathy on an angry case"}
    block = {"code": "pii", "severity": "block", "message": "Phone number in public"}
    reply = queue_committed(
        django_capture_on_commit_callbacks,
        case,
        agent,
        checks=[warn, block],
        override_reason="It is our public hotline number",
    )
    assert reply.checks == [warn, block]
    assert reply.override_reason == "It is our public hotline number"
    override = CaseEvent.objects.get(case=case, kind=Kind.CHECK_OVERRIDDEN)
    assert override.actor == agent
    assert override.data["checks"] == ["pii"]
    assert override.data["reason"] == "It is our public hotline number"


def test_a_post_of_another_case_is_refused(sim, x_channel_sim, agent, enqueued):
    first = ingest_one(sim, x_channel_sim, "mention")
    second = ingest_one(sim, x_channel_sim, "mention")
    assert first.case_id != second.case_id
    with pytest.raises(ValueError, match="another case"):
        queue_reply(first.case, agent, in_reply_to=second)


# ---- private replies -----------------------------------------------------------------------


def test_taking_an_x_case_offline_sends_one_dm_to_the_customer(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    mention = ingest_one(sim, x_channel_sim, "mention")
    with django_capture_on_commit_callbacks(execute=True):
        reply = sending.do_queue_reply(
            mention.case,
            author=agent,
            text="Let's continue in DM: your order number?",
            is_private=True,
        )

    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    received = sim.replies("x")
    assert len(received) == 1
    assert received[0]["kind"] == "dm"
    assert received[0]["recipient"] == mention.author.external_id
    reply.refresh_from_db()
    assert reply.external_id == received[0]["id"]


def test_an_x_dm_conversation_is_answered_privately_only(
    sim, x_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    dm = ingest_one(sim, x_channel_sim, "dm")
    assert dm.is_private
    with pytest.raises(ValueError, match="private conversation"):
        queue_reply(dm.case, agent)

    with django_capture_on_commit_callbacks(execute=True):
        reply = sending.do_queue_reply(dm.case, author=agent, text="Thanks!", is_private=True)
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    received = sim.replies("x")
    assert [(r["kind"], r["recipient"]) for r in received] == [("dm", dm.author.external_id)]


def test_facebook_comment_gets_a_public_reply_and_one_private_reply(
    sim, fb_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    comment = ingest_one(sim, fb_channel_sim, "comment")
    case = comment.case
    public = queue_committed(django_capture_on_commit_callbacks, case, agent)
    with django_capture_on_commit_callbacks(execute=True):
        private = sending.do_queue_reply(
            case, author=agent, text="I sent you a message.", is_private=True
        )
    with pytest.raises(ValueError, match="one private reply per comment"):
        sending.do_queue_reply(case, author=agent, text="Another one", is_private=True)

    assert sending.send_reply(public.pk) == SendOutcome.SENT
    assert sending.send_reply(private.pk) == SendOutcome.SENT

    received = sim.replies("facebook")
    assert [(r["kind"], r["in_reply_to"]) for r in received] == [
        ("comment", comment.external_id),
        ("private_reply", comment.external_id),
    ]
    private.refresh_from_db()
    assert private.external_id == received[1]["id"]


def test_facebook_private_reply_after_a_timeout_is_found_and_not_sent_again(
    sim, fb_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    comment = ingest_one(sim, fb_channel_sim, "comment")
    with django_capture_on_commit_callbacks(execute=True):
        reply = sending.do_queue_reply(
            comment.case, author=agent, text="Let's talk in private.", is_private=True
        )
    sim.fault("facebook", "accept_then_timeout", path_contains="/messages")

    assert sending.send_reply(reply.pk) == SendOutcome.SENT

    received = sim.replies("facebook")
    assert len(received) == 1 and received[0]["kind"] == "private_reply"
    reply.refresh_from_db()
    assert reply.external_id == received[0]["id"]


def test_facebook_private_reply_to_a_comment_older_than_seven_days_is_refused(
    sim, fb_channel_sim, agent, enqueued
):
    comment = ingest_one(sim, fb_channel_sim, "comment")
    Mention.objects.filter(pk=comment.pk).update(posted_at=timezone.now() - timedelta(days=8))
    with pytest.raises(ValueError, match="only within 7 d of it"):
        sending.do_queue_reply(comment.case, author=agent, text="Hello", is_private=True)
    assert not Reply.objects.exists()
    queue_reply(comment.case, agent)  # a public answer is still possible


def test_messenger_reply_inside_the_24_hour_window_is_sent_and_outside_is_refused(
    sim, fb_channel_sim, agent, enqueued, django_capture_on_commit_callbacks
):
    message = ingest_one(sim, fb_channel_sim, "message")
    case = message.case
    assert case.is_private and message.kind == "dm"
    with django_capture_on_commit_callbacks(execute=True):
        reply = sending.do_queue_reply(case, author=agent, text="Happy to help!", is_private=True)
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    received = sim.replies("facebook")
    assert [(r["kind"], r["recipient"]) for r in received] == [
        ("message", message.author.external_id)
    ]

    Mention.objects.filter(case=case).update(posted_at=timezone.now() - timedelta(hours=25))
    with pytest.raises(ValueError, match="within 24 h of the customer's last message"):
        sending.do_queue_reply(case, author=agent, text="Still there?", is_private=True)


# ---- the other beat jobs -------------------------------------------------------------------


def test_snoozed_cases_wake_up_when_their_time_comes(sim, x_channel_sim):
    due, later, waiting = (ingest_one(sim, x_channel_sim, "mention").case for _ in range(3))
    now = timezone.now()
    Case.objects.filter(pk=due.pk).update(
        status=CaseStatus.PENDING, snoozed_until=now - timedelta(minutes=1)
    )
    Case.objects.filter(pk=later.pk).update(
        status=CaseStatus.PENDING, snoozed_until=now + timedelta(hours=1)
    )
    Case.objects.filter(pk=waiting.pk).update(status=CaseStatus.PENDING)

    assert tasks.wake_snoozed_cases() == 1

    statuses = dict(Case.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: CaseStatus.OPEN,
        later.pk: CaseStatus.PENDING,
        waiting.pk: CaseStatus.PENDING,
    }
    due.refresh_from_db()
    assert due.snoozed_until is None and due.updated_at >= now
    event = CaseEvent.objects.get(case=due, kind=Kind.STATUS)
    assert event.actor is None
    assert (event.data["from"], event.data["to"]) == ("pending", "open")
    assert tasks.wake_snoozed() == 0


def test_a_supervisor_persona_may_approve_and_an_agent_may_not(agent, supervisor):
    # do_approve_reply trusts its caller to check this permission.
    assert supervisor.has_perm("cases.approve_reply")
    assert not agent.has_perm("cases.approve_reply")
    assert not make_user("someone", None).has_perm("cases.approve_reply")


# ---- a real worker -------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("worker", [{"beat": False}], ids=["no beat"], indirect=True)
def test_a_celery_worker_sends_a_queued_reply_once(simulator, worker, settings):
    settings.X_API_BASE_URL = simulator.url  # this process polls; the worker only sends
    channel = make_channel(
        "x", external_account_id=X_BRAND, handle="acme_support", credentials={"bearer_token": "t"}
    )
    agent = make_user("wendy_worker_test", "agent")
    case = ingest_one(simulator, channel, "mention").case

    reply = queue_reply(case, agent)  # autocommit: the task message leaves on commit

    wait_for(lambda: Reply.objects.get(pk=reply.pk).state == State.SENT)
    reply.refresh_from_db()
    received = simulator.replies("x")
    assert [r["id"] for r in received] == [reply.external_id]
    # A duplicate message for the same reply (a redelivery) changes nothing. The worker runs
    # its messages one at a time, in order: once a snoozed case queued after it has woken,
    # the duplicate has been handled.
    tasks.send_reply.delay(reply.pk)
    due = make_case(channel, status=CaseStatus.PENDING, snoozed_until=timezone.now())
    tasks.wake_snoozed_cases.delay()
    wait_for(lambda: Case.objects.get(pk=due.pk).status == CaseStatus.OPEN)
    assert len(simulator.replies("x")) == 1
