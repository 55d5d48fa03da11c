"""Admin for channels (with write-only credentials), rules, mentions and the quarantine."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from listening.connectors import facebook, instagram, x_oauth
from listening.health import deletion_check_line, gap_line
from listening.models import (
    Channel,
    ListeningRule,
    Mention,
    Network,
    QuarantinedPost,
    WebhookEvent,
)
from listening.quarantine import do_replay_quarantined
from listening.webhooks import do_process_events_again


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: a secret typed once is not sent back."""

    def format_value(self, value):
        return None


# What each network's credentials must hold; each check raises ValueError saying what to fix.
CREDENTIAL_CHECKS = {
    Network.X: x_oauth.check_credentials,
    Network.FACEBOOK: facebook.check_credentials,
    Network.INSTAGRAM: instagram.check_credentials,
}


class ChannelForm(forms.ModelForm):
    """Channel settings plus a write-only JSON field for the network credentials.

    The credentials are encrypted through `Channel.credentials` and never shown again. On an
    existing channel an empty field keeps what is stored; entering new credentials also clears
    `needs_reauth`, since that is how an admin reconnects a channel whose token was rejected.
    Each network's connector checks its credentials (X also for what refreshing an OAuth 2.0
    user token needs), and the form says what is missing.
    """

    credentials_json = forms.CharField(
        label="Credentials (JSON)",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            'A JSON object. X: {"bearer_token": "…"}; to keep an OAuth 2.0 user token alive, add '
            '"refresh_token", "client_id", "client_secret" (confidential clients only) and '
            '"expires_at" (e.g. "2026-05-01T12:00:00+00:00"). Facebook: '
            '{"page_access_token": "…"}. Instagram (account id: the Instagram user id): '
            '{"page_access_token": "…", "page_id": "…"} of the linked Facebook Page. Stored '
            "encrypted and never shown again. Leave empty to "
            "keep the stored credentials."
        ),
    )

    acknowledge_gaps = forms.BooleanField(
        label="Acknowledge the intake gaps shown",
        required=False,
        help_text="Clears the gaps listed above once you have dealt with them; a gap recorded "
        "after this page was opened stays.",
    )
    # When the page was rendered: only gaps recorded before it are acknowledged.
    gaps_seen_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Channel
        fields = [
            "name",
            "network",
            "handle",
            "external_account_id",
            "enabled",
            "poll_interval",
            "needs_reauth",
            "deletion_check_budget",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gaps_seen_at"].initial = timezone.now()
        # Left out (an older form, a script), the budget stays what it was.
        self.fields["deletion_check_budget"].required = False

    def clean_deletion_check_budget(self) -> int:
        value = self.cleaned_data.get("deletion_check_budget")
        if value is None:
            return self.instance.deletion_check_budget
        return value

    def clean_credentials_json(self) -> dict | None:
        raw = self.cleaned_data["credentials_json"].strip()
        if not raw:
            if self.instance.pk is None or not self.instance.credentials_encrypted:
                raise forms.ValidationError("Enter the channel's credentials as a JSON object.")
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
                'Write an object such as {"bearer_token": "…"}.'
            ) from None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError(
                'Credentials must be a non-empty JSON object, such as {"bearer_token": "…"}.'
            )
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        check = CREDENTIAL_CHECKS.get(cleaned.get("network"))
        credentials = cleaned.get("credentials_json")
        if credentials is None and "network" in self.changed_data and self.instance.pk:
            # The network changed and the stored credentials stay: they must suit the new one.
            credentials = Channel.objects.get(pk=self.instance.pk).credentials or None
        if check is not None and credentials is not None:
            try:
                check(credentials)
            except ValueError as exc:
                self.add_error("credentials_json", str(exc))
        return cleaned

    def save(self, commit: bool = True) -> Channel:
        credentials = self.cleaned_data.get("credentials_json")
        if credentials is not None:
            self.instance.credentials = credentials
            self.instance.needs_reauth = False
        return super().save(commit=commit)


