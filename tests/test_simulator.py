"""The simulator, driven over HTTP with requests and the real tweepy and facebook-sdk clients."""

import http.client
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import facebook
import pytest
import requests
import tweepy

from listening.simulator.x_text import weighted_length
from tests.simulator import SimulatorClient, running_simulator

X_FIELDS = {
    "expansions": ["author_id", "referenced_tweets.id", "in_reply_to_user_id"],
    "tweet_fields": [
        "author_id",
        "conversation_id",
        "created_at",
        "in_reply_to_user_id",
        "lang",
        "public_metrics",
        "referenced_tweets",
        "entities",
    ],
    "user_fields": ["id", "name", "username", "verified", "public_metrics", "profile_image_url"],
}
X_PARAMS = {
    "expansions": "author_id,referenced_tweets.id,in_reply_to_user_id",
    "tweet.fields": "author_id,conversation_id,created_at,in_reply_to_user_id,lang,"
    "public_metrics,referenced_tweets,entities",
    "user.fields": "id,name,username,verified,public_metrics,profile_image_url",
}
FB_POST_FIELDS = "id,message,created_time,updated_time,from,permalink_url"
FB_COMMENT_FIELDS = "id,message,created_time,from,parent,permalink_url"
BEARER = {"Authorization": "Bearer t"}


class RebasedSession(requests.Session):
    """What the connectors do for tweepy: send api.twitter.com requests to the simulator."""

    def __init__(self, base_url: str, timeout: float = 5) -> None:
        super().__init__()
        self.base_url = base_url
        self.timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(
            method, url.replace("https://api.twitter.com", self.base_url), *args, **kwargs
        )


@pytest.fixture
def sim() -> Iterator[SimulatorClient]:
    with running_simulator(seed=7, fault_sleep=2.0) as client:
        yield client


def x_client(sim: SimulatorClient, token: str = "t", timeout: float = 5) -> tweepy.Client:
    client = tweepy.Client(bearer_token=token, wait_on_rate_limit=False)
    client.session = RebasedSession(sim.url, timeout)
    return client


@pytest.fixture
def graph(sim: SimulatorClient, monkeypatch: pytest.MonkeyPatch) -> facebook.GraphAPI:
    monkeypatch.setattr(facebook, "FACEBOOK_GRAPH_URL", sim.url + "/")
    api = facebook.GraphAPI(access_token="t", timeout=5)
    api.version = "v23.0"
    return api


def x_get(sim: SimulatorClient, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.url + path, params=params, headers=BEARER, timeout=5)


def all_mentions(client: tweepy.Client, **params: Any) -> list[tweepy.Tweet]:
    tweets = []
    for page in tweepy.Paginator(client.get_users_mentions, "1000", **X_FIELDS, **params):
        tweets.extend(page.data or [])
    return tweets


# -- paging and since_id ------------------------------------------------------------------


def test_publish_n_then_read_exactly_n_by_paging_with_tweepy(sim):
    ids = sim.publish("x", 237, kind="mention")
    client = x_client(sim)

    tweets = all_mentions(client, max_results=100)

    assert [t.id for t in tweets] == [int(i) for i in reversed(ids)]
    assert sim.stats()["reads"]["x:GET mentions"] == 3
    first = client.get_users_mentions("1000", max_results=100, **X_FIELDS)
    assert first.meta["result_count"] == 100
    assert first.meta["newest_id"] == ids[-1]
    assert first.meta["oldest_id"] == ids[-100]
    assert "next_token" in first.meta
    authors = {u.id for u in first.includes["users"]}
    assert {t.author_id for t in first.data} - authors == {int(e["value"]) for e in first.errors}


def test_ids_increase_like_snowflakes(sim):
    ids = [int(i) for i in sim.publish("x", 50, kind="mention")]
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert all(len(str(i)) == 19 for i in ids)


def test_since_id_returns_only_newer_posts(sim):
    sim.publish("x", 5, kind="mention")
    newest = x_get(sim, "/2/users/1000/mentions", max_results=5).json()["meta"]["newest_id"]
    later = sim.publish("x", 3, kind="mention")

    body = x_get(sim, "/2/users/1000/mentions", since_id=newest, max_results=100).json()

    assert [t["id"] for t in body["data"]] == list(reversed(later))
    assert body["meta"]["result_count"] == 3 and "next_token" not in body["meta"]
    empty = x_get(sim, "/2/users/1000/mentions", since_id=later[-1]).json()
    assert empty == {"meta": {"result_count": 0}}


def test_max_results_out_of_range_is_a_400_in_x_shape(sim):
    response = x_get(sim, "/2/users/1000/mentions", max_results=3)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"
    assert "max_results" in response.json()["errors"][0]["parameters"]


def test_paging_one_page_out_of_many_reads_only_that_page(sim):
    sim.publish("x", 3000, kind="mention")
    started = time.perf_counter()
    body = x_get(sim, "/2/users/1000/mentions", max_results=100, **X_PARAMS).json()
    elapsed = time.perf_counter() - started
    assert body["meta"]["result_count"] == 100
    assert sim.stats()["items_served"]["x:GET mentions"] == 100
    # Not a benchmark, only a tripwire for an accidental full scan per request.
    assert elapsed < 2


