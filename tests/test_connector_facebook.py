"""The Facebook connector against Graph API payloads, with the real facebook-sdk code running.

Only the HTTP edge is faked (`responses`); payloads in tests/payloads/fb_*.json follow the
Graph API documentation (page feed, comments, tagged, conversations, messages, errors).
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import facebook
import pytest
import requests
import responses
from django.utils import timezone

from cases.replies import outbound_reply
from listening.connectors import get_connector
from listening.connectors.errors import (
    AmbiguousSend,
    AuthError,
    PermanentError,
    RateLimited,
    TransientError,
)
from listening.connectors.facebook import FacebookConnector
from listening.models import Network
from tests.conftest import calls_to, make_channel
from tests.factories import make_facebook_reply

PAYLOADS = Path(__file__).parent / "payloads"
BASE = "http://graph-sim.test:8100"
V = "v23.0"
PAGE = "2000"
FEED = f"{BASE}/{V}/{PAGE}/feed"
TAGGED = f"{BASE}/{V}/{PAGE}/tagged"
CONVERSATIONS = f"{BASE}/{V}/{PAGE}/conversations"
EMPTY = {"data": []}


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def ts(text: str) -> str:
    return str(int(datetime.fromisoformat(text).timestamp()))


@pytest.fixture
def fb_settings(settings):
    settings.FACEBOOK_GRAPH_URL = BASE
    settings.FACEBOOK_GRAPH_VERSION = V
    settings.SOCIAL_HTTP_TIMEOUT = 9.0
    return settings


@pytest.fixture
def channel(db, fb_settings):
    return make_channel(Network.FACEBOOK, external_account_id=PAGE, handle="Acme")


def quiet(rsps: responses.RequestsMock, *urls: str) -> None:
    for url in urls:
        rsps.get(url, json=EMPTY)


def by_id(posts) -> dict:
    return {p.external_id: p for p in posts}


ROOT = f"{BASE}/{V}/"  # GET /?ids=…: several objects in one request


def author_of(object_id: str, author_id: str, name: str) -> dict:
    """Graph's answer to GET /?ids=<object_id>&fields=from,…: objects keyed by id."""
    return {object_id: {"id": object_id, "from": {"name": name, "id": author_id}}}


# ---- fetch and normalisation -------------------------------------------------------------


def test_feed_keeps_visitor_posts_skips_the_pages_own_and_quarantines_bad_items(channel, rsps):
    rsps.get(FEED, json=load("fb_feed.json"))
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))
    quiet(rsps, TAGGED, CONVERSATIONS, f"{BASE}/{V}/2000_7710003/comments")
    quiet(rsps, f"{BASE}/{V}/2000_7710002/comments", f"{BASE}/{V}/2000_7710001/comments")
    quiet(rsps, f"{BASE}/{V}/2000_7710000/comments")

    result = FacebookConnector().fetch(channel, {})

    posts = by_id(result.posts)
    assert set(posts) == {"2000_7710003", "2000_7710001"}  # 7710002 is the page's own post
    post = posts["2000_7710003"]
    assert post.kind == "visitor_post" and post.network == "facebook"
    assert post.conversation_id == "2000_7710003" and post.in_reply_to_id == ""
    assert post.text == "Your delivery driver left my parcel in the rain. Again. 🌧️📦 Not happy."
    assert post.posted_at == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert post.url == "https://www.facebook.com/2000/posts/7710003"
    assert post.author.external_id == "10229384756"
    assert post.author.name == "Marta Nowak"
    assert post.author.profile_url == "https://www.facebook.com/10229384756"
    # Listed without "from": its author is looked up, never guessed.
    looked_up = posts["2000_7710001"]
    assert looked_up.author.external_id == "10230000001" and looked_up.author.name == "Lena Vogel"
    assert looked_up.text == "Kann mir jemand sagen, wann der Laden in Köln öffnet?"
    lookup = params_of(calls_to(rsps, ROOT)[0])
    assert lookup["ids"] == "2000_7710001" and "from" in lookup["fields"].split(",")

    assert [(q.external_id, q.reason) for q in result.quarantined] == [
        ("2000_7710000", "missing message")
    ]
    assert result.new_cursor["feed"] == ts("2026-11-23T10:15:00+00:00")

    feed_call = calls_to(rsps, FEED)[0]
    sent = params_of(feed_call)
    assert sent["access_token"] == "test-page-token"
    assert "since" not in sent  # first poll: one page, no paging
    assert set(sent["fields"].split(",")) >= {"id", "message", "created_time", "from"}


