"""`manage.py load_demo`: idempotent demo users and channels, refused outside DEBUG."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from listening.models import Channel, ListeningRule

ROLES = {
    "alex": "agent",
    "blair": "agent",
    "casey": "agent",
    "quinn": "qa",
    "sasha": "supervisor",
    "admin": "admin",
}


def run(**options) -> str:
    out = StringIO()
    call_command("load_demo", stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs with DEBUG=true"):
        run()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_creates_users_channels_and_rule(settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setenv("PORT", "8123")
    output = run()

    for username, role in ROLES.items():
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert f"{username}" in output and role in output
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    assert not User.objects.get(username="alex").is_staff
    assert "http://127.0.0.1:8123/" in output

    x = Channel.objects.get(network="x", external_account_id="1000")
    assert (x.name, x.handle, x.poll_interval) == ("Acme Support", "@acme_support", 5)
    assert x.credentials == {"bearer_token": "demo-x-token"}
    facebook = Channel.objects.get(network="facebook", external_account_id="2000")
    assert facebook.name == "Acme"
    assert facebook.credentials == {"page_access_token": "demo-page-token"}
    instagram = Channel.objects.get(network="instagram", external_account_id="17841400000000001")
    assert (instagram.handle, instagram.poll_interval) == ("acme", 5)
    assert instagram.credentials == {"page_access_token": "demo-page-token", "page_id": "2000"}
    rule = ListeningRule.objects.get(channel=x)
    assert (rule.name, rule.query) == (
        "Product complaints",
        "acme (refund OR broken OR cancel) -is:retweet",
    )


@pytest.mark.django_db
def test_printed_passwords_sign_in(settings):
    settings.DEBUG = True
    output = run()
    client = Client()
    line = next(line for line in output.splitlines() if line.strip().startswith("sasha"))
    password = line.split()[-1]
    assert client.login(username="sasha", password=password)


@pytest.mark.django_db
def test_running_twice_creates_nothing_twice_and_keeps_the_cursor(settings):
    settings.DEBUG = True
    run()
    x = Channel.objects.get(external_account_id="1000")
    Channel.objects.filter(pk=x.pk).update(cursor={"mentions": "1999"}, api_reads=42)
    password_hash = User.objects.get(username="alex").password

    output = run()

    assert "0 user(s) and 0 channel(s) created" in output
    assert User.objects.count() == 6
    assert Channel.objects.count() == 3
    assert ListeningRule.objects.count() == 1
    x.refresh_from_db()
    assert x.cursor == {"mentions": "1999"} and x.api_reads == 42
    # An unchanged password keeps its hash, so a restart signs nobody out.
    assert User.objects.get(username="alex").password == password_hash


@pytest.mark.django_db
def test_force_runs_without_debug(settings):
    settings.DEBUG = False
    run(force=True)
    assert User.objects.filter(username="admin", is_superuser=True).exists()


@pytest.mark.django_db
def test_demo_fills_every_supervisor_screen_once(settings):
    from cases.models import Reply
    from qa.models import CoachingSession, Review

    settings.DEBUG = True
    run()
    run()

    disputed = Review.objects.get(agent_response=Review.AgentResponse.DISPUTED)
    assert disputed.agent.username == "blair" and "tact and empathy" in disputed.agent_comment
    session = CoachingSession.objects.get()
    assert (session.agent.username, session.coach.username) == ("blair", "sasha")
    assert session.action_items.count("\n") == 2 and session.follow_up_on is not None
    assert [r.agent.username for r in session.reviews.all()] == ["blair"]
    waiting = Reply.objects.get(state=Reply.State.AWAITING_APPROVAL)
    assert waiting.author.username == "alex" and waiting.case.triage_decision == "escalate"
    client = Client()
    client.force_login(User.objects.get(username="sasha"))
    assert "Dana Reyes" in client.get("/cases/approvals/").content.decode()
    assert "phone model" in client.get("/qa/disputes/").content.decode()
    # A customer who edited one post and deleted the next, for the timeline to show.
    from listening.models import Mention

    edited, deleted = Mention.objects.filter(case__conversation_key="demo-qa-edits")
    assert edited.earlier_texts and "week late" in edited.text
    assert deleted.text == "" and deleted.deleted_at is not None


@pytest.mark.django_db
def test_demo_teams_show_an_agent_one_team_and_the_supervisor_both(settings):
    from cases.models import AgentProfile
    from socialdesk.models import Team

    settings.DEBUG = True
    run()
    run()
    care, facebook = Team.objects.get(name="Care team"), Team.objects.get(name="Facebook team")
    assert set(care.channels.values_list("network", flat=True)) == {"x", "instagram"}
    assert list(facebook.channels.values_list("network", flat=True)) == ["facebook"]
    assert list(facebook.members.values_list("username", flat=True)) == ["casey", "quinn"]
    assert set(Team.objects.filter(supervisors__username="sasha")) == {care, facebook}
    assert AgentProfile.objects.get(user__username="casey").languages == ["en", "fr"]

    def inbox(username: str) -> str:
        client = Client()
        client.force_login(User.objects.get(username=username))
        return client.get("/cases/").content.decode()

    alex, casey, sasha = inbox("alex"), inbox("casey"), inbox("sasha")
    assert "Léa Martin" not in alex and "Dana Reyes" in alex
    assert "Léa Martin" in casey and "Dana Reyes" not in casey
    assert "Léa Martin" in sasha and "Dana Reyes" in sasha


@pytest.mark.django_db
def test_demo_switches_surveys_on_and_the_dashboard_shows_satisfaction(settings):
    from cases.models import Case, CaseStatus, DeskSettings
    from csat.models import Survey

    settings.DEBUG = True
    run()
    run()

    assert DeskSettings.load().csat_enabled
    answered = Survey.objects.filter(state=Survey.State.ANSWERED)
    assert answered.count() == 45  # of 56 sent: through ingest, as real answers come in
    assert Survey.objects.count() == 56
    assert {s.agent.username for s in answered} == {"alex", "blair"}
    assert all(s.answer.case_id == s.case_id for s in answered)
    assert not Case.objects.filter(conversation_key__startswith="dm:demo-csat-").exclude(
        status=CaseStatus.RESOLVED
    )
    client = Client()
    client.force_login(User.objects.get(username="sasha"))
    page = client.get("/qa/dashboard/").content.decode()
    section = page[page.index('id="satisfaction"') :]
    assert "Alex Agent" in section and "Low scores to look at" in section
    assert "I had to explain it three times" in section
