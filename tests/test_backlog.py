"""Backlogs past every page cap, read through the simulator with the real tweepy / facebook-sdk.

Each poll is given a small page budget, so a backlog takes several polls: every post must be
stored once, X must read each post once (it bills reads), a failure on page N must keep pages
1..N-1, and what the network can no longer serve must show as a gap.
"""

import logging
import time
from datetime import timedelta
from random import Random

import pytest
from django.urls import reverse
from django.utils import timezone

from listening import polling
from listening.connectors import facebook_paging, x_paging
from listening.connectors.facebook import ACTIVITY_FIELDS
from listening.models import Channel, ListeningRule, Mention
from listening.polling import PollOutcome
from listening.posts import gap, pending_streams
from listening.simulator.state import PendingAnswer
from tests.conftest import logged_in, make_channel

pytestmark = pytest.mark.django_db

X_ACCOUNT, FB_PAGE = "1000", "2000"


@pytest.fixture
def networks(simulator, settings, clean_cache):
    settings.X_API_BASE_URL = simulator.url
    settings.FACEBOOK_GRAPH_URL = simulator.url
    return simulator


class SimClock:
    """The simulator's clock, ahead of the real one by what the test moved it forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(networks, monkeypatch) -> SimClock:
    sim_clock = SimClock()
    monkeypatch.setattr(networks.server.state, "clock", sim_clock)
    return sim_clock


def x_channel() -> Channel:
    return make_channel("x", external_account_id=X_ACCOUNT, handle="@acme_support")


def fb_channel() -> Channel:
    return make_channel("facebook", external_account_id=FB_PAGE, handle="Acme")


def stored_ids(channel: Channel) -> list[str]:
    return list(Mention.objects.filter(channel=channel).values_list("external_id", flat=True))


def poll_until_drained(channel: Channel, limit: int = 50) -> int:
    """Poll until no stream has a backlog left; returns the number of polls."""
    for polls in range(1, limit + 1):
        assert polling.poll_channel(channel.pk) == PollOutcome.OK
        channel.refresh_from_db()
        if not pending_streams(channel.cursor):
            return polls
    raise AssertionError(f"backlog not drained after {limit} polls: {channel.cursor}")


def test_x_mention_backlog_is_read_over_several_polls_each_post_once(networks, monkeypatch, caplog):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 2)  # 200 posts a poll per stream
    channel = x_channel()
    first = networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # the first poll sets the cursor
    channel.refresh_from_db()
    reads_before = channel.api_reads

    backlog = networks.publish("x", 750, account_id=X_ACCOUNT, kind="mention")
    with caplog.at_level(logging.WARNING, logger="listening.polling"):
        polls = poll_until_drained(channel)

    assert polls == 4  # 750 posts at 200 a poll
    ids = stored_ids(channel)
    assert sorted(ids) == sorted(first + backlog)  # every post, once
    # Each post read once; a backlog read over several polls also reads the post it started
    # after, once, to prove nothing fell beyond the timeline's reach meanwhile.
    assert channel.api_reads - reads_before == len(backlog) + 1
    assert channel.cursor["mentions"] == backlog[-1]  # drained: the newest id
    assert channel.intake_gaps == []
    pending = [r for r in caplog.records if r.getMessage() == "poll stopped with a backlog pending"]
    assert len(pending) == 3 and all(r.channel_id == channel.pk for r in pending)


def test_x_rule_search_backlog_of_2500_posts(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 5)  # 500 posts a poll, well below the backlog
    channel = x_channel()
    ListeningRule.objects.create(channel=channel, name="Brand", query="acme")
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="search")
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    before, reads_before = set(stored_ids(channel)), channel.api_reads

    backlog = networks.publish("x", 2500, account_id=X_ACCOUNT, kind="search")
    polls = poll_until_drained(channel)

    assert polls == 5
    new = [i for i in stored_ids(channel) if i not in before]
    assert sorted(new) == sorted(backlog)
    assert channel.api_reads - reads_before == len(backlog)


def test_x_dm_backlog_resumes_with_the_stored_pagination_token(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 1)  # the one-event probe, then one page a poll
    channel = x_channel()
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="dm")
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    before, reads_before = set(stored_ids(channel)), channel.api_reads

    backlog = networks.publish("x", 260, account_id=X_ACCOUNT, kind="dm")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    channel.refresh_from_db()
    assert set(channel.cursor["dm"]) == {"stop_at", "token", "target"}
    poll_until_drained(channel)

    new = [i for i in stored_ids(channel) if i not in before]
    assert sorted(new) == sorted(backlog)
    # dm_events has no since_id: the stored event that ends the backlog is read once more.
    assert channel.api_reads - reads_before == len(backlog) + 1


def test_x_refused_dm_token_reads_again_from_the_newest(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 1)
    channel = x_channel()
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="dm")
    polling.poll_channel(channel.pk)
    backlog = networks.publish("x", 150, account_id=X_ACCOUNT, kind="dm")
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    channel.cursor["dm"]["token"] = "not-a-token"
    channel.save(update_fields=["cursor"])

    poll_until_drained(channel)

    assert set(backlog) <= set(stored_ids(channel))
    assert len(stored_ids(channel)) == len(set(stored_ids(channel)))


def test_x_mentions_past_the_timeline_reach_are_read_by_recent_search(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = x_channel()
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    reads_before = channel.api_reads
    backlog = networks.publish("x", 900, account_id=X_ACCOUNT, kind="mention")

    # X serves the 800 most recent mentions only: the oldest 100 come from recent search.
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    channel.refresh_from_db()
    assert set(backlog) <= set(stored_ids(channel))
    assert len(stored_ids(channel)) == len(set(stored_ids(channel)))
    assert channel.api_reads - reads_before == len(backlog)  # each post read once
    assert channel.intake_gaps == []
    assert channel.cursor["mentions"] == backlog[-1]
    assert x_paging.MENTIONS_BACKFILL not in channel.cursor


def test_x_mentions_pushed_beyond_reach_while_a_backlog_drains_are_read_by_search(
    networks, monkeypatch
):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 2)
    channel = x_channel()
    first = networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    backlog = networks.publish("x", 700, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)  # reads the newest 200 of the backlog
    # 700 more arrive: the 800 most recent are now these and the backlog's newest 100 only.
    wave = networks.publish("x", 700, account_id=X_ACCOUNT, kind="mention")
    channel.refresh_from_db()
    reads_before = channel.api_reads

    polls = poll_until_drained(channel)

    assert polls > 1  # the search range resumes across polls like any continuation
    assert set(first) | set(backlog) | set(wave) == set(stored_ids(channel))
    assert len(stored_ids(channel)) == len(set(stored_ids(channel)))
    # Each post once, plus the reach checks of the resumed reads (the post they start after).
    assert channel.api_reads - reads_before <= len(backlog) - 200 + len(wave) + polls
    assert channel.intake_gaps == []
    assert channel.cursor["mentions"] == wave[-1]


def test_x_mentions_the_reach_slides_past_while_one_drain_pages_are_read_by_search(
    networks, monkeypatch
):
    """The reach is the 800 most recent mentions at each request: mentions arriving between
    the pages of one drain push its bottom up, and the drain ends short of since_id having
    served fewer than 800. The oldest of the backlog are read by recent search all the same."""
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = x_channel()
    first = networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    backlog = networks.publish("x", 750, account_id=X_ACCOUNT, kind="mention")
    arriving: list[str] = []
    read_x = x_paging._call

    def more_arrive_after_the_first_page(call, **request):
        page = read_x(call, **request)
        if not arriving and "pagination_token" not in request and "since_id" in request:
            arriving.extend(networks.publish("x", 120, account_id=X_ACCOUNT, kind="mention"))
        return page

    monkeypatch.setattr(x_paging, "_call", more_arrive_after_the_first_page)
    poll_until_drained(channel)
    polling.poll_channel(channel.pk)  # the mentions that arrived meanwhile

    assert arriving
    assert set(first) | set(backlog) | set(arriving) == set(stored_ids(channel))
    assert channel.intake_gaps == []


def test_x_second_range_beyond_reach_waits_for_the_first(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 1)
    channel = x_channel()
    first = networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    bursts = []
    for size in (2500, 1500):
        bursts += networks.publish("x", size, account_id=X_ACCOUNT, kind="mention")
        # The timeline's 800 newest take 8 polls (a page each); the 8th hands the older ones
        # to recent search, which reads a page a poll from then on (17 polls for the first).
        for _ in range(9):
            polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    assert isinstance(channel.cursor[x_paging.MENTIONS_BACKFILL], dict)
    assert len(channel.cursor[x_paging.MENTIONS_BACKFILL_QUEUE]) == 1

    poll_until_drained(channel)

    assert set(first) | set(bursts) == set(stored_ids(channel))
    assert channel.intake_gaps == []
    assert x_paging.MENTIONS_BACKFILL_QUEUE not in channel.cursor


def test_x_mentions_beyond_reach_and_the_search_window_record_a_gap(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = x_channel()
    backlog = networks.publish("x", 900, account_id=X_ACCOUNT, kind="mention")
    # The newest mention stored before the backlog is older than recent search's 7 days.
    channel.cursor = {"mentions": "1000000000000000000"}
    channel.save(update_fields=["cursor"])

    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    channel.refresh_from_db()
    assert set(backlog) <= set(stored_ids(channel))  # the window itself is read
    (gap,) = channel.intake_gaps
    assert gap["stream"] == "mentions"
    assert "7 days" in gap["reason"]
    assert gap["since"].startswith("2018-")
    oldest = Mention.objects.get(channel=channel, external_id=backlog[0])
    assert gap["until"] < oldest.posted_at.isoformat()


def test_x_channel_without_a_username_records_the_gap_beyond_reach(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = make_channel("x", external_account_id=X_ACCOUNT, handle="Acme Support")
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    backlog = networks.publish("x", 900, account_id=X_ACCOUNT, kind="mention")

    poll_until_drained(channel)

    assert not set(backlog[:100]) & set(stored_ids(channel))
    (gap,) = channel.intake_gaps
    assert gap["stream"] == "mentions" and "800" in gap["reason"]
    oldest_read = Mention.objects.get(channel=channel, external_id=backlog[-800])
    assert gap["until"] == oldest_read.posted_at.isoformat()


def test_x_failure_on_page_n_keeps_pages_before_it(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = x_channel()
    networks.publish("x", 1, account_id=X_ACCOUNT, kind="mention")
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    before, reads_before = len(stored_ids(channel)), channel.api_reads
    backlog = networks.publish("x", 700, account_id=X_ACCOUNT, kind="mention")
    # Page 4 fails (and its retries): pages 1-3 were stored, each with its cursor.
    networks.fault("x", "503", count=10, path_contains="/mentions", skip=3)

    assert polling.poll_channel(channel.pk) == PollOutcome.FAILED
    channel.refresh_from_db()
    assert len(stored_ids(channel)) - before == 300
    assert channel.api_reads - reads_before == 300
    assert pending_streams(channel.cursor) == ["mentions"]

    networks.server.state.faults.clear()
    poll_until_drained(channel)
    assert len(stored_ids(channel)) - before == len(backlog)
    # Pages 1-3 were not read again (the one more read is the reach check of a resumed backlog).
    assert channel.api_reads - reads_before == len(backlog) + 1


def test_x_rule_whose_since_id_left_the_7_day_window_records_a_visible_gap(
    networks, admin, monkeypatch
):
    channel = x_channel()
    rule = ListeningRule.objects.create(channel=channel, name="Brand", query="acme")
    recent = networks.publish("x", 30, account_id=X_ACCOUNT, kind="search")
    # An id X issued long before the window (ids are snowflakes: they carry their time).
    channel.cursor = {"mentions": recent[-1], rule.cursor_key: "1000000000000000000"}
    channel.save(update_fields=["cursor"])

    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    channel.refresh_from_db()
    assert set(recent) <= set(stored_ids(channel))  # the window itself is read
    assert channel.cursor[rule.cursor_key] == recent[-1]
    (gap,) = channel.intake_gaps
    assert gap["stream"] == rule.cursor_key
    assert "7 days" in gap["reason"]
    assert gap["since"].startswith("2018-") and gap["until"] > gap["since"] and gap["detected_at"]

    page = logged_in(admin).get(reverse("listening:health"))
    assert b"may be missing" in page.content
    assert b"posts between 2018-" in page.content
    report = logged_in(admin).get(
        reverse("listening:health"), headers={"accept": "application/json"}
    )
    assert report.json()["status"] == "degraded"
    assert "may be missing" in report.json()["channels"][0]["intake_gaps"][0]["description"]

    change = reverse("admin:listening_channel_change", args=[channel.pk])
    assert b"may be missing" in logged_in(admin).get(change).content
    logged_in(admin).post(
        reverse("admin:listening_channel_changelist"),
        {"action": "acknowledge_gaps", "_selected_action": [channel.pk]},
    )
    channel.refresh_from_db()
    assert channel.intake_gaps == []
    assert b"may be missing" not in logged_in(admin).get(reverse("listening:health")).content


def test_quiet_rule_past_the_window_is_read_again_without_a_gap(networks):
    channel = x_channel()
    rule = ListeningRule.objects.create(channel=channel, name="Brand", query="acme")
    recent = networks.publish("x", 5, account_id=X_ACCOUNT, kind="search")
    channel.cursor = {rule.cursor_key: "1000000000000000000"}
    # The last poll read everything up to now: a since_id past the window is just quiet.
    channel.last_success_at = timezone.now()
    channel.save(update_fields=["cursor", "last_success_at"])

    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    channel.refresh_from_db()
    assert set(recent) <= set(stored_ids(channel))
    assert channel.intake_gaps == []


# ---- Facebook --------------------------------------------------------------------------------


def published_fb(networks, kind: str, count: int) -> list[str]:
    return networks.publish("facebook", count, account_id=FB_PAGE, kind=kind)


def test_facebook_backlog_every_post_comment_and_message_once(networks, monkeypatch):
    # Graph requests per stream and poll: 250 new posts each need their comments read.
    monkeypatch.setattr(facebook_paging, "MAX_PAGES", 60)
    channel = fb_channel()
    published_fb(networks, "visitor_post", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look: sets the cursors
    channel.refresh_from_db()
    before = set(stored_ids(channel))

    posts = published_fb(networks, "visitor_post", 250)  # more than a feed page (100)
    comments = published_fb(networks, "comment", 600)  # on a few page posts: > 100 each
    messages = published_fb(networks, "message", 150)
    graph = networks.server.state.fb
    busiest = max(graph.comments_by_post.values(), key=len)
    assert len([c for c in busiest if c in set(comments)]) > 100

    polls = poll_until_drained(channel)

    assert polls > 1
    new = [i for i in stored_ids(channel) if i not in before]
    assert sorted(new) == sorted(posts + comments + messages)
    assert set(busiest[-5:]) <= set(new)  # the busiest post's newest comments too


def test_facebook_failure_mid_comments_keeps_earlier_pages(networks, monkeypatch):
    monkeypatch.setattr(facebook_paging, "MAX_PAGES", 100)
    channel = fb_channel()
    published_fb(networks, "visitor_post", 1)
    polling.poll_channel(channel.pk)
    channel.refresh_from_db()
    before = set(stored_ids(channel))
    comments = published_fb(networks, "comment", 400)
    networks.fault("facebook", "500", count=10, path_contains="/comments", skip=2)

    assert polling.poll_channel(channel.pk) == PollOutcome.FAILED
    channel.refresh_from_db()
    kept = [i for i in stored_ids(channel) if i not in before]
    assert len(kept) >= 100  # the comment pages read before the failure are stored
    assert pending_streams(channel.cursor) == ["comments"]

    networks.server.state.faults.clear()
    poll_until_drained(channel)
    new = [i for i in stored_ids(channel) if i not in before]
    assert sorted(new) == sorted(comments)


def test_admin_acknowledges_only_the_gaps_it_showed(admin):
    channel = x_channel()
    shown, later = timezone.now() - timedelta(minutes=5), timezone.now() + timedelta(minutes=1)
    old_gap = {**gap("rule:1", None, shown, "X recent search reaches back 7 days only")}
    new_gap = {**gap("mentions", None, later, "the X mentions timeline reaches back 800 posts")}
    old_gap["detected_at"], new_gap["detected_at"] = shown.isoformat(), later.isoformat()
    Channel.objects.filter(pk=channel.pk).update(intake_gaps=[old_gap, new_gap])
    url = reverse("admin:listening_channel_change", args=[channel.pk])
    form = {
        "name": channel.name,
        "network": "x",
        "handle": channel.handle,
        "external_account_id": channel.external_account_id,
        "enabled": "on",
        "poll_interval": "60",
        "acknowledge_gaps": "on",
        "gaps_seen_at": timezone.now().strftime("%Y-%m-%d %H:%M:%S"),
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }

    response = logged_in(admin).post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    channel.refresh_from_db()
    assert channel.intake_gaps == [new_gap]  # recorded after the page was shown: kept


def test_facebook_post_lifted_in_two_rounds_in_a_row_keeps_its_comments(
    networks, clock, monkeypatch
):
    """A comment lifts a post above the listing's position while the listing is paged: the
    round skips it and the next reads it. Lifted again in that next round, it is read a
    round later, still from before the first round that skipped it."""
    monkeypatch.setattr(facebook_paging, "MAX_PAGES", 1000)
    state = networks.server.state
    graph = state.fb
    channel = fb_channel()
    published_fb(networks, "visitor_post", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look: sets the cursors

    clock.advance(10)
    (post_id,) = published_fb(networks, "visitor_post", 1)
    post = graph.posts[post_id]

    def comment() -> str:
        with state.lock:
            return graph._add_comment(post, None, "Still waiting for an answer", post.author).id

    comments = [comment()]
    lifts: list[int] = []
    read_graph = facebook_paging._get

    def lift_while_listing(graph_api, path, args):
        # Before the listing's second page: the post is below it, and a comment lifts it.
        listing = path.endswith("/feed") and args["fields"] == ACTIVITY_FIELDS
        if listing and "after" in args and lifts and lifts.pop():
            clock.advance(10)
            comments.append(comment())
        return read_graph(graph_api, path, args)

    monkeypatch.setattr(facebook_paging, "_get", lift_while_listing)
    for _ in range(2):  # two rounds, each with more active posts than a listing page
        clock.advance(10)
        published_fb(networks, "visitor_post", 150)
        lifts.append(1)
        assert polling.poll_channel(channel.pk) == PollOutcome.OK
        assert not lifts  # the post was lifted during this round
    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    assert len(comments) == 3
    assert set(comments) <= set(stored_ids(channel))


def test_facebook_conversation_lifted_while_the_listing_pages_keeps_its_messages(
    networks, clock, monkeypatch
):
    """A message lifts a conversation above the listing's position while it is paged: the
    round skips it, and the next reads its messages down to the skipping round's start."""
    monkeypatch.setattr(facebook_paging, "MAX_PAGES", 1000)
    state = networks.server.state
    graph = state.fb
    page = state.account("facebook", FB_PAGE)
    channel = fb_channel()
    published_fb(networks, "message", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look: sets the cursors

    clock.advance(10)
    with state.lock:
        conversation = graph._conversation(page, "999001", "Quiet Customer")

    def message() -> str:
        with state.lock:
            return graph._add_message(conversation, page, "Any news?", from_page=False).id

    messages = [message()]
    clock.advance(10)
    published_fb(networks, "message", 400)  # from most customers: more than a listing page
    assert sum(c.updated > conversation.updated for c in graph.conversations.values()) > 100
    lifts = [1]
    read_graph = facebook_paging._get

    def lift_while_listing(graph_api, path, args):
        if path.endswith("/conversations") and "after" in args and lifts and lifts.pop():
            clock.advance(10)
            messages.append(message())
        return read_graph(graph_api, path, args)

    monkeypatch.setattr(facebook_paging, "_get", lift_while_listing)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    assert not lifts  # lifted during the round
    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    assert set(messages) <= set(stored_ids(channel))


def test_facebook_repeated_comments_page_loses_no_comment(networks, clock, monkeypatch):
    """Graph serves a post's comments page again instead of the one asked for: the newer
    comments it hides are read all the same."""
    state = networks.server.state
    graph = state.fb
    channel = fb_channel()
    first, second = published_fb(networks, "visitor_post", 2)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look

    def comment(post_id: str) -> str:
        with state.lock:
            post = graph.posts[post_id]
            return graph._add_comment(post, None, "Hello?", post.author).id

    lose_nothing_to_a_repeated_page(
        networks, clock, channel, comment, first, second, f"/{first}/comments"
    )


def lose_nothing_to_a_repeated_page(networks, clock, channel, add, quiet, other, path) -> None:
    """Items added to `quiet` before and after a poll, then the newest to `other` (the next
    round starts after it); Graph then serves a page of `path` again: every item is stored."""
    clock.advance(10)
    early = [add(quiet) for _ in range(3)]
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    clock.advance(10)
    later = [add(quiet) for _ in range(2)]
    clock.advance(10)
    newest = add(other)
    networks.fault("facebook", "repeat_page", path_contains=path)

    for _ in range(3):
        clock.advance(10)
        polling.poll_channel(channel.pk)

    assert set(early + later + [newest]) <= set(stored_ids(channel))


def test_x_streams_found_empty_read_everything_published_after(networks, monkeypatch):
    monkeypatch.setattr(x_paging, "MAX_PAGES", 20)
    channel = x_channel()
    ListeningRule.objects.create(channel=channel, name="Brand", query="acme")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # nothing yet on any stream
    channel.refresh_from_db()
    assert set(channel.cursor) >= {"mentions", "dm"}

    # More than a page of each: not a first look (one page) any more.
    posts = networks.publish("x", 150, account_id=X_ACCOUNT, kind="mention")
    posts += networks.publish("x", 150, account_id=X_ACCOUNT, kind="dm")
    posts += networks.publish("x", 150, account_id=X_ACCOUNT, kind="search")
    poll_until_drained(channel)

    assert set(posts) <= set(stored_ids(channel))


def test_facebook_comment_rounds_shrink_back_to_one_listing_page(networks, clock, monkeypatch):
    """After a round paged through more active posts than a listing page, the next rounds list
    only what moved since: reading every post active since the floor again would keep each
    round paged, the floor would never move up and the stream would fall ever further behind."""
    state = networks.server.state
    channel = fb_channel()
    published_fb(networks, "visitor_post", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look
    for _ in range(3):  # more active posts than a listing page, over a few seconds
        clock.advance(2)
        published_fb(networks, "visitor_post", 50)
    poll_until_drained(channel)  # the paged round
    clock.advance(10)
    (commented,) = published_fb(networks, "comment", 1)

    reads = []
    for _ in range(3):
        before = sum(
            n for route, n in state.requests.items() if route.endswith(("comments", "feed"))
        )
        clock.advance(10)
        assert polling.poll_channel(channel.pk) == PollOutcome.OK
        reads.append(
            sum(n for route, n in state.requests.items() if route.endswith(("comments", "feed")))
            - before
        )

    channel.refresh_from_db()
    assert commented in stored_ids(channel)
    # Feed, the activity listings of /feed and /tagged and the commented post (listed again
    # in its own second): no post of the paged round is read again.
    assert reads[-1] <= 5, reads
    assert int(channel.cursor[facebook_paging.COMMENTS_FLOOR]) > int(time.time())


def test_facebook_busy_post_is_not_read_again_from_an_old_floor(networks, clock, monkeypatch):
    """While rounds keep paging, comments are read from an old floor; a post with many
    comments is read from where its last read ended instead, not all of them each round."""
    state = networks.server.state
    graph = state.fb
    channel = fb_channel()
    published_fb(networks, "visitor_post", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look
    (busy,) = published_fb(networks, "visitor_post", 1)
    post = graph.posts[busy]
    pages: list[int] = []
    read_graph = facebook_paging._get

    def count_busy_pages(graph_api, path, args):
        pages[-1] += path == f"{busy}/comments"
        return read_graph(graph_api, path, args)

    monkeypatch.setattr(facebook_paging, "_get", count_busy_pages)
    expected = []
    for _ in range(3):  # rounds that page through more posts than a listing holds
        for _ in range(5):  # 250 comments over five seconds
            clock.advance(1)
            with state.lock:
                expected += [
                    graph._add_comment(post, None, "Any news?", post.author).id for _ in range(50)
                ]
        published_fb(networks, "visitor_post", 120)
        pages.append(0)
        poll_until_drained(channel)

    assert set(expected) <= set(stored_ids(channel))
    channel.refresh_from_db()
    floor = int(channel.cursor[facebook_paging.COMMENTS_FLOOR])
    assert floor < graph.comments[expected[0]].created  # the floor stayed behind: rounds paged
    # The last round's 250 comments and the last second of the round before (Graph times are
    # whole seconds): not all 750 since the floor.
    assert pages[-1] <= 4, pages


def test_facebook_repeated_messages_page_loses_no_message(networks, clock, monkeypatch):
    """Graph serves a conversation's messages page again instead of the newest one: the
    newer messages it hides are read all the same."""
    state = networks.server.state
    graph = state.fb
    page = state.account("facebook", FB_PAGE)
    channel = fb_channel()
    published_fb(networks, "message", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look
    with state.lock:
        quiet, other = (graph._conversation(page, f"99900{n}", "Customer") for n in (1, 2))

    def message(conversation) -> str:
        with state.lock:
            return graph._add_message(conversation, page, "Any news?", from_page=False).id

    lose_nothing_to_a_repeated_page(
        networks, clock, channel, message, quiet, other, f"/{quiet.id}/messages"
    )


def test_facebook_streams_found_empty_read_everything_published_after(networks, monkeypatch):
    """A stream with nothing at its first look reads, next time, everything that appeared
    since: not one more first look (one page of posts, 25 conversations)."""
    channel = fb_channel()
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # no visitor post, no message
    channel.refresh_from_db()
    assert {"feed", "comments", "messenger"} <= set(channel.cursor)

    posts = published_fb(networks, "visitor_post", 150)  # more than a feed page
    with networks.server.state.lock:
        page = networks.server.state.account("facebook", FB_PAGE)
        graph = networks.server.state.fb
        messages = [
            graph._add_message(
                graph._conversation(page, f"99800{n}", "Customer"), page, "Hi", False
            ).id
            for n in range(40)  # more conversations than a first look reads
        ]
    poll_until_drained(channel)

    assert set(posts + messages) <= set(stored_ids(channel))


def test_facebook_answer_under_a_tagged_post_is_stored(networks, clock):
    """A customer's post tags the page, the page replies under it and the customer answers:
    the answer is a comment on the tagged post, a post that /feed does not list (Graph lists
    it on /tagged), so the comments stream reads the comments of tagged posts too."""
    graph = networks.server.state.fb
    page = networks.server.state.account("facebook", FB_PAGE)
    channel = fb_channel()
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look: nothing yet
    clock.advance(10)
    (tagged,) = published_fb(networks, "tagged", 1)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    assert tagged in stored_ids(channel)

    clock.advance(10)
    with networks.server.state.lock:
        ours = graph.post_comment(tagged, {"message": "Sorry to hear that, we are on it."})["id"]
        answer = graph.answer(page, PendingAnswer("facebook", FB_PAGE, "comment", ours), Random(3))
        post = graph.posts[tagged]
        other = graph._add_comment(post, None, "Same problem here", ("777001", "Other Customer"))
    clock.advance(10)
    assert polling.poll_channel(channel.pk) == PollOutcome.OK

    stored = stored_ids(channel)
    assert {answer, other.id} <= set(stored)
    assert ours not in stored  # the page's own reply is not a customer's post


def test_facebook_comments_on_more_tagged_posts_than_a_poll_reads_are_all_stored(
    networks, clock, monkeypatch
):
    """Comments on tagged posts past a listing page and a poll's budget: read over several
    polls from where the last one stopped, each once."""
    monkeypatch.setattr(facebook_paging, "MAX_PAGES", 40)
    graph = networks.server.state.fb
    channel = fb_channel()
    assert polling.poll_channel(channel.pk) == PollOutcome.OK  # first look: nothing yet
    clock.advance(10)
    tagged = published_fb(networks, "tagged", 150)  # more than a listing page
    with networks.server.state.lock:
        comments = [
            graph._add_comment(graph.posts[post_id], None, "Any news?", ("777002", "Customer")).id
            for post_id in tagged
        ]

    polls = poll_until_drained(channel)

    assert sorted(stored_ids(channel)) == sorted(tagged + comments)
    assert polls > 1