def test_feed_with_cursor_sends_since_and_follows_paging(channel, rsps):
    rsps.get(FEED, json=load("fb_feed.json"))
    rsps.get(FEED, json=load("fb_feed_page2.json"))
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))
    rsps.get(FEED, json=EMPTY)  # the activity listing for comments, afterwards
    quiet(rsps, TAGGED, CONVERSATIONS)
    cursor = {"feed": ts("2026-11-22T12:00:00+00:00")}

    result = FacebookConnector().fetch(channel, cursor)

    first, second = calls_to(rsps, FEED)[:2]
    assert params_of(first)["since"] == cursor["feed"]
    assert params_of(second)["after"] == "QVFIUnR3ZAXh5Y1pB"
    assert "2000_7709999" in by_id(result.posts)
    assert result.new_cursor["feed"] == ts("2026-11-23T10:15:00+00:00")


def test_comments_thread_under_their_post_and_skip_the_pages_replies(channel, rsps):
    rsps.get(FEED, json=EMPTY)  # no new visitor posts
    rsps.get(
        FEED,
        json={
            "data": [
                {
                    "id": "2000_7710002",
                    "created_time": "2026-11-23T09:00:00+0000",
                    "updated_time": "2026-11-23T10:31:00+0000",
                },
                {
                    "id": "2000_7700000",
                    "created_time": "2026-11-20T09:00:00+0000",
                    "updated_time": "2026-11-20T09:00:00+0000",
                },
            ]
        },
    )
    comments_url = f"{BASE}/{V}/2000_7710002/comments"
    rsps.get(comments_url, json=load("fb_comments.json"))
    # 55504 was listed without "from": the look-up says the page wrote it.
    rsps.get(ROOT, json=author_of("7710002_55504", PAGE, "Acme"))
    quiet(rsps, TAGGED, CONVERSATIONS)
    cursor = {"feed": "1795000000", "comments": ts("2026-11-23T10:00:00+00:00")}

    result = FacebookConnector().fetch(channel, cursor)

    # Only the post active since the cursor is read again.
    assert not calls_to(rsps, f"{BASE}/{V}/2000_7700000/comments")
    sent = params_of(calls_to(rsps, comments_url)[0])
    assert sent["since"] == cursor["comments"] and sent["filter"] == "stream"
    assert sent["order"] == "chronological" and "parent" in sent["fields"]

    posts = by_id(result.posts)
    assert set(posts) == {"7710002_55501", "7710002_55503"}  # 55504 is the page's own
    top, answer = posts["7710002_55501"], posts["7710002_55503"]
    assert top.kind == answer.kind == "comment"
    assert top.conversation_id == answer.conversation_id == "2000_7710002"
    assert top.in_reply_to_id == "2000_7710002"
    assert answer.in_reply_to_id == "7710002_55501"
    assert answer.text == "Same here!! مشكلة كبيرة"
    assert [(q.external_id, q.reason) for q in result.quarantined] == [
        ("7710002_55505", "missing created_time")
    ]
    assert result.new_cursor["comments"] == ts("2026-11-23T10:31:00+00:00")
    # The next round reads comments from this round's start: a post lifted above the
    # listing's position while this round read it was skipped, and is caught up then.
    assert result.new_cursor["comments_floor"] == cursor["comments"]

    rsps.reset()
    rsps.get(FEED, json=EMPTY)
    rsps.get(
        FEED, json={"data": [{"id": "2000_7710009", "updated_time": "2026-11-23T10:40:00+0000"}]}
    )
    late_url = f"{BASE}/{V}/2000_7710009/comments"
    rsps.get(late_url, json=EMPTY)
    quiet(rsps, TAGGED, CONVERSATIONS)

    FacebookConnector().fetch(channel, result.new_cursor)

    listing = params_of(calls_to(rsps, FEED)[1])
    # Listed from the newest activity of the last round's listing, its comments read from
    # the floor (the last round's start).
    assert listing["since"] == ts("2026-11-23T10:31:00+00:00")
    assert params_of(calls_to(rsps, late_url)[0])["since"] == cursor["comments"]
    assert result.new_cursor["feed"] == "1795000000"  # empty feed page keeps its cursor
    assert result.reads == 2 + 5 + 1  # activity listing + comments + the author look-up


