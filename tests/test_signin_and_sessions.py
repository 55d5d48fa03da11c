"""Sign-in throttling that nobody can turn into a lock-out, session lifetime, the admin for the
admin group, and the security headers."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from socialdesk import roles
from socialdesk.middleware import SEEN_KEY, SIGNED_IN_KEY
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def attempt(client: Client, password: str, address: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": address}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(LOGIN, {"username": "alice_agent", "password": password}, **headers)


def fail_five_times(address: str, forwarded: str | None = None) -> None:
    for n in range(5):  # the fifth failure is answered with the pause
        assert attempt(Client(), "wrong", address, forwarded).status_code == (
            429 if n == 4 else 200
        )


def test_five_bad_attempts_from_one_address_pause_only_that_address(agent):
    fail_five_times("203.0.113.7")

    blocked = attempt(Client(), "pw-alice_agent", "203.0.113.7")
    owner = attempt(Client(), "pw-alice_agent", "198.51.100.20")

    assert blocked.status_code == 429
    assert "Sign-in paused" in blocked.content.decode()
    assert "Try again in 15 minutes" in blocked.content.decode()
    assert "_auth_user_id" not in blocked.wsgi_request.session
    assert owner.status_code == 302  # the owner, elsewhere, signs in


def test_four_bad_attempts_then_the_right_password_signs_in(agent):
    for _ in range(4):
        attempt(Client(), "wrong", "203.0.113.7")

    assert attempt(Client(), "pw-alice_agent", "203.0.113.7").status_code == 302


def test_sign_in_is_allowed_again_after_the_cool_off(agent, settings):
    fail_five_times("203.0.113.7")
    assert attempt(Client(), "pw-alice_agent", "203.0.113.7").status_code == 429

    # The failures age past LOGIN_THROTTLE_WINDOW (no waiting: the records are moved back).
    aged = timezone.now() - timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW + 1)
    AccessAttempt.objects.update(attempt_time=aged)

    assert attempt(Client(), "pw-alice_agent", "203.0.113.7").status_code == 302


def test_behind_one_trusted_proxy_clients_are_counted_apart(agent, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    fail_five_times(proxy, forwarded="203.0.113.7")

    attacker = attempt(Client(), "pw-alice_agent", proxy, forwarded="203.0.113.7")
    # A forged entry in front of the proxy's does not let the attacker pick another address...
    forged = attempt(Client(), "pw-alice_agent", proxy, forwarded="198.51.100.20, 203.0.113.7")
    # ...and the owner, behind the same proxy, is not affected.
    owner = attempt(Client(), "pw-alice_agent", proxy, forwarded="198.51.100.20")

    assert attacker.status_code == 429
    assert forged.status_code == 429
    assert owner.status_code == 302


def test_a_spoofed_forwarded_for_is_ignored_without_trusted_proxies(agent, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        attempt(Client(), "wrong", "203.0.113.7", forwarded=f"192.0.2.{n}")

    # Every attempt came from 203.0.113.7 whatever the header said.
    assert attempt(Client(), "pw-alice_agent", "203.0.113.7", "192.0.2.99").status_code == 429
    assert attempt(Client(), "pw-alice_agent", "198.51.100.20").status_code == 302


def test_the_admin_sees_lock_outs(agent, admin):
    fail_five_times("203.0.113.7")

    page = logged_in(admin).get(reverse("admin:axes_accessattempt_changelist"))

    assert page.status_code == 200
    assert "alice_agent" in page.content.decode()


def test_admin_group_members_can_use_the_admin_without_the_staff_flag(db):
    user = User.objects.create_user("ines_admin", password="pw-ines_admin")
    user.groups.add(Group.objects.get(name=roles.ADMIN))
    assert not user.is_staff

    client = logged_in(user)

    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:listening_channel_changelist")).status_code == 200


def test_other_roles_still_get_no_admin(supervisor):
    response = logged_in(supervisor).get(reverse("admin:index"), follow=True)

    assert response.status_code == 403


def _session_times(client: Client, seen: float, signed_in: float) -> None:
    session = client.session
    session[SEEN_KEY] = seen
    session[SIGNED_IN_KEY] = signed_in
    session.save()


def test_an_idle_session_is_signed_out(agent, settings):
    client = logged_in(agent)
    now = time.time()
    _session_times(client, seen=now - settings.SESSION_IDLE_TIMEOUT - 5, signed_in=now - 3600)

    response = client.get(reverse("cases:list"))

    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_an_active_session_slides_and_stays(agent, settings):
    client = logged_in(agent)
    now = time.time()
    _session_times(client, seen=now - settings.SESSION_IDLE_TIMEOUT + 120, signed_in=now - 3600)

    assert client.get(reverse("cases:list")).status_code == 200
    assert client.session[SEEN_KEY] >= now  # touched: the idle clock starts again
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_TIMEOUT == 8 * 3600


def test_a_session_past_its_maximum_age_is_signed_out_however_active(agent, settings):
    client = logged_in(agent)
    now = time.time()
    _session_times(client, seen=now - 10, signed_in=now - settings.SESSION_MAX_AGE - 5)

    response = client.get(reverse("cases:list"))

    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_pages_deny_powerful_features_and_keep_the_referrer_on_site(client):
    response = client.get(LOGIN)

    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy
    assert response["Referrer-Policy"] == "same-origin"
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_a_recently_seen_session_is_not_written_again(agent):
    client = logged_in(agent)
    client.get(reverse("cases:list"))
    seen = client.session[SEEN_KEY]

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("cases:list"))

    assert not [q for q in queries if "django_session" in q["sql"] and "UPDATE" in q["sql"]]
    assert client.session[SEEN_KEY] == seen


def test_the_qa_queue_poll_after_the_session_expired_moves_the_tab_to_sign_in(qa, settings):
    """The queue's 60 s htmx poll gets HX-Redirect (htmx would paste a 302's sign-in page into
    the list); a plain GET still gets the 302. Both come back to the queue afterwards."""
    client = logged_in(qa)
    now = time.time()
    _session_times(client, seen=now - settings.SESSION_IDLE_TIMEOUT - 5, signed_in=now - 3600)
    queue = reverse("qa:queue")

    poll = client.get(
        queue, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{queue}"}
    )

    assert poll.status_code == 200 and poll.content == b""
    assert poll["HX-Redirect"] == f"{LOGIN}?next={queue}"
    plain = client.get(queue)
    assert plain.status_code == 302 and plain["Location"] == f"{LOGIN}?next={queue}"


def test_a_form_posted_after_the_session_expired_comes_back_to_its_page(agent, settings):
    client = logged_in(agent)
    now = time.time()
    _session_times(client, seen=now - settings.SESSION_IDLE_TIMEOUT - 5, signed_in=now - 3600)

    response = client.post(
        reverse("cases:bulk"),
        {"action": "assign_me"},
        headers={"Referer": "http://testserver/cases/?status=new"},
    )
    foreign = Client().post(reverse("cases:bulk"), headers={"Referer": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/cases/%3Fstatus%3Dnew"
    assert foreign["Location"] == f"{LOGIN}?next=/"
