"""The Usage Intelligence client population: properties, reference data and clients.

Each client is drawn from its own seeded generator, by index (:class:`Population`),
so a population of any size costs only the clients a call touches. Reports
(:mod:`.reports`) and filters (:mod:`.filtering`) read clients through
:meth:`Client.property_value`; files (:mod:`.files`) draw their rows from them.
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

from airflow_provider_usageintel.emulator.randomness import mix64, random_hex

PropertyValue = str | int | bool | dt.date | None
PropertyKind = Literal["string", "numeric", "date", "special"]


# --------------------------------------------------------------------------- reference data


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


class _ClientFactory:
    """Draws one client from its own generator; split out so each attribute group stays readable."""

    def __init__(self, rng: random.Random, history_start: dt.date, initial_today: dt.date) -> None:
        self.rng = rng
        self.history_start = history_start
        self.initial_today = initial_today

    def build(self, client_id: str) -> Client:
        rng = self.rng
        machine_id = random_hex(rng)
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


# --------------------------------------------------------------------------- population


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