def test_tagged_posts_are_kind_tag(channel, rsps):
    rsps.get(FEED, json=EMPTY)
    rsps.get(TAGGED, json=load("fb_tagged.json"))
    comments_url = f"{BASE}/{V}/10244455566_88001/comments"
    quiet(rsps, CONVERSATIONS, comments_url)

    result = FacebookConnector().fetch(channel, {})

    (post,) = result.posts
    assert post.kind == "tag" and post.conversation_id == "10244455566_88001"
    assert post.text == "Shout-out to Acme for the fast replacement! 🙌 Best service ever"
    assert result.new_cursor["tagged"] == ts("2026-11-23T09:10:00+00:00")
    # Its comments are read too (customers answer the page's replies there).
    assert params_of(calls_to(rsps, comments_url)[0])["filter"] == "stream"
    assert result.new_cursor["tagged_comments"] == ts("2026-11-23T09:10:00+00:00")


def test_messenger_reads_updated_conversations_until_the_cursor(channel, rsps):
    quiet(rsps, FEED, TAGGED)
    rsps.get(CONVERSATIONS, json=load("fb_conversations.json"))
    messages_url = f"{BASE}/{V}/t_3141592653589793/messages"
    rsps.get(messages_url, json=load("fb_messages.json"))
    old_url = f"{BASE}/{V}/t_2718281828459045/messages"
    rsps.get(old_url, json=EMPTY)
    cursor = {"messenger": ts("2026-11-23T09:30:00+00:00")}

    result = FacebookConnector().fetch(channel, cursor)

    sent = params_of(calls_to(rsps, CONVERSATIONS)[0])
    assert sent["platform"] == "messenger" and "since" not in sent
    # The second conversation is older than the cursor: listing stops, its messages unread.
    assert len(calls_to(rsps, CONVERSATIONS)) == 1
    assert not calls_to(rsps, old_url)
    # Messages come newest first; the page's own message is skipped; the 08:00 one is
    # older than the cursor, so the next page is not requested.
    assert len(calls_to(rsps, messages_url)) == 1
    (message,) = result.posts
    assert message.external_id == "m_kP8Z1wQ0bA7c2fJ9xLq3RtYvN5dE6"
    assert message.kind == "dm" and message.is_private is True
    assert message.conversation_id == "msg:t_3141592653589793"
    assert message.author.external_id == "24681357909876"
    assert message.author.name == "Sofia Rossi"
    assert message.text == "Thanks, the tracking link works now 👍"
    assert result.new_cursor["messenger"] == ts("2026-11-23T10:50:00+00:00")


def test_messenger_rereads_a_conversation_updated_in_the_cursors_own_second(channel, rsps):
    # Graph times are whole seconds: a message in the cursor's second may be new.
    quiet(rsps, FEED, TAGGED)
    rsps.get(
        CONVERSATIONS,
        json={"data": [{"id": "t_3141592653589793", "updated_time": "2026-11-23T10:50:00+0000"}]},
    )
    rsps.get(f"{BASE}/{V}/t_3141592653589793/messages", json=load("fb_messages.json"))

    result = FacebookConnector().fetch(channel, {"messenger": ts("2026-11-23T10:50:00+00:00")})

    assert [p.external_id for p in result.posts] == ["m_kP8Z1wQ0bA7c2fJ9xLq3RtYvN5dE6"]


def test_a_failed_author_lookup_fails_the_poll_so_the_next_one_retries(channel, rsps):
    rsps.get(FEED, json=load("fb_feed.json"))
    quiet(rsps, TAGGED, CONVERSATIONS, f"{BASE}/{V}/2000_7710003/comments")
    quiet(rsps, f"{BASE}/{V}/2000_7710002/comments", f"{BASE}/{V}/2000_7710001/comments")
    quiet(rsps, f"{BASE}/{V}/2000_7710000/comments")
    error = {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}
    rsps.get(ROOT, status=503, json={"error": error})

    with pytest.raises(TransientError):
        FacebookConnector().fetch(channel, {})


def test_repeated_page_is_deduplicated(channel, rsps):
    page = load("fb_feed.json")
    rsps.get(FEED, json=page)
    rsps.get(FEED, json={**page, "paging": {"cursors": {"after": "x"}}})  # served again
    rsps.get(FEED, json=EMPTY)
    quiet(rsps, TAGGED, CONVERSATIONS)
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))

    result = FacebookConnector().fetch(channel, {"feed": "1795000000"})

    assert len(calls_to(rsps, ROOT)) == 1  # the same post read twice is looked up once
    ids = [p.external_id for p in result.posts]
    assert sorted(ids) == ["2000_7710001", "2000_7710003"]


