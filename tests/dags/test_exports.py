"""A report and the client property list written to S3 (bucket from the run's conf)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.api.filters import GlobalFilters
from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator

with DAG(
    dag_id="test_exports",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"bucket": "unset"},
):
    UsageIntelligenceReportToS3Operator(
        task_id="date_range",
        report="date_range",
        request={
            "startDate": "2024-02-01",
            "stopDate": "2024-02-29",
            "dateSplit": "week",
            "clientStatus": ["new", "active", "lost"],
            "daysUntilDeclaredLost": 30,
            "globalFilters": GlobalFilters().number_range("ram", min=1024),
        },
        s3_bucket="{{ params.bucket }}",
        s3_key="reports/{{ run_id }}/date_range.json",
        flat_format="csv",
    )
    UsageIntelligenceClientPropertiesToS3Operator(
        task_id="client_properties",
        request={"properties": ["prodVersion", "prodEdition", "ram", "geography.country"]},
        s3_bucket="{{ params.bucket }}",
        s3_key="clients/{{ run_id }}/clients.ndjson.gz",
    )
