"""Customer satisfaction surveys: one per resolved case, sent as a private reply (csat.actions).

pending → queued → answered; pending → skipped (with the reason). A survey is "queued" once
its private Reply exists: from there the sender (cases.sending) posts it exactly once, and the
reply's state says whether it went out. The answer is the customer's next DM in the
conversation that reads as a score (csat.answers), taken in by ingest (csat.intake).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Survey(models.Model):
    """The satisfaction survey of one case. A case has at most one (a unique column): it is
    never sent twice, whether the case is resolved again or the job runs twice."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        QUEUED = "queued", _("Sent to the customer")
        SKIPPED = "skipped", _("Not sent")
        ANSWERED = "answered", _("Answered")

    class Skip(models.TextChoices):
        SWITCHED_OFF = "switched_off", _("satisfaction surveys are switched off")
        NOT_PRIVATE = "not_private", _("the conversation is not a private one")
        NETWORK = "network", _("the network takes no survey")
        WINDOW_CLOSED = "window_closed", _("the network's messaging window has closed")
        NOT_ANSWERED = "not_answered", _("nobody from the desk answered the customer")
        IGNORED = "ignored", _("the case was ignored at triage")
        NO_TARGET = "no_target", _("the customer has no message left to answer")

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="survey")
    channel = models.ForeignKey(
        "listening.Channel", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The case's customer and conversation: where the answer is expected (csat.intake).
    customer = models.ForeignKey(
        "cases.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    conversation_key = models.CharField(max_length=160)
    # Who is credited with the case when it was resolved, and their team.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    team = models.ForeignKey(
        "socialdesk.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    skip_reason = models.CharField(max_length=20, choices=Skip.choices, blank=True)
    language = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    reply = models.OneToOneField(
        "cases.Reply", on_delete=models.SET_NULL, null=True, blank=True, related_name="survey"
    )
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    answer = models.ForeignKey(
        "listening.Mention",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    answered_at = models.DateTimeField(null=True, blank=True)  # when the customer wrote it

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "satisfaction survey"
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
                name="survey_score_1_to_5",
            ),
        ]
        indexes = [
            # Ingest's look-up of the surveys waiting for an answer in a page's conversations.
            models.Index(
                fields=["channel", "conversation_key"],
                condition=Q(state="queued"),
                name="survey_awaiting_answer",
            ),
            # The beat's sweep of surveys whose first message was lost.
            models.Index(fields=["due_at"], condition=Q(state="pending"), name="survey_pending"),
            # The dashboard: a period's surveys.
            models.Index(fields=["created_at"], name="survey_created"),
        ]

    def __str__(self) -> str:
        return f"Survey of case #{self.case_id} ({self.state})"
