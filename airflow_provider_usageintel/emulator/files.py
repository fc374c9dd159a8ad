"""Usage Intelligence files: which exist on a day, their names and sizes, and their CSV rows.

Everything derives from the config's ``seed`` through seeded ``random.Random``
instances and keyed hashes, never from process state, so two emulators with
equal configs serve identical files and a failing test can be replayed.
:class:`Dataset` ties each product's :class:`~.population.Population` to the rows
its files and previews hold; :class:`FileCatalog` lists the files and builds their zips.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from airflow_provider_usageintel.api.files import FileKind, Frequency, check_file_name
from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.population import (
    EVENTS,
    EXCEPTIONS,
    Client,
    Population,
    PropertyValue,
)
from airflow_provider_usageintel.emulator.randomness import random_hex, stable_unit
from airflow_provider_usageintel.emulator.zipstream import (
    MAX_ZIP_SIZE,
    RepeatedContent,
    StoredZip,
    member_length_for,
    zip_overhead,
)

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
                rows.append(("sessionStart", None, None, None, random_hex(rng)))
            elif roll < 0.24:
                rows.append(("sessionStop", None, None, rng.randint(30, 14400), random_hex(rng)))
            else:
                rows.append(("customEvent", category, name, value, random_hex(rng)))
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


# --------------------------------------------------------------------------- dataset


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
