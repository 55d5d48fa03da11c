"""Two indexes fewer on cases_case, the table ingest writes for every post and that every case
update rewrites in each index (its changed columns make the updates non-HOT).

* case_inbox (status, -priority, last_inbound_at) is covered by the inbox's own indexes: the
  partial ones on the open statuses and case_all_priority for the others.
* case_subject_trgm: the inbox search reads the mentions, of which the subject is the start
  (cases.inbox.search_q); keeping the subject's trigrams cost a GIN insert per trigram on every
  case write.

Dropped CONCURRENTLY (the migration is not atomic), so a live desk keeps writing meanwhile.
"""

from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("cases", "0006_qa_and_dashboard_indexes")]

    operations = [
        RemoveIndexConcurrently(model_name="case", name="case_inbox"),
        migrations.RunSQL(
            "DROP INDEX CONCURRENTLY IF EXISTS case_subject_trgm",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS case_subject_trgm ON cases_case "
            "USING gin (upper(subject) gin_trgm_ops)",
        ),
    ]
