"""`manage.py import_posts FILE --channel ID [--dry-run]`: backfill raw X / Graph responses.

FILE holds response objects exactly as the network returned them (e.g. saved from an earlier
tool or an export), one JSON object per line or one JSON array of objects. Each response goes
through the channel's connector and `ingest`, like a poll, except that the channel's cursor
is left alone:

1. Records are read one by one, each at most `MAX_RECORD_BYTES` long and `MAX_NESTING`
   levels deep (listening.quarantine); one past a limit, or not JSON, is quarantined with
   the reason and its place in the file, and the import goes on.
2. What a saved record lacks is looked up through the API (`hydrate`): a response saved with
   X's default fields has no author and no date, a Graph response without `from` no author.
   Look-ups are batched (X 100 ids a request, Graph 50) and their reads counted on the
   channel. A post the network cannot complete (deleted, author not disclosed, no token,
   network unreachable) is held in the quarantine with the reason, never stored with a
   guessed author; `manage.py replay_quarantine` tries again later.
3. Posts are stored by `ingest`, 500 at a time; the brand's own posts are skipped.

`--dry-run` reads the whole file and prints what would be imported and what the look-ups
would cost, sending and writing nothing. Importing the same file twice stores nothing twice
and adds no quarantine row twice.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from listening.connectors import get_connector
from listening.ingest import ingest
from listening.models import Channel, Mention, QuarantinedPost
from listening.posts import InboundPost, Quarantined
from listening.quarantine import KEPT_PREFIX, MAX_RECORD_BYTES, parse_record

BATCH = 500  # posts per ingest transaction (and items per look-up round)
# JSON strings and the structural characters between them: enough to find where each
# element of a top-level array starts and ends without parsing (or recursing into) it.
_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{},]')


@dataclass(slots=True)
class Record:
    """One record of the file: where it is, and either its JSON or why it cannot be read."""

    where: str  # "line 3" or "record 3"
    value: Any = None
    error: str | None = None
    text: str = ""  # the raw text, kept in the quarantine when the record is unreadable
    size: int = 0  # bytes of the file it spans (for the progress bar)
    blank: bool = False


def read_records(path: Path) -> Iterator[Record]:
    """The records of a JSON-lines file or of a file holding one JSON array.

    A file that starts with "[" is one array only if nothing but blanks follows its end;
    otherwise its first line is a record like the others.
    """
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith(b"["):
        data = path.read_bytes()
        elements = _array_elements(data)
        if elements is not None:
            for number, (start, end, size) in enumerate(elements, start=1):
                yield _parsed(f"record {number}", data[start:end].strip(), size)
            return
    yield from _line_records(path)


def _line_records(path: Path) -> Iterator[Record]:
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(MAX_RECORD_BYTES + 1):
            number += 1
            where = f"line {number}"
            if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                # Too long to hold: keep its beginning, skip the rest of the line.
                size = len(raw)
                while rest := handle.readline(MAX_RECORD_BYTES):
                    size += len(rest)
                    if rest.endswith(b"\n"):
                        break
                yield _unreadable(where, raw[:KEPT_PREFIX], size, _too_large(size))
                continue
            body = raw.rstrip(b"\r\n")
            if not body.strip():
                yield Record(where, size=len(raw), blank=True)
                continue
            yield _parsed(where, body, len(raw))


def _array_elements(data: bytes) -> list[tuple[int, int, int]] | None:
    """(start, end, bytes spanned) of each element of the array `data` holds, or None when
    `data` is not one array (something follows it). An array that never ends is an error."""
    depth, start, elements = 0, 0, []
    for token in _TOKENS.finditer(data):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            if depth == 1:
                start = token.end()
        elif char in (b"]", b"}") or (char == b"," and depth == 1):
            if depth == 1:
                if data[start : token.start()].strip() or char == b",":
                    elements.append((start, token.start(), token.end() - start))
                start = token.end()
            if char != b",":
                depth -= 1
            if depth == 0:
                return None if data[token.end() :].strip() else elements
    raise CommandError("The file starts a JSON array that never ends: it is not valid JSON.")


def _parsed(where: str, body: bytes, size: int) -> Record:
    if len(body) > MAX_RECORD_BYTES:
        return _unreadable(where, body[:KEPT_PREFIX], len(body), _too_large(len(body)))
    text = body.decode("utf-8", errors="replace")
    value, error = parse_record(text, size=len(body))
    if error:
        return Record(where, error=f"{where}: {error}", text=text, size=size)
    return Record(where, value=value, size=size)


def _unreadable(where: str, prefix: bytes, size: int, reason: str) -> Record:
    text = prefix.decode("utf-8", errors="replace")
    return Record(where, error=f"{where}: {reason}", text=text, size=size)


def _too_large(size: int) -> str:
    return (
        f"record too large ({size:,} bytes; the limit is {MAX_RECORD_BYTES:,}; "
        f"the first {KEPT_PREFIX:,} are kept)"
    )


def _items_in(value: Any) -> int:
    data = value.get("data") if isinstance(value, dict) else None
    return len(data) if isinstance(data, list) else 1


class Command(BaseCommand):
    help = "Import raw X API v2 or Graph API responses from FILE into a channel."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--channel", type=int, required=True, help="Channel id.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be imported and what the look-ups would cost; change nothing.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, file: Path, channel: int, dry_run: bool, no_progress: bool, **options):
        try:
            target = Channel.objects.get(pk=channel)
        except Channel.DoesNotExist:
            raise CommandError(f"No channel with id {channel}.") from None
        if not file.is_file():
            raise CommandError(f"{file} does not exist or is not a file.")
        connector = get_connector(target.network)

        counters = (
            "records posts stored created duplicates quarantined rejects held wanted requests reads"
        )
        totals = dict.fromkeys(counters.split(), 0)
        records: list[Record] = []
        posts: list[InboundPost] = []
        rejects: list[Quarantined] = []

        def process() -> None:
            """Look up what the buffered records lack, normalise them, store the page."""
            values = [r.value for r in records if r.error is None]
            # Posts already stored (an earlier import of the same file) cost no look-up.
            stored = set(
                Mention.objects.filter(
                    channel=target, external_id__in=connector.lookup_ids(values)
                ).values_list("external_id", flat=True)
            )
            hydration = connector.hydrate(target, values, dry_run=dry_run, skip=stored)
            for key in ("wanted", "requests", "reads"):
                totals[key] += getattr(hydration, key)
            if not dry_run:
                target.count_api_use(reads=hydration.reads)
            filled = iter(hydration.records)
            for record in records:
                if record.error:
                    rejects.append(Quarantined(record.error, record.text))
                    continue
                value = next(filled)
                if not isinstance(value, dict):
                    rejects.append(Quarantined(f"{record.where}: not a JSON object", value))
                    continue
                try:
                    found, bad = connector.normalise_payload(
                        value, account_id=target.external_account_id
                    )
                except Exception as exc:  # a shape no connector knows: keep it, go on
                    found, bad = [], [Quarantined(f"{record.where}: {exc}", value)]
                posts.extend(found)
                fresh = [q for q in bad if not (q.needs_lookup and q.external_id in stored)]
                rejects.extend(hydration.explain(fresh))
                totals["posts"] += len(found)
                totals["stored"] += len(bad) - len(fresh)
            records.clear()
            totals["rejects"] += len(rejects)
            totals["held"] += sum(1 for q in rejects if q.needs_lookup)
            if not dry_run:
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
            desc=f"{'Reading' if dry_run else 'Importing into'} {target.name}",
            disable=no_progress,
            file=self.stderr._out,
        )
        pending = 0
        with bar:
            for record in read_records(file):
                bar.update(record.size)
                if record.blank:
                    continue
                totals["records"] += 1
                records.append(record)
                pending += _items_in(record.value)
                if pending >= BATCH:
                    process()
                    pending = 0
            process()

        self._report(totals, dry_run, target)

    def _report(self, totals: dict[str, int], dry_run: bool, target: Channel) -> None:
        unit = "posts" if target.network == "x" else "objects"
        if dry_run:
            self.stdout.write("Dry run: nothing was sent and nothing was written.")
            self.stdout.write(
                "Would import {records} records: {ready} posts ready to store, {wanted} to "
                "look up first, {stored} already stored, {bad} to quarantine.".format(
                    ready=totals["posts"], bad=totals["rejects"] - totals["held"], **totals
                )
            )
            self.stdout.write(
                f"Look-up cost: {totals['requests']} requests, at most {totals['reads']} "
                f"reads ({unit} returned, counted on the channel)."
            )
            return
        totals["duplicates"] += totals["stored"]
        self.stdout.write(
            "Imported {records} records: {created} new mentions, {duplicates} already stored, "
            "{quarantined} quarantined.".format(**totals)
        )
        if totals["wanted"]:
            self.stdout.write(
                f"Looked up {totals['wanted']} posts: {totals['requests']} requests, "
                f"{totals['reads']} reads counted on the channel; {totals['held']} held in the "
                "quarantine until their author is known (manage.py replay_quarantine)."
            )
        if totals["rejects"] > totals["quarantined"]:
            already = totals["rejects"] - totals["quarantined"]
            self.stdout.write(f"{already} rejected records were already in the quarantine.")
        if totals["quarantined"]:
            self.stdout.write("Quarantined items are listed in the admin with their reasons.")
