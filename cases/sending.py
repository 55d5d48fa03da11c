"""Sending replies: queue, approve, retry, and post each reply **exactly once**.

States (see `Reply`): approval → queued → sending → sent | failed; sending → reconciling →
sent | queued | failed when the network may have the reply; failed → queued on retry.

One Celery task, `cases.tasks.send_reply(reply_id)`, moves a reply one step: a queued reply
that is due is claimed and published (1-6); a reconciling reply whose next look-up is due
is looked up (7). Running it twice for one id, or for a reply in any other state, is harmless.

1. **Claim.** A conditional UPDATE moves the reply from queued to sending if its
   next_attempt_at has come: attempts + 1, sending_started_at = now, first_attempt_at set
   once, and a fresh **claim_token**. 0 rows: another worker has it, it is done, or it is
   waiting: nothing to do.
2. **Fence.** Immediately before the network call the worker checks, with one conditional
   query, that the row still carries its token and that its lease (sending_started_at +
   the task's hard time limit + REPLY_RECOVERY_MARGIN_SECONDS, default 60 s, when the
   recovery may take over, step 8) leaves at least `publish_budget()` (two HTTP timeouts)
   for the request. If not, it does not publish: with its token still there it hands the
   reply back to queued (nothing was sent); without it (the recovery took over) it stops.
3. **Publish** through `get_connector(channel.network).publish(outbound_reply(reply))`.
4. **Success**: sent with the network's id and sent_at; the case's first_response_at if
   unset; the channel's post counter; CaseEvent REPLY_SENT. A case that is "new" or "open"
   becomes **"pending"** (waiting for the customer), unless the customer wrote again after
   the agent wrote this reply; ingest moves a pending case back to "open" when the customer
   answers. A proof of publication wins over any other state (it is recorded even if the
   row was taken over meanwhile), but an id is never recorded for two replies: under the
   case's row lock, an id another reply of the customer already holds is refused.
5. **AmbiguousSend** (timeout or 5xx after the request may have reached the network) and
   **DuplicatePost** (the network refuses the text as one the account already posted
   there: a sign an earlier attempt landed): sending → reconciling (conditional on the
   token), its settle window starting now, then look-up 0 at once (step 7).
6. **RateLimited** (the network refused, nothing posted): queued with next_attempt_at =
   the reset time; the channel's other queued replies wait for it too; not counted towards
   the cap. **TransientError** (the request never reached the network): queued with
   backoff. **AuthError**: failed, "the channel's token was rejected: an admin must
   reconnect it", and channel.needs_reauth = True (the admin banner). **PostGone** (the
   post answered was deleted by its author): failed, "The customer deleted the post.", and
   the post's text removed (listening.content); the same when a look-up (step 7) hears
   that the post is gone, for a reply under it went with it. **PermanentError**: failed
   with the network's reason. After MAX_ATTEMPTS attempts a retryable failure
   becomes failed ("gave up after 5 attempts: <last reason>"). Every failure writes
   CaseEvent REPLY_FAILED with the reason and stays visible on the case.
7. **Reconcile** (a network lists a post seconds after accepting it, so "not listed" is not
   "not sent"). Look-up k runs at reconcile_started_at + settle_schedule()[k] (setting
   REPLY_SETTLE_SCHEDULE, default 0, 5, 15, 45, 120, 300 s), driven by next_attempt_at and
   the beat (step 8), never by Celery countdowns. `find_published(reply)` matches
   what identifies our post (our account, the reply's target, created since its first
   attempt, the text) and skips ids recorded for the customer's other replies, so two
   identical replies are never taken for one another. Found → sent (step 4). Not found →
   look-up k + 1 later. Only when the whole schedule said "not found" does the reply go
   back to queued for a new attempt (failed at the cap); after a DuplicatePost it is failed
   as **unconfirmed** instead: the network says it has the text, it is never posted again.
   A look-up failing is repeated after LOOKUP_RETRY; once RECONCILE_GIVE_UP has passed
   since the window began the reply is failed as unconfirmed ("could not confirm whether X
   received this reply: look on X before retrying"), never re-posted blind. Re-queueing an
   unconfirmed reply needs a supervisor (`do_retry_reply`). Each transition is conditional
   on (reconciling, this window, reconcile_checks = k), so two look-ups never both apply.
8. **Recovery** (`recover_stuck_replies`, beat every 10 s). A worker killed or frozen
   between 1 and 4 leaves the reply in "sending". Once sending_started_at is older than the
   lease, one conditional UPDATE takes the row over: sending → reconciling with the claim
   token cleared (the frozen worker's fence now fails) and its settle window starting now,
   so step 7 decides, as after an ambiguous send. The same beat enqueues send_reply for
   queued replies whose next_attempt_at has passed and reconciling replies whose look-up is
   due (not on channels that need re-authorisation). State lives in columns, so retries
   and look-ups survive a broker restart.

**The window that remains.** The fence guarantees `publish_budget()` between the check and
the takeover, not that the process keeps running: a worker frozen (SIGSTOP, a VM pause)
after its fence and before its request leaves, for longer than the lease it had left,
publishes after the recovery took over. The recovery's settle window then finds that post if
it lands within the window, and the reply is recorded once. If it lands after the window and
after the recovery's new attempt, the reply is on the network twice: the late post is
refused as duplicate content where the network checks that (and its worker, no longer
holding the claim, changes nothing), otherwise "reply was already recorded as sent" is
logged as an error. Neither X nor Graph takes an idempotency key on these endpoints, so no
protocol on our side can close this window entirely; it is bounded by the freeze having to
fall in the few milliseconds between the fence and the send.

Tasks are enqueued only after the transaction that queued the reply commits
(`delay_on_commit`).
"""

