"""Give each pytest-xdist worker its own Redis database.

pytest-django already gives each worker its own PostgreSQL database (test_<name>_gw0, …).
Redis needs the same: the end-to-end tests flush their database and start Celery workers that
must not take each other's task messages. Loaded with `-p tests.xdist_redis` (see pyproject),
before Django reads REDIS_URL from the environment.
"""

import os
from urllib.parse import urlsplit, urlunsplit

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … under xdist
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    _parts = urlsplit(os.environ["REDIS_URL"])
    _base = int(_parts.path.strip("/") or 0)
    # The run's own database stays the main process's; workers count down from the one below.
    _db = (_base - 1 - int(_worker.removeprefix("gw"))) % 16
    os.environ["REDIS_URL"] = urlunsplit(_parts._replace(path=f"/{_db}"))
