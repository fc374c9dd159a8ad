"""The FusionAuth report API, computed from the portal population's logins and registrations.

Checks, in this order: the raw API key in ``Authorization`` and, when
``fusionauth_tenant_id`` is set, ``X-FusionAuth-TenantId`` (401, empty body);
the licence (``fusionauth_license_expired``: 402, empty body); the parameters
(400 with ``{"fieldErrors": {...}, "generalErrors": [...]}``). Paths: singular,
plural (Passport) or both, by ``fusionauth_path_style``; a path not served
answers 404.

Intervals are counted in the report time zone (``fusionauth_timezone``): a
login at 23:30 UTC is the next day's in Europe/Paris. ``start`` and ``end`` are
truncated to the report's interval in that zone, as seed 003 says of both ("an
instant but it is truncated to days in the report timezone"), and every interval
from the start's to the end's, *both included*, is reported whole, zeros
included: ``end`` at midnight adds the day that begins there. Data exists
before the simulated ``today`` only.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from airflow_provider_usageintel.api.fusionauth import BY_NAME, UNITS, IntervalUnit
from airflow_provider_usageintel.emulator.app import EmulatorContext
from airflow_provider_usageintel.emulator.portal import PORTAL_APPLICATIONS, Portal, PortalSession

TENANT_HEADER = "x-fusionauth-tenantid"
_EPOCH = dt.datetime(1970, 1, 1)


class FieldErrors(Exception):
    """A 400 in FusionAuth's error shape."""

    def __init__(self, field_errors: dict[str, list[dict[str, str]]]) -> None:
        super().__init__(str(field_errors))
        self.field_errors = field_errors

    def response(self) -> JSONResponse:
        return JSONResponse({"fieldErrors": self.field_errors, "generalErrors": []}, status_code=400)


def _field_error(field: str, kind: str, message: str) -> dict[str, list[dict[str, str]]]:
    return {field: [{"code": f"[{kind}]{field}", "message": message}]}


