"""Template macros for "the period a run covers", over :mod:`airflow_provider_usageintel.utils.periods`.

Give a DAG ``user_defined_macros=PERIOD_MACROS`` and its templates can say::

    {{ last_complete_day() }}                 -> 2024-03-14
    {{ last_complete_week('sunday').first }}  -> 2024-03-03   (.last -> 2024-03-09)
    {{ last_complete_month() }}               -> 2024-02
    {{ run_time() | ds }}                     -> 2024-03-15   (the moment the run is due)

They work in every run: scheduled ones (dated by ``data_interval_end``) and runs
triggered from the UI or the REST API without a logical date (dated by
``dag_run.run_after``), where ``{{ ds }}`` and ``{{ data_interval_end }}`` are
undefined. The macros take the template's own context, so they need no arguments
beyond the period's options.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from airflow_provider_usageintel.utils import periods


@pass_context
def last_complete_day(context: Context, timezone: str = "UTC") -> str:
    return periods.last_complete_day(context, timezone)


@pass_context
def last_complete_week(
    context: Context, week_start: str = "monday", timezone: str = "UTC"
) -> periods.DateRange:
    return periods.last_complete_week(context, week_start, timezone)


@pass_context
def last_complete_month(context: Context, timezone: str = "UTC") -> str:
    return periods.last_complete_month(context, timezone)


@pass_context
def run_time(context: Context) -> dt.datetime:
    return periods.reference_time(context)


PERIOD_MACROS: dict[str, Callable[..., Any]] = {
    "last_complete_day": last_complete_day,
    "last_complete_week": last_complete_week,
    "last_complete_month": last_complete_month,
    "run_time": run_time,
}
