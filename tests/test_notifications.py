"""Desk users are told of their own work once per event: in the app, and by e-mail as they chose."""

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cases import presence
from cases.actions import do_add_note, do_assign_case
from cases.assignment import auto_assign
from cases.models import DeskSettings, Reply
from cases.replies import do_approve_reply, do_queue_reply, do_send_back_reply
from notifications import delivery, followups, tasks
from notifications.actions import do_notify, do_save_preferences, unread_state
from notifications.models import EmailState, Kind, Notification
from qa import coaching
from qa.models import CoachingSession, Review
from qa.reviews import do_submit_review
from socialdesk import roles
from socialdesk.celery import app as celery_app
from tests.conftest import logged_in, make_user, run_queued_tasks
from tests.factories import make_case, make_review, make_team

pytestmark = pytest.mark.usefixtures("clean_cache", "empty_queue")


@pytest.fixture
def empty_queue():
    """No task message of another test in this run's queue."""
    celery_app.control.purge()
    yield
    celery_app.control.purge()


def told(user, kind=None) -> list[Notification]:
    rows = Notification.objects.filter(recipient=user)
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.order_by("id"))


def with_email(user, address=None):
    user.email = address or f"{user.username}@example.com"
    user.save(update_fields=["email"])
    return user


# ---------- each event: the right people, once, never the actor ----------


def test_assigning_a_case_tells_the_assignee_once_and_not_the_actor(agent, supervisor, x_channel):
    case = make_case(x_channel, text="My router is broken again")
    do_assign_case(case, agent, actor=supervisor)
    do_assign_case(case, agent, actor=supervisor)  # no change: no event, nothing more
    (notification,) = told(agent, Kind.ASSIGNED)
    assert notification.actor == supervisor and notification.case == case
    assert notification.title.startswith("sam_supervisor assigned case #")
    assert "My router is broken again" in notification.title
    assert notification.url == reverse("cases:detail", args=[case.pk])
    assert told(supervisor) == []
    do_assign_case(case, supervisor, actor=supervisor)  # taking it oneself: no notification
    assert told(supervisor) == []


def test_a_reassignment_is_a_new_event(agent, supervisor, x_channel):
    case = make_case(x_channel)
    do_assign_case(case, agent, actor=supervisor)
    do_assign_case(case, None, actor=supervisor)
    do_assign_case(case, agent, actor=supervisor)
    assert len(told(agent, Kind.ASSIGNED)) == 2


def test_auto_assignment_tells_each_assignee(agent, x_channel):
    DeskSettings.objects.update_or_create(
        pk=1, defaults={"auto_assign": True, "max_open_cases_per_agent": 5}
    )
    presence.mark_online(agent)
    cases = [make_case(x_channel) for _ in range(3)]
    assert auto_assign() == 3
    rows = told(agent, Kind.ASSIGNED)
    assert sorted(r.case_id for r in rows) == sorted(c.pk for c in cases)
    assert all(r.actor is None and "was assigned to you" in r.title for r in rows)


def test_a_mention_in_a_note_tells_the_colleague_named(agent, supervisor, qa, outsider, x_channel):
    case = make_case(x_channel)
    make_user("Blair.Agent", roles.AGENT)
    text = (
        "@SAM_supervisor can you look? cc @blair.agent. and @quinn_qa; "
        "@oscar_outsider @dana (the customer) email@alice_agent"
    )
    do_add_note(case, text, author=agent)
    (to_supervisor,) = told(supervisor, Kind.MENTIONED)
    assert to_supervisor.title.startswith("alice_agent mentioned you on case #")
    assert len(Notification.objects.filter(recipient__username="Blair.Agent")) == 1
    assert len(told(qa, Kind.MENTIONED)) == 1  # QA reads cases
    assert told(outsider) == []  # may not read cases
    assert told(agent) == []  # an e-mail address is no mention, and never the author


def test_mentioning_oneself_tells_nobody(agent, x_channel):
    do_add_note(make_case(x_channel), "note to self @alice_agent", author=agent)
    assert Notification.objects.count() == 0


@pytest.fixture
def approvals(x_channel):
    DeskSettings.objects.update_or_create(pk=1, defaults={"approval_for_escalated": True})
    return make_case(x_channel, triage="escalate")


