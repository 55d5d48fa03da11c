"""Moderation from the desk: hide or show a customer's comment, delete one of the brand's
public replies, each on the network through its connector, each exactly as asked.

The database is the outbox. A request writes a `Moderation` row ("queued") under the case's
row lock and enqueues `cases.tasks.run_moderation(id)` after the commit; nothing talks to the
network inside the web request. The task moves the row one step:

1. **Claim.** A conditional UPDATE moves it queued → running if due (next_attempt_at empty
   or passed): attempts + 1, started_at = now, a fresh claim_token. 0 rows: someone else has
   it, it is done, or it waits: nothing to do.
2. **Call** the connector: `set_hidden(ModeratedPost, hidden=…)` or `delete_post(…)`. Both are
   idempotent on the network (hiding twice leaves it hidden, a second delete finds it gone),
   so repeating a call whose answer was lost does no harm.
3. **Done**: running → done (conditional on the token), the comment's `hidden_at` or the
   reply's `deleted_at` set, a CaseEvent naming who asked, the case's updated_at moved on (the
   open case page refreshes its timeline within one presence poll).
4. **Retry later**: a rate limit (at its reset, not counted) or a transient failure (backoff,
   MAX_ATTEMPTS in all): back to queued with next_attempt_at and the reason.
5. **Failed**: the network refused (the comment is gone, not the page's to hide), the token
   was rejected (the channel is flagged for re-authorisation), or the attempts ran out: the
   row keeps the reason, a CaseEvent says so, and the case page offers a retry
   (`do_retry_moderation`) to whoever may ask for that change.
6. **Recovery** (`recover_moderations`, beat every 10 s): a row left running by a dead worker
   past the task's time limit and a margin goes back to queued (step 2 makes that safe); due
   queued rows, and rows whose first message may have been lost with the broker (queued for
   more than ENQUEUE_GRACE without a retry time), are enqueued again.

One change at a time per post (a database constraint): a second waits for the first outcome.
A hide or show that happens at the source (the page's own moderators on Facebook, reported
by a webhook) is recorded by `do_record_source_visibility`, without any network call.
"""

import logging
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.actions import ActionError
from cases.models import Case, CaseEvent, Moderation, Reply
from listening.connectors import get_connector
from listening.connectors.errors import (
    AuthError,
    ConnectorError,
    PermanentError,
    PostGone,
    RateLimited,
)
from listening.models import Channel, Mention
from listening.networks import POLICIES, can_hide
from listening.posts import ModeratedPost
from socialdesk.scrub import scrub

log = logging.getLogger(__name__)

Action, State = Moderation.Action, Moderation.State
ACTIVE = (State.QUEUED, State.RUNNING)
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=15)
ENQUEUE_GRACE = timedelta(minutes=2)
RECOVERY_BATCH = 200
ENQUEUED_MARK_TTL = 60  # seconds: one message per row per recovery round, not one per tick
# What the timeline says while a change is under way, and of a change that failed.
# Shown on the case page, in the reader's language.
DOING = {Action.HIDE: _("Hiding"), Action.UNHIDE: _("Showing"), Action.DELETE: _("Deleting")}
WHAT = {
    Action.HIDE: _("hide the comment"),
    Action.UNHIDE: _("show the comment"),
    Action.DELETE: _("delete the reply"),
}
EVENT_FOR = {
    Action.HIDE: CaseEvent.Kind.COMMENT_HIDDEN,
    Action.UNHIDE: CaseEvent.Kind.COMMENT_SHOWN,
    Action.DELETE: CaseEvent.Kind.REPLY_DELETED,
}


class Outcome(StrEnum):
    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"
    NOT_CLAIMED = "not_claimed"


# ---- asking ----------------------------------------------------------------------------------


def check_hideable(case: Case, mention: Mention, *, hidden: bool) -> None:
    """Raise ActionError unless the desk may hide (or show) `mention` of `case` now."""
    network = case.channel.network
    if mention.case_id != case.pk:
        raise ActionError(gettext("That post is not part of this case."))
    if mention.is_private or not can_hide(network, mention.kind):
        label = POLICIES[network].label if network in POLICIES else network
        raise ActionError(
            gettext("%(network)s does not let the brand hide this kind of post.")
            % {"network": label}
        )
    if mention.deleted_at is not None:
        raise ActionError(
            gettext("Its author deleted this comment: there is nothing left to hide.")
        )
    if hidden and mention.hidden_at is not None:
        raise ActionError(gettext("This comment is already hidden."))
    if not hidden and mention.hidden_at is None:
        raise ActionError(gettext("This comment is not hidden."))


