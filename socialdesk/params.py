"""Numbers from request data: one parser, so junk is a clear 400 or a form error, never a 500.

`str.isdigit()` is not a test for "int() accepts this": it is true for "²" and "①", and a
string of ASCII digits can still overflow the database's bigint. Every id or count a view
reads from GET or POST goes through `parse_id` / `parse_int`; `require_id` raises
BadRequest, which Django answers with a 400 page.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.core.exceptions import BadRequest
from django.utils.dateparse import parse_datetime

MAX_ID = 2**63 - 1  # PostgreSQL bigint; every primary key fits


def parse_int(raw: object, *, low: int = -MAX_ID, high: int = MAX_ID) -> int | None:
    """The integer written in `raw` (ASCII digits, an optional leading "-"), if within
    [low, high]; else None."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    digits = text[1:] if text.startswith("-") else text
    if not digits or len(digits) > 19 or not (digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_moment(raw: object) -> datetime | None:
    """An aware datetime from ISO 8601 text with its offset, or None for anything else.

    The desk renders such moments itself; a time without an offset, or a well-formed but
    impossible one ("2026-13-45T10:00"), is not one of them.
    """
    if not isinstance(raw, str):
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def parse_id(raw: object) -> int | None:
    """A primary key written in `raw` (a positive bigint), else None."""
    return parse_int(raw, low=1)


def parse_ids(raws: Iterable[object]) -> list[int]:
    """The valid primary keys among `raws`, in order, duplicates dropped; junk is skipped."""
    return list(dict.fromkeys(pk for raw in raws if (pk := parse_id(raw)) is not None))


def require_id(data: Mapping[str, str], name: str) -> int | None:
    """`data[name]` as a primary key; None when absent or empty; BadRequest (400) for junk."""
    raw = data.get(name, "")
    if raw == "":
        return None
    pk = parse_id(raw)
    if pk is None:
        raise BadRequest(f"The parameter “{name}” must be an id (a positive whole number).")
    return pk


class RejectNulCharacters:
    """A NUL character in a query or form value (or name) is a 400 before any view runs.

    PostgreSQL cannot store it in text, no browser form sends it, and without this every view
    that keeps raw text (a note, a view name, a reason) would answer 500. Forms' CharFields
    refuse it too (ProhibitNullCharactersValidator); this covers the values read directly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sources = [request.GET, request.POST] if request.method == "POST" else [request.GET]
        for data in sources:
            for name, values in data.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    raise BadRequest("A request value contains a NUL character.")
        return self.get_response(request)
