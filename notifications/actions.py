"""Telling desk users about their own work: `do_notify`, the one way to create notifications.

Callers (cases.actions, cases.assignment, cases.replies, qa.reviews, qa.coaching, the SLA
checks) call `do_notify` inside the transaction of the event they tell about, with a
`dedupe_key` naming that event. Each recipient then has exactly one notification per event:
the rows are inserted in one statement, `ON CONFLICT (recipient, dedupe_key) DO NOTHING`, so a
repeated call, a retried task or two racing processes add nothing. The rows roll back with the
event. E-mails are the rows' business after the commit (notifications.delivery).
"""

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext

from notifications.models import EmailState, Kind, Notification, NotificationPreference

if TYPE_CHECKING:
    from cases.models import Case
    from qa.models import Review

log = logging.getLogger(__name__)

ENQUEUE_BATCH = 50  # notifications per e-mail task
TITLE_MAX = Notification._meta.get_field("title").max_length
EXCERPT = 80


def _name(user: User | None) -> str:
    if user is None:
        return "SocialDesk"
    return user.get_full_name() or user.get_username()


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of `text` on one line, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def word_title(
    kind: str, *, case: "Case | None", actor: User | None, data: Mapping[str, Any]
) -> str:
    """The notification's line of text in the active language, in the recipient's terms
    ("you"). Reads the case's pk and subject, the actor's names and "note", "score" and
    "agent" from `data`."""
    values = {
        "who": _name(actor),
        "ref": (
            pgettext("notification", "case #%(case_id)s") % {"case_id": case.pk}
            if case is not None
            else pgettext("notification", "a case")
        ),
        "about": f": {excerpt(case.subject)}" if case is not None and case.subject else "",
        "note": excerpt(data.get("note", "")),
    }
    if kind == Kind.ASSIGNED:
        if actor is None:
            return capfirst(gettext("%(ref)s was assigned to you%(about)s") % values)
        return gettext("%(who)s assigned %(ref)s to you%(about)s") % values
    if kind == Kind.MENTIONED:
        return gettext("%(who)s mentioned you on %(ref)s: %(note)s") % values
    if kind == Kind.APPROVAL_REQUESTED:
        return gettext("%(who)s's reply on %(ref)s waits for approval") % values
    if kind == Kind.REPLY_APPROVED:
        return gettext("%(who)s approved your reply on %(ref)s: it is on its way") % values
    if kind == Kind.REPLY_SENT_BACK:
        return gettext("%(who)s sent back your reply on %(ref)s: %(note)s") % values
    if kind == Kind.DISPUTE_OPENED:
        return gettext("%(who)s disputes the review of their reply on %(ref)s") % values
    if kind == Kind.REVIEW_IN:
        score = data.get("score")
        shown = (
            gettext(": %(score)s out of 100") % {"score": f"{score:.0f}"}
            if isinstance(score, int | float)
            else ""
        )
        return gettext("%(who)s reviewed your reply on %(ref)s%(score)s") % {
            **values,
            "score": shown,
        }
    if kind == Kind.FOLLOW_UP_DUE:
        if "agent" not in data:  # the agent's own notice; the coach's names the agent
            return gettext("Your coaching follow-up is due")
        return gettext("The coaching follow-up with %(agent)s is due") % {"agent": data["agent"]}
    if kind == Kind.SLA_WARNING:
        return capfirst(gettext("%(ref)s is about to breach its SLA%(about)s") % values)
    if kind == Kind.SLA_BREACHED:
        return capfirst(gettext("%(ref)s breached its SLA%(about)s") % values)
    return str(Kind(kind).label)


def default_title(
    kind: str, *, case: "Case | None", review: "Review | None", actor: User | None, data: dict
) -> str:
    """The line a notification stores, in the desk's language (LANGUAGE_CODE) whoever's
    request writes it: e-mails and digests are sent from it, to people whose language the
    desk does not know. Pages word it again in the reader's language (`reader_title`)."""
    with translation.override(settings.LANGUAGE_CODE):
        return word_title(kind, case=case, actor=actor, data=data)[:TITLE_MAX]


def reader_title(notification: Notification) -> str:
    """The notification's line in the reader's language: worded again when the stored line is
    its kind's own wording, else as stored (a caller's own title, or one whose actor or case
    has changed since). Reads `notification.case` and `.actor`: select them with the row."""
    if translation.get_language() == settings.LANGUAGE_CODE:
        return notification.title
    facts = {"case": notification.case, "actor": notification.actor, "data": notification.data}
    stored = default_title(notification.kind, review=None, **facts)
    if stored != notification.title:
        return notification.title
    return word_title(notification.kind, **facts)


