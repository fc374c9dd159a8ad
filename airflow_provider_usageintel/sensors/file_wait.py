"""What "the files are there" means for the file sensor and its trigger.

Both decide it the same way, so a deferred sensor succeeds exactly when a
poking one would: every day (daily) or every calendar month (monthly) of the
window needs a final, available file. Today's open file never counts: it keeps
growing until the day closes, and a monthly file appears only once its month
has closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from airflow_provider_usageintel.api.files import FileKind, FileRecord, Frequency
from airflow_provider_usageintel.api.selection import DateLike, FileSelection
from airflow_provider_usageintel.api.validation import date_problems
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed
from airflow_provider_usageintel.utils.periods import ContextLike, last_complete_day, last_complete_month

#: the frequencies whose files are final; ``open`` files are still being written.
WAITABLE = (Frequency.DAILY, Frequency.MONTHLY)


def summarise(periods: list[str], limit: int = 5) -> str:
    """A short list for log lines and messages: a year-long range must not flood the log."""
    shown = ", ".join(periods[:limit])
    return shown if len(periods) <= limit else f"{shown} and {len(periods) - limit} more"


def newest_final_period(context: ContextLike | Mapping[str, Any], frequency: object) -> str:
    """The newest day (``YYYY-MM-DD``) or month (its first day) whose file can be final when the run is due.

    The day before the run's ``data_interval_end``, or ``run_after`` for runs without a
    logical date; for monthly files, the month before. File days are UTC days.
    """
    if frequency in (Frequency.MONTHLY, Frequency.MONTHLY.value):
        return f"{last_complete_month(context)}-01"
    return last_complete_day(context)


def _month_end(day: dt.date) -> dt.date:
    first_of_next = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first_of_next - dt.timedelta(days=1)


def _months(start: dt.date, stop: dt.date) -> Iterator[dt.date]:
    """First days of the calendar months from ``start``'s to ``stop``'s."""
    month = start.replace(day=1)
    while month <= stop:
        yield month
        month = _month_end(month) + dt.timedelta(days=1)


def _days(start: dt.date, stop: dt.date) -> Iterator[dt.date]:
    for offset in range((stop - start).days + 1):
        yield start + dt.timedelta(days=offset)


def _date(value: DateLike, field: str, problems: list[str]) -> dt.date | None:
    """Accept ``YYYY-MM-DD``, dates and datetimes (natively rendered templates)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    found = date_problems(value, field)
    problems.extend(found)
    return None if found else dt.date.fromisoformat(str(value))


def _blank(value: object) -> bool:
    return value is None or value == ""


def _window(
    file_date: DateLike, since: DateLike, until: DateLike, problems: list[str]
) -> tuple[dt.date | None, dt.date | None]:
    """One day (``file_date``) or an inclusive range (``since`` and ``until``), never both."""
    if _blank(since) and _blank(until):
        if _blank(file_date):
            problems.append("file_date: required (a YYYY-MM-DD date), or give since and until")
            return None, None
        day = _date(file_date, "file_date", problems)
        return day, day
    if not _blank(file_date):
        problems.append("file_date: give either file_date or since and until, not both")
    for name, value in (("since", since), ("until", until)):
        if _blank(value):
            problems.append(f"{name}: required with a date range (a YYYY-MM-DD date)")
    start = None if _blank(since) else _date(since, "since", problems)
    stop = None if _blank(until) else _date(until, "until", problems)
    if start and stop and stop < start:
        problems.append(f"until: {stop} is before since {start}")
    return start, stop


def _frequency(value: object, problems: list[str]) -> Frequency | None:
    choices = allowed([f.value for f in WAITABLE])
    if value in (Frequency.OPEN, Frequency.OPEN.value):
        problems.append(
            f"frequency: open files are never final, so nothing waits for them (allowed: {choices})"
        )
        return None
    try:
        frequency = Frequency(value)
    except ValueError:
        problems.append(f"frequency: unknown value {value!r} (allowed: {choices})")
        return None
    return frequency


