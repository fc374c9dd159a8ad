"""Jobs the fault tests run, and the checks every outcome must pass."""

from __future__ import annotations

import gzip
import hashlib
import io
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator

PRODUCT = "1234567890"
#: two small daily files and, when made large, one that needs a multipart upload.
DAYS = ("2024-03-13", "2024-03-14")
REPORT_REQUEST = {"startDate": "2024-02-01", "stopDate": "2024-02-29", "dateSplit": "week"}
CLIENT_REQUEST = {"properties": ["prodVersion", "prodEdition"]}


def daily_name(day: str, kind: str = "custom_events") -> str:
    infix = {"custom_events": "cust_", "exceptions": "exc_", "raw_events": ""}[kind]
    return f"{PRODUCT}_{infix}{day}.zip"


def files_op(s3: Any, **kwargs: Any) -> UsageIntelligenceFilesToS3Operator:
    settings: dict[str, Any] = {
        "task_id": "archive",
        "file_kind": "custom_events",
        "since": DAYS[0],
        "until": DAYS[-1],
        "s3_bucket": s3.bucket,
        "s3_prefix": "lake",
        "part_size": MIN_PART_SIZE,
        "max_concurrency": 2,
        "asset_alias": None,
        **kwargs,
    }
    return UsageIntelligenceFilesToS3Operator(**settings)


def report_op(s3: Any, key: str = "reports/date_range.json") -> UsageIntelligenceReportToS3Operator:
    return UsageIntelligenceReportToS3Operator(
        task_id="report",
        report="date_range",
        request=REPORT_REQUEST,
        s3_bucket=s3.bucket,
        s3_key=key,
        asset_alias=None,
    )


def clients_op(s3: Any, key: str = "clients/all.ndjson.gz") -> UsageIntelligenceClientPropertiesToS3Operator:
    return UsageIntelligenceClientPropertiesToS3Operator(
        task_id="clients",
        request=CLIENT_REQUEST,
        s3_bucket=s3.bucket,
        s3_key=key,
        part_size=MIN_PART_SIZE,
        asset_alias=None,
    )


def source_bytes(file_name: str, kind: str = "custom_events") -> bytes:
    """The file as the API serves it (call with no fault pending)."""
    buffer = io.BytesIO()
    with UsageIntelligenceHook() as hook:
        hook.download_file(kind, file_name, buffer)
    return buffer.getvalue()


def assert_nothing_partial(s3: Any, final_keys: list[str] = ()) -> None:  # type: ignore[assignment]
    """No multipart upload in progress, nothing under the given final keys."""
    keys = s3.list_keys()
    assert s3.multipart_uploads() == []
    assert [k for k in final_keys if k in keys] == []


def assert_archived_identically(s3: Any, manifest: dict[str, Any], kind: str = "custom_events") -> None:
    """Every transferred object is byte-identical to a fresh download, with its SHA-256 recorded."""
    assert manifest["failed"] == []
    for item in manifest["transferred"]:
        body = s3.read(item["key"])
        assert body == source_bytes(item["file_name"], kind), item["key"]
        assert hashlib.sha256(body).hexdigest() == item["sha256"]
        meta = s3.head(item["key"])["Metadata"]
        assert meta["source-file-name"] == item["file_name"]
        assert meta.get("sha256", item["sha256"]) == item["sha256"]  # objects of one part carry it
    assert_nothing_partial(s3)


def gunzip_rows(s3: Any, key: str) -> bytes:
    return gzip.decompress(s3.read(key))


def statuses(emulator: Any, path_part: str) -> list[int]:
    return [r["status"] for r in emulator.control.requests() if path_part in r["path"]]


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll observable state (not a fixed sleep) until it holds; fail past the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