def default_url(kind: str, *, case: "Case | None", review: "Review | None") -> str:
    """Where the notification leads: the review's page for the QA kinds, else the case."""
    if review is not None and kind == Kind.REVIEW_IN:
        return f"{reverse('qa:my_reviews')}#review-{review.pk}"
    if review is not None and kind == Kind.DISPUTE_OPENED:
        return f"{reverse('qa:disputes')}#review-{review.pk}"
    if case is not None:
        return reverse("cases:detail", args=[case.pk])
    return ""


def next_digest_at(now: datetime) -> datetime:
    """The next NOTIFICATION_DIGEST_HOUR o'clock (TIME_ZONE) after `now`."""
    local = timezone.localtime(now)
    moment = local.replace(
        hour=settings.NOTIFICATION_DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    if moment <= local:
        moment += timedelta(days=1)
    return moment


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to write: what `do_notify` makes of each recipient of an event."""

    recipient_id: int
    kind: str
    dedupe_key: str
    title: str
    url: str = ""
    case_id: int | None = None
    review_id: int | None = None
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _email_plans(
    notices: list[Notice], now: datetime
) -> dict[tuple[int, str], tuple[str, datetime | None]]:
    """(email_state, email_due_at) per (active recipient, kind), from each recipient's address
    and preferences; inactive users are left out. One query."""
    recipient_ids = sorted({n.recipient_id for n in notices})
    rows = User.objects.filter(pk__in=recipient_ids, is_active=True).values_list(
        "pk",
        "email",
        "notification_preference__email_kinds",
        "notification_preference__daily_digest",
    )
    people = {pk: (email, kinds, digest) for pk, email, kinds, digest in rows}
    plans: dict[tuple[int, str], tuple[str, datetime | None]] = {}
    digest_at = None
    for notice in notices:
        if notice.recipient_id not in people:
            continue
        email, kinds, digest = people[notice.recipient_id]
        wanted = kinds is None or notice.kind in kinds  # no preferences yet: every kind
        if not email or not wanted:
            plan: tuple[str, datetime | None] = (EmailState.NONE, None)
        elif digest:
            digest_at = digest_at or next_digest_at(now)
            plan = (EmailState.DIGEST, digest_at)
        else:
            plan = (EmailState.PENDING, now)
        plans[(notice.recipient_id, notice.kind)] = plan
    return plans


# The rows travel as one JSON array: one parameter to adapt, parsed by PostgreSQL in C (a
# list per column costs psycopg2 a Python adaptation per value).
_INSERT = """
INSERT INTO notifications_notification
    (recipient_id, kind, actor_id, case_id, review_id, title, url, data, dedupe_key, created_at,
     email_state, email_attempts, email_due_at, email_error)
SELECT r.recipient_id, r.kind, r.actor_id, r.case_id, r.review_id, r.title, r.url,
       coalesce(r.data, '{}'), r.dedupe_key, %(now)s, r.email_state, 0, r.email_due_at, ''
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
    recipient_id int, kind varchar, actor_id int, case_id int, review_id int, title varchar,
    url varchar, data jsonb, dedupe_key varchar, email_state varchar, email_due_at timestamptz)
