"""Operators for the FusionAuth report API.

Windows default to the run's data interval and are sent as epoch milliseconds;
the server truncates them to days, hours or months in its report time zone.
Arguments are checked at the start of ``execute``, every bad one named at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.fusionauth import REPORT_NAMES, report_params
from airflow_provider_usageintel.exceptions import allowed
from airflow_provider_usageintel.hooks.fusionauth import FusionAuthHook
from airflow_provider_usageintel.operators.base import ApiBaseOperator, Problems, time_window

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FusionAuthBaseOperator", "FusionAuthReportOperator"]


class FusionAuthBaseOperator(ApiBaseOperator[FusionAuthHook]):
    """Base of the FusionAuth operators: which report, over which window, for whom.

    :param report: ``daily_active_users``, ``monthly_active_users``, ``login``,
        ``registration`` or ``totals``. (templated)
    :param fusionauth_conn_id: connection of type ``fusionauth``. (templated)
    :param start: start of the window, an aware datetime or ISO string
        (default: the data interval's start; ``totals`` takes no window). (templated)
    :param end: end of the window (default: the data interval's end). (templated)
    :param application_id: one application instead of all of them. (templated)
    :param login_id: ``login`` report only: one user's logins, by login id. (templated)
    :param user_id: ``login`` report only: one user's logins, by user id. (templated)
    """

    hook_class = FusionAuthHook
    template_fields: Sequence[str] = (
        "report",
        "fusionauth_conn_id",
        "start",
        "end",
        "application_id",
        "login_id",
        "user_id",
    )

    def __init__(
        self,
        *,
        report: str,
        fusionauth_conn_id: str = FusionAuthHook.default_conn_name,
        start: dt.datetime | str | None = None,
        end: dt.datetime | str | None = None,
        application_id: str | None = None,
        login_id: str | None = None,
        user_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.fusionauth_conn_id = fusionauth_conn_id
        self.start = start
        self.end = end
        self.application_id = application_id
        self.login_id = login_id
        self.user_id = user_id

    def check_report(self, context: Context, problems: Problems) -> dict[str, Any]:
        """The hook's arguments for this task; raises every problem recorded in ``problems``."""
        if self.report not in REPORT_NAMES:
            problems.add(f"report: unknown name {self.report!r} (allowed: {allowed(REPORT_NAMES)})")
            problems.raise_if_any()
        if self.report == "totals":
            problems.raise_if_any()
            return {}
        start, end = time_window(context, self.start, self.end, problems)
        filters = {"application_id": self.application_id, "login_id": self.login_id, "user_id": self.user_id}
        names = {"application_id": "applicationId", "login_id": "loginId", "user_id": "userId"}
        problems.check(report_params, self.report, start, end, **{names[k]: v for k, v in filters.items()})
        problems.raise_if_any()
        return {"start": start, "end": end, **{k: v for k, v in filters.items() if v}}

    def fetch(self, context: Context) -> dict[str, Any]:
        """The report, each interval with its ISO ``period``."""
        arguments = self.check_report(context, Problems())
        result = self.hook.report(self.report, **arguments)
        self.log.info(
            "FusionAuth %s report%s: total %s",
            self.report,
            f" from {arguments['start']} to {arguments['end']}" if arguments else "",
            result.get("total", result.get("totalGlobalRegistrations")),
        )
        return result


class FusionAuthReportOperator(FusionAuthBaseOperator):
    """Run one report and return it (pushed to XCom), each interval with its ISO ``period``.

    Takes the parameters of :class:`FusionAuthBaseOperator`.

    Returns (pushed to XCom): the report as the server sends it, e.g. ``{"total": 30, "dailyActiveUsers":
    [{"interval": 19797, "count": 10, "period": "2024-03-14"}]}``.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        return self.fetch(context)