def check_deletable(case: Case, reply: Reply) -> None:
    """Raise ActionError unless the desk may delete `reply` of `case` from the network now."""
    policy = POLICIES.get(case.channel.network)
    if reply.case_id != case.pk:
        raise ActionError(gettext("That reply is not part of this case."))
    if policy is None or not policy.can_delete_replies:
        raise ActionError(gettext("This network does not let the desk delete replies."))
    if reply.state != Reply.State.SENT or not reply.external_id:
        raise ActionError(gettext("Only a reply that was posted can be deleted from the network."))
    if reply.is_private:
        raise ActionError(
            gettext("A private message on %(network)s cannot be deleted.")
            % {"network": policy.label}
        )
    if reply.deleted_at is not None:
        raise ActionError(gettext("This reply is already deleted."))


def do_request_visibility(case: Case, mention: Mention, *, hidden: bool, actor: User) -> Moderation:
    """Ask the network to hide (or show) a customer's comment. Precondition: the caller holds
    the case's row lock and checked the actor may hide comments. ActionError if it may not be
    done, or another change to the comment is under way."""
    check_hideable(case, mention, hidden=hidden)
    action = Action.HIDE if hidden else Action.UNHIDE
    return _request(case, actor, action, mention=mention)


def do_request_reply_deletion(case: Case, reply: Reply, *, actor: User) -> Moderation:
    """Ask the network to delete one of the brand's public replies. Precondition: the caller
    holds the case's row lock and checked the actor may delete published replies."""
    check_deletable(case, reply)
    return _request(case, actor, Action.DELETE, reply=reply)


def do_bulk_hide_comments(cases: list[Case], *, actor: User) -> tuple[int, list[str]]:
    """Hide every visible customer comment of these cases that the network lets the brand
    hide: (how many hides were asked for, "#id: why" for each case with none to ask).

    Each case in its own transaction under its row lock; comments with a change already under
    way are left to it. Precondition: the caller checked the actor may hide comments.
    """
    requested, failures = 0, []
    for case in cases:
        with transaction.atomic():
            case = Case.objects.select_for_update().select_related("channel").get(pk=case.pk)
            busy = Moderation.objects.filter(case=case, state__in=ACTIVE, mention__isnull=False)
            mentions = [
                m
                for m in case.mentions.filter(
                    hidden_at__isnull=True, deleted_at__isnull=True, is_private=False
                ).exclude(pk__in=busy.values("mention_id"))
                if can_hide(case.channel.network, m.kind)
            ]
            if not mentions:
                failures.append(f"#{case.pk}: no comment to hide")
                continue
            now = timezone.now()
            rows = Moderation.objects.bulk_create(
                Moderation(
                    case=case, mention=m, action=Action.HIDE, requested_by=actor, requested_at=now
                )
                for m in mentions
            )
            _touch(case.pk, now)
            for row in rows:
                _enqueue_on_commit(row.pk)
            requested += len(rows)
    return requested, failures


def do_retry_moderation(moderation: Moderation, *, actor: User) -> None:
    """Ask again for a change that failed: failed → queued with a fresh attempt count.

    Preconditions: the caller holds the case's row lock and checked the actor may ask for this
    change. ActionError unless the row failed, is the latest change to its post, and the post
    still allows it (a comment its author deleted meanwhile is not hidden).
    """
    if moderation.state != State.FAILED:
        raise ActionError(gettext("Only a change that failed can be retried."))
    target = (
        Q(mention_id=moderation.mention_id)
        if moderation.mention_id
        else Q(reply_id=moderation.reply_id)
    )
    latest = Moderation.objects.filter(target).order_by("-id").values_list("pk", flat=True)[0]
    if latest != moderation.pk:
        raise ActionError(
            gettext("A newer change to this post was asked for since: see its outcome.")
        )
    if moderation.mention_id:
        mention = Mention.objects.get(pk=moderation.mention_id)
        check_hideable(moderation.case, mention, hidden=moderation.action == Action.HIDE)
    else:
        check_deletable(moderation.case, Reply.objects.get(pk=moderation.reply_id))
    now = timezone.now()
    moderation.state, moderation.attempts, moderation.error = State.QUEUED, 0, ""
    moderation.next_attempt_at, moderation.finished_at = None, None
    moderation.requested_by, moderation.requested_at = actor, now
    try:
        with transaction.atomic():
            moderation.save(
                update_fields=[
                    "state",
                    "attempts",
                    "error",
                    "next_attempt_at",
                    "finished_at",
                    "requested_by",
                    "requested_at",
                ]
            )
    except IntegrityError:
        raise ActionError(_busy_message()) from None
    _touch(moderation.case_id, now)
    _enqueue_on_commit(moderation.pk)


