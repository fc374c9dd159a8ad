"""The Fluid Topics analytics API (events, event counts), computed from the portal population.

Every route checks, in this order: ``Authorization: Bearer <fluid_topics_api_key>``
(401), the ``Ft-Calling-App`` header (400: the request is well authenticated but
incomplete), the JSON body (400) and its fields (400), with this module's own
rules, not the client's: the seed's date formats, ``startDate`` in the past year
and not in the future by the *simulated* clock, ``endDate`` later than
``startDate``, filters, paging and sort order. Errors use the emulator's envelope
``{"status", "reason"}``. The simulated "now" is midnight (UTC) of the simulated
``today``: events exist before it, and it is the default ``endDate``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request

from airflow_provider_usageintel.api.fluid_topics import BY_NAME
from airflow_provider_usageintel.emulator.app import ApiError, EmulatorContext, json_object
from airflow_provider_usageintel.emulator.portal import Portal, PortalSession

CALLING_APP_HEADER = "ft-calling-app"
_HOUR_MS = 3_600_000
#: seed 002: "Its format can be YYYY-mm-dd, YYYY-mm-ddTHH:MM or YYYY-mm-ddTHH:MM:SS".
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
#: seed 002: "Accepted values are LatestFirst and OldestFirst" (its example writes latestFirst).
SORT_ORDERS = {"latestfirst": "LatestFirst", "oldestfirst": "OldestFirst"}
GROUP_BY_PERIODS = ("day", "week", "month")
USER_FILTERS = ("id", "realm", "group", "role")
MAX_PER_PAGE = 10_000


# -- request checks (the server's own, by its simulated clock) -------------------------------------


def parse_date(value: object) -> dt.datetime | None:
    if isinstance(value, str):
        for pattern in DATE_FORMATS:
            try:
                return dt.datetime.strptime(value, pattern)
            except ValueError:
                continue
    return None


def oldest_start(today: dt.date) -> dt.datetime:
    """Seed 002, startDate: "It must be in the past year" (from the same day a year ago)."""
    try:
        return dt.datetime(today.year - 1, today.month, today.day)
    except ValueError:  # 29 February
        return dt.datetime(today.year - 1, today.month, 28)


def _dates(body: dict[str, Any], today: dt.date, end_required: bool) -> list[str]:
    problems: list[str] = []
    formats = "YYYY-mm-dd, YYYY-mm-ddTHH:MM or YYYY-mm-ddTHH:MM:SS"
    start = parse_date(body.get("startDate"))
    if "startDate" not in body:
        problems.append("startDate: required")
    elif start is None:
        problems.append(f"startDate: {body['startDate']!r} is not a date ({formats})")
    end = parse_date(body.get("endDate"))
    if body.get("endDate") is None:
        if end_required:
            problems.append("endDate: required")
    elif end is None:
        problems.append(f"endDate: {body['endDate']!r} is not a date ({formats})")
    now = dt.datetime.combine(today, dt.time())
    if start is not None and start < oldest_start(today):
        problems.append(
            f"startDate: {body['startDate']} is more than a year ago "
            f"(it must be in the past year: {oldest_start(today):%Y-%m-%d} or later)"
        )
    elif start is not None and start > now:
        problems.append(f"startDate: {body['startDate']} is in the future (it must be in the past year)")
    if start is not None and end is not None and end <= start:
        problems.append(f"endDate: {body['endDate']} must be later than startDate {body['startDate']}")
    return problems


def _unknown(body: dict[str, Any], known: tuple[str, ...], where: str) -> list[str]:
    return [f"{where}{key}: unknown field" for key in body if key not in known]


def _names(value: object, field: str) -> list[str]:
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return []
    return [f"{field}: expected an array of strings"]


def _filters(filters: object, user_allowed: bool) -> list[str]:
    if filters is None:
        return []
    if not isinstance(filters, dict):
        return ["filters: expected an object"]
    problems = _unknown(filters, ("name", "user") if user_allowed else ("name",), "filters.")
    if "name" in filters:
        problems += _names(filters["name"], "filters.name")
    user = filters.get("user") if user_allowed else None
    if user is not None and not isinstance(user, dict):
        problems.append("filters.user: expected an object")
    elif user:
        problems += _unknown(user, USER_FILTERS, "filters.user.")
        problems += [
            p for key in USER_FILTERS if key in user for p in _names(user[key], f"filters.user.{key}")
        ]
    return problems


def _paging(paging: object) -> list[str]:
    if paging is None:
        return []
    if not isinstance(paging, dict):
        return ["paging: expected an object"]
    problems = _unknown(paging, ("page", "perPage"), "paging.")
    for key, high in (("page", None), ("perPage", MAX_PER_PAGE)):
        value = paging.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (high and value > high):
            problems.append(
                f"paging.{key}: required with paging, a number from 1{f' to {high}' if high else ''}"
            )
    return problems


def events_problems(body: dict[str, Any], today: dt.date) -> list[str]:
    problems = _unknown(body, ("startDate", "endDate", "filters", "paging", "sortOrder"), "")
    problems += _dates(body, today, end_required=False)
    problems += _filters(body.get("filters"), user_allowed=True)
    problems += _paging(body.get("paging"))
    order = body.get("sortOrder")
    if order is not None and (not isinstance(order, str) or order.lower() not in SORT_ORDERS):
        problems.append(f"sortOrder: {order!r} is not one of LatestFirst, OldestFirst")
    return problems


def event_counts_problems(body: dict[str, Any], today: dt.date) -> list[str]:
    problems = _unknown(body, ("startDate", "endDate", "groupByPeriod", "filters"), "")
    problems += _dates(body, today, end_required=True)
    problems += _filters(body.get("filters"), user_allowed=False)
    if body.get("groupByPeriod", "day") not in GROUP_BY_PERIODS:
        problems.append(f"groupByPeriod: {body['groupByPeriod']!r} is not one of day, week, month")
    return problems


def _date(value: object) -> dt.datetime:
    """A date of a request already checked."""
    moment = parse_date(value)
    if moment is None:  # pragma: no cover - checked before
        raise ValueError(f"not a date: {value!r}")
    return moment


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class Events:
    """The events of one request's window and filters, in the requested order."""

    def __init__(self, portal: Portal, body: dict[str, Any], today: dt.date) -> None:
        self.portal = portal
        self.start = _date(body["startDate"])
        now = dt.datetime.combine(today, dt.time())
        self.end = _date(body["endDate"]) if body.get("endDate") else now
        filters = body.get("filters") or {}
        user = filters.get("user") or {}
        self.names = set(filters.get("name") or ())
        self.user_filters = {key: set(user[key]) for key in ("id", "realm", "group", "role") if user.get(key)}
        self.stop_ms = min(_epoch_ms(self.end), _epoch_ms(now))

    def _user_matches(self, session: PortalSession) -> bool:
        user = self.portal.users[session.user]
        values = {
            "id": {user.user_id},
            "realm": set(user.realms),
            "group": set(user.groups),
            "role": set(user.roles),
        }
        return all(values[key] & wanted for key, wanted in self.user_filters.items())

    def positions(self) -> Iterator[tuple[PortalSession, int]]:
        """``(session, event index)`` of every matching event, oldest first."""
        start_ms = _epoch_ms(self.start)
        # a visit lasts under an hour: one that began just before the window may end inside it
        for session in self.portal.sessions_between(start_ms - _HOUR_MS, self.stop_ms):
            if not self._user_matches(session):
                continue
            for index, (moment, name) in enumerate(session.events):
                if start_ms <= moment < self.stop_ms and (
                    not self.names or self.portal.event_names[name] in self.names
                ):
                    yield session, index

    def sorted(self, latest_first: bool) -> list[tuple[PortalSession, int]]:
        found = sorted(
            self.positions(), key=lambda item: (item[0].events[item[1]][0], item[0].session_id, item[1])
        )
        return found[::-1] if latest_first else found


