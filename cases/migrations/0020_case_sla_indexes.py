"""The indexes of the inbox's "SLA due soonest" and of the SLA beat (sla/clocks.py).

Built CONCURRENTLY (the migration is not atomic), so a live desk keeps working meanwhile.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("cases", "0019_case_sla_clocks_and_customer_flags"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="case",
            index=models.Index(
                condition=models.Q(
                    ("sla_due_at__isnull", False), ("status__in", ["new", "open", "pending"])
                ),
                fields=["sla_due_at", "id"],
                name="case_sla_due",
            ),
        ),
        AddIndexConcurrently(
            model_name="case",
            index=models.Index(
                condition=models.Q(("sla_state", "ok")),
                fields=["sla_warn_at"],
                name="case_sla_warn",
            ),
        ),
    ]