def test_an_empty_page_with_next_is_followed_and_a_refused_cursor_restarts_the_edge(channel, rsps):
    page = load("fb_feed.json")
    next_url = f"{FEED}?limit=100&after=QVFIUmVtcHR5"
    rsps.get(FEED, json={"data": [], "paging": {"next": next_url}})  # emptied by privacy
    rsps.get(FEED, json={**page, "paging": {}})
    quiet(rsps, TAGGED, CONVERSATIONS)
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))
    # Comments: one listing with nothing active, so no comment reads.
    since = {"feed": "1795000000", "comments": "2000000000"}

    result = FacebookConnector().fetch(channel, since)

    second = calls_to(rsps, FEED)[1]
    assert params_of(second)["after"] == "QVFIUmVtcHR5"
    assert sorted(p.external_id for p in result.posts) == ["2000_7710001", "2000_7710003"]

    rsps.reset()
    stale = {
        "error": {
            "message": "(#100) The after/before cursor is invalid",
            "type": "OAuthException",
            "code": 100,
        }
    }
    rsps.get(FEED, json=stale, status=400)
    rsps.get(FEED, json={**page, "paging": {}})
    quiet(rsps, TAGGED, CONVERSATIONS)
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))
    continuation = {"feed": {"since": "1795000000", "target": "1795000000", "after": "gone"}}

    resumed = FacebookConnector().fetch(channel, {**since, **continuation})

    refused, again = calls_to(rsps, FEED)[:2]
    assert params_of(refused)["after"] == "gone" and "after" not in params_of(again)
    assert params_of(again)["since"] == "1795000000"
    assert len(resumed.posts) == 2
    assert not isinstance(resumed.new_cursor["feed"], dict)  # drained


def test_get_connector_returns_the_facebook_connector():
    assert isinstance(get_connector("facebook"), FacebookConnector)


# ---- facebook-sdk defects and error mapping ----------------------------------------------


def test_graph_version_comes_from_settings_not_the_sdks_v2_8(channel, rsps):
    # The defect itself: the SDK refuses current versions in its constructor.
    with pytest.raises(facebook.GraphAPIError):
        facebook.GraphAPI(version="23.0")
    quiet(rsps, FEED, TAGGED, CONVERSATIONS)

    FacebookConnector().fetch(channel, {})

    assert rsps.calls
    assert all(urlparse(c.request.url).path.startswith("/v23.0/") for c in rsps.calls)


def test_session_rebases_the_url_and_adds_the_timeout(channel, rsps):
    quiet(rsps, FEED, TAGGED, CONVERSATIONS)

    FacebookConnector().fetch(channel, {})

    call = rsps.calls[0]
    assert call.request.url.startswith(f"{BASE}/v23.0/2000/feed?")
    assert call.request.req_kwargs["timeout"] == 9.0


def test_missing_content_type_does_not_raise_keyerror(channel, rsps):
    # A bare server (or a proxy) may send JSON without a content-type header.
    rsps.add(
        responses.Response(
            responses.GET, FEED, body=json.dumps(load("fb_feed.json")), content_type=None
        )
    )
    quiet(rsps, TAGGED, CONVERSATIONS)
    for post in ("2000_7710003", "2000_7710002", "2000_7710001", "2000_7710000"):
        quiet(rsps, f"{BASE}/{V}/{post}/comments")
    rsps.get(ROOT, json=author_of("2000_7710001", "10230000001", "Lena Vogel"))
    # The defect: facebook-sdk with a plain session indexes headers["content-type"].
    production_feed = f"{facebook.FACEBOOK_GRAPH_URL}{V}/{PAGE}/feed"
    rsps.add(responses.Response(responses.GET, production_feed, body="{}", content_type=None))
    with pytest.raises(KeyError):
        facebook.GraphAPI(access_token="t").request(f"{V}/{PAGE}/feed")

    result = FacebookConnector().fetch(channel, {})

    assert "2000_7710003" in by_id(result.posts)


def test_500_with_an_html_body_is_transient(channel, rsps):
    rsps.get(
        FEED,
        status=500,
        body="<html><body>Sorry, something went wrong.</body></html>",
        content_type="text/html",
    )

    with pytest.raises(TransientError):
        FacebookConnector().fetch(channel, {})


def graph_error(code: int, message: str, kind: str = "OAuthException", subcode=None) -> dict:
    return {
        "error": {
            "message": message,
            "type": kind,
            "code": code,
            "error_subcode": subcode,
            "fbtrace_id": "AbCdEfGhIjK",
        }
    }


