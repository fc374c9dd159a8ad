"""File kinds, file records and the parsing of the listFiles answers.

A :class:`FileRecord` is small and JSON-serialisable on purpose: operators
push lists of them to XCom and DAGs fan out over them with ``.expand()``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from airflow_provider_usageintel.exceptions import (
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

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: file names are plain names; anything that could address a path is refused.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


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
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {name!r} is not a plain file name "
            "(allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')"
        )
    return name


def _date(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{where}: expected a YYYY-MM-DD date, got {value!r}")
    return value


def _size(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{where}: expected a size in KB, got {value!r}")
    return float(value)


def _record(kind: FileKind, frequency: Frequency, item: object, where: str) -> FileRecord:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
    try:
        name = check_file_name(item.get("fileName"), f"{where}.fileName")
    except UsageIntelligenceValidationError as exc:
        raise ValueError(str(exc)) from None
    if frequency is Frequency.MONTHLY:
        start = _date(item.get("fileStartDate"), f"{where}.fileStartDate")
        stop = _date(item.get("fileStopDate"), f"{where}.fileStopDate")
    else:
        start = stop = _date(item.get("fileDate"), f"{where}.fileDate")
    available = item.get("isAvailable", True)
    return FileRecord(
        file_kind=kind.value,
        frequency=frequency.value,
        file_name=name,
        start_date=start,
        stop_date=stop,
        compressed_size_kb=_size(item.get("compressedSizeKB"), f"{where}.compressedSizeKB"),
        uncompressed_size_kb=_size(item.get("uncompressedSizeKB"), f"{where}.uncompressedSizeKB"),
        is_final=frequency is not Frequency.OPEN,
        is_available=bool(available),
    )


def parse_file_list(kind: FileKind, payload: object, endpoint: str) -> list[FileRecord]:
    """Turn a listFiles answer into records; a malformed answer is an API error naming the field."""
    try:
        if not isinstance(payload, dict):
            raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        sections = {Frequency.DAILY: RAW_LIST_KEY} if kind is FileKind.RAW_EVENTS else LIST_KEYS
        records: list[FileRecord] = []
        for frequency, key in sections.items():
            items = payload.get(key, [])
            if items is None:
                items = []
            if not isinstance(items, list):
                raise ValueError(f"{key}: expected a list, got {type(items).__name__}")
            records.extend(_record(kind, frequency, item, f"{key}[{i}]") for i, item in enumerate(items))
    except ValueError as exc:
        raise UsageIntelligenceAPIError(200, endpoint, f"unexpected answer: {exc}") from None
    return records
