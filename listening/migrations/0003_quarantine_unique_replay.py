"""The quarantine keeps one row per record, and remembers replays.

Existing rows get their digest computed in SQL exactly as `listening.quarantine.digest`
does in Python (sha256 of "id:<external id>", else of "raw:<payload>"); duplicates are
merged into the oldest row, which stays unresolved if any of them was. The deferred
foreign-key checks those updates queue are run at once: pending, they block ALTER TABLE.
"""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE listening_quarantinedpost SET digest = encode(sha256(convert_to(
    CASE WHEN external_id <> '' THEN 'id:' || external_id ELSE 'raw:' || payload END,
    'UTF8')), 'hex');
UPDATE listening_quarantinedpost AS keep SET resolved_at = NULL
WHERE keep.resolved_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM listening_quarantinedpost AS dup
    WHERE dup.channel_id = keep.channel_id AND dup.source = keep.source
      AND dup.digest = keep.digest AND dup.id > keep.id AND dup.resolved_at IS NULL
);
DELETE FROM listening_quarantinedpost AS dup USING listening_quarantinedpost AS keep
WHERE dup.channel_id = keep.channel_id AND dup.source = keep.source
  AND dup.digest = keep.digest AND dup.id > keep.id;
SET CONSTRAINTS ALL IMMEDIATE;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("listening", "0002_channel_intake_gaps"),
    ]

    operations = [
        migrations.AddField(
            model_name="quarantinedpost",
            name="digest",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="quarantinedpost",
            name="replayed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="quarantinedpost",
            constraint=models.UniqueConstraint(
                fields=("channel", "source", "digest"), name="quarantine_unique_record"
            ),
        ),
        migrations.AddField(
            model_name="quarantinedpost",
            name="mention",
            field=models.ForeignKey(
                blank=True,
                help_text="The mention a successful replay stored.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="listening.mention",
            ),
        ),
    ]
