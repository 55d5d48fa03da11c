"""The Instagram connector: normalisers on Graph's payload shapes (tests/payloads/ig_*.json,
after the IG Comment, IG User tags, mentioned_comment and conversations references), and
intake, backlogs and replies through the simulator with the real facebook-sdk code running."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse

from cases import sending, tasks
from cases.checks import BLOCK, check_length
from cases.models import Reply
from cases.replies import outbound_reply
from cases.sending import SendOutcome
from listening import polling
from listening.admin import ChannelForm
from listening.connectors import get_connector, instagram_paging
from listening.connectors.errors import AmbiguousSend, PermanentError
from listening.connectors.instagram import InstagramConnector, check_credentials
from listening.ingest import ingest as ingest_posts
from listening.models import Channel, Mention, Network
from listening.networks import POLICIES
from listening.polling import PollOutcome
from listening.posts import pending_streams
from tests.conftest import logged_in, make_channel

PAYLOADS = Path(__file__).parent / "payloads"
IG_ACCOUNT, PAGE = "17841400000000001", "2000"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


# ---- normalisers ---------------------------------------------------------------------------


def test_comments_with_nested_replies_skip_the_brands_own_and_keep_username_only_authors():
    posts, rejects = InstagramConnector().normalise_payload(
        load("ig_comments.json"), account_id=IG_ACCOUNT
    )
    by_id = {p.external_id: p for p in posts}
    assert sorted(by_id) == ["17858893269000001", "17858893269000003", "17858893269000004"]
    top, reply, plain = (by_id[i] for i in sorted(by_id))
    # The media id comes from the paging URL; replies hang under their top-level comment.
    assert top.conversation_id == reply.conversation_id == "17895695668004550"
    assert top.in_reply_to_id == "17895695668004550"
    assert reply.in_reply_to_id == "17858893269000001"
    assert top.author.external_id == "17841405822304914"
    assert top.author.handle == "lucia.garcia88"
    assert top.author.profile_url == "https://www.instagram.com/lucia.garcia88/"
    assert top.kind == "comment" and not top.is_private
    # `from` needs instagram_manage_comments; without it the username is the author.
    assert plain.author.external_id == "ig.username.tom_b"
    assert plain.text.startswith("<script>")  # kept as sent; templates escape it
    assert [(r.reason, r.external_id) for r in rejects] == [("missing text", "17858893269000005")]


def test_tags_are_kind_tag_and_a_tag_without_caption_is_kept():
    posts, rejects = InstagramConnector().normalise_payload(load("ig_tags.json"))
    assert not rejects
    assert [(p.kind, p.author.handle) for p in posts] == [
        ("tag", "kenji.sato"),
        ("tag", "photo_only"),
    ]
    assert posts[0].url == "https://www.instagram.com/p/DCkT5xYuP3a/"
    assert posts[1].text == "(tagged the brand in a post without a caption)"


def test_instagram_dms_are_private_and_the_brands_own_message_is_skipped():
    payload = load("ig_conversations.json")
    posts, rejects = InstagramConnector().normalise_payload(payload, account_id=IG_ACCOUNT)
    assert not rejects
    (message,) = posts
    conversation = payload["data"][0]["id"]
    assert message.kind == "dm" and message.is_private
    assert message.conversation_id == "msg:" + conversation
    assert message.author.external_id == "6543210987654321"
    assert message.author.handle == "marie_dupont"


def test_a_mentioned_comment_is_a_mention_threaded_under_its_media():
    (post,), _ = InstagramConnector().normalise_payload(load("ig_mentioned_comment.json"))
    assert post.kind == "mention"
    assert post.conversation_id == "17895695668004599"
    assert post.author.external_id == "ig.username.angry.dev"
    assert post.url == "https://www.instagram.com/p/DCkZZ9aaP1x/"


def test_credentials_need_the_page_token_and_page_id():
    check_credentials({"page_access_token": "EAAB", "page_id": "2000", "ig_user_id": "178414"})
    with pytest.raises(ValueError, match="missing page_id"):
        check_credentials({"page_access_token": "EAAB"})
    with pytest.raises(ValueError, match="numeric id"):
        check_credentials({"page_access_token": "EAAB", "page_id": "acme"})
    with pytest.raises(ValueError, match="remove bearer_token"):
        check_credentials({"page_access_token": "EAAB", "page_id": "2000", "bearer_token": "x"})
    assert isinstance(get_connector("instagram"), InstagramConnector)


@pytest.mark.django_db
def test_admin_form_checks_instagram_credentials():
    data = {
        "name": "Acme Instagram",
        "network": Network.INSTAGRAM,
        "handle": "acme",
        "external_account_id": IG_ACCOUNT,
        "enabled": True,
        "poll_interval": 60,
    }
    form = ChannelForm(data={**data, "credentials_json": '{"page_access_token": "EAAB"}'})
    assert not form.is_valid()
    assert "page_id" in str(form.errors)
    good = '{"page_access_token": "EAAB", "page_id": "2000"}'
    assert ChannelForm(data={**data, "credentials_json": good}).is_valid()


# ---- through the simulator -----------------------------------------------------------------


@pytest.fixture
def sim(simulator, settings):
    settings.FACEBOOK_GRAPH_URL = simulator.url
    settings.SOCIAL_HTTP_TIMEOUT = 2.0
    cache.clear()
    yield simulator
    cache.clear()


@pytest.fixture
def channel(sim, db) -> Channel:
    return make_channel(
        Network.INSTAGRAM,
        external_account_id=IG_ACCOUNT,
        handle="acme",
        credentials={"page_access_token": "t", "page_id": PAGE},
    )


def stored(channel: Channel) -> set[str]:
    return set(Mention.objects.filter(channel=channel).values_list("external_id", flat=True))


def poll(channel: Channel) -> None:
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    channel.refresh_from_db()


def test_new_comments_replies_tags_and_dms_arrive_once_and_reads_are_counted(sim, channel):
    poll(channel)  # the first look
    before = stored(channel)
    ids = {
        kind: sim.publish("instagram", 6, account_id=IG_ACCOUNT, kind=kind)
        for kind in ("comment", "comment_reply", "tag", "message")
    }
    poll(channel)
    poll(channel)  # nothing new: nothing stored twice
    new = stored(channel) - before
    assert new == {i for group in ids.values() for i in group}
    kinds = dict(Mention.objects.filter(channel=channel).values_list("external_id", "kind"))
    assert {kinds[i] for i in ids["tag"]} == {"tag"}
    assert {kinds[i] for i in ids["message"]} == {"dm"}
    assert channel.api_reads > 0
    assert not pending_streams(channel.cursor)


def test_a_backlog_past_the_page_budget_is_read_over_several_polls_each_item_once(
    sim, channel, monkeypatch
):
    monkeypatch.setattr(instagram_paging.facebook_paging, "MAX_PAGES", 4)
    poll(channel)
    before = stored(channel)
    comments = sim.publish("instagram", 900, account_id=IG_ACCOUNT, kind="comment")
    replies = sim.publish("instagram", 60, account_id=IG_ACCOUNT, kind="comment_reply")
    messages = sim.publish("instagram", 130, account_id=IG_ACCOUNT, kind="message")
    polls, mid_media = 0, False
    while True:
        polls += 1
        poll(channel)
        state = channel.cursor.get("ig_comments")
        mid_media |= isinstance(state, dict) and "media" in state
        if not pending_streams(channel.cursor):
            break
        assert polls < 60
    assert polls > 1
    assert mid_media  # a busy media's comments were left half read and resumed from `after`
    assert stored(channel) - before == set(comments + replies + messages)
    assert Mention.objects.filter(channel=channel).count() == len(stored(channel))


def test_a_failure_mid_comments_keeps_the_pages_read_before_it(sim, channel):
    poll(channel)
    before = stored(channel)
    comments = sim.publish("instagram", 300, account_id=IG_ACCOUNT, kind="comment")
    sim.fault("facebook", "500", count=10, path_contains="/comments", skip=2)
    assert polling.poll_channel(channel.pk) == PollOutcome.FAILED
    channel.refresh_from_db()
    kept = stored(channel) - before
    assert len(kept) >= 50  # the comment pages read before the failure are stored
    assert pending_streams(channel.cursor) == ["ig_comments"]
    sim.state.faults.clear()
    poll(channel)
    assert stored(channel) - before == set(comments)


def ingest(sim, channel: Channel, kind: str) -> Mention:
    (item_id,) = sim.publish("instagram", 1, account_id=IG_ACCOUNT, kind=kind)
    poll(channel)
    return Mention.objects.select_related("case", "author").get(
        channel=channel, external_id=item_id
    )


def send(reply: Reply) -> str:
    return sending.send_reply(reply.pk)


def test_comment_gets_a_public_reply_and_one_private_reply_within_seven_days(
    sim, channel, agent, monkeypatch
):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *a: None)
    comment = ingest(sim, channel, "comment")
    case = comment.case
    public = sending.do_queue_reply(case, author=agent, text="So sorry!", is_private=False)
    private = sending.do_queue_reply(case, author=agent, text="See your DMs.", is_private=True)
    with pytest.raises(ValueError, match="one private reply per comment"):
        sending.do_queue_reply(case, author=agent, text="Again", is_private=True)
    assert send(public) == SendOutcome.SENT
    assert send(private) == SendOutcome.SENT
    received = sim.replies("instagram")
    assert [(r["kind"], r["in_reply_to"]) for r in received] == [
        ("comment", comment.external_id),
        ("private_reply", comment.external_id),
    ]
    poll(channel)  # the brand's own reply is read back, and never opens a case
    assert received[0]["id"] not in stored(channel)

    old = ingest(sim, channel, "comment")
    Mention.objects.filter(pk=old.pk).update(posted_at=old.posted_at - timedelta(days=8))
    with pytest.raises(ValueError, match="only within 7 d"):
        sending.do_queue_reply(old.case, author=agent, text="Hello", is_private=True)


def test_dm_inside_the_24_hour_window_is_sent_and_outside_is_refused(
    sim, channel, agent, monkeypatch
):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *a: None)
    message = ingest(sim, channel, "message")
    case = message.case
    assert case.is_private
    with pytest.raises(ValueError, match="private conversation"):
        sending.do_queue_reply(case, author=agent, text="Public?", is_private=False)
    reply = sending.do_queue_reply(case, author=agent, text="Happy to help 🙂", is_private=True)
    assert send(reply) == SendOutcome.SENT
    (received,) = sim.replies("instagram")
    assert (received["kind"], received["recipient"]) == ("message", message.author.external_id)

    Mention.objects.filter(case=case).update(posted_at=message.posted_at - timedelta(hours=25))
    with pytest.raises(ValueError, match="within 24 h of the customer's last message"):
        sending.do_queue_reply(case, author=agent, text="Still there?", is_private=True)


def test_a_tag_takes_neither_a_public_nor_a_private_reply(sim, channel, agent, monkeypatch):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *a: None)
    tag = ingest(sim, channel, "tag")
    assert tag.kind == "tag"
    for private in (False, True):
        with pytest.raises(ValueError, match="tagged or mentioned in"):
            sending.do_queue_reply(tag.case, author=agent, text="Thanks!", is_private=private)
    assert not Reply.objects.exists()
    assert sim.replies("instagram") == []


def test_an_ambiguous_public_reply_is_found_and_posted_once(sim, channel, agent, monkeypatch):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *a: None)
    comment = ingest(sim, channel, "comment")
    reply = sending.do_queue_reply(
        comment.case, author=agent, text="We are on it.", is_private=False
    )
    Reply.objects.filter(pk=reply.pk).update(state=Reply.State.SENDING)
    reply.refresh_from_db()
    sim.fault("facebook", "accept_then_500", path_contains="/replies")
    connector = get_connector("instagram")
    with pytest.raises(AmbiguousSend):
        connector.publish(outbound_reply(reply))
    found = connector.find_published(outbound_reply(reply))
    (received,) = sim.replies("instagram")
    assert found == received["id"]
    # The sender's own path: a reconciling reply is looked up, never sent again.
    other = ingest(sim, channel, "comment")
    queued = sending.do_queue_reply(other.case, author=agent, text="On it!", is_private=False)
    sim.fault("facebook", "accept_then_500", path_contains="/replies")
    send(queued)
    for _ in range(len(sending.settle_schedule()) + 1):
        if Reply.objects.get(pk=queued.pk).state != Reply.State.RECONCILING:
            break
        Reply.objects.filter(pk=queued.pk).update(next_attempt_at=queued.created_at)
        send(queued)
    queued.refresh_from_db()
    assert queued.state == Reply.State.SENT
    assert [r["in_reply_to"] for r in sim.replies("instagram")].count(other.external_id) == 1


# ---- the simulator is as strict as Graph --------------------------------------------------


def graph_get(sim, path: str, **params) -> tuple[int, dict]:
    answer = requests.get(
        f"{sim.url}/v23.0/{path}", params={"access_token": "t", **params}, timeout=5
    )
    return answer.status_code, answer.json()


def test_simulator_sends_only_default_fields_unless_asked_and_caps_pages(sim):
    (comment_id,) = sim.publish("instagram", 1, account_id=IG_ACCOUNT, kind="comment")
    media_id = sim.state.ig.comments[comment_id].media_id
    _, media = graph_get(sim, f"{IG_ACCOUNT}/media")
    assert set(media["data"][0]) == {"id"}
    _, comments = graph_get(sim, f"{media_id}/comments")
    assert set(comments["data"][0]) == {"id", "text", "timestamp"}  # no username, no from
    _, asked = graph_get(sim, f"{media_id}/comments", fields="id,username,from")
    assert asked["data"][0]["from"]["username"] == asked["data"][0]["username"]
    sim.publish("instagram", 130, account_id=IG_ACCOUNT, kind="message")
    _, listing = graph_get(sim, f"{PAGE}/conversations", platform="instagram", limit=500)
    assert len(listing["data"]) == 100 and "next" in listing["paging"]
    _, messenger = graph_get(sim, f"{PAGE}/conversations", platform="messenger")
    assert not {c["id"] for c in messenger["data"]} & {c["id"] for c in listing["data"]}


def test_simulator_answers_errors_in_graphs_shape(sim):
    status, body = graph_get(sim, "999999/replies")
    assert status == 400
    assert body["error"]["code"] == 100 and body["error"]["type"] == "GraphMethodException"
    (comment_id,) = sim.publish("instagram", 1, account_id=IG_ACCOUNT, kind="comment")
    too_long = requests.post(
        f"{sim.url}/v23.0/{comment_id}/replies",
        data={"access_token": "t", "message": "x" * 2201},
        timeout=5,
    )
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == 100


def test_the_composer_says_once_why_a_tag_takes_no_reply(sim, channel, agent):
    tag = ingest(sim, channel, "tag")
    html = (
        logged_in(agent)
        .get(reverse("cases:compose", args=[tag.case.pk]), headers={"HX-Request": "true"})
        .content.decode()
    )
    assert html.count("takes neither comments nor private replies on media") == 1
    assert "No reply is possible here" in html


def test_a_mention_named_by_a_webhook_is_read_with_the_field_expansion_and_ingested(sim, channel):
    (comment_id,) = sim.publish("instagram", 1, account_id=IG_ACCOUNT, kind="mention")
    poll(channel)
    assert comment_id not in stored(channel)  # no listing shows it: only a webhook names it
    connector = InstagramConnector()
    post = connector.fetch_mention(channel, comment_id=comment_id)
    assert post.kind == "mention" and post.text.startswith("@acme ")
    assert post.url.startswith("https://www.instagram.com/p/")
    ingest_posts(channel, [post], channel.cursor)
    assert comment_id in stored(channel)
    with pytest.raises(PermanentError):
        connector.fetch_mention(channel, comment_id="17999999999999999")


def test_an_ambiguous_dm_is_reconciled_and_sent_once(sim, channel, agent, monkeypatch):
    monkeypatch.setattr(tasks.send_reply, "delay", lambda *a: None)
    message = ingest(sim, channel, "message")
    reply = sending.do_queue_reply(message.case, author=agent, text="On it 🙂", is_private=True)
    sim.fault("facebook", "accept_then_500", path_contains="/messages")
    send(reply)
    for _ in range(len(sending.settle_schedule()) + 1):
        if Reply.objects.get(pk=reply.pk).state != Reply.State.RECONCILING:
            break
        Reply.objects.filter(pk=reply.pk).update(next_attempt_at=reply.created_at)
        send(reply)
    reply.refresh_from_db()
    (received,) = sim.replies("instagram")
    assert reply.state == Reply.State.SENT and reply.external_id == received["id"]


def test_every_network_the_desk_stores_has_its_terms_as_data():
    assert set(POLICIES) == set(Network.values)


def test_length_check_follows_instagrams_limits():
    assert check_length("a" * 2200, network="instagram", is_private=False).severity != BLOCK
    assert check_length("a" * 2201, network="instagram", is_private=False).severity == BLOCK
    assert check_length("é" * 1000, network="instagram", is_private=True).severity != BLOCK
    assert check_length("é" * 1001, network="instagram", is_private=True).severity == BLOCK
