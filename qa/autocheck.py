"""Automatic pre-scores: what the desk already knows about a reply, as a suggested value.

Each criterion with an `auto_check` gets an AutoScore from the guideline checks stored on the
reply when it was sent (Reply.checks, cases.checks codes), from the case's triage and from the
timing, always with the reason in words ("Spelling: 2 unknown words: recieve, adress"). The
review form shows it as a suggestion, never selected (reviewers who start from the same answers
agree for the wrong reason); the reviewer chooses, or accepts it criterion by criterion.
CriterionScore keeps `auto_value`, `value` and how the answer was reached, so the corrections
of the answers reviewers gave measure how good the checks are (`correction_rates`).

Stored form: `auto_value` = the suggested value; a suggested N/A is `auto_value` None with a
reason on a criterion that may be N/A; None with a reason elsewhere means "no suggestion, see
why"; no reason means the criterion is manual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import translation

from cases.models import Case, Reply, Triage
from cases.sla import ResponseTarget, response_target
from listening.models import Mention
from qa.models import Criterion, CriterionScore, Review
from socialdesk.durations import format_duration

REPLY_CHECKS = ("spelling", "punctuation", "tone", "offline", "norms", "response_time")


@dataclass(frozen=True)
class AutoScore:
    value: int | None  # the suggested value; None with na=False: no suggestion
    reason: str
    na: bool = False  # suggests N/A

    @property
    def suggests(self) -> bool:
        return self.na or self.value is not None


def _checks(reply: Reply) -> dict[str, dict]:
    return {c.get("code"): c for c in (reply.checks or []) if isinstance(c, dict) and c.get("code")}


_QUOTED = re.compile(r'"([^"]+)"')
_MORE = re.compile(r"and (\d+) more word")


def spelling_words(message: str) -> tuple[list[str], int]:
    """The words a spelling check listed, and how many unknown words there were in all."""
    words = _QUOTED.findall(message)
    more = _MORE.search(message)
    return words, len(words) + (int(more.group(1)) if more else 0)


def customer_post_before(
    reply: Reply, mentions: Sequence[Mention], previous_reply_at: datetime | None = None
) -> Mention | None:
    """The customer's post the wait starts from: the first one after our previous reply (the
    first post we left unanswered), else the one the reply answers, else the last before it."""
    sent = reply.sent_at or reply.created_at
    earlier = [m for m in mentions if m.posted_at <= sent]
    if previous_reply_at is not None:
        unanswered = [m for m in earlier if m.posted_at > previous_reply_at]
        if unanswered:
            return unanswered[0]
    elif earlier:
        return earlier[0]
    if reply.in_reply_to_id:
        for mention in mentions:
            if mention.pk == reply.in_reply_to_id:
                return mention
    return earlier[-1] if earlier else None


def previous_reply_at(reply: Reply, replies: Iterable[Reply]) -> datetime | None:
    """When our last reply before this one on the case went out (sent replies only)."""
    sent = reply.sent_at or reply.created_at
    times = [
        r.sent_at
        for r in replies
        if r.pk != reply.pk and r.state == Reply.State.SENT and r.sent_at and r.sent_at < sent
    ]
    return max(times) if times else None


def _triage(case: Case, reply: Reply | None) -> AutoScore:
    labels = dict(Triage.choices)
    decision = case.triage_decision or (Triage.ENGAGE if reply is not None else "")
    suggestion = case.triage_suggestion
    if not decision:
        return AutoScore(None, "Triage: no decision was recorded; judge it from the posts.")
    if not suggestion:
        return AutoScore(
            None, f"Triage: {labels[decision].lower()}, with no radar suggestion to compare."
        )
    if decision == suggestion:
        return AutoScore(
            1,
            f"Triage: {labels[decision].lower()}, as the radar suggested"
            + (f" ({case.triage_reason})" if case.triage_reason else "")
            + ".",
        )
    return AutoScore(
        None,
        f"Triage: the agent chose {labels[decision].lower()}, the radar suggested "
        f"{labels[suggestion].lower()}: judge who was right.",
    )


def _spelling(check: dict | None) -> AutoScore:
    if check is None:
        return AutoScore(None, "Spelling: no check was stored with this reply.")
    message = check.get("message", "")
    if check.get("severity") == "ok":
        if message.startswith("Not checked"):
            return AutoScore(None, f"Spelling: {message}")
        return AutoScore(3, "Spelling: no unknown words.")
    words, count = spelling_words(message)
    listed = ", ".join(words) + (f" and {count - len(words)} more" if count > len(words) else "")
    noun = "word" if count == 1 else "words"
    return AutoScore(2 if count <= 1 else 1, f"Spelling: {count} unknown {noun}: {listed}")


def _punctuation(check: dict | None) -> AutoScore:
    if check is None:
        return AutoScore(None, "Punctuation: no check was stored with this reply.")
    if check.get("severity") == "ok":
        return AutoScore(3, "Punctuation: capitals and ending marks look right.")
    return AutoScore(2, f"Punctuation: {check.get('message', '')}")


def _tone(check: dict | None) -> AutoScore:
    if check is None:
        return AutoScore(None, "Tone: no check was stored with this reply.")
    if check.get("severity") == "ok":
        return AutoScore(
            4, "Tone (a hint only): nothing hostile or curt found; judge the empathy yourself."
        )
    return AutoScore(2, f"Tone (a hint only): {check.get('message', '')}")


def _offline(check: dict | None, reply: Reply) -> AutoScore:
    if reply.is_private:
        return AutoScore(1, "Offline: the reply was already private.")
    if check is None:
        return AutoScore(None, "Offline: no check was stored with this reply.")
    message = check.get("message", "")
    if check.get("severity") == "ok":
        if message.startswith("Not needed"):
            return AutoScore(None, "Offline: not needed, the case was not negative.", na=True)
        if message.startswith("Not checked"):
            return AutoScore(None, f"Offline: {message}")
        return AutoScore(1, "Offline: the reply invites the customer to continue privately.")
    return AutoScore(
        0,
        "Offline: the case was negative and the reply did not invite the "
        "customer to continue privately.",
    )


def _norms(checks: dict[str, dict], reply: Reply) -> AutoScore:
    personal = checks.get("personal_data")
    length = checks.get("length")
    if personal is None and length is None:
        return AutoScore(None, "Norms: no checks were stored with this reply.")
    if personal and personal.get("severity") == "block":
        return AutoScore(
            1, f"Personal data posted publicly (critical): {personal.get('message', '')}"
        )
    if length and length.get("severity") == "block":
        return AutoScore(2, f"Length: {length.get('message', '')}")
    reason = "Norms: within the network's length limit, no personal data in public."
    if reply.override_reason:
        reason += " A check was overridden (see below): judge whether rightly."
    return AutoScore(3, reason)


@dataclass(frozen=True)
class ResponseTime:
    """How long the customer waited for a reply, and the target the case's policy set."""

    waited: timedelta
    target: ResponseTarget | None  # None: the case's service level sets none for this reply
    met: bool
    within_twice: bool

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        text = format_duration(timedelta(minutes=self.target.minutes))
        if self.target.business_hours:
            return translation.gettext("%(duration)s in business hours") % {"duration": text}
        return text


