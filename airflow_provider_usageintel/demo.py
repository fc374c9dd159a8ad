"""``make demo``: archive usage files end to end, entirely on loopback.

Starts the Usage Intelligence emulator and moto's S3 server on free loopback
ports, points the ``usage_intelligence_default`` and ``aws_default``
connections at them through environment variables, streams every final daily
and monthly file of the three kinds into S3 with the hook, then reads the
objects back and prints what landed with its verified SHA-256. Everything it
starts is stopped before it returns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_usageintel.api.files import FileKind, FileRecord
from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.utils.keys import object_key, object_metadata
from airflow_provider_usageintel.utils.s3_upload import StreamingUpload

BUCKET = "usage-archive"
PREFIX = "usageintel"


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def configure_connections(emulator: EmulatorServer, s3_endpoint: str) -> None:
    os.environ["AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"] = emulator.airflow_connection_json()
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "demo-access-key",
            "password": "demo-secret-key",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }
    )


def archive(hook: UsageIntelligenceHook, s3: Any, product_id: str) -> list[dict[str, Any]]:
    landed: list[dict[str, Any]] = []
    for kind in FileKind:
        records = [r for r in hook.list_files(kind) if r.is_final]
        for record in records:
            landed.append(_archive_one(hook, s3, kind, record, product_id))
    return landed


def _archive_one(
    hook: UsageIntelligenceHook, s3: Any, kind: FileKind, record: FileRecord, pid: str
) -> dict[str, Any]:
    stream = hook.open_file(kind, record)
    key = object_key(record, pid, PREFIX)
    upload = StreamingUpload(
        s3,
        BUCKET,
        key,
        staging_key=f"{PREFIX}/_staging/{record.file_name}",
        metadata=lambda: object_metadata(record, pid, stream.size, stream.sha256),
        content_type="application/zip",
    )
    upload.run(stream)
    return {"key": key, "size": stream.size, "sha256": stream.sha256}


def verify(s3: Any, landed: list[dict[str, Any]]) -> int:
    """Read every object back; count those whose bytes and metadata match what was streamed."""
    good = 0
    for item in landed:
        obj = s3.get_object(Bucket=BUCKET, Key=item["key"])
        digest = hashlib.sha256()
        for chunk in obj["Body"].iter_chunks(1024 * 1024):
            digest.update(chunk)
        item["verified"] = digest.hexdigest() == item["sha256"] == obj["Metadata"].get("sha256")
        good += item["verified"]
    return good


def print_table(landed: list[dict[str, Any]]) -> None:
    width = max(len(i["key"]) for i in landed)
    print(f"{'key':<{width}}  {'bytes':>9}  sha256 (verified)")
    for item in landed:
        mark = "ok" if item["verified"] else "MISMATCH"
        print(f"{item['key']:<{width}}  {item['size']:>9}  {item['sha256'][:16]}... {mark}")


def main() -> int:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="usageintel-demo-"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    started = time.monotonic()
    config = EmulatorConfig(days=40)
    with EmulatorServer(config) as emulator, s3_server() as s3_endpoint:
        print(f"Usage Intelligence emulator: {emulator.url}")
        print(f"S3 stand-in (moto):          {s3_endpoint}")
        configure_connections(emulator, s3_endpoint)
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook(aws_conn_id="aws_default").get_conn()
        s3.create_bucket(Bucket=BUCKET)
        product_id = config.product_ids[0]
        with UsageIntelligenceHook(product_id=product_id) as hook:
            landed = archive(hook, s3, product_id)
        good = verify(s3, landed)
        print_table(landed)
        total = sum(i["size"] for i in landed)
        print(
            f"\n{len(landed)} files, {total} bytes archived to s3://{BUCKET}/{PREFIX}/ "
            f"in {time.monotonic() - started:.1f} s; {good}/{len(landed)} verified by SHA-256"
        )
    return 0 if landed and good == len(landed) else 1


if __name__ == "__main__":
    sys.exit(main())
