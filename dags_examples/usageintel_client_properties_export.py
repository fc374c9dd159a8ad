"""Export every client's properties, with last week's daily activity, to gzipped NDJSON in S3.

clientPropertyList is paged by client id; the transfer follows the pages and streams the
rows into one multipart upload, so memory stays flat however many clients the product
has. One object per run (``clients/<day>/client_properties.ndjson.gz``) gives the
warehouse a weekly snapshot of the installed base.

Configuration: connections ``usage_intelligence_default`` and ``aws_default``; Variables
``usageintel_bucket`` and ``usageintel_prefix``.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.archive.layout import client_properties_key
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
# The last complete Sunday-to-Saturday week when the run is due (manual runs included).
START = "{{ last_complete_week('sunday').first }}"
STOP = "{{ last_complete_week('sunday').last }}"

with DAG(
    dag_id="usageintel_client_properties_export",
    description="Every client's properties and last week's daily activity into S3 as gzipped NDJSON",
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 1, 7, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=10)},
    user_defined_macros=PERIOD_MACROS,
    tags=["usageintel", "export"],
) as dag:
    UsageIntelligenceClientPropertiesToS3Operator(
        task_id="export_client_properties",
        # No "properties": every plain property. retDailyData adds one row per active day.
        request={
            "retDailyData": {
                "startDate": START,
                "stopDate": STOP,
                "properties": ["sessionCount", "runtimeMinutes"],
            }
        },
        s3_bucket=BUCKET,
        s3_key=client_properties_key(PREFIX, STOP),
        # A full export can take a while on a large product: fail loudly instead of hanging.
        execution_timeout=dt.timedelta(hours=6),
    )
