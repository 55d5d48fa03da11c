"""Indexes for QA sampling and the supervisors' dashboard, and two foreign-key indexes fewer.

* reply_sent: a period's sent replies (QA sampling's population, the sampling planner).
* case_ignored: the cases agents chose to ignore, by when (QA sampling of ignored cases).
* case_channel_opened: cases opened since a date, per channel, with what the response-time
  percentiles read (an index-only scan instead of a scan of every case).
* The plain indexes on cases_case.channel_id and cases_reply.author_id go: case_channel
  (channel, status) and reply_author_sent (author, -sent_at) lead with the same columns.

The indexes are built CONCURRENTLY (the migration is not atomic), so a live desk keeps
writing cases and replies meanwhile.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0005_inbox_indexes"),
        ("listening", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="reply",
            index=models.Index(
                condition=models.Q(("state", "sent")), fields=["sent_at"], name="reply_sent"
            ),
        ),
        AddIndexConcurrently(
            model_name="case",
            index=models.Index(
                condition=models.Q(("triage_decision", "ignore")),
                fields=["triage_decided_at"],
                name="case_ignored",
            ),
        ),
        AddIndexConcurrently(
            model_name="case",
            index=models.Index(
                fields=["channel", "opened_at"],
                include=("first_response_at", "resolved_at", "assignee"),
                name="case_channel_opened",
            ),
        ),
        # Dropped by name, concurrently: AlterField would also drop and re-validate the foreign
        # key, locking the table for a scan of every row.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS cases_case_channel_id_04e45f90",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS cases_case_channel_id_04e45f90 "
                    "ON cases_case (channel_id)",
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="case",
                    name="channel",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="cases",
                        to="listening.channel",
                    ),
                )
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX CONCURRENTLY IF EXISTS cases_reply_author_id_29c1d6a3",
                    "CREATE INDEX CONCURRENTLY IF NOT EXISTS cases_reply_author_id_29c1d6a3 "
                    "ON cases_reply (author_id)",
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="reply",
                    name="author",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replies",
                        to=settings.AUTH_USER_MODEL,
                    ),
                )
            ],
        ),
    ]
