"""Reading an Instagram account page by page, resumable across polls (the fetch half of
`instagram`), on the Facebook reader's budget, cursor and per-page hand-off (`facebook_paging`).

Streams and their cursor keys:

* "ig_comments": Graph has no `since` on IG comments, so what changed is told by each media's
  `comments_count` (replies included). Every poll lists the account's media (`/{ig-user}/media`,
  newest first, paged to the end) and reads the comments of each media whose count moved since
  it was last read to the end, newest first, each page with its nested replies (a comment whose
  replies run past the nested page has them paged on `/{comment}/replies`). It stops once it
  has met as many items created since the previous round as the count grew by (or at the end).
  "ig_comment_counts" holds [media id, count] of every media read. The stream's value is the
  start of the last finished round (unix seconds), or while a round is under way a
  continuation: "since", "target", "list_after" (the listing page being worked through),
  "media", "after", "want", "found", "count" (the media being read and where).
  A media first seen after the first look is read whole; one older than it (beyond the first
  look's reach) is only counted, so connecting an account does not import its history.
* "ig_tags": media that tag the account (`/{ig-user}/tags`, newest first), read down to the
  previous round's newest; + "after" while a backlog is read.
* "ig_messages": the Page's conversations with platform=instagram and their messages: the
  Messenger reader as it is (see `facebook_paging`), under its own stream name.
"""

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import facebook
from django.utils import timezone

from listening.connectors import facebook_paging
from listening.connectors.facebook import _id, _str, parse_graph_time
from listening.connectors.facebook_paging import (
    _continuation,
    _first_look_time,
    _next_after,
    _position,
    _seconds,
)
from listening.connectors.instagram import (
    COMMENT_FIELDS,
    COMMENTS_WITH_REPLIES,
    MEDIA_FIELDS,
    PAGE_SIZE,
    TAG_FIELDS,
    Batch,
    comment_items,
    normalise_comment,
    normalise_media,
    normalise_message,
    page_id_of,
)
from listening.posts import FetchPage

if TYPE_CHECKING:
    from listening.models import Channel

log = logging.getLogger(__name__)

COUNTS = "ig_comment_counts"
# Items created this long before the previous round began still count as new (clock skew).
NEW_SLACK = timedelta(minutes=5)
# On the first look, the newest comments of this many of the latest media are read.
RECENT_MEDIA = 10


def fetch_pages(
    channel: "Channel", graph: facebook.GraphAPI, cursor: dict[str, Any]
) -> Iterator[FetchPage]:
    """Every stream of the account, one FetchPage per Graph page read."""
    account = str(channel.external_account_id)
    batch = Batch(own_id=account, own_handle=channel.handle)
    reader = _Reader(channel, graph, batch, dict(cursor))
    yield from reader._run("ig_comments", reader.comments(account))
    yield from reader._run("ig_tags", reader.tags(account))
    yield from reader.messenger(page_id_of(channel))


