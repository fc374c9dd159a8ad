"""One large-file transfer, for the reliability suite to stop with SIGTERM through Airflow's task runner."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

with DAG(
    dag_id="test_reliability_sigterm",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"bucket": "unset"},
):
    UsageIntelligenceFilesToS3Operator(
        task_id="files",
        file_kind="custom_events",
        since="2024-03-13",
        until="2024-03-14",
        s3_bucket="{{ params.bucket }}",
        s3_prefix="lake",
        part_size=MIN_PART_SIZE,
        max_concurrency=2,
        retries=0,
        asset_alias=None,
    )
