"""X API v2's wire format as the simulator speaks it: the records it serves (users, tweets,
DM events), timestamps, text escaping, pagination tokens, request parameters, error bodies."""

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime

from listening.simulator.state import ApiError

MENTION = re.compile(r"@(\w{1,15})")  # an @username as X links it
TCO = re.compile(r"https://t\.co/\w+")  # a link as X shortens it
TWEET_DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
USER_DEFAULT_FIELDS = ("id", "name", "username")
DM_DEFAULT_FIELDS = ("id", "event_type", "text")


@dataclass(slots=True)
class XUser:
    id: str
    username: str
    name: str
    followers: int
    following: int
    posts: int
    verified: bool
    description: str
    created_at: float
    suspended: bool = False


@dataclass(slots=True)
class Tweet:
    id: int
    author_id: str
    text: str
    created: float
    conversation_id: int
    lang: str
    in_reply_to_user_id: str | None = None
    referenced: tuple[tuple[str, int], ...] = ()
    urls: tuple[tuple[str, str], ...] = ()
    metrics: dict[str, int] = field(default_factory=dict)
    words: frozenset[str] = frozenset()
    # The ids of the versions before this one, oldest first (X gives every edit a new id).
    earlier: tuple[int, ...] = ()


@dataclass(slots=True)
class DMEvent:
    id: int
    text: str
    sender_id: str
    conversation_id: str
    created: float


def iso_x(ts: float) -> str:
    """X's timestamp format: 2026-11-23T10:15:00.000Z."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def escape_x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def encode_token(value: int) -> str:
    return base64.b32encode(f"sim:{value}".encode()).decode().rstrip("=").lower()


def decode_token(token: str) -> int:
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "sim":
            raise ValueError(token)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_request("pagination_token", token, "Invalid pagination token") from None


def invalid_request(parameter: str, value: str, message: str) -> ApiError:
    return ApiError(
        400,
        {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
    )


def forbidden(detail: str) -> ApiError:
    return ApiError(
        403,
        {
            "detail": detail,
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
        },
    )


def int_param(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(
            name, raw, f"The `{name}` query parameter value [{raw}] is not a number"
        ) from None
    if not lo <= value <= hi:
        raise invalid_request(
            name, raw, f"The `{name}` query parameter value [{raw}] is not between {lo} and {hi}"
        )
    return value


def id_param(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    if not raw.isdigit():
        raise invalid_request(name, raw, f"The `{name}` query parameter value [{raw}] is not valid")
    return int(raw)


def time_param(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid_request(name, raw, f"Invalid `{name}` timestamp [{raw}]") from None


def fields_param(params: dict[str, str], name: str) -> set[str]:
    return {f.strip() for f in params.get(name, "").split(",") if f.strip()}


def page_of(
    ids: list[int], count: int, since_id: int | None, until_id: int | None, token: int | None
) -> tuple[list[int], bool]:
    """Newest-first page of `count` ids from ascending `ids`, and whether older ones remain.

    `token` is the oldest id of the previous page (exclusive upper bound).
    """
    lo, hi = id_bounds(ids, since_id, until_id, token)
    start = max(lo, hi - count)
    page = ids[start:hi]
    page.reverse()
    return page, start > lo


def id_bounds(
    ids: list[int], since_id: int | None, until_id: int | None, token: int | None
) -> tuple[int, int]:
    """The slice [lo, hi) of ascending `ids` strictly between since_id and until_id / token."""
    lo = bisect_right(ids, since_id) if since_id is not None else 0
    hi = len(ids)
    if until_id is not None:
        hi = min(hi, bisect_left(ids, until_id))
    if token is not None:
        hi = min(hi, bisect_left(ids, token))
    return lo, hi
