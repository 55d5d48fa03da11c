"""The authorization matrix: every URL pattern × every persona × GET and POST, against the one
policy table (socialdesk/policy.py), plus the object-level checks a role cannot express.

The routes come from the resolver (the admin's and every included app's), so a route added
without a rule fails `test_every_route_has_a_declared_rule`. URL arguments are real objects
from one small desk built per test; the POST body is empty (the matrix asks who gets in, the
modules of each feature test what a valid form does).
"""

from dataclasses import dataclass
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cases.models import MentionMedia, Reply, SavedView
from notifications.actions import do_notify
from notifications.models import Kind, Notification
from qa import calibration as cal
from qa.models import CoachingSession, Review, SamplingPolicy
from qa.rubrics import default_rubric
from socialdesk import policy, roles
from tests.conftest import logged_in, make_channel, make_user
from tests.factories import make_case, make_review, make_sent_reply, make_team


@dataclass(frozen=True)
class Route:
    name: str  # namespaced; "" for the admin's few unnamed patterns
    pattern: str  # the full URL pattern, for the report and the unnamed ones
    url_pattern: URLPattern

    @property
    def key(self) -> str:
        return self.name or self.pattern


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(name, prefix + str(entry.pattern), entry)


ROUTES = list(_walk(get_resolver().url_patterns))
METHODS = ("GET", "POST")


def test_every_route_has_a_declared_rule():
    missing = [r.key for r in ROUTES if policy.rule_for(r.name, r.pattern) is None]
    assert missing == [], f"routes without an access rule in socialdesk/policy.py: {missing}"
    names = {r.name for r in ROUTES}
    stale = sorted(set(policy.POLICY) - names)
    assert stale == [], f"rules for routes that no longer exist: {stale}"
    assert len(ROUTES) > 100  # the admin's routes are walked too


# ---------- the desk the matrix runs against ----------


@dataclass
class Desk:
    users: dict[str, User]
    case: Any
    reply: Reply
    view: SavedView
    pending_review: Review
    disputed_review: Review
    session: Any
    gold: Any
    coaching: CoachingSession
    media: MentionMedia
    notification: Notification


@pytest.fixture
def desk(db, agent, qa, supervisor, admin, outsider, settings, tmp_path) -> Desk:
    settings.MEDIA_ROOT = tmp_path  # the post image the media routes serve
    return build_desk(agent, qa, supervisor, admin, outsider)


def build_desk(agent, qa, supervisor, admin, outsider) -> Desk:
    """The personas; the supervisor leads the agent's team. Every object the URLs take is the
    persona's own where ownership matters: the review assigned to `qa`, the agent's disputed
    review and coaching session, a calibration session `qa` sits, a shared saved view."""
    make_team("Team A", [supervisor], [agent])
    qa2 = make_user("rory_qa", roles.QA)
    channel = make_channel()
    case = make_case(channel, assignee=agent)
    reply = Reply.objects.create(
        case=case, author=agent, text="We are on it.", state=Reply.State.AWAITING_APPROVAL
    )
    view = SavedView.objects.create(owner=None, name="Shared", query="status=inbox")
    pending = make_review(agent, qa, status=Review.Status.PENDING, score=None, values={})
    disputed = make_review(agent, qa)
    Review.objects.filter(pk=disputed.pk).update(
        agent_response=Review.AgentResponse.DISPUTED, agent_comment="I disagree."
    )
    session = cal.do_create_session(
        "Week 1", default_rubric(), [make_sent_reply(agent, channel)], [qa, qa2], qa
    )
    gold = cal.do_add_gold(
        make_sent_reply(agent, channel),
        {c.code: c.max_value for c in default_rubric().criteria.all()},
        supervisor,
    )
    coaching = CoachingSession.objects.create(agent=agent, coach=supervisor, notes="Tone.")
    SamplingPolicy.objects.create(name="Weekly")
    media = MentionMedia.objects.create(
        mention=case.mentions.get(),
        position=0,
        kind=MentionMedia.Kind.PHOTO,
        source_url="https://pbs.twimg.com/media/a.png",
        state=MentionMedia.State.FETCHED,
        file=default_storage.save("post-images/a.png", ContentFile(b"\x89PNG\r\n\x1a\n")),
        content_type="image/png",
    )
    (notification_id,) = do_notify([agent], Kind.ASSIGNED, case=case, dedupe_key="matrix")
    users = {
        policy.NO_ROLE: outsider,
        roles.AGENT: agent,
        roles.QA: qa,
        roles.SUPERVISOR: supervisor,
        roles.ADMIN: admin,
    }
    notification = Notification.objects.get(pk=notification_id)
    return Desk(
        users, case, reply, view, pending, disputed, session, gold, coaching, media, notification
    )


