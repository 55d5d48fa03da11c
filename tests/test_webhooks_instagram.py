"""Instagram webhooks: each field (comments, mentions, messages) and what the desk does with
it, once with the poll, and hiding Instagram comments.

Deliveries follow Meta's Instagram Webhooks and Instagram Messaging references
(tests/payloads/ig_webhooks.json). Graph, where processing asks it (a DM sender's
conversation, a mention's text), is faked with `responses`, or served by the simulator, which
also delivers the webhooks itself.
"""

import copy
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from cases import moderation
from cases.models import Moderation
from cases.moderation import Outcome
from listening import networks, polling, webhooks
from listening.connectors import get_connector
from listening.connectors.errors import PermanentError
from listening.models import Channel, Mention, MentionKind, Network, WebhookEvent
from listening.polling import PollOutcome
from listening.posts import ModeratedPost
from tests.conftest import calls_to, logged_in, make_channel
from tests.factories import make_case
from tests.simulator import SimulatorClient, running_simulator
from tests.test_moderation import hide

PAYLOADS = json.loads((Path(__file__).parent / "payloads" / "ig_webhooks.json").read_text())
SECRET = "test-app-secret"
GRAPH = "http://graph-sim.test:8100"
IG, PAGE = "17841400000000001", "2000"
IGSID = "6543210987654321"
CONVERSATIONS = f"{GRAPH}/v23.0/{PAGE}/conversations"


@pytest.fixture
def meta(settings):
    settings.META_APP_SECRET = SECRET
    settings.META_WEBHOOK_MAX_AGE = 3600
    settings.FACEBOOK_GRAPH_URL = GRAPH
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    cache.delete(webhooks.REFUSED_FOR_APP_KEY)
    return settings


@pytest.fixture
def account(db) -> Channel:
    return make_channel(
        Network.INSTAGRAM,
        external_account_id=IG,
        handle="acme",
        credentials={"page_access_token": "page-tok", "page_id": PAGE},
    )


def deliver(body: bytes, capture) -> WebhookEvent:
    """POST a signed body as Meta does, then process the stored event as a worker would."""
    with capture():
        response = Client().post(
            "/webhooks/meta/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=webhooks.signature_of(body, SECRET),
        )
    assert response.status_code == 200
    event = WebhookEvent.objects.latest("received_at")
    webhooks.process_event(event.pk)
    event.refresh_from_db()
    return event


def receive(name: str, capture) -> WebhookEvent:
    payload = copy.deepcopy(PAYLOADS[name])
    for entry in payload["entry"]:
        entry["time"] = int(time.time() * 1000) if "messaging" in entry else int(time.time())
    return deliver(json.dumps(payload).encode(), capture)


# ---- comments -----------------------------------------------------------------------------


def test_a_comment_and_its_reply_are_threaded_under_the_media_and_our_own_is_dropped(
    meta, account, django_capture_on_commit_callbacks
):
    first = receive("comment", django_capture_on_commit_callbacks)
    receive("comment_reply", django_capture_on_commit_callbacks)
    own = receive("own_comment", django_capture_on_commit_callbacks)

    assert first.state == "processed" and first.outcome["created"] == 1
    comment, reply = Mention.objects.order_by("external_id")
    assert (comment.external_id, reply.external_id) == ("17865799348089039", "17865799348089077")
    assert comment.kind == reply.kind == MentionKind.COMMENT
    # The poll threads a comment under its media: the same conversation, one case.
    assert comment.conversation_id == reply.conversation_id == "17895695668004550"
    assert reply.in_reply_to_id == "17865799348089039"
    assert comment.case_id == reply.case_id
    assert comment.author.external_id == IGSID and comment.author.handle == "marie_dupont"
    assert comment.text == "Ma commande <b>#4411</b> n'est jamais arrivée 😕"  # kept raw
    assert (
        own.outcome["created"] == 0
        and not Mention.objects.filter(external_id="17865799348089088").exists()
    )


def test_a_comment_without_text_is_left_to_the_poll(
    meta, account, django_capture_on_commit_callbacks
):
    event = receive("comment_no_text", django_capture_on_commit_callbacks)
    assert event.state == "processed"
    assert event.outcome["left_to_poll"] == [
        {"external_id": "17865799348089099", "reason": "missing text"}
    ]
    assert not Mention.objects.exists()


