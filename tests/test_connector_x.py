"""The X connector against recorded-shape API v2 payloads, with the real tweepy code running.

Only the HTTP edge is faked (`responses`); payloads in tests/payloads/ follow the X API v2
documentation (mentions timeline, recent search, dm_events, the errors array).
"""

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from django.utils import timezone

from cases.replies import outbound_reply
from listening.connectors import get_connector, x_paging
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    PermanentError,
    RateLimited,
    TransientError,
)
from listening.connectors.x import XConnector
from listening.models import ListeningRule, Network
from tests.conftest import X_API, calls_to, make_channel
from tests.factories import make_x_reply

PAYLOADS = Path(__file__).parent / "payloads"
BASE = X_API
BRAND_ID = "1000"
MENTIONS = f"{BASE}/2/users/{BRAND_ID}/mentions"
SEARCH = f"{BASE}/2/tweets/search/recent"
DM_EVENTS = f"{BASE}/2/dm_events"
EMPTY = {"meta": {"result_count": 0}}


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


@pytest.fixture
def channel(db, x_settings):
    return make_channel(Network.X, external_account_id=BRAND_ID, handle="acme_support")


def quiet_dms(rsps: responses.RequestsMock) -> None:
    rsps.get(DM_EVENTS, json=EMPTY)


def by_id(posts) -> dict:
    return {p.external_id: p for p in posts}


# ---- fetch and normalisation -------------------------------------------------------------


def test_first_poll_reads_one_page_and_normalises_threads_quotes_and_languages(channel, rsps):
    rsps.get(MENTIONS, json=load("x_mentions_page1.json"))
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {})

    # Without a cursor only the first page is read, although it has a next_token (paid reads).
    mention_calls = calls_to(rsps, MENTIONS)
    assert len(mention_calls) == 1
    sent = params_of(mention_calls[0])
    assert "since_id" not in sent and sent["max_results"] == "100"
    assert set(sent["expansions"].split(",")) == {
        "author_id",
        "referenced_tweets.id",
        "in_reply_to_user_id",
        "attachments.media_keys",
    }
    assert "conversation_id" in sent["tweet.fields"] and "public_metrics" in sent["tweet.fields"]
    assert mention_calls[0].request.headers["Authorization"] == "Bearer test-bearer"

    posts = by_id(result.posts)
    # The brand's own reply (author 1000) in the page is skipped.
    assert set(posts) == {"1861000000000000105", "1861000000000000103", "1861000000000000102"}

    reply = posts["1861000000000000105"]
    assert reply.kind == "reply"
    assert reply.conversation_id == "1861000000000000101"
    assert reply.in_reply_to_id == "1861000000000000104"
    # &amp; &lt; &gt; are unescaped to the real text; the emoji survives.
    assert reply.text == (
        "@acme_support still broken & nobody answers <3 days> now. Refund please 😡"
    )
    assert reply.posted_at == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert reply.posted_at.utcoffset() == timedelta(0)
    assert reply.url == "https://x.com/clara_g/status/1861000000000000105"
    assert reply.metrics == {"likes": 7, "reposts": 2, "replies": 1, "quotes": 0}
    assert reply.author.external_id == "2244994945"
    assert reply.author.handle == "clara_g"
    assert reply.author.name == "Clara Gómez 🌻"
    assert reply.author.followers == 1532
    assert reply.author.verified is False
    assert reply.author.profile_url == "https://x.com/clara_g"
    assert reply.network == "x" and reply.is_private is False

    quote = posts["1861000000000000103"]
    assert quote.kind == "quote" and quote.lang == "es"
    assert quote.text == "Mira esto @acme_support 👉 https://t.co/AbCdEf1234 ¿en serio? 🤔"
    assert quote.author.verified is True and quote.author.followers == 64000000

    plain = posts["1861000000000000102"]
    assert plain.kind == "mention" and plain.lang == "ja"
    assert plain.text == "@acme_support 注文した商品がまだ届きません。いつ届きますか？📦"
    assert plain.conversation_id == "1861000000000000102" and plain.in_reply_to_id == ""

    # No DM yet: the stream is marked read (empty), so its next read is not a first look.
    assert result.new_cursor == {"mentions": "1861000000000000105", "dm": "0"}
    assert result.reads == 4
    assert result.quarantined == []


