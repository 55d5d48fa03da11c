"""Service-level policies and the business hours their clocks run in.

A case's policy is the first enabled `Policy`, in `position` order, whose conditions all hold
(sla/policies.py); its targets are business minutes in the hours of a team (`BusinessHours`),
or wall-clock minutes when no hours apply. The case row carries the resulting due times
(cases.Case.sla_*), so the inbox sorts and filters on them by index.
"""

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from listening.models import Network

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class CustomerFlag(models.TextChoices):
    VIP = "vip", "VIP"
    PRESS = "press", "Press"


def validate_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "Unknown time zone %(name)s: use an IANA name such as Europe/Berlin.",
            params={"name": name},
        ) from None


class BusinessHours(models.Model):
    """When a team works, in its own time zone: the SLA clocks of its cases run only then."""

    team = models.OneToOneField(
        "socialdesk.Team", on_delete=models.CASCADE, related_name="business_hours"
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="An IANA time zone, e.g. Europe/Berlin; opening times are read on its clock.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return f"Business hours of {self.team}"


class OpeningTime(models.Model):
    """One interval of one weekday; several per day make a split shift."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="openings")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if (
            self.opens is not None
            and self.closes is not None
            and self.closes != time(0)
            and self.closes <= self.opens
        ):
            raise ValidationError(
                {"closes": "Closing time must be after opening time (00:00 for midnight)."}
            )


class Holiday(models.Model):
    """A local date on which the team is closed all day."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["hours", "date"], name="holiday_once_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class Policy(models.Model):
    """Response and resolution targets for the cases its conditions pick.

    Empty conditions match every case; the first enabled policy in `position` order whose
    conditions all hold applies. Targets are minutes of business time.
    """

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(
        default=100, help_text="Policies are tried in this order (lowest first); first match wins."
    )
    enabled = models.BooleanField(default=True)
    # ---- conditions (all that are set must hold) ----
    network = models.CharField(max_length=20, choices=Network.choices, blank=True)
    channel = models.ForeignKey(
        "listening.Channel", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    priority_min = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Cases with at least this priority (0–100)."
    )
    priority_max = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Cases with at most this priority (0–100)."
    )
    label = models.ForeignKey(
        "cases.Label", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    customer_flag = models.CharField(max_length=10, choices=CustomerFlag.choices, blank=True)
    # ---- targets ----
    first_response_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="A first answer within this many minutes."
    )
    next_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="After a reply, each new customer post answered within this many minutes. "
        "Empty: no next-response target.",
    )
    resolution_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Resolved within this many minutes of opening. Empty: no resolution target.",
    )
    warn_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="A clock turns to 'due soon' when this share of its target has passed.",
    )
    hours_team = models.ForeignKey(
        "socialdesk.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="business hours of",
        help_text="The team whose business hours the clocks run in. Empty: the channel's "
        "team's hours where channels have a team, else around the clock.",
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(priority_min__isnull=True)
                | Q(priority_max__isnull=True)
                | Q(priority_min__lte=models.F("priority_max")),
                name="sla_policy_priority_band",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        for name in ("priority_min", "priority_max"):
            value = getattr(self, name)
            if value is not None and value > 100:
                errors[name] = "Priorities run from 0 to 100."
        if (
            self.priority_min is not None
            and self.priority_max is not None
            and self.priority_min > self.priority_max
        ):
            errors["priority_max"] = "The band's upper end must not be below its lower end."
        if self.channel_id and self.network and self.channel.network != self.network:
            errors["channel"] = (
                f"This channel is on {self.channel.get_network_display()}, not on "
                f"{self.get_network_display()}: the policy could never match."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def conditions(self) -> list[str]:
        """The conditions in words, for the admin list and the case page."""
        out = []
        if self.network:
            out.append(self.get_network_display())
        if self.channel_id:
            out.append(f"channel {self.channel}")
        if self.priority_min is not None or self.priority_max is not None:
            out.append(f"priority {self.priority_min or 0}–{self.priority_max or 100}")
        if self.label_id:
            out.append(f"label {self.label}")
        if self.customer_flag:
            out.append(f"{self.get_customer_flag_display()} customers")
        return out
