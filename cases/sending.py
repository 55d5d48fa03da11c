"""Sending replies: queue, approve, retry, and post each reply **at most once**.

States (see `Reply`): approval → queued → sending → sent | failed; failed → queued on retry.

The protocol of `send_reply(reply_id)`, run by the Celery task `cases.tasks.send_reply`:

1. **Claim.** A conditional UPDATE moves the reply from queued to sending (attempts + 1,
   sending_started_at = now), only if its next_attempt_at has come. 0 rows: another worker
   has it, it is done, or it is waiting for a retry time: nothing to do. Duplicate task
   messages (a redelivery, a re-enqueue) are therefore harmless.
2. **Publish** through `get_connector(channel.network).publish(reply)`.
3. **Success**: sending → sent with the network's id and sent_at; the case's
   first_response_at if unset; the channel's post counter; CaseEvent REPLY_SENT. A case that
   is "new" or "open" becomes **"pending"** (waiting for the customer), unless the customer
   wrote again after the agent wrote this reply; ingest moves a pending case back to "open"
   when the customer answers, and the move is recorded as a STATUS event from the desk.
   A proof of publication wins over any other state: it is recorded even if the row was
   meanwhile requeued or given up.
4. **AmbiguousSend** (timeout or 5xx after the request may have reached the network):
   `connector.find_published(reply)` at once. Found → sent with that id. Not found → back
   to queued with next_attempt_at = now + backoff. The look-up itself failing → the reply
   stays in "sending" and step 6 reconciles it later; it is never re-published blind.
5. **RateLimited** (the network refused, nothing posted): queued with next_attempt_at =
   the reset time; the channel's other queued replies wait for it too. Such an attempt does
   not count towards the cap. **TransientError** (the request never reached the network):
   queued with backoff. **AuthError**: failed, "the channel's token was rejected: an admin
   must reconnect it", and channel.needs_reauth = True (the admin banner).
   **PermanentError**: failed with the network's reason. After MAX_ATTEMPTS attempts a
   retryable failure becomes failed ("gave up after 5 attempts: <last reason>"). Every
   failure writes CaseEvent REPLY_FAILED with the reason and stays visible on the case.
6. **Recovery** (`recover_stuck_replies`, beat every 30 s). A worker killed between 1 and 3
   leaves the reply in "sending". Once sending_started_at is older than the task's hard
   time limit + 60 s (no live worker can still hold it), the reply is reconciled with
   `find_published` BEFORE any retry: found → sent, not found → queued (or failed at the
   cap). The same beat re-enqueues queued replies whose next_attempt_at has passed: retries
   are driven by that column, not by Celery countdowns, so they survive a broker restart.

Every state change is a conditional UPDATE on the state the change starts from, so two
actors (a worker and the recovery, two recoveries) can never both apply one. Tasks are
enqueued only after the transaction that queued the reply commits (`delay_on_commit`).
"""

import logging
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from cases.actions import do_add_note
from cases.models import Case, CaseEvent, CaseStatus, DeskSettings, Identity, Reply, Triage
from listening.connectors import Connector, get_connector
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
)
from listening.models import Channel, Mention
from listening.networks import POLICIES
from socialdesk import locks

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from cases.checks import CheckResult

log = logging.getLogger(__name__)

State = Reply.State

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)
# A reply whose "did it go out?" question cannot be answered for this long is failed with
# a message telling the agent to look on the network before retrying.
RECONCILE_GIVE_UP = timedelta(hours=6)
# A queued reply with no retry time whose first task message is older than this is enqueued
# again (the message may have been lost with the broker).
ENQUEUE_GRACE = timedelta(minutes=2)
# While a task message for a reply is believed to be in the broker, the recovery does not
# add another one: a backlog must not fill the queue with copies.
ENQUEUED_MARK_TTL = 300
RECOVERY_BATCH = 200

AUTH_FAILURE = "the channel's token was rejected: an admin must reconnect it"


class SendOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # back to queued, next_attempt_at set
    FAILED = "failed"
    UNKNOWN = "unknown"  # still "sending": could not tell whether it went out; recovery will
    NOT_CLAIMED = "not_claimed"  # someone else has it, it is done, or not due yet


# ---- queueing --------------------------------------------------------------------------------


