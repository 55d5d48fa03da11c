"""Meta webhooks: push intake for Facebook Pages, Messenger and Instagram, with polling as the
safety net.

The protocol, from the request to the cases:

1. **Verify** (`check_delivery`, in the request). The body must carry `X-Hub-Signature-256:
   sha256=<hex>`, the HMAC-SHA256 of the RAW body under META_APP_SECRET (compared with
   `hmac.compare_digest`). Unsigned or badly signed bodies are refused with 403, a signed body
   that is not a delivery (not JSON, no entries) with 400, and a *stale* one with 400: one
   with an entry whose `time` is older than META_WEBHOOK_MAX_AGE seconds. Every refusal is
   counted on each channel the body names (Channel.webhook_refused), or for the app as a whole
   (`refused_for_app`) when it names none.
2. **Store** (`store_delivery`, same request): one WebhookEvent row holding the raw body,
   keyed by its SHA-256. Meta sends no timestamp header, so a replay is recognised by that
   key: a body already stored is answered 200 (Meta's own retry of a delivery whose answer
   was lost must stop) but stored and processed once, and counted as replayed. The row
   commits before the answer; `process_webhook_event` is enqueued on commit. The desk answers
   within milliseconds: nothing else happens in the request.
3. **Process** (`process_event`, in a worker): the event is claimed with a conditional UPDATE
   (state received, no live claim), each entry is read by the connector
   (`facebook_webhooks.read_entry`) for the channel whose account it names, new posts go
   through `listening.ingest.ingest` without a cursor (so a webhook never moves the poll's
   cursor past posts the poll has not read: a delivery the desk missed is read by the next
   poll, and a post that arrives both ways is stored once, by its external id), and source
   changes (edits, removals, hiding) go through `dispatch_source_change`. An item the
   webhook cannot complete (Meta left out its author, or it has no text) is left to the poll,
   which reads it whole and looks its author up or quarantines it; the event's outcome names
   it ("left_to_poll"). An entry for an
   account no channel knows is counted as unmatched and the event is done with; an event
   whose entries all are unmatched ends "unmatched" (no retry loop). A network failure (a
   Messenger or Instagram conversation look-up, reading an Instagram mention) leaves the
   event "received" with its error, claimed for a back-off; after META_WEBHOOK_MAX_ATTEMPTS
   it is "failed", visible in the admin. (An Instagram mention Graph no longer has is no
   such failure: it is named on the outcome, and not asked for again.)
4. **Sweep** (`sweep_events`, beat): events still "received" whose claim lapsed, or that
   were never claimed SWEEP_GRACE after arrival, are enqueued again. A lost Celery message
   delays an event; it never loses it. Events done with for longer than the stale window
   are deleted (`forget_old_events`), except those holding source changes for a handler.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from listening.connectors import facebook_webhooks as meta
from listening.connectors.errors import ConnectorError, PermanentError
from listening.content import do_record_source_edit, do_record_source_removal
from listening.ingest import ingest
from listening.models import Channel, Mention, MentionKind, Removal, WebhookEvent
from listening.posts import SOURCE_CHANGE_KINDS, Quarantined, SourceChange
from socialdesk.scrub import scrub

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# A worker holds a claimed event this long; then a sweep may hand it to another.
CLAIM_LEASE = timedelta(seconds=60)
# A stored event not claimed this long after it arrived is enqueued again by the sweep.
SWEEP_GRACE = timedelta(seconds=10)
SWEEP_BATCH = 500
REFUSED_FOR_APP_KEY = "socialdesk:webhooks:refused_for_app"


class Refused(Exception):
    """A delivery the desk will not store: `status` is the HTTP answer, `reason` why."""

    def __init__(self, status: int, reason: str, payload: Any = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.payload = payload


# ---- 1. verify -----------------------------------------------------------------------------


def signature_of(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value Meta sends with `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_delivery(
    body: bytes, signature: str, *, secret: str, now: datetime, max_age: int
) -> dict[str, Any]:
    """The delivery in `body`, parsed, or Refused (see step 1 of the module docstring)."""
    payload = _parse(body)
    if not signature:
        raise Refused(403, "unsigned", payload)
    if not hmac.compare_digest(signature.strip().encode(), signature_of(body, secret).encode()):
        raise Refused(403, "bad signature", payload)
    if not isinstance(payload, dict) or not meta.entries(payload):
        raise Refused(400, "not a delivery", payload)
    oldest = now - timedelta(seconds=max_age)
    for entry in meta.entries(payload):
        at = meta.entry_time(entry)
        if at is not None and at < oldest:
            raise Refused(400, "stale", payload)
    return payload


def count_refusal(refusal: Refused) -> None:
    """Count a refused delivery on the channels it names, or for the app when it names none.

    The body may be forged: it only decides whose counter moves, never what is stored.
    """
    accounts = _accounts(refusal.payload)
    counted = 0
    if accounts:
        counted = _named_channels(refusal.payload).update(webhook_refused=F("webhook_refused") + 1)
    if not counted:
        try:
            cache.incr(REFUSED_FOR_APP_KEY)
        except ValueError:
            cache.set(REFUSED_FOR_APP_KEY, 1, timeout=None)
    log.warning(
        "webhook delivery refused", extra={"reason": refusal.reason, "accounts": accounts[:10]}
    )


def summary(now: datetime | None = None) -> dict[str, int]:
    """For the health page: refusals that named no channel, events in the last day for
    accounts no channel knows, and events that failed for good (one query)."""
    day_ago = (now or timezone.now()) - timedelta(days=1)
    counts = WebhookEvent.objects.aggregate(
        unmatched_day=Count(
            "id", filter=Q(state=WebhookEvent.State.UNMATCHED, received_at__gte=day_ago)
        ),
        failed=Count("id", filter=Q(state=WebhookEvent.State.FAILED)),
    )
    return {"refused_for_app": refused_for_app(), **counts}


def refused_for_app() -> int:
    """Refused deliveries that named no known channel, since the cache was last cleared."""
    return int(cache.get(REFUSED_FOR_APP_KEY) or 0)


# ---- 2. store ------------------------------------------------------------------------------


def store_delivery(body: bytes, payload: dict[str, Any], now: datetime) -> int | None:
    """Store a verified delivery and enqueue it on commit; its event id, or None when this
    exact body is already stored (a replay, counted on the channels it names)."""
    from listening.tasks import process_webhook_event

    digest = hashlib.sha256(body).hexdigest()
    accounts = _accounts(payload)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO listening_webhookevent"
            " (object, body, body_sha256, received_at, state, attempts, error, outcome)"
            " VALUES (%s, %s, %s, %s, %s, 0, '', '{}'::jsonb)"
            " ON CONFLICT (body_sha256) DO NOTHING RETURNING id",
            [
                str(payload.get("object") or "")[:32],
                body.decode("utf-8"),  # check_delivery parsed it as UTF-8
                digest,
                now,
                WebhookEvent.State.RECEIVED,
            ],
        )
        row = cursor.fetchone()
        if row is None:
            count_refusal(Refused(200, "replayed", payload))
            return None
        if accounts:
            Channel.objects.filter(external_account_id__in=accounts).update(webhook_received_at=now)
        process_webhook_event.delay_on_commit(row[0])
    return row[0]


# ---- 3. process ----------------------------------------------------------------------------


def process_event(event_id: int, now: datetime | None = None) -> str:
    """Claim one stored event and take it in (step 3). Returns the event's state afterwards,
    or "busy" when it is not claimable (done, or held by another worker)."""
    now = now or timezone.now()
    # Claim and read in one statement. Its commit need not wait for the disk: a claim lost in
    # a crash only lets the event be processed again, which stores nothing twice.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL synchronous_commit = off;"
            " UPDATE listening_webhookevent"
            " SET claimed_until = %s, attempts = attempts + 1"
            " WHERE id = %s AND state = %s AND (claimed_until IS NULL OR claimed_until <= %s)"
            " RETURNING body, attempts",
            [now + CLAIM_LEASE, event_id, WebhookEvent.State.RECEIVED, now],
        )
        row = cursor.fetchone()
    if row is None:
        return "busy"
    event = WebhookEvent(pk=event_id, body=row[0], attempts=row[1])
    if event.attempts > settings.META_WEBHOOK_MAX_ATTEMPTS:
        # Earlier attempts died without a word (a worker killed, a bug): stop the loop here.
        return _retry_later(event, RuntimeError("processing never finished"), now)
    try:
        # The posts and the event's new state commit together: "processed" is never recorded
        # for posts that were not stored. The commit need not wait for the disk either: the
        # event row was flushed when it was received, so a crash that loses this commit
        # leaves the event "received" and the sweep processes it again.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
            outcome = take_in(json.loads(event.body), now)
            unmatched_only = outcome["entries"] and outcome["entries"] == outcome["unmatched"]
            event.state = (
                WebhookEvent.State.UNMATCHED if unmatched_only else WebhookEvent.State.PROCESSED
            )
            event.outcome, event.processed_at, event.claimed_until = outcome, now, None
            event.error = ""
            event.save(update_fields=["state", "outcome", "processed_at", "claimed_until", "error"])
    except ConnectorError as exc:
        return _retry_later(event, exc, now)
    return event.state


def take_in(payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Read every entry for its channel; ingest the posts; dispatch the source changes.

    Safe to repeat: ingest stores a post once, and the changes are idempotent by nature.
    """
    obj = str(payload.get("object") or "")
    network = meta.NETWORKS.get(obj, "")
    items = meta.entries(payload)
    accounts = {str(e.get("id") or "") for e in items}
    channels = {
        c.external_account_id: c
        for c in Channel.objects.filter(network=network, external_account_id__in=accounts)
    }
    outcome: dict[str, Any] = {
        "entries": len(items),
        "unmatched": 0,
        "unmatched_accounts": [],
        "posts": 0,
        "created": 0,
        "left_to_poll": [],
        "ignored": 0,
        "unread": 0,
        "changes": 0,
        "awaiting_handler": [],
    }
    for entry in items:
        channel = channels.get(str(entry.get("id") or ""))
        if channel is None:
            outcome["unmatched"] += 1
            outcome["unmatched_accounts"].append(str(entry.get("id") or "")[:64])
            continue
        reading, unread = meta.read_entry(obj, entry, _lookups(channel))
        outcome["unread"] += unread
        outcome["ignored"] += reading.ignored
        if reading.posts:
            result = ingest(channel, reading.posts, None, now=now)
            outcome["posts"] += result.received
            outcome["created"] += result.created
        # What the webhook cannot complete (no author given, no text) the poll reads whole,
        # with the look-ups and the quarantine it has: the webhook never moves its cursor.
        outcome["left_to_poll"] += [
            {"external_id": reject.external_id, "reason": reject.reason}
            for reject in reading.quarantined
        ]
        for change in reading.changes:
            outcome["changes"] += 1
            if not dispatch_source_change(channel, change):
                outcome["awaiting_handler"].append(
                    {"channel_id": channel.pk, **asdict(change), "at": _iso(change.at)}
                )
    if outcome["unmatched"]:
        log.warning(
            "webhook entries for accounts no channel knows",
            extra={"object": obj, "accounts": outcome["unmatched_accounts"][:10]},
        )
    return outcome


