"""Reading X page by page, resumable across polls (the fetch half of `listening.connectors.x`).

Every page is handed on as a FetchPage carrying the whole cursor to store once the page is
stored, so a failure on page N keeps pages 1..N-1, and a backlog bigger than one poll's budget
(MAX_PAGES per stream) is read over several polls, each post once.

A stream's cursor value is the newest id read (a string; EMPTY if the stream had no post at
its first look, so the next read takes everything since), or, while a backlog is being read,
a continuation (a dict):

* mentions and rule searches, read newest first with since_id:
  {"since_id": the newest id before the backlog, "until_id": the oldest id read so far,
  "target": the newest id of the backlog, "read": posts read so far}. Each request asks for
  since_id < id < until_id; when nothing older is left the cursor becomes the target.
  A rule whose since_id has left recent search's 7-day window restarts from the window's
  start ("start_time" instead of "since_id") and records a gap.
* DMs (dm_events has no since_id): {"stop_at": the newest id stored before the backlog,
  "token": the pagination_token of the next page, "target": the newest id of the backlog}.
  A token X no longer accepts restarts the backlog from the newest event.
* mentions beyond the timeline's reach (it serves the 800 most recent only): the part of a
  backlog the timeline no longer lists is read through recent search for the account's
  @handle, under its own key MENTIONS_BACKFILL with the same continuation
  {"since_id", "until_id", "target", "read"}; the key is dropped once drained. A range found
  while another is being read waits in MENTIONS_BACKFILL_QUEUE (a list of such dicts). Only
  what lies beyond recent search's 7 days as well is recorded as a gap.
"""

import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import tweepy
from django.utils import timezone

from listening.connectors.errors import PermanentError
from listening.connectors.x import (
    DM_EVENT_FIELDS,
    PAGE_SIZE,
    USER_FIELDS,
    _Batch,
    _call,
    _is_newer,
    _newest,
    _page_ids,
    _tweet_params,
)
from listening.connectors.x_media import MEDIA_FIELDS
from listening.connectors.x_normalise import _dig, _str_or_none, parse_x_time
from listening.posts import FetchPage, gap

if TYPE_CHECKING:
    from listening.models import Channel

log = logging.getLogger(__name__)

# Pages read per stream and poll. A bigger backlog continues at the next poll.
MAX_PAGES = 20
# GET /2/users/:id/mentions serves at most the 800 most recent mentions, however it is paged.
MENTIONS_REACH = 800
# The fewest posts X lets a timeline request ask for: the size of a reach probe.
PROBE_SIZE = 5
# GET /2/tweets/search/recent serves the last 7 days; a since_id older than that is refused.
SEARCH_WINDOW = timedelta(days=7)
# The window is entered this far inside its edge, so the request is not refused while in flight.
SEARCH_WINDOW_MARGIN = timedelta(minutes=2)
# Cursor keys of the mentions that fell beyond the timeline's reach, read by recent search.
MENTIONS_BACKFILL = "mentions:search"
MENTIONS_BACKFILL_QUEUE = "mentions:search:queued"
# An X username: what the @ operator of a search query accepts.
_USERNAME = re.compile(r"^@?(\w{1,15})$")
TWITTER_EPOCH_MS = 1_288_834_974_657
# The cursor of a stream found empty: its next read is everything since, not a first look
# (one page); no since_id is sent for it.
EMPTY = "0"


