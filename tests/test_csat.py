"""Customer satisfaction surveys: planned on resolve, sent once as a private reply through the
real connectors against the simulator, read back by ingest, never outside a network's window.

Celery is not eager: the tests record the task messages the code sends after commit and run
the task bodies (`csat.actions.offer_survey`, `cases.sending.send_reply`) themselves.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from cases import sending
from cases.actions import do_set_status
from cases.models import Case, CaseEvent, CaseStatus, DeskSettings, Reply
from cases.sending import SendOutcome
from csat import actions
from csat import tasks as csat_tasks
from csat.answers import parse_answer
from csat.models import Survey
from listening import polling
from listening.models import Channel, Mention
from listening.polling import PollOutcome
from tests.conftest import make_channel
from tests.factories import make_case, make_reply
from tests.simulator import SimulatorClient, running_simulator

pytestmark = pytest.mark.django_db

X_BRAND = "1000"  # the simulator's default X account and Facebook page
State = Survey.State
Skip = Survey.Skip
Kind = CaseEvent.Kind


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler sees it."""


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def switched_on(db):
    desk = DeskSettings.load()
    desk.csat_enabled = True
    desk.save(update_fields=["csat_enabled"])
    return desk


@pytest.fixture
def offers(monkeypatch) -> list[int]:
    """Case ids of the offer_survey task messages sent after commit (instead of a broker)."""
    messages: list[int] = []
    monkeypatch.setattr(
        csat_tasks.offer_survey, "apply_async", lambda args, **kw: messages.append(args[0])
    )
    return messages


@pytest.fixture
def sim(settings):
    with running_simulator(seed=3, fault_sleep=2.0) as client:
        settings.X_API_BASE_URL = client.url
        settings.FACEBOOK_GRAPH_URL = client.url
        settings.SOCIAL_HTTP_TIMEOUT = 1.0
        settings.CSAT_SURVEY_DELAY_SECONDS = 0
        yield client


@pytest.fixture
def x_dm_channel(sim) -> Channel:
    return make_channel(
        "x", external_account_id=X_BRAND, handle="acme_support", credentials={"bearer_token": "t"}
    )


def dm_case(sim: SimulatorClient, channel: Channel) -> Case:
    """A customer's DM on the simulator, polled into a case."""
    (post_id,) = sim.publish("x", 1, account_id=channel.external_account_id, kind="dm", lang="en")
    assert polling.poll_channel(channel.pk) == PollOutcome.OK
    return Mention.objects.get(channel=channel, external_id=post_id).case


def answered_and_resolved(case: Case, agent, capture) -> Case:
    """The agent answers the DM (sent through the simulator) and resolves the case."""
    with capture(execute=True):
        reply = sending.do_queue_reply(
            case, author=agent, text="Done, refund sent!", is_private=True
        )
    assert sending.send_reply(reply.pk) == SendOutcome.SENT
    case.refresh_from_db()
    with capture(execute=True):
        do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    return case


def survey_dms(sim: SimulatorClient) -> list[dict]:
    return [r for r in sim.replies("x") if r["text"].startswith("How did we do?")]


def customer_writes(sim: SimulatorClient, case: Case, text: str) -> None:
    """The case's customer sends the brand a DM in the same conversation."""
    customer_id = case.mentions.first().author.external_id
    with sim.state.lock:
        sim.state.x.add_dm(customer_id, X_BRAND, text)


def send_survey(case: Case, capture) -> Survey:
    with capture(execute=True):
        assert actions.offer_survey(case.pk) == "queued"
    survey = Survey.objects.select_related("reply").get(case=case)
    assert sending.send_reply(survey.reply_id) == SendOutcome.SENT
    survey.refresh_from_db()
    return survey


# ---- sent once ---------------------------------------------------------------------------


