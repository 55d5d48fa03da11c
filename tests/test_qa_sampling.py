"""QA sampling: strata, risk weights, inclusion probabilities, minimums, ignored cases,
no repeats, determinism, beat windows, and the sampling/planner page per role."""

import itertools
import math
import random
import statistics
from datetime import timedelta
from functools import partial

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from cases.models import Reply
from qa import sampling
from qa.models import Review, Sample, SamplingPolicy, SamplingRun
from qa.rubrics import default_rubric
from qa.sampling import Pick, Unit, draw_replies, inclusion_probabilities, systematic_draw
from qa.stats import margin_of_error, required_sample_size
from qa.tasks import run_due_sampling_now
from socialdesk import roles
from socialdesk.models import Team
from tests.conftest import make_channel, make_user
from tests.factories import make_bare_case, make_sent_replies

pytestmark = pytest.mark.django_db
_n = itertools.count(1)

START = timezone.make_aware(timezone.datetime(2026, 3, 2))  # a Monday: one weekly period
END = START + timedelta(days=7)


# ---------- builders ----------


# The period's replies are sent an hour into it unless a test says otherwise.
make_replies = partial(make_sent_replies, sent_at=START + timedelta(hours=1))


def policy(**fields) -> SamplingPolicy:
    defaults = {"name": "Weekly", "rate": 0.05, "per_agent_minimum": 0, "risk_weight": 3.0}
    defaults.update(fields)
    return SamplingPolicy.objects.create(**defaults)


@pytest.fixture
def channels(db):
    return make_channel("x"), make_channel("facebook")


@pytest.fixture
def agents(db):
    return [make_user(f"agent{i}", roles.AGENT) for i in range(3)]


# ---------- the design, in memory ----------


def test_inclusion_probabilities_are_proportional_capped_and_sum_to_n():
    p = inclusion_probabilities([1, 1, 1, 3, 30], 3)
    assert sum(p) == pytest.approx(3)
    assert p[4] == 1.0  # 30 / 36 * 3 > 1: taken for certain
    assert p[3] == pytest.approx(3 * p[0])  # the rest stay proportional
    assert p[0] == pytest.approx(2 / 6)
    assert inclusion_probabilities([1, 2], 5) == [1.0, 1.0]


def test_systematic_draw_takes_exactly_n_each_with_its_probability():
    probabilities = inclusion_probabilities([1] * 6 + [3] * 4, 4)
    counts = [0] * 10
    trials = 4000
    for seed in range(trials):
        picked = systematic_draw(probabilities, random.Random(seed))
        assert len(picked) == 4 and len(set(picked)) == 4
        for i in picked:
            counts[i] += 1
    for i, p in enumerate(probabilities):
        assert counts[i] / trials == pytest.approx(p, abs=0.03)


def _population(seed: int = 1) -> tuple[list[Unit], dict[int, float]]:
    """400 replies, 3 channels, 5 agents, a quarter risky and scoring lower."""
    rng = random.Random(seed)
    units, scores = [], {}
    for i in range(400):
        risky = rng.random() < 0.25
        unit = Unit(i, i, agent_id=i % 5, channel_id=1 + i % 3, risk_reasons=["x"] * risky)
        units.append(unit)
        scores[i] = rng.gauss(55 if risky else 85, 10)
    return units, scores


def test_horvitz_thompson_total_is_unbiased_over_200_seeds():
    units, scores = _population()
    true_total = sum(scores.values())
    estimates, plain = [], []
    for seed in range(200):
        picks = draw_replies(
            units, rate=0.1, risk_weight=4.0, per_agent_minimum=0, rng=random.Random(seed)
        )
        estimates.append(sum(scores[p.unit.reply_id] / p.probability for p in picks))
        plain.append(statistics.mean(scores[p.unit.reply_id] for p in picks) * len(units))
    assert statistics.mean(estimates) == pytest.approx(true_total, rel=0.01)
    # The unweighted estimate is biased: risky (low-scoring) replies are over-represented.
    assert statistics.mean(plain) < true_total * 0.97


