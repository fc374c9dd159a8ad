"""Which period a run covers: the one place that turns a task's context into dates.

Scheduled runs have a ``data_interval_end``: the moment the run is due. Airflow 3
runs triggered from the UI or the REST API have, by default, no logical date: their
context has no ``ds`` and no ``data_interval_*``, only ``dag_run.run_after``. So every
default of the provider's operators and sensor, and every template of the example
DAGs, asks these functions (see :mod:`airflow_provider_usageintel.macros`) rather
than ``{{ ds }}``: "the last complete day" means the same in a scheduled run, a
backfill and a click on Trigger.

Nothing here knows Jinja or Airflow's classes: a context is any mapping-like object
with ``get``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

UNITS = ("hour", "day", "week", "month")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: what window bounds may be, in the words error messages use.
ACCEPTED_MOMENTS = (
    "a date YYYY-MM-DD, an ISO 8601 date-time (e.g. 2024-03-10T06:00:00+00:00), "
    "or a date/datetime object (pendulum's too)"
)


class ContextLike(Protocol):
    """A task context, or Jinja's template context: anything with ``get``."""

    def get(self, key: str, default: Any = None, /) -> Any: ...


class DateRange(NamedTuple):
    """An inclusive range of days as ISO strings (``{{ last_complete_week().first }}``)."""

    first: str
    last: str


# -- time zones and moments -----------------------------------------------------------------------


def zone(name: object, field: str = "timezone") -> zoneinfo.ZoneInfo:
    """An IANA time zone, or a validation error naming ``field``."""
    if isinstance(name, str) and name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise UsageIntelligenceValidationError(
        f"{field}: {name!r} is not an IANA time zone (allowed: e.g. UTC, Europe/Paris, America/New_York)"
    )