def test_resolving_a_dm_case_sends_one_survey_to_the_customer(
    sim, x_dm_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    case = answered_and_resolved(
        dm_case(sim, x_dm_channel), agent, django_capture_on_commit_callbacks
    )
    assert offers == [case.pk]  # the task message, after the resolve committed
    survey = Survey.objects.get(case=case)
    assert survey.state == State.PENDING and survey.agent_id == agent.pk

    survey = send_survey(case, django_capture_on_commit_callbacks)
    assert survey.state == State.QUEUED
    assert survey.reply.is_private and survey.reply.state == Reply.State.SENT
    (dm,) = survey_dms(sim)
    assert dm["kind"] == "dm" and dm["recipient"] == case.mentions.first().author.external_id
    assert dm["text"] == (
        "How did we do? Reply with a number from 1 (poor) to 5 (great), "
        "and tell us why if you like."
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED  # the survey is no reply that reopens anything
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert Kind.SURVEY_QUEUED in kinds and kinds.count(Kind.REPLY_SENT) == 2


def test_a_case_resolved_again_or_a_task_run_twice_sends_no_second_survey(
    sim, x_dm_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    case = answered_and_resolved(dm_case(sim, x_dm_channel), agent, capture)
    send_survey(case, capture)
    assert actions.offer_survey(case.pk) == "nothing"  # the same message delivered twice

    with capture(execute=True):
        do_set_status(case, CaseStatus.OPEN, actor=agent)
        do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    assert actions.offer_survey(case.pk) == "nothing"
    assert actions.offer_due_surveys(timezone.now() + timedelta(hours=1)) == 0
    assert Survey.objects.filter(case=case).count() == 1
    assert len(survey_dms(sim)) == 1


def test_a_survey_is_sent_once_when_the_worker_dies_after_publishing(
    sim, x_dm_channel, agent, switched_on, offers, enqueued, monkeypatch,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    capture = django_capture_on_commit_callbacks
    case = answered_and_resolved(dm_case(sim, x_dm_channel), agent, capture)
    with capture(execute=True):
        actions.offer_survey(case.pk)
    survey = Survey.objects.get(case=case)

    def die(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(sending, "_record_sent", die)
        with pytest.raises(WorkerKilled):
            sending.send_reply(survey.reply_id)  # published, killed before recording
    assert len(survey_dms(sim)) == 1

    limit = settings.CELERY_TASK_TIME_LIMIT + settings.REPLY_RECOVERY_MARGIN_SECONDS + 1
    Reply.objects.filter(pk=survey.reply_id).update(
        sending_started_at=timezone.now() - timedelta(seconds=limit)
    )
    assert sending.recover_stuck_replies()["reconciled"] == 1
    assert sending.send_reply(survey.reply_id) == SendOutcome.SENT  # found, not posted again
    assert len(survey_dms(sim)) == 1
    assert Reply.objects.get(pk=survey.reply_id).external_id == survey_dms(sim)[0]["id"]


def test_a_lost_task_message_delays_the_survey_but_the_beat_sends_it(
    x_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    case = _private_case(x_channel, agent)
    with django_capture_on_commit_callbacks(execute=True):
        do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    offers.clear()  # lost with the broker
    assert actions.offer_due_surveys() == 0  # not due long enough to be called lost
    later = timezone.now() + timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.offer_due_surveys(later) == 1
    survey = Survey.objects.get(case=case)
    assert survey.state == State.QUEUED and enqueued == [survey.reply_id]


def test_a_case_reopened_before_its_survey_went_is_surveyed_at_its_next_resolution(
    x_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    case = _private_case(x_channel, agent)
    with django_capture_on_commit_callbacks(execute=True):
        do_set_status(case, CaseStatus.RESOLVED, actor=agent)
        do_set_status(case, CaseStatus.OPEN, actor=agent)
    soon = timezone.now() + timedelta(minutes=2)  # past the delay
    assert actions.offer_survey(case.pk, soon) == "reopened"
    assert not Survey.objects.filter(case=case).exists()
    with django_capture_on_commit_callbacks(execute=True):
        do_set_status(case, CaseStatus.RESOLVED, actor=agent)
        assert actions.offer_survey(case.pk, soon) == "queued"


def test_a_survey_waits_for_its_delay(x_channel, agent, switched_on, offers, settings):
    settings.CSAT_SURVEY_DELAY_SECONDS = 300
    case = _private_case(x_channel, agent)
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    assert actions.offer_survey(case.pk) == "nothing"
    assert actions.offer_survey(case.pk, timezone.now() + timedelta(minutes=6)) == "queued"


# ---- never where it may not go -----------------------------------------------------------


def _private_case(channel: Channel, agent, *, waited=timedelta(hours=2), **fields) -> Case:
    """A private conversation the customer began `waited` ago, answered by `agent`."""
    case = make_case(channel, waited=waited, is_private=True, assignee=agent, **fields)
    make_reply(case, agent, Reply.State.SENT, sent_at=timezone.now(), is_private=True)
    return case


def _resolved_and_offered(case: Case, agent) -> Survey:
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    actions.offer_survey(case.pk, timezone.now() + timedelta(minutes=2))
    return Survey.objects.get(case=case)


@pytest.mark.parametrize("network", ["facebook", "instagram", "x"])
def test_no_survey_once_the_network_window_has_closed(network, agent, switched_on, offers):
    case = _private_case(make_channel(network), agent, waited=timedelta(hours=25))
    survey = _resolved_and_offered(case, agent)
    assert (survey.state, survey.skip_reason, survey.reply_id) == (
        State.SKIPPED,
        Skip.WINDOW_CLOSED,
        None,
    )
    event = CaseEvent.objects.get(case=case, kind=Kind.SURVEY_SKIPPED)
    assert event.data["why"] == "the network's messaging window has closed"


@pytest.mark.parametrize("network", ["facebook", "instagram", "x"])
def test_no_survey_when_the_window_closes_within_the_margin(network, agent, switched_on, offers):
    # 24 h minus 5 minutes ago: the sender's retries could fall outside the window.
    case = _private_case(make_channel(network), agent, waited=timedelta(hours=23, minutes=53))
    assert _resolved_and_offered(case, agent).skip_reason == Skip.WINDOW_CLOSED


@pytest.mark.parametrize("network", ["facebook", "instagram", "x"])
def test_a_survey_goes_inside_the_window(
    network, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    case = _private_case(make_channel(network), agent, waited=timedelta(hours=20))
    with django_capture_on_commit_callbacks(execute=True):
        survey = _resolved_and_offered(case, agent)
    assert survey.state == State.QUEUED and enqueued == [survey.reply_id]
    assert survey.reply.in_reply_to.is_private


def test_the_window_runs_from_the_customers_last_private_message(
    x_channel, agent, switched_on, offers
):
    from tests.factories import add_mention

    case = _private_case(x_channel, agent, waited=timedelta(days=3))
    add_mention(case, "still there?", posted_at=timezone.now() - timedelta(hours=1))
    assert _resolved_and_offered(case, agent).state == State.QUEUED


def test_no_survey_for_a_public_conversation(x_channel, agent, switched_on, offers):
    case = make_case(x_channel, assignee=agent)
    make_reply(case, agent, Reply.State.SENT, sent_at=timezone.now())
    survey = _resolved_and_offered(case, agent)
    assert (survey.state, survey.skip_reason) == (State.SKIPPED, Skip.NOT_PRIVATE)


def test_no_survey_when_switched_off(x_channel, agent, offers):
    case = _private_case(x_channel, agent)
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    assert not Survey.objects.exists() and offers == []


def test_switching_off_before_the_survey_goes_skips_it(x_channel, agent, switched_on, offers):
    case = _private_case(x_channel, agent)
    do_set_status(case, CaseStatus.RESOLVED, actor=agent)
    DeskSettings.objects.update(csat_enabled=False)
    actions.offer_survey(case.pk, timezone.now() + timedelta(minutes=2))
    assert Survey.objects.get(case=case).skip_reason == Skip.SWITCHED_OFF


def test_no_survey_for_an_ignored_case_or_one_nobody_answered(x_channel, agent, switched_on):
    ignored = _private_case(x_channel, agent, triage_decision="ignore")
    silent = make_case(x_channel, is_private=True, assignee=agent)
    assert _resolved_and_offered(ignored, agent).skip_reason == Skip.IGNORED
    assert _resolved_and_offered(silent, agent).skip_reason == Skip.NOT_ANSWERED


def test_survey_text_follows_the_case_language(
    x_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    case = _private_case(x_channel, agent, language="es")
    with django_capture_on_commit_callbacks(execute=True):
        survey = _resolved_and_offered(case, agent)
    assert survey.reply.text.startswith("¿Qué tal lo hicimos?")
    assert actions.survey_text("fr") == actions.survey_text("en")  # no French: the desk's


# ---- the answer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, score, comment",
    [
        ("5", 5, ""),
        ("4/5", 4, ""),
        ("5/5 thanks!", 5, "thanks!"),
        ("4 stars", 4, ""),
        ("5 estrellas, gracias", 5, "gracias"),
        ("3 out of 5, slow", 3, "slow"),
        ("5️⃣ great", 5, "great"),
        ("⭐⭐⭐⭐", 4, ""),
        ("2. Took three days", 2, "Took three days"),
        ("1 - nobody read my messages", 1, "nobody read my messages"),
        ("  3\nok I guess", 3, "ok I guess"),
        ("5 🙂", 5, "🙂"),
    ],
)
def test_answers_that_read_as_a_score(text, score, comment):
    answer = parse_answer(text)
    assert answer is not None
    assert (answer.score, answer.comment) == (score, comment)


@pytest.mark.parametrize(
    "text",
    [
        "I have 2 problems",
        "2 problems with my order",
        "10",
        "0",
        "6",
        "5000 points",
        "3pm tomorrow?",
        "2:30",
        "4.5",
        "1/10",
        "I'd give you 4",
        "five",
        "",
        "<b>5</b>",
    ],
)
def test_messages_that_are_not_a_score(text):
    assert parse_answer(text) is None


def test_the_customers_score_is_attached_to_the_case_through_ingest(
    sim, x_dm_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    case = answered_and_resolved(dm_case(sim, x_dm_channel), agent, capture)
    send_survey(case, capture)
    cases_before = Case.objects.count()

    customer_writes(sim, case, "2 - it took <b>three</b> days")
    assert polling.poll_channel(x_dm_channel.pk) == PollOutcome.OK

    survey = Survey.objects.select_related("answer").get(case=case)
    assert (survey.state, survey.score) == (State.ANSWERED, 2)
    assert survey.answer.case_id == case.pk and survey.answer.text.startswith("2 - it took")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED  # not reopened for a score
    assert case.mention_count == 2
    assert Case.objects.count() == cases_before  # and no new case for it
    event = CaseEvent.objects.get(case=case, kind=Kind.SURVEY_ANSWERED)
    assert event.data["score"] == 2 and event.data["mention_id"] == survey.answer_id

    # A second score is an ordinary message: the survey counts its first answer only.
    customer_writes(sim, case, "5")
    polling.poll_channel(x_dm_channel.pk)
    assert Survey.objects.get(case=case).score == 2
    assert Case.objects.count() == cases_before + 1


def test_a_message_that_is_no_score_opens_a_case_and_the_survey_still_waits(
    sim, x_dm_channel, agent, switched_on, offers, enqueued, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    case = answered_and_resolved(dm_case(sim, x_dm_channel), agent, capture)
    send_survey(case, capture)

    customer_writes(sim, case, "I have 2 problems with the new order")
    polling.poll_channel(x_dm_channel.pk)
    fresh = Case.objects.exclude(pk=case.pk).get(conversation_key=case.conversation_key)
    assert fresh.status == CaseStatus.NEW
    assert Survey.objects.get(case=case).state == State.QUEUED

    customer_writes(sim, case, "4")
    polling.poll_channel(x_dm_channel.pk)
    assert Survey.objects.get(case=case).score == 4
    assert Mention.objects.get(text="4").case_id == case.pk


def test_simulated_customers_answer_surveys_mostly_with_a_score():
    import random

    from listening.simulator import traffic
    from listening.simulator.state import SimState

    assert traffic.looks_like_survey(actions.survey_text("en"))
    assert traffic.looks_like_survey(actions.survey_text("es"))
    assert not traffic.looks_like_survey("Sorry, we are on it: DM us your order number.")
    rng = random.Random(7)
    answers = [traffic.survey_answer(rng, lang)[0] for lang in ("en", "es") * 100]
    scored = [a for a in answers if parse_answer(a)]
    assert 0.6 < len(scored) / len(answers) < 0.95  # and some junk the desk must not count

    state = SimState(seed=1)
    for n in range(40):
        state.record_reply("x", X_BRAND, {"id": str(n), "kind": "dm", "text": "1 to 5?"})
    assert state.pending and all(p.survey for p in state.pending)


def test_ingest_asks_for_surveys_once_per_page_of_private_posts_and_never_for_public_ones(
    x_channel,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from listening.ingest import ingest
    from tests.factories import post

    def survey_queries(page) -> int:
        with CaptureQueriesContext(connection) as ctx:
            ingest(x_channel, page)
        return sum("csat_survey" in q["sql"] for q in ctx.captured_queries)

    assert survey_queries([post(n) for n in range(1, 31)]) == 0
    dms = [post(n, kind="dm", is_private=True, conversation=f"dm:{n}") for n in range(31, 81)]
    assert survey_queries(dms) == 1