def _queue(case, author, text="Sorry to hear that, please DM us."):
    return do_queue_reply(case, author=author, text=text, is_private=False)


def test_a_reply_waiting_for_approval_tells_the_authors_team_supervisors(
    agent, supervisor, admin, approvals
):
    other_lead = make_user("olga_supervisor", roles.SUPERVISOR)
    make_team("Team A", [supervisor], [agent])
    make_team("Team B", [other_lead], [])
    reply = _queue(approvals, agent)
    assert reply.state == Reply.State.AWAITING_APPROVAL
    (notification,) = told(supervisor, Kind.APPROVAL_REQUESTED)
    assert notification.url == reverse("cases:approvals")
    assert told(other_lead) == [] and told(admin) == [] and told(agent) == []


def test_an_agent_in_no_team_has_every_approver_told(agent, supervisor, admin, approvals):
    _queue(approvals, agent)
    assert len(told(supervisor, Kind.APPROVAL_REQUESTED)) == 1
    assert len(told(admin, Kind.APPROVAL_REQUESTED)) == 1
    assert told(agent) == []


def test_approving_and_sending_back_tell_the_author(agent, supervisor, approvals):
    first = _queue(approvals, agent)
    do_approve_reply(first, approver=supervisor)
    (approved,) = told(agent, Kind.REPLY_APPROVED)
    assert approved.actor == supervisor
    second = _queue(approvals, agent, "Our @acme_support team will DM @sam_supervisor")
    assert do_send_back_reply(second, approver=supervisor, note="Too casual, please rephrase")
    (sent_back,) = told(agent, Kind.REPLY_SENT_BACK)
    assert sent_back.title.endswith(": Too casual, please rephrase")
    # The quoted reply's @handles are no mention; the approver is never told of their own act.
    assert told(supervisor, Kind.MENTIONED) == []


def test_a_dispute_tells_the_supervisors_of_the_agents_teams(agent, qa, supervisor, admin):
    make_team("Team A", [supervisor], [agent])
    review = make_review(agent, qa)
    coaching.do_dispute_review(review, agent, "The customer asked for this")
    (notification,) = told(supervisor, Kind.DISPUTE_OPENED)
    assert notification.review == review
    assert notification.url == f"{reverse('qa:disputes')}#review-{review.pk}"
    assert told(admin) == [] and told(agent) == []


def test_a_dispute_of_an_agent_in_no_team_goes_to_the_admins(agent, qa, supervisor, admin):
    review = make_review(agent, qa)
    coaching.do_dispute_review(review, agent, "Wrong criterion")
    assert len(told(admin, Kind.DISPUTE_OPENED)) == 1
    assert told(supervisor) == []


def test_acknowledging_a_review_tells_nobody(agent, qa, supervisor):
    make_team("Team A", [supervisor], [agent])
    coaching.do_acknowledge_review(make_review(agent, qa), agent)
    assert Notification.objects.count() == 0


def test_a_submitted_sample_review_tells_the_agent(agent, qa):
    review = make_review(agent, qa, status=Review.Status.PENDING, score=None, values={})
    values = {c.pk: c.max_value for c in review.rubric.criteria.all()}
    do_submit_review(review, values, "Well done")
    (notification,) = told(agent, Kind.REVIEW_IN)
    assert notification.actor == qa and notification.review_id == review.pk
    assert notification.title.endswith(": 100 out of 100")
    assert notification.url == f"{reverse('qa:my_reviews')}#review-{review.pk}"


def test_a_calibration_review_tells_the_agent_nothing(agent, qa):
    review = make_review(
        agent, qa, status=Review.Status.PENDING, score=None, values={}, kind=Review.Kind.CALIBRATION
    )
    do_submit_review(review, {c.pk: c.max_value for c in review.rubric.criteria.all()}, "")
    assert told(agent) == []


