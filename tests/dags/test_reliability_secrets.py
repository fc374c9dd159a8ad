"""Every transfer of the provider in one DAG, for the secrets checks of the reliability suite."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator

with DAG(
    dag_id="test_reliability_secrets",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"bucket": "unset"},
):
    UsageIntelligenceFilesToS3Operator(
        task_id="files",
        file_kind="custom_events",
        since="2024-03-12",
        until="2024-03-14",
        s3_bucket="{{ params.bucket }}",
        s3_prefix="lake",
        max_concurrency=2,
        retries=0,
    )
    UsageIntelligenceReportToS3Operator(
        task_id="report",
        report="date_range",
        request={"startDate": "2024-02-01", "stopDate": "2024-02-29", "dateSplit": "week"},
        s3_bucket="{{ params.bucket }}",
        s3_key="reports/{{ run_id }}/date_range.json",
        retries=0,
    )
    UsageIntelligenceClientPropertiesToS3Operator(
        task_id="clients",
        request={"properties": ["prodVersion"]},
        s3_bucket="{{ params.bucket }}",
        s3_key="clients/{{ run_id }}/clients.ndjson.gz",
        retries=0,
    )
