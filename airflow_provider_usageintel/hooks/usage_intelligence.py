"""Hook for the Revenera Usage Intelligence Reporting API v3.

Authentication is cookie based (seed 000): ``GET /v3/request-csrf`` sets a
CSRF cookie, ``POST /v3/auth/web`` trades it and the credentials for the
``RUI-Csrf`` and ``RUI-Session-Token`` cookies, which one ``requests.Session``
keeps. The session is created and logged in on first use, never at import or
DAG-parse time; a 401 later on means it expired, so the hook logs in again and
replays the call once.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

import requests
from airflow.sdk.log import mask_secret

from airflow_provider_usageintel.api.endpoints import BY_NAME, Endpoint, Paging, endpoint, report_endpoint
from airflow_provider_usageintel.api.files import (
    FileKind,
    FileListing,
    FileRecord,
    Frequency,
    check_file_name,
    parse_file_list,
)
from airflow_provider_usageintel.api.validation import validate_request
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceAPIError,
    UsageIntelligenceAuthError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.get_provider_info import USAGE_INTELLIGENCE_UI_BEHAVIOUR
from airflow_provider_usageintel.hooks.base import ApiHookBase
from airflow_provider_usageintel.hooks.download import (
    DEFAULT_CHUNK_SIZE,
    DownloadResult,
    FileStream,
    copy_stream,
)
from airflow_provider_usageintel.utils.secrets import protect_signed_url
from airflow_provider_usageintel.version import __version__

DEFAULT_ORIGIN = "https://analytics.revenera.com"
SESSION_COOKIES = ("RUI-Session-Token", "RUI-Csrf")
#: "Cookie Missing" on login is cured by a fresh CSRF cookie; more tries than this means something else.
COOKIE_MISSING_TRIES = 3


ReportRequest = Mapping[str, Any] | list[Mapping[str, Any]] | None
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
    method.__doc__ = f"{ep.summary}\n\n``{ep.method} {ep.path}``; the request is validated first."
    return method


class UsageIntelligenceHook(ApiHookBase):
    """Logged-in access to the Usage Intelligence Reporting API v3.

    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``.
    :param product_id: default product for calls that take one (else the connection's extra).
    """

    conn_name_attr = "usage_intelligence_conn_id"
    default_conn_name = "usage_intelligence_default"
    conn_type = "usage_intelligence"
    hook_name = "Usage Intelligence"
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

    # -- Airflow connection form ------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the standard fields (Airflow < 3.2 reads this; newer versions read provider info)."""
        return USAGE_INTELLIGENCE_UI_BEHAVIOUR

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields for Airflow versions whose UI still builds forms from widgets."""
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
            from wtforms import BooleanField, IntegerField, StringField
        except ImportError:  # Airflow >= 3.2 renders conn-fields from provider info instead
            return {}
        return {
            "origin": StringField("Origin", widget=BS3TextFieldWidget(), default=DEFAULT_ORIGIN),
            "client_name": StringField("Client name", widget=BS3TextFieldWidget()),
            "product_id": StringField("Product ID", widget=BS3TextFieldWidget()),
            "timeout": IntegerField("Timeout (s)", widget=BS3TextFieldWidget(), default=60),
            "max_retries": IntegerField("Max retries", widget=BS3TextFieldWidget(), default=5),
            "verify_ssl": BooleanField("Verify TLS", default=True),
        }

    # -- settings ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return str(self.extra("origin") or DEFAULT_ORIGIN)

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
        return text

    def _prepare_session(self, session: requests.Session) -> None:
        session.headers.update(
            {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "RUI-Client": str(self.extra("client_name") or "airflow-provider-usageintel"),
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

    def __enter__(self) -> UsageIntelligenceHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.logout()
        except UsageIntelligenceAPIError as error:
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
        """Send one API call as the table describes it; return the decoded JSON (``None`` if empty)."""
        path = ep.url_path(self.product_id(product_id) if ep.takes_product_id else None)
        label = f"{ep.method} {path}"
        kwargs: dict[str, Any] = {"params": dict(params) if params else None}
        if ep.method != "GET":
            kwargs["json"] = body if body is not None else {}
        response = self._send_logged_in(ep, path, label, kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return self.json_body(response, label)

    def _send_logged_in(
        self, ep: Endpoint, path: str, label: str, kwargs: dict[str, Any]
    ) -> requests.Response:
        with self._login_lock:
            if not self._logged_in:
                self.login()
            generation = self._login_generation
        try:
            return self.send(ep.method, path, label=label, retry_safe=ep.retry_safe, **kwargs)
        except UsageIntelligenceAPIError as exc:
            if exc.status != 401:
                raise
        with self._login_lock:
            if generation == self._login_generation:  # nobody logged in again meanwhile
                self.log.info("Session no longer valid (HTTP 401 on %s); logging in again", label)
                self.login()
        try:
            return self.send(ep.method, path, label=label, retry_safe=ep.retry_safe, **kwargs)
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
    ) -> Any:
        """Run any report of the endpoint table by name and return its payload.

        ``request`` is the JSON body (query parameters for GET reports); the
        license key writes also take a list of keys (a batch).
        """
        ep = report_endpoint(name, self.path_overrides)
        body: Any = [dict(item) for item in request] if isinstance(request, list) else dict(request or {})
        validate_request(name, body)
        if ep.method == "GET":
            params = {k: json.dumps(v) if isinstance(v, bool) else v for k, v in body.items()}
            return self._payload(ep, self.call(ep, product_id=product_id, params=params))
        return self._payload(ep, self.call(ep, product_id=product_id, body=body))

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

    @staticmethod
    def _payload(ep: Endpoint, answer: Any) -> Any:
        if ep.result_key is None or not isinstance(answer, dict) or ep.result_key not in answer:
            return answer
        return answer[ep.result_key]

    # -- paged reports: iterators that hold one page at a time -----------------------------------

    def iter_client_properties(
        self, request: Mapping[str, Any] | None = None, product_id: str | int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every client row of clientPropertyList, following ``nextClientId`` until ``reachedEnd``.

        ``"<NULL>"`` values become ``None``.
        """
        ep = endpoint("client_property_list", self.path_overrides)
        body = dict(request or {})
        body.setdefault("startAtClientId", None)
        while True:
            answer = self._object(ep, self.call(ep, product_id=product_id, body=body))
            rows = self._list(ep, answer, "result")
            for row in rows:
                yield _nulls_to_none(row) if isinstance(row, dict) else row
            next_id = answer.get("nextClientId")
            if answer.get("reachedEnd", True) or not next_id or not rows:
                return
            if next_id == body["startAtClientId"]:
                raise UsageIntelligenceAPIError(200, ep.path, f"paging did not advance past client {next_id}")
            body["startAtClientId"] = next_id

    def iter_offset_pages(
        self,
        name: str,
        request: Mapping[str, Any] | None = None,
        product_id: str | int | None = None,
        page_size: int = 200,
    ) -> Iterator[Any]:
        """Rows of an offset-paged report (lifetime data table, key registry), one page in memory."""
        ep = report_endpoint(name, self.path_overrides)
        if ep.paging is not Paging.OFFSET or ep.page_counts is None:
            raise UsageIntelligenceValidationError(f"report: {name!r} is not paged by offset")
        body = dict(request or {})
        paging = dict(body.get("paging") or {})
        start = int(paging.get("startAt", 0))
        size = int(paging.get("maxResults", page_size))
        returned_key, matching_key = ep.page_counts
        while True:
            body["paging"] = {**paging, "startAt": start, "maxResults": size}
            answer = self._object(ep, self.call(ep, product_id=product_id, body=body))
            rows = self._list(ep, answer, ep.result_key or "result")
            yield from rows
            start += len(rows)
            matching = answer.get(matching_key)
            returned = answer.get(returned_key, len(rows))
            if not rows or returned < size or (isinstance(matching, int) and start >= matching):
                return

    def iter_property_values(
        self, request: Mapping[str, Any], product_id: str | int | None = None
    ) -> Iterator[Any]:
        """Every value of a property, following ``startAfter`` paging until an empty page."""
        ep = report_endpoint("property_values", self.path_overrides)
        body = dict(request)
        seen_last: Any = object()
        while True:
            answer = self._object(ep, self.call(ep, product_id=product_id, body=body))
            values = self._list(ep, answer, "result")
            if not values or values[-1] == seen_last:
                return
            yield from values
            seen_last = values[-1]
            if answer.get("reachedEnd") is True:
                return
            body["startAfter"] = _value_key(values[-1])

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

    def get_product_properties(self) -> list[Any]:
        """Properties reports can filter or segment by; also the cheapest authenticated call."""
        result = self.run_report("product_properties")
        if not isinstance(result, list):
            raise UsageIntelligenceAPIError(200, "GET /v3/meta/productProperties", "expected a 'result' list")
        return result

    def test_connection(self) -> tuple[bool, str]:
        """Log in and read the product properties; report the outcome for the Airflow UI."""
        try:
            count = len(self.get_product_properties())
        except Exception as exc:  # the UI shows the message; every error text here is secret-free
            return False, str(exc)
        finally:
            with contextlib.suppress(UsageIntelligenceAPIError):
                self.logout()
            self.close()
        return (
            True,
            f"Connected to {self.settings.base_url} as {self.settings.login}; {count} product properties",
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
