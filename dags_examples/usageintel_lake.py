"""The archive and its Parquet lake: archive the recent files with the lake option; backfill the rest.

``usageintel_lake`` runs daily. For every file kind it archives the final files of the
last few days (those already archived are skipped) with ``lake_prefix``: each file is
read back from S3 and written as a Parquet partition, and the partition is registered in
the Glue Data Catalog, so Athena can query the day's events as soon as the run ends.
Monthly files go to their own tables.

``usageintel_lake_backfill`` (no schedule) builds the lake from what the archive already
holds, without calling the vendor API: trigger it once after turning the lake on.

Both work from the UI's Trigger button: a run without a logical date takes the day before
the one it runs on. Configuration, none of it read at parse time:

* connections ``usage_intelligence_default`` (product via its extra ``product_id``) and
  ``aws_default`` (S3 and Glue);
* Variables ``usageintel_bucket`` (default ``usage-archive``), ``usageintel_prefix``
  (default ``usageintel``), ``usageintel_lake_prefix`` (default ``usageintel-lake``) and
  ``usageintel_glue_database`` (default ``usageintel``; empty: no Glue);
* params ``day`` (the last day to archive, ``YYYY-MM-DD``) and ``days`` (how many days back).

See docs/query.md for the layout, the guarantees and queries.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, Param

from airflow_provider_usageintel.transfers.archive_to_lake import UsageIntelligenceArchiveToLakeOperator
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
LAKE_PREFIX = "{{ var.value.get('usageintel_lake_prefix', 'usageintel-lake') }}"
GLUE_DATABASE = "{{ var.value.get('usageintel_glue_database', 'usageintel') }}"
# The day that has just closed: the one before the run's date. A run triggered without a
# logical date has no data interval; ``dag_run.run_after`` is set for every run.
UNTIL = "{{ params.day or macros.ds_add(dag_run.run_after | ds, -1) }}"
SINCE = "{{ macros.ds_add(params.day or macros.ds_add(dag_run.run_after | ds, -1), 1 - params.days) }}"
FREQUENCIES = {
    "custom_events": ["daily", "monthly"],
    "exceptions": ["daily", "monthly"],
    "raw_events": ["daily"],
}

with DAG(
    dag_id="usageintel_lake",
    description="Recent files into the archive and its Parquet lake, registered in Glue",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    params={
        "day": Param("", type="string", description="YYYY-MM-DD; empty: the day that just closed"),
        "days": Param(3, type="integer", minimum=1, description="days back from `day` (re-runs skip)"),
    },
    tags=["usageintel", "archive", "lake"],
):
    for kind, frequencies in FREQUENCIES.items():
        UsageIntelligenceFilesToS3Operator(
            task_id=f"archive_{kind}",
            file_kind=kind,
            frequency=frequencies,
            since=SINCE,
            until=UNTIL,
            s3_bucket=BUCKET,
            s3_prefix=PREFIX,
            lake_prefix=LAKE_PREFIX,
            lake_options={"glue_database": GLUE_DATABASE},
        )

with DAG(
    dag_id="usageintel_lake_backfill",
    description="The Parquet lake from the zips already archived (no API calls)",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "since": Param("", type="string", description="YYYY-MM-DD; empty: the archive's first file"),
        "until": Param("", type="string", description="YYYY-MM-DD; empty: the archive's last file"),
        "replace": Param(False, type="boolean", description="rewrite partitions that are up to date"),
    },
    render_template_as_native_obj=True,
    tags=["usageintel", "lake"],
):
    for kind, frequencies in FREQUENCIES.items():
        UsageIntelligenceArchiveToLakeOperator(
            task_id=f"backfill_{kind}",
            file_kind=kind,
            frequency=frequencies,
            since="{{ params.since or None }}",
            until="{{ params.until or None }}",
            s3_bucket=BUCKET,
            s3_prefix=PREFIX,
            lake_prefix=LAKE_PREFIX,
            glue_database=GLUE_DATABASE,
            replace="{{ params.replace }}",
        )
