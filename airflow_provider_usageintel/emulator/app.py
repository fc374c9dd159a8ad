"""The emulator's FastAPI application: shared context, error envelope, fault middleware, control API.

Vendor APIs plug in as router factories (``Callable[[EmulatorContext],
APIRouter]``) passed to :func:`create_app`; they all share one context, so one
fault queue, request log, simulated clock and dataset serve every API.

Control API (no authentication; never faulted; not in the request log):

* ``GET  /_emulator/clock`` -> ``{"today": "YYYY-MM-DD"}``
* ``POST /_emulator/clock`` ``{"advance_days": N}`` -> ``{"today": ...}``: yesterday's open
  file becomes final, a month that closes gets its monthly file, a new open file appears.
* ``POST /_emulator/files`` ``{"file_name": ..., "size_bytes": N}``: pin a file's exact zip size.
* ``GET  /_emulator/latency`` -> ``{"latency_ms": N}``; ``POST`` ``{"latency_ms": N}`` changes it:
  every later API request and download waits that long before it is answered.
* ``GET  /_emulator/bandwidth`` -> ``{"download_mib_per_s": N}``; ``POST`` changes it: every
  later file download flows at most that fast (0: unlimited).
* ``POST /_emulator/faults`` ``{"path": regex, "kind": ..., "status", "retry_after",
  "after_bytes", "delay_s", "count"}`` -> the queued fault (see :mod:`.faults`);
  ``GET`` lists pending faults, ``DELETE`` drops them.
* ``GET  /_emulator/requests`` -> ``[{"method", "path", "status"}, ...]`` (paths only).
* ``GET  /_emulator/sessions`` -> ``{"logins", "logouts", "open"}``: Usage Intelligence logins,
  sessions ended by a logout, and sessions still open (neither logged out nor expired).
* ``POST /_emulator/reset``: drop pending faults, the request log and the login counts (204).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.faults import BODY_FAULTS, Fault, FaultQueue
from airflow_provider_usageintel.emulator.files import Dataset, FileCatalog
from airflow_provider_usageintel.emulator.state import (
    DownloadSigner,
    RequestLog,
    RuntimeSetting,
    SessionStore,
    SimulatedBandwidth,
    SimulatedClock,
    SimulatedLatency,
)

CONTROL_PREFIX = "/_emulator"
DOWNLOAD_PREFIX = "/_download/"
SESSION_COOKIE = "RUI-Session-Token"
CSRF_COOKIE = "RUI-Csrf"


@dataclass
class EmulatorContext:
    """Everything the routes of every emulated API share."""

    config: EmulatorConfig
    clock: SimulatedClock
    dataset: Dataset
    files: FileCatalog
    sessions: SessionStore
    signer: DownloadSigner
    faults: FaultQueue
    log: RequestLog
    latency: SimulatedLatency
    bandwidth: SimulatedBandwidth

    @classmethod
    def from_config(cls, config: EmulatorConfig) -> EmulatorContext:
        dataset = Dataset(config)
        return cls(
            config=config,
            clock=SimulatedClock(config.today),
            dataset=dataset,
            files=FileCatalog(dataset, config),
            sessions=SessionStore(config.session_idle_seconds),
            signer=DownloadSigner(config.download_url_ttl_seconds),
            faults=FaultQueue(),
            log=RequestLog(),
            latency=SimulatedLatency(config.latency_ms),
            bandwidth=SimulatedBandwidth(config.download_mib_per_s),
        )


RouterFactory = Callable[[EmulatorContext], APIRouter]


# --------------------------------------------------------------------------- errors


def status_label(http_status: int) -> str:
    """The envelope's ``status`` word for an HTTP status (v2 vocabulary where it has one)."""
    if http_status in (401, 403):
        return "AUTH ERROR"
    if http_status in (400, 405, 415, 422):
        return "SYNTAX ERROR"
    if http_status == 501:
        return "NOT IMPLEMENTED"
    return "ERROR"


