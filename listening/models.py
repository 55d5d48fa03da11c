"""Connected brand accounts, listening rules, inbound mentions and the quarantine."""

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from socialdesk.crypto import decrypt_json, encrypt_json
from socialdesk.scrub import ScrubbedTextField


class Network(models.TextChoices):
    X = "x", _("X")
    FACEBOOK = "facebook", _("Facebook")
    INSTAGRAM = "instagram", _("Instagram")


class Channel(models.Model):
    """One connected brand account on one network, polled by its own Celery task."""

    name = models.CharField(max_length=100)
    network = models.CharField(max_length=20, choices=Network.choices)
    handle = models.CharField(max_length=100, help_text="The brand's @handle or page name.")
    external_account_id = models.CharField(
        max_length=64,
        help_text=(
            "The account's id on the network (X user id, Facebook page id, Instagram user id)."
        ),
    )
    credentials_encrypted = models.TextField(blank=True, editable=False)
    # The team that works this channel's cases. Empty: a channel shared by every team (what
    # every channel was before teams owned channels, so an upgrade hides nothing).
    team = models.ForeignKey(
        "socialdesk.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="channels",
        help_text="Only this team's members and supervisors see and are assigned its cases. "
        "Empty: every team.",
    )
    enabled = models.BooleanField(default=True)
    poll_interval = models.PositiveIntegerField(
        default=60, help_text="Seconds between polls. X reads are paid: poll no more than needed."
    )
    # Stream name -> position, e.g. {"mentions": "<newest_id>", "rule:3": "...", "feed": "..."};
    # a dict value is a continuation: a backlog read over several polls.
    cursor = models.JSONField(default=dict, blank=True)
    # Periods the network can no longer serve, so posts in them may be missing: a list of
    # {"stream", "since", "until", "reason", "detected_at"} (ISO times), shown on /health/
    # and in the admin until an admin acknowledges them.
    intake_gaps = models.JSONField(default=list, blank=True, editable=False)

    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = ScrubbedTextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    needs_reauth = models.BooleanField(
        default=False, help_text="Set when the network rejects the token; an admin must reconnect."
    )
    # Cost-relevant counters (the X API is paid per read and per post).
    api_reads = models.PositiveBigIntegerField(default=0)
    api_posts = models.PositiveBigIntegerField(default=0)
    # Push intake (Meta webhooks, listening.webhooks): when a verified delivery for this
    # account last arrived, and how many deliveries naming it were refused.
    webhook_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_refused = models.PositiveBigIntegerField(default=0, editable=False)
    # The scheduled check that recent posts still exist at the source (X: deleted tweets are
    # not announced). Reads are paid, so it spends at most this many a day.
    deletion_check_budget = models.PositiveIntegerField(
        default=200,
        help_text="Posts a day the desk may look up to find those deleted by their authors "
        "(X bills each post read). 0 turns the check off.",
    )
    deletion_check_day = models.DateField(null=True, blank=True, editable=False)
    deletion_check_reads = models.PositiveIntegerField(default=0, editable=False)
    deletion_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        permissions = [("view_health", "Can view channel health")]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "external_account_id"], name="channel_unique_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_network_display()} {self.handle})"

    @property
    def credentials(self) -> dict[str, Any]:
        return decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.credentials_encrypted = encrypt_json(value)

    def is_rate_limited(self, now: datetime | None = None) -> bool:
        return bool(self.rate_limited_until and self.rate_limited_until > (now or timezone.now()))

    def lag(self, now: datetime | None = None) -> timedelta | None:
        """Time since the last successful poll, or None if it never succeeded."""
        if self.last_success_at is None:
            return None
        return (now or timezone.now()) - self.last_success_at

    def open_gaps(self) -> list[dict[str, str]]:
        """The recorded intake gaps, well-formed ones only (the field is written by ingest)."""
        return [g for g in self.intake_gaps or [] if isinstance(g, dict)]

    @classmethod
    def acknowledge_gaps(cls, channel_ids: list[int], seen_at: datetime) -> int:
        """Clear the intake gaps of these channels that were recorded by `seen_at`.

        A gap recorded after that moment (one the admin could not have seen) is kept. One
        UPDATE; returns how many channels had a gap cleared.
        """
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE listening_channel SET intake_gaps = COALESCE(("
                "  SELECT jsonb_agg(g) FROM jsonb_array_elements(intake_gaps) AS g"
                "  WHERE g->>'detected_at' > %s), '[]'::jsonb)"
                " WHERE id = ANY(%s) AND intake_gaps <> '[]'::jsonb",
                [seen_at.isoformat(), list(channel_ids)],
            )
            return cursor.rowcount

    def count_api_use(self, reads: int = 0, posts: int = 0) -> None:
        """Add to the cost counters without a read-modify-write race."""
        if reads or posts:
            Channel.objects.filter(pk=self.pk).update(
                api_reads=F("api_reads") + reads, api_posts=F("api_posts") + posts
            )


class ListeningRule(models.Model):
    """A keyword search beyond direct mentions: X recent search, or Facebook page tags."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    query = models.CharField(
        max_length=512, help_text='X search syntax, e.g. "acme (refund OR broken) -is:retweet".'
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel", "name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.query}"

    @property
    def cursor_key(self) -> str:
        return f"rule:{self.pk}"


class MentionKind(models.TextChoices):
    MENTION = "mention", _("Mention")
    REPLY = "reply", _("Reply")
    QUOTE = "quote", _("Quote")
    SEARCH = "search", _("Search match")
    COMMENT = "comment", _("Comment")
    VISITOR_POST = "visitor_post", _("Visitor post")
    TAG = "tag", _("Tagged post")
    DIRECT_MESSAGE = "dm", _("Direct message")


class Removal(models.TextChoices):
    """Why a mention's text was removed, and how the desk learned it must go."""

    WEBHOOK = "webhook", _("The network reported the deletion")
    REPLY_NOT_FOUND = "reply_not_found", 'The network answered "not found" to a reply'
    READ_NOT_FOUND = "read_not_found", 'The network answered "not found" when read'
    LOOKUP = "lookup", _("The scheduled check found it gone")
    RETENTION = "retention", _("Older than the desk's retention period")
    ERASURE = "erasure", _("Erased at the customer's request")


# The removals that mean the author deleted the post at the source.
SOURCE_REMOVALS = (
    Removal.WEBHOOK,
    Removal.REPLY_NOT_FOUND,
    Removal.READ_NOT_FOUND,
    Removal.LOOKUP,
)


class Mention(models.Model):
    """One inbound post from a network, threaded into a case. Written by ingest, and its text
    by listening.content (edits and removals at the source, retention, erasure)."""

    # Both covered by the indexes in Meta (channel, external_id) and (case, posted_at).
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    case = models.ForeignKey(
        "cases.Case", on_delete=models.CASCADE, related_name="mentions", db_index=False
    )
    author = models.ForeignKey("cases.Identity", on_delete=models.PROTECT, related_name="mentions")
    external_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=MentionKind.choices)
    is_private = models.BooleanField(default=False)
    text = models.TextField()
    lang = models.CharField(max_length=16, blank=True)
    conversation_id = models.CharField(max_length=128)
    in_reply_to_id = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=500, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    sentiment = models.FloatField(default=0.0, help_text="VADER compound score, -1 to 1.")
    priority = models.PositiveSmallIntegerField(default=0)
    priority_reasons = models.JSONField(default=list, blank=True)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its text was removed: deleted at the source, past the desk's retention "
        "period, or erased at the customer's request (`removed_how` says which).",
    )
    # Hidden on the network (a Facebook comment the page hid): only its author and their
    # friends see it there. The desk still shows the text to its agents.
    hidden_at = models.DateTimeField(null=True, blank=True)
    # Ingest's INSERT names its columns: the new ones need database defaults.
    removed_how = models.CharField(
        max_length=20, choices=Removal.choices, blank=True, default="", db_default=""
    )
    # The author edited it at the source: when last, and the earlier versions, oldest first,
    # as [{"text": ..., "until": <ISO time the next version replaced it>}] (listening.content).
    edited_at = models.DateTimeField(null=True, blank=True)
    earlier_texts = models.JSONField(
        default=list, blank=True, db_default=models.Value([], models.JSONField())
    )
    # When the scheduled check last asked the network whether the post still exists.
    source_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["posted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="mention_unique_post")
        ]
        indexes = [
            models.Index(fields=["case", "posted_at"], name="mention_case_time"),
            # The scheduled deletion check and the retention sweep: live posts by age.
            models.Index(
                fields=["channel", "posted_at"],
                condition=models.Q(deleted_at__isnull=True),
                name="mention_live_by_age",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.external_id}"

    @classmethod
    def record_visibility(cls, mention_ids: list[int], *, hidden: bool, at: datetime) -> int:
        """Record that these posts are hidden on the network since `at`, or shown again.

        A post already in that state keeps its time (the first hide is when it went out of
        view). Returns how many rows changed.
        """
        rows = cls.objects.filter(pk__in=mention_ids, hidden_at__isnull=hidden)
        return rows.update(hidden_at=at if hidden else None)


class QuarantinedPost(models.Model):
    """A post that could not be normalised: kept with the reason, never silently dropped.

    One row per record: `digest` identifies it (its external id when it has one, else its
    raw text; see `listening.quarantine`), so a record met again adds no row. A replayed row
    that now normalises is stored through ingest and marked with when and which mention.
    """

    class Source(models.TextChoices):
        POLL = "poll", _("Poll")
        IMPORT = "import", _("Import")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="quarantined_posts")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.POLL)
    external_id = models.CharField(max_length=255, blank=True)
    reason = models.TextField()
    payload = models.TextField(help_text="The raw item as received (JSON text).")
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    mention = models.ForeignKey(
        Mention,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The mention a successful replay stored.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "quarantined posts"
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "source", "digest"], name="quarantine_unique_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id or '?'}: {self.reason[:60]}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.digest:
            self.digest = record_digest(self.external_id, self.payload)
        super().save(*args, **kwargs)


