"""How the simulated Graph API reads a request: paging parameters, fields, opaque cursors, JSON
form fields, and its error answers."""

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from listening.simulator.state import ApiError


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
