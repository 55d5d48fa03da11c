"""The quarantine: records that could not be stored, kept once each, and replayed after a fix.

Writing. `store_rejects` adds a page's rejects in one INSERT … ON CONFLICT DO NOTHING: a
record is identified by `digest` (its external id when it has one, else its raw text), so the
same record met again, by a re-poll or a second import of the same file, adds no row.

Reading records. `parse_record` turns one saved record's text into JSON with the limits an
import applies to every record: at most `MAX_RECORD_BYTES` of text and `MAX_NESTING` levels
(real X and Graph responses nest under ten). A record past either limit, or not JSON, comes
back with the reason, so that it is quarantined and the import goes on.

Replaying. `do_replay_quarantined` sends open rows again through their connector's look-up,
normalisation and `ingest`; see its docstring.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from listening.connectors import get_connector
from listening.models import Channel, Mention, QuarantinedPost, record_digest
from listening.posts import InboundPost, Quarantined
from socialdesk.pgjson import page_json

MAX_RECORD_BYTES = 1024 * 1024  # one saved response; X and Graph pages are far below
MAX_NESTING = 64
KEPT_PREFIX = 64 * 1024  # what is kept of an oversized record (its place is in the reason)
REPLAY_BATCH = 500


# ---- writing -------------------------------------------------------------------------------


def payload_text(item: Quarantined) -> str:
    """The raw item as stored: JSON text, every character kept (NUL and lone surrogates as
    visible escapes, which no text column stores)."""
    if isinstance(item.payload, str):
        payload = item.payload.replace("\x00", "\\x00")
    else:
        payload = json.dumps(item.payload, ensure_ascii=False, default=str)
    return payload.encode("utf-8", "backslashreplace").decode()


_INSERT_SQL = """
    INSERT INTO listening_quarantinedpost
        (channel_id, source, external_id, reason, payload, digest, created_at)
    SELECT %s, %s, r.external_id, r.reason, r.payload, r.digest, %s
    FROM json_to_recordset(%s::json) AS r (external_id text, reason text, payload text, digest text)
    ON CONFLICT (channel_id, source, digest) DO NOTHING
