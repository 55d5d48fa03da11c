"""Queueing replies: create, approve, send back and retry them (the sending is cases.sending).

A reply that is queued, approved or retried gets its send task enqueued when the
transaction commits; the protocol that then posts it exactly once is cases.sending's
docstring.
"""

import logging
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from cases.actions import do_add_note
from cases.models import Case, CaseEvent, DeskSettings, Identity, Reply, Triage
from listening.connectors.errors import PermanentError
from listening.models import Channel, Mention, MentionKind
from listening.networks import POLICIES, NetworkPolicy
from listening.posts import OutboundReply, ReplyTarget
from notifications.actions import do_notify, team_supervisors
from notifications.models import Kind as NotificationKind
from socialdesk import roles
from socialdesk.durations import format_duration

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from cases.checks import CheckResult

log = logging.getLogger(__name__)

State = Reply.State

# While a task message for a reply is believed to be in the broker, the recovery does not
# add another one: a backlog must not fill the queue with copies.
ENQUEUED_MARK_TTL = 300

UNCONFIRMED_RETRY = (
    "The network may already have this reply: only a supervisor can send it again, "
    "after looking at the conversation on the network."
)


# ---- queueing --------------------------------------------------------------------------------


def needs_approval(case: Case) -> bool:
    """Whether a reply on `case` must wait for a supervisor, per DeskSettings.

    Escalated cases (the radar's suggestion or a triage decision), customers whose largest
    identity has at least approval_min_followers, and cases at or below
    approval_max_sentiment. Each rule applies only when the admin has switched it on. A
    triage decision lifts the radar's escalation only if whoever decided may approve
    replies: an agent cannot switch off the control on their own reply.
    """
    desk = DeskSettings.load()
    if desk.approval_for_escalated and _escalated(case):
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


def _escalated(case: Case) -> bool:
    if case.triage_decision == Triage.ESCALATE:
        return True
    if case.triage_suggestion != Triage.ESCALATE:
        return False
    if not case.triage_decision or case.triage_decided_by_id is None:
        return True
    decider = case.triage_decided_by
    return not (decider.is_active and decider.has_perm("cases.approve_reply"))


def do_queue_reply(
    case: Case,
    *,
    author: "User",
    text: str,
    is_private: bool,
    in_reply_to: Mention | None = None,
    checks: Iterable["CheckResult | dict[str, Any]"] = (),
    override_reason: str = "",
    submit_token: str | None = None,
) -> Reply:
    """Create a reply and queue it for sending (or for approval).

    `submit_token` is the composer's one-time token: a unique column, so a resubmitted
    form (a double click, a reload) raises AlreadySubmitted with the reply it made, even
    when both arrive at once; a failed transaction stores neither reply nor token.

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
    if submit_token:
        _refuse_resubmit(submit_token)
    try:
        reply = _create_queued(
            case,
            author=author,
            text=text,
            is_private=is_private,
            target=target,
            check_rows=check_rows,
            override_reason=override_reason,
            blocking=blocking,
            approval=approval,
            self_approved=self_approved,
            submit_token=submit_token,
            now=now,
        )
    except IntegrityError:
        if submit_token:
            _refuse_resubmit(submit_token)  # the same form, sent twice at once
        raise
    log.info(
        "reply queued",
        extra={"reply_id": reply.pk, "case_id": case.pk, "state": str(reply.state)},
    )
    return reply


class AlreadySubmitted(Exception):
    """The composer's form was already sent: `reply` is the reply it made."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"reply #{reply.pk} was already made from this form")
        self.reply = reply


def _refuse_resubmit(submit_token: str) -> None:
    existing = Reply.objects.filter(submit_token=submit_token).first()
    if existing is not None:
        raise AlreadySubmitted(existing)


def _create_queued(
    case: Case,
    *,
    author: "User",
    text: str,
    is_private: bool,
    target: Mention,
    check_rows: list[dict[str, Any]],
    override_reason: str,
    blocking: list[dict[str, Any]],
    approval: bool,
    self_approved: bool,
    submit_token: str | None,
    now: datetime,
) -> Reply:
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
            submit_token=submit_token or None,
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
        touch_case(case.pk, now)
        if waits:
            # The supervisors of the author's teams (with no team: everyone who approves).
            do_notify(
                team_supervisors(author.pk, "cases.approve_reply").filter(
                    pk__in=roles.holders_of("cases.approve_reply").values("pk")
                ),
                NotificationKind.APPROVAL_REQUESTED,
                case=case,
                actor=author,
                url=reverse("cases:approvals"),
                dedupe_key=f"approval-requested:{reply.pk}",
                now=now,
            )
        else:
            _enqueue(reply.pk)
    return reply


