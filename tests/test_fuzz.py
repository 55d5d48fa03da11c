"""Generated input (hypothesis) where hostile input arrives: every view's query parameters and
form fields, both connectors' normalisers, and `import_posts` records.

The contract: a view answers junk with a page, a 400 or a form error (never a 500); a
normaliser returns an InboundPost or a Quarantined with a reason (never raises); an import
stores or quarantines every record and never stops. The parameter names are read from the
views' own source and forms, so a new parameter is fuzzed without being listed here.
Example counts are kept small (the suite runs on every change); each test's count is in
its settings.
"""

import inspect
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django import forms
from django.core.management import call_command
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cases import forms as case_forms
from cases import inbox
from cases.actions import case_version
from cases.views import approvals as approvals_views
from cases.views import canned as canned_views
from cases.views import case as case_views
from cases.views import composer as composer_views
from cases.views import guidelines as guidelines_views
from cases.views import inbox as inbox_views
from cases.views import presence as presence_views
from listening import views as listening_views
from listening.connectors.facebook import (
    FacebookConnector,
    normalise_comment,
    normalise_message,
    normalise_post,
)
from listening.connectors.x import XConnector
from listening.connectors.x_normalise import normalise_dm, normalise_tweet
from listening.models import Mention, QuarantinedPost
from listening.posts import InboundPost, Quarantined
from qa.views import calibration as calibration_views
from qa.views import coaching as coaching_views
from qa.views import dashboard as dashboard_views
from qa.views import review as review_views
from qa.views import sampling as sampling_views
from socialdesk import policy, roles
from tests.conftest import logged_in, make_channel
from tests.test_authz_matrix import ROUTES, Desk, build_desk, url_for

VIEW_EXAMPLES = 6  # generated per route and method, after the BREAKERS pass
NORMALISER_EXAMPLES = 150
IMPORT_EXAMPLES = 25

# ---------- the views ----------


@pytest.fixture
def desk(db, agent, qa, supervisor, admin, outsider) -> Desk:
    """The authorization matrix's desk: each persona's own objects behind every URL."""
    return build_desk(agent, qa, supervisor, admin, outsider)


# Text that breaks naive parsing: digits int() refuses, numbers past bigint, float specials,
# dates out of range, markup, NUL, the values the views special-case.
TRICKY = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "²",
    "①",
    "٣",
    "1²",
    "99999999999999999999",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "na",
    "me",
    "mine",
    "unassigned",
    "on",
    "current",
    "preview",
    "approve",
    "send_back",
    "acknowledge",
    "dispute",
    "uphold",
    "reject",
    "status",
    "edit",
    "private",
    "1h",
    "tomorrow",
    "2026-13-45",
    "2026-12-07T10:00",
    "9999-12-31T23:59",
    "0001-01-01",
    "<script>alert(1)</script>",
    "\x00",
    "a" * 3000,
    "status=inbox&label=²",
]
# request.GET.get("x"), .getlist("x"), ["x"], and helpers given (request.GET, "x")
PARAM = re.compile(
    r"""(?:GET|POST|data|post)(?:\.get|\.getlist)?(?:\(|\[|\s*,)\s*f?["']([a-z_]+)["']"""
)
MODULES: dict[str, list[ModuleType]] = {
    "cases:list": [inbox_views, inbox],
    # The bulk form and the status form are parsed in cases/forms.py.
    "cases:bulk": [inbox_views, case_forms],
    "cases:set_status": [case_views, case_forms],
    "cases:save_view": [inbox_views],
    "cases:delete_view": [inbox_views],
}


def module_of(route) -> ModuleType:
    return sys.modules[route.url_pattern.callback.__module__]


def params_of(route) -> list[str]:
    """The request parameters the route's view module reads, and its forms' fields."""
    modules = MODULES.get(route.name) or [module_of(route)]
    names: set[str] = set()
    for module in modules:
        names.update(PARAM.findall(inspect.getsource(module)))
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, forms.Form)
                and value is not forms.Form
            ):
                names.update(value.base_fields)
    if route.name == "cases:list":
        names.update(inbox.InboxFilters.KEYS)
    return sorted(names)


VIEW_MODULES = {
    approvals_views,
    canned_views,
    case_views,
    composer_views,
    guidelines_views,
    inbox_views,
    presence_views,
    listening_views,
    calibration_views,
    coaching_views,
    dashboard_views,
    review_views,
    sampling_views,
}
PREFERENCE = (roles.SUPERVISOR, roles.QA, roles.AGENT, roles.ADMIN, policy.NO_ROLE)
TARGETS = [
    (route, method, persona)
    for route in ROUTES
    if route.name and module_of(route) in VIEW_MODULES
    for method in ("GET", "POST")
    for rule in [policy.rule_for(route.name, route.pattern)]
    if rule is not None  # a route without a rule fails the authorization matrix instead
    for persona in [next((p for p in PREFERENCE if rule.allows(p, method)), None)]
    if persona is not None
]