def _admin_object_id(pattern: str) -> str:
    """The pk of an existing row of the model an admin pattern is about (or "1")."""
    parts = pattern.split("/")
    try:
        model = apps.get_model(parts[1], parts[2])
    except (IndexError, LookupError, ValueError):
        return "1"
    row = model._default_manager.order_by("pk").first()
    return str(row.pk) if row is not None else "1"


def url_for(route: Route, desk: Desk) -> str:
    """The route's URL with real objects for its arguments, and the query it needs."""
    by_route = {
        "qa:review": {"review_id": desk.pending_review.pk},
        "qa:respond": {"review_id": desk.disputed_review.pk},
        "qa:resolve_dispute": {"review_id": desk.disputed_review.pk},
        "qa:calibration": {"session_id": desk.session.pk},
        "qa:calibration_gold": {"session_id": desk.session.pk},
        "qa:coaching": {"session_id": desk.coaching.pk},
    }
    by_name = {
        "case_id": desk.case.pk,
        "reply_id": desk.reply.pk,
        "view_id": desk.view.pk,
        "gold_id": desk.gold.pk,
        "media_id": desk.media.pk,
        "notification_id": desk.notification.pk,  # the agent's: a 404 for everyone else
        "app_label": "cases",
        "url": "no-such-page/",
        "id": desk.users[roles.AGENT].pk,
        "content_type_id": ContentType.objects.get_for_model(Group).pk,
    }
    names = list(route.url_pattern.pattern.regex.groupindex)
    kwargs = {**{n: by_name.get(n) for n in names}, **by_route.get(route.name, {})}
    if "object_id" in kwargs:
        kwargs["object_id"] = _admin_object_id(route.pattern)
        if "content_type_id" in kwargs:
            kwargs["object_id"] = str(Group.objects.get_or_create(name=roles.AGENT)[0].pk)
    if route.name:
        url = reverse(route.name, kwargs=kwargs or None)
    else:  # an unnamed admin pattern: fill its arguments in by hand
        url = "/" + route.pattern.replace("<path:object_id>", kwargs.get("object_id", ""))
        url = url.replace("(?P<url>.*)$", "no-such-page/")
    if route.name == "qa:dashboard_csv":
        url += "?table=agents"
    return url


def post_data(route: Route, desk: Desk) -> dict[str, Any]:
    """The least a POST needs to reach the access check of its object, else nothing."""
    return {
        "qa:calibration_gold": {"reply": desk.session.replies.get().pk},
        "qa:coaching": {"action": "status", "status": ""},
    }.get(route.name, {})


LOGIN_URLS = ("/accounts/login/", "/admin/login/")


def _to_login(response) -> bool:
    return response.status_code in (301, 302, 303) and response["Location"].startswith(LOGIN_URLS)


def verdict(route: Route, persona: str, method: str, response) -> str | None:
    """What is wrong with `response`, or None when it matches the rule."""
    status = response.status_code
    if status >= 500 and not (status == 503 and route.key in policy.STATUS_ROUTES):
        return f"{status} (server error)"
    rule = policy.rule_for(route.name, route.pattern)
    if rule.allows(persona, method):
        refused = (_to_login(response) and route.key not in policy.SIGN_IN_ROUTES) or (
            status in (403, 404, 405) and not rule.inner
        )
        return f"{status}: refused, but the policy allows it" if refused else None
    if status == 405 and not any(rule.allows(p, method) for p in policy.PERSONAS):
        return None
    # The admin site sends anyone without staff status to its index, which sends them to sign in.
    to_admin_index = (
        route.pattern.startswith("admin/")
        and status == 302
        and response["Location"] == reverse("admin:index")
    )
    if persona == policy.ANONYMOUS and route.key not in policy.SIGNED_ROUTES:
        if _to_login(response) or to_admin_index:
            return None
        return f"{status}: expected a redirect to sign in"
    if status in (403, 404) or (route.pattern.startswith("admin/") and _to_login(response)):
        return None
    if to_admin_index:
        return None
    return f"{status}: answered, but the policy refuses it"


def signed_in_session(desk: Desk, persona: str) -> dict[str, Any] | None:
    """What `persona`'s session holds once signed in (None for the anonymous visitor)."""
    if persona == policy.ANONYMOUS:
        return None
    return dict(logged_in(desk.users[persona]).session.items())


def client_with(session: dict[str, Any] | None) -> Client:
    """A client on a fresh session holding `session`: one sign-in's data copied under a new
    key (one INSERT, where signing in again costs several writes)."""
    client = Client()
    if session is not None:
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store.update(session)
        store.create()
        client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return client


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("persona", policy.PERSONAS)
def test_every_route_answers_each_persona_as_the_policy_says(desk, persona, method, settings):
    settings.AXES_ENABLED = False  # sign-in throttling is not what this asks
    session = signed_in_session(desk, persona)
    problems = []
    for route in ROUTES:
        url = url_for(route, desk)
        client = client_with(session)  # a fresh session: a sign-out must not leak on
        data = post_data(route, desk)
        response = client.get(url) if method == "GET" else client.post(url, data)
        problem = verdict(route, persona, method, response)
        if problem:
            problems.append(f"{method} {url} ({route.key}) as {persona}: {problem}")
    assert problems == [], "\n".join(problems)


