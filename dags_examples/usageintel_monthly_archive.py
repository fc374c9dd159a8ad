"""Archive last month's custom-event and exception files once the month has closed.

The API publishes a monthly file only after the month ends, so the run due on the 1st
waits (deferred) for the month that has just closed and copies it to S3 in one task per
file kind. Each transfer writes its own manifest next to the files; re-runs skip what is
already archived. Raw events have no monthly files.

Configuration: connections ``usage_intelligence_default`` and ``aws_default``; Variables
``usageintel_bucket`` and ``usageintel_prefix``; param ``month`` (``YYYY-MM``) to archive
another month in a manual run.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_usageintel.archive.layout import manifest_key
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
# The month that has just closed when the run is due: the run due on 1 March archives
# February; a manual run without a logical date, the month before the one it runs in.
MONTH = "{{ params.month or last_complete_month() }}"
FILE_KINDS = ("custom_events", "exceptions")

with DAG(
    dag_id="usageintel_monthly_archive",
    description="Last month's custom-event and exception files into S3, once the month has closed",
    schedule="@monthly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=15)},
    params={"month": Param("", type="string", description="YYYY-MM; empty: the month that just closed")},
    user_defined_macros=PERIOD_MACROS,
    tags=["usageintel", "archive"],
) as dag:
    for kind in FILE_KINDS:
        wait = UsageIntelligenceFileSensor(
            task_id=f"wait_{kind}",
            file_kind=kind,
            frequency="monthly",
            file_date=MONTH + "-01",  # any day of the month names the month
            deferrable=True,
            poke_interval=60 * 60,
            timeout=5 * 24 * 3600,
        )
        UsageIntelligenceFilesToS3Operator(
            task_id=f"archive_{kind}",
            file_kind=kind,
            files=wait.output,
            s3_bucket=BUCKET,
            s3_prefix=PREFIX,
            manifest_key=manifest_key(PREFIX, "monthly", MONTH, kind),
        )
