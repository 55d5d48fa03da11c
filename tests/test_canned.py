"""Canned replies: placeholders filled for the case and the agent, hostile names kept inert."""

import pytest
from django.contrib.auth.models import User

from cases.canned import render_canned
from cases.models import Case, Identity
from listening.models import Network
from tests.conftest import make_channel
from tests.factories import add_mention, make_case


@pytest.fixture
def named_agent(agent: User) -> User:
    agent.first_name = "Alice"
    agent.save(update_fields=["first_name"])
    return agent


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("Priya Sharma", "Hi Priya, sorry about that."),
        ("Priya", "Hi Priya, sorry about that."),
        ("Jean-Luc Picard", "Hi Jean-Luc, sorry about that."),
        ("Mary Ann O'Neil", "Hi Mary, sorry about that."),
        ("Dr. Jane Doe", "Hi Dr. Jane Doe, sorry about that."),  # not a plain name: as shown
        ("\U0001f338 Mia \U0001f338", "Hi \U0001f338 Mia \U0001f338, sorry about that."),
        ("@dana_k", "Hi @dana_k, sorry about that."),
        ("Eve\u202eliam  Smith\n", "Hi Eve, sorry about that."),  # bidi override, newline
    ],
)
def test_customer_name(db, x_channel, named_agent, display_name, expected):
    case = make_case(x_channel, name=display_name)
    assert render_canned("Hi {customer_name}, sorry about that.", case=case, agent=named_agent) == (
        expected
    )


@pytest.mark.parametrize(
    ("network", "handle", "name", "expected"),
    [
        (Network.X, "dana", "Dana Customer", "@dana"),
        (Network.X, "@dana", "Dana Customer", "@dana"),  # never "@@dana"
        (Network.X, "", "Dana Customer", "Dana Customer"),
        (Network.FACEBOOK, "", "Dana Customer", "Dana Customer"),  # no @-handles on Facebook
        (Network.FACEBOOK, "dana.page", "", "dana.page"),
    ],
)
def test_handle_on_the_cases_network(db, named_agent, network, handle, name, expected):
    case = make_case(make_channel(network), name="Dana Customer", handle=handle)
    Identity.objects.filter(customer=case.customer).update(name=name)
    assert render_canned("{handle} thanks!", case=case, agent=named_agent) == f"{expected} thanks!"


def test_handle_is_the_identity_that_wrote_in_this_conversation(db, x_channel, named_agent):
    case = make_case(x_channel, handle="dana_old")
    second = Identity.objects.create(
        customer=case.customer, network="x", external_id="second", handle="dana_new"
    )
    add_mention(case, "still waiting", author=second)
    assert render_canned("{handle}", case=case, agent=named_agent) == "@dana_new"


def test_handle_without_mentions_falls_back_to_the_customers_identity(db, x_channel, agent):
    case = make_case(x_channel, handle="dana")
    case.mentions.all().delete()
    assert render_canned("{handle}", case=case, agent=agent) == "@dana"


@pytest.mark.parametrize(
    ("first_name", "expected"), [("Alice", "Alice"), ("", "alice_agent"), ("  ", "alice_agent")]
)
def test_agent_name(db, x_channel, agent, first_name, expected):
    agent.first_name = first_name
    agent.save(update_fields=["first_name"])
    case = make_case(x_channel)
    assert render_canned("^{agent_name}", case=case, agent=agent) == f"^{expected}"


def test_all_placeholders_together(db, x_channel, named_agent):
    case = make_case(x_channel, name="Priya Sharma", handle="priya")
    text = "{handle} Hi {customer_name}, {agent_name} here. Sorry, {customer_name}! ^{agent_name}"
    assert render_canned(text, case=case, agent=named_agent) == (
        "@priya Hi Priya, Alice here. Sorry, Priya! ^Alice"
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Your {order_id} is ready.", "Your {order_id} is ready."),  # unknown: left as typed
        ("Use {} or { customer_name }.", "Use {} or { customer_name }."),
        ("{{customer_name}}", "{Dana}"),
        ("{CUSTOMER_NAME}", "{CUSTOMER_NAME}"),
        ("50% off {0} {agent_name!r}", "50% off {0} {agent_name!r}"),
        ("", ""),
    ],
)
def test_only_known_placeholders_are_filled(db, x_channel, named_agent, template, expected):
    case = make_case(x_channel, name="Dana Customer")
    assert render_canned(template, case=case, agent=named_agent) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "{agent_name}",
        "{agent_name} Smith",
        "{handle}",
        "{customer_name}",
        "{0.__class__.__mro__}",
        "{agent_name.__init__.__globals__}",
        '<script>alert("x")</script>',
    ],
)
def test_a_hostile_customer_name_is_never_expanded(db, x_channel, named_agent, hostile):
    case = make_case(x_channel, name=hostile, handle="eve")
    text = render_canned(
        "Hi {customer_name} ({handle}), {agent_name} here.", case=case, agent=named_agent
    )
    assert text == f"Hi {hostile} (@eve), Alice here."


def test_a_hostile_handle_is_never_expanded(db, facebook_channel, named_agent):
    case = make_case(facebook_channel, name="{agent_name}", handle="")
    assert render_canned("{handle}: {agent_name}", case=case, agent=named_agent) == (
        "{agent_name}: Alice"
    )


def test_rendering_reads_only_what_it_uses(db, x_channel, named_agent, django_assert_num_queries):
    case = Case.objects.select_related("channel", "customer").get(pk=make_case(x_channel).pk)
    with django_assert_num_queries(0):
        assert render_canned("Thanks {agent_name}!", case=case, agent=named_agent) == (
            "Thanks Alice!"
        )
    with django_assert_num_queries(1):  # the latest mention's author, for {handle}
        assert render_canned("{handle} {handle}", case=case, agent=named_agent) == "@dana @dana"
