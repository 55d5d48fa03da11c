"""What desk users are told about their own work: one row per event and recipient.

The row is the outbox (DESIGN "The database is the outbox"): it is written in the transaction
of the event it tells about, unique per (recipient, dedupe_key), and carries the state of its
e-mail, so a lost Celery message or a dead worker delays an e-mail and never loses or doubles
it (notifications.delivery).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Kind(models.TextChoices):
    ASSIGNED = "assigned", _("A case is assigned to you")
    MENTIONED = "mentioned", _("You are mentioned in a note")
    APPROVAL_REQUESTED = "approval_requested", _("A reply waits for your approval")
    REPLY_APPROVED = "reply_approved", _("Your reply is approved")
    REPLY_SENT_BACK = "reply_sent_back", _("Your reply is sent back")
    DISPUTE_OPENED = "dispute_opened", _("An agent disputes a review")
    FOLLOW_UP_DUE = "follow_up_due", _("A coaching follow-up is due")
    REVIEW_IN = "review_in", _("Your reply has been reviewed")
    SLA_WARNING = "sla_warning", _("A case is about to breach its SLA")
    SLA_BREACHED = "sla_breached", _("A case breached its SLA")


# The short word a list shows above each notification (the labels above read as sentences,
# for the e-mail preferences).
TAGS = {
    Kind.ASSIGNED: pgettext_lazy("notification tag", "Assigned"),
    Kind.MENTIONED: pgettext_lazy("notification tag", "Mention"),
    Kind.APPROVAL_REQUESTED: pgettext_lazy("notification tag", "Approval"),
    Kind.REPLY_APPROVED: pgettext_lazy("notification tag", "Approved"),
    Kind.REPLY_SENT_BACK: pgettext_lazy("notification tag", "Sent back"),
    Kind.DISPUTE_OPENED: pgettext_lazy("notification tag", "Dispute"),
    Kind.FOLLOW_UP_DUE: pgettext_lazy("notification tag", "Coaching"),
    Kind.REVIEW_IN: pgettext_lazy("notification tag", "Review"),
    Kind.SLA_WARNING: pgettext_lazy("notification tag", "SLA soon"),
    Kind.SLA_BREACHED: pgettext_lazy("notification tag", "SLA breached"),
}


class EmailState(models.TextChoices):
    NONE = "none", _("Not e-mailed")  # not wanted, or no address
    PENDING = "pending", _("Waiting to be e-mailed")
    SENDING = "sending", _("Being e-mailed")  # claimed by a worker (email_claimed_at)
    DIGEST = "digest", _("Waiting for the daily digest")
    SENT = "sent", _("E-mailed")
    FAILED = "failed", _("Could not be e-mailed")


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # indexed by notification_recipient (recipient, -id)
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    review = models.ForeignKey(
        "qa.Review", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # One line of plain text, written when the event happens (it may quote a customer's post:
    # escaped wherever it is shown), and where the notification leads.
    title = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The event (e.g. "assigned:<case event id>"): one notification per event and recipient.
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(
        max_length=8, choices=EmailState.choices, default=EmailState.NONE
    )
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    email_due_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], name="notification_once_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "-id"], name="notification_recipient"),
            # The bell's count: a user's unread rows only.
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
            # The sweep and the digest read only rows whose e-mail is not settled.
            models.Index(
                fields=["email_state", "email_due_at"],
                condition=Q(email_state__in=["pending", "sending", "digest"]),
                name="notification_email_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.recipient_id}"

    @property
    def tag(self) -> str:
        return TAGS.get(self.kind, "")


class NotificationPreference(models.Model):
    """Which notifications a user also gets by e-mail (in the app: always), and how.

    A user without a row has the defaults: every kind by e-mail, one message each.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    # The Kind values to e-mail, a JSON list.
    email_kinds = models.JSONField(default=list, blank=True)
    daily_digest = models.BooleanField(
        default=False, help_text=_("One e-mail a day with what is still unread, not one each.")
    )

    def __str__(self) -> str:
        return f"Notification preferences of {self.user_id}"
