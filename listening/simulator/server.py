"""The simulator's HTTP side: routing, auth, faults, headers and the /_sim/ control API.

X API v2 lives under /2/ (with X's OAuth 2.0 token endpoint, see `oauth`), the Graph API under
/v<version>/, the control API under /_sim/, all on one port. Requests are handled on their own
threads; the state is touched only with `state.lock` held, and deliberate sleeps (timeout faults)
happen with the lock released.
"""

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from listening.simulator import media as sim_media
from listening.simulator import moderation
from listening.simulator.control_api import control_answer
from listening.simulator.fault_answers import (
    auth_error,
    corrupt,
    graph_server_error,
    rate_limit_error,
    x_error,
)
from listening.simulator.oauth import TOKEN_PATH
from listening.simulator.state import Account, ApiError, SimState

log = logging.getLogger("listening.simulator")

GRAPH_VERSION = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
MIN_GRAPH_MAJOR = 20
# Query parameters that move through pages: "repeat_page" ignores them.
CURSOR_PARAMS = ("pagination_token", "next_token", "after", "before")


@dataclass
class Request:
    method: str
    network: str
    path: str
    args: tuple[str, ...]
    params: dict[str, str]
    body: dict[str, Any]
    token: str
    base_url: str
    account: Account | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def ctx(self) -> dict[str, Any]:
        return {"params": self.params, "path": self.path, "base_url": self.base_url}


Handler = Callable[[SimState, Request], dict[str, Any]]