def test_poll_with_cursor_follows_next_token_and_advances_cursor(channel, rsps):
    page1, page2 = load("x_mentions_page1.json"), load("x_mentions_page2.json")
    since = "1861000000000000050"
    # After a drain of more than one page, one small read proves the timeline still reached
    # since_id: it answers the post at since_id itself and nothing newer than it.
    met = copy.deepcopy(page2)
    met["data"] = [{**met["data"][0], "id": since}]
    met["meta"] = {"newest_id": since, "oldest_id": since, "result_count": 1}
    rsps.get(MENTIONS, json=page1)
    rsps.get(MENTIONS, json=page2)
    rsps.get(MENTIONS, json=met)
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {"mentions": since, "other": "kept"})

    first, second, reach = calls_to(rsps, MENTIONS)
    assert params_of(first)["since_id"] == since
    assert "pagination_token" not in params_of(first)
    assert params_of(second)["pagination_token"] == page1["meta"]["next_token"]
    assert params_of(second)["since_id"] == since
    oldest = min(t["id"] for t in page2["data"])
    assert params_of(reach)["since_id"] == "1861000000000000049"
    assert (params_of(reach)["until_id"], params_of(reach)["max_results"]) == (oldest, "5")

    posts = by_id(result.posts)
    assert len(result.posts) == 6  # the post at since_id again: ingest drops the repeat
    # The whole reply chain shares the root's conversation id, so ingest threads one case.
    root, answer = posts["1861000000000000101"], posts["1861000000000000105"]
    assert root.conversation_id == answer.conversation_id == "1861000000000000101"
    assert root.kind == "mention" and answer.kind == "reply"
    assert (
        posts["1861000000000000100"].text == "Bonjour @acme_support, merci pour l'aide rapide ! 👏"
    )
    assert result.new_cursor == {"mentions": "1861000000000000105", "other": "kept", "dm": "0"}
    assert result.reads == 7


def test_spent_budget_leaves_a_continuation_that_the_next_poll_resumes(channel, rsps, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 1)
    since = "1861000000000000050"
    page1, page2 = load("x_mentions_page1.json"), load("x_mentions_page2.json")
    rsps.get(MENTIONS, json=page1)
    quiet_dms(rsps)

    first = XConnector().fetch(channel, {"mentions": since})

    oldest = min(t["id"] for t in page1["data"])
    continuation = first.new_cursor["mentions"]
    assert continuation == {
        "since_id": since,
        "until_id": oldest,
        "target": page1["meta"]["newest_id"],
        "read": len(page1["data"]),
    }

    # The resumed query also asks for since_id itself, to see it is still within reach.
    page2["data"].append({**page2["data"][-1], "id": since})
    rsps.get(MENTIONS, json=page2)
    second = XConnector().fetch(channel, first.new_cursor)

    resumed = calls_to(rsps, MENTIONS)[-1]
    assert params_of(resumed)["until_id"] == oldest
    assert params_of(resumed)["since_id"] == str(int(since) - 1)
    assert "pagination_token" not in params_of(resumed)
    assert second.new_cursor["mentions"] == page1["meta"]["newest_id"]
    assert second.gaps == []


