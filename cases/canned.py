"""Canned replies: find them (the library and the composer's picker), pick the wording for the
case's network, and fill a template's placeholders for one case and one agent.

Placeholders: {customer_name}, {handle}, {agent_name}. Substitution is one pass over the
template with a fixed set of keys, never `str.format`: a customer's display name is hostile text
and may itself contain "{agent_name}" or "{0.__class__}", which must come out literally. An
unknown placeholder ("{order_id}") stays as typed so the agent sees what is left to fill in.
The result is plain text: templates escape it like any other reply text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet

from cases.inbox import folded_contains
from cases.models import CannedReply, CannedReplyVariant, Label

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from cases.models import Case, Identity

PICKER_SIZE = 20  # the composer's picker shows this many matches; typing narrows them

PLACEHOLDERS = ("customer_name", "handle", "agent_name")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def search_canned(term: str = "", label: str = "") -> QuerySet[CannedReply]:
    """Canned replies whose title, default text, a variant or a label's name contains `term`
    (accents and case folded, like the inbox search), with the label named `label` if given;
    their variants and labels prefetched."""
    replies = CannedReply.objects.prefetch_related("variants", "labels")
    term = term.strip()
    if term:
        variants = CannedReplyVariant.objects.filter(
            folded_contains("text", term), canned=OuterRef("pk")
        )
        labels = Label.objects.filter(folded_contains("name", term), canned_replies=OuterRef("pk"))
        replies = replies.filter(
            folded_contains("title", term)
            | folded_contains("text", term)
            | Exists(variants)
            | Exists(labels)
        )
    if label:
        replies = replies.filter(labels__name=label)
    return replies


def picker_replies(
    case: Case, agent: AbstractBaseUser, *, term: str, is_private: bool
) -> list[CannedReply]:
    """The composer picker's matches for `case`: offered on its network, for a public or a
    private reply; each with `filled`, the network's wording with the placeholders filled in."""
    network = case.channel.network
    replies = list(
        search_canned(term).for_network(network).filter(is_private=is_private)[:PICKER_SIZE]
    )
    values: dict[str, str] = {}
    for reply in replies:
        reply.filled = render_canned(reply.text_for(network), case=case, agent=agent, values=values)
    return replies


def render_canned(
    text: str, *, case: Case, agent: AbstractBaseUser, values: dict[str, str] | None = None
) -> str:
    """`text` with {customer_name}, {handle} and {agent_name} filled in for `case` and `agent`.

    `values` caches the filled-in values: pass the same dict to fill several texts for one case
    and agent with one look-up each."""
    values = {} if values is None else values

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            values[key] = _VALUES[key](case, agent)
        return values[key]

    return _PLACEHOLDER.sub(value, text)


def _clean(text: str) -> str:
    """One line of text: no control or bidi-override characters, single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def customer_name(case: Case) -> str:
    """How to address the customer: the first name of a plain "First Last" display name.

    Anything else (one word, a handle, a name with emoji or titles like "Dr. J. Doe") is used
    as shown, so the reply never mangles a name it does not understand.
    """
    name = _clean(case.customer.display_name)
    words = name.split(" ")
    if 2 <= len(words) <= 3 and all(_NAME_WORD.match(word) for word in words):
        return words[0]
    return name


def _case_identity(case: Case) -> Identity | None:
    """The customer's account in this conversation: the author of its latest mention."""
    latest = case.mentions.select_related("author").order_by("-posted_at", "-id").first()
    if latest is not None:
        return latest.author
    return case.customer.identities.filter(network=case.channel.network).order_by("id").first()


def customer_handle(case: Case) -> str:
    """The customer's handle on the case's network: "@jane" on X, the profile name elsewhere."""
    identity = _case_identity(case)
    if identity is None:
        return ""
    handle = _clean(identity.handle).lstrip("@")
    if case.channel.network == "x":
        return f"@{handle}" if handle else _clean(identity.name)
    return _clean(identity.name) or handle


def agent_name(agent: AbstractBaseUser) -> str:
    """The agent's first name, or the username when no first name is set."""
    first = _clean(getattr(agent, "first_name", "") or "")
    return first or agent.get_username()


_VALUES = {
    "customer_name": lambda case, agent: customer_name(case),
    "handle": lambda case, agent: customer_handle(case),
    "agent_name": lambda case, agent: agent_name(agent),
}
