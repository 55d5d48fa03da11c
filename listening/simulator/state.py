"""The simulator's memory: accounts, both networks' data, queued faults, replies and counters.

One `SimState` holds everything behind one re-entrant lock (`state.lock`). The HTTP handlers
take it around each call into the network modules, and release it before any deliberate sleep
(timeout faults), so a slow answer never blocks other requests.
"""

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from listening.simulator import traffic

DEFAULT_X_ACCOUNT = ("1000", "acme_support", "Acme Support")
DEFAULT_PAGE = ("2000", "Acme", "Acme")
# The Instagram professional account linked to DEFAULT_PAGE.
DEFAULT_IG_ACCOUNT = ("17841400000000001", "acme", "Acme")
# Deterministic id bases: X ids look like snowflakes (19 digits), Graph ids like object ids.
FIXED_X_ID_BASE = 1_900_000_000_000_000_000
FIXED_GRAPH_ID_BASE = 122_100_000_000_000
FIXED_INSTAGRAM_ID_BASE = 17_900_000_000_000_000
FAULT_KINDS = (
    "429",
    "500",
    "503",
    "timeout",
    "malformed",
    "repeat_page",
    "revoked",
    "accept_then_timeout",
    # The post is created, then the answer is lost to a 500.
    "accept_then_500",
    # A brand post is accepted and answered with its id, but listings (the brand's own
    # timeline, DM events, a post's comments, conversations) show it only `seconds` later
    # (a standing read-after-write lag: a large count and no path).
    "visibility_lag",
    # The network refuses a brand post whose text the brand already posted to the same
    # target, as X (403 "duplicate content") and Graph (#506) do.
    "duplicate_content",
    # Meta webhook deliveries (listening.simulator.webhooks): sent twice, preceded by a forged
    # or unsigned copy, or never sent.
    "webhook_duplicate",
    "webhook_bad_signature",
    "webhook_unsigned",
    "webhook_drop",
)
# Reads journalled (see SimState.journal_read), and the parameters kept of each.
READS_KEPT = 100_000
JOURNAL_PARAMS = (
    *("since", "until", "after", "order", "filter", "limit"),  # Graph
    *("since_id", "until_id", "start_time", "pagination_token", "next_token", "max_results"),  # X
    "repeated",
)
NETWORKS = ("x", "facebook", "instagram")
PRIVATE_KINDS = ("dm", "message", "private_reply")  # the brand's private messages
MALFORMED_VARIANTS = ("missing_id", "missing_created_at", "text_null", "bad_date")
# Chance that a customer later answers a reply the brand sent.
ANSWER_PROBABILITY = 0.35
# ...and a satisfaction survey (a brand DM asking for a score from 1 to 5).
SURVEY_ANSWER_PROBABILITY = 0.6
# Seconds an issued X access token lives: X's two hours, unless a test wants them to expire.
DEFAULT_TOKEN_LIFETIME = 7200


