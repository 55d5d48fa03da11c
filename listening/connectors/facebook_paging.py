"""Reading a Facebook page page by page, resumable across polls (the fetch half of `facebook`).

Every Graph page is handed on as a FetchPage with the whole cursor to store once it is
stored, so a failure keeps what was read before it, and a backlog bigger than one poll's
budget (MAX_PAGES requests per stream) continues at the next poll. Graph pages connections
with cursors (`paging.cursors.after`, present while `paging.next` is); an `after` cursor is
opaque and stays valid, so it is what a continuation keeps.

A stream's cursor value is unix seconds as a string (the newest time read), or while a
backlog is read a continuation (a dict) with "since" (the time the backlog starts from) and
"target" (the value the stream takes once it is drained):

* "feed", "tagged": + "after", the cursor of the next page of the edge.
* "comments": every post of /feed active since "since" (listed by updated_time, paged), and
  every comment on each created since the floor, each comments edge paged to its end in
  chronological order, so a busy post's newest comments are read too. "target" is the newest
  activity of the round's first listing page, whatever moves later is listed again next round.
  + "list_after" (the listing page being worked through), "done" (its posts finished), "post"
  and "comments_after" (the post being read and where), "floor" (comments are read from there:
  the start of the previous round, kept between rounds as "comments_floor"; after a round
  whose listing took more than one page ("paged"), the floor it used, since it may have
  skipped a lifted post). "comments_read" keeps where busy posts were read to, so that an
  old floor does not mean reading their many comments again.
* "tagged_comments": the same for the posts of /tagged (posts tagging the page, where a customer
  answers the page's reply under them), with its own "tagged_comments_floor" and
  "tagged_comments_read". Graph documents the page feed as including posts that tag the page,
  but lists them apart on /tagged; reading both edges reads them whatever /feed shows (a post
  listed by both is read twice, and ingest drops the repeats).
* "messenger": conversations updated since "since" (most recent first, paged), then their
  messages newest first down to "floor" (kept between rounds as "messenger_floor", as for
  comments). + "list_after", "done", "paged", "conversation", "messages_after".

A stale `after` Graph refuses restarts that edge from its first page; ingest drops what it
already has. Without a cursor a stream reads one page (a first look), then follows from there;
a stream found empty then reads everything that appears after its first look.
"""

import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import facebook
from django.utils import timezone

from listening.connectors.errors import PermanentError, PostGone
from listening.connectors.facebook import (
    ACTIVITY_FIELDS,
    COMMENT_FIELDS,
    CONVERSATION_FIELDS,
    MESSAGE_FIELDS,
    MESSAGES_PAGE_SIZE,
    PAGE_SIZE,
    POST_FIELDS,
    RECENT_CONVERSATIONS,
    RECENT_POSTS,
    TAGGED_FIELDS,
    _Batch,
    _cursor_time,
    _get,
    _id,
    _str,
    normalise_comment,
    normalise_message,
    normalise_post,
    parse_graph_time,
)
from listening.connectors.facebook_authors import look_up_authors
from listening.posts import FetchPage

if TYPE_CHECKING:
    from listening.models import Channel

log = logging.getLogger(__name__)

# Graph requests per stream and poll. A bigger backlog continues at the next poll.
MAX_PAGES = 100
# Cursor keys beside a round stream's own ("comments", "tagged_comments", "messenger"):
# "<stream>_floor", where its items are read down to (see `_Reader._end`), and for comments
# "<stream>_read", [post id, unix seconds] of busy posts, each read to that moment, so that a
# round reading from an old floor does not read their many comments again (READ_POSITIONS).
FLOOR, READ = "{}_floor", "{}_read"
COMMENTS_FLOOR = FLOOR.format("comments")
READ_POSITIONS = 50
# A stream found empty at its first look reads everything since this long before it next time.
FIRST_LOOK_MARGIN = timedelta(hours=1)


def fetch_pages(
    channel: "Channel", graph: facebook.GraphAPI, cursor: dict[str, Any]
) -> Iterator[FetchPage]:
    """Every stream of the page, one FetchPage per Graph page read."""
    page_id = str(channel.external_account_id)
    reader = _Reader(channel, graph, _Batch(own_id=page_id), dict(cursor))
    yield from reader.posts("feed", f"{page_id}/feed", POST_FIELDS, "visitor_post")
    yield from reader.comments("comments", f"{page_id}/feed")
    yield from reader.posts("tagged", f"{page_id}/tagged", TAGGED_FIELDS, "tag")
    yield from reader.comments("tagged_comments", f"{page_id}/tagged")
    yield from reader.messenger(page_id)


