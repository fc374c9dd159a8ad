"""Operators for the Fluid Topics analytics API.

Time windows default to the run's data interval (start inclusive, end
exclusive, as the API reads them), so scheduled runs cover every event once;
runs without one (triggered without a logical date, or on Airflow 3's default
cron timetable) cover the last complete UTC day before they are due. Arguments
are checked at the start of ``execute`` and every bad one is named in one error
before any call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.fluid_topics import GROUP_BY_PERIODS, utc_now, window_problems
from airflow_provider_usageintel.exceptions import allowed
from airflow_provider_usageintel.hooks.fluid_topics import FluidTopicsHook
from airflow_provider_usageintel.operators.base import ApiWindowBaseOperator, Problems

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FluidTopicsBaseOperator", "FluidTopicsEventCountsOperator"]

Names = Sequence[str] | None


class FluidTopicsBaseOperator(ApiWindowBaseOperator[FluidTopicsHook]):
    """Base of the Fluid Topics operators.

    ``start`` and ``end`` are those of
    :class:`~airflow_provider_usageintel.operators.base.ApiWindowBaseOperator`: naive values
    are UTC, a run without a data interval reads the last complete UTC day before it, and
    the window must lie in the past year and not in the future (seed 002).

    :param fluid_topics_conn_id: connection of type ``fluid_topics``. (templated)
    :param names: event names to keep, e.g. ``["khub.search"]`` (default: all). (templated)
    """

    hook_class = FluidTopicsHook
    template_fields: Sequence[str] = (
        "fluid_topics_conn_id",
        *ApiWindowBaseOperator.template_fields,
        "names",
    )

    def __init__(
        self,
        *,
        fluid_topics_conn_id: str = FluidTopicsHook.default_conn_name,
        names: Names = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fluid_topics_conn_id = fluid_topics_conn_id
        self.names = names

    def window(self, context: Context, problems: Problems) -> tuple[dt.datetime, dt.datetime]:
        """The window; raises every problem recorded in ``problems`` so far."""
        window = self.run_window(context, problems, timezone="UTC", fallback="day")
        if window is not None:
            names = {"startDate": "start", "endDate": "end"}
            problems.extend(window_problems(window.start, window.end, utc_now(), names))
        problems.raise_if_any()
        if window is None:  # pragma: no cover - recorded as a problem above
            raise AssertionError("window checked above")
        self.log.info("Window %s", window.describe())
        return window.start, window.end


class FluidTopicsEventCountsOperator(FluidTopicsBaseOperator):
    """Count the events of a window per name and day, week or month; the counts go to XCom.

    :param group_by_period: ``day`` (default), ``week`` or ``month``.

    Also takes the parameters of :class:`FluidTopicsBaseOperator`.

    Returns (pushed to XCom): ``[{"name", "periods": [{"periodStartDate", "periodEndDate", "eventCount"}]}]``.
    """

    template_fields: Sequence[str] = (*FluidTopicsBaseOperator.template_fields, "group_by_period")

    def __init__(self, *, group_by_period: str = "day", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group_by_period = group_by_period

    def execute(self, context: Context) -> list[dict[str, Any]]:
        problems = Problems()
        if self.group_by_period not in GROUP_BY_PERIODS:
            problems.add(
                f"group_by_period: {self.group_by_period!r} is not allowed "
                f"(allowed: {allowed(GROUP_BY_PERIODS)})"
            )
        start, end = self.window(context, problems)
        counts = self.hook.event_counts(start, end, group_by_period=self.group_by_period, names=self.names)
        total = sum(period["eventCount"] for item in counts for period in item.get("periods", []))
        self.log.info("%d events of %d names from %s to %s", total, len(counts), start, end)
        return counts
