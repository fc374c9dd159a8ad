"""Deterministic synthetic account data: clients, events, the file catalogue and CSV content.

Everything derives from the config's ``seed`` through seeded ``random.Random``
instances and keyed hashes, never from process state, so two emulators with
equal configs serve identical data and a failing test can be replayed. Each
client is drawn from its own generator, by index (:class:`Population`), so a
population of any size costs only the clients a call touches. Reports
(:mod:`.reports`) reuse :class:`Client`, :data:`PRODUCT_PROPERTIES` and
:meth:`Client.property_value`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import itertools
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Literal

from airflow_provider_usageintel.api.files import FileKind, Frequency, check_file_name
from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.zipstream import (
    MAX_ZIP_SIZE,
    RepeatedContent,
    StoredZip,
    member_length_for,
    zip_overhead,
)

PropertyValue = str | int | bool | dt.date | None
PropertyKind = Literal["string", "numeric", "date", "special"]

#: rows of one file are a repeated block of about this size: a few hundred distinct rows look
#: like real data, and a download costs the same small generation whatever the file's size.
BLOCK_TARGET = 64 * 1024
#: a low guess of a row's length (real ones are 200 to 350 bytes): it sizes the batches of
#: drawn records so a block needs one batch, with little drawn and thrown away.
_ROW_BYTES_GUESS = 192
_BATCH_ROWS = 512
#: bound of the kept CSV text of those combinations (all kinds together have about 3,200).
_KIND_CELLS_KEPT = 8192
#: every generated row is shorter than this, so a member of this body length holds a row.
MIN_BODY_BYTES = 1024
_NEWLINE = "\r\n"
#: ``HH:MM`` of every minute of a day and ``:SS`` of every second: rows are stamped by lookup.
_CLOCK_MINUTES = tuple(f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60))
_CLOCK_SECONDS = tuple(f":{second:02d}" for second in range(60))
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------- catalogues


@dataclass(frozen=True)
class OperatingSystem:
    platform: str
    version: str
    edition: str
    dot_net_versions: tuple[str | None, ...]


@dataclass(frozen=True)
class Place:
    continent: str
    country: str
    us_states: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventType:
    category: str
    name: str
    weight: float
    #: inclusive range of the numeric ``eventValue``; ``None``: the event carries no value.
    value_range: tuple[int, int] | None = None
    #: selected for advanced tracking (the advanced events report).
    advanced: bool = False


@dataclass(frozen=True)
class ExceptionType:
    exception_class: str
    message: str
    method: str
    weight: float


_WINDOWS_DOTNET: tuple[str | None, ...] = ("4.8", "4.7.2", "6.0", "8.0")
_WIN = "Microsoft Windows"
OPERATING_SYSTEMS: tuple[tuple[OperatingSystem, float], ...] = (
    (OperatingSystem(_WIN, f"{_WIN} 11", f"{_WIN} 11 Pro", _WINDOWS_DOTNET), 20),
    (OperatingSystem(_WIN, f"{_WIN} 11", f"{_WIN} 11 Home", _WINDOWS_DOTNET), 12),
    (OperatingSystem(_WIN, f"{_WIN} 10", f"{_WIN} 10 Pro", _WINDOWS_DOTNET), 22),
    (OperatingSystem(_WIN, f"{_WIN} 10", f"{_WIN} 10 Home", _WINDOWS_DOTNET), 10),
    (OperatingSystem(_WIN, f"{_WIN} 7", f"{_WIN} 7 Professional", ("4.8",)), 3),
    (OperatingSystem("macOS", "macOS 14", "macOS 14 Sonoma", (None,)), 14),
    (OperatingSystem("macOS", "macOS 13", "macOS 13 Ventura", (None,)), 8),
    (OperatingSystem("Linux", "Ubuntu 22.04", "Ubuntu 22.04 LTS", (None,)), 7),
    (OperatingSystem("Linux", "Fedora 39", "Fedora 39 Workstation", (None,)), 4),
)
PLACES: tuple[tuple[Place, float], ...] = (
    (Place("NA", "US", ("US-NY", "US-NJ", "US-CA", "US-TX", "US-KS", "US-WA")), 30),
    (Place("NA", "CA"), 6),
    (Place("EU", "DE"), 12),
    (Place("EU", "FR"), 8),
    (Place("EU", "GB"), 9),
    (Place("EU", "MT"), 2),
    (Place("AS", "JP"), 8),
    (Place("AS", "IN"), 9),
    (Place("OC", "AU"), 5),
    (Place("SA", "BR"), 6),
    (Place("AF", "ZA"), 3),
)
GPUS: tuple[tuple[str, str], ...] = (
    ("NVIDIA", "NVIDIA GeForce RTX 3060"),
    ("NVIDIA", "NVIDIA GeForce GTX 1650"),
    ("Intel", "Intel UHD Graphics 620"),
    ("Intel", "Intel Iris Xe Graphics"),
    ("AMD", "AMD Radeon RX 6600"),
    ("AMD", "AMD Radeon HD 4600"),
)
CPUS: tuple[str, ...] = (
    "Intel Core i5-8250U",
    "Intel Core i7-1165G7",
    "Intel Core i9-12900K",
    "AMD Ryzen 5 5600X",
    "AMD Ryzen 7 5800X",
)
EDITIONS: tuple[tuple[str, float], ...] = (("Community", 50), ("Professional", 35), ("Enterprise", 15))
VERSIONS: tuple[tuple[str, float], ...] = (("4.0.2", 10), ("4.1.0", 20), ("4.1.3", 35), ("5.0.0", 35))
LANGUAGES: tuple[str, ...] = ("en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR", "es-ES")
LICENSE_TYPES: tuple[tuple[str, float], ...] = (
    ("purchased", 40),
    ("subscription", 20),
    ("trial", 25),
    ("freeware", 15),
)
FORM_FACTORS: tuple[tuple[str, float], ...] = (("Desktop", 45), ("Laptop", 50), ("Tablet", 5))
RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (2560, 1440),
    (3840, 2160),
    (1366, 768),
    (1920, 1200),
)
CUSTOM_PROPERTY_VALUES: tuple[tuple[str, ...], ...] = (
    ("basic", "team", "business"),
    ("web", "reseller", "store"),
    ("A", "B", "C", "D"),
)

EVENTS: tuple[EventType, ...] = (
    EventType("File Operations", "Open", 20, advanced=True),
    EventType("File Operations", "Save", 18, advanced=True),
    EventType("File Operations", "Save As", 5),
    EventType("File Operations", "Export PDF", 4, value_range=(1, 250)),
    EventType("File Operations", "Print", 3, value_range=(1, 40)),
    EventType("Editing", "Undo", 12),
    EventType("Editing", "Redo", 4),
    EventType("Editing", "Find", 7),
    EventType("Editing", "Replace", 3, value_range=(1, 500)),
    EventType("View", "Zoom", 6, value_range=(25, 400)),
    EventType("View", "Dark Mode", 2),
    EventType("Help", "Tutorial Opened", 2, advanced=True),
    EventType("Help", "Search Docs", 3),
    EventType("Collaboration", "Share", 4, advanced=True),
    EventType("Collaboration", "Comment", 6, value_range=(1, 2000)),
)
EXCEPTIONS: tuple[ExceptionType, ...] = (
    ExceptionType(
        "System.NullReferenceException",
        "Object reference not set to an instance of an object.",
        "DocumentView.Render",
        30,
    ),
    ExceptionType(
        "System.IO.IOException",
        "The process cannot access the file 'report.docx', because it is being used by another process.",
        "FileStore.Save",
        20,
    ),
    ExceptionType(
        "System.UnauthorizedAccessException", "Access to the path is denied.", "FileStore.Open", 12
    ),
    ExceptionType(
        "System.FormatException",
        'Input string was not in a correct format, expected "yyyy-MM-dd".',
        "ImportWizard.ParseDate",
        10,
    ),
    ExceptionType(
        "System.Net.WebException",
        "The remote server returned an error: (503) Server Unavailable.",
        "UpdateChecker.Poll",
        15,
    ),
    ExceptionType("System.OutOfMemoryException", "Insufficient memory to continue.", "Renderer.Rasterize", 5),
)


# --------------------------------------------------------------------------- properties


#: how a property kind is filtered and what its values are (the productProperties answer).
_FILTER_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "string"),
    "numeric": ("number", "number"),
    "date": ("date", "date"),
}


@dataclass(frozen=True)
class PropertySpec:
    """A client property usable in filters and segments (seed 001 kinds), in its category."""

    name: str
    kind: PropertyKind
    label: str
    category: str
    #: sub-values of a special property (``os`` granularities, ``licenseStatus`` flags).
    parts: tuple[str, ...] = ()
    #: some clients have no value (``"<NULL>"`` in client rows).
    nullable: bool = False

    @property
    def supports_regex(self) -> bool:
        """String properties, and os and gpu; never geography (seed 001), numbers, dates or flags."""
        return self.kind == "string" or self.name in ("os", "gpu")

    def to_json(self) -> dict[str, Any]:
        """One entry of ``properties[]``, with the fields reveneraR reads."""
        special = "boolean" if self.name in ("licenseStatus", "optOut", "backOff") else "string"
        filter_type, data_type = _FILTER_TYPES.get(self.kind, (self.name, special))
        return {
            "name": self.name,
            "friendlyName": self.label,
            "filterType": filter_type,
            "dataType": data_type,
            "supportsRegex": self.supports_regex,
            "supportsMeta": self.kind != "date" and special != "boolean",
            "supportsNull": self.nullable,
        }


def _props(kind: PropertyKind, category: str, *pairs: tuple[str, str]) -> tuple[PropertySpec, ...]:
    return tuple(PropertySpec(name, kind, label, category) for name, label in pairs)


_PRODUCT, _LICENSE, _SYSTEM, _INSTALL, _CUSTOM, _PLACE = (
    "Product",
    "License",
    "System",
    "Installation",
    "Custom properties",
    "Geography",
)
PRODUCT_PROPERTIES: tuple[PropertySpec, ...] = (
    *_props(
        "string",
        _PRODUCT,
        ("prodVersion", "Product version"),
        ("prodEdition", "Product edition"),
        ("prodBuild", "Product build"),
        ("prodLanguage", "Product language"),
    ),
    *_props("string", _LICENSE, ("licenseType", "License type"), ("licenseKey", "License key")),
    PropertySpec(
        "licenseStatus", "special", "License status", _LICENSE, ("activated", "blocked", "expired", "allowed")
    ),
    *_props("string", _INSTALL, ("machineId", "Machine ID"), ("clientId", "Client ID")),
    *_props(
        "numeric",
        _INSTALL,
        ("lifetimeRuntimeMinutes", "Lifetime runtime (minutes)"),
        ("lifetimeSessionCount", "Lifetime session count"),
    ),
    *_props("date", _INSTALL, ("dateInstalled", "Date installed"), ("dateLastSeen", "Date last seen")),
    PropertySpec("optOut", "special", "Opted out", _INSTALL, ("historical", "current")),
    PropertySpec("backOff", "special", "Backed off", _INSTALL, ("historical", "current")),
    PropertySpec("os", "special", "Operating system", _SYSTEM, ("platform", "version", "edition")),
    *_props(
        "string",
        _SYSTEM,
        ("formFactor", "Form factor"),
        ("osLanguage", "OS language"),
        ("osWordLength", "OS word length"),
        ("cpuType", "CPU type"),
    ),
    PropertySpec("dotNetVersion", "string", ".NET version", _SYSTEM, nullable=True),
    *_props(
        "numeric",
        _SYSTEM,
        ("cpuCores", "CPU cores"),
        ("displayCount", "Display count"),
        ("ram", "RAM (MB)"),
        ("resolutionWidth", "Resolution width"),
        ("resolutionHeight", "Resolution height"),
    ),
    PropertySpec("gpu", "special", "GPU", _SYSTEM, ("vendor", "model")),
    PropertySpec("geography", "special", "Geography", _PLACE, ("continent", "country", "usState"), True),
    *(PropertySpec(f"C{i:02d}", "string", f"Custom property {i}", _CUSTOM) for i in range(1, 4)),
)


def product_properties_json() -> list[dict[str, Any]]:
    """``result[]`` of productProperties: ``{category, properties[]}`` in the table's order."""
    categories: dict[str, list[dict[str, Any]]] = {}
    for spec in PRODUCT_PROPERTIES:
        categories.setdefault(spec.category, []).append(spec.to_json())
    return [{"category": category, "properties": items} for category, items in categories.items()]


