"""Canned replies: fill a template's placeholders for one case and one agent.

Placeholders: {customer_name}, {handle}, {agent_name}. Substitution is one pass over the
template with a fixed set of keys, never `str.format`: a customer's display name is hostile text
and may itself contain "{agent_name}" or "{0.__class__}", which must come out literally. An
unknown placeholder ("{order_id}") stays as typed so the agent sees what is left to fill in.
The result is plain text: templates escape it like any other reply text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from cases.models import Case, Identity

PLACEHOLDERS = ("customer_name", "handle", "agent_name")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def render_canned(text: str, *, case: Case, agent: AbstractBaseUser) -> str:
    """`text` with {customer_name}, {handle} and {agent_name} filled in for `case` and `agent`."""
    values: dict[str, str] = {}

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