def _check_headers(context: EmulatorContext, request: Request) -> None:
    expected = f"Bearer {context.config.fluid_topics_api_key}"
    if request.headers.get("authorization") != expected:
        raise ApiError(401, "The authorization header was not provided or is invalid")
    if not request.headers.get(CALLING_APP_HEADER, "").strip():
        raise ApiError(400, "Missing header Ft-Calling-App: name the application that calls the API")


async def _checked_body(context: EmulatorContext, request: Request, check: Any) -> dict[str, Any]:
    _check_headers(context, request)
    body = await json_object(request)
    problems = check(body, context.clock.today)
    if problems:
        raise ApiError(400, "; ".join(problems))
    return body


def events_answer(portal: Portal, body: dict[str, Any], today: dt.date) -> dict[str, Any]:
    events = Events(portal, body, today)
    latest_first = SORT_ORDERS[str(body.get("sortOrder") or "OldestFirst").lower()] == "LatestFirst"
    found = events.sorted(latest_first)
    paging = body.get("paging") or {"page": 1, "perPage": max(len(found), 1)}
    first = (paging["page"] - 1) * paging["perPage"]
    page = found[first : first + paging["perPage"]]
    return {
        "startDate": _iso(events.start),
        "endDate": _iso(events.end),
        "paging": {
            "page": paging["page"],
            "perPage": paging["perPage"],
            "totalCount": len(found),
            "lastPage": first + paging["perPage"] >= len(found),
        },
        "results": [portal.event_record(session, index) for session, index in page],
    }