# --------------------------------------------------------------------------- clients


def mix64(value: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread keyed hash for per-day activity."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``; unlike ``hash()`` it survives interpreter restarts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True, slots=True)
class Client:
    """One installation of the product, as the latest data describes it."""

    client_id: str
    machine_id: str
    prod_edition: str
    prod_version: str
    prod_build: str
    prod_language: str
    license_type: str
    license_key: str
    license_activated: bool
    license_blocked: bool
    license_expired: bool
    license_allowed: bool
    os_platform: str
    os_version: str
    os_edition: str
    os_word_length: str
    os_language: str
    continent: str
    country: str
    us_state: str | None
    gpu_vendor: str
    gpu_model: str
    cpu_type: str
    cpu_cores: int
    ram: int
    display_count: int
    resolution_width: int
    resolution_height: int
    dot_net_version: str | None
    form_factor: str
    date_installed: dt.date
    #: last day seen before the initial ``today``; a churned client is never seen after it.
    date_last_seen: dt.date
    churned: bool
    #: share of days on which the client runs the product.
    activity: float
    lifetime_session_count: int
    lifetime_runtime_minutes: int
    custom: tuple[str, str, str]
    opt_out_historical: bool
    opt_out_current: bool
    back_off_historical: bool
    back_off_current: bool

    @property
    def resolution(self) -> str:
        return f"{self.resolution_width}x{self.resolution_height}"

    def is_active(self, day: dt.date) -> bool:
        """Whether the client ran the product on ``day`` (non-churned clients keep running)."""
        return bool(self.active_days(day, day))

    def active_days(self, first: dt.date, last: dt.date) -> list[int]:
        """Ordinals of the days in ``first`` .. ``last`` on which the client ran the product."""
        stop = last if not self.churned else min(last, self.date_last_seen)
        low, high = max(first, self.date_installed).toordinal(), stop.toordinal()
        forced = (self.date_installed.toordinal(), self.date_last_seen.toordinal())
        key, threshold = int(self.client_id, 16), self.activity * 2.0**64
        return [
            day
            for day in range(low, high + 1)
            if day in forced or mix64(key ^ (day * 0x9E3779B1)) < threshold
        ]

    def last_seen(self, today: dt.date) -> dt.date:
        """The last active day before ``today``: later than ``date_last_seen`` once the clock moved on."""
        if self.churned or today <= self.date_last_seen:
            return self.date_last_seen
        day = today - dt.timedelta(days=1)
        while not self.is_active(day):
            day -= dt.timedelta(days=1)
        return day

    def property_value(self, name: str) -> PropertyValue:
        """Value of a filter/segment property; special ones carry their part (``os.version``)."""
        try:
            getter = _GETTERS[name]
        except KeyError:
            raise KeyError(f"unknown client property {name!r}") from None
        return getter(self)


_GETTERS: dict[str, Callable[[Client], PropertyValue]] = {
    "clientId": attrgetter("client_id"),
    "machineId": attrgetter("machine_id"),
    "prodEdition": attrgetter("prod_edition"),
    "prodVersion": attrgetter("prod_version"),
    "prodBuild": attrgetter("prod_build"),
    "prodLanguage": attrgetter("prod_language"),
    "licenseType": attrgetter("license_type"),
    "licenseKey": attrgetter("license_key"),
    "formFactor": attrgetter("form_factor"),
    "osLanguage": attrgetter("os_language"),
    "osWordLength": attrgetter("os_word_length"),
    "cpuType": attrgetter("cpu_type"),
    "dotNetVersion": attrgetter("dot_net_version"),
    "C01": lambda c: c.custom[0],
    "C02": lambda c: c.custom[1],
    "C03": lambda c: c.custom[2],
    "cpuCores": attrgetter("cpu_cores"),
    "displayCount": attrgetter("display_count"),
    "ram": attrgetter("ram"),
    "resolutionWidth": attrgetter("resolution_width"),
    "resolutionHeight": attrgetter("resolution_height"),
    "resolution": attrgetter("resolution"),
    "lifetimeRuntimeMinutes": attrgetter("lifetime_runtime_minutes"),
    "lifetimeSessionCount": attrgetter("lifetime_session_count"),
    "dateInstalled": attrgetter("date_installed"),
    "dateLastSeen": attrgetter("date_last_seen"),
    "licenseStatus.activated": attrgetter("license_activated"),
    "licenseStatus.blocked": attrgetter("license_blocked"),
    "licenseStatus.blacklisted": attrgetter("license_blocked"),
    "licenseStatus.expired": attrgetter("license_expired"),
    "licenseStatus.allowed": attrgetter("license_allowed"),
    "licenseStatus.whitelisted": attrgetter("license_allowed"),
    "os.platform": attrgetter("os_platform"),
    "os.version": attrgetter("os_version"),
    "os.edition": attrgetter("os_edition"),
    "geography.continent": attrgetter("continent"),
    "geography.country": attrgetter("country"),
    "geography.usState": attrgetter("us_state"),
    "gpu.vendor": attrgetter("gpu_vendor"),
    "gpu.model": attrgetter("gpu_model"),
    "optOut.historical": attrgetter("opt_out_historical"),
    "optOut.current": attrgetter("opt_out_current"),
    "backOff.historical": attrgetter("back_off_historical"),
    "backOff.current": attrgetter("back_off_current"),
}


#: every name :meth:`Client.property_value` answers.
CLIENT_PROPERTY_NAMES: frozenset[str] = frozenset(_GETTERS)


@functools.cache
def _cumulative(weighted: tuple[tuple[Any, float], ...]) -> tuple[tuple[Any, ...], tuple[float, ...]]:
    return tuple(v for v, _ in weighted), tuple(itertools.accumulate(w for _, w in weighted))


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    """One value drawn by weight (the tables are fixed, so their running sums are computed once)."""
    values, sums = _cumulative(weighted)
    return values[bisect.bisect_right(sums, rng.random() * sums[-1])]


def _hex(rng: random.Random, bits: int = 64) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}X}"


