"""What every HTTP API hook of this provider shares: settings, session, retries, errors, masking.

The Usage Intelligence, Fluid Topics and FusionAuth hooks differ only in how
they authenticate and how their servers phrase errors; everything else lives
here once.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult, urlsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from typing_extensions import Self
from urllib3.exceptions import ReadTimeoutError

from airflow_provider_usageintel.connection_fields import (
    RETRY_ALWAYS,
    RETRY_IF_SAFE,
    ConnectionType,
    common_default,
)
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceAPIError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.utils.lineage import Lineage, api_namespace
from airflow_provider_usageintel.version import __version__

T = TypeVar("T")

MAX_REASON_CHARS = 500
LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _userinfo(value: str) -> tuple[str, str]:
    """``(scheme://, rest)`` with any ``user:password@`` cut off the rest.

    Everything up to the last ``@`` goes, not only what ``urlsplit`` calls userinfo: a
    password holding ``/``, ``?`` or ``#`` would otherwise spill into the path or query.
    """
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    return (f"{scheme}://" if sep else ""), rest.rpartition("@")[2]


def without_secrets(url: str) -> str:
    """A URL fit for a message: user name and password, query and fragment dropped."""
    scheme, rest = _userinfo(url)
    return scheme + rest.split("?", 1)[0].split("#", 1)[0]


def host_and_port(url: str) -> str:
    """``host:port`` of a URL (the scheme's default port when none is given); never credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"


def _valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return False
    return True


def normalise_base_url(raw: str | None, default: str, port: int | None = None, *, allow_http: bool) -> str:
    """Turn the connection's host field into a base URL: bare names get https, http needs loopback.

    Credentials in the URL (``https://user:password@host``) are refused, never used nor
    echoed: they would end up in every log line and error naming the URL.
    """
    value = (raw or "").strip() or default
    if "://" not in value:
        value = f"https://{value}"
    if "@" in value:
        raise UsageIntelligenceValidationError(
            f"host: {without_secrets(value)!r} with a user name or password in the URL is not allowed "
            "(allowed: https://host[:port][/path]; credentials go in the connection's login and password)"
        )
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or not _valid_port(parts):
        raise UsageIntelligenceValidationError(
            f"host: {without_secrets(raw or '')!r} is not an API base URL "
            "(allowed: https://host[:port][/path] or a bare host name)"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise UsageIntelligenceValidationError(
            f"host: plain http to {parts.hostname} would send credentials unencrypted "
            "(allowed: https, http to a loopback address, or set the extra 'allow_insecure_http': true)"
        )
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _mask_url_password(host: str | None) -> None:
    """A password typed into the host field is refused, and kept out of Airflow's logs as well."""
    scheme, sep, rest = (host or "").partition("://")
    userinfo = (rest if sep else scheme).rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if password:
        mask_secret(password)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise UsageIntelligenceValidationError(f"extra.{name}: {value!r} is not a boolean (allowed: true, false)")


def _as_number(value: Any, name: str, *, minimum: float, integer: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= minimum or (integer and not number.is_integer()):
        kind = "an integer" if integer else "a number"
        raise UsageIntelligenceValidationError(f"extra.{name}: {value!r} is not {kind} >= {minimum:g}")
    return number


@dataclass(frozen=True)
class ConnectionSettings:
    """Validated view of an Airflow connection, shared by every hook."""

    base_url: str
    login: str
    password: str
    extras: Mapping[str, Any]
    # Defaults (and the extras' meaning) come from connection_fields.py, as do the form and the docs.
    timeout: float = common_default("timeout")
    max_retries: int = common_default("max_retries")
    verify_ssl: bool = common_default("verify_ssl")
    #: first backoff step in seconds (doubles each try, with jitter).
    retry_wait: float = common_default("retry_wait")
    #: upper bound of one wait, including a server's Retry-After.
    max_retry_wait: float = common_default("max_retry_wait")
    user_agent: str = field(default=f"airflow-provider-usageintel/{__version__}")

    @classmethod
    def from_connection(cls, conn: Any, default_base_url: str) -> ConnectionSettings:
        extras: dict[str, Any] = dict(conn.extra_dejson or {})

        def given(name: str) -> Any:
            """The extra, or its default; the form sends ``null`` for a field left empty."""
            value = extras.get(name)
            return common_default(name) if value is None else value

        _mask_url_password(conn.host)
        allow_http = _as_bool(given("allow_insecure_http"), "allow_insecure_http")
        return cls(
            base_url=normalise_base_url(conn.host, default_base_url, conn.port, allow_http=allow_http),
            login=conn.login or "",
            password=conn.password or "",
            extras=extras,
            timeout=_as_number(given("timeout"), "timeout", minimum=0.001),
            max_retries=int(_as_number(given("max_retries"), "max_retries", minimum=0, integer=True)),
            verify_ssl=_as_bool(given("verify_ssl"), "verify_ssl"),
            retry_wait=_as_number(given("retry_wait"), "retry_wait", minimum=0),
            max_retry_wait=_as_number(given("max_retry_wait"), "max_retry_wait", minimum=0),
        )


class RetryableError(Exception):
    """Internal: an attempt worth repeating failed; ``error`` is raised once no try is left."""

    def __init__(self, error: UsageIntelligenceAPIError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts "¹" and other non-ASCII digits
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe_network_error(exc: requests.RequestException, url: str | None = None) -> str:
    """Name the failure, and with ``url`` the host and port, without echoing the URL (it may be signed)."""
    text = _network_failure(exc)
    if url is None:
        return text
    cause = _connect_cause(exc) if text == "connection failed" else ""
    return f"{text} ({host_and_port(url)}{cause})"


def _network_failure(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError) and exc.args and isinstance(exc.args[0], ReadTimeoutError):
        return "read timeout"  # requests wraps a timeout while streaming a body as a ConnectionError
    kinds: list[tuple[type[BaseException], str]] = [
        (requests.ConnectTimeout, "connect timeout"),
        (requests.ReadTimeout, "read timeout"),
        (requests.exceptions.SSLError, "TLS error"),
        (requests.exceptions.ChunkedEncodingError, "connection broken while reading the body"),
        (requests.ConnectionError, "connection failed"),
    ]
    for kind, text in kinds:
        if isinstance(exc, kind):
            return text
    return type(exc).__name__


#: why a connection could not be made, from the text of urllib3's error (it names no URL).
_CONNECT_CAUSES = (
    ("Connection refused", "connection refused"),
    ("ConnectionRefused", "connection refused"),
    ("NameResolution", "host name not resolved"),
    ("Name or service not known", "host name not resolved"),
    ("Network is unreachable", "network unreachable"),
    ("No route to host", "no route to host"),
    ("RemoteDisconnected", "closed by the server without an answer"),
)


def _connect_cause(exc: requests.RequestException) -> str:
    text = repr(exc.args[0]) if exc.args else ""
    for marker, cause in _CONNECT_CAUSES:
        if marker in text:
            return f", {cause}"
    return ""


def _never_sent(exc: requests.RequestException) -> bool:
    """A refused or timed-out connect cannot have delivered the request, so even a write may be retried."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.ReadTimeout):
        text = repr(exc.args[0]) if exc.args else ""
        return "NewConnectionError" in text or "ConnectionRefused" in text
    return False


class ApiHookBase(BaseHook):
    """A lazily created ``requests`` session with bounded, jittered retries and safe error messages.

    Subclasses set the connection attributes, :attr:`default_base_url`, and
    implement :meth:`_prepare_session` (authentication) and, if their servers
    word errors differently, :meth:`_reason_from_body`.
    """

    conn_name_attr: ClassVar[str]
    #: the connection type as data (connection_fields.py): its name, form and defaults.
    connection: ClassVar[ConnectionType]
    #: Airflow reads these three class attributes; set them from ``connection``.
    default_conn_name: ClassVar[str]
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]
    default_base_url: ClassVar[str]
    #: HTTP connection pool size; transfers download several files at once.
    pool_size: ClassVar[int] = 16
    #: scheme of this API's OpenLineage namespace (utils/lineage.py).
    lineage_scheme: ClassVar[str]

    def __init__(self, conn_id: str | None = None, *, logger_name: str | None = None) -> None:
        super().__init__(logger_name=logger_name)
        self.conn_id = conn_id or self.default_conn_name
        self._settings: ConnectionSettings | None = None
        self._session: requests.Session | None = None
        #: where the data read is noted for OpenLineage; the task that owns the hook sets it.
        self.lineage: Lineage | None = None

    # -- settings and session ---------------------------------------------------------------

    @property
    def settings(self) -> ConnectionSettings:
        if self._settings is None:
            conn = self.get_connection(self.conn_id)
            settings = ConnectionSettings.from_connection(conn, self.default_base_url)
            if settings.password:
                mask_secret(settings.password)
            self._settings = settings
        return self._settings

    def extra(self, name: str, default: Any = None) -> Any:
        return self.settings.extras.get(name, default)

    def note_read(self, name: str) -> None:
        """Note an API dataset this hook read data from (``name`` within its API's namespace)."""
        if self.lineage is not None:
            self.lineage.read(api_namespace(self.lineage_scheme, self.settings.base_url), name)

    def extra_or_default(self, name: str) -> Any:
        """An extra of this connection type, or its declared default when unset or empty."""
        value = self.extra(name)
        return self.connection.default(name) if value in (None, "") else value

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The form's field behaviour, as ``BaseHook`` defines it (snake-case keys).

        Airflow reads the provider info's ``ui-field-behaviour`` instead; both come from
        connection_fields.py.
        """
        return cls.connection.hook_field_behaviour()

    def get_conn(self) -> requests.Session:
        """The session every call goes through, created (and authenticated) on first use."""
        if self._session is None:
            self._session = self._new_session()
            self._prepare_session(self._session)
        return self._session

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=self.pool_size, pool_maxsize=self.pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.verify = self.settings.verify_ssl
        session.headers["User-Agent"] = self.settings.user_agent
        return session

    def _prepare_session(self, session: requests.Session) -> None:
        """Authenticate the new session (set headers, log in...)."""

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def end_session(self) -> None:
        """End what this hook holds open on the server and locally; safe to call again.

        Every operator, sensor and trigger calls it once it stops, whatever the outcome.
        Key-authenticated APIs have no server session: closing the sockets is all; hooks
        that log in override it to log out first.
        """
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end_session()

    # -- calls ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"

    def send(
        self,
        method: str,
        path: str,
        *,
        label: str | None = None,
        retry_safe: bool = True,
        session: requests.Session | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one call with retries; return a 2xx response or raise a safe, descriptive error."""
        label = label or f"{method} {path}"
        http = session or self.get_conn()
        kwargs.setdefault("timeout", self.settings.timeout)

        def attempt() -> requests.Response:
            return self._attempt(http, method, self.url(path), label, retry_safe, kwargs)

        return self.with_retries(attempt, label)

    def send_json(self, method: str, path: str, *, retry_safe: bool = True, **kwargs: Any) -> Any:
        """:meth:`send`, then the decoded JSON answer."""
        label = f"{method} {path}"
        response = self.send(method, path, label=label, retry_safe=retry_safe, **kwargs)
        return self.json_body(response, label)

    def with_retries(self, func: Callable[[], T], label: str) -> T:
        """Run ``func`` until it stops raising :class:`RetryableError` or the retry budget is spent."""
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            before_sleep=lambda state: self._log_retry(state, label),
            reraise=True,
        )
        try:
            return retrying(func)
        except RetryableError as exc:
            raise exc.error from None

    def _attempt(
        self,
        http: requests.Session,
        method: str,
        url: str,
        label: str,
        retry_safe: bool,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        try:
            response = http.request(method, url, **kwargs)
        except requests.RequestException as exc:
            failure = describe_network_error(exc, url)
            error = UsageIntelligenceAPIError(None, label, failure)
            if retry_safe or _never_sent(exc):
                raise RetryableError(error) from None
            raise UsageIntelligenceAPIError(
                None,
                label,
                f"{failure}; not re-sent because the call is not idempotent and may have reached the server",
            ) from None
        if response.ok:
            return response
        self._raise_for_response(response, label, retry_safe)
        return response  # pragma: no cover - _raise_for_response always raises

    def _raise_for_response(self, response: requests.Response, label: str, retry_safe: bool) -> None:
        error = self.error_for(response, label)
        status = response.status_code
        response.close()
        if status in RETRY_ALWAYS or (retry_safe and status in RETRY_IF_SAFE):
            raise RetryableError(error, parse_retry_after(response.headers.get("Retry-After")))
        raise error

    def error_for(self, response: requests.Response, label: str) -> UsageIntelligenceAPIError:
        return UsageIntelligenceAPIError(response.status_code, label, self.reason(response))

    def reason(self, response: requests.Response) -> str:
        """The server's own words for an error, trimmed; never the request."""
        try:
            text = response.text
        except requests.RequestException:
            return response.reason or "no reason given"
        reason: str | None = None
        try:
            reason = self._reason_from_body(json.loads(text))
        except ValueError:
            reason = None
        reason = reason or text.strip() or response.reason or "no reason given"
        return reason[:MAX_REASON_CHARS]

    def _reason_from_body(self, body: Any) -> str | None:
        if isinstance(body, dict):
            for key in ("reason", "message", "error", "detail"):
                if isinstance(body.get(key), str) and body[key]:
                    return str(body[key])
        return None

    def backoff_seconds(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins when longer."""
        settings = self.settings
        step = settings.retry_wait * (2 ** (attempt - 1))
        wait = random.uniform(0.5 * step, step)  # noqa: S311 - jitter, not cryptography
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, settings.max_retry_wait)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
        return self.backoff_seconds(state.attempt_number, retry_after)

    def _log_retry(self, state: RetryCallState, label: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "%s; retry %d/%d in %.1f s",
            exc if exc is not None else label,
            state.attempt_number,
            self.settings.max_retries,
            wait,
        )

    @staticmethod
    def json_body(response: requests.Response, label: str) -> Any:
        """Decode a JSON answer, or say which endpoint sent something else."""
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:200].strip()
            raise UsageIntelligenceAPIError(
                response.status_code, label, f"expected a JSON answer, got {snippet!r}"
            ) from None
