"""Meta's webhooks as the simulator sends them: signed POSTs to the desk for what it generates.

Configured with the desk's webhook URL and the app secret (`--webhook-url`/`--webhook-secret`,
or `POST /_sim/webhooks`), the simulator delivers, in Meta's shapes:

* Page `feed` changes, verb "add": visitor posts (item "status") and every comment on the
  Page's feed (item "comment"; the Page's own replies too, as Meta sends them);
* Messenger `messaging` events: a customer's message, and an echo (`is_echo`) of each the
  Page sends;
* Page `feed` changes, verb "remove": a visitor post or a comment its author deleted
  (`POST /_sim/delete`);
* Instagram (`object: instagram`, entry id the IG user id): `comments` for every comment and
  reply on the account's media (its own replies too), `mentions` ({"media_id",
  "comment_id"}) for a comment on someone else's media that @mentions it, and `messages`
  (Instagram Messaging: a customer's DM, an echo of the account's own, and `is_deleted` when
  the customer unsends one). Meta sends nothing when an Instagram comment is deleted, and
  neither does the simulator.

Each delivery is signed (`X-Hub-Signature-256: sha256=HMAC-SHA256(app secret, raw body)`) and
sent again after a non-2xx answer or a connection failure (RETRY_DELAYS, as Meta retries),
by a few sender threads so that one slow delivery does not hold the others. Faults (queued
with `POST /_sim/faults`, network "facebook"): `webhook_duplicate` delivers a change twice,
`webhook_bad_signature` and `webhook_unsigned` send a forged copy just before the genuine
delivery, `webhook_drop` never delivers it (the desk's poll must find the post).
"""

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listening.simulator.graph_wire import FBComment, FBMessage, FBPost
    from listening.simulator.instagram_api import IGComment, IGMessage
    from listening.simulator.state import SimState

log = logging.getLogger("listening.simulator")

WEBHOOK_FAULTS = ("webhook_duplicate", "webhook_bad_signature", "webhook_unsigned", "webhook_drop")
# Seconds before each new attempt after a failed one (the first attempt is immediate).
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SENDERS = 4
TIMEOUT = 10.0
APP_ID = 1_517_776_481_860_111


@dataclass(slots=True)
class Delivery:
    body: bytes
    signature: str
    # A forged copy sent just before the genuine one: "bad_signature", "unsigned" or "".
    forgery: str = ""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# ---- Meta's shapes -------------------------------------------------------------------------


def feed_post(post: "FBPost", now: float) -> dict[str, Any]:
    value: dict[str, Any] = {
        "message": post.message,
        "post_id": post.id,
        "created_time": int(post.created),
        "item": "status",
        "published": 1,
        "verb": "add",
    }
    if post.author is not None:
        value["from"] = {"id": post.author[0], "name": post.author[1]}
    return _changes(post.page_id, now, "feed", value)


def feed_comment(comment: "FBComment", post: "FBPost", now: float) -> dict[str, Any]:
    from listening.simulator.graph_wire import iso_graph

    value: dict[str, Any] = {
        "post": {
            "status_type": "mobile_status_update",
            "is_published": True,
            "updated_time": iso_graph(post.updated),
            "permalink_url": post.permalink,
            "promotion_status": "inactive",
            "id": post.id,
        },
        "message": comment.message,
        "post_id": post.id,
        "comment_id": comment.id,
        "created_time": int(comment.created),
        "item": "comment",
        "parent_id": comment.parent_id or post.id,
        "verb": "add",
    }
    if comment.author is not None:
        value["from"] = {"id": comment.author[0], "name": comment.author[1]}
    return _changes(post.page_id, now, "feed", value)


def messenger_message(message: "FBMessage", page_id: str, now: float) -> dict[str, Any]:
    echo = message.sender[0] == page_id
    body: dict[str, Any] = {"mid": message.id, "text": message.message}
    if echo:
        body = {"is_echo": True, "app_id": APP_ID, **body}
    event = {
        "sender": {"id": message.sender[0]},
        "recipient": {"id": message.recipient[0]},
        "timestamp": int(message.created * 1000),
        "message": body,
    }
    entry = {"id": page_id, "time": int(now * 1000), "messaging": [event]}
    return {"object": "page", "entry": [entry]}


def feed_remove(
    item_id: str, post: "FBPost", comment: "FBComment | None", now: float
) -> dict[str, Any]:
    """A visitor post or a comment deleted by its author (verb "remove")."""
    author = comment.author if comment is not None else post.author
    value: dict[str, Any] = {"post_id": post.id, "created_time": int(now), "verb": "remove"}
    if comment is not None:
        value.update(comment_id=item_id, item="comment", parent_id=comment.parent_id or post.id)
    else:
        value["item"] = "status"
    if author is not None:
        value = {"from": {"id": author[0], "name": author[1]}, **value}
    return _changes(post.page_id, now, "feed", value)


def ig_comment(comment: "IGComment", account_id: str, now: float) -> dict[str, Any]:
    """`comments`: a comment or reply on the account's media (no creation time: Meta sends
    none; the entry's time stands for it)."""
    value: dict[str, Any] = {
        "from": {"id": comment.author[0], "username": comment.author[1]},
        "media": {"id": comment.media_id, "media_product_type": "FEED"},
        "id": comment.id,
        "text": comment.text,
    }
    if comment.parent_id:
        value["parent_id"] = comment.parent_id
    return _changes(account_id, now, "comments", value, obj="instagram")