def test_per_agent_top_up_keeps_the_estimate_close_to_unbiased():
    units, scores = _population()
    true_total = sum(scores.values())
    estimates = []
    for seed in range(200):
        picks = draw_replies(
            units, rate=0.02, risk_weight=4.0, per_agent_minimum=5, rng=random.Random(seed)
        )
        estimates.append(sum(scores[p.unit.reply_id] / p.probability for p in picks))
    assert statistics.mean(estimates) == pytest.approx(true_total, rel=0.03)


# ---------- runs against the database ----------


def test_each_channel_is_sampled_at_the_rate_rounded_up(channels, agents, qa):
    x, fb = channels
    make_replies(agents[0], x, 100)
    make_replies(agents[1], fb, 3)
    run = sampling.run_sampling(policy(rate=0.05), START, END, seed=1)
    assert run.population == 103
    per_channel = {c.pk: Sample.objects.filter(run=run, channel=c).count() for c in channels}
    assert per_channel == {x.pk: 5, fb.pk: 1}  # ceil(5.0) and ceil(0.15): small strata count
    assert run.sampled == 6
    for value in Sample.objects.filter(channel=x).values_list("inclusion_probability", flat=True):
        assert value == pytest.approx(0.05)
    assert Sample.objects.get(channel=fb).inclusion_probability == pytest.approx(1 / 3)


def test_an_instagram_channel_is_a_stratum_of_its_own(channels, agents, qa):
    x, _ = channels
    instagram = make_channel("instagram")
    make_replies(agents[0], x, 40)
    make_replies(agents[1], instagram, 30)
    run = sampling.run_sampling(policy(rate=0.1), START, END, seed=2)
    assert Sample.objects.filter(run=run, channel=instagram).count() == 3
    assert Sample.objects.filter(run=run, channel=x).count() == 4


def test_only_sent_replies_in_the_period_are_the_population(channels, agents, qa):
    x, _ = channels
    make_replies(agents[0], x, 4)
    make_replies(agents[0], x, 3, sent_at=END + timedelta(minutes=1))
    make_replies(agents[0], x, 2, sent_at=START - timedelta(minutes=1))
    make_replies(agents[0], x, 2, state=Reply.State.FAILED)
    run = sampling.run_sampling(policy(rate=1.0), START, END, seed=1)
    assert run.population == 4 and run.sampled == 4


def test_risky_replies_get_risk_weight_times_the_probability_and_say_why(channels, agents, qa):
    x, _ = channels
    make_replies(agents[0], x, 60)
    make_replies(agents[0], x, 10, case_fields={"sentiment": -0.6})
    make_replies(agents[0], x, 10, checks=[{"code": "tone", "severity": "warn", "message": "m"}])
    make_replies(agents[0], x, 10, override_reason="customer asked for it")
    make_replies(agents[0], x, 10, case_fields={"triage_decision": "escalate"})
    make_replies(agents[0], x, 5, checks=[{"code": "length", "severity": "ok", "message": "m"}])
    sampling.run_sampling(policy(rate=0.1, risk_weight=3.0), START, END, seed=4)
    # 65 plain and 40 risky replies, ceil(0.1 · 105) = 11 picks: c solves 65c + 40·3c = 11.
    plain_p, risky_p = 11 / 185, 3 * 11 / 185
    for sample in Sample.objects.all():
        expected = risky_p if sample.is_risky else plain_p
        assert sample.inclusion_probability == pytest.approx(expected)
    reasons = {tuple(s.risk_reasons) for s in Sample.objects.filter(is_risky=True)}
    known = {
        ("Negative case (sentiment -0.60)",),
        ("Guideline checks flagged: tone",),
        ("Blocking check overridden",),
        ("Case escalated",),
    }
    assert reasons <= known and reasons


