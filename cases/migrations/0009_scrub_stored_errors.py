"""Scrub reply errors and failure events stored before errors were scrubbed (they could quote
the Page token)."""

from django.db import migrations

from socialdesk.scrub import scrub

SUSPECT = r"(token|secret|passw|proof|signature|key|code)=|authorization|bearer|basic |://[^ /]*:[^ /]*@"


def scrub_reply_errors(apps, schema_editor):
    Reply = apps.get_model("cases", "Reply")
    replies = list(Reply.objects.filter(error__iregex=SUSPECT).only("pk", "error"))
    for reply in replies:
        reply.error = scrub(reply.error)
    Reply.objects.bulk_update(replies, ["error"], batch_size=500)

    CaseEvent = apps.get_model("cases", "CaseEvent")
    events = list(
        CaseEvent.objects.filter(data__reason__iregex=SUSPECT).only("pk", "data").iterator()
    )
    for event in events:
        event.data = {**event.data, "reason": scrub(event.data["reason"])}
    CaseEvent.objects.bulk_update(events, ["data"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_reply_reconciling_and_submit_token")]

    operations = [migrations.RunPython(scrub_reply_errors, migrations.RunPython.noop)]