def needs_approval(case: Case) -> bool:
    """Whether a reply on `case` must wait for a supervisor, per DeskSettings.

    Escalated cases (the agent's triage decision, else the radar's suggestion), customers
    whose largest identity has at least approval_min_followers, and cases at or below
    approval_max_sentiment. Each rule applies only when the admin has switched it on.
    """
    desk = DeskSettings.load()
    if desk.approval_for_escalated and (
        (case.triage_decision or case.triage_suggestion) == Triage.ESCALATE
    ):
        return True
    if desk.approval_max_sentiment is not None and case.sentiment <= desk.approval_max_sentiment:
        return True
    if desk.approval_min_followers is not None:
        reach = Identity.objects.filter(customer_id=case.customer_id).aggregate(
            reach=Max("followers")
        )["reach"]
        if reach is not None and reach >= desk.approval_min_followers:
            return True
    return False


def do_queue_reply(
    case: Case,
    *,
    author: "User",
    text: str,
    is_private: bool,
    in_reply_to: Mention | None = None,
    checks: Iterable["CheckResult | dict[str, Any]"] = (),
    override_reason: str = "",
) -> Reply:
    """Create a reply and queue it for sending (or for approval).

    Preconditions: the caller checked `cases.add_reply` and ran the guideline checks; their
    results come in `checks` (stored as shown to the agent). A blocking check needs an
    `override_reason`. Raises ValueError with a message for the agent when the reply cannot
    be sent: empty text, an override missing, a post of another case, or a private reply the
    network does not allow (no private replies, Messenger's window closed, a comment too old
    for a private reply or already answered privately) or a public answer to a private
    conversation. Replies on high-risk cases (`needs_approval`) wait in "approval" unless
    the author may approve replies. The send task is enqueued when the transaction commits.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("The reply is empty: write the message to send.")
    check_rows = [_check_row(item) for item in checks]
    override_reason = (override_reason or "").strip()
    blocking = [row for row in check_rows if row.get("severity") == "block"]
    if blocking and not override_reason:
        raise ValueError(
            "This reply fails a blocking check ("
            + "; ".join(str(row.get("message") or row.get("code")) for row in blocking)
            + "): fix it, or give a reason to override."
        )
    target = check_reply_target(case, is_private=is_private, in_reply_to=in_reply_to)

    now = timezone.now()
    approval = needs_approval(case)
    self_approved = approval and author.has_perm("cases.approve_reply")
    waits = approval and not self_approved
    with transaction.atomic():
        reply = Reply.objects.create(
            case=case,
            author=author,
            in_reply_to=target,
            text=text,
            is_private=is_private,
            state=State.AWAITING_APPROVAL if waits else State.QUEUED,
            checks=check_rows,
            override_reason=override_reason[:500],
            needs_approval=approval,
            approved_by=author if self_approved else None,
            approved_at=now if self_approved else None,
            created_at=now,
            queued_at=None if waits else now,
        )
        events = [
            CaseEvent(
                case=case,
                actor=author,
                kind=CaseEvent.Kind.REPLY_QUEUED,
                data={
                    "reply_id": reply.pk,
                    "private": is_private,
                    "awaiting_approval": waits,
                },
                created_at=now,
            )
        ]
        if override_reason:
            events.append(
                CaseEvent(
                    case=case,
                    actor=author,
                    kind=CaseEvent.Kind.CHECK_OVERRIDDEN,
                    data={
                        "reply_id": reply.pk,
                        "reason": override_reason[:500],
                        "checks": [row.get("code", "") for row in blocking],
                    },
                    created_at=now,
                )
            )
        CaseEvent.objects.bulk_create(events)
        _touch_case(case.pk, now)
        if not waits:
            _enqueue(reply.pk)
    log.info(
        "reply queued",
        extra={"reply_id": reply.pk, "case_id": case.pk, "state": str(reply.state)},
    )
    return reply


def check_reply_target(
    case: Case, *, is_private: bool, in_reply_to: Mention | None = None
) -> Mention:
    """The customer post a reply on `case` answers; ValueError saying why it cannot be sent.

    Without `in_reply_to`: the case's latest post that is not deleted (for a public reply,
    the latest public one). The composer may call this to refuse early.
    """
    channel = case.channel
    policy = POLICIES.get(channel.network)
    if policy is None:
        raise ValueError(f"Replies on {channel.get_network_display()} are not supported.")
    if is_private and not policy.private_replies:
        raise ValueError(f"{policy.label} has no private replies: reply in public.")

    if in_reply_to is not None:
        if in_reply_to.case_id != case.pk:
            raise ValueError("That post belongs to another case.")
        if in_reply_to.deleted_at is not None:
            raise ValueError("Its author deleted that post: it cannot be answered.")
        target = in_reply_to
    else:
        mentions = case.mentions.filter(deleted_at__isnull=True).select_related("author")
        if not is_private:
            mentions = mentions.filter(is_private=False)
        target = mentions.order_by("-posted_at", "-id").first()
        if target is None:
            if not is_private and case.mentions.filter(is_private=True).exists():
                raise ValueError("This is a private conversation: answer it with a private reply.")
            raise ValueError("The case has no customer post left to reply to.")
    if not is_private:
        if target.is_private:
            raise ValueError("This is a private conversation: answer it with a private reply.")
        return target

    now = timezone.now()
    if target.is_private:
        # A DM / Messenger conversation: the window runs from the customer's last message.
        if policy.private_window is not None:
            last = case.mentions.filter(is_private=True).aggregate(last=Max("posted_at"))["last"]
            last = max(filter(None, (last, target.posted_at)))
            if now - last > policy.private_window:
                raise ValueError(
                    f"{policy.label} allows a reply only within "
                    f"{_duration(policy.private_window)} of the customer's last message "
                    f"(theirs was {_ago(now - last)} ago): the customer must write again first."
                )
        return target

    # A private reply to a public post or comment.
    window = policy.private_reply_to_comment_window
    if window is not None:
        if now - target.posted_at > window:
            raise ValueError(
                f"{policy.label} allows a private reply to a comment only within "
                f"{_duration(window)} of it; this one is {_ago(now - target.posted_at)} old."
            )
        # Facebook: one private reply per comment.
        taken = Reply.objects.filter(in_reply_to=target, is_private=True).exclude(
            state__in=[State.FAILED, State.DRAFT]  # a sent-back draft has not used it
        )
        if taken.exists():
            raise ValueError(
                f"{policy.label} allows one private reply per comment, and this comment "
                "already has one: continue in that private conversation."
            )
    return target


@transaction.atomic
def do_send_back_reply(reply: Reply, *, approver: "User", note: str) -> bool:
    """Return a reply awaiting approval to its author as a draft, with an internal note.

    Preconditions: the approver holds cases.approve_reply (checked by the caller). Returns False
    when the reply was no longer awaiting approval (someone else approved it first).
    """
    claimed = Reply.objects.filter(pk=reply.pk, state=Reply.State.AWAITING_APPROVAL).update(
        state=Reply.State.DRAFT
    )
    if not claimed:
        return False
    reply.state = Reply.State.DRAFT
    author = reply.author.get_full_name() or reply.author.get_username()
    do_add_note(
        reply.case,
        f"Reply by {author} sent back for changes: {note}\n\nIts text: {reply.text}",
        author=approver,
    )
    return True


def do_approve_reply(reply: Reply, *, approver: "User") -> None:
    """Release a reply that was waiting for approval: approval → queued, then enqueue it.

    Precondition: the caller checked `cases.approve_reply`. ValueError if the reply is no
    longer waiting (someone else approved it meanwhile).
    """
    now = timezone.now()
    with transaction.atomic():
        updated = Reply.objects.filter(pk=reply.pk, state=State.AWAITING_APPROVAL).update(
            state=State.QUEUED,
            approved_by=approver,
            approved_at=now,
            queued_at=now,
            next_attempt_at=None,
        )
        if not updated:
            raise ValueError("This reply is no longer waiting for approval.")
        CaseEvent.objects.create(
            case_id=reply.case_id,
            actor=approver,
            kind=CaseEvent.Kind.REPLY_APPROVED,
            data={"reply_id": reply.pk},
            created_at=now,
        )
        _touch_case(reply.case_id, now)
        _enqueue(reply.pk)
    reply.refresh_from_db()


def do_retry_reply(reply: Reply, *, actor: "User") -> None:
    """Send a failed reply again: failed → queued (error cleared, attempts reset), enqueue.

    Precondition: the caller checked `cases.add_reply`. ValueError if the reply is not
    failed, or if its channel still needs re-authorisation (it would fail the same way).
    """
    channel = Channel.objects.only("needs_reauth", "name").get(pk=reply.case.channel_id)
    if channel.needs_reauth:
        raise ValueError(
            f"The channel {channel.name} needs to be reconnected by an admin before this "
            "reply can be retried."
        )
    now = timezone.now()
    with transaction.atomic():
        updated = Reply.objects.filter(pk=reply.pk, state=State.FAILED).update(
            state=State.QUEUED,
            error="",
            attempts=0,
            queued_at=now,
            next_attempt_at=None,
            sending_started_at=None,
        )
        if not updated:
            raise ValueError("Only a failed reply can be retried.")
        CaseEvent.objects.create(
            case_id=reply.case_id,
            actor=actor,
            kind=CaseEvent.Kind.REPLY_QUEUED,
            data={"reply_id": reply.pk, "private": reply.is_private, "retry": True},
            created_at=now,
        )
        _touch_case(reply.case_id, now)
        _enqueue(reply.pk)
    reply.refresh_from_db()


# ---- sending ---------------------------------------------------------------------------------


def send_reply(reply_id: int) -> str:
    """Post one queued reply at most once (the protocol is in the module docstring)."""
    cache.delete(_enqueued_key(reply_id))  # this message is out of the broker now
    reply = claim_reply(reply_id)
    if reply is None:
        return SendOutcome.NOT_CLAIMED
    connector = get_connector(reply.case.channel.network)
    try:
        external_id = connector.publish(reply)
    except AmbiguousSend as exc:
        log.warning("ambiguous send: reconciling", extra=_ids(reply, error=str(exc)))
        return _reconcile(reply, connector, reason=str(exc))
    except RateLimited as exc:
        return _retry_later(reply, str(exc), at=exc.reset_at, rate_limited=True)
    except AuthError as exc:
        return _fail_auth(reply, exc)
    except PermanentError as exc:
        return _fail(reply, str(exc))
    except ConnectorError as exc:  # TransientError: the request never reached the network
        return _retry_later(reply, str(exc))
    # Anything else (a bug, the soft time limit) propagates: the reply stays in "sending"
    # and the recovery reconciles it before any retry.
    _record_sent(reply, external_id)
    return SendOutcome.SENT


def claim_reply(reply_id: int, now: datetime | None = None) -> Reply | None:
    """Step 1: queued → sending if due; the reply (with case, channel, target) or None."""
    now = now or timezone.now()
    claimed = (
        Reply.objects.filter(pk=reply_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=State.SENDING, attempts=F("attempts") + 1, sending_started_at=now)
    )
    if not claimed:
        return None
    return _load(reply_id)


def recover_stuck_replies(now: datetime | None = None) -> dict[str, int]:
    """Beat job: reconcile replies a dead worker left in "sending"; re-enqueue due retries.

    Only one recovery runs at a time (a lock); each transition is conditional anyway.
    Returns counts for the log: {"reconciled": n, "enqueued": m}.
    """
    now = now or timezone.now()
    counts = {"reconciled": 0, "enqueued": 0}
    with locks.hold("recover-stuck-replies", timeout=settings.CELERY_TASK_TIME_LIMIT) as mine:
        if not mine:
            return counts
        stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
        stuck = list(
            Reply.objects.filter(state=State.SENDING, sending_started_at__lt=stale)
            .exclude(case__channel__needs_reauth=True)
            .order_by("sending_started_at")
            .values_list("pk", flat=True)[:RECOVERY_BATCH]
        )
        for reply_id in stuck:
            reply = _load(reply_id)
            if reply.state != State.SENDING:
                continue
            log.warning("reconciling a reply left in sending", extra=_ids(reply))
            _reconcile(
                reply,
                get_connector(reply.case.channel.network),
                reason="the worker stopped while sending",
                stuck=True,
                now=now,
            )
            counts["reconciled"] += 1

        due = (
            Reply.objects.filter(state=State.QUEUED)
            .filter(
                Q(next_attempt_at__lte=now)
                | Q(next_attempt_at__isnull=True, queued_at__lte=now - ENQUEUE_GRACE)
            )
            .order_by("queued_at")
            .values_list("pk", flat=True)[:RECOVERY_BATCH]
        )
        for reply_id in due:
            if cache.add(_enqueued_key(reply_id), 1, ENQUEUED_MARK_TTL):
                _task().delay(reply_id)
                counts["enqueued"] += 1
    if counts["reconciled"] or counts["enqueued"]:
        log.info("reply recovery", extra=counts)
    return counts


def retry_delay(attempts: int) -> timedelta:
    """Backoff before attempt `attempts + 1`: 30 s, 1, 2, 4 min..., capped at 15 min."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


