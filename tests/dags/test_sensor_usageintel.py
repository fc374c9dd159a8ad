"""Wait for a day's final files, poking or deferred, then hand the records to a downstream task."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor

START = pendulum.datetime(2024, 1, 1, tz="UTC")


@task
def count_files(records: list[dict[str, Any]]) -> int:
    return len(records)


for mode in ("poke", "deferrable"):
    with DAG(
        dag_id=f"test_sensor_{mode}",
        schedule=None,
        start_date=START,
        catchup=False,
        params={"file_kind": "custom_events", "frequency": "daily"},
    ):
        wait = UsageIntelligenceFileSensor(
            task_id="wait",
            file_kind="{{ params.file_kind }}",
            frequency="{{ params.frequency }}",
            deferrable=mode == "deferrable",
            poke_interval=0.05,
            timeout=60,
        )
        count_files(wait.output)


with DAG(
    dag_id="test_sensor_soft_fail",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"file_date": "2099-01-01"},
):
    for mode in ("poke", "deferrable"):
        UsageIntelligenceFileSensor(
            task_id=f"wait_{mode}",
            file_kind="exceptions",
            file_date="{{ params.file_date }}",
            deferrable=mode == "deferrable",
            soft_fail=True,
            poke_interval=0.05,
            timeout=0,
        )
