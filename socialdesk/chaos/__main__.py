"""`python -m socialdesk.chaos [--posts N] [--replies M] [--root DIR]`: one fault run.

The run's own servers are started before Django is set up, so the desk's settings read their
URLs from the environment like any desk process; every process is stopped on the way out,
whatever happened (an exception, Ctrl-C, SIGTERM).
"""

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from socialdesk.chaos.stack import ROOT, WORKERS, Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m socialdesk.chaos", description=__doc__)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--replies", type=int, default=1_000)
    parser.add_argument("--root", type=Path, default=ROOT / "var" / "chaos")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--settle-timeout", type=float, default=None)
    parser.add_argument(
        "--task-time-limit",
        type=int,
        default=40,
        help="the workers' hard task limit; a reply left sending is recovered after it",
    )
    parser.add_argument(
        "--recovery-margin",
        type=int,
        default=60,
        help="seconds past the task limit before a reply left sending is recovered",
    )
    parser.add_argument(
        "--settle-schedule",
        default=Stack.settle_schedule,
        help="REPLY_SETTLE_SCHEDULE of the run; its last look must come after the 10 s lag",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s chaos %(message)s", stream=sys.stderr
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    stack = Stack(
        args.root,
        task_time_limit=args.task_time_limit,
        recovery_margin=args.recovery_margin,
        settle_schedule=args.settle_schedule,
    )

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        log = logging.getLogger("socialdesk.chaos")
        log.info("starting PostgreSQL on %s and Redis on %s", stack.pg_port, stack.redis_port)
        stack.start_postgres()
        stack.reset_database()
        stack.start_redis()
        os.environ.update(stack.env("chaos-harness"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialdesk.settings")
        import django

        django.setup()
        from socialdesk.chaos.harness import Harness
        from socialdesk.chaos.plan import Plan

        plan = Plan.for_size(args.posts, args.replies)
        if args.settle_timeout is not None:
            plan.settle_timeout = args.settle_timeout
        harness = Harness(stack, plan, seed=seed)
        harness.set_up()
        stack.start_simulator(seed)
        for name in WORKERS:
            stack.start_worker(name)
        stack.start_beat()
        log.info("running: %s posts, %s replies (logs in %s)", plan.posts, plan.replies, stack.logs)
        harness.run()
        log.info("all faults injected; settling")
        figures = harness.settle()
        figures.print()
        sys.stdout.flush()
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
