"""Hiding, showing and deleting on the networks, through the connectors with the real
facebook-sdk and tweepy code running: one-off answers with `responses` (the shapes Graph and X
document), and the simulator, which refuses what the networks refuse."""

from urllib.parse import parse_qs

import pytest

from listening.connectors import get_connector
from listening.connectors.errors import (
    AuthError,
    PermanentError,
    PostGone,
    RateLimited,
    TransientError,
)
from listening.models import Network
from listening.posts import ModeratedPost
from tests.conftest import X_API, calls_to, make_channel
from tests.simulator import running_simulator

GRAPH = "http://graph-sim.test:8100"
V = "v23.0"
COMMENT = "7710002_55501"
GONE = {
    "error": {
        "message": f"Unsupported delete request. Object with ID '{COMMENT}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        "type": "GraphMethodException",
        "code": 100,
        "error_subcode": 33,
        "fbtrace_id": "AbCdEfGh123",
    }
}


@pytest.fixture
def fb_settings(settings):
    settings.FACEBOOK_GRAPH_URL = GRAPH
    settings.FACEBOOK_GRAPH_VERSION = V
    settings.SOCIAL_HTTP_TIMEOUT = 5.0
    return settings


# ---- Graph, one answer at a time -------------------------------------------------------------


def test_hiding_posts_is_hidden_to_the_comment_with_the_page_token(db, rsps, fb_settings):
    channel = make_channel(Network.FACEBOOK, credentials={"page_access_token": "page-tok"})
    url = f"{GRAPH}/{V}/{COMMENT}"
    rsps.post(url, json={"success": True})

    get_connector("facebook").set_hidden(ModeratedPost(channel, COMMENT), hidden=True)
    get_connector("facebook").set_hidden(ModeratedPost(channel, COMMENT), hidden=False)

    sent = [parse_qs(call.request.body) for call in calls_to(rsps, url)]
    assert [form["is_hidden"] for form in sent] == [["true"], ["false"]]
    assert all(form["access_token"] == ["page-tok"] for form in sent)


def test_graph_refusals_become_clear_connector_errors(db, rsps, fb_settings):
    channel = make_channel(Network.FACEBOOK)
    url = f"{GRAPH}/{V}/{COMMENT}"
    post = ModeratedPost(channel, COMMENT)
    own = {
        "error": {
            "message": "(#100) Cannot hide own comment",
            "type": "OAuthException",
            "code": 100,
        }
    }
    rsps.post(url, json=own, status=400)
    with pytest.raises(PermanentError, match="Cannot hide own comment") as refused:
        get_connector("facebook").set_hidden(post, hidden=True)
    assert not isinstance(refused.value, PostGone)

    rsps.replace("POST", url, json=GONE, status=400)
    with pytest.raises(PostGone, match="does not exist"):
        get_connector("facebook").set_hidden(post, hidden=True)

    limited = {"error": {"message": "(#32) Page request limit reached", "code": 32}}
    rsps.replace("POST", url, json=limited, status=400)
    with pytest.raises(RateLimited):
        get_connector("facebook").set_hidden(post, hidden=True)

    rsps.replace("POST", url, body="<html>Bad gateway</html>", status=502)
    with pytest.raises(TransientError):
        get_connector("facebook").set_hidden(post, hidden=True)

    expired = {"error": {"message": "Error validating access token", "code": 190}}
    rsps.replace("POST", url, json=expired, status=400)
    with pytest.raises(AuthError):
        get_connector("facebook").set_hidden(post, hidden=True)

    rsps.replace("POST", url, json={"success": False})
    with pytest.raises(PermanentError, match="did not confirm"):
        get_connector("facebook").set_hidden(post, hidden=True)


def test_graph_delete_says_whether_it_deleted_or_found_it_gone(db, rsps, fb_settings):
    channel = make_channel(Network.FACEBOOK)
    url = f"{GRAPH}/{V}/{COMMENT}"
    rsps.delete(url, json={"success": True})
    assert get_connector("facebook").delete_post(ModeratedPost(channel, COMMENT)) is True
    rsps.replace("DELETE", url, json=GONE, status=400)
    assert get_connector("facebook").delete_post(ModeratedPost(channel, COMMENT)) is False
    assert len(calls_to(rsps, url)) == 2


def test_an_id_that_is_no_graph_id_is_never_sent(db, rsps, fb_settings):
    channel = make_channel(Network.FACEBOOK)
    with pytest.raises(PermanentError, match="not a post id"):
        get_connector("facebook").delete_post(ModeratedPost(channel, "../me/feed"))
    assert len(rsps.calls) == 0


# ---- X, one answer at a time -----------------------------------------------------------------


