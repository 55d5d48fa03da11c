import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Case, CaseStatus, Customer, Identity
from listening.ingest import ingest
from listening.models import Mention, QuarantinedPost
from listening.posts import Quarantined
from tests.factories import author, post

pytestmark = pytest.mark.django_db


def test_same_page_ingested_twice_stores_each_post_once(x_channel):
    page = [post(n) for n in range(1, 11)]

    first = ingest(x_channel, page, {"mentions": "10010"})
    second = ingest(x_channel, page, {"mentions": "10010"})

    assert (first.created, first.duplicates) == (10, 0)
    assert (second.created, second.duplicates) == (0, 10)
    assert Mention.objects.count() == 10
    assert Case.objects.count() == 10
    assert Identity.objects.count() == 10


def test_repeated_post_inside_one_page_is_stored_once(x_channel):
    result = ingest(x_channel, [post(1), post(1), post(2)])

    assert result.created == 2
    assert Mention.objects.count() == 2


def test_cursor_advances_with_the_rows(x_channel):
    ingest(x_channel, [post(1)], {"mentions": "10001", "dm": "77"})

    x_channel.refresh_from_db()
    assert x_channel.cursor == {"mentions": "10001", "dm": "77"}


def test_crash_before_commit_stores_nothing_and_keeps_the_cursor(x_channel, monkeypatch):
    x_channel.cursor = {"mentions": "5"}
    x_channel.save(update_fields=["cursor"])

    def explode(*args, **kwargs):
        raise RuntimeError("worker died")

    # Fail at the very last write of the transaction, after mentions and cases were inserted.
    monkeypatch.setattr("listening.ingest.store_rejects", explode)
    with pytest.raises(RuntimeError):
        ingest(x_channel, [post(1), post(2)], {"mentions": "10002"}, [Quarantined("bad", {})])

    x_channel.refresh_from_db()
    assert x_channel.cursor == {"mentions": "5"}
    assert Mention.objects.count() == 0
    assert Case.objects.count() == 0
    assert Customer.objects.count() == 0


def test_posts_of_one_conversation_by_one_customer_share_an_open_case(x_channel):
    alice = author(1)
    first = ingest(x_channel, [post(1, by=alice, conversation="c1")])
    second = ingest(
        x_channel, [post(2, by=alice, conversation="c1"), post(3, by=alice, conversation="c1")]
    )

    assert (first.cases_opened, first.cases_updated) == (1, 0)
    assert (second.cases_opened, second.cases_updated) == (0, 1)
    case = Case.objects.get()
    assert second.case_ids == [case.pk]
    assert case.mention_count == 3
    assert case.mentions.count() == 3
    assert case.last_inbound_at == post(3).posted_at


def test_other_customers_in_the_same_thread_get_their_own_case(x_channel):
    ingest(
        x_channel,
        [post(1, by=author(1), conversation="c1"), post(2, by=author(2), conversation="c1")],
    )

    assert Case.objects.count() == 2


def test_resolved_case_is_not_reopened_a_new_one_starts(x_channel):
    alice = author(1)
    ingest(x_channel, [post(1, by=alice, conversation="c1")])
    Case.objects.update(status=CaseStatus.RESOLVED)

    ingest(x_channel, [post(2, by=alice, conversation="c1")])

    assert Case.objects.filter(status=CaseStatus.NEW).count() == 1
    assert Case.objects.count() == 2


def test_customer_answer_moves_a_pending_case_back_to_open(x_channel):
    alice = author(1)
    ingest(x_channel, [post(1, by=alice, conversation="c1")])
    Case.objects.update(status=CaseStatus.PENDING)

    ingest(x_channel, [post(2, by=alice, conversation="c1")])

    assert Case.objects.get().status == CaseStatus.OPEN


def test_identity_is_refreshed_but_never_blanked(x_channel):
    ingest(x_channel, [post(1, by=author(1, followers=10))])
    ingest(x_channel, [post(2, by=author(1, followers=5000, name="Customer One"))])
    # A page without `includes`: only the id is known.
    ingest(x_channel, [post(3, by=author(1, handle="", name="", followers=0))])

    identity = Identity.objects.get()
    assert (identity.handle, identity.name, identity.followers) == (
        "customer1",
        "Customer One",
        5000,
    )
    assert Customer.objects.count() == 1


