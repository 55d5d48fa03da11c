"""Admin for service levels: policies, business hours and holidays, with errors that say what
to fix; a change re-dates the open cases (sla/admin.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cases import sla, tasks
from cases.models import Case, Label
from sla.models import BusinessHours, Policy
from tests.conftest import logged_in, make_channel
from tests.factories import make_case, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def redates(monkeypatch) -> list[int]:
    """The re-dating task messages sent (instead of a broker)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.refresh_open_case_slas, "delay", lambda: sent.append(1))
    return sent


def policy_form(**fields) -> dict:
    return {
        "name": "Urgent",
        "position": "10",
        "enabled": "on",
        "first_response_minutes": "15",
        "warn_percent": "75",
        **fields,
    }


def hours_form(team, openings, holidays=(), time_zone="Europe/Berlin") -> dict:
    data = {
        "team": team.pk,
        "time_zone": time_zone,
        "openings-TOTAL_FORMS": str(len(openings)),
        "openings-INITIAL_FORMS": "0",
        "holidays-TOTAL_FORMS": str(len(holidays)),
        "holidays-INITIAL_FORMS": "0",
    }
    for i, (weekday, opens, closes) in enumerate(openings):
        data |= {
            f"openings-{i}-weekday": weekday,
            f"openings-{i}-opens": opens,
            f"openings-{i}-closes": closes,
        }
    for i, (day, name) in enumerate(holidays):
        data |= {f"holidays-{i}-date": day, f"holidays-{i}-name": name}
    return data


def test_an_admin_adds_a_policy_and_the_open_cases_are_redated_after_the_commit(
    admin, x_channel, redates, django_capture_on_commit_callbacks
):
    label = Label.objects.create(name="outage")
    case = make_case(x_channel, labels=[label])
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(admin).post(
            reverse("admin:sla_policy_add"), policy_form(label=label.pk)
        )
    assert response.status_code == 302
    assert redates == [1]
    sla.refresh_open_case_slas()  # what the task runs
    case.refresh_from_db()
    assert case.sla_policy.name == "Urgent"
    assert case.sla_due_at == case.opened_at + timedelta(minutes=15)
    listing = logged_in(admin).get(reverse("admin:sla_policy_changelist")).content.decode()
    assert "label outage" in listing and "15 min" in listing


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"priority_min": "80", "priority_max": "40"}, "upper end must not be below"),
        ({"priority_min": "120"}, "Priorities run from 0 to 100"),
        ({"warn_percent": "100"}, "less than or equal to 99"),
        ({"first_response_minutes": "0"}, "greater than or equal to 1"),
        ({"network": "facebook", "channel": "X"}, "could never match"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_with_the_reason(
    admin, x_channel, redates, fields, error
):
    if fields.get("channel") == "X":
        fields = {**fields, "channel": x_channel.pk}
    response = logged_in(admin).post(reverse("admin:sla_policy_add"), policy_form(**fields))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Policy.objects.exists() and redates == []


def test_business_hours_with_holidays_are_saved(admin, redates, django_capture_on_commit_callbacks):
    team = make_team("Care EU")
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(admin).post(
            reverse("admin:sla_businesshours_add"),
            hours_form(
                team,
                [(0, "09:00", "12:00"), (0, "13:00", "17:00"), (5, "20:00", "00:00")],
                [("2026-12-25", "Christmas Day")],
            ),
        )
    assert response.status_code == 302
    hours = BusinessHours.objects.get()
    assert hours.openings.count() == 3 and hours.holidays.get().name == "Christmas Day"
    assert redates == [1]


@pytest.mark.parametrize(
    ("openings", "holidays", "time_zone", "error"),
    [
        ([(0, "17:00", "09:00")], [], "Europe/Berlin", "Closing time must be after opening"),
        ([(0, "09:00", "13:00"), (0, "12:00", "17:00")], [], "Europe/Berlin", "overlap on Monday"),
        ([(6, "20:00", "00:00"), (6, "21:00", "22:00")], [], "Europe/Berlin", "overlap on Sunday"),
        ([], [], "Europe/Berlin", "Add at least one opening time"),
        ([(0, "09:00", "17:00")], [], "Mars/Olympus", "Unknown time zone Mars/Olympus"),
        (
            [(0, "09:00", "17:00")],
            [("2026-12-25", "Christmas"), ("2026-12-25", "Again")],
            "Europe/Berlin",
            "Please correct the duplicate data for date",
        ),
    ],
)
def test_business_hours_that_make_no_sense_are_refused_with_the_reason(
    admin, redates, openings, holidays, time_zone, error
):
    team = make_team("Care")
    response = logged_in(admin).post(
        reverse("admin:sla_businesshours_add"), hours_form(team, openings, holidays, time_zone)
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not BusinessHours.objects.exists() and redates == []


def test_flagging_a_customer_vip_moves_their_open_cases_to_the_vip_policy(admin):
    Policy.objects.create(name="VIP", customer_flag="vip", first_response_minutes=5)
    case = make_case(make_channel("x"))
    customer = case.customer
    response = logged_in(admin).post(
        reverse("admin:cases_customer_change", args=[customer.pk]),
        {
            "display_name": customer.display_name,
            "is_vip": "on",
            "created_at_0": customer.created_at.strftime("%Y-%m-%d"),
            "created_at_1": customer.created_at.strftime("%H:%M:%S"),
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Case.objects.get(pk=case.pk).sla_policy.name == "VIP"


def test_only_admins_edit_service_levels(supervisor, agent):
    for user in (supervisor, agent):
        assert logged_in(user).get(reverse("admin:sla_policy_changelist")).status_code in (
            302,
            403,
        )
