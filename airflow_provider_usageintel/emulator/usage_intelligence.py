"""The Usage Intelligence Reporting API v3, served strictly, with routes taken from the endpoint table.

Every path of every endpoint of :data:`~airflow_provider_usageintel.api.endpoints.ENDPOINTS`
(its ``aliases`` too) is registered; a route checks, in this order, the ``Origin``
header (403), the body's content type (415) and JSON syntax (400) -- any text for
a ``*/*`` body --, the session (401) and the product id (422 non-numeric, 404
unknown), taken from the path or, where the path has none, from the body's integer
``body_product_id`` field (seed 001's ``productId``, refused in bodies of paths that
carry the product id), then calls the handler registered under the endpoint's name.
Endpoints without a handler answer 501. On an endpoint's own path, ``errors_in_body``
turns every error after the session check into HTTP 200 with ``status`` ``SYNTAX
ERROR`` or ``AUTH ERROR`` and ``reason`` (seed 001). Serving a new report is one
function::

    @handler("usage_distribution")
    def usage_distribution(call: Call) -> dict[str, Any]: ...

Reports (everything that computes from the population) live in :mod:`.reports`,
which checks bodies with the emulator's own reading of the seeds (:mod:`.checks`).

Files are downloaded from ``/_download/{token}?expires=&signature=``: like an
object-store presigned URL it needs neither cookies nor ``Origin``, lives
``download_url_ttl_seconds`` and is spent once a response delivers the last byte.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from airflow_provider_usageintel.api.endpoints import BY_NAME, ENDPOINTS, Endpoint, path_takes_product_id
from airflow_provider_usageintel.api.files import LIST_KEYS, RAW_LIST_KEY, FileKind
from airflow_provider_usageintel.emulator.app import (
    CSRF_COOKIE,
    DOWNLOAD_PREFIX,
    SESSION_COOKIE,
    ApiError,
    EmulatorContext,
    clear_cookie,
    error_response,
    set_cookie,
)
from airflow_provider_usageintel.emulator.files import FileSpec, columns
from airflow_provider_usageintel.emulator.population import product_properties_json
from airflow_provider_usageintel.emulator.reports import REPORTS
from airflow_provider_usageintel.emulator.state import DownloadRefused, Pacer, Session
from airflow_provider_usageintel.emulator.zipstream import StoredZip

MAX_LINE_COUNT = 1000
_PRODUCT_ID = re.compile(r"^[0-9]+$")


@dataclass
class Call:
    """One authenticated, validated API call, as handlers see it."""

    context: EmulatorContext
    request: Request
    endpoint: Endpoint
    #: the parsed JSON body; ``None`` when the request had none.
    body: Any
    session: Session | None
    product_id: str | None

    def object_body(self) -> dict[str, Any]:
        """The body as an object (an absent body counts as ``{}``)."""
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise ApiError(400, "Invalid JSON body: expected an object")
        return self.body

    @property
    def pid(self) -> str:
        if self.product_id is None:
            raise RuntimeError(f"{self.endpoint.name} takes no product id")
        return self.product_id


Handler = Callable[[Call], Any]
#: handlers by endpoint name; a name missing here answers 501.
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of one endpoint of the table."""
    if name not in BY_NAME:
        raise ValueError(f"{name!r} is not an endpoint of the API table")

    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function

    return register


# Reports are computed in :mod:`.reports`; they join the routes here, checked against the table.
for _name, _handle in REPORTS.items():
    handler(_name)(_handle)


# --------------------------------------------------------------------------- request checks


def _check_origin(context: EmulatorContext, request: Request) -> None:
    if request.headers.get("origin") != context.config.origin:
        raise ApiError(403, "Origin not allowed")


async def _body(request: Request, endpoint: Endpoint) -> Any:
    """The JSON body, or for a ``*/*`` body any text (JSON when it is sent and parses as such)."""
    raw = await request.body()
    if not raw:
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if endpoint.body_media == "*/*":
        text = raw.decode("utf-8", errors="replace")
        if media_type == "application/json":
            try:
                return json.loads(text)
            except ValueError:
                return text
        return text
    if media_type != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON body: {exc}") from None


def _session(context: EmulatorContext, request: Request) -> Session:
    cookies = request.cookies
    session = context.sessions.lookup(cookies.get(SESSION_COOKIE), cookies.get(CSRF_COOKIE))
    if session is None:
        raise ApiError(401, "Not authenticated")
    return session


def _known_product(context: EmulatorContext, product_id: str) -> str:
    if product_id not in context.config.product_ids:
        raise ApiError(404, f"Product {product_id} not found")
    return product_id


def _product_id(
    context: EmulatorContext, request: Request, endpoint: Endpoint, path: str, body: Any
) -> str | None:
    """From the path; else, where the endpoint wants it there, from the body (an integer)."""
    field = endpoint.body_product_id
    if path_takes_product_id(path):
        if field is not None and isinstance(body, dict) and field in body:
            raise ApiError(400, f"{field}: not accepted in the body here; the product id is in the path")
        product_id = str(request.path_params["product_id"])
        if not _PRODUCT_ID.match(product_id):
            raise ApiError(422, f"product_id: expected a numeric product id, got {product_id!r}")
        return _known_product(context, product_id)
    if field is None:
        return None
    value = body.get(field) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{field}: required, an integer (the product the request is about)")
    return _known_product(context, str(value))


