"""Teams move from QA to the desk: one notion of team for visibility, routing and QA.

The model keeps its tables (qa_team, qa_team_members, qa_team_supervisors), so only Django's
idea of where the model lives changes: no row is copied. The content type is renamed so the
permissions already granted on teams (socialdesk.change_team, formerly qa.change_team) stay
granted.
"""

from django.conf import settings
from django.db import migrations, models


def _move_content_type(apps, old: str, new: str) -> None:
    """Give the team content type (and so its permissions and their grants) to `new`. One
    that `new` already has, made after an earlier migrate, holds no grants of its own: it
    gives way."""
    content_types = apps.get_model("contenttypes", "ContentType")
    if content_types.objects.filter(app_label=old, model="team").exists():
        content_types.objects.filter(app_label=new, model="team").delete()
        content_types.objects.filter(app_label=old, model="team").update(app_label=new)


def rename_content_type(apps, schema_editor):
    _move_content_type(apps, "qa", "socialdesk")


def restore_content_type(apps, schema_editor):
    _move_content_type(apps, "socialdesk", "qa")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("qa", "0005_criterion_answer"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Team",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "members",
                            models.ManyToManyField(
                                blank=True, related_name="teams", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "supervisors",
                            models.ManyToManyField(
                                blank=True,
                                related_name="supervised_teams",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"ordering": ["name"], "db_table": "qa_team"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