class _ClientFactory:
    """Draws one client from its own generator; split out so each attribute group stays readable."""

    def __init__(self, rng: random.Random, history_start: dt.date, initial_today: dt.date) -> None:
        self.rng = rng
        self.history_start = history_start
        self.initial_today = initial_today

    def build(self, client_id: str) -> Client:
        rng = self.rng
        machine_id = _hex(rng)
        os_ = _pick(rng, OPERATING_SYSTEMS)
        place = _pick(rng, PLACES)
        installed, last_seen, churned = self._lifetime()
        activity = round(rng.uniform(0.25, 0.95), 3)
        sessions = max(1, int((last_seen - installed).days * activity * rng.uniform(0.8, 3.0)) + 1)
        width, height = rng.choice(RESOLUTIONS)
        opt_out_historical, back_off_historical = rng.random() < 0.06, rng.random() < 0.04
        return Client(
            client_id=client_id,
            machine_id=machine_id,
            **self._product(),
            os_platform=os_.platform,
            os_version=os_.version,
            os_edition=os_.edition,
            os_word_length="32-bit" if rng.random() < 0.08 else "64-bit",
            os_language=rng.choice(LANGUAGES),
            continent=place.continent,
            country=place.country,
            us_state=rng.choice(place.us_states) if place.us_states else None,
            **self._hardware(os_),
            resolution_width=width,
            resolution_height=height,
            form_factor=_pick(rng, FORM_FACTORS),
            date_installed=installed,
            date_last_seen=last_seen,
            churned=churned,
            activity=activity,
            lifetime_session_count=sessions,
            lifetime_runtime_minutes=sessions * rng.randint(5, 95),
            custom=(
                rng.choice(CUSTOM_PROPERTY_VALUES[0]),
                rng.choice(CUSTOM_PROPERTY_VALUES[1]),
                rng.choice(CUSTOM_PROPERTY_VALUES[2]),
            ),
            opt_out_historical=opt_out_historical,
            opt_out_current=opt_out_historical and rng.random() < 0.5,
            back_off_historical=back_off_historical,
            back_off_current=back_off_historical and rng.random() < 0.3,
        )

    def _product(self) -> dict[str, Any]:
        rng = self.rng
        version = _pick(rng, VERSIONS)
        license_type = _pick(rng, LICENSE_TYPES)
        paid = license_type in ("purchased", "subscription")
        blocked = rng.random() < 0.02
        return {
            "prod_edition": _pick(rng, EDITIONS),
            "prod_version": version,
            "prod_build": f"{version.replace('.', '')}{rng.randint(0, 3)}.rel-{rng.randint(10000, 99999)}",
            "prod_language": rng.choice(LANGUAGES),
            "license_type": license_type,
            "license_key": f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}-"
            f"{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}",
            "license_activated": paid and not blocked and rng.random() < 0.92,
            "license_blocked": blocked,
            "license_expired": license_type == "trial" and rng.random() < 0.35,
            "license_allowed": not blocked and rng.random() < 0.05,
        }

    def _hardware(self, os_: OperatingSystem) -> dict[str, Any]:
        rng = self.rng
        vendor, model = rng.choice(GPUS)
        return {
            "gpu_vendor": vendor,
            "gpu_model": model,
            "cpu_type": rng.choice(CPUS),
            "cpu_cores": rng.choice((2, 4, 6, 8, 12, 16)),
            "ram": rng.choice((4096, 8192, 16384, 32768)),
            "display_count": rng.choice((1, 1, 1, 2, 2, 3)),
            "dot_net_version": rng.choice(os_.dot_net_versions),
        }

    def _lifetime(self) -> tuple[dt.date, dt.date, bool]:
        rng = self.rng
        yesterday = self.initial_today - dt.timedelta(days=1)
        earliest = self.history_start - dt.timedelta(days=180)
        span = max((yesterday - earliest).days, 0)
        installed = earliest + dt.timedelta(days=rng.randint(0, span))
        churned = rng.random() < 0.25
        if churned:  # most lost installations are lost within weeks
            lifetime = min(int(rng.expovariate(1 / 30)), (yesterday - installed).days)
            last_seen = installed + dt.timedelta(days=lifetime)
        else:
            last_seen = max(installed, yesterday - dt.timedelta(days=rng.randint(0, 2)))
        return installed, last_seen, churned


