"""Moderation from the desk: hide and show a customer's comment, delete a published reply, in
bulk from the inbox, and what the case page shows. The network calls run as the worker runs
them (`run_moderation`), against the simulator or `responses`."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from cases import moderation
from cases.actions import case_version
from cases.models import CaseEvent, Moderation, Reply
from cases.moderation import Outcome, do_record_source_visibility, recover_moderations
from listening.models import Mention, MentionKind, Network
from tests.conftest import calls_to, logged_in, make_channel
from tests.factories import HOSTILE, make_case, make_reply
from tests.simulator import running_simulator

State = Moderation.State


@pytest.fixture
def sim(settings):
    with running_simulator(seed=7, fault_sleep=0.5) as client:
        settings.X_API_BASE_URL = client.url
        settings.FACEBOOK_GRAPH_URL = client.url
        settings.FACEBOOK_GRAPH_VERSION = "v23.0"
        settings.SOCIAL_HTTP_TIMEOUT = 2.0
        yield client


@pytest.fixture
def page(db):
    """The simulator's Facebook Page 2000 as a channel."""
    return make_channel(Network.FACEBOOK, external_account_id="2000")


def comment_case(page, external_id: str, text: str = "Your product is a scam, idiots"):
    """A case whose one post is the customer's comment `external_id` on the page."""
    case = make_case(page, text=text, kind=MentionKind.COMMENT)
    Mention.objects.filter(case=case).update(external_id=external_id)
    return case


def hide(client, case, mention, hidden: str = "1", version: str | None = None):
    url = reverse("cases:comment_visibility", args=[case.pk])
    case.refresh_from_db()
    data = {"mention": mention.pk, "hidden": hidden, "version": version or case_version(case)}
    return client.post(url, data)


# ---- hide and show ---------------------------------------------------------------------------


def test_an_agent_hides_a_comment_and_the_worker_hides_it_on_facebook(sim, page, agent):
    comment = sim.publish("facebook", kind="comment")[0]
    case = comment_case(page, comment)
    mention = case.mentions.get()

    response = hide(logged_in(agent), case, mention)

    assert response.status_code == 302
    row = Moderation.objects.get(case=case)
    assert (row.action, row.state, row.requested_by) == ("hide", State.QUEUED, agent)
    assert sim.state.fb.comments[comment].hidden is False  # nothing sent from the web request
    assert moderation.run_moderation(row.pk) == Outcome.DONE
    assert sim.state.fb.comments[comment].hidden is True
    mention.refresh_from_db()
    assert mention.hidden_at is not None
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.COMMENT_HIDDEN)
    assert event.actor == agent and event.data["mention_id"] == mention.pk
    assert moderation.run_moderation(row.pk) == Outcome.NOT_CLAIMED  # a repeat does nothing

    page_html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "badge--hidden" in page_html
    assert "Your product is a scam, idiots" in page_html  # the agent still reads it
    assert "alice_agent</strong> hid a comment" in page_html
    assert 'data-moderate="unhide"' in page_html

    hide(logged_in(agent), case, mention, hidden="0")
    shown = Moderation.objects.filter(case=case).latest("id")
    assert moderation.run_moderation(shown.pk) == Outcome.DONE
    mention.refresh_from_db()
    assert mention.hidden_at is None and sim.state.fb.comments[comment].hidden is False
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.COMMENT_SHOWN).count() == 1


def test_a_form_from_an_older_page_or_a_second_change_is_refused(db, page, agent):
    case = comment_case(page, "7710002_1")
    mention = case.mentions.get()
    stale = case_version(case)
    hide(logged_in(agent), case, mention)
    assert Moderation.objects.count() == 1

    refused = hide(logged_in(agent), case, mention, hidden="0", version=stale)
    assert refused.status_code == 302
    assert Moderation.objects.count() == 1
    [said] = [str(m) for m in refused.wsgi_request._messages]
    assert "Not saved: the case changed" in said
    assert "you asked the network to hide the comment" in said
    # With the current version: still refused while the first change is under way.
    case.refresh_from_db()
    answer = logged_in(agent).post(
        reverse("cases:comment_visibility", args=[case.pk]),
        {"mention": mention.pk, "hidden": "1", "version": case_version(case)},
        HTTP_HX_REQUEST="true",
    )
    assert "Another change to this post is under way" in answer.content.decode()
    assert Moderation.objects.count() == 1