# ---- outcomes --------------------------------------------------------------------------------


def _reconcile(
    reply: Reply,
    connector: Connector,
    *,
    reason: str,
    stuck: bool = False,
    now: datetime | None = None,
) -> SendOutcome:
    """The reply is in "sending" and may be on the network: look before anything else."""
    try:
        found = connector.find_published(reply)
    except ConnectorError as exc:
        if isinstance(exc, AuthError):
            _flag_reauth(reply.case.channel, exc)
        return _still_unknown(reply, f"{reason}; checking whether it went out failed: {exc}", now)
    if found:
        _record_sent(reply, found)
        return SendOutcome.SENT
    if stuck:
        reason = f"{reason} and {reply.case.channel.get_network_display()} has no such post"
    return _retry_later(reply, reason, at=now if stuck else None)


def _record_sent(reply: Reply, external_id: str) -> None:
    """Step 3. A proof of publication is recorded whatever the row says meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        updated = (
            Reply.objects.filter(pk=reply.pk)
            .exclude(state=State.SENT)
            .update(
                state=State.SENT,
                external_id=external_id[:255],
                sent_at=now,
                error="",
                next_attempt_at=None,
            )
        )
        if not updated:
            # Two posts for one reply: only possible if a worker outlived its time limit.
            log.error(
                "reply was already recorded as sent",
                extra=_ids(reply, external_id=external_id),
            )
            return
        case = Case.objects.select_for_update().get(pk=reply.case_id)
        fields = ["updated_at"]
        case.updated_at = now
        if case.first_response_at is None:
            case.first_response_at = now
            fields.append("first_response_at")
        events = [
            CaseEvent(
                case=case,
                kind=CaseEvent.Kind.REPLY_SENT,
                data={
                    "reply_id": reply.pk,
                    "external_id": external_id,
                    "private": reply.is_private,
                },
                created_at=now,
            )
        ]
        waiting_on_us = case.last_inbound_at > reply.created_at
        if case.status in (CaseStatus.NEW, CaseStatus.OPEN) and not waiting_on_us:
            events.append(
                CaseEvent(
                    case=case,
                    kind=CaseEvent.Kind.STATUS,
                    data={
                        "from": case.status,
                        "to": CaseStatus.PENDING,
                        "reason": "reply sent: waiting for the customer",
                    },
                    created_at=now,
                )
            )
            case.status = CaseStatus.PENDING
            fields.append("status")
        case.save(update_fields=fields)
        CaseEvent.objects.bulk_create(events)
    # Outside the transaction: ingest locks the channel row before case rows.
    reply.case.channel.count_api_use(posts=1)
    log.info("reply sent", extra=_ids(reply, external_id=external_id))


def _retry_later(
    reply: Reply,
    reason: str,
    *,
    at: datetime | None = None,
    rate_limited: bool = False,
) -> SendOutcome:
    """Back to queued for another attempt at `at` (default: backoff), or failed at the cap."""
    if not rate_limited and reply.attempts >= MAX_ATTEMPTS:
        return _fail(reply, f"gave up after {reply.attempts} attempts: {reason}")
    now = timezone.now()
    at = at or now + retry_delay(reply.attempts)
    fields: dict[str, Any] = {"state": State.QUEUED, "next_attempt_at": at, "error": reason}
    if rate_limited:
        # The network refused before doing anything: not an attempt against the cap.
        fields["attempts"] = F("attempts") - 1
        fields["error"] = (
            f"{reply.case.channel.get_network_display()} rate limit: "
            f"sending again at {timezone.localtime(at):%H:%M:%S %Z}"
        )
    if not Reply.objects.filter(pk=reply.pk, state=State.SENDING).update(**fields):
        return SendOutcome.NOT_CLAIMED
    if rate_limited:
        # The channel's other queued replies would meet the same limit.
        Reply.objects.filter(case__channel_id=reply.case.channel_id, state=State.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=at)
        ).update(next_attempt_at=at)
    Case.objects.filter(pk=reply.case_id).update(updated_at=now)
    log.info("reply will be retried", extra=_ids(reply, error=reason, next_attempt_at=str(at)))
    return SendOutcome.RETRY


def _still_unknown(reply: Reply, reason: str, now: datetime | None) -> SendOutcome:
    """Leave the reply in "sending" for the recovery, or give up when it is hopeless."""
    now = now or timezone.now()
    started = reply.sending_started_at or now
    if now - started > RECONCILE_GIVE_UP:
        network = reply.case.channel.get_network_display()
        return _fail(
            reply,
            f"could not confirm whether {network} received this reply ({reason}): "
            f"look at the conversation on {network} before retrying",
        )
    Reply.objects.filter(pk=reply.pk, state=State.SENDING).update(error=reason[:2000])
    log.warning("reply outcome unknown: recovery will check", extra=_ids(reply, error=reason))
    return SendOutcome.UNKNOWN


def _fail_auth(reply: Reply, exc: AuthError) -> SendOutcome:
    _flag_reauth(reply.case.channel, exc)
    return _fail(reply, f"{AUTH_FAILURE} ({exc})")


def _flag_reauth(channel: Channel, exc: Exception) -> None:
    """Mark the channel for re-authorisation: the admin banner and the health page show it."""
    Channel.objects.filter(pk=channel.pk).update(
        needs_reauth=True,
        last_error=(
            f"{channel.get_network_display()} rejected the token ({exc}). "
            "An admin must reconnect this channel."
        )[:2000],
        last_error_at=timezone.now(),
    )


def _fail(reply: Reply, reason: str) -> SendOutcome:
    now = timezone.now()
    reason = reason[:2000]
    with transaction.atomic():
        if not Reply.objects.filter(pk=reply.pk, state=State.SENDING).update(
            state=State.FAILED, error=reason, next_attempt_at=None
        ):
            return SendOutcome.NOT_CLAIMED
        CaseEvent.objects.create(
            case_id=reply.case_id,
            kind=CaseEvent.Kind.REPLY_FAILED,
            data={"reply_id": reply.pk, "reason": reason},
            created_at=now,
        )
        _touch_case(reply.case_id, now)
    log.warning("reply failed", extra=_ids(reply, error=reason))
    return SendOutcome.FAILED


# ---- helpers ---------------------------------------------------------------------------------


def _load(reply_id: int) -> Reply:
    return Reply.objects.select_related(
        "case__channel", "case__customer", "in_reply_to__author", "author"
    ).get(pk=reply_id)


def _task() -> Any:
    from cases import tasks  # tasks imports this module

    return tasks.send_reply


def _enqueue(reply_id: int) -> None:
    """Enqueue the send task when the current transaction commits."""
    cache.set(_enqueued_key(reply_id), 1, ENQUEUED_MARK_TTL)
    _task().delay_on_commit(reply_id)


def _enqueued_key(reply_id: int) -> str:
    return f"socialdesk:reply-enqueued:{reply_id}"


def _touch_case(case_id: int, now: datetime) -> None:
    """The inbox's live update looks at updated_at."""
    Case.objects.filter(pk=case_id).update(updated_at=now)


def _check_row(item: "CheckResult | dict[str, Any]") -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return {k: v for k, v in asdict(item).items() if k in ("code", "severity", "message")}
    if isinstance(item, dict):
        return {k: str(item.get(k, "")) for k in ("code", "severity", "message")}
    raise TypeError(f"a check result must be a CheckResult or a dict, not {type(item).__name__}")


def _ids(reply: Reply, **extra: Any) -> dict[str, Any]:
    return {
        "reply_id": reply.pk,
        "case_id": reply.case_id,
        "channel_id": reply.case.channel_id,
        "attempts": reply.attempts,
        **extra,
    }


def _duration(value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    return f"{hours // 24} days" if hours >= 48 and hours % 24 == 0 else f"{hours} hours"


def _ago(value: timedelta) -> str:
    hours = int(value.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hours"
    return f"{max(int(value.total_seconds() // 60), 1)} minutes"