import logging
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Min, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseStatus, Reply

# The queueing side is re-exported here, where callers have always found it.
from cases.replies import (  # noqa: F401
    ENQUEUED_MARK_TTL,
    check_reply_target,
    do_approve_reply,
    do_queue_reply,
    do_retry_reply,
    do_send_back_reply,
    enqueued_key,
    needs_approval,
    outbound_reply,
    send_task,
    touch_case,
)
from cases.sla import refresh_case_sla
from listening.connectors import Connector, get_connector
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    ConnectorError,
    DuplicatePost,
    PermanentError,
    PostGone,
    RateLimited,
)
from listening.content import do_record_source_removal
from listening.models import Channel, Mention, Removal
from socialdesk import locks
from socialdesk.durations import format_duration
from socialdesk.scrub import scrub

log = logging.getLogger(__name__)

State = Reply.State

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)
# Seconds after an ambiguous send at which `find_published` is asked (step 7). The last one
# bounds the read-after-write lag the desk waits out before it posts again.
SETTLE_SCHEDULE = (0, 5, 15, 45, 120, 300)
# A failed look-up is asked again after this long...
LOOKUP_RETRY = timedelta(minutes=1)
# ...until this long after the settle window began: then the reply is failed as unconfirmed
# with a message telling the agent to look on the network before retrying.
RECONCILE_GIVE_UP = timedelta(hours=1)
# A queued reply with no retry time whose first task message is older than this is enqueued
# again (the message may have been lost with the broker).
ENQUEUE_GRACE = timedelta(minutes=2)
RECOVERY_BATCH = 200

AUTH_FAILURE = "the channel's token was rejected: an admin must reconnect it"


class SendOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # back to queued, next_attempt_at set
    FAILED = "failed"
    CHECKING = "checking"  # reconciling: the next look-up is at next_attempt_at
    NOT_CLAIMED = "not_claimed"  # someone else has it, it is done, or not due yet


def settle_schedule() -> tuple[timedelta, ...]:
    """Step 7's look-up times, from the start of the settle window (setting or default)."""
    seconds = getattr(settings, "REPLY_SETTLE_SCHEDULE", None) or SETTLE_SCHEDULE
    return tuple(timedelta(seconds=float(value)) for value in seconds)