class _Reader(facebook_paging._Reader):
    MESSAGES_STREAM = "ig_messages"
    PLATFORM = "instagram"

    def _complete(self) -> None:
        """Nothing to complete: Graph names the author of every item it is asked to."""

    def _message(self, item: Any, conversation_id: str) -> Any:
        return normalise_message(item, conversation_id=conversation_id)

    # ---- comments ------------------------------------------------------------------------

    def comments(self, account: str) -> Iterator[FetchPage]:
        stream = "ig_comments"
        since, target, state = _position(self.cursor.get(stream))
        counts = _counts(self.cursor.get(COUNTS))
        first_look = since is None
        if first_look or target is None or not state:
            target = timezone.now()
        assert target is not None
        new_since = (since or target) - NEW_SLACK
        list_after = _str(state.get("list_after")) or None

        def save(**extra: Any) -> FetchPage:
            self.cursor[COUNTS] = [[media, n] for media, n in counts.items()]
            value = _continuation(since or target, target, list_after=list_after, **extra)
            return self._page(stream, value)

        current = _str(state.get("media")) or None
        if current and not first_look:
            count = _int(state.get("count"))
            yield from self._media_comments(
                current,
                new_since,
                want=_int(state.get("want")),
                found=_int(state.get("found")) or 0,
                after=_str(state.get("after")) or None,
                save=save,
            )
            if count is not None:
                counts[current] = count
            yield save()
        listed = 0
        while True:
            args: dict[str, Any] = {"fields": MEDIA_FIELDS, "limit": PAGE_SIZE}
            if list_after:
                args["after"] = list_after
            listing = self._get(stream, f"{account}/media", args)
            for media in self.batch.read(listing):
                media_id, count = _id(media), _int(media.get("comments_count"))
                created = parse_graph_time(media.get("timestamp"))
                if not media_id or count is None:
                    continue
                listed += 1
                known = counts.get(media_id)
                if known == count:
                    continue
                if first_look or (known is None and (created is None or created < new_since)):
                    # History from before the first look: counted, not imported (the newest
                    # comments of the latest media are, as on Facebook).
                    if first_look and listed <= RECENT_MEDIA and count:
                        self._newest_comments(stream, media_id)
                    counts[media_id] = count
                    continue
                want = count - known if known is not None and count > known else None
                yield from self._media_comments(media_id, new_since, want, 0, None, save, count)
                counts[media_id] = count
                yield save()
            list_after = _next_after(listing)
            if not list_after:
                break
            yield save()
        self.cursor[COUNTS] = [[media, n] for media, n in counts.items()]
        yield self._page(stream, _seconds(target))

    def _media_comments(
        self,
        media_id: str,
        new_since: datetime,
        want: int | None,
        found: int,
        after: str | None,
        save: Any,
        count: int | None = None,
    ) -> Iterator[FetchPage]:
        """The comments of one media newest first, until `want` new items were met (None: to
        the end); after each page but the last, the continuation says where it stands."""
        stream = "ig_comments"
        while True:
            args: dict[str, Any] = {"fields": COMMENTS_WITH_REPLIES, "limit": PAGE_SIZE}
            if after:
                args["after"] = after
            page = self._get(stream, f"{media_id}/comments", args)
            for item in self.batch.read(page):
                found += self._keep_thread(stream, media_id, item, new_since)
            after = _next_after(page)
            if not after or (want is not None and found >= want):
                return
            yield save(media=media_id, after=after, want=want, found=found, count=count)

    def _keep_thread(
        self, stream: str, media_id: str, item: dict[str, Any], since: datetime
    ) -> int:
        """Keep a comment and its replies (paged on when they run past the nested page);
        returns how many of them were created since `since`."""
        new = 0
        for one in comment_items(item):
            created = parse_graph_time(one.get("timestamp")) if isinstance(one, dict) else None
            new += int(created is not None and created >= since)
            self.batch.keep(normalise_comment(one, media_id=media_id))
        nested = item.get("replies") if isinstance(item.get("replies"), dict) else {}
        reply_after = _next_after(nested) if nested else None
        comment_id = _id(item)
        while reply_after and comment_id:
            page = self._get(
                stream,
                f"{comment_id}/replies",
                {"fields": COMMENT_FIELDS, "limit": PAGE_SIZE, "after": reply_after},
            )
            for reply in self.batch.read(page):
                created = parse_graph_time(reply.get("timestamp"))
                new += int(created is not None and created >= since)
                reply = {"parent_id": comment_id, **reply}
                self.batch.keep(normalise_comment(reply, media_id=media_id))
            reply_after = _next_after(page)
        return new

    def _newest_comments(self, stream: str, media_id: str) -> None:
        page = self._get(
            stream, f"{media_id}/comments", {"fields": COMMENTS_WITH_REPLIES, "limit": PAGE_SIZE}
        )
        for item in self.batch.read(page):
            for one in comment_items(item):
                self.batch.keep(normalise_comment(one, media_id=media_id))

    # ---- tags ----------------------------------------------------------------------------

    def tags(self, account: str) -> Iterator[FetchPage]:
        """Media that tag the account, newest first, down to the previous round's newest."""
        stream = "ig_tags"
        since, target, state = _position(self.cursor.get(stream))
        after = _str(state.get("after")) or None
        first_look = since is None
        while True:
            args: dict[str, Any] = {"fields": TAG_FIELDS, "limit": PAGE_SIZE}
            if after:
                args["after"] = after
            page = self._get(stream, f"{account}/tags", args)
            reached_old = False
            for item in self.batch.read(page):
                created = parse_graph_time(item.get("timestamp"))
                if since is not None and created is not None and created < since:
                    reached_old = True  # newest first: the rest was read before
                    continue
                if created is not None and (target is None or created > target):
                    target = created
                self.batch.keep(normalise_media(item, kind="tag"))
            after = _next_after(page)
            if first_look or reached_old or not after:
                yield self._page(stream, _seconds(target or since or _first_look_time()))
                return
            yield self._page(stream, _continuation(since, target, after=after))


def _counts(value: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, list) and len(entry) == 2:
            media_id, count = _str(entry[0]), _int(entry[1])
            if media_id and count is not None:
                counts[media_id] = count
    return counts


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
