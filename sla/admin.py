"""Admin for service levels: policies in matching order, each team's business hours with its
opening times and holidays. A change re-dates every open case (cases.tasks.
refresh_open_case_slas, after the commit), so the inbox's due times follow at once."""

from datetime import time

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from cases.tasks import refresh_open_case_slas
from sla.models import BusinessHours, Holiday, OpeningTime, Policy


def _redate_open_cases() -> None:
    transaction.on_commit(refresh_open_case_slas.delay)


def _minutes(value: int | None) -> str:
    if not value:
        return "–"
    hours, minutes = divmod(value, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = [
        "position",
        "name",
        "enabled",
        "applies_to",
        "first_response",
        "next_response",
        "resolution",
        "due_soon_at",
        "hours_team",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "enabled"]
    list_select_related = ["channel", "label", "hours_team"]
    ordering = ["position", "id"]
    fieldsets = [
        (None, {"fields": ["name", "position", "enabled"]}),
        (
            _("Applies to (every condition set must hold; none set: every case)"),
            {
                "fields": [
                    "network",
                    "channel",
                    ("priority_min", "priority_max"),
                    "label",
                    "customer_flag",
                ]
            },
        ),
        (
            _("Targets (minutes of business time)"),
            {
                "fields": [
                    "first_response_minutes",
                    "next_response_minutes",
                    "resolution_minutes",
                    "warn_percent",
                    "hours_team",
                ]
            },
        ),
    ]

    @admin.display(description=_("Applies to"))
    def applies_to(self, policy: Policy) -> str:
        return ", ".join(policy.conditions) or gettext("every case")

    @admin.display(description=_("First response"))
    def first_response(self, policy: Policy) -> str:
        return _minutes(policy.first_response_minutes)

    @admin.display(description=_("Next response"))
    def next_response(self, policy: Policy) -> str:
        return _minutes(policy.next_response_minutes)

    @admin.display(description=_("Resolution"))
    def resolution(self, policy: Policy) -> str:
        return _minutes(policy.resolution_minutes)

    @admin.display(description=_("Due soon at"))
    def due_soon_at(self, policy: Policy) -> str:
        return f"{policy.warn_percent} %"

    def save_model(self, request: HttpRequest, obj: Policy, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _redate_open_cases()

    def delete_model(self, request: HttpRequest, obj: Policy) -> None:
        super().delete_model(request, obj)
        _redate_open_cases()

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        super().delete_queryset(request, queryset)
        _redate_open_cases()


class OpeningTimeFormSet(BaseInlineFormSet):
    """At least one opening time, and no two intervals of one day that overlap."""

    def clean(self) -> None:
        super().clean()
        intervals: dict[int, list[tuple[time, time]]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or form.errors:
                continue
            opens, closes = data.get("opens"), data.get("closes")
            if opens is None or closes is None:
                continue
            intervals.setdefault(data["weekday"], []).append((opens, closes))
        if not intervals:
            raise ValidationError(
                gettext("Add at least one opening time: clocks only run while the team is open.")
            )
        names = dict(OpeningTime._meta.get_field("weekday").choices)
        for weekday, spans in intervals.items():
            # An interval closing at 00:00 runs to midnight: sort it as the end of the day.
            spans.sort()
            for (_opens, first_end), (second_start, _closes) in zip(spans, spans[1:], strict=False):
                if first_end == time(0) or second_start < first_end:
                    raise ValidationError(
                        gettext(
                            "Two opening times overlap on %(day)s: make them one, or end one "
                            "before the next begins."
                        )
                        % {"day": names[weekday]}
                    )


class OpeningTimeInline(admin.TabularInline):
    model = OpeningTime
    formset = OpeningTimeFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    list_display = ["team", "time_zone", "opening_times", "holiday_count"]
    list_select_related = ["team"]
    inlines = [OpeningTimeInline, HolidayInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("openings", "holidays")

    @admin.display(description=pgettext_lazy("business hours", "Open"))
    def opening_times(self, hours: BusinessHours) -> str:
        return "; ".join(str(opening) for opening in hours.openings.all()) or gettext("never")

    @admin.display(description=_("Holidays"))
    def holiday_count(self, hours: BusinessHours) -> int:
        return len(hours.holidays.all())

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        _redate_open_cases()

    def delete_model(self, request: HttpRequest, obj: BusinessHours) -> None:
        super().delete_model(request, obj)
        _redate_open_cases()