def test_a_follow_up_due_tells_coach_and_agent_once_per_date(agent, supervisor):
    today = date(2026, 3, 10)
    session = CoachingSession.objects.create(
        agent=agent,
        coach=supervisor,
        status=CoachingSession.Status.DONE,
        follow_up_on=today,
    )
    CoachingSession.objects.create(  # not due yet
        agent=agent, coach=supervisor, follow_up_on=today + timedelta(days=5)
    )
    CoachingSession.objects.create(  # followed up already
        agent=agent,
        coach=supervisor,
        status=CoachingSession.Status.FOLLOWED_UP,
        follow_up_on=today,
    )
    assert followups.notify_follow_ups_due(today) == 2
    assert followups.notify_follow_ups_due(today) == 0  # the hourly rerun adds nothing
    (to_coach,) = told(supervisor, Kind.FOLLOW_UP_DUE)
    assert to_coach.title == "The coaching follow-up with alice_agent is due"
    assert to_coach.url == reverse("qa:coaching", args=[session.pk])
    assert len(told(agent, Kind.FOLLOW_UP_DUE)) == 1
    CoachingSession.objects.filter(pk=session.pk).update(follow_up_on=today + timedelta(days=3))
    assert followups.notify_follow_ups_due(today + timedelta(days=3)) == 2  # a new date


# ---------- the verb's own guarantees ----------


def test_the_same_event_twice_notifies_once(agent, supervisor, x_channel):
    case = make_case(x_channel)
    for _ in range(3):
        do_notify([agent, agent.pk], Kind.SLA_WARNING, case=case, dedupe_key="sla:1:warn")
    assert len(told(agent)) == 1
    do_notify([agent, supervisor], Kind.SLA_WARNING, case=case, dedupe_key="sla:1:warn")
    assert len(told(agent)) == 1 and len(told(supervisor)) == 1


def test_notifications_roll_back_with_their_event(agent, supervisor, x_channel):
    case = make_case(x_channel)
    with pytest.raises(RuntimeError), transaction.atomic():
        do_assign_case(case, agent, actor=supervisor)
        raise RuntimeError("the request failed after the assignment")
    assert told(agent) == []


def test_inactive_users_and_unknown_kinds(agent, x_channel):
    agent.is_active = False
    agent.save(update_fields=["is_active"])
    assert do_notify([agent], Kind.SLA_BREACHED, case=make_case(x_channel)) == []
    with pytest.raises(ValueError):
        do_notify([agent], "no-such-kind")


def test_fanout_to_many_users_is_two_queries(db, x_channel, django_assert_num_queries):
    users = [make_user(f"user{i}", roles.AGENT) for i in range(30)]
    case = make_case(x_channel)
    with django_assert_num_queries(2):
        ids = do_notify(users, Kind.SLA_BREACHED, case=case, dedupe_key="sla:fanout")
    assert len(ids) == 30


# ---------- e-mail: preferences, once, after the commit; the sweep and the digest ----------


def test_an_email_goes_after_the_commit_through_the_worker(
    agent, supervisor, x_channel, django_capture_on_commit_callbacks
):
    with_email(agent)
    case = make_case(x_channel, text='Refund <now> & "fast"\nBcc: victim@example.com')
    with django_capture_on_commit_callbacks(execute=True):
        do_assign_case(case, agent, actor=supervisor)
        assert mail.outbox == []
    assert mail.outbox == []  # queued, not sent in the request
    assert run_queued_tasks() == ["notifications.tasks.send_notification_emails"]
    (message,) = mail.outbox
    assert message.to == ["alice_agent@example.com"]
    assert message.subject.startswith("[SocialDesk] sam_supervisor assigned case #")
    assert "\n" not in message.subject and "Bcc: victim" in message.subject
    assert 'Refund <now> & "fast"' in message.body  # plain text, not HTML-escaped
    (row,) = told(agent)
    assert row.email_state == EmailState.SENT and row.emailed_at is not None
    assert delivery.send_emails([row.pk]) == 0  # a repeated message sends nothing
    assert len(mail.outbox) == 1


def test_preferences_choose_which_kinds_are_emailed(agent, supervisor, x_channel):
    with_email(agent)
    do_save_preferences(agent, [Kind.MENTIONED], daily_digest=False)
    case = make_case(x_channel)
    do_assign_case(case, agent, actor=supervisor)
    do_add_note(case, "@alice_agent please call them", author=supervisor)
    states = {n.kind: n.email_state for n in told(agent)}
    assert states == {Kind.ASSIGNED: EmailState.NONE, Kind.MENTIONED: EmailState.PENDING}
    # Without an address nothing is e-mailed, whatever the preferences.
    do_assign_case(case, supervisor, actor=agent)
    assert told(supervisor)[0].email_state == EmailState.NONE