def test_risk_reasons_name_every_cause():
    assert sampling.risk_reasons(-0.3, True, True, ["spelling", "tone"]) == [
        "Negative case (sentiment -0.30)",
        "Guideline checks flagged: spelling, tone",
        "Blocking check overridden",
        "Case escalated",
    ]
    assert sampling.risk_reasons(-0.05, False, False, []) == []


def test_agents_below_the_minimum_are_topped_up(channels, agents, qa):
    x, _ = channels
    make_replies(agents[0], x, 200)
    make_replies(agents[1], x, 8)
    run = sampling.run_sampling(policy(rate=0.02, per_agent_minimum=5), START, END, seed=3)
    counts = {a.pk: Sample.objects.filter(run=run, agent=a).count() for a in agents[:2]}
    assert counts == {agents[0].pk: 5, agents[1].pk: 5}  # 5 main picks in all, then top-ups
    # Agent 1 has 8 replies, each with p = 5/208 in the main draw; J of the 7 others is
    # Binomial(7, 5/208) and the top-up takes 5 - J of the 8 - J left.
    p = 5 / 208
    share = sum(math.comb(7, j) * p**j * (1 - p) ** (7 - j) * (5 - j) / (8 - j) for j in range(5))
    for value in Sample.objects.filter(agent=agents[1]).values_list(
        "inclusion_probability", flat=True
    ):
        assert value == pytest.approx(p + (1 - p) * share)
        assert 5 / 8 - 0.01 < value < 5 / 8 + 0.01  # about 5 of 8, as it should be


def test_top_up_probabilities_match_how_often_replies_are_really_picked():
    # Agent 1: 6 plain and 4 risky replies among 300 of agent 2, minimum 4.
    units = [
        Unit(i, i, agent_id=1 if i < 10 else 2, channel_id=1, risk_reasons=["r"] if i < 4 else [])
        for i in range(310)
    ]
    counts = [0] * 10
    assigned = {}
    trials = 3000
    for seed in range(trials):
        picks = draw_replies(
            units, rate=0.03, risk_weight=3, per_agent_minimum=4, rng=random.Random(seed)
        )
        for pick in picks:
            if pick.unit.agent_id == 1:
                counts[pick.unit.reply_id] += 1
                assigned[pick.unit.reply_id] = pick.probability
    for i in range(10):
        assert counts[i] / trials == pytest.approx(assigned[i], abs=0.03)
    assert assigned[0] > assigned[9]  # risky still likelier after the top-up


def test_every_reply_is_taken_when_an_agent_has_no_more_than_the_minimum():
    assert sampling.top_up_probabilities({0.1: 3, 0.3: 1}, 5) == {0.1: 1.0, 0.3: 1.0}


def test_no_reply_is_sampled_twice_across_runs(channels, agents, qa):
    x, _ = channels
    make_replies(agents[0], x, 30)
    p1 = policy(rate=0.5)
    p2 = policy(name="Second", rate=1.0)
    first = sampling.run_sampling(p1, START, END, seed=1)
    second = sampling.run_sampling(p2, START, END, seed=1)
    assert first.sampled == 15 and second.population == 15 and second.sampled == 15
    assert Sample.objects.values("reply").distinct().count() == 30
    # Running the same window again returns the run already made: nothing new.
    assert sampling.run_sampling(p1, START, END, seed=99).pk == first.pk
    assert Sample.objects.count() == 30


def test_same_seed_gives_the_same_sample(channels, agents, qa):
    x, fb = channels
    make_replies(agents[0], x, 50, case_fields={"sentiment": -0.4})
    make_replies(agents[1], x, 50)
    make_replies(agents[2], fb, 40)
    pol = policy(rate=0.1, per_agent_minimum=6)

    def picked(seed):
        run = sampling.run_sampling(pol, START, END, seed=seed)
        result = sorted(Sample.objects.filter(run=run).values_list("reply_id", flat=True))
        run.delete()
        return result

    assert picked(7) == picked(7)
    assert picked(7) != picked(8)


