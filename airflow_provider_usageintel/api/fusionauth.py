"""The FusionAuth (formerly Passport) report API (seed 003), described once as data.

Current servers serve the active-user reports under singular paths
(``daily-active-user``), the seed's Passport-era servers under plural ones
(``daily-active-users``): each endpoint's ``path`` is the singular form and its
``aliases`` hold the plural one; :func:`report_paths` orders them by path style.
Reports take ``start``/``end`` as epoch milliseconds, which the server truncates
to the report's interval (day, hour or month) in its report time zone, and count
per *interval*: days, hours or months since the epoch, shifted to that zone.
:func:`aligned_window` turns an end-exclusive ``[start, end)`` into the
``start``/``end`` pair that covers exactly its whole intervals; :func:`period`
turns an interval back into an ISO date, hour or month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_usageintel.api.endpoints import Endpoint
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed
from airflow_provider_usageintel.utils.periods import floor, step

_GROUP = "FusionAuth reports"
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
#: ``auto`` tries the singular path first and falls back to the plural one on a 404.
PATH_STYLES = ("auto", "singular", "plural")


def _report(name: str, path: str, summary: str, result_key: str | None, **kw: Any) -> Endpoint:
    return Endpoint(name, "GET", f"/api/report/{path}", _GROUP, summary, result_key=result_key, **kw)


_WINDOW = ("start", "end", "applicationId")
ENDPOINTS: tuple[Endpoint, ...] = (
    _report(
        "daily_active_users",
        "daily-active-user",
        "Distinct users active per day.",
        "dailyActiveUsers",
        query=_WINDOW,
        aliases=("/api/report/daily-active-users",),
    ),
    _report(
        "monthly_active_users",
        "monthly-active-user",
        "Distinct users active per month.",
        "monthlyActiveUsers",
        query=_WINDOW,
        aliases=("/api/report/monthly-active-users",),
    ),
    _report(
        "login",
        "login",
        "Logins per hour, optionally of one user.",
        "hourlyCounts",
        query=(*_WINDOW, "loginId", "userId"),
    ),
    _report("registration", "registration", "Registrations per hour.", "hourlyCounts", query=_WINDOW),
    _report("totals", "totals", "Registrations and logins, globally and per application.", None),
)
BY_NAME: Mapping[str, Endpoint] = {e.name: e for e in ENDPOINTS}
REPORT_NAMES: tuple[str, ...] = tuple(BY_NAME)


@dataclass(frozen=True)
class IntervalUnit:
    """What one interval of a report counts, and how its ISO label looks."""

    name: str
    label: str

    def start(self, interval: int) -> dt.datetime:
        """The interval's first instant as a wall-clock time in the report time zone."""
        base = dt.datetime(1970, 1, 1)
        if self.name == "month":
            return base.replace(year=1970 + interval // 12, month=interval % 12 + 1)
        if self.name == "day":
            return base + dt.timedelta(days=interval)
        return base + dt.timedelta(hours=interval)

    def number(self, local: dt.datetime) -> int:
        """The interval holding a wall-clock time of the report time zone (the inverse of :meth:`start`)."""
        if self.name == "month":
            return (local.year - 1970) * 12 + local.month - 1
        days = local.toordinal() - _EPOCH_ORDINAL  # no subtraction: pendulum's would be an Interval
        return days if self.name == "day" else days * 24 + local.hour

    def period(self, interval: int) -> str:
        return self.start(interval).strftime(self.label)


DAY = IntervalUnit("day", "%Y-%m-%d")
HOUR = IntervalUnit("hour", "%Y-%m-%dT%H:00")
MONTH = IntervalUnit("month", "%Y-%m")
UNITS: Mapping[str, IntervalUnit] = {
    "daily_active_users": DAY,
    "monthly_active_users": MONTH,
    "login": HOUR,
    "registration": HOUR,
}


def report_endpoint(name: str) -> Endpoint:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UsageIntelligenceValidationError(
            f"report: unknown name {name!r} (allowed: {allowed(REPORT_NAMES)})"
        ) from None


def check_path_style(style: object) -> str:
    if style not in PATH_STYLES:
        raise UsageIntelligenceValidationError(
            f"extra.path_style: {style!r} is not allowed (allowed: {allowed(PATH_STYLES)})"
        )
    return str(style)


def report_paths(ep: Endpoint, style: str) -> list[tuple[str, str]]:
    """``(style, path)`` to try in order: one for a forced style, both (``style`` first) otherwise.

    ``style`` is ``singular`` or ``plural`` (what a hook has learnt), or ``auto``
    (singular first: what current servers serve). Reports without a plural form
    have one path whatever the style.
    """
    if not ep.aliases:
        return [("singular", ep.path)]
    paths = {"singular": ep.path, "plural": ep.aliases[0]}
    if check_path_style(style) == "auto":
        return list(paths.items())
    other = "plural" if style == "singular" else "singular"
    return [(style, paths[style]), (other, paths[other])]


def epoch_millis(value: object, field: str) -> int:
    """An aware datetime (pendulum's) or epoch milliseconds as the API's ``Long`` instant."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # calendar arithmetic, not subtraction: pendulum's DateTime - datetime is no timedelta
        return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000
    raise UsageIntelligenceValidationError(
        f"{field}: {value!r} is not allowed (allowed: a timezone-aware datetime or epoch milliseconds >= 0)"
    )


def aligned_window(
    name: str, start: dt.datetime, end: dt.datetime, timezone: str
) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` shrunk to whole intervals of the report in the report time zone.

    The server truncates both bounds to the report's interval and reports every
    interval from the start's to the end's, that one included (seed 003: "an instant
    but it is truncated to days/hours/months in the report timezone"). Windows that
    tile the time line therefore tile it once aligned, each interval in exactly one:
    a partial interval at the end belongs to the next window.
    """
    unit = UNITS[name].name
    return floor(start, unit, timezone), floor(end, unit, timezone)


def query_bounds(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """``start``/``end`` to send for the aligned ``[start, end)``: the end's last millisecond.

    Sending ``end`` itself would add the interval that begins there, which the next
    window reports too.
    """
    return epoch_millis(start, "start"), epoch_millis(end, "end") - 1


def window_intervals(name: str, start: dt.datetime, end: dt.datetime, timezone: str) -> range:
    """The interval numbers of an aligned window (``start`` and ``end`` in the report time zone)."""
    unit = UNITS[name]
    first = unit.number(start.astimezone(ZoneInfo(timezone)))
    last = unit.number(step(end, unit.name, -1).astimezone(ZoneInfo(timezone)))
    return range(first, last + 1)


def stray_intervals(name: str, body: Mapping[str, Any], expected: range) -> list[str]:
    """Periods of an answer outside the window asked for (a report time zone mismatch)."""
    ep, unit = BY_NAME[name], UNITS[name]
    return [
        unit.period(int(item["interval"]))
        for item in body.get(ep.result_key or "") or []
        if int(item["interval"]) not in expected
    ]


def report_params(name: str, start: object, end: object, **filters: str | None) -> dict[str, Any]:
    """Query parameters of one report, every problem named at once (totals takes none)."""
    ep = report_endpoint(name)
    if not ep.query:
        return {}
    problems: list[str] = []
    params: dict[str, Any] = {}
    for field, value in (("start", start), ("end", end)):
        try:
            params[field] = epoch_millis(value, field)
        except UsageIntelligenceValidationError as exc:
            problems += exc.problems
    if not problems and params["end"] <= params["start"]:
        problems.append("end: must be later than start")
    try:
        params.update(filter_params(name, **filters))
    except UsageIntelligenceValidationError as exc:
        problems += exc.problems
    if problems:
        raise UsageIntelligenceValidationError(problems)
    return params


def filter_params(name: str, **filters: str | None) -> dict[str, str]:
    """The filters given (``applicationId``, ``loginId``, ``userId``), refused where the report takes none."""
    ep = report_endpoint(name)
    problems: list[str] = []
    params: dict[str, str] = {}
    for key, value in filters.items():
        if value in (None, ""):
            continue
        if key not in ep.query:
            problems.append(f"{key}: not taken by the {name} report (allowed: {allowed(ep.query[2:])})")
        params[key] = str(value)
    if problems:
        raise UsageIntelligenceValidationError(problems)
    return params


def with_periods(name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The report with an ISO ``period`` next to every ``interval`` (the report time zone's wall clock)."""
    ep, unit = BY_NAME[name], UNITS.get(name)
    result = dict(body)
    if unit is None or ep.result_key is None:
        return result
    result[ep.result_key] = [
        {**item, "period": unit.period(int(item["interval"]))} for item in body.get(ep.result_key) or []
    ]
    return result


def flat_rows(name: str, body: Mapping[str, Any], timezone: str) -> list[dict[str, Any]]:
    """One row per interval (per application for totals), ready for NDJSON."""
    if name == "totals":
        totals = body.get("applicationTotals") or {}
        return [{"report": name, "applicationId": app, **counts} for app, counts in sorted(totals.items())]
    ep, unit = BY_NAME[name], UNITS[name]
    return [
        {
            "report": name,
            "interval": item["interval"],
            unit.name: unit.period(int(item["interval"])),
            "timezone": timezone,
            "count": item["count"],
        }
        for item in body.get(ep.result_key or "") or []
    ]


def error_reason(body: object) -> str | None:
    """``{"fieldErrors": {field: [{code, message}]}, "generalErrors": [{code, message}]}`` as one line."""
    if not isinstance(body, dict):
        return None
    parts: list[str] = []
    for field, errors in sorted((body.get("fieldErrors") or {}).items()):
        for error in errors if isinstance(errors, list) else [errors]:
            parts.append(f"{field}: {_message(error)}")
    for error in body.get("generalErrors") or []:
        parts.append(_message(error))
    return "; ".join(parts) or None


def _message(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    return str(error)