def test_facebook_feed_pages_with_facebook_sdk_get_all_connections(sim, graph):
    ids = sim.publish("facebook", 60, kind="visitor_post")

    posts = list(graph.get_all_connections("2000", "feed", fields=FB_POST_FIELDS, limit=25))

    visitor = [p["id"] for p in posts if p.get("from", {}).get("id") != "2000"]
    assert visitor == list(reversed(ids))
    assert len(posts) == 63  # plus the three page posts the simulator starts with
    assert sim.stats()["reads"]["facebook:GET feed"] == 3
    first = requests.get(
        f"{sim.url}/v23.0/2000/feed", params={"access_token": "t", "limit": 25}, timeout=5
    ).json()
    assert first["paging"]["next"].startswith(f"{sim.url}/v23.0/2000/feed?")
    assert set(first["data"][0]) == {"id", "message", "created_time"}


def test_facebook_since_filters_feed_on_updated_time(sim, graph):
    sim.publish("facebook", 3, kind="visitor_post")
    cutoff = int(sim.state.now())
    sim.advance(1.05)
    comment_id = sim.publish("facebook", 1, kind="comment")[0]

    feed = graph.get_connections("2000", "feed", fields=FB_POST_FIELDS, since=cutoff + 1)

    post_ids = [p["id"] for p in feed["data"]]
    assert len(post_ids) == 1 and post_ids[0].split("_")[1] == comment_id.split("_")[0]


def test_comments_threads_and_stream_filter(sim, graph):
    sim.publish("facebook", 30, kind="comment")
    replies = sim.publish("facebook", 10, kind="comment_reply")
    post_id = next(
        p["id"]
        for p in graph.get_connections("2000", "posts", fields="id")["data"]
        if graph.get_connections(p["id"], "comments", filter="stream", fields="id")["data"]
    )

    stream = graph.get_connections(
        post_id,
        "comments",
        filter="stream",
        order="chronological",
        fields=FB_COMMENT_FIELDS,
        limit=100,
    )["data"]
    top = graph.get_connections(post_id, "comments", fields=FB_COMMENT_FIELDS, limit=100)["data"]

    assert all("parent" not in c for c in top)
    assert {c["id"] for c in top} <= {c["id"] for c in stream}
    threaded = [c for c in stream if "parent" in c]
    assert all(c["id"] in replies for c in threaded)
    assert times_rise([c["created_time"] for c in stream])


