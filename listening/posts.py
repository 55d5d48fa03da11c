"""The network-neutral shapes of posts: what connectors produce and ingest consumes
(`InboundPost`), and what the desk hands a connector to publish (`OutboundReply`)."""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listening.models import Channel


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
class Attachment:
    """An image attached to a post, as the network lists it: a photo, a GIF's still or a
    video's thumbnail. `url` is the network's CDN address of the image (it expires: the desk
    fetches and stores it, never links to it). `kind` is "photo", "gif" or "video";
    `width`/`height` are 0 when the network does not say."""

    kind: str
    url: str
    alt_text: str = ""
    width: int = 0
    height: int = 0


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
    attachments: tuple[Attachment, ...] = ()
    # A new version of earlier posts (X gives every edit a new id): their ids, oldest first.
    # Ingest records it as an edit of the oldest the desk has, else stores it as a post.
    edit_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceChange:
    """A change the network reports to a post the desk may hold: what content following the
    source must apply. `kind` is one of SOURCE_CHANGE_KINDS; `text` is the new text of an
    edit ("" otherwise); `at` when the network says it happened."""

    kind: str
    external_id: str
    text: str = ""
    at: datetime | None = None


# edit: new text; remove: deleted at the source; hide / unhide: the page hid or showed it.
SOURCE_CHANGE_KINDS = ("edit", "remove", "hide", "unhide")


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """The stored post a reply answers: a mention, comment or direct message."""

    external_id: str
    kind: str  # a listening.models.MentionKind value
    is_private: bool
    author_id: str  # the customer's account id on the network
    conversation_id: str