# --------------------------------------------------------------------------- rows


COMMON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("clientId", "Client ID"),
    ("prodEdition", "Product Edition"),
    ("prodVersion", "Product Version"),
    ("prodBuild", "Product Build"),
    ("prodLanguage", "Product Language"),
    ("licenseType", "License Type"),
    ("licenseStatus.activated", "License Activated"),
    ("licenseStatus.blocked", "License Blocked"),
    ("licenseStatus.expired", "License Expired"),
    ("licenseStatus.allowed", "License Allowed"),
    ("os.version", "OS Version"),
    ("osWordLength", "OS Word Length"),
    ("osLanguage", "OS Language"),
    ("cpuType", "CPU Type"),
    ("cpuCores", "CPU Cores"),
    ("ram", "RAM (MB)"),
    ("displayCount", "Display Count"),
    ("resolution", "Resolution"),
    ("dotNetVersion", ".NET Version"),
    ("gpu.model", "GPU Model"),
    ("formFactor", "Form Factor"),
)
#: per kind, the columns after the client's; the last one never needs CSV quoting (it gets the padding).
KIND_COLUMNS: dict[FileKind, tuple[tuple[str, str], ...]] = {
    FileKind.CUSTOM_EVENTS: (
        ("eventCategory", "Event Category"),
        ("eventName", "Event Name"),
        ("eventValue", "Event Value"),
    ),
    FileKind.EXCEPTIONS: (
        ("exceptionClass", "Exception Class"),
        ("exceptionMessage", "Exception Message"),
        ("exceptionMethod", "Exception Method"),
    ),
    FileKind.RAW_EVENTS: (
        ("eventType", "Event Type"),
        ("eventCategory", "Event Category"),
        ("eventName", "Event Name"),
        ("eventValue", "Event Value"),
        ("sessionId", "Session ID"),
    ),
}

Cell = str | int | bool | None
#: the leading kind cells of a row take few values together in every kind (custom events: about
#: 3,200, an event and its small value range), so their CSV text is kept; the cells after them
#: (raw events' session lengths and ids) are formatted row by row.
_TABLE_CELLS = 3


def columns(kind: FileKind) -> tuple[tuple[str, str], ...]:
    """``(key, label)`` of every column of a file or preview of ``kind``, in order."""
    return (("timestamp", "Timestamp"), *COMMON_COLUMNS, *KIND_COLUMNS[kind])


def csv_cell(value: Cell) -> str:
    """One CSV field; quoted only when it must be (the checks are ordered for speed: rows are hot)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


@dataclass(frozen=True, slots=True)
class Record:
    """One collected row: when, which client, and the kind-specific cells."""

    timestamp: dt.datetime
    client: Client
    cells: tuple[Cell, ...]

    def as_json(self, kind: FileKind) -> dict[str, Cell]:
        row: dict[str, Cell] = {"timestamp": stamp(self.timestamp)}
        row.update((key, _json_cell(self.client.property_value(key))) for key, _ in COMMON_COLUMNS)
        row.update(zip((key for key, _ in KIND_COLUMNS[kind]), self.cells, strict=True))
        return row


def stamp(moment: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (rows are stamped to the second; isoformat is the fast spelling)."""
    return moment.isoformat(sep=" ", timespec="seconds")


def _json_cell(value: PropertyValue) -> Cell:
    return value.isoformat() if isinstance(value, dt.date) else value


#: running sums of the weights, computed once (``choices`` would redo them on every call).
_EVENT_SUMS = tuple(itertools.accumulate(e.weight for e in EVENTS))
_EXCEPTION_SUMS = tuple(itertools.accumulate(e.weight for e in EXCEPTIONS))