def test_a_webhook_for_an_account_no_channel_knows_is_unmatched(
    meta, db, django_capture_on_commit_callbacks
):
    make_channel(Network.FACEBOOK, external_account_id=IG)  # same id, another network
    event = receive("comment", django_capture_on_commit_callbacks)
    assert (event.object, event.state) == ("instagram", "unmatched")


# ---- mentions -----------------------------------------------------------------------------


@responses.activate
def test_a_mention_is_read_from_graph_by_the_ids_the_change_names(
    meta, account, django_capture_on_commit_callbacks
):
    url = f"{GRAPH}/v23.0/{IG}"
    mentioned = json.loads(
        (Path(__file__).parent / "payloads" / "ig_mentioned_comment.json").read_text()
    )
    responses.get(url, json=mentioned)
    event = receive("mention_comment", django_capture_on_commit_callbacks)

    [call] = calls_to(responses.mock, url)
    fields = parse_qs(call.request.url.split("?", 1)[1])["fields"][0]
    assert fields.startswith("mentioned_comment.comment_id(17873440459141021){")
    assert event.state == "processed" and event.outcome["created"] == 1
    stored = Mention.objects.get()
    assert (stored.external_id, stored.kind) == ("17873440459141021", MentionKind.MENTION)
    assert stored.conversation_id == "17895695668004599"
    assert stored.author.handle == "angry.dev"

    # A caption mention names the media alone: read with mentioned_media.
    responses.replace(
        responses.GET,
        url,
        json={
            "mentioned_media": {
                "id": "17918195224117851",
                "caption": "Unboxing my new @acme speaker, no sound at all",
                "timestamp": "2026-11-23T09:00:00+0000",
                "username": "sam.k",
                "permalink": "https://www.instagram.com/p/DCkZZ9bbQ2y/",
            },
            "id": IG,
        },
    )
    receive("mention_caption", django_capture_on_commit_callbacks)
    caption = Mention.objects.get(external_id="17918195224117851")
    assert caption.kind == MentionKind.MENTION and "no sound" in caption.text
    last = calls_to(responses.mock, url)[-1].request.url
    fields = parse_qs(last.split("?", 1)[1])["fields"][0]
    assert fields.startswith("mentioned_media.media_id(17918195224117851){")


@responses.activate
def test_a_mention_graph_no_longer_has_is_recorded_on_the_event_not_retried(
    meta, account, django_capture_on_commit_callbacks
):
    responses.get(
        f"{GRAPH}/v23.0/{IG}",
        status=400,
        json={
            "error": {
                "message": "Unsupported get request. Object with ID '17873440459141021' does "
                "not exist, cannot be loaded due to missing permissions, or does not support "
                "this operation.",
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
            }
        },
    )
    event = receive("mention_comment", django_capture_on_commit_callbacks)
    assert event.state == "processed"
    [held] = event.outcome["left_to_poll"]
    assert held["external_id"] == "17873440459141021"
    assert held["reason"].startswith("mention not readable")
    assert not Mention.objects.exists()


# ---- direct messages ----------------------------------------------------------------------


def ig_conversation(conversation_id: str = "aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6OTk") -> dict:
    return {
        "data": [
            {
                "id": conversation_id,
                "updated_time": "2026-12-01T10:00:00+0000",
                "participants": {
                    "data": [
                        {"username": "marie_dupont", "id": IGSID},
                        {"username": "acme", "id": IG},
                    ]
                },
            }
        ]
    }


