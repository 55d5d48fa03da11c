"""Canned replies get labels and per-network variants; the one-network replies move into them.

A reply that was meant for one network becomes a reply with an empty default text and that
network's variant: it is offered on exactly the networks it was before.
"""

from django.db import migrations, models


def network_into_variant(apps, schema_editor):
    CannedReply = apps.get_model("cases", "CannedReply")
    CannedReplyVariant = apps.get_model("cases", "CannedReplyVariant")
    one_network = CannedReply.objects.exclude(network="")
    CannedReplyVariant.objects.bulk_create(
        CannedReplyVariant(canned=reply, network=reply.network, text=reply.text)
        for reply in one_network
    )
    one_network.update(text="")


def variant_into_network(apps, schema_editor):
    CannedReply = apps.get_model("cases", "CannedReply")
    for reply in CannedReply.objects.filter(text="").prefetch_related("variants"):
        variant = next(iter(reply.variants.all()), None)
        if variant is not None:
            reply.network, reply.text = variant.network, variant.text
            reply.save(update_fields=["network", "text"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0011_desk_public_reference_words")]

    operations = [
        migrations.AddField(
            model_name="cannedreply",
            name="labels",
            field=models.ManyToManyField(
                blank=True, related_name="canned_replies", to="cases.label"
            ),
        ),
        migrations.AlterField(
            model_name="cannedreply",
            name="text",
            field=models.TextField(
                blank=True,
                help_text="The default text, used on every network without its own variant. "
                "Leave it empty to offer this reply only on the networks that have a variant.",
            ),
        ),
        migrations.CreateModel(
            name="CannedReplyVariant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),  # fmt: skip
                (
                    "network",
                    models.CharField(
                        choices=[("x", "X"), ("facebook", "Facebook")], max_length=20
                    ),
                ),
                ("text", models.TextField()),
                (
                    "canned",
                    models.ForeignKey(
                        on_delete=models.deletion.CASCADE,
                        related_name="variants",
                        to="cases.cannedreply",
                    ),
                ),
            ],
            options={
                "ordering": ["network"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("canned", "network"), name="canned_variant_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(network_into_variant, variant_into_network),
        migrations.RemoveField(model_name="cannedreply", name="network"),
    ]