def test_ignored_cases_are_sampled_with_the_deciding_agent(channels, agents, qa):
    x, _ = channels
    in_period = START + timedelta(days=1)
    for i in range(30):
        make_bare_case(
            x,
            triage_decision="ignore",
            triage_decided_by=agents[i % 2],
            triage_decided_at=in_period,
        )
    make_bare_case(x, triage_decision="ignore", triage_decided_by=agents[0], triage_decided_at=END)
    make_bare_case(
        x, triage_decision="engage", triage_decided_by=agents[0], triage_decided_at=in_period
    )
    pol = policy(ignored_case_rate=0.1)
    run = sampling.run_sampling(pol, START, END, seed=2)
    ignored = Sample.objects.filter(run=run, is_ignored_case=True)
    assert ignored.count() == 3  # ceil(0.1 · 30)
    for sample in ignored:
        assert sample.reply_id is None
        assert sample.case.triage_decision == "ignore"
        assert sample.agent_id == sample.case.triage_decided_by_id
        assert sample.inclusion_probability == pytest.approx(0.1)
        review = sample.reviews.get()
        assert review.reply_id is None and review.case_id == sample.case_id
    # The same cases are never sampled again.
    later = sampling.run_sampling(pol, START - timedelta(days=7), END, seed=2)
    assert not Sample.objects.filter(run=later, case__in=[s.case_id for s in ignored]).exists()


def test_every_sample_gets_a_pending_review_round_robin_weighted_by_1_over_p(channels, agents):
    x, _ = channels
    specialists = [make_user(f"qa{i}", roles.QA) for i in range(3)]
    make_user("root_admin", roles.ADMIN)  # admins hold qa.* but are not in the round-robin
    make_replies(agents[0], x, 40)
    make_replies(agents[1], x, 20, case_fields={"sentiment": -0.9})
    run = sampling.run_sampling(policy(rate=0.25), START, END, seed=5)
    reviews = list(Review.objects.filter(sample__run=run).select_related("sample"))
    assert len(reviews) == run.sampled == 15
    per_reviewer = {s.pk: sum(r.reviewer_id == s.pk for r in reviews) for s in specialists}
    assert sorted(per_reviewer.values()) == [5, 5, 5]
    for review in reviews:
        assert review.kind == Review.Kind.SAMPLE
        assert review.status == Review.Status.PENDING
        assert review.reply_id == review.sample.reply_id
        assert review.agent_id == review.sample.agent_id
        assert review.weight == pytest.approx(1 / review.sample.inclusion_probability)


def test_a_specialist_never_reviews_their_own_reply(channels):
    x, _ = channels
    first, second = make_user("qa_a", roles.QA), make_user("qa_b", roles.QA)
    make_replies(first, x, 10)
    sampling.run_sampling(policy(rate=1.0), START, END, seed=1)
    assert set(Review.objects.values_list("reviewer_id", flat=True)) == {second.pk}


def test_a_reviewer_gets_only_their_teams_cases_and_shared_ones_go_to_anyone(channels, agents):
    x, facebook = channels
    care_qa, billing_qa = make_user("qa_care", roles.QA), make_user("qa_billing", roles.QA)
    x.team = Team.objects.create(name="Care")
    facebook.team = Team.objects.create(name="Billing")
    x.team.members.add(care_qa)
    facebook.team.members.add(billing_qa)
    x.save(update_fields=["team"])
    facebook.save(update_fields=["team"])
    shared = make_channel("x")
    make_replies(agents[0], x, 6)
    make_replies(agents[1], facebook, 6)
    make_replies(agents[2], shared, 6)
    run = sampling.run_sampling(policy(rate=1.0), START, END, seed=3)
    reviews = Review.objects.filter(sample__run=run)
    assert reviews.count() == 18
    by_channel = {
        channel: set(reviews.filter(case__channel=channel).values_list("reviewer", flat=True))
        for channel in (x, facebook, shared)
    }
    assert by_channel[x] == {care_qa.pk}
    assert by_channel[facebook] == {billing_qa.pk}
    assert by_channel[shared] == {care_qa.pk, billing_qa.pk}