def _request(
    case: Case,
    actor: User,
    action: str,
    *,
    mention: Mention | None = None,
    reply: Reply | None = None,
) -> Moderation:
    now = timezone.now()
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            row = Moderation.objects.create(
                case=case,
                mention=mention,
                reply=reply,
                action=action,
                requested_by=actor,
                requested_at=now,
            )
    except IntegrityError:
        raise ActionError(_busy_message()) from None
    case.updated_at = now
    case.save(update_fields=["updated_at"])
    _enqueue_on_commit(row.pk)
    return row


def _busy_message() -> str:
    return gettext(
        "Another change to this post is under way: wait for its outcome, then try again."
    )


# ---- from the source -------------------------------------------------------------------------


def do_record_source_visibility(
    *, channel: Channel, external_id: str, hidden: bool, at: datetime
) -> bool:
    """Record that a post was hidden (or shown again) on the network itself, as a webhook
    reports it: no network call. True when the stored post changed; False when the desk does
    not have that post or it already shows that state (the echo of the desk's own change).

    The post's case gets an event from the network (no actor, `source` in its data) and a new
    updated_at, so open case pages and inboxes show it.
    """
    with transaction.atomic():
        mention = (
            Mention.objects.select_for_update()
            .filter(channel=channel, external_id=external_id)
            .first()
        )
        if mention is None or (mention.hidden_at is not None) == hidden:
            return False
        Mention.record_visibility([mention.pk], hidden=hidden, at=at)
        CaseEvent.objects.create(
            case_id=mention.case_id,
            kind=CaseEvent.Kind.COMMENT_HIDDEN if hidden else CaseEvent.Kind.COMMENT_SHOWN,
            data={"mention_id": mention.pk, "source": channel.get_network_display()},
            created_at=timezone.now(),
        )
        _touch(mention.case_id, timezone.now())
    return True


# ---- the worker's steps ----------------------------------------------------------------------


