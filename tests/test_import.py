"""`manage.py import_posts`: raw API responses through look-up, normalisation and ingest.

Saved responses follow tests/payloads (recorded X API v2 and Graph shapes); what a plain
request returns is derived from them by keeping only the default fields. Look-ups answer
through `responses` like X and Graph do (found items, `errors` for the missing ones).
"""

import json
import re
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.models import Case, Identity
from listening.models import Mention, QuarantinedPost
from listening.posts import Quarantined
from listening.quarantine import MAX_NESTING, MAX_RECORD_BYTES, payload_text
from tests.conftest import X_API, calls_to

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads"
LOOKUP = f"{X_API}/2/tweets"
GRAPH = "http://graph-sim.test:8100"
GRAPH_ROOT = f"{GRAPH}/v23.0/"
BRAND = "1000"  # the brand's X account in the payloads
PAGE = "2000"  # the brand's Facebook page in the payloads


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def run_import(path: Path, channel, *options: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("import_posts", str(path), *options, channel=channel.pk, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


# ---- X: responses saved with the default fields ---------------------------------------------


def recorded_tweets() -> tuple[dict[str, dict], dict[str, dict]]:
    """The recorded mentions (every field) and their authors, by id."""
    tweets, users = {}, {}
    for name in ("x_mentions_page1.json", "x_mentions_page2.json"):
        page = load(name)
        tweets.update((t["id"], t) for t in page["data"])
        users.update((u["id"], u) for u in page["includes"]["users"])
    return tweets, users


def default_fields(tweets: list[dict]) -> dict:
    """What GET /2/users/:id/mentions returns without tweet.fields or expansions."""
    return {
        "data": [
            {"id": t["id"], "text": t["text"], "edit_history_tweet_ids": [t["id"]]} for t in tweets
        ],
        "meta": {"result_count": len(tweets), "newest_id": tweets[0]["id"]},
    }


def x_lookup(rsps, tweets: dict[str, dict], users: dict[str, dict], gone=()) -> None:
    """GET /2/tweets?ids= as X answers it: found tweets, their authors, `errors` for the rest."""

    def answer(request):
        ids = parse_qs(urlparse(request.url).query)["ids"][0].split(",")
        found = [tweets[i] for i in ids if i in tweets and i not in gone]
        body: dict = {}
        if found:
            body["data"] = found
            authors = {t["author_id"] for t in found}
            body["includes"] = {"users": [u for k, u in users.items() if k in authors]}
        missing = [i for i in ids if i not in {t["id"] for t in found}]
        if missing:
            body["errors"] = [
                {
                    "value": i,
                    "detail": f"Could not find tweet with id: [{i}].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": i,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
                for i in missing
            ]
        return 200, {"content-type": "application/json; charset=utf-8"}, json.dumps(body)

    rsps.add_callback("GET", LOOKUP, callback=answer)


@pytest.fixture
def brand_x(x_channel, x_settings):
    x_channel.external_account_id = BRAND
    x_channel.save(update_fields=["external_account_id"])
    return x_channel


def test_default_fields_file_is_stored_with_authors_after_lookup_and_reads_counted(
    brand_x, rsps, tmp_path
):
    tweets, users = recorded_tweets()
    deleted = "1861000000000000102"
    x_lookup(rsps, tweets, users, gone={deleted})
    path = tmp_path / "mentions.jsonl"
    path.write_text(json.dumps(default_fields(list(tweets.values()))) + "\n")

    output = run_import(path, brand_x)

    customers = {i for i, t in tweets.items() if t["author_id"] != BRAND and i != deleted}
    stored = Mention.objects.filter(channel=brand_x).select_related("author")
    assert {m.external_id for m in stored} == customers
    for mention in stored:
        tweet = tweets[mention.external_id]
        assert mention.author.external_id == tweet["author_id"]
        assert mention.author.handle == users[tweet["author_id"]]["username"]
    assert not Identity.objects.filter(external_id=BRAND).exists(), "the brand's own post"
    # The deleted post is held, with the reason, not dropped and not stored.
    held = QuarantinedPost.objects.get()
    assert held.external_id == deleted and held.source == "import"
    assert held.reason == "author unknown: X did not return the post (Not Found Error)"
    (call,) = calls_to(rsps, LOOKUP)
    sent = params_of(call)
    assert set(sent["ids"].split(",")) == set(tweets)
    assert "author_id" in sent["expansions"].split(",")
    assert {"created_at", "conversation_id"} <= set(sent["tweet.fields"].split(","))
    brand_x.refresh_from_db()
    assert brand_x.api_reads == len(tweets) - 1  # X bills the posts it returns
    assert f"Looked up {len(tweets)} posts: 1 requests, {len(tweets) - 1} reads" in output

    again = run_import(path, brand_x)  # stored posts cost no second look-up
    (call,) = calls_to(rsps, LOOKUP)[1:]
    own = {i for i, t in tweets.items() if t["author_id"] == BRAND}
    assert set(params_of(call)["ids"].split(",")) == {deleted} | own  # neither is stored
    assert f"0 new mentions, {len(customers)} already stored, 0 quarantined" in again


def many_tweets(count: int) -> tuple[dict[str, dict], dict[str, dict]]:
    template = load("x_mentions_page1.json")["data"][0]
    user = load("x_mentions_page1.json")["includes"]["users"][0]
    tweets = {}
    for n in range(count):
        tweet_id = str(1862000000000000000 + n)
        tweets[tweet_id] = {**template, "id": tweet_id, "conversation_id": tweet_id}
        tweets[tweet_id].pop("referenced_tweets")
    return tweets, {user["id"]: user}


def test_lookup_asks_100_ids_a_request(brand_x, rsps, tmp_path):
    tweets, users = many_tweets(250)
    x_lookup(rsps, tweets, users)
    path = tmp_path / "mentions.json"
    items = list(tweets.values())
    path.write_text(json.dumps([default_fields(items[:150]), default_fields(items[150:])]))

    run_import(path, brand_x)

    sizes = sorted(len(params_of(c)["ids"].split(",")) for c in calls_to(rsps, LOOKUP))
    assert sum(sizes) == 250 and max(sizes) == 100
    assert Mention.objects.filter(channel=brand_x).count() == 250
    brand_x.refresh_from_db()
    assert brand_x.api_reads == 250


def test_dry_run_prints_the_cost_and_writes_nothing(brand_x, rsps, tmp_path):
    tweets, users = many_tweets(150)
    x_lookup(rsps, tweets, users)
    path = tmp_path / "mentions.jsonl"
    path.write_text(json.dumps(default_fields(list(tweets.values()))) + "\n{broken\n")

    output = run_import(path, brand_x, "--dry-run")

    assert "Would import 2 records: 0 posts ready to store, 150 to look up first, 0 already" in (
        output
    )
    assert "Look-up cost: 2 requests, at most 150 reads" in output
    assert not rsps.calls
    assert Mention.objects.count() == QuarantinedPost.objects.count() == 0
    brand_x.refresh_from_db()
    assert brand_x.api_reads == 0


def test_unreachable_lookup_holds_posts_and_replay_stores_them_once(brand_x, rsps, tmp_path):
    tweets, users = recorded_tweets()
    path = tmp_path / "mentions.jsonl"
    path.write_text(json.dumps(default_fields(list(tweets.values()))) + "\n")

    run_import(path, brand_x)  # nothing answers the look-up: X is unreachable

    assert Mention.objects.count() == Case.objects.count() == 0
    held = QuarantinedPost.objects.all()
    assert held.count() == len(tweets)
    assert {r.reason for r in held} == {
        "author unknown: X look-up failed (the network could not be reached)"
    }

    x_lookup(rsps, tweets, users)
    out = StringIO()
    call_command("replay_quarantine", reason="author unknown", stdout=out)

    customers = {i for i, t in tweets.items() if t["author_id"] != BRAND}
    assert set(Mention.objects.values_list("external_id", flat=True)) == customers
    for row in QuarantinedPost.objects.select_related("mention"):
        assert row.replayed_at is not None and row.resolved_at == row.replayed_at
        own = tweets[row.external_id]["author_id"] == BRAND
        assert (row.mention is None) if own else (row.mention.external_id == row.external_id)
    assert f"Replayed {len(tweets)} rows: {len(tweets)} stored ({len(customers)} new" in (
        out.getvalue()
    )

    count = Mention.objects.count()
    out = StringIO()
    call_command("replay_quarantine", stdout=out)
    call_command("replay_quarantine", id=[QuarantinedPost.objects.first().pk], stdout=out)
    assert Mention.objects.count() == count
    assert "Replayed 0 rows" in out.getvalue()


def test_the_same_file_twice_adds_no_quarantine_rows(brand_x, rsps, tmp_path):
    tweets, _ = recorded_tweets()
    lines = [json.dumps(default_fields(list(tweets.values()))), "{not json", '["a list"]']
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n")

    run_import(path, brand_x)
    rows = sorted(QuarantinedPost.objects.values_list("pk", "reason"))
    output = run_import(path, brand_x)

    assert len(rows) == len(tweets) + 2
    assert sorted(QuarantinedPost.objects.values_list("pk", "reason")) == rows
    assert "0 quarantined" in output
    assert f"{len(tweets) + 2} rejected records were already in the quarantine" in output


def test_json_lines_of_x_responses_are_imported_and_bad_lines_quarantined(brand_x, tmp_path):
    page1, page2 = load("x_mentions_page1.json"), load("x_mentions_page2.json")
    expected = {t["id"] for t in page1["data"] + page2["data"] if t["author_id"] != BRAND}
    lines = [json.dumps(page1), "{not json", "", json.dumps(page2), json.dumps(["a list"])]
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n")

    output = run_import(path, brand_x)

    stored = set(Mention.objects.filter(channel=brand_x).values_list("external_id", flat=True))
    assert stored == expected
    reasons = sorted(QuarantinedPost.objects.values_list("reason", flat=True))
    assert reasons == [
        "line 2: invalid JSON (Expecting property name enclosed in double quotes)",
        "line 5: not a JSON object",
    ]
    assert QuarantinedPost.objects.filter(source="import").count() == 2
    assert f"{len(expected)} new mentions" in output
    assert "2 quarantined" in output
    assert "Importing into" in output  # the progress bar
    brand_x.refresh_from_db()
    assert brand_x.cursor == {}, "an import never moves the poll cursor"
    assert brand_x.api_reads == 0, "complete records need no look-up"


def test_importing_the_same_file_twice_stores_nothing_twice(brand_x, tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([load("x_mentions_page1.json")]))  # a JSON array of responses

    run_import(path, brand_x)
    count = Mention.objects.count()
    output = run_import(path, brand_x)

    assert count > 0
    assert Mention.objects.count() == count
    assert f"0 new mentions, {count} already stored" in output


# ---- hostile records ----------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"data": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_deep_or_oversized_records_are_quarantined_and_the_import_goes_on(
    brand_x, tmp_path, layout
):
    page1, page2 = load("x_mentions_page1.json"), load("x_mentions_page2.json")
    huge = json.dumps({"data": [], "padding": "x" * (MAX_RECORD_BYTES + 10)})
    records = [
        json.dumps(page1),
        nested(100_000),  # past the interpreter's recursion limit
        nested(MAX_NESTING + 1),  # parses, but deeper than any real response
        huge,
        json.dumps(page2),
    ]
    path = tmp_path / "x.data"
    if layout == "lines":
        path.write_text("\n".join(records) + "\n")
    else:
        path.write_text("[" + ",\n".join(records) + "]")

    run_import(path, brand_x)

    expected = {t["id"] for t in page1["data"] + page2["data"] if t["author_id"] != BRAND}
    assert set(Mention.objects.values_list("external_id", flat=True)) == expected
    where = "line" if layout == "lines" else "record"
    rows = {r.reason.split(":")[0]: r for r in QuarantinedPost.objects.all()}
    assert set(rows) == {f"{where} 2", f"{where} 3", f"{where} 4"}
    deep = f"record nested too deeply (more than {MAX_NESTING} levels)"
    assert rows[f"{where} 2"].reason == f"{where} 2: {deep}"
    assert rows[f"{where} 3"].reason == f"{where} 3: {deep}"
    assert rows[f"{where} 2"].payload == nested(100_000)  # kept as it came
    assert rows[f"{where} 4"].reason.startswith(f"{where} 4: record too large (")
    assert len(rows[f"{where} 4"].payload) == 64 * 1024


def test_a_lines_file_opening_with_an_array_or_null_loses_nothing(brand_x, tmp_path):
    page = load("x_mentions_page1.json")
    path = tmp_path / "x.jsonl"
    path.write_text('["a list"]\n' + json.dumps(page) + "\nnull\n")

    run_import(path, brand_x)

    expected = {t["id"] for t in page["data"] if t["author_id"] != BRAND}
    assert set(Mention.objects.values_list("external_id", flat=True)) == expected
    assert sorted(QuarantinedPost.objects.values_list("reason", flat=True)) == [
        "line 1: not a JSON object",
        "line 3: not a JSON object",
    ]


def test_non_utf8_nul_and_surrogates_stay_storable(brand_x, tmp_path):
    page = load("x_mentions_page1.json")
    page["data"][0]["text"] = "nul \u0000 and a lone \ud800 surrogate"
    path = tmp_path / "x.jsonl"
    body = json.dumps(page).encode() + b"\n" + b'{"data": "\xff\xfe broken"}\n'
    path.write_bytes(body)

    run_import(path, brand_x)

    text = Mention.objects.get(external_id=page["data"][0]["id"]).text
    assert "\x00" not in text and "surrogate" in text
    assert QuarantinedPost.objects.get().reason == "X API v2 data is not a list"


# ---- Facebook: feed saved without `from` -----------------------------------------------------


@pytest.fixture
def brand_page(facebook_channel, settings):
    settings.FACEBOOK_GRAPH_URL = GRAPH
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    facebook_channel.external_account_id = PAGE
    facebook_channel.save(update_fields=["external_account_id"])
    return facebook_channel


def feed_without_from() -> tuple[dict, dict]:
    """/feed as Graph returns it when `from` was not asked for, and the authors it hid."""
    feed = load("fb_feed.json")
    authors = {p["id"]: p.pop("from") for p in feed["data"] if "from" in p}
    return feed, authors


def test_pages_own_post_without_from_is_looked_up_and_opens_no_case(brand_page, rsps, tmp_path):
    feed, authors = feed_without_from()
    authors["2000_7710001"] = {"name": "Lena Vogel", "id": "10230000001"}
    rsps.get(
        GRAPH_ROOT,
        json={
            i: {"id": i, "from": author, "created_time": "2026-11-23T08:45:00+0000"}
            for i, author in authors.items()
        },
    )
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(feed) + "\n")

    run_import(path, brand_page)

    stored = {m.external_id: m for m in Mention.objects.select_related("author")}
    assert set(stored) == {"2000_7710003", "2000_7710001"}
    assert stored["2000_7710001"].author.name == "Lena Vogel"
    assert not Identity.objects.filter(external_id=PAGE).exists()
    assert Case.objects.count() == 2  # none for the page's own announcement (2000_7710002)
    (call,) = calls_to(rsps, GRAPH_ROOT)
    sent = params_of(call)
    assert set(sent["ids"].split(",")) == {p["id"] for p in feed["data"]}
    assert "from" in sent["fields"].split(",")
    brand_page.refresh_from_db()
    assert brand_page.api_reads == len(feed["data"])
    # The photo without a caption has no text to triage: kept, with the reason.
    assert list(QuarantinedPost.objects.values_list("reason", flat=True)) == ["missing message"]


def test_author_graph_does_not_disclose_is_held_never_guessed(brand_page, rsps, tmp_path):
    feed, _ = feed_without_from()
    # Without pages_read_user_content Graph answers the look-up without `from` too.
    rsps.get(GRAPH_ROOT, json={p["id"]: {"id": p["id"]} for p in feed["data"]})
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(feed) + "\n")

    run_import(path, brand_page)

    assert Mention.objects.count() == Case.objects.count() == 0
    held = dict(QuarantinedPost.objects.values_list("external_id", "reason"))
    assert "pages_read_user_content" in held["2000_7710002"]
    assert "pages_read_user_content" in held["2000_7710003"]