def error_response(http_status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error has one shape: ``{"status": ..., "reason": ...}``."""
    body = {"status": status_label(http_status), "reason": reason}
    return JSONResponse(body, status_code=http_status, headers=headers)


class ApiError(Exception):
    """Raised by routes to answer with the error envelope."""

    def __init__(self, http_status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.http_status = http_status
        self.reason = reason
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.http_status, self.reason, self.headers)


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # noqa: S101 - registered for this type only
    return exc.response()


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    return error_response(422, f"Invalid request: {exc.errors()}")


def set_cookie(response: Response, name: str, value: str) -> None:
    """Session cookies as the vendor sets them: path-wide, HttpOnly (no ``Secure`` over plain http)."""
    response.headers.append("set-cookie", f"{name}={value}; Path=/; HttpOnly")


def clear_cookie(response: Response, name: str) -> None:
    expired = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    response.headers.append("set-cookie", f"{name}=; Path=/; {expired}; HttpOnly")


def request_cookies(scope: Scope) -> dict[str, str]:
    """Cookies of a raw ASGI request (the middleware has no ``Request`` object)."""
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                continue
    return {key: morsel.value for key, morsel in jar.items()}


# --------------------------------------------------------------------------- middleware


class InjectedReset(Exception):
    """Raised to make the server drop the connection mid-body; the log filter hides it."""


class _StopBody(Exception):
    """Stops the application once a truncated answer has been fully sent."""


class _SilenceInjectedResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


def silence_injected_resets() -> None:
    """Keep deliberate connection drops out of the server's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _SilenceInjectedResets) for f in logger.filters):
        logger.addFilter(_SilenceInjectedResets())


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value)
    return None


def _with_content_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in headers if n.lower() not in (b"content-length", b"transfer-encoding")]
    return [*kept, (b"content-length", str(length).encode())]


class _BodyFaultSend:
    """Wraps ``send`` to cut, corrupt or delay a body as it streams."""

    def __init__(self, fault: Fault, send: Send) -> None:
        self.fault = fault
        self._send = send
        self.sent = 0
        self.declared: int | None = None
        self.finished = False
        self.paused = False

    async def __call__(self, message: Message) -> None:
        if self.finished:
            raise _StopBody
        if message["type"] == "http.response.start":
            await self._start(message)
        elif message["type"] == "http.response.body":
            await self._body(bytes(message.get("body", b"")), bool(message.get("more_body", False)))
        else:
            await self._send(message)

    async def _start(self, message: Message) -> None:
        headers = list(message.get("headers", []))
        self.declared = _content_length(headers)
        if self.fault.kind == "truncate":
            limit = self.fault.after_bytes
            self.declared = limit if self.declared is None else min(self.declared, limit)
            message = {**message, "headers": _with_content_length(headers, self.declared)}
        if self.fault.kind == "slow" and self.fault.after_bytes == 0:
            await self._pause()
        await self._send(message)

    async def _pause(self) -> None:
        if not self.paused:
            self.paused = True
            await asyncio.sleep(self.fault.delay_s)

    async def _body(self, body: bytes, more: bool) -> None:
        kind = self.fault.kind
        if kind in ("reset", "truncate", "slow"):
            await self._cut(body, more)
            return
        if kind == "corrupt_zip" and self.declared:
            body = self._flip(body)
        await self._forward(body, more)

    async def _forward(self, body: bytes, more: bool) -> None:
        self.sent += len(body)
        await self._send({"type": "http.response.body", "body": body, "more_body": more})
        self.finished = not more

    def _flip(self, body: bytes) -> bytes:
        target = (self.declared or 0) // 2 - self.sent
        if 0 <= target < len(body):
            changed = bytearray(body)
            changed[target] ^= 0xFF
            return bytes(changed)
        return body

    async def _cut(self, body: bytes, more: bool) -> None:
        room = max(self.fault.after_bytes - self.sent, 0)
        if len(body) < room or (len(body) == room and more):
            await self._forward(body, more)
            return
        head, rest = body[:room], body[room:]
        if self.fault.kind == "truncate":
            await self._forward(head, False)
            return
        if head:
            await self._forward(head, True)
        if self.fault.kind == "reset":
            raise InjectedReset(f"fault {self.fault.id}: connection reset after {self.sent} body bytes")
        await self._pause()
        await self._forward(rest, more)


