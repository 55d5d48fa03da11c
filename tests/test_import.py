"""`manage.py import_posts`: raw API responses through the connectors' normalisation and ingest."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from listening.models import Mention, QuarantinedPost

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def run_import(path: Path, channel) -> str:
    out, err = StringIO(), StringIO()
    call_command("import_posts", str(path), channel=channel.pk, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_json_lines_of_x_responses_are_imported_and_bad_lines_quarantined(x_channel, tmp_path):
    x_channel.external_account_id = "1000"  # the brand in the payloads: its own tweets are skipped
    x_channel.save(update_fields=["external_account_id"])
    page1, page2 = load("x_mentions_page1.json"), load("x_mentions_page2.json")
    expected = {t["id"] for t in page1["data"] + page2["data"] if t["author_id"] != "1000"}
    lines = [json.dumps(page1), "{not json", "", json.dumps(page2), json.dumps(["a list"])]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n")

    output = run_import(path, x_channel)

    stored = set(Mention.objects.filter(channel=x_channel).values_list("external_id", flat=True))
    assert stored == expected
    reasons = sorted(QuarantinedPost.objects.values_list("reason", flat=True))
    assert reasons == [
        "line 2: invalid JSON (Expecting property name enclosed in double quotes)",
        "record 5: not a JSON object",
    ]
    assert QuarantinedPost.objects.filter(source="import").count() == 2
    assert f"{len(expected)} new mentions" in output
    assert "2 quarantined" in output
    assert "Importing into" in output  # the progress bar
    x_channel.refresh_from_db()
    assert x_channel.cursor == {}, "an import never moves the poll cursor"


def test_importing_the_same_file_twice_stores_nothing_twice(x_channel, tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([load("x_mentions_page1.json")]))  # a JSON array of responses

    run_import(path, x_channel)
    count = Mention.objects.count()
    output = run_import(path, x_channel)

    assert count > 0
    assert Mention.objects.count() == count
    assert f"0 new mentions, {count} already stored" in output


def test_graph_feed_responses_are_imported(facebook_channel, tmp_path):
    facebook_channel.external_account_id = "2000"
    facebook_channel.save(update_fields=["external_account_id"])
    feed = load("fb_feed.json")
    visitors = [p for p in feed["data"] if p.get("from", {}).get("id") != "2000"]
    with_text = [p for p in visitors if p.get("message")]
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(feed) + "\n")

    run_import(path, facebook_channel)

    assert Mention.objects.filter(channel=facebook_channel).count() == len(with_text)
    # A photo without a caption has no text to triage: kept in the quarantine, not dropped.
    assert QuarantinedPost.objects.count() == len(visitors) - len(with_text) > 0


def test_missing_channel_or_file_is_a_clear_error(x_channel, tmp_path):
    with pytest.raises(CommandError, match="No channel with id 999"):
        call_command("import_posts", str(tmp_path / "x.json"), channel=999)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_posts", str(tmp_path / "missing.json"), channel=x_channel.pk)
