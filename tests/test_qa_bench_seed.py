"""seed_qa (replies and reviews at scale, in SQL) and the QA benchmark, on a small desk."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from bench import qa_dashboard as bench
from bench import qa_sampling
from cases.models import Reply
from qa import dashboard as dash
from qa.management.commands.seed_qa import seed
from qa.models import Review
from qa.scoring import score_review
from socialdesk.models import Team


@pytest.fixture
def small_desk(db):
    call_command("seed_desk", cases=300, mentions=600, verbosity=0)


def test_seed_qa_adds_replies_and_scored_reviews(small_desk):
    result = seed(replies=200, reviews=60, progress=False)
    assert (result.replies, result.reviews) == (200, 60)
    assert Reply.objects.filter(state=Reply.State.SENT).count() == 200
    reviews = Review.objects.filter(status=Review.Status.SUBMITTED).prefetch_related(
        "scores__criterion"
    )
    assert reviews.count() == 60
    assert result.criterion_scores == 60 * reviews[0].rubric.criteria.count()
    # The SQL score is the documented formula (qa.scoring) for every review.
    for review in reviews:
        expected, failed = score_review({s.criterion: s.value for s in review.scores.all()})
        assert review.score == pytest.approx(expected, abs=0.051)
        assert review.critical_failed == failed
        assert review.agent_id == review.reply.author_id
    assert sorted({round(r.weight, 4) for r in reviews}) == [0.3333, 1.0]
    qa_teams = Team.objects.exclude(name__startswith="Seed team")  # seed_desk's own ten
    assert qa_teams.count() == 3
    assert set(qa_teams.values_list("supervisors__username", flat=True)) == {"bench.supervisor"}


def test_bench_emits_the_dashboard_figures(small_desk, monkeypatch):
    monkeypatch.setattr(bench, "REPLIES", 150)
    monkeypatch.setattr(bench, "REVIEWS", 50)
    monkeypatch.setattr(bench, "REQUESTS", 3)
    monkeypatch.setattr(qa_sampling, "run_sampling_bench", lambda emit: emit("sampling_s", 0.1))
    figures = {}
    bench.run(lambda name, value: figures.__setitem__(name, value), cases=10)
    assert figures["seed_qa_reviews"] == 50
    for name in ("dashboard_p95_ms", "dashboard_12w_p95_ms", "dashboard_uncached_p95_ms"):
        assert isinstance(figures[name], float) and figures[name] > 0
    assert 5 <= figures["dashboard_queries"] <= 25
    assert figures["sampling_s"] == 0.1


def test_service_figures_are_kept_and_shared(small_desk, admin, monkeypatch):
    monkeypatch.setattr("qa.service.SERVICE_CACHE_SECONDS", 300)
    cache.clear()
    first = dash.build(admin, 4)
    from listening.models import Mention

    Mention.objects.update(sentiment=-0.9)  # would change every volume figure
    assert dash.build(admin, 4).volume == first.volume  # from the cache
    cache.clear()
    assert dash.build(admin, 4).volume != first.volume
