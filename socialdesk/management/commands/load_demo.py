"""`manage.py load_demo`: demo users (one per role), channels on the simulator's defaults, and
the desk's starting content: labels, canned replies and the engagement guidelines.

Idempotent: `make run` calls it on every start. Existing channels are left as they are (their
cursor above all, so a restart does not re-read what was already ingested); users get their
role and demo password back. Labels and canned replies are added by name/title if missing; the
guidelines are written only when the desk has none (an admin's edits are kept). Refuses to run
without DEBUG unless --force: the demo passwords are public.

QA: the default rubric, a weekly sampling policy, the "Care team" (the demo agents and
quinn, supervised by sasha) and, once, a handful of demo conversations with sent replies whose
reviews by quinn are partly submitted (for the dashboards) and partly pending (for the review
queue); blair disputes one review and has a coaching session planned with sasha; and a press
enquiry waits with alex's answer for a supervisor's approval (the desk asks approval on
escalated cases).

The demo spans the apps (listening's channels, the desk, QA), so it lives at the project level,
its parts in socialdesk/demo/ by area: accounts (users, channels, teams), content (labels,
canned replies, guidelines) and conversations (the demo cases and their QA).
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from socialdesk import roles
from socialdesk.demo.accounts import DEMO_USERS, load_channels, load_teams, load_users
from socialdesk.demo.content import load_desk_content
from socialdesk.demo.conversations import load_facebook_comments, load_qa_content


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
            created_users = load_users()
            created_channels = load_channels()
            load_desk_content()
            load_teams()
            load_facebook_comments()
            load_qa_content()
        self._report(created_users, created_channels)

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
