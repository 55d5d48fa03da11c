"""Content follows the source: edits and deletions at the network reach the stored text, and
retention and erasure remove customer text on the desk's own terms (listening.content,
cases.erasure)."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import sending
from cases.erasure import ERASED, do_erase_customer
from cases.models import Case, CaseEvent, Customer, CustomerErasure, DeskSettings, Identity, Reply
from listening import content, polling
from listening.connectors.x import XConnector
from listening.connectors.x_normalise import normalise_tweet
from listening.content import do_record_source_edit, do_record_source_removal
from listening.ingest import ingest
from listening.models import Channel, Mention, QuarantinedPost, Removal
from listening.polling import PollOutcome
from tests.conftest import X_API, logged_in, make_channel
from tests.factories import add_mention, make_case, make_review, make_rubric, post
from tests.simulator import running_simulator

pytestmark = pytest.mark.django_db

X_BRAND, FB_PAGE = "1000", "2000"
HOSTILE = '<img src=x onerror="alert(1)"> & </details><script>x()</script>'


@pytest.fixture
def sim(settings):
    with running_simulator(seed=5) as client:
        settings.X_API_BASE_URL = client.url
        settings.FACEBOOK_GRAPH_URL = client.url
        settings.SOCIAL_HTTP_TIMEOUT = 2.0
        yield client


def sim_x_channel(**fields) -> Channel:
    return make_channel(
        "x",
        external_account_id=X_BRAND,
        handle="acme_support",
        credentials={"bearer_token": "t"},
        **fields,
    )


def poll(channel: Channel) -> None:
    assert polling.poll_channel(channel.pk) == PollOutcome.OK


def events(case: Case, kind: str) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, kind=kind))


# ---- edits -----------------------------------------------------------------------------------


def test_edit_replaces_the_text_and_keeps_the_earlier_version_on_the_case(x_channel):
    case = make_case(x_channel, text="My order 1234 never came")
    mention = case.mentions.get()
    edited_at = timezone.now()

    changed = do_record_source_edit(
        channel=x_channel,
        external_id=mention.external_id,
        text="Order arrived, thanks!",
        edited_at=edited_at,
    )

    assert changed is True
    mention.refresh_from_db()
    case.refresh_from_db()
    assert mention.text == "Order arrived, thanks!"
    assert mention.edited_at == edited_at
    assert [e["text"] for e in mention.earlier_texts] == ["My order 1234 never came"]
    # The subject was the first post's start: it follows the edit.
    assert case.subject == "Order arrived, thanks!"
    assert len(events(case, CaseEvent.Kind.POST_EDITED)) == 1
    # No customer text is copied into the event.
    assert "Order" not in json.dumps(events(case, CaseEvent.Kind.POST_EDITED)[0].data)


def test_an_edit_that_changes_nothing_or_comes_late_or_after_removal_is_ignored(x_channel):
    case = make_case(x_channel, text="first")
    mention = case.mentions.get()
    now = timezone.now()
    kw = {"channel": x_channel, "external_id": mention.external_id}
    assert do_record_source_edit(**kw, text="first", edited_at=now) is False
    assert do_record_source_edit(**kw, text="second", edited_at=now) is True
    # A report of an earlier edit arriving after a later one changes nothing.
    assert do_record_source_edit(**kw, text="stale", edited_at=now - timedelta(minutes=5)) is False
    assert (
        do_record_source_edit(channel=x_channel, external_id="nope", text="x", edited_at=now)
        is False
    )
    do_record_source_removal(**kw, removed_at=now, how=Removal.WEBHOOK)
    assert do_record_source_edit(**kw, text="back again", edited_at=now) is False
    mention.refresh_from_db()
    assert mention.text == ""


def test_ingest_records_a_changed_re_read_as_an_edit_not_a_duplicate(facebook_channel):
    comment = post(1, network="facebook", kind="comment", text="The app crashes")
    ingest(facebook_channel, [comment])
    # Graph keeps a comment's id when its author edits it: the poll reads it again.
    edited = post(1, network="facebook", kind="comment", text="The app crashes on login")
    result = ingest(facebook_channel, [edited, post(2, network="facebook", kind="comment")])

    assert (result.created, result.duplicates, result.edited) == (1, 1, 1)
    mention = Mention.objects.get(external_id=comment.external_id)
    assert mention.text == "The app crashes on login"
    assert mention.earlier_texts[0]["text"] == "The app crashes"
    # Read again unchanged: nothing more happens.
    again = ingest(facebook_channel, [edited])
    assert (again.created, again.edited) == (0, 0)
    assert len(events(mention.case, CaseEvent.Kind.POST_EDITED)) == 1


def test_ingest_compares_text_in_bulk_whatever_the_number_of_edits(facebook_channel):
    def page(n: int, suffix: str) -> list:
        return [post(i, network="facebook", kind="comment", text=f"c{i}{suffix}") for i in range(n)]

    ingest(facebook_channel, page(30, ""))
    with CaptureQueriesContext(connection) as few:
        ingest(facebook_channel, page(2, " edited"))
    with CaptureQueriesContext(connection) as many:
        ingest(facebook_channel, page(30, " edited"))
    assert len(many.captured_queries) == len(few.captured_queries)
    assert Mention.objects.filter(text__endswith=" edited").count() == 30


def test_x_edit_normalises_to_an_edit_of_the_original():
    # The shape X documents for an edited post: a new id, the chain oldest first.
    item = {
        "id": "1234567891",
        "text": "Updated text (edited)",
        "edit_history_tweet_ids": ["1234567890", "1234567891"],
        "author_id": "42",
        "created_at": "2026-11-23T10:15:00.000Z",
    }
    edited = normalise_tweet(item, {})
    original = normalise_tweet(
        {**item, "id": "1234567890", "edit_history_tweet_ids": ["1234567890"]}, {}
    )
    assert edited.edit_of == ("1234567890",)
    assert original.edit_of == ()


def test_a_later_x_edit_is_an_edit_of_the_oldest_version_the_desk_has(x_channel):
    # The desk first met the second version (the original came before it listened).
    ingest(x_channel, [post(2, text="v2", edit_of=("10001",))])
    third = post(3, text="v3", edit_of=("10001", "10002"))
    result = ingest(x_channel, [third])
    assert (result.created, result.edited) == (0, 1)
    assert list(Mention.objects.values_list("external_id", "text")) == [("10002", "v3")]


def test_an_x_edit_polled_from_the_simulator_updates_the_stored_tweet(sim):
    channel = sim_x_channel()
    (tweet_id,) = sim.publish("x", 1, account_id=X_BRAND, kind="mention")
    poll(channel)
    new_id = sim.edit("x", tweet_id, "@acme_support never mind, it works now")
    poll(channel)

    assert new_id != tweet_id
    # One post on the desk, as on X: the edit is a new version of it, not a second post.
    assert not Mention.objects.filter(external_id=new_id).exists()
    mention = Mention.objects.get(channel=channel, external_id=tweet_id)
    assert mention.text == "@acme_support never mind, it works now"
    assert mention.edited_at is not None and len(mention.earlier_texts) == 1


def test_a_facebook_comment_edit_polled_from_the_simulator_updates_the_stored_comment(
    sim, monkeypatch
):
    channel = make_channel(
        "facebook",
        external_account_id=FB_PAGE,
        handle="Acme",
        credentials={"page_access_token": "p"},
    )
    (comment_id,) = sim.publish("facebook", 1, account_id=FB_PAGE, kind="comment")
    poll(channel)
    sim.edit("facebook", comment_id, "Edited: my parcel is here after all")
    poll(channel)

    mention = Mention.objects.get(channel=channel, external_id=comment_id)
    assert mention.text == "Edited: my parcel is here after all"
    assert len(mention.earlier_texts) == 1


# ---- removals --------------------------------------------------------------------------------


def test_removal_blanks_the_text_everywhere_and_keeps_that_the_post_existed(x_channel):
    case = make_case(x_channel, text="my secret complaint")
    mention = case.mentions.get()
    do_record_source_edit(
        channel=x_channel,
        external_id=mention.external_id,
        text="my secret complaint v2",
        edited_at=timezone.now(),
    )
    QuarantinedPost.objects.create(
        channel=x_channel,
        external_id=mention.external_id,
        reason="test",
        payload=json.dumps({"id": mention.external_id, "text": "my secret complaint"}),
    )
    removed_at = timezone.now()

    assert (
        do_record_source_removal(
            channel=x_channel,
            external_id=mention.external_id,
            removed_at=removed_at,
            how=Removal.WEBHOOK,
        )
        is True
    )
    assert (
        do_record_source_removal(
            channel=x_channel,
            external_id=mention.external_id,
            removed_at=removed_at,
            how=Removal.WEBHOOK,
        )
        is False
    )  # once

    mention.refresh_from_db()
    case.refresh_from_db()
    assert (mention.text, mention.deleted_at, mention.removed_how) == ("", removed_at, "webhook")
    assert mention.earlier_texts and all("text" not in e for e in mention.earlier_texts)
    assert case.subject == ""
    assert QuarantinedPost.objects.get().payload == ""
    (event,) = events(case, CaseEvent.Kind.POST_DELETED)
    assert event.data["how"] == "webhook"
    assert_nowhere(["secret complaint"])


def test_removal_refuses_a_reason_that_is_not_the_source(x_channel):
    with pytest.raises(ValueError):
        do_record_source_removal(
            channel=x_channel, external_id="1", removed_at=timezone.now(), how="retention"
        )


def test_a_reply_to_a_deleted_tweet_fails_with_the_reason_and_removes_the_post(sim, agent):
    channel = sim_x_channel()
    (tweet_id,) = sim.publish("x", 1, account_id=X_BRAND, kind="mention")
    poll(channel)
    mention = Mention.objects.get(channel=channel, external_id=tweet_id)
    sim.delete("x", tweet_id)
    reply = sending.do_queue_reply(
        mention.case, author=agent, text="Sorry to hear that!", is_private=False
    )

    assert sending.send_reply(reply.pk) == sending.SendOutcome.FAILED
    reply.refresh_from_db()
    mention.refresh_from_db()
    assert reply.state == Reply.State.FAILED
    assert reply.error == "The customer deleted the post."
    assert (mention.text, mention.removed_how) == ("", Removal.REPLY_NOT_FOUND)
    # Sending again is not offered: it could never succeed.
    html = logged_in(agent).get(reverse("cases:detail", args=[mention.case_id])).content.decode()
    assert "The customer deleted the post." in html
    assert "Retry sending" not in html
    with pytest.raises(ValueError, match="deleted the post"):
        sending.do_retry_reply(reply, actor=agent)
    assert sim.replies("x") == []


def test_a_reply_to_a_deleted_facebook_comment_fails_and_removes_it(
    facebook_channel, agent, settings
):
    settings.FACEBOOK_GRAPH_URL = "http://graph-sim.test:8100"
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    case = make_case(facebook_channel, text="where is my refund", kind="comment")
    mention = case.mentions.get()
    url = f"http://graph-sim.test:8100/v23.0/{mention.external_id}/comments"
    with responses.RequestsMock() as rsps:
        # Graph's answer for an object that no longer exists (#100, subcode 33).
        rsps.post(
            url,
            status=400,
            json={
                "error": {
                    "message": f"Unsupported post request. Object with ID '{mention.external_id}'"
                    " does not exist, cannot be loaded due to missing permissions, or does not"
                    " support this operation.",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                    "fbtrace_id": "AbCdEf",
                }
            },
        )
        reply = sending.do_queue_reply(case, author=agent, text="Sorry!", is_private=False)
        assert sending.send_reply(reply.pk) == sending.SendOutcome.FAILED
    reply.refresh_from_db()
    mention.refresh_from_db()
    assert reply.error == "The customer deleted the post."
    assert mention.text == "" and mention.removed_how == Removal.REPLY_NOT_FOUND


def test_scheduled_x_check_removes_deleted_tweets_within_the_read_budget(sim):
    channel = sim_x_channel(deletion_check_budget=48)  # two look-ups an hourly run
    ids = sim.publish("x", 3, account_id=X_BRAND, kind="mention")
    poll(channel)
    sim.delete("x", ids[0])
    Mention.objects.filter(external_id=ids[2]).update(source_checked_at=timezone.now())
    reads_before = Channel.objects.get(pk=channel.pk).api_reads

    result = content.check_deleted_posts(Channel.objects.get(pk=channel.pk))

    # The two least recently checked posts were asked about; one is gone.
    assert (result.asked, result.removed, result.reads) == (2, 1, 1)
    gone = Mention.objects.get(external_id=ids[0])
    assert (gone.text, gone.removed_how) == ("", Removal.LOOKUP)
    assert Mention.objects.get(external_id=ids[1]).text != ""
    channel.refresh_from_db()
    assert channel.deletion_check_reads == 2
    assert channel.api_reads == reads_before + 1
    # The day's budget is spent: a run finds no allowance left.
    Channel.objects.filter(pk=channel.pk).update(deletion_check_reads=48)
    assert content.check_deleted_posts(Channel.objects.get(pk=channel.pk)).asked == 0


def test_the_check_runs_for_every_channel_with_a_budget_and_the_health_page_shows_it(
    sim, supervisor
):
    channel = sim_x_channel()
    Channel.objects.filter(pk=channel.pk).update(deletion_check_budget=0)
    sim.publish("x", 1, account_id=X_BRAND, kind="mention")
    poll(channel)
    assert content.check_deleted_posts_everywhere()["asked"] == 0
    Channel.objects.filter(pk=channel.pk).update(deletion_check_budget=240)
    assert content.check_deleted_posts_everywhere()["asked"] == 1
    html = logged_in(supervisor).get(reverse("listening:health")).content.decode()
    assert "1 of 240 reads today" in html


def test_simulator_answers_a_lookup_of_a_deleted_tweet_like_x(sim):
    ids = sim.publish("x", 2, account_id=X_BRAND, kind="mention")
    assert sim.delete("x", ids[0]) == [ids[0]]

    answer = requests.get(
        f"{sim.url}/2/tweets",
        params={"ids": ",".join(ids)},
        headers={"Authorization": "Bearer t"},
        timeout=5,
    ).json()
    assert [t["id"] for t in answer["data"]] == [ids[1]]
    (error,) = answer["errors"]
    assert error["resource_id"] == ids[0]
    assert error["type"] == "https://api.twitter.com/2/problems/resource-not-found"


# ---- retention -------------------------------------------------------------------------------


def test_retention_blanks_text_older_than_the_setting_and_keeps_the_cases(x_channel, agent):
    old = make_case(x_channel, text="an old complaint", waited=timedelta(days=40))
    new = make_case(x_channel, text="a fresh complaint", waited=timedelta(days=2))
    assert content.remove_expired_texts() == 0  # no retention set: keep everything

    settings_row = DeskSettings.load()
    settings_row.retention_days = 30
    settings_row.save(update_fields=["retention_days"])
    assert content.remove_expired_texts() == 1

    expired = old.mentions.get()
    assert (expired.text, expired.removed_how) == ("", Removal.RETENTION)
    assert new.mentions.get().text == "a fresh complaint"
    old.refresh_from_db()
    assert old.subject == "" and Case.objects.count() == 2
    assert_nowhere(["an old complaint"])
    html = logged_in(agent).get(reverse("cases:detail", args=[old.pk])).content.decode()
    assert "Text expired" in html and "older than the desk keeps customer posts" in html


def test_retention_is_editable_in_the_admin(admin):
    DeskSettings.load()
    page = logged_in(admin).get("/admin/cases/desksettings/1/change/").content.decode()
    assert 'name="retention_days"' in page


# ---- erasure ---------------------------------------------------------------------------------


def erasable_case(channel: Channel, agent) -> Case:
    case = make_case(
        channel, text="I am Zelda Quux, my order 77 is late", name="Zelda Quux", handle="zquux"
    )
    add_mention(case, "zelda again: still late")
    Reply.objects.create(
        case=case,
        author=agent,
        text="Sorry @zquux, Zelda Quux we are on it",
        state="sent",
        checks=[{"code": "pii", "message": "mentions Zelda Quux"}],
    )
    return case


def test_erasure_removes_every_text_of_the_customer_and_records_who_and_when(
    x_channel, agent, supervisor
):
    case = erasable_case(x_channel, agent)
    other = make_case(x_channel, text="someone else entirely", name="Bob Other", handle="bob")
    reply = case.replies.get()
    make_rubric()
    make_review(agent, supervisor, reply=reply, comment="Good tone with Zelda Quux")
    customer = case.customer

    record = do_erase_customer(customer, actor=supervisor, via=CustomerErasure.Via.ADMIN)

    assert (record.customer_id, record.erased_by, record.via) == (customer.pk, supervisor, "admin")
    assert_nowhere(["zelda", "quux", "order 77", "still late"])
    case.refresh_from_db()
    assert Case.objects.count() == 2 and case.mention_count == 1  # counts stay
    assert Customer.objects.get(pk=customer.pk).display_name == f"Erased customer #{customer.pk}"
    assert ERASED in Reply.objects.get(pk=reply.pk).text
    assert set(case.mentions.values_list("removed_how", flat=True)) == {Removal.ERASURE}
    assert len(events(case, CaseEvent.Kind.CONTENT_ERASED)) == 1
    # Someone else's case is untouched.
    assert other.mentions.get().text == "someone else entirely"
    # The audit row says nothing of what was erased.
    assert "zelda" not in json.dumps(list(CustomerErasure.objects.values()), default=str).lower()


def test_erasure_from_the_admin_asks_first(x_channel, agent, admin):
    case = erasable_case(x_channel, agent)
    client = logged_in(admin)
    form = {"action": "erase_personal_content", "_selected_action": [case.customer_id]}
    page = client.post("/admin/cases/customer/", form)
    assert page.status_code == 200 and "cannot be undone" in page.content.decode()
    assert not CustomerErasure.objects.exists()

    done = client.post("/admin/cases/customer/", {**form, "confirm": "yes"})
    assert done.status_code == 302
    (record,) = CustomerErasure.objects.all()
    assert (record.customer_id, record.erased_by, record.via) == (case.customer_id, admin, "admin")
    assert_nowhere(["zelda", "quux"])


def test_erasure_from_the_command_line_asks_unless_told_yes(x_channel, agent, monkeypatch):
    case = erasable_case(x_channel, agent)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(CommandError, match="Nothing erased"):
        call_command("erase_customer", str(case.customer_id))
    assert not CustomerErasure.objects.exists()
    with pytest.raises(CommandError, match="No customer"):
        call_command("erase_customer", "999999", "--yes")


def test_erasure_from_the_command_line(x_channel, agent):
    case = erasable_case(x_channel, agent)
    call_command("erase_customer", str(case.customer_id), "--yes")
    (record,) = CustomerErasure.objects.all()
    assert (record.customer_id, record.erased_by, record.via) == (case.customer_id, None, "command")
    assert not Identity.objects.filter(handle="zquux").exists()
    assert_nowhere(["zelda", "quux"])


# ---- the timeline ----------------------------------------------------------------------------


def test_timeline_shows_edited_and_deleted_posts_escaped(x_channel, agent):
    case = make_case(x_channel, text=HOSTILE)
    edited = case.mentions.get()
    gone = add_mention(case, "a post that will go")
    do_record_source_edit(
        channel=x_channel,
        external_id=edited.external_id,
        text=HOSTILE + " now edited",
        edited_at=timezone.now(),
    )
    do_record_source_removal(
        channel=x_channel,
        external_id=gone.external_id,
        removed_at=timezone.now(),
        how=Removal.LOOKUP,
    )

    html = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "Edited by its author" in html and "<details" in html
    assert "Deleted by its author" in html
    assert "a post that will go" not in html
    assert "<script>x()</script>" not in html and 'onerror="alert' not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "removed the text of a post its author deleted" in html


def test_case_page_queries_do_not_grow_with_edits(x_channel, agent):
    case = make_case(x_channel, text="one")
    client = logged_in(agent)
    client.get(reverse("cases:detail", args=[case.pk]))
    with CaptureQueriesContext(connection) as plain:
        client.get(reverse("cases:detail", args=[case.pk]))
    for n in range(5):
        mention = add_mention(case, f"post {n}")
        do_record_source_edit(
            channel=x_channel,
            external_id=mention.external_id,
            text=f"post {n} edited",
            edited_at=timezone.now(),
        )
    with CaptureQueriesContext(connection) as edited:
        client.get(reverse("cases:detail", args=[case.pk]))
    assert len(edited.captured_queries) == len(plain.captured_queries)


# ---- helpers ---------------------------------------------------------------------------------

# Every text column that can hold what a customer wrote or who they are.
TEXT_COLUMNS = {
    "listening_mention": ["text", "earlier_texts::text", "url"],
    "listening_quarantinedpost": ["payload"],
    "cases_case": ["subject", "triage_reason", "triage_decision_reason", "priority_reasons::text"],
    "cases_customer": ["display_name"],
    "cases_identity": ["handle", "name", "profile_url", "external_id"],
    "cases_reply": ["text", "override_reason", "error", "checks::text"],
    "cases_note": ["text"],
    "cases_caseevent": ["data::text"],
    "qa_review": ["comment", "agent_comment", "dispute_resolution"],
    "qa_criterionscore": ["comment", "auto_reason"],
    "qa_coachingsession": ["notes", "action_items"],
    "cases_customererasure": ["customer_id::text"],
}


def assert_nowhere(words: list[str]) -> None:
    """None of `words` is in any text column of the desk (a SQL search, case-insensitive)."""
    found = []
    with connection.cursor() as cursor:
        for table, columns in TEXT_COLUMNS.items():
            for column in columns:
                for word in words:
                    cursor.execute(
                        f"SELECT count(*) FROM {table} WHERE {column} ILIKE %s",  # noqa: S608
                        [f"%{word}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append(f"{table}.{column}: {word}")
    assert not found, found


def test_a_look_up_that_finds_the_facebook_post_gone_fails_the_reply_and_removes_it(
    facebook_channel, agent, settings
):
    settings.FACEBOOK_GRAPH_URL = "http://graph-sim.test:8100"
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    case = make_case(facebook_channel, text="where is my refund", kind="comment")
    mention = case.mentions.get()
    url = f"http://graph-sim.test:8100/v23.0/{mention.external_id}/comments"
    with responses.RequestsMock() as rsps:
        # The send may have landed (a 500), and the look-up hears the comment is gone.
        rsps.post(url, status=500, json={"error": {"message": "unknown", "code": 1}})
        rsps.get(url, status=400, json=GRAPH_NO_SUCH_OBJECT(mention.external_id))
        reply = sending.do_queue_reply(case, author=agent, text="Sorry!", is_private=False)
        assert sending.send_reply(reply.pk) == sending.SendOutcome.FAILED
    reply.refresh_from_db()
    mention.refresh_from_db()
    assert (reply.error, reply.unconfirmed) == ("The customer deleted the post.", False)
    assert mention.text == "" and mention.removed_how == Removal.REPLY_NOT_FOUND


def GRAPH_NO_SUCH_OBJECT(object_id: str) -> dict:  # noqa: N802  (a recorded answer)
    """Graph's answer for an object that no longer exists (#100, subcode 33)."""
    return {
        "error": {
            "message": f"Unsupported get request. Object with ID '{object_id}' does not exist,"
            " cannot be loaded due to missing permissions, or does not support this operation.",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": "AbCdEf",
        }
    }