async def pause(seconds: float) -> None:
    """Hold this request back at least ``seconds`` on the monotonic clock, letting others run.

    The event loop's timers may count whole milliseconds and fire a fraction early; the loop
    makes "at least" exact.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)


class EmulatorMiddleware:
    """Delays every API request by the simulated latency, logs it and applies the next matching fault.

    The delay is an ``asyncio.sleep``: it holds back one answer, not the server, so concurrent
    requests wait side by side as they would for a remote server. The control API is not delayed.
    """

    def __init__(self, app: ASGIApp, context: EmulatorContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        delay = self.context.latency.seconds
        if delay > 0:
            await pause(delay)
        status: list[int] = [500]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self._dispatch(self.context.faults.take(scope["path"]), scope, receive, recording_send)
        finally:
            self.context.log.add(scope["method"], loggable_path(scope["path"]), status[0])

    async def _dispatch(self, fault: Fault | None, scope: Scope, receive: Receive, send: Send) -> None:
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind in BODY_FAULTS:
            try:
                await self.app(scope, receive, _BodyFaultSend(fault, send))
            except _StopBody:
                return
        else:
            await self._replace(fault, scope)(scope, receive, send)

    def _replace(self, fault: Fault, scope: Scope) -> Response:
        if fault.kind == "cookie_missing":
            response = error_response(400, "Cookie Missing")
            set_cookie(response, CSRF_COOKIE, self.context.sessions.issue_csrf())
            return response
        if fault.kind == "expire_session":
            self.context.sessions.expire(request_cookies(scope).get(SESSION_COOKIE))
            return error_response(401, "Not authenticated")
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return error_response(fault.status, "Injected fault", headers)


def loggable_path(path: str) -> str:
    """The path as logged: download tokens are credentials, so they are masked."""
    if path.startswith(DOWNLOAD_PREFIX):
        return DOWNLOAD_PREFIX + "<token>"
    return path


# --------------------------------------------------------------------------- control API


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why it is not one."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON body: expected an object")
    return body


def _setting_routes(router: APIRouter, path: str, field_name: str, setting: RuntimeSetting) -> None:
    """``GET path`` -> ``{field_name: N}``; ``POST path {field_name: N}`` changes it."""

    async def get_setting() -> dict[str, float]:
        return {field_name: setting.value}

    async def set_setting(request: Request) -> dict[str, float]:
        try:
            return {field_name: setting.set((await json_object(request)).get(field_name))}
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None

    router.add_api_route(path, get_setting, methods=["GET"])
    router.add_api_route(path, set_setting, methods=["POST"])


def _int_field(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, f"{key}: expected an integer, got {value!r}")
    return value


def control_router(context: EmulatorContext) -> APIRouter:
    """Routes that steer the emulator from tests and demos."""
    router = APIRouter(prefix=CONTROL_PREFIX, include_in_schema=False)

    @router.get("/clock")
    async def get_clock() -> dict[str, str]:
        return {"today": context.clock.today.isoformat()}

    @router.post("/clock")
    async def advance_clock(request: Request) -> dict[str, str]:
        days = _int_field(await json_object(request), "advance_days")
        try:
            today = context.clock.advance(days)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        return {"today": today.isoformat()}

    @router.post("/files")
    async def set_file_size(request: Request) -> dict[str, Any]:
        body = await json_object(request)
        size = _int_field(body, "size_bytes")
        try:
            context.files.set_size(body.get("file_name"), size)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        return {"file_name": body["file_name"], "size_bytes": size}

    _setting_routes(router, "/latency", "latency_ms", context.latency)
    _setting_routes(router, "/bandwidth", "download_mib_per_s", context.bandwidth)
    _fault_routes(router, context)
    _log_routes(router, context)
    return router


def _fault_routes(router: APIRouter, context: EmulatorContext) -> None:
    @router.post("/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        try:
            return context.faults.add(await json_object(request)).to_json()
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None

    @router.get("/faults")
    async def list_faults() -> list[dict[str, Any]]:
        return [fault.to_json() for fault in context.faults.pending()]

    @router.delete("/faults", status_code=204)
    async def clear_faults() -> Response:
        context.faults.clear()
        return Response(status_code=204)


def _log_routes(router: APIRouter, context: EmulatorContext) -> None:
    @router.get("/requests")
    async def list_requests() -> list[dict[str, Any]]:
        return [entry.to_json() for entry in context.log.entries()]

    @router.get("/sessions")
    async def session_counts() -> dict[str, int]:
        return context.sessions.counts()

    @router.post("/reset", status_code=204)
    async def reset() -> Response:
        context.faults.clear()
        context.log.clear()
        context.sessions.reset_counts()
        return Response(status_code=204)


# --------------------------------------------------------------------------- factory


def create_app(context: EmulatorContext, routers: Sequence[RouterFactory] = ()) -> FastAPI:
    """One app serving the control API and every API in ``routers``."""
    app = FastAPI(
        title="Usage analytics API emulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.emulator = context
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(EmulatorMiddleware, context=context)
    app.include_router(control_router(context))
    for factory in routers:
        app.include_router(factory(context))
    return app
