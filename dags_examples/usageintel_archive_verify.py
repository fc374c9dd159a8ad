"""Verify each newly archived usage file and list it in a load catalog for the warehouse.

Scheduled on the Asset alias of ``usageintel_daily_archive``: every object that DAG
writes emits an Asset event, and a run starts once new events arrive. This DAG reads each
new object back from S3, checks its SHA-256 against the checksum recorded at archive time
(object metadata and Asset event), and writes a catalog of the verified objects that a
warehouse load (``COPY INTO``, Glue, Spark) can pick up. A mismatch fails the run, so a
corrupted object never reaches the warehouse.

Manual runs have no triggering events; they re-check the alias's latest events instead
(param ``recent``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_provider_usageintel.archive.assets import s3_uri, split_s3_uri
from airflow_provider_usageintel.archive.layout import catalog_key

ARCHIVE_ALIAS = AssetAlias("usageintel-daily-archive")
BUCKET = "{{ var.value.get('usageintel_bucket', 'usage-archive') }}"
PREFIX = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"


def new_objects(context: dict[str, Any], recent: int) -> dict[str, dict[str, Any]]:
    """``s3://`` URI -> event extra, from the triggering events or, for manual runs, the latest ones."""
    events = [event for group in context["triggering_asset_events"].values() for event in group]
    if not events:
        alias_events = context["inlet_events"][ARCHIVE_ALIAS]
        events = list(alias_events[-recent:]) if recent and len(alias_events) else []
    return {event.asset.uri: dict(event.extra or {}) for event in events}


def sha256_of(s3: Any, uri: str) -> tuple[str, dict[str, str]]:
    """SHA-256 of the object's bytes, streamed, and the metadata of the same version."""
    head, body = s3.open_object(*split_s3_uri(uri))
    digest = hashlib.sha256()
    with body:
        for chunk in body.iter_chunks(1 << 20):
            digest.update(chunk)
    return digest.hexdigest(), head.metadata


@task(inlets=[ARCHIVE_ALIAS])
def verify_and_catalog(bucket: str, prefix: str, **context: Any) -> dict[str, Any]:
    """Fail on any checksum mismatch; otherwise write the catalog of verified objects."""
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    s3 = ArchiveS3Hook(aws_conn_id="aws_default")
    catalog, bad = [], []
    for uri, extra in sorted(new_objects(context, context["params"]["recent"]).items()):
        actual, meta = sha256_of(s3, uri)
        expected = {meta.get("sha256"), extra.get("sha256", meta.get("sha256"))}
        entry = {"uri": uri, "file_kind": meta.get("source-file-kind"), "sha256": actual}
        entry.update(start_date=meta.get("source-start-date"), size=int(meta.get("size", -1)))
        (catalog if expected == {actual} else bad).append(entry)
    if bad:
        raise ValueError(f"{len(bad)} archived object(s) do not match their SHA-256: {bad}")
    if not catalog:
        return {"objects": 0}
    name = re.sub(r"[^0-9A-Za-z_.-]", "_", context["run_id"])
    key = catalog_key(prefix, name)
    body = json.dumps(catalog, indent=2).encode()
    checksum = {"sha256": hashlib.sha256(body).hexdigest(), "size": str(len(body))}  # like the files
    s3.put_bytes(bucket, key, body, content_type="application/json", metadata=checksum)
    return {"objects": len(catalog), "catalog": s3_uri(bucket, key)}


with DAG(
    dag_id="usageintel_archive_verify",
    description="Verify newly archived usage files by SHA-256 and catalog them for the warehouse load",
    schedule=ARCHIVE_ALIAS,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"recent": Param(50, type="integer", minimum=0, description="manual runs: events to re-check")},
    tags=["usageintel", "archive"],
) as dag:
    verify_and_catalog(BUCKET, PREFIX)
