"""How each criterion's answer was reached, and the history of a dispute's corrections.

Reviews submitted before this migration arrived with the pre-scores selected: an answer with a
pre-score is marked "prefilled" (whether the reviewer looked cannot be told), which keeps it out
of the checks' correction rates; answers without one were the reviewer's own.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('qa', '0004_recount_mention_volume'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='review',
            options={'ordering': ['-created_at'], 'permissions': [('review_replies', 'Can score replies (QA specialist)'), ('view_team_reviews', 'Can see the reviews and dashboards of their teams'), ('view_team_dashboard', 'Can see the quality dashboard of their teams'), ('view_own_reviews', 'Can see reviews of their own replies'), ('resolve_dispute', 'Can resolve disputed reviews')]},
        ),
        migrations.AddField(
            model_name='criterionscore',
            name='answer',
            field=models.CharField(blank=True, choices=[('', 'Not answered yet'), ('chosen', 'Chosen by the reviewer'), ('suggestion', 'The suggestion, accepted by the reviewer'), ('prefilled', 'Submitted pre-selected (before reviews were blind)')], default='', max_length=10),
        ),
        migrations.AddField(
            model_name='criterionscore',
            name='corrected_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='criterionscore',
            name='original_value',
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(
            """
            UPDATE qa_criterionscore cs
            SET answer = CASE WHEN cs.auto_reason <> '' THEN 'prefilled' ELSE 'chosen' END
            FROM qa_review r
            WHERE r.id = cs.review_id AND r.status = 'submitted'
            """,
            migrations.RunSQL.noop,
        ),
    ]