def claim_lease() -> timedelta:
    """How long a claim lasts: no live worker can hold a reply longer (the hard time limit),
    plus a margin (REPLY_RECOVERY_MARGIN_SECONDS) before the recovery takes the reply over."""
    return timedelta(
        seconds=settings.CELERY_TASK_TIME_LIMIT + settings.REPLY_RECOVERY_MARGIN_SECONDS
    )


def publish_budget() -> timedelta:
    """What a publish may take once started: a connect and a read timeout."""
    return timedelta(seconds=2 * settings.SOCIAL_HTTP_TIMEOUT)


# ---- sending ---------------------------------------------------------------------------------


def send_reply(reply_id: int, now: datetime | None = None) -> str:
    """Move one reply one step: publish it if queued and due, look it up if reconciling."""
    cache.delete(enqueued_key(reply_id))  # this message is out of the broker now
    reply = claim_reply(reply_id, now)
    if reply is None:
        return check_reply(reply_id, now)
    return publish_claimed(reply, now)


def claim_reply(reply_id: int, now: datetime | None = None) -> Reply | None:
    """Step 1: queued → sending if due, with a fresh claim token; the reply, or None."""
    now = now or timezone.now()
    claimed = (
        Reply.objects.filter(pk=reply_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            state=State.SENDING,
            attempts=F("attempts") + 1,
            sending_started_at=now,
            first_attempt_at=Coalesce("first_attempt_at", Value(now)),
            claim_token=uuid.uuid4(),
            duplicate_answer=False,
        )
    )
    if not claimed:
        return None
    return _load(reply_id)


def publish_claimed(reply: Reply, now: datetime | None = None) -> str:
    """Steps 2-6 for a reply this worker claimed (`reply` as `claim_reply` returned it)."""
    if not _fence(reply, now or timezone.now()):
        return _release(reply)
    connector = get_connector(reply.case.channel.network)
    try:
        external_id = connector.publish(outbound_reply(reply))
    except (AmbiguousSend, DuplicatePost) as exc:
        log.warning("reply may be on the network: reconciling", extra=_ids(reply, error=str(exc)))
        return _start_reconciling(
            reply,
            connector,
            str(exc),
            duplicate=isinstance(exc, DuplicatePost),
            now=now or timezone.now(),  # the settle window starts after the answer
        )
    except RateLimited as exc:
        return _retry_later(reply, str(exc), at=exc.reset_at, rate_limited=True)
    except AuthError as exc:
        return _fail_auth(reply, exc)
    except PostGone as exc:
        return _fail_gone(reply, exc)
    except PermanentError as exc:
        return _fail(reply, str(exc))
    except ConnectorError as exc:  # TransientError: the request never reached the network
        return _retry_later(reply, str(exc))
    # Anything else (a bug, the soft time limit) propagates: the reply stays in "sending"
    # and the recovery takes it over and reconciles it before any new attempt.
    _record_sent(reply, external_id)
    return SendOutcome.SENT


def check_reply(reply_id: int, now: datetime | None = None) -> str:
    """Step 7 for a reconciling reply whose look-up is due; NOT_CLAIMED for any other."""
    now = now or timezone.now()
    due = Reply.objects.filter(pk=reply_id, state=State.RECONCILING, next_attempt_at__lte=now)
    if not due.exists():
        return SendOutcome.NOT_CLAIMED
    reply = _load(reply_id)
    if reply.state != State.RECONCILING:
        return SendOutcome.NOT_CLAIMED
    return _look_up(reply, get_connector(reply.case.channel.network), now)


