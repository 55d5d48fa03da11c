"""Teams now live in socialdesk (see socialdesk/migrations/0001): QA forgets the model and
leaves its tables, which socialdesk.Team uses as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("qa", "0005_criterion_answer"),
        ("socialdesk", "0001_team_moved_from_qa"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Team")],
            database_operations=[],
        ),
    ]
