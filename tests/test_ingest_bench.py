"""The listening benchmark on a small sample: every figure printed, no post lost or doubled."""

import pytest

from bench import ingest as bench
from listening.models import Mention


@pytest.mark.django_db(transaction=True)  # the concurrent pollers are other processes
def test_bench_prints_every_ingest_figure():
    figures: dict[str, object] = {}

    bench.run(lambda name, value: figures.setdefault(name, value), posts=600, naive_posts=40)

    assert figures["ingest_posts"] == 600
    assert figures["ingest_pollers"] == bench.POLLERS >= 2
    assert figures["ingest_naive_posts"] == 40
    for name in (
        "ingest_mentions_per_s",
        "ingest_one_poller_mentions_per_s",
        "ingest_naive_mentions_per_s",
        "ingest_speedup_vs_naive",
        "copy_rows_per_s",
    ):
        assert figures[name] > 0, name
    assert Mention.objects.count() == 0  # the bench leaves its tables empty


def test_each_conversation_goes_to_one_poller_and_no_post_is_dropped():
    posts = bench.synthetic_posts(300, authors=40)

    shares = bench.split_by_author(posts, 3)

    assert sorted(p.external_id for share in shares for p in share) == sorted(
        p.external_id for p in posts
    )
    poller_of = {p.conversation_id: n for n, share in enumerate(shares) for p in share}
    assert sum(len(share) for share in shares) == 300
    for n, share in enumerate(shares):
        assert share, "every poller gets posts"
        assert all(poller_of[p.conversation_id] == n for p in share)
