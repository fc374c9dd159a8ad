"""The lake's columns per file kind, as plain data beside the endpoint table.

The CSVs inside the vendor's zips start with a header of property keys
(``timestamp,clientId,prodEdition,...``, see docs/api-facts and the emulator's
``dataset.columns``). Each becomes a Parquet column:

- its name is the header key in snake_case (``licenseStatus.activated`` ->
  ``license_status_activated``): Athena and Glue lower-case names, and Spark and
  Trino read a dot as a struct path; ``timestamp`` becomes ``event_time``, since
  ``timestamp`` is a reserved word in Hive DDL;
- the event time is parsed as a UTC timestamp (millisecond precision, the Parquet
  timestamp every engine reads), numeric properties the API documents as numeric
  are typed, everything else is kept as a string, verbatim;
- an empty cell is null.

A header key this table does not know is kept as a string column (schema drift,
recorded in the partition manifest and logged); a known column missing from a
file is written as nulls. Nothing here imports pyarrow: the docs generator and DAG
files read it too.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_usageintel.api.files import FileKind
from airflow_provider_usageintel.api.validation import DATE_PROPERTIES, NUMERIC_PROPERTIES

#: bumped when a column's name or type changes; recorded in every Parquet file and manifest.
SCHEMA_VERSION = 1


class ColumnType(str, enum.Enum):
    STRING = "string"
    INT64 = "int64"
    DOUBLE = "double"
    #: a UTC instant, stored as Parquet ``TIMESTAMP(MILLIS, isAdjustedToUTC=true)``.
    TIMESTAMP = "timestamp"
    DATE = "date"

    @property
    def glue_type(self) -> str:
        """The Hive/Glue type Athena reads the Parquet column as."""
        return {"string": "string", "int64": "bigint", "double": "double"}.get(self.value, self.value)


@dataclass(frozen=True)
class Column:
    """One CSV column and the lake column it becomes."""

    header: str
    type: ColumnType
    description: str
    #: the lake name when the snake_case rule does not fit (reserved words).
    rename: str | None = None

    @property
    def name(self) -> str:
        return self.rename or lake_name(self.header)


#: how the event time is written in the CSVs (tried in order; any other spelling is a rejected row).
TIMESTAMP_FORMATS: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")
#: Hive partition keys of the lake's tables: a data column may not have their names (it gets ``_2``).
PARTITION_COLUMNS = ("product_id", "date", "month")
#: the only cell text read as null; "NA" or "null" are real values (a continent, a product edition).
NULL_VALUES: tuple[str, ...] = ("",)

_S, _I, _D, _T = ColumnType.STRING, ColumnType.INT64, ColumnType.DOUBLE, ColumnType.TIMESTAMP

EVENT_TIME = Column("timestamp", _T, "When the event happened, UTC.", rename="event_time")
CLIENT_COLUMNS: tuple[Column, ...] = (
    Column("clientId", _S, "Installation (client) id."),
    Column("prodEdition", _S, "Product edition."),
    Column("prodVersion", _S, "Product version."),
    Column("prodBuild", _S, "Product build."),
    Column("prodLanguage", _S, "Product UI language."),
    Column("licenseType", _S, "License type."),
    Column("licenseStatus.activated", _S, "License activated (`true`/`false`)."),
    Column("licenseStatus.blocked", _S, "License blocked (`true`/`false`)."),
    Column("licenseStatus.expired", _S, "License expired (`true`/`false`)."),
    Column("licenseStatus.allowed", _S, "License allowed (`true`/`false`)."),
    Column("os.version", _S, "Operating system version."),
    Column("osWordLength", _S, "OS word length (`32-bit`, `64-bit`)."),
    Column("osLanguage", _S, "OS language."),
    Column("cpuType", _S, "CPU type."),
    Column("cpuCores", _I, "CPU cores (numeric property)."),
    Column("ram", _I, "RAM in MB (numeric property)."),
    Column("displayCount", _I, "Displays attached (numeric property)."),
    Column("resolution", _S, "Screen resolution, `WIDTHxHEIGHT`."),
    Column("dotNetVersion", _S, ".NET version."),
    Column("gpu.model", _S, "GPU model."),
    Column("formFactor", _S, "Form factor."),
)
EVENT_COLUMNS: tuple[Column, ...] = (
    Column("eventCategory", _S, "Event category."),
    Column("eventName", _S, "Event name."),
    Column("eventValue", _D, "Numeric value tracked with the event, if any."),
)

#: every file kind's columns, in the CSV's order.
SCHEMAS: dict[FileKind, tuple[Column, ...]] = {
    FileKind.CUSTOM_EVENTS: (EVENT_TIME, *CLIENT_COLUMNS, *EVENT_COLUMNS),
    FileKind.EXCEPTIONS: (
        EVENT_TIME,
        *CLIENT_COLUMNS,
        Column("exceptionClass", _S, "Exception class."),
        Column("exceptionMessage", _S, "Exception message."),
        Column("exceptionMethod", _S, "Method that raised it."),
    ),
    FileKind.RAW_EVENTS: (
        EVENT_TIME,
        *CLIENT_COLUMNS,
        Column("eventType", _S, "`sessionStart`, `sessionStop` or `customEvent`."),
        *EVENT_COLUMNS[:2],
        Column("eventValue", _D, "Event value; for `sessionStop`, the session length in seconds."),
        Column("sessionId", _S, "Session id."),
    ),
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def lake_name(header: str) -> str:
    """A CSV header key as a lake column name: snake_case ASCII letters, digits and ``_``."""
    text = _CAMEL.sub("_", header.strip().lstrip("\ufeff")).lower()
    name = _NOT_WORD.sub("_", text).strip("_") or "column"
    return f"c_{name}" if name[0].isdigit() else name


@dataclass(frozen=True)
class ResolvedColumn:
    """A column of one file's lake table: where its values come from, and what they become."""

    name: str
    type: ColumnType
    #: the CSV header key.
    header: str
    #: the column's position in the CSV, ``None`` for a known column the file lacks (written as nulls).
    position: int | None
    known: bool