def test_x_posts_and_private_messages_offer_no_hide(db, agent):
    case = make_case(make_channel(Network.X))
    mention = case.mentions.get()
    client = logged_in(agent)
    assert (
        'data-moderate="hide"'
        not in client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    )
    case.refresh_from_db()
    answer = client.post(
        reverse("cases:comment_visibility", args=[case.pk]),
        {"mention": mention.pk, "hidden": "1", "version": case_version(case)},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "X does not let the brand hide this kind of post" in answer
    assert not Moderation.objects.exists()


def test_which_posts_can_be_hidden_is_the_networks_data():
    from listening import networks

    assert networks.can_hide("facebook", "comment")
    assert not networks.can_hide("facebook", "dm")
    assert not networks.can_hide("facebook", "visitor_post")
    assert not networks.can_hide("x", "reply")
    assert not networks.can_hide("no-such-network", "comment")
    assert networks.X.can_hide_comments == () and networks.FACEBOOK.can_delete_replies


# ---- failures, retries, lost messages --------------------------------------------------------


def test_a_refusal_fails_with_the_networks_reason_and_can_be_retried(sim, page, agent):
    comment = sim.publish("facebook", kind="comment")[0]
    with sim.state.lock:
        own = sim.state.fb.post_comment(comment, {"message": "Thanks!"})["id"]
    case = comment_case(page, own)  # the page's own comment filed as a customer's
    mention = case.mentions.get()
    hide(logged_in(agent), case, mention)
    row = Moderation.objects.get(case=case)

    assert moderation.run_moderation(row.pk) == Outcome.FAILED
    row.refresh_from_db()
    assert row.state == State.FAILED and "posted by the Page" in row.error
    failed = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.MODERATION_FAILED)
    assert failed.actor is None and "posted by the Page" in failed.data["reason"]
    mention.refresh_from_db()
    assert mention.hidden_at is None
    html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Could not hide the comment on Facebook." in html
    assert "Try again" in html

    case.refresh_from_db()
    logged_in(agent).post(
        reverse("cases:retry_moderation", args=[case.pk]),
        {"moderation": row.pk, "version": case_version(case)},
    )
    row.refresh_from_db()
    assert (row.state, row.attempts, row.error) == (State.QUEUED, 0, "")


def test_a_transient_failure_waits_and_retries_then_gives_up_at_the_cap(sim, page, agent):
    comment = sim.publish("facebook", kind="comment")[0]
    case = comment_case(page, comment)
    hide(logged_in(agent), case, case.mentions.get())
    row = Moderation.objects.get(case=case)
    sim.fault("facebook", "503", count=1, path_contains=comment)

    assert moderation.run_moderation(row.pk) == Outcome.RETRY
    row.refresh_from_db()
    assert row.state == State.QUEUED and "503" in row.error and row.next_attempt_at
    assert moderation.run_moderation(row.pk) == Outcome.NOT_CLAIMED  # not due yet
    later = row.next_attempt_at + timedelta(seconds=1)
    assert moderation.run_moderation(row.pk, now=later) == Outcome.DONE
    assert sim.state.fb.comments[comment].hidden is True

    sim.fault("facebook", "500", count=moderation.MAX_ATTEMPTS, path_contains=comment)
    hide(logged_in(agent), case, case.mentions.get(), hidden="0")
    again = Moderation.objects.filter(case=case).latest("id")
    at = timezone.now()
    outcomes = []
    for _ in range(moderation.MAX_ATTEMPTS):
        at += timedelta(hours=1)
        outcomes.append(moderation.run_moderation(again.pk, now=at))
    assert outcomes == [Outcome.RETRY] * (moderation.MAX_ATTEMPTS - 1) + [Outcome.FAILED]
    again.refresh_from_db()
    assert again.error.startswith("gave up after 5 attempts")


