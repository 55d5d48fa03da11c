"""QA, the safety net: rubrics, sampling, reviews, calibration and coaching over cases.Reply."""

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Rubric(models.Model):
    """A versioned scoring rubric. Editing one that reviews use makes a new version."""

    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next_version"
    )
    is_active = models.BooleanField(default=True, help_text="New reviews use the active version.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="rubric_unique_version"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(is_active=True), name="rubric_one_active_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Criterion(models.Model):
    class Scale(models.TextChoices):
        YES_NO = "yes_no", _("Yes / no")
        THREE = "1_3", _("1 to 3")
        FIVE = "1_5", _("1 to 5")

    # The lowest and highest value of each scale, the one definition every reading of a value
    # (scoring, validation, calibration, drift, the dashboard) goes through.
    SCALE_BOUNDS: ClassVar[dict[str, tuple[int, int]]] = {
        Scale.YES_NO: (0, 1),
        Scale.THREE: (1, 3),
        Scale.FIVE: (1, 5),
    }

    rubric = models.ForeignKey(Rubric, on_delete=models.CASCADE, related_name="criteria")
    code = models.SlugField(max_length=50, help_text="Stable key, e.g. 'tact_empathy'.")
    name = models.CharField(max_length=100)
    guidance = models.TextField(blank=True, help_text="What a reviewer looks for.")
    weight = models.FloatField(default=1.0)
    scale = models.CharField(max_length=10, choices=Scale.choices, default=Scale.FIVE)
    allow_na = models.BooleanField(default=False, help_text="May be marked not applicable.")
    critical = models.BooleanField(
        default=False, help_text="Failing it fails the whole review (score 0)."
    )
    # Which automatic check pre-fills it: a cases.checks code, or "triage" / "response_time".
    auto_check = models.CharField(max_length=30, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rubric", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["rubric", "code"], name="criterion_unique_code")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def max_value(self) -> int:
        return self.SCALE_BOUNDS[self.scale][1]

    @property
    def min_value(self) -> int:
        return self.SCALE_BOUNDS[self.scale][0]

    @property
    def scale_values(self) -> list[int]:
        return self.values_of(self.scale)

    @classmethod
    def values_of(cls, scale: str) -> list[int]:
        """The values of `scale`, lowest first."""
        low, high = cls.SCALE_BOUNDS[scale]
        return list(range(low, high + 1))


class SamplingPolicy(models.Model):
    """How many replies to review per period, and which."""

    name = models.CharField(max_length=100)
    period_days = models.PositiveSmallIntegerField(default=7)
    rate = models.FloatField(default=0.05, help_text="Share of each stratum's replies sampled.")
    per_agent_minimum = models.PositiveSmallIntegerField(default=5)
    risk_weight = models.FloatField(
        default=3.0,
        help_text="How much likelier a risky reply is to be picked (negative case, failed or "
        "overridden check, escalation).",
    )
    ignored_case_rate = models.FloatField(
        default=0.02, help_text="Share of cases the agents chose to ignore, sampled for review."
    )
    target_margin = models.FloatField(
        default=0.10, help_text="Margin of error wanted per agent (planner), e.g. 0.10 = ±10 pts."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "sampling policies"

    def __str__(self) -> str:
        return self.name


class SamplingRun(models.Model):
    """One period's sampling under one policy."""

    policy = models.ForeignKey(SamplingPolicy, on_delete=models.PROTECT, related_name="runs")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    seed = models.BigIntegerField()
    population = models.PositiveIntegerField(default=0)
    sampled = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "period_start"], name="run_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.period_start:%Y-%m-%d}"


class Sample(models.Model):
    """A reply (or an ignored case) picked for review, with its inclusion probability."""

    run = models.ForeignKey(SamplingRun, on_delete=models.CASCADE, related_name="samples")
    reply = models.OneToOneField(
        "cases.Reply", on_delete=models.CASCADE, null=True, blank=True, related_name="qa_sample"
    )
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="qa_samples")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="qa_samples",
        db_index=False,  # indexed by sample_agent_time (agent, created_at)
    )
    channel = models.ForeignKey("listening.Channel", on_delete=models.PROTECT, related_name="+")
    is_ignored_case = models.BooleanField(default=False)
    is_risky = models.BooleanField(default=False)
    risk_reasons = models.JSONField(default=list, blank=True)
    inclusion_probability = models.FloatField(
        help_text="Chance this item had of being picked: scores are weighted by 1/p."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # No ignored case is sampled twice (replies are unique through the one-to-one).
            models.UniqueConstraint(
                fields=["case"], condition=Q(reply__isnull=True), name="sample_ignored_case_once"
            )
        ]
        indexes = [models.Index(fields=["agent", "created_at"], name="sample_agent_time")]

    def __str__(self) -> str:
        return f"Sample #{self.pk}"


class CalibrationSession(models.Model):
    """Several reviewers score the same replies blind; agreement is measured per criterion."""

    name = models.CharField(max_length=100)
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    replies = models.ManyToManyField("cases.Reply", related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class GoldReply(models.Model):
    """A reply with agreed scores, slipped blind into reviewers' queues to check them."""

    reply = models.OneToOneField("cases.Reply", on_delete=models.CASCADE, related_name="gold")
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="+")
    scores = models.JSONField(help_text='{"criterion code": value or null for N/A}')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Gold reply #{self.reply_id}"