def do_queue_desk_message(
    case: Case, *, author: "User", text: str, target: Mention, now: datetime
) -> Reply:
    """Queue a private message the desk itself sends on `case` (a satisfaction survey, csat):
    no composer checks and no approval, posted by the same sender, exactly once.

    Preconditions: inside the caller's transaction; `target` is the customer's private post
    it answers, checked with `check_reply_target`. The send task is enqueued on commit.
    """
    reply = Reply.objects.create(
        case=case,
        author=author,
        in_reply_to=target,
        text=text,
        is_private=True,
        state=State.QUEUED,
        created_at=now,
        queued_at=now,
    )
    CaseEvent.objects.create(
        case=case,
        kind=CaseEvent.Kind.REPLY_QUEUED,
        data={"reply_id": reply.pk, "private": True, "desk": True},
        created_at=now,
    )
    touch_case(case.pk, now)
    _enqueue(reply.pk)
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
        check_tag_reply(policy, target)
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
                    f"{format_duration(policy.private_window)} of the customer's last message "
                    f"(theirs was {format_duration(now - last)} ago): the customer must write "
                    "again first."
                )
        return target

    # A private reply to a public post or comment.
    check_tag_reply(policy, target)
    window = policy.private_reply_to_comment_window
    if window is not None:
        if now - target.posted_at > window:
            raise ValueError(
                f"{policy.label} allows a private reply to a comment only within "
                f"{format_duration(window)} of it; this one is "
                f"{format_duration(now - target.posted_at)} old."
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


def check_tag_reply(policy: NetworkPolicy, target: Mention) -> None:
    """ValueError if `policy`'s network takes no reply to a post that tags or mentions the
    brand (Instagram: the media is someone else's, and private replies answer comments only)."""
    if not policy.replies_to_tags and target.kind in (MentionKind.TAG, MentionKind.MENTION):
        raise ValueError(
            f"{policy.label} takes neither comments nor private replies on media the brand is "
            "tagged or mentioned in: help the customer once they write to the brand."
        )


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
    do_add_note(
        reply.case,
        f"{_sent_back_prefix(reply)}{note}{SENT_BACK_TEXT}{reply.text}",
        author=approver,
        mentions=note,  # the quoted reply's @handles are customers, not colleagues
    )
    do_notify(
        [reply.author_id],
        NotificationKind.REPLY_SENT_BACK,
        case=reply.case,
        actor=approver,
        data={"note": note[:300], "reply_id": reply.pk},
        dedupe_key=f"reply-sent-back:{reply.pk}",
    )
    return True


SENT_BACK_TEXT = "\n\nIts text: "


def _sent_back_prefix(reply: Reply) -> str:
    author = reply.author.get_full_name() or reply.author.get_username()
    return f"Reply by {author} sent back for changes: "


def sent_back_note(reply: Reply) -> tuple[str, str] | None:
    """(who sent `reply` back, their note) from the note `do_send_back_reply` wrote, or None."""
    prefix = _sent_back_prefix(reply)
    found = (
        reply.case.notes.filter(created_at__gte=reply.created_at, text__startswith=prefix)
        .select_related("author")
        .order_by("-created_at")
        .first()
    )
    if found is None:
        return None
    who = found.author.get_full_name() or found.author.get_username()
    return who, found.text[len(prefix) :].split(SENT_BACK_TEXT)[0]


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
        touch_case(reply.case_id, now)
        do_notify(
            [reply.author_id],
            NotificationKind.REPLY_APPROVED,
            case=reply.case,
            actor=approver,
            data={"reply_id": reply.pk},
            dedupe_key=f"reply-approved:{reply.pk}",
            now=now,
        )
        _enqueue(reply.pk)
    reply.refresh_from_db()


def do_retry_reply(reply: Reply, *, actor: "User") -> None:
    """Send a failed reply again: failed → queued (error cleared, attempts reset), enqueue.

    Precondition: the caller checked `cases.add_reply`. ValueError if the reply is not
    failed, if its channel still needs re-authorisation (it would fail the same way), if the
    post it answers was deleted at the source (it would fail for good again), or if
    it failed as unconfirmed (the network may have it) and `actor` may not approve replies:
    only a supervisor, after looking on the network, may risk posting it twice.
    """
    channel = Channel.objects.only("needs_reauth", "name").get(pk=reply.case.channel_id)
    if channel.needs_reauth:
        raise ValueError(
            f"The channel {channel.name} needs to be reconnected by an admin before this "
            "reply can be retried."
        )
    answered = reply.in_reply_to_id
    if answered and Mention.objects.filter(pk=answered, deleted_at__isnull=False).exists():
        raise ValueError("The customer deleted the post this reply answers: it cannot be sent.")
    may_risk = actor.has_perm("cases.approve_reply")
    if reply.unconfirmed and not may_risk:
        raise ValueError(UNCONFIRMED_RETRY)
    now = timezone.now()
    failed = Reply.objects.filter(pk=reply.pk, state=State.FAILED)
    if not may_risk:
        failed = failed.filter(unconfirmed=False)
    with transaction.atomic():
        updated = failed.update(
            state=State.QUEUED,
            error="",
            attempts=0,
            queued_at=now,
            next_attempt_at=None,
            sending_started_at=None,
            claim_token=None,
            duplicate_answer=False,
            unconfirmed=False,
        )
        if not updated:
            raise ValueError("Only a failed reply can be retried.")
        CaseEvent.objects.create(
            case_id=reply.case_id,
            actor=actor,
            kind=CaseEvent.Kind.REPLY_QUEUED,
            data={
                "reply_id": reply.pk,
                "private": reply.is_private,
                "retry": True,
                **({"unconfirmed": True} if reply.unconfirmed else {}),
            },
            created_at=now,
        )
        touch_case(reply.case_id, now)
        _enqueue(reply.pk)
    reply.refresh_from_db()


# ---- what a connector is handed ----------------------------------------------------------------


def outbound_reply(reply: Reply, *, taken: Iterable[str] = ()) -> OutboundReply:
    """`reply` as the plain value a connector publishes or looks for (listening.posts).

    `taken`: network ids recorded for other replies, which `find_published` must not match.
    Raises PermanentError when the case has no post to answer.
    """
    target = target_mention(reply)
    return OutboundReply(
        channel=reply.case.channel,
        text=reply.text,
        is_private=reply.is_private,
        target=ReplyTarget(
            external_id=target.external_id,
            kind=target.kind,
            is_private=target.is_private,
            author_id=target.author.external_id,
            conversation_id=target.conversation_id,
        ),
        started_at=(
            reply.first_attempt_at
            or reply.sending_started_at
            or reply.queued_at
            or reply.created_at
        ),
        taken=frozenset(taken),
    )


def target_mention(reply: Reply) -> Mention:
    """The post a reply answers: its in_reply_to, else the case's latest suitable mention."""
    if reply.in_reply_to_id is not None:
        return reply.in_reply_to
    mentions = reply.case.mentions.select_related("author").order_by("-posted_at", "-id")
    if not reply.is_private:
        mentions = mentions.filter(is_private=False)
    target = mentions.first()
    if target is None:
        raise PermanentError("The case has no post to reply to.")
    return target


# ---- helpers ---------------------------------------------------------------------------------


def send_task() -> Any:
    from cases import tasks  # tasks imports this module

    return tasks.send_reply


def _enqueue(reply_id: int) -> None:
    """Enqueue the send task when the current transaction commits."""
    cache.set(enqueued_key(reply_id), 1, ENQUEUED_MARK_TTL)
    send_task().delay_on_commit(reply_id)


def enqueued_key(reply_id: int) -> str:
    return f"socialdesk:reply-enqueued:{reply_id}"


def touch_case(case_id: int, now: datetime) -> None:
    """The inbox's live update looks at updated_at."""
    Case.objects.filter(pk=case_id).update(updated_at=now)


def _check_row(item: "CheckResult | dict[str, Any]") -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return {k: v for k, v in asdict(item).items() if k in ("code", "severity", "message")}
    if isinstance(item, dict):
        return {k: str(item.get(k, "")) for k in ("code", "severity", "message")}
    raise TypeError(f"a check result must be a CheckResult or a dict, not {type(item).__name__}")


# ---------- what the composer tells the author about their latest reply ----------

QUEUED_NOTICE = "Reply queued: it is being posted and shows in the timeline."
APPROVAL_NOTICE = "Sent to a supervisor for approval: it goes out once approved."
RECENTLY_SENT = timedelta(minutes=10)  # how long the composer says "your reply was sent"


def latest_reply(case: Case, user: "User") -> Reply | None:
    return Reply.objects.filter(case=case, author=user).order_by("-created_at", "-id").first()


IN_FLIGHT = (Reply.State.QUEUED, Reply.State.SENDING, Reply.State.RECONCILING)


def reply_progress(reply: Reply | None) -> dict:
    """What the composer says about the author's latest reply as it moves on ({} for
    nothing to say): the notice follows the timeline, never "queued" once it shows Sent."""
    if reply is None:
        return {}
    if reply.state == Reply.State.DRAFT:
        who, note = sent_back_note(reply) or ("A supervisor", "")
        return {
            "notice": f"{who} sent your reply back for changes. The text is back in the box: "
            "edit it and send it again.",
            "notice_level": "warning",
            "sent_back_by": who,
            "sent_back_note": note,
        }
    if reply.state == Reply.State.AWAITING_APPROVAL:
        return {"notice": APPROVAL_NOTICE}
    if reply.state in IN_FLIGHT:
        return {"notice": QUEUED_NOTICE}
    if reply.state == Reply.State.FAILED:
        return {
            "notice": "Your reply was not sent: the timeline says why.",
            "notice_level": "error",
        }
    if reply.sent_at and timezone.now() - reply.sent_at < RECENTLY_SENT:
        return {"notice": f"Your reply was sent at {timezone.localtime(reply.sent_at):%H:%M}."}
    return {"notice": ""}