class _RecordDrawer:
    """Draws the kind-specific cells of rows, many at a time (row generation is the hot path)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def draw(self, kind: FileKind, count: int) -> list[tuple[Cell, ...]]:
        if kind is FileKind.EXCEPTIONS:
            return self._exceptions(count)
        events = self._events(count)
        if kind is FileKind.CUSTOM_EVENTS:
            return events
        return self._raw(events)

    def _events(self, count: int) -> list[tuple[Cell, ...]]:
        rng = self.rng
        picked = rng.choices(EVENTS, cum_weights=_EVENT_SUMS, k=count)
        return [(e.category, e.name, rng.randint(*e.value_range) if e.value_range else None) for e in picked]

    def _exceptions(self, count: int) -> list[tuple[Cell, ...]]:
        picked = self.rng.choices(EXCEPTIONS, cum_weights=_EXCEPTION_SUMS, k=count)
        return [(e.exception_class, e.message, e.method) for e in picked]

    def _raw(self, events: list[tuple[Cell, ...]]) -> list[tuple[Cell, ...]]:
        rng = self.rng
        rows: list[tuple[Cell, ...]] = []
        for category, name, value in events:
            roll = rng.random()
            if roll < 0.12:
                rows.append(("sessionStart", None, None, None, _hex(rng)))
            elif roll < 0.24:
                rows.append(("sessionStop", None, None, rng.randint(30, 14400), _hex(rng)))
            else:
                rows.append(("customEvent", category, name, value, _hex(rng)))
        return rows


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class FileSpec:
    """One downloadable file at one moment: what it covers and its exact zip size."""

    product_id: str
    kind: FileKind
    frequency: Frequency
    name: str
    start: dt.date
    stop: dt.date
    size: int

    @property
    def member_name(self) -> str:
        return self.name[: -len(".zip")] + ".csv"

    @property
    def member_size(self) -> int:
        return member_length_for(self.size, self.member_name)

    def listing(self) -> dict[str, Any]:
        """This file's entry in a listFiles answer (sizes in KiB, three decimals)."""
        compressed, uncompressed = _kib(self.size), _kib(self.member_size)
        if self.kind is FileKind.RAW_EVENTS:
            return {"fileName": self.name, "fileDate": self.start.isoformat(), "compressedSizeKB": compressed}
        if self.frequency is Frequency.OPEN:
            day = self.start.isoformat()
            return {
                "fileName": self.name,
                "uncompressedSizeKB": uncompressed,
                "fileDate": day,
                "isAvailable": True,
            }
        entry: dict[str, Any] = {"fileName": self.name, "uncompressedSizeKB": uncompressed}
        entry["compressedSizeKB"] = compressed
        if self.frequency is Frequency.MONTHLY:
            entry.update(fileStartDate=self.start.isoformat(), fileStopDate=self.stop.isoformat())
        else:
            entry["fileDate"] = self.start.isoformat()
        return entry


def _kib(size: int) -> float:
    return round(size / 1024, 3)


_INFIX = {FileKind.CUSTOM_EVENTS: "_cust", FileKind.EXCEPTIONS: "_exc", FileKind.RAW_EVENTS: ""}