def times_rise(values: list[str]) -> bool:
    parsed = [datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z") for v in values]
    return parsed == sorted(parsed)


def test_messenger_conversations_and_messages(sim, graph):
    sim.publish("facebook", 8, kind="message")

    conversations = graph.get_connections(
        "2000", "conversations", platform="messenger", fields="id,updated_time"
    )["data"]
    messages = graph.get_connections(
        conversations[0]["id"], "messages", fields="id,message,created_time,from,to"
    )["data"]

    assert conversations and all(c["id"].startswith("t_") for c in conversations)
    assert messages[0]["to"]["data"][0]["id"] == "2000"
    assert messages[0]["from"]["email"].endswith("@facebook.com")


def test_tagged_posts(sim, graph):
    ids = sim.publish("facebook", 4, kind="tagged")
    tagged = graph.get_connections("2000", "tagged", fields=FB_POST_FIELDS)["data"]
    assert [t["id"] for t in tagged] == list(reversed(ids))
    assert all("@Acme" in t["message"] for t in tagged)


def test_graph_rejects_the_facebook_sdk_default_version(sim, monkeypatch):
    monkeypatch.setattr(facebook, "FACEBOOK_GRAPH_URL", sim.url + "/")
    stale = facebook.GraphAPI(access_token="t", timeout=5)  # v2.8
    with pytest.raises(facebook.GraphAPIError) as excinfo:
        stale.get_connections("2000", "feed")
    assert excinfo.value.code == 2635


# -- search -----------------------------------------------------------------------------------


def test_recent_search_matches_the_query(sim):
    sim.publish("x", 400, kind="search")
    client = x_client(sim)

    found = client.search_recent_tweets(
        "acme (refund OR broken) -is:retweet", max_results=100, **X_FIELDS
    )

    assert found.data
    for tweet in found.data:
        words = tweet.text.lower()
        assert "acme" in words and ("refund" in words or "broken" in words)
    bad = x_get(sim, "/2/tweets/search/recent", query="(refund")
    assert bad.status_code == 400


def test_recent_search_for_the_handle_finds_what_the_mentions_timeline_lists(sim):
    published = sim.publish("x", 400)  # every kind: mentions, threads, quotes, DMs, search
    client = x_client(sim)
    # The @ operator matches a mention entity: a longer username that starts the same does not.
    with sim.state.lock:
        customer = sim.state.customers[0].x_id
        other = sim.state.x.add_tweet(customer, "@acme_supportfan hello", "en", sim.state.rng)

    listed = {str(t.id) for t in all_mentions(client, max_results=100)}
    found = set()
    for page in tweepy.Paginator(
        client.search_recent_tweets, "@acme_support", max_results=100, **X_FIELDS
    ):
        found.update(str(t.id) for t in page.data or [])

    assert listed and found == listed
    assert str(other.id) not in found
    assert found < set(published)


def test_publish_tells_what_each_post_turned_out_to_be(sim):
    answer = requests.post(
        f"{sim.url}/_sim/publish", json={"network": "x", "count": 200}, timeout=5
    ).json()
    kinds = dict(zip(answer["ids"], answer["kinds"], strict=True))
    assert set(kinds.values()) == {"mention", "dm", "search"}
    for post_id, kind in kinds.items():
        assert (int(post_id) in sim.state.x.dm_events) == (kind == "dm")
    comment = sim.publish("facebook", 1, kind="comment")
    facebook_answer = requests.post(
        f"{sim.url}/_sim/publish",
        json={"network": "facebook", "count": 1, "kind": "message"},
        timeout=5,
    ).json()
    assert facebook_answer["kinds"] == ["message"]
    assert sim.state.kind_of("facebook", comment[0]) == "comment"
    (visitor,) = sim.publish("facebook", 1, kind="visitor_post")
    assert sim.state.kind_of("facebook", visitor) == "visitor"


def test_mentions_timeline_serves_its_800_most_recent_only(sim):
    ids = sim.publish("x", 950, kind="mention")
    client = x_client(sim)

    tweets = all_mentions(client, max_results=100)

    assert [str(t.id) for t in tweets] == list(reversed(ids[-800:]))
    older = x_get(sim, "/2/users/1000/mentions", until_id=ids[-800], max_results=100).json()
    assert older == {"meta": {"result_count": 0}}


def test_until_id_and_since_id_bound_a_timeline_and_recent_search(sim):
    ids = sim.publish("x", 30, kind="mention")
    window = x_get(
        sim, "/2/users/1000/mentions", since_id=ids[4], until_id=ids[10], max_results=100
    ).json()
    assert [t["id"] for t in window["data"]] == list(reversed(ids[5:10]))

    found = sim.publish("x", 30, kind="search")
    body = x_get(
        sim,
        "/2/tweets/search/recent",
        query="acme",
        since_id=found[0],
        until_id=found[-1],
        max_results=100,
    ).json()
    assert {t["id"] for t in body["data"]} <= set(found[1:-1])
    assert found[-1] not in {t["id"] for t in body["data"]}


def test_recent_search_refuses_what_left_its_7_day_window(sim):
    old = sim.publish("x", 3, kind="search")
    sim.advance(8 * 86_400)
    recent = sim.publish("x", 12, kind="search")

    too_old = x_get(sim, "/2/tweets/search/recent", query="acme", since_id=old[-1])
    assert too_old.status_code == 400
    assert "since_id" in too_old.json()["errors"][0]["parameters"]
    start = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    early = x_get(sim, "/2/tweets/search/recent", query="acme", start_time=start)
    assert early.status_code == 400 and "start_time" in early.json()["errors"][0]["parameters"]

    body = x_get(sim, "/2/tweets/search/recent", query="acme", max_results=100).json()
    served = {t["id"] for t in body.get("data", [])}
    assert not served & set(old) and served <= set(recent)


def test_fault_skip_lets_matching_requests_through_first(sim):
    sim.fault("x", "503", path_contains="/mentions", skip=2)
    statuses = [x_get(sim, "/2/users/1000/mentions").status_code for _ in range(4)]
    assert statuses == [200, 200, 503, 200]


def test_graph_caps_limit_and_pages_a_busy_posts_comments_to_the_newest(sim, graph):
    sim.publish("facebook", 400, kind="comment")
    post_id, comments = max(sim.state.fb.comments_by_post.items(), key=lambda kv: len(kv[1]))
    assert len(comments) > 100
    first = graph.get_connections(post_id, "comments", filter="stream", limit=500)
    assert len(first["data"]) == 100 and "next" in first["paging"]

    read = []
    after = None
    while True:
        args = {"filter": "stream", "order": "chronological", "limit": 100}
        if after:
            args["after"] = after
        page = graph.get_connections(post_id, "comments", **args)
        read += [c["id"] for c in page["data"]]
        if "next" not in page.get("paging", {}):
            break
        after = page["paging"]["cursors"]["after"]
    assert read == comments


# -- replies ----------------------------------------------------------------------------------


def test_x_reply_is_recorded_once_and_appears_in_the_brand_timeline(sim):
    target = sim.publish("x", 1, kind="mention")[0]
    client = x_client(sim)
    before = datetime.now(UTC) - timedelta(seconds=5)

    sent = client.create_tweet(
        text="Sorry to hear that & <thanks> for telling us. DM us?",
        in_reply_to_tweet_id=target,
        user_auth=False,
    )

    replies = sim.replies("x")
    assert len(replies) == 1
    assert replies[0]["id"] == sent.data["id"] and replies[0]["in_reply_to"] == target
    assert sent.data["text"] == "Sorry to hear that &amp; &lt;thanks&gt; for telling us. DM us?"
    timeline = client.get_users_tweets(
        "1000", start_time=before, tweet_fields=["referenced_tweets", "conversation_id"]
    )
    assert [t.id for t in timeline.data] == [int(sent.data["id"])]
    assert timeline.data[0].referenced_tweets[0].id == int(target)
    missing = x_get(sim, "/2/users/1000/tweets", start_time=iso_in(60))
    assert missing.json() == {"meta": {"result_count": 0}}


def iso_in(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_x_dm_is_recorded_and_listed_in_the_conversation(sim):
    event_id = sim.publish("x", 1, kind="dm")[0]
    events = x_client(sim).get_direct_message_events(
        dm_event_fields=[
            "id",
            "text",
            "event_type",
            "created_at",
            "sender_id",
            "dm_conversation_id",
        ],
        event_types="MessageCreate",
        expansions="sender_id",
        user_auth=False,
    )
    customer = str(events.data[0].sender_id)
    assert str(events.data[0].id) == event_id

    sent = x_client(sim).create_direct_message(
        participant_id=customer, text="Hi! Could you send us your order number?", user_auth=False
    )

    assert sim.replies("x")[0]["recipient"] == customer
    listed = x_get(
        sim, f"/2/dm_conversations/with/{customer}/dm_events", **{"dm_event.fields": "sender_id"}
    ).json()
    assert listed["data"][0]["id"] == sent.data["dm_event_id"]
    assert listed["data"][0]["sender_id"] == "1000"


def test_facebook_comment_reply_and_one_private_reply_per_comment(sim, graph):
    comment_id = sim.publish("facebook", 1, kind="comment")[0]

    public = graph.put_object(comment_id, "comments", message="We're on it, sorry!")
    private = graph.request(
        "v23.0/2000/messages",
        post_args={
            "recipient": json.dumps({"comment_id": comment_id}),
            "message": '{"text": "Could you send your order number?"}',
            "messaging_type": "RESPONSE",
        },
    )
    with pytest.raises(facebook.GraphAPIError) as excinfo:
        graph.request(
            "v23.0/2000/messages",
            post_args={
                "recipient": json.dumps({"comment_id": comment_id}),
                "message": '{"text": "again"}',
            },
        )

    assert excinfo.value.code == 10900
    assert [r["kind"] for r in sim.replies("facebook")] == ["comment", "private_reply"]
    answers = graph.get_connections(comment_id, "comments", fields="id,from,message")["data"]
    assert [a["id"] for a in answers] == [public["id"]]
    assert answers[0]["from"]["id"] == "2000"
    assert private["message_id"].startswith("m_")


def test_messenger_reply_by_psid_needs_an_existing_conversation(sim):
    message_id = sim.publish("facebook", 1, kind="message")[0]
    psid = sim.state.fb.conversations[sim.state.fb.messages[message_id].conversation_id].user_id
    url = f"{sim.url}/v23.0/2000/messages"

    ok = requests.post(
        url,
        json={
            "recipient": {"id": psid},
            "message": {"text": "Hi!"},
            "messaging_type": "RESPONSE",
            "access_token": "t",
        },
        timeout=5,
    )
    unknown = requests.post(
        url,
        json={"recipient": {"id": "999"}, "message": {"text": "Hi!"}, "access_token": "t"},
        timeout=5,
    )

    assert ok.status_code == 200 and ok.json()["recipient_id"] == psid
    assert unknown.status_code == 400 and unknown.json()["error"]["error_subcode"] == 2018001


def test_customer_later_answers_a_brand_reply(sim):
    client = x_client(sim)
    targets = sim.publish("x", 12, kind="mention")
    sent = {
        client.create_tweet(text=f"Sorry! ({n})", in_reply_to_tweet_id=t, user_auth=False).data[
            "id"
        ]
        for n, t in enumerate(targets)
    }

    answer_id = sim.publish("x", 1, kind="reply_to_brand")[0]

    answer = client.get_tweet(
        answer_id, tweet_fields=["referenced_tweets", "in_reply_to_user_id", "conversation_id"]
    ).data
    assert str(answer.referenced_tweets[0].id) in sent
    assert answer.in_reply_to_user_id == 1000
    brand_reply = client.get_tweet(answer.referenced_tweets[0].id, tweet_fields=["conversation_id"])
    assert answer.conversation_id == brand_reply.data.conversation_id


# -- faults -----------------------------------------------------------------------------------


def test_429_on_x_carries_the_reset_time(sim):
    sim.fault("x", "429", reset_in=120)
    with pytest.raises(tweepy.TooManyRequests) as excinfo:
        x_client(sim).get_users_mentions("1000")
    assert excinfo.value.response.headers["x-rate-limit-remaining"] == "0"
    assert abs(excinfo.value.reset_time - (time.time() + 120)) < 5
    assert x_client(sim).get_users_mentions("1000").meta["result_count"] == 0


def test_429_on_graph_is_a_rate_limit_code_with_usage_header(sim, graph):
    sim.fault("facebook", "429", code=32, reset_in=600)
    response = requests.get(f"{sim.url}/v23.0/2000/feed", params={"access_token": "t"}, timeout=5)
    assert response.status_code == 403 and response.json()["error"]["code"] == 32
    usage = json.loads(response.headers["x-business-use-case-usage"])
    assert usage["2000"][0]["estimated_time_to_regain_access"] == 10
    sim.fault("facebook", "429", code=4)
    with pytest.raises(facebook.GraphAPIError) as excinfo:
        graph.get_connections("2000", "feed")
    assert excinfo.value.code == 4


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(sim, graph, status):
    sim.fault("x", str(status))
    with pytest.raises(tweepy.TwitterServerError):
        x_client(sim).get_users_mentions("1000")
    sim.fault("facebook", str(status), path_contains="/feed")
    response = requests.get(f"{sim.url}/v23.0/2000/feed", params={"access_token": "t"}, timeout=5)
    assert response.status_code == status and response.json()["error"]["code"] == 2


def test_graph_5xx_with_html_body_breaks_facebook_sdk_parsing(sim, graph):
    sim.fault("facebook", "503", html=True)
    with pytest.raises(facebook.GraphAPIError, match="Maintype"):
        graph.get_connections("2000", "feed")


def test_timeout_fault_outlasts_the_client_and_has_no_effect(sim):
    target = sim.publish("x", 1, kind="mention")[0]
    sim.fault("x", "timeout", path_contains="/2/tweets")
    with pytest.raises(requests.exceptions.Timeout):
        x_client(sim, timeout=0.5).create_tweet(
            text="hello", in_reply_to_tweet_id=target, user_auth=False
        )
    held = [t for t in threading.enumerate() if t.name.endswith("(process_request_thread)")]
    assert held, "the simulator still holds the request the client gave up on"
    sim.server.stopping.set()  # wakes the held request now rather than after fault_sleep
    for thread in held:
        thread.join(timeout=5)
    assert sim.replies("x") == []


def test_accept_then_timeout_stores_the_reply_once(sim):
    target = sim.publish("x", 1, kind="mention")[0]
    sim.fault("x", "accept_then_timeout", path_contains="/2/tweets")
    with pytest.raises(requests.exceptions.Timeout):
        x_client(sim, timeout=0.5).create_tweet(
            text="We're sorry!", in_reply_to_tweet_id=target, user_auth=False
        )
    replies = sim.replies("x")
    assert len(replies) == 1 and replies[0]["in_reply_to"] == target
    timeline = x_get(sim, "/2/users/1000/tweets").json()
    assert [t["id"] for t in timeline["data"]] == [replies[0]["id"]]


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("missing_id", lambda item: "id" not in item),
        ("missing_created_at", lambda item: "created_at" not in item),
        ("text_null", lambda item: item["text"] is None),
        ("bad_date", lambda item: item["created_at"].startswith("2026-13-45")),
    ],
)
def test_malformed_corrupts_one_item_of_the_next_page(sim, variant, check):
    sim.publish("x", 10, kind="mention")
    sim.fault("x", "malformed", variant=variant, index=2)
    page = x_get(sim, "/2/users/1000/mentions", **X_PARAMS).json()["data"]
    assert check(page[2])
    assert (
        sum(
            1
            for item in page
            if "id" in item
            and item.get("text")
            and len(item.get("created_at", "")) == 24
            and not item["created_at"].startswith("2026-13")
        )
        == 9
    )
    again = x_get(sim, "/2/users/1000/mentions", **X_PARAMS).json()["data"]
    assert all("id" in item and item["text"] for item in again)


