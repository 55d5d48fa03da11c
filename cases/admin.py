"""Admin for the cases app. Lists join what they show; records of what happened on a case
(notes, events) are read-only; desk settings and guidelines are single rows."""

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.shortcuts import redirect
from django.utils import timezone

from cases.models import (
    CannedReply,
    Case,
    CaseEvent,
    Customer,
    DeskSettings,
    EngagementGuidelines,
    Identity,
    Label,
    Note,
    Reply,
    SavedView,
)


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["network", "external_id", "handle", "name", "followers", "verified", "profile_url"]
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "created_at"]
    search_fields = ["display_name", "identities__handle", "identities__name"]
    inlines = [IdentityInline]


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["__str__", "network", "name", "followers", "verified", "customer", "updated_at"]
    list_filter = ["network", "verified"]
    list_select_related = ["customer"]
    search_fields = ["handle", "name", "external_id"]
    raw_id_fields = ["customer"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "subject",
        "customer",
        "channel",
        "status",
        "priority",
        "triage_suggestion",
        "triage_decision",
        "assignee",
        "mention_count",
        "last_inbound_at",
    ]
    list_filter = ["status", "triage_suggestion", "triage_decision", "channel"]
    list_select_related = ["customer", "channel", "assignee"]
    search_fields = ["subject", "conversation_key"]
    raw_id_fields = ["customer", "assignee"]
    readonly_fields = [
        "channel",
        "conversation_key",
        "priority",
        "priority_reasons",
        "triage_suggestion",
        "triage_reason",
        "sentiment",
        "mention_count",
        "opened_at",
        "last_inbound_at",
        "first_response_at",
        "resolved_at",
        "updated_at",
    ]
    ordering = ["-last_inbound_at"]


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    """Replies are sent by the worker: their delivery state is shown, never edited here."""

    list_display = ["__str__", "case", "author", "is_private", "state", "attempts", "sent_at"]
    list_filter = ["state", "is_private"]
    list_select_related = ["case", "author"]
    search_fields = ["text", "external_id"]
    raw_id_fields = ["case", "author", "in_reply_to"]
    readonly_fields = [
        "state",
        "idempotency_key",
        "external_id",
        "error",
        "attempts",
        "created_at",
        "queued_at",
        "sending_started_at",
        "sent_at",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Reply | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.state != Reply.State.DRAFT:
            # What went out to the network is a record: QA scores exactly that text.
            fields += ["text", "is_private", "case", "in_reply_to"]
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A reply made here would skip the composer's checks and the sender's state machine.
        return False


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    list_editable = ["color"]
    search_fields = ["name"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened on a case: shown, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "author", "created_at"]
    list_select_related = ["author"]
    search_fields = ["text"]
    date_hierarchy = "created_at"


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "actor", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query", "position"]
    list_editable = ["position"]
    list_select_related = ["owner"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "query"]
    raw_id_fields = ["owner"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "network", "is_private"]
    list_filter = ["network", "is_private"]
    search_fields = ["title", "text"]
    fieldsets = [
        (None, {"fields": ["title", "network", "is_private"]}),
        (
            "Text",
            {
                "fields": ["text"],
                "description": "Placeholders: {customer_name}, {handle}, {agent_name}. Anything "
                "else in braces is sent as typed.",
            },
        ),
    ]


class SingleRowAdmin(admin.ModelAdmin):
    """A model with one row for the whole desk: the list goes straight to that row."""

    def get_row(self) -> models.Model:
        raise NotImplementedError

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # Django's own 403
        row = self.get_row()
        opts = self.model._meta
        return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", row.pk)


@admin.register(EngagementGuidelines)
class EngagementGuidelinesAdmin(SingleRowAdmin):
    """The guidelines agents read on /cases/guidelines/ (editable there too)."""

    fields = ["body", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def get_row(self) -> EngagementGuidelines:
        row = EngagementGuidelines.objects.order_by("pk").first()
        return row or EngagementGuidelines.objects.create(body="")

    def save_model(self, request: HttpRequest, obj: EngagementGuidelines, form, change) -> None:
        obj.updated_by = request.user
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(DeskSettings)
class DeskSettingsAdmin(SingleRowAdmin):
    fieldsets = [
        ("Service level", {"fields": ["first_response_sla_minutes"]}),
        ("Auto-assignment", {"fields": ["auto_assign", "max_open_cases_per_agent"]}),
        (
            "Supervisor approval",
            {
                "fields": [
                    "approval_for_escalated",
                    "approval_min_followers",
                    "approval_max_sentiment",
                ],
                "description": "Replies on cases that match any of these wait for a "
                "supervisor's approval before they go out. Leave a field empty to not use it.",
            },
        ),
        ("Public replies", {"fields": ["public_reference_words"]}),
    ]

    def get_row(self) -> DeskSettings:
        return DeskSettings.load()
