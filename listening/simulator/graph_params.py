"""How the simulated Graph API reads a request: paging parameters, fields, opaque cursors, JSON
form fields; and how it answers: a page of data with its cursors, and its errors."""

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from listening.simulator.state import ApiError

PRIVATE_REPLY_WINDOW = 7 * 86_400  # a private reply to a comment or post: once, within 7 days


def graph_error(
    status: int, message: str, code: int, subcode: int | None = None, kind: str = "OAuthException"
) -> ApiError:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = base64.b32encode(f"{code}{subcode}{message}"[:10].encode()).decode()[:11]
    return ApiError(status, {"error": error})


def no_such_object(object_id: str) -> ApiError:
    return graph_error(
        400,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        100,
        33,
        "GraphMethodException",
    )


def encode_cursor(*parts: float | int) -> str:
    raw = ":".join(repr(p) if isinstance(p, float) else str(p) for p in parts)
    return base64.urlsafe_b64encode(f"QVF{raw}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[float]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("QVF"):
            raise ValueError(cursor)
        return [float(p) for p in raw[3:].split(":")]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise graph_error(
            400, "(#100) The after/before cursor is invalid", 100, kind="OAuthException"
        ) from None


def page_limit(params: dict[str, str]) -> int:
    raw = params.get("limit", "25")
    try:
        return max(1, min(100, int(raw)))
    except ValueError:
        raise graph_error(400, f"(#100) Param limit must be a number, got {raw!r}", 100) from None


def time_param(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    if raw.lstrip("-").isdigit():
        return float(raw)
    try:
        return datetime.fromisoformat(
            raw.replace("Z", "+00:00").replace("+0000", "+00:00")
        ).timestamp()
    except ValueError:
        raise graph_error(400, f"(#100) Param {name} must be a unix timestamp", 100) from None


def requested_fields(params: dict[str, str], default: tuple[str, ...]) -> set[str]:
    raw = params.get("fields")
    if not raw:
        return set(default)
    names: set[str] = set()
    depth = 0
    current = ""
    for char in raw:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            names.add(current.strip())
            current = ""
        elif depth == 0:
            current += char
    names.add(current.strip())
    return {n.split(".")[0] for n in names if n} | {"id"}


def json_field(form: dict[str, Any], name: str) -> Any:
    """A form field that carries JSON (facebook-sdk sends nested values as JSON strings)."""
    value = form.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise graph_error(400, f"(#100) param {name} must be JSON", 100) from None
    return value


def paged(
    data: list[dict[str, Any]],
    first: str | None,
    last: str | None,
    more: bool,
    ctx: dict[str, Any],
) -> dict[str, Any]:
    """One page of an edge as Graph answers it: the data, its cursors, and the `next` address
    (the request's own, `after` the last item) when there is more."""
    body: dict[str, Any] = {"data": data}
    if data:
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if more:
            params = {k: v for k, v in ctx["params"].items() if k != "before"}
            params["after"] = last
            paging["next"] = f"{ctx['base_url']}{ctx['path']}?{urlencode(params)}"
        body["paging"] = paging
    return body


def check_private_reply(replied: bool, created: float, now: float) -> None:
    """Refuse a private reply to an item already answered privately or older than 7 days."""
    if replied:
        raise graph_error(400, "(#10900) Activity already replied to", 10900)
    if now - created > PRIVATE_REPLY_WINDOW:
        raise graph_error(
            400, "(#10903) This activity can't be replied to: older than 7 days", 10903
        )
