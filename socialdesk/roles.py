"""The four roles as Django groups, and the permissions each holds.

Views check permissions, never group names. A migration calls `sync_roles` whenever this
table changes; `manage.py sync_roles` does the same on a running install.
"""

AGENT = "agent"
QA = "qa"
SUPERVISOR = "supervisor"
ADMIN = "admin"

# "app_label.codename" per role.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: [
        "cases.work_inbox",
        "cases.view_case",
        "cases.change_case",
        "cases.view_customer",
        "cases.view_identity",
        "cases.view_reply",
        "cases.add_reply",
        "listening.view_mention",
        "listening.view_channel",
    ],
    QA: [
        "cases.view_case",
        "cases.view_customer",
        "cases.view_identity",
        "cases.view_reply",
        "listening.view_mention",
        "listening.view_channel",
    ],
    SUPERVISOR: [
        "cases.work_inbox",
        "cases.supervise_desk",
        "cases.view_case",
        "cases.change_case",
        "cases.view_customer",
        "cases.change_customer",
        "cases.view_identity",
        "cases.view_reply",
        "cases.add_reply",
        "listening.view_mention",
        "listening.view_channel",
        "listening.view_health",
        "listening.view_quarantinedpost",
    ],
    ADMIN: [
        "cases.*",
        "listening.*",
        "qa.*",
    ],
}


def sync_roles(apps=None) -> None:
    """Create the groups and set exactly the permissions listed above."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for name in names:
            app_label, codename = name.split(".")
            query = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                query = query.filter(codename=codename)
            perms.extend(query)
        group.permissions.set(perms)
