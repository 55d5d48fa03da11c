"""Scrub channel errors stored before errors were scrubbed (they could quote the Page token)."""

from django.db import migrations

from socialdesk.scrub import scrub

SUSPECT = r"(token|secret|passw|proof|signature|key|code)=|authorization|bearer|basic |://[^ /]*:[^ /]*@"


def scrub_channel_errors(apps, schema_editor):
    Channel = apps.get_model("listening", "Channel")
    rows = list(Channel.objects.filter(last_error__iregex=SUSPECT).only("pk", "last_error"))
    for row in rows:
        row.last_error = scrub(row.last_error)
    Channel.objects.bulk_update(rows, ["last_error"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("listening", "0003_quarantine_unique_replay")]

    operations = [migrations.RunPython(scrub_channel_errors, migrations.RunPython.noop)]
