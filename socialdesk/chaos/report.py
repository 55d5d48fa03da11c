"""What a fault run tells: its progress on stderr (`say`) and, once it has settled, the figures
counted from the simulator's own records and the desk's database, with what the simulator
served around each missing post (the reads that should have carried it)."""

import sys
import time
from collections import Counter
from typing import Any

from socialdesk.chaos.plan import Figures, epoch, same_stream
from socialdesk.chaos.sim import Sim
from socialdesk.chaos.stack import Stack


def say(message: str) -> None:
    """Progress on stderr (stdout carries only the figures)."""
    print(f"{time.strftime('%H:%M:%S')} chaos: {message}", file=sys.stderr, flush=True)


class Counting:
    """The harness's counting half: reads what the run recorded (set by the harness as it
    publishes and queues) against what the desk stored and the network holds."""

    stack: Stack
    sim: Sim
    channels: dict[str, int]  # network -> channel id
    published: dict[str, list[str]]  # network -> post ids, in publishing order
    labels: dict[str, str]  # post id -> how it was published
    published_at: dict[str, tuple[float, float]]  # post id -> publish call span
    streams: dict[str, str]  # post id -> the intake stream that reads it
    reply_ids: list[int]
    faults: Counter[str]
    last_fault_at: float
    started: float
    _gaps: dict[str, list[tuple[str, float | None, float | None]]]

    def backlog_pending(self) -> bool:
        from listening.models import Channel
        from listening.posts import pending_streams

        cursors = Channel.objects.filter(pk__in=self.channels.values()).values_list(
            "cursor", flat=True
        )
        return any(pending_streams(cursor) for cursor in cursors)

    def last_polls(self) -> dict[str, Any]:
        from listening.models import Channel

        return {
            network: Channel.objects.filter(pk=pk).values_list("last_success_at", flat=True)[0]
            for network, pk in self.channels.items()
        }

    def stored_ids(self, network: str) -> Counter[str]:
        from listening.models import Mention

        return Counter(
            Mention.objects.filter(channel_id=self.channels[network]).values_list(
                "external_id", flat=True
            )
        )

    def missing_posts(self) -> dict[str, int]:
        from listening.models import QuarantinedPost

        quarantined = set(QuarantinedPost.objects.values_list("external_id", flat=True))
        return {
            network: len(set(ids) - set(self.stored_ids(network)) - quarantined)
            for network, ids in self.published.items()
        }

    def in_recorded_gap(self, network: str, external_id: str) -> bool:
        """Whether the desk shows a gap (posts it could not read, a visible warning, not a
        silent loss) on the stream that reads this post, over the moment it was published.
        Only a gap with both bounds names posts: an open one excuses nothing."""
        gaps = self._gaps.get(network)
        if gaps is None:
            from listening.models import Channel

            fields = {f.name for f in Channel._meta.get_fields()}
            raw = (
                Channel.objects.filter(pk=self.channels[network]).values_list(
                    "intake_gaps", flat=True
                )[0]
                if "intake_gaps" in fields
                else []
            )
            gaps = self._gaps[network] = [
                (str(g.get("stream")), epoch(g.get("since")), epoch(g.get("until")))
                for g in raw or []
                if isinstance(g, dict)
            ]
        stream = self.streams.get(external_id)
        start, end = self.published_at.get(external_id, (0.0, 0.0))
        return any(
            same_stream(stream, on) and since - 2 <= end and start <= until + 2
            for on, since, until in gaps
            if since is not None and until is not None
        )

    def explain_missing_comment(self, comment_id: str) -> None:
        """Every Graph read that listed the comment's post or read its comments, as served."""
        post_id = comment_id.split("_")[0]  # "<post>_<n>": the post is "<timeline>_<post>"
        try:
            reads = self.sim.reads(about=post_id)
        except Exception as exc:  # a report, not a verdict: the figures stand without it
            say(f"  graph reads about {post_id}: unavailable ({exc})")
            return
        self.explain_from_logs(comment_id)
        for read in reads[-60:]:
            served = read["ids"]
            mark = "HAS IT" if comment_id in served else ""
            say(
                f"  {read['at']:.3f} {read['path']} {read['params']} served {len(served)}"
                f"{' (post listed)' if any(post_id in str(i) for i in served) else ''}"
                f" next={read['next']} {mark}"
            )

    def explain_from_logs(self, external_id: str) -> None:
        """The workers' log lines naming the item (a polled page that held it, at DEBUG)."""
        found = [
            f"  {log.stem}: {line[:300]}"
            for log in sorted(self.stack.logs.glob("worker-*.log"))
            for line in log.read_text(errors="replace").splitlines()
            if external_id in line
        ]
        for line in found[:10] or [f"  no polled page held {external_id}"]:
            say(line)

    def explain_missing_tweet(self, tweet_id: str, published: float) -> None:
        """The X timeline and search reads around the tweet's publication, as served: which
        asked for its range, and what they answered."""
        try:
            reads = self.sim.reads(path="/2/")
        except Exception as exc:  # a report, not a verdict: the figures stand without it
            say(f"  X reads: unavailable ({exc})")
            return
        self.explain_from_logs(tweet_id)
        number = int(tweet_id)
        for read in [r for r in reads if published - 2 <= r["at"] <= published + 90][:40]:
            served = [int(i) for i in read["ids"] if str(i).isdigit()]
            span = f"{min(served)}..{max(served)}" if served else "-"
            inside = served and min(served) <= number <= max(served)
            say(
                f"  {read['at']:.3f} {read['path']} {read['params']} served {len(served)}"
                f" [{span}] next={read['next']}{' SPANS IT' if inside else ''}"
                f"{' HAS IT' if number in served else ''}"
            )

    def figures(self, settled_at: float | None, *, quiet: bool) -> Figures:
        from cases.models import Reply
        from listening.models import Channel, QuarantinedPost

        figures = Figures()
        now = time.monotonic()
        published = stored = lost = quarantined_n = duplicated = unexpected = 0
        lost_by_label: Counter[str] = Counter()
        missing_by_network: dict[str, set[str]] = {}
        gapped = 0
        quarantined = set(QuarantinedPost.objects.values_list("external_id", flat=True))
        for network, ids in self.published.items():
            wanted = set(ids)
            rows = self.stored_ids(network)
            published += len(wanted)
            stored += len(wanted & set(rows))
            quarantined_n += len((wanted - set(rows)) & quarantined)
            missing = wanted - set(rows) - quarantined
            in_gap = {i for i in missing if self.in_recorded_gap(network, i)}
            gapped += len(in_gap)
            missing -= in_gap
            missing_by_network[network] = missing
            lost += len(missing)
            lost_by_label.update(self.labels.get(external_id, network) for external_id in missing)
            duplicated += sum(n - 1 for external_id, n in rows.items() if n > 1)
            unexpected += len(set(rows) - wanted)
        settled = settled_at is not None
        figures["chaos_posts_published"] = published
        figures["chaos_mentions_stored"] = stored
        figures["chaos_mentions_lost"] = lost if (settled or quiet) else 0
        figures["chaos_mentions_unsettled"] = 0 if (settled or quiet) else lost
        figures["chaos_mentions_duplicated"] = duplicated
        figures["chaos_mentions_quarantined"] = quarantined_n
        figures["chaos_mentions_not_published"] = unexpected
        figures["chaos_mentions_missing_in_recorded_gap"] = gapped
        for label, count in sorted(lost_by_label.items()):
            figures[f"chaos_mentions_missing_{label}"] = count
        lost_by_stream = Counter(
            self.streams.get(i, "unknown").rstrip(":")
            for missing in missing_by_network.values()
            for i in missing
        )
        for stream, count in sorted(lost_by_stream.items()):
            figures[f"chaos_mentions_missing_stream_{stream}"] = count
        explained_x = 0
        for network, missing in missing_by_network.items():
            for external_id in sorted(missing)[:30]:
                start, _ = self.published_at.get(external_id, (0.0, 0.0))
                say(
                    f"missing {network} {self.streams.get(external_id)} {external_id}"
                    f" published at {start:.3f}"
                )
                if network == "facebook":
                    self.explain_missing_comment(external_id)
                elif explained_x < 3:
                    explained_x += 1
                    self.explain_missing_tweet(external_id, start)
        # X ids grow with time: a missing post older than every stream's since_id is never
        # asked for again.
        cursor = Channel.objects.get(pk=self.channels["x"]).cursor
        positions = [int(v) for v in cursor.values() if str(v).isdigit()]
        if positions:
            figures["chaos_mentions_missing_x_behind_every_cursor"] = sum(
                int(i) < min(positions) for i in missing_by_network["x"] if i.isdigit()
            )

        on_network = Counter(
            (str(r.get("in_reply_to") or ""), r.get("text")) for r in self.sim.replies()
        )
        replies = list(Reply.objects.filter(pk__in=self.reply_ids).select_related("in_reply_to"))
        posted = double = failed = lost_replies = undecided = posted_but_failed = 0
        for reply in replies:
            copies = on_network[(reply.in_reply_to.external_id, reply.text)]
            if copies:
                posted += 1
                double += copies - 1
                if copies > 1:
                    say(
                        f"reply {reply.pk} is on the network {copies} times: desk state "
                        f"{reply.state}, {reply.attempts} attempts, last error {reply.error!r}"
                    )
                posted_but_failed += reply.state == Reply.State.FAILED
            elif reply.state == Reply.State.FAILED and reply.error:
                failed += 1
            elif reply.state in (Reply.State.SENT, Reply.State.FAILED):
                lost_replies += 1  # "sent" with nothing on the network, or failed silently
            else:
                undecided += 1
        lost_replies += len(self.reply_ids) - len(replies)  # queued, and the row is gone
        figures["chaos_replies_requested"] = len(self.reply_ids)
        figures["chaos_replies_posted"] = posted
        figures["chaos_replies_double_posted"] = double
        figures["chaos_replies_lost"] = lost_replies
        figures["chaos_replies_failed_visibly"] = failed
        figures["chaos_replies_posted_but_marked_failed"] = posted_but_failed
        figures["chaos_replies_unsettled"] = undecided
        figures["chaos_settled"] = int(settled)
        figures["chaos_recovery_s"] = round((settled_at or now) - self.last_fault_at, 1)
        figures["chaos_wall_s"] = round(now - self.started, 1)
        for name, count in sorted(self.faults.items()):
            figures[f"chaos_fault_{name}"] = count
        return figures