def test_rule_since_id_refused_as_too_old_reads_the_window_and_reports_a_gap(channel, rsps):
    rule = ListeningRule.objects.create(channel=channel, name="refunds", query="acme refund")
    rsps.get(MENTIONS, json=EMPTY)
    refused = {
        "errors": [
            {
                "parameters": {"since_id": ["1861000000000000001"]},
                "message": "Invalid 'since_id':'1861000000000000001'. 'since_id' must be a"
                " tweet id created after 2026-11-16T10:00Z",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    rsps.get(SEARCH, json=refused, status=400)
    rsps.get(SEARCH, json=load("x_search_recent.json"))
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {rule.cursor_key: "1861000000000000001"})

    first, second = calls_to(rsps, SEARCH)
    assert "since_id" not in params_of(second) and params_of(second)["start_time"]
    (gap,) = result.gaps
    assert gap["stream"] == rule.cursor_key and "7 days" in gap["reason"]
    assert result.posts and result.new_cursor[rule.cursor_key] != "1861000000000000001"


def test_empty_pages_keep_every_cursor(channel, rsps):
    rule = ListeningRule.objects.create(channel=channel, name="refunds", query="acme refund")
    rsps.get(MENTIONS, json=EMPTY)
    rsps.get(SEARCH, json=EMPTY)
    rsps.get(DM_EVENTS, json=EMPTY)
    cursor = {"mentions": "1861000000000000105", rule.cursor_key: "1861000000000000300", "dm": "9"}

    result = XConnector().fetch(channel, dict(cursor))

    assert result.posts == [] and result.reads == 0
    assert result.new_cursor == cursor


def test_repeated_page_is_deduplicated(channel, rsps):
    page = load("x_mentions_page1.json")
    repeat = copy.deepcopy(page)
    del repeat["meta"]["next_token"]
    met = copy.deepcopy(page)  # the reach check: the post at since_id, nothing newer
    met["data"] = [{**met["data"][0], "id": "1861000000000000001"}]
    met["meta"] = {"result_count": 1}
    rsps.get(MENTIONS, json=page)
    rsps.get(MENTIONS, json=repeat)  # the network served the same page again
    rsps.get(MENTIONS, json=met)
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {"mentions": "1861000000000000001"})

    ids = [p.external_id for p in result.posts if p.external_id != "1861000000000000001"]
    assert len(ids) == len(set(ids)) == 3
    assert result.reads == 9  # both pages and the reach check were read (and billed)


def test_deleted_author_is_kept_and_malformed_items_are_quarantined(channel, rsps):
    rsps.get(MENTIONS, json=load("x_mentions_deleted_and_malformed.json"))
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {})

    posts = by_id(result.posts)
    assert set(posts) == {"1861000000000000210", "1861000000000000205"}
    orphan = posts["1861000000000000210"]
    assert orphan.author.external_id == "40404040"
    assert orphan.author.handle == "" and orphan.author.name == ""
    assert orphan.url == "https://x.com/i/web/status/1861000000000000210"
    # Hostile text is kept exactly: escaping is the templates' job.
    assert posts["1861000000000000205"].text == "@acme_support <script>alert(1)</script> thanks"

    reasons = {q.external_id: q.reason for q in result.quarantined}
    assert reasons == {
        "1861000000000000209": "empty text",
        "": "missing id",
        "1861000000000000207": "missing author_id",
        "1861000000000000206": "unparseable created_at",
    }
    raw = next(q for q in result.quarantined if q.external_id == "1861000000000000207")
    assert raw.payload["text"] == "@acme_support nobody wrote me"
    assert result.new_cursor["mentions"] == "1861000000000000210"


def test_listening_rules_search_with_their_own_cursor_and_dedupe_against_mentions(channel, rsps):
    rule = ListeningRule.objects.create(
        channel=channel, name="refunds", query="acme refund -is:retweet"
    )
    ListeningRule.objects.create(channel=channel, name="off", query="ignored", enabled=False)
    rsps.get(MENTIONS, json=load("x_mentions_page1.json"))
    rsps.get(SEARCH, json=load("x_search_recent.json"))
    quiet_dms(rsps)

    result = XConnector().fetch(channel, {})

    search_calls = calls_to(rsps, SEARCH)
    assert len(search_calls) == 1
    assert params_of(search_calls[0])["query"] == "acme refund -is:retweet"
    posts = by_id(result.posts)
    assert posts["1861000000000000305"].kind == "search"
    assert posts["1861000000000000305"].author.handle == "dee_complains"
    # 102 came as a mention first: one post, still a mention.
    assert [p.external_id for p in result.posts].count("1861000000000000102") == 1
    assert posts["1861000000000000102"].kind == "mention"
    assert result.new_cursor[rule.cursor_key] == "1861000000000000305"
    assert result.reads == 6


