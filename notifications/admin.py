from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.actions import enqueue_emails
from notifications.models import EmailState, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only (do_notify owns these rows); e-mails that failed can be sent again."""

    list_display = ["title", "recipient", "kind", "created_at", "read_at", "email_state"]
    list_filter = ["kind", "email_state"]
    search_fields = ["title", "recipient__username", "dedupe_key"]
    list_select_related = ["recipient"]
    actions = ["email_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("E-mail the failed ones again"), permissions=["view"])
    def email_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        failed = queryset.filter(email_state=EmailState.FAILED)
        ids = list(failed.values_list("pk", flat=True))
        failed.update(email_state=EmailState.PENDING, email_attempts=0, email_due_at=timezone.now())
        enqueue_emails(ids)
        self.message_user(
            request,
            ngettext("%(count)d e-mail queued again.", "%(count)d e-mails queued again.", len(ids))
            % {"count": len(ids)},
            messages.SUCCESS,
        )