class _Budget(Exception):
    """The stream used its requests for this poll: the rest waits for the next one."""


class _Reader:
    """Reads a page's streams within a per-stream request budget (see the module docstring).

    The private-message stream is shared with Instagram, whose conversations Graph lists on
    the same Page edge: a subclass names the stream and platform and normalises its messages.
    """

    MESSAGES_STREAM = "messenger"
    PLATFORM = "messenger"

    def __init__(
        self,
        channel: "Channel",
        graph: facebook.GraphAPI,
        batch: _Batch,
        cursor: dict[str, Any],
    ) -> None:
        self.channel = channel
        self.graph = graph
        self.batch = batch
        self.cursor = cursor
        self.requests = 0

    # ---- plumbing ------------------------------------------------------------------------

    def _get(self, stream: str, path: str, args: dict[str, Any]) -> dict[str, Any]:
        """One request of `stream`'s budget. A stale `after` cursor is dropped, once."""
        if self.requests >= MAX_PAGES:
            raise _Budget(stream)
        self.requests += 1
        try:
            return _get(self.graph, path, args)
        except PermanentError as exc:
            if "after" not in args or "cursor" not in str(exc).lower():
                raise
            log.warning(
                "Graph refused a stored paging cursor: reading that edge from its start",
                extra={"channel_id": self.channel.pk, "stream": stream, "path": path},
            )
            return self._get(stream, path, {k: v for k, v in args.items() if k != "after"})

    def _page(self, stream: str, value: Any) -> FetchPage:
        if value is None:
            self.cursor.pop(stream, None)
        else:
            self.cursor[stream] = value
        self._complete()
        return self.batch.page(stream, self.cursor)

    def _complete(self) -> None:
        # Items read without `from` are completed before the page is stored, never guessed.
        look_up_authors(self.batch, self.graph)

    def _message(self, item: Any, conversation_id: str) -> Any:
        return normalise_message(item, conversation_id=conversation_id)

    def _run(self, stream: str, pages: Iterator[FetchPage]) -> Iterator[FetchPage]:
        self.requests = 0
        try:
            yield from pages
        except _Budget:
            log.info(
                "Facebook backlog continues next poll",
                extra={"channel_id": self.channel.pk, "stream": stream},
            )

    # ---- feed and tagged -----------------------------------------------------------------

    def posts(self, stream: str, path: str, fields: str, kind: str) -> Iterator[FetchPage]:
        """Posts of one page edge (feed: visitor posts; tagged: posts tagging the page)."""
        return self._run(stream, self._posts(stream, path, fields, kind))

    def _posts(self, stream: str, path: str, fields: str, kind: str) -> Iterator[FetchPage]:
        since, target, state = _position(self.cursor.get(stream))
        after = _str(state.get("after")) or None
        first_look = since is None
        while True:
            args: dict[str, Any] = {"fields": fields, "limit": PAGE_SIZE}
            if since is not None:
                args["since"] = int(since.timestamp())
            if after:
                args["after"] = after
            page = self._get(stream, path, args)
            for item in self.batch.read(page):
                target = _later(target, item.get("created_time"))
                self.batch.keep(normalise_post(item, kind=kind))
            after = _next_after(page)
            if first_look or not after:
                yield self._page(stream, _seconds(target or since or _first_look_time()))
                return
            yield self._page(stream, _continuation(since, target, after=after))

    # ---- comments ------------------------------------------------------------------------

    def comments(self, stream: str, listing_path: str) -> Iterator[FetchPage]:
        """Comments on the posts one edge lists ("comments": /feed; "tagged_comments": /tagged,
        where a customer answers the page's reply under a post that tagged it)."""
        return self._run(stream, self._comments(stream, listing_path))

    def _comments(self, stream: str, listing_path: str) -> Iterator[FetchPage]:
        round_ = _Round.resume(stream, self.cursor)
        since = round_.since
        if since is None:
            yield from self._first_comments(stream, listing_path)
            return
        # Comments are read from the floor, not from `since`: a post lifted above the listing's
        # position during a paged round was skipped by it, and its comments since then are
        # read now (ingest drops repeats). The floor is the previous round's start, or older
        # while rounds keep paging: a post skipped by one may be lifted (and skipped) again.
        floor = round_.floor or since
        read_key = READ.format(stream)
        read_to = _read_positions(self.cursor.get(read_key))

        def read(
            post_id: str, after: str | None, activity: datetime | None = None
        ) -> Iterator[FetchPage]:
            start = max(floor, read_to.get(post_id, floor))
            newest, pages = yield from self._post_comments(round_, post_id, start, after, activity)
            if pages > 1 or post_id in read_to:
                read_to[post_id] = max(start, newest or start)
                self.cursor[read_key] = _keep_positions(read_to, floor)

        current = _str(round_.state.get("post")) or None
        if current:  # a post left half read by the last poll: finish it first
            yield from read(current, _str(round_.state.get("comments_after")) or None)
            round_.done.append(current)
            yield self._save(round_)
        while True:
            args: dict[str, Any] = {
                "fields": ACTIVITY_FIELDS,
                "limit": PAGE_SIZE,
                "since": int(since.timestamp()),
            }
            if round_.list_after:
                args["after"] = round_.list_after
            listing = self._get(stream, listing_path, args)
            active = []
            for post in self.batch.read(listing):
                post_id = _id(post)
                activity = parse_graph_time(post.get("updated_time") or post.get("created_time"))
                if post_id and activity is not None and activity >= since:
                    active.append((post_id, activity, parse_graph_time(post.get("created_time"))))
            if round_.target is None:
                # The next round starts from the newest activity of this round's first listing,
                # however long the round takes: whatever moves after it (a post lifted past the
                # listing's position, a post read here and commented again) is listed again.
                round_.target = max((activity for _, activity, _ in active), default=since)
            for post_id, activity, created in active:
                if post_id in round_.done:
                    continue
                # A post whose updated_time is its created_time has had no comment yet.
                commented = activity if created is None or activity > created else None
                yield from read(post_id, None, commented)
                round_.done.append(post_id)
                yield self._save(round_)
            next_after = _next_after(listing)
            if not next_after:
                yield self._end(round_)
                return
            round_.next_listing_page(next_after)
            yield self._save(round_)

    def _post_comments(
        self,
        round_: "_Round",
        post_id: str,
        since: datetime,
        after: str | None,
        activity: datetime | None = None,
    ) -> Generator[FetchPage, None, tuple[datetime | None, int]]:
        """Every comment on `post_id` created since `since`, oldest first, to the end; returns
        the newest comment's time and the number of requests.

        `activity` is the post's updated_time as listed: comments that end before it may be a
        page served again (a stale answer, not the page asked for), so the edge is read once
        more from its start (an edit or a deleted comment also moves updated_time: one request).
        """
        newest: datetime | None = None
        again = activity is not None and activity >= since
        pages = 0
        while True:
            args: dict[str, Any] = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "chronological",
                "limit": PAGE_SIZE,
                "since": int(since.timestamp()),
            }
            if after:
                args["after"] = after
            try:
                page = self._get(round_.stream, f"{post_id}/comments", args)
            except PostGone:
                # Listed a moment ago, gone now: its author deleted it. Ingest drops its text
                # if the desk has it (a visitor post); the round goes on with the next post.
                log.info(
                    "Facebook post deleted while read",
                    extra={"channel_id": self.channel.pk, "post_id": post_id},
                )
                self.batch.gone.append(post_id)
                return newest, pages
            pages += 1
            for item in self.batch.read(page):
                newest = _later(newest, item.get("created_time"))
                self.batch.keep(normalise_comment(item, post_id=post_id))
            after = _next_after(page)
            if after:
                yield self._save(round_, post=post_id, comments_after=after)
                continue
            if again and activity is not None and (newest is None or newest < activity):
                again, after = False, None
                continue
            return newest, pages

    def _first_comments(self, stream: str, listing_path: str) -> Iterator[FetchPage]:
        """No cursor yet: the newest comments of the most recently active posts, one page each."""
        listing = self._get(
            stream, listing_path, {"fields": ACTIVITY_FIELDS, "limit": RECENT_POSTS}
        )
        target = None
        for post in self.batch.read(listing):
            post_id = _id(post)
            activity = parse_graph_time(post.get("updated_time") or post.get("created_time"))
            if not post_id or activity is None:
                continue
            target = activity if target is None or activity > target else target
            args = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": PAGE_SIZE,
            }
            try:
                page = self._get(stream, f"{post_id}/comments", args)
            except PostGone:  # deleted since it was listed (see _post_comments)
                self.batch.gone.append(post_id)
                continue
            for item in self.batch.read(page):
                self.batch.keep(normalise_comment(item, post_id=post_id))
        self.cursor.pop(FLOOR.format(stream), None)
        yield self._page(stream, _seconds(target or _first_look_time()))

    # ---- messenger -----------------------------------------------------------------------

    def messenger(self, page_id: str) -> Iterator[FetchPage]:
        return self._run(self.MESSAGES_STREAM, self._messenger(page_id))

    def _messenger(self, page_id: str) -> Iterator[FetchPage]:
        # Graph has no `since` on conversations: they come most recently updated first, and
        # the listing stops at the first one not updated since the cursor.
        stream = self.MESSAGES_STREAM
        round_ = _Round.resume(stream, self.cursor)
        since = round_.since
        first_look = since is None
        # As for comments: a conversation lifted above the listing's position while it is
        # paged is skipped by that round, so messages are read down to the floor (the start
        # of the previous round, or older while rounds keep needing more than one page).
        current = _str(round_.state.get("conversation")) or None
        if current and round_.floor is not None:
            after = _str(round_.state.get("messages_after")) or None
            yield from self._messages(round_, current, after)
            round_.done.append(current)
            yield self._save(round_)
        limit = RECENT_CONVERSATIONS if first_look else PAGE_SIZE
        while True:
            args: dict[str, Any] = {
                "platform": self.PLATFORM,
                "fields": CONVERSATION_FIELDS,
                "limit": limit,
            }
            if round_.list_after:
                args["after"] = round_.list_after
            listing = self._get(stream, f"{page_id}/conversations", args)
            updated: list[tuple[str, datetime]] = []
            reached_old = False
            for conversation in self.batch.read(listing):
                conversation_id = _id(conversation)
                updated_at = parse_graph_time(conversation.get("updated_time"))
                if not conversation_id or updated_at is None:
                    continue
                # Graph times have one-second resolution: an update in the cursor's own
                # second may be new, so it is read again (ingest drops what it has).
                if since is not None and updated_at < since:
                    reached_old = True
                    break
                updated.append((conversation_id, updated_at))
            if round_.target is None:
                # As for comments: the next round starts from the newest update of this
                # round's first listing, however long the round takes.
                round_.target = max((at for _, at in updated), default=since)
            for conversation_id, updated_at in updated:
                if conversation_id in round_.done:
                    continue
                if first_look:
                    self._first_messages(conversation_id)
                    continue
                yield from self._messages(round_, conversation_id, None, updated_at)
                round_.done.append(conversation_id)
                yield self._save(round_)
            next_after = _next_after(listing)
            if first_look:
                self.cursor.pop(FLOOR.format(stream), None)
                yield self._page(stream, _seconds(round_.target or _first_look_time()))
                return
            if reached_old or not next_after:
                yield self._end(round_)
                return
            round_.next_listing_page(next_after)
            yield self._save(round_)

    def _messages(
        self,
        round_: "_Round",
        conversation_id: str,
        after: str | None,
        updated_at: datetime | None = None,
    ) -> Iterator[FetchPage]:
        """The messages of one conversation, newest first, down to the round's floor.

        `updated_at` is the conversation's updated_time as listed: a first page whose newest
        message is older may be a page served again (a stale answer), so it is asked once more.
        """
        assert round_.floor is not None
        again = updated_at is not None and after is None
        while True:
            args: dict[str, Any] = {"fields": MESSAGE_FIELDS, "limit": MESSAGES_PAGE_SIZE}
            if after:
                args["after"] = after
            page = self._get(self.MESSAGES_STREAM, f"{conversation_id}/messages", args)
            items = self.batch.read(page)
            times = [parse_graph_time(item.get("created_time")) for item in items]
            newest = max((t for t in times if t is not None), default=None)
            if again and updated_at is not None and (newest is None or newest < updated_at):
                again = False
                continue
            again = False
            reached_old = False
            for item in items:
                created = parse_graph_time(item.get("created_time"))
                if created is not None and created < round_.floor:
                    reached_old = True  # newest first: the rest was read by earlier polls
                    continue
                self.batch.keep(self._message(item, conversation_id))
            after = _next_after(page)
            if reached_old or not after:
                return
            yield self._save(round_, conversation=conversation_id, messages_after=after)

    def _first_messages(self, conversation_id: str) -> None:
        page = self._get(
            self.MESSAGES_STREAM,
            f"{conversation_id}/messages",
            {"fields": MESSAGE_FIELDS, "limit": MESSAGES_PAGE_SIZE},
        )
        for item in self.batch.read(page):
            self.batch.keep(self._message(item, conversation_id))

    # ---- rounds --------------------------------------------------------------------------

    def _save(self, round_: "_Round", **extra: Any) -> FetchPage:
        """The page read so far, with the round's continuation (and where an item stands)."""
        return self._page(round_.stream, round_.continuation(**extra))

    def _end(self, round_: "_Round") -> FetchPage:
        """The round is over: the next lists from its target and reads down to the floor it
        leaves (only a round whose listing was one page saw every item active since `since`)."""
        floor = round_.floor if round_.paged else round_.since
        self.cursor[FLOOR.format(round_.stream)] = _seconds(floor)
        return self._page(round_.stream, _seconds(round_.target))


