"""The reply composer, its checks while typing, sending, collisions, retry and approvals."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import presence
from cases.models import (
    Case,
    DeskSettings,
    Note,
    Reply,
)
from listening.models import MentionKind, Network
from tests import factories
from tests.conftest import logged_in, make_channel
from tests.factories import HOSTILE, make_angry_case

# A reply with a phone number (blocking in public), shouting and no apology.
BAD_REPLY = "CALL 0044 20 7946 0958 NOW. WE DO NOT HANDLE THIS HERE."
GOOD_REPLY = (
    "Sorry to hear your order arrived broken, Dana. Please send us a DM with your order "
    "number and we will sort out a replacement today."
)


# Submit tokens and presence live in the cache.
pytestmark = pytest.mark.usefixtures("clean_cache")


def htmx(client: Client, method: str, url: str, data: dict | None = None):
    return getattr(client, method)(url, data or {}, headers={"HX-Request": "true"})


def form_for(client: Client, case: Case) -> dict:
    """The composer's hidden fields as rendered (opened_at, submit token, reply-to)."""
    html = htmx(client, "get", reverse("cases:compose", args=[case.pk])).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    target = re.search(r'<option value="(\d+)" selected>', html)
    fields["in_reply_to"] = target.group(1) if target else ""
    fields["visibility"] = "public"
    return fields


@pytest.fixture
def case(x_channel) -> Case:
    return make_angry_case(x_channel)


# ---------- access per role ----------

CASE_VIEWS = [
    ("get", "cases:compose", {}),
    ("post", "cases:checks", {"text": "Hello"}),
    ("get", "cases:canned_picker", {"q": "sorry"}),
    ("post", "cases:send", {"text": "Hello"}),
]


