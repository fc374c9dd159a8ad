"""Hook for the FusionAuth report API (daily/monthly active users, logins, registrations, totals).

FusionAuth authenticates with the raw API key in ``Authorization`` (no
``Bearer``), plus ``X-FusionAuth-TenantId`` when the key spans tenants. It
answers 401 and 402 with an empty body, so the hook words those itself; 400s
carry ``fieldErrors`` / ``generalErrors``, which become the error's reason.

The active-user reports live under singular paths on current servers and under
the seed's plural ones on Passport-era servers. Unless the connection forces a
style, the hook tries the singular path, falls back to the plural one on a 404
and keeps using whichever answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import requests

from airflow_provider_usageintel.api.endpoints import Endpoint
from airflow_provider_usageintel.api.fusionauth import (
    UNITS,
    aligned_window,
    check_path_style,
    error_reason,
    query_bounds,
    report_endpoint,
    report_params,
    report_paths,
    stray_intervals,
    window_intervals,
    with_periods,
)
from airflow_provider_usageintel.connection_fields import FUSIONAUTH
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.base import ApiHookBase
from airflow_provider_usageintel.utils.periods import zone

TENANT_HEADER = "X-FusionAuth-TenantId"
#: the empty-bodied answers, in words a DAG author can act on.
STATUS_REASONS = {
    401: "the API key is missing or not valid (or not allowed for this tenant)",
    402: "the FusionAuth licence has expired or does not include reports: the server refuses every report",
}


class FusionAuthHook(ApiHookBase):
    """Access to the report API of one FusionAuth server.

    :param fusionauth_conn_id: connection of type ``fusionauth`` (host: base URL, password:
        API key, extras ``tenant_id``, ``path_style`` (``auto``, ``singular`` or ``plural``)
        and ``report_timezone``).
    """

    conn_name_attr = "fusionauth_conn_id"
    connection = FUSIONAUTH
    default_conn_name = FUSIONAUTH.default_conn_id
    conn_type = FUSIONAUTH.conn_type
    hook_name = FUSIONAUTH.hook_name
    lineage_scheme = "fusionauth"
    #: self-hosted or cloud: the connection must name the server.
    default_base_url: ClassVar[str] = ""

    def __init__(self, fusionauth_conn_id: str = default_conn_name) -> None:
        super().__init__(fusionauth_conn_id)
        self.fusionauth_conn_id = fusionauth_conn_id
        #: the path style the server answered on, once known (``auto`` connections only).
        self._learnt_path_style: str | None = None

    @property
    def path_style(self) -> str:
        """``auto`` (the default: singular, else plural), ``singular`` or ``plural``: checked."""
        return check_path_style(str(self.extra_or_default("path_style")))

    @property
    def report_timezone(self) -> str:
        """The server's report time zone (a system setting the API does not expose), checked."""
        name = str(self.extra_or_default("report_timezone"))
        zone(name, "extra.report_timezone")
        return name

    def _prepare_session(self, session: requests.Session) -> None:
        session.headers.update({"Authorization": self.settings.password, "Accept": "application/json"})
        tenant = self.extra("tenant_id")
        if tenant:
            session.headers[TENANT_HEADER] = str(tenant)

    def error_for(self, response: requests.Response, label: str) -> UsageIntelligenceAPIError:
        if response.status_code in STATUS_REASONS and not response.content:
            return UsageIntelligenceAPIError(
                response.status_code, label, STATUS_REASONS[response.status_code]
            )
        return super().error_for(response, label)

    def _reason_from_body(self, body: Any) -> str | None:
        return error_reason(body) or super()._reason_from_body(body)

    # -- reports --------------------------------------------------------------------------------

    def report(
        self,
        name: str,
        start: object = None,
        end: object = None,
        *,
        application_id: str | None = None,
        login_id: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """One report as the server returns it, each interval with its ISO ``period`` added.

        ``start`` and ``end`` are aware datetimes (pendulum's) or epoch milliseconds,
        sent as they are: the server truncates both to the report's interval in its
        report time zone and reports the end's interval too. :meth:`report_between`
        takes an end-exclusive window instead. ``totals`` takes no arguments.
        """
        ep = report_endpoint(name)
        params = report_params(
            name, start, end, applicationId=application_id, loginId=login_id, userId=user_id
        )
        self.note_read(ep.name)
        answer = self._get_report(ep, params)
        if not isinstance(answer, dict):
            raise UsageIntelligenceAPIError(200, f"{ep.method} {ep.path}", "expected a JSON object")
        return with_periods(name, answer)

    def _get_report(self, ep: Endpoint, params: dict[str, Any]) -> Any:
        """The report from the first of its paths that exists; a forced path style tries one only."""
        style = self.path_style
        candidates = report_paths(ep, self._learnt_path_style or style)
        if style != "auto":
            candidates = candidates[:1]
        for path_style, path in candidates:
            try:
                answer = self.send_json(ep.method, path, params=params)
            except UsageIntelligenceAPIError as exc:
                if exc.status != 404 or len(candidates) == 1:
                    raise
                self.log.info("%s %s: HTTP 404, so trying the other path style", ep.method, path)
                continue
            if len(candidates) > 1 and self._learnt_path_style != path_style:
                self._learnt_path_style = path_style
                self.log.info("This server serves %s report paths; the hook keeps using them", path_style)
            return answer
        paths = " and ".join(path for _, path in candidates)
        raise UsageIntelligenceAPIError(
            404, f"{ep.method} {ep.path}", f"neither {paths} exists on this server (is the host FusionAuth?)"
        )

    def report_between(
        self,
        name: str,
        start: dt.datetime,
        end: dt.datetime,
        *,
        application_id: str | None = None,
        login_id: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Every whole interval of ``[start, end)`` (end exclusive) in the report time zone.

        Both bounds are aligned down to the start of their interval, so consecutive
        windows report every interval exactly once (see :func:`aligned_window`). The
        answer is checked against the window: intervals outside it mean the server's
        report time zone is not the connection's ``report_timezone``.
        """
        report_endpoint(name)
        if name not in UNITS:
            raise UsageIntelligenceValidationError(
                f"report: {name!r} takes no window (allowed: {', '.join(UNITS)}; call totals())"
            )
        timezone = self.report_timezone
        first, last = aligned_window(name, start, end, timezone)
        if last <= first:
            raise UsageIntelligenceValidationError(
                f"end: [{start.isoformat()}, {end.isoformat()}) holds no whole {UNITS[name].name} of the "
                f"{name} report in its time zone {timezone} (allowed: a window of at least one whole "
                f"{UNITS[name].name})"
            )
        query_start, query_end = query_bounds(first, last)
        result = self.report(
            name, query_start, query_end, application_id=application_id, login_id=login_id, user_id=user_id
        )
        stray = stray_intervals(name, result, window_intervals(name, first, last, timezone))
        if stray:
            raise UsageIntelligenceAPIError(
                200,
                f"GET {report_endpoint(name).path}",
                f"the answer holds {', '.join(stray)}, outside the window [{first.isoformat()}, "
                f"{last.isoformat()}): the server's report time zone is not the connection's "
                f"report_timezone {timezone!r} (set the extra to the zone of FusionAuth's system settings)",
            )
        return result

    def daily_active_users(
        self, start: object, end: object, application_id: str | None = None
    ) -> dict[str, Any]:
        return self.report("daily_active_users", start, end, application_id=application_id)

    def monthly_active_users(
        self, start: object, end: object, application_id: str | None = None
    ) -> dict[str, Any]:
        return self.report("monthly_active_users", start, end, application_id=application_id)

    def logins(
        self,
        start: object,
        end: object,
        application_id: str | None = None,
        login_id: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        return self.report(
            "login", start, end, application_id=application_id, login_id=login_id, user_id=user_id
        )

    def registrations(self, start: object, end: object, application_id: str | None = None) -> dict[str, Any]:
        return self.report("registration", start, end, application_id=application_id)

    def totals(self) -> dict[str, Any]:
        return self.report("totals")

    def test_connection(self) -> tuple[bool, str]:
        """The totals report: cheap, and it proves the URL, the key, the tenant and the licence."""
        try:
            self.totals()
        except UsageIntelligenceAPIError as exc:
            return False, str(exc)
        return True, "Connected: the report API answered the totals report"