def _in_body(error: ApiError) -> Response:
    """Seed 001's envelope: HTTP 200, ``status`` SYNTAX ERROR or AUTH ERROR, and the ``reason``."""
    status = "AUTH ERROR" if error.http_status in (401, 403, 404) else "SYNTAX ERROR"
    return JSONResponse({"status": status, "reason": error.reason})


def _as_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    return JSONResponse(result)


def _route(
    context: EmulatorContext, endpoint: Endpoint, path: str
) -> Callable[[Request], Awaitable[Response]]:
    in_body = endpoint.errors_in_body and path == endpoint.path

    async def route(request: Request) -> Response:
        _check_origin(context, request)
        body = await _body(request, endpoint) if endpoint.method in ("POST", "PATCH", "PUT") else None
        session = _session(context, request) if endpoint.auth else None
        try:
            product_id = _product_id(context, request, endpoint, path, body)
            handle = HANDLERS.get(endpoint.name)
            if handle is None:
                raise ApiError(
                    501, f"The emulator does not serve {endpoint.name} ({endpoint.method} {path}) yet"
                )
            return _as_response(handle(Call(context, request, endpoint, body, session, product_id)))
        except ApiError as error:
            if in_body:
                return _in_body(error)
            raise

    route.__name__ = endpoint.name
    return route


def build_router(context: EmulatorContext) -> APIRouter:
    """Every path of every endpoint of the table, plus the presigned download URL."""
    router = APIRouter(include_in_schema=False)
    for endpoint in ENDPOINTS:
        for path in endpoint.paths:
            router.add_api_route(
                path, _route(context, endpoint, path), methods=[endpoint.method], name=endpoint.name
            )
    router.add_api_route(
        DOWNLOAD_PREFIX + "{token}", _download_route(context), methods=["GET", "HEAD"], name="download"
    )
    return router


# --------------------------------------------------------------------------- auth


@handler("request_csrf")
def request_csrf(call: Call) -> Response:
    response = Response(status_code=204)
    set_cookie(response, CSRF_COOKIE, call.context.sessions.issue_csrf())
    return response


def _cookie_missing(call: Call) -> Response:
    """The vendor's answer to a login without its CSRF cookie; it sets one, so a retry succeeds."""
    response = error_response(400, "Cookie Missing")
    set_cookie(response, CSRF_COOKIE, call.context.sessions.issue_csrf())
    return response


def _credentials(call: Call) -> tuple[str, str]:
    body = call.object_body()
    user, password = body.get("userName"), body.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        raise ApiError(400, "userName and password are required strings")
    return user, password


def _login_body(context: EmulatorContext, user: str) -> dict[str, Any]:
    products = context.config.product_ids
    current = products[0]
    return {
        "account": {"userName": user, "accountName": "Emulated account", "role": "admin"},
        "freeware": {"enabled": False},
        "products": {
            pid: {"productId": int(pid), "productName": f"Product {pid}", "rawDataExport": True}
            for pid in products
        },
        "userSettings": {"dateFormat": "YYYY-MM-DD", "timezone": "UTC", "defaultProductId": int(current)},
        "currentProductDetails": {
            "productId": int(current),
            "productName": f"Product {current}",
            "dataStartDate": context.dataset.history_start.isoformat(),
        },
        "beatInterval": 302,
    }


@handler("auth_web")
def auth_web(call: Call) -> Response:
    context = call.context
    presented = call.request.cookies.get(CSRF_COOKIE)
    if presented is None or not context.sessions.csrf_known(presented):
        return _cookie_missing(call)
    user, password = _credentials(call)
    config = context.config
    user_ok = hmac.compare_digest(user.encode(), config.user.encode())
    password_ok = hmac.compare_digest(password.encode(), config.password.encode())
    if not (user_ok and password_ok):
        raise ApiError(401, "Invalid user name or password")
    session = context.sessions.login(user, presented)
    response = JSONResponse(_login_body(context, user))
    set_cookie(response, SESSION_COOKIE, session.token)
    set_cookie(response, CSRF_COOKIE, session.csrf)
    return response


@handler("logout")
def logout(call: Call) -> Response:
    all_sessions = call.object_body().get("allSessions", False)
    if not isinstance(all_sessions, bool):
        raise ApiError(400, f"allSessions: expected a boolean, got {all_sessions!r}")
    assert call.session is not None  # noqa: S101 - the route requires a session
    call.context.sessions.logout(call.session, all_sessions)
    response = Response(status_code=204)
    clear_cookie(response, SESSION_COOKIE)
    clear_cookie(response, CSRF_COOKIE)
    return response


# --------------------------------------------------------------------------- metadata


@handler("product_properties")
def product_properties(call: Call) -> dict[str, Any]:
    """The same answer on both paths: seed 000's bare one and reveneraR's with the product id."""
    if call.request.query_params:
        raise ApiError(400, f"unknown query parameters: {', '.join(call.request.query_params)}")
    return {"result": product_properties_json()}


