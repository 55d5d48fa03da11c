"""`manage.py load_demo`: demo users (one per role) and channels on the simulator's defaults.

Idempotent: `make run` calls it on every start. Existing channels are left as they are (their
cursor above all, so a restart does not re-read what was already ingested); users get their
role and demo password back. Refuses to run without DEBUG unless --force: the demo passwords
are public.
"""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from listening.models import Channel, ListeningRule, Network
from socialdesk import roles

# username, role, password, full name
DEMO_USERS: list[tuple[str, str, str, str]] = [
    ("alex", roles.AGENT, "demo-alex-2026", "Alex Agent"),
    ("blair", roles.AGENT, "demo-blair-2026", "Blair Agent"),
    ("quinn", roles.QA, "demo-quinn-2026", "Quinn QA"),
    ("sasha", roles.SUPERVISOR, "demo-sasha-2026", "Sasha Supervisor"),
    ("admin", roles.ADMIN, "demo-admin-2026", "Ada Admin"),
]

# The simulator registers these accounts by default (X user 1000, Facebook page 2000).
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
]
DEMO_POLL_INTERVAL = 5  # seconds: the demo should show mentions arriving at once


class Command(BaseCommand):
    help = "Create the demo users and channels (idempotent). Needs DEBUG, or --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even without DEBUG. The demo passwords are public: never on a real desk.",
        )

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "load_demo creates users with publicly known passwords, so it only runs with "
                "DEBUG=true. Use --force if you really mean it."
            )
        with transaction.atomic():
            roles.sync_roles()
            created_users = self._users()
            created_channels = self._channels()
        self._report(created_users, created_channels)

    def _users(self) -> int:
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

    def _channels(self) -> int:
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

    def _report(self, created_users: int, created_channels: int) -> None:
        port = os.environ.get("WEB_PORT") or os.environ.get("PORT", "8000")
        self.stdout.write(
            f"Demo data ready: {created_users} user(s) and {created_channels} channel(s) created."
        )
        self.stdout.write("")
        self.stdout.write(f"  {'username':<10} {'role':<12} password")
        self.stdout.write(f"  {'-' * 10} {'-' * 12} {'-' * 16}")
        for username, role, password, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role:<12} {password}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Open http://127.0.0.1:{port}/ and sign in."))