def to_datetime(value: object, field: str, timezone: str = "UTC") -> dt.datetime:
    """A window bound as an aware datetime; naive values are wall-clock time in ``timezone``.

    ``"2024-03-10"`` (what ``{{ ds }}`` renders) and ``dt.date(2024, 3, 10)`` mean midnight
    in ``timezone``; aware datetimes and ISO strings with an offset keep their instant.
    Errors quote the value as the caller passed it.
    """
    moment: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        moment = _parse_iso(value.strip())
    if moment is None:
        raise UsageIntelligenceValidationError(
            f"{field}: {value!r} is not allowed (allowed: {ACCEPTED_MOMENTS})"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment


def _parse_iso(text: str) -> dt.datetime | None:
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat does not read the Z suffix
        text = text[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


# -- calendar periods -----------------------------------------------------------------------------


def _unit(unit: str) -> str:
    if unit not in UNITS:
        raise UsageIntelligenceValidationError(f"unit: {unit!r} is not allowed (allowed: {allowed(UNITS)})")
    return unit


def _weekday(week_start: str) -> int:
    try:
        return WEEKDAYS.index(week_start.lower())
    except (AttributeError, ValueError):
        raise UsageIntelligenceValidationError(
            f"week_start: {week_start!r} is not allowed (allowed: {allowed(WEEKDAYS)})"
        ) from None


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz)


def floor(moment: dt.datetime, unit: str, timezone: str = "UTC", week_start: str = "monday") -> dt.datetime:
    """The start of the hour, day, week or month holding ``moment``, on ``timezone``'s wall clock."""
    tz = zone(timezone)
    local = moment.astimezone(tz)
    if _unit(unit) == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if unit == "week":
        day -= dt.timedelta(days=(day.weekday() - _weekday(week_start)) % 7)
    elif unit == "month":
        day = day.replace(day=1)
    return _midnight(day, tz)


def step(start: dt.datetime, unit: str, count: int = 1) -> dt.datetime:
    """``start`` (a period start from :func:`floor`) moved by ``count`` periods, on its own wall clock."""
    if _unit(unit) == "hour":  # absolute hours: wall-clock arithmetic would skip or repeat one at DST
        return (start.astimezone(dt.timezone.utc) + dt.timedelta(hours=count)).astimezone(start.tzinfo)
    tz = start.tzinfo or dt.timezone.utc
    day = start.date()
    if unit == "month":
        months = day.year * 12 + day.month - 1 + count
        day = dt.date(months // 12, months % 12 + 1, 1)
    else:
        day += dt.timedelta(days=count * (7 if unit == "week" else 1))
    return _midnight(day, tz)


def last_complete(
    unit: str, reference: dt.datetime, timezone: str = "UTC", week_start: str = "monday"
) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of the newest period that has ended by ``reference``."""
    end = floor(reference, unit, timezone, week_start)
    return step(end, unit, -1), end


# -- the run --------------------------------------------------------------------------------------


def reference_time(context: ContextLike | Mapping[str, Any]) -> dt.datetime:
    """When the run is due: ``data_interval_end``, else ``dag_run.run_after`` (no logical date)."""
    moment = context.get("data_interval_end")
    if moment is None:
        dag_run = context.get("dag_run")
        moment = getattr(dag_run, "run_after", None) if dag_run is not None else None
    if not isinstance(moment, dt.datetime):
        raise UsageIntelligenceValidationError(
            "context: the run has neither a data_interval_end nor a dag_run.run_after to date it by "
            "(allowed: run inside an Airflow task, or pass the dates explicitly)"
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def last_complete_day(context: ContextLike | Mapping[str, Any], timezone: str = "UTC") -> str:
    """``YYYY-MM-DD`` of the newest day that has ended when the run is due (the day before it)."""
    start, _ = last_complete("day", reference_time(context), timezone)
    return start.date().isoformat()


def last_complete_week(
    context: ContextLike | Mapping[str, Any], week_start: str = "monday", timezone: str = "UTC"
) -> DateRange:
    """First and last day of the newest week (starting on ``week_start``) that has ended."""
    start, end = last_complete("week", reference_time(context), timezone, week_start)
    return DateRange(start.date().isoformat(), (end.date() - dt.timedelta(days=1)).isoformat())


def last_complete_month(context: ContextLike | Mapping[str, Any], timezone: str = "UTC") -> str:
    """``YYYY-MM`` of the newest month that has ended when the run is due."""
    start, _ = last_complete("month", reference_time(context), timezone)
    return start.strftime("%Y-%m")


@dataclass(frozen=True)
class Window:
    """``[start, end)`` of a task, and where it came from (for log lines and error messages)."""

    start: dt.datetime
    end: dt.datetime
    source: str
    #: True when neither bound was given: the run's own interval (or its fallback) decided.
    from_run: bool

    def describe(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()}) ({self.source})"


def run_window(
    context: ContextLike | Mapping[str, Any],
    start: object = None,
    end: object = None,
    *,
    timezone: str = "UTC",
    fallback: str = "day",
) -> Window:
    """A task's window: the bounds given, else the run's data interval, else the last complete period.

    A run without a data interval (triggered without a logical date), or with an empty
    one (Airflow 3's default cron timetable), covers the last complete ``fallback``
    (day or month, in ``timezone``) before it is due. A bound that is given wins over
    the default for that bound only. Raises every problem at once.
    """
    problems: list[str] = []
    given = {name: value for name, value in (("start", start), ("end", end)) if value not in (None, "")}
    bounds: dict[str, dt.datetime] = {}
    for name, value in given.items():
        try:
            bounds[name] = to_datetime(value, name, timezone)
        except UsageIntelligenceValidationError as exc:
            problems += exc.problems
    source = "start and end as given"
    if len(given) < 2:
        try:
            default_start, default_end, source = _default_window(context, timezone, fallback)
        except UsageIntelligenceValidationError:
            missing = [name for name in ("start", "end") if name not in given]
            reason = "required (this run has no data interval or run_after to default to)"
            problems += [f"{name}: {reason}" for name in missing]
        else:
            bounds.setdefault("start", default_start)
            bounds.setdefault("end", default_end)
            if given:
                source = f"{', '.join(given)} as given, the rest from the {source}"
    if not problems and bounds["end"] <= bounds["start"]:
        shown = {name: repr(given[name]) if name in given else bounds[name].isoformat() for name in bounds}
        problems.append(f"end: {shown['end']} must be later than start {shown['start']}")
    if problems:
        raise UsageIntelligenceValidationError(problems)
    return Window(bounds["start"], bounds["end"], source, from_run=not given)


def _default_window(
    context: ContextLike | Mapping[str, Any], timezone: str, fallback: str
) -> tuple[dt.datetime, dt.datetime, str]:
    first, last = context.get("data_interval_start"), context.get("data_interval_end")
    if isinstance(first, dt.datetime) and isinstance(last, dt.datetime) and last > first:
        return first, last, "run's data interval"
    start, end = last_complete(fallback, reference_time(context), timezone)
    return start, end, f"last complete {fallback} before the run"
