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
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from listening.models import Network

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class CustomerFlag(models.TextChoices):
    VIP = "vip", pgettext_lazy("customer flag", "VIP")
    PRESS = "press", pgettext_lazy("customer flag", "Press")


def validate_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("Unknown time zone %(name)s: use an IANA name such as Europe/Berlin."),
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
        help_text=_("An IANA time zone, e.g. Europe/Berlin; opening times are read on its clock."),
    )

    class Meta:
        verbose_name = verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return gettext("Business hours of %(team)s") % {"team": self.team}


class OpeningTime(models.Model):
    """One interval of one weekday; several per day make a split shift."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="openings")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=WEEKDAYS)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(
        _("closes"), help_text=_("00:00 means midnight at the end of the day.")
    )

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("opening time")
        verbose_name_plural = _("opening times")

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
                {"closes": _("Closing time must be after opening time (00:00 for midnight).")}
            )


class Holiday(models.Model):
    """A local date on which the team is closed all day."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
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

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveIntegerField(
        _("position"),
        default=100,
        help_text=_("Policies are tried in this order (lowest first); first match wins."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # ---- conditions (all that are set must hold) ----
    network = models.CharField(_("network"), max_length=20, choices=Network.choices, blank=True)
    channel = models.ForeignKey(
        "listening.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    priority_min = models.PositiveSmallIntegerField(
        _("priority min"),
        null=True,
        blank=True,
        help_text=_("Cases with at least this priority (0–100)."),
    )
    priority_max = models.PositiveSmallIntegerField(
        _("priority max"),
        null=True,
        blank=True,
        help_text=_("Cases with at most this priority (0–100)."),
    )
    label = models.ForeignKey(
        "cases.Label",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("label"),
    )
    customer_flag = models.CharField(
        _("customer flag"), max_length=10, choices=CustomerFlag.choices, blank=True
    )
    # ---- targets ----
    first_response_minutes = models.PositiveIntegerField(
        _("first response minutes"),
        validators=[MinValueValidator(1)],
        help_text=_("A first answer within this many minutes."),
    )
    next_response_minutes = models.PositiveIntegerField(
        _("next response minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "After a reply, each new customer post answered within this many minutes. "
            "Empty: no next-response target."
        ),
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Resolved within this many minutes of opening. Empty: no resolution target."),
    )
    warn_percent = models.PositiveSmallIntegerField(
        _("warn percent"),
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("A clock turns to 'due soon' when this share of its target has passed."),
    )
    hours_team = models.ForeignKey(
        "socialdesk.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("business hours of"),
        help_text=_(
            "The team whose business hours the clocks run in. Empty: the channel's "
            "team's hours where channels have a team, else around the clock."
        ),
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
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
                errors[name] = _("Priorities run from 0 to 100.")
        if (
            self.priority_min is not None
            and self.priority_max is not None
            and self.priority_min > self.priority_max
        ):
            errors["priority_max"] = _("The band's upper end must not be below its lower end.")
        if self.channel_id and self.network and self.channel.network != self.network:
            errors["channel"] = gettext(
                "This channel is on %(channel_network)s, not on %(network)s: the policy could "
                "never match."
            ) % {
                "channel_network": self.channel.get_network_display(),
                "network": self.get_network_display(),
            }
        if errors:
            raise ValidationError(errors)

    @property
    def conditions(self) -> list[str]:
        """The conditions in words, for the admin list and the case page."""
        out = []
        if self.network:
            out.append(self.get_network_display())
        if self.channel_id:
            out.append(gettext("channel %(channel)s") % {"channel": self.channel})
        if self.priority_min is not None or self.priority_max is not None:
            out.append(
                gettext("priority %(low)s–%(high)s")
                % {"low": self.priority_min or 0, "high": self.priority_max or 100}
            )
        if self.label_id:
            out.append(gettext("label %(label)s") % {"label": self.label})
        if self.customer_flag:
            out.append(gettext("%(flag)s customers") % {"flag": self.get_customer_flag_display()})
        return out
