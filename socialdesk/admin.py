"""Teams in the admin: who is in each, who supervises it, and the channels it owns."""

from django.contrib import admin
from django.http import HttpRequest

from listening.models import Channel
from socialdesk.models import Team


class ChannelInline(admin.TabularInline):
    """The channels the team owns; a channel is moved to another team from its own page."""

    model = Channel
    fields = ["name", "network", "handle", "enabled"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Team | None = None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["supervisors", "members"]
    inlines = [ChannelInline]
