"""Benchmark of one event told to many users: `run(emit)`.

Creates 500 users (half with an e-mail address, a quarter with saved preferences, one in ten
on the daily digest) and a case, then times `do_notify` of one event to all of them: the
preferences read and the one bulk INSERT ... ON CONFLICT, in the event's transaction. The
median of RUNS events (each its own dedupe key) is reported, then the same event once more
(every row already there: nothing written). Everything runs in a transaction that is rolled
back, so the bench database is left as it was; the e-mails' tasks would be enqueued on commit
and are not part of the figure.

Figures: notifications_fanout_ms (median), notifications_fanout_repeat_ms,
notifications_fanout_rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from cases.models import Case, Customer
from listening.models import Channel, Network
from notifications.actions import do_notify
from notifications.models import Kind, Notification, NotificationPreference

USERS = 500
RUNS = 7


class _Rollback(Exception):
    pass


def _desk(users: int) -> tuple[list[int], Case]:
    User = get_user_model()
    User.objects.bulk_create(
        User(
            username=f"bench_notify_{i}",
            email=f"bench_notify_{i}@example.com" if i % 2 else "",
        )
        for i in range(users)
    )
    ids = list(
        User.objects.filter(username__startswith="bench_notify_").values_list("pk", flat=True)
    )
    NotificationPreference.objects.bulk_create(
        NotificationPreference(user_id=pk, email_kinds=list(Kind.values), daily_digest=n % 10 == 0)
        for n, pk in enumerate(ids[: users // 4])
    )
    channel = Channel(
        network=Network.X,
        name="Bench notifications",
        handle="bench_notify",
        external_account_id="bench-notify",
        enabled=False,
    )
    channel.credentials = {"bearer_token": "bench"}
    channel.save()
    customer = Customer.objects.create(display_name="Bench customer")
    case = Case.objects.create(
        customer=customer, channel=channel, conversation_key="bench-notify", subject="Refund?"
    )
    return ids, case


def run(emit: Callable[[str, object], None], users: int = USERS) -> None:
    try:
        with transaction.atomic():
            ids, case = _desk(users)
            # Foreign keys are checked at commit, which never comes here: check them as the
            # rows are written, so the figure includes them.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            timings = []
            for run_no in range(RUNS):
                started = time.perf_counter()
                created = do_notify(ids, Kind.SLA_BREACHED, case=case, dedupe_key=f"bench:{run_no}")
                timings.append((time.perf_counter() - started) * 1000)
                assert len(created) == users
            started = time.perf_counter()
            again = do_notify(ids, Kind.SLA_BREACHED, case=case, dedupe_key="bench:0")
            repeat_ms = (time.perf_counter() - started) * 1000
            assert again == []
            rows = Notification.objects.filter(dedupe_key="bench:0", case=case).count()
            raise _Rollback
    except _Rollback:
        pass
    emit("notifications_fanout_ms", round(statistics.median(timings), 1))
    emit("notifications_fanout_repeat_ms", round(repeat_ms, 1))
    emit("notifications_fanout_rows", rows)
