"""The zero-config demo database: a PostgreSQL server embedded in the virtualenv (pgserver).

`make run` calls `python -m socialdesk.embedded` when DATABASE_URL is unset: it starts (or
reuses) a server whose data lives in var/pgdata, creates the `socialdesk` database, writes its
URL to var/database_url for settings.py to read, and prints it. The server keeps running after
`make run` stops, so the demo data survives; `make stop-embedded` stops it.
"""

import sys
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE = "socialdesk"


def start(var_dir: Path) -> str:
    # pgserver warns that XDG_RUNTIME_DIR is unset on servers; it then uses /tmp, which is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver  # only installed for the demo (the "embedded" extra)

    var_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(var_dir / "pgdata", cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    info = server.get_postmaster_info()
    url = f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE}"
    (var_dir / "database_url").write_text(url + "\n")
    return url


def stop(var_dir: Path) -> None:
    import pgserver

    if (var_dir / "pgdata").exists():
        pgserver.get_server(var_dir / "pgdata", cleanup_mode="stop").cleanup()
    (var_dir / "database_url").unlink(missing_ok=True)


if __name__ == "__main__":
    import os

    var = Path(os.environ.get("SOCIALDESK_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    if sys.argv[1:] == ["stop"]:
        stop(var)
    else:
        print(start(var))
