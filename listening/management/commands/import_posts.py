"""`manage.py import_posts FILE --channel ID`: backfill raw X API v2 / Graph API responses.

FILE holds response objects exactly as the network returned them (e.g. saved from an earlier
tool or an export), one JSON object per line or one JSON array of objects. Each response goes
through the channel's connector normalisation and `ingest`, like a poll, except that the
channel's cursor is left alone. Bad records are quarantined with the reason and counted;
nothing stops the import. Importing the same file twice stores nothing twice.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from listening.connectors import get_connector
from listening.ingest import ingest
from listening.models import Channel, QuarantinedPost
from listening.posts import InboundPost, Quarantined

BATCH = 500  # posts per ingest transaction


def read_records(path: Path) -> Iterator[tuple[int, Any, str | None, int]]:
    """Yield (line or position, record, error, bytes read) for JSON lines or a JSON array."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith(b"["):
        try:
            records = json.loads(path.read_bytes())
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        size = path.stat().st_size
        for position, record in enumerate(records, start=1):
            yield position, record, None, size if position == len(records) else 0
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                yield number, None, None, len(raw)
                continue
            try:
                yield number, json.loads(line), None, len(raw)
            except json.JSONDecodeError as exc:
                error = f"line {number}: invalid JSON ({exc.msg})"
                yield number, line.rstrip("\n"), error, len(raw)


class Command(BaseCommand):
    help = "Import raw X API v2 or Graph API responses from FILE into a channel."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", type=int, required=True, help="Channel id.")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, file: Path, channel: int, no_progress: bool, **options):
        try:
            target = Channel.objects.get(pk=channel)
        except Channel.DoesNotExist:
            raise CommandError(f"No channel with id {channel}.") from None
        if not file.is_file():
            raise CommandError(f"{file} does not exist or is not a file.")
        connector = get_connector(target.network)

        totals = {"records": 0, "posts": 0, "created": 0, "duplicates": 0, "quarantined": 0}
        posts: list[InboundPost] = []
        rejects: list[Quarantined] = []

        def flush() -> None:
            result = ingest(target, posts, None, rejects, source=QuarantinedPost.Source.IMPORT)
            totals["created"] += result.created
            totals["duplicates"] += result.duplicates
            totals["quarantined"] += result.quarantined
            posts.clear()
            rejects.clear()

        bar = tqdm(
            total=file.stat().st_size or None,
            unit="B",
            unit_scale=True,
            desc=f"Importing into {target.name}",
            disable=no_progress,
            file=self.stderr._out,
        )
        with bar:
            for position, record, error, size in read_records(file):
                bar.update(size)
                if record is None:
                    continue  # a blank line
                totals["records"] += 1
                if error:
                    rejects.append(Quarantined(reason=error, payload=record))
                elif not isinstance(record, dict):
                    rejects.append(
                        Quarantined(f"record {position}: not a JSON object", payload=record)
                    )
                else:
                    try:
                        found, bad = connector.normalise_payload(
                            record, account_id=target.external_account_id
                        )
                    except Exception as exc:  # a shape no connector knows: keep it, go on
                        found, bad = [], [Quarantined(f"record {position}: {exc}", record)]
                    posts.extend(found)
                    rejects.extend(bad)
                    totals["posts"] += len(found)
                if len(posts) + len(rejects) >= BATCH:
                    flush()
            flush()

        self.stdout.write(
            "Imported {records} records: {created} new mentions, {duplicates} already stored, "
            "{quarantined} quarantined.".format(**totals)
        )
        if totals["quarantined"]:
            self.stdout.write("Quarantined items are listed in the admin with their reasons.")