class ListeningRuleInline(admin.TabularInline):
    model = ListeningRule
    extra = 0
    fields = ["name", "query", "enabled", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    inlines = [ListeningRuleInline]
    list_display = [
        "name",
        "network",
        "handle",
        "team",
        "enabled",
        "last_success_at",
        "needs_reauth",
        "api_reads",
        "api_posts",
        "gap_count",
    ]
    list_filter = ["network", "team", "enabled", "needs_reauth"]
    list_select_related = ["team"]
    search_fields = ["name", "handle", "external_account_id"]
    actions = ["acknowledge_gaps"]
    readonly_fields = [
        "stored_credentials",
        "cursor",
        "intake_gap_list",
        "next_poll_at",
        "last_poll_at",
        "last_success_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "rate_limited_until",
        "api_reads",
        "api_posts",
        "webhook_received_at",
        "webhook_refused",
        "deletion_check_use",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "network", "handle", "external_account_id", "team"]}),
        ("Connection", {"fields": ["stored_credentials", "credentials_json", "needs_reauth"]}),
        (
            "Polling",
            {
                "fields": [
                    "enabled",
                    "poll_interval",
                    "next_poll_at",
                    "cursor",
                    "intake_gap_list",
                    "acknowledge_gaps",
                    "gaps_seen_at",
                ]
            },
        ),
        (
            "Deleted posts",
            {
                "fields": ["deletion_check_budget", "deletion_check_use"],
                "description": "Authors delete posts on X without telling anyone: the desk looks "
                "its recent posts up every hour and removes the text of those gone, within "
                "this budget. Facebook reports deletions itself.",
            },
        ),
        (
            "State",
            {
                "fields": [
                    "last_poll_at",
                    "last_success_at",
                    "consecutive_failures",
                    "last_error",
                    "last_error_at",
                    "rate_limited_until",
                    "api_reads",
                    "api_posts",
                    "created_at",
                ]
            },
        ),
        ("Meta webhooks", {"fields": ["webhook_received_at", "webhook_refused"]}),
    ]

    @admin.display(description="Deletion check today")
    def deletion_check_use(self, obj: Channel) -> str:
        return deletion_check_line(obj)

    def save_model(
        self, request: HttpRequest, obj: Channel, form: ChannelForm, change: bool
    ) -> None:
        """Write only what the form edits.

        Workers update the same row meanwhile: the cursor, the poll state, and the X tokens
        they refresh. Writing back rotated-away tokens would lose the grant, since X has
        invalidated the old refresh token.
        """
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = list(ChannelForm.Meta.fields)
        if form.cleaned_data.get("credentials_json") is not None:
            fields.append("credentials_encrypted")
        obj.save(update_fields=fields)
        if form.cleaned_data.get("acknowledge_gaps"):
            seen_at = form.cleaned_data.get("gaps_seen_at") or timezone.now()
            Channel.acknowledge_gaps([obj.pk], seen_at)

    @admin.display(description="Intake gaps")
    def intake_gap_list(self, channel: Channel) -> str:
        """The periods whose posts may be missing, one a line (acknowledge with the action)."""
        gaps = channel.open_gaps()
        if not gaps:
            return "none"
        return format_html_join(
            mark_safe("<br>"),
            "{} (detected {})",
            ((gap_line(gap), gap.get("detected_at") or "?") for gap in gaps),
        )

    @admin.display(description="Gaps")
    def gap_count(self, channel: Channel) -> int:
        return len(channel.open_gaps())

    @admin.action(description="Acknowledge the intake gaps of the selected channels")
    def acknowledge_gaps(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        cleared = Channel.acknowledge_gaps(
            list(queryset.values_list("pk", flat=True)), timezone.now()
        )
        self.message_user(
            request, f"Intake gaps acknowledged on {cleared} channel(s).", messages.SUCCESS
        )

    @admin.display(description="Stored credentials")
    def stored_credentials(self, channel: Channel) -> str:
        """Which keys are stored, never their values; when a refreshed token expires."""
        if not channel.credentials_encrypted:
            return "none"
        try:
            credentials = channel.credentials
        except Exception:  # a rotated-away key: say so rather than break the page
            return "stored, but cannot be decrypted with the current keys: enter them again"
        shown = ", ".join(sorted(credentials)) + " (values hidden)"
        expires_at = x_oauth.parse_expires_at(credentials.get("expires_at"))
        if expires_at is not None:
            local = timezone.localtime(expires_at)
            shown += f"; the access token expires {local:%Y-%m-%d %H:%M %Z}"
        return shown


@admin.register(ListeningRule)
class ListeningRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "channel", "query", "enabled", "created_at"]
    list_filter = ["enabled", "channel"]
    list_select_related = ["channel"]
    search_fields = ["name", "query"]


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    """Read-only: mentions are written by ingest alone."""

    list_display = [
        "external_id",
        "kind",
        "channel",
        "author",
        "short_text",
        "priority",
        "posted_at",
    ]
    list_filter = ["kind", "channel", "is_private"]
    list_select_related = ["channel", "author"]
    search_fields = ["text", "external_id"]
    date_hierarchy = "posted_at"
    ordering = ["-posted_at"]
    show_full_result_count = False  # an exact COUNT over millions of mentions on every page

    @admin.display(description="Text")
    def short_text(self, mention: Mention) -> str:
        return mention.text if len(mention.text) <= 80 else mention.text[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Mention | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Mention | None = None) -> bool:
        return False


