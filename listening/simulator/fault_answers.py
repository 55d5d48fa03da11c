"""The answers the simulator's faults give, in each network's own error shape."""

import json
import math
from typing import Any

from listening.simulator.state import MALFORMED_VARIANTS, ApiError, Fault, SimState


def x_error(status: int, title: str, detail: str | None = None) -> ApiError:
    return ApiError(
        status, {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    )


def graph_server_error(status: int) -> ApiError:
    return ApiError(
        status,
        {
            "error": {
                "message": "An unexpected error has occurred. Please retry your request later.",
                "type": "OAuthException",
                "is_transient": True,
                "code": 2,
                "fbtrace_id": "AsimFaultTrace",
            }
        },
    )


def auth_error(network: str, status: int | None = None) -> ApiError:
    if network == "x":
        return x_error(401, "Unauthorized")
    return ApiError(
        status or 400,
        {
            "error": {
                "message": "Error validating access token: The session has been invalidated "
                "because the user changed their password or Facebook has changed the session "
                "for security reasons.",
                "type": "OAuthException",
                "code": 190,
                "error_subcode": 460,
                "fbtrace_id": "AsimRevokedTrace",
            }
        },
    )


def rate_limit_error(state: SimState, network: str, fault: Fault, page_id: str) -> ApiError:
    reset_in = int(fault.options.get("reset_in", 60))
    if network == "x":
        error = x_error(429, "Too Many Requests")
        error.headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(state.now()) + reset_in),
        }
        return error
    code = int(fault.options.get("code", 32))
    messages = {
        4: "(#4) Application request limit reached",
        17: "(#17) User request limit reached",
        32: "(#32) Page request limit reached",
        613: "(#613) Calls to this api have exceeded the rate limit.",
    }
    error = ApiError(
        403 if code in (32, 613) else 400,
        {
            "error": {
                "message": messages.get(code, f"(#{code}) Rate limit reached"),
                "type": "OAuthException",
                "is_transient": True,
                "code": code,
                "fbtrace_id": "AsimRateTrace",
            }
        },
    )
    minutes = max(1, math.ceil(reset_in / 60))
    usage = {"call_count": 100, "total_cputime": 100, "total_time": 100}
    if code in (4, 17):
        error.headers = {"x-app-usage": json.dumps(usage)}
    error.headers["x-business-use-case-usage"] = json.dumps(
        {page_id or "0": [{"type": "pages", **usage, "estimated_time_to_regain_access": minutes}]}
    )
    return error


def corrupt(network: str, body: dict[str, Any], fault: Fault) -> str:
    """Break one item of a page the way real payloads break; return the variant used."""
    variant = (
        fault.options.get("variant")
        or MALFORMED_VARIANTS[(fault.fired - 1) % len(MALFORMED_VARIANTS)]
    )
    data = body["data"]
    item = data[min(int(fault.options.get("index", 0)), len(data) - 1)]
    created = "created_at" if network == "x" else "created_time"
    text = "text" if network == "x" else "message"
    if variant == "missing_id":
        item.pop("id", None)
    elif variant == "missing_created_at":
        item.pop(created, None)
    elif variant == "text_null":
        item[text] = None
    else:
        item[created] = "2026-13-45T99:99:99.000Z" if network == "x" else "2026-13-45T99:99:99+0000"
    return variant
