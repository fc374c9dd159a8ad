"""Archive yesterday's final usage files into S3: one mapped task per file, then a manifest.

Usage Intelligence publishes a day's custom-event, exception and raw-event files some time
after the day ends. Deferrable sensors wait for the final files (in the triggerer, not a
worker slot) and return their records; each record becomes one mapped transfer task, so a
failed file is retried on its own and the files spread across workers. The last task writes
a manifest of what the archive holds for the day, read back from S3, so re-runs (which skip
files already archived) still describe every file.

Configuration, none of it read at parse time:

* connections ``usage_intelligence_default`` (product via its extra ``product_id``) and
  ``aws_default``;
* Variables ``usageintel_bucket`` (default ``usage-archive``) and ``usageintel_prefix``
  (default ``usageintel``);
* param ``day`` (``YYYY-MM-DD``) to archive another day in a manual run.

Every run archives the day that has just closed when it is due: for a scheduled run
the day before its ``data_interval_end``, for one triggered from the UI or the REST API
(no logical date) the day before its ``run_after``.

Every archived object emits an Asset event on the alias ``usageintel-daily-archive``;
``usageintel_archive_verify`` is scheduled on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_provider_usageintel.archive.layout import manifest_key
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
# The day that has just closed when the run is due (the run of 2024-03-15 archives 2024-03-14;
# a manual run without a logical date, the day before it was triggered). {{ ds }} would name
# the day that has only begun, whose files are still open, and is undefined in manual runs.
DAY = "{{ params.day or last_complete_day() }}"
ASSET_ALIAS = "usageintel-daily-archive"
FILE_KINDS = ("custom_events", "exceptions", "raw_events")


@task
def write_manifest(day: str, bucket: str, prefix: str, archived: list[Any]) -> dict[str, Any]:
    """Describe every object of the day from S3 itself: new and previously archived files alike."""
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    s3 = ArchiveS3Hook(aws_conn_id="aws_default")
    files = []
    for mapped in archived:  # one lazy sequence of transfer results per file kind
        for index in range(len(mapped)):  # indexing stops at the end without a failed lookup
            result = mapped[index]
            for entry in [*result["transferred"], *result["skipped"]]:
                meta = s3.head(bucket, entry["key"]).metadata
                files.append(
                    {
                        "key": entry["key"],
                        "file_kind": meta["source-file-kind"],
                        "file_name": meta["source-file-name"],
                        "size": int(meta["size"]),
                        "sha256": meta["sha256"],
                        "new": entry in result["transferred"],
                    }
                )
    files.sort(key=lambda f: f["key"])
    manifest = {"day": day, "bucket": bucket, "files": files, "bytes": sum(f["size"] for f in files)}
    key = manifest_key(prefix, "daily", day)
    body = json.dumps(manifest, indent=2).encode()
    checksum = {"sha256": hashlib.sha256(body).hexdigest(), "size": str(len(body))}  # like the files
    s3.put_bytes(bucket, key, body, content_type="application/json", metadata=checksum)
    return {"key": key, "files": len(files), "bytes": manifest["bytes"]}


with DAG(
    dag_id="usageintel_daily_archive",
    description="Yesterday's custom-event, exception and raw-event files into S3, with a manifest",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    params={"day": Param("", type="string", description="YYYY-MM-DD; empty: the day that just closed")},
    user_defined_macros=PERIOD_MACROS,
    tags=["usageintel", "archive"],
) as dag:
    archived = []
    for kind in FILE_KINDS:
        wait = UsageIntelligenceFileSensor(
            task_id=f"wait_{kind}",
            file_kind=kind,
            file_date=DAY,
            deferrable=True,
            poke_interval=15 * 60,  # the API publishes a day's files once; polling faster gains nothing
            timeout=36 * 3600,
        )
        transfer = UsageIntelligenceFilesToS3Operator.partial(
            task_id=f"archive_{kind}",
            file_kind=kind,
            s3_bucket=BUCKET,
            s3_prefix=PREFIX,
            asset_alias=ASSET_ALIAS,
            # Declared here too: a mapped task's outlets must be known when the DAG is parsed.
            outlets=[AssetAlias(ASSET_ALIAS)],
            max_active_tis_per_dagrun=4,  # concurrent downloads per kind; see docs/scaling.md
        ).expand(files=wait.output)
        archived.append(transfer.output)

    write_manifest(day=DAY, bucket=BUCKET, prefix=PREFIX, archived=archived)