@dataclass
class _Round:
    """Where a comments or messenger round stands: its listing (paged from its first page),
    the items of the listing page already read, and the floor their items are read down to.
    Stored as the stream's continuation between polls (see the module docstring)."""

    stream: str
    since: datetime | None
    target: datetime | None
    floor: datetime | None
    state: dict[str, Any]
    list_after: str | None = None
    done: list[str] = field(default_factory=list)
    paged: bool = False

    @classmethod
    def resume(cls, stream: str, cursor: dict[str, Any]) -> "_Round":
        since, target, state = _position(cursor.get(stream))
        floor = _cursor_time(state.get("floor") if state else cursor.get(FLOOR.format(stream)))
        floor = floor if floor is not None and since is not None and floor < since else since
        return cls(
            stream,
            since,
            target,
            floor,
            state,
            list_after=_str(state.get("list_after")) or None,
            done=[_str(item) for item in state.get("done") or [] if _str(item)],
            paged=bool(state.get("paged")),
        )

    def continuation(self, **extra: Any) -> dict[str, Any]:
        return _continuation(
            self.since,
            self.target,
            list_after=self.list_after,
            done=self.done,
            floor=_seconds(self.floor),
            paged=int(self.paged),
            **extra,
        )

    def next_listing_page(self, after: str) -> None:
        self.list_after, self.done, self.paged = after, [], True


