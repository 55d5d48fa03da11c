"""Who is on a case right now, and which agents are online: short-lived facts in the cache.

The cache is Redis in every real deployment (a file cache in the embedded demo). Nothing here
touches the database except `replies_since` and `activity_since`.

* Case presence: one cache entry per case, a dict {user id: {"name", "state", "at"}}. The case
  page reports every 3 seconds (`touch`); an entry older than PRESENCE_TTL is ignored, and the
  whole key expires PRESENCE_TTL after the last report. Two reports landing at the same instant
  can overwrite each other (read-modify-write); the loser reappears on its next report 3 seconds
  later, which is good enough for a "who else is here" hint and works on any cache backend.
* Online agents: one key per user (no read-modify-write), refreshed by the case page, its
  presence poll, and whatever else calls `mark_online` (the inbox poll should). An agent is
  online for ONLINE_TTL after the last of those. Auto-assignment reads it with one get_many.
"""

import time
from datetime import datetime

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import QuerySet

from cases.models import Case, CaseEvent, Note, Reply
from listening.models import Mention

PRESENCE_TTL = 20  # seconds an entry counts after the page's last report
ONLINE_TTL = 120  # seconds an agent counts as online after their last request
STATES = ("viewing", "typing")


def _case_key(case_id: int) -> str:
    return f"presence:case:{case_id}"


def _online_key(user_id: int) -> str:
    return f"presence:online:{user_id}"


def display_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def touch(case_id: int, user: User, state: str) -> None:
    """Record that `user` is on the case, "viewing" or "typing"; also marks them online."""
    if state not in STATES:
        raise ValueError(f"presence state must be one of {STATES}, not {state!r}")
    now = time.time()
    key = _case_key(case_id)
    entries: dict[str, dict] = cache.get(key) or {}
    entries = {uid: entry for uid, entry in entries.items() if now - entry["at"] < PRESENCE_TTL}
    entries[str(user.pk)] = {"name": display_name(user), "state": state, "at": now}
    cache.set(key, entries, PRESENCE_TTL)
    mark_online(user)


def leave(case_id: int, user: User) -> None:
    """Forget `user` on this case (they closed it); harmless if they were not there."""
    key = _case_key(case_id)
    entries: dict[str, dict] = cache.get(key) or {}
    if entries.pop(str(user.pk), None) is not None:
        cache.set(key, entries, PRESENCE_TTL)


def others(case_id: int, user: User) -> list[dict]:
    """Everyone but `user` on the case in the last PRESENCE_TTL seconds, typists first.

    Each item: {"user_id": int, "name": str, "state": "viewing" | "typing", "at": float}.
    """
    now = time.time()
    entries: dict[str, dict] = cache.get(_case_key(case_id)) or {}
    found = [
        {"user_id": int(uid), **entry}
        for uid, entry in entries.items()
        if int(uid) != user.pk and now - entry["at"] < PRESENCE_TTL
    ]
    found.sort(key=lambda item: (item["state"] != "typing", item["name"]))
    return found


def mark_online(user: User) -> None:
    cache.set(_online_key(user.pk), time.time(), ONLINE_TTL)


def online_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these users made a request in the last ONLINE_TTL seconds (one cache call)."""
    if not user_ids:
        return set()
    found = cache.get_many([_online_key(uid) for uid in user_ids])
    return {uid for uid in user_ids if _online_key(uid) in found}


def is_online(user: User) -> bool:
    return bool(online_user_ids([user.pk]))


def replies_since(case: Case, since: datetime, exclude_user: User) -> list[Reply]:
    """Replies by others on `case` created after `since` (drafts excluded), oldest first.

    The composer asks this before sending: "Blair replied since you opened the case: send
    anyway?". `since` is the `opened_at` the case page rendered.
    """
    replies: QuerySet[Reply] = (
        Reply.objects.filter(case=case, created_at__gt=since)
        .exclude(author=exclude_user)
        .exclude(state=Reply.State.DRAFT)
        .select_related("author")
        .order_by("created_at", "id")
    )
    return list(replies)


def activity_since(case: Case, since: datetime, user: User) -> list[str]:
    """What others did on the case after `since`, in words: only asked when updated_at moved."""
    found = []
    posts = Mention.objects.filter(case=case, received_at__gt=since).count()
    if posts:
        found.append(f"{posts} new customer post{'s' if posts != 1 else ''}")
    for reply in replies_since(case, since, user):
        found.append(f"{display_name(reply.author)} replied")
    changes = CaseEvent.objects.filter(case=case, created_at__gt=since).exclude(
        kind__startswith="reply"
    )
    # The desk's reaction to the user's own reply (pending once it is sent) is not by others.
    own_replies = list(Reply.objects.filter(case=case, author=user).values_list("pk", flat=True))
    changes = changes.exclude(actor=user).exclude(
        actor__isnull=True, data__reply_id__in=own_replies
    )
    changes = changes.count()
    notes = Note.objects.filter(case=case, created_at__gt=since).exclude(author=user).count()
    if changes:
        found.append(f"{changes} change{'s' if changes != 1 else ''} by others")
    if notes:
        found.append(f"{notes} new note{'s' if notes != 1 else ''}")
    return found


def signature(people: list[dict], activity: list[str]) -> str:
    """What the presence list shows, as a string: the page sends it back, 204 when unchanged."""
    return ";".join(f"{p['user_id']}:{p['state']}" for p in people) + "|" + ";".join(activity)