def test_malformed_on_graph(sim, graph):
    sim.publish("facebook", 5, kind="visitor_post")
    sim.fault("facebook", "malformed", variant="text_null", path_contains="/feed")
    feed = graph.get_connections("2000", "feed", fields=FB_POST_FIELDS)["data"]
    assert feed[0]["message"] is None


def test_repeat_page_answers_the_previous_page_again(sim):
    sim.publish("x", 30, kind="mention")
    first = x_get(sim, "/2/users/1000/mentions", max_results=10).json()
    sim.fault("x", "repeat_page", path_contains="mentions")

    repeated = x_get(
        sim, "/2/users/1000/mentions", max_results=10, pagination_token=first["meta"]["next_token"]
    ).json()
    second = x_get(
        sim, "/2/users/1000/mentions", max_results=10, pagination_token=first["meta"]["next_token"]
    ).json()

    assert repeated == first
    assert second["meta"]["newest_id"] < first["meta"]["oldest_id"]


def test_revoked_token_and_revoked_fault(sim, graph):
    with pytest.raises(tweepy.Unauthorized):
        x_client(sim, token="revoked-123").get_users_mentions("1000")
    sim.fault("x", "revoked")
    with pytest.raises(tweepy.Unauthorized):
        x_client(sim).get_users_mentions("1000")
    sim.fault("facebook", "revoked")
    with pytest.raises(facebook.GraphAPIError) as excinfo:
        graph.get_connections("2000", "feed")
    assert excinfo.value.code == 190 and excinfo.value.type == "OAuthException"
    response = requests.get(f"{sim.url}/2/users/1000/mentions", timeout=5)
    assert response.status_code == 401 and response.json()["title"] == "Unauthorized"


