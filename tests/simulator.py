"""Run the simulator inside a test process: `with running_simulator(seed=1) as sim: ...`.

The server binds a real port on 127.0.0.1, so other processes (a Celery worker in the
end-to-end tests) can reach it over HTTP. The helper talks to the /_sim/ control API over HTTP
(`listening.simulator.control`) and moves the simulator's clock in process (`advance`).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from listening.simulator.control import control_call
from listening.simulator.oauth import DEFAULT_CLIENT_ID
from listening.simulator.server import SimulatorServer, make_server
from listening.simulator.state import SimState


class SimulatorClient:
    """A running simulator: its `url` and the control API as methods."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.url = server.url
        self.state = server.state

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return control_call(self.url, method, path, body)

    def register_account(
        self, network: str, account_id: str, handle: str, name: str = "", token: str = ""
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "/_sim/accounts",
            {
                "network": network,
                "account_id": account_id,
                "handle": handle,
                "name": name,
                "token": token,
            },
        )

    def publish(
        self,
        network: str,
        count: int = 1,
        account_id: str | None = None,
        kind: str | None = None,
        seed: int | None = None,
        **extra: Any,
    ) -> list[str]:
        """Create `count` customer posts now; returns their ids in creation order."""
        body: dict[str, Any] = {"network": network, "count": count, **extra}
        if account_id is not None:
            body["account_id"] = account_id
        if kind is not None:
            body["kind"] = kind
        if seed is not None:
            body["seed"] = seed
        return self._call("POST", "/_sim/publish", body)["ids"]

    def edit(self, network: str, item_id: str, text: str) -> str:
        """The author edits a post; the id it has now (X: a new one)."""
        body = {"network": network, "id": item_id, "text": text}
        return self._call("POST", "/_sim/edit", body)["id"]

    def delete(self, network: str, item_id: str) -> list[str]:
        """The author deletes a post; the ids that went with it."""
        return self._call("POST", "/_sim/delete", {"network": network, "id": item_id})["deleted"]

    def replies(self, network: str | None = None) -> list[dict[str, Any]]:
        query = f"?network={network}" if network else ""
        return self._call("GET", f"/_sim/replies{query}")["replies"]

    def fault(
        self,
        network: str,
        fault: str,
        count: int = 1,
        path_contains: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        body = {"network": network, "fault": fault, "count": count, **options}
        if path_contains:
            body["path_contains"] = path_contains
        return self._call("POST", "/_sim/faults", body)

    def fired(self) -> list[dict[str, Any]]:
        """The latest faults that fired, each with the client port of the request it hit."""
        return self._call("GET", "/_sim/faults")["fired"]

    def token_mode(
        self, check_tokens: bool | None = None, token_lifetime: int | None = None
    ) -> dict[str, Any]:
        """Switch X access token checking on or off; set the lifetime of tokens issued next."""
        body: dict[str, Any] = {}
        if check_tokens is not None:
            body["check_tokens"] = check_tokens
        if token_lifetime is not None:
            body["token_lifetime"] = token_lifetime
        return self._call("POST", "/_sim/oauth", body)

    def authorise(
        self, account_id: str | None = None, client_id: str = DEFAULT_CLIENT_ID
    ) -> dict[str, Any]:
        """A first OAuth 2.0 token pair for an X brand account (the end of the consent flow)."""
        body = {"client_id": client_id}
        if account_id is not None:
            body["account_id"] = account_id
        return self._call("POST", "/_sim/oauth/grants", body)

    def webhooks(self, url: str, app_secret: str) -> dict[str, Any]:
        """Deliver Meta webhooks for the Facebook traffic to `url`, signed with `app_secret`."""
        return self._call("POST", "/_sim/webhooks", {"url": url, "app_secret": app_secret})

    def rate(self, per_minute: float) -> dict[str, Any]:
        return self._call("POST", "/_sim/rate", {"per_minute": per_minute})

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        return self._call("POST", "/_sim/reset", {} if seed is None else {"seed": seed})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sim/stats")

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock `seconds` on: tokens expire, lags pass, no one waits."""
        with self.state.lock:
            self.state.clock.advance(seconds)


@contextmanager
def running_simulator(
    seed: int = 0, rate: float = 0, fault_sleep: float = 30.0, host: str = "127.0.0.1"
) -> Iterator[SimulatorClient]:
    """Serve a fresh simulator on a free port for the duration of the block.

    Ids are deterministic (fixed bases), so two simulators with the same seed fed the same
    calls produce the same posts. On exit, sleeping fault handlers are woken and the port is
    released.
    """
    state = SimState(seed)
    state.rate = rate
    server, traffic = make_server(host, 0, state, fault_sleep)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    traffic.start()
    try:
        yield SimulatorClient(server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        traffic.join(timeout=5)
        state.webhooks.join(timeout=5)
