"""The simulator delivers Meta webhooks: Meta's shapes, signed, retried, and faulted on request.

A small HTTP receiver stands in for the desk and records what arrives.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.simulator import SimulatorClient, running_simulator

SECRET = "sim-app-secret"


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str | None, bytes]] = []
        self.statuses: list[int] = []  # answers to give first, in order; then 200
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/meta/"

    def deliveries(self) -> list[dict]:
        """The bodies that arrived with a good signature, parsed."""
        with self.lock:
            return [json.loads(body) for signature, body in self.received if good(signature, body)]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 (stdlib naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append((self.headers.get("X-Hub-Signature-256"), body))
            status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def good(signature: str | None, body: bytes) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(signature, expected)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[SimulatorClient]:
    with running_simulator(seed=3) as client:
        client.webhooks(receiver.url, SECRET)
        yield client


def settle(sim: SimulatorClient) -> dict:
    assert sim.state.webhooks.wait_idle(30)
    return sim.stats()["webhooks"]


def test_a_visitor_post_is_delivered_as_a_signed_feed_change(sim, receiver):
    [post_id] = sim.publish("facebook", 1, account_id="2000", kind="visitor_post", seed=1)
    settle(sim)
    [delivery] = receiver.deliveries()
    assert delivery["object"] == "page"
    [entry] = delivery["entry"]
    assert entry["id"] == "2000"
    assert isinstance(entry["time"], int) and entry["time"] < 10**11  # seconds, as for feed
    [change] = entry["changes"]
    assert change["field"] == "feed"
    value = change["value"]
    assert (value["item"], value["verb"], value["post_id"]) == ("status", "add", post_id)
    assert post_id.startswith("2000_")
    assert value["message"]
    assert isinstance(value["created_time"], int)


def test_a_comment_names_its_post_and_parent_as_graph_lists_them(sim, receiver):
    [comment_id] = sim.publish("facebook", 1, account_id="2000", kind="comment", seed=2)
    [reply_id] = sim.publish("facebook", 1, account_id="2000", kind="comment_reply", seed=2)
    settle(sim)
    values = [d["entry"][0]["changes"][0]["value"] for d in receiver.deliveries()]
    # Deliveries may arrive in any order (as Meta's do): sort them by creation.
    first, second = sorted(
        values, key=lambda v: v["created_time"] * 10**20 + int(v["comment_id"].split("_")[1])
    )
    assert first["comment_id"] == comment_id
    assert first["item"] == "comment"
    assert first["parent_id"] == first["post_id"]  # a top-level comment answers its post
    assert second["comment_id"] == reply_id
    # The ids are those of the comments edge: the same the poll stores.
    comments = requests.get(
        f"{sim.url}/v23.0/{first['post_id']}/comments",
        params={"access_token": "t", "filter": "stream", "fields": "id,parent"},
        timeout=5,
    ).json()["data"]
    listed = {c["id"]: c.get("parent", {}).get("id") for c in comments}
    assert comment_id in listed
    if second["post_id"] == first["post_id"]:
        assert listed[reply_id] == second["parent_id"]


def test_messages_are_delivered_as_messenger_events_and_replies_as_echoes(sim, receiver):
    [message_id] = sim.publish("facebook", 1, account_id="2000", kind="message", seed=4)
    settle(sim)
    [delivery] = receiver.deliveries()
    [entry] = delivery["entry"]
    assert entry["time"] > 10**11  # milliseconds, as for Messenger
    [event] = entry["messaging"]
    assert event["recipient"] == {"id": "2000"}
    assert event["message"]["mid"] == message_id
    assert "is_echo" not in event["message"]
    psid = event["sender"]["id"]

    answer = requests.post(
        f"{sim.url}/v23.0/2000/messages",
        data={
            "access_token": "t",
            "recipient": json.dumps({"id": psid}),
            "message": json.dumps({"text": "Happy to help"}),
        },
        timeout=5,
    )
    assert answer.status_code == 200
    settle(sim)
    echo = receiver.deliveries()[-1]["entry"][0]["messaging"][0]
    assert echo["message"]["is_echo"] is True
    assert echo["sender"] == {"id": "2000"}
    # Graph names the conversation of that person (what the desk asks for a new sender).
    listed = requests.get(
        f"{sim.url}/v23.0/2000/conversations",
        params={"access_token": "t", "user_id": psid, "fields": "id,participants"},
        timeout=5,
    ).json()["data"]
    assert len(listed) == 1
    assert psid in [p["id"] for p in listed[0]["participants"]["data"]]


def test_a_refused_delivery_is_sent_again(sim, receiver):
    receiver.statuses = [500, 503]
    sim.publish("facebook", 1, account_id="2000", kind="visitor_post", seed=1)
    stats = settle(sim)
    assert len(receiver.received) == 3
    assert len(receiver.deliveries()) == 3  # the same signed body each time
    assert (stats["delivered"], stats["retried"], stats["failed"]) == (1, 2, 0)


@pytest.mark.parametrize(
    ("fault", "forged_signature"),
    [("webhook_bad_signature", True), ("webhook_unsigned", False)],
)
def test_forged_copies_come_before_the_genuine_delivery(sim, receiver, fault, forged_signature):
    receiver.statuses = [403]
    sim.fault("facebook", fault)
    sim.publish("facebook", 1, account_id="2000", kind="visitor_post", seed=1)
    stats = settle(sim)
    (forged_sig, forged_body), (genuine_sig, genuine_body) = receiver.received
    assert forged_body == genuine_body
    assert (forged_sig is not None) is forged_signature
    assert not good(forged_sig, forged_body)
    assert good(genuine_sig, genuine_body)
    assert (stats["forged_refused"], stats["delivered"]) == (1, 1)


def test_a_duplicate_fault_delivers_the_same_body_twice(sim, receiver):
    sim.fault("facebook", "webhook_duplicate")
    sim.publish("facebook", 2, account_id="2000", kind="visitor_post", seed=1)
    settle(sim)
    bodies = [body for _, body in receiver.received]
    assert len(bodies) == 3
    assert len(set(bodies)) == 2


def test_a_dropped_delivery_never_arrives(sim, receiver):
    sim.fault("facebook", "webhook_drop")
    sim.publish("facebook", 2, account_id="2000", kind="visitor_post", seed=1)
    settle(sim)
    assert len(receiver.received) == 1


def test_webhooks_need_a_secret_and_an_http_url(sim):
    with pytest.raises(RuntimeError, match="app_secret"):
        sim.webhooks("http://127.0.0.1:9/", "")
    with pytest.raises(RuntimeError, match="http"):
        sim.webhooks("ftp://desk/", SECRET)


def test_the_command_line_wants_a_secret_with_a_webhook_url(monkeypatch, capsys):
    from listening.simulator.__main__ import main

    monkeypatch.delenv("META_APP_SECRET", raising=False)
    with pytest.raises(SystemExit):
        main(["--webhook-url", "http://127.0.0.1:8000/webhooks/meta/"])
    assert "--webhook-secret" in capsys.readouterr().err


# ---- deletions and Instagram ----------------------------------------------------------------

IG = "17841400000000001"


def test_a_visitor_post_deleted_by_its_author_is_reported_with_verb_remove(sim, receiver):
    [post_id] = sim.publish("facebook", 1, account_id="2000", kind="visitor_post", seed=1)
    assert post_id in sim.delete("facebook", post_id)
    settle(sim)
    removed = receiver.deliveries()[-1]["entry"][0]["changes"][0]
    assert removed["field"] == "feed"
    value = removed["value"]
    assert (value["item"], value["verb"], value["post_id"]) == ("status", "remove", post_id)
    assert "message" not in value


def test_instagram_comments_arrive_as_comments_changes_on_the_ig_user(sim, receiver):
    [comment_id] = sim.publish("instagram", 1, account_id=IG, kind="comment", seed=1)
    [reply_id] = sim.publish("instagram", 1, account_id=IG, kind="comment_reply", seed=1)
    settle(sim)
    by_id = {}
    for delivery in receiver.deliveries():
        assert delivery["object"] == "instagram"
        [entry] = delivery["entry"]
        assert entry["id"] == IG and entry["time"] < 10**11  # seconds, as for changes
        [change] = entry["changes"]
        assert change["field"] == "comments"
        by_id[change["value"]["id"]] = change["value"]
    comment = by_id[comment_id]
    assert set(comment) == {"from", "media", "id", "text"}  # no time: Meta sends none
    assert set(comment["from"]) == {"id", "username"}
    assert comment["media"]["media_product_type"] == "FEED"
    assert by_id[reply_id]["parent_id"] == comment_id  # the only comment to answer


def test_an_instagram_mention_names_only_the_media_and_the_comment(sim, receiver):
    [comment_id] = sim.publish("instagram", 1, account_id=IG, kind="mention", seed=2)
    settle(sim)
    [delivery] = receiver.deliveries()
    [change] = delivery["entry"][0]["changes"]
    assert change["field"] == "mentions"
    assert change["value"] == {
        "media_id": sim.state.ig.comments[comment_id].media_id,
        "comment_id": comment_id,
    }


def test_instagram_dms_their_echoes_and_unsending_arrive_as_messaging(sim, receiver):
    [mid] = sim.publish("instagram", 1, account_id=IG, kind="message", seed=3)
    settle(sim)
    [event] = receiver.deliveries()[-1]["entry"][0]["messaging"]
    assert event["recipient"] == {"id": IG} and event["message"]["mid"] == mid
    assert "is_echo" not in event["message"]
    igsid = event["sender"]["id"]
    sent = requests.post(
        f"{sim.url}/v23.0/2000/messages",
        data={
            "access_token": "t",
            "recipient": json.dumps({"id": igsid}),
            "message": json.dumps({"text": "Happy to help"}),
        },
        timeout=5,
    )
    assert sent.status_code == 200
    settle(sim)
    [echo] = receiver.deliveries()[-1]["entry"][0]["messaging"]
    assert echo["sender"] == {"id": IG} and echo["message"]["is_echo"] is True
    assert sim.delete("instagram", mid) == [mid]
    settle(sim)
    [unsent] = receiver.deliveries()[-1]["entry"][0]["messaging"]
    assert unsent["message"] == {"mid": mid, "is_deleted": True}
    # Graph names the sender's Instagram conversation, with their username.
    [listed] = requests.get(
        f"{sim.url}/v23.0/2000/conversations",
        params={
            "access_token": "t",
            "platform": "instagram",
            "user_id": igsid,
            "fields": "id,participants",
        },
        timeout=5,
    ).json()["data"]
    people = {p["id"]: p["username"] for p in listed["participants"]["data"]}
    assert people[IG] == "acme" and people[igsid]


def test_instagram_deliveries_take_the_same_faults(sim, receiver):
    sim.fault("facebook", "webhook_duplicate")
    sim.fault("facebook", "webhook_drop")
    sim.publish("instagram", 3, account_id=IG, kind="comment", seed=4)
    settle(sim)
    bodies = [body for _, body in receiver.received]
    assert len(bodies) == 3  # one twice, one never, one once
    assert len(set(bodies)) == 2


def test_a_deleted_instagram_comment_is_gone_from_the_listing_and_sends_no_webhook(sim, receiver):
    [comment_id] = sim.publish("instagram", 1, account_id=IG, kind="comment", seed=5)
    settle(sim)
    before = len(receiver.received)
    media = sim.state.ig.comments[comment_id].media_id
    assert sim.delete("instagram", comment_id)[0] == comment_id
    settle(sim)
    assert len(receiver.received) == before  # Meta reports no Instagram comment deletion
    listed = requests.get(
        f"{sim.url}/v23.0/{media}/comments", params={"access_token": "t"}, timeout=5
    ).json()["data"]
    assert comment_id not in {c["id"] for c in listed}