def recover_stuck_replies(now: datetime | None = None) -> dict[str, int]:
    """Beat job (step 8): take over replies a dead or frozen worker left in "sending";
    enqueue due retries and due look-ups.

    Only one recovery runs at a time (a lock); each transition is conditional anyway.
    Returns counts for the log: {"reconciled": n taken over, "enqueued": m}.
    """
    now = now or timezone.now()
    counts = {"reconciled": 0, "enqueued": 0}
    with locks.hold("recover-stuck-replies", timeout=settings.CELERY_TASK_TIME_LIMIT) as mine:
        if not mine:
            return counts
        stale = Q(state=State.SENDING, sending_started_at__lt=now - claim_lease())
        stuck = list(
            Reply.objects.filter(stale)
            .order_by("sending_started_at")
            .values_list("pk", flat=True)[:RECOVERY_BATCH]
        )
        if stuck:
            # The same condition in the UPDATE: a row claimed again meanwhile is not stale.
            counts["reconciled"] = Reply.objects.filter(stale, pk__in=stuck).update(
                state=State.RECONCILING,
                claim_token=None,
                reconcile_started_at=now,
                reconcile_checks=0,
                next_attempt_at=now,
                error="the worker stopped while sending: checking whether it went out",
            )
            log.warning("took over replies left in sending", extra={"replies": stuck})

        due = (
            Reply.objects.filter(
                Q(state=State.QUEUED, next_attempt_at__lte=now)
                | Q(
                    state=State.QUEUED,
                    next_attempt_at__isnull=True,
                    queued_at__lte=now - ENQUEUE_GRACE,
                )
                | Q(state=State.RECONCILING, next_attempt_at__lte=now)
            )
            .exclude(state=State.RECONCILING, case__channel__needs_reauth=True)
            .order_by("next_attempt_at", "queued_at")
            .values_list("pk", flat=True)[:RECOVERY_BATCH]
        )
        for reply_id in due:
            if cache.add(enqueued_key(reply_id), 1, ENQUEUED_MARK_TTL):
                send_task().delay(reply_id)
                counts["enqueued"] += 1
    if counts["reconciled"] or counts["enqueued"]:
        log.info("reply recovery", extra=counts)
    return counts