def test_a_sample_only_its_author_could_review_stays_unassigned_and_is_shown(
    client, channels, supervisor
):
    x, _ = channels
    only = make_user("qa_alone", roles.QA)
    make_user("root_admin", roles.ADMIN)  # not in the round-robin while a specialist exists
    team = Team.objects.create(name="QA")
    team.supervisors.set([supervisor])
    team.members.set([only])
    pol = policy(rate=1.0)
    start, end = last_period(pol)
    make_replies(only, x, 4, sent_at=start + timedelta(hours=1))
    run = sampling.run_sampling(pol, start, end, seed=1)
    assert Sample.objects.filter(run=run).count() == 4
    assert not Review.objects.filter(sample__run=run).exists()  # not even as a last resort
    response = page(client, supervisor, policy=pol.pk)
    row = next(row for row in response.context["rows"] if row.agent.pk == only.pk)
    assert row.unassigned == 4
    assert "4 unassigned" in response.content.decode()


def test_without_a_qa_specialist_nothing_is_written(channels, agents):
    make_replies(agents[0], channels[0], 10)
    with pytest.raises(sampling.SamplingError):
        sampling.run_sampling(policy(), START, END, seed=1)
    assert not SamplingRun.objects.exists() and not Sample.objects.exists()


def columns(row) -> dict:
    """Every column but the primary key, as the model instance holds it."""
    fields = [f for f in row._meta.concrete_fields if not f.primary_key]
    return {f.attname: getattr(row, f.attname) for f in fields}


def test_samples_and_reviews_are_written_as_the_orm_would(channels, agents, qa):
    x, _ = channels
    [risky] = make_replies(agents[0], x, 1, case_fields={"sentiment": -0.5})
    [plain] = make_replies(agents[1], x, 1)
    ignored = make_bare_case(x, triage_decision="ignore", triage_decided_by=agents[2])
    run = SamplingRun.objects.create(
        policy=policy(), period_start=START, period_end=END, seed=1, created_at=END
    )
    picks = [
        Pick(Unit(risky.pk, risky.case_id, agents[0].pk, x.pk, ["Negative case (-0.50)"]), 0.25),
        Pick(Unit(plain.pk, plain.case_id, agents[1].pk, x.pk), 1 / 3),
        Pick(Unit(None, ignored.pk, agents[2].pk, x.pk), 0.1),
    ]
    rubric = default_rubric()
    sampling.write_samples(run, picks, [qa.pk], rubric)
    for pick in picks:
        unit = pick.unit
        sample = Sample.objects.get(case_id=unit.case_id)
        assert columns(sample) == columns(
            Sample(
                run=run,
                reply_id=unit.reply_id,
                case_id=unit.case_id,
                agent_id=unit.agent_id,
                channel_id=unit.channel_id,
                is_ignored_case=unit.reply_id is None,
                is_risky=unit.is_risky,
                risk_reasons=unit.risk_reasons,
                inclusion_probability=pick.probability,
                created_at=END,
            )
        )
        assert columns(sample.reviews.get()) == columns(
            Review(
                kind=Review.Kind.SAMPLE,
                sample=sample,
                reply_id=unit.reply_id,
                case_id=unit.case_id,
                agent_id=unit.agent_id,
                reviewer=qa,
                rubric=rubric,
                weight=1 / pick.probability,
                created_at=END,
            )
        )