def test_one_deleted_post_fails_the_batch_then_each_is_asked_alone(brand_page, rsps, tmp_path):
    feed, authors = feed_without_from()
    authors["2000_7710001"] = {"name": "Lena Vogel", "id": "10230000001"}
    error = {
        "message": "(#803) Some of the aliases you requested do not exist: 2000_7710003",
        "type": "OAuthException",
        "code": 803,
        "fbtrace_id": "A1",
    }
    rsps.get(GRAPH_ROOT, status=404, json={"error": error})
    for object_id, author in authors.items():
        url = f"{GRAPH}/v23.0/{object_id}"
        if object_id == "2000_7710003":
            rsps.get(url, status=404, json={"error": error})
        else:
            rsps.get(url, json={"id": object_id, "from": author})
    path = tmp_path / "fb.jsonl"
    path.write_text(json.dumps(feed) + "\n")

    run_import(path, brand_page)

    # 7710002 is the page's own; 7710003 is gone; 7710001 is a visitor's.
    assert list(Mention.objects.values_list("external_id", flat=True)) == ["2000_7710001"]
    held = dict(QuarantinedPost.objects.values_list("external_id", "reason"))
    assert held["2000_7710003"] == "author unknown: Graph did not return the item"
    assert len(calls_to(rsps, GRAPH_ROOT)) == 1


