"""A tiny loopback HTTP server that answers the seeds' response samples verbatim.

It knows each API's authentication just well enough to let a client in, answers one
route per sample with the transcribed body, and records what it was sent. It is not
the emulator on purpose: the emulator computes answers, this serves the seed's own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CSRF_COOKIE = "RUI-Csrf"
SESSION_COOKIE = "RUI-Session-Token"


@dataclass
class StubRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)


Route = Callable[[StubRequest], Reply]
#: answers a request before its route (authentication), or lets it through with ``None``.
Guard = Callable[[StubRequest], Reply | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        jar: SimpleCookie = SimpleCookie(self.headers.get("Cookie", ""))
        request = StubRequest(
            method=self.command,
            path=parts.path,
            query={key: values[-1] for key, values in parse_qs(parts.query).items()},
            headers={key.lower(): value for key, value in self.headers.items()},
            cookies={key: morsel.value for key, morsel in jar.items()},
            body=json.loads(raw) if raw else None,
        )
        reply = self.server.stub.answer(request)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubServer


class StubServer:
    """Routes by ``(method, path)``; everything else answers 404. Also a context manager."""

    def __init__(self, routes: Mapping[tuple[str, str], Route], guard: Guard | None = None) -> None:
        self.routes = dict(routes)
        self.guard = guard
        self.requests: list[StubRequest] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, request: StubRequest) -> Reply:
        self.requests.append(request)
        if self.guard is not None:
            refused = self.guard(request)
            if refused is not None:
                return refused
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Reply(
                404, {"status": "ERROR", "reason": f"stub: no sample for {request.method} {request.path}"}
            )
        return route(request)

    def calls(self, path: str) -> list[StubRequest]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def fixed(body: Any, status: int = 200) -> Route:
    """A route answering ``body`` whatever was asked."""
    return lambda request: Reply(status, body)


# -- Usage Intelligence: the seed's cookie flow, minimally --------------------------------------------


def usage_intelligence_routes(
    user: str, password: str, login_answer: Any
) -> tuple[dict[tuple[str, str], Route], Guard]:
    """``request-csrf`` -> 204 + CSRF cookie; ``auth/web`` -> the seed's login answer + both cookies.

    Every other call needs both cookies (401 otherwise), as the seed says.
    """
    csrf, session = "stub-csrf-token", "stub-session-token"

    def cookie(name: str, value: str) -> tuple[str, str]:
        return ("Set-Cookie", f"{name}={value}; Path=/; HttpOnly")

    def request_csrf(request: StubRequest) -> Reply:
        return Reply(204, None, [cookie(CSRF_COOKIE, csrf)])

    def auth_web(request: StubRequest) -> Reply:
        if request.cookies.get(CSRF_COOKIE) != csrf:
            return Reply(400, {"status": "ERROR", "reason": "Cookie Missing"}, [cookie(CSRF_COOKIE, csrf)])
        body = request.body if isinstance(request.body, dict) else {}
        if (body.get("userName"), body.get("password")) != (user, password):
            return Reply(401, {"status": "AUTH ERROR", "reason": "Invalid credentials"})
        return Reply(200, login_answer, [cookie(CSRF_COOKIE, csrf), cookie(SESSION_COOKIE, session)])

    def logout(request: StubRequest) -> Reply:
        return Reply(204)

    def guard(request: StubRequest) -> Reply | None:
        if request.path in ("/v3/request-csrf", "/v3/auth/web"):
            return None
        if request.cookies.get(SESSION_COOKIE) != session or request.cookies.get(CSRF_COOKIE) != csrf:
            return Reply(401, {"status": "AUTH ERROR", "reason": "Not authenticated"})
        return None

    routes: dict[tuple[str, str], Route] = {
        ("GET", "/v3/request-csrf"): request_csrf,
        ("POST", "/v3/auth/web"): auth_web,
        ("POST", "/v3/auth/logout"): logout,
    }
    return routes, guard


# -- Fluid Topics and FusionAuth: API keys ------------------------------------------------------------


def fluid_topics_guard(api_key: str) -> Guard:
    """``Authorization: Bearer <key>`` (401 with no body), and ``Ft-Calling-App`` on POST (400)."""

    def guard(request: StubRequest) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return Reply(401)
        if request.method == "POST" and not request.headers.get("ft-calling-app"):
            return Reply(400, {"status": "ERROR", "reason": "Missing header Ft-Calling-App"})
        return None

    return guard


def fusionauth_guard(api_key: str) -> Guard:
    """The raw key in ``Authorization`` (401 with an empty body, as the seed documents)."""

    def guard(request: StubRequest) -> Reply | None:
        return None if request.headers.get("authorization") == api_key else Reply(401)

    return guard