def file_name(product_id: str, kind: FileKind, start: dt.date, stop: dt.date | None = None) -> str:
    """``{pid}_cust_{day}.zip``, ``{pid}_exc_{start}_to_{stop}.zip``, ``{pid}_{day}.zip`` (raw)."""
    days = start.isoformat() if stop is None else f"{start.isoformat()}_to_{stop.isoformat()}"
    return check_file_name(f"{product_id}{_INFIX[kind]}_{days}.zip")


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def closed_months(history_start: dt.date, today: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``(first covered day, month end)`` of every month that ended before ``today`` within history."""
    months: list[tuple[dt.date, dt.date]] = []
    month = history_start.replace(day=1)
    while True:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        month_end = following - dt.timedelta(days=1)
        if month_end >= today:
            return months
        months.append((max(month, history_start), month_end))
        month = following


class Population:
    """One product's clients, each drawn from its own generator on demand.

    Client ids grow with the index (index ``i`` owns the id range ``[i * step, (i + 1) * step)``
    of 64-bit values), so index order is clientId order: paging by client id is a
    bisection and a page costs its own size, however large the population.
    """

    #: whole populations up to this size are kept once built; larger ones are streamed.
    KEEP_LIMIT = 50_000
    #: clients kept for random access (a page, a file's rows) in populations not kept whole.
    CACHE_SIZE = 4096

    def __init__(self, seed: int, product_id: str, size: int, factory_args: tuple[dt.date, dt.date]) -> None:
        self.size = size
        self._key = int.from_bytes(
            hashlib.blake2b(f"clients|{seed}|{product_id}".encode(), digest_size=8).digest(), "big"
        )
        self._step = (1 << 64) // size
        self._factory_args = factory_args
        self._cache: OrderedDict[int, Client] = OrderedDict()
        self._everyone: tuple[Client, ...] | None = None
        self._lock = threading.Lock()

    def client_id(self, index: int) -> str:
        return f"{index * self._step + mix64(self._key ^ index) % self._step:016X}"

    def index_from(self, client_id: str) -> int:
        """Index of the first client whose id is ``client_id`` or sorts after it."""
        return bisect.bisect_left(range(self.size), client_id, key=self.client_id)

    def client(self, index: int) -> Client:
        """Client ``index``; recent ones are kept in a small cache."""
        with self._lock:
            if self._everyone is not None:
                return self._everyone[index]
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
        built = self._build(index)
        with self._lock:
            self._cache[index] = built
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        return built

    def _build(self, index: int) -> Client:
        rng = random.Random(self._key ^ (index << 64))  # noqa: S311 - synthetic data, not secrets
        return _ClientFactory(rng, *self._factory_args).build(self.client_id(index))

    def __iter__(self) -> Iterator[Client]:
        if self.size > self.KEEP_LIMIT:
            return (self._build(index) for index in range(self.size))
        return iter(self.everyone())

    def everyone(self) -> tuple[Client, ...]:
        with self._lock:
            if self._everyone is not None:
                return self._everyone
        everyone = tuple(self._build(index) for index in range(self.size))
        if self.size <= self.KEEP_LIMIT:
            with self._lock:
                self._everyone = everyone
                self._cache.clear()
        return everyone

    def sample(self, rng: random.Random, count: int, start: dt.date, stop: dt.date) -> list[Client]:
        """``count`` clients drawn at random among those installed by ``stop`` and not lost before ``start``.

        Kept populations are filtered whole (all of them if nobody qualifies); larger ones
        are drawn by index, a few tries per row, so a file never builds the whole population.
        """
        if self.size > self.KEEP_LIMIT:
            return [self._draw_alive(rng, start, stop) for _ in range(count)]
        everyone = self.everyone()
        alive = [c for c in everyone if _alive(c, start, stop)]
        return rng.choices(alive or everyone, k=count)

    def _draw_alive(self, rng: random.Random, start: dt.date, stop: dt.date, tries: int = 16) -> Client:
        for _ in range(tries):
            client = self.client(rng.randrange(self.size))
            if _alive(client, start, stop):
                break
        return client


def _alive(client: Client, start: dt.date, stop: dt.date) -> bool:
    return client.date_installed <= stop and not (client.churned and client.date_last_seen < start)


class Dataset:
    """The synthetic account: clients per product, and the rows its files and previews hold."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.seed = config.seed
        self.product_ids = tuple(config.product_ids)
        self.history_start = config.history_start
        self.initial_today = config.today
        self.clients_per_product = config.clients_per_product
        self._populations: dict[str, Population] = {}
        self._client_cells: dict[str, str] = {}
        self._kind_cells: dict[tuple[Cell, ...], str] = {}
        self._lock = threading.Lock()

    def population(self, product_id: str) -> Population:
        """The product's clients, generated by index as they are needed."""
        with self._lock:
            if product_id not in self._populations:
                self._populations[product_id] = Population(
                    self.seed,
                    product_id,
                    self.clients_per_product,
                    (self.history_start, self.initial_today),
                )
            return self._populations[product_id]

    def clients(self, product_id: str) -> tuple[Client, ...]:
        """The whole population in clientId order, built on first use and then fixed."""
        return self.population(product_id).everyone()

    def _draw(
        self, kind: FileKind, product_id: str, start: dt.date, stop: dt.date, count: int, key: str
    ) -> zip[tuple[int, Client, tuple[Cell, ...]]]:
        """``count`` rows as ``(seconds after start's midnight, client, kind cells)``, fixed by ``key``."""
        rng = random.Random(f"rows|{self.seed}|{product_id}|{kind.value}|{key}")  # noqa: S311
        clients = self.population(product_id).sample(rng, count, start, stop)
        cells = _RecordDrawer(rng).draw(kind, count)
        span = ((stop - start).days + 1) * 86400
        draw = rng.random
        seconds = [int(draw() * span) for _ in range(count)]
        return zip(seconds, clients, cells, strict=True)

    def records(
        self, kind: FileKind, product_id: str, start: dt.date, stop: dt.date, count: int, key: str
    ) -> list[Record]:
        """``count`` rows dated within ``start`` .. ``stop``, fixed by ``key``."""
        origin = dt.datetime.combine(start, dt.time())
        return [
            Record(origin + dt.timedelta(seconds=second), client, cells)
            for second, client, cells in self._draw(kind, product_id, start, stop, count, key)
        ]

    def last_lines(
        self, kind: FileKind, product_id: str, today: dt.date, count: int
    ) -> list[dict[str, Cell]]:
        """The newest ``count`` rows collected on ``today``, newest first, as JSON objects."""
        rows = self.records(kind, product_id, today, today, count, f"last|{today.isoformat()}")
        rows.sort(key=lambda r: (r.timestamp, r.client.client_id), reverse=True)
        return [r.as_json(kind) for r in rows]

    def csv_header(self, kind: FileKind) -> bytes:
        return (",".join(key for key, _ in columns(kind)) + _NEWLINE).encode()

    def _client_csv(self, client: Client) -> str:
        """The client's cells of a row, joined once per client: every row repeats them."""
        cells = ",".join(csv_cell(_json_cell(client.property_value(k))) for k, _ in COMMON_COLUMNS)
        self._client_cells[client.client_id] = cells
        return cells

    def _kind_csv(self, cells: tuple[Cell, ...]) -> str:
        """The leading kind cells of a row (:data:`_TABLE_CELLS`): rows repeat them, so their text is kept."""
        text = ",".join(map(csv_cell, cells))
        if len(self._kind_cells) < _KIND_CELLS_KEPT:
            self._kind_cells[cells] = text
        return text

    def csv_rows(self, spec: FileSpec, body_length: int) -> list[bytes]:
        """Distinct rows for a file: enough to fill ``body_length`` or :data:`BLOCK_TARGET`, if less.

        They depend only on the file's name and that target, so a file reads the same every time.
        Rows are formatted straight from the drawn numbers, with the cells' text looked up rather
        than rebuilt: this loop is most of what a download costs the emulator.
        """
        target = min(BLOCK_TARGET, body_length)
        count = min(_BATCH_ROWS, target // _ROW_BYTES_GUESS + 1)
        days = [f"{day.isoformat()} " for day in _days(spec.start, spec.stop)]
        client_cells, kind_cells = self._client_cells, self._kind_cells
        rows: list[bytes] = []
        size, batch = 0, 0
        while size < target:
            for moment, client, cells in self._draw(
                spec.kind, spec.product_id, spec.start, spec.stop, count, f"{spec.name}|{batch}"
            ):
                day, of_day = divmod(moment, 86400)
                minute, second = divmod(of_day, 60)
                table, ids = cells[:_TABLE_CELLS], cells[_TABLE_CELLS:]
                line = (
                    f"{days[day]}{_CLOCK_MINUTES[minute]}{_CLOCK_SECONDS[second]},"
                    f"{client_cells.get(client.client_id) or self._client_csv(client)},"
                    f"{kind_cells.get(table) or self._kind_csv(table)}"
                    f"{',' + ','.join(map(csv_cell, ids)) if ids else ''}{_NEWLINE}"
                ).encode()
                rows.append(line)
                size += len(line)
                if size >= target:
                    break
            batch += 1
        return rows


# --------------------------------------------------------------------------- content


def fill_content(head: bytes, rows: list[bytes], length: int) -> RepeatedContent:
    """Exactly ``length`` bytes of CSV: ``head``, the rows repeated, the last row padded with spaces."""
    body = length - len(head)
    block = b"".join(rows)
    repeats, rest = divmod(body, len(block))
    if rest and rest < len(rows[0]) and repeats:
        repeats, rest = repeats - 1, rest + len(block)
    return RepeatedContent(head, block, repeats, _tail(rows, rest))


def _tail(rows: list[bytes], budget: int) -> bytes:
    """Whole rows cycling from the first, then spaces before the last newline up to ``budget``."""
    if budget == 0:
        return b""
    taken: list[bytes] = []
    left, index = budget, 0
    while len(rows[index % len(rows)]) <= left:
        taken.append(rows[index % len(rows)])
        left -= len(taken[-1])
        index += 1
    if not taken:
        raise ValueError(f"{budget} bytes cannot hold a single row")
    last = taken[-1]
    taken[-1] = last[: -len(_NEWLINE)] + b" " * left + _NEWLINE.encode()
    return b"".join(taken)


@dataclass(frozen=True)
class _Listing:
    """One day's files of one product and kind, in listing order and by name."""

    specs: tuple[FileSpec, ...]
    by_name: dict[str, FileSpec]


class FileCatalog:
    """Which files exist on a given day, how big each is, and their bytes.

    Listings are cached per ``(product, kind, today)``: every ``getDownloadUrl``
    looks its file up, and rebuilding hundreds of specs per call cost more than
    the call. ``today`` is part of the key, so moving the simulated clock needs
    no invalidation; pinning a size (:meth:`set_size`) drops every listing.
    """

    def __init__(self, dataset: Dataset, config: EmulatorConfig, cache_size: int = 4) -> None:
        self.dataset = dataset
        self.file_size_kb = config.file_size_kb
        self.retention_days = config.raw_events_retention_days
        self._widest_header = max(len(dataset.csv_header(kind)) for kind in FileKind)
        self._overrides: dict[str, int] = {}
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int], StoredZip] = OrderedDict()
        self._cache_size = cache_size
        self._listings: OrderedDict[tuple[str, FileKind, dt.date], _Listing] = OrderedDict()
        #: room for every product's listings of two days (today's and the one before a clock move).
        self._listings_size = 2 * len(FileKind) * len(config.product_ids)
        #: bumped by every pin, so a listing computed while a size changed is not kept.
        self._generation = 0
        for name, size in config.file_sizes.items():
            self.set_size(name, size)

    def set_size(self, name: str, size: int) -> None:
        """Pin the exact zip size of a file (by name, whether it exists yet or not)."""
        check_file_name(name)
        smallest = self.min_size(name)
        if not smallest <= size <= MAX_ZIP_SIZE:
            raise ValueError(
                f"size_bytes: {name} needs between {smallest} and {MAX_ZIP_SIZE} bytes, got {size}"
            )
        with self._lock:
            self._overrides[name] = size
            self._generation += 1
            self._listings.clear()

    def min_size(self, name: str) -> int:
        member = name.removesuffix(".zip") + ".csv"
        return zip_overhead(member) + self._widest_header + MIN_BODY_BYTES

    def _size(self, name: str, frequency: Frequency) -> int:
        with self._lock:
            pinned = self._overrides.get(name)
        if pinned is not None:
            return pinned
        factor = 0.85 + 0.3 * stable_unit(self.dataset.seed, name)
        if frequency is Frequency.OPEN:
            factor /= 2
        return max(int(self.file_size_kb * 1024 * factor), self.min_size(name))

    def _spec(
        self, pid: str, kind: FileKind, frequency: Frequency, start: dt.date, stop: dt.date
    ) -> FileSpec:
        name = file_name(pid, kind, start, stop if frequency is Frequency.MONTHLY else None)
        return FileSpec(pid, kind, frequency, name, start, stop, self._size(name, frequency))

    def files(self, product_id: str, kind: FileKind, today: dt.date) -> list[FileSpec]:
        """Every file listed on ``today``: open first, then daily, then monthly, oldest first."""
        return list(self._listing(product_id, kind, today).specs)

    def find(self, product_id: str, kind: FileKind, name: str, today: dt.date) -> FileSpec | None:
        return self._listing(product_id, kind, today).by_name.get(name)

    def _listing(self, product_id: str, kind: FileKind, today: dt.date) -> _Listing:
        key = (product_id, kind, today)
        with self._lock:
            cached = self._listings.get(key)
            if cached is not None:
                self._listings.move_to_end(key)
                return cached
            generation = self._generation
        specs = tuple(self._list(product_id, kind, today))
        listing = _Listing(specs, {spec.name: spec for spec in specs})
        with self._lock:
            if generation == self._generation:
                self._listings[key] = listing
                while len(self._listings) > self._listings_size:
                    self._listings.popitem(last=False)
        return listing

    def _list(self, product_id: str, kind: FileKind, today: dt.date) -> list[FileSpec]:
        history = self.dataset.history_start
        yesterday = today - dt.timedelta(days=1)
        if kind is FileKind.RAW_EVENTS:
            first = max(history, today - dt.timedelta(days=self.retention_days))
            return [self._spec(product_id, kind, Frequency.DAILY, d, d) for d in _days(first, yesterday)]
        specs = [self._spec(product_id, kind, Frequency.OPEN, today, today)]
        specs += [self._spec(product_id, kind, Frequency.DAILY, d, d) for d in _days(history, yesterday)]
        specs += [
            self._spec(product_id, kind, Frequency.MONTHLY, a, b) for a, b in closed_months(history, today)
        ]
        return specs

    def stored_zip(self, spec: FileSpec) -> StoredZip:
        """The file's zip, built once per name and size and kept in a small LRU cache."""
        key = (spec.name, spec.size)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        built = self._build(spec)
        with self._lock:
            self._cache[key] = built
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return built

    def _build(self, spec: FileSpec) -> StoredZip:
        head = self.dataset.csv_header(spec.kind)
        rows = self.dataset.csv_rows(spec, spec.member_size - len(head))
        content = fill_content(head, rows, spec.member_size)
        return StoredZip(spec.member_name, content, spec.stop)


