"""Admin for the cases app. Lists join what they show; records of what happened on a case
(notes, events) are read-only; desk settings and guidelines are single rows."""

from django.contrib import admin, messages
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cases.erasure import do_erase_customer
from cases.models import (
    OPEN_STATUSES,
    AgentProfile,
    CannedReply,
    CannedReplyVariant,
    Case,
    CaseEvent,
    Customer,
    CustomerErasure,
    DeskSettings,
    EngagementGuidelines,
    Identity,
    Label,
    MentionMedia,
    Moderation,
    Note,
    Reply,
    SavedView,
)
from cases.sla import refresh_case_slas
from cases.tasks import refresh_open_case_slas


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record of what happened on a case: shown, never added, edited or deleted here.

    Changes go through the desk, which records who did what on the case's timeline; an edit
    here would rewrite that record without a trace.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ["network", "external_id", "handle", "name", "followers", "verified", "profile_url"]
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["display_name", "is_vip", "is_press", "created_at"]
    list_filter = ["is_vip", "is_press"]
    search_fields = ["display_name", "identities__handle", "identities__name"]
    inlines = [IdentityInline]
    actions = ["erase_personal_content"]

    def save_model(self, request: HttpRequest, obj: Customer, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if {"is_vip", "is_press"} & set(form.changed_data):
            # A VIP or press flag can choose another service-level policy for their cases.
            refresh_case_slas(
                list(obj.cases.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True))
            )

    @admin.action(
        description="Erase personal content of the selected customers", permissions=["delete"]
    )
    def erase_personal_content(
        self, request: HttpRequest, queryset: models.QuerySet
    ) -> HttpResponse | None:
        """Ask first (a page listing what goes), then erase each customer (cases.erasure)."""
        customers = list(queryset.annotate(case_count=models.Count("cases", distinct=True)))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase personal content?",
                "customers": customers,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/cases/customer/erase_confirmation.html", context
            )
        for customer in customers:
            do_erase_customer(customer, actor=request.user, via=CustomerErasure.Via.ADMIN)
        self.message_user(
            request,
            f"Erased the personal content of {len(customers)} customer"
            f"{'s' if len(customers) != 1 else ''}; their cases remain without it.",
            messages.SUCCESS,
        )
        return None


@admin.register(CustomerErasure)
class CustomerErasureAdmin(ReadOnlyAdmin):
    """The audit trail of erasures: who, when, which customer id; never what was erased."""

    list_display = ["customer_id", "erased_by", "via", "erased_at"]
    list_filter = ["via"]
    list_select_related = ["erased_by"]


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ["__str__", "network", "name", "followers", "verified", "customer", "updated_at"]
    list_filter = ["network", "verified"]
    list_select_related = ["customer"]
    search_fields = ["handle", "name", "external_id"]
    raw_id_fields = ["customer"]


@admin.display(description="On the desk")
def open_on_the_desk(case: Case) -> str:
    return format_html(
        '<a href="{}">Open case #{}</a>', reverse("cases:detail", args=[case.pk]), case.pk
    )


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    """Cases are worked on the desk (status, assignment, triage are recorded events there); the
    admin shows them and may delete one, e.g. to honour an erasure request."""

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
    readonly_fields = [open_on_the_desk]
    ordering = ["-last_inbound_at"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    """Replies are written in the composer and sent by the worker; who approved and when, what
    went out and its delivery state are a record: shown here, never edited."""

    list_display = ["__str__", "case", "author", "is_private", "state", "attempts", "sent_at"]
    list_filter = ["state", "is_private"]
    list_select_related = ["case", "author"]
    search_fields = ["text", "external_id"]


@admin.register(MentionMedia)
class MentionMediaAdmin(ReadOnlyAdmin):
    """Images of customer posts: fetched by the desk, never edited here. Refused ones can be
    given another try (after a CDN outage or a change to MEDIA_FETCH_HOSTS)."""

    list_display = ["__str__", "kind", "state", "reason", "attempts", "size", "fetched_at"]
    list_filter = ["state", "kind"]
    search_fields = ["source_url", "reason"]
    date_hierarchy = "created_at"
    actions = ["fetch_again"]

    @admin.action(description="Fetch the selected refused images again")
    def fetch_again(self, request: HttpRequest, queryset: models.QuerySet[MentionMedia]) -> None:
        from cases.media import do_refetch_media

        count = do_refetch_media(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} image(s) will be fetched again.")


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """Languages and skills auto-assignment routes by (cases.assignment)."""

    list_display = ["user", "language_list"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["skills"]

    @admin.display(description="Languages")
    def language_list(self, profile: AgentProfile) -> str:
        return ", ".join(profile.languages) or "any"


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    list_editable = ["color"]
    search_fields = ["name"]


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


@admin.register(Moderation)
class ModerationAdmin(ReadOnlyAdmin):
    """Hides, shows and deletions asked of the networks, with their state and last error."""

    list_display = ["__str__", "action", "state", "attempts", "requested_by", "requested_at"]
    list_filter = ["action", "state"]
    list_select_related = ["requested_by"]
    date_hierarchy = "requested_at"


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query", "position"]
    list_editable = ["position"]
    list_select_related = ["owner"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "query"]
    raw_id_fields = ["owner"]


PLACEHOLDER_HELP = (
    "Placeholders: {customer_name}, {handle}, {agent_name}. Anything else in braces is sent "
    "as typed."
)


class CannedReplyVariantInline(admin.TabularInline):
    model = CannedReplyVariant
    extra = 0
    fields = ["network", "text"]
    verbose_name = "network variant"
    verbose_name_plural = "Network variants: used on that network instead of the default text"


@admin.display(description="Variants")
def variant_networks(canned: CannedReply) -> str:
    return ", ".join(variant.get_network_display() for variant in canned.variants.all()) or "-"


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", variant_networks, "is_private"]
    list_filter = ["labels", "is_private", "variants__network"]
    search_fields = ["title", "text", "variants__text", "labels__name"]
    filter_horizontal = ["labels"]
    inlines = [CannedReplyVariantInline]
    fieldsets = [
        (None, {"fields": ["title", "labels", "is_private"]}),
        ("Default text", {"fields": ["text"], "description": PLACEHOLDER_HELP}),
    ]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[CannedReply]:
        return super().get_queryset(request).prefetch_related("variants")


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
        (
            "Service level",
            {
                "fields": ["first_response_sla_minutes"],
                "description": "The target of every case no service-level policy picks; "
                "policies, with business hours, are under Service levels.",
            },
        ),
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
        (
            "Customer satisfaction",
            {
                "fields": ["csat_enabled"],
                "description": "Scores and response rates per agent and team are on the "
                "quality dashboard.",
            },
        ),
        (
            "Retention",
            {
                "fields": ["retention_days"],
                "description": "Customer text past this age is removed every night; the cases "
                "and their counts stay. Posts their authors delete are removed whatever this "
                "says, and one customer can be erased from Customers.",
            },
        ),
    ]

    def save_model(self, request: HttpRequest, obj: DeskSettings, form, change) -> None:
        super().save_model(request, obj, form, change)
        if "first_response_sla_minutes" in form.changed_data:
            # The desk's default service level: the open cases it covers are re-dated.
            transaction.on_commit(refresh_open_case_slas.delay)

    def get_row(self) -> DeskSettings:
        return DeskSettings.load()
