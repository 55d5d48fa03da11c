"""The demo's people and channels: one user per role, the simulator's brand accounts, and the
two teams with their members' languages and skills."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from listening.models import Channel, ListeningRule, Network
from socialdesk import roles

# username, role, password, full name
DEMO_USERS: list[tuple[str, str, str, str]] = [
    ("alex", roles.AGENT, "demo-alex-2026", "Alex Agent"),
    ("blair", roles.AGENT, "demo-blair-2026", "Blair Agent"),
    ("casey", roles.AGENT, "demo-casey-2026", "Casey Agent"),
    ("quinn", roles.QA, "demo-quinn-2026", "Quinn QA"),
    ("sasha", roles.SUPERVISOR, "demo-sasha-2026", "Sasha Supervisor"),
    ("admin", roles.ADMIN, "demo-admin-2026", "Ada Admin"),
]

# The simulator registers these accounts by default (X user 1000, Facebook page 2000, and the
# Instagram account 17841400000000001 linked to that page).
DEMO_CHANNELS: list[dict] = [
    {
        "network": Network.X,
        "external_account_id": "1000",
        "name": "Acme Support",
        "handle": "@acme_support",
        "credentials": {"bearer_token": "demo-x-token"},
        "rules": [("Product complaints", "acme (refund OR broken OR cancel) -is:retweet")],
    },
    {
        "network": Network.FACEBOOK,
        "external_account_id": "2000",
        "name": "Acme",
        "handle": "Acme",
        "credentials": {"page_access_token": "demo-page-token"},
        "rules": [],
    },
    {
        "network": Network.INSTAGRAM,
        "external_account_id": "17841400000000001",
        "name": "Acme on Instagram",
        "handle": "acme",
        "credentials": {"page_access_token": "demo-page-token", "page_id": "2000"},
        "rules": [],
    },
]
DEMO_POLL_INTERVAL = 5  # seconds: the demo should show mentions arriving at once

# Teams: name, the channels it owns (network, account id), members, supervisors. Alex and
# Blair work X and Instagram, Casey the Facebook page; Sasha supervises both teams and Quinn
# reviews both, so signing in as alex and as sasha shows what teams change.
DEMO_TEAMS: list[tuple[str, list[tuple[str, str]], list[str], list[str]]] = [
    (
        "Care team",
        [(Network.X, "1000"), (Network.INSTAGRAM, "17841400000000001")],
        ["alex", "blair", "quinn"],
        ["sasha"],
    ),
    ("Facebook team", [(Network.FACEBOOK, "2000")], ["casey", "quinn"], ["sasha"]),
]
# username: the languages they answer in, their skills (label names); auto-assignment routes
# by both.
DEMO_PROFILES: dict[str, tuple[list[str], list[str]]] = {
    "alex": (["en"], ["outage"]),
    "blair": (["en", "es"], ["billing"]),
    "casey": (["en", "fr"], ["delivery"]),
}


def demo_users() -> dict:
    """The demo's users by username."""
    User = get_user_model()
    return {u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])}


def load_users() -> int:
    """The demo users with their role and demo password back; returns how many were created."""
    User = get_user_model()
    created = 0
    for username, role, password, full_name in DEMO_USERS:
        user, is_new = User.objects.get_or_create(username=username)
        created += is_new
        first, _, last = full_name.partition(" ")
        user.first_name, user.last_name = first, last
        user.is_staff = role == roles.ADMIN
        user.is_superuser = role == roles.ADMIN
        user.is_active = True
        # The table printed below must stay true; resetting an unchanged password would
        # change its hash and sign everyone out on every restart.
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
    return created


def load_channels() -> int:
    """The simulator's brand accounts as channels, with their listening rules; an existing
    channel is left as it is (its cursor above all). Returns how many were created."""
    created = 0
    for spec in DEMO_CHANNELS:
        channel = Channel.objects.filter(
            network=spec["network"], external_account_id=spec["external_account_id"]
        ).first()
        if channel is None:
            channel = Channel(
                network=spec["network"],
                external_account_id=spec["external_account_id"],
                name=spec["name"],
                handle=spec["handle"],
                poll_interval=DEMO_POLL_INTERVAL,
            )
            channel.credentials = spec["credentials"]
            channel.save()
            created += 1
        for name, query in spec["rules"]:
            ListeningRule.objects.get_or_create(
                channel=channel, name=name, defaults={"query": query}
            )
    return created


def load_teams() -> None:
    """The two teams with their channels, people, languages and skills. Added when missing;
    a channel an admin gave to another team stays where it is."""
    from cases.models import AgentProfile, Label
    from socialdesk.models import Team

    users = demo_users()
    labels = {label.name: label for label in Label.objects.all()}
    for name, channels, members, supervisors in DEMO_TEAMS:
        team, _ = Team.objects.get_or_create(name=name)
        team.members.add(*[users[username] for username in members])
        team.supervisors.add(*[users[username] for username in supervisors])
        for network, account in channels:
            Channel.objects.filter(
                network=network, external_account_id=account, team__isnull=True
            ).update(team=team)
    for username, (languages, skills) in DEMO_PROFILES.items():
        profile, created = AgentProfile.objects.get_or_create(
            user=users[username], defaults={"languages": languages}
        )
        if created:
            profile.skills.set([labels[label] for label in skills])