# ---------- object level: the role is right, the object is not theirs ----------


def test_an_agent_cannot_see_or_answer_another_agents_review(desk):
    bob = make_user("bob_agent", roles.AGENT)
    client = logged_in(bob)
    url = reverse("qa:respond", args=[desk.disputed_review.pk])
    assert client.post(url, {"action": "acknowledge"}).status_code == 404
    assert desk.disputed_review.pk not in [
        r.pk for r in client.get(reverse("qa:my_reviews")).context["reviews"]
    ]
    desk.disputed_review.refresh_from_db()
    assert desk.disputed_review.agent_response == Review.AgentResponse.DISPUTED


def test_a_reviewer_cannot_open_a_review_assigned_to_someone_else(desk):
    other = make_user("tess_qa", roles.QA)
    url = reverse("qa:review", args=[desk.pending_review.pk])
    assert logged_in(other).get(url).status_code == 404
    assert logged_in(other).post(url, {}).status_code == 404


def test_a_supervisor_cannot_reach_another_teams_coaching_disputes_or_agents(desk):
    other_sup = make_user("olga_supervisor", roles.SUPERVISOR)
    make_team("Team C", [other_sup], [make_user("carol_agent", roles.AGENT)])
    client = logged_in(other_sup)
    assert client.get(reverse("qa:coaching", args=[desk.coaching.pk])).status_code == 404
    edit = {"action": "edit", "notes": "Taken over"}
    assert client.post(reverse("qa:coaching", args=[desk.coaching.pk]), edit).status_code == 404
    resolve = reverse("qa:resolve_dispute", args=[desk.disputed_review.pk])
    assert client.post(resolve, {"decision": "uphold", "note": "ok"}).status_code == 404
    agent = desk.users[roles.AGENT]
    assert client.get(reverse("qa:dashboard"), {"agent": agent.pk}).status_code == 404
    desk.coaching.refresh_from_db()
    desk.disputed_review.refresh_from_db()
    assert desk.coaching.notes == "Tone."
    assert desk.disputed_review.agent_response == Review.AgentResponse.DISPUTED


def test_an_agent_cannot_open_another_agents_coaching(desk):
    bob = make_user("bob_agent", roles.AGENT)
    assert logged_in(bob).get(reverse("qa:coaching", args=[desk.coaching.pk])).status_code == 404


def test_a_reply_on_a_case_the_user_cannot_work_cannot_be_acted_on(desk):
    """QA specialists read cases but change none: no retry, no approval, no send."""
    Reply.objects.filter(pk=desk.reply.pk).update(state=Reply.State.FAILED)
    for persona in (policy.NO_ROLE, roles.QA):
        client = logged_in(desk.users[persona])
        assert client.post(reverse("cases:retry", args=[desk.reply.pk])).status_code == 403
        assert client.post(reverse("cases:approve", args=[desk.reply.pk])).status_code == 403
        send = reverse("cases:send", args=[desk.case.pk])
        assert client.post(send, {"text": "Hello"}).status_code == 403
    desk.reply.refresh_from_db()
    assert desk.reply.state == Reply.State.FAILED
    assert Reply.objects.filter(case=desk.case).count() == 1


def test_another_cases_post_id_cannot_be_replied_to_through_this_case(desk):
    """The composer's `in_reply_to` is a post id: one of another case is not used here."""
    other = make_case(desk.case.channel)
    foreign = other.mentions.get()
    client = logged_in(desk.users[roles.SUPERVISOR])
    url = reverse("cases:send", args=[desk.case.pk])
    client.post(url, {"text": "Thanks for waiting, we are on it.", "in_reply_to": foreign.pk})
    sent = Reply.objects.filter(case=desk.case).exclude(pk=desk.reply.pk).get()
    assert sent.in_reply_to_id != foreign.pk
    assert not Reply.objects.filter(case=other).exists()


def test_a_reply_of_another_session_cannot_be_made_gold_through_this_one(desk):
    outside = make_sent_reply(desk.users[roles.AGENT])
    client = logged_in(desk.users[roles.SUPERVISOR])
    url = reverse("qa:calibration_gold", args=[desk.session.pk])
    assert client.post(url, {"reply": outside.pk}).status_code == 404
    assert client.post(url, {"reply": "²"}).status_code == 404


