"""Who wrote a Graph item read without `from`: looked up with GET /?ids=…&fields=from.

Graph omits `from` unless it is asked for and the token may read it (pages_read_user_content
or Page Public Content Access), so an item without it may as well be the page's own post: it
is completed by a look-up (50 ids a request, counted as reads) or held in the quarantine with
the reason, never given a guessed author. Used by a poll (`look_up_authors`, before each page
is stored) and by an import (`FacebookConnector.hydrate`).
"""

from collections.abc import Collection
from typing import Any

import facebook

from listening.connectors.errors import ConnectorError, PermanentError
from listening.connectors.facebook import (
    _GRAPH_ID,
    MAX_ID,
    UNDISCLOSED_PREFIX,
    FacebookConnector,
    _author,
    _Batch,
    _edge_from_items,
    _edge_from_paging,
    _get,
    _is_bare_item,
    _map_error,
    _str,
)
from listening.posts import Hydration

# GET /?ids= takes at most 50 ids. Each object is asked for what a post needs; `from` is
# only disclosed with pages_read_user_content (or Page Public Content Access).
LOOKUP_BATCH = 50
LOOKUP_FIELDS = "id,from,created_time,message"
UNDISCLOSED = (
    "author unknown: Graph does not disclose it "
    "(reading `from` needs the pages_read_user_content permission)"
)


def look_up_authors(batch: _Batch, graph: facebook.GraphAPI) -> None:
    """Complete the items read without `from` (one GET /?ids= per 50, counted as reads).

    What Graph completes is kept like any other item (the page's own posts skipped);
    what it cannot complete (deleted, author not disclosed) stays in the quarantine with
    the reason, never guessed. A look-up that fails (unreachable, rate limited, token
    refused) fails the poll like any other request: the cursor stays, and the next poll
    reads and looks up the same items again.
    """
    held = [q for q in batch.quarantined if q.needs_lookup]
    if not held:
        return
    batch.quarantined = [q for q in batch.quarantined if not q.needs_lookup]
    # Pages are looked up one at a time: an item repeated on a later page of the same
    # poll was asked for already (and kept, or skipped as the page's own).
    held = [q for q in held if q.external_id not in batch.looked_up]
    batch.looked_up.update(q.external_id for q in held if q.external_id)
    if not held:
        return
    records = [q.payload for q in held]
    result = Hydration(records=records)
    look_up(graph, records, result, strict=True, disclosed=batch.saw_author)
    batch.reads += result.reads
    for record in records:
        posts, rejects = FacebookConnector().normalise_payload(record, account_id=batch.own_id)
        for post in posts:
            batch.keep(post)
        for reject in result.explain(rejects):
            batch.keep(reject)


def look_up(
    graph: facebook.GraphAPI,
    records: list[Any],
    result: Hydration,
    skip: Collection[str] = (),
    *,
    strict: bool = False,
    disclosed: bool = False,
) -> None:
    """Ask Graph for the items of `records` that lack `from` or created_time; fill them in.

    A failed request marks the rest unresolved, or with `strict` is raised. `disclosed`
    says Graph already named an author to this token (so it may read them).
    """
    items: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        for item in _leaf_items(record):
            if _lacks_author(item) and _str(item.get("id")) not in skip:
                items.setdefault(_str(item.get("id")), []).append(item)
    wanted = list(items)
    result.wanted = len(wanted)
    chunks = [wanted[i : i + LOOKUP_BATCH] for i in range(0, len(wanted), LOOKUP_BATCH)]
    withheld: list[str] = []  # returned without an author
    for number, chunk in enumerate(chunks):
        try:
            found = _objects(graph, chunk, result)
        except ConnectorError as exc:
            if strict:
                raise
            # Unreachable, refused or rate limited: ask no more; the rest is held.
            for rest in chunks[number:]:
                result.give_up(rest, "Graph", exc)
            return
        for object_id in chunk:
            answer = found.get(object_id)
            if not isinstance(answer, dict):
                result.fail([object_id], "author unknown: Graph did not return the item")
                continue
            for item in items[object_id]:
                item.update({k: v for k, v in answer.items() if v not in (None, "")})
            if _author(answer.get("from")) is None:
                withheld.append(object_id)
            else:
                disclosed = True
    if not disclosed:
        # Without pages_read_user_content Graph names no author at all, the page's own
        # posts included: nothing tells them from a customer's, so they are held.
        result.fail(withheld, UNDISCLOSED)
        return
    # A token that may read authors is always told the page wrote its own content: an
    # author still withheld is a person who restricts it, so the post reaches the inbox.
    for object_id in withheld:
        for item in items[object_id]:
            item["from"] = {"id": UNDISCLOSED_PREFIX + object_id[:48], "name": ""}


def _objects(graph: facebook.GraphAPI, ids: list[str], result: Hydration) -> dict[str, Any]:
    """id -> object for `ids`: one GET /?ids= request, else one request per id.

    One id Graph does not know (deleted) fails a whole `?ids=` request with #803, and newer
    Graph versions refuse `?ids=` on the root: on such a refusal each id is asked alone,
    and the ids Graph still refuses are left out of the answer.
    """
    try:
        result.requests += 1
        answer = graph.get_objects(ids, fields=LOOKUP_FIELDS)
    except PermanentError:
        answer = None
    except ConnectorError:
        raise
    except Exception as exc:
        raise _map_error(exc, sending=False) from exc
    if isinstance(answer, dict):
        found = {k: v for k, v in answer.items() if isinstance(v, dict)}
        result.reads += len(found)
        return found
    found = {}
    for object_id in ids:
        try:
            result.requests += 1
            found[object_id] = _get(graph, object_id, {"fields": LOOKUP_FIELDS})
            result.reads += 1
        except PermanentError:
            continue
    return found


def _leaf_items(record: Any) -> list[dict[str, Any]]:
    """The posts, comments and messages of a saved response, as `normalise_payload` reads it."""
    if not isinstance(record, dict):
        return []
    if _is_bare_item(record):
        return [record]
    for connection in ("comments", "messages", "feed", "tagged"):
        nested = record.get(connection)
        if isinstance(nested, dict) and isinstance(nested.get("data"), list):
            return [i for i in nested["data"] if isinstance(i, dict)]
    items = record.get("data")
    if not isinstance(items, list):
        return []
    objects = [i for i in items if isinstance(i, dict)]
    if _edge_from_paging(record.get("paging"))[0] == "conversations" or (
        _edge_from_items(items) == "conversations"
    ):
        nested_messages = [c.get("messages") for c in objects]
        return [
            m
            for nested in nested_messages
            if isinstance(nested, dict) and isinstance(nested.get("data"), list)
            for m in nested["data"]
            if isinstance(m, dict)
        ]
    return objects


def _lacks_author(item: dict[str, Any]) -> bool:
    item_id = _str(item.get("id"))
    if not _GRAPH_ID.match(item_id) or len(item_id) > MAX_ID:
        return False
    return _author(item.get("from")) is None or not item.get("created_time")


def lookup_ids(records: list[Any]) -> list[str]:
    wanted: dict[str, None] = {}
    for record in records:
        for item in _leaf_items(record):
            if _lacks_author(item):
                wanted[_str(item.get("id"))] = None
    return list(wanted)