def test_dm_stream_stops_paging_at_the_stored_newest_id(channel, rsps):
    rsps.get(MENTIONS, json=EMPTY)
    rsps.get(DM_EVENTS, json=load("x_dm_events.json"))
    rsps.get(DM_EVENTS, json=load("x_dm_events_older.json"))
    rsps.get(DM_EVENTS, json={"data": [{"id": "1", "text": "never asked for"}]})

    result = XConnector().fetch(channel, {"dm": "1861000000000000406"})

    dm_calls = calls_to(rsps, DM_EVENTS)
    assert len(dm_calls) == 2  # the second page reached id 406: no third request
    sent = params_of(dm_calls[0])
    assert (
        sent["event_types"] == "MessageCreate" and "dm_conversation_id" in sent["dm_event.fields"]
    )
    assert params_of(dm_calls[1])["pagination_token"] == "18LAA581J5II7LA00C00ZZZZ"
    # No since_id on dm_events: a one-event probe first, so a quiet poll costs one read.
    assert sent["max_results"] == "1" and params_of(dm_calls[1])["max_results"] == "100"

    posts = by_id(result.posts)
    # 409 is the brand's own DM, 408 is not a message, 406/405 were stored before.
    assert set(posts) == {"1861000000000000410", "1861000000000000407"}
    dm = posts["1861000000000000410"]
    assert dm.kind == "dm" and dm.is_private is True
    assert dm.conversation_id == "dm:1000-2244994945"
    assert dm.author.handle == "clara_g"
    assert posts["1861000000000000407"].text == "Olá! Meu pedido não chegou 😢"
    assert result.new_cursor["dm"] == "1861000000000000410"
    assert result.reads == 6


def test_quiet_dm_poll_reads_one_event(channel, rsps):
    rsps.get(MENTIONS, json=EMPTY)
    newest = load("x_dm_events.json")
    newest["data"] = newest["data"][:1]
    rsps.get(DM_EVENTS, json=newest)

    result = XConnector().fetch(channel, {"dm": "1861000000000000410"})

    assert len(calls_to(rsps, DM_EVENTS)) == 1
    assert result.posts == [] and result.reads == 1
    assert result.new_cursor["dm"] == "1861000000000000410"


def test_get_connector_returns_the_x_connector():
    assert isinstance(get_connector("x"), XConnector)


# ---- tweepy defects and error mapping ----------------------------------------------------


def test_session_adds_the_timeout_and_rewrites_tweepys_hard_coded_host(channel, rsps):
    rsps.get(MENTIONS, json=EMPTY)
    quiet_dms(rsps)

    XConnector().fetch(channel, {})

    call = rsps.calls[0]
    assert call.request.url.startswith(BASE + "/2/users/1000/mentions?")
    assert call.request.req_kwargs["timeout"] == 7.0


def test_production_base_url_leaves_the_host_alone(channel, rsps, settings):
    settings.X_API_BASE_URL = "https://api.twitter.com"
    rsps.get("https://api.twitter.com/2/users/1000/mentions", json=EMPTY)
    rsps.get("https://api.twitter.com/2/dm_events", json=EMPTY)

    XConnector().fetch(channel, {})

    assert len(rsps.calls) == 2
    assert all(c.request.url.startswith("https://api.twitter.com/2/") for c in rsps.calls)
    assert rsps.calls[0].request.req_kwargs["timeout"] == 7.0


def too_many_requests(headers: dict[str, str]) -> dict:
    return {
        "status": 429,
        "json": {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
        "headers": headers,
    }


def test_429_raises_rate_limited_with_the_reset_time_from_the_header(channel, rsps):
    reset = 1795430000
    headers = {
        "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(reset),
    }
    rsps.get(MENTIONS, **too_many_requests(headers))

    with pytest.raises(RateLimited) as caught:
        XConnector().fetch(channel, {})

    assert caught.value.reset_at == datetime.fromtimestamp(reset, tz=UTC)
    assert len(rsps.calls) == 1  # wait_on_rate_limit is off: no sleeping, no retry


def test_429_without_reset_header_waits_fifteen_minutes(channel, rsps):
    rsps.get(MENTIONS, **too_many_requests({}))
    before = timezone.now()

    with pytest.raises(RateLimited) as caught:
        XConnector().fetch(channel, {})

    assert before + timedelta(minutes=14) < caught.value.reset_at
    assert caught.value.reset_at < timezone.now() + timedelta(minutes=16)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            {
                "status": 401,
                "json": {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            },
            AuthError,
        ),
        ({"status": 403, "json": {"title": "Forbidden", "status": 403}}, PermanentError),
        ({"status": 404, "json": {"title": "Not Found Error", "status": 404}}, PermanentError),
        ({"status": 400, "json": {"title": "Invalid Request", "status": 400}}, PermanentError),
        (
            {"status": 503, "json": {"title": "Service Unavailable", "status": 503}},
            TransientError,
        ),
        ({"status": 500, "body": "<html>oops</html>"}, TransientError),
        ({"status": 200, "body": "<html>not json</html>"}, TransientError),
        ({"body": requests.ConnectionError("refused")}, TransientError),
        ({"body": requests.ReadTimeout("slow")}, TransientError),
    ],
)
def test_fetch_maps_failures_to_connector_errors(channel, rsps, answer, error):
    rsps.get(MENTIONS, **answer)

    with pytest.raises(error):
        XConnector().fetch(channel, {})