def fetch_pages(
    channel: "Channel", client: tweepy.Client, cursor: dict[str, Any]
) -> Iterator[FetchPage]:
    """Every stream of `channel`, one FetchPage per page read; see the module docstring."""
    account_id = str(channel.external_account_id)
    batch = _Batch(own_id=account_id)
    state = dict(cursor)
    reader = _Reader(channel, batch, state)
    handle = _USERNAME.match((channel.handle or "").strip())
    mentions_query = f"@{handle.group(1)}" if handle else None
    yield from reader.timeline(
        "mentions",
        lambda **kw: client.get_users_mentions(account_id, user_auth=False, **kw),
        token_param="pagination_token",
        kind_hint=None,
        reach=MENTIONS_REACH,
        backfill=MENTIONS_BACKFILL if mentions_query else None,
    )
    if mentions_query and isinstance(state.get(MENTIONS_BACKFILL), dict):
        yield from reader.timeline(
            MENTIONS_BACKFILL,
            lambda **kw: client.search_recent_tweets(mentions_query, user_auth=False, **kw),
            token_param="next_token",
            kind_hint=None,
            window=SEARCH_WINDOW,
            gap_stream="mentions",
            drained=reader.next_backfill,
        )
    for rule in channel.rules.filter(enabled=True).order_by("pk"):
        yield from reader.timeline(
            rule.cursor_key,
            lambda query=rule.query, **kw: client.search_recent_tweets(
                query, user_auth=False, **kw
            ),
            token_param="next_token",
            kind_hint="search",
            window=SEARCH_WINDOW,
        )
    yield from reader.dms(client)


