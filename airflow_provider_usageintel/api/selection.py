"""Which listed files a task wants: kind, frequency, date window and names.

Operators, sensors and transfers all select files the same way, and all
reject a bad selection the same way: every problem at once, before any call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from airflow_provider_usageintel.api.files import (
    FileKind,
    FileRecord,
    Frequency,
    RejectedRecord,
    check_file_name,
)
from airflow_provider_usageintel.api.validation import date_problems
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

#: raw-event exports are daily files only.
RAW_FREQUENCIES = (Frequency.DAILY,)

DateLike = str | dt.date | None


def _date(value: DateLike, field: str, problems: list[str]) -> str | None:
    """Accept ``YYYY-MM-DD`` strings, dates and datetimes (templated ``data_interval_start``)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    found = date_problems(value, field)
    problems.extend(found)
    return None if found else str(value)


def _enum(parse: type[FileKind] | type[Frequency], value: object, field: str, problems: list[str]) -> object:
    try:
        return parse.parse(value, field)  # type: ignore[arg-type]
    except UsageIntelligenceValidationError as exc:
        problems.extend(exc.problems)
        return None


@dataclass(frozen=True)
class FileSelection:
    file_kind: FileKind
    frequencies: tuple[Frequency, ...]
    since: str | None = None
    until: str | None = None
    file_names: tuple[str, ...] | None = None

    @classmethod
    def parse(
        cls,
        file_kind: str | FileKind,
        frequency: str | Frequency | Sequence[str | Frequency] = "daily",
        since: DateLike = None,
        until: DateLike = None,
        file_names: Sequence[str] | None = None,
        include_open: bool = False,
    ) -> FileSelection:
        """Validate a selection; raise one error naming every bad field and its allowed values."""
        problems: list[str] = []
        kind = _enum(FileKind, file_kind, "file_kind", problems)
        wanted = [frequency] if isinstance(frequency, (str, Frequency)) else list(frequency or [])
        freqs = [_enum(Frequency, f, "frequency", problems) for f in wanted]
        frequencies = tuple(f for f in freqs if isinstance(f, Frequency))
        if include_open and Frequency.OPEN not in frequencies:
            frequencies += (Frequency.OPEN,)
        if not wanted:
            problems.append(
                f"frequency: at least one is required (allowed: {allowed([f.value for f in Frequency])})"
            )
        if kind is FileKind.RAW_EVENTS:
            for f in frequencies:
                if f not in RAW_FREQUENCIES:
                    problems.append(
                        f"frequency: {f.value} files are not offered for raw_events (allowed: daily)"
                    )
        start, stop = _date(since, "since", problems), _date(until, "until", problems)
        if start and stop and stop < start:
            problems.append(f"until: {stop} is before since {start}")
        names = None
        if file_names is not None:
            if isinstance(file_names, str):
                file_names = [file_names]
            names = tuple(file_names)
            for i, name in enumerate(names):
                try:
                    check_file_name(name, f"file_names[{i}]")
                except UsageIntelligenceValidationError as exc:
                    problems.extend(exc.problems)
        if problems:
            raise UsageIntelligenceValidationError(problems)
        return cls(FileKind(kind), frequencies, start, stop, names)

    def matches(self, record: FileRecord) -> bool:
        """A file matches when its kind and frequency are wanted and its dates overlap the window."""
        if record.file_kind != self.file_kind.value:
            return False
        if record.frequency not in {f.value for f in self.frequencies}:
            return False
        if self.since and record.stop_date < self.since:
            return False
        if self.until and record.start_date > self.until:
            return False
        return self.file_names is None or record.file_name in self.file_names

    def apply(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        return sorted((r for r in records if self.matches(r)), key=lambda r: (r.start_date, r.file_name))

    def wants(self, rejected: RejectedRecord) -> bool:
        """Whether a file the listing described unusably is one this selection would have taken.

        What is unknown about it counts as wanted: a bad record is reported, not overlooked.
        Others' bad records (another frequency, a day outside the window) are not this task's.
        """
        if rejected.frequency is not None and rejected.frequency not in {f.value for f in self.frequencies}:
            return False
        if self.file_names is not None and rejected.file_name not in self.file_names:
            return False
        day = rejected.start_date
        if day is None:
            return True
        if self.until and day > self.until:
            return False
        monthly = rejected.frequency == Frequency.MONTHLY.value  # its last day is unknown here
        return monthly or not self.since or day >= self.since