def ig_mention(account_id: str, media_id: str, comment_id: str, now: float) -> dict[str, Any]:
    """`mentions`: only the ids; the desk reads the mention from Graph."""
    value = {"media_id": media_id}
    if comment_id:
        value["comment_id"] = comment_id
    return _changes(account_id, now, "mentions", value, obj="instagram")


def ig_message(
    message: "IGMessage",
    account_id: str,
    now: float,
    *,
    deleted: bool = False,
    image: str | None = None,
) -> dict[str, Any]:
    """`messages`: a DM to the account (with its `image`), an echo of its own, or an unsent
    one (`is_deleted`)."""
    body: dict[str, Any] = {"mid": message.id}
    if deleted:
        body["is_deleted"] = True
    else:
        body["text"] = message.text
        if image:
            body["attachments"] = [{"type": "image", "payload": {"url": image}}]
        if message.sender[0] == account_id:
            body["is_echo"] = True
    event = {
        "sender": {"id": message.sender[0]},
        "recipient": {"id": message.recipient[0]},
        "timestamp": int((now if deleted else message.created) * 1000),
        "message": body,
    }
    entry = {"id": account_id, "time": int(now * 1000), "messaging": [event]}
    return {"object": "instagram", "entry": [entry]}


def _changes(
    account_id: str, now: float, field: str, value: dict[str, Any], obj: str = "page"
) -> dict[str, Any]:
    entry = {"id": account_id, "time": int(now), "changes": [{"field": field, "value": value}]}
    return {"object": obj, "entry": [entry]}


# ---- delivery ------------------------------------------------------------------------------


class WebhookSender:
    """Where and how to deliver, the queue of deliveries, and what became of them.

    `enqueue` is called with `state.lock` held; the sender threads post without it.
    """

    def __init__(self, state: "SimState") -> None:
        self.state = state
        self.url = ""
        self.secret = ""
        self.queue: queue.Queue[Delivery] = queue.Queue()
        self.delivered = 0
        self.attempts = 0
        self.retried = 0
        self.failed = 0
        self.forged_refused = 0
        self.forged_accepted = 0
        self.pending = 0
        self.last_status: int | None = None
        self._count = threading.Lock()
        self._threads: list[threading.Thread] = []

    def configure(self, url: str, secret: str) -> dict[str, Any]:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if url and not secret:
            raise ValueError("app_secret is required with a url")
        self.url, self.secret = url, secret
        return self.as_json()

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.secret)

    def enqueue(self, payload: dict[str, Any]) -> None:
        """Queue `payload` for delivery, with whatever webhook fault is queued for it."""
        if not self.enabled:
            return
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        fault = self.state.take_fault("facebook", "/webhooks", WEBHOOK_FAULTS)
        kind = fault.fault if fault else ""
        if kind:
            log.info("fault %s on a webhook delivery", kind)
        if kind == "webhook_drop":
            return
        forgery = kind.removeprefix("webhook_") if kind in WEBHOOK_FAULTS[1:3] else ""
        self._put(Delivery(body, sign(body, self.secret), forgery))
        if kind == "webhook_duplicate":
            self._put(Delivery(body, sign(body, self.secret)))

    def _put(self, delivery: Delivery) -> None:
        with self._count:
            self.pending += 1
        self.queue.put(delivery)

    def start(self, stopping: threading.Event) -> None:
        for n in range(SENDERS):
            thread = threading.Thread(
                target=self._run, args=(stopping,), name=f"simulator-webhooks-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                delivery = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._deliver(delivery, stopping)
            finally:
                with self._count:
                    self.pending -= 1

    def _deliver(self, delivery: Delivery, stopping: threading.Event) -> None:
        if delivery.forgery:
            # What an impostor would send: never retried, and the desk must refuse it.
            forged = sign(delivery.body, self.secret + "-forged")
            status = self._post(
                delivery.body, forged if delivery.forgery == "bad_signature" else None
            )
            with self._count:
                if 200 <= status < 300:
                    self.forged_accepted += 1
                else:
                    self.forged_refused += 1
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay and stopping.wait(delay):
                return
            status = self._post(delivery.body, delivery.signature)
            with self._count:
                self.attempts += 1
                self.retried += attempt > 0
                self.last_status = status
            if 200 <= status < 300:
                with self._count:
                    self.delivered += 1
                return
        with self._count:
            self.failed += 1
        log.warning("webhook delivery abandoned after %s attempts", len(RETRY_DELAYS) + 1)

    def _post(self, body: bytes, signature: str | None) -> int:
        """One POST; its HTTP status, or 0 when the desk could not be reached."""
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        request = urllib.request.Request(self.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (OSError, ValueError):
            return 0

    def idle(self) -> bool:
        """Nothing queued or being delivered."""
        with self._count:
            return self.pending == 0

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.02)
        return self.idle()

    def as_json(self) -> dict[str, Any]:
        with self._count:
            return {
                "url": self.url,
                "enabled": self.enabled,
                "delivered": self.delivered,
                "attempts": self.attempts,
                "retried": self.retried,
                "failed": self.failed,
                "forged_refused": self.forged_refused,
                "forged_accepted": self.forged_accepted,
                "pending": self.pending,
                "last_status": self.last_status,
            }
