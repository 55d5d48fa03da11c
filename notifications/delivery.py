"""E-mailing notifications: one message each, or one daily digest, each sent once.

The notification row is the record; a Celery message is only a nudge. The protocol:

1. `do_notify` writes rows in `pending` (one e-mail each) or `digest` (the recipient's daily
   digest, due at NOTIFICATION_DIGEST_HOUR) and enqueues `send_notification_emails` for the
   pending ones when the transaction commits.
2. A worker **claims** rows with one conditional UPDATE (`pending` and due → `sending`, stamped
   with `email_claimed_at`); only the rows it got back are its to send. Two workers handed the
   same ids never both send.
3. It sends each and marks it `sent` (conditional on `sending`). A failure puts the row back
   in `pending`, due again after a backoff, or `failed` with the reason after MAX_ATTEMPTS.
4. The **sweep** (beat, every minute) takes back rows left in `sending` longer than a task may
   run (a worker that died mid-send: back to `pending`, or to `digest`) and enqueues pending
   rows that are due and were not picked up (a lost message, a broker that was down).
5. `send_due_digests` (beat, hourly) claims each recipient's due `digest` rows the same way and
   sends them as one message; rows read in the app meanwhile are left out (`none`).

So nothing is lost. A worker killed between the SMTP server's acceptance and step 3's UPDATE
may have sent a message the sweep sends again: at least once, and at most twice only then.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from alerts.notify import SUBJECT_PREFIX, one_line
from notifications.models import EmailState, Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SWEEP_GRACE = timedelta(seconds=60)  # a fresh row's own message gets this long to arrive
SWEEP_BATCH = 1000
DIGEST_SHOWN = 50


def claim_lease() -> timedelta:
    """How long a claim holds: past it the worker is taken for dead (hard time limit + 60 s)."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def claim(ids: list[int], now: datetime) -> list[Notification]:
    """Take the due `pending` rows among `ids` (pending → sending); the rows this call got."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE notifications_notification "
            "SET email_state = 'sending', email_claimed_at = %s, "
            "    email_attempts = email_attempts + 1 "
            "WHERE id = ANY(%s) AND email_state = 'pending' AND email_due_at <= %s "
            "RETURNING id",
            [now, ids, now],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    return list(
        Notification.objects.filter(pk__in=claimed).select_related("recipient").order_by("id")
    )


def _link(url: str) -> list[str]:
    if not settings.SITE_URL or not url:
        return []
    return [gettext("Open it: %(url)s") % {"url": f"{settings.SITE_URL}{url}"}]


def _footer() -> list[str]:
    if settings.SITE_URL:
        where = f"{settings.SITE_URL}/notifications/preferences/"
    else:
        where = gettext("the desk")
    return ["", "--", gettext("Choose what you get by e-mail: %(where)s") % {"where": where}]


# E-mails are written in the desk's language (LANGUAGE_CODE), like the stored titles they
# quote (notifications.actions.default_title): the desk does not know each reader's.


def compose(notification: Notification) -> tuple[str, str]:
    """(subject, body) in plain text for one notification. The title may quote a customer:
    it stays text (no HTML part), one line in the subject."""
    title = one_line(notification.title)
    subject = one_line(f"{SUBJECT_PREFIX}{title}")[:250]
    with translation.override(settings.LANGUAGE_CODE):
        lines = [title, "", *_link(notification.url), *_footer()]
    return subject, "\n".join(lines).rstrip() + "\n"


def compose_digest(rows: list[Notification]) -> tuple[str, str]:
    """(subject, body) of one daily digest of `rows` (newest first)."""
    n = len(rows)
    with translation.override(settings.LANGUAGE_CODE):
        unread = ngettext("%(count)d unread notification", "%(count)d unread notifications", n) % {
            "count": n
        }
        subject = f"{SUBJECT_PREFIX}{unread}"
        lines = [
            ngettext(
                "You have %(count)d unread notification on SocialDesk:",
                "You have %(count)d unread notifications on SocialDesk:",
                n,
            )
            % {"count": n},
            "",
        ]
        for row in rows[:DIGEST_SHOWN]:
            when = date_format(timezone.localtime(row.created_at), "d M H:i")
            lines.append(f"* {when}  {one_line(row.title)}")
            if settings.SITE_URL and row.url:
                lines.append(f"  {settings.SITE_URL}{row.url}")
        if n > DIGEST_SHOWN:
            lines.append(gettext("... and %(count)d more.") % {"count": n - DIGEST_SHOWN})
        lines += ["", *_link("/notifications/"), *_footer()]
    return subject, "\n".join(lines).rstrip() + "\n"


def _settle(pks: list[int], state: str, **fields: object) -> None:
    Notification.objects.filter(pk__in=pks, email_state=EmailState.SENDING).update(
        email_state=state, **fields
    )


def _failed(row: Notification, error: Exception, now: datetime) -> None:
    """Back to pending after a backoff, or failed for good after MAX_ATTEMPTS."""
    reason = one_line(f"{type(error).__name__}: {error}")[:300]
    if row.email_attempts >= MAX_ATTEMPTS:
        _settle([row.pk], EmailState.FAILED, email_error=reason)
    else:
        _settle(
            [row.pk],
            EmailState.PENDING,
            email_error=reason,
            email_due_at=now + backoff(row.email_attempts),
        )
    log.warning(
        "notification e-mail failed",
        extra={"notification_id": row.pk, "attempts": row.email_attempts, "error": reason},
    )


def send_emails(ids: list[int], now: datetime | None = None) -> int:
    """Claim and e-mail the notifications `ids` (those still pending and due); how many went.
    Safe to call twice, or with ids of any state."""
    now = now or timezone.now()
    sent = 0
    for row in claim(list(ids), now):
        if not row.recipient.email or not row.recipient.is_active:
            _settle([row.pk], EmailState.NONE)
            continue
        subject, body = compose(row)
        try:
            EmailMessage(subject, body, None, [row.recipient.email]).send()
        except Exception as error:  # SMTP and network errors: the row keeps the reason
            _failed(row, error, now)
            continue
        _settle([row.pk], EmailState.SENT, emailed_at=timezone.now(), email_error="")
        sent += 1
    return sent


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Take back stale claims and enqueue due pending rows whose message never came."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        # A digest row's claim goes back to the digest (it is due: the next run sends it).
        cursor.execute(
            "UPDATE notifications_notification "
            "SET email_state = CASE WHEN email_attempts = 0 THEN 'digest' ELSE 'pending' END, "
            "    email_claimed_at = NULL "
            "WHERE email_state = 'sending' AND email_claimed_at < %s",
            [now - claim_lease()],
        )
        recovered = cursor.rowcount
    due = list(
        Notification.objects.filter(
            email_state=EmailState.PENDING, email_due_at__lte=now - SWEEP_GRACE
        )
        .order_by("email_due_at", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if due:
        from notifications.actions import enqueue_emails

        enqueue_emails(due)
    return {"recovered": recovered, "enqueued": len(due)}


def due_digest_recipients(now: datetime | None = None) -> list[int]:
    """Users with digest rows due now."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(email_state=EmailState.DIGEST, email_due_at__lte=now)
        .values_list("recipient_id", flat=True)
        .distinct()
        .order_by("recipient_id")
    )


