"""Count the mentions again under the desk's one sentiment rule (listening.radar).

The counts used to call a compound of exactly -0.05 negative and 0.05 positive, where the rest
of the desk calls both neutral. Without a mark the stored counts are stale: readers ignore them
and add up the mentions themselves until the next count (qa.tasks.count_mentions, every minute)
starts again from nothing.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ('qa', '0003_mention_volume'),
    ]

    operations = [
        migrations.RunSQL("DELETE FROM qa_mentionvolumemark", migrations.RunSQL.noop),
    ]
