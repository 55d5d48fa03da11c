"""`python -m bench`: print the performance figures, one `name: value` line each.

Runs each part's `run(emit)` in turn (`--only` picks one). Needs a PostgreSQL database set aside
for benchmarks (DATABASE_URL): it is created and migrated if missing, and its tables are emptied.
"""

import argparse
import importlib
import os
import sys
import time

import django

# Each part by the app it measures (what `--only` takes) and the module that measures it.
PARTS = {
    "listening": "bench.ingest",
    "cases": "bench.inbox",
    "qa": "bench.qa_dashboard",
    "freshness": "bench.freshness",
    "notifications": "bench.notifications",
}


def ensure_postgres_database() -> None:
    import psycopg2
    from django.conf import settings
    from psycopg2 import sql

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("Benchmarks need PostgreSQL: set DATABASE_URL to a bench database.")
    params = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v})
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
    finally:
        conn.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks and print one `name: value` line per figure.",
    )
    parser.add_argument("--only", choices=PARTS, help="Run one app's benchmarks.")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--naive-posts", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000_000, help="Inbox benchmark desk.")
    parser.add_argument("--mentions", type=int, default=None, help="Default: 3 per case.")
    parser.add_argument(
        "--freshness-posts", type=int, default=220, help="Posts timed by webhook and by poll."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialdesk.settings")
    django.setup()
    from django.core.management import call_command

    ensure_postgres_database()
    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()

    def emit(name: str, value: object) -> None:
        print(f"{name}: {value}", flush=True)

    sizes = {
        "listening": {"posts": options.posts, "naive_posts": options.naive_posts},
        "cases": {"cases": options.cases, "mentions": options.mentions},
        "qa": {},
        "freshness": {"posts": options.freshness_posts},
        "notifications": {},
    }
    for part, module in PARTS.items():
        if options.only in (None, part):
            importlib.import_module(module).run(emit, **sizes[part])
    emit("bench_total_s", round(time.perf_counter() - started, 1))


if __name__ == "__main__":
    main()
