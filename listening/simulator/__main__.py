"""Run the simulator: `python -m listening.simulator --host 127.0.0.1 --port 8100`."""

import argparse
import logging
import os
import signal
import sys
import threading
import time

from listening.simulator.server import make_server
from listening.simulator.state import DEFAULT_TOKEN_LIFETIME, SimState

# Snowflake epoch (2010-11-04), so time-based ids look like X's.
TWITTER_EPOCH_MS = 1_288_834_974_657


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m listening.simulator",
        description="A local stand-in for X API v2 and the Graph API (demo and tests only).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument(
        "--rate", type=float, default=6.0, help="customer posts per minute (0 stops)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument(
        "--fault-sleep",
        type=float,
        default=30.0,
        help="seconds a 'timeout' fault waits before answering",
    )
    parser.add_argument(
        "--check-tokens",
        action="store_true",
        help="answer 401 to X requests whose access token is unknown or expired",
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=DEFAULT_TOKEN_LIFETIME,
        help="seconds an X access token from /2/oauth2/token lives (default: X's 7200)",
    )
    parser.add_argument(
        "--webhook-url",
        default="",
        help="deliver Meta webhooks (feed and Messenger) for the Facebook traffic to this URL",
    )
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("META_APP_SECRET", ""),
        help="the app secret that signs them (default: $META_APP_SECRET)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.rate < 0:
        parser.error("--rate must be 0 or more")
    if args.token_lifetime < 1:
        parser.error("--token-lifetime must be at least 1")
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret (or META_APP_SECRET)")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s simulator %(message)s")
    now_ms = int(time.time() * 1000)
    seed = args.seed if args.seed is not None else now_ms
    # Ids start from the clock, as real ones do: a restarted simulator never reissues ids a
    # running desk has already stored (its since_id cursors would hide the new posts).
    state = SimState(
        seed,
        x_id_base=(now_ms - TWITTER_EPOCH_MS) << 22,
        graph_id_base=122_000_000_000_000 + now_ms,
    )
    state.rate = args.rate
    state.set_token_mode(args.check_tokens, args.token_lifetime)
    if args.webhook_url:
        state.webhooks.configure(args.webhook_url, args.webhook_secret)
        logging.info("delivering Meta webhooks to %s", args.webhook_url)
    server, traffic = make_server(args.host, args.port, state, args.fault_sleep, args.verbose)
    logging.info(
        "listening on %s (seed %s, %s posts/min); X under /2/, Graph under /v23.0/, "
        "control under /_sim/",
        server.url,
        seed,
        args.rate,
    )

    def stop(*_: object) -> None:
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    traffic.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
