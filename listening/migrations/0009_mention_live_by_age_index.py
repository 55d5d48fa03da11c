"""The index the deletion check and the retention sweep read: live posts of a channel by age.

Built CONCURRENTLY (the migration is not atomic), so a live desk keeps ingesting meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('listening', '0008_source_edits_removals_and_checks'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="mention",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True)),
                fields=["channel", "posted_at"],
                name="mention_live_by_age",
            ),
        ),
    ]
