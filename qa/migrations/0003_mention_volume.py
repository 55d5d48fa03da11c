"""Mention counts per channel and quarter hour for the dashboard (qa.volume), and the partial
index through which readers find the few counted mentions deleted since.

mention_deleted holds only mentions with deleted_at set: ingest inserts none, so it costs ingest
nothing. It is plain SQL, outside the model state (listening.Mention does not declare it), like
the trigram index of cases migration 0005, and built CONCURRENTLY: the migration is not atomic.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('listening', '0001_initial'),
        ('qa', '0002_review_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='MentionVolumeMark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_mention_id', models.BigIntegerField()),
                ('last_received_at', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='MentionVolume',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quarter', models.DateTimeField(help_text='Start of the quarter hour.')),
                ('negative', models.PositiveIntegerField(default=0)),
                ('neutral', models.PositiveIntegerField(default=0)),
                ('positive', models.PositiveIntegerField(default=0)),
                ('channel', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='listening.channel')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('quarter', 'channel'), name='mention_volume_once')],
            },
        ),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS mention_deleted ON listening_mention "
            "(posted_at) WHERE deleted_at IS NOT NULL",
            "DROP INDEX CONCURRENTLY IF EXISTS mention_deleted",
        ),
    ]