# --------------------------------------------------------------------------- files


def _list_files(call: Call, kind: FileKind) -> dict[str, Any]:
    specs = call.context.files.files(call.pid, kind, call.context.clock.today)
    if kind is FileKind.RAW_EVENTS:
        return {RAW_LIST_KEY: [spec.listing() for spec in specs]}
    return {
        key: [s.listing() for s in specs if s.frequency is frequency] for frequency, key in LIST_KEYS.items()
    }


def _download_url(call: Call, kind: FileKind) -> dict[str, str]:
    name = call.object_body().get("fileName")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "fileName: required (a name from listFiles)")
    spec = call.context.files.find(call.pid, kind, name, call.context.clock.today)
    if spec is None:
        raise ApiError(404, f"File not found: {name}")
    token, expires, signature = call.context.signer.issue(spec)
    base = str(call.request.base_url).rstrip("/")
    return {"downloadUrl": f"{base}{DOWNLOAD_PREFIX}{token}?expires={expires}&signature={signature}"}


def _last_lines(call: Call, kind: FileKind) -> dict[str, Any]:
    count = call.object_body().get("lineCount")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LINE_COUNT:
        raise ApiError(422, f"lineCount: expected an integer between 1 and {MAX_LINE_COUNT}, got {count!r}")
    rows = call.context.dataset.last_lines(kind, call.pid, call.context.clock.today, count)
    return {"fieldNames": dict(columns(kind)), "result": rows}


def _register_file_handlers() -> None:
    """The three file kinds share their handlers: register them from the kinds' endpoint names."""
    for kind in FileKind:
        handler(kind.list_endpoint)(functools.partial(_list_files, kind=kind))
        handler(kind.download_url_endpoint)(functools.partial(_download_url, kind=kind))
        if kind is not FileKind.RAW_EVENTS:  # raw exports have no latest-data preview
            handler(f"{kind.value}_last_lines")(functools.partial(_last_lines, kind=kind))


_register_file_handlers()


# --------------------------------------------------------------------------- downloads


class _Unsatisfiable(Exception):
    pass


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, stop)`` of a single byte range; ``None`` to serve it all (absent or ignorable header)."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        if int(last) == 0:
            raise _Unsatisfiable
        return max(size - int(last), 0), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _Unsatisfiable
    return start, size if not last else min(int(last) + 1, size)


def etag(spec: FileSpec) -> str:
    """Stable per name and size: the same file served twice has the same tag."""
    return '"' + hashlib.sha256(f"{spec.name}:{spec.size}".encode()).hexdigest()[:32] + '"'


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    disconnected.set()


class ZipStreamResponse(Response):
    """Streams a byte range of a generated zip; calls ``on_complete`` once every byte went out."""

    def __init__(
        self,
        stored: StoredZip,
        byte_range: tuple[int, int],
        status_code: int,
        headers: dict[str, str],
        on_complete: Callable[[], None],
        pacer: Pacer,
    ) -> None:
        self.stored = stored
        self.start, self.stop = byte_range
        self.on_complete = on_complete
        self.pacer = pacer
        self.status_code = status_code
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, disconnected))
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            for chunk in self.stored.iter_bytes(self.start, self.stop):
                if disconnected.is_set():
                    return
                delay = self.pacer.delay(len(chunk))  # a chunk goes out when the rate has made room for it
                if delay:
                    await asyncio.sleep(delay)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            if not disconnected.is_set():
                self.on_complete()
        finally:
            watcher.cancel()


def _download_headers(spec: FileSpec, size: int, byte_range: tuple[int, int] | None) -> dict[str, str]:
    start, stop = byte_range or (0, size)
    headers = {
        "content-type": "application/zip",
        "content-length": str(stop - start),
        "accept-ranges": "bytes",
        "etag": etag(spec),
        "content-disposition": f'attachment; filename="{spec.name}"',
    }
    if byte_range is not None:
        headers["content-range"] = f"bytes {start}-{stop - 1}/{size}"
    return headers


def _download_route(context: EmulatorContext) -> Callable[[Request], Awaitable[Response]]:
    async def download(request: Request) -> Response:
        query = request.query_params
        try:
            grant = context.signer.check(
                str(request.path_params["token"]), query.get("expires"), query.get("signature")
            )
        except DownloadRefused as exc:
            return PlainTextResponse(str(exc), status_code=403)
        stored = context.files.stored_zip(grant.spec)
        try:
            byte_range = parse_range(request.headers.get("range"), stored.size)
        except _Unsatisfiable:
            headers = {"content-range": f"bytes */{stored.size}"}
            return PlainTextResponse("Requested range not satisfiable", status_code=416, headers=headers)
        status = 200 if byte_range is None else 206
        headers = _download_headers(grant.spec, stored.size, byte_range)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        start, stop = byte_range or (0, stored.size)

        def spend() -> None:
            if stop == stored.size:
                context.signer.mark_used(grant)

        return ZipStreamResponse(stored, (start, stop), status, headers, spend, context.bandwidth.pacer())

    return download
