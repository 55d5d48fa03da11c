"""import_posts against the simulator: responses saved from a plain request (default fields),
completed through the look-ups the real networks answer (X GET /2/tweets?ids=, Graph
GET /?ids=), with the real tweepy and facebook-sdk code and the simulator's own counts."""

import json
from io import StringIO

import pytest
import requests
from django.core.management import call_command

from cases.models import Case, Identity
from listening.models import Mention, QuarantinedPost
from tests.conftest import make_channel

pytestmark = pytest.mark.django_db

X_TOKEN = {"Authorization": "Bearer import-token"}


def import_file(path, channel) -> str:
    out = StringIO()
    call_command("import_posts", str(path), "--no-progress", channel=channel.pk, stdout=out)
    return out.getvalue()


def saved_mentions(url: str) -> list[dict]:
    """Every page of the brand's mentions, asked for without fields or expansions."""
    pages, token = [], None
    while True:
        params = {"max_results": 100, **({"pagination_token": token} if token else {})}
        page = requests.get(
            f"{url}/2/users/1000/mentions", params=params, headers=X_TOKEN, timeout=10
        ).json()
        pages.append(page)
        token = page.get("meta", {}).get("next_token")
        if not token:
            return pages


def test_x_default_fields_backfill_is_completed_through_tweet_lookup(simulator, settings, tmp_path):
    settings.X_API_BASE_URL = simulator.url
    channel = make_channel(
        "x", external_account_id="1000", credentials={"bearer_token": "import-token"}
    )
    published = simulator.publish("x", 130, account_id="1000", kind="mention")
    pages = saved_mentions(simulator.url)
    saved = [t for page in pages for t in page["data"]]
    assert {key for t in saved for key in t} == {"id", "text", "edit_history_tweet_ids"}
    path = tmp_path / "mentions.jsonl"
    path.write_text("\n".join(json.dumps(page) for page in pages) + "\n")

    output = import_file(path, channel)

    stored = Mention.objects.filter(channel=channel).select_related("author")
    assert set(published) <= {m.external_id for m in stored}
    assert len(stored) == len(saved)
    assert all(m.author.handle and m.author.external_id != "1000" for m in stored)
    assert not QuarantinedPost.objects.exists()
    lookups = simulator.stats()["requests"]["x:GET tweets_lookup"]
    assert lookups == 2  # 100 ids a request
    channel.refresh_from_db()
    assert channel.api_reads == len(saved)
    assert f"Looked up {len(saved)} posts: 2 requests, {len(saved)} reads" in output


def test_facebook_feed_saved_without_from_skips_the_pages_posts(simulator, settings, tmp_path):
    settings.FACEBOOK_GRAPH_URL = simulator.url
    channel = make_channel(
        "facebook", external_account_id="2000", credentials={"page_access_token": "page-token"}
    )
    simulator.publish("facebook", 40, account_id="2000", kind="visitor_post")
    feed = requests.get(
        f"{simulator.url}/v23.0/2000/feed",
        params={"access_token": "page-token", "fields": "id,message,created_time", "limit": 100},
        timeout=10,
    ).json()
    assert not any("from" in post for post in feed["data"])
    asked = requests.get(
        f"{simulator.url}/v23.0/",
        params={
            "access_token": "page-token",
            "ids": ",".join(p["id"] for p in feed["data"]),
            "fields": "id,from",
        },
        timeout=10,
    ).json()
    page_posts = {i for i, p in asked.items() if p.get("from", {}).get("id") == "2000"}
    hidden = {i for i, p in asked.items() if "from" not in p}
    assert page_posts and hidden, "the simulator has page posts and restricted profiles"
    path = tmp_path / "feed.json"
    path.write_text(json.dumps([feed]))

    before = simulator.stats()["requests"]["facebook:GET objects"]
    import_file(path, channel)

    stored = set(Mention.objects.filter(channel=channel).values_list("external_id", flat=True))
    # The page's own posts are skipped; a person who withholds their name is still a customer.
    assert stored == {p["id"] for p in feed["data"]} - page_posts
    assert not Identity.objects.filter(external_id="2000").exists()
    assert Case.objects.count() == len(stored)
    unnamed = Mention.objects.filter(channel=channel, external_id__in=hidden)
    assert {m.author.name for m in unnamed.select_related("author")} == {
        "Facebook user (name not disclosed)"
    }
    assert not QuarantinedPost.objects.exists()
    assert len(feed["data"]) <= 50
    assert simulator.stats()["requests"]["facebook:GET objects"] == before + 1  # 50 ids a request
    channel.refresh_from_db()
    assert channel.api_reads == len(feed["data"])


def test_simulator_answers_lookups_like_the_networks(simulator):
    published = simulator.publish("x", 2, account_id="1000", kind="mention")
    answer = requests.get(
        f"{simulator.url}/2/tweets",
        params={"ids": f"{published[0]},1", "expansions": "author_id"},
        headers=X_TOKEN,
        timeout=10,
    )
    body = answer.json()
    assert answer.status_code == 200
    assert [t["id"] for t in body["data"]] == [published[0]]
    assert body["includes"]["users"][0]["id"] == body["data"][0]["author_id"]
    assert [(e["resource_id"], e["title"]) for e in body["errors"]] == [("1", "Not Found Error")]
    too_many = ",".join(str(n) for n in range(1, 102))
    assert (
        requests.get(
            f"{simulator.url}/2/tweets", params={"ids": too_many}, headers=X_TOKEN, timeout=10
        ).status_code
        == 400
    )

    post_id = simulator.publish("facebook", 1, account_id="2000", kind="visitor_post")[0]
    gone = requests.get(
        f"{simulator.url}/v23.0/",
        params={"access_token": "page-token", "ids": f"{post_id},2000_1"},
        timeout=10,
    )
    assert gone.status_code == 404 and gone.json()["error"]["code"] == 803
    fifty_one = ",".join([post_id] * 51)
    assert (
        requests.get(
            f"{simulator.url}/v23.0/",
            params={"access_token": "page-token", "ids": fifty_one},
            timeout=10,
        ).status_code
        == 400
    )
