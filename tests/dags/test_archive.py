"""Archive every file kind into S3 (bucket from the run's conf), as a daily archive DAG would."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.archive import layout
from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceListFilesOperator
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
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
            manifest_key=layout.manifest_key("lake/usageintel", "{{ run_id }}", kind),
            max_concurrency=4,
        )


with DAG(
    dag_id="test_archive_mapped",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"bucket": "unset", "since": "2024-03-10", "until": "2024-03-14"},
):
    listed = UsageIntelligenceListFilesOperator(
        task_id="list_files",
        file_kind="exceptions",
        since="{{ params.since }}",
        until="{{ params.until }}",
    )
    UsageIntelligenceFilesToS3Operator.partial(
        task_id="archive_file",
        file_kind="exceptions",
        s3_bucket="{{ params.bucket }}",
        s3_prefix="mapped",
    ).expand(files=listed.output)


for mode in ("poke", "deferrable"):
    with DAG(
        dag_id=f"test_daily_archive_{mode}",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        params={"bucket": "unset", "day": "2024-03-15"},
    ):
        for kind in ("custom_events", "exceptions", "raw_events"):
            wait = UsageIntelligenceFileSensor(
                task_id=f"wait_{kind}",
                file_kind=kind,
                file_date="{{ params.day }}",
                deferrable=mode == "deferrable",
                poke_interval=0.05,
                timeout=60,
            )
            UsageIntelligenceFilesToS3Operator(
                task_id=f"archive_{kind}",
                file_kind=kind,
                files=wait.output,
                s3_bucket="{{ params.bucket }}",
                s3_prefix="daily",
            )
