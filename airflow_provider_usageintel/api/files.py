"""File kinds, file records and the parsing of the listFiles answers.

A :class:`FileRecord` is small and JSON-serialisable on purpose: operators
push lists of them to XCom and DAGs fan out over them with ``.expand()``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from airflow_provider_usageintel.exceptions import (
    Problems,
    UsageIntelligenceAPIError,
    UsageIntelligenceValidationError,
    allowed,
)

Choice = TypeVar("Choice", bound=enum.Enum)


def _choice(cls: type[Choice], value: object, field_name: str) -> Choice:
    """One of an enum's values, or an error naming the field and every allowed value."""
    try:
        return cls(value)
    except ValueError:
        raise UsageIntelligenceValidationError(
            f"{field_name}: unknown value {value!r} (allowed: {allowed([c.value for c in cls])})"
        ) from None


class FileKind(str, enum.Enum):
    CUSTOM_EVENTS = "custom_events"
    EXCEPTIONS = "exceptions"
    RAW_EVENTS = "raw_events"

    @property
    def list_endpoint(self) -> str:
        return f"{self.value}_list_files"

    @property
    def download_url_endpoint(self) -> str:
        return f"{self.value}_download_url"

    @classmethod
    def parse(cls, value: str | FileKind, field_name: str = "file_kind") -> FileKind:
        return _choice(cls, value, field_name)


class Frequency(str, enum.Enum):
    DAILY = "daily"
    MONTHLY = "monthly"
    #: today's daily file, still growing: not final.
    OPEN = "open"

    @classmethod
    def parse(cls, value: str | Frequency, field_name: str = "frequency") -> Frequency:
        return _choice(cls, value, field_name)


#: listFiles keys of the custom-event and exception answers, by frequency.
LIST_KEYS: dict[Frequency, str] = {
    Frequency.OPEN: "openDailyFiles",
    Frequency.DAILY: "dailyFiles",
    Frequency.MONTHLY: "monthlyFiles",
}
#: the raw-events answer has one list of daily files.
RAW_LIST_KEY = "fileList"

#: ASCII digits only (``\d`` also matches other scripts' digits); matched whole, so no trailing newline.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_FORMAT = "YYYY-MM-DD"
#: file names are plain names; anything that could address a path is refused.
SAFE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)


def kb_to_bytes(kb: float | None) -> int | None:
    """Sizes are listed in KiB with three decimals; the exact length comes with the download."""
    return None if kb is None else round(float(kb) * 1024)


def size_matches_kb(size_bytes: int, kb: float) -> bool:
    """Whether an exact length agrees with a listed size in "KB".

    The listing rounds to three decimals and does not say whether a KB is 1,000
    or 1,024 bytes, so both readings are accepted within their rounding error.
    """
    return abs(size_bytes - kb * 1024) <= 1.0 or abs(size_bytes - kb * 1000) <= 1.0


