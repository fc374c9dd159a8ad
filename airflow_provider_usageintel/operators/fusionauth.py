"""Operators for the FusionAuth report API.

The window is the task's ``start``/``end`` (end exclusive), else the run's data
interval, else (runs without one) the last complete day, or month for monthly
active users. It is aligned to whole intervals of the report in the connection's
``report_timezone``, the zone the server truncates to, so consecutive runs report
every interval once. Arguments are checked at the start of ``execute``, every bad
one named at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowSkipException

from airflow_provider_usageintel.api.fusionauth import REPORT_NAMES, UNITS, aligned_window, filter_params
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed
from airflow_provider_usageintel.hooks.fusionauth import FusionAuthHook
from airflow_provider_usageintel.operators.base import ApiWindowBaseOperator, Problems
from airflow_provider_usageintel.utils.periods import Window

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FusionAuthBaseOperator", "FusionAuthReportOperator"]


class FusionAuthBaseOperator(ApiWindowBaseOperator[FusionAuthHook]):
    """Base of the FusionAuth operators: which report, over which window, for whom.

    ``start`` and ``end`` are those of
    :class:`~airflow_provider_usageintel.operators.base.ApiWindowBaseOperator`: naive values
    are wall-clock time in the connection's ``report_timezone``, a run without a data
    interval reports the last complete day (month for ``monthly_active_users``), and
    ``totals`` takes no window.

    :param report: ``daily_active_users``, ``monthly_active_users``, ``login``,
        ``registration`` or ``totals``. (templated)
    :param fusionauth_conn_id: connection of type ``fusionauth``. (templated)
    :param application_id: one application instead of all of them. (templated)
    :param login_id: ``login`` report only: one user's logins, by login id. (templated)
    :param user_id: ``login`` report only: one user's logins, by user id. (templated)
    """

    hook_class = FusionAuthHook
    template_fields: Sequence[str] = (
        "report",
        "fusionauth_conn_id",
        *ApiWindowBaseOperator.template_fields,
        "application_id",
        "login_id",
        "user_id",
    )

    def __init__(
        self,
        *,
        report: str,
        fusionauth_conn_id: str = FusionAuthHook.default_conn_name,
        application_id: str | None = None,
        login_id: str | None = None,
        user_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.fusionauth_conn_id = fusionauth_conn_id
        self.application_id = application_id
        self.login_id = login_id
        self.user_id = user_id

    def check_report(self, context: Context, problems: Problems) -> dict[str, Any]:
        """The hook's arguments for this task; raises every problem recorded in ``problems``.

        Skips the task when the run's own window holds no whole interval of the
        report (say, monthly active users in a daily run that does not close a month).
        """
        if self.report not in REPORT_NAMES:
            problems.add(f"report: unknown name {self.report!r} (allowed: {allowed(REPORT_NAMES)})")
            problems.raise_if_any()
        if self.report == "totals":
            problems.raise_if_any()
            return {}
        filters = {"application_id": self.application_id, "login_id": self.login_id, "user_id": self.user_id}
        names = {"application_id": "applicationId", "login_id": "loginId", "user_id": "userId"}
        problems.check(filter_params, self.report, **{names[k]: v for k, v in filters.items()})
        timezone = problems.check(lambda: self.hook.report_timezone)
        window = self.run_window(
            context,
            problems,
            timezone=timezone or "UTC",
            fallback="month" if self.report == "monthly_active_users" else "day",
        )
        problems.raise_if_any()
        if window is None or timezone is None:  # pragma: no cover - recorded as problems above
            raise AssertionError("window checked above")
        first, last = self._whole_intervals(window, timezone, problems)
        return {"start": first, "end": last, **{k: v for k, v in filters.items() if v}}

    def _whole_intervals(
        self, window: Window, timezone: str, problems: Problems
    ) -> tuple[dt.datetime, dt.datetime]:
        """The window aligned to whole intervals in the report time zone; none: skip or fail."""
        first, last = aligned_window(self.report, window.start, window.end, timezone)
        unit = UNITS[self.report].name
        if last > first:
            self.log.info(
                "FusionAuth %s report: window %s, aligned to whole %ss in %s: [%s, %s)",
                self.report,
                window.describe(),
                unit,
                timezone,
                first.isoformat(),
                last.isoformat(),
            )
            return first, last
        message = (
            f"[{window.start.isoformat()}, {window.end.isoformat()}) holds no whole {unit} in the "
            f"report time zone {timezone}"
        )
        if window.from_run:
            raise AirflowSkipException(f"Nothing to report: the {window.source} {message}")
        problems.add(f"end: {message} (allowed: a window of at least one whole {unit})")
        raise UsageIntelligenceValidationError(problems.items)

    def fetch(self, context: Context) -> dict[str, Any]:
        """The report, each interval with its ISO ``period``."""
        arguments = self.check_report(context, Problems())
        return self.run_report(arguments)

    def run_report(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The report over the checked window (the totals snapshot when there is none)."""
        result = self.hook.report_between(self.report, **arguments) if arguments else self.hook.totals()
        self.log.info(
            "FusionAuth %s report: total %s",
            self.report,
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
