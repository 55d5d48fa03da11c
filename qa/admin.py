"""QA in the admin: rubrics (versioned: saving one that reviews use makes the next version) and
sampling policies. Teams are the desk's (socialdesk/admin.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from qa.models import Criterion, Rubric, SamplingPolicy
from qa.rubrics import CRITERION_FIELDS, do_edit_rubric, rubric_in_use


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = CRITERION_FIELDS
    ordering = ["position", "id"]


class RubricForm(forms.ModelForm):
    class Meta:
        model = Rubric
        fields = ["name", "is_active"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.instance.pk and name != self.instance.name and rubric_in_use(self.instance):
            raise forms.ValidationError(
                "Reviews use this rubric: its versions keep one name. Add a new rubric instead."
            )
        return name


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    form = RubricForm
    inlines = [CriterionInline]
    list_display = ["name", "version", "is_active", "n_criteria", "n_reviews", "created_at"]
    list_filter = ["is_active", "name"]
    readonly_fields = ["version", "previous", "created_at", "versions"]
    fields = ["name", "is_active", "version", "previous", "created_at", "versions"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .annotate(_criteria=Count("criteria", distinct=True))
            .annotate(_reviews=Count("reviews", distinct=True))
        )

    @admin.display(description="criteria", ordering="_criteria")
    def n_criteria(self, obj: Rubric) -> int:
        return obj._criteria

    @admin.display(description="reviews", ordering="_reviews")
    def n_reviews(self, obj: Rubric) -> int:
        return obj._reviews

    @admin.display(description="All versions")
    def versions(self, obj: Rubric) -> str:
        if not obj.pk:
            return "-"
        rows = Rubric.objects.filter(name=obj.name).order_by("-version")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">v{}</a>{}</li>',
                (
                    (
                        reverse("admin:qa_rubric_change", args=[r.pk]),
                        r.version,
                        " (active)" if r.is_active else "",
                    )
                    for r in rows
                ),
            ),
        )

    def save_model(self, request: HttpRequest, obj: Rubric, form: Any, change: bool) -> None:
        # A rubric in use is never changed in place: save_related makes the next version.
        obj._in_use = change and rubric_in_use(obj)
        if not obj._in_use:
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        obj = form.instance
        if not getattr(obj, "_in_use", False):
            super().save_related(request, form, formsets, change)
            return
        specs = []
        for formset in formsets:
            # Nothing is saved through the formsets: the admin's change message reads these.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is not Criterion:
                continue
            for sub in formset.forms:
                data = getattr(sub, "cleaned_data", None)
                if not data or data.get("DELETE"):
                    continue
                if sub.instance.pk is None and not sub.has_changed():
                    continue
                specs.append({field: data[field] for field in CRITERION_FIELDS})
        stored = Rubric.objects.get(pk=obj.pk)
        new = do_edit_rubric(stored, criteria=specs, name=form.cleaned_data["name"])
        request._qa_rubric = new
        if new.pk == stored.pk and form.cleaned_data["is_active"] != stored.is_active:
            stored.is_active = form.cleaned_data["is_active"]
            stored.save(update_fields=["is_active"])
        if new.pk != stored.pk:
            messages.info(
                request,
                f"Reviews use {stored}, so your changes were saved as {new}; "
                f"old reviews keep {stored}.",
            )

    def response_change(self, request: HttpRequest, obj: Rubric) -> HttpResponse:
        new = getattr(request, "_qa_rubric", None)
        if new is not None and new.pk != obj.pk and "_continue" in request.POST:
            return HttpResponseRedirect(reverse("admin:qa_rubric_change", args=[new.pk]))
        return super().response_change(request, obj)


@admin.register(SamplingPolicy)
class SamplingPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "period_days",
        "rate",
        "per_agent_minimum",
        "risk_weight",
        "ignored_case_rate",
        "enabled",
    ]
