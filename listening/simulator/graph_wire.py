"""The Graph API's wire format as the simulator speaks it: the Facebook records it serves
(posts, comments, Messenger conversations and messages), its timestamps and its people."""

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(slots=True)
class FBPost:
    id: str
    seq: int
    page_id: str
    kind: str  # "page", "visitor", "tagged"
    message: str
    created: float
    updated: float
    author: tuple[str, str] | None
    permalink: str
    private_replied: bool = False


@dataclass(slots=True)
class FBComment:
    id: str
    seq: int
    post_id: str
    parent_id: str | None
    message: str
    created: float
    author: tuple[str, str] | None
    permalink: str
    private_replied: bool = False
    hidden: bool = False
    # A comment of the page's: the person it answered (a customer who answers back is them).
    answering: tuple[str, str] | None = None


@dataclass(slots=True)
class FBConversation:
    id: str
    seq: int
    page_id: str
    user_id: str
    user_name: str
    updated: float
    messages: list[str] = field(default_factory=list)
    last_customer_message: float = 0.0


@dataclass(slots=True)
class FBMessage:
    id: str
    seq: int
    conversation_id: str
    message: str
    created: float
    sender: tuple[str, str]
    recipient: tuple[str, str]


def iso_graph(ts: float) -> str:
    """Graph's timestamp format: 2026-11-23T10:15:00+0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def person(author: tuple[str, str]) -> dict[str, str]:
    return {"name": author[1], "id": author[0]}


def email_person(person: tuple[str, str]) -> dict[str, str]:
    return {"name": person[1], "email": f"{person[0]}@facebook.com", "id": person[0]}
