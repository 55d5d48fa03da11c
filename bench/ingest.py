"""Benchmarks of the listening pipeline, run by `python -m bench` (`make bench`).

Each figure is printed as one `name: value` line. The database must be a PostgreSQL database
reserved for benchmarks: its listening and cases tables are emptied.

* ingest_mentions_per_s: the synthetic posts through `ingest` in pages of 100, as the desk
  runs its pollers: one per channel, POLLERS channels at once (a Celery worker's default
  concurrency is the number of cores), each poller a process with its own connection;
* ingest_one_poller_mentions_per_s: the same posts through one poller, page after page;
* ingest_naive_mentions_per_s: one post at a time with get_or_create, a transaction each;
* ingest_speedup_vs_naive: one poller against the naive path (one stream against one stream);
* copy_rows_per_s: a raw COPY of the same mention rows into an index-free table, the
  physical limit of this machine.
"""

import io
import multiprocessing
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, connection, connections, transaction
from tqdm import tqdm

from cases.models import Case, CaseStatus, Customer, Identity
from listening.ingest import ingest
from listening.models import Channel, Mention
from listening.posts import Author, InboundPost
from listening.radar import score_post, suggest_triage

PAGE_SIZE = 100  # what one X or Graph page holds, i.e. what a poller hands to ingest
POLLERS = max(2, os.cpu_count() or 2)

_OPENINGS = [
    "@acme_support my order {n} arrived broken, I want a refund",
    "@acme_support how do I change the address on order {n}?",
    "Three days without internet. @acme_support this is unacceptable, I will cancel",
    "Thanks @acme_support, the technician fixed it in ten minutes 👍🏽",
    "@acme_support ¿cuándo llega mi pedido {n}? Nadie responde 😡",
    "@acme_support mon colis {n} est cassé, je veux un remboursement",
    "@acme_support Paket {n} ist kaputt, bitte um Erstattung",
    "FREE crypto airdrop!!! click here http://spam.example/{n} http://spam.example/x",
    "@acme_support you are all clowns, pathetic company",
    "Journalist at the Daily Ledger here, @acme_support, any comment on the outage?",
]


def synthetic_posts(count: int, authors: int, seed: int = 7) -> list[InboundPost]:
    """`count` X posts from `authors` people; about a third continue an earlier conversation."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    people = [
        Author(
            external_id=str(5_000_000 + i),
            handle=f"person{i}",
            name=f"Person {i}",
            followers=int(rng.lognormvariate(5, 2)),
            verified=rng.random() < 0.01,
            profile_url=f"https://x.com/person{i}",
        )
        for i in range(authors)
    ]
    posts = []
    conversations: list[tuple[Author, str]] = []
    for n in range(count):
        external_id = str(1_900_000_000_000_000_000 + n)
        if conversations and rng.random() < 0.33:
            person, conversation = rng.choice(conversations)
            kind, in_reply_to = "reply", conversation
        else:
            person, conversation = rng.choice(people), external_id
            conversations.append((person, conversation))
            kind, in_reply_to = "mention", ""
        posts.append(
            InboundPost(
                network="x",
                external_id=external_id,
                kind=kind,
                text=rng.choice(_OPENINGS).format(n=n),
                posted_at=start + timedelta(seconds=n * 3),
                author=person,
                conversation_id=conversation,
                in_reply_to_id=in_reply_to,
                lang="en",
                url=f"https://x.com/{person.handle}/status/{external_id}",
                metrics={"likes": rng.randrange(5), "reposts": 0, "replies": 0, "quotes": 0},
            )
        )
    return posts


def _empty_tables() -> None:
    tables = [model._meta.db_table for model in (Mention, Case, Identity, Customer, Channel)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _fresh_start() -> None:
    """Empty the tables and flush what earlier phases left in the WAL to disk.

    Without the checkpoint, the WAL written by the previous phase (or the previous command)
    makes PostgreSQL checkpoint at some random moment of the next one, and each page touched
    after it is logged in full: the same run would measure 8,000 or 11,000 posts a second
    depending on where that moment falls. A role without the right to CHECKPOINT skips it.
    """
    _empty_tables()
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute("CHECKPOINT")
        except DatabaseError:
            pass


def _bench_channel(n: int = 1) -> Channel:
    channel = Channel(
        name=f"Bench {n}", network="x", handle=f"@acme_support{n}", external_account_id=str(n)
    )
    channel.credentials = {"bearer_token": "bench"}
    channel.save()
    return channel


def ingest_naive(channel: Channel, post: InboundPost) -> None:
    """The way a simple desk would write one post: get_or_create each row, one transaction."""
    with transaction.atomic():
        score = score_post(post)
        identity = Identity.objects.filter(network="x", external_id=post.author.external_id).first()
        if identity is None:
            customer = Customer.objects.create(display_name=post.author.name)
            identity, _ = Identity.objects.get_or_create(
                network="x",
                external_id=post.author.external_id,
                defaults={
                    "customer": customer,
                    "handle": post.author.handle,
                    "name": post.author.name,
                    "followers": post.author.followers,
                },
            )
        suggestion, reason = suggest_triage(score, identity.followers, identity.verified)
        case, _ = Case.objects.get_or_create(
            channel=channel,
            customer_id=identity.customer_id,
            conversation_key=post.conversation_id,
            status__in=[CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING],
            defaults={
                "status": CaseStatus.NEW,
                "priority": score.priority,
                "triage_suggestion": suggestion,
                "triage_reason": reason,
                "opened_at": post.posted_at,
                "last_inbound_at": post.posted_at,
            },
        )
        Mention.objects.get_or_create(
            channel=channel,
            external_id=post.external_id,
            defaults={
                "case": case,
                "author": identity,
                "kind": post.kind,
                "text": post.text,
                "conversation_id": post.conversation_id,
                "posted_at": post.posted_at,
                "priority": score.priority,
                "sentiment": score.sentiment,
            },
        )
        case.mention_count += 1
        case.last_inbound_at = post.posted_at
        case.save(update_fields=["mention_count", "last_inbound_at"])


def _timed(
    label: str, posts: list[InboundPost], step: Callable[[list[InboundPost]], None], batch: int
) -> float:
    started = time.perf_counter()
    with tqdm(total=len(posts), desc=label, unit="post", leave=False) as bar:
        for i in range(0, len(posts), batch):
            chunk = posts[i : i + batch]
            step(chunk)
            bar.update(len(chunk))
    return time.perf_counter() - started


def _poll_pages(channel: Channel, posts: list[InboundPost]) -> None:
    """What a poller does with its pages: ingest each, the cursor moving with it."""
    for i in range(0, len(posts), PAGE_SIZE):
        page = posts[i : i + PAGE_SIZE]
        ingest(channel, page, {"mentions": page[-1].external_id})


def split_by_author(posts: list[InboundPost], pollers: int) -> list[list[InboundPost]]:
    """The posts in `pollers` shares, all of one author's posts (and so threads) in one."""
    shares: list[list[InboundPost]] = [[] for _ in range(pollers)]
    for post in posts:
        shares[int(post.author.external_id) % pollers].append(post)
    return shares