ON CONFLICT (recipient_id, dedupe_key) DO NOTHING
RETURNING id, email_state
"""


def do_notify_all(notices: Iterable[Notice], *, now: datetime | None = None) -> list[int]:
    """Write `notices` (of one or many events) in one statement; the new rows' ids.

    What `do_notify` does for one event, for callers that record many events at once (the
    auto-assignment's run): the same rules, two queries whatever the number. A notice to its
    own actor is dropped; one whose (recipient, dedupe_key) exists adds nothing.
    """
    notices = [n for n in notices if n.recipient_id != n.actor_id]
    if not notices:
        return []
    now = now or timezone.now()
    plans = _email_plans(notices, now)
    notices = [n for n in notices if (n.recipient_id, n.kind) in plans]
    if not notices:
        return []
    rows = []
    for n in notices:
        state, due = plans[(n.recipient_id, n.kind)]
        rows.append(
            {
                "recipient_id": n.recipient_id,
                "kind": n.kind,
                "actor_id": n.actor_id,
                "case_id": n.case_id,
                "review_id": n.review_id,
                "title": n.title[:TITLE_MAX],
                "url": n.url[:300],
                "data": n.data or None,
                "dedupe_key": n.dedupe_key[:200],
                "email_state": state,
                "email_due_at": due,
            }
        )
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, {"now": now, "rows": _json(rows)})
        created = cursor.fetchall()
    to_email = [pk for pk, state in created if state == EmailState.PENDING]
    if to_email:
        transaction.on_commit(lambda: enqueue_emails(to_email), robust=True)
    return [pk for pk, _ in created]


def do_notify(
    recipients: Iterable[User | int],
    kind: str,
    *,
    case: "Case | None" = None,
    review: "Review | None" = None,
    actor: User | None = None,
    data: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
    title: str = "",
    url: str = "",
    now: datetime | None = None,
) -> list[int]:
    """Notify each of `recipients` (users or user ids) once of one event; the new rows' ids.

    `kind` is a notifications.models.Kind. `dedupe_key` names the event ("assigned:<event id>"):
    a recipient who already has a notification with that key gets nothing more, so calling
    again for the same event is harmless. Without one, every call is a new event. The actor is
    never told of their own act; inactive users are skipped. `title` (plain text) and `url`
    default to the kind's wording and the case's (or review's) page; `data` is kept on the row
    (JSON; the wording reads "note", "score", "agent" from it). Two queries: the recipients'
    preferences, one INSERT of every row.

    Precondition: call it inside the transaction that records the event, so the notifications
    exist exactly when the event does. Their e-mails (per each recipient's preferences) are
    enqueued when that transaction commits; a lost message is re-sent by the sweep.
    """
    if kind not in Kind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    ids = {r if isinstance(r, int) else r.pk for r in recipients}
    if not ids:
        return []
    data = dict(data or {})
    title = title or default_title(kind, case=case, review=review, actor=actor, data=data)
    url = url or default_url(kind, case=case, review=review)
    key = dedupe_key or f"{kind}:{uuid.uuid4().hex}"
    common = {
        "kind": kind,
        "dedupe_key": key,
        "title": title,
        "url": url,
        "case_id": case.pk if case is not None else None,
        "review_id": review.pk if review is not None else None,
        "actor_id": actor.pk if actor is not None else None,
        "data": data,
    }
    return do_notify_all([Notice(recipient_id=pk, **common) for pk in sorted(ids)], now=now)


def _json(data: object) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder)


def enqueue_emails(ids: list[int]) -> None:
    """One e-mail task per batch of `ids`. A broker that is down loses nothing: the sweep
    (notifications.delivery.sweep) enqueues them again."""
    from notifications import tasks

    try:
        for start in range(0, len(ids), ENQUEUE_BATCH):
            tasks.send_notification_emails.delay(ids[start : start + ENQUEUE_BATCH])
    except Exception:
        log.warning("notification e-mails not enqueued: the sweep will", exc_info=True)


# ---------- who is told ----------


def team_supervisors(agent_id: int, fallback_perm: str) -> QuerySet[User]:
    """The supervisors of the teams `agent_id` belongs to; with no such team, the holders of
    `fallback_perm` (so nobody's work goes unwatched)."""
    from socialdesk import roles
    from socialdesk.models import Team

    leads = User.objects.filter(
        is_active=True, supervised_teams__in=Team.objects.filter(members=agent_id)
    ).distinct()
    if leads.exists():
        return leads
    return roles.holders_of(fallback_perm, superusers=False)


_MENTION = re.compile(r"(?<![\w@.])@([\w.+-]+)")
MAX_MENTIONS = 20


def mentioned_users(text: str) -> QuerySet[User]:
    """The colleagues `@username` names in `text` (case-insensitive) who may read cases; at
    most MAX_MENTIONS names are looked at. A customer's @handle matches nobody unless a desk
    user has that username, and then only one who reads cases anyway. One query."""
    from django.db.models.functions import Lower

    from socialdesk import roles

    names = {m.group(1).rstrip(".-").lower() for m in _MENTION.finditer(text)}
    names = set(sorted(names)[:MAX_MENTIONS]) - {""}
    if not names:
        return User.objects.none()
    return (
        roles.holders_of("cases.view_case")
        .annotate(lower_name=Lower("username"))
        .filter(lower_name__in=names)
    )


# ---------- the user's side ----------


def unread_state(user: User) -> tuple[int, int]:
    """(unread count, newest notification id) of `user`: the bell's fingerprint, one query
    on two index edges (notification_unread, notification_recipient)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM notifications_notification "
            "        WHERE recipient_id = %s AND read_at IS NULL), "
            "       (SELECT max(id) FROM notifications_notification WHERE recipient_id = %s)",
            [user.pk, user.pk],
        )
        count, newest = cursor.fetchone()
    return count, newest or 0


def do_mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    """Mark `user`'s notifications read (all of them with None); how many were unread.

    Rows of other users are never touched, whatever ids are given.
    """
    rows = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_ids is not None:
        rows = rows.filter(pk__in=list(notification_ids))
    return rows.update(read_at=timezone.now())


def preferences_of(user: User) -> NotificationPreference:
    """The user's preferences; the defaults (every kind by e-mail, one each) if never saved."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user, email_kinds=list(Kind.values))


def do_save_preferences(user: User, email_kinds: Iterable[str], daily_digest: bool) -> None:
    """Store which kinds `user` gets by e-mail, and whether as one daily digest."""
    kinds = [k for k in Kind.values if k in set(email_kinds)]
    NotificationPreference.objects.update_or_create(
        user=user, defaults={"email_kinds": kinds, "daily_digest": daily_digest}
    )
