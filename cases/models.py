"""Customers and their network identities, cases, and outbound replies."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Customer(models.Model):
    """A person, possibly with several network identities merged into one profile."""

    display_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Identity(models.Model):
    """One account on one network. Upserted by ingest on every post it authors."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    network = models.CharField(max_length=20, choices=[("x", "X"), ("facebook", "Facebook")])
    external_id = models.CharField(max_length=64)
    handle = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200, blank=True)
    followers = models.PositiveIntegerField(default=0)
    verified = models.BooleanField(default=False)
    profile_url = models.URLField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["network", "external_id"], name="identity_unique")
        ]

    def __str__(self) -> str:
        return f"@{self.handle}" if self.handle else self.name or self.external_id


class CaseStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING)


class Triage(models.TextChoices):
    ENGAGE = "engage", "Engage"
    IGNORE = "ignore", "Ignore"
    ESCALATE = "escalate", "Escalate"


class Case(models.Model):
    """One customer's conversation on one channel, from first post to resolution."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cases")
    channel = models.ForeignKey("listening.Channel", on_delete=models.PROTECT, related_name="cases")
    # The network's thread (X conversation_id, Facebook post id, DM conversation).
    conversation_key = models.CharField(max_length=160)
    subject = models.CharField(max_length=200, blank=True, help_text="Start of the first post.")
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.NEW)
    priority = models.PositiveSmallIntegerField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True)
    triage_suggestion = models.CharField(max_length=10, choices=Triage.choices, blank=True)
    triage_reason = models.CharField(max_length=300, blank=True)
    triage_decision = models.CharField(max_length=10, choices=Triage.choices, blank=True)
    triage_decision_reason = models.CharField(max_length=300, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        db_index=False,  # indexed by case_assignee (assignee, status)
    )
    language = models.CharField(max_length=16, blank=True)
    sentiment = models.FloatField(default=0.0)
    is_private = models.BooleanField(default=False, help_text="A DM or Messenger conversation.")
    mention_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    last_inbound_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-priority", "last_inbound_at"]
        permissions = [
            ("work_inbox", "Can work cases in the inbox"),
            ("supervise_desk", "Can supervise the desk"),
        ]
        constraints = [
            # One open case per customer and conversation: ingest threads into it.
            models.UniqueConstraint(
                fields=["channel", "customer", "conversation_key"],
                condition=Q(status__in=["new", "open", "pending"]),
                name="case_one_open_per_conversation",
            )
        ]
        indexes = [
            models.Index(fields=["status", "-priority", "last_inbound_at"], name="case_inbox"),
            models.Index(fields=["assignee", "status"], name="case_assignee"),
            models.Index(fields=["channel", "status"], name="case_channel"),
            models.Index(fields=["-updated_at"], name="case_updated"),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Reply(models.Model):
    """An outbound reply. Posted at most once: see cases.tasks.send_reply."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="replies"
    )
    in_reply_to = models.ForeignKey(
        "listening.Mention",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
    )
    text = models.TextField()
    is_private = models.BooleanField(default=False, help_text="A DM / private reply, not public.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "replies"
        indexes = [
            models.Index(fields=["case", "created_at"], name="reply_case_time"),
            models.Index(fields=["state"], name="reply_state"),
            models.Index(fields=["author", "-sent_at"], name="reply_author_sent"),
        ]

    def __str__(self) -> str:
        return f"Reply #{self.pk} ({self.state})"