@pytest.mark.parametrize(("method", "name", "data"), CASE_VIEWS)
def test_anonymous_visitor_is_sent_to_login(client, case, method, name, data):
    response = getattr(client, method)(reverse(name, args=[case.pk]), data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_anonymous_htmx_request_sends_the_whole_tab_to_login(client, case):
    response = htmx(client, "post", reverse("cases:checks", args=[case.pk]), {"text": "Hi"})
    assert response["HX-Redirect"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("method", "name", "data"), CASE_VIEWS)
@pytest.mark.parametrize("persona", ["outsider", "qa"])
def test_roles_that_cannot_reply_get_403(request, case, persona, method, name, data):
    client = logged_in(request.getfixturevalue(persona))
    response = getattr(client, method)(reverse(name, args=[case.pk]), data)
    assert response.status_code == 403
    assert not Reply.objects.exists()


@pytest.mark.parametrize("persona", ["agent", "supervisor", "admin"])
def test_roles_that_reply_get_the_composer(request, case, persona):
    response = logged_in(request.getfixturevalue(persona)).get(
        reverse("cases:compose", args=[case.pk])
    )
    assert response.status_code == 200
    assert b'id="composer-text"' in response.content


def test_unknown_case_is_404(agent):
    assert logged_in(agent).get(reverse("cases:compose", args=[999999])).status_code == 404


def test_composer_is_a_fragment_for_htmx_and_a_page_otherwise(agent, case):
    client = logged_in(agent)
    fragment = htmx(client, "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert fragment.lstrip().startswith('<section id="composer"')
    assert "<html" not in fragment
    page = client.get(reverse("cases:compose", args=[case.pk])).content.decode()
    assert "<html" in page and 'id="composer"' in page
    assert "css/composer.css" in page and "js/composer.js" in page


def test_case_page_include_loads_the_composer_for_agents_only(agent, qa, case):
    agent_page = logged_in(agent).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert f'hx-get="{reverse("cases:compose", args=[case.pk])}"' in agent_page
    qa_page = logged_in(qa).get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert reverse("cases:compose", args=[case.pk]) not in qa_page
    assert "your role can't reply" in qa_page


# ---------- what the composer shows ----------


def test_reply_to_defaults_to_the_latest_customer_post_and_escapes_it(agent, x_channel):
    case = make_angry_case(x_channel, text=HOSTILE, mentions=3)
    latest = case.mentions.order_by("-posted_at").first()
    html = htmx(logged_in(agent), "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert f'<option value="{latest.pk}" selected>' in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.count("<option value=") >= 3


def test_network_terms_and_guidelines_link_are_beside_the_composer(agent, case):
    html = htmx(logged_in(agent), "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert "every URL counts as 23" in html  # X's length rule from listening.networks
    assert "Rate limits" in html and "Deletion duty" in html
    assert f'href="{reverse("cases:guidelines")}"' in html


def test_facebook_comment_older_than_7_days_cannot_be_taken_offline(agent):
    channel = make_channel(Network.FACEBOOK)
    case = make_angry_case(channel, kind=MentionKind.COMMENT, waited=timedelta(days=8))
    html = htmx(logged_in(agent), "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert "Take offline is not available" in html
    assert "within 7 d " in html  # socialdesk.durations
    private_radio = re.search(r'<input type="radio" name="visibility" value="private"[^>]*>', html)
    assert "disabled" in private_radio.group(0)


def test_a_dm_case_can_only_be_answered_privately(agent, x_channel):
    case = make_angry_case(x_channel, kind=MentionKind.DIRECT_MESSAGE, is_private=True)
    html = htmx(logged_in(agent), "get", reverse("cases:compose", args=[case.pk])).content.decode()
    public_radio = re.search(r'<input type="radio" name="visibility" value="public"[^>]*>', html)
    private_radio = re.search(r'<input type="radio" name="visibility" value="private"[^>]*>', html)
    assert "disabled" in public_radio.group(0)
    assert "checked" in private_radio.group(0)
    assert "/ 10,000" in html  # the DM limit, not the public 280


def test_switching_to_private_keeps_the_text_and_filters_canned_replies(agent, case):
    factories.make_canned("Public X answer", variants={"x": "Hi"})
    factories.make_canned("DM opener", variants={"x": "Hi"}, is_private=True)
    factories.make_canned("Facebook only", variants={"facebook": "Hi"})
    client = logged_in(agent)
    fields = form_for(client, case)
    composer = htmx(client, "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert 'hx-vals=\'{"visibility": "public"}\'' in composer  # the picker asks for public
    picker = reverse("cases:canned_picker", args=[case.pk])
    public = htmx(client, "get", picker, {"visibility": "public"}).content.decode()
    assert "Public X answer" in public and "DM opener" not in public
    assert "Facebook only" not in public

    fields.update(visibility="private", text="Half-written reply")
    html = htmx(client, "post", reverse("cases:compose", args=[case.pk]), fields).content.decode()
    assert 'hx-vals=\'{"visibility": "private"}\'' in html
    private = htmx(client, "get", picker, {"visibility": "private"}).content.decode()
    assert "DM opener" in private and "Public X answer" not in private
    assert ">Half-written reply</textarea>" in html
    assert not Reply.objects.exists()


def test_composer_says_when_a_reply_needs_approval(agent, supervisor, x_channel):
    DeskSettings.objects.update_or_create(pk=1, defaults={"approval_for_escalated": True})
    case = make_angry_case(x_channel, triage="escalate")
    url = reverse("cases:compose", args=[case.pk])
    assert b"needs a supervisor's approval" in htmx(logged_in(agent), "get", url).content
    # A supervisor's own reply needs nobody else's approval.
    assert b"needs a supervisor" not in htmx(logged_in(supervisor), "get", url).content


def test_composer_queries_do_not_grow_with_the_conversation(agent, x_channel):
    client = logged_in(agent)
    counts = []
    for mentions in (5, 50):
        case = make_angry_case(x_channel, mentions=mentions)
        url = reverse("cases:compose", args=[case.pk])
        htmx(client, "get", url)  # warm the session and permission caches
        with CaptureQueriesContext(connection) as queries:
            assert htmx(client, "get", url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# ---------- checks while typing ----------


def test_checks_endpoint_returns_the_panel_and_the_counter(agent, case):
    url = reverse("cases:checks", args=[case.pk])
    response = htmx(logged_in(agent), "post", url, {"text": BAD_REPLY, "visibility": "public"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="composer-checks"')
    assert 'data-blocking="1"' in html
    assert "check-item--block" in html and "Personal data" in html
    assert "check-item--warn" in html  # shouting, no apology on an angry case
    assert 'id="composer-count" class="composer__count" hx-swap-oob="true"' in html
    assert f"{len(BAD_REPLY)} / 280" in html
    assert "<html" not in html


def test_checks_count_as_x_counts(agent, case):
    text = "Sorry! See https://example.com/a/very/long/path/that/is/long for details 👍🏽"
    url = reverse("cases:checks", args=[case.pk])
    html = htmx(logged_in(agent), "post", url, {"text": text, "visibility": "public"})
    # "Sorry! See " (11) + 23 for the URL + " for details " (13) + 2 for the toned emoji.
    assert "49 / 280" in html.content.decode()


def test_private_reply_is_not_blocked_for_personal_data(agent, case):
    url = reverse("cases:checks", args=[case.pk])
    html = htmx(logged_in(agent), "post", url, {"text": BAD_REPLY, "visibility": "private"})
    assert 'data-blocking="0"' in html.content.decode()


def test_empty_box_shows_no_checks(agent, case):
    html = htmx(logged_in(agent), "post", reverse("cases:checks", args=[case.pk]), {"text": " "})
    assert "Run as you type." in html.content.decode()
    assert "check-item" not in html.content.decode()


# ---------- sending ----------


def test_blocking_check_without_override_is_refused_and_the_text_stays(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": BAD_REPLY}
    response = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not sent. Blocking checks:" in html
    assert "tick “Override” and write why" in html
    assert f">{BAD_REPLY}</textarea>" in html
    assert re.search(r"<button[^>]*data-composer-send[^>]*disabled", html)
    assert not Reply.objects.exists()


def test_override_without_a_reason_is_refused(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": BAD_REPLY, "override": "on"}
    html = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields).content.decode()
    assert "write why you override them" in html
    assert not Reply.objects.exists()


def test_override_with_a_reason_queues_the_reply_with_its_checks(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {
        "text": BAD_REPLY,
        "override": "on",
        "override_reason": "The customer asked for the hotline number",
    }
    response = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert response.status_code == 200
    reply = Reply.objects.get()
    assert reply.state == Reply.State.QUEUED
    assert reply.author == agent and reply.text == BAD_REPLY and not reply.is_private
    assert reply.override_reason == "The customer asked for the hotline number"
    assert {"code": "personal_data", "severity": "block"}.items() <= next(
        row for row in reply.checks if row["code"] == "personal_data"
    ).items()
    assert reply.in_reply_to == case.mentions.get()
    assert case.events.filter(kind="check_overridden").exists()


def test_clean_reply_is_queued_and_the_case_page_is_told(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    response = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    html = response.content.decode()
    reply = Reply.objects.get()
    assert (reply.state, reply.override_reason) == (Reply.State.QUEUED, "")
    assert all(row["severity"] != "block" for row in reply.checks)
    assert json.loads(response["HX-Trigger"]) == {"sd:replies-changed": {"case": case.pk}}
    assert "Reply queued" in html
    assert "data-composer-text\n" in html or "></textarea>" in html  # a fresh, empty box


def test_sending_without_htmx_redirects_to_the_case(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    response = client.post(reverse("cases:send", args=[case.pk]), fields)
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    assert Reply.objects.count() == 1


def test_a_double_submit_sends_once(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    again = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert "This reply was already sent." in again.content.decode()
    assert Reply.objects.count() == 1


def test_empty_reply_says_so(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": "   "}
    html = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields).content.decode()
    assert "Write a reply first" in html
    assert not Reply.objects.exists()


def test_private_reply_the_network_refuses_shows_why_and_keeps_the_text(agent):
    channel = make_channel(Network.FACEBOOK)
    case = make_angry_case(channel, kind=MentionKind.COMMENT, waited=timedelta(days=9))
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY, "visibility": "private"}
    # The page offered no private option; a forged form still meets the sender's rule.
    html = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields).content.decode()
    assert "Not sent:" in html and "within 7 d " in html
    assert f">{GOOD_REPLY}</textarea>" in html
    assert not Reply.objects.exists()


def test_qa_cannot_send(qa, case):
    response = logged_in(qa).post(reverse("cases:send", args=[case.pk]), {"text": GOOD_REPLY})
    assert response.status_code == 403
    assert not Reply.objects.exists()


# ---------- collisions ----------


def test_a_colleague_replying_since_opening_asks_to_confirm(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    blair = User.objects.create_user("blair", first_name="Blair", last_name="Agent")
    Reply.objects.create(
        case=case, author=blair, text="Hi Dana, <b>we</b> are on it", state=Reply.State.SENT
    )

    response = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    html = response.content.decode()
    assert "Someone else replied since you opened this case." in html
    assert re.search(r"Blair Agent</strong> replied \d+ s ago", html)
    assert "&lt;b&gt;we&lt;/b&gt; are on it" in html
    assert 'name="confirm_collision" value="1"' in html
    assert html.count("data-composer-send") == 1  # only "Send anyway" sends now
    assert f">{GOOD_REPLY}</textarea>" in html
    assert Reply.objects.filter(author=agent).count() == 0

    fields["confirm_collision"] = "1"
    htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert Reply.objects.filter(author=agent).count() == 1


def test_after_a_collision_edit_keeps_the_text_and_discard_empties_the_box(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    blair = User.objects.create_user("blair", first_name="Blair", last_name="Agent")
    Reply.objects.create(case=case, author=blair, text="On it", state=Reply.State.SENT)
    html = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields).content.decode()
    assert "Edit my reply" in html and "Discard my draft" in html

    edit = htmx(
        client, "post", reverse("cases:compose", args=[case.pk]), fields | {"collisions_seen": "1"}
    ).content.decode()
    assert f">{GOOD_REPLY}</textarea>" in edit and "Someone else replied" not in edit
    # Edited and sent: the colleague's reply was seen, so it is not asked again.
    fields = fields | dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', edit))
    htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert Reply.objects.filter(author=agent, text=GOOD_REPLY).exists()

    discard = htmx(client, "get", reverse("cases:compose", args=[case.pk])).content.decode()
    assert re.search(r"data-composer-text[^>]*></textarea>", discard)


def test_sending_ends_the_authors_typing_for_colleagues(agent, supervisor, case):
    presence.touch(case.pk, agent, "typing")
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert [p["state"] for p in presence.others(case.pk, supervisor)] == ["viewing"]


def test_own_earlier_reply_is_not_a_collision(agent, case):
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    Reply.objects.create(case=case, author=agent, text="Earlier", state=Reply.State.SENT)
    htmx(client, "post", reverse("cases:send", args=[case.pk]), fields)
    assert Reply.objects.filter(author=agent, text=GOOD_REPLY).exists()


# ---------- canned replies ----------


def test_canned_picker_fills_the_placeholders_and_escapes_them(agent, x_channel):
    case = make_angry_case(x_channel, name="Dana <b>Bold</b> {agent_name}", handle="dana")
    factories.make_canned(
        "Sorry", variants={"x": "{handle} Sorry {customer_name}! {agent_name} {unknown}"}
    )
    agent.first_name = "Alice"
    agent.save()
    url = reverse("cases:canned_picker", args=[case.pk])
    response = htmx(logged_in(agent), "get", url, {"q": "sorry"})
    assert response.status_code == 200
    text = re.search(r'data-canned-text="([^"]*)"', response.content.decode()).group(1)
    assert text.startswith("@dana Sorry Dana &lt;b&gt;Bold&lt;/b&gt; ")
    assert "{agent_name}" in text  # from the customer's name: never expanded
    assert text.endswith("Alice {unknown}")


def test_canned_picker_of_an_unknown_case_is_404(agent):
    url = reverse("cases:canned_picker", args=[424242])
    assert htmx(logged_in(agent), "get", url, {"q": ""}).status_code == 404


def test_canned_without_javascript_starts_the_composer_with_its_text(agent, case):
    canned = factories.make_canned("Thanks", "Thank you!", variants={"x": "Thanks {handle}!"})
    response = logged_in(agent).get(reverse("cases:compose", args=[case.pk]), {"canned": canned.pk})
    assert ">Thanks @dana!</textarea>" in response.content.decode()


# ---------- retry ----------


def test_retry_requeues_a_failed_reply(agent, case):
    reply = Reply.objects.create(
        case=case, author=agent, text=GOOD_REPLY, state=Reply.State.FAILED, error="HTTP 500"
    )
    response = logged_in(agent).post(reverse("cases:retry", args=[reply.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.pk])
    reply.refresh_from_db()
    assert (reply.state, reply.error) == (Reply.State.QUEUED, "")


def test_retry_by_htmx_answers_204_and_refreshes_the_timeline(agent, case):
    reply = Reply.objects.create(
        case=case, author=agent, text=GOOD_REPLY, state=Reply.State.FAILED, error="timeout"
    )
    response = htmx(logged_in(agent), "post", reverse("cases:retry", args=[reply.pk]))
    assert response.status_code == 204
    assert "sd:replies-changed" in response["HX-Trigger"]


def test_retry_of_a_sent_reply_changes_nothing(agent, case):
    reply = Reply.objects.create(case=case, author=agent, text="x", state=Reply.State.SENT)
    client = logged_in(agent)
    response = client.post(reverse("cases:retry", args=[reply.pk]), follow=True)
    assert b"Only a failed reply can be retried." in response.content
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT


@pytest.mark.parametrize(("persona", "status"), [("outsider", 403), ("qa", 403)])
def test_retry_is_refused_to_roles_that_cannot_reply(request, agent, case, persona, status):
    reply = Reply.objects.create(case=case, author=agent, text="x", state=Reply.State.FAILED)
    client = logged_in(request.getfixturevalue(persona))
    assert client.post(reverse("cases:retry", args=[reply.pk])).status_code == status
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED


def test_retry_is_post_only(agent, case):
    reply = Reply.objects.create(case=case, author=agent, text="x", state=Reply.State.FAILED)
    assert logged_in(agent).get(reverse("cases:retry", args=[reply.pk])).status_code == 405


# ---------- approvals ----------


def awaiting(case: Case, author: User, text: str = BAD_REPLY) -> Reply:
    return Reply.objects.create(
        case=case,
        author=author,
        text=text,
        state=Reply.State.AWAITING_APPROVAL,
        needs_approval=True,
        in_reply_to=case.mentions.first(),
        checks=[
            {"code": "personal_data", "severity": "block", "message": "A phone number."},
            {"code": "tone", "severity": "warn", "message": "No apology."},
            {"code": "length", "severity": "ok", "message": "Fine."},
        ],
        override_reason="Customer asked",
    )


@pytest.mark.parametrize(
    ("persona", "status"),
    [("outsider", 403), ("agent", 403), ("qa", 403), ("supervisor", 200), ("admin", 200)],
)
def test_approvals_page_is_for_supervisors_and_admins(request, persona, status):
    response = logged_in(request.getfixturevalue(persona)).get(reverse("cases:approvals"))
    assert response.status_code == status


def test_approvals_page_anonymous_goes_to_login(client, db):
    response = client.get(reverse("cases:approvals"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_approvals_page_shows_the_reply_in_its_case_context(supervisor, agent, x_channel):
    case = make_angry_case(x_channel, text=HOSTILE)
    reply = awaiting(case, agent)
    html = logged_in(supervisor).get(reverse("cases:approvals")).content.decode()
    assert f'href="{reverse("cases:detail", args=[case.pk])}"' in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert "CALL 0044 20 7946 0958 NOW." in html
    assert "Personal data" in html and "A phone number." in html and "No apology." in html
    assert "Fine." not in html  # passed checks are not repeated
    assert "Override reason:" in html and "Customer asked" in html
    assert reverse("cases:approve", args=[reply.pk]) in html


def test_empty_approvals_queue_says_so(supervisor):
    html = logged_in(supervisor).get(reverse("cases:approvals")).content.decode()
    assert "Nothing waits for approval" in html


def test_supervisor_approves_a_reply(supervisor, agent, case):
    reply = awaiting(case, agent)
    url = reverse("cases:approve", args=[reply.pk])
    response = htmx(logged_in(supervisor), "post", url, {"action": "approve"})
    assert "Approved: the reply is queued." in response.content.decode()
    reply.refresh_from_db()
    assert (reply.state, reply.approved_by) == (Reply.State.QUEUED, supervisor)


def test_approving_twice_says_it_was_handled(supervisor, agent, case):
    reply = awaiting(case, agent)
    client = logged_in(supervisor)
    url = reverse("cases:approve", args=[reply.pk])
    client.post(url, {"action": "approve"})
    response = client.post(url, {"action": "approve"}, follow=True)
    assert b"no longer waiting for approval" in response.content


def test_send_back_needs_a_note(supervisor, agent, case):
    reply = awaiting(case, agent)
    url = reverse("cases:approve", args=[reply.pk])
    html = htmx(logged_in(supervisor), "post", url, {"action": "send_back", "note": " "})
    assert "Say what to change" in html.content.decode()
    reply.refresh_from_db()
    assert reply.state == Reply.State.AWAITING_APPROVAL


def test_send_back_returns_the_draft_to_its_author(supervisor, agent, case):
    reply = awaiting(case, agent)
    url = reverse("cases:approve", args=[reply.pk])
    note = "Take the phone number out and apologise first."
    htmx(logged_in(supervisor), "post", url, {"action": "send_back", "note": note})
    reply.refresh_from_db()
    assert reply.state == Reply.State.DRAFT
    assert note in Note.objects.get(case=case, author=supervisor).text

    html = htmx(logged_in(agent), "get", reverse("cases:compose", args=[case.pk])).content
    assert b"sent your reply back for changes" in html
    assert f">{BAD_REPLY}</textarea>".encode() in html
    # The supervisor's note is on the composer, where the author works, not only in the timeline.
    assert b"composer__sent-back-note" in html and note.encode() in html
    # ... and the inbox says so too, with a link to the case.
    inbox = logged_in(agent).get(reverse("cases:list")).content.decode()
    assert "Sent back to you (1)" in inbox
    assert f'href="{reverse("cases:detail", args=[case.pk])}"' in inbox


@pytest.mark.parametrize("persona", ["agent", "qa", "outsider"])
def test_only_approvers_may_approve(request, agent, case, persona):
    reply = awaiting(case, agent)
    client = logged_in(request.getfixturevalue(persona))
    response = client.post(reverse("cases:approve", args=[reply.pk]), {"action": "approve"})
    assert response.status_code == 403
    reply.refresh_from_db()
    assert reply.state == Reply.State.AWAITING_APPROVAL


def test_reply_on_an_approval_case_waits_then_is_approved(agent, supervisor, x_channel):
    DeskSettings.objects.update_or_create(pk=1, defaults={"approval_for_escalated": True})
    case = make_angry_case(x_channel, triage="escalate")
    client = logged_in(agent)
    fields = form_for(client, case) | {"text": GOOD_REPLY}
    html = htmx(client, "post", reverse("cases:send", args=[case.pk]), fields).content.decode()
    assert "Sent to a supervisor for approval" in html
    reply = Reply.objects.get()
    assert reply.state == Reply.State.AWAITING_APPROVAL

    approvals = logged_in(supervisor).get(reverse("cases:approvals")).content.decode()
    assert GOOD_REPLY in approvals
    logged_in(supervisor).post(reverse("cases:approve", args=[reply.pk]), {"action": "approve"})
    reply.refresh_from_db()
    assert reply.state == Reply.State.QUEUED


def test_approvals_page_queries_do_not_grow_with_the_queue(supervisor, agent, x_channel):
    client = logged_in(supervisor)
    counts = []
    for size in (5, 50):
        Reply.objects.all().delete()
        for _ in range(size):
            awaiting(make_angry_case(x_channel), agent)
        client.get(reverse("cases:approvals"))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("cases:approvals"))
        assert response.content.decode().count('class="approval card"') == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
