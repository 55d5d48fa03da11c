"""Benchmarks of QA, run by `python -m bench` (`make bench`) after the ingest and inbox ones.

Seeds 1,000,000 sent replies and 50,000 submitted reviews (qa.management.commands.seed_qa;
it seeds the desk's cases first when there are too few) unless the database already holds
them, counts the mentions for the dashboard as beat does every minute (qa.volume), then:

* dashboard_p95_ms: GET /qa/dashboard/ (last 4 weeks) signed in as an admin, who sees every
  team; server time through django.test.Client in this process, 30 requests. Every request
  recomputes the QA figures; the desk-wide service figures (response times, volume, spikes)
  come from their cache (qa.dashboard.SERVICE_CACHE_SECONDS), filled by a warm-up request
  (target < 300 ms);
* dashboard_12w_p95_ms: the same over 12 weeks (the whole seeded review history);
* dashboard_uncached_p95_ms: the 4-week page with the cache emptied before each of 10 requests:
  what the first view after the service figures expire costs (response-time percentiles over
  the period's cases, read from an index; volume and spikes from the mention counts);
* dashboard_queries: SQL queries per dashboard page;
* sampling_s etc.: bench.qa_sampling.run_sampling_bench (a week's sampling of 100,000 replies).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from bench import qa_sampling
from bench.inbox import p95, timed_gets
from cases.models import Reply
from qa.management.commands.seed_qa import seed
from qa.models import Review
from qa.volume import count_new_mentions
from socialdesk import roles

REPLIES = 1_000_000
REVIEWS = 50_000
REQUESTS = 30


def _ensure_seeded(emit: Callable[[str, object], None]) -> None:
    replies = Reply.objects.filter(state=Reply.State.SENT).count()
    reviews = Review.objects.filter(status=Review.Status.SUBMITTED).count()
    if replies >= REPLIES and reviews >= REVIEWS:
        return
    result = seed(replies=REPLIES, reviews=REVIEWS, reset=True)
    emit("seed_qa_replies", result.replies)
    emit("seed_qa_reviews", result.reviews)
    emit("seed_qa_seconds", result.seconds)


def _admin() -> object:
    roles.sync_roles()
    User = get_user_model()
    user, created = User.objects.get_or_create(username="bench.admin", defaults={"is_staff": True})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=roles.ADMIN))
    return user


def run(emit: Callable[[str, object], None], **kwargs: object) -> None:
    _ensure_seeded(emit)
    count_new_mentions()
    client = Client()
    client.force_login(_admin())
    url = reverse("qa:dashboard")
    plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        STORAGES={**settings.STORAGES, "staticfiles": plain_static},
        SECURE_SSL_REDIRECT=False,
    ):
        client.get(url)  # warm-up: templates, buffers, and the service figures' cache
        client.get(url + "?weeks=12")
        emit("dashboard_p95_ms", p95(timed_gets(client, [url] * REQUESTS)))
        emit("dashboard_12w_p95_ms", p95(timed_gets(client, [url + "?weeks=12"] * REQUESTS)))
        emit("dashboard_uncached_p95_ms", p95(timed_gets(client, [url] * 10, clear_cache=True)))
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        emit("dashboard_queries", len(queries))

    qa_sampling.run_sampling_bench(emit)