def send_digest(user_id: int, now: datetime | None = None) -> int:
    """Claim `user_id`'s due digest rows and e-mail the unread ones as one message; how many
    it listed (0: nothing due, or all read meanwhile)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        # email_attempts stays 0 on a digest claim: that is how the sweep tells one apart.
        cursor.execute(
            "UPDATE notifications_notification "
            "SET email_state = 'sending', email_claimed_at = %s "
            "WHERE recipient_id = %s AND email_state = 'digest' AND email_due_at <= %s "
            "RETURNING id",
            [now, user_id, now],
        )
        claimed = [row[0] for row in cursor.fetchall()]
    if not claimed:
        return 0
    rows = list(
        Notification.objects.filter(pk__in=claimed).select_related("recipient").order_by("-id")
    )
    read = [row.pk for row in rows if row.read_at is not None]
    unread = [row for row in rows if row.read_at is None]
    _settle(read, EmailState.NONE)  # seen in the app already
    recipient = rows[0].recipient
    if not unread or not recipient.email or not recipient.is_active:
        _settle([row.pk for row in unread], EmailState.NONE)
        return 0
    subject, body = compose_digest(unread)
    try:
        EmailMessage(subject, body, None, [recipient.email]).send()
    except Exception as error:
        reason = one_line(f"{type(error).__name__}: {error}")[:300]
        # Back into the digest, due again within the hour (the next run).
        _settle([row.pk for row in unread], EmailState.DIGEST, email_error=reason)
        log.warning("notification digest failed", extra={"user_id": user_id, "error": reason})
        return 0
    _settle([row.pk for row in unread], EmailState.SENT, emailed_at=timezone.now())
    return len(unread)