# ---- source changes ------------------------------------------------------------------------

SourceChangeHandler = Callable[[Channel, SourceChange], None]


def _edit(channel: Channel, change: SourceChange) -> None:
    do_record_source_edit(
        channel=channel,
        external_id=change.external_id,
        text=change.text,
        edited_at=change.at or timezone.now(),
    )


def _remove(channel: Channel, change: SourceChange) -> None:
    do_record_source_removal(
        channel=channel,
        external_id=change.external_id,
        removed_at=change.at or timezone.now(),
        how=Removal.WEBHOOK,
    )


def _visibility(hidden: bool) -> SourceChangeHandler:
    def record(channel: Channel, change: SourceChange) -> None:
        from cases.moderation import do_record_source_visibility

        do_record_source_visibility(
            channel=channel,
            external_id=change.external_id,
            hidden=hidden,
            at=change.at or timezone.now(),
        )

    return record


# What each kind of source change does to the desk's copy (each verb does nothing when the
# desk does not hold the post, or already shows the change: the echo of its own hide). A kind
# without a handler would be kept on its event's outcome ("awaiting_handler"), never dropped.
SOURCE_CHANGE_HANDLERS: dict[str, SourceChangeHandler | None] = {
    "edit": _edit,
    "remove": _remove,
    "hide": _visibility(True),
    "unhide": _visibility(False),
}
assert set(SOURCE_CHANGE_HANDLERS) == set(SOURCE_CHANGE_KINDS)


