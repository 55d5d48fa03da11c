"""The desk's work on the networks' copies of a case's posts: changes it asks of a network
(hiding a comment, deleting a reply) and the images of customers' posts it fetches from the
networks' CDNs. Imported by cases.models, where the rest of the app finds them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from socialdesk.scrub import ScrubbedTextField


class Moderation(models.Model):
    """One change the desk asks of a network: hide or show a customer's comment, or delete
    one of the brand's own public replies. The row comes first and the Celery message second,
    so a lost message or a failed call stays visible with its reason (cases/moderation.py).

    queued → running → done | failed; running → queued (retry later); failed → queued (retry).
    """

    class Action(models.TextChoices):
        HIDE = "hide", _("Hide comment")
        UNHIDE = "unhide", _("Show comment")
        DELETE = "delete", _("Delete reply")

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("In progress")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="moderations", db_index=False
    )
    mention = models.ForeignKey(
        "listening.Mention",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="moderations",
    )
    reply = models.ForeignKey(
        "cases.Reply",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="moderations",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    requested_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The current claim: only the worker whose token the row still carries records the outcome.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    error = ScrubbedTextField(blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        permissions = [
            ("hide_comment", "Can hide and show customers' comments on the network"),
            ("delete_published_reply", "Can delete the brand's published replies"),
        ]
        indexes = [
            models.Index(fields=["case", "requested_at"], name="moderation_case_time"),
            models.Index(
                fields=["state", "next_attempt_at"],
                condition=Q(state__in=["queued", "running"]),
                name="moderation_active",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(action="delete", reply__isnull=False, mention__isnull=True)
                    | Q(action__in=["hide", "unhide"], mention__isnull=False, reply__isnull=True)
                ),
                name="moderation_target_fits_action",
            ),
            # One change at a time per post: a second waits until the first has an outcome.
            models.UniqueConstraint(
                fields=["mention"],
                condition=Q(state__in=["queued", "running"]),
                name="moderation_one_active_per_mention",
            ),
            models.UniqueConstraint(
                fields=["reply"],
                condition=Q(state__in=["queued", "running"]),
                name="moderation_one_active_per_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.state}) on case #{self.case_id}"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class MentionMedia(models.Model):
    """An image attached to a customer's post (a photo, a GIF's still, a video's thumbnail).

    Written by ingest (cases.intake.store_attachments) as "pending" with the network's CDN
    address; cases.media fetches it once into the desk's storage ("fetched", with `file`) or
    says why it would not ("refused", with `reason`). Pages show only the stored file, through
    cases:media, never the CDN address: those links expire and would tell the CDN who reads.
    """

    class Kind(models.TextChoices):
        PHOTO = "photo", _("Photo")
        GIF = "gif", _("GIF")
        VIDEO = "video", _("Video thumbnail")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be fetched")
        FETCHING = "fetching", _("Being fetched")
        FETCHED = "fetched", _("Fetched")
        REFUSED = "refused", _("Could not be fetched")

    mention = models.ForeignKey(
        "listening.Mention", on_delete=models.CASCADE, related_name="media", db_index=False
    )
    position = models.PositiveSmallIntegerField(help_text="Its place among the post's images.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source_url = models.URLField(max_length=2000, help_text="The network's CDN address.")
    alt_text = models.TextField(blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(max_length=300, blank=True)
    thumbnail = models.FileField(max_length=300, blank=True)
    content_type = models.CharField(max_length=30, blank=True)
    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "post image"
        ordering = ["mention", "position"]
        constraints = [
            models.UniqueConstraint(fields=["mention", "position"], name="media_unique_position")
        ]
        indexes = [
            # The sweep's work list: only the few rows waiting, however many are stored.
            models.Index(
                fields=["next_attempt_at"],
                name="media_waiting",
                condition=Q(state__in=["pending", "fetching"]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.position + 1} of mention #{self.mention_id}"

    @property
    def shown_file(self) -> str:
        """The stored name the timeline shows small: the thumbnail, else the image."""
        return self.thumbnail.name or self.file.name
