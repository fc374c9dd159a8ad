"""Windows given as ``{{ ds }}`` templates, the way DAG authors write them (rendered to YYYY-MM-DD)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_usageintel.operators.fluid_topics import FluidTopicsEventCountsOperator
from airflow_provider_usageintel.operators.fusionauth import FusionAuthReportOperator

START = "{{ ds }}"
END = "{{ macros.ds_add(ds, 1) }}"

with DAG(
    dag_id="test_ds_window_fluid_topics",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    FluidTopicsEventCountsOperator(task_id="counts", start=START, end=END, names=["khub.search"])

with DAG(
    dag_id="test_ds_window_fusionauth",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    FusionAuthReportOperator(task_id="dau", report="daily_active_users", start=START, end=END)
