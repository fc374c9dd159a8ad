"""The run manifest of a files transfer: what was archived, skipped, failed or rejected, and why.

It is the task's return value (XCom) and, with ``manifest_key``, an object beside
the archive; the task's error names the first few failures and points here for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_usageintel.api.files import RejectedRecord
from airflow_provider_usageintel.archive.plan import PlannedFile
from airflow_provider_usageintel.archive.upload import AbortedUpload
from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError

#: failed and skipped files the task's error names one by one; the manifest and the log have them all.
NAMED_IN_ERROR = 5
#: what an archived file's Asset event carries.
ASSET_FIELDS = ("file_name", "size", "sha256", "start_date", "stop_date", "frequency")


def files_manifest(
    *,
    product_id: str,
    file_kind: str,
    bucket: str,
    plan: Sequence[PlannedFile],
    transferred: list[dict[str, Any]],
    failed: list[dict[str, Any]],
    rejected: Sequence[RejectedRecord],
    aborted: Sequence[AbortedUpload],
    seconds: float,
) -> dict[str, Any]:
    """The manifest, JSON-ready (a failure's exception object stays out)."""
    skipped = [p for p in plan if p.skip_reason]
    return {
        "product_id": product_id,
        "file_kind": file_kind,
        "bucket": bucket,
        "transferred": transferred,
        "skipped": [
            {"file_name": p.record.file_name, "key": p.key, "reason": p.skip_reason} for p in skipped
        ],
        "failed": [{k: v for k, v in f.items() if k != "exception"} for f in failed],
        "files_transferred": len(transferred),
        "files_skipped": len(skipped),
        "bytes": sum(t["size"] for t in transferred),
        "seconds": round(seconds, 3),
        "rejected": [r.to_dict() for r in rejected],
        "aborted_uploads": [a.to_dict() for a in aborted],
    }


def asset_extra(transferred: dict[str, Any]) -> dict[str, Any]:
    """The Asset event's extra of one archived file."""
    return {k: transferred[k] for k in ASSET_FIELDS}


def raise_for_failures(
    tried: int,
    failed: list[dict[str, Any]],
    rejected: Sequence[RejectedRecord],
    archived: int,
    lake_error: Exception | None = None,
) -> None:
    """Fail the task after the manifest is written: the archive's failures first, then the lake's."""
    if failed or rejected:
        also = f"; the lake step failed too: {lake_error}" if lake_error else ""
        raise UsageIntelligenceTransferError(failure_message(tried, failed, rejected, archived) + also) from (
            failed[0]["exception"] if failed else lake_error
        )
    if lake_error is not None:
        raise lake_error


def failure_message(
    tried: int, failed: list[dict[str, Any]], rejected: Sequence[RejectedRecord], archived: int
) -> str:
    """What went wrong, each file with its cause (the first few; the log and manifest have all)."""
    parts = []
    if failed:
        causes = [
            f["error"] if f["file_name"] in f["error"] else f"{f['file_name']}: {f['error']}" for f in failed
        ]
        parts.append(f"{len(failed)} of {tried} file(s) failed ({_first(causes)})")
    if rejected:
        parts.append(
            f"{len(rejected)} listed file(s) skipped as unusable ({_first([str(r) for r in rejected])})"
        )
    return (
        "; ".join(parts)
        + f"; {archived} archived. A retry transfers only what is missing"
        + (", and skips unusable files again until the API lists them correctly." if rejected else ".")
    )


def _first(items: list[str]) -> str:
    shown = "; ".join(items[:NAMED_IN_ERROR])
    more = len(items) - NAMED_IN_ERROR
    return shown + (f"; and {more} more (see the log and the manifest)" if more > 0 else "")
