"""Admin for customers, identities, cases and replies. Lists join what they show."""

from django.contrib import admin
from django.http import HttpRequest

from cases.models import Case, Customer, Identity, Reply


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