def _concurrent_pollers(posts: list[InboundPost], pollers: int) -> float:
    """Seconds for `pollers` processes, one channel each, to ingest `posts` between them.

    Each customer writes to one channel (`split_by_author`), so the pollers share tables and
    indexes but not rows, as separate brand accounts do. Forked processes open
    their own connections; the clock starts once every one of them is ready.
    """
    channels = [_bench_channel(n) for n in range(1, pollers + 1)]
    shares = split_by_author(posts, pollers)
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(pollers + 1)
    connections.close_all()  # a forked child must not share the parent's socket

    def poller(channel: Channel, share: list[InboundPost]) -> None:
        ready.wait()
        _poll_pages(channel, share)
        connections.close_all()

    processes = [
        context.Process(target=poller, args=(channel, share))
        for channel, share in zip(channels, shares, strict=True)
    ]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    if any(process.exitcode for process in processes):
        raise RuntimeError("a bench poller failed (see its traceback above)")
    return elapsed


def _copy_rows(posts: list[InboundPost]) -> float:
    """Seconds for a raw COPY of the same mention rows into an index-free copy of the table."""
    buffer = io.StringIO()
    for i, post in enumerate(posts):
        text = post.text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")
        buffer.write(
            f"{i + 1}\t1\t{i % 1000 + 1}\t{i % 1000 + 1}\t{post.external_id}\t{post.kind}\tf\t"
            f"{text}\ten\t{post.conversation_id}\t\t{post.url}\t{{}}\t{post.posted_at.isoformat()}"
            f"\t{post.posted_at.isoformat()}\t0\t0\t[]\t\\N\n"
        )
    columns = (
        "id, channel_id, case_id, author_id, external_id, kind, is_private, text, lang, "
        "conversation_id, in_reply_to_id, url, metrics, posted_at, received_at, sentiment, "
        "priority, priority_reasons, deleted_at"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy (LIKE listening_mention INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        buffer.seek(0)
        started = time.perf_counter()
        cursor.copy_expert(f"COPY bench_copy ({columns}) FROM STDIN", buffer)
        return time.perf_counter() - started


def run(
    emit: Callable[[str, object], None], *, posts: int = 100_000, naive_posts: int = 100_000
) -> None:
    """Ingest throughput: concurrent pollers, one poller, one-by-one get_or_create, raw COPY."""
    sample = synthetic_posts(posts, authors=max(10, posts // 5))
    emit("ingest_posts", posts)
    emit("ingest_pollers", POLLERS)

    # First, while this process has no threads (a progress bar starts one): it forks.
    _fresh_start()
    elapsed = _concurrent_pollers(sample, POLLERS)
    assert Mention.objects.count() == posts, "concurrent ingest lost or doubled posts"
    rate = posts / elapsed
    emit("ingest_seconds", round(elapsed, 2))
    emit("ingest_mentions_per_s", round(rate))

    _fresh_start()
    channel = _bench_channel()
    elapsed = _timed("ingest", sample, lambda page: _poll_pages(channel, page), PAGE_SIZE)
    assert Mention.objects.count() == posts, "bulk ingest lost or doubled posts"
    one_poller_rate = posts / elapsed
    emit("ingest_one_poller_mentions_per_s", round(one_poller_rate))

    naive_sample = sample[:naive_posts]
    _fresh_start()
    channel = _bench_channel()
    elapsed = _timed("naive", naive_sample, lambda chunk: ingest_naive(channel, chunk[0]), batch=1)
    assert Mention.objects.count() == len(naive_sample)
    naive_rate = len(naive_sample) / elapsed
    emit("ingest_naive_posts", len(naive_sample))
    emit("ingest_naive_mentions_per_s", round(naive_rate))
    emit("ingest_speedup_vs_naive", round(one_poller_rate / naive_rate, 1))

    copy_seconds = _copy_rows(sample)
    emit("copy_rows_per_s", round(posts / copy_seconds))
    emit("ingest_fraction_of_copy", round(rate / (posts / copy_seconds), 3))
    _empty_tables()
