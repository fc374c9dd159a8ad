"""The Fluid Topics analytics API (events, event counts), computed from the portal population.

Every route checks, in this order: ``Authorization: Bearer <fluid_topics_api_key>``
(401), the ``Ft-Calling-App`` header (400: the request is well authenticated but
incomplete), the JSON body (400) and the client's own request validation,
including "startDate within the past year" against the simulated clock (400).
Errors use the emulator's envelope ``{"status", "reason"}``. Events exist up to
the simulated ``today`` (exclusive): the default ``endDate`` is the current date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request

from airflow_provider_usageintel.api.fluid_topics import (
    BY_NAME,
    event_counts_problems,
    events_problems,
    parse_date,
    sort_order,
)
from airflow_provider_usageintel.emulator.app import ApiError, EmulatorContext, json_object
from airflow_provider_usageintel.emulator.dataset import Portal, PortalSession

CALLING_APP_HEADER = "ft-calling-app"
_HOUR_MS = 3_600_000


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


class Events:
    """The events of one request's window and filters, in the requested order."""

    def __init__(self, portal: Portal, body: dict[str, Any], today: dt.date) -> None:
        self.portal = portal
        self.start = parse_date(body["startDate"], "startDate")
        now = dt.datetime.combine(today, dt.time())
        self.end = parse_date(body["endDate"], "endDate") if body.get("endDate") else now
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
    latest_first = sort_order(body.get("sortOrder") or "OldestFirst") == "LatestFirst"
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