@responses.activate
def test_a_dm_joins_the_instagram_conversation_graph_lists_for_its_sender(
    meta, account, django_capture_on_commit_callbacks
):
    responses.get(CONVERSATIONS, json=ig_conversation())
    receive("message", django_capture_on_commit_callbacks)
    echo = receive("message_echo", django_capture_on_commit_callbacks)
    read = receive("message_read", django_capture_on_commit_callbacks)

    [call] = calls_to(responses.mock, CONVERSATIONS)  # on the linked Page, for Instagram
    query = parse_qs(call.request.url.split("?", 1)[1])
    assert (query["platform"], query["user_id"]) == (["instagram"], [IGSID])
    dm = Mention.objects.get()
    assert dm.kind == MentionKind.DIRECT_MESSAGE and dm.is_private
    assert dm.conversation_id == "msg:aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6OTk"  # as the poll
    assert (dm.author.external_id, dm.author.handle) == (IGSID, "marie_dupont")
    assert echo.outcome["ignored"] == 1 and read.outcome["ignored"] == 1

    # A later DM from the same customer: the stored conversation, no Graph call, one case.
    payload = copy.deepcopy(PAYLOADS["message"])
    payload["entry"][0]["time"] = int(time.time() * 1000)
    payload["entry"][0]["messaging"][0]["message"]["mid"] = "aWdfZAG1faXRlbToxOklHTWVzc2FnZA2"
    deliver(json.dumps(payload).encode(), django_capture_on_commit_callbacks)
    assert len(calls_to(responses.mock, CONVERSATIONS)) == 1
    second = Mention.objects.get(external_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZA2")
    assert second.conversation_id == dm.conversation_id and second.case_id == dm.case_id
    assert second.author_id == dm.author_id


@responses.activate
def test_a_dm_whose_conversation_graph_does_not_list_yet_is_left_to_the_poll(
    meta, account, django_capture_on_commit_callbacks
):
    responses.get(CONVERSATIONS, json={"data": []})
    event = receive("message", django_capture_on_commit_callbacks)
    assert event.state == "processed"
    [left] = event.outcome["left_to_poll"]
    assert left["external_id"] == PAYLOADS["message"]["entry"][0]["messaging"][0]["message"]["mid"]
    assert not Mention.objects.exists()  # no second thread under the sender's id


@responses.activate
def test_an_edited_dm_is_replaced_and_an_unsent_one_removed(
    meta, account, django_capture_on_commit_callbacks
):
    responses.get(CONVERSATIONS, json=ig_conversation())
    receive("message", django_capture_on_commit_callbacks)
    receive("message_edit", django_capture_on_commit_callbacks)
    dm = Mention.objects.get()
    assert dm.text.endswith("#4411")
    removed = receive("message_deleted", django_capture_on_commit_callbacks)
    assert removed.outcome["changes"] == 1 and removed.outcome["awaiting_handler"] == []
    dm.refresh_from_db()
    assert dm.deleted_at is not None and dm.text == ""


# ---- with the poll, through the simulator -------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Stands in for the desk's URL: keeps what the simulator delivers, to hand it to the
    desk's view within the test's transaction."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/meta/"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("X-Hub-Signature-256") == webhooks.signature_of(body, SECRET):
            with self.server.lock:
                self.server.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def sim(meta) -> Iterator[tuple[SimulatorClient, Receiver]]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    with running_simulator(seed=5, fault_sleep=0.5) as client:
        meta.FACEBOOK_GRAPH_URL = client.url
        meta.SOCIAL_HTTP_TIMEOUT = 2.0
        client.webhooks(receiver.url, SECRET)
        yield client, receiver
    receiver.shutdown()
    receiver.server_close()
    thread.join(timeout=5)


def hand_over(client: SimulatorClient, receiver: Receiver, capture) -> list[WebhookEvent]:
    """Every delivery the simulator made so far, received and processed by the desk."""
    assert client.state.webhooks.wait_idle(30)
    with receiver.lock:
        bodies, receiver.bodies[:] = list(receiver.bodies), []
    return [deliver(body, capture) for body in bodies]


def poll(channel: Channel) -> None:
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    channel.refresh_from_db()


def test_webhook_and_poll_store_each_comment_and_dm_once_in_the_polls_threads(
    sim, account, django_capture_on_commit_callbacks
):
    client, receiver = sim
    poll(account)  # the first look
    comment = client.publish("instagram", 1, account_id=IG, kind="comment", seed=1)[0]
    reply = client.publish("instagram", 1, account_id=IG, kind="comment_reply", seed=1)[0]
    dm = client.publish("instagram", 1, account_id=IG, kind="message", seed=2)[0]
    events = hand_over(client, receiver, django_capture_on_commit_callbacks)
    assert len(events) == 3 and all(e.state == "processed" for e in events)
    by_webhook = {
        m.external_id: (m.conversation_id, m.author.external_id, m.case_id)
        for m in Mention.objects.select_related("author")
    }
    assert {comment, dm} <= set(by_webhook)

    poll(account)  # reads the same items: nothing stored twice, nothing moved
    after = {
        m.external_id: (m.conversation_id, m.author.external_id, m.case_id)
        for m in Mention.objects.select_related("author")
    }
    assert Mention.objects.filter(external_id__in=[comment, reply, dm]).count() == len(
        {comment, reply, dm}
    )
    assert {k: after[k] for k in by_webhook} == by_webhook
    conversation = client.state.ig.messages[dm].conversation_id
    assert after[dm][0] == f"msg:{conversation}"  # the poll's thread key, one case

    # The customer writes again; the poll reads it first, the webhook after: one thread.
    with client.state.lock:
        ig = client.state.ig
        thread = ig.conversations[conversation]
        brand = client.state.accounts[("instagram", IG)]
        again = ig._add_message(thread, brand, "Any news?", from_brand=False).id
    poll(account)
    hand_over(client, receiver, django_capture_on_commit_callbacks)
    later = Mention.objects.get(external_id=again)
    assert (later.conversation_id, later.case_id) == (after[dm][0], after[dm][2])


def test_a_webhook_dropped_while_the_desk_was_down_is_read_by_the_next_poll(
    sim, account, django_capture_on_commit_callbacks
):
    client, receiver = sim
    poll(account)
    client.fault("facebook", "webhook_drop", count=2)
    comment = client.publish("instagram", 1, account_id=IG, kind="comment", seed=3)[0]
    dm = client.publish("instagram", 1, account_id=IG, kind="message", seed=3)[0]
    assert hand_over(client, receiver, django_capture_on_commit_callbacks) == []
    poll(account)
    assert set(Mention.objects.values_list("external_id", flat=True)) >= {comment, dm}


def test_a_mention_delivered_by_the_simulator_is_read_and_stored(
    sim, account, django_capture_on_commit_callbacks
):
    client, receiver = sim
    mention = client.publish("instagram", 1, account_id=IG, kind="mention", seed=4)[0]
    [event] = hand_over(client, receiver, django_capture_on_commit_callbacks)
    assert event.outcome["created"] == 1
    stored = Mention.objects.get(external_id=mention)
    assert stored.kind == MentionKind.MENTION and stored.text.startswith("@acme ")


def test_a_dm_unsent_in_the_simulator_is_deleted_by_its_author_on_the_timeline(
    sim, account, agent, django_capture_on_commit_callbacks
):
    client, receiver = sim
    dm = client.publish("instagram", 1, account_id=IG, kind="message", seed=6)[0]
    hand_over(client, receiver, django_capture_on_commit_callbacks)
    stored = Mention.objects.get(external_id=dm)
    assert client.delete("instagram", dm) == [dm]
    [event] = hand_over(client, receiver, django_capture_on_commit_callbacks)
    assert event.outcome["changes"] == 1
    stored.refresh_from_db()
    assert stored.deleted_at is not None and stored.text == ""
    html = logged_in(agent).get(reverse("cases:detail", args=[stored.case_id])).content.decode()
    assert "deleted by its author" in html.lower()
    # Nothing is left to answer: the composer says so once.
    composer = logged_in(agent).get(reverse("cases:compose", args=[stored.case_id]))
    said = composer.content.decode()
    assert "No reply is possible here:</strong> The case has no customer post left" in said
    assert "answer it with a private reply" not in said


# ---- hiding Instagram comments ------------------------------------------------------------


def test_hiding_an_instagram_comment_posts_hide_with_the_linked_pages_token(meta, account):
    url = f"{GRAPH}/v23.0/17865799348089039"
    with responses.RequestsMock() as rsps:
        rsps.post(url, json={"success": True})
        connector = get_connector("instagram")
        connector.set_hidden(ModeratedPost(account, "17865799348089039"), hidden=True)
        connector.set_hidden(ModeratedPost(account, "17865799348089039"), hidden=False)
        sent = [parse_qs(call.request.body) for call in calls_to(rsps, url)]
    assert [form["hide"] for form in sent] == [["true"], ["false"]]
    assert all("is_hidden" not in form for form in sent)
    assert all(form["access_token"] == ["page-tok"] for form in sent)

    with responses.RequestsMock() as rsps:
        rsps.post(url, json={"success": False})
        with pytest.raises(PermanentError, match="Instagram did not confirm"):
            connector.set_hidden(ModeratedPost(account, "17865799348089039"), hidden=True)


def test_the_simulator_hides_instagram_comments_as_strictly_as_graph(sim, account):
    client, _ = sim
    comment = client.publish("instagram", 1, account_id=IG, kind="comment", seed=7)[0]
    connector = get_connector("instagram")
    connector.set_hidden(ModeratedPost(account, comment), hidden=True)
    assert client.state.ig.comments[comment].hidden is True
    answer = requests.get(
        f"{client.url}/v23.0/{comment}",
        params={"access_token": "t", "fields": "id,hidden"},
        timeout=5,
    ).json()
    assert answer == {"id": comment, "hidden": True}
    # Facebook's parameter is not Instagram's.
    refused = requests.post(
        f"{client.url}/v23.0/{comment}", data={"access_token": "t", "is_hidden": "false"}, timeout=5
    )
    assert refused.status_code == 400 and "hide" in refused.json()["error"]["message"]
    # The account's own reply cannot be hidden.
    own = client.state.ig.post_reply(comment, {"message": "Sorry, DM us"})["id"]
    with pytest.raises(PermanentError):
        connector.set_hidden(ModeratedPost(account, own), hidden=True)


def test_an_agent_hides_an_instagram_comment_from_the_case_page(sim, account, agent):
    client, _ = sim
    comment = client.publish("instagram", 1, account_id=IG, kind="comment", seed=8)[0]
    case = make_case(account, text="You are all scammers", kind=MentionKind.COMMENT)
    Mention.objects.filter(case=case).update(external_id=comment)
    mention = case.mentions.get()
    page_html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'data-moderate="hide"' in page_html

    assert hide(logged_in(agent), case, mention).status_code == 302
    row = Moderation.objects.get(case=case)
    assert moderation.run_moderation(row.pk) == Outcome.DONE
    assert client.state.ig.comments[comment].hidden is True
    mention.refresh_from_db()
    assert mention.hidden_at is not None


def test_instagram_dms_and_tags_offer_no_hide(db, account, agent):
    assert networks.can_hide("instagram", "comment")
    assert not networks.can_hide("instagram", "dm")
    assert not networks.can_hide("instagram", "tag")
    assert not networks.can_hide("instagram", "mention")
    case = make_case(account, kind=MentionKind.DIRECT_MESSAGE, is_private=True)
    html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'data-moderate="hide"' not in html


def test_bulk_hide_takes_instagram_comments(db, account, agent):
    case = make_case(account, kind=MentionKind.COMMENT)
    response = logged_in(agent).post(
        reverse("cases:bulk"), {"action": "hide_comments", "ids": [case.pk]}
    )
    assert response.status_code == 303
    assert Moderation.objects.get(case=case).action == "hide"


@responses.activate
def test_a_dms_image_is_kept_for_the_desk_to_fetch(
    meta, account, django_capture_on_commit_callbacks
):
    from cases.models import MentionMedia

    responses.get(CONVERSATIONS, json=ig_conversation())
    receive("message_image", django_capture_on_commit_callbacks)
    dm = Mention.objects.get()
    [image] = MentionMedia.objects.filter(mention=dm)
    assert image.kind == "photo"
    assert image.source_url.startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")


def test_a_tagged_media_keeps_its_photo_and_a_videos_still():
    from listening.connectors.instagram import normalise_media

    photo = normalise_media(
        {
            "id": "17918195224117851",
            "caption": "Unboxing @acme",
            "timestamp": "2026-11-23T09:00:00+0000",
            "username": "sam.k",
            "media_type": "IMAGE",
            "media_url": "https://scontent.cdninstagram.com/v/t51.29350-15/1_n.jpg?stp=dst-jpg",
        },
        kind="tag",
    )
    [image] = photo.attachments
    assert image.kind == "photo" and image.url.startswith("https://scontent.cdninstagram.com/")
    video = normalise_media(
        {
            "id": "17918195224117852",
            "caption": "Broken on arrival @acme",
            "timestamp": "2026-11-23T09:00:00+0000",
            "username": "sam.k",
            "media_type": "VIDEO",
            "media_url": "https://scontent.cdninstagram.com/o1/v/t16/f1/m82/clip.mp4",
            "thumbnail_url": "https://scontent.cdninstagram.com/v/t51.29350-15/2_n.jpg",
        },
        kind="tag",
    )
    [still] = video.attachments
    assert (still.kind, still.url) == (
        "video",
        "https://scontent.cdninstagram.com/v/t51.29350-15/2_n.jpg",
    )


def test_a_hidden_instagram_comment_is_said_to_be_seen_by_its_author_alone(db, account, agent):
    from django.utils import timezone

    case = make_case(account, kind=MentionKind.COMMENT)
    Mention.objects.filter(case=case).update(hidden_at=timezone.now())
    html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "only its author sees it there" in html
    assert "their friends" not in html