def retry_delay(attempts: int) -> timedelta:
    """Backoff before attempt `attempts + 1`: 30 s, 1, 2, 4 min..., capped at 15 min."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


# ---- claims and reconciliation ---------------------------------------------------------------


def _held(reply: Reply) -> Q:
    """The condition under which `reply` is still in the hands of whoever loaded it."""
    if reply.state == State.SENDING:
        return Q(state=State.SENDING, claim_token=reply.claim_token)
    if reply.state == State.RECONCILING:
        return Q(
            state=State.RECONCILING,
            reconcile_started_at=reply.reconcile_started_at,
            reconcile_checks=reply.reconcile_checks,
        )
    return Q(state=reply.state)


def _fence(reply: Reply, now: datetime) -> bool:
    """Step 2: the claim is still ours and lasts long enough for one publish."""
    return Reply.objects.filter(
        _held(reply),
        pk=reply.pk,
        sending_started_at__gt=now + publish_budget() - claim_lease(),
    ).exists()


def _release(reply: Reply) -> SendOutcome:
    """The fence failed before anything was sent: give the reply back if it is still ours."""
    released = Reply.objects.filter(_held(reply), pk=reply.pk).update(
        state=State.QUEUED,
        claim_token=None,
        attempts=F("attempts") - 1,
        next_attempt_at=timezone.now(),
    )
    log.warning(
        "claim expired or taken over before publishing: not published",
        extra=_ids(reply, released=bool(released)),
    )
    return SendOutcome.RETRY if released else SendOutcome.NOT_CLAIMED


def _start_reconciling(
    reply: Reply, connector: Connector, reason: str, *, duplicate: bool, now: datetime
) -> SendOutcome:
    """Step 5: sending → reconciling, then the first look-up at once."""
    if not Reply.objects.filter(_held(reply), pk=reply.pk).update(
        state=State.RECONCILING,
        claim_token=None,
        reconcile_started_at=now,
        reconcile_checks=0,
        next_attempt_at=now,
        duplicate_answer=duplicate,
        error=reason[:2000],
    ):
        return SendOutcome.NOT_CLAIMED
    return _look_up(_load(reply.pk), connector, now)


def _look_up(reply: Reply, connector: Connector, now: datetime) -> SendOutcome:
    """Step 7: one look-up of a reconciling reply, and the transition it calls for."""
    network = reply.case.channel.get_network_display()
    try:
        found = connector.find_published(outbound_reply(reply, taken=_recorded_elsewhere(reply)))
    except PostGone as exc:  # the post answered is gone, and any reply with it
        return _fail_gone(reply, exc)
    except ConnectorError as exc:
        if isinstance(exc, AuthError):
            _flag_reauth(reply.case.channel, exc)
        return _look_up_failed(reply, f"checking whether it went out failed: {exc}", now)
    if found and _record_sent(reply, found):
        return SendOutcome.SENT
    step = reply.reconcile_checks + 1
    schedule = settle_schedule()
    started = reply.reconcile_started_at or now
    if step < len(schedule):
        if not Reply.objects.filter(_held(reply), pk=reply.pk).update(
            reconcile_checks=step, next_attempt_at=max(started + schedule[step], now)
        ):
            return SendOutcome.NOT_CLAIMED
        log.info("reply not listed yet: checking again later", extra=_ids(reply, step=step))
        return SendOutcome.CHECKING
    waited = format_duration(schedule[-1])
    if reply.duplicate_answer:
        return _fail(
            reply,
            f"{network} refused this reply as a copy of a post already there, and no such "
            f"post was listed within {waited}: look at the conversation on {network} before "
            "retrying",
            unconfirmed=True,
        )
    reason = (
        f"{reply.error or 'the send was interrupted'}; {network} did not list it within {waited}"
    )
    return _retry_later(reply, reason, at=now)


def _look_up_failed(reply: Reply, reason: str, now: datetime) -> SendOutcome:
    """The same look-up again later, or failed as unconfirmed once it is hopeless."""
    started = reply.reconcile_started_at or now
    if now - started > RECONCILE_GIVE_UP:
        network = reply.case.channel.get_network_display()
        return _fail(
            reply,
            f"could not confirm whether {network} received this reply ({reason}): "
            f"look at the conversation on {network} before retrying",
            unconfirmed=True,
        )
    Reply.objects.filter(_held(reply), pk=reply.pk).update(
        error=reason[:2000], next_attempt_at=now + LOOKUP_RETRY
    )
    log.warning("reply outcome unknown: checking again later", extra=_ids(reply, error=reason))
    return SendOutcome.CHECKING


def _recorded_elsewhere(reply: Reply) -> set[str]:
    """Network ids already recorded for the customer's other replies on this channel."""
    return set(
        Reply.objects.filter(
            case__channel_id=reply.case.channel_id, case__customer_id=reply.case.customer_id
        )
        .exclude(pk=reply.pk)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )


# ---- outcomes --------------------------------------------------------------------------------


