"""The simulator's /_sim/ control API, as the harness uses it."""

from typing import Any
from urllib.parse import urlencode

from listening.simulator.control import control_call


class Sim:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return control_call(self.url, method, path, body, timeout=60)

    def publish(
        self, network: str, account_id: str, count: int, kind: str | None
    ) -> list[tuple[str, str]]:
        """`count` posts: (id, what it turned out to be) each, in creation order."""
        body: dict[str, Any] = {"network": network, "account_id": account_id, "count": count}
        if kind:
            body["kind"] = kind
        answer = self.call("POST", "/_sim/publish", body)
        return list(zip(answer["ids"], answer["kinds"], strict=True))

    def fault(self, network: str, fault: str, count: int = 1, path: str = "", **options: Any):
        body = {"network": network, "fault": fault, "count": count, "path_contains": path}
        return self.call("POST", "/_sim/faults", {**body, **options})

    def pending_faults(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_sim/faults")["faults"]

    def fired(self, tag: str) -> dict[str, Any] | None:
        """The fault queued with `tag` once it fired (with the client port it hit), else None."""
        found = [f for f in self.call("GET", "/_sim/faults")["fired"] if f.get("tag") == tag]
        return found[-1] if found else None

    def clear_faults(self) -> None:
        self.call("DELETE", "/_sim/faults")

    def visibility_lag(self, seconds: float, posts: int) -> None:
        """Each of the brand's next `posts` posts is listed `seconds` after it is accepted."""
        self.fault("any", "visibility_lag", posts, seconds=seconds)

    def replies(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_sim/replies")["replies"]

    def reads(self, about: str = "", path: str = "") -> list[dict[str, Any]]:
        """The simulator's journal of reads that name `about` (in their path or an id served),
        or whose path contains `path`."""
        return self.call("GET", f"/_sim/reads?{urlencode({'about': about, 'path': path})}")["reads"]

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/_sim/stats")

    def requests(self, route: str) -> int:
        return int(self.stats()["requests"].get(route, 0))
