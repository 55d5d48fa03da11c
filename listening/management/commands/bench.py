"""`manage.py bench`: print the performance figures, one `name: value` line each.

Runs `<app>.bench.run(emit)` for every app that has one. Needs a PostgreSQL database set aside
for benchmarks (DATABASE_URL): it is created and migrated if missing, and its tables are emptied.
"""

import importlib
import time

import psycopg2
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from psycopg2 import sql

BENCH_APPS = ("listening", "cases", "qa")


def ensure_postgres_database() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise CommandError("Benchmarks need PostgreSQL: set DATABASE_URL to a bench database.")
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


class Command(BaseCommand):
    help = "Run the benchmarks and print one `name: value` line per figure."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=BENCH_APPS, help="Run one app's benchmarks.")
        parser.add_argument("--posts", type=int, default=100_000)
        parser.add_argument("--naive-posts", type=int, default=100_000)
        parser.add_argument("--cases", type=int, default=1_000_000, help="Inbox benchmark desk.")
        parser.add_argument("--mentions", type=int, default=None, help="Default: 3 per case.")

    def handle(self, *args, **options):
        ensure_postgres_database()
        call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()

        def emit(name: str, value: object) -> None:
            self.stdout.write(f"{name}: {value}")
            self.stdout.flush()

        for app in BENCH_APPS:
            if options["only"] and app != options["only"]:
                continue
            try:
                module = importlib.import_module(f"{app}.bench")
            except ModuleNotFoundError:
                continue
            kwargs = {}
            if app == "listening":
                kwargs = {"posts": options["posts"], "naive_posts": options["naive_posts"]}
            elif app == "cases":
                kwargs = {"cases": options["cases"], "mentions": options["mentions"]}
            module.run(emit, **kwargs)
        emit("bench_total_s", round(time.perf_counter() - started, 1))
