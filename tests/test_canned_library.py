"""Canned replies: per-network wording, the search (accents, case, labels), the library page,
the composer's picker and who may read and edit them."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.canned import search_canned
from cases.models import CannedReply
from listening.models import Network
from tests.conftest import logged_in
from tests.factories import HOSTILE, make_canned, make_case

HTMX = {"HX-Request": "true"}


@pytest.fixture
def named_agent(agent: User) -> User:
    agent.first_name = "Alice"
    agent.save(update_fields=["first_name"])
    return agent


def titles(replies) -> list[str]:
    return [reply.title for reply in replies]


def picker(user: User, case, **params) -> str:
    url = reverse("cases:canned_picker", args=[case.pk])
    response = logged_in(user).get(url, {"visibility": "public", **params}, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def inserted_texts(html: str) -> list[str]:
    return re.findall(r'data-canned-text="([^"]*)"', html)


# ---------- the model: which wording, where offered ----------


def test_the_networks_variant_is_used_else_the_default_text(db):
    make_canned("Thanks", "Thank you, {customer_name}!", variants={"x": "{handle} Thanks!"})
    canned = CannedReply.objects.prefetch_related("variants").get()
    assert canned.text_for(Network.X) == "{handle} Thanks!"
    assert canned.text_for(Network.FACEBOOK) == "Thank you, {customer_name}!"


def test_a_reply_without_default_text_is_offered_only_where_it_has_wording(db):
    make_canned("Everywhere", "Hi")
    make_canned("X only", variants={"x": "Hi"})
    make_canned("Both", "Hi", variants={"x": "Hi", "facebook": "Hello"})
    assert titles(CannedReply.objects.for_network("x")) == ["Both", "Everywhere", "X only"]
    assert titles(CannedReply.objects.for_network("facebook")) == ["Both", "Everywhere"]


# ---------- the search ----------


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("weiss", ["Herr Weiß"]),  # ß folds to ss
        ("WEIß", ["Herr Weiß"]),
        ("cafe", ["Café closed"]),  # in the title, accent folded
        ("CAFÉ", ["Café closed"]),
        ("résumé", ["Job question"]),  # in the default text
        ("dm us", ["Apology"]),  # only in the X variant
        ("remboursement", ["Refund"]),  # only in a label's name
        ("  ", ["Apology", "Café closed", "Herr Weiß", "Job question", "Refund"]),
        ("nothing like this", []),
    ],
)
def test_search_folds_accents_and_case_over_title_text_variants_and_labels(db, term, found):
    make_canned("Herr Weiß", "Guten Tag")
    make_canned("Café closed", "Sorry, we're closed today")
    make_canned("Job question", "Please send your resume to our careers page")
    make_canned("Apology", "Sorry!", variants={"x": "{handle} Sorry! DM us."})
    make_canned("Refund", "Your refund is on its way", labels=["Remboursement"])
    make_canned("Job question", "Thanks for your résumé")
    assert sorted(set(titles(search_canned(term)))) == found


def test_search_by_label_filter_and_term_together(db):
    make_canned("Refund started", "Refund on its way", labels=["billing"])
    make_canned("Refund policy", "Refunds take 5 days", labels=["billing", "faq"])
    make_canned("Outage", "We're on it", labels=["outage"])
    assert titles(search_canned(label="billing")) == ["Refund policy", "Refund started"]
    assert titles(search_canned("policy", label="billing")) == ["Refund policy"]
    assert titles(search_canned("outage", label="billing")) == []
    assert titles(search_canned("FAQ")) == ["Refund policy"]  # a label's name is searched


# ---------- the composer's picker ----------


def test_picker_fills_in_the_networks_wording(named_agent, x_channel, facebook_channel):
    make_canned(
        "Thanks",
        "Thank you so much, {customer_name}! {agent_name}",
        variants={"x": "{handle} Thank you! {agent_name}"},
    )
    on_x = make_case(x_channel, name="Priya Sharma", handle="priya")
    on_facebook = make_case(facebook_channel, name="Priya Sharma", handle="")
    assert inserted_texts(picker(named_agent, on_x, q="thank")) == ["@priya Thank you! Alice"]
    assert inserted_texts(picker(named_agent, on_facebook, q="thank")) == [
        "Thank you so much, Priya! Alice"
    ]


def test_picker_searches_and_says_when_nothing_matches(agent, x_channel):
    make_canned("Outage: we're on it", "We're on it", labels=["outage"])
    make_canned("Thanks", "Thank you!")
    case = make_case(x_channel)
    html = picker(agent, case, q="OUTAGE")
    assert "Outage: we&#x27;re on it" in html and "Thanks" not in html
    assert 'aria-selected="true"' in html  # the first match is chosen for Enter
    assert "No canned public reply for X matches “refunds”" in picker(agent, case, q="refunds")


def test_picker_escapes_hostile_text(agent, x_channel):
    make_canned(HOSTILE, "Hi {customer_name}")
    case = make_case(x_channel, name=HOSTILE)
    html = picker(agent, case)
    assert "<script>" not in html and "<img" not in html


def test_picker_answers_in_a_constant_number_of_queries(agent, x_channel):
    case = make_case(x_channel)
    client = logged_in(agent)
    url = reverse("cases:canned_picker", args=[case.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"q": "sorry"}, headers=HTMX)
        assert response.status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for i in range(n):
            make_canned(
                f"Sorry {i}",
                "Sorry {customer_name}",
                variants={"x": "{handle} sorry", "facebook": "Sorry"},
                labels=[f"label {i}", "apology"],
            )

    add(2)
    small = count()
    add(10)
    assert count() == small
    assert inserted_texts(client.get(url, {"q": "sorry"}, headers=HTMX).content.decode())


# ---------- the library page and who may do what ----------


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor", "admin"])
def test_everyone_who_reads_cases_reads_the_library(request, persona):
    user = request.getfixturevalue(persona)
    make_canned("Thanks", "Thank you!", variants={"x": "{handle} Thanks!"}, labels=["thanks"])
    html = logged_in(user).get(reverse("cases:canned_replies")).content.decode()
    assert "Thank you!" in html and "{handle} Thanks!" in html
    edit = reverse("admin:cases_cannedreply_change", args=[CannedReply.objects.get().pk])
    assert (edit in html) == (persona == "admin")
    assert (reverse("admin:cases_cannedreply_add") in html) == (persona == "admin")


def test_the_library_refuses_who_does_not_read_cases_and_every_post(outsider, agent):
    url = reverse("cases:canned_replies")
    assert logged_in(outsider).get(url).status_code == 403
    assert logged_in(agent).post(url).status_code == 405


def test_library_search_answers_the_list_for_htmx(agent):
    make_canned("Refund started", "Your refund is on its way", labels=["billing"])
    make_canned("Outage", "We're on it", labels=["outage"])
    client = logged_in(agent)
    url = reverse("cases:canned_replies")
    html = client.get(url, {"q": "REFUND"}, headers=HTMX).content.decode()
    assert html.lstrip().startswith('<section id="canned-list"')
    assert "Refund started" in html and "Outage" not in html
    html = client.get(url, {"label": "outage"}).content.decode()
    assert "<!DOCTYPE html>" in html or "<html" in html
    assert "We&#x27;re on it" in html and "Your refund" not in html
    assert '<option value="outage" selected>' in html


@pytest.mark.parametrize("persona", ["agent", "supervisor"])
def test_only_admins_edit_canned_replies(request, persona, admin):
    canned = make_canned("Thanks", "Thank you!")
    change = reverse("admin:cases_cannedreply_change", args=[canned.pk])
    user = request.getfixturevalue(persona)
    response = logged_in(user).post(change, {"title": "Changed"})
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/login/" in response["Location"]
    canned.refresh_from_db()
    assert canned.title == "Thanks"


def test_admin_edits_a_reply_with_its_network_variants(admin):
    canned = make_canned("Thanks", "Thank you!", labels=["thanks"])
    client = logged_in(admin)
    change = reverse("admin:cases_cannedreply_change", args=[canned.pk])
    page = client.get(change).content.decode()
    assert "Network variants" in page
    response = client.post(
        change,
        {
            "title": "Thanks",
            "text": "Thank you, {customer_name}!",
            "labels": [canned.labels.get().pk],
            "variants-TOTAL_FORMS": "1",
            "variants-INITIAL_FORMS": "0",
            "variants-0-network": "x",
            "variants-0-text": "{handle} Thanks!",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    canned = CannedReply.objects.prefetch_related("variants").get()
    assert canned.text_for("x") == "{handle} Thanks!"
    assert canned.text_for("facebook") == "Thank you, {customer_name}!"
    listing = client.get(reverse("admin:cases_cannedreply_changelist"), {"q": "thanks"})
    assert "Thanks" in listing.content.decode()


@pytest.mark.django_db(transaction=True)
def test_migration_turns_one_network_replies_into_that_networks_variant():
    executor = MigrationExecutor(connection)
    before = [("cases", "0011_desk_public_reference_words")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("cases", "CannedReply").objects
    old.create(title="Anywhere", text="Hi {customer_name}", network="")
    old.create(title="X only", text="{handle} hi", network="x", is_private=True)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    replies = {reply.title: reply for reply in CannedReply.objects.prefetch_related("variants")}
    assert titles(CannedReply.objects.for_network("facebook")) == ["Anywhere"]
    assert titles(CannedReply.objects.for_network("x")) == ["Anywhere", "X only"]
    assert replies["X only"].text_for("x") == "{handle} hi"
    assert replies["X only"].is_private
    assert replies["Anywhere"].text_for("x") == "Hi {customer_name}"
