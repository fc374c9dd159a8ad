"""Store each day's FusionAuth reports in S3 and hand the daily active users to XCom.

Per run: logins and registrations per hour and daily active users of its data
interval, aligned to whole days of the server's report time zone (the connection's
``report_timezone``), each as JSON plus NDJSON rows under
``fusionauth/<report>/<start>_<end>.json``, and the totals snapshot. A run triggered
from the UI or the REST API (no logical date) reports the last complete day. Keys
come from the window, so a re-run overwrites its own objects and consecutive runs
neither overlap nor leave a gap. Connections: ``fusionauth_default`` (type
``fusionauth``) and ``aws_default``; the bucket comes from the Variable
``usageintel_bucket`` (default ``usage-archive``).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_usageintel.operators.fusionauth import FusionAuthReportOperator
from airflow_provider_usageintel.transfers.fusionauth_to_s3 import FusionAuthReportToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"

with DAG(
    dag_id="fusionauth_reports",
    # real [start, end) intervals (with Airflow 3's plain cron schedules a run's interval is
    # empty, and it would report the last complete day before it instead)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    tags=["fusionauth", "archive"],
):
    for report in ("login", "registration", "daily_active_users", "totals"):
        FusionAuthReportToS3Operator(
            task_id=f"archive_{report}", report=report, s3_bucket=BUCKET, s3_prefix="fusionauth"
        )
    FusionAuthReportOperator(task_id="daily_active_users", report="daily_active_users")
