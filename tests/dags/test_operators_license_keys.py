"""Insert license keys read from S3, then count them with a search."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG

from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceLicenseKeysOperator

with DAG(
    dag_id="test_operators_license_keys",
    schedule=None,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
):
    insert = UsageIntelligenceLicenseKeysOperator(
        task_id="insert",
        action="insert",
        keys_s3_uri="{{ dag_run.conf['keys_s3_uri'] }}",
        batch_size=2,
    )
    count = UsageIntelligenceLicenseKeysOperator(
        task_id="count",
        action="search",
        search_request={"filters": {}},
        count_only=True,
    )
    insert >> count