def test_a_lost_message_or_a_dead_worker_is_run_again_by_the_recovery(
    sim, page, agent, clean_cache
):
    comment = sim.publish("facebook", kind="comment")[0]
    case = comment_case(page, comment)
    hide(logged_in(agent), case, case.mentions.get())
    row = Moderation.objects.get(case=case)
    # Its message never reached a worker: the broker lost it.
    assert recover_moderations()["enqueued"] == 0  # still within the grace period
    later = timezone.now() + moderation.ENQUEUE_GRACE + timedelta(seconds=1)
    assert recover_moderations(now=later)["enqueued"] == 1
    assert cache.get(moderation._enqueued_key(row.pk)) == 1
    assert recover_moderations(now=later)["enqueued"] == 0  # one message per row

    # A worker claimed it and died before the call.
    Moderation.objects.filter(pk=row.pk).update(state=State.RUNNING, started_at=timezone.now())
    much_later = timezone.now() + timedelta(hours=1)
    assert recover_moderations(now=much_later)["requeued"] == 1
    row.refresh_from_db()
    assert row.state == State.QUEUED and "worker stopped" in row.error
    assert moderation.run_moderation(row.pk, now=much_later) == Outcome.DONE
    assert sim.state.fb.comments[comment].hidden is True


# ---- deleting a published reply --------------------------------------------------------------


def test_a_supervisor_deletes_the_brands_reply_on_x_and_an_agent_cannot(sim, agent, supervisor):
    brand = make_channel(Network.X, external_account_id="1000", credentials={"bearer_token": "t"})
    mention = sim.publish("x", kind="mention")[0]
    with sim.state.lock:
        posted = sim.state.x.create_tweet(
            sim.state.account("x", "1000"),
            {"text": "Sorry! DM us.", "reply": {"in_reply_to_tweet_id": mention}},
        )["data"]["id"]
    case = make_case(brand)
    reply = make_reply(
        case, agent, Reply.State.SENT, external_id=str(posted), sent_at=timezone.now()
    )
    url = reverse("cases:delete_reply", args=[case.pk])

    data = {"reply": reply.pk, "version": case_version(case)}
    assert logged_in(agent).post(url, data).status_code == 403
    assert not Moderation.objects.exists()
    agent_page = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'data-moderate="delete"' not in agent_page

    assert logged_in(supervisor).post(url, data).status_code == 302
    row = Moderation.objects.get(reply=reply)
    assert moderation.run_moderation(row.pk) == Outcome.DONE
    assert int(posted) not in sim.state.x.tweets
    reply.refresh_from_db()
    assert reply.deleted_at is not None and reply.state == Reply.State.SENT
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.REPLY_DELETED)
    assert event.actor == supervisor


def test_a_reply_already_gone_from_facebook_counts_as_deleted(db, rsps, settings, supervisor):
    settings.FACEBOOK_GRAPH_URL = "http://graph-sim.test:8100"
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    channel = make_channel(Network.FACEBOOK)
    case = make_case(channel, kind=MentionKind.COMMENT)
    reply = make_reply(
        case, supervisor, Reply.State.SENT, external_id="7710002_9", sent_at=timezone.now()
    )
    gone = {"error": {"message": "Unsupported delete request.", "code": 100, "error_subcode": 33}}
    url = "http://graph-sim.test:8100/v23.0/7710002_9"
    rsps.delete(url, json=gone, status=400)
    logged_in(supervisor).post(
        reverse("cases:delete_reply", args=[case.pk]),
        {"reply": reply.pk, "version": case_version(case)},
    )
    assert moderation.run_moderation(Moderation.objects.get().pk) == Outcome.DONE
    assert len(calls_to(rsps, url)) == 1
    reply.refresh_from_db()
    assert reply.deleted_at is not None


