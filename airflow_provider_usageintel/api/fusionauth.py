"""The FusionAuth (formerly Passport) report API (seed 003), described once as data.

Current servers serve the active-user reports under singular paths
(``daily-active-user``), the seed's Passport-era servers under plural ones
(``daily-active-users``): each endpoint's ``path`` is the singular form and its
``aliases`` hold the plural one; :func:`report_path` picks by path style.
Reports take ``start``/``end`` as epoch milliseconds and count per *interval*:
days, hours or months since the epoch, shifted to the server's report time
zone; :func:`period` turns an interval back into an ISO date, hour or month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_usageintel.api.endpoints import Endpoint
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

_GROUP = "FusionAuth reports"
PATH_STYLES = ("singular", "plural")


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


def report_path(ep: Endpoint, style: str) -> str:
    """The singular path, or the plural (Passport) alias when the style asks and one exists."""
    if check_path_style(style) == "plural" and ep.aliases:
        return ep.aliases[0]
    return ep.path


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
    for key, value in filters.items():
        if value in (None, ""):
            continue
        if key not in ep.query:
            problems.append(f"{key}: not taken by the {name} report (allowed: {allowed(ep.query[2:])})")
        params[key] = value
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
