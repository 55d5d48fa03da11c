"""Customers and their network identities, cases, replies and what agents keep around them
(labels, notes, events, saved views, canned replies), and the desk's settings. Who sees which
case is cases.visibility; moderation requests and post images are in cases.network_models,
imported here so the app's models are all found in cases.models."""

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from cases.network_models import MentionMedia as MentionMedia
from cases.network_models import Moderation as Moderation
from cases.visibility import visible_q
from listening.models import Network
from socialdesk.scrub import ScrubbedJSONField, ScrubbedTextField

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Customer(models.Model):
    """A person, possibly with several network identities merged into one profile."""

    display_name = models.CharField(max_length=200)
    is_vip = models.BooleanField("VIP", default=False, db_default=False)
    is_press = models.BooleanField("press", default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Identity(models.Model):
    """One account on one network. Upserted by ingest on every post it authors."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    network = models.CharField(max_length=20, choices=Network.choices)
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
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING)


class Triage(models.TextChoices):
    ENGAGE = "engage", _("Engage")
    IGNORE = "ignore", _("Ignore")
    ESCALATE = "escalate", _("Escalate")


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user: "AbstractBaseUser | AnonymousUser") -> "CaseQuerySet":
        """The cases `user` sees (visible_q): every list, search, bulk action and access
        helper of the desk starts here."""
        return self.filter(visible_q(user))

    def neighbours(self, case: "Case") -> tuple[int | None, int | None]:
        """The ids of the previous and next open case in the inbox's default order (priority,
        then waiting longest), or None at either end."""
        p, t, pk = case.priority, case.last_inbound_at, case.pk
        open_cases = self.filter(status__in=OPEN_STATUSES)
        after = (
            Q(priority__lt=p)
            | Q(priority=p, last_inbound_at__gt=t)
            | Q(priority=p, last_inbound_at=t, id__gt=pk)
        )
        before = (
            Q(priority__gt=p)
            | Q(priority=p, last_inbound_at__lt=t)
            | Q(priority=p, last_inbound_at=t, id__lt=pk)
        )
        # The redundant bounds on priority let PostgreSQL start the index scan at this case
        # instead of filtering the OR over every open case.
        nxt = (
            open_cases.filter(after, priority__lte=p)
            .order_by("-priority", "last_inbound_at", "id")
            .values_list("pk", flat=True)
            .first()
        )
        prev = (
            open_cases.filter(before, priority__gte=p)
            .order_by("priority", "-last_inbound_at", "-id")
            .values_list("pk", flat=True)
            .first()
        )
        return prev, nxt


class Case(models.Model):
    """One customer's conversation on one channel, from first post to resolution."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cases")
    channel = models.ForeignKey(
        "listening.Channel",
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,  # indexed by case_channel (channel, status)
    )
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
    triage_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    triage_decided_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Pending until then; back in the inbox afterwards."
    )
    # Set by a transfer; empty, the case belongs to its channel's team (visible_q).
    team = models.ForeignKey(
        "socialdesk.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transferred_cases",
    )
    labels = models.ManyToManyField("Label", blank=True, related_name="cases")
    language = models.CharField(max_length=16, blank=True)
    sentiment = models.FloatField(default=0.0)
    is_private = models.BooleanField(default=False, help_text="A DM or Messenger conversation.")
    mention_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    last_inbound_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Service level (cases/sla.py keeps these; README "Service levels"). awaiting_since: the
    # customer post the running response clock counts from (None: nobody waits on us).
    sla_policy = models.ForeignKey(
        "sla.Policy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # policies are seldom deleted: a scan then costs less than an index
    )
    awaiting_since = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True)  # the soonest running clock's
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_state = models.CharField(max_length=10, blank=True, db_default="", default="")

    objects = CaseQuerySet.as_manager()

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
            models.Index(fields=["assignee", "status"], name="case_assignee"),
            models.Index(fields=["channel", "status"], name="case_channel"),
            models.Index(fields=["-updated_at"], name="case_updated"),
            # The dashboard's response times per channel, from the index alone.
            models.Index(
                fields=["channel", "opened_at"],
                include=["first_response_at", "resolved_at", "assignee"],
                name="case_channel_opened",
            ),
            # The inbox's "SLA due soonest" and the SLA beat's breaches (open cases only).
            models.Index(
                fields=["sla_due_at", "id"],
                condition=Q(status__in=["new", "open", "pending"], sla_due_at__isnull=False),
                name="case_sla_due",
            ),
            models.Index(fields=["sla_warn_at"], condition=Q(sla_state="ok"), name="case_sla_warn"),
            # QA sampling of the cases agents chose to ignore.
            models.Index(
                fields=["triage_decided_at"],
                condition=Q(triage_decision=Triage.IGNORE),
                name="case_ignored",
            ),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Reply(models.Model):
    """An outbound reply. Posted at most once: see cases.sending.

    draft → (awaiting_approval →) queued → sending → sent | failed; sending → reconciling →
    sent | queued | failed when the network may have it; failed → queued on retry.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "approval", _("Awaiting approval")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        RECONCILING = "reconciling", _("Confirming")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="replies",
        db_index=False,  # indexed by reply_author_sent (author, -sent_at)
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
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, blank=True)
    error = ScrubbedTextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Guideline checks as shown when the agent sent it: [{"code", "severity", "message"}].
    checks = models.JSONField(default=list, blank=True)
    override_reason = models.CharField(
        max_length=500, blank=True, help_text="Why a blocking check was overridden."
    )
    needs_approval = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The current claim: a worker publishes only while the row still carries its token.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    # When the reply's first attempt began: find_published looks for posts from then on.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    # The settle window of a reconciliation: its start and how many look-ups said "not found".
    reconcile_started_at = models.DateTimeField(null=True, blank=True)
    reconcile_checks = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The network answered "duplicate content": an earlier attempt landed, never post again.
    duplicate_answer = models.BooleanField(default=False, db_default=False)
    # Failed without knowing whether the network received it: only a supervisor may retry.
    unconfirmed = models.BooleanField(default=False, db_default=False)
    # The composer's one-time token: a resubmitted form finds the reply it already made.
    submit_token = models.UUIDField(null=True, blank=True, editable=False)
    # Deleted from the network by the desk (cases/moderation.py); the text stays for QA.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "replies"
        permissions = [("approve_reply", "Can approve replies on high-risk cases")]
        indexes = [
            models.Index(fields=["case", "created_at"], name="reply_case_time"),
            models.Index(fields=["state", "next_attempt_at"], name="reply_state"),
            models.Index(fields=["author", "-sent_at"], name="reply_author_sent"),
            # A period's sent replies: QA sampling and its planner.
            models.Index(fields=["sent_at"], condition=Q(state="sent"), name="reply_sent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submit_token"],
                condition=Q(submit_token__isnull=False),
                name="reply_submit_token_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Reply #{self.pk} ({self.state})"


class Label(models.Model):
    """A tag agents put on cases (billing, outage, VIP...)."""

    name = models.CharField(max_length=50, unique=True)
    color = models.CharField(
        max_length=10,
        default="gray",
        choices=[(c, c) for c in ("gray", "blue", "green", "amber", "red", "purple")],
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    """An internal note on a case: never sent to the customer."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["case", "created_at"], name="note_case_time")]

    def __str__(self) -> str:
        return f"Note on case #{self.case_id}"