def test_the_preferences_page_saves_them(agent):
    client = logged_in(agent)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "Your account has no e-mail address" in page
    assert page.count('type="checkbox"') == len(Kind.values) + 1
    response = client.post(
        reverse("notifications:preferences"),
        {"email_kinds": [Kind.ASSIGNED, Kind.REVIEW_IN], "daily_digest": "on"},
    )
    assert response.status_code == 302
    pref = agent.notification_preference
    assert pref.email_kinds == [Kind.ASSIGNED, Kind.REVIEW_IN] and pref.daily_digest


def test_a_worker_that_dies_mid_send_is_taken_over_by_the_sweep(agent, supervisor, x_channel):
    with_email(agent)
    do_assign_case(make_case(x_channel), agent, actor=supervisor)
    (row,) = told(agent)
    now = timezone.now()
    assert [r.pk for r in delivery.claim([row.pk], now)] == [row.pk]  # then the worker dies
    assert delivery.claim([row.pk], now) == []  # nobody else takes a claimed row
    assert delivery.sweep(now + timedelta(seconds=30)) == {"recovered": 0, "enqueued": 0}
    later = now + delivery.claim_lease() + timedelta(seconds=61)
    assert delivery.sweep(later) == {"recovered": 1, "enqueued": 1}
    assert run_queued_tasks() == ["notifications.tasks.send_notification_emails"]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.email_state == EmailState.SENT and row.email_attempts == 2
    assert delivery.sweep(later) == {"recovered": 0, "enqueued": 0}


def test_a_lost_message_is_enqueued_again_by_the_sweep(agent, supervisor, x_channel):
    with_email(agent)
    do_assign_case(make_case(x_channel), agent, actor=supervisor)  # on_commit never runs here
    assert run_queued_tasks() == []
    assert delivery.sweep()["enqueued"] == 0  # its own message may still be on its way
    assert delivery.sweep(timezone.now() + timedelta(minutes=2))["enqueued"] == 1
    run_queued_tasks()
    run_queued_tasks()
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_is_retried_then_given_up(agent, supervisor, x_channel, settings):
    settings.MAILERS = {"default": {"BACKEND": "tests.test_notifications.RefusingBackend"}}
    with_email(agent)
    do_assign_case(make_case(x_channel), agent, actor=supervisor)
    (row,) = told(agent)
    now = timezone.now()
    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        assert delivery.send_emails([row.pk], now) == 0
        row.refresh_from_db()
        assert row.email_attempts == attempt and "refused" in row.email_error
        now = row.email_due_at or now
    assert row.email_state == EmailState.FAILED


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("connection refused")


def test_the_daily_digest_sends_what_is_still_unread_once(agent, supervisor, x_channel, settings):
    settings.NOTIFICATION_DIGEST_HOUR = 7
    with_email(agent)
    do_save_preferences(agent, list(Kind.values), daily_digest=True)
    first, second, third = (make_case(x_channel) for _ in range(3))
    do_assign_case(first, agent, actor=supervisor)
    do_assign_case(second, agent, actor=supervisor)
    do_assign_case(third, agent, actor=supervisor)
    rows = told(agent)
    assert {r.email_state for r in rows} == {EmailState.DIGEST}
    due = rows[0].email_due_at
    assert timezone.localtime(due).hour == 7 and due > timezone.now()
    Notification.objects.filter(pk=rows[2].pk).update(read_at=timezone.now())  # seen in the app

    assert delivery.due_digest_recipients(due - timedelta(minutes=1)) == []
    assert tasks.send_notification_digests.apply().get() == 0  # not due yet
    assert delivery.due_digest_recipients(due) == [agent.pk]
    assert delivery.send_digest(agent.pk, due) == 2
    assert delivery.send_digest(agent.pk, due) == 0  # the rerun finds nothing
    (message,) = mail.outbox
    assert message.subject == "[SocialDesk] 2 unread notifications"
    assert f"case #{first.pk}" in message.body and f"case #{second.pk}" in message.body
    assert f"case #{third.pk}" not in message.body
    states = {r.pk: r.email_state for r in told(agent)}
    assert states == {
        rows[0].pk: EmailState.SENT,
        rows[1].pk: EmailState.SENT,
        rows[2].pk: EmailState.NONE,
    }