# ---- any record at all ------------------------------------------------------------------

SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
tweets = st.fixed_dictionaries(
    {"id": st.text(alphabet="0123456789ab_", min_size=1, max_size=20) | st.integers()},
    optional={
        "text": st.text(max_size=40) | values,
        "author_id": st.sampled_from(["42", BRAND, "", "bad id"]) | values,
        "created_at": st.sampled_from(["2026-11-23T10:15:00.000Z", "yesterday"]) | values,
        "conversation_id": values,
        "public_metrics": values,
    },
)
responses_ = st.fixed_dictionaries(
    {"data": st.lists(tweets | values, max_size=4)},
    optional={"includes": values, "meta": values, "errors": values},
)
records = st.lists(responses_ | values, min_size=1, max_size=5)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=records)
def test_any_record_is_stored_skipped_as_the_brands_or_quarantined(
    brand_x, rsps, tmp_path, records
):
    path = tmp_path / "fuzz.jsonl"
    # JSON lines, opened by an empty page (a file that is one array is read as its elements).
    lines = [json.dumps({"meta": {"result_count": 0}})] + [json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")

    call_command("import_posts", str(path), "--no-progress", channel=brand_x.pk, stdout=StringIO())

    stored = set(Mention.objects.filter(channel=brand_x).values_list("external_id", flat=True))
    held = set(QuarantinedPost.objects.values_list("external_id", flat=True))
    payloads = set(QuarantinedPost.objects.values_list("payload", flat=True))
    for record in records:
        if not isinstance(record, dict):
            assert payload_text(Quarantined("", record)) in payloads
            continue
        for item in record["data"] if isinstance(record.get("data"), list) else []:
            if not isinstance(item, dict) or not SAFE_ID.match(str(item.get("id", "-!"))):
                continue
            item_id = str(item["id"])
            own = str(item.get("author_id")) == BRAND
            assert item_id in stored or item_id in held or own, item


def test_missing_channel_or_file_is_a_clear_error(x_channel, tmp_path):
    with pytest.raises(CommandError, match="No channel with id 999"):
        call_command("import_posts", str(tmp_path / "x.json"), channel=999)
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_posts", str(tmp_path / "missing.json"), channel=x_channel.pk)