def _period_start(moment: dt.datetime, group_by: str) -> dt.datetime:
    day = dt.datetime.combine(moment.date(), dt.time())
    if group_by == "week":
        return day - dt.timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    return day


def _next_period(start: dt.datetime, group_by: str) -> dt.datetime:
    if group_by == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=7 if group_by == "week" else 1)


def periods(start: dt.datetime, end: dt.datetime, group_by: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Calendar periods (Monday weeks, months) covering ``[start, end)``, clipped to it."""
    found, current = [], _period_start(start, group_by)
    while current < end:
        following = _next_period(current, group_by)
        found.append((max(current, start), min(following, end)))
        current = following
    return found


def counts_answer(portal: Portal, body: dict[str, Any], today: dt.date) -> dict[str, Any]:
    events = Events(portal, body, today)
    group_by = body.get("groupByPeriod") or "day"
    windows = periods(events.start, events.end, group_by)
    counts: dict[str, list[int]] = {name: [0] * len(windows) for name in events.names}
    bounds = [_epoch_ms(stop) for _, stop in windows]
    for session, index in events.positions():
        moment, name = session.events[index]
        slot = next(i for i, bound in enumerate(bounds) if moment < bound)
        counts.setdefault(portal.event_names[name], [0] * len(windows))[slot] += 1
    return {
        "results": [
            {
                "name": name,
                "periods": [
                    {"periodStartDate": _iso(first), "periodEndDate": _iso(last), "eventCount": count}
                    for (first, last), count in zip(windows, counts[name], strict=True)
                ],
            }
            for name in sorted(counts)
        ]
    }


def build_router(context: EmulatorContext) -> APIRouter:
    """Routes of the analytics API; the portal population is built once per emulator."""
    router = APIRouter()
    portal = Portal(context.config)
    events_ep, counts_ep = BY_NAME["events"], BY_NAME["event_counts"]

    @router.post(events_ep.path)
    async def events(request: Request) -> dict[str, Any]:
        body = await _checked_body(context, request, events_problems)
        return events_answer(portal, body, context.clock.today)

    @router.post(counts_ep.path)
    async def event_counts(request: Request) -> dict[str, Any]:
        body = await _checked_body(context, request, event_counts_problems)
        return counts_answer(portal, body, context.clock.today)

    return router
