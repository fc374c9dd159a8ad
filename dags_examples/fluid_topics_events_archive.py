"""Archive each day's Fluid Topics analytics events into S3, and count searches.

Every daily run writes the events of its data interval to
``fluid_topics/events/<start>_<end>.ndjson.gz``: re-running a day rewrites the
same object with the same bytes, and the object is an Asset event on the
``usageintel-archive`` alias for downstream DAGs. A run triggered from the UI or
the REST API (no logical date) archives the last complete UTC day. Connections:
``fluid_topics_default`` (type ``fluid_topics``) and ``aws_default``; the bucket
comes from the Variable ``usageintel_bucket`` (default ``usage-archive``).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_usageintel.operators.fluid_topics import FluidTopicsEventCountsOperator
from airflow_provider_usageintel.transfers.fluid_topics_to_s3 import FluidTopicsEventsToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"

with DAG(
    dag_id="fluid_topics_events_archive",
    # real [start, end) intervals (with Airflow 3's plain cron schedules a run's interval is
    # empty, and it would archive the last complete day before it instead)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=4,
    tags=["fluid-topics", "archive"],
):
    FluidTopicsEventsToS3Operator(task_id="archive_events", s3_bucket=BUCKET, per_page=500)
    FluidTopicsEventCountsOperator(task_id="count_searches", names=["khub.search", "document.display"])
