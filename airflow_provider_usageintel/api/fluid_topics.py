"""The Fluid Topics analytics API (seed 002), described once as data, with the client's request checks.

The hook builds its calls from :data:`ENDPOINTS` and checks bodies with
:func:`events_problems` / :func:`event_counts_problems` before sending them, so
a bad request fails before any call, naming every bad field. The date rules
(``startDate`` in the past year and not in the future, ``endDate`` later than
``startDate``) are judged by the worker's clock, passed in as ``now``. The
emulator checks requests with its own code and its simulated clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import TypedDict, Unpack

from airflow_provider_usageintel.api.endpoints import Endpoint, Paging
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

_GROUP = "Fluid Topics analytics"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "events",
        "POST",
        "/analytics/api/v1/events",
        _GROUP,
        "User events of a period, filtered by name and user, paged.",
        result_key="results",
        paging=Paging.PAGE,
    ),
    Endpoint(
        "event_counts",
        "POST",
        "/analytics/api/v1/traffic/event-counts",
        _GROUP,
        "Number of events per name and day, week or month.",
        result_key="results",
    ),
)
BY_NAME: Mapping[str, Endpoint] = {e.name: e for e in ENDPOINTS}

#: the spellings the facts document; the seed's ``latestFirst`` is accepted case-insensitively.
SORT_ORDERS = ("LatestFirst", "OldestFirst")
GROUP_BY_PERIODS = ("day", "week", "month")
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
#: the filters of the events call: ``name`` and, under ``user``, these lists.
USER_FILTERS = ("id", "realm", "group", "role")
DEFAULT_PER_PAGE = 1000
MAX_PER_PAGE = 10_000

DateArg = dt.datetime | dt.date | str


# -- dates ----------------------------------------------------------------------------------------


def parse_date(value: object, field: str) -> dt.datetime:
    """A request date (``YYYY-mm-dd``, ``...THH:MM`` or ``...THH:MM:SS``) as a naive UTC datetime."""
    if isinstance(value, str):
        for pattern in DATE_FORMATS:
            try:
                return dt.datetime.strptime(value, pattern)
            except ValueError:
                continue
    raise UsageIntelligenceValidationError(
        f"{field}: {value!r} is not a date (allowed: YYYY-mm-dd, YYYY-mm-ddTHH:MM, YYYY-mm-ddTHH:MM:SS)"
    )


def format_date(value: DateArg, field: str) -> str:
    """A date for the request: aware datetimes (pendulum's) in UTC, strings as they are (checked later)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise UsageIntelligenceValidationError(f"{field}: expected a date, datetime or string, got {value!r}")


def one_year_before(today: dt.date) -> dt.datetime:
    """The oldest start allowed ("It must be in the past year"); 29 February falls back to the 28th."""
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    return dt.datetime(today.year - 1, today.month, day)


def utc_now() -> dt.datetime:
    """The worker's clock as the API's dates read: naive UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def sort_order(value: object) -> str:
    """The documented spelling of a sort order given in any case (the seed writes ``latestFirst``)."""
    for order in SORT_ORDERS:
        if isinstance(value, str) and value.lower() == order.lower():
            return order
    raise UsageIntelligenceValidationError(
        f"sortOrder: {value!r} is not allowed (allowed: {allowed(SORT_ORDERS)}, any case)"
    )


# -- request checks -------------------------------------------------------------------------------


def _window_problems(body: Mapping[str, Any], now: dt.datetime, end_required: bool) -> list[str]:
    problems: list[str] = []
    start = end = None
    if "startDate" not in body:
        problems.append("startDate: required")
    else:
        try:
            start = parse_date(body["startDate"], "startDate")
        except UsageIntelligenceValidationError as exc:
            problems.extend(exc.problems)
    if body.get("endDate") is not None:
        try:
            end = parse_date(body["endDate"], "endDate")
        except UsageIntelligenceValidationError as exc:
            problems.extend(exc.problems)
    elif end_required:
        problems.append("endDate: required")
    # seed 002, startDate: "It must be in the past year."
    oldest = one_year_before(now.date())
    allowed_starts = f"from {oldest:%Y-%m-%d} to now, {now:%Y-%m-%dT%H:%M:%S} UTC"
    if start is not None and start < oldest:
        problems.append(
            f"startDate: {body['startDate']!r} is more than a year ago (allowed: {allowed_starts})"
        )
    elif start is not None and start > now:
        problems.append(f"startDate: {body['startDate']!r} is in the future (allowed: {allowed_starts})")
    # seed 002, endDate: "must be later than the start date"
    if start is not None and end is not None and end <= start:
        later = f"later than startDate {body['startDate']!r}"
        problems.append(f"endDate: {body['endDate']!r} is not allowed (allowed: {later})")
    return problems


def _string_list(value: object, field: str) -> list[str]:
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return []
    return [f"{field}: expected a list of non-empty strings, got {value!r}"]


def _unknown_keys(body: Mapping[str, Any], known: Sequence[str], where: str) -> list[str]:
    return [f"{where}{key}: unknown field (allowed: {allowed(known)})" for key in body if key not in known]


def _filter_problems(filters: object, user_allowed: bool) -> list[str]:
    if filters is None:
        return []
    if not isinstance(filters, dict):
        return [f"filters: expected an object, got {filters!r}"]
    known = ("name", "user") if user_allowed else ("name",)
    problems = _unknown_keys(filters, known, "filters.")
    if "name" in filters:
        problems += _string_list(filters["name"], "filters.name")
    user = filters.get("user") if user_allowed else None
    if user is not None and not isinstance(user, dict):
        problems.append(f"filters.user: expected an object, got {user!r}")
    elif user:
        problems += _unknown_keys(user, USER_FILTERS, "filters.user.")
        for key in USER_FILTERS:
            if key in user:
                problems += _string_list(user[key], f"filters.user.{key}")
    return problems


def _paging_problems(paging: object) -> list[str]:
    if paging is None:
        return []
    if not isinstance(paging, dict):
        return [f"paging: expected an object, got {paging!r}"]
    problems = _unknown_keys(paging, ("page", "perPage"), "paging.")
    for key, high in (("page", None), ("perPage", MAX_PER_PAGE)):
        value = paging.get(key)
        too_high = high is not None and isinstance(value, int) and value > high
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or too_high:
            bounds = f"1 to {high}" if high else "integers >= 1"
            problems.append(
                f"paging.{key}: {value!r} is not allowed (allowed: {bounds}; required with paging)"
            )
    return problems


def events_problems(body: object, now: dt.datetime) -> list[str]:
    """Every problem of an events request body (empty when it is valid); ``now``: naive UTC."""
    if not isinstance(body, dict):
        return [f"body: expected an object, got {type(body).__name__}"]
    known = ("startDate", "endDate", "filters", "paging", "sortOrder")
    problems = _unknown_keys(body, known, "")
    problems += _window_problems(body, now, end_required=False)
    problems += _filter_problems(body.get("filters"), user_allowed=True)
    problems += _paging_problems(body.get("paging"))
    if body.get("sortOrder") is not None:
        try:
            sort_order(body["sortOrder"])
        except UsageIntelligenceValidationError as exc:
            problems += exc.problems
    return problems


def event_counts_problems(body: object, now: dt.datetime) -> list[str]:
    """Every problem of an event-counts request body (empty when it is valid); ``now``: naive UTC."""
    if not isinstance(body, dict):
        return [f"body: expected an object, got {type(body).__name__}"]
    problems = _unknown_keys(body, ("startDate", "endDate", "groupByPeriod", "filters"), "")
    problems += _window_problems(body, now, end_required=True)
    problems += _filter_problems(body.get("filters"), user_allowed=False)
    if body.get("groupByPeriod", "day") not in GROUP_BY_PERIODS:
        problems.append(
            f"groupByPeriod: {body['groupByPeriod']!r} is not allowed (allowed: {allowed(GROUP_BY_PERIODS)})"
        )
    return problems


def check(problems: list[str]) -> None:
    if problems:
        raise UsageIntelligenceValidationError(problems)


# -- request builders -----------------------------------------------------------------------------


def _window(start: DateArg, end: DateArg | None) -> dict[str, Any]:
    window = {"startDate": format_date(start, "start")}
    if end is not None:
        window["endDate"] = format_date(end, "end")
    return window


def window_problems(
    start: DateArg, end: DateArg | None, now: dt.datetime, names: Mapping[str, str]
) -> list[str]:
    """The date rules of a window given as the caller's arguments, fields renamed by ``names``."""
    problems = _window_problems(_window(start, end), now, end_required=False)
    renamed = []
    for problem in problems:
        field, sep, rest = problem.partition(":")
        renamed.append(f"{names.get(field, field)}{sep}{rest}")
    return renamed


class EventFilters(TypedDict, total=False):
    """The events call's filters, as keyword arguments: event names and, per user, lists to match."""

    names: Sequence[str] | None
    user_ids: Sequence[str] | None
    realms: Sequence[str] | None
    groups: Sequence[str] | None
    roles: Sequence[str] | None


def events_request(
    start: DateArg,
    end: DateArg | None = None,
    *,
    sort: str = "OldestFirst",
    per_page: int = DEFAULT_PER_PAGE,
    **filters: Unpack[EventFilters],
) -> dict[str, Any]:
    """The body of the first page; only the filters given are sent."""
    given = (filters.get("user_ids"), filters.get("realms"), filters.get("groups"), filters.get("roles"))
    user = {key: list(values) for key, values in zip(USER_FILTERS, given, strict=True) if values}
    names = filters.get("names")
    sent: dict[str, Any] = {"name": list(names)} if names else {}
    if user:
        sent["user"] = user
    body = {**_window(start, end), "paging": {"page": 1, "perPage": per_page}, "sortOrder": sort_order(sort)}
    if sent:
        body["filters"] = sent
    return body


def event_counts_request(
    start: DateArg, end: DateArg, *, group_by_period: str = "day", names: Sequence[str] | None = None
) -> dict[str, Any]:
    body = {**_window(start, end), "groupByPeriod": group_by_period}
    if names:
        body["filters"] = {"name": list(names)}
    return body
