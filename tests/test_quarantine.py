"""The quarantine: one row per record, replayed from the admin, and merged by its migration."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from cases.models import Case
from listening.ingest import ingest
from listening.models import Mention, QuarantinedPost, record_digest
from listening.posts import Quarantined
from tests.conftest import calls_to, logged_in
from tests.test_import import GRAPH, GRAPH_ROOT, PAGE, feed_without_from

CHANGELIST = "admin:listening_quarantinedpost_changelist"


@pytest.fixture
def page(facebook_channel, settings):
    settings.FACEBOOK_GRAPH_URL = GRAPH
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    facebook_channel.external_account_id = PAGE
    facebook_channel.save(update_fields=["external_account_id"])
    return facebook_channel


def test_a_record_met_again_adds_no_row(x_channel):
    bad = [Quarantined("missing created_at", {"id": "9", "text": "hi"}, "9")]
    raw = [Quarantined("invalid JSON", "{oops"), Quarantined("invalid JSON", "{oops")]

    first = ingest(x_channel, [], None, bad + raw)
    again = ingest(x_channel, [], None, [Quarantined("another reason", {"id": "9"}, "9"), *raw])

    assert (first.quarantined, again.quarantined) == (2, 0)
    assert QuarantinedPost.objects.count() == 2
    # A poll and an import are told apart: the same record from each is two rows.
    assert ingest(x_channel, [], None, raw, source="import").quarantined == 1


def test_admin_replays_selected_rows_after_the_network_answers(page, admin, rsps, tmp_path):
    feed, authors = feed_without_from()
    authors["2000_7710001"] = {"name": "Lena Vogel", "id": "10230000001"}
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps(feed) + "\n")
    call_command("import_posts", str(path), "--no-progress", channel=page.pk, stdout=StringIO())
    held = QuarantinedPost.objects.filter(reason__startswith="author unknown")
    assert held.count() == 3 and Mention.objects.count() == 0  # Graph was unreachable
    # The reason names the failure without quoting the request (its URL carries the token).
    assert set(held.values_list("reason", flat=True)) == {
        "author unknown: Graph look-up failed (the network could not be reached)"
    }

    rsps.get(GRAPH_ROOT, json={i: {"id": i, "from": a} for i, a in authors.items()})
    client = logged_in(admin)
    selected = list(QuarantinedPost.objects.values_list("pk", flat=True))
    answer = client.post(
        reverse(CHANGELIST), {"action": "replay", "_selected_action": selected}, follow=True
    )

    assert answer.status_code == 200
    message = " ".join(str(m) for m in answer.context["messages"])
    assert "4 open post(s) replayed: 3 stored (2 new mentions), 1 still quarantined" in message
    assert set(Mention.objects.values_list("external_id", flat=True)) == {
        "2000_7710003",
        "2000_7710001",
    }
    assert Case.objects.count() == 2  # none for the page's own post
    own = QuarantinedPost.objects.get(external_id="2000_7710002")
    assert own.replayed_at is not None and own.mention is None
    visitor = QuarantinedPost.objects.get(external_id="2000_7710003")
    assert visitor.mention.external_id == "2000_7710003"
    photo = QuarantinedPost.objects.get(external_id="2000_7710000")
    assert photo.replayed_at is None and photo.reason == "missing message"
    assert page.__class__.objects.get(pk=page.pk).api_reads == 4

    client.post(reverse(CHANGELIST), {"action": "replay", "_selected_action": selected})
    assert Mention.objects.count() == 2
    # The import's attempt, the replay, and a second replay asking only for the open row.
    lookups = calls_to(rsps, GRAPH_ROOT)
    assert len(lookups) == 3 and "ids=2000_7710000&" in lookups[2].request.url + "&"


def test_replay_dry_run_changes_nothing(page, rsps, tmp_path):
    feed, _ = feed_without_from()
    path = tmp_path / "feed.jsonl"
    path.write_text(json.dumps(feed) + "\n")
    call_command("import_posts", str(path), "--no-progress", channel=page.pk, stdout=StringIO())
    rows = list(QuarantinedPost.objects.values_list("pk", "reason", "replayed_at"))
    calls = len(rsps.calls)  # the import's look-up, refused
    out = StringIO()

    call_command("replay_quarantine", "--dry-run", stdout=out)

    assert "Dry run: 4 open rows would be replayed" in out.getvalue()
    assert "1 requests and at most 4 reads" in out.getvalue()
    assert list(QuarantinedPost.objects.values_list("pk", "reason", "replayed_at")) == rows
    assert len(rsps.calls) == calls


@pytest.mark.django_db(transaction=True)
def test_migration_merges_duplicate_rows_keeping_them_open():
    executor = MigrationExecutor(connection)
    before = [("listening", "0001_initial")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    channel = old.get_model("listening", "Channel").objects.create(
        name="Brand", network="x", handle="brand", external_account_id="77"
    )
    rows = old.get_model("listening", "QuarantinedPost").objects
    for resolved in (True, False, True):
        rows.create(channel=channel, reason="bad", payload="{oops", resolved_at=_now(resolved))
    rows.create(channel=channel, reason="x", payload='{"id": "5", "a": 1}', external_id="5")
    rows.create(channel=channel, reason="x", payload='{"id": "5", "a": 2}', external_id="5")
    rows.create(channel=channel, reason="x", payload="{oops", source="import")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    kept = QuarantinedPost.objects.order_by("pk")
    assert [(r.source, r.external_id, r.resolved_at is None) for r in kept] == [
        ("poll", "", True),  # one of the three was still open
        ("poll", "5", True),
        ("import", "", True),
    ]
    assert all(r.digest == record_digest(r.external_id, r.payload) for r in kept)


def _now(resolved: bool):
    from django.utils import timezone

    return timezone.now() if resolved else None