@pytest.mark.parametrize("kind", ["draft", "private", "failed"])
def test_only_a_posted_public_reply_can_be_deleted(db, supervisor, kind):
    case = make_case(make_channel(Network.X))
    state = Reply.State.FAILED if kind == "failed" else Reply.State.SENT
    reply = make_reply(
        case,
        supervisor,
        Reply.State.DRAFT if kind == "draft" else state,
        external_id="" if kind == "draft" else "1861000000000000777",
        is_private=kind == "private",
    )
    logged_in(supervisor).post(
        reverse("cases:delete_reply", args=[case.pk]),
        {"reply": reply.pk, "version": case_version(case)},
    )
    assert not Moderation.objects.exists()


# ---- permissions -----------------------------------------------------------------------------


def test_outsiders_and_qa_cannot_hide_and_agents_cannot_retry_a_deletion(
    db, page, agent, qa, outsider, supervisor
):
    case = comment_case(page, "7710002_2")
    mention = case.mentions.get()
    for user in (outsider, qa):
        assert hide(logged_in(user), case, mention).status_code == 403
    assert not Moderation.objects.exists()
    assert agent.has_perm("cases.hide_comment") and not agent.has_perm(
        "cases.delete_published_reply"
    )
    reply = make_reply(case, supervisor, Reply.State.SENT, external_id="7710002_3")
    failed = Moderation.objects.create(
        case=case, reply=reply, action="delete", state=State.FAILED, error="boom"
    )
    answer = logged_in(agent).post(
        reverse("cases:retry_moderation", args=[case.pk]),
        {"moderation": failed.pk, "version": case_version(case)},
    )
    assert answer.status_code == 403
    failed.refresh_from_db()
    assert failed.state == State.FAILED


# ---- bulk ------------------------------------------------------------------------------------


def test_bulk_hide_asks_for_every_visible_comment_of_the_selected_cases(db, page, agent):
    first = comment_case(page, "7710002_11")
    second = comment_case(page, "7710002_12")
    hidden_already = Mention.objects.create(
        channel=page,
        case=second,
        author=second.customer.identities.get(),
        external_id="7710002_13",
        kind=MentionKind.COMMENT,
        text="and another thing",
        conversation_id=second.conversation_key,
        posted_at=timezone.now(),
        hidden_at=timezone.now(),
    )
    on_x = make_case(make_channel(Network.X))
    response = logged_in(agent).post(
        reverse("cases:bulk"), {"action": "hide_comments", "ids": [first.pk, second.pk, on_x.pk]}
    )
    assert response.status_code == 303
    rows = Moderation.objects.order_by("case_id")
    assert [(r.case_id, r.action, r.state) for r in rows] == [
        (first.pk, "hide", State.QUEUED),
        (second.pk, "hide", State.QUEUED),
    ]
    assert hidden_already.pk not in {r.mention_id for r in rows}
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "Hiding 2 comments on the network" in messages[0]
    assert f"#{on_x.pk}: no comment to hide" in messages[1]

    # Asked again while those are under way: nothing is asked twice.
    logged_in(agent).post(reverse("cases:bulk"), {"action": "hide_comments", "ids": [first.pk]})
    assert Moderation.objects.count() == 2


def test_bulk_hide_needs_the_permission_to_hide(db, page, qa):
    case = comment_case(page, "7710002_21")
    response = logged_in(qa).post(
        reverse("cases:bulk"), {"action": "hide_comments", "ids": [case.pk]}
    )
    assert response.status_code == 403
    assert not Moderation.objects.exists()


# ---- the timeline ----------------------------------------------------------------------------


def test_hidden_comments_and_deleted_replies_show_as_such_and_escaped(db, page, supervisor):
    case = comment_case(page, "7710002_31", text=HOSTILE)
    Mention.objects.filter(case=case).update(hidden_at=timezone.now())
    reply = make_reply(
        case,
        supervisor,
        Reply.State.SENT,
        text=f"Reply {HOSTILE}",
        external_id="7710002_32",
        sent_at=timezone.now(),
        deleted_at=timezone.now(),
    )
    Moderation.objects.create(
        case=case, reply=reply, action="delete", state=State.DONE, requested_by=supervisor
    )
    html = logged_in(supervisor).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html
    assert '<span class="badge badge--hidden">Hidden</span>' in html
    assert "only its author and their friends see it there" in html
    assert '<span class="badge badge--deleted">Deleted</span>' in html
    assert "Deleted from Facebook" in html and "by sam_supervisor" in html
    assert 'data-moderate="delete"' not in html  # already deleted


