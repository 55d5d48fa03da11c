"""The network-neutral shape of inbound posts: what connectors produce and ingest consumes."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Author:
    """The author of a post as the network describes them."""

    external_id: str
    handle: str = ""
    name: str = ""
    followers: int = 0
    verified: bool = False
    profile_url: str = ""


@dataclass(frozen=True, slots=True)
class InboundPost:
    """One post, comment or direct message from a network, already normalised.

    `conversation_id` is the network's thread (X conversation_id, the Facebook post a
    comment belongs to, a DM conversation); ingest threads each customer's posts in one
    conversation into one open case. `kind` is a listening.models.MentionKind value.
    """

    network: str
    external_id: str
    kind: str
    text: str
    posted_at: datetime
    author: Author
    conversation_id: str
    in_reply_to_id: str = ""
    lang: str = ""
    url: str = ""
    is_private: bool = False
    metrics: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An item that could not be normalised, with the reason and the raw item."""

    reason: str
    payload: Any
    external_id: str = ""


@dataclass(slots=True)
class FetchResult:
    """What one poll of one channel brought: posts, rejects, the cursor to store, reads made."""

    posts: list[InboundPost]
    new_cursor: dict[str, Any]
    quarantined: list[Quarantined] = field(default_factory=list)
    reads: int = 0
