"""Settings of one emulator instance.

Everything that shapes the served data lives here, so two servers built from
equal configs answer byte for byte the same (apart from random tokens).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_ORIGIN = "https://analytics.revenera.com"
DEFAULT_USER = "demo@example.com"
DEFAULT_PASSWORD = "demo-password"  # noqa: S105 - a documented demo credential, not a secret
DEFAULT_PRODUCT_ID = "1234567890"
DEFAULT_FLUID_TOPICS_API_KEY = "ft-demo-api-key-0123456789"
DEFAULT_FUSIONAUTH_API_KEY = "fa-demo-api-key-0123456789"
FUSIONAUTH_PATH_STYLES = ("both", "singular", "plural")
#: a minute: more is a unit mistake (seconds given as milliseconds), not a network.
MAX_LATENCY_MS = 60_000
#: 100 GiB/s: more is no limit at all (0 already means none).
MAX_DOWNLOAD_MIB_PER_S = 102_400


def _check_number(field_name: str, value: object, unit: str, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise ValueError(f"{field_name}: expected {unit} between 0 and {high}, got {value!r}")
    return value


def check_latency_ms(value: object) -> float:
    """``value`` if it is a valid latency in milliseconds, else a ``ValueError`` naming the field."""
    return _check_number("latency_ms", value, "milliseconds", MAX_LATENCY_MS)


def check_download_mib_per_s(value: object) -> float:
    """``value`` if it is a valid download rate in MiB/s (0: unlimited), else a ``ValueError``."""
    return _check_number("download_mib_per_s", value, "MiB/s", MAX_DOWNLOAD_MIB_PER_S)


def _problem(check: Callable[[object], float], value: object) -> str:
    try:
        check(value)
    except ValueError as exc:
        return str(exc)
    return ""


def _is_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _default_products() -> list[str]:
    return [DEFAULT_PRODUCT_ID]


@dataclass
class EmulatorConfig:
    """What the emulated account holds and how strict the server is."""

    host: str = "127.0.0.1"
    #: 0 lets the operating system pick a free port.
    port: int = 0
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    product_ids: list[str] = field(default_factory=_default_products)
    #: days of history before the initial ``today``; the start of history never moves.
    days: int = 60
    seed: int = 0
    #: approximate size of every generated zip file.
    file_size_kb: int = 16
    #: exact zip sizes in bytes by file name, overriding ``file_size_kb``.
    file_sizes: dict[str, int] = field(default_factory=dict)
    #: the simulated date at start; it only moves through the control API.
    today: dt.date = field(default_factory=utc_today)
    origin: str = DEFAULT_ORIGIN
    session_idle_seconds: float = 1800.0
    download_url_ttl_seconds: float = 300.0
    raw_events_retention_days: int = 90
    clients_per_product: int = 300
    client_page_size: int = 200
    #: the most rows an offset-paged report (data table, key registry) or property values page
    #: returns, whatever ``maxResults`` asks for, as servers cap pages; 0: no cap.
    max_page_size: int = 0
    #: people of the documentation portal and identity server (Fluid Topics and FusionAuth data).
    portal_users: int = 120
    #: the key Fluid Topics requests must send as ``Authorization: Bearer <key>``.
    fluid_topics_api_key: str = DEFAULT_FLUID_TOPICS_API_KEY
    #: the raw key FusionAuth requests must send as ``Authorization``.
    fusionauth_api_key: str = DEFAULT_FUSIONAUTH_API_KEY
    #: when set, FusionAuth requests must send it as ``X-FusionAuth-TenantId``.
    fusionauth_tenant_id: str | None = None
    #: report paths served: ``both``, ``singular`` (current servers) or ``plural`` (Passport).
    fusionauth_path_style: str = "both"
    #: the report time zone of FusionAuth's system settings (an IANA name).
    fusionauth_timezone: str = "UTC"
    #: answer every FusionAuth report with 402, as an expired licence does.
    fusionauth_license_expired: bool = False
    #: simulated network latency: every API answer and download waits this long before its first
    #: byte, as over the round trip to a remote SaaS server; 0 answers at once. Changeable at runtime.
    latency_ms: float = 0
    #: simulated bandwidth of each file download in MiB/s, as from a remote server; 0: unlimited.
    #: Changeable at runtime.
    download_mib_per_s: float = 0

    def __post_init__(self) -> None:
        self.product_ids = [str(p) for p in self.product_ids]
        problems = [p for p in self._problems() if p]
        if problems:
            raise ValueError("invalid emulator config: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        return [
            "" if self.product_ids else "product_ids: at least one product is required",
            "" if all(p.isdigit() for p in self.product_ids) else "product_ids: must be numeric strings",
            "" if len(set(self.product_ids)) == len(self.product_ids) else "product_ids: duplicates",
            "" if self.days >= 1 else "days: must be at least 1",
            "" if self.file_size_kb >= 2 else "file_size_kb: must be at least 2",
            "" if self.clients_per_product >= 1 else "clients_per_product: must be at least 1",
            "" if self.client_page_size >= 1 else "client_page_size: must be at least 1",
            "" if self.max_page_size >= 0 else "max_page_size: must not be negative (0: no cap)",
            "" if self.raw_events_retention_days >= 1 else "raw_events_retention_days: must be at least 1",
            "" if self.session_idle_seconds >= 0 else "session_idle_seconds: must not be negative",
            "" if self.download_url_ttl_seconds >= 0 else "download_url_ttl_seconds: must not be negative",
            "" if 0 <= self.port <= 65535 else "port: must be between 0 and 65535",
            "" if self.portal_users >= 1 else "portal_users: must be at least 1",
            ""
            if self.fusionauth_path_style in FUSIONAUTH_PATH_STYLES
            else f"fusionauth_path_style: must be one of {', '.join(FUSIONAUTH_PATH_STYLES)}",
            "" if _is_timezone(self.fusionauth_timezone) else "fusionauth_timezone: not an IANA time zone",
            _problem(check_latency_ms, self.latency_ms),
            _problem(check_download_mib_per_s, self.download_mib_per_s),
        ]

    @property
    def history_start(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days)