def test_the_fuzz_reaches_every_desk_view_and_the_filters_of_each():
    reached = {route.name for route, _, _ in TARGETS}
    for name in ("cases:list", "cases:bulk", "cases:labels", "cases:compose", "qa:dashboard"):
        assert name in reached
    assert {"cases:canned_picker", "cases:canned_replies"} <= reached
    named = {route.name: route for route in ROUTES}
    assert {"status", "label", "channel", "assignee", "after", "since"} <= set(
        params_of(named["cases:list"])
    )
    assert {"agent", "weeks", "table"} <= set(params_of(named["qa:dashboard"]))
    assert {"ids", "label", "assignee", "action"} <= set(params_of(named["cases:bulk"]))
    assert "canned" in params_of(named["cases:compose"])
    assert {"q", "visibility", "label"} <= set(params_of(named["cases:canned_picker"]))
    assert {"target_margin", "policy", "period"} <= set(params_of(named["qa:sampling"]))
    assert {"reviewers", "replies", "name"} <= set(params_of(named["qa:calibration_list"]))


def values(desk: Desk) -> st.SearchStrategy[str]:
    real_ids = [
        desk.case.pk,
        desk.reply.pk,
        desk.pending_review.pk,
        desk.session.pk,
        *(user.pk for user in desk.users.values()),
    ]
    return st.one_of(
        st.sampled_from(TRICKY),
        st.sampled_from([str(pk) for pk in real_ids]),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=40),
    )


# Every parameter of a view gets each of these at once before the generated combinations.
BREAKERS = ["²", "99999999999999999999", "-1", "nan", "1e309", "\x00", "a" * 3000]


@pytest.mark.parametrize(
    "route,method,persona",
    TARGETS,
    ids=[f"{route.name}-{method}" for route, method, _ in TARGETS],
)
def test_junk_parameters_never_answer_500(desk, route, method, persona):
    names = params_of(route)
    if route.name == "qa:review":  # its fields are named after the rubric's criteria
        names += [f"c{c.pk}" for c in desk.pending_review.rubric.criteria.all()]
    client = logged_in(desk.users[persona])
    url = url_for(route, desk)

    def ask(params: dict[str, list[str]], htmx: bool) -> None:
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        if method == "GET":
            response = client.get(url, params, **headers)
        else:
            response = client.post(url, params, **headers)
        by_design = response.status_code == 503 and route.name in policy.STATUS_ROUTES
        assert response.status_code < 500 or by_design, (method, url, params)

    for value in BREAKERS:
        ask({name: [value] for name in names}, htmx=False)

    @settings(max_examples=VIEW_EXAMPLES, deadline=None, database=None)
    @given(data=st.data())
    def generated(data):
        chosen = data.draw(st.lists(st.sampled_from(names), unique=True) if names else st.just([]))
        params = {
            name: data.draw(st.lists(values(desk), min_size=1, max_size=3)) for name in chosen
        }
        ask(params, htmx=data.draw(st.booleans()))

    generated()


@pytest.mark.parametrize(
    "url,params",
    [
        (reverse("qa:dashboard"), {"agent": "²"}),
        (reverse("qa:dashboard"), {"agent": "99999999999999999999"}),
    ],
)
def test_a_junk_agent_on_the_dashboard_is_a_clear_400(desk, url, params):
    response = logged_in(desk.users[roles.SUPERVISOR]).get(url, params)
    assert response.status_code == 400


def test_a_junk_canned_reply_id_is_a_clear_400(desk):
    url = reverse("cases:compose", args=[desk.case.pk])
    response = logged_in(desk.users[roles.AGENT]).get(url, {"canned": "²"})
    assert response.status_code == 400
    empty = logged_in(desk.users[roles.AGENT]).get(url, {"canned": ""})
    assert empty.status_code == 200
    assert re.search(rb"data-composer-text[^>]*></textarea>", empty.content)  # an empty box


def test_a_nul_character_in_a_value_is_a_clear_400_and_changes_nothing(desk):
    client = logged_in(desk.users[roles.AGENT])
    url = reverse("cases:add_note", args=[desk.case.pk])
    response = client.post(url, {"text": "half\x00note"})
    assert response.status_code == 400
    assert "could not use that request" in response.content.decode()
    assert not desk.case.notes.exists()
    assert client.get(reverse("cases:list"), {"q": "a\x00"}).status_code == 400
    assert client.post(url, {"text": "A whole note"}).status_code == 302
    assert desk.case.notes.get().text == "A whole note"