def test_a_reply_is_flagged_only_by_checks_that_warned_or_blocked(channels, agents):
    stored = {
        "none": [],
        "ok only": [{"code": "length", "severity": "ok", "message": ""}],
        "warned and blocked": [
            {"code": "tone", "severity": "warn", "message": "curt"},
            {"code": "spelling", "severity": "block", "message": "recieve"},
            {"code": "tone", "severity": "warn", "message": "curt again"},
            {"code": "length", "severity": "ok", "message": ""},
        ],
        "not a list": {"code": "tone", "severity": "warn"},
    }
    reply_ids = {
        name: make_replies(agents[0], channels[0], 1, checks=checks)[0].pk
        for name, checks in stored.items()
    }
    reasons = {u.reply_id: u.risk_reasons for u in sampling.reply_population(START, END)}
    assert {name: reasons[pk] for name, pk in reply_ids.items()} == {
        "none": [],
        "ok only": [],
        "warned and blocked": ["Guideline checks flagged: spelling, tone"],
        "not a list": [],
    }


# ---------- periods, beat, run now ----------


def test_periods_are_calendar_weeks_and_days():
    weekly = SamplingPolicy(period_days=7)
    wednesday = START + timedelta(days=2, hours=15)
    assert sampling.period_bounds(weekly, wednesday) == (START, END)
    daily = SamplingPolicy(period_days=1)
    assert sampling.period_bounds(daily, wednesday) == (
        START + timedelta(days=2),
        START + timedelta(days=3),
    )


def test_beat_samples_the_last_complete_period_once(channels, agents, qa, monkeypatch):
    x, _ = channels
    make_replies(agents[0], x, 20)
    make_replies(agents[0], x, 5, sent_at=END + timedelta(hours=2))  # the current period
    pol = policy(rate=0.5)
    policy(name="Off", enabled=False)
    monkeypatch.setattr(timezone, "now", lambda: END + timedelta(days=3))
    made = run_due_sampling_now()
    assert len(made) == 1
    run = SamplingRun.objects.get(pk=made[0])
    assert (run.policy_id, run.period_start, run.period_end) == (pol.pk, START, END)
    assert run.population == 20 and run.sampled == 10
    assert run_due_sampling_now() == []  # idempotent


def test_run_now_then_beat_completes_the_period_without_overlap(channels, agents, qa, monkeypatch):
    x, _ = channels
    make_replies(agents[0], x, 10, sent_at=START + timedelta(days=1))
    make_replies(agents[0], x, 6, sent_at=START + timedelta(days=5))
    pol = policy(rate=1.0)
    midweek = START + timedelta(days=3)
    assert sampling.current_window(pol, midweek) == (START, midweek)
    early = sampling.run_sampling(pol, *sampling.current_window(pol, midweek), seed=1)
    assert early.sampled == 10
    monkeypatch.setattr(timezone, "now", lambda: END + timedelta(hours=1))
    assert sampling.due_window(pol, END + timedelta(hours=1)) == (midweek, END)
    [late_id] = run_due_sampling_now()
    assert SamplingRun.objects.get(pk=late_id).sampled == 6
    assert Sample.objects.count() == 16


def test_earlier_windows_count_towards_the_minimum(channels, agents, qa):
    x, _ = channels
    make_replies(agents[0], x, 5, sent_at=START + timedelta(days=1))
    make_replies(agents[0], x, 50, sent_at=START + timedelta(days=4))
    pol = policy(rate=1.0, per_agent_minimum=5)
    midweek = START + timedelta(days=3)
    sampling.run_sampling(pol, START, midweek, seed=1)
    pol.rate = 0.02
    pol.save()
    late = sampling.run_sampling(pol, midweek, END, seed=1)
    assert late.sampled == 1  # ceil(0.02 · 50); the minimum of 5 was met by the first window


# ---------- the sampling page and planner ----------


def last_period(pol):
    current_start, _ = sampling.period_bounds(pol, timezone.now())
    return sampling.period_bounds(pol, current_start - timedelta(seconds=1))


