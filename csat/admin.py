from django.contrib import admin

from csat.models import Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    """Read-only: surveys are planned on resolve and answered by the customer."""

    list_display = ["case", "channel", "agent", "state", "skip_reason", "score", "created_at"]
    list_filter = ["state", "skip_reason", "score", "channel"]
    list_select_related = ["case", "channel", "agent"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