def test_x_delete_uses_delete_tweet_and_reads_its_answer(db, rsps, x_settings):
    channel = make_channel(Network.X, credentials={"bearer_token": "user-tok"})
    url = f"{X_API}/2/tweets/1861000000000000999"
    rsps.delete(url, json={"data": {"deleted": True}})
    post = ModeratedPost(channel, "1861000000000000999")
    assert get_connector("x").delete_post(post) is True
    assert calls_to(rsps, url)[0].request.headers["Authorization"] == "Bearer user-tok"

    not_found = {"title": "Not Found Error", "detail": "Could not find tweet", "status": 404}
    rsps.replace("DELETE", url, json=not_found, status=404)
    assert get_connector("x").delete_post(post) is False

    forbidden = {"title": "Forbidden", "detail": "You are not allowed", "status": 403}
    rsps.replace("DELETE", url, json=forbidden, status=403)
    with pytest.raises(PermanentError, match="You are not allowed"):
        get_connector("x").delete_post(post)

    rsps.replace("DELETE", url, json={"data": {"deleted": False}})
    with pytest.raises(PermanentError, match="did not confirm"):
        get_connector("x").delete_post(post)


# ---- the simulator: as strict as the networks ------------------------------------------------


@pytest.fixture
def sim(settings):
    with running_simulator(seed=5) as client:
        settings.X_API_BASE_URL = client.url
        settings.FACEBOOK_GRAPH_URL = client.url
        settings.FACEBOOK_GRAPH_VERSION = V
        yield client


def _page_comment(sim, answering: str) -> str:
    with sim.state.lock:
        return sim.state.fb.post_comment(answering, {"message": "Sorry! Please DM us."})["id"]


def test_the_page_hides_and_shows_a_customers_comment_and_graph_reports_it(db, sim):
    page = make_channel(Network.FACEBOOK, external_account_id="2000")
    comment = sim.publish("facebook", kind="comment")[0]
    connector = get_connector("facebook")

    connector.set_hidden(ModeratedPost(page, comment), hidden=True)
    with sim.state.lock:
        shown = sim.state.fb.comment_json(sim.state.fb.comments[comment], {"is_hidden", "can_hide"})
    assert shown["is_hidden"] is True and shown["can_hide"] is True
    connector.set_hidden(ModeratedPost(page, comment), hidden=False)
    assert sim.state.fb.comments[comment].hidden is False
    assert [m["hidden"] for m in sim.state.moderations] == [True, False]
    assert sim.stats()["moderations_accepted"] == 2


def test_graph_refuses_to_hide_the_pages_own_comment_or_another_pages(db, sim):
    page = make_channel(Network.FACEBOOK, external_account_id="2000")
    comment = sim.publish("facebook", kind="comment")[0]
    own = _page_comment(sim, comment)
    with pytest.raises(PermanentError, match="posted by the Page"):
        get_connector("facebook").set_hidden(ModeratedPost(page, own), hidden=True)

    sim.register_account("facebook", "3000", "other", token="other-page-token")
    other = make_channel(
        Network.FACEBOOK,
        external_account_id="3000",
        credentials={"page_access_token": "other-page-token"},
    )
    with pytest.raises(PermanentError, match="permission"):
        get_connector("facebook").set_hidden(ModeratedPost(other, comment), hidden=True)
    assert sim.state.fb.comments[comment].hidden is False


def test_a_deleted_reply_is_gone_from_graph_and_a_second_delete_finds_it_gone(db, sim):
    page = make_channel(Network.FACEBOOK, external_account_id="2000")
    comment = sim.publish("facebook", kind="comment")[0]
    own = _page_comment(sim, comment)
    connector = get_connector("facebook")

    assert connector.delete_post(ModeratedPost(page, own)) is True
    assert own not in sim.state.fb.comments
    with sim.state.lock:
        listed = sim.state.fb.get_comments(comment, {"params": {}, "path": "", "base_url": ""})
    assert own not in [item["id"] for item in listed["data"]]
    assert connector.delete_post(ModeratedPost(page, own)) is False
    with pytest.raises(PostGone):
        connector.set_hidden(ModeratedPost(page, own), hidden=True)


def test_x_deletes_the_brands_own_post_only(db, sim):
    brand = make_channel(Network.X, external_account_id="1000", credentials={"bearer_token": "t"})
    mention = sim.publish("x", kind="mention")[0]
    with sim.state.lock:
        account = sim.state.account("x", "1000")
        reply = sim.state.x.create_tweet(
            account, {"text": "Sorry! DM us.", "reply": {"in_reply_to_tweet_id": mention}}
        )["data"]["id"]
    connector = get_connector("x")

    with pytest.raises(PermanentError, match="not allowed to delete"):
        connector.delete_post(ModeratedPost(brand, str(mention)))
    assert int(mention) in sim.state.x.tweets

    assert connector.delete_post(ModeratedPost(brand, str(reply))) is True
    assert int(reply) not in sim.state.x.tweets
    assert int(reply) not in sim.state.x.timelines["1000"]
    assert connector.delete_post(ModeratedPost(brand, str(reply))) is False
