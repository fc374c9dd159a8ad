"""Hook for the FusionAuth report API (daily/monthly active users, logins, registrations, totals).

FusionAuth authenticates with the raw API key in ``Authorization`` (no
``Bearer``), plus ``X-FusionAuth-TenantId`` when the key spans tenants. It
answers 401 and 402 with an empty body, so the hook words those itself; 400s
carry ``fieldErrors`` / ``generalErrors``, which become the error's reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from airflow_provider_usageintel.api.fusionauth import (
    error_reason,
    report_endpoint,
    report_params,
    report_path,
    with_periods,
)
from airflow_provider_usageintel.connection_fields import FUSIONAUTH
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError
from airflow_provider_usageintel.hooks.base import ApiHookBase

TENANT_HEADER = "X-FusionAuth-TenantId"
#: the empty-bodied answers, in words a DAG author can act on.
STATUS_REASONS = {
    401: "the API key is missing or not valid (or not allowed for this tenant)",
    402: "the FusionAuth licence has expired or does not include reports: the server refuses every report",
}


class FusionAuthHook(ApiHookBase):
    """Access to the report API of one FusionAuth server.

    :param fusionauth_conn_id: connection of type ``fusionauth`` (host: base URL, password:
        API key, extras ``tenant_id``, ``path_style`` and ``report_timezone``).
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

    @property
    def path_style(self) -> str:
        """``singular`` (current servers, the default) or ``plural`` (Passport-era servers)."""
        return str(self.extra_or_default("path_style"))

    @property
    def report_timezone(self) -> str:
        """The server's report time zone (a system setting the API does not expose)."""
        return str(self.extra_or_default("report_timezone"))

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

        ``start`` and ``end`` are aware datetimes (pendulum's) or epoch milliseconds;
        the server truncates them to the report's interval in its report time zone.
        ``totals`` takes no arguments.
        """
        ep = report_endpoint(name)
        params = report_params(
            name, start, end, applicationId=application_id, loginId=login_id, userId=user_id
        )
        self.note_read(ep.name)
        answer = self.send_json(ep.method, report_path(ep, self.path_style), params=params)
        if not isinstance(answer, dict):
            raise UsageIntelligenceAPIError(200, f"{ep.method} {ep.path}", "expected a JSON object")
        return with_periods(name, answer)

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