def test_a_user_sees_and_marks_read_only_their_own_notifications(desk):
    agent = desk.users[roles.AGENT]
    theirs = desk.notification
    for persona in (roles.SUPERVISOR, policy.NO_ROLE):
        client = logged_in(desk.users[persona])
        assert client.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
        assert client.post(reverse("notifications:read_all")).status_code == 303
        page = client.get(reverse("notifications:list")).content.decode()
        assert theirs.title not in page
    theirs.refresh_from_db()
    assert theirs.read_at is None and theirs.recipient == agent
    own = logged_in(agent)
    assert theirs.title in own.get(reverse("notifications:list")).content.decode()
    assert own.post(reverse("notifications:read", args=[theirs.pk])).status_code == 303
    theirs.refresh_from_db()
    assert theirs.read_at is not None


def test_a_shared_view_is_deleted_only_by_whoever_may_delete_shared_views(desk):
    own = SavedView.objects.create(owner=desk.users[roles.AGENT], name="Mine", query="")
    url = reverse("cases:delete_view", args=[own.pk])
    assert logged_in(desk.users[roles.SUPERVISOR]).post(url).status_code == 403
    assert logged_in(desk.users[roles.AGENT]).post(url).status_code == 303
    assert not SavedView.objects.filter(pk=own.pk).exists()
    assert SavedView.objects.filter(pk=desk.view.pk).exists()


# ---------- teams: a case of another team's channel is not there ----------

CASE_ROUTE_ARGS = ("case_id", "reply_id", "media_id")


def _case_routes() -> list[Route]:
    """The routes about one case (or one of its replies or images)."""
    return [
        r
        for r in ROUTES
        if r.name.startswith("cases:")
        and set(r.url_pattern.pattern.regex.groupindex) & set(CASE_ROUTE_ARGS)
    ]


def _other_teams_desk(desk: Desk) -> Desk:
    """The same desk with its case, reply and image on a channel of Team B, which none of the
    personas works in (the supervisor leads Team A)."""
    team_b = make_team("Team B", [], [make_user("bea_agent", roles.AGENT)])
    desk.case.channel.team = team_b
    desk.case.channel.save(update_fields=["team"])
    return desk


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("persona", [roles.AGENT, roles.QA, roles.SUPERVISOR])
def test_a_case_of_another_teams_channel_is_404_on_every_case_route(desk, persona, method):
    _other_teams_desk(desk)
    make_team("Quality", [], [desk.users[roles.QA]])  # QA reviews its own teams only
    session = signed_in_session(desk, persona)
    routes = _case_routes()
    assert {r.name for r in routes} >= {"cases:detail", "cases:transfer", "cases:media"}
    problems = []
    for route in routes:
        rule = policy.rule_for(route.name, route.pattern)
        if not rule.allows(persona, method):
            continue  # refused by role already (the matrix above)
        url = url_for(route, desk)
        client = client_with(session)
        response = client.get(url) if method == "GET" else client.post(url, {})
        if response.status_code != 404:
            problems.append(f"{method} {url} ({route.key}): {response.status_code}")
    assert problems == [], "\n".join(problems)


def test_an_admin_reaches_every_teams_case(desk):
    _other_teams_desk(desk)
    client = logged_in(desk.users[roles.ADMIN])
    assert client.get(reverse("cases:detail", args=[desk.case.pk])).status_code == 200
    assert client.get(reverse("cases:transfer", args=[desk.case.pk])).status_code == 200


def test_a_case_of_another_team_is_out_of_the_inbox_search_and_bulk_actions(desk):
    _other_teams_desk(desk)
    agent = desk.users[roles.AGENT]
    client = logged_in(agent)
    listed = client.get(reverse("cases:list"), {"status": "all"}).context["cases"]
    assert desk.case.pk not in [c.pk for c in listed]
    handle = desk.case.customer.identities.get().handle
    found = client.get(reverse("cases:list"), {"status": "all", "q": handle}).context["cases"]
    assert desk.case.pk not in [c.pk for c in found]
    admin_found = logged_in(desk.users[roles.ADMIN]).get(
        reverse("cases:list"), {"status": "all", "q": handle}
    )
    assert desk.case.pk in [c.pk for c in admin_found.context["cases"]]
    client.post(reverse("cases:bulk"), {"action": "unassign", "ids": [desk.case.pk]})
    desk.case.refresh_from_db()
    assert desk.case.assignee == agent  # the bulk action did not reach it


def test_a_supervisor_approves_only_their_teams_replies(desk):
    client = logged_in(desk.users[roles.SUPERVISOR])
    queue = client.get(reverse("cases:approvals")).context["replies"]
    assert [r.pk for r in queue] == [desk.reply.pk]  # a shared channel: every team's
    _other_teams_desk(desk)
    assert client.get(reverse("cases:approvals")).context["replies"] == []
    assert client.post(reverse("cases:approve", args=[desk.reply.pk])).status_code == 404