def test_a_change_under_way_shows_on_the_post_without_its_form(db, page, agent):
    case = comment_case(page, "7710002_41")
    Moderation.objects.create(
        case=case, mention=case.mentions.get(), action="hide", requested_by=agent
    )
    html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Hiding on Facebook…" in html
    assert 'data-moderate="hide"' not in html


def test_the_case_page_costs_the_same_with_many_moderated_posts(
    db, page, agent, django_assert_num_queries
):
    def moderated(n: int):
        case = comment_case(page, f"7710003_{n}")
        for i in range(n):
            mention = Mention.objects.create(
                channel=page,
                case=case,
                author=case.customer.identities.get(),
                external_id=f"7710003_{n}_{i}",
                kind=MentionKind.COMMENT,
                text=f"comment {i}",
                conversation_id=case.conversation_key,
                posted_at=timezone.now(),
                hidden_at=timezone.now() if i % 2 else None,
            )
            state = State.FAILED if i % 3 == 0 else State.DONE
            Moderation.objects.create(
                case=case, mention=mention, action="hide", state=state, requested_by=agent
            )
        return reverse("cases:detail", args=[case.pk])

    client = logged_in(agent)
    small, large = moderated(1), moderated(20)
    client.get(small)  # warm up: the desk settings row, the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(small)
    with django_assert_num_queries(len(queries)):
        html = client.get(large).content.decode()
    assert html.count("badge--hidden") == 10


# ---- hidden at the source --------------------------------------------------------------------


def test_a_hide_at_the_source_is_recorded_once_without_a_network_call(db, page, rsps):
    case = comment_case(page, "7710002_51")
    before = case.updated_at
    at = timezone.now() - timedelta(minutes=3)

    assert do_record_source_visibility(channel=page, external_id="7710002_51", hidden=True, at=at)
    assert not do_record_source_visibility(
        channel=page, external_id="7710002_51", hidden=True, at=at
    )
    assert not do_record_source_visibility(
        channel=page, external_id="no-such-comment", hidden=True, at=at
    )
    mention = case.mentions.get()
    assert mention.hidden_at == at
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.COMMENT_HIDDEN)
    assert event.actor is None and event.data["source"] == "Facebook"
    case.refresh_from_db()
    assert case.updated_at > before
    assert do_record_source_visibility(
        channel=page, external_id="7710002_51", hidden=False, at=timezone.now()
    )
    mention.refresh_from_db()
    assert mention.hidden_at is None
    assert len(rsps.calls) == 0


# ---- with a real Celery worker and beat ------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_worker_hides_what_the_desk_asked_and_beat_recovers_a_lost_message(
    simulator, worker, agent
):
    from tests.conftest import wait_for

    page = make_channel(Network.FACEBOOK, external_account_id="2000", enabled=False)
    first, second = simulator.publish("facebook", count=2, kind="comment")
    case = comment_case(page, first)
    hide(logged_in(agent), case, case.mentions.get())  # enqueued once the request commits
    wait_for(lambda: Mention.objects.get(case=case).hidden_at is not None, message="the hide")
    assert simulator.state.fb.comments[first].hidden is True

    # A request whose message the broker lost: beat's recovery sends it again.
    other = comment_case(page, second)
    Moderation.objects.create(
        case=other,
        mention=other.mentions.get(),
        action="hide",
        requested_by=agent,
        requested_at=timezone.now() - moderation.ENQUEUE_GRACE - timedelta(seconds=5),
    )
    wait_for(lambda: Mention.objects.get(case=other).hidden_at is not None, message="recovery")
    assert simulator.state.fb.comments[second].hidden is True
    assert Moderation.objects.filter(state=State.DONE).count() == 2