# --------------------------------------------------------------------------- portal users
#
# The documentation portal (Fluid Topics) and the identity server in front of it
# (FusionAuth) share one population: a FusionAuth login opens a portal session,
# and the session's events are what the analytics API serves.

PORTAL_REALMS: tuple[str, ...] = ("internal", "Keycloak", "sso", "ldap")
PORTAL_GROUPS: tuple[str, ...] = (
    "ft:administrator",
    "ft:authenticated",
    "TechWriter",
    "antidot",
    "nda_basic",
    "nda_advanced",
    "partners",
)
PORTAL_ROLES: tuple[str, ...] = (
    "PERSONAL_BOOK_SHARE_USER",
    "PDF_EXPORT_USER",
    "PERSONAL_BOOK_USER",
    "OFFLINE_USER",
    "FEEDBACK_USER",
    "ANALYTICS_USER",
    "RATING_USER",
    "GENERATIVE_AI_USER",
    "ADMIN",
    "PRINT_USER",
    "COLLECTION_USER",
    "HTML_EXPORT_USER",
    "SAVED_SEARCH_USER",
)
PORTAL_EVENTS: tuple[tuple[str, float], ...] = (
    ("khub.search", 30),
    ("document.display", 25),
    ("page.display", 15),
    ("document.start_display", 8),
    ("khub.bookmark.create", 4),
    ("document.download", 5),
    ("document.print", 3),
    ("feedback.send", 2),
    ("document.rate", 3),
)
#: FusionAuth applications: (id, name); every user is registered to the first one.
PORTAL_APPLICATIONS: tuple[tuple[str, str], ...] = (
    ("3c219e58-ed0e-4b18-ad48-f4f92793ae32", "Documentation portal"),
    ("8f0a6a3c-2a7e-4d0b-9c58-0d8a5c3e1f10", "Support center"),
    ("c1b7f0e2-5d3a-4b4e-8f6a-2e9d7c4b1a05", "Partner extranet"),
)
PORTAL_SEARCH_TERMS: tuple[str, ...] = ("install", "license server", "upgrade 5.0", "api token", "backup")
_DAY_MS = 86_400_000


