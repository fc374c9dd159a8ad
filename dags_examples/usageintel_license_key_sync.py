"""Keep the license key registry in step with the sales system, and snapshot it into S3.

The sales system drops CSV files into the bucket (header row; columns ``licenseKey``,
``licenseType``, ``installQuota``, ``notes`` and ``licenseStatus.<flag>``):

* ``<prefix>/license-keys/inbox/insert.csv``: new keys;
* ``<prefix>/license-keys/inbox/update.csv``: changes to existing keys (empty cells are
  left unchanged).

Each file present is applied in batches and then moved to ``processed/``, so it is never
applied twice; a missing file skips its branch. Registry writes are not retried blindly:
a failed batch fails the task naming the keys in doubt (see the operator's docs). Finally
the whole registry is searched page by page and written as gzipped NDJSON, one snapshot
per day, whether or not anything changed.

Configuration: connections ``usage_intelligence_default`` and ``aws_default``; Variables
``usageintel_bucket`` and ``usageintel_prefix``. Keys come from the provider's layout
(``archive/layout.py``); S3 requests go through its ``ArchiveS3Hook``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_usageintel.archive.layout import (
    license_keys_inbox_key,
    license_keys_processed_key,
    license_keys_registry_key,
)
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.operators.license_keys import UsageIntelligenceLicenseKeysOperator

BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
# When the run is due (its data_interval_end, or run_after when triggered without a logical
# date): {{ ts_nodash }} and {{ ds }} are undefined in manual runs.
RUN_STAMP = "{{ run_time().strftime('%Y%m%dT%H%M%S') }}"
RUN_DAY = "{{ run_time() | ds }}"
PAGE_SIZE = 500


@task.short_circuit(ignore_downstream_trigger_rules=False)
def has_file(bucket: str, key: str) -> bool:
    """Skip the branch when the sales system dropped no file today."""
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    return ArchiveS3Hook(aws_conn_id="aws_default").head_if_exists(bucket, key) is not None


@task
def mark_processed(bucket: str, key: str, target: str) -> str:
    """Move an applied file out of the inbox, so a later run never applies it again."""
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    s3 = ArchiveS3Hook(aws_conn_id="aws_default")
    s3.copy(bucket, key, target)
    s3.delete(bucket, key)
    return target


@task(trigger_rule="none_failed")
def export_registry(bucket: str, key: str) -> dict[str, Any]:
    """Every key of the registry as gzipped NDJSON; spooled to disk, so memory stays small.

    Spooled, the snapshot's size and SHA-256 are known before the upload starts: the object
    carries them as metadata however large it is.
    """
    import gzip
    import hashlib
    import json
    import tempfile

    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

    rows = 0
    with tempfile.TemporaryFile() as spool:
        with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as out, UsageIntelligenceHook() as hook:
            request = {"sorting": {"licenseKey": "asc"}}
            for record in hook.iter_offset_pages("license_keys_search", request, page_size=PAGE_SIZE):
                out.write(json.dumps(record, sort_keys=True).encode() + b"\n")
                rows += 1
        size = spool.tell()
        spool.seek(0)
        digest = hashlib.sha256()
        for chunk in iter(lambda: spool.read(1 << 20), b""):
            digest.update(chunk)
        spool.seek(0)
        ArchiveS3Hook(aws_conn_id="aws_default").upload_stream(
            bucket,
            key,
            iter(lambda: spool.read(1 << 20), b""),
            content_type="application/x-ndjson",
            metadata={"rows": rows, "size": size, "sha256": digest.hexdigest()},
        )
    return {"key": key, "keys": rows, "size": size, "sha256": digest.hexdigest()}


with DAG(
    dag_id="usageintel_license_key_sync",
    description="Apply license key CSVs from S3 to the registry, then snapshot the registry into S3",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two runs must never apply the same inbox file
    user_defined_macros=PERIOD_MACROS,
    tags=["usageintel", "license-keys"],
) as dag:
    previous = None
    for action in ("insert", "update"):  # inserts first: an update may name a key inserted today
        key = license_keys_inbox_key(PREFIX, action)
        check = has_file.override(task_id=f"has_{action}_file", trigger_rule="none_failed")(BUCKET, key)
        apply = UsageIntelligenceLicenseKeysOperator(
            task_id=f"{action}_keys",
            action=action,
            keys_s3_uri=f"s3://{BUCKET}/{key}",
            batch_size=100,
            retries=0,  # a lost answer may have been applied: never re-send a batch automatically
        )
        target = license_keys_processed_key(PREFIX, RUN_STAMP, action)
        done = mark_processed.override(task_id=f"mark_{action}_processed")(BUCKET, key, target)
        check >> apply >> done
        if previous is not None:
            previous >> check
        previous = done

    snapshot = export_registry(BUCKET, license_keys_registry_key(PREFIX, RUN_DAY))
    previous >> snapshot
