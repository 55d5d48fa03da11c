"""The web pages: sign-in and throttling, the incoming-cases list, and the admin."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Reply
from listening.models import Channel, QuarantinedPost
from socialdesk.crypto import decrypt_json
from tests.conftest import logged_in
from tests.factories import HOSTILE, make_case

# Throttle counters live in the cache.
pytestmark = pytest.mark.usefixtures("clean_cache")


def row_ids(html: str) -> list[str]:
    """The customer handles of the table's rows, in order."""
    return re.findall(r'<span class="handle">@([^<]+)</span>', html)


# ---------- access per role ----------


@pytest.mark.parametrize("url_name", ["cases:list", "listening:health", "home"])
def test_anonymous_visitor_is_sent_to_login(client, db, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("agent", "cases:list"),
        ("qa", "qa:queue"),
        ("supervisor", "cases:list"),
        ("admin", "cases:list"),
    ],
)
def test_each_role_lands_where_its_work_is(request, persona, landing):
    response = logged_in(request.getfixturevalue(persona)).get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse(landing)


def test_poll_after_the_session_expired_sends_the_tab_to_login(client, db):
    response = client.get(reverse("cases:list"), {"since": "1-2"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/cases/"
    assert response.content == b""


@pytest.mark.parametrize("url_name", ["cases:list", "listening:health"])
def test_user_without_a_role_gets_403(outsider, url_name):
    response = logged_in(outsider).get(reverse(url_name))
    assert response.status_code == 403
    assert b"You don't have access to this page" in response.content


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor", "admin"])
def test_every_role_sees_the_case_list(request, persona, x_channel):
    make_case(x_channel, handle="visible_customer")
    response = logged_in(request.getfixturevalue(persona)).get(reverse("cases:list"))
    assert response.status_code == 200
    assert row_ids(response.content.decode()) == ["visible_customer"]


@pytest.mark.parametrize(
    ("persona", "status"), [("agent", 403), ("qa", 403), ("supervisor", 200), ("admin", 200)]
)
def test_health_page_is_for_supervisors_and_admins(request, persona, status):
    response = logged_in(request.getfixturevalue(persona)).get(reverse("listening:health"))
    assert response.status_code == status


@pytest.mark.parametrize(
    ("persona", "sees_health", "sees_admin"),
    [
        ("agent", False, False),
        ("qa", False, False),
        ("supervisor", True, False),
        ("admin", True, True),
    ],
)
def test_top_bar_shows_the_links_the_role_may_use(request, persona, sees_health, sees_admin):
    user = request.getfixturevalue(persona)
    html = logged_in(user).get(reverse("cases:list")).content.decode()
    assert ('href="/health/"' in html) is sees_health
    assert ('href="/admin/"' in html) is sees_admin
    assert user.username in html
    assert 'action="/accounts/logout/"' in html


# ---------- sign-in, sign-out, throttling ----------


def test_login_page_renders_a_labelled_form(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert "SocialDesk" in html


def test_sign_in_then_sign_out_by_post(client, agent):
    response = client.post(
        reverse("login"), {"username": agent.username, "password": "pw-alice_agent"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:list")
    assert client.get(reverse("cases:list")).status_code == 200

    assert client.get(reverse("logout")).status_code == 405  # a link cannot sign anyone out
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("cases:list")).status_code == 302


def test_wrong_password_says_so(client, agent):
    response = client.post(reverse("login"), {"username": agent.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


# Sign-in throttling and lock-outs: tests/test_signin_and_sessions.py.


def test_admin_sign_in_goes_through_the_throttled_form(client, db, outsider):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    assert logged_in(outsider).get("/admin/login/?next=/admin/").status_code == 403


# The inbox's list, filters, live updates and query counts: tests/test_inbox.py.


# ---------- admin ----------


def test_admin_channel_form_encrypts_credentials_and_never_shows_them(admin, x_channel):
    client = logged_in(admin)
    url = reverse("admin:listening_channel_change", args=[x_channel.pk])
    page = client.get(url).content.decode()
    assert "test-bearer" not in page
    assert "bearer_token, user_id (values hidden)" in page

    form = {
        "name": x_channel.name,
        "network": "x",
        "handle": x_channel.handle,
        "external_account_id": x_channel.external_account_id,
        "enabled": "on",
        "poll_interval": "30",
        "credentials_json": '{"bearer_token": "n3w-s3cret"}',
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    Channel.objects.filter(pk=x_channel.pk).update(needs_reauth=True, cursor={"mentions": "77"})
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    x_channel.refresh_from_db()
    assert x_channel.credentials == {"bearer_token": "n3w-s3cret"}
    assert "n3w-s3cret" not in x_channel.credentials_encrypted
    assert not x_channel.needs_reauth
    assert x_channel.cursor == {"mentions": "77"}  # the form never touches the cursor
    assert "n3w-s3cret" not in client.get(url).content.decode()

    # Blank keeps what is stored.
    form["credentials_json"] = ""
    assert client.post(url, form).status_code == 302
    x_channel.refresh_from_db()
    assert x_channel.credentials == {"bearer_token": "n3w-s3cret"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"bearer_token": "s3cr3t-marker', "This is not valid JSON"),
        ('["s3cr3t-marker"]', "Credentials must be a non-empty JSON object"),
        ("", "Enter the channel&#x27;s credentials as a JSON object."),
    ],
)
def test_admin_channel_form_rejects_bad_credentials_clearly(admin, raw, message):
    response = logged_in(admin).post(
        reverse("admin:listening_channel_add"),
        {
            "name": "New",
            "network": "x",
            "handle": "@new",
            "external_account_id": "424242",
            "enabled": "on",
            "poll_interval": "60",
            "credentials_json": raw,
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "s3cr3t-marker" not in response.content.decode()  # a secret is never echoed back
    assert not Channel.objects.filter(external_account_id="424242").exists()


def test_admin_creates_a_channel_with_encrypted_credentials(admin):
    response = logged_in(admin).post(
        reverse("admin:listening_channel_add"),
        {
            "name": "New",
            "network": "facebook",
            "handle": "New Page",
            "external_account_id": "515151",
            "enabled": "on",
            "poll_interval": "60",
            "credentials_json": '{"page_access_token": "pg-s3cret"}',
            "rules-TOTAL_FORMS": "1",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
            "rules-0-name": "Tags",
            "rules-0-query": "acme",
            "rules-0-enabled": "on",
        },
    )
    assert response.status_code == 302
    channel = Channel.objects.get(external_account_id="515151")
    assert decrypt_json(channel.credentials_encrypted) == {"page_access_token": "pg-s3cret"}
    assert channel.rules.get().query == "acme"


def test_admin_marks_quarantined_posts_resolved(admin, x_channel):
    bad = QuarantinedPost.objects.create(channel=x_channel, reason="no author", payload="{}")
    response = logged_in(admin).post(
        reverse("admin:listening_quarantinedpost_changelist"),
        {"action": "mark_resolved", "_selected_action": [bad.pk]},
    )
    assert response.status_code == 302
    bad.refresh_from_db()
    assert bad.resolved_at is not None


@pytest.mark.parametrize(
    "model",
    [
        "listening_channel",
        "listening_listeningrule",
        "listening_mention",
        "listening_quarantinedpost",
        "cases_customer",
        "cases_identity",
        "cases_case",
        "cases_reply",
    ],
)
def test_admin_lists_render_and_escape_hostile_text(admin, x_channel, model):
    case = make_case(x_channel, text=HOSTILE, name=HOSTILE, handle="hostile")
    QuarantinedPost.objects.create(channel=x_channel, reason=HOSTILE, payload=HOSTILE)
    Reply.objects.create(case=case, author=admin, text=HOSTILE)
    response = logged_in(admin).get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()


def test_sent_replies_and_cases_are_records_in_the_admin(admin, supervisor, x_channel):
    case = make_case(x_channel)
    reply = Reply.objects.create(
        case=case,
        author=admin,
        text="Sorry to hear that!",
        state=Reply.State.SENT,
        approved_by=supervisor,
        approved_at=timezone.now(),
        sent_at=timezone.now(),
    )
    client = logged_in(admin)
    page = client.get(reverse("admin:cases_reply_change", args=[reply.pk])).content.decode()
    for field in ("approved_by", "approved_at", "text", "state", "author", "sent_at"):
        assert f'name="{field}"' not in page
    assert supervisor.username in page
    tampered = client.post(
        reverse("admin:cases_reply_change", args=[reply.pk]), {"approved_by": admin.pk}
    )
    assert tampered.status_code == 403
    reply.refresh_from_db()
    assert reply.approved_by == supervisor

    page = client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()
    assert 'name="status"' not in page and 'name="assignee"' not in page
    assert f'href="{reverse("cases:detail", args=[case.pk])}"' in page


def test_the_admin_wears_the_desk_look(admin):
    page = logged_in(admin).get(reverse("admin:index")).content.decode()
    assert "css/admin.css" in page
    assert 'class="brand__mark"' in page
    assert "SocialDesk administration" in page
    assert f'href="{reverse("home")}">Back to the desk</a>' in page


def test_mentions_are_read_only_in_the_admin(admin, x_channel):
    case = make_case(x_channel)
    mention = case.mentions.get()
    client = logged_in(admin)
    assert client.get(reverse("admin:listening_mention_add")).status_code == 403
    page = client.get(reverse("admin:listening_mention_change", args=[mention.pk]))
    assert page.status_code == 200
    assert b'name="text"' not in page.content