class CaseEvent(models.Model):
    """Something that happened to a case, for its timeline and for QA."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Unassigned")
        STATUS = "status", _("Status changed")
        TRIAGE = "triage", _("Triage decision")
        LABELS = "labels", _("Labels changed")
        SNOOZED = "snoozed", _("Snoozed")
        REPLY_QUEUED = "reply_queued", _("Reply queued")
        REPLY_SENT = "reply_sent", _("Reply sent")
        REPLY_FAILED = "reply_failed", _("Reply failed")
        REPLY_APPROVED = "reply_approved", _("Reply approved")
        CHECK_OVERRIDDEN = "check_overridden", _("Guideline check overridden")
        COMMENT_HIDDEN = "comment_hidden", _("Comment hidden")
        COMMENT_SHOWN = "comment_shown", _("Comment shown again")
        REPLY_DELETED = "reply_deleted", _("Reply deleted")
        MODERATION_FAILED = "moderation_failed", _("Moderation failed")
        POST_EDITED = "post_edited", _("Customer post edited")
        POST_DELETED = "post_deleted", _("Customer post deleted")
        CONTENT_ERASED = "content_erased", _("Customer content erased")
        TRANSFERRED = "transferred", _("Transferred to another team")
        SURVEY_QUEUED = "survey_queued", _("Satisfaction survey queued")
        SURVEY_SKIPPED = "survey_skipped", _("Satisfaction survey not sent")
        SURVEY_ANSWERED = "survey_answered", _("Satisfaction survey answered")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for the desk itself (auto-assignment, the sender).",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Kind-specific details, e.g. {"from": "new", "to": "open"} or {"assignee": "alex"}.
    data = ScrubbedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="event_case_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case #{self.case_id}"


class SavedView(models.Model):
    """A named inbox filter: personal (owner set) or shared with the whole desk."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_views",
    )
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000, help_text="The inbox query string, e.g. status=new.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def shown_name(self) -> str:
        """The name in the reader's language for the desk's starter views (migration 0005),
        as stored for every other view: what people named themselves is not translated."""
        if self.owner_id is None and self.name in STARTER_VIEW_NAMES:
            return gettext(self.name)
        return self.name


# The shared views every desk starts with (cases/migrations/0005_inbox_indexes.py), marked
# for the catalogue: their stored names are English.
STARTER_VIEW_NAMES = frozenset(
    {
        gettext_noop("Mine"),
        gettext_noop("Unassigned"),
        gettext_noop("High priority"),
        gettext_noop("Escalated"),
        gettext_noop("Snoozed"),
    }
)


