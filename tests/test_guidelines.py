"""The engagement guidelines page, its safe rendering, the demo content and the admin."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.canned import search_canned
from cases.models import (
    CannedReply,
    CannedReplyVariant,
    DeskSettings,
    EngagementGuidelines,
    Label,
)
from cases.views.guidelines import render_guidelines
from listening.networks import POLICIES
from tests.conftest import logged_in


@pytest.fixture
def written(admin) -> EngagementGuidelines:
    return EngagementGuidelines.objects.create(
        body="# When to engage\n- Customers: engage.\n- Trolls: ignore.", updated_by=admin
    )


# ---------- rendering ----------


@pytest.mark.parametrize(
    ("body", "html"),
    [
        ("# Tone", "<h2>Tone</h2>"),
        ("## Press", "<h3>Press</h3>"),
        ("- one\n- two", "<ul><li>one</li><li>two</li></ul>"),
        ("* star item", "<ul><li>star item</li></ul>"),
        ("First line\nsame paragraph\n\nSecond", "<p>First line same paragraph</p>\n<p>Second</p>"),
        ("Intro\n- item\nAfter", "<p>Intro</p>\n<ul><li>item</li></ul>\n<p>After</p>"),
        ("- long item\n  continued", "<ul><li>long item continued</li></ul>"),
        ("#no space is text", "<p>#no space is text</p>"),
        ("", ""),
    ],
)
def test_render_guidelines_structure(body, html):
    assert render_guidelines(body) == html


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "# <img src=x onerror=alert(1)>",
        "- <a href='javascript:alert(1)'>x</a>",
        '"quotes" & <b>tags</b>',
    ],
)
def test_render_guidelines_never_passes_html(body):
    html = str(render_guidelines(body))
    assert "<script" not in html and "<img" not in html and "<a " not in html and "<b>" not in html
    assert "&lt;" in html


# ---------- the page, per role ----------


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("cases:guidelines"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_user_without_a_role_gets_403(outsider):
    assert logged_in(outsider).get(reverse("cases:guidelines")).status_code == 403


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor"])
def test_every_role_reads_the_guidelines_without_editing(request, persona, written):
    html = logged_in(request.getfixturevalue(persona)).get(reverse("cases:guidelines"))
    assert html.status_code == 200
    content = html.content.decode()
    assert "<h2>When to engage</h2>" in content
    assert "<li>Trolls: ignore.</li>" in content
    assert "Edit guidelines" not in content
    assert "by Ada" in content or "by ada_admin" in content


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor"])
def test_only_admins_may_save(request, persona, written):
    client = logged_in(request.getfixturevalue(persona))
    response = client.post(reverse("cases:guidelines"), {"body": "# Hijacked"})
    assert response.status_code == 403
    written.refresh_from_db()
    assert "Hijacked" not in written.body


def test_page_shows_each_networks_terms_and_norms(agent, written):
    html = logged_in(agent).get(reverse("cases:guidelines")).content.decode()
    for policy in POLICIES.values():
        assert policy.rate_limits in html
        assert policy.deletion_duty.replace("'", "&#x27;") in html
        assert policy.norms[0] in html
    assert "Messenger: reply within 24 hours" in html


def test_guidelines_body_is_escaped_on_the_page(agent, admin):
    EngagementGuidelines.objects.create(
        body="# Rules\n<script>alert('x')</script>", updated_by=admin
    )
    html = logged_in(agent).get(reverse("cases:guidelines")).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<script>alert" not in html


def test_no_guidelines_yet_shows_an_empty_state(agent, admin):
    assert "No guidelines written yet" in logged_in(agent).get(reverse("cases:guidelines")).text
    admin_html = logged_in(admin).get(reverse("cases:guidelines")).text
    assert "Write the guidelines" in admin_html


def test_admin_edits_the_guidelines(admin, written):
    client = logged_in(admin)
    page = client.get(reverse("cases:guidelines")).content.decode()
    assert "Edit guidelines" in page
    form = client.get(reverse("cases:guidelines"), {"edit": "1"}).content.decode()
    assert '<label for="id_body">Guidelines</label>' in form
    assert "- Trolls: ignore.</textarea>" in form

    response = client.post(reverse("cases:guidelines"), {"body": "# Tone\n- Be kind."})
    assert response.status_code == 302
    written.refresh_from_db()
    assert written.body == "# Tone\n- Be kind."
    assert written.updated_by == admin
    followed = client.get(response["Location"]).content.decode()
    assert "Guidelines saved." in followed and "<li>Be kind.</li>" in followed


def test_empty_guidelines_are_refused_with_a_clear_error(admin, written):
    response = logged_in(admin).post(reverse("cases:guidelines"), {"body": "   \n "})
    assert response.status_code == 200
    assert "The guidelines can&#x27;t be empty" in response.content.decode()
    written.refresh_from_db()
    assert "Trolls" in written.body


def test_first_guidelines_are_created_by_the_form(admin):
    logged_in(admin).post(reverse("cases:guidelines"), {"body": "# Hello"})
    assert EngagementGuidelines.objects.get().body == "# Hello"


# ---------- demo content ----------


@pytest.mark.django_db
def test_load_demo_seeds_guidelines_canned_replies_and_labels(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    body = EngagementGuidelines.objects.get().body
    for topic in ("Trolls", "Press", "Legal threats", "Tone", "Take it offline", "Escalation"):
        assert topic in body
    assert set(Label.objects.values_list("name", flat=True)) >= {
        "billing",
        "outage",
        "delivery",
        "vip",
        "press",
    }
    assert CannedReply.objects.count() >= 12
    for network in ("x", "facebook"):
        assert CannedReply.objects.for_network(network).filter(is_private=False).exists()
        assert CannedReply.objects.for_network(network).filter(is_private=True).exists()
        thanks = search_canned("thank").for_network(network)
        assert thanks.filter(is_private=False).exists() and thanks.filter(is_private=True).exists()
    for topic in ("apology", "billing", "delivery", "outage", "offline", "press", "thanks"):
        assert search_canned(label=topic).exists(), topic
    assert CannedReplyVariant.objects.filter(network="x").count() >= 8  # X's shorter wording
    texts = [
        *CannedReply.objects.values_list("text", flat=True),
        *CannedReplyVariant.objects.values_list("text", flat=True),
    ]
    assert all(
        "{"
        not in text.replace("{customer_name}", "")
        .replace("{handle}", "")
        .replace("{agent_name}", "")
        for text in texts
    )


@pytest.mark.django_db
def test_load_demo_keeps_an_admins_edits(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    EngagementGuidelines.objects.update(body="# Our own")
    count = CannedReply.objects.count()
    call_command("load_demo", stdout=StringIO())
    assert EngagementGuidelines.objects.get().body == "# Our own"
    assert CannedReply.objects.count() == count


def test_load_demo_guidelines_render_as_a_structured_page(settings, agent):
    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    html = logged_in(agent).get(reverse("cases:guidelines")).content.decode()
    assert "<h2>When to engage</h2>" in html
    assert html.count("<li>") >= 10


# ---------- admin ----------


@pytest.mark.parametrize(
    "model", ["label", "note", "caseevent", "savedview", "cannedreply", "engagementguidelines"]
)
def test_admin_lists_the_desk_models(admin, model):
    response = logged_in(admin).get(reverse(f"admin:cases_{model}_changelist"), follow=True)
    assert response.status_code == 200


def test_desk_settings_admin_is_one_editable_row(admin):
    client = logged_in(admin)
    response = client.get(reverse("admin:cases_desksettings_changelist"))
    row = DeskSettings.load()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:cases_desksettings_change", args=[row.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Supervisor approval" in page
    assert 'href="/admin/cases/desksettings/1/delete/"' not in page
    assert client.get(reverse("admin:cases_desksettings_add")).status_code == 403


def test_notes_and_events_are_read_only_in_the_admin(admin):
    client = logged_in(admin)
    assert client.get(reverse("admin:cases_note_add")).status_code == 403
    assert client.get(reverse("admin:cases_caseevent_add")).status_code == 403


def test_guidelines_admin_records_who_edited(admin, written):
    client = logged_in(admin)
    url = reverse("admin:cases_engagementguidelines_change", args=[written.pk])
    response = client.post(url, {"body": "# Edited in the admin"})
    assert response.status_code == 302
    written.refresh_from_db()
    assert (written.body, written.updated_by) == ("# Edited in the admin", admin)