def run_moderation(moderation_id: int, now: datetime | None = None) -> str:
    """Steps 1-5 for one row: claim it if queued and due, call the network, record the
    outcome. Safe to run twice, or for a row in any state."""
    cache.delete(_enqueued_key(moderation_id))  # this message is out of the broker now
    now = now or timezone.now()
    token = uuid.uuid4()
    claimed = (
        Moderation.objects.filter(pk=moderation_id, state=State.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(state=State.RUNNING, attempts=F("attempts") + 1, started_at=now, claim_token=token)
    )
    if not claimed:
        return Outcome.NOT_CLAIMED
    row = Moderation.objects.select_related("case__channel", "mention", "reply").get(
        pk=moderation_id
    )
    channel = row.case.channel
    connector = get_connector(channel.network)
    try:
        if row.action == Action.DELETE:
            connector.delete_post(ModeratedPost(channel, row.reply.external_id))
        else:
            post = ModeratedPost(channel, row.mention.external_id)
            connector.set_hidden(post, hidden=row.action == Action.HIDE)
    except PostGone:
        return _fail(row, f"{channel.get_network_display()} no longer has this comment")
    except RateLimited as exc:
        return _retry_later(row, f"rate limited ({exc})", at=exc.reset_at, counted=False)
    except AuthError as exc:
        from cases.sending import AUTH_FAILURE, _flag_reauth  # the sender's one rule

        _flag_reauth(channel, exc)
        return _fail(row, f"{AUTH_FAILURE} ({exc})")
    except PermanentError as exc:
        return _fail(row, str(exc))
    except ConnectorError as exc:  # transient: the call may be repeated safely
        return _retry_later(row, str(exc))
    # Anything else (a bug, the soft time limit) propagates: the row stays running and the
    # recovery queues it again once its lease is over.
    return _record_done(row)


def recover_moderations(now: datetime | None = None) -> dict[str, int]:
    """Step 6 (beat): requeue rows a dead worker left running; enqueue due and lost rows."""
    now = now or timezone.now()
    lease = timedelta(
        seconds=settings.CELERY_TASK_TIME_LIMIT + settings.REPLY_RECOVERY_MARGIN_SECONDS
    )
    stale = Q(state=State.RUNNING, started_at__lt=now - lease)
    requeued = Moderation.objects.filter(stale).update(
        state=State.QUEUED,
        claim_token=None,
        next_attempt_at=now,
        error="the worker stopped during the call: trying again",
    )
    due = (
        Moderation.objects.filter(
            Q(state=State.QUEUED, next_attempt_at__lte=now)
            | Q(
                state=State.QUEUED,
                next_attempt_at__isnull=True,
                requested_at__lte=now - ENQUEUE_GRACE,
            )
        )
        .order_by("requested_at")
        .values_list("pk", flat=True)[:RECOVERY_BATCH]
    )
    enqueued = 0
    for moderation_id in due:
        if cache.add(_enqueued_key(moderation_id), 1, ENQUEUED_MARK_TTL):
            _task().delay(moderation_id)
            enqueued += 1
    if requeued or enqueued:
        log.info("moderation recovery", extra={"requeued": requeued, "enqueued": enqueued})
    return {"requeued": requeued, "enqueued": enqueued}


def retry_delay(attempts: int) -> timedelta:
    """Backoff before attempt `attempts + 1`: 30 s, 1, 2, 4 min..., capped at 15 min."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def _held(row: Moderation) -> Q:
    return Q(pk=row.pk, state=State.RUNNING, claim_token=row.claim_token)


def _record_done(row: Moderation) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        if not Moderation.objects.filter(_held(row)).update(
            state=State.DONE, finished_at=now, claim_token=None, error="", next_attempt_at=None
        ):
            return Outcome.NOT_CLAIMED
        if row.action == Action.DELETE:
            Reply.objects.filter(pk=row.reply_id, deleted_at__isnull=True).update(deleted_at=now)
            target = {"reply_id": row.reply_id}
        else:
            Mention.record_visibility([row.mention_id], hidden=row.action == Action.HIDE, at=now)
            target = {"mention_id": row.mention_id}
        CaseEvent.objects.create(
            case_id=row.case_id,
            kind=EVENT_FOR[row.action],
            actor_id=row.requested_by_id,
            data={"moderation_id": row.pk, **target},
            created_at=now,
        )
        _touch(row.case_id, now)
    log.info("moderation done", extra=_ids(row))
    return Outcome.DONE


def _retry_later(
    row: Moderation, reason: str, *, at: datetime | None = None, counted: bool = True
) -> Outcome:
    if counted and row.attempts >= MAX_ATTEMPTS:
        return _fail(row, f"gave up after {row.attempts} attempts: {reason}")
    now = timezone.now()
    fields = {
        "state": State.QUEUED,
        "claim_token": None,
        "error": scrub(reason)[:2000],
        "next_attempt_at": at or now + retry_delay(row.attempts),
    }
    if not counted:  # refused before anything was done: not an attempt against the cap
        fields["attempts"] = F("attempts") - 1
    if not Moderation.objects.filter(_held(row)).update(**fields):
        return Outcome.NOT_CLAIMED
    _touch(row.case_id, now)
    log.info("moderation will be retried", extra=_ids(row, error=reason))
    return Outcome.RETRY


def _fail(row: Moderation, reason: str) -> Outcome:
    now = timezone.now()
    reason = scrub(reason)[:2000]
    with transaction.atomic():
        if not Moderation.objects.filter(_held(row)).update(
            state=State.FAILED, error=reason, finished_at=now, claim_token=None
        ):
            return Outcome.NOT_CLAIMED
        CaseEvent.objects.create(
            case_id=row.case_id,
            kind=CaseEvent.Kind.MODERATION_FAILED,
            data={"moderation_id": row.pk, "action": row.action, "reason": reason},
            created_at=now,
        )
        _touch(row.case_id, now)
    log.warning("moderation failed", extra=_ids(row, error=reason))
    return Outcome.FAILED


# ---- helpers ---------------------------------------------------------------------------------


def _touch(case_id: int, now: datetime) -> None:
    """Move the case's version on: inboxes and open case pages catch up."""
    Case.objects.filter(pk=case_id).update(updated_at=now)


def _task():
    from cases.tasks import run_moderation as task

    return task


def _enqueue_on_commit(moderation_id: int) -> None:
    _task().delay_on_commit(moderation_id)


def _enqueued_key(moderation_id: int) -> str:
    return f"moderation-enqueued:{moderation_id}"


def _ids(row: Moderation, **extra: object) -> dict[str, object]:
    return {
        "moderation_id": row.pk,
        "case_id": row.case_id,
        "action": row.action,
        "attempts": row.attempts,
        **extra,
    }