class Reports:
    """The five reports of one emulator, over its portal population."""

    def __init__(self, portal: Portal, timezone: str, today: Callable[[], dt.date]) -> None:
        self.portal = portal
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.today = today

    # -- time -------------------------------------------------------------------------------------

    def local(self, epoch_ms: int) -> dt.datetime:
        """The wall-clock time of an instant in the report time zone."""
        moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc).astimezone(self.zone)
        return moment.replace(tzinfo=None)

    def interval(self, unit: IntervalUnit, epoch_ms: int) -> int:
        """Days, hours or months since the epoch, shifted to the report time zone."""
        local = self.local(epoch_ms)
        if unit.name == "month":
            return (local.year - 1970) * 12 + local.month - 1
        seconds = (local - _EPOCH) // dt.timedelta(seconds=1)
        return seconds // (86400 if unit.name == "day" else 3600)

    def interval_start_ms(self, unit: IntervalUnit, number: int) -> int:
        """The first instant of an interval, whose wall-clock start is in the report time zone."""
        if unit.name == "month":
            local = dt.datetime(1970 + number // 12, number % 12 + 1, 1)
        else:
            local = _EPOCH + dt.timedelta(**{f"{unit.name}s": number})
        return int(local.replace(tzinfo=self.zone).timestamp() * 1000)

    def truncated(self, unit: IntervalUnit, start: int, end: int) -> tuple[range, int, int]:
        """The intervals of ``start`` to ``end`` (both truncated, both included) and their ``[ms, ms)``."""
        first, last = self.interval(unit, start), self.interval(unit, end)
        return (
            range(first, last + 1),
            self.interval_start_ms(unit, first),
            self.interval_start_ms(unit, last + 1),
        )

    def _now_ms(self) -> int:
        return int(dt.datetime.combine(self.today(), dt.time(), dt.timezone.utc).timestamp() * 1000)

    # -- data -------------------------------------------------------------------------------------

    def logins(self, start: int, end: int, params: dict[str, str]) -> Iterator[PortalSession]:
        """Logins in ``[start, end)`` (of the application and user asked for)."""
        user = self.portal.by_id.get(params.get("userId", "")) or self.portal.by_login.get(
            params.get("loginId", "")
        )
        wants_user = "userId" in params or "loginId" in params
        for session in self.portal.sessions_between(start, min(end, self._now_ms())):
            if params.get("applicationId") not in (None, session.application):
                continue
            if wants_user and (user is None or session.user != user.index):
                continue
            yield session

    def counts(self, unit: IntervalUnit, intervals: range, keys: Iterator[tuple[int, int]]) -> dict[str, Any]:
        """``{total, items}`` counting distinct ``(interval, key)`` pairs per interval."""
        seen: dict[int, set[int]] = {number: set() for number in intervals}
        for moment, key in keys:
            seen[self.interval(unit, moment)].add(key)
        items = [{"interval": number, "count": len(keys_)} for number, keys_ in sorted(seen.items())]
        return {"total": sum(item["count"] for item in items), "items": items}

    def report(self, name: str, start: int, end: int, params: dict[str, str]) -> dict[str, Any]:
        unit = UNITS[name]
        intervals, start, end = self.truncated(unit, start, end)
        if name == "registration":
            keys = self._registrations(start, end, params.get("applicationId"))
        elif name == "login":
            keys = ((s.login_ms, i) for i, s in enumerate(self.logins(start, end, params)))
        else:  # active users: distinct users per interval
            keys = ((s.login_ms, s.user) for s in self.logins(start, end, params))
        counted = self.counts(unit, intervals, keys)
        return {"total": counted["total"], BY_NAME[name].result_key or "": counted["items"]}

    def _registrations(self, start: int, end: int, application: str | None) -> Iterator[tuple[int, int]]:
        stop = min(end, self._now_ms())
        for user in self.portal.users:
            if start <= user.registered_ms < stop and application in (None, *user.applications):
                yield user.registered_ms, user.index

    def totals(self) -> dict[str, Any]:
        now = self._now_ms()
        registered = [user for user in self.portal.users if user.registered_ms < now]
        first = min((user.registered_ms for user in registered), default=now)
        logins: dict[str, int] = {}
        for session in self.portal.sessions_between(first, now):
            logins[session.application] = logins.get(session.application, 0) + 1
        applications: dict[str, Any] = {}
        for app, _ in PORTAL_APPLICATIONS:
            current = sum(1 for user in registered if app in user.applications)
            applications[app] = {
                "logins": logins.get(app, 0),
                "registrations": current,
                "totalRegistrations": current + current // 10,  # a tenth were deleted since
            }
        return {
            "applicationTotals": applications,
            "globalRegistrations": len(registered),
            "totalGlobalRegistrations": len(registered) + len(registered) // 10,
        }


def _instant(query: dict[str, str], field: str) -> int:
    raw = query.get(field)
    if raw is None or raw == "":
        raise FieldErrors(_field_error(field, "missing", f"You must specify the [{field}] parameter."))
    try:
        value = int(raw)
    except ValueError:
        raise FieldErrors(
            _field_error(field, "invalid", f"The [{field}] parameter must be a Long.")
        ) from None
    return value


def window(query: dict[str, str]) -> tuple[int, int]:
    errors: dict[str, list[dict[str, str]]] = {}
    values: dict[str, int] = {}
    for field in ("start", "end"):
        try:
            values[field] = _instant(query, field)
        except FieldErrors as exc:
            errors.update(exc.field_errors)
    if not errors and values["end"] <= values["start"]:
        errors = _field_error("end", "invalid", "The [end] parameter must be after [start].")
    if errors:
        raise FieldErrors(errors)
    return values["start"], values["end"]


def _authorised(context: EmulatorContext, request: Request) -> bool:
    config = context.config
    if request.headers.get("authorization") != config.fusionauth_api_key:
        return False
    return (
        config.fusionauth_tenant_id is None
        or request.headers.get(TENANT_HEADER) == config.fusionauth_tenant_id
    )


def served_paths(name: str, style: str) -> list[str]:
    """The paths of one report this emulator answers on, by path style."""
    ep = BY_NAME[name]
    if not ep.aliases or style == "both":
        return [ep.path, *ep.aliases]
    return [ep.path] if style == "singular" else list(ep.aliases)


def build_router(context: EmulatorContext) -> APIRouter:
    """Routes of the report API; the portal population is built once per emulator.

    Every path of every report is routed; one the configured path style does not serve
    answers 404 with an empty body (seed 003: "The response will be empty"). The style
    is read per request, so a test can upgrade a Passport-era server in place.
    """
    router = APIRouter()
    reports = Reports(Portal(context.config), context.config.fusionauth_timezone, lambda: context.clock.today)

    def answer(name: str, path: str, request: Request) -> Response:
        if path not in served_paths(name, context.config.fusionauth_path_style):
            return Response(status_code=404)
        if not _authorised(context, request):
            return Response(status_code=401)
        if context.config.fusionauth_license_expired:
            return Response(status_code=402)
        if name == "totals":
            return JSONResponse(reports.totals())
        query = dict(request.query_params)
        try:
            start, end = window(query)
        except FieldErrors as exc:
            return exc.response()
        params = {k: v for k, v in query.items() if k in BY_NAME[name].query[2:] and v}
        return JSONResponse(reports.report(name, start, end, params))

    for name in BY_NAME:
        for path in served_paths(name, "both"):
            router.add_api_route(path, _route(answer, name, path), methods=["GET"])
    return router


def _route(answer: Callable[[str, str, Request], Response], name: str, path: str) -> Callable[[Request], Any]:
    async def route(request: Request) -> Response:
        return answer(name, path, request)

    route.__name__ = "fusionauth_" + path.rsplit("/", 1)[-1].replace("-", "_")
    return route