@dataclass(frozen=True)
class Resolved:
    """One file's header matched against its kind's schema."""

    columns: tuple[ResolvedColumn, ...]
    #: header keys the schema does not know (kept as strings).
    unknown: tuple[str, ...]
    #: known headers the file does not have (written as nulls).
    missing: tuple[str, ...]
    #: header keys that appear more than once (the later ones are renamed ``_2``...).
    duplicates: tuple[str, ...]

    @property
    def drift(self) -> bool:
        return bool(self.unknown or self.missing or self.duplicates)


def resolve(kind: FileKind, header: Sequence[str]) -> Resolved:
    """The lake columns for a file of ``kind`` with ``header``: the schema's, then unknown ones.

    Columns come in the schema's order whatever the file's, so every Parquet file of a
    table has the same leading columns; unknown ones follow in header order.
    """
    schema = SCHEMAS[kind]
    by_header = {c.header: c for c in schema}
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    seen: set[str] = set()
    duplicates = []
    for key in cleaned:
        if key in seen:
            duplicates.append(key)
        seen.add(key)
    first = {key: cleaned.index(key) for key in seen}
    columns = [ResolvedColumn(c.name, c.type, c.header, first.get(c.header), True) for c in schema]
    taken = {c.name for c in columns} | set(PARTITION_COLUMNS)
    unknown = []
    for position, key in enumerate(cleaned):
        if key in by_header and first[key] == position:
            continue
        name = _unique(lake_name(key), taken)
        columns.append(ResolvedColumn(name, ColumnType.STRING, key, position, False))
        if key not in by_header:
            unknown.append(key)
    missing = tuple(c.header for c in schema if c.header not in seen)
    return Resolved(tuple(columns), tuple(unknown), missing, tuple(duplicates))


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


# ----------------------------------------------------------------------------- client properties

#: clientPropertyList properties the API documents as numeric or as dates (api-facts, global
#: filters); every other property is a string. Values come as JSON; ``"<NULL>"`` is already null.
CLIENT_PROPERTY_TYPES: dict[str, ColumnType] = {
    **dict.fromkeys(NUMERIC_PROPERTIES, ColumnType.INT64),
    **dict.fromkeys((*DATE_PROPERTIES, "date"), ColumnType.DATE),
}
#: where a client row's keys that were not requested go, as one JSON object (kept, reported).
OTHER_PROPERTIES = "other_properties"


def client_columns(properties: Sequence[str], daily: Sequence[str] | None) -> tuple[ResolvedColumn, ...]:
    """Columns of a client-property export: ``clientId``, the properties, then per day ``day`` and
    the daily properties (one row per client and day), then :data:`OTHER_PROPERTIES`."""
    keys = ["clientId", *properties]
    if daily is not None:
        keys += ["date", *daily]
    taken: set[str] = set(PARTITION_COLUMNS)
    columns = []
    for i, key in enumerate(keys):
        # the day of a daily entry is ``day``: ``date`` is the partition (the export's day)
        name = "day" if daily is not None and i == len(properties) + 1 else lake_name(key)
        kind = CLIENT_PROPERTY_TYPES.get(key, ColumnType.STRING)
        columns.append(ResolvedColumn(_unique(name, taken), kind, key, i, True))
    columns.append(ResolvedColumn(OTHER_PROPERTIES, ColumnType.STRING, OTHER_PROPERTIES, len(keys), False))
    return tuple(columns)
