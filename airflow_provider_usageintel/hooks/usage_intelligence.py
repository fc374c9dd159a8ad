"""Hook for the Revenera Usage Intelligence Reporting API v3.

Authentication is cookie based (seed 000): ``GET /v3/request-csrf`` sets a
CSRF cookie, ``POST /v3/auth/web`` trades it and the credentials for the
``RUI-Csrf`` and ``RUI-Session-Token`` cookies, which one ``requests.Session``
keeps. The session is created and logged in on first use, never at import or
DAG-parse time; a 401 later on means it expired, so the hook logs in again and
replays the call once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

import requests
from airflow.sdk.log import mask_secret

from airflow_provider_usageintel.api.endpoints import (
    BY_NAME,
    Endpoint,
    Paging,
    endpoint,
    path_takes_product_id,
    report_endpoint,
)
from airflow_provider_usageintel.api.files import (
    FileKind,
    FileListing,
    FileRecord,
    Frequency,
    check_file_name,
    parse_file_list,
)
from airflow_provider_usageintel.api.validation import validate_request
from airflow_provider_usageintel.connection_fields import USAGE_INTELLIGENCE
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceAPIError,
    UsageIntelligenceAuthError,
    UsageIntelligenceError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.hooks.base import MAX_REASON_CHARS, ApiHookBase
from airflow_provider_usageintel.utils.download import (
    DEFAULT_CHUNK_SIZE,
    DownloadResult,
    FileStream,
    copy_stream,
)
from airflow_provider_usageintel.utils.secrets import protect_signed_url
from airflow_provider_usageintel.version import __version__

DEFAULT_ORIGIN: str = USAGE_INTELLIGENCE.default("origin")
SESSION_COOKIES = ("RUI-Session-Token", "RUI-Csrf")
#: "Cookie Missing" on login is cured by a fresh CSRF cookie; more tries than this means something else.
COOKIE_MISSING_TRIES = 3
#: rows asked for per page of an offset-paged report when the request does not say.
DEFAULT_PAGE_SIZE = 200


ReportRequest = Mapping[str, Any] | list[Mapping[str, Any]] | str | None
ReportMethod = Callable[["UsageIntelligenceHook", ReportRequest, "str | int | None"], Any]


def report_method(name: str) -> ReportMethod:
    """A documented hook method for one report of the endpoint table, delegating to ``run_report``."""
    ep = BY_NAME[name]

    def method(
        self: UsageIntelligenceHook,
        request: ReportRequest = None,
        product_id: str | int | None = None,
    ) -> Any:
        return self.run_report(name, request, product_id)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"{ep.summary}\n\n``{ep.method} {ep.path}``, validated first; returns the whole answer."
    return method


class UsageIntelligenceHook(ApiHookBase):
    """Logged-in access to the Usage Intelligence Reporting API v3.

    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``.
    :param product_id: default product for calls that take one (else the connection's extra).
    """

    conn_name_attr = "usage_intelligence_conn_id"
    connection = USAGE_INTELLIGENCE
    default_conn_name = USAGE_INTELLIGENCE.default_conn_id
    conn_type = USAGE_INTELLIGENCE.conn_type
    hook_name = USAGE_INTELLIGENCE.hook_name
    lineage_scheme = "usageintel"
    default_base_url: ClassVar[str] = "https://analytics-api.revenera.com"

    def __init__(
        self,
        usage_intelligence_conn_id: str = default_conn_name,
        product_id: str | int | None = None,
    ) -> None:
        super().__init__(usage_intelligence_conn_id)
        self.usage_intelligence_conn_id = usage_intelligence_conn_id
        self._product_id = product_id
        self._logged_in = False
        self._download_session: requests.Session | None = None
        # Transfers share one hook across threads: one login at a time, and a 401 seen by
        # several threads leads to one fresh login (the generation tells who came late).
        self._login_lock = threading.RLock()
        self._login_generation = 0

    # -- settings ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return str(self.extra_or_default("origin"))

    @property
    def path_overrides(self) -> Mapping[str, str]:
        """Per-connection endpoint paths (extra ``endpoint_paths``), e.g. for the churn histograms."""
        overrides = self.extra("endpoint_paths") or {}
        if not isinstance(overrides, dict):
            raise UsageIntelligenceValidationError(
                "extra.endpoint_paths: expected an object mapping endpoint names to paths"
            )
        return overrides

    def product_id(self, product_id: str | int | None = None) -> str:
        """The product for a call: the argument, else the hook's, else the connection's."""
        value = product_id if product_id not in (None, "") else self._product_id
        if value in (None, ""):
            value = self.extra("product_id")
        if value in (None, ""):
            raise UsageIntelligenceValidationError(
                "product_id: required (set it on the task or as the connection's extra 'product_id')"
            )
        text = str(value).strip()
        if not text.isdigit():
            raise UsageIntelligenceValidationError(
                f"product_id: {value!r} is not numeric (allowed: digits only)"
            )
        if not text.isascii():  # str.isdigit() also accepts '١٢٣' and '¹', which no server takes
            raise UsageIntelligenceValidationError(
                f"product_id: {value!r} has digits other than 0-9 (allowed: ASCII digits 0-9 only)"
            )
        return text

    def _known_product_id(self, product_id: str | int | None = None) -> str | None:
        """The product when one is set anywhere, else ``None`` (still checked when set)."""
        if (
            product_id in (None, "")
            and self._product_id in (None, "")
            and self.extra("product_id") in (None, "")
        ):
            return None
        return self.product_id(product_id)

    def _prepare_session(self, session: requests.Session) -> None:
        session.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "RUI-Client": str(self.extra_or_default("client_name")),
                "RUI-Client-Version": __version__,
                "Origin": self.origin,
            }
        )

    # -- session ----------------------------------------------------------------------------

    def login(self) -> None:
        """Log in now (normally done on first use); a fresh CSRF cookie cures "Cookie Missing"."""
        with self._login_lock:
            self._login()

    def _login(self) -> None:
        session = self.get_conn()
        csrf, auth = endpoint("request_csrf"), endpoint("auth_web")
        credentials = {"userName": self.settings.login, "password": self.settings.password}
        for attempt in range(1, COOKIE_MISSING_TRIES + 1):
            session.cookies.clear()
            self._logged_in = False
            try:
                self.send(csrf.method, csrf.path, session=session)
                self.send(auth.method, auth.path, json=credentials, session=session)
            except UsageIntelligenceAPIError as exc:
                cookie_missing = "cookie missing" in exc.reason.lower()
                if cookie_missing and attempt < COOKIE_MISSING_TRIES:
                    self.log.info("Login answered 'Cookie Missing'; retrying with a fresh CSRF cookie")
                    continue
                if cookie_missing or exc.status in (400, 401, 403):
                    raise UsageIntelligenceAuthError(exc.status, exc.endpoint, exc.reason) from None
                raise
            break
        self._mask_session_cookies(session)
        self._logged_in = True
        self._login_generation += 1
        self.log.info("Logged in to %s as %s", self.settings.base_url, self.settings.login)

    @staticmethod
    def _mask_session_cookies(session: requests.Session) -> None:
        for cookie in session.cookies:
            if cookie.value:
                mask_secret(cookie.value)

    def logout(self, all_sessions: bool = False) -> None:
        """Invalidate this session (or every session of the user); a no-op when not logged in."""
        if not self._logged_in or self._session is None:
            return
        ep = endpoint("logout")
        body = {"allSessions": True} if all_sessions else {}
        try:
            self.send(ep.method, ep.path, json=body, session=self._session)
        except UsageIntelligenceAPIError as exc:
            if exc.status != 401:  # an expired session is logged out already
                raise
        finally:
            self._session.cookies.clear()
            self._logged_in = False

    def end_session(self) -> None:
        """Log out (a failure is only logged: the task's own outcome matters more), then close."""
        try:
            self.logout()
        except UsageIntelligenceError as error:
            self.log.warning("Logout failed: %s", error)
        finally:
            self.close()

    def close(self) -> None:
        super().close()
        if self._download_session is not None:
            self._download_session.close()
            self._download_session = None
        self._logged_in = False

    # -- calls ------------------------------------------------------------------------------

    def call(
        self,
        ep: Endpoint,
        *,
        product_id: str | int | None = None,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send one API call as the table describes it; return the decoded JSON (``None`` if empty).

        A 200 answer whose ``status`` is not ``OK`` (seed 001: ``SYNTAX ERROR``, ``AUTH ERROR``)
        is an error, never data. Calls that fall back (``Endpoint.falls_back``) try their other
        paths on 404, and skip paths that need a product id when none is known.
        """
        paths = self._paths(ep, product_id)
        for at, (template, pid) in enumerate(paths):
            try:
                return self._call_path(ep, template, pid, body, params)
            except UsageIntelligenceAPIError as exc:
                if exc.status != 404 or at == len(paths) - 1:
                    raise
                self.log.info("%s answered 404; trying %s %s", exc.endpoint, ep.method, paths[at + 1][0])
        raise AssertionError("unreachable: an endpoint has at least one path")  # pragma: no cover

    def _paths(self, ep: Endpoint, product_id: str | int | None) -> list[tuple[str, str | None]]:
        """``(path template, product id)`` to try in order."""
        if not ep.falls_back:
            return [(ep.path, self.product_id(product_id) if ep.needs_product_id else None)]
        pid = self._known_product_id(product_id)
        return [(path, pid) for path in ep.paths if pid is not None or not path_takes_product_id(path)]

    def _call_path(
        self, ep: Endpoint, template: str, pid: str | None, body: Any, params: Mapping[str, Any] | None
    ) -> Any:
        path = ep.url_path(pid, template)
        if ep.retry_safe:  # a read (writes are never re-sent): an input of the task's lineage
            self.note_read(f"{pid}/{ep.name}" if pid else ep.name)
        label = f"{ep.method} {path}"
        kwargs: dict[str, Any] = {"params": dict(params) if params else None}
        if ep.method != "GET":
            kwargs.update(_body_kwargs(ep, template, pid, body))
        response = self._send_logged_in(
            ep, path, label, kwargs, retry_safe=ep.retry_safe or idempotent(ep, body)
        )
        if response.status_code == 204 or not response.content:
            return None
        answer = self.json_body(response, label)
        if isinstance(answer, dict) and answer.get("status", "OK") != "OK":
            reason = f"{answer['status']}: {answer.get('reason') or 'no reason given'}"
            raise UsageIntelligenceAPIError(response.status_code, label, reason[:MAX_REASON_CHARS])
        return answer

    def _send_logged_in(
        self, ep: Endpoint, path: str, label: str, kwargs: dict[str, Any], *, retry_safe: bool
    ) -> requests.Response:
        with self._login_lock:
            if not self._logged_in:
                self.login()
            generation = self._login_generation
        try:
            return self.send(ep.method, path, label=label, retry_safe=retry_safe, **kwargs)
        except UsageIntelligenceAPIError as exc:
            if exc.status != 401:
                raise
        with self._login_lock:
            if generation == self._login_generation:  # nobody logged in again meanwhile
                self.log.info("Session no longer valid (HTTP 401 on %s); logging in again", label)
                self.login()
        try:
            return self.send(ep.method, path, label=label, retry_safe=retry_safe, **kwargs)
        except UsageIntelligenceAPIError as exc:
            if exc.status == 401:
                raise UsageIntelligenceAuthError(
                    401, label, f"refused again right after a fresh login: {exc.reason}"
                ) from None
            raise

    def run_report(
        self,
        name: str,
        request: ReportRequest = None,
        product_id: str | int | None = None,
    ) -> dict[str, Any]:
        """Run any report of the endpoint table by name and return its whole JSON answer.

        ``request`` is the JSON body (query parameters for GET reports); the
        license key writes also take a list of keys (a batch), the export request
        any text. Paged reports answer one page: :meth:`iter_pages` follows them.
        """
        ep = report_endpoint(name, self.path_overrides)
        body = request_body(ep, request)
        validate_request(name, body)
        pid = self._body_product_id(ep, body, product_id)
        if ep.method == "GET":
            params = {k: json.dumps(v) if isinstance(v, bool) else v for k, v in body.items()}
            return self._answer(ep, self.call(ep, product_id=pid, params=params))
        return self._answer(ep, self.call(ep, product_id=pid, body=body))

    def _body_product_id(self, ep: Endpoint, body: Any, product_id: str | int | None) -> str | int | None:
        """A ``productId`` the body brings (seed 001's sample has one) stands for ``product_id``."""
        field = ep.body_product_id
        if field is None or not isinstance(body, dict) or body.get(field) is None:
            return product_id
        given = str(body[field])
        if product_id not in (None, "") and self.product_id(product_id) != given:
            raise UsageIntelligenceValidationError(
                f"request.{field}: {given} differs from product_id {self.product_id(product_id)} "
                f"(allowed: leave {field} out; it is set from product_id)"
            )
        return given

    # One named method per report, generated from the endpoint table (see ``report_method``).
    property_values = report_method("property_values")
    event_names = report_method("event_names")
    date_range = report_method("date_range")
    current = report_method("current")
    usage_distribution = report_method("usage_distribution")
    lifetime_event_histogram = report_method("lifetime_event_histogram")
    lifetime_event_data_table = report_method("lifetime_event_data_table")
    basic_event_data_table = report_method("basic_event_data_table")
    basic_event_timeline = report_method("basic_event_timeline")
    advanced_events = report_method("advanced_events")
    churn_histogram_sessions = report_method("churn_histogram_sessions")
    churn_histogram_runtime = report_method("churn_histogram_runtime")
    churn_histogram_days = report_method("churn_histogram_days")
    license_keys_search = report_method("license_keys_search")
    license_keys_update = report_method("license_keys_update")
    license_keys_insert = report_method("license_keys_insert")
    custom_events_last_lines = report_method("custom_events_last_lines")
    exceptions_last_lines = report_method("exceptions_last_lines")
    client_property_list = report_method("client_property_list")
    client_property_list_export = report_method("client_property_list_export")

    def _answer(self, ep: Endpoint, answer: Any) -> dict[str, Any]:
        """Every documented answer is a JSON object (an empty answer counts as ``{}``)."""
        return {} if answer is None else self._object(ep, answer)

    # -- paged reports: iterators that hold one page at a time -----------------------------------

    def iter_pages(
        self,
        name: str,
        request: ReportRequest = None,
        product_id: str | int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a report, as whole answers, followed the way the table says to its end.

        A report that is not paged yields its one answer. ``page_size`` sets
        ``paging.maxResults`` of offset-paged reports unless the request does.
        """
        ep = report_endpoint(name, self.path_overrides)
        body = request_body(ep, request)
        validate_request(name, body)
        if not isinstance(body, dict) or ep.paging is Paging.NONE:
            yield self.run_report(name, body, product_id)
            return
        pid = self._body_product_id(ep, body, product_id)
        if ep.paging is Paging.CLIENT_ID:
            yield from self._client_id_pages(ep, body, pid)
        elif ep.paging is Paging.OFFSET:
            yield from self._offset_pages(ep, body, pid, page_size or DEFAULT_PAGE_SIZE)
        else:
            yield from self._start_after_pages(ep, body, pid)

    def _page(self, ep: Endpoint, body: dict[str, Any], product_id: str | int | None) -> dict[str, Any]:
        return self._object(ep, self.call(ep, product_id=product_id, body=body))

    def _client_id_pages(
        self, ep: Endpoint, body: dict[str, Any], product_id: str | int | None
    ) -> Iterator[dict[str, Any]]:
        """clientPropertyList: send ``nextClientId`` back as ``startAtClientId`` until ``reachedEnd``."""
        body.setdefault("startAtClientId", None)
        while True:
            answer = self._page(ep, body, product_id)
            self._list(ep, answer, "result")
            yield answer
            next_id, reached_end = answer.get("nextClientId"), answer.get("reachedEnd")
            if reached_end is True or (reached_end is None and not next_id):
                return
            if not next_id:
                raise UsageIntelligenceAPIError(
                    200,
                    ep.path,
                    "reachedEnd is false but the answer names no nextClientId: the rest is unreachable",
                )
            if next_id == body["startAtClientId"]:
                raise UsageIntelligenceAPIError(200, ep.path, f"paging did not advance past client {next_id}")
            body["startAtClientId"] = next_id

    def _offset_pages(
        self, ep: Endpoint, body: dict[str, Any], product_id: str | int | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """``paging: {startAt, maxResults}`` until the rows seen reach the matching count.

        A server may return fewer rows than asked for (it caps page sizes), so a short page is
        not the end: only the matching count is, or an empty page when the answer has no count.
        """
        paging = dict(body.get("paging") or {})
        start = int(paging.get("startAt", 0))
        size = int(paging.get("maxResults", page_size))
        matching_key = ep.page_counts[1] if ep.page_counts else ""
        while True:
            body["paging"] = {**paging, "startAt": start, "maxResults": size}
            answer = self._page(ep, body, product_id)
            rows = self._list(ep, answer, ep.result_key or "result")
            yield answer
            start += len(rows)
            matching = answer.get(matching_key)
            if not isinstance(matching, int) or isinstance(matching, bool):
                if not rows:
                    return
                continue
            if start >= matching:
                return
            if not rows:
                raise UsageIntelligenceAPIError(
                    200,
                    ep.path,
                    f"empty page at startAt {start} while {matching_key} is {matching}: "
                    f"{matching - start} rows unreachable",
                )

    def _start_after_pages(
        self, ep: Endpoint, body: dict[str, Any], product_id: str | int | None
    ) -> Iterator[dict[str, Any]]:
        """propertyValues: send the last value back as ``startAfter`` until an empty page."""
        seen_last: Any = object()
        while True:
            answer = self._page(ep, body, product_id)
            values = self._list(ep, answer, "result")
            if not values or values[-1] == seen_last:
                return
            yield answer
            seen_last = values[-1]
            if answer.get("reachedEnd") is True:
                return
            body["startAfter"] = _value_key(values[-1])

    def iter_rows(
        self,
        name: str,
        request: ReportRequest = None,
        product_id: str | int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Any]:
        """The rows (the result key's items) of every page of a paged report, as the server sent them."""
        ep = report_endpoint(name, self.path_overrides)
        key = ep.result_key or "result"
        for answer in self.iter_pages(name, request, product_id, page_size):
            yield from self._list(ep, answer, key)

    def iter_client_properties(
        self, request: Mapping[str, Any] | None = None, product_id: str | int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every client row of clientPropertyList, following ``nextClientId`` until ``reachedEnd``.

        ``"<NULL>"`` values become ``None``.
        """
        for row in self.iter_rows("client_property_list", request, product_id):
            yield _nulls_to_none(row) if isinstance(row, dict) else row

    def iter_offset_pages(
        self,
        name: str,
        request: Mapping[str, Any] | None = None,
        product_id: str | int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Any]:
        """Rows of an offset-paged report (lifetime data table, key registry), one page in memory."""
        ep = report_endpoint(name, self.path_overrides)
        if ep.paging is not Paging.OFFSET or ep.page_counts is None:
            raise UsageIntelligenceValidationError(f"report: {name!r} is not paged by offset")
        return self.iter_rows(name, request, product_id, page_size)

    def iter_property_values(
        self, request: Mapping[str, Any], product_id: str | int | None = None
    ) -> Iterator[Any]:
        """Every value of a property, following ``startAfter`` paging until an empty page."""
        return self.iter_rows("property_values", request, product_id)

    @staticmethod
    def _object(ep: Endpoint, answer: Any) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise UsageIntelligenceAPIError(
                200, ep.path, f"expected a JSON object, got {type(answer).__name__}"
            )
        return answer

    @staticmethod
    def _list(ep: Endpoint, answer: dict[str, Any], key: str) -> list[Any]:
        value = answer.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            raise UsageIntelligenceAPIError(200, ep.path, f"'{key}' is not a list")
        return value

    def get_product_properties(self, product_id: str | int | None = None) -> list[Any]:
        """Properties reports can filter or segment by, by category; also the cheapest authenticated call.

        Asks ``/v3/meta/productProperties/{product_id}`` when a product is known, and the bare
        path of seed 000 when none is, or when the server does not know the former (404).
        """
        ep = report_endpoint("product_properties", self.path_overrides)
        return self._list(ep, self.run_report("product_properties", None, product_id), "result")

    def test_connection(self) -> tuple[bool, str]:
        """Log in and read the product properties; report the outcome for the Airflow UI.

        Works with or without a product id on the connection (see :meth:`get_product_properties`).
        """
        try:
            categories = self.get_product_properties()
        except Exception as exc:  # the UI shows the message; every error text here is secret-free
            return False, str(exc)
        finally:
            self.end_session()
        count = sum(len(c.get("properties") or []) for c in categories if isinstance(c, dict))
        return (
            True,
            f"Connected to {self.settings.base_url} as {self.settings.login}; "
            f"{count} product properties in {len(categories)} categories",
        )

    # -- files ------------------------------------------------------------------------------

    def list_files(
        self,
        file_kind: str | FileKind,
        product_id: str | int | None = None,
        frequency: str | Frequency | None = None,
    ) -> FileListing:
        """Files the server offers for a kind; ``frequency`` keeps only daily, monthly or open ones.

        Listed files that are unsafe or malformed are logged and left out, in ``rejected``.
        """
        kind = FileKind.parse(file_kind)
        wanted = Frequency.parse(frequency) if frequency is not None else None
        ep = endpoint(kind.list_endpoint, self.path_overrides)
        pid = self.product_id(product_id)
        listing = parse_file_list(kind, self.call(ep, product_id=pid), f"{ep.method} {ep.url_path(pid)}")
        listing = listing.only(wanted)
        for rejected in listing.rejected:
            self.log.warning("Listed file left out as unusable: %s", rejected)
        return listing

    def get_download_url(
        self, file_kind: str | FileKind, file_name: str, product_id: str | int | None = None
    ) -> str:
        """A short-lived signed URL for one file; registered as a secret before it is returned."""
        kind = FileKind.parse(file_kind)
        check_file_name(file_name)
        ep = endpoint(kind.download_url_endpoint, self.path_overrides)
        answer = self.call(ep, product_id=product_id, body={"fileName": file_name})
        url = answer.get("downloadUrl") if isinstance(answer, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise UsageIntelligenceAPIError(
                200, f"{ep.method} {ep.path}", f"answer for {file_name} carries no usable 'downloadUrl'"
            )
        protect_signed_url(url)
        return url

    def open_file(
        self,
        file_kind: str | FileKind,
        file: str | FileRecord,
        product_id: str | int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> FileStream:
        """A one-pass stream of a file's bytes with running SHA-256, resume and length checks.

        Pass the :class:`FileRecord` from :meth:`list_files` to also check the
        length against the listing.
        """
        kind = FileKind.parse(file_kind)
        record = file if isinstance(file, FileRecord) else None
        name = check_file_name(record.file_name if record else file)
        pid = self.product_id(product_id)

        def size_check(total: int) -> str | None:
            if record is None or record.size_matches(total):
                return None
            return f"server announced {total} bytes, the listing says {record.compressed_size_kb} KB"

        return FileStream(
            file_name=name,
            fetch_url=lambda: self.get_download_url(kind, name, pid),
            session=self._downloads(),
            timeout=self.settings.timeout,
            max_retries=self.settings.max_retries,
            backoff=self.backoff_seconds,
            log=self.log,
            size_check=size_check,
            chunk_size=chunk_size,
        )

    def download_file(
        self,
        file_kind: str | FileKind,
        file: str | FileRecord,
        fileobj: IO[bytes],
        product_id: str | int | None = None,
    ) -> DownloadResult:
        """Stream a file into any writable binary file object; memory does not depend on its size."""
        return copy_stream(self.open_file(file_kind, file, product_id), fileobj)

    def _downloads(self) -> requests.Session:
        """Signed URLs get their own cookie-less session: API cookies must not travel to the file host."""
        if self._download_session is None:
            self._download_session = self._new_session()
        return self._download_session


NULL = "<NULL>"
_JSON = "application/json"


def _kind(value: object) -> str:
    """JSON's name for a value's type, as messages about requests use it."""
    for kind, types in (
        ("boolean", bool),
        ("number", (int, float)),
        ("string", str),
        ("array", (list, tuple)),
    ):
        if isinstance(value, types):
            return kind
    return type(value).__name__


def request_body(ep: Endpoint, request: object) -> Any:
    """A copy of ``request`` as the endpoint's body, or a validation error naming ``request``.

    An object always; also an array of objects where the endpoint takes a batch, and any
    text where its body is not JSON (seed 000's ``*/*`` export request).
    """
    if request is None:
        return {}
    if isinstance(request, Mapping):
        return dict(request)
    if isinstance(request, list) and ep.accepts_batch:
        return [dict(item) if isinstance(item, Mapping) else item for item in request]
    if isinstance(request, str) and ep.body_media != _JSON:
        return request
    wanted = ["an object"]
    if ep.accepts_batch:
        wanted.append("an array of objects")
    if ep.body_media != _JSON:
        wanted.append("a string")
    raise UsageIntelligenceValidationError(
        f"request: expected {' or '.join(wanted)} for {ep.name}, got {_kind(request)}"
    )


def idempotent(ep: Endpoint, body: Any) -> bool:
    """A write whose every object names its ``idempotent_key``: sending it again changes nothing more.

    The key registry inserts or updates each key of a batch (seed 000), so a batch naming
    every key may be re-sent after a lost answer; a key the server generates may not.
    """
    key = ep.idempotent_key
    if key is None:
        return False
    items = body if isinstance(body, list) else [body]
    return bool(items) and all(
        isinstance(item, dict) and isinstance(item.get(key), str) and item[key] for item in items
    )


def _body_kwargs(ep: Endpoint, template: str, pid: str | None, body: Any) -> dict[str, Any]:
    """``requests`` arguments of a body: JSON, with the product id where the endpoint wants it, or text."""
    if isinstance(body, str):
        return {"data": body.encode(), "headers": {"Content-Type": "text/plain; charset=utf-8"}}
    body = {} if body is None else body
    field = ep.body_product_id
    if field is not None and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != field}
        if not path_takes_product_id(template) and pid is not None:
            body = {field: int(pid), **body}
    return {"json": body}


def _nulls_to_none(row: dict[str, Any]) -> dict[str, Any]:
    """The API spells a missing value ``"<NULL>"``; Python and JSON consumers expect ``null``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value == NULL:
            out[key] = None
        elif isinstance(value, dict):
            out[key] = _nulls_to_none(value)
        elif isinstance(value, list):
            out[key] = [
                _nulls_to_none(v) if isinstance(v, dict) else (None if v == NULL else v) for v in value
            ]
        else:
            out[key] = value
    return out


def _value_key(value: Any) -> Any:
    """propertyValues pages on the value itself, or on its ``value``/``name`` when items are objects."""
    if isinstance(value, dict):
        return value.get("value", value.get("name"))
    return value