class CannedReplyQuerySet(models.QuerySet):
    def for_network(self, network: str) -> "CannedReplyQuerySet":
        """The replies offered on `network`: those with a default text or a variant for it."""
        variant = CannedReplyVariant.objects.filter(canned=OuterRef("pk"), network=network)
        return self.filter(~Q(text="") | Exists(variant))


class CannedReply(models.Model):
    """A reusable answer: a default text and, where a network's wording should differ (X's
    length, Facebook's private replies), a variant per network. Placeholders: {customer_name}
    {handle} {agent_name} (cases/canned.py)."""

    title = models.CharField(max_length=100)
    text = models.TextField(
        blank=True,
        help_text="The default text, used on every network without its own variant. Leave it "
        "empty to offer this reply only on the networks that have a variant.",
    )
    labels = models.ManyToManyField(Label, blank=True, related_name="canned_replies")
    is_private = models.BooleanField(default=False, help_text="Meant for a DM / private reply.")

    objects = CannedReplyQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title

    def text_for(self, network: str) -> str:
        """The variant for `network`, else the default text (reads prefetched variants)."""
        for variant in self.variants.all():
            if variant.network == network:
                return variant.text
        return self.text


class CannedReplyVariant(models.Model):
    """A canned reply's wording for one network, used there instead of the default text."""

    canned = models.ForeignKey(CannedReply, on_delete=models.CASCADE, related_name="variants")
    network = models.CharField(max_length=20, choices=Network.choices)
    text = models.TextField()

    class Meta:
        ordering = ["network"]
        constraints = [
            models.UniqueConstraint(fields=["canned", "network"], name="canned_variant_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.canned} ({self.get_network_display()})"


class EngagementGuidelines(models.Model):
    """The desk's written engagement guidelines, edited by admins (one row)."""

    body = models.TextField(
        help_text="Plain text. Blank lines separate paragraphs; lines starting with '# ' are "
        "headings and lines starting with '- ' are list items."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = verbose_name_plural = "engagement guidelines"

    def __str__(self) -> str:
        return "Engagement guidelines"


class AgentProfile(models.Model):
    """What auto-assignment knows about one person who works the inbox (cases.assignment)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile"
    )
    languages = ArrayField(
        models.CharField(max_length=16),
        default=list,
        blank=True,
        help_text="Language codes this person answers in, e.g. en, fr. Empty: any language.",
    )
    skills = models.ManyToManyField(
        Label,
        blank=True,
        related_name="skilled_agents",
        help_text="Cases with one of these labels go to this person before others.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class DeskSettings(models.Model):
    """Desk-wide policies, edited by admins (one row: DeskSettings.load())."""

    first_response_sla_minutes = models.PositiveIntegerField(
        "first-response target (minutes)",
        default=60,
        help_text="The desk's default service level, around the clock, for every case no "
        "service-level policy picks (Service levels → Policies).",
    )
    max_open_cases_per_agent = models.PositiveIntegerField(
        default=15, help_text="Auto-assignment gives an agent no more open cases than this."
    )
    auto_assign = models.BooleanField(default=True)
    approval_for_escalated = models.BooleanField(
        default=False, help_text="Replies on escalated cases need a supervisor's approval."
    )
    approval_min_followers = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Replies to customers with at least this many followers need approval.",
    )
    approval_max_sentiment = models.FloatField(
        null=True,
        blank=True,
        help_text="Replies on cases at or below this sentiment (-1 to 1) need approval.",
    )
    public_reference_words = models.CharField(
        max_length=500,
        blank=True,
        default="order, account, ticket, booking",
        help_text="Comma-separated. A public reply that writes one of these with its number "
        '("order #835070", "booking ref AB1234") is stopped, and the agent is asked to send '
        "it privately. Leave empty to allow references in public replies.",
    )

    csat_enabled = models.BooleanField(
        "satisfaction surveys",
        default=False,
        db_default=False,
        help_text="After a private conversation (X DM, Messenger, Instagram DM) is resolved, "
        "send the customer one short survey (a score from 1 to 5 and a comment), within the "
        "network's messaging window. Each case is surveyed at most once.",
    )

    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Remove the text of customer posts this many days after they were posted "
        "(the cases stay, without the text). Leave empty to keep it as long as the network "
        "keeps it.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "desk settings"

    def __str__(self) -> str:
        return "Desk settings"

    @property
    def reference_words(self) -> tuple[str, ...]:
        """The words of `public_reference_words`, lower case, each once, in order."""
        words = (word.strip().lower() for word in self.public_reference_words.split(","))
        return tuple(dict.fromkeys(word for word in words if word))

    @classmethod
    def load(cls) -> "DeskSettings":
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row


class CustomerErasure(models.Model):
    """That a customer's personal content was erased: who did it and when, never what."""

    class Via(models.TextChoices):
        ADMIN = "admin", _("Admin")
        COMMAND = "command", _("Command line")

    customer_id = models.BigIntegerField(help_text="The id the erased customer had.")
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=10, choices=Via.choices)
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-erased_at"]
        verbose_name = "customer erasure"

    def __str__(self) -> str:
        return f"Customer #{self.customer_id} erased {self.erased_at:%Y-%m-%d %H:%M}"