def test_radar_priority_and_triage_are_stored_with_reasons(x_channel):
    angry = post(
        1,
        text="@acme_support my router is broken again and I want a refund. Worst service ever!",
        by=author(1, followers=80_000, verified=True),
    )
    ingest(x_channel, [angry])

    case = Case.objects.get()
    mention = Mention.objects.get()
    assert case.priority == mention.priority > 60
    assert any(reason.startswith("urgency:") for reason in case.priority_reasons)
    assert case.triage_suggestion == "escalate"
    assert "large reach" in case.triage_reason


def test_case_keeps_the_radar_of_its_most_urgent_post(x_channel):
    alice = author(1)
    calm = "@acme_support what time do you open tomorrow?"
    angry = "@acme_support I was charged twice, this is a scam, I want a refund now!"
    ingest(x_channel, [post(1, by=alice, conversation="c1", text=calm)])
    question = Case.objects.get()

    ingest(x_channel, [post(2, by=alice, conversation="c1", text=angry)])
    escalated = Case.objects.get()
    ingest(x_channel, [post(3, by=alice, conversation="c1", text=calm)])
    after_calm = Case.objects.get()

    assert escalated.priority > question.priority
    assert escalated.triage_reason != question.triage_reason
    assert any(reason.startswith("urgency:") for reason in escalated.priority_reasons)
    # A calmer follow-up neither lowers the priority nor replaces the reasons.
    assert (after_calm.priority, after_calm.priority_reasons, after_calm.triage_reason) == (
        escalated.priority,
        escalated.priority_reasons,
        escalated.triage_reason,
    )
    assert after_calm.mention_count == 3
    assert after_calm.last_inbound_at == post(3).posted_at


def test_quarantined_items_are_kept_with_reason_and_payload(x_channel):
    result = ingest(
        x_channel,
        [post(1)],
        None,
        [Quarantined("missing created_at", {"id": "9", "text": "hi"}, "9")],
    )

    assert result.quarantined == 1
    row = QuarantinedPost.objects.get()
    assert row.reason == "missing created_at"
    assert row.external_id == "9"
    assert '"text": "hi"' in row.payload
    assert Mention.objects.count() == 1


def test_query_count_does_not_grow_with_page_size(x_channel):
    def queries_for(page):
        with CaptureQueriesContext(connection) as ctx:
            ingest(x_channel, page, {"mentions": "x"})
        return len(ctx.captured_queries)

    small = queries_for([post(n) for n in range(1, 6)])
    large = queries_for([post(n) for n in range(100, 200)])
    assert small == large


def test_characters_postgresql_refuses_do_not_block_the_page(x_channel):
    # JSON from a network may decode to NUL or a lone surrogate: no text column accepts them.
    hostile = post(
        1,
        text="refund\x00 please \ud83d now, literally \\u0000",
        by=author(1, name="Ann\x00", handle="ann\udc00"),
    )

    result = ingest(x_channel, [hostile, post(2)])

    assert result.created == 2
    mention = Mention.objects.get(external_id=hostile.external_id)
    assert mention.text == "refund please \ufffd now, literally \\u0000"
    identity = Identity.objects.get(external_id="u1")
    assert (identity.name, identity.handle) == ("Ann", "ann\ufffd")
    assert Case.objects.get(mentions=mention).subject.startswith("refund please")


def test_raw_quarantined_line_with_nul_is_kept_readable(x_channel):
    ingest(x_channel, [], None, [Quarantined("not JSON", "{bad\x00 line \ud800")])

    assert QuarantinedPost.objects.get().payload == "{bad\\x00 line \\ud800"


def test_quarantined_payload_with_a_lone_surrogate_is_kept(x_channel):
    ingest(x_channel, [], None, [Quarantined("no author", {"id": "9", "text": "hi \ud800"})])

    assert QuarantinedPost.objects.get().payload == '{"id": "9", "text": "hi \\ud800"}'


def test_a_polled_page_does_not_wait_for_the_wal_flush_an_import_does(x_channel):
    def synchronous_commit() -> str:
        # SET LOCAL lasts until the test's own transaction ends, around both ingests.
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    ingest(x_channel, [post(1)])
    assert synchronous_commit() == "on"

    ingest(x_channel, [post(2)], {"mentions": "10002"})
    assert synchronous_commit() == "off"
    x_channel.refresh_from_db()
    assert x_channel.cursor == {"mentions": "10002"}
