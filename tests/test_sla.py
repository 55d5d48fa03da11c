"""Service-level policies on cases: matching order, business-hour due times, the next-response
clock, and the beat's warning and breach transitions (cases/sla.py, sla/policies.py)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import sending
from cases.actions import do_set_labels, do_set_status
from cases.models import Case, CaseStatus, DeskSettings, Label, Reply
from cases.replies import do_queue_reply
from cases.sla import advance_sla_states, refresh_case_sla, refresh_case_slas
from listening.ingest import ingest
from sla.models import BusinessHours, Holiday, OpeningTime, Policy
from sla.policies import load_rules
from tests.factories import AcceptingNetwork, author, make_case, make_team, post

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office_hours(team_name: str = "Berlin desk", **holidays: str) -> BusinessHours:
    """Monday to Friday 09:00–17:00 in Berlin."""
    hours = BusinessHours.objects.create(team=make_team(team_name), time_zone="Europe/Berlin")
    OpeningTime.objects.bulk_create(
        OpeningTime(hours=hours, weekday=day, opens=time(9), closes=time(17)) for day in range(5)
    )
    for day, name in holidays.items():
        Holiday.objects.create(hours=hours, date=day, name=name)
    return hours


@pytest.fixture
def network(monkeypatch):
    monkeypatch.setattr(sending, "get_connector", lambda _network: AcceptingNetwork())


# ---------- which policy ----------


def test_the_first_matching_policy_in_position_order_applies(x_channel, facebook_channel):
    outage = Label.objects.create(name="outage")
    Policy.objects.create(name="Priority", position=40, priority_min=70, first_response_minutes=20)
    Policy.objects.create(
        name="Facebook", position=30, network="facebook", first_response_minutes=90
    )
    Policy.objects.create(name="Outage", position=20, label=outage, first_response_minutes=15)
    vip = Policy.objects.create(
        name="VIP", position=10, customer_flag="vip", first_response_minutes=5
    )
    Policy.objects.create(
        name="Off", position=1, enabled=False, first_response_minutes=1
    )  # disabled: never matches

    urgent_outage = make_case(x_channel, priority=90, labels=[outage])
    assert urgent_outage.sla_policy.name == "Outage"  # 20 comes before 40
    assert make_case(x_channel, priority=90).sla_policy.name == "Priority"
    assert make_case(facebook_channel, priority=90).sla_policy.name == "Facebook"
    vip_case = make_case(facebook_channel, priority=90, labels=[outage])
    vip_case.customer.is_vip = True
    vip_case.customer.save(update_fields=["is_vip"])
    refresh_case_sla(vip_case)
    assert vip_case.sla_policy == vip
    assert vip_case.sla_due_at == vip_case.opened_at + timedelta(minutes=5)


def test_a_case_no_policy_picks_keeps_the_desks_first_response_target(x_channel):
    DeskSettings.objects.update_or_create(pk=1, defaults={"first_response_sla_minutes": 45})
    Policy.objects.create(name="Press", customer_flag="press", first_response_minutes=10)
    case = make_case(x_channel)
    assert case.sla_policy is None  # the desk default, not a policy row
    assert case.first_response_due_at == case.opened_at + timedelta(minutes=45)
    assert case.sla_due_at == case.first_response_due_at
    assert case.resolution_due_at is None and case.sla_state == "ok"


def test_a_label_added_later_moves_the_case_to_its_policy(x_channel, agent):
    outage = Label.objects.create(name="outage")
    Policy.objects.create(name="Outage", label=outage, first_response_minutes=15)
    case = make_case(x_channel)
    assert case.sla_policy is None
    do_set_labels(case, [outage], actor=agent)
    case.refresh_from_db()
    assert case.sla_policy.name == "Outage"
    assert case.sla_due_at == case.opened_at + timedelta(minutes=15)


def test_dating_in_bulk_reads_labels_flags_and_the_channels_team_as_one_case_does(x_channel):
    """Intake dates cases from plain rows (`refresh_case_slas`); the admin and the actions date
    one Case object (`refresh_case_sla`). Both must see the same conditions."""
    outage = Label.objects.create(name="outage")
    hours = office_hours()
    x_channel.team = hours.team
    x_channel.save(update_fields=["team"])
    Policy.objects.create(name="VIP", customer_flag="vip", first_response_minutes=30)
    Policy.objects.create(name="Outage", label=outage, first_response_minutes=120, position=200)
    friday = berlin(2026, 12, 4, 16, 45)
    vip = make_case(x_channel, opened_at=friday, last_inbound_at=friday)
    labelled = make_case(x_channel, opened_at=friday, last_inbound_at=friday)
    Case.objects.filter(pk__in=[vip.pk, labelled.pk]).update(sla_policy=None, sla_due_at=None)
    vip.customer.is_vip = True
    vip.customer.save(update_fields=["is_vip"])
    labelled.labels.add(outage)

    assert refresh_case_slas([vip.pk, labelled.pk]) == 2
    vip.refresh_from_db()
    labelled.refresh_from_db()
    assert vip.sla_policy.name == "VIP"
    # 15 minutes on Friday in the channel's team's hours, 15 more on Monday.
    assert vip.sla_due_at == berlin(2026, 12, 7, 9, 15)
    assert labelled.sla_policy.name == "Outage"
    assert labelled.sla_due_at == berlin(2026, 12, 7, 10, 45)
    for case in (vip, labelled):  # the one-case path agrees to the minute
        due = case.sla_due_at
        refresh_case_sla(case)
        assert case.sla_due_at == due
    assert refresh_case_slas([vip.pk, labelled.pk]) == 0  # nothing changed, nothing written


def test_intake_opens_a_known_vip_customers_new_conversation_on_the_vip_policy(x_channel):
    Policy.objects.create(name="VIP", customer_flag="vip", first_response_minutes=10)
    Policy.objects.create(name="Urgent", priority_min=0, first_response_minutes=30, position=200)
    vip = author(1)
    ingest(x_channel, [post(1, by=vip)])
    first = Case.objects.get()
    assert first.sla_policy.name == "Urgent"  # not flagged yet
    first.customer.is_vip = True
    first.customer.save(update_fields=["is_vip"])

    ingest(x_channel, [post(2, by=vip), post(3, by=author(3))])  # a new conversation each
    opened = {c.mentions.get().external_id: c for c in Case.objects.exclude(pk=first.pk)}
    assert opened[post(2).external_id].sla_policy.name == "VIP"
    assert opened[post(2).external_id].sla_due_at == post(2).posted_at + timedelta(minutes=10)
    assert opened[post(3).external_id].sla_policy.name == "Urgent"
    assert opened[post(3).external_id].sla_state == "ok"


def test_a_follow_up_that_raises_the_priority_moves_the_case_to_its_policy(x_channel):
    Policy.objects.create(name="Urgent", priority_min=70, first_response_minutes=15)
    calm = post(1, text="@acme_support how do I change my address?")
    ingest(x_channel, [calm])
    case = Case.objects.get()
    assert case.priority < 70 and case.sla_policy is None
    angry = post(
        2,
        by=calm.author,
        conversation=calm.conversation_id,
        text="@acme_support STILL broken!!! Refund now or I cancel, my lawyer will hear of it",
    )
    ingest(x_channel, [angry])
    case.refresh_from_db()
    assert case.priority >= 70
    assert case.sla_policy.name == "Urgent"
    assert case.sla_due_at == case.opened_at + timedelta(minutes=15)


def test_a_follow_up_that_changes_no_clock_input_is_not_dated_again(x_channel):
    first = post(1)
    ingest(x_channel, [first])
    case = Case.objects.get()
    due = case.sla_due_at
    follow_up = post(2, by=first.author, conversation=first.conversation_id)
    with CaptureQueriesContext(connection) as queries:
        ingest(x_channel, [follow_up])
    assert not [q for q in queries if "cases_case_labels" in q["sql"]]  # no re-dating read
    case.refresh_from_db()
    assert case.mention_count == 2 and case.sla_due_at == due


def test_the_rules_are_read_again_only_when_their_tables_change(
    x_channel, django_assert_num_queries
):
    hours = office_hours()
    policy = Policy.objects.create(name="Office", hours_team=hours.team, first_response_minutes=60)
    load_rules()
    with django_assert_num_queries(1):  # the digest alone
        rules = load_rules()
    assert [p.name for p in rules.policies] == ["Office"]

    christmas = date(2026, 12, 25)
    Holiday.objects.create(hours=hours, date=christmas, name="Christmas Day")
    assert christmas in load_rules().schedules[hours.team_id].holidays
    Policy.objects.filter(pk=policy.pk).update(first_response_minutes=15)  # no save() signal
    assert load_rules().policies[0].first_response_minutes == 15
    DeskSettings.objects.update_or_create(pk=1, defaults={"first_response_sla_minutes": 33})
    assert load_rules().default.first_response_minutes == 33
    policy.delete()
    assert load_rules().policies == []


# ---------- business hours ----------


def test_ingest_dates_a_friday_evening_case_on_monday_morning_in_the_teams_hours(x_channel):
    hours = office_hours()
    Policy.objects.create(
        name="Office", hours_team=hours.team, first_response_minutes=60, resolution_minutes=8 * 60
    )
    friday = berlin(2026, 12, 4, 16, 30)
    ingest(x_channel, [post(1, posted_at=friday)], now=friday)
    case = Case.objects.get()
    assert case.awaiting_since == friday
    # 30 minutes on Friday, 30 more from Monday 09:00.
    assert case.first_response_due_at == berlin(2026, 12, 7, 9, 30)
    assert case.sla_warn_at == berlin(2026, 12, 7, 9, 15)  # 75 % of the hour
    assert case.resolution_due_at == berlin(2026, 12, 7, 16, 30)
    assert case.sla_due_at == case.first_response_due_at


def test_a_holiday_and_the_weekend_pause_the_clock(x_channel):
    hours = office_hours(**{"2026-12-25": "Christmas Day"})
    Policy.objects.create(name="Office", hours_team=hours.team, first_response_minutes=120)
    thursday = berlin(2026, 12, 24, 16)
    case = make_case(x_channel, opened_at=thursday, last_inbound_at=thursday)
    assert case.sla_due_at == berlin(2026, 12, 28, 10)  # Fri 25th closed, then the weekend


def test_hours_in_another_time_zone_follow_its_daylight_saving_change(x_channel):
    hours = office_hours("New York desk")
    hours.time_zone = "America/New_York"
    hours.save()
    Policy.objects.create(name="NY", hours_team=hours.team, first_response_minutes=60)
    # 1 November 2026: New York leaves DST (EDT, UTC-4 → EST, UTC-5) on the Sunday.
    friday = datetime(2026, 10, 30, 20, 30, tzinfo=UTC)  # 16:30 EDT
    case = make_case(x_channel, opened_at=friday, last_inbound_at=friday)
    # 30 minutes on Friday, then Monday 09:00 EST = 14:00 UTC, an hour later in UTC than
    # before the change.
    assert case.sla_due_at == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


# ---------- the next-response clock ----------


def test_each_customer_post_after_a_reply_starts_a_next_response_clock(x_channel, agent, network):
    Policy.objects.create(
        name="Chatty", first_response_minutes=60, next_response_minutes=30, warn_percent=50
    )
    customer = author(7)
    opened = timezone.now() - timedelta(minutes=10)
    ingest(x_channel, [post(1, by=customer, conversation="c1", posted_at=opened)])
    case = Case.objects.get()
    assert case.response_due_at == opened + timedelta(minutes=60)

    reply = do_queue_reply(case, author=agent, text="Sorry! We are on it.", is_private=False)
    assert sending.send_reply(reply.pk) == "sent"
    case.refresh_from_db()
    assert case.first_response_at is not None
    assert case.awaiting_since is None and case.response_due_at is None  # nobody waits
    assert case.sla_due_at is None and case.sla_state == ""
    assert case.first_response_due_at == opened + timedelta(minutes=60)  # kept for the report

    again = timezone.now()
    ingest(x_channel, [post(2, by=customer, conversation="c1", posted_at=again)])
    later = again + timedelta(minutes=1)
    ingest(x_channel, [post(3, by=customer, conversation="c1", posted_at=later)])
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    # The clock runs from the first unanswered post, not the latest.
    assert case.awaiting_since == again
    assert case.response_due_at == again + timedelta(minutes=30)
    assert case.sla_warn_at == again + timedelta(minutes=15)
    assert case.sla_state == "ok"


def test_without_a_next_response_target_a_follow_up_starts_no_clock(x_channel, agent, network):
    Policy.objects.create(name="First only", first_response_minutes=60)
    customer = author(8)
    ingest(x_channel, [post(1, by=customer, conversation="c2", posted_at=timezone.now())])
    case = Case.objects.get()
    reply = do_queue_reply(case, author=agent, text="Sorry! We are on it.", is_private=False)
    sending.send_reply(reply.pk)
    ingest(x_channel, [post(2, by=customer, conversation="c2", posted_at=timezone.now())])
    case.refresh_from_db()
    assert case.awaiting_since is not None and case.response_due_at is None
    assert case.sla_due_at is None


# ---------- warning and breach, each once ----------


def test_warning_then_breach_are_each_reported_once(x_channel):
    Policy.objects.create(name="Hour", first_response_minutes=60, warn_percent=75)
    opened = timezone.now() - timedelta(minutes=50)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened)
    quiet = make_case(x_channel)  # 4 minutes old: nothing to say
    now = timezone.now()

    assert advance_sla_states(now) == {"breached": [], "warning": [case.pk]}
    assert advance_sla_states(now) == {"breached": [], "warning": []}
    assert advance_sla_states(now + timedelta(minutes=11)) == {"breached": [case.pk], "warning": []}
    assert advance_sla_states(now + timedelta(minutes=12)) == {"breached": [], "warning": []}
    case.refresh_from_db()
    quiet.refresh_from_db()
    assert (case.sla_state, quiet.sla_state) == ("breached", "ok")


def test_the_assignee_and_their_supervisors_are_told_once_of_each_crossing(
    x_channel, agent, supervisor
):
    from notifications.models import Kind, Notification

    make_team("Care", supervisors=[supervisor], members=[agent])
    Policy.objects.create(name="Hour", first_response_minutes=60, warn_percent=75)
    opened = timezone.now() - timedelta(minutes=50)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened, assignee=agent)
    now = timezone.now()

    advance_sla_states(now)
    advance_sla_states(now)  # no new crossing: nothing more
    advance_sla_states(now + timedelta(minutes=11))

    told = sorted(Notification.objects.values_list("recipient__username", "kind", "case_id"))
    assert told == sorted(
        (user.username, kind, case.pk)
        for user in (agent, supervisor)
        for kind in (Kind.SLA_WARNING, Kind.SLA_BREACHED)
    )


def test_a_beat_costs_the_same_queries_for_many_breaches_as_for_few(x_channel, agent, supervisor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications.models import Notification

    make_team("Care", supervisors=[supervisor], members=[agent])
    Policy.objects.create(name="Hour", first_response_minutes=60)
    opened = timezone.now() - timedelta(hours=2)

    def breach(cases: int) -> int:
        for _ in range(cases):
            make_case(x_channel, opened_at=opened, last_inbound_at=opened, assignee=agent)
        with CaptureQueriesContext(connection) as queries:
            crossed = advance_sla_states()
        assert len(crossed["breached"]) == cases
        return len(queries)

    assert breach(2) == breach(8)
    assert Notification.objects.count() == 2 * 10  # the agent and their supervisor, each case


def test_a_case_past_both_points_is_reported_breached_only(x_channel):
    opened = timezone.now() - timedelta(hours=3)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened)  # desk default: 60 min
    assert advance_sla_states() == {"breached": [case.pk], "warning": []}
    assert advance_sla_states() == {"breached": [], "warning": []}


def test_a_refresh_that_keeps_the_deadline_keeps_the_state(x_channel, agent):
    opened = timezone.now() - timedelta(minutes=50)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened)
    advance_sla_states()
    do_set_labels(case, [Label.objects.create(name="billing")], actor=agent)  # same policy
    assert advance_sla_states(timezone.now()) == {"breached": [], "warning": []}
    case.refresh_from_db()
    assert case.sla_state == "warning"


def test_resolving_stops_the_clocks_and_the_beat_leaves_the_case_alone(x_channel, agent):
    Policy.objects.create(name="Resolve", first_response_minutes=60, resolution_minutes=240)
    opened = timezone.now() - timedelta(hours=5)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened)
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    case.refresh_from_db()
    assert (case.sla_due_at, case.sla_state) == (None, "")
    assert case.resolution_due_at == opened + timedelta(hours=4)  # missed: the report says so
    assert advance_sla_states() == {"breached": [], "warning": []}
    do_set_status(case, CaseStatus.OPEN, actor=agent)  # reopened: the clocks run again
    case.refresh_from_db()
    assert case.sla_due_at == opened + timedelta(hours=1) and case.sla_state == "ok"
    assert advance_sla_states() == {"breached": [case.pk], "warning": []}


def test_a_sent_reply_clears_the_breach_for_the_next_clock(x_channel, agent, network):
    Policy.objects.create(name="Both", first_response_minutes=60, next_response_minutes=60)
    opened = timezone.now() - timedelta(hours=2)
    case = make_case(x_channel, opened_at=opened, last_inbound_at=opened, status="open")
    assert advance_sla_states() == {"breached": [case.pk], "warning": []}
    reply = do_queue_reply(case, author=agent, text="Sorry for the wait!", is_private=False)
    sending.send_reply(reply.pk)
    case.refresh_from_db()
    assert case.sla_state == "" and Reply.objects.get().state == Reply.State.SENT


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_report_each_breach_once(x_channel):
    import threading

    from django.db import connection

    opened = timezone.now() - timedelta(hours=2)
    cases = [make_case(x_channel, opened_at=opened, last_inbound_at=opened) for _ in range(40)]
    start = threading.Barrier(2)
    results: list[dict[str, list[int]]] = []

    def beat() -> None:
        try:
            start.wait()
            results.append(advance_sla_states())
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reported = [case_id for result in results for case_id in result["breached"]]
    assert sorted(reported) == sorted(case.pk for case in cases)  # each once, none lost