@dataclass(frozen=True, slots=True)
class OutboundReply:
    """One reply to post, as the desk hands it to a connector's `publish` and `find_published`.

    `channel` is the brand account it goes out from (the connector reads its credentials and
    may refresh them). `started_at` is when the reply's first attempt began: `find_published`
    matches only posts created after it (less the network's clock slack). `taken` are the
    network ids already recorded for the customer's other replies, which are never this one.
    """

    channel: "Channel"
    text: str
    is_private: bool
    target: ReplyTarget
    started_at: datetime
    taken: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ModeratedPost:
    """A post the desk asks a connector to hide, show or delete: its id on the network and
    the brand account that acts on it (`channel`: the connector reads its credentials)."""

    channel: "Channel"
    external_id: str


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An item that could not be normalised, with the reason and the raw item."""

    reason: str
    payload: Any
    external_id: str = ""
    # The item lacks what only the network can tell (its author): a look-up may complete it.
    needs_lookup: bool = False


@dataclass(slots=True)
class FetchResult:
    """What one whole poll of one channel brought (all its pages, see `collect`)."""

    posts: list[InboundPost]
    new_cursor: dict[str, Any]
    quarantined: list[Quarantined] = field(default_factory=list)
    reads: int = 0
    gaps: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class FetchPage:
    """One page of one stream, to be ingested in its own transaction.

    `cursor` is the channel's whole cursor to store once this page is stored: the stream's
    position after this page (a continuation while a backlog is being read). `gaps` are the
    periods this page proved unreadable (see `gap`), recorded on the channel with the page.
    `gone` are posts the network answered "does not exist" for when read (deleted by their
    authors): ingest removes their stored text with the page (listening.content).
    """

    stream: str
    posts: list[InboundPost]
    cursor: dict[str, Any]
    quarantined: list[Quarantined] = field(default_factory=list)
    reads: int = 0
    gaps: list[dict[str, str]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


def gap(stream: str, since: datetime | None, until: datetime | None, reason: str) -> dict[str, str]:
    """An intake gap as stored in Channel.intake_gaps: posts between since and until may be
    missing from `stream` (ISO times; an unknown bound is an empty string). `detected_at` is
    set by ingest, which stores it."""
    return {
        "stream": stream,
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
        "reason": reason,
        "detected_at": "",
    }


def pending_streams(cursor: dict[str, Any]) -> list[str]:
    """The streams of a stored cursor still reading a backlog (their value is a continuation)."""
    return sorted(key for key, value in cursor.items() if isinstance(value, dict))


def collect(pages: Iterable[FetchPage], cursor: dict[str, Any]) -> FetchResult:
    """Every page of one poll merged into one FetchResult (duplicates across pages removed)."""
    result = FetchResult(posts=[], new_cursor=dict(cursor))
    seen: set[str] = set()
    for page in pages:
        for post in page.posts:
            if post.external_id not in seen:
                seen.add(post.external_id)
                result.posts.append(post)
        result.quarantined.extend(page.quarantined)
        result.reads += page.reads
        result.gaps.extend(page.gaps)
        result.new_cursor = page.cursor
    return result


@dataclass(slots=True)
class Hydration:
    """What a connector's `hydrate` did to saved responses before normalisation.

    `records` are the responses with the looked-up items filled in; `wanted` counts the
    items that needed a look-up, `requests` and `reads` what it cost (or would cost, in a
    dry run); `unresolved` maps an item id the network could not complete to the reason.
    """

    records: list[Any]
    wanted: int = 0
    requests: int = 0
    reads: int = 0
    unresolved: dict[str, str] = field(default_factory=dict)

    def fail(self, ids: list[str], reason: str) -> None:
        for item_id in ids:
            self.unresolved.setdefault(item_id, reason)

    def give_up(self, ids: list[str], network: str, exc: Exception) -> None:
        """Mark `ids` unresolved because the look-up failed with `exc`.

        The reason names the kind of failure only: an error's own text can quote the request
        URL, and Graph URLs carry the access token.
        """
        from listening.connectors.errors import AuthError, PermanentError, RateLimited

        if isinstance(exc, RateLimited):
            why = f"rate limited until {exc.reset_at:%Y-%m-%d %H:%M} UTC"
        elif isinstance(exc, AuthError):
            why = "the channel's credentials are missing or refused"
        elif isinstance(exc, PermanentError):
            why = "the request was refused"
        else:
            why = "the network could not be reached"
        self.fail(ids, f"author unknown: {network} look-up failed ({why})")

    def explain(self, rejects: list["Quarantined"]) -> list["Quarantined"]:
        """`rejects` with the look-up's reason for the items it could not complete."""
        return [
            Quarantined(self.unresolved[q.external_id], q.payload, q.external_id, True)
            if q.needs_lookup and q.external_id in self.unresolved
            else q
            for q in rejects
        ]


@dataclass(slots=True)
class FetchBatch:
    """What a connector accumulates during one fetch: posts kept, rejects, posts read.

    `keep` drops the brand's own posts (`own_id` is its account or page id) and repeats (a
    repeated page, or a mention that also matched a search rule).
    """

    own_id: str
    posts: list[InboundPost] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    reads: int = 0
    gone: list[str] = field(default_factory=list)

    def keep(self, result: "InboundPost | Quarantined") -> None:
        if isinstance(result, Quarantined):
            self.quarantined.append(result)
            return
        if self.own_id and result.author.external_id == self.own_id:
            return
        if result.external_id in self.seen:
            return
        self.seen.add(result.external_id)
        self.posts.append(result)

    def page(self, stream: str, cursor: dict[str, Any]) -> FetchPage:
        """What was kept since the last call, as one page (the batch starts the next empty).

        `seen` is kept, so a post repeated on a later page of the same poll is not kept twice.
        The page carries a snapshot of `cursor` as it will be stored (a JSON copy): the reader
        goes on changing its lists and continuations, and the poll compares the stored cursor
        with the one the next page was read from.
        """
        snapshot = json.loads(json.dumps(cursor))
        page = FetchPage(stream, self.posts, snapshot, self.quarantined, self.reads, gone=self.gone)
        self.posts, self.quarantined, self.reads, self.gone = [], [], 0, []
        return page