def test_a_visitor_post_read_as_does_not_exist_is_removed_and_the_poll_goes_on(settings, rsps):
    base, version = "http://graph-sim.test:8100", "v23.0"
    settings.FACEBOOK_GRAPH_URL, settings.FACEBOOK_GRAPH_VERSION = base, version
    channel = make_channel(
        "facebook",
        external_account_id="2000",
        handle="Acme",
        cursor={"feed": "1795000000", "comments": "1795000000"},
    )
    case = make_case(channel, text="your driver threw my parcel", kind="visitor_post")
    Mention.objects.filter(case=case).update(external_id="2000_7710003")
    feed = f"{base}/{version}/2000/feed"
    rsps.get(feed, json={"data": []})  # no new visitor posts
    # The comments round lists the post as active, then reading its comments says it is gone.
    rsps.get(
        feed,
        json={
            "data": [
                {
                    "id": "2000_7710003",
                    "created_time": "2026-11-23T09:00:00+0000",
                    "updated_time": "2026-11-23T10:31:00+0000",
                }
            ]
        },
    )
    rsps.get(
        f"{base}/{version}/2000_7710003/comments",
        status=400,
        json=GRAPH_NO_SUCH_OBJECT("2000_7710003"),
    )
    for edge in ("tagged", "conversations"):
        rsps.get(f"{base}/{version}/2000/{edge}", json={"data": []})

    poll(channel)

    mention = case.mentions.get()
    assert (mention.text, mention.removed_how) == ("", Removal.READ_NOT_FOUND)
    assert len(events(case, CaseEvent.Kind.POST_DELETED)) == 1
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0 and channel.last_error == ""


def test_only_not_found_tweets_count_as_deleted_not_withheld_ones(x_settings, x_channel, rsps):
    rsps.get(
        f"{X_API}/2/tweets",
        json={
            "data": [{"id": "3", "text": "still here", "edit_history_tweet_ids": ["3"]}],
            "errors": [
                {
                    "value": "1",
                    "detail": "Could not find tweet with ids: [1].",
                    "title": "Not Found Error",
                    "resource_type": "tweet",
                    "parameter": "ids",
                    "resource_id": "1",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                },
                {  # a protected account: withheld, not deleted (this shape has no resource_id)
                    "value": "2",
                    "parameter": "ids",
                    "resource_type": "tweet",
                    "section": "data",
                    "title": "Authorization Error",
                    "detail": "Sorry, you are not authorized to see the Tweet with ids: [2].",
                    "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
                },
            ],
        },
    )
    missing, reads = XConnector().find_missing_posts(x_channel, ["1", "2", "3"])
    assert (missing, reads) == ({"1"}, 1)
    (call,) = rsps.calls
    assert "ids=1%2C2%2C3" in call.request.url and "expansions" not in call.request.url