def refresh_with(sim: SimulatorClient, refresh_token: str, **extra: Any) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return requests.post(f"{sim.url}/2/oauth2/token", data=form, timeout=5)


def test_token_endpoint_rotates_refresh_tokens_and_refuses_a_spent_one(sim):
    first = sim.authorise("1000", client_id="desk-app")

    answer = refresh_with(sim, first["refresh_token"], client_id="desk-app")

    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 7200
    assert "offline.access" in tokens["scope"].split()
    assert tokens["refresh_token"] != first["refresh_token"]
    assert tokens["access_token"] != first["access_token"]
    spent = refresh_with(sim, first["refresh_token"], client_id="desk-app")
    assert spent.status_code == 400
    assert spent.json() == {
        "error": "invalid_grant",
        "error_description": "Value passed for the token was invalid.",
    }
    # A confidential client authenticates with HTTP Basic instead of naming itself in the form.
    basic = requests.post(
        f"{sim.url}/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("desk-app", "app-secret"),
        timeout=5,
    )
    assert basic.status_code == 200
    assert sim.stats()["oauth"]["tokens_refreshed"] == 2
    assert sim.stats()["oauth"]["refresh_refused"] == 1


def test_token_endpoint_wants_the_client_that_was_authorised(sim):
    grant = sim.authorise("1000", client_id="desk-app")

    anonymous = refresh_with(sim, grant["refresh_token"])
    other_client = refresh_with(sim, grant["refresh_token"], client_id="another-app")

    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized_client"
    assert other_client.status_code == 400 and other_client.json()["error"] == "invalid_grant"
    # Neither spent the refresh token.
    assert refresh_with(sim, grant["refresh_token"], client_id="desk-app").status_code == 200