def test_rate_limit_uses_estimated_time_to_regain_access(channel, rsps):
    usage = {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 12,
            }
        ]
    }
    rsps.get(
        FEED,
        status=403,
        json=graph_error(32, "Page request limit reached"),
        headers={"x-business-use-case-usage": json.dumps(usage)},
    )
    before = timezone.now()

    with pytest.raises(RateLimited) as caught:
        FacebookConnector().fetch(channel, {})

    assert before + timedelta(minutes=12) <= caught.value.reset_at
    assert caught.value.reset_at <= timezone.now() + timedelta(minutes=12)


def test_rate_limit_without_usage_header_waits_an_hour(channel, rsps):
    rsps.get(FEED, status=400, json=graph_error(4, "Application request limit reached"))
    before = timezone.now()

    with pytest.raises(RateLimited) as caught:
        FacebookConnector().fetch(channel, {})

    assert before + timedelta(minutes=59) < caught.value.reset_at
    assert caught.value.reset_at < timezone.now() + timedelta(minutes=61)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            {"status": 400, "json": graph_error(190, "Error validating access token", subcode=463)},
            AuthError,
        ),
        ({"status": 401, "json": graph_error(102, "Session key invalid")}, AuthError),
        ({"status": 200, "json": graph_error(190, "Token expired")}, AuthError),
        (
            {"status": 400, "json": graph_error(613, "Calls limited", "GraphMethodException")},
            RateLimited,
        ),
        ({"status": 429, "body": ""}, RateLimited),
        (
            {"status": 400, "json": graph_error(100, "Unsupported get", "GraphMethodException")},
            PermanentError,
        ),
        ({"status": 400, "json": graph_error(100, "(#100) Invalid parameter")}, PermanentError),
        ({"status": 500, "json": graph_error(1, "An unknown error occurred")}, TransientError),
        (
            {"status": 503, "json": graph_error(2, "Service temporarily unavailable")},
            TransientError,
        ),
        (
            {"status": 200, "body": "<html>maintenance</html>", "content_type": "text/html"},
            TransientError,
        ),
        ({"body": requests.ConnectionError("refused")}, TransientError),
        ({"body": requests.ReadTimeout("slow")}, TransientError),
    ],
)
def test_fetch_maps_graph_failures(channel, rsps, answer, error):
    rsps.get(FEED, **answer)

    with pytest.raises(error):
        FacebookConnector().fetch(channel, {})


# ---- publish and find_published ----------------------------------------------------------


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_publish_public_reply_comments_under_the_comment(channel, rsps):
    url = f"{BASE}/{V}/7710002_55501/comments"
    rsps.post(url, json={"id": "7710002_55600"})
    reply = make_facebook_reply(channel, text="Sorry Ahmed & co — we'll fix it 🙏")

    assert FacebookConnector().publish(outbound_reply(reply)) == "7710002_55600"

    body = form(rsps.calls[0])
    assert body == {
        "message": "Sorry Ahmed & co — we'll fix it 🙏",
        "access_token": "test-page-token",
    }
    assert rsps.calls[0].request.req_kwargs["timeout"] == 9.0


def test_publish_private_reply_to_a_comment_uses_recipient_comment_id(channel, rsps):
    url = f"{BASE}/{V}/{PAGE}/messages"
    rsps.post(url, json={"recipient_id": "24681357909876", "message_id": "m_new1"})
    reply = make_facebook_reply(channel, private=True, text="Please send your order number")

    assert FacebookConnector().publish(outbound_reply(reply)) == "m_new1"

    body = form(rsps.calls[0])
    assert json.loads(body["recipient"]) == {"comment_id": "7710002_55501"}
    assert json.loads(body["message"]) == {"text": "Please send your order number"}
    assert body["messaging_type"] == "RESPONSE"


