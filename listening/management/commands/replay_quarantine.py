"""`manage.py replay_quarantine [--reason TEXT] [--id N …] [--channel N] [--dry-run]`.

Sends open quarantined records again through their channel's look-up, normalisation and
ingest (`listening.quarantine.do_replay_quarantined`), e.g. after a connector fix, after
credentials were added, or to look up authors that were unknown at import time. Rows that
now normalise are stored once and marked replayed; the others keep their place with their
new reason. Replaying twice stores nothing twice.
"""

from django.core.management.base import BaseCommand

from listening.models import QuarantinedPost
from listening.quarantine import do_replay_quarantined


class Command(BaseCommand):
    help = "Replay open quarantined records through look-up, normalisation and ingest."

    def add_arguments(self, parser):
        parser.add_argument("--reason", help="Only rows whose reason contains this text.")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="A row id.")
        parser.add_argument("--channel", type=int, help="Only this channel's rows.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count and price the replay; change nothing."
        )

    def handle(self, *args, reason=None, ids=None, channel=None, dry_run=False, **options):
        rows = QuarantinedPost.objects.all()
        if reason:
            rows = rows.filter(reason__icontains=reason)
        if ids:
            rows = rows.filter(pk__in=ids)
        if channel:
            rows = rows.filter(channel_id=channel)
        result = do_replay_quarantined(rows, dry_run=dry_run)
        if dry_run:
            self.stdout.write(
                f"Dry run: {result.rows} open rows would be replayed; look-ups would cost "
                f"{result.requests} requests and at most {result.reads} reads."
            )
            return
        self.stdout.write(
            f"Replayed {result.rows} rows: {result.replayed} stored "
            f"({result.mentions_created} new mentions), {result.still_failing} still "
            f"quarantined. Look-ups: {result.requests} requests, {result.reads} reads."
        )