class Clock:
    """The simulator's wall clock in seconds: real time, plus however far a test moved it on.

    Token lifetimes, visibility lags, search windows and the rate-limit reset all read it (through
    `SimState.now`), so a test proves "after it expired" with `advance()` instead of sleeping.
    """

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source
        self.offset = 0.0

    def __call__(self) -> float:
        return self.source() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class ApiError(Exception):
    """An HTTP error answer in the network's own shape."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass(slots=True)
class Account:
    network: str
    account_id: str
    handle: str
    name: str
    token: str = ""

    @property
    def brand_word(self) -> str:
        """The word customers use for the brand in posts that do not @-mention it."""
        return (self.name.split() or [self.handle])[0]

    def as_json(self) -> dict[str, str]:
        return {
            "network": self.network,
            "account_id": self.account_id,
            "handle": self.handle,
            "name": self.name,
        }


@dataclass(slots=True)
class Fault:
    network: str
    fault: str
    remaining: int
    path_contains: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def matches(self, network: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.network in (network, "any", "")
            and (not self.path_contains or self.path_contains in path)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "fault": self.fault,
            "remaining": self.remaining,
            "path_contains": self.path_contains,
            **self.options,
        }


@dataclass(slots=True)
class PendingAnswer:
    """A brand reply a customer will answer when the generator next picks a follow-up."""

    network: str
    account_id: str
    kind: str  # "tweet", "dm", "comment", "message"
    ref: str
    survey: bool = False  # the brand asked for a satisfaction score


class SimState:
    """Everything the simulator knows. Call its methods with `state.lock` held."""

    def __init__(
        self,
        seed: int = 0,
        *,
        x_id_base: int = FIXED_X_ID_BASE,
        graph_id_base: int = FIXED_GRAPH_ID_BASE,
        clock: Callable[[], float] | None = None,
        customers: int = 300,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.x_id_base = x_id_base
        self.graph_id_base = graph_id_base
        self.customer_count = customers
        self.rate = 0.0
        # Whether X endpoints refuse unknown and expired access tokens (see `oauth`).
        self.check_tokens = False
        self.own_url = "http://127.0.0.1"  # set by make_server to its bound address
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        from listening.simulator.webhooks import WebhookSender

        # Where webhooks go survives a reset, as the app's subscription survives on Meta.
        self.webhooks = WebhookSender(self)
        self.reset(seed)

    def journal_read(self, path: str, params: dict[str, Any], payload: Any) -> None:
        data = payload.get("data") if isinstance(payload, dict) else None
        paging = payload.get("paging") if isinstance(payload, dict) else None
        meta = payload.get("meta") if isinstance(payload, dict) else None
        self.reads_journal.append(
            {
                "at": round(float(self.clock()), 3),
                "path": path,
                "params": {k: params[k] for k in JOURNAL_PARAMS if k in params},
                "ids": [item.get("id") for item in data if isinstance(item, dict)]
                if isinstance(data, list)
                else [],
                "next": bool(isinstance(paging, dict) and paging.get("next"))
                or bool(isinstance(meta, dict) and meta.get("next_token")),
            }
        )

    def reads_about(self, item_id: str = "", path: str = "") -> list[dict[str, Any]]:
        """The journalled reads whose path or answer names `item_id` (or contains it: a post's
        number finds it under whichever timeline holds it), or whose path contains `path`."""
        return [
            r
            for r in self.reads_journal
            if (path and path in r["path"])
            or (item_id and (item_id in r["path"] or any(item_id in str(i) for i in r["ids"])))
        ]

    def reset(self, seed: int | None = None) -> None:
        """Forget everything and start again from `seed` (the previous seed if None)."""
        from listening.simulator.graph_api import GraphNetwork
        from listening.simulator.instagram_api import InstagramNetwork
        from listening.simulator.oauth import XOAuth
        from listening.simulator.x_api import XNetwork

        if seed is not None:
            self.seed = seed
        self.rng = random.Random(self.seed)
        self.customers = traffic.make_customers(
            random.Random(f"customers-{self.seed}"), self.customer_count
        )
        self._last_time = 0.0
        self.accounts: dict[tuple[str, str], Account] = {}
        self.tokens: dict[tuple[str, str], str] = {}
        self.last_account: dict[str, str] = {}
        self.replies: list[dict[str, Any]] = []
        # Hides, shows and deletions the networks accepted (listening.simulator.moderation).
        self.moderations: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        # The latest faults that fired, with the client port they hit (a harness finds the
        # process behind a held request with it).
        self.fired: list[dict[str, Any]] = []
        self.pending: list[PendingAnswer] = []
        self.last_pages: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        # Reads as served (when, path, paging parameters, ids, more to come): what a harness
        # reads back to explain an item the desk did not store.
        self.reads_journal: deque[dict[str, Any]] = deque(maxlen=READS_KEPT)
        self.generated: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()
        self.items_served: Counter[str] = Counter()
        self.faults_fired: Counter[str] = Counter()
        # Brand posts under a visibility_lag fault: id -> when listings start to show it.
        self.hidden_until: dict[str, float] = {}
        self._round_robin = 0
        self.x = XNetwork(self, self.x_id_base)
        self.fb = GraphNetwork(self, self.graph_id_base)
        self.ig = InstagramNetwork(self, FIXED_INSTAGRAM_ID_BASE + self.graph_id_base % 10**9)
        self.oauth = XOAuth(self)
        self.register_account("x", *DEFAULT_X_ACCOUNT)
        self.register_account("facebook", *DEFAULT_PAGE)
        self.register_account("instagram", *DEFAULT_IG_ACCOUNT, page_id=DEFAULT_PAGE[0])

    # -- time ---------------------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds, never going backwards (indexes rely on it)."""
        t = max(float(self.clock()), self._last_time)
        self._last_time = t
        return t

    # -- accounts -----------------------------------------------------------------------

    def register_account(
        self,
        network: str,
        account_id: str,
        handle: str,
        name: str = "",
        token: str = "",
        page_id: str = "",
    ) -> Account:
        """Add (or update) a brand account; Facebook pages get a few page posts to comment on,
        Instagram accounts a few media. An Instagram account is linked to the Facebook Page
        `page_id` (default: the last Page registered), whose edges carry its conversations."""
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}")
        account_id = str(account_id)
        handle = handle.lstrip("@")
        if not account_id or not handle:
            raise ValueError("account_id and handle are required")
        account = Account(network, account_id, handle, name or handle, token)
        is_new = (network, account_id) not in self.accounts
        self.accounts[(network, account_id)] = account
        if token:
            self.tokens[(network, token)] = account_id
        self.last_account[network] = account_id
        if network == "x":
            self.x.add_brand(account)
        elif network == "instagram":
            self.ig.add_account(account, str(page_id or self.last_account["facebook"]))
        elif is_new:
            self.fb.add_page(account)
        return account

    def net(self, network: str) -> Any:
        """The simulated network behind `network` (its traffic generator)."""
        return {"x": self.x, "facebook": self.fb, "instagram": self.ig}[network]

    def account(self, network: str, account_id: str | None = None) -> Account:
        if account_id is None:
            account_id = self.last_account[network]
        try:
            return self.accounts[(network, str(account_id))]
        except KeyError:
            raise ValueError(f"no {network} account {account_id!r}; register it first") from None

    def account_for_token(self, network: str, token: str) -> Account:
        """The brand a token acts for: the account it was issued or registered for, else the
        last registered account."""
        issued_to = self.oauth.owner(token) if network == "x" else None
        account_id = issued_to or self.tokens.get((network, token), self.last_account[network])
        return self.accounts[(network, account_id)]

    def set_token_mode(
        self, check_tokens: bool | None = None, token_lifetime: int | None = None
    ) -> dict[str, Any]:
        """Switch the checking of X access tokens and set the lifetime of tokens issued next."""
        if check_tokens is not None:
            if not isinstance(check_tokens, bool):
                raise ValueError("check_tokens must be true or false")
            self.check_tokens = check_tokens
        if token_lifetime is not None:
            if isinstance(token_lifetime, bool) or not isinstance(token_lifetime, int):
                raise ValueError("token_lifetime must be a whole number of seconds")
            if token_lifetime < 1:
                raise ValueError("token_lifetime must be at least 1 second")
            self.token_lifetime = token_lifetime
        return self.token_mode()

    def token_mode(self) -> dict[str, Any]:
        return {"check_tokens": self.check_tokens, "token_lifetime": self.token_lifetime}

    # -- traffic ------------------------------------------------------------------------

    def publish(
        self,
        network: str,
        account_id: str | None = None,
        count: int = 1,
        kind: str | None = None,
        seed: int | None = None,
        topic: str | None = None,
        lang: str | None = None,
    ) -> list[str]:
        """Create `count` customer posts addressed to the account now; return their ids.

        With `seed`, the content comes from a fresh `random.Random(seed)` (ids still come
        from the network's counter, so they keep increasing).
        """
        account = self.account(network, account_id)
        if count < 0 or count > 100_000:
            raise ValueError("count must be between 0 and 100000")
        if topic is not None and topic not in traffic.TOPICS:
            raise ValueError(f"topic must be one of {', '.join(traffic.TOPICS)}")
        if lang is not None and lang not in traffic.LANGUAGES:
            raise ValueError(f"lang must be one of {', '.join(traffic.LANGUAGES)}")
        rng = random.Random(seed) if seed is not None else self.rng
        net = self.net(network)
        if kind is not None and kind not in net.KINDS:
            raise ValueError(f"kind for {network} must be one of {', '.join(net.KINDS)}")
        ids = [net.generate(account, rng, kind, topic, lang) for _ in range(count)]
        self.generated[network] += len(ids)
        return ids

    def kind_of(self, network: str, item_id: str) -> str:
        """What a published item turned out to be (a kind may fall back to another)."""
        return self.net(network).kind_of(item_id)

    def publish_background(self) -> str:
        """One post for the next account in turn (the background generator's step)."""
        accounts = sorted(self.accounts.values(), key=lambda a: (a.network, a.account_id))
        account = accounts[self._round_robin % len(accounts)]
        self._round_robin += 1
        return self.publish(account.network, account.account_id)[0]

    def take_pending(self, network: str, account_id: str, kinds: tuple[str, ...]) -> PendingAnswer:
        for i, pending in enumerate(self.pending):
            if (
                pending.network == network
                and pending.account_id == account_id
                and pending.kind in kinds
            ):
                return self.pending.pop(i)
        raise LookupError("nothing to answer")

    def record_reply(self, network: str, account_id: str, entry: dict[str, Any]) -> None:
        """Remember a reply the brand sent, and maybe have the customer answer it later."""
        self.replies.append(
            {"network": network, "account_id": account_id, "created_at": self.now(), **entry}
        )
        survey = entry["kind"] in PRIVATE_KINDS and traffic.looks_like_survey(entry.get("text", ""))
        if self.rng.random() < (SURVEY_ANSWER_PROBABILITY if survey else ANSWER_PROBABILITY):
            self.pending.append(
                PendingAnswer(network, account_id, entry["kind"], entry["id"], survey)
            )

    # -- faults -------------------------------------------------------------------------

    def add_fault(
        self, network: str, fault: str, count: int = 1, path_contains: str = "", **options: Any
    ) -> Fault:
        if fault not in FAULT_KINDS:
            raise ValueError(f"fault must be one of {', '.join(FAULT_KINDS)}")
        if network not in ("x", "facebook", "any"):
            raise ValueError("network must be x, facebook or any")
        if count < 1:
            raise ValueError("count must be at least 1")
        if fault == "visibility_lag" and float(options.get("seconds", 30)) < 0:
            raise ValueError("seconds must be 0 or more")
        item = Fault(network, fault, int(count), path_contains or "", options)
        self.faults.append(item)
        return item

    def take_fault(
        self, network: str, path: str, kinds: tuple[str, ...], consume: bool = True
    ) -> Fault | None:
        """The first queued fault of one of `kinds` matching this request, used up by one.

        A fault added with option `skip` lets that many matching requests through first
        (a failure on page N of a listing).
        """
        for item in self.faults:
            if item.fault in kinds and item.matches(network, path):
                skip = int(item.options.get("skip") or 0)
                if skip > 0:
                    if consume:
                        item.options["skip"] = skip - 1
                    continue
                if consume:
                    item.remaining -= 1
                    item.fired += 1
                    self.faults_fired[item.fault] += 1
                    if item.remaining == 0:
                        self.faults.remove(item)
                return item
        return None

    def lag_publication(self, network: str, path: str, item_id: str) -> None:
        """A brand post was just created: hide it from listings if a visibility_lag fault
        is queued for `path` (options: `seconds`, default 30)."""
        fault = self.take_fault(network, path, ("visibility_lag",))
        if fault is not None:
            self.hidden_until[item_id] = self.now() + float(fault.options.get("seconds", 30))

    def listed(self, item_id: str) -> bool:
        """Whether listings show this item yet (see `lag_publication`)."""
        until = self.hidden_until.get(item_id)
        if until is None:
            return True
        if until <= self.now():
            del self.hidden_until[item_id]
            return True
        return False

    def listed_only(self, ids: list[Any]) -> list[Any]:
        """`ids` without the items listings do not show yet (the same list when none lag)."""
        if not self.hidden_until:
            return ids
        return [i for i in ids if self.listed(str(i))]

    def refuses_duplicate(self, network: str, path: str, already_there: bool) -> bool:
        """Whether to refuse a brand post as duplicate content: a duplicate_content fault is
        queued for `path` and the same text is `already_there`. Used up only when it fires."""
        if not already_there:
            return False
        return self.take_fault(network, path, ("duplicate_content",)) is not None

    # -- counters -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rate_per_minute": self.rate,
            "posts_generated": dict(self.generated),
            "posts_generated_total": sum(self.generated.values()),
            "requests": dict(self.requests),
            "reads": dict(self.reads),
            "reads_total": sum(self.reads.values()),
            "items_served": dict(self.items_served),
            "replies_accepted": len(self.replies),
            "replies_by_network": dict(Counter(r["network"] for r in self.replies)),
            "moderations_accepted": len(self.moderations),
            "faults_pending": sum(f.remaining for f in self.faults),
            "faults_fired": dict(self.faults_fired),
            "webhooks": self.webhooks.as_json(),
            "oauth": {
                **self.token_mode(),
                "tokens_refreshed": self.oauth.refreshed,
                "refresh_refused": self.oauth.refused,
            },
            "stored": {
                "x_tweets": len(self.x.tweets),
                "x_dm_events": len(self.x.dm_events),
                "facebook_posts": len(self.fb.posts),
                "facebook_comments": len(self.fb.comments),
                "facebook_messages": len(self.fb.messages),
                "instagram_media": len(self.ig.media),
                "instagram_comments": len(self.ig.comments),
                "instagram_messages": len(self.ig.messages),
            },
        }