def test_publish_in_a_messenger_conversation_uses_the_psid(channel, rsps):
    rsps.post(f"{BASE}/{V}/{PAGE}/messages", json={"recipient_id": "1", "message_id": "m_new2"})
    reply = make_facebook_reply(channel, kind="dm", private=True, text="Your refund is on its way")

    assert FacebookConnector().publish(outbound_reply(reply)) == "m_new2"

    body = form(rsps.calls[0])
    assert json.loads(body["recipient"]) == {"id": "10233344455"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"body": requests.ReadTimeout("no answer")}, AmbiguousSend),
        ({"status": 503, "body": "<html>busy</html>", "content_type": "text/html"}, AmbiguousSend),
        ({"body": requests.ConnectTimeout("never connected")}, TransientError),
        ({"status": 400, "json": graph_error(190, "Token expired")}, AuthError),
        ({"status": 400, "json": graph_error(32, "Page limit")}, RateLimited),
        ({"status": 400, "json": graph_error(100, "Bad", "GraphMethodException")}, PermanentError),
    ],
)
def test_publish_failures(channel, rsps, answer, error):
    rsps.post(f"{BASE}/{V}/7710002_55501/comments", **answer)
    reply = make_facebook_reply(channel)

    with pytest.raises(error) as caught:
        FacebookConnector().publish(outbound_reply(reply))

    assert isinstance(caught.value, AmbiguousSend) == (error is AmbiguousSend)


def test_find_published_finds_the_pages_comment_with_the_same_text(channel, rsps):
    url = f"{BASE}/{V}/7710002_55501/comments"
    rsps.get(
        url,
        json={
            "data": [
                {
                    "id": "7710002_55601",
                    "message": "Sorry!",
                    "created_time": "2026-11-23T10:30:02+0000",
                    "from": {"name": "Copycat", "id": "10299999999"},
                },
                {
                    "id": "7710002_55602",
                    "message": "Sorry!",
                    "created_time": "2026-11-23T10:30:03+0000",
                    "from": {"name": "Acme", "id": PAGE},
                },
            ]
        },
    )
    reply = make_facebook_reply(channel)

    assert FacebookConnector().find_published(outbound_reply(reply)) == "7710002_55602"
    assert params_of(rsps.calls[0])["since"] == ts("2026-11-23T10:28:00+00:00")


def test_find_published_returns_none_without_a_match(channel, rsps):
    rsps.get(
        f"{BASE}/{V}/7710002_55501/comments",
        json={
            "data": [
                {
                    "id": "7710002_55603",
                    "message": "Something else",
                    "created_time": "2026-11-23T10:30:02+0000",
                    "from": {"name": "Acme", "id": PAGE},
                }
            ]
        },
    )
    reply = make_facebook_reply(channel)

    assert FacebookConnector().find_published(outbound_reply(reply)) is None


def test_find_published_in_messenger_reads_the_conversation(channel, rsps):
    url = f"{BASE}/{V}/t_3141592653589793/messages"
    rsps.get(
        url,
        json={
            "data": [
                {
                    "id": "m_sent1",
                    "message": "Your refund is on its way",
                    "created_time": "2026-11-23T10:30:01+0000",
                    "from": {"name": "Acme", "id": PAGE},
                }
            ]
        },
    )
    reply = make_facebook_reply(channel, kind="dm", private=True, text="Your refund is on its way")

    assert FacebookConnector().find_published(outbound_reply(reply)) == "m_sent1"


# ---- import ------------------------------------------------------------------------------


def test_normalise_payload_detects_each_graph_shape():
    connector = FacebookConnector()

    posts, rejects = connector.normalise_payload(load("fb_feed.json"), account_id=PAGE)
    assert {p.kind for p in posts} == {"visitor_post"} and len(posts) == 1
    # Without "from" the post is held for a look-up, not given a made-up author.
    assert [(r.external_id, r.reason) for r in rejects] == [
        ("2000_7710001", "author unknown: Graph sent the item without `from`"),
        ("2000_7710000", "missing message"),
    ]

    comments, _ = connector.normalise_payload(load("fb_comments.json"), account_id=PAGE)
    assert {c.kind for c in comments} == {"comment"}
    assert {c.external_id for c in comments} == {"7710002_55501", "7710002_55503"}

    nested = {"id": "2000_7710002", "comments": load("fb_comments.json")}
    comments, _ = connector.normalise_payload(nested, account_id=PAGE)
    assert {c.conversation_id for c in comments} == {"2000_7710002"}

    messages, _ = connector.normalise_payload(load("fb_messages.json"), account_id=PAGE)
    assert {m.kind for m in messages} == {"dm"}
    # The conversation is read from the paging URL.
    assert {m.conversation_id for m in messages} == {"msg:t_3141592653589793"}

    tagged, _ = connector.normalise_payload({"id": PAGE, "tagged": load("fb_tagged.json")})
    assert [t.kind for t in tagged] == ["tag"]

    posts, rejects = connector.normalise_payload({"error": {"code": 190}})
    assert posts == [] and rejects[0].reason == "Graph API error response"
