"""Rows as ONE JSON document for PostgreSQL's `json_to_recordset`: the bulk writes' transport.

Serialising a page is one C call (orjson), where adapting a Python list per column costs about
as much as the insert itself, and PostgreSQL parses JSON faster than array literals.
"""

import re
from typing import Any

import orjson

# An escaped backslash is matched first, so "\\u0000" (a backslash, then "u0000") is kept.
_JSON_NUL = re.compile(r"(\\\\)|\\u0000")
_SURROGATE = re.compile("[\ud800-\udfff]")


def page_json(rows: list) -> str:
    """One page as a JSON document for `json_to_recordset`, storable whatever the network sent.

    A network's JSON may carry NUL or a lone UTF-16 surrogate, which no PostgreSQL text column
    accepts: NUL is dropped and a surrogate becomes U+FFFD here, so one bad character never
    blocks a page. orjson refuses surrogates outright, which leaves the common case one call.
    """
    try:
        text = orjson.dumps(rows).decode()
    except orjson.JSONEncodeError:
        text = orjson.dumps(_without_surrogates(rows)).decode()
    if "\\u0000" in text:
        text = _JSON_NUL.sub(lambda match: match.group(1) or "", text)
    return text


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: _without_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(item) for item in value]
    return value


def storable_text(text: str) -> str:
    """`text` as `page_json` lets it reach a text column: without NUL, surrogates replaced.
    What to compare a network's text with, to tell an edit from the same text stored."""
    text = text.replace("\x00", "")
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