def dispatch_source_change(channel: Channel, change: SourceChange) -> bool:
    """Apply `change` with its kind's handler; False when no handler takes it yet."""
    handler = SOURCE_CHANGE_HANDLERS.get(change.kind)
    if handler is None:
        return False
    handler(channel, change)
    return True


# ---- 4. sweep ------------------------------------------------------------------------------


def sweep_events(
    now: datetime | None = None, enqueue: Callable[[int], object] | None = None
) -> int:
    """Enqueue again (`enqueue`, by default the Celery task) every event still "received"
    whose claim lapsed, or that nobody claimed within SWEEP_GRACE of arriving (its message was
    lost). Returns how many."""
    from listening.tasks import process_webhook_event

    now = now or timezone.now()
    enqueue = enqueue or process_webhook_event.delay
    due = list(
        WebhookEvent.objects.filter(
            state=WebhookEvent.State.RECEIVED, received_at__lte=now - SWEEP_GRACE
        )
        .exclude(claimed_until__gt=now)
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for event_id in due:
        enqueue(event_id)
    if due:
        log.info("webhook events enqueued again", extra={"events": len(due)})
    forget_old_events(now)
    return len(due)


def forget_old_events(now: datetime) -> int:
    """Delete events done with for longer than the stale window (and a day): a replay of one
    is refused as stale by the signed `time` of its entries, so its row is no longer needed to
    recognise it. Events with source changes awaiting a handler, and failed ones, are kept."""
    horizon = now - timedelta(seconds=settings.META_WEBHOOK_MAX_AGE, days=1)
    deleted, _ = WebhookEvent.objects.filter(
        state__in=[WebhookEvent.State.PROCESSED, WebhookEvent.State.UNMATCHED],
        processed_at__lt=horizon,
        outcome__awaiting_handler=[],
    ).delete()
    return deleted


def do_process_events_again(event_ids: list[int]) -> int:
    """Give failed events (of `event_ids`) a fresh set of attempts and enqueue them after
    commit, e.g. once Graph answers again. Returns how many were failed."""
    from listening.tasks import process_webhook_event

    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.filter(pk__in=event_ids, state=WebhookEvent.State.FAILED)
            .select_for_update()
            .values_list("id", flat=True)
        )
        WebhookEvent.objects.filter(pk__in=ids).update(
            state=WebhookEvent.State.RECEIVED, attempts=0, claimed_until=None
        )
        for event_id in ids:
            process_webhook_event.delay_on_commit(event_id)
    return len(ids)