def test_junk_label_ids_are_ignored_by_the_label_actions(desk):
    client = logged_in(desk.users[roles.AGENT])
    response = client.post(
        reverse("cases:labels", args=[desk.case.pk]),
        {"label": ["²", "x"], "version": case_version(desk.case)},
    )
    assert response.status_code == 302
    response = client.post(
        reverse("cases:bulk"),
        {"action": "label", "ids": [desk.case.pk, "²"], "label": "²"},
        follow=True,
    )
    assert "Choose the label to add." in response.content.decode()


# ---------- the connectors' normalisers ----------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
any_json = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
ids = st.one_of(
    st.integers(min_value=0, max_value=2**64).map(str),
    st.sampled_from(["", "1", "²", "1_2", "12345_67890", "m_" + "a" * 80, "-1", " 1"]),
    st.text(max_size=20),
    any_json,
)
times = st.one_of(
    st.sampled_from(
        [
            "2026-11-23T09:30:00.000Z",
            "2026-11-23T09:30:00+0000",
            "2026-02-30T09:30:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(),
    any_json,
)
texts = st.one_of(st.text(max_size=300), st.sampled_from(["", " ", "@acme_support hi"]), any_json)


def shaped(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """A dict with any subset of the real fields (real-looking or junk values), plus extras."""
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda d: st.dictionaries(st.text(max_size=8), any_json, max_size=2).map(
            lambda extra: {**extra, **d}
        )
    )


x_user = shaped(
    {
        "id": ids,
        "name": texts,
        "username": texts,
        "verified": any_json,
        "profile_image_url": texts,
        "public_metrics": shaped({"followers_count": any_json}) | any_json,
    }
)
tweet = shaped(
    {
        "id": ids,
        "text": texts,
        "author_id": ids,
        "created_at": times,
        "conversation_id": ids,
        "lang": texts,
        "in_reply_to_user_id": ids,
        "public_metrics": shaped({"like_count": any_json, "reply_count": any_json}) | any_json,
        "referenced_tweets": st.lists(shaped({"type": texts, "id": ids}) | any_json, max_size=3)
        | any_json,
    }
)
dm_event = shaped(
    {
        "id": ids,
        "text": texts,
        "sender_id": ids,
        "created_at": times,
        "event_type": st.sampled_from(["MessageCreate", "ParticipantsJoin"]) | any_json,
        "dm_conversation_id": ids,
    }
)
x_payload = shaped(
    {
        "data": st.lists(tweet | dm_event | any_json, max_size=4) | any_json,
        "includes": shaped({"users": st.lists(x_user | any_json, max_size=3) | any_json})
        | any_json,
        "meta": shaped({"result_count": any_json, "next_token": texts}) | any_json,
    }
)
graph_from = shaped({"id": ids, "name": texts}) | any_json
graph_item = shaped(
    {
        "id": ids,
        "message": texts,
        "created_time": times,
        "from": graph_from,
        "permalink_url": texts,
        "parent": shaped({"id": ids}) | any_json,
    }
)
paging = shaped(
    {
        "cursors": shaped({"before": texts, "after": texts}) | any_json,
        "next": st.sampled_from(
            [
                "https://graph.facebook.com/v21.0/1_2/comments?after=x",
                "https://graph.facebook.com/v21.0/1/feed?after=x",
                "https://graph.facebook.com/v21.0/t_1/messages?after=x",
            ]
        )
        | texts,
    }
)
graph_payload = shaped(
    {
        "data": st.lists(graph_item | any_json, max_size=4) | any_json,
        "paging": paging | any_json,
        "id": ids,
        "comments": shaped({"data": st.lists(graph_item, max_size=3) | any_json}) | any_json,
        "messages": shaped({"data": st.lists(graph_item, max_size=3) | any_json}) | any_json,
        "error": shaped({"message": texts, "code": any_json}) | any_json,
    }
)


def check_outcome(result: Any) -> None:
    if isinstance(result, Quarantined):
        assert isinstance(result.reason, str) and result.reason.strip()
        return
    assert isinstance(result, InboundPost)
    assert result.external_id and len(result.external_id) <= 64
    assert isinstance(result.text, str) and result.text.strip()
    assert isinstance(result.posted_at, datetime) and result.posted_at.tzinfo is not None
    assert len(result.conversation_id) <= 128


NORMALISER_SETTINGS = settings(max_examples=NORMALISER_EXAMPLES, deadline=None)


@NORMALISER_SETTINGS
@given(item=tweet | any_json, users=st.dictionaries(ids.map(str), x_user, max_size=2))
def test_x_normalise_tweet_keeps_or_quarantines(item, users):
    check_outcome(normalise_tweet(item, users))
    check_outcome(normalise_tweet(item, users, kind_hint="mention"))


@NORMALISER_SETTINGS
@given(item=dm_event | any_json, users=st.dictionaries(ids.map(str), x_user, max_size=2))
def test_x_normalise_dm_keeps_or_quarantines(item, users):
    check_outcome(normalise_dm(item, users))


@NORMALISER_SETTINGS
@given(payload=x_payload | any_json, account=st.sampled_from(["", "1000", "²"]))
def test_x_normalise_payload_keeps_or_quarantines(payload, account):
    posts, rejects = XConnector().normalise_payload(payload, account_id=account)
    for result in [*posts, *rejects]:
        check_outcome(result)


@NORMALISER_SETTINGS
@given(item=graph_item | any_json, kind=st.sampled_from(["post", "tag"]))
def test_facebook_normalise_post_keeps_or_quarantines(item, kind):
    check_outcome(normalise_post(item, kind=kind))


@NORMALISER_SETTINGS
@given(item=graph_item | any_json, post_id=st.text(max_size=200))
def test_facebook_normalise_comment_keeps_or_quarantines(item, post_id):
    check_outcome(normalise_comment(item, post_id=post_id))


@NORMALISER_SETTINGS
@given(item=graph_item | any_json, conversation=st.text(max_size=200))
def test_facebook_normalise_message_keeps_or_quarantines(item, conversation):
    check_outcome(normalise_message(item, conversation_id=conversation))


@NORMALISER_SETTINGS
@given(payload=graph_payload | any_json, account=st.sampled_from(["", "1", "²"]))
def test_facebook_normalise_payload_keeps_or_quarantines(payload, account):
    posts, rejects = FacebookConnector().normalise_payload(payload, account_id=account)
    for result in [*posts, *rejects]:
        check_outcome(result)


# ---------- import_posts ----------

DEEP = "[" * 100_000 + "]" * 100_000  # nested past the JSON parser's recursion limit


@pytest.mark.parametrize("network", ["x", "facebook"])
@settings(
    max_examples=IMPORT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@example(data=None)  # the deeply nested record (drawn below when data is None)
def test_import_never_stops_and_quarantines_every_bad_record(db, tmp_path_factory, network, data):
    channel = make_channel(network)
    payload = x_payload if network == "x" else graph_payload
    if data is None:
        lines = ['{"data": []}', DEEP, "42"]
    else:
        records = data.draw(st.lists(payload | any_json, min_size=1, max_size=5))
        # JSON lines: the first line an object (a file opening with "[" is one JSON array)
        lines = ['{"data": []}'] + [json.dumps(record) for record in records]
        lines += data.draw(st.lists(st.sampled_from(["{", "not json", "[1,", "null"]), max_size=2))
    path = Path(tmp_path_factory.mktemp("import")) / "records.jsonl"
    path.write_text("\n".join(lines) + "\n")
    bad_before = QuarantinedPost.objects.count()
    call_command("import_posts", str(path), "--channel", str(channel.pk), "--no-progress")

    # Every record that is not a JSON object is quarantined with its reason (the same record
    # twice is kept once); so is any item a record holds that cannot be kept; every post a
    # record holds is stored, or quarantined by ingest with its id.
    connector = XConnector() if network == "x" else FacebookConnector()
    not_objects, rejected, posts = set(), 0, []
    for line in lines:
        record = _object(line)
        if record is None:
            not_objects.add(line)
            continue
        try:
            found, rejects = connector.normalise_payload(
                record, account_id=channel.external_account_id
            )
        except Exception:  # the import quarantines the record whole
            found, rejects = [], [None]
        posts += found
        rejected += len(rejects)
    # A record is identified by its text (see listening.quarantine): a line `[]` and an item
    # `[]` inside a response are the same junk, kept once; so at least one row per distinct
    # kind of junk, and every row this import added is this channel's.
    added = QuarantinedPost.objects.count() - bad_before
    assert added == QuarantinedPost.objects.filter(channel=channel).count()
    distinct = len(not_objects) + (1 if rejected and not not_objects else 0)
    assert added >= distinct
    assert all(q.reason for q in QuarantinedPost.objects.all())
    stored = set(Mention.objects.filter(channel=channel).values_list("external_id", flat=True))
    held = set(QuarantinedPost.objects.values_list("external_id", flat=True))
    assert {post.external_id for post in posts} <= stored | held


def _object(line: str) -> dict | None:
    """The line's JSON object, or None for anything else (no JSON, not an object)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