def page(client, user, **params):
    client.force_login(user)
    return client.get(reverse("qa:sampling"), params)


@pytest.fixture
def desk(channels, agents, qa):
    """Last period: agent0 sent 200 replies (50 sampled), agent1 sent 8, agent2 none."""
    pol = policy(rate=0.05, per_agent_minimum=5, target_margin=0.10)
    start, end = last_period(pol)
    make_replies(agents[0], channels[0], 200, sent_at=start + timedelta(hours=2))
    make_replies(agents[1], channels[1], 8, sent_at=start + timedelta(hours=3))
    replies = Reply.objects.filter(author=agents[0]).order_by("id")[:50]
    run = SamplingRun.objects.create(policy=pol, period_start=start, period_end=end, seed=1)
    Sample.objects.bulk_create(
        Sample(
            run=run,
            reply=r,
            case_id=r.case_id,
            agent=agents[0],
            channel=channels[0],
            inclusion_probability=0.25,
            is_risky=i < 10,
        )
        for i, r in enumerate(replies)
    )
    return pol


def test_the_page_shows_sampled_of_sent_and_the_margin_with_fpc(client, desk, supervisor, agents):
    response = page(client, make_user("root", roles.ADMIN))
    assert response.status_code == 200
    rows = {r.agent.pk: r for r in response.context["rows"]}
    alice = rows[agents[0].pk]
    assert (alice.sent, alice.sampled, alice.risky, alice.reviewed) == (200, 50, 10, 0)
    # 1.96 · √(0.25/50) · √(150/199) = 0.1203
    assert alice.margin == pytest.approx(1.96 * math.sqrt(0.25 / 50) * math.sqrt(150 / 199))
    assert alice.needed == 66  # 96.04 / (1 + 95.04 / 200) = 65.1 → 66
    assert alice.by_rate == 10  # ceil(0.05 · 200)
    assert alice.short_by == 56
    bob = rows[agents[1].pk]
    assert (bob.sent, bob.sampled, bob.needed, bob.by_rate) == (8, 0, 8, 5)  # minimum 5 of 8
    assert bob.margin_by_rate == pytest.approx(margin_of_error(5, 8))
    assert agents[2].pk not in rows
    html = response.content.decode()
    assert "±12" in html and "56 short" in html and "50 <span" in html


def test_satisfaction_surveys_are_not_counted_as_replies_to_sample(client, desk, agents, channels):
    """The sampler leaves surveys out (a survey is the desk's text, not the agent's); the
    page's sent counts, and so its "needed" numbers, must too."""
    from csat.models import Survey

    start, _ = last_period(desk)
    surveys = make_sent_replies(
        agents[1], channels[1], 3, sent_at=start + timedelta(hours=4), is_private=True
    )
    Survey.objects.bulk_create(
        Survey(
            case_id=reply.case_id,
            channel=channels[1],
            customer_id=reply.case.customer_id,
            conversation_key=reply.case.conversation_key,
            agent=agents[1],
            state=Survey.State.QUEUED,
            reply=reply,
        )
        for reply in surveys
    )
    rows = {r.agent.pk: r for r in page(client, make_user("root", roles.ADMIN)).context["rows"]}
    assert rows[agents[1].pk].sent == 8


