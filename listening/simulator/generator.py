"""The steps of making customer traffic that both simulated networks share.

A network's generator draws the kind of item, the customer and what they say, in that order,
from the rng it is given (so a seed replays the same traffic), and turns a reply to the brand
into the customer's answer to a brand reply still waiting for one. Each network says only what
differs: its kinds and their weights, which brand replies its customers answer, what to make
when none is waiting, and how it stores a new item (`add_item`) or an answer (`answer`).
"""

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from listening.simulator import traffic
from listening.simulator.state import Account, PendingAnswer

if TYPE_CHECKING:
    from listening.simulator.state import SimState


@dataclass(frozen=True, slots=True)
class Draft:
    """A customer's new item before the network shapes it: who writes what, in which language."""

    customer: traffic.Customer
    text: str
    lang: str


class TrafficGenerator(ABC):
    """A simulated network's customer traffic: `generate` draws it, the network stores it."""

    NETWORK: str
    KINDS: tuple[str, ...]
    KIND_WEIGHTS: tuple[int, ...]
    ANSWERED: tuple[str, ...]  # the kinds of brand reply this network's customers answer
    FALLBACK_KIND: str  # made instead of a "reply_to_brand" when no brand reply waits
    state: "SimState"

    def generate(
        self,
        account: Account,
        rng: random.Random,
        kind: str | None,
        topic: str | None,
        lang: str | None,
    ) -> str:
        """One customer item of `kind` (random by weight when None) for `account`; its id."""
        kind = kind or rng.choices(self.KINDS, self.KIND_WEIGHTS)[0]
        customer = rng.choice(self.state.customers)
        topic = topic or traffic.pick_topic(rng)
        text, text_lang = traffic.compose(
            rng, topic, lang or customer.lang, self.NETWORK, account.brand_word
        )
        if kind == "reply_to_brand":
            try:
                pending = self.state.take_pending(self.NETWORK, account.account_id, self.ANSWERED)
            except LookupError:
                kind = self.FALLBACK_KIND
            else:
                return self.answer(account, pending, rng)
        return self.add_item(account, rng, kind, Draft(customer, text, text_lang))

    @abstractmethod
    def add_item(self, account: Account, rng: random.Random, kind: str, draft: Draft) -> str:
        """Store `draft` as a new customer item of `kind` for `account`; its id."""

    @abstractmethod
    def answer(self, account: Account, pending: PendingAnswer, rng: random.Random) -> str:
        """Store the customer's answer to the brand reply `pending`; its id."""