def record_digest(external_id: str, payload: str) -> str:
    """What makes a quarantined record the same record: its external id when it has one,
    else its raw text (migration 0002 computes the same in SQL)."""
    key = f"id:{external_id}" if external_id else f"raw:{payload}"
    return hashlib.sha256(key.encode("utf-8", "backslashreplace")).hexdigest()


class WebhookEvent(models.Model):
    """One verified delivery from Meta, stored before it is acknowledged.

    The database is the outbox: the row is written in the request that receives the delivery,
    and the Celery message that processes it is only a wake-up call. A lost message delays the
    event until the sweep (listening.webhooks.sweep_events) enqueues it again; it never loses
    it. `body_sha256` is unique, so a replayed delivery is recognised and stored once.
    """

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")  # stored, not processed yet (or being retried)
        PROCESSED = "processed", _("Processed")
        UNMATCHED = "unmatched", _("Unmatched")  # no entry names an account a channel knows
        FAILED = "failed", _("Failed")  # gave up after WEBHOOK_MAX_ATTEMPTS; see `error`

    object = models.CharField(max_length=32, help_text='Meta\'s "object": page, instagram...')
    body = models.TextField(help_text="The delivery's body exactly as received (JSON text).")
    body_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A worker holds the event until then; a later sweep may hand it to another worker.
    claimed_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = ScrubbedTextField(blank=True)
    # What processing did: counts, the accounts no channel knows, and the source changes
    # waiting for their handler ("awaiting_handler"), kept rather than dropped.
    outcome = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="webhookevent_pending",
                condition=models.Q(state="received"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.object} webhook {self.pk} ({self.state})"