@dataclass(frozen=True)
class FileRecord:
    """One downloadable file as listed by the API."""

    file_kind: str
    frequency: str
    file_name: str
    #: the day of a daily/open file, the first day of a monthly file.
    start_date: str
    #: the same as ``start_date`` for daily files, the last day covered for monthly files.
    stop_date: str
    compressed_size_kb: float | None = None
    uncompressed_size_kb: float | None = None
    is_final: bool = True
    is_available: bool = True

    @property
    def compressed_size_bytes(self) -> int | None:
        return kb_to_bytes(self.compressed_size_kb)

    def size_matches(self, size_bytes: int) -> bool:
        """True when the listing gives no compressed size, or agrees with ``size_bytes``."""
        kb = self.compressed_size_kb
        return kb is None or size_matches_kb(size_bytes, kb)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def check_file_name(name: object, field_name: str = "file_name") -> str:
    """Refuse names that could escape a directory or an S3 prefix (``..``, ``/``, NUL, over-long)."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {name!r} is not a plain file name "
            "(allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')"
        )
    return name


def check_record_date(value: object, field_name: str) -> str:
    """A file's date: ``YYYY-MM-DD`` of a real calendar day, since it becomes part of S3 keys.

    The one parser of record dates, for listings and for records handed over through XCom.
    """
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {reprlib.repr(value)} is not a date (allowed: {DATE_FORMAT})"
        )
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {value!r} is not a real calendar date (allowed: {DATE_FORMAT})"
        ) from None
    return value


def _check_size(value: object, field_name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise UsageIntelligenceValidationError(
            f"{field_name}: expected a size in KB, got {reprlib.repr(value)} (allowed: a number >= 0)"
        )
    return float(value)


def _check_period(start: str | None, stop: str | None, stop_field: str, start_name: str, p: Problems) -> None:
    if start and stop and stop < start:
        p.add(f"{stop_field}: {stop} is before {start_name} {start}")


def check_record(record: FileRecord, where: str = "file") -> FileRecord:
    """Every field of a record, since each ends up in an S3 key or decides one; all problems at once."""
    p = Problems()
    p.check(FileKind.parse, record.file_kind, f"{where}.file_kind")
    frequency = p.check(Frequency.parse, record.frequency, f"{where}.frequency")
    p.check(check_file_name, record.file_name, f"{where}.file_name")
    start = p.check(check_record_date, record.start_date, f"{where}.start_date")
    stop = p.check(check_record_date, record.stop_date, f"{where}.stop_date")
    _check_period(start, stop, f"{where}.stop_date", "start_date", p)
    p.check(_check_size, record.compressed_size_kb, f"{where}.compressed_size_kb")
    p.check(_check_size, record.uncompressed_size_kb, f"{where}.uncompressed_size_kb")
    if frequency is not None and record.is_final is not (frequency is not Frequency.OPEN):
        p.add(
            f"{where}.is_final: {record.is_final!r} does not match frequency {frequency.value} "
            f"(allowed: {frequency is not Frequency.OPEN})"
        )
    if not isinstance(record.is_available, bool):
        shown = reprlib.repr(record.is_available)
        p.add(f"{where}.is_available: {shown} is not a boolean (allowed: true, false)")
    p.raise_if_any()
    return record


@dataclass(frozen=True)
class RejectedRecord:
    """A listed or given file that cannot be archived safely: skipped, reported, never silently dropped."""

    #: where it was: ``dailyFiles[3]`` in a listing, or the file name of a duplicate.
    where: str
    problems: tuple[str, ...]
    #: the listing section's frequency, when known.
    frequency: str | None = None
    #: the listed name and first day, when they were valid (they decide whether a task wanted it).
    file_name: str | None = None
    start_date: str | None = None

    def __str__(self) -> str:
        return "; ".join(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "file_name": self.file_name, "problems": list(self.problems)}


class FileListing(list[FileRecord]):
    """The usable records of a listing; ``rejected`` holds the ones skipped as unsafe or malformed."""

    def __init__(self, records: Iterable[FileRecord] = (), rejected: Iterable[RejectedRecord] = ()) -> None:
        super().__init__(records)
        self.rejected: list[RejectedRecord] = list(rejected)

    def only(self, frequency: Frequency | None) -> FileListing:
        """The files (usable or not) of one frequency; all of them for ``None``."""
        if frequency is None:
            return self
        return FileListing(
            (r for r in self if r.frequency == frequency.value),
            (r for r in self.rejected if r.frequency in (None, frequency.value)),
        )


def unique_records(records: Sequence[FileRecord]) -> tuple[list[FileRecord], list[RejectedRecord]]:
    """Each file once: a name listed twice alike is one file; listed with different details, none is kept.

    Two transfers of one file would write the same key at the same moment, and of two
    different descriptions of one download nothing says which is right.
    """
    by_name: dict[str, list[FileRecord]] = {}
    for record in records:
        by_name.setdefault(record.file_name, []).append(record)
    unique: list[FileRecord] = []
    rejected: list[RejectedRecord] = []
    for name, copies in by_name.items():
        if all(copy == copies[0] for copy in copies):
            unique.append(copies[0])
            continue
        fields = [k for k in FileRecord.__dataclass_fields__ if len({getattr(c, k) for c in copies}) > 1]
        problem = f"{name}: listed {len(copies)} times with different {', '.join(fields)}"
        rejected.append(RejectedRecord(name, (problem,), copies[0].frequency, name, None))
    return unique, rejected


def _section_record(kind: FileKind, frequency: Frequency, item: object, where: str) -> FileRecord:
    """One listed file, every field checked; a validation error names each bad field."""
    if not isinstance(item, dict):
        raise UsageIntelligenceValidationError(f"{where}: expected an object, got {type(item).__name__}")
    p = Problems()
    name = p.check(check_file_name, item.get("fileName"), f"{where}.fileName")
    if frequency is Frequency.MONTHLY:
        start = p.check(check_record_date, item.get("fileStartDate"), f"{where}.fileStartDate")
        stop = p.check(check_record_date, item.get("fileStopDate"), f"{where}.fileStopDate")
        _check_period(start, stop, f"{where}.fileStopDate", "fileStartDate", p)
    else:
        start = stop = p.check(check_record_date, item.get("fileDate"), f"{where}.fileDate")
    compressed = p.check(_check_size, item.get("compressedSizeKB"), f"{where}.compressedSizeKB")
    uncompressed = p.check(_check_size, item.get("uncompressedSizeKB"), f"{where}.uncompressedSizeKB")
    p.raise_if_any()
    if name is None or start is None or stop is None:  # pragma: no cover - recorded as problems above
        raise UsageIntelligenceValidationError(f"{where}: incomplete")
    return FileRecord(
        file_kind=kind.value,
        frequency=frequency.value,
        file_name=name,
        start_date=start,
        stop_date=stop,
        compressed_size_kb=compressed,
        uncompressed_size_kb=uncompressed,
        is_final=frequency is not Frequency.OPEN,
        is_available=bool(item.get("isAvailable", True)),
    )


def _valid(check: Any, value: object) -> bool:
    try:
        check(value, "value")
    except UsageIntelligenceValidationError:
        return False
    return True


def _rejected(
    frequency: Frequency, item: object, where: str, exc: UsageIntelligenceValidationError
) -> RejectedRecord:
    fields = item if isinstance(item, dict) else {}
    name = fields.get("fileName")
    date = fields.get("fileStartDate" if frequency is Frequency.MONTHLY else "fileDate")
    return RejectedRecord(
        where,
        tuple(exc.problems),
        frequency.value,
        name if _valid(check_file_name, name) else None,
        date if _valid(check_record_date, date) else None,
    )


def parse_file_list(kind: FileKind, payload: object, endpoint: str) -> FileListing:
    """Turn a listFiles answer into records.

    An answer of the wrong shape is an API error naming the field; a record that is
    unsafe or malformed (a name with a path, an impossible date) is rejected alone, so
    one bad record never stops the others from being archived.
    """
    try:
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        sections = {Frequency.DAILY: RAW_LIST_KEY} if kind is FileKind.RAW_EVENTS else LIST_KEYS
        listing = FileListing()
        for frequency, key in sections.items():
            items = payload.get(key, [])
            if items is None:
                items = []
            if not isinstance(items, list):
                raise ValueError(f"{key}: expected a list, got {type(items).__name__}")
            for i, item in enumerate(items):
                where = f"{key}[{i}]"
                try:
                    listing.append(_section_record(kind, frequency, item, where))
                except UsageIntelligenceValidationError as exc:
                    listing.rejected.append(_rejected(frequency, item, where, exc))
    except ValueError as exc:
        raise UsageIntelligenceAPIError(200, endpoint, f"unexpected answer: {exc}") from None
    return listing