def test_missing_token_is_an_auth_error(db, x_settings):
    channel = make_channel(Network.X, external_account_id="1001", credentials={"user_id": "1"})

    with pytest.raises(AuthError):
        XConnector().fetch(channel, {})


# ---- publish and find_published ----------------------------------------------------------


def test_publish_public_reply_posts_a_reply_tweet(channel, rsps):
    rsps.post(
        f"{BASE}/2/tweets", status=201, json={"data": {"id": "1861000000000000999", "text": "x"}}
    )
    reply = make_x_reply(channel, text="Sorry Clara & team <3 — DM us")

    assert XConnector().publish(outbound_reply(reply)) == "1861000000000000999"

    call = rsps.calls[0]
    assert json.loads(call.request.body) == {
        "text": "Sorry Clara & team <3 — DM us",
        "reply": {"in_reply_to_tweet_id": "1861000000000000105"},
    }
    assert call.request.headers["Authorization"] == "Bearer test-bearer"
    assert call.request.req_kwargs["timeout"] == 7.0


def test_publish_without_in_reply_to_answers_the_latest_public_mention(channel, rsps):
    rsps.post(f"{BASE}/2/tweets", status=201, json={"data": {"id": "77", "text": "x"}})
    reply = make_x_reply(channel, link=False)

    XConnector().publish(outbound_reply(reply))

    body = json.loads(rsps.calls[0].request.body)
    assert body["reply"] == {"in_reply_to_tweet_id": "1861000000000000105"}


def test_publish_private_reply_sends_a_dm_to_the_customer(channel, rsps):
    url = f"{BASE}/2/dm_conversations/with/2244994945/messages"
    rsps.post(
        url,
        status=201,
        json={"data": {"dm_conversation_id": "1000-2244994945", "dm_event_id": "186100000000001"}},
    )
    reply = make_x_reply(channel, private=True, text="Here is your return label 📦")

    assert XConnector().publish(outbound_reply(reply)) == "186100000000001"

    assert rsps.calls[0].request.url == url
    assert json.loads(rsps.calls[0].request.body) == {"text": "Here is your return label 📦"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"body": requests.ReadTimeout("no answer")}, AmbiguousSend),
        ({"status": 503, "json": {"title": "Service Unavailable", "status": 503}}, AmbiguousSend),
        ({"status": 201, "body": "<html>"}, AmbiguousSend),
        ({"body": requests.ConnectTimeout("never connected")}, TransientError),
        ({"status": 401, "json": {"title": "Unauthorized", "status": 401}}, AuthError),
        ({"status": 403, "json": {"title": "Forbidden", "status": 403}}, PermanentError),
        (too_many_requests({"x-rate-limit-reset": "1795430000"}), RateLimited),
    ],
)
def test_publish_failures(channel, rsps, answer, error):
    rsps.post(f"{BASE}/2/tweets", **answer)
    reply = make_x_reply(channel)

    with pytest.raises(error) as caught:
        XConnector().publish(outbound_reply(reply))

    # A connection that never opened is retryable without reconciling: not ambiguous.
    assert isinstance(caught.value, AmbiguousSend) == (error is AmbiguousSend)


def own_tweets(*tweets: dict) -> dict:
    return {"data": list(tweets), "meta": {"result_count": len(tweets)}}