class _Reader:
    """The pages of one poll; `cursor` is the channel's cursor as of the last page handed on."""

    def __init__(self, channel: "Channel", batch: _Batch, cursor: dict[str, Any]) -> None:
        self.channel = channel
        self.batch = batch
        self.cursor = cursor

    def _page(self, stream: str, value: Any, gaps: list[dict[str, str]] | None = None) -> FetchPage:
        if value is None:
            self.cursor.pop(stream, None)
        else:
            self.cursor[stream] = value
        page = self.batch.page(stream, self.cursor)
        page.gaps = list(gaps or [])
        return page

    def next_backfill(self) -> dict[str, Any] | None:
        """The next queued mentions range for recent search, taken off the queue."""
        queued = [r for r in self.cursor.get(MENTIONS_BACKFILL_QUEUE) or [] if isinstance(r, dict)]
        following = queued.pop(0) if queued else None
        if queued:
            self.cursor[MENTIONS_BACKFILL_QUEUE] = queued
        else:
            self.cursor.pop(MENTIONS_BACKFILL_QUEUE, None)
        return following

    def _hand_to_search(self, since: str, until: str) -> None:
        """Mentions between `since` and `until` (both excluded) are to be read by recent
        search: now, or after the range already being read."""
        span = {"since_id": since, "until_id": until, "target": until, "read": 0}
        if isinstance(self.cursor.get(MENTIONS_BACKFILL), dict):
            queued = list(self.cursor.get(MENTIONS_BACKFILL_QUEUE) or [])
            self.cursor[MENTIONS_BACKFILL_QUEUE] = [*queued, span]
        else:
            self.cursor[MENTIONS_BACKFILL] = span
        log.info(
            "X mentions beyond the timeline's reach: reading them by recent search",
            extra={"channel_id": self.channel.pk, "since_id": since, "until_id": until},
        )

    def _reach_missed(
        self, call: Callable[..., Any], since: str, oldest: str | None, read: int
    ) -> tuple[bool, int]:
        """Whether posts lie between since_id and the oldest post a paged drain read, that the
        timeline no longer reaches (one request of at most PROBE_SIZE posts); and the reads.
        What the request answers is kept like any page."""
        request = dict(_tweet_params(), max_results=PROBE_SIZE, since_id=str(int(since) - 1))
        if oldest:
            request["until_id"] = oldest
        page = _call(call, **request)
        read += self.batch.add_tweet_page(page, None)
        return set(_page_ids(page)) != {since}, read

    def _budget_spent(self, stream: str, read: int) -> None:
        log.info(
            "X backlog continues next poll",
            extra={"channel_id": self.channel.pk, "stream": stream, "read": read},
        )

    def timeline(
        self,
        stream: str,
        call: Callable[..., Any],
        *,
        token_param: str,
        kind_hint: str | None,
        reach: int | None = None,
        window: timedelta | None = None,
        backfill: str | None = None,
        gap_stream: str | None = None,
        drained: Callable[[], Any] | None = None,
    ) -> Iterator[FetchPage]:
        """Pages of a since_id timeline, newest first (mentions, one rule's search, or the
        mentions beyond reach read by search).

        `backfill`: what lies beyond `reach` is handed to that search instead of recorded as
        a gap. `gap_stream`: the stream a gap is recorded on (default `stream`). `drained`:
        the stream's value once drained (default its newest id)."""
        position = self.cursor.get(stream)
        resuming = isinstance(position, dict)
        if resuming:
            since = _str_or_none(position.get("since_id"))
            start_time = _str_or_none(position.get("start_time"))
            until = _str_or_none(position.get("until_id"))
            target = _str_or_none(position.get("target"))
            read = _int(position.get("read"))
            if target is None or (since is None and start_time is None):
                resuming, since, start_time, until, read = False, target, None, None, 0
        else:
            since, start_time, until, target, read = _str_or_none(position), None, None, None, 0
        first_read = since is None and start_time is None
        # Within a poll the query stays the same and its pages follow X's next_token; the
        # cursor keeps the oldest id read (until_id) instead, since tokens do not last.
        query_until = until
        # A timeline with a reach (mentions) moves on while a backlog is read over several
        # polls: a resumed query then asks for since_id itself too (one read), and a drain
        # that no longer finds it has lost what lay beyond the reach.
        probe = bool(reach and resuming and since and since.isdigit() and since != EMPTY)
        probe_found = False
        token = None
        gaps: list[dict[str, str]] = []
        pages = 0
        for _ in range(MAX_PAGES):
            request = dict(_tweet_params(), max_results=PAGE_SIZE)
            if since and probe:
                request["since_id"] = str(int(since) - 1)
            elif since and since != EMPTY:
                request["since_id"] = since
            elif start_time:
                request["start_time"] = start_time
            if query_until:
                request["until_id"] = query_until
            if token:
                request[token_param] = token
            try:
                page = _call(call, **request)
            except PermanentError as exc:
                if not (window and since and _refused(exc, "since_id")):
                    raise
                # Recent search no longer reaches since_id: what lies between it and the
                # window's start cannot be read any more. Say so, and read the window.
                start = timezone.now() - window + SEARCH_WINDOW_MARGIN
                missed_from = self._time_of(since)
                last_read = self.channel.last_success_at
                if not resuming and last_read is not None:
                    # A quiet rule: the last poll read everything up to its own time.
                    missed_from = max(missed_from or last_read, last_read)
                if missed_from is None or missed_from < start:
                    gaps.append(
                        gap(
                            gap_stream or stream,
                            missed_from,
                            start,
                            "X recent search reaches back 7 days only",
                        )
                    )
                    log.warning(
                        "X search window passed: gap recorded",
                        extra={"channel_id": self.channel.pk, "stream": stream, "since_id": since},
                    )
                since, start_time, token = None, _x_time(start), None
                first_read = False
                continue
            items = self.batch.add_tweet_page(page, kind_hint)
            read += items
            pages += 1
            ids = _page_ids(page)
            if probe and since in ids:
                probe_found = True
                ids = [i for i in ids if i != since]
            if target is None:
                target = _newest(since, ids)
            next_token = _dig(page, "meta", "next_token")
            oldest = _oldest(page)
            if first_read or not next_token:
                # Drained (or a first read: one page only, X bills every post read).
                beyond_reach = read >= reach if reach else False
                if probe:
                    beyond_reach = not probe_found
                elif reach and not beyond_reach and pages > 1 and since and since != EMPTY:
                    # The reach is the most recent posts at each request: new mentions arriving
                    # while a backlog is paged push its bottom up, so a drain can end short
                    # of since_id having served fewer than `reach`. Ask what lies just above
                    # since_id: only since_id itself means the drain met it.
                    beyond_reach, read = self._reach_missed(call, since, oldest or until, read)
                beyond = oldest or until
                if beyond_reach and since and not first_read and backfill and beyond:
                    self._hand_to_search(since, beyond)
                elif beyond_reach and since and not first_read:
                    gaps.append(
                        gap(
                            stream,
                            self._time_of(since),
                            self._time_of(oldest or until, page),
                            f"the X mentions timeline reaches back {reach} posts only",
                        )
                    )
                value = drained() if drained else target or since or EMPTY
                yield self._page(stream, value, gaps)
                return
            until, token = oldest or until, next_token
            continuation = {"until_id": until, "target": target, "read": read}
            if since:
                continuation["since_id"] = since
            else:
                continuation["start_time"] = start_time
            yield self._page(stream, continuation, gaps)
            gaps = []
        self._budget_spent(stream, read)

    def dms(self, client: tweepy.Client) -> Iterator[FetchPage]:
        """dm_events pages, newest first, down to the newest event stored before."""
        position = self.cursor.get("dm")
        token = None
        target = None
        if isinstance(position, dict):
            stop_at = _str_or_none(position.get("stop_at"))
            token = _str_or_none(position.get("token"))
            target = _str_or_none(position.get("target"))
            if stop_at is None or target is None:
                stop_at, token, target = target or stop_at, None, None
        else:
            stop_at = _str_or_none(position)
        read = 0
        for page_number in range(MAX_PAGES + 1):
            params: dict[str, Any] = {
                "dm_event_fields": DM_EVENT_FIELDS,
                "event_types": "MessageCreate",
                "expansions": ["sender_id", "attachments.media_keys"],
                "user_fields": USER_FIELDS,
                "media_fields": MEDIA_FIELDS,
                # With a stored id the first request asks for one event: a quiet poll costs
                # one read, not a page (dm_events has no since_id and bills every event).
                "max_results": 1 if stop_at and not token and page_number == 0 else PAGE_SIZE,
            }
            if token:
                params["pagination_token"] = token
            try:
                page = _call(client.get_direct_message_events, user_auth=False, **params)
            except PermanentError as exc:
                if not (token and _refused(exc, "pagination_token")):
                    raise
                log.warning(
                    "X refused a stored DM pagination token: reading again from the newest",
                    extra={"channel_id": self.channel.pk},
                )
                token, target = None, None
                continue
            read += len(page.get("data") or [])
            self.batch.add_dm_page(page, stop_at=stop_at)
            ids = _page_ids(page)
            if target is None:
                target = _newest(stop_at, ids)
            next_token = _dig(page, "meta", "next_token")
            reached = stop_at is not None and any(not _is_newer(i, stop_at) for i in ids)
            if stop_at is None or reached or not next_token:
                yield self._page("dm", target or stop_at or EMPTY)
                return
            token = next_token
            yield self._page("dm", {"stop_at": stop_at, "token": token, "target": target})
        self._budget_spent("dm", read)

    def _time_of(self, post_id: str | None, page: dict[str, Any] | None = None) -> datetime | None:
        """When post `post_id` was written: as read on `page`, as stored, else from its
        snowflake id."""
        if not post_id:
            return None
        for item in (page or {}).get("data") or []:
            if isinstance(item, dict) and str(item.get("id")) == post_id:
                posted = parse_x_time(item.get("created_at"))
                if posted is not None:
                    return posted
        from listening.models import Mention

        stored = (
            Mention.objects.filter(channel_id=self.channel.pk, external_id=post_id)
            .values_list("posted_at", flat=True)
            .first()
        )
        if stored is not None:
            return stored
        if post_id.isdigit():
            millis = (int(post_id) >> 22) + TWITTER_EPOCH_MS
            try:
                return datetime.fromtimestamp(millis / 1000, tz=UTC)
            except (OverflowError, OSError, ValueError):
                return None
        return None


def _oldest(page: dict[str, Any]) -> str | None:
    ids = [str(i["id"]) for i in page.get("data") or [] if isinstance(i, dict) and i.get("id")]
    oldest = _str_or_none(_dig(page, "meta", "oldest_id"))
    for candidate in ids:
        if oldest is None or _is_newer(oldest, candidate):
            oldest = candidate
    return oldest


def _refused(exc: PermanentError, parameter: str) -> bool:
    """Whether X answered 400 naming `parameter` (a since_id too old, a stale token)."""
    cause = exc.__cause__
    if not isinstance(cause, tweepy.BadRequest):
        return False
    for error in cause.api_errors or []:
        parameters = error.get("parameters") if isinstance(error, dict) else None
        if isinstance(parameters, dict) and parameter in parameters:
            return True
    return parameter in str(cause)


def _x_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