def stable_uuid(*parts: object) -> str:
    """A UUID fixed by ``parts``, formatted like a version-4 one."""
    digest = bytearray(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest())
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(frozen=True, slots=True)
class PortalUser:
    index: int
    user_id: str
    login_id: str
    realms: tuple[str, ...]
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    applications: tuple[str, ...]
    #: epoch milliseconds of the registration (the same for every application).
    registered_ms: int
    #: share of days with a visit.
    activity: float
    locale: str


@dataclass(frozen=True, slots=True)
class PortalSession:
    """One login (FusionAuth) that opened one portal visit (Fluid Topics events)."""

    user: int
    application: str
    login_ms: int
    session_id: str
    #: ``(epoch ms, event name index)`` of the visit's events, oldest first.
    events: tuple[tuple[int, int], ...]


class Portal:
    """The portal's users and, per UTC day, their logins and events; deterministic and lazy."""

    #: users registered up to this many days before the history starts already have an account.
    PRE_HISTORY_DAYS = 400

    def __init__(self, config: EmulatorConfig) -> None:
        self.seed = config.seed
        start = dt.datetime.combine(config.history_start, dt.time(), dt.timezone.utc)
        self._first_ms = int(start.timestamp() * 1000) - self.PRE_HISTORY_DAYS * _DAY_MS
        self._span_ms = (self.PRE_HISTORY_DAYS + config.days) * _DAY_MS
        self.users = tuple(self._user(index) for index in range(config.portal_users))
        self.by_id = {user.user_id: user for user in self.users}
        self.by_login = {user.login_id: user for user in self.users}
        self._names, self._weights = zip(*PORTAL_EVENTS, strict=True)

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(self._names)

    def _user(self, index: int) -> PortalUser:
        rng = random.Random(f"portal|{self.seed}|{index}")  # noqa: S311 - synthetic data
        apps = [PORTAL_APPLICATIONS[0][0]] + [a for a, _ in PORTAL_APPLICATIONS[1:] if rng.random() < 0.3]
        return PortalUser(
            index=index,
            user_id=stable_uuid("portal-user", self.seed, index),
            login_id=f"user{index:04d}@example.com",
            realms=tuple(rng.sample(PORTAL_REALMS, rng.randint(1, 2))),
            groups=tuple(rng.sample(PORTAL_GROUPS, rng.randint(1, 4))),
            roles=tuple(sorted(rng.sample(PORTAL_ROLES, rng.randint(2, 8)))),
            applications=tuple(apps),
            registered_ms=self._first_ms + rng.randrange(self._span_ms),
            activity=rng.uniform(0.1, 0.7),
            locale=rng.choice(("en-US", "en-GB", "fr-FR", "de-DE", "ja-JP")),
        )

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Portal per emulator, kept for its lifetime
    def sessions(self, day: dt.date) -> tuple[PortalSession, ...]:
        """Every login of one UTC day, oldest first."""
        day_ms = int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000)
        found: list[PortalSession] = []
        for user in self.users:
            if user.registered_ms >= day_ms + _DAY_MS:
                continue
            rng = random.Random(f"visits|{self.seed}|{user.index}|{day.toordinal()}")  # noqa: S311
            if rng.random() >= user.activity:
                continue
            for visit in range(rng.choice((1, 1, 1, 2))):
                found.append(self._session(rng, user, max(day_ms, user.registered_ms + 1), day_ms, visit))
        return tuple(sorted(found, key=lambda s: (s.login_ms, s.session_id)))

    def _session(
        self, rng: random.Random, user: PortalUser, earliest: int, day_ms: int, visit: int
    ) -> PortalSession:
        login = rng.randrange(earliest, day_ms + _DAY_MS) if earliest < day_ms + _DAY_MS else earliest
        times = sorted(login + rng.randrange(1, 3_600_000) for _ in range(rng.randint(1, 8)))
        names = rng.choices(range(len(self._names)), weights=self._weights, k=len(times))
        return PortalSession(
            user=user.index,
            application=rng.choice(user.applications),
            login_ms=login,
            session_id=stable_uuid("session", self.seed, user.index, day_ms, visit),
            events=tuple(zip(times, names, strict=True)),
        )

    def sessions_between(self, start_ms: int, end_ms: int) -> Iterator[PortalSession]:
        """Logins in ``[start_ms, end_ms)``, oldest first."""
        day = dt.datetime.fromtimestamp(start_ms / 1000, dt.timezone.utc).date()
        while int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000) < end_ms:
            for session in self.sessions(day):
                if start_ms <= session.login_ms < end_ms:
                    yield session
            day += dt.timedelta(days=1)

    def event_record(self, session: PortalSession, position: int) -> dict[str, Any]:
        """One event of a session, shaped like the analytics API's ``results`` items."""
        moment, name_index = session.events[position]
        user, name = self.users[session.user], self._names[name_index]
        event_id = stable_uuid("event", session.session_id, position)
        rng = random.Random(event_id)  # noqa: S311 - synthetic data
        return {
            "appName": "ft/turnkey-portal",
            "appVersion": "4.3.32",
            "contentLocale": "en-US",
            "datetime": moment,
            "id": event_id,
            "name": name,
            "offline": False,
            "parameters": _event_parameters(name, rng),
            "sessionId": session.session_id,
            "tenantId": "documentation-emulator",
            "uiLocale": user.locale,
            "user": {
                "realm": list(user.realms),
                "groups": list(user.groups),
                "id": user.user_id,
                "roles": list(user.roles),
            },
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0",
            "userIp": f"10.60.{user.index // 250}.{user.index % 250 + 1}",
        }


def _event_parameters(name: str, rng: random.Random) -> dict[str, Any]:
    if name == "khub.search":
        return {
            "searchQuery": {
                "terms": rng.choice(PORTAL_SEARCH_TERMS),
                "facets": [],
                "searchType": "EVERYWHERE",
            },
            "searchResponse": {"autocorrect": False, "nbResults": rng.randrange(0, 2000)},
        }
    if name.startswith(("document.", "page.")):
        return {
            "document": {"id": f"doc-{rng.randrange(1, 400):04d}", "title": f"Guide {rng.randrange(1, 40)}"}
        }
    return {}