def test_a_digest_left_by_a_dead_worker_goes_back_into_the_digest(agent, supervisor, x_channel):
    with_email(agent)
    do_save_preferences(agent, list(Kind.values), daily_digest=True)
    do_assign_case(make_case(x_channel), agent, actor=supervisor)
    (row,) = told(agent)
    Notification.objects.filter(pk=row.pk).update(
        email_state=EmailState.SENDING, email_claimed_at=row.email_due_at
    )  # claimed, then the worker died
    later = row.email_due_at + delivery.claim_lease() + timedelta(seconds=1)
    assert delivery.sweep(later) == {"recovered": 1, "enqueued": 0}
    assert delivery.send_digest(agent.pk, later) == 1
    assert len(mail.outbox) == 1


# ---------- the bell and the list ----------


def poll_url(html: str) -> str:
    return re.search(r'id="bell-count"[^>]*hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


@pytest.mark.parametrize("rows", [3, 40])
def test_the_bell_counts_unread_and_answers_204_while_nothing_changed(
    agent, supervisor, x_channel, rows, django_assert_num_queries
):
    case = make_case(x_channel)
    for i in range(rows):
        do_notify([agent], Kind.SLA_WARNING, case=case, dedupe_key=f"sla:{i}")
    client = logged_in(agent)
    page = client.get(reverse("cases:list")).content.decode()
    assert 'hx-get="/notifications/bell/"' in page and 'hx-trigger="load, every 10s"' in page
    html = client.get(reverse("notifications:bell"), headers={"HX-Request": "true"}).content
    html = html.decode()
    assert f'<span class="bell__badge" aria-hidden="true">{rows}</span>' in html
    url = poll_url(html)
    # session, user, the count and newest id
    with django_assert_num_queries(3):
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 204
    do_notify([agent], Kind.SLA_BREACHED, case=case, dedupe_key="sla:breach")
    changed = client.get(url, headers={"HX-Request": "true"})
    assert changed.status_code == 200 and f">{rows + 1}</span>" in changed.content.decode()
    Notification.objects.filter(recipient=agent).update(read_at=timezone.now())
    read = client.get(poll_url(changed.content.decode()), headers={"HX-Request": "true"})
    assert read.status_code == 200 and "bell__badge" not in read.content.decode()
    assert ", 0 unread" in read.content.decode()


@pytest.mark.parametrize("rows", [3, 40])
def test_the_list_and_panel_cost_the_same_at_any_size(
    agent, x_channel, rows, django_assert_num_queries
):
    case = make_case(x_channel, text="<script>alert(1)</script> my order")
    for i in range(rows):
        do_notify([agent], Kind.SLA_WARNING, case=case, dedupe_key=f"sla:{i}")
    client = logged_in(agent)
    client.get(reverse("notifications:list"))  # warm the session
    # session, user, rows, unread count; the top bar's user and group permissions and groups
    with django_assert_num_queries(7):
        page = client.get(reverse("notifications:list")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert page.count('class="notif is-unread"') == min(rows, 50)
    with django_assert_num_queries(3):
        panel = client.get(reverse("notifications:list"), headers={"HX-Request": "true"})
    assert panel.content.decode().count('class="notif is-unread"') == min(rows, 8)


def test_opening_a_notification_marks_it_read_and_goes_to_the_case(agent, supervisor, x_channel):
    case = make_case(x_channel)
    do_assign_case(case, agent, actor=supervisor)
    do_add_note(case, "@alice_agent see above", author=supervisor)
    assigned, mentioned = told(agent)
    client = logged_in(agent)
    response = client.post(reverse("notifications:read", args=[assigned.pk]), {"open": "1"})
    assert response.status_code == 303
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    assert unread_state(agent)[0] == 1
    back = client.post(reverse("notifications:read_all"), {"next": "https://evil.test/"})
    assert back["Location"] == reverse("notifications:list")  # never off the site
    assert unread_state(agent)[0] == 0
    assert client.get(reverse("notifications:read", args=[mentioned.pk])).status_code == 405


def test_the_fanout_bench_reports_what_it_wrote(db):
    from bench import notifications as bench

    figures = {}
    bench.run(lambda name, value: figures.__setitem__(name, value), users=40)
    assert figures["notifications_fanout_rows"] == 40
    assert figures["notifications_fanout_ms"] > 0
    assert not Notification.objects.exists()  # rolled back