def test_planner_numbers_follow_a_what_if_margin(client, desk, qa, agents):
    client.force_login(qa)
    response = client.get(reverse("qa:planner"), {"target_margin": "5"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()  # the agents table only
    rows = {r.agent.pk: r for r in response.context["rows"]}
    # 384.16 / (1 + 383.16 / 200) = 131.75 → 132
    assert rows[agents[0].pk].needed == required_sample_size(200, 0.05) == 132


def test_supervisor_sets_the_target_margin(client, desk, supervisor):
    client.force_login(supervisor)
    url = reverse("qa:planner")
    response = client.post(url, {"policy": desk.pk, "target_margin": "7.5"})
    assert response.status_code == 302
    desk.refresh_from_db()
    assert desk.target_margin == pytest.approx(0.075)
    response = client.post(url, {"policy": desk.pk, "target_margin": "0"})
    assert response.status_code == 400
    assert "at least ±1 point" in response.content.decode()
    desk.refresh_from_db()
    assert desk.target_margin == pytest.approx(0.075)


def test_supervisor_runs_sampling_now_for_the_current_period(client, desk, supervisor, agents):
    start, _ = sampling.period_bounds(desk, timezone.now())
    make_replies(
        agents[1], make_channel("x"), 12, sent_at=max(start, timezone.now() - timedelta(minutes=5))
    )
    client.force_login(supervisor)
    response = client.post(reverse("qa:sampling"), {"policy": desk.pk})
    assert response.status_code == 302 and "period=current" in response["Location"]
    run = SamplingRun.objects.get(policy=desk, period_start=start)
    assert run.population == 12 and run.sampled == 5  # the per-agent minimum
    assert Review.objects.filter(sample__run=run, status=Review.Status.PENDING).count() == 5


def test_qa_specialist_reads_but_cannot_change(client, desk, qa):
    response = page(client, qa)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Run sampling now" not in html and "Save target" not in html
    assert client.post(reverse("qa:sampling"), {"policy": desk.pk}).status_code == 403
    response = client.post(reverse("qa:planner"), {"policy": desk.pk, "target_margin": "5"})
    assert response.status_code == 403
    assert not SamplingRun.objects.exclude(seed=1).exists()
    desk.refresh_from_db()
    assert desk.target_margin == pytest.approx(0.10)


def test_supervisor_sees_only_the_agents_of_their_teams(client, desk, supervisor, agents):
    response = page(client, supervisor)
    assert response.context["rows"] == [] and "from your teams" in response.content.decode()
    team = Team.objects.create(name="Tier 1")
    team.supervisors.add(supervisor)
    team.members.add(agents[1])
    response = page(client, supervisor)
    assert [r.agent.pk for r in response.context["rows"]] == [agents[1].pk]
    assert "Run sampling now" in response.content.decode()


@pytest.mark.parametrize("who", ["agent", "outsider"])
def test_agents_and_outsiders_may_not_see_sampling(client, desk, who, request):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(reverse("qa:sampling")).status_code == 403
    assert client.get(reverse("qa:planner")).status_code == 403
    assert client.post(reverse("qa:sampling"), {"policy": desk.pk}).status_code == 403


def test_anonymous_is_sent_to_log_in(client, desk):
    response = client.get(reverse("qa:sampling"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert client.post(reverse("qa:planner")).status_code == 302


def test_page_without_a_policy_says_so(client, qa):
    response = page(client, qa)
    assert response.status_code == 200 and "No sampling policy yet" in response.content.decode()


def test_hostile_agent_names_are_escaped(client, desk, agents, qa):
    agents[0].first_name = '<script>alert("x")</script>'
    agents[0].save()
    html = page(client, qa).content.decode()
    assert '<script>alert("x")</script>' not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("count", [5, 50])
def test_page_queries_do_not_grow_with_agents(
    client, channels, qa, count, django_assert_num_queries
):
    pol = policy()
    start, _ = last_period(pol)
    agent_group = Group.objects.get(name=roles.AGENT)
    for i in range(count):
        user = User.objects.create(username=f"bulk{i}")  # no password hashing: fast
        user.groups.add(agent_group)
        make_replies(user, channels[0], 2, sent_at=start + timedelta(hours=1))
    sampling.run_sampling(pol, start, start + timedelta(days=7), seed=1)
    client.force_login(qa)
    client.get(reverse("qa:sampling"))  # warm the session and permission caches
    with django_assert_num_queries(10):
        response = client.get(reverse("qa:sampling"))
    assert len(response.context["rows"]) == count
