"""Indexes for the inbox's filters, sorts and text search, and the desk's default saved views.

The indexes are plain SQL (RunSQL without state operations) so they stay out of the model
state: cases/models.py keeps its Meta.indexes, and `makemigrations` sees nothing to undo.

* Partial indexes on the open statuses serve the default view (new/open/pending, highest
  priority first or longest waiting first) and "Mine": an ordered index scan that stops after
  one page, whatever the number of resolved and closed cases.
* The (priority, last_inbound_at, id) index without a predicate serves "all statuses".
* Trigram GIN indexes (pg_trgm) make a substring search (`icontains`) on the case subject, the
  customer's handle and name and the mention text an index lookup instead of a scan.

On a large production database, create these with CREATE INDEX CONCURRENTLY by hand before
migrating (the IF NOT EXISTS below then skips them).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

OPEN = "status IN ('new', 'open', 'pending')"

INDEXES = [
    ("case_open_priority", "cases_case", f"(priority DESC, last_inbound_at, id) WHERE {OPEN}"),
    ("case_open_waiting", "cases_case", f"(last_inbound_at, id) WHERE {OPEN}"),
    (
        "case_open_assignee",
        "cases_case",
        f"(assignee_id, priority DESC, last_inbound_at, id) WHERE {OPEN}",
    ),
    # Covers the sidebar's count query (index-only scan over the open cases, no heap visits).
    (
        "case_open_counts",
        "cases_case",
        "(assignee_id, priority) INCLUDE (id, status, snoozed_until, opened_at, triage_decision, "
        f"triage_suggestion, channel_id, language) WHERE {OPEN}",
    ),
    ("case_all_priority", "cases_case", "(priority DESC, last_inbound_at, id)"),
    # On UPPER(): Django's `icontains` on PostgreSQL is `UPPER(col) LIKE UPPER('%term%')`.
    ("case_subject_trgm", "cases_case", "USING gin (upper(subject) gin_trgm_ops)"),
    ("identity_handle_trgm", "cases_identity", "USING gin (upper(handle) gin_trgm_ops)"),
    ("identity_name_trgm", "cases_identity", "USING gin (upper(name) gin_trgm_ops)"),
    ("mention_text_trgm", "listening_mention", "USING gin (upper(text) gin_trgm_ops)"),
]

# The shared views every desk starts with (owner empty = the whole desk sees them).
DEFAULT_VIEWS = [
    ("Mine", "assignee=mine"),
    ("Unassigned", "assignee=unassigned"),
    ("High priority", "priority=high"),
    ("Escalated", "decision=escalate"),
    ("Snoozed", "status=snoozed"),
]


def create_default_views(apps, schema_editor):
    SavedView = apps.get_model("cases", "SavedView")
    for position, (name, query) in enumerate(DEFAULT_VIEWS):
        SavedView.objects.get_or_create(
            owner=None, name=name, defaults={"query": query, "position": position}
        )


def remove_default_views(apps, schema_editor):
    SavedView = apps.get_model("cases", "SavedView")
    for name, query in DEFAULT_VIEWS:
        SavedView.objects.filter(owner=None, name=name, query=query).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0004_inbox"),
        ("listening", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),
        *(
            migrations.RunSQL(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}",
                f"DROP INDEX IF EXISTS {name}",
            )
            for name, table, definition in INDEXES
        ),
        migrations.RunPython(create_default_views, remove_default_views),
    ]