def _record_sent(reply: Reply, external_id: str) -> bool:
    """Step 4. A proof of publication is recorded whatever the row says meanwhile, unless
    another reply of the customer holds that id (then False: it is not this reply's post)."""
    now = timezone.now()
    external_id = external_id[:255]
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=reply.case_id)
        taken = (
            Reply.objects.filter(
                case__channel_id=reply.case.channel_id,
                case__customer_id=reply.case.customer_id,
                external_id=external_id,
            )
            .exclude(pk=reply.pk)
            .exists()
        )
        if taken:
            log.warning("post belongs to another reply", extra=_ids(reply, external_id=external_id))
            return False
        updated = (
            Reply.objects.filter(pk=reply.pk)
            .exclude(state=State.SENT)
            .update(
                state=State.SENT,
                external_id=external_id,
                sent_at=now,
                error="",
                next_attempt_at=None,
                claim_token=None,
                unconfirmed=False,
            )
        )
        if not updated:
            # Two posts for one reply: only possible through the window in the docstring.
            log.error(
                "reply was already recorded as sent",
                extra=_ids(reply, external_id=external_id),
            )
            return True
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
                        "reply_id": reply.pk,  # the desk's reaction to this reply
                    },
                    created_at=now,
                )
            )
            case.status = CaseStatus.PENDING
            fields.append("status")
        # The response clock stops, or restarts from the customer's first post since this
        # reply was written (they wrote again meanwhile: we still owe them an answer).
        case.awaiting_since = (
            Mention.objects.filter(case_id=case.pk, posted_at__gt=reply.created_at).aggregate(
                first=Min("posted_at")
            )["first"]
            if waiting_on_us
            else None
        )
        fields.append("awaiting_since")
        case.save(update_fields=fields)
        refresh_case_sla(case)
        CaseEvent.objects.bulk_create(events)
    # Outside the transaction: ingest locks the channel row before case rows.
    reply.case.channel.count_api_use(posts=1)
    log.info("reply sent", extra=_ids(reply, external_id=external_id))
    return True


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
    fields: dict[str, Any] = {
        "state": State.QUEUED,
        "next_attempt_at": at,
        "error": reason[:2000],
        "claim_token": None,
    }
    if rate_limited:
        # The network refused before doing anything: not an attempt against the cap.
        fields["attempts"] = F("attempts") - 1
        fields["error"] = (
            f"{reply.case.channel.get_network_display()} rate limit: "
            f"sending again at {timezone.localtime(at):%H:%M:%S %Z}"
        )
    if not Reply.objects.filter(_held(reply), pk=reply.pk).update(**fields):
        return SendOutcome.NOT_CLAIMED
    if rate_limited:
        # The channel's other queued replies would meet the same limit.
        Reply.objects.filter(case__channel_id=reply.case.channel_id, state=State.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=at)
        ).update(next_attempt_at=at)
    Case.objects.filter(pk=reply.case_id).update(updated_at=now)
    log.info("reply will be retried", extra=_ids(reply, error=reason, next_attempt_at=str(at)))
    return SendOutcome.RETRY


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


POST_GONE_REASON = "The customer deleted the post."


def _fail_gone(reply: Reply, exc: PostGone) -> SendOutcome:
    """The network says the post answered is gone: the reply fails for good (a retry would
    meet the same answer), and the post's text is removed as its deletion requires."""
    log.info("reply target deleted at the source", extra=_ids(reply, error=str(exc)))
    outcome = _fail(reply, POST_GONE_REASON)
    target = reply.in_reply_to
    if outcome == SendOutcome.FAILED and target is not None and target.kind != "dm":
        do_record_source_removal(
            channel=reply.case.channel,
            external_id=target.external_id,
            removed_at=timezone.now(),
            how=Removal.REPLY_NOT_FOUND,
        )
    return outcome


def _fail(reply: Reply, reason: str, *, unconfirmed: bool = False) -> SendOutcome:
    now = timezone.now()
    reason = scrub(reason)[:2000]
    with transaction.atomic():
        if not Reply.objects.filter(_held(reply), pk=reply.pk).update(
            state=State.FAILED,
            error=reason,
            next_attempt_at=None,
            claim_token=None,
            unconfirmed=unconfirmed,
        ):
            return SendOutcome.NOT_CLAIMED
        CaseEvent.objects.create(
            case_id=reply.case_id,
            kind=CaseEvent.Kind.REPLY_FAILED,
            data={
                "reply_id": reply.pk,
                "reason": reason,
                **({"unconfirmed": True} if unconfirmed else {}),
            },
            created_at=now,
        )
        touch_case(reply.case_id, now)
    log.warning("reply failed", extra=_ids(reply, error=reason, unconfirmed=unconfirmed))
    return SendOutcome.FAILED


# ---- helpers ---------------------------------------------------------------------------------


def _load(reply_id: int) -> Reply:
    return Reply.objects.select_related(
        "case__channel", "case__customer", "in_reply_to__author", "author"
    ).get(pk=reply_id)


def _ids(reply: Reply, **extra: Any) -> dict[str, Any]:
    return {
        "reply_id": reply.pk,
        "case_id": reply.case_id,
        "channel_id": reply.case.channel_id,
        "attempts": reply.attempts,
        **extra,
    }
