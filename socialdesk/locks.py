"""A named, non-blocking, expiring lock: Redis when REDIS_URL is set, a file lock otherwise.

Used to keep one poller per channel. The Redis lock expires by itself if its holder dies
(a killed worker never blocks a channel for longer than `timeout`); redis-py releases it with
a token check, so a slow holder cannot release someone else's lock.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache

import redis
from django.conf import settings


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@contextmanager
def hold(name: str, timeout: float) -> Iterator[bool]:
    """Yield True if the lock was taken (and release it afterwards), False if someone holds it."""
    if settings.REDIS_URL:
        lock = _redis().lock(f"socialdesk:lock:{name}", timeout=timeout, blocking=False)
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                # If it expired while we worked, the next holder owns it now: leave it.
                with suppress(redis.exceptions.LockNotOwnedError):
                    lock.release()
        return

    # Embedded demo (one machine): an advisory file lock, released if the process dies.
    lock_dir = settings.VAR_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{name}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