def test_checked_tokens_expire_and_unknown_ones_are_refused(sim):
    sim.register_account("x", "900002", "@brand2")
    assert x_get(sim, "/2/users/me").status_code == 200  # by default any token will do
    sim.token_mode(check_tokens=True, token_lifetime=1)
    grant = sim.authorise("1000")
    live = {"Authorization": f"Bearer {grant['access_token']}"}

    assert x_get(sim, "/2/users/me").status_code == 401
    me = requests.get(f"{sim.url}/2/users/me", headers=live, timeout=5)
    assert me.status_code == 200 and me.json()["data"]["id"] == "1000"  # the token's own brand
    sim.advance(1.1)
    expired = requests.get(f"{sim.url}/2/users/me", headers=live, timeout=5)
    assert expired.status_code == 401 and expired.json()["title"] == "Unauthorized"
    fresh = refresh_with(sim, grant["refresh_token"], client_id="sim-client").json()
    renewed = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert requests.get(f"{sim.url}/2/users/me", headers=renewed, timeout=5).status_code == 200
    assert sim.token_mode(check_tokens=False)["token_lifetime"] == 1
    assert x_get(sim, "/2/users/me").status_code == 200


def test_token_mode_is_validated(sim):
    for body in ({"token_lifetime": 0}, {"token_lifetime": "soon"}, {"check_tokens": "yes"}):
        answer = requests.post(f"{sim.url}/_sim/oauth", json=body, timeout=5)
        assert answer.status_code == 400, body
    assert sim.stats()["oauth"]["check_tokens"] is False


def test_fault_only_hits_matching_paths(sim):
    sim.fault("x", "503", path_contains="/dm_events")
    assert x_get(sim, "/2/users/1000/mentions").status_code == 200
    assert x_get(sim, "/2/dm_events").status_code == 503
    assert sim.stats()["faults_pending"] == 0


def test_visibility_lag_lists_a_brand_reply_only_once_it_has_passed(sim):
    now = [time.time()]
    sim.state.clock.source = lambda: now[0]  # stopped: only the test moves it
    target = sim.publish("x", 1, kind="mention")[0]
    sim.fault("any", "visibility_lag", count=100, seconds=10)  # a standing lag
    posted = x_client(sim).create_tweet(text="On it", in_reply_to_tweet_id=target, user_auth=False)
    reply_id = posted.data["id"]
    assert [r["id"] for r in sim.replies("x")] == [reply_id]  # accepted at once

    def listed() -> list[str]:
        page = x_get(sim, "/2/users/1000/tweets").json()
        return [tweet["id"] for tweet in page.get("data", [])]

    assert listed() == []
    now[0] += 9
    assert listed() == []
    now[0] += 2
    assert listed() == [reply_id]
    refused = requests.post(
        f"{sim.url}/_sim/faults",
        json={"network": "x", "fault": "visibility_lag", "seconds": -1},
        timeout=5,
    )
    assert refused.status_code == 400


def test_a_fired_fault_names_the_client_port_of_the_request_it_hit(sim):
    sim.fault("x", "503", path_contains="/mentions", tag="marked")
    client = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=5)
    client.connect()
    port = client.sock.getsockname()[1]
    client.request("GET", "/2/users/1000/mentions", headers=BEARER)
    assert client.getresponse().status == 503
    client.close()
    fired = sim.fired()
    assert [(f["tag"], f["fault"], f["client_port"], f["method"]) for f in fired] == [
        ("marked", "503", port, "GET")
    ]


# -- determinism and content ------------------------------------------------------------------


def generated(seed: int) -> list[tuple[str, str]]:
    with running_simulator(seed=seed) as other:
        ids = other.publish("x", 40)
        fb_ids = other.publish("facebook", 40)
        x = [(i, other.state.x.tweets[int(i)].text) for i in ids if int(i) in other.state.x.tweets]
        fb = [(i, other.state.fb.posts.get(i) or other.state.fb.comments.get(i)) for i in fb_ids]
        return x + [(i, getattr(item, "message", "")) for i, item in fb]


