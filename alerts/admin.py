from django.contrib import admin

from alerts.models import AlertState


@admin.register(AlertState)
class AlertStateAdmin(admin.ModelAdmin):
    """Read-only: the evaluation owns these rows."""

    list_display = ["title", "active", "started_at", "resolved_at"]
    list_filter = ["active"]
    search_fields = ["key", "title"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