def test_find_published_finds_the_brands_reply_with_the_same_text(channel, rsps):
    url = f"{BASE}/2/users/{BRAND_ID}/tweets"
    rsps.get(
        url,
        json=own_tweets(
            {
                "id": "500",
                "text": "Sorry! DM us. ^AB",
                "created_at": "2026-11-23T10:30:05.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": "1861000000000000001"}],
            },
            {
                "id": "501",
                "text": "Sorry! DM us. ^AB",
                "created_at": "2026-11-23T10:30:06.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": "1861000000000000105"}],
            },
        ),
    )
    reply = make_x_reply(channel)

    assert XConnector().find_published(outbound_reply(reply)) == "501"

    assert params_of(rsps.calls[0])["start_time"] == "2026-11-23T10:28:00Z"


def test_find_published_matches_text_with_links_rewritten_to_tco(channel, rsps):
    rsps.get(
        f"{BASE}/2/users/{BRAND_ID}/tweets",
        json=own_tweets(
            {
                "id": "502",
                "text": "Track it here: https://t.co/Zz9 &amp; DM us",
                "created_at": "2026-11-23T10:31:00.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": "1861000000000000105"}],
            }
        ),
    )
    reply = make_x_reply(channel, text="Track it here: https://acme.example/t/1 & DM us")

    assert XConnector().find_published(outbound_reply(reply)) == "502"


def test_find_published_returns_none_when_nothing_matches(channel, rsps):
    rsps.get(
        f"{BASE}/2/users/{BRAND_ID}/tweets",
        json=own_tweets(
            {
                "id": "503",
                "text": "A different answer",
                "created_at": "2026-11-23T10:31:00.000Z",
                "referenced_tweets": [{"type": "replied_to", "id": "1861000000000000105"}],
            },
            {
                "id": "504",
                "text": "Sorry! DM us. ^AB",
                "created_at": "2026-11-23T09:00:00.000Z",  # long before this send began
                "referenced_tweets": [{"type": "replied_to", "id": "1861000000000000105"}],
            },
        ),
    )
    reply = make_x_reply(channel)

    assert XConnector().find_published(outbound_reply(reply)) is None


def test_find_published_dm_looks_in_the_conversation_with_the_customer(channel, rsps):
    url = f"{BASE}/2/dm_conversations/with/2244994945/dm_events"
    events = {
        "data": [
            {
                "id": "9001",
                "event_type": "MessageCreate",
                "text": "Sorry! DM us. ^AB",
                "sender_id": "2244994945",  # the customer quoting us: not ours
                "created_at": "2026-11-23T10:32:00.000Z",
            },
            {
                "id": "9000",
                "event_type": "MessageCreate",
                "text": "Sorry! DM us. ^AB",
                "sender_id": BRAND_ID,
                "created_at": "2026-11-23T10:30:01.000Z",
            },
        ],
        "meta": {"result_count": 2},
    }
    rsps.get(url, json=events)
    reply = make_x_reply(channel, private=True)

    assert XConnector().find_published(outbound_reply(reply)) == "9000"
    rsps.replace(responses.GET, url, json={"meta": {"result_count": 0}})
    assert XConnector().find_published(outbound_reply(reply)) is None


# ---- import ------------------------------------------------------------------------------


def test_normalise_payload_detects_tweets_and_dm_events():
    connector = XConnector()

    posts, rejects = connector.normalise_payload(load("x_mentions_page2.json"))
    assert [p.kind for p in posts] == ["mention", "mention"] and rejects == []

    dms, rejects = connector.normalise_payload(load("x_dm_events.json"), account_id=BRAND_ID)
    assert {p.external_id for p in dms} == {"1861000000000000410", "1861000000000000407"}
    assert all(p.kind == "dm" and p.is_private for p in dms) and rejects == []

    posts, rejects = connector.normalise_payload(load("x_mentions_deleted_and_malformed.json"))
    assert len(posts) == 2 and len(rejects) == 4

    assert connector.normalise_payload({"meta": {"result_count": 0}}) == ([], [])
    posts, rejects = connector.normalise_payload({"data": "nonsense"})
    assert posts == [] and rejects[0].reason == "X API v2 data is not a list"
