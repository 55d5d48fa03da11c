"""The admin site, open to active staff and to members of the `admin` role.

Django's site admits staff only; the desk gives admin rights through the `admin` group
(socialdesk/roles.py), so a member of that group would otherwise get 403 on /admin/ until
someone also ticked "staff". What each page shows still follows the group's permissions.
"""

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

from socialdesk import roles


class DeskAdminSite(AdminSite):
    site_header = "SocialDesk administration"
    site_title = "SocialDesk admin"
    index_title = "Channels, people, rubrics and desk settings"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return user.is_staff or user.groups.filter(name=roles.ADMIN).exists()


class DeskAdminConfig(AdminConfig):
    default_site = "socialdesk.admin_site.DeskAdminSite"

    def ready(self) -> None:
        super().ready()
        # socialdesk is no app of its own: its sign-in signal handler is connected from here.
        from socialdesk import middleware  # noqa: F401