def _first_look_time() -> datetime:
    """Where a stream found empty at its first look reads from next: everything that appears
    after it is new (the margin allows for a clock behind Graph's)."""
    return timezone.now() - FIRST_LOOK_MARGIN


def _position(value: Any) -> tuple[datetime | None, datetime | None, dict[str, Any]]:
    """(since, target, continuation) of a stored stream value (plain time or continuation)."""
    if isinstance(value, dict):
        since = _cursor_time(value.get("since"))
        target = _cursor_time(value.get("target"))
        if since is not None:
            return since, target, value
        return target, None, {}  # an unreadable continuation: resume from what it aimed at
    since = _cursor_time(value)
    return since, None, {}


def _continuation(since: datetime | None, target: datetime | None, **state: Any) -> dict[str, Any]:
    value: dict[str, Any] = {"since": _seconds(since), "target": _seconds(target or since)}
    value.update({key: item for key, item in state.items() if item})
    return value


def _read_positions(value: Any) -> dict[str, datetime]:
    positions = {}
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, list) and len(entry) == 2:
            post_id, moment = _str(entry[0]), _cursor_time(entry[1])
            if post_id and moment is not None:
                positions[post_id] = moment
    return positions


def _keep_positions(positions: dict[str, datetime], floor: datetime) -> list[list[str]]:
    """The positions worth keeping (past the floor, the most recent), as the cursor holds them."""
    kept = sorted(
        ((moment, post_id) for post_id, moment in positions.items() if moment > floor),
        reverse=True,
    )[:READ_POSITIONS]
    return [[post_id, str(int(moment.timestamp()))] for moment, post_id in kept]


def _next_after(page: dict[str, Any]) -> str | None:
    """The `after` cursor of the next page, or None on the last page.

    Graph's word for "last page" is a missing `paging.next`: a page emptied by privacy
    filtering can still have one, so an empty page is followed too (the poll's budget bounds
    it). The cursor is `paging.cursors.after`, else the `after` of the `next` URL.
    """
    paging = page.get("paging") if isinstance(page.get("paging"), dict) else {}
    next_url = paging.get("next")
    if not isinstance(next_url, str) or not next_url:
        return None
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = _str(cursors.get("after")) or _str(
        (parse_qs(urlparse(next_url).query).get("after") or [""])[0]
    )
    return after or None


def _later(current: datetime | None, value: Any) -> datetime | None:
    parsed = parse_graph_time(value)
    if parsed is None:
        return current
    return parsed if current is None or parsed > current else current


def _seconds(value: datetime | None) -> str | None:
    return str(int(value.timestamp())) if value is not None else None
