"""One fault run: traffic through the real desk while faults hit its real processes.

The harness publishes customer posts to the simulator, queues replies with
`cases.sending.do_queue_reply` on the cases the intake opened (so the real Celery send path
posts them), and injects each fault at a moment it picks on purpose (a worker child killed
while it reads a page or while its send is in flight, a worker frozen between its claim and its
post, the database cut under an ingest...). Then it lets everything settle and counts, from the
simulator's own records and the desk's database, what was lost, doubled or left undecided.

It runs in the desk's Django settings (DATABASE_URL and REDIS_URL point at the run's own
servers, see `__main__`); only this module's callers start processes (`stack.Stack`).
"""

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg2
import redis
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from django.db import connection as django_connection

from socialdesk.chaos.plan import (
    FB_PAGE,
    SEND_FAULTS,
    X_ACCOUNT,
    Figures,
    Plan,
    stream_of,
)
from socialdesk.chaos.report import Counting, say
from socialdesk.chaos.sim import Sim
from socialdesk.chaos.stack import DATABASE, Stack


class Harness(Counting):
    def __init__(self, stack: Stack, plan: Plan, seed: int = 1) -> None:
        self.stack = stack
        self.plan = plan
        self.seed = seed
        self.sim = Sim(stack.sim_url)
        self.published: dict[str, list[str]] = {"x": [], "facebook": []}
        self.labels: dict[str, str] = {}  # post id -> how it was published, for the diagnosis
        self.published_at: dict[str, tuple[float, float]] = {}  # post id -> publish call span
        self.streams: dict[str, str] = {}  # post id -> the intake stream that reads it
        self.replied_mentions: set[int] = set()
        self.reply_ids: list[int] = []
        self.faults: Counter[str] = Counter()
        self.frozen: str | None = None
        self.pending: list[Callable[[], bool]] = []  # checks run each tick until they say done
        self.dripping: list[Callable[[], bool]] = []
        self.last_fault_at = time.monotonic()
        self.started = time.monotonic()
        self._gaps: dict[str, list[tuple[float, float]]] = {}

    # ---- set-up ---------------------------------------------------------------------------

    def set_up(self) -> None:
        from listening.models import Channel, ListeningRule, Network

        call_command("migrate", verbosity=0, interactive=False)
        self.agent = User.objects.create_superuser("chaos_agent", "agent@chaos.invalid", None)
        x = Channel(
            network=Network.X,
            name="Acme on X",
            handle="acme_support",
            external_account_id=X_ACCOUNT,
            poll_interval=5,
        )
        x.credentials = {"bearer_token": "chaos-x-token", "user_id": X_ACCOUNT}
        x.save()
        ListeningRule.objects.create(channel=x, name="Brand name", query="acme")
        fb = Channel(
            network=Network.FACEBOOK,
            name="Acme on Facebook",
            handle="Acme",
            external_account_id=FB_PAGE,
            poll_interval=5,
        )
        fb.credentials = {"page_access_token": "chaos-page-token"}
        fb.save()
        self.channels = {"x": x.pk, "facebook": fb.pk}

    # ---- traffic --------------------------------------------------------------------------

    def publish(self, network: str, count: int, kind: str | None = None) -> None:
        account = X_ACCOUNT if network == "x" else FB_PAGE
        while count > 0:
            step = min(count, 2_000)
            before = time.time()
            published = self.sim.publish(network, account, step, kind)
            ids = [external_id for external_id, _ in published]
            self.streams.update(
                (external_id, stream_of(network, made)) for external_id, made in published
            )
            self.published_at.update(dict.fromkeys(ids, (before, time.time())))
            self.published[network] += ids
            label = f"{network}_{kind}_backlog" if kind else f"{network}_traffic"
            self.labels.update(dict.fromkeys(ids, label))
            count -= step

    @property
    def posts_published(self) -> int:
        return sum(len(ids) for ids in self.published.values())

    def publish_share(self, count: int) -> None:
        """`count` posts of every kind, split between the networks as traffic is."""
        x = round(count * 0.6)
        self.publish("x", x)
        self.publish("facebook", count - x)

    def queue_replies(self, count: int, network: str | None = None) -> int:
        """Queue up to `count` public replies on stored customer posts; how many were queued."""
        from cases.sending import do_queue_reply
        from listening.models import Mention

        if count <= 0:
            return 0
        with self.database():
            mentions = Mention.objects.filter(is_private=False, case__isnull=False, deleted_at=None)
            if network:
                mentions = mentions.filter(channel_id=self.channels[network])
            candidates = list(
                mentions.exclude(pk__in=self.replied_mentions)
                .select_related("case", "case__channel")
                .order_by("-pk")[: count * 2]
            )
            queued = 0
            for mention in candidates:
                if queued == count:
                    break
                self.replied_mentions.add(mention.pk)
                number = len(self.reply_ids) + 1
                text = (
                    f"Thanks for telling us, we are looking into it now. Ref chaos-{self.seed}-"
                    f"{number}"
                )
                try:
                    reply = do_queue_reply(
                        mention.case,
                        author=self.agent,
                        text=text,
                        is_private=False,
                        in_reply_to=mention,
                    )
                except ValueError:
                    continue
                self.reply_ids.append(reply.pk)
                queued += 1
            return queued
        return 0

    def replies_due(self) -> int:
        """Replies keep pace with posts: the share of the total that this many posts earns."""
        share = min(self.posts_published / max(self.plan.posts, 1), 1.0)
        return round(self.plan.replies * share) - len(self.reply_ids)

    # ---- time passing ---------------------------------------------------------------------

    def wait_for_first_polls(self, limit: float = 120) -> None:
        """Until every channel has been polled once. A channel's first poll is a first look
        (one page: X bills every post read); what was published before it is history, read
        through an import, not intake, so traffic starts after it."""
        from listening.models import Channel

        deadline = time.monotonic() + limit
        channels = Channel.objects.filter(pk__in=self.channels.values())
        while channels.filter(last_success_at__isnull=True).exists():
            if time.monotonic() >= deadline:
                say("a channel was not polled within the limit: traffic starts anyway")
                return
            self.tick(1)

    def tick(self, seconds: float) -> None:
        """Let the desk work for `seconds`: replies keep coming, crashed processes come back,
        and faults waiting for their moment (a frozen worker's thaw) are checked."""
        until = time.monotonic() + seconds
        while True:
            for name in self.stack.supervise():
                say(f"{name} had exited or hung: started again")
                self.faults[f"restarted_{name.replace('-', '_')}"] += 1
            self.pending = [check for check in self.pending if not check()]
            self.queue_replies(min(self.replies_due(), 25))
            if time.monotonic() >= until:
                return
            time.sleep(min(1.0, max(until - time.monotonic(), 0)))

    @contextmanager
    def database(self) -> Iterator[list[bool]]:
        """Run ORM work that may meet the database down (a restart fault): skip it then."""
        ok = [True]
        try:
            yield ok
        except (OperationalError, InterfaceError, DatabaseError) as exc:
            ok[0] = False
            say(f"database unavailable to the harness: {exc}".splitlines()[0])
            close_old_connections()
            django_connection.close()

    def admin(self) -> Any:
        """A plain connection for pg_stat_activity and pg_terminate_backend."""
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.stack.pg_port,
            dbname=DATABASE,
            user="postgres",
            application_name="chaos-admin",
        )
        conn.autocommit = True
        return conn

    # ---- faults: the network --------------------------------------------------------------

    def send_faults(self) -> None:
        """Sends refused (503), unanswered (timeout) and accepted with the answer lost
        (accept_then_timeout: the post exists, the desk cannot tell, and the lag hides it)."""
        for network, fault, count, path in SEND_FAULTS:
            self.sim.fault(network, fault, count, path)
            self.faults[f"{network}_send_{fault}"] += count
        self.last_fault_at = time.monotonic()

    def start_read_faults(self) -> None:
        """Drip the plan's read faults: the next one is queued once the previous one fired and a
        poll of that channel succeeded since. (The desk backs off exponentially after
        consecutive failed polls, by design: a pile of faults would only measure that wait.)"""
        from django.utils import timezone

        for network, queue in self.plan.read_faults.items():
            queue = list(queue)
            queued_at: list[Any] = [None]

            def drip(network: str = network, queue: list = queue, queued_at=queued_at) -> bool:
                if any(
                    f["network"] == network and f.get("read") for f in self.sim.pending_faults()
                ):
                    return False
                with self.database() as ok:
                    polled = self.last_polls()[network]
                if not ok[0] or (queued_at[0] and (polled is None or polled <= queued_at[0])):
                    return False
                if not queue:
                    return True
                fault, path, options = queue.pop(0)
                self.sim.fault(network, fault, 1, path, read=True, **options)
                # A few new posts, so that the next page has items to break or repeat.
                self.publish(network, 30, "mention" if network == "x" else None)
                queued_at[0] = timezone.now()
                self.faults[f"{network}_read_{fault}"] += 1
                self.last_fault_at = time.monotonic()
                return False

            self.pending.append(drip)
            self.dripping.append(drip)

    def backlog(self, network: str, kind: str, count: int) -> None:
        """`count` posts published while the channel is not polled, then one poll reads them."""
        from django.utils import timezone

        from listening.models import Channel

        pk = self.channels[network]
        with self.database():
            Channel.objects.filter(pk=pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
        time.sleep(6)  # a poll already running finishes
        self.publish(network, count, kind)
        with self.database():
            Channel.objects.filter(pk=pk).update(next_poll_at=timezone.now())
        self.faults[f"backlog_{network}_{kind}"] += count
        self.last_fault_at = time.monotonic()

    # ---- faults: worker processes ---------------------------------------------------------

    def _kill_on_fault(self, tag: str, name: str, wait: float, feed: Callable[[], Any]) -> None:
        """SIGKILL the worker child whose request met the fault tagged `tag`, at once.

        The simulator reports the client port of the request a fault hit; the child holding
        that connection is the one in the middle of that request. `feed` runs while waiting
        (e.g. queues replies so that a send comes).
        """
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            fired = self.sim.fired(tag)
            if fired is not None:
                found = self.stack.worker_child_on_port(int(fired["client_port"]))
                if found is not None:
                    worker, child = found
                    child.kill()
                    say(f"SIGKILL child {child.pid} of worker {worker} during {fired['method']}")
                    self.faults[name] += 1
                    self.last_fault_at = time.monotonic()
                    return
                break
            feed()
            time.sleep(0.05)
        self.faults[f"{name}_missed"] += 1

    def kill_mid_page(self, pages: int = 2) -> None:
        """SIGKILL the worker child reading the X backlog, once it has read `pages` pages: the
        next page request meets a marked (harmless) repeated page and its reader dies."""
        base = self.sim.requests("x:GET mentions")
        deadline = time.monotonic() + 90
        while self.sim.requests("x:GET mentions") < base + pages:
            if time.monotonic() > deadline:
                self.faults["sigkill_child_mid_page_missed"] += 1
                return
            time.sleep(0.02)
        self.sim.fault("x", "repeat_page", 1, "/mentions", tag="mid-page")
        self._kill_on_fault("mid-page", "sigkill_child_mid_page", 30, lambda: None)

    def kill_mid_send(self) -> None:
        """SIGKILL the worker child whose reply the network accepted and holds unanswered."""
        self.sim.fault("x", "accept_then_timeout", 1, "/2/tweets", tag="mid-send")
        last = [0.0]

        def feed() -> None:
            if time.monotonic() - last[0] > 1 and self.queue_replies(1, network="x"):
                last[0] = time.monotonic()

        self._kill_on_fault("mid-send", "sigkill_child_mid_send", 90, feed)

    def freeze_between_claim_and_post(self) -> None:
        """SIGSTOP a worker that has claimed a reply and not posted it yet, past the recovery
        window; SIGCONT it once the recovery gave the reply to the other worker.

        The moment is made on purpose: a table lock holds the worker's read of the claimed reply
        (the step right after the claim) until the worker is stopped.
        """
        from cases.models import Reply
        from cases.sending import claim_lease, settle_schedule

        lock = self.admin()
        lock.autocommit = False
        lock.cursor().execute("LOCK TABLE cases_customer IN ACCESS EXCLUSIVE MODE")
        watch = self.admin()
        queued_before = len(self.reply_ids)
        self.queue_replies(1, network="x")
        reply_id = self.reply_ids[-1] if len(self.reply_ids) > queued_before else None
        victim = None
        deadline = time.monotonic() + 20
        while reply_id and victim is None and time.monotonic() < deadline:
            with watch.cursor() as cur:
                cur.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND application_name LIKE 'chaos-worker-%%' AND query LIKE %s",
                    # The reply's read after its claim (the query text is cut at 1 kB).
                    ['SELECT "cases_reply"."id"%'],
                )
                row = cur.fetchone()
            if row:
                victim = row[0].removeprefix("chaos-worker-")
                self.stack.signal_worker(victim, signal.SIGSTOP)
            else:
                time.sleep(0.05)
        lock.rollback()
        lock.close()
        watch.close()
        if victim is None:
            self.faults["sigstop_worker_missed"] += 1
            return
        self.frozen = victim
        say(f"SIGSTOP worker {victim}: it claimed reply {reply_id} and has not posted it")
        self.faults["sigstop_worker_past_recovery"] += 1
        # Past the claim's lease the recovery takes the reply over and looks for it on the
        # network until its settle window ends, then posts it: thawed after that at the latest.
        window = claim_lease().total_seconds()
        thaw_at = time.monotonic() + window + settle_schedule()[-1].total_seconds()
        frozen_at = time.monotonic()

        def thaw() -> bool:
            state = None
            with self.database():
                state = Reply.objects.filter(pk=reply_id).values_list("state", flat=True)[0]
            recovered = state == Reply.State.SENT and time.monotonic() - frozen_at > window
            if not recovered and time.monotonic() < thaw_at:
                return False
            say(f"SIGCONT worker {victim}: its claimed reply {reply_id} is {state} meanwhile")
            self.stack.resume_worker(victim)
            self.frozen = None
            self.last_fault_at = time.monotonic()
            return True

        self.pending.append(thaw)

    def wait_for_thaw(self) -> None:
        while self.frozen is not None:
            self.tick(1)

    # ---- faults: Redis and PostgreSQL -----------------------------------------------------

    def flush_redis(self) -> None:
        redis.Redis.from_url(self.stack.redis_url).flushall()
        self.faults["redis_flushall"] += 1
        self.last_fault_at = time.monotonic()

    def restart_redis(self) -> None:
        self.stack.kill_redis()
        time.sleep(2)
        self.stack.start_redis()
        self.faults["redis_kill9_restart"] += 1
        self.last_fault_at = time.monotonic()

    def terminate_backend_mid_ingest(self) -> None:
        """pg_terminate_backend on a worker's connection while its ingest transaction is open."""
        self.publish("x", self.plan.ingest_burst, "mention")
        watch = self.admin()
        deadline = time.monotonic() + 40
        try:
            while time.monotonic() < deadline:
                with watch.cursor() as cur:
                    cur.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name LIKE 'chaos-worker-%%'"
                        " AND xact_start IS NOT NULL AND query ILIKE %s",
                        ["%listening_mention%"],
                    )
                    hits = cur.fetchall()
                if hits:
                    self.faults["pg_terminate_backend_mid_ingest"] += len(hits)
                    self.last_fault_at = time.monotonic()
                    return
                time.sleep(0.02)
        finally:
            watch.close()
        self.faults["pg_terminate_backend_missed"] += 1

    def restart_postgres(self) -> None:
        self.stack.restart_postgres()
        self.faults["postgres_crash_restart"] += 1
        self.last_fault_at = time.monotonic()

    # ---- the script -----------------------------------------------------------------------

    def step(self, what: str) -> None:
        say(f"{what} ({self.posts_published} posts, {len(self.reply_ids)} replies so far)")

    def run(self) -> None:
        """The script: traffic all along, each fault at its moment, then the rest of the traffic."""
        plan = self.plan
        fixed = sum(count for _, _, count in plan.backlogs) + plan.ingest_burst
        chunk = max((plan.posts - fixed) // 10, 50)
        self.step("first poll of each channel")
        self.wait_for_first_polls()
        self.step("warm-up traffic")
        self.publish_share(chunk)
        self.tick(12)
        self.step(f"brand posts listed {plan.visibility_lag:g} s after they are accepted")
        # Every brand post of the run: more than the replies, their retries and the recovery's.
        self.sim.visibility_lag(plan.visibility_lag, posts=10 * plan.replies + 1_000)
        self.faults["visibility_lag_s"] = plan.visibility_lag
        if plan.freeze:
            self.step("SIGSTOP of a worker between its claim and its post")
            self.freeze_between_claim_and_post()
        self.step("503s, timeouts and lost answers on sends")
        self.send_faults()
        for network, kind, count in plan.backlogs:
            self.step(f"backlog: {count} {network} {kind} posts while the channel is not polled")
            self.backlog(network, kind, count)
            if network == "x" and kind == "mention":
                self.step("SIGKILL of the worker child reading the backlog")
                self.kill_mid_page()
            self.tick(6)
            self.publish_share(chunk)
        self.step("429 / 5xx / timeouts / malformed items / repeated pages on reads, one by one")
        self.start_read_faults()
        self.step("SIGKILL of the worker child whose send is in flight")
        self.kill_mid_send()
        self.tick(6)
        self.publish_share(chunk)
        if self.frozen:
            self.step("waiting for the recovery window to pass before SIGCONT")
            self.wait_for_thaw()
        self.step("Redis FLUSHALL")
        self.flush_redis()
        self.tick(6)
        self.publish_share(chunk)
        self.step("Redis kill -9 and restart")
        self.restart_redis()
        self.tick(8)
        self.publish_share(chunk)
        self.step("pg_terminate_backend of a worker's connection mid-ingest")
        self.terminate_backend_mid_ingest()
        self.tick(6)
        self.step("PostgreSQL crash (immediate stop) and restart")
        self.restart_postgres()
        self.tick(6)
        self.step("the rest of the traffic")
        while self.posts_published < plan.posts:
            self.publish_share(min(chunk, plan.posts - self.posts_published))
            self.tick(3)
        deadline = time.monotonic() + 120
        while len(self.reply_ids) < plan.replies and time.monotonic() < deadline:
            if not self.queue_replies(plan.replies - len(self.reply_ids)):
                self.tick(2)
        deadline = time.monotonic() + 300
        while any(drip in self.pending for drip in self.dripping):
            if time.monotonic() > deadline:
                self.faults["read_faults_not_all_fired"] += 1
                break
            self.tick(2)
        self.step("all faults injected: settling")

    # ---- settling and counting ------------------------------------------------------------

    def settle(self) -> Figures:
        """Wait until every reply is decided and intake has stopped moving (or the deadline)."""
        from cases.models import Reply

        deadline = time.monotonic() + self.plan.settle_timeout
        seen_polls: dict[str, set[Any]] = {"x": set(), "facebook": set()}
        last_missing = None
        settled_at = None
        quiet = False
        while time.monotonic() < deadline:
            self.tick(2)
            with self.database() as ok:
                missing = self.missing_posts()
                open_replies = Reply.objects.filter(pk__in=self.reply_ids).exclude(
                    state__in=[Reply.State.SENT, Reply.State.FAILED]
                )
                undecided = open_replies.count()
                polls = self.last_polls()
                backlog = self.backlog_pending()
            if not ok[0]:
                continue
            if missing != last_missing:
                seen_polls = {"x": set(), "facebook": set()}
                last_missing = missing
            for network, at in polls.items():
                if at is not None:
                    seen_polls[network].add(at)
            # Quiet: three polls of each channel moved nothing, and no stream is still reading
            # a backlog (a round can spend polls on other posts before it reaches the one
            # missing: that is progress, not a settled loss).
            quiet = not backlog and all(len(times) >= 3 for times in seen_polls.values())
            if undecided == 0 and (sum(missing.values()) == 0 or quiet):
                settled_at = time.monotonic()
                break
        return self.figures(settled_at, quiet=quiet)