class ResolvedFilter(admin.SimpleListFilter):
    title = "resolved"
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", "Unresolved"), ("yes", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(QuarantinedPost)
class QuarantinedPostAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "channel",
        "source",
        "external_id",
        "short_reason",
        "resolved_at",
        "replayed_at",
    ]
    list_filter = [ResolvedFilter, "source", "channel"]
    list_select_related = ["channel"]
    search_fields = ["external_id", "reason"]
    readonly_fields = [
        "channel",
        "source",
        "external_id",
        "reason",
        "payload",
        "created_at",
        "replayed_at",
        "mention",
    ]
    actions = ["replay", "mark_resolved"]

    @admin.display(description="Reason")
    def short_reason(self, post: QuarantinedPost) -> str:
        return post.reason if len(post.reason) <= 100 else post.reason[:99] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(
        description="Replay selected posts (look up, normalise, store)", permissions=["change"]
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[QuarantinedPost]) -> None:
        result = do_replay_quarantined(queryset)
        level = messages.SUCCESS if not result.still_failing else messages.WARNING
        self.message_user(
            request,
            f"{result.rows} open post(s) replayed: {result.replayed} stored "
            f"({result.mentions_created} new mentions), {result.still_failing} still "
            f"quarantined with their new reason. Look-ups: {result.requests} request(s), "
            f"{result.reads} read(s).",
            level,
        )

    @admin.action(description="Mark selected posts resolved", permissions=["change"])
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[QuarantinedPost]) -> None:
        updated = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        self.message_user(
            request, f"{updated} quarantined post(s) marked resolved.", messages.SUCCESS
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Every stored Meta delivery: what it did, what waits for a handler, what failed."""

    list_display = ["received_at", "object", "state", "attempts", "processed_at", "short_error"]
    list_filter = ["state", "object"]
    date_hierarchy = "received_at"
    readonly_fields = [
        "object",
        "state",
        "received_at",
        "attempts",
        "claimed_until",
        "processed_at",
        "error",
        "outcome",
        "body",
        "body_sha256",
    ]
    actions = ["process_again"]

    @admin.display(description="Error")
    def short_error(self, event: WebhookEvent) -> str:
        return event.error if len(event.error) <= 100 else event.error[:99] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False

    @admin.action(description="Process the selected failed events again", permissions=["change"])
    def process_again(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = do_process_events_again(list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} failed event(s) queued again.", messages.SUCCESS)