def _x_routes() -> list[tuple[str, re.Pattern[str], str, Handler]]:
    def account(state: SimState, req: Request) -> Account:
        assert req.account is not None
        return req.account

    return [
        (
            "GET",
            re.compile(r"^/2/users/me$"),
            "me",
            lambda s, r: s.x.get_me(account(s, r), r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/users/(\w+)/mentions$"),
            "mentions",
            lambda s, r: s.x.get_mentions(r.args[0], r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/users/(\w+)/tweets$"),
            "user_tweets",
            lambda s, r: s.x.get_user_tweets(r.args[0], r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/tweets/search/recent$"),
            "search",
            lambda s, r: s.x.search_recent(r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/tweets$"),
            "tweets_lookup",
            lambda s, r: s.x.get_tweets(r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/tweets/(\d+)$"),
            "tweet_lookup",
            lambda s, r: s.x.get_tweet(r.args[0], r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/dm_events$"),
            "dm_events",
            lambda s, r: s.x.get_dm_events(account(s, r), r.params),
        ),
        (
            "GET",
            re.compile(r"^/2/dm_conversations/with/(\w+)/dm_events$"),
            "dm_events",
            lambda s, r: s.x.get_dm_conversation_events(account(s, r), r.args[0], r.params),
        ),
        (
            "POST",
            re.compile(r"^/2/tweets$"),
            "create_tweet",
            lambda s, r: s.x.create_tweet(account(s, r), r.body),
        ),
        (
            "DELETE",
            re.compile(r"^/2/tweets/(\d+)$"),
            "delete_tweet",
            lambda s, r: moderation.x_delete(s, account(s, r), r.args[0]),
        ),
        (
            "POST",
            re.compile(r"^/2/dm_conversations/with/(\w+)/messages$"),
            "create_dm",
            lambda s, r: s.x.create_dm(account(s, r), r.args[0], r.body),
        ),
    ]


def _graph_routes() -> list[tuple[str, re.Pattern[str], str, Handler]]:
    """Graph routes; Instagram objects share the host and most edge names with Facebook's, so
    a route answers from `state.ig` when the object (or the platform asked for) is Instagram's."""

    def comments(s: SimState, r: Request) -> dict[str, Any]:
        if s.ig.owns(r.args[0]):
            return s.ig.get_comments(r.args[0], r.ctx())
        return s.fb.get_comments(r.args[0], r.ctx())

    def conversations(s: SimState, r: Request) -> dict[str, Any]:
        if r.params.get("platform") == "instagram":
            s.fb.page(r.args[0])
            return s.ig.get_conversations(r.args[0], r.ctx())
        return s.fb.get_conversations(r.args[0], r.ctx())

    def messages(s: SimState, r: Request) -> dict[str, Any]:
        if s.ig.owns(r.args[0]):
            return s.ig.get_messages(r.args[0], r.ctx())
        return s.fb.get_messages(r.args[0], r.ctx())

    def get_object(s: SimState, r: Request) -> dict[str, Any]:
        if s.ig.owns(r.args[0]):
            return s.ig.get_object(r.args[0], r.ctx())
        return s.fb.get_object(r.args[0], r.ctx())

    def send_message(s: SimState, r: Request) -> dict[str, Any]:
        if s.ig.takes_message(r.args[0], r.body):
            return s.ig.post_message(r.args[0], r.body)
        return s.fb.post_message(r.args[0], r.body)

    return [
        (
            "GET",
            re.compile(r"^/([\w]+)/(feed|posts|tagged)$"),
            "feed",
            lambda s, r: s.fb.get_feed(r.args[0], r.args[1], r.ctx()),
        ),
        (
            "GET",
            re.compile(r"^/([\w]+)/(media|tags)$"),
            "ig_media",
            lambda s, r: s.ig.get_media(r.args[0], r.args[1], r.ctx()),
        ),
        ("GET", re.compile(r"^/([\w]+)/comments$"), "comments", comments),
        (
            "GET",
            re.compile(r"^/([\w]+)/replies$"),
            "ig_replies",
            lambda s, r: s.ig.get_replies(r.args[0], r.ctx()),
        ),
        ("GET", re.compile(r"^/([\w]+)/conversations$"), "conversations", conversations),
        ("GET", re.compile(r"^/([\w]+)/messages$"), "messages", messages),
        (
            "GET",
            re.compile(r"^/$"),
            "objects",
            lambda s, r: s.fb.get_objects(r.ctx()),
        ),
        ("GET", re.compile(r"^/([\w\-=]+)$"), "object", get_object),
        (
            "POST",
            re.compile(r"^/([\w]+)/comments$"),
            "create_comment",
            lambda s, r: s.fb.post_comment(r.args[0], r.body),
        ),
        (
            "POST",
            re.compile(r"^/([\w]+)/replies$"),
            "create_ig_reply",
            lambda s, r: s.ig.post_reply(r.args[0], r.body),
        ),
        (
            "POST",
            re.compile(r"^/([\w]+)$"),
            "update_object",
            lambda s, r: moderation.graph_update(s, _page(r), r.args[0], r.body),
        ),
        (
            "DELETE",
            re.compile(r"^/([\w]+)$"),
            "delete_object",
            lambda s, r: moderation.graph_delete(s, _page(r), r.args[0]),
        ),
        ("POST", re.compile(r"^/([\w]+)/messages$"), "create_message", send_message),
    ]


def _page(req: Request) -> Account:
    assert req.account is not None  # set from the token before any handler runs
    return req.account


X_ROUTES = _x_routes()
GRAPH_ROUTES = _graph_routes()


def _match_route(
    routes: list[tuple[str, re.Pattern[str], str, Handler]], method: str, path: str
) -> tuple[re.Match[str], str, Handler] | None:
    for route_method, pattern, name, handler in routes:
        found = pattern.match(path)
        if found and route_method == method:
            return found, name, handler
    return None


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        state: SimState,
        fault_sleep: float = 30.0,
        verbose: bool = False,
    ) -> None:
        super().__init__(address, SimulatorHandler)
        self.state = state
        self.fault_sleep = fault_sleep
        self.verbose = verbose
        # Set on shutdown so that sleeping timeout faults wake up and threads can finish.
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    server_version = "SocialDeskSimulator/1.0"
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection is dropped after this many seconds.
    timeout = 120
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add 40 ms to every small answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- plumbing -----------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: dict[str, Any] | list[Any] | str,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        payload = (
            body.encode()
            if isinstance(body, str)
            else json.dumps(body, ensure_ascii=False).encode("utf-8")
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout fault): nothing left to tell it.
            self.close_connection = True

    def _send_bytes(self, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            try:
                value = json.loads(raw)
            except ValueError:
                raise ApiError(
                    400, {"title": "Invalid Request", "detail": "Body is not JSON"}
                ) from None
            return value if isinstance(value, dict) else {}
        if "x-www-form-urlencoded" in content_type or not content_type:
            return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        return {}

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        path = split.path
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
        except ApiError as exc:
            self._send(exc.status, exc.body)
            return
        if path.startswith("/_sim/"):
            self._control(method, path, params, body)
            return
        if path.startswith("/cdn/") and method == "GET":
            image = sim_media.image_for(path)
            if image is None:
                self._send(404, "Not found", content_type="text/plain")
            else:
                self._send_bytes(image, "image/png")
            return
        if path == TOKEN_PATH and method == "POST":
            self._token_endpoint(body)
            return
        if path.startswith("/2/"):
            self._api(method, "x", path, path, params, body)
            return
        match = GRAPH_VERSION.match(path)
        if match:
            major = int(match.group(1))
            if major < MIN_GRAPH_MAJOR:
                self._send(
                    400,
                    {
                        "error": {
                            "message": f"(#2635) You are calling a deprecated version of the "
                            f"Graph API (v{match.group(1)}.{match.group(2)}). Please update to "
                            "the latest version: v23.0.",
                            "type": "OAuthException",
                            "code": 2635,
                            "fbtrace_id": "AsimVersionTrace",
                        }
                    },
                    content_type="application/json; charset=UTF-8",
                )
                return
            self._api(method, "facebook", path, match.group(3), params, body)
            return
        self._send(404, {"title": "Not Found Error", "detail": f"No route {path}", "status": 404})

    def _token(self, network: str, params: dict[str, str], body: dict[str, Any]) -> str:
        header = self.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:].strip()
        if header.startswith("OAuth "):
            found = re.search(r'oauth_token="([^"]*)"', header)
            return found.group(1) if found else ""
        if network == "facebook":
            return str(params.get("access_token") or body.get("access_token") or "")
        return ""

    def _token_endpoint(self, form: dict[str, Any]) -> None:
        """POST /2/oauth2/token: a refresh (see `oauth`), answered in OAuth's error shape."""
        state = self.server.state
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        with state.lock:
            state.requests["x:POST oauth2_token"] += 1
            try:
                answer = state.oauth.refresh(form, self.headers.get("Authorization", ""))
                status = 200
            except ApiError as exc:
                status, answer = exc.status, exc.body
        self._send(status, answer, headers)

    def _api(
        self,
        method: str,
        network: str,
        full_path: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any],
    ) -> None:
        server = self.server
        state = server.state
        routes = X_ROUTES if network == "x" else GRAPH_ROUTES
        host = self.headers.get("Host") or f"{server.server_address[0]}:{server.server_address[1]}"
        content_type = (
            "application/json; charset=utf-8"
            if network == "x"
            else "application/json; charset=UTF-8"
        )
        matched = _match_route(routes, method, path)
        if matched is None:
            if network == "x":
                self._send(404, x_error(404, "Not Found Error", f"No route {method} {path}").body)
            else:
                self._send(
                    400,
                    {
                        "error": {
                            "message": f"Unknown path components: {path}",
                            "type": "OAuthException",
                            "code": 2500,
                            "fbtrace_id": "AsimRouteTrace",
                        }
                    },
                    content_type=content_type,
                )
            return
        found, name, handler = matched
        route = f"{network}:{method} {name}"
        request = Request(
            method,
            network,
            full_path,
            found.groups(),
            params,
            body,
            self._token(network, params, body),
            f"http://{host}",
        )
        page_id = request.args[0] if request.args else ""
        sleep_after = False
        with state.lock:
            state.requests[route] += 1
            try:
                if not request.token:
                    if network == "x":
                        raise x_error(401, "Unauthorized")
                    raise ApiError(
                        400,
                        {
                            "error": {
                                "message": "An access token is required to request this resource.",
                                "type": "OAuthException",
                                "code": 104,
                                "fbtrace_id": "AsimNoTokenTrace",
                            }
                        },
                    )
                if request.token.startswith("revoked"):
                    raise auth_error(network)
                if network == "x" and state.check_tokens and not state.oauth.is_live(request.token):
                    raise x_error(401, "Unauthorized")
                request.account = state.account_for_token(network, request.token)
                fault = state.take_fault(
                    network,
                    full_path,
                    (
                        "429",
                        "500",
                        "503",
                        "timeout",
                        "revoked",
                        "accept_then_timeout",
                        "accept_then_500",
                        "repeat_page",
                    ),
                )
                if fault is not None and fault.fault == "repeat_page" and method != "GET":
                    fault = None
                if fault is not None:
                    log.info("fault %s on %s %s", fault.fault, method, full_path)
                    fired = {**fault.as_json(), "client_port": self.client_address[1]}
                    state.fired = [*state.fired[-49:], {**fired, "method": method}]
                    if fault.fault == "revoked":
                        raise auth_error(network, fault.options.get("status"))
                    if fault.fault == "429":
                        raise rate_limit_error(state, network, fault, page_id)
                    if fault.fault in ("500", "503"):
                        status = int(fault.fault)
                        if fault.options.get("html"):
                            raise ApiError(status, {"html": True})
                        if network == "x":
                            title = (
                                "Service Unavailable" if status == 503 else "Internal Server Error"
                            )
                            raise x_error(status, title)
                        raise graph_server_error(status)
                    if fault.fault == "timeout":
                        sleep_after = True
                    elif fault.fault == "accept_then_timeout":
                        sleep_after = True
                        request.extra["accept"] = True
                    elif fault.fault == "accept_then_500":
                        request.extra["lose_answer"] = True
                    elif fault.fault == "repeat_page":
                        request.extra["repeat"] = True
                if sleep_after and not request.extra.get("accept"):
                    answer: tuple[int, dict[str, Any]] | None = None
                else:
                    answer = self._answer(state, request, name, handler, route)
                headers = self._headers(state, network, name, page_id)
            except ApiError as exc:
                self._send_error(exc, network, content_type)
                return
        if sleep_after:
            # The client times out meanwhile; a plain "timeout" had no effect on the network.
            server.stopping.wait(server.fault_sleep)
            if answer is None:
                error = (
                    x_error(503, "Service Unavailable")
                    if network == "x"
                    else graph_server_error(503)
                )
                self._send_error(error, network, content_type)
                return
        status, payload = answer
        if request.extra.get("lose_answer"):
            # The network did the work, then failed to say so.
            error = (
                x_error(500, "Internal Server Error") if network == "x" else graph_server_error(500)
            )
            self._send_error(error, network, content_type)
            return
        self._send(status, payload, headers, content_type)

    def _answer(
        self, state: SimState, request: Request, name: str, handler: Handler, route: str
    ) -> tuple[int, dict[str, Any]]:
        key = (request.network, request.path)
        if request.extra.get("repeat"):
            if key in state.last_pages:
                status, payload = state.last_pages[key]
                state.journal_read(request.path, {"repeated": "1"}, payload)
                self._count(state, route, payload)
                return status, json.loads(json.dumps(payload))
            request.params = {k: v for k, v in request.params.items() if k not in CURSOR_PARAMS}
        payload = handler(state, request)
        status = 201 if request.network == "x" and request.method == "POST" else 200
        if request.method == "GET":
            data = payload.get("data")
            if isinstance(data, list) and data:
                fault = state.take_fault(request.network, request.path, ("malformed",))
                if fault is not None:
                    variant = corrupt(request.network, payload, fault)
                    log.info("fault malformed (%s) on %s", variant, request.path)
                state.last_pages[key] = (status, json.loads(json.dumps(payload)))
            state.journal_read(request.path, request.params, payload)
            self._count(state, route, payload)
        return status, payload

    @staticmethod
    def _count(state: SimState, route: str, payload: dict[str, Any]) -> None:
        state.reads[route] += 1
        data = payload.get("data")
        state.items_served[route] += len(data) if isinstance(data, list) else int(bool(data))

    def _headers(self, state: SimState, network: str, name: str, page_id: str) -> dict[str, str]:
        if network == "x":
            return state.x.count_window(name)
        state.fb.calls += 1
        usage = min(99, state.fb.calls // 20)
        usage_json = {"call_count": usage, "total_cputime": usage // 2, "total_time": usage // 2}
        headers = {"facebook-api-version": "v23.0", "x-app-usage": json.dumps(usage_json)}
        if ("facebook", page_id) in state.accounts:
            headers["x-business-use-case-usage"] = json.dumps(
                {page_id: [{"type": "pages", **usage_json, "estimated_time_to_regain_access": 0}]}
            )
        return headers

    def _send_error(self, exc: ApiError, network: str, content_type: str) -> None:
        if exc.body.get("html"):
            html = (
                f"<html><head><title>{exc.status}</title></head><body><h1>{exc.status} "
                "Service Unavailable</h1><p>The server is temporarily unable to service your "
                "request.</p></body></html>"
            )
            self._send(exc.status, html, exc.headers, "text/html; charset=utf-8")
            return
        self._send(exc.status, exc.body, exc.headers, content_type)

    # -- control API --------------------------------------------------------------------

    def _control(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any]
    ) -> None:
        state = self.server.state
        try:
            with state.lock:
                answer = control_answer(state, method, path, params, body)
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, {"error": str(exc)})
            return
        if answer is None:
            self._send(404, {"error": f"no control endpoint {method} {path}"})
        else:
            self._send(200, answer)


class TrafficThread(threading.Thread):
    """Creates customer posts at `state.rate` per minute, round-robin over the accounts."""

    def __init__(self, state: SimState, stopping: threading.Event) -> None:
        super().__init__(name="simulator-traffic", daemon=True)
        self.state = state
        self.stopping = stopping

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.state.lock:
                rate = self.state.rate
            if rate <= 0:
                self.stopping.wait(0.5)
                continue
            if self.stopping.wait(60.0 / rate):
                return
            with self.state.lock:
                if self.state.rate <= 0:  # stopped while we waited
                    continue
                try:
                    self.state.publish_background()
                except Exception:  # the generator must outlive one bad step
                    log.exception("background publish failed")


def make_server(
    host: str,
    port: int,
    state: SimState,
    fault_sleep: float = 30.0,
    verbose: bool = False,
) -> tuple[SimulatorServer, TrafficThread]:
    """A bound server (port 0 picks a free one) and its traffic thread, neither started."""
    server = SimulatorServer((host, port), state, fault_sleep, verbose)
    state.webhooks.start(server.stopping)
    state.own_url = server.url  # where its "CDN" images are served (listening.simulator.media)
    return server, TrafficThread(state, server.stopping)