"""


def store_rejects(
    cursor, channel: Channel, rejects: Iterable[Quarantined], source: str, now: datetime
) -> int:
    """Quarantine `rejects` for `channel` in one statement; returns the rows added.

    A record already quarantined for this channel and source adds nothing. Runs on the
    caller's cursor, inside its transaction (ingest's).
    """
    rows: dict[str, dict[str, str]] = {}
    for item in rejects:
        external_id = str(item.external_id or "")[:255]
        payload = payload_text(item)
        key = record_digest(external_id, payload)
        rows.setdefault(
            key,
            {"external_id": external_id, "reason": item.reason, "payload": payload, "digest": key},
        )
    if not rows:
        return 0
    cursor.execute(_INSERT_SQL, [channel.pk, source, now, page_json(list(rows.values()))])
    return cursor.rowcount


# ---- reading records -----------------------------------------------------------------------


def parse_record(text: str, size: int | None = None) -> tuple[Any, str | None]:
    """(record, None) for one record's JSON text, or (None, reason) when it cannot be read.

    `size` is the record's length in bytes when the caller knows it (else the text's).
    """
    size = len(text.encode("utf-8", "surrogatepass")) if size is None else size
    if size > MAX_RECORD_BYTES:
        return None, f"record too large ({size:,} bytes; the limit is {MAX_RECORD_BYTES:,})"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg})"
    except RecursionError:
        return None, f"record nested too deeply (more than {MAX_NESTING} levels)"
    if nesting(record) > MAX_NESTING:
        return None, f"record nested too deeply (more than {MAX_NESTING} levels)"
    return record, None


def nesting(value: Any) -> int:
    """How many arrays and objects deep `value` goes (without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


# ---- replaying -----------------------------------------------------------------------------


@dataclass(slots=True)
class ReplayResult:
    rows: int = 0  # open rows replayed
    replayed: int = 0  # rows now stored (or nothing left to store: the brand's own post)
    still_failing: int = 0
    mentions_created: int = 0
    requests: int = 0
    reads: int = 0


def do_replay_quarantined(
    rows: QuerySet[QuarantinedPost], *, dry_run: bool = False, now: datetime | None = None
) -> ReplayResult:
    """Send the open rows of `rows` through look-up, normalisation and ingest again.

    Rows already replayed or resolved are left alone. Per channel, the stored records are
    parsed, looked up through the channel's connector (`hydrate`, reads counted on the
    channel) and normalised. A row whose record now normalises is stored by `ingest` and
    marked replayed and resolved, with the mention stored (none when the record was the
    brand's own post, which is skipped as a poll skips it); a row that still fails stays
    open with its new reason. Idempotent: ingest stores a post once, and rows are marked
    under a row lock only while still open. With `dry_run` nothing is sent or written: the
    result counts what a replay would look up. Makes network requests: call it outside a
    transaction.
    """
    now = now or timezone.now()
    result = ReplayResult()
    open_rows = rows.filter(replayed_at__isnull=True, resolved_at__isnull=True)
    channels = Channel.objects.filter(pk__in=open_rows.values("channel_id").distinct())
    for channel in channels:
        batch: list[QuarantinedPost] = []
        for row in open_rows.filter(channel=channel).order_by("pk").iterator(chunk_size=1000):
            batch.append(row)
            if len(batch) == REPLAY_BATCH:
                _replay(channel, batch, result, dry_run, now)
                batch = []
        if batch:
            _replay(channel, batch, result, dry_run, now)
    return result


def _replay(
    channel: Channel,
    rows: list[QuarantinedPost],
    result: ReplayResult,
    dry_run: bool,
    now: datetime,
) -> None:
    connector = get_connector(channel.network)
    result.rows += len(rows)
    parsed = {row.pk: parse_record(row.payload) for row in rows}
    records = [record for record, error in parsed.values() if error is None]
    # A post stored meanwhile (e.g. by a later import) is not looked up again.
    stored = set(
        Mention.objects.filter(
            channel=channel, external_id__in=connector.lookup_ids(records)
        ).values_list("external_id", flat=True)
    )
    hydration = connector.hydrate(channel, records, dry_run=dry_run, skip=stored)
    result.requests += hydration.requests
    result.reads += hydration.reads
    if dry_run:
        return
    channel.count_api_use(reads=hydration.reads)
    filled = iter(hydration.records)

    outcomes: dict[int, tuple[list[InboundPost], str | None]] = {}
    for row in rows:
        _, error = parsed[row.pk]
        if error is not None:
            # Text that is still no record (invalid JSON, too large): it keeps its reason.
            outcomes[row.pk] = ([], row.reason)
            continue
        record = next(filled)
        try:
            posts, rejects = connector.normalise_payload(
                record, account_id=channel.external_account_id
            )
        except Exception as exc:  # a shape no connector knows: it stays, with the reason
            posts, rejects = [], [Quarantined(f"unreadable record: {exc}", record)]
        rejects = hydration.explain(
            [q for q in rejects if not (q.needs_lookup and q.external_id in stored)]
        )
        reason = "; ".join(dict.fromkeys(q.reason for q in rejects)) if rejects else None
        outcomes[row.pk] = (posts, reason)

    all_posts = [post for posts, _ in outcomes.values() for post in posts]
    with transaction.atomic():
        still_open = {
            row.pk: row
            for row in QuarantinedPost.objects.select_for_update().filter(
                pk__in=[row.pk for row in rows],
                replayed_at__isnull=True,
                resolved_at__isnull=True,
            )
        }
        if all_posts:
            from listening.ingest import ingest  # ingest imports this module

            result.mentions_created += ingest(channel, all_posts, None, now=now).created
        mention_ids = dict(
            Mention.objects.filter(
                channel=channel, external_id__in={p.external_id for p in all_posts} | stored
            ).values_list("external_id", "id")
        )
        changed = []
        for pk, row in still_open.items():
            posts, reason = outcomes[pk]
            if reason is None:
                row.replayed_at = row.resolved_at = now
                ids = [p.external_id for p in posts] + [row.external_id]
                row.mention_id = next((mention_ids[i] for i in ids if i in mention_ids), None)
                result.replayed += 1
            else:
                row.reason = reason
                result.still_failing += 1
            changed.append(row)
        QuarantinedPost.objects.bulk_update(
            changed, ["reason", "replayed_at", "resolved_at", "mention"], batch_size=REPLAY_BATCH
        )