def test_same_seed_same_traffic_other_seed_other_traffic():
    assert generated(3) == generated(3)
    assert [t for _, t in generated(3)] != [t for _, t in generated(4)]


def test_publish_seed_reproduces_content(sim):
    first = sim.publish("x", 5, kind="mention", seed=99)
    second = sim.publish("x", 5, kind="mention", seed=99)
    texts = [[sim.state.x.tweets[int(i)].text for i in batch] for batch in (first, second)]
    assert texts[0] == texts[1] and first != second


def test_generated_traffic_is_varied_and_hostile(sim):
    sim.publish("x", 1500)
    sim.publish("facebook", 800)
    tweets = list(sim.state.x.tweets.values())
    texts = " ".join(t.text for t in tweets)

    assert {"en", "es", "fr", "de", "pt", "ja"} <= {t.lang for t in tweets}
    assert "👍🏽" in texts and "👨‍👩‍👧" in texts
    assert "<script>" in texts
    kinds = {kind for t in tweets for kind, _ in t.referenced}
    assert kinds == {"replied_to", "quoted"}
    thread = next(t for t in tweets if ("replied_to", t.conversation_id) in t.referenced)
    assert thread.in_reply_to_user_id == thread.author_id
    words = " ".join(texts.lower().split())
    for urgent in ("refund", "cancel", "broken", "lawyer", "outage", "never again"):
        assert urgent in words
    assert sim.state.x.dm_events
    hostile = next(t for t in tweets if "<" in t.text and "&" in t.text)
    served = x_get(sim, f"/2/tweets/{hostile.id}").json()["data"]["text"]
    assert served == hostile.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    fb = sim.state.fb
    assert any(c.parent_id for c in fb.comments.values())
    assert any(p.kind == "tagged" for p in fb.posts.values())
    assert any(p.author is None for p in fb.posts.values()) or any(
        c.author is None for c in fb.comments.values()
    )
    assert fb.messages
    verified = [c for c in sim.state.customers if c.verified]
    assert 0 < len(verified) < len(sim.state.customers) // 5
    assert (
        max(c.followers for c in sim.state.customers)
        > 100 * sorted(c.followers for c in sim.state.customers)[len(sim.state.customers) // 2]
    )


def test_suspended_authors_come_with_an_errors_entry(sim):
    suspended = next(c for c in sim.state.customers if c.suspended)
    sim.state.x.add_tweet(
        suspended.x_id, "@acme_support hello", "en", sim.state.rng, mentions_of=("1000",)
    )
    body = x_get(sim, "/2/users/1000/mentions", **X_PARAMS).json()
    assert body["errors"][0]["resource_id"] == suspended.x_id
    assert suspended.x_id not in {u["id"] for u in body.get("includes", {}).get("users", [])}


# -- control API ------------------------------------------------------------------------------


def test_control_api_accounts_publish_stats_reset(sim):
    sim.register_account("x", "900001", "@brand1", name="Brand One", token="brand1-token")
    ids = sim.publish("x", 7, account_id="900001")
    client = x_client(sim, token="brand1-token")

    mentions = all_mentions_of(client, "900001")
    sent = client.create_tweet(text="hi", in_reply_to_tweet_id=mentions[0], user_auth=False)

    assert set(mentions) <= set(ids)
    assert sim.replies("x")[0]["account_id"] == "900001"
    assert sim.state.x.tweets[int(sent.data["id"])].author_id == "900001"
    stats = sim.stats()
    assert stats["posts_generated"]["x"] == 7
    assert stats["replies_accepted"] == 1
    bad = requests.post(f"{sim.url}/_sim/faults", json={"network": "x", "fault": "nope"}, timeout=5)
    assert bad.status_code == 400
    sim.reset()
    assert sim.stats()["posts_generated_total"] == 0 and sim.replies() == []
    accounts = requests.get(f"{sim.url}/_sim/accounts", timeout=5).json()["accounts"]
    assert {a["account_id"] for a in accounts} == {"1000", "2000", "17841400000000001"}


def all_mentions_of(client: tweepy.Client, user_id: str) -> list[str]:
    response = client.get_users_mentions(user_id, max_results=100)
    return [str(t.id) for t in response.data or []]


def test_background_generator_follows_the_rate(sim):
    sim.rate(1200)
    deadline = time.monotonic() + 5
    while sim.stats()["posts_generated_total"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    sim.rate(0)
    generated_now = sim.stats()["posts_generated"]
    assert sum(generated_now.values()) >= 5
    assert set(generated_now) == {"x", "facebook", "instagram"}
    settled = sim.stats()["posts_generated_total"]
    time.sleep(0.7)
    assert sim.stats()["posts_generated_total"] == settled


def test_command_line_simulator_starts_and_stops_on_sigterm():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "listening.simulator", "--port", str(port), "--rate", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                health = requests.get(url + "/_sim/health", timeout=1)
                break
            except requests.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.1)
        assert health.json() == {"ok": True}
        mentions = requests.post(
            url + "/_sim/publish", json={"network": "x", "count": 2}, timeout=5
        )
        assert len(mentions.json()["ids"]) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulator_shuts_down_and_frees_the_port():
    with running_simulator() as other:
        url = other.url
        assert requests.get(url + "/_sim/health", timeout=5).json() == {"ok": True}
        other.fault("x", "timeout")
        with pytest.raises(requests.exceptions.Timeout):
            requests.get(url + "/2/dm_events", headers=BEARER, timeout=0.3)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/_sim/health", timeout=2)


# twitter-text's published weighted-length cases (tests/payloads, source noted there): the
# simulator counts with its own implementation, so it can catch a bug in the desk's counter.
TWITTER_TEXT_CASES = json.loads(
    (Path(__file__).parent / "payloads" / "twitter_text_weighted_length.json").read_text()
)["cases"]


@pytest.mark.parametrize(
    "case", TWITTER_TEXT_CASES, ids=[case["description"] for case in TWITTER_TEXT_CASES]
)
def test_simulated_x_counts_posts_as_twitter_text_does(case):
    assert weighted_length(case["text"]) == case["weightedLength"]


def test_reads_are_journalled_for_a_harness_to_explain_a_missing_item(sim, graph):
    (post_id,) = sim.publish("facebook", 1, kind="visitor_post")
    graph.get_connections("2000", "feed", fields=FB_POST_FIELDS, limit=25)
    graph.get_connections(post_id, "comments", filter="stream", since=100)

    reads = sim._call("GET", f"/_sim/reads?about={post_id}")["reads"]

    assert [read["path"] for read in reads] == ["/v23.0/2000/feed", f"/v23.0/{post_id}/comments"]
    assert post_id in reads[0]["ids"] and reads[0]["params"]["limit"] == "25"
    assert reads[1]["params"] == {"filter": "stream", "since": "100"}

    x_get(sim, "/2/users/1000/mentions", max_results=10, since_id="5")
    (mentions,) = sim._call("GET", "/_sim/reads?path=/mentions")["reads"]
    assert mentions["params"] == {"max_results": "10", "since_id": "5"}


# -- authors edit and delete ---------------------------------------------------------------


def test_an_x_edit_is_a_new_version_and_a_deletion_takes_the_whole_chain(sim):
    client = x_client(sim)
    (original,) = sim.publish("x", 1, kind="mention")
    edited = sim.edit("x", original, "@acme_support edited: it arrived")

    latest = x_get(sim, f"/2/tweets/{edited}").json()["data"]
    assert latest["edit_history_tweet_ids"] == [original, edited]
    assert latest["text"] == "@acme_support edited: it arrived"
    assert int(edited) in {t.id for t in all_mentions(client)}  # listed like any mention

    assert sim.delete("x", edited) == sorted([original, edited], key=int)
    answer = x_get(sim, "/2/tweets", ids=f"{original},{edited}").json()
    assert "data" not in answer
    assert {e["resource_id"] for e in answer["errors"]} == {original, edited}
    assert {e["title"] for e in answer["errors"]} == {"Not Found Error"}
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        client.create_tweet(text="Sorry!", in_reply_to_tweet_id=original, user_auth=False)


def test_a_facebook_comment_edit_keeps_its_id_and_a_deleted_post_takes_its_comments(sim, graph):
    (post_id,) = sim.publish("facebook", 1, kind="visitor_post")
    comment = graph.put_object(post_id, "comments", message="We're sorry!")["id"]
    assert sim.edit("facebook", comment, "We're so sorry!") == comment
    assert graph.get_object(comment, fields="message")["message"] == "We're so sorry!"

    assert sim.delete("facebook", post_id) == [post_id, comment]
    for gone in (post_id, comment):
        with pytest.raises(facebook.GraphAPIError) as error:
            graph.get_object(gone)
        assert error.value.code == 100 and "does not exist" in str(error.value)
    feed = graph.get_connections("2000", "feed", fields="id")["data"]
    assert post_id not in {p["id"] for p in feed}


def test_a_customer_answering_the_page_under_its_own_comment_is_the_customer(sim, graph):
    """Graph keeps two levels: the page's answer to a reply under the page's own comment hangs
    under that comment. Whoever answers it back is the customer, never the page."""
    import random

    from listening.simulator.state import PendingAnswer

    (post_id,) = sim.publish("facebook", 1, kind="visitor_post")
    page_comment = graph.put_object(post_id, "comments", message="Thanks for the photos!")["id"]
    fb = sim.state.fb
    with sim.state.lock:
        customer = next(c for c in sim.state.customers if not c.fb_hidden)
        reply = fb._add_comment(
            fb.posts[post_id], fb.comments[page_comment], "Still broken", (customer.fb_id, "C")
        )
    page_answer = graph.put_object(reply.id, "comments", message="Sorry, we'll DM you.")["id"]
    assert fb.comments[page_answer].parent_id == page_comment  # flattened under the page's

    with sim.state.lock:
        answer_id = fb.answer(
            sim.state.accounts[("facebook", "2000")],
            PendingAnswer("facebook", "2000", "comment", page_answer),
            random.Random(1),
        )
    assert fb.comments[answer_id].author == (customer.fb_id, "C")
