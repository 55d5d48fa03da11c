"""Planning and sending the satisfaction survey of a resolved case.

1. **Plan** (`do_plan_survey`, in the transaction that resolves the case): when the admin
   switch (DeskSettings.csat_enabled) is on, a pending Survey row for the case, due after
   CSAT_SURVEY_DELAY_SECONDS, and a task message for when the transaction commits. The row
   comes first: a lost message delays the survey (the beat's `offer_due_surveys` finds the
   row), never loses it. A case has at most one survey (a unique column), so resolving it
   again plans nothing.
2. **Offer** (`offer_survey`, the task; safe to run twice): under the survey's row lock, a
   pending survey that is due is decided once. A case reopened meanwhile gives its row up
   (the next resolution plans it again). Otherwise it is skipped, with the reason on the
   case's timeline, when the switch is now off, the case was ignored at triage, the
   conversation is not a private one (a DM, Messenger, an Instagram DM), the network takes
   none, nobody from the desk answered the customer, or the network's window
   (listening.networks `survey_window`, from the customer's last private message) closes
   within SURVEY_WINDOW_MARGIN. Else the survey text, in the case's language, is queued as a
   private Reply (cases.replies.do_queue_desk_message) and the sender posts it exactly once
   (cases.sending: claim, publish, reconcile). pending → queued | skipped, one transaction.

The agent credited with the survey is the case's assignee when it was resolved, else the
author of the desk's last sent reply; the team is the case's (cases.actions.owning_team).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from cases.models import Case, CaseEvent, CaseStatus, DeskSettings, Reply, Triage
from cases.replies import check_reply_target, do_queue_desk_message
from csat.models import Survey
from listening.networks import POLICIES

log = logging.getLogger(__name__)

Skip = Survey.Skip

# A survey is not started when the network's window closes sooner than this: the sender's
# retries must still fall inside it.
SURVEY_WINDOW_MARGIN = timedelta(minutes=10)
DUE_BATCH = 100

SURVEY_TEXT = gettext_noop(
    "How did we do? Reply with a number from 1 (poor) to 5 (great), and tell us why if you like."
)


def survey_delay() -> timedelta:
    return timedelta(seconds=settings.CSAT_SURVEY_DELAY_SECONDS)


def survey_text(language: str) -> str:
    """The survey's text in `language` where the desk has it, else in the desk's language."""
    known = {code for code, _name in settings.LANGUAGES}
    code = (language or "").split("-")[0].lower()
    with translation.override(code if code in known else settings.LANGUAGE_CODE):
        return gettext(SURVEY_TEXT)


def survey_deadline(network: str, last_private_at: datetime | None) -> datetime | None:
    """Until when a survey may go in a private conversation whose customer last wrote at
    `last_private_at` on `network`; None when it may not go at all."""
    policy = POLICIES.get(network)
    if policy is None or policy.survey_window is None or last_private_at is None:
        return None
    return last_private_at + policy.survey_window


def credited_agent(case: Case) -> int | None:
    """The case's assignee, else the author of the desk's last sent reply (one query)."""
    if case.assignee_id is not None:
        return case.assignee_id
    return (
        Reply.objects.filter(case=case, state=Reply.State.SENT)
        .order_by("-sent_at", "-id")
        .values_list("author_id", flat=True)
        .first()
    )


def do_plan_survey(case: Case, now: datetime) -> bool:
    """Plan the survey of `case`, just resolved: True if a survey row was made.

    Precondition: called inside the transaction that resolves the case (do_set_status). Does
    nothing when surveys are switched off or the case already has a survey.
    """
    if not DeskSettings.load().csat_enabled:
        return False
    owner = case.team_id if case.team_id is not None else case.channel.team_id
    made = Survey.objects.bulk_create(
        [
            Survey(
                case=case,
                channel_id=case.channel_id,
                customer_id=case.customer_id,
                conversation_key=case.conversation_key,
                agent_id=credited_agent(case),
                team_id=owner,
                language=case.language,
                created_at=now,
                due_at=now + survey_delay(),
            )
        ],
        ignore_conflicts=True,  # one survey per case, however often it is resolved
    )
    case_id = case.pk
    transaction.on_commit(lambda: _offer_later(case_id))
    return bool(made and made[0].pk)


def _offer_later(case_id: int) -> None:
    from csat import tasks  # tasks imports this module

    tasks.offer_survey.apply_async((case_id,), countdown=survey_delay().total_seconds())


def offer_survey(case_id: int, now: datetime | None = None) -> str:
    """Decide the pending, due survey of case `case_id`: "queued", "skipped", "reopened", or
    "nothing" (no pending survey, or not due yet). Safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(of=("self",))
            .select_related("case__channel")
            .filter(case_id=case_id, state=Survey.State.PENDING, due_at__lte=now)
            .first()
        )
        if survey is None:
            return "nothing"
        case = survey.case
        if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            survey.delete()  # reopened: its next resolution plans the survey again
            return "reopened"
        reason, target = _check_survey(case, survey, now)
        if reason:
            _skip(survey, reason, now)
            return "skipped"
        language = (case.language or "").split("-")[0].lower()
        reply = do_queue_desk_message(
            case, author=survey.agent, text=survey_text(language), target=target, now=now
        )
        survey.reply = reply
        survey.state = Survey.State.QUEUED
        survey.decided_at = now
        survey.save(update_fields=["reply", "state", "decided_at"])
        CaseEvent.objects.create(
            case=case,
            kind=CaseEvent.Kind.SURVEY_QUEUED,
            data={"reply_id": reply.pk, "survey_id": survey.pk},
            created_at=now,
        )
    log.info("satisfaction survey queued", extra={"case_id": case_id, "reply_id": reply.pk})
    return "queued"