class Review(models.Model):
    """One reviewer's scoring of one reply (or ignored case) against one rubric version."""

    class Kind(models.TextChoices):
        SAMPLE = "sample", _("Sampled")
        CALIBRATION = "calibration", _("Calibration")
        GOLD = "gold", _("Gold check")

    class Status(models.TextChoices):
        PENDING = "pending", _("To review")
        SUBMITTED = "submitted", _("Submitted")

    class AgentResponse(models.TextChoices):
        PENDING = "pending", _("Not yet seen")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        DISPUTED = "disputed", _("Disputed")
        DISPUTE_UPHELD = "upheld", _("Dispute upheld")
        DISPUTE_REJECTED = "rejected", _("Dispute rejected")

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SAMPLE)
    sample = models.ForeignKey(
        Sample, on_delete=models.CASCADE, null=True, blank=True, related_name="reviews"
    )
    calibration = models.ForeignKey(
        CalibrationSession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reviews",
    )
    # The three foreign keys below are indexed by the composite indexes in Meta that lead with
    # them (review_once_per_reviewer, review_agent_time, review_queue).
    reply = models.ForeignKey(
        "cases.Reply",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reviews",
        db_index=False,
    )
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="reviews")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reviews_received",
        db_index=False,
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reviews_given",
        db_index=False,
    )
    rubric = models.ForeignKey(Rubric, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    score = models.FloatField(null=True, blank=True, help_text="0-100 by qa.scoring.")
    critical_failed = models.BooleanField(default=False)
    weight = models.FloatField(
        default=1.0, help_text="1 / inclusion probability, for unbiased averages."
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    agent_response = models.CharField(
        max_length=12, choices=AgentResponse.choices, default=AgentResponse.PENDING
    )
    agent_comment = models.TextField(blank=True)
    agent_responded_at = models.DateTimeField(null=True, blank=True)
    dispute_resolution = models.TextField(blank=True)
    dispute_resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dispute_resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("review_replies", "Can score replies (QA specialist)"),
            ("view_team_reviews", "Can see the reviews and dashboards of their teams"),
            ("view_team_dashboard", "Can see the quality dashboard of their teams"),
            ("view_own_reviews", "Can see reviews of their own replies"),
            ("resolve_dispute", "Can resolve disputed reviews"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["reply", "reviewer", "calibration"], name="review_once_per_reviewer"
            )
        ]
        indexes = [
            models.Index(fields=["reviewer", "status"], name="review_queue"),
            models.Index(fields=["agent", "submitted_at"], name="review_agent_time"),
            models.Index(fields=["status", "submitted_at"], name="review_submitted"),
            # The dashboard's count of open disputes (a few among all reviews).
            models.Index(
                fields=["agent"], condition=Q(agent_response="disputed"), name="review_disputed"
            ),
        ]

    def __str__(self) -> str:
        return f"Review #{self.pk}"


class CriterionScore(models.Model):
    """A reviewer's value for one criterion; null is N/A. `auto_*` is the check's pre-score.

    `answer` says how the value was reached, so the checks' correction rates count only
    answers a reviewer chose (qa.autocheck.correction_rates). An upheld dispute may correct the
    value: `original_value` then keeps the reviewer's (null: N/A) and `corrected_at` says when.
    """

    class Answer(models.TextChoices):
        PENDING = "", _("Not answered yet")
        CHOSEN = "chosen", _("Chosen by the reviewer")
        SUGGESTION = "suggestion", _("The suggestion, accepted by the reviewer")
        PREFILLED = "prefilled", _("Submitted pre-selected (before reviews were blind)")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="scores")
    value = models.SmallIntegerField(null=True, blank=True)
    auto_value = models.SmallIntegerField(null=True, blank=True)
    auto_reason = models.CharField(max_length=300, blank=True)
    answer = models.CharField(max_length=10, choices=Answer.choices, blank=True, default="")
    comment = models.CharField(max_length=500, blank=True)
    original_value = models.SmallIntegerField(null=True, blank=True)
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["review", "criterion"], name="score_once_per_criterion")
        ]

    def __str__(self) -> str:
        return f"{self.criterion}: {self.value}"


class CoachingSession(models.Model):
    """A coaching conversation with an agent, tied to the reviews that prompted it."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        FOLLOWED_UP = "followed_up", _("Followed up")

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coaching_received"
    )
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coaching_given"
    )
    reviews = models.ManyToManyField(Review, related_name="coaching_sessions", blank=True)
    scheduled_for = models.DateTimeField(default=timezone.now)
    notes = models.TextField(blank=True)
    action_items = models.TextField(blank=True, help_text="One per line.")
    follow_up_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-scheduled_for"]
        indexes = [models.Index(fields=["status", "follow_up_on"], name="coaching_follow_up")]

    def __str__(self) -> str:
        return f"Coaching for {self.agent} on {self.scheduled_for:%Y-%m-%d}"


class MentionVolume(models.Model):
    """Mentions of one channel posted in one quarter hour (UTC), by sentiment: what the
    dashboard's volume and spike charts add up instead of the mentions. See qa.volume."""

    channel = models.ForeignKey("listening.Channel", on_delete=models.CASCADE, related_name="+")
    quarter = models.DateTimeField(help_text="Start of the quarter hour.")
    negative = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    positive = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["quarter", "channel"], name="mention_volume_once")
        ]

    def __str__(self) -> str:
        return f"Mentions on channel #{self.channel_id} from {self.quarter:%Y-%m-%d %H:%M}"


class MentionVolumeMark(models.Model):
    """How far MentionVolume has counted: every mention up to last_mention_id (one row).

    last_received_at tells that mention apart from a later one with the same id (after the
    mentions were emptied and their ids restarted)."""

    last_mention_id = models.BigIntegerField()
    last_received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Mentions counted up to #{self.last_mention_id}"
