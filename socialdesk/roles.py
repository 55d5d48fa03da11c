"""The four roles as Django groups, the permissions each holds, and who holds a permission.

Views check permissions, never group names. `sync_roles` runs after every `migrate`
(a post_migrate handler in cases/apps.py), so a deploy that changes this table applies it.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

AGENT = "agent"
QA = "qa"
SUPERVISOR = "supervisor"
ADMIN = "admin"

# Everyone who works cases may read all of a case and keep personal saved views.
READ_CASES = [
    "cases.view_case",
    "cases.view_customer",
    "cases.view_identity",
    "cases.view_reply",
    "cases.view_note",
    "cases.view_caseevent",
    "cases.view_label",
    "cases.view_savedview",
    "cases.add_savedview",
    "cases.view_cannedreply",
    "cases.view_engagementguidelines",
    "listening.view_mention",
    "listening.view_channel",
]
WORK_CASES = [
    "cases.work_inbox",
    "cases.change_case",
    "cases.add_reply",
    "cases.add_note",
    # Hide a customer's comment on the network (and show it again): the network's norm is
    # "hide, don't delete".
    "cases.hide_comment",
]

# "app_label.codename" per role; "app_label.*" is every permission of the app.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: [*READ_CASES, *WORK_CASES, "qa.view_own_reviews"],
    # QA specialists read everything about a case and change nothing in it; they score. They
    # never learn which replies are gold (qa.calibration.sees_gold).
    QA: [
        *READ_CASES,
        "qa.review_replies",
        "qa.view_team_dashboard",
        "qa.view_review",
        "qa.view_rubric",
        "qa.view_criterion",
        "qa.view_calibrationsession",
        "qa.add_calibrationsession",
        "qa.view_samplingpolicy",
    ],
    SUPERVISOR: [
        *READ_CASES,
        *WORK_CASES,
        "cases.supervise_desk",
        "cases.change_customer",
        "cases.approve_reply",
        # Delete one of the brand's published replies from the network: a public retraction.
        "cases.delete_published_reply",
        "cases.add_label",
        "listening.view_health",
        "listening.view_quarantinedpost",
        "qa.view_team_reviews",
        "qa.view_team_dashboard",
        "qa.view_review",
        "qa.resolve_dispute",
        "qa.view_rubric",
        "qa.view_criterion",
        "qa.view_samplingpolicy",
        "qa.change_samplingpolicy",
        "qa.view_coachingsession",
        "qa.add_coachingsession",
        "qa.change_coachingsession",
        "qa.view_calibrationsession",
        "qa.add_calibrationsession",
        # Gold replies are blind to reviewers: only those who check the reviewers know them.
        "qa.view_goldreply",
        "qa.add_goldreply",
    ],
    # Admins also see and clear sign-in lock-outs (django-axes).
    ADMIN: [
        "socialdesk.*",
        "cases.*",
        "listening.*",
        "qa.*",
        "sla.*",
        "alerts.*",
        "notifications.*",
        "axes.*",
    ],
}


def sync_roles() -> None:
    """Create the groups and set exactly the permissions listed above."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
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


def holders_of(perm: str, *, superusers: bool = True) -> "QuerySet[User]":
    """Active users who hold `perm` ("app_label.codename") through a role or directly, and
    (unless `superusers` is False) superusers: what `user.has_perm(perm)` answers for one user,
    as a query over all of them."""
    from django.contrib.auth.models import Group, Permission, User
    from django.db.models import Exists, OuterRef, Q

    app_label, codename = perm.split(".")
    granted = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    # EXISTS, not joins and DISTINCT: joining users to their groups' permissions multiplies
    # the planner's row estimates until a small query looks expensive enough to be compiled
    # (PostgreSQL's JIT, most of a second) on every case page.
    by_role = User.groups.through.objects.filter(
        user_id=OuterRef("pk"),
        group_id__in=Group.permissions.through.objects.filter(
            permission_id__in=granted.values("id")
        ).values("group_id"),
    )
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission_id__in=granted.values("id")
    )
    holds = Q(Exists(by_role)) | Q(Exists(direct))
    if superusers:
        holds |= Q(is_superuser=True)
    return User.objects.filter(holds, is_active=True)


def inbox_workers() -> "QuerySet[User]":
    """Who works the inbox: the people a case may be assigned to (cases.work_inbox).

    The case page's and the inbox's assignee choices, bulk assignment and auto-assignment
    (which picks among the agents of these who are online) all ask this.
    """
    return holders_of("cases.work_inbox")


def reviewers() -> "QuerySet[User]":
    """Who may score replies (qa.review_replies): QA specialists, admins and superusers.
    Calibration's choice of reviewers asks this."""
    return holders_of("qa.review_replies")


def reviewer_ids() -> list[int]:
    """Who QA sampling hands its reviews to, by id (the round-robin's order): the QA
    specialists. Staff accounts (admins hold every qa permission) and superusers are left out
    so that reviews go to the QA team; they are the fallback when there is no QA specialist."""
    rows = list(
        holders_of("qa.review_replies", superusers=False).values_list(
            "pk", "is_staff", "is_superuser"
        )
    )
    specialists = sorted(pk for pk, staff, root in rows if not staff and not root)
    return specialists or sorted(pk for pk, _, _ in rows)


def assignable() -> "QuerySet[User]":
    """The inbox workers as the assign menus list them: by first name, only what they show."""
    return (
        inbox_workers()
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "username")
    )