def _check_survey(case: Case, survey: Survey, now: datetime) -> tuple[str, object]:
    """(why the survey may not go, "" if it may; the customer post it answers)."""
    if not DeskSettings.load().csat_enabled:
        return Skip.SWITCHED_OFF, None
    if case.triage_decision == Triage.IGNORE:
        return Skip.IGNORED, None
    if not case.is_private:
        return Skip.NOT_PRIVATE, None
    policy = POLICIES.get(case.channel.network)
    if policy is None or not policy.private_replies or policy.survey_window is None:
        return Skip.NETWORK, None
    if survey.agent_id is None or not case.replies.filter(state=Reply.State.SENT).exists():
        return Skip.NOT_ANSWERED, None
    last = case.mentions.filter(is_private=True).aggregate(last=Max("posted_at"))["last"]
    deadline = survey_deadline(case.channel.network, last)
    if deadline is None:
        return Skip.NO_TARGET, None
    if now + SURVEY_WINDOW_MARGIN > deadline:
        return Skip.WINDOW_CLOSED, None
    try:
        target = check_reply_target(case, is_private=True)
    except ValueError:
        return Skip.NO_TARGET, None
    return "", target


def _skip(survey: Survey, reason: str, now: datetime) -> None:
    survey.state = Survey.State.SKIPPED
    survey.skip_reason = reason
    survey.decided_at = now
    survey.save(update_fields=["state", "skip_reason", "decided_at"])
    CaseEvent.objects.create(
        case_id=survey.case_id,
        kind=CaseEvent.Kind.SURVEY_SKIPPED,
        data={"skip": reason, "why": _in_english(Skip(reason).label)},
        created_at=now,
    )
    log.info("satisfaction survey not sent", extra={"case_id": survey.case_id, "skip": reason})


def _in_english(label: object) -> str:
    """A label as stored on an event: in English, translated when shown (cases.timeline)."""
    with translation.override("en"):
        return str(label)


def offer_due_surveys(now: datetime | None = None) -> int:
    """Beat: the pending surveys due for a while (their message was lost, or a worker died
    before deciding them), decided now. Returns how many were looked at."""
    now = now or timezone.now()
    due = list(
        Survey.objects.filter(state=Survey.State.PENDING, due_at__lte=now - timedelta(minutes=1))
        .order_by("due_at")
        .values_list("case_id", flat=True)[:DUE_BATCH]
    )
    for case_id in due:
        offer_survey(case_id, now)
    return len(due)