def response_time(
    case: Case, reply: Reply, mentions: Sequence[Mention], replies: Iterable[Reply] = ()
) -> ResponseTime | None:
    """The wait from the customer's first unanswered post to `reply` going out, against the
    case's own service-level policy: its first-response target for the case's first reply,
    its next-response target after, in the business hours its clocks run in (cases.sla).
    None when no customer post came before the reply."""
    before = previous_reply_at(reply, replies)
    post = customer_post_before(reply, mentions, before)
    if post is None:
        return None
    sent: datetime = reply.sent_at or reply.created_at
    target = response_target(case, post.posted_at, first=before is None)
    return ResponseTime(
        waited=max(timedelta(0), sent - post.posted_at),
        target=target,
        met=target is not None and sent <= target.due_at,
        within_twice=target is not None and sent <= target.twice_at,
    )


def _response_time(measured: ResponseTime | None) -> AutoScore:
    if measured is None:
        return AutoScore(None, "Response time: no customer post before the reply was found.")
    waited = format_duration(measured.waited)
    if measured.target is None:
        return AutoScore(
            None,
            f"Response time: {waited} after the customer's post; the case's service level "
            "sets no target for this reply.",
        )
    text = f"Response time: {waited} after the customer's post (target {measured.target_text})."
    if measured.met:
        return AutoScore(3, text)
    return AutoScore(2 if measured.within_twice else 1, text)


