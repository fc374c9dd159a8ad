"""Weekly product reports into S3: growth, engagement, churn and event usage of last week.

Every Sunday the reports of the week that has just ended (Sunday to Saturday) are written
as the JSON the API returns plus flattened NDJSON rows, ready for a warehouse:

* ``date_range``: new, active and lost clients per day, split by product edition;
* ``usage_distribution``: histograms of active days, sessions and runtime;
* ``churn_histogram_{sessions,runtime,days}``: how much lost installations had used the
  product before they were lost;
* ``basic_event_data_table``: every tracked event with its counts.

All reports share one global filter built in Python, so a typo fails at parse time with a
clear message instead of a rejected request at run time.

Configuration: connections ``usage_intelligence_default`` and ``aws_default``; Variables
``usageintel_bucket`` and ``usageintel_prefix``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.api.filters import GlobalFilters, Levels, Segment
from airflow_provider_usageintel.archive.layout import report_key
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
# The last complete Sunday-to-Saturday week when the run is due: the run due on Sunday
# reports on the seven days before it; a manual run, on the last whole week before it.
START = "{{ last_complete_week('sunday').first }}"
STOP = "{{ last_complete_week('sunday').last }}"
#: an installation counts as lost after 30 days without use.
DAYS_UNTIL_LOST = 30

# Activated, unblocked licenses only: trials that never activated and blocked keys would
# skew the figures the product team reads.
FILTERS = GlobalFilters().license_status({"activated": True, "blocked": False}).to_dict()
WINDOW = {"startDate": START, "stopDate": STOP, "globalFilters": FILTERS}
BY_EDITION = Levels().level("prodEdition", Segment.regex(".*", split=True)).to_dict()

REPORTS: dict[str, dict[str, Any]] = {
    "date_range": {
        **WINDOW,
        "dateSplit": "day",
        "clientStatus": ["new", "active", "lost"],
        "daysUntilDeclaredLost": DAYS_UNTIL_LOST,
        "levels": BY_EDITION,
    },
    "usage_distribution": WINDOW,
    **{
        f"churn_histogram_{metric}": {**WINDOW, "daysUntilDeclaredLost": DAYS_UNTIL_LOST}
        for metric in ("sessions", "runtime", "days")
    },
    "basic_event_data_table": WINDOW,
}

with DAG(
    dag_id="usageintel_weekly_reports",
    description="Last week's growth, engagement, churn and event reports into S3 as JSON and NDJSON",
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 1, 7, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    user_defined_macros=PERIOD_MACROS,
    tags=["usageintel", "reports"],
) as dag:
    for report, request in REPORTS.items():
        UsageIntelligenceReportToS3Operator(
            task_id=report,
            report=report,
            request=request,
            s3_bucket=BUCKET,
            s3_key=report_key(PREFIX, "weekly", STOP, report),
            flat_format="ndjson",
        )