def _product_id(value: object, problems: list[str]) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        problems.append(f"product_id: {value!r} is not numeric (allowed: digits only)")
        return None
    return text


@dataclass(frozen=True)
class FileWait:
    """The final files one sensor waits for: a kind, a frequency and an inclusive date window.

    Plain strings only, so the sensor hands it to its trigger as one serialisable dict.
    """

    file_kind: str
    frequency: str
    since: str
    until: str
    product_id: str | None = None

    @classmethod
    def parse(
        cls,
        file_kind: object,
        frequency: object = "daily",
        file_date: DateLike = None,
        since: DateLike = None,
        until: DateLike = None,
        product_id: str | int | None = None,
    ) -> FileWait:
        """Validate everything at once; the error names every bad field and what it allows."""
        problems: list[str] = []
        kind: FileKind | None = None
        try:
            kind = FileKind.parse(file_kind)  # type: ignore[arg-type]
        except UsageIntelligenceValidationError as exc:
            problems.extend(exc.problems)
        freq = _frequency(frequency, problems)
        if kind is FileKind.RAW_EVENTS and freq is Frequency.MONTHLY:
            problems.append("frequency: monthly files are not offered for raw_events (allowed: daily)")
        start, stop = _window(file_date, since, until, problems)
        pid = _product_id(product_id, problems)
        if problems or kind is None or freq is None or start is None or stop is None:
            raise UsageIntelligenceValidationError(problems)
        return cls(kind.value, freq.value, start.isoformat(), stop.isoformat(), pid)

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileWait:
        """A wait handed over as a dict (a trigger's argument), checked again as the sensor checks it."""
        unknown = sorted(set(data) - {field.name for field in fields(cls)})
        if unknown:
            raise UsageIntelligenceValidationError(
                [
                    f"wait: unknown field {name!r} (allowed: {allowed([f.name for f in fields(cls)])})"
                    for name in unknown
                ]
            )
        return cls.parse(
            data.get("file_kind"),
            data.get("frequency"),
            None,
            data.get("since"),
            data.get("until"),
            data.get("product_id"),
        )

    @property
    def monthly(self) -> bool:
        return self.frequency == Frequency.MONTHLY.value

    def periods(self) -> list[str]:
        """What must be covered: each ``YYYY-MM-DD`` day, or each ``YYYY-MM`` month, of the window."""
        start, stop = dt.date.fromisoformat(self.since), dt.date.fromisoformat(self.until)
        if self.monthly:
            return [month.isoformat()[:7] for month in _months(start, stop)]
        return [day.isoformat() for day in _days(start, stop)]

    def _covered_by(self, record: FileRecord) -> Iterator[str]:
        """The periods one file completes; a monthly file completes a month only up to its last day."""
        start, stop = dt.date.fromisoformat(record.start_date), dt.date.fromisoformat(record.stop_date)
        if self.monthly:
            return (m.isoformat()[:7] for m in _months(start, stop) if _month_end(m) <= stop)
        return (day.isoformat() for day in _days(start, stop))

    def matching(self, records: Iterable[FileRecord]) -> list[FileRecord]:
        """Final, available files of the wanted kind and frequency that overlap the window."""
        since, until = self.since, self.until
        if self.monthly:  # a date in a month stands for the whole month
            since = self.since[:8] + "01"
            until = _month_end(dt.date.fromisoformat(self.until)).isoformat()
        selection = FileSelection(FileKind(self.file_kind), (Frequency(self.frequency),), since, until)
        return [r for r in selection.apply(records) if r.is_final and r.is_available]

    def check(self, records: Iterable[FileRecord]) -> tuple[list[FileRecord], list[str]]:
        """The window's final files, and the periods none of them covers yet (none left: done)."""
        found = self.matching(records)
        covered = {period for record in found for period in self._covered_by(record)}
        return found, [period for period in self.periods() if period not in covered]

    def describe(self) -> str:
        window = self.since if self.since == self.until else f"{self.since}..{self.until}"
        if self.monthly:
            months = self.periods()
            window = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
        return f"final {self.frequency} {self.file_kind} files for {window}"