def prescore(
    criterion: Criterion,
    *,
    case: Case,
    reply: Reply | None,
    mentions: Sequence[Mention],
    replies: Iterable[Reply] = (),
    measured: ResponseTime | None = None,
) -> AutoScore | None:
    """The criterion's pre-score for this reply (or ignored case), or None if it is manual.
    `measured` is the reply's response_time when the caller has it already."""
    kind = criterion.auto_check
    if not kind:
        return None
    if kind == "triage":
        return _triage(case, reply)
    if reply is None:
        return AutoScore(
            None, "No reply was written: the agent chose to ignore this case.", na=True
        )
    checks = _checks(reply)
    if kind == "spelling":
        return _spelling(checks.get("spelling"))
    if kind == "punctuation":
        return _punctuation(checks.get("punctuation"))
    if kind == "tone":
        return _tone(checks.get("tone"))
    if kind == "offline":
        return _offline(checks.get("offline"), reply)
    if kind in ("norms", "length", "personal_data"):
        return _norms(checks, reply)
    if kind == "response_time":
        return _response_time(measured or response_time(case, reply, mentions, replies))
    return None


def prescore_review(
    review: Review,
    criteria: Iterable[Criterion],
    *,
    mentions: Sequence[Mention] | None = None,
    replies: Sequence[Reply] | None = None,
    measured: ResponseTime | None = None,
) -> dict[int, AutoScore]:
    """{criterion id: AutoScore} for every automatic criterion. Pass the case's mentions (in
    posted order), its replies and the reply's response_time when already at hand; otherwise
    they are read here."""
    if mentions is None:
        mentions = list(Mention.objects.filter(case_id=review.case_id).order_by("posted_at", "id"))
    if replies is None:
        replies = list(Reply.objects.filter(case_id=review.case_id))
    out: dict[int, AutoScore] = {}
    # The reasons are stored with the review: in the desk's default language, whatever the
    # language of the page that created it (choice labels are translated lazily).
    with translation.override(settings.LANGUAGE_CODE):
        for criterion in criteria:
            auto = prescore(
                criterion,
                case=review.case,
                reply=review.reply,
                mentions=mentions,
                replies=replies,
                measured=measured,
            )
            if auto is not None:
                out[criterion.pk] = auto
    return out


def stored_auto(score: CriterionScore, *, na_allowed: bool) -> AutoScore | None:
    """The AutoScore a CriterionScore row holds (see the module docstring), or None."""
    if not score.auto_reason:
        return None
    na = score.auto_value is None and na_allowed
    return AutoScore(score.auto_value, score.auto_reason, na=na)


@dataclass(frozen=True)
class CorrectionRate:
    code: str
    name: str
    pre_scored: int
    corrected: int

    @property
    def rate(self) -> float:
        return self.corrected / self.pre_scored if self.pre_scored else 0.0


def correction_rates() -> list[CorrectionRate]:
    """How often reviewers corrected each automatic pre-score (submitted reviews): the QA of
    the checks. Pre-scores with a value only; a different value or N/A counts as a correction.

    Only answers the reviewer gave (chosen, or the suggestion accepted one by one): answers
    submitted as they arrived pre-selected, before reviews were blind, say nothing of the check.
    """
    rows = (
        CriterionScore.objects.filter(
            review__status=Review.Status.SUBMITTED,
            auto_value__isnull=False,
            answer__in=(CriterionScore.Answer.CHOSEN, CriterionScore.Answer.SUGGESTION),
        )
        .values("criterion__code", "criterion__name")
        .annotate(
            n=Count("id"),
            corrected=Count("id", filter=Q(value__isnull=True) | ~Q(value=F("auto_value"))),
        )
        .order_by("criterion__code")
    )
    merged: dict[str, CorrectionRate] = {}
    for row in rows:
        code = row["criterion__code"]
        old = merged.get(code)
        merged[code] = CorrectionRate(
            code,
            row["criterion__name"],
            row["n"] + (old.pre_scored if old else 0),
            row["corrected"] + (old.corrected if old else 0),
        )
    return list(merged.values())
