"""Fewer indexes to write per sampled reply, one more for the dashboard.

Sampling writes a Sample and a Review per pick. The plain foreign-key indexes on
qa_review.reply_id, agent_id and reviewer_id and on qa_sample.agent_id go: a composite index
already leads with each column (review_once_per_reviewer, review_agent_time, review_queue,
sample_agent_time) and serves the same lookups. review_disputed is a partial index over the
few disputed reviews, which the dashboard counts.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_qa_and_dashboard_indexes"),
        ("qa", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="review",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reviews_received",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="reply",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reviews",
                to="cases.reply",
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="reviewer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reviews_given",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="sample",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="qa_samples",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="review",
            index=models.Index(
                condition=models.Q(("agent_response", "disputed")),
                fields=["agent"],
                name="review_disputed",
            ),
        ),
    ]
