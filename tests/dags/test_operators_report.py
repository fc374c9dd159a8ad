"""Run a report by name and hand its whole answer to a downstream task through XCom."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceReportOperator

with DAG(
    dag_id="test_operators_report",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
):
    properties = UsageIntelligenceReportOperator(task_id="product_properties", report="product_properties")

    @task
    def property_names(answer: dict[str, Any]) -> list[str]:
        return sorted(item["name"] for category in answer["result"] for item in category["properties"])

    property_names(properties.output)
