"""A client of the simulator's /_sim/ control API, for anything that drives a simulator over
HTTP (the test helpers, the fault harness). It talks urllib, like any other client would."""

import json
import urllib.error
import urllib.request
from typing import Any


def control_call(
    url: str, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30
) -> Any:
    """One request to the /_sim/ control API of the simulator at `url`; its JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data is not None else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None
