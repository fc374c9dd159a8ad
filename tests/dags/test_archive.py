"""Archive every file kind into S3 (bucket from the run's conf), as a daily archive DAG would."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

with DAG(
    dag_id="test_archive_files",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"bucket": "unset", "include_open": False},
):
    for kind, frequencies in (
        ("custom_events", ["daily", "monthly"]),
        ("exceptions", ["daily", "monthly"]),
        ("raw_events", ["daily"]),
    ):
        UsageIntelligenceFilesToS3Operator(
            task_id=f"archive_{kind}",
            file_kind=kind,
            frequency=frequencies,
            s3_bucket="{{ params.bucket }}",
            s3_prefix="lake/usageintel",
            manifest_key="lake/usageintel/_manifests/{{ run_id }}/" + kind + ".json",
            max_concurrency=4,
        )