# ---- helpers -------------------------------------------------------------------------------


def _parse(body: bytes) -> Any:
    """The JSON of a UTF-8 body (Meta sends nothing else), or None. The body may be anyone's:
    nesting too deep for the parser is junk like any other."""
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _accounts(payload: Any) -> list[str]:
    return sorted({str(e.get("id"))[:64] for e in meta.entries(payload) if e.get("id")})


def _named_channels(payload: Any) -> QuerySet[Channel]:
    """The channels whose accounts the delivery's entries name, on the network of its object."""
    obj = payload.get("object") if isinstance(payload, dict) else None
    network = meta.NETWORKS.get(obj if isinstance(obj, str) else "", "")
    return Channel.objects.filter(network=network, external_account_id__in=_accounts(payload))


def _lookups(channel: Channel) -> meta.Lookups:
    """What reading `channel`'s entries may ask Graph: a sender's conversation, and (on
    Instagram) a mention by the ids a `mentions` change names."""
    mention = None
    if channel.network == "instagram":
        from listening.connectors.instagram import InstagramConnector

        def mention(comment_id: str, media_id: str) -> Any:
            try:
                return InstagramConnector().fetch_mention(
                    channel, comment_id=comment_id, media_id=media_id
                )
            except PermanentError as exc:
                # Deleted since, or on an account that went private: no retry will read it.
                held = {"comment_id": comment_id, "media_id": media_id}
                return Quarantined(f"mention not readable: {exc}"[:200], held, comment_id)

    return meta.Lookups(_conversation_finder(channel), mention)


def _conversation_finder(channel: Channel) -> meta.ConversationFinder:
    """The private conversation of a person (a Messenger PSID, an Instagram IGSID): the one
    their stored messages are threaded in, else the one Graph lists for them (asked once per
    person and event). On Instagram their username comes with it (the webhook names none)."""
    found: dict[str, tuple[str, str]] = {}

    def find(psid: str) -> tuple[str, str]:
        if psid not in found:
            stored = (
                Mention.objects.filter(
                    channel=channel,
                    kind=MentionKind.DIRECT_MESSAGE,
                    author__network=channel.network,
                    author__external_id=psid,
                )
                .order_by("-posted_at")
                .values_list("conversation_id", "author__handle")
                .first()
            )
            if stored:
                handle = stored[1] if channel.network == "instagram" else ""
                found[psid] = (stored[0].removeprefix("msg:"), handle)
            else:
                found[psid] = meta.conversation_of(channel, psid)
        return found[psid]

    return find


def _retry_later(event: WebhookEvent, exc: Exception, now: datetime) -> str:
    """Keep the event for a later attempt (its claim is its back-off), or fail it for good."""
    event.error = scrub(str(exc))[:2000]
    if event.attempts >= settings.META_WEBHOOK_MAX_ATTEMPTS:
        event.state = WebhookEvent.State.FAILED
        event.claimed_until = None
    else:
        event.claimed_until = now + min(timedelta(seconds=15 * 2**event.attempts), CLAIM_LEASE * 60)
    event.save(update_fields=["error", "state", "claimed_until"])
    log.warning(
        "webhook event not processed",
        extra={"event_id": event.pk, "attempts": event.attempts, "state": event.state},
    )
    return event.state


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
