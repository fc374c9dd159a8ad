"""Loopback servers for faults the emulator and moto cannot produce themselves.

* :class:`S3FaultProxy` forwards every request to moto's S3 server, except those
  a queued rule fails with an S3 error answer (moto has no fault injection);
* :class:`ScriptedApi` answers the Usage Intelligence API with whatever a test
  scripts (hostile file names, malformed JSON), logging in like the real one.

Both are real HTTP servers on real sockets: the provider's HTTP code and boto3
run unmodified against them.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
)


@dataclass
class S3Rule:
    """Fail the next ``count`` requests for which ``matches(method, path_and_query, headers)`` holds."""

    matches: Callable[[str, str, Mapping[str, str]], bool]
    status: int
    code: str
    message: str
    count: int = 1_000_000
    hits: int = 0


Headers = Mapping[str, str]


def upload_part(method: str, target: str, headers: Headers) -> bool:
    return method == "PUT" and "partNumber=" in target and "uploadId=" in target


def complete_upload(method: str, target: str, headers: Headers) -> bool:
    return method == "POST" and "uploadId=" in target


def abort_upload(method: str, target: str, headers: Headers) -> bool:
    return method == "DELETE" and "uploadId=" in target


def copy_object(method: str, target: str, headers: Headers) -> bool:
    return method == "PUT" and "x-amz-copy-source" in {k.lower() for k in headers}


def put_object(method: str, target: str, headers: Headers) -> bool:
    return method == "PUT" and "uploadId=" not in target and not copy_object(method, target, headers)


def writes(method: str, target: str, headers: Headers) -> bool:
    return upload_part(method, target, headers) or put_object(method, target, headers)


def any_request(method: str, target: str, headers: Headers) -> bool:
    return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Running:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        raw = bytearray()
        while True:
            line = handler.rfile.readline()
            raw += line
            size = int(line.split(b";")[0].strip() or b"0", 16)
            raw += handler.rfile.read(size + 2)
            if size == 0:
                while line not in (b"\r\n", b"\n", b""):  # trailers up to the blank line
                    line = handler.rfile.readline()
                    raw += line
                return bytes(raw)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as boto3 expects

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        proxy: S3FaultProxy = self.server.owner  # type: ignore[attr-defined]
        body = _read_body(self)
        rule = proxy.take(self.command, self.path, dict(self.headers.items()))
        if rule is not None:
            self._answer(rule.status, S3_ERROR.format(code=rule.code, message=rule.message).encode())
            return
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            # a HEAD answer has no body but the object's Content-Length: pass that one through
            dropped = {"transfer-encoding", "connection"}
            if self.command != "HEAD":
                dropped.add("content-length")
            for key, value in response.getheaders():
                if key.lower() not in dropped:
                    self.send_header(key, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class S3FaultProxy(_Running):
    """A loopback S3 endpoint in front of moto that fails requests matching queued rules."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(_ProxyHandler)
        parts = urlsplit(upstream_url)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rules: list[S3Rule] = []
        self.failed: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def fail(
        self, matches: Callable[[str, str], bool], status: int, code: str, message: str, **kw: Any
    ) -> S3Rule:
        rule = S3Rule(matches, status, code, message, **kw)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, target: str, headers: Headers) -> S3Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.count > 0 and rule.matches(method, target, headers):
                    rule.count -= 1
                    rule.hits += 1
                    self.failed.append((method, target))
                    return rule
        return None


#: ``(status, body)`` for a path; body bytes are sent as they are, anything else as JSON.
Answer = tuple[int, Any]


class _ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        api: ScriptedApi = self.server.owner  # type: ignore[attr-defined]
        _read_body(self)
        path = urlsplit(self.path).path
        api.paths.append(path)
        status, body = api.answer(path)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json" if not isinstance(body, bytes) else "application/zip"
        )
        self.send_header("Content-Length", str(len(data)))
        if path.endswith("/auth/web"):
            self.send_header("Set-Cookie", "RUI-Session-Token=session-secret-1234; Path=/")
            self.send_header("Set-Cookie", "RUI-Csrf=csrf-secret-5678; Path=/")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle


class ScriptedApi(_Running):
    """A Usage Intelligence API whose answers are scripted by path regex; login always works."""

    def __init__(self, routes: dict[str, Answer]) -> None:
        super().__init__(_ApiHandler)
        self.routes = {"request-csrf$": (200, {}), "auth/web$": (200, {}), **routes}
        self.paths: list[str] = []

    def answer(self, path: str) -> Answer:
        for pattern, answer in self.routes.items():
            if re.search(pattern, path):
                return answer
        return 404, {"status": "Error", "reason": "not scripted"}

    def serve_file(self, name: str, data: bytes) -> None:
        """Hand out a URL on this server for ``name`` (whichever file is asked for), serving ``data``."""
        self.routes["getDownloadUrl"] = (200, {"downloadUrl": f"{self.url}/_files/{name}"})
        self.routes[f"_files/{re.escape(name)}$"] = (200, data)

    def connection(self, **extra: Any) -> dict[str, Any]:
        return {
            "conn_type": "usage_intelligence",
            "host": self.url,
            "login": "user@example.com",
            "password": "scripted-password-42",
            "extra": {"product_id": "1234567890", "retry_wait": 0.01, "max_retries": 1, **extra},
        }
