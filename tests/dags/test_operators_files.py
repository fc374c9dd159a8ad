"""List three days of custom-event files, then download and extract each in its own mapped task."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_provider_usageintel.operators.usage_intelligence import (
    UsageIntelligenceDownloadFileOperator,
    UsageIntelligenceListFilesOperator,
)

with DAG(
    dag_id="test_operators_files",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
):
    listed = UsageIntelligenceListFilesOperator(
        task_id="list_files",
        file_kind="custom_events",
        frequency="daily",
        since="{{ dag_run.conf['since'] }}",
        until="{{ dag_run.conf['until'] }}",
    )
    UsageIntelligenceDownloadFileOperator.partial(
        task_id="download",
        file_kind="custom_events",
        local_dir="{{ dag_run.conf['local_dir'] }}",
        extract=True,
    ).expand(files=listed.output)
