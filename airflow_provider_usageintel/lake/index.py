"""The lake's re-run index: one small JSON object per table and product.

It maps each partition's Parquet key to the source it was written from (key,
ETag, size, SHA-256, last day covered) and the Parquet object's size, so a
no-op re-run costs one listing and one GET per table instead of a request per
partition. An entry is trusted only when the listing shows the Parquet object
with the recorded size; otherwise the object's own S3 metadata decides (see
``LakeSync._from_object``). Like the archive index, it only saves requests.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_usageintel.archive.index import JsonIndex


class LakeIndex(JsonIndex):
    section = "partitions"

    def entry(self, parquet_key: str, listed_size: int) -> dict[str, Any] | None:
        """The entry of ``parquet_key`` if the listing shows the object this index recorded."""
        entry = self.entries.get(parquet_key)
        if entry is None or entry.get("parquet_bytes") != listed_size:
            return None
        return entry

    def record(self, manifest: dict[str, Any]) -> None:
        """A partition just written (from its manifest)."""
        source = manifest["source"]
        self._set(
            manifest["parquet"]["key"],
            {
                "source_key": source["key"],
                "source_file_name": source["file_name"],
                "source_etag": source["etag"].strip('"'),
                "source_size": source["size"],
                "source_sha256": source["sha256"],
                "source_stop_date": source["stop_date"],
                "parquet_bytes": manifest["parquet"]["bytes"],
                "rows": manifest["rows"]["parquet"],
                "rows_rejected": manifest["rows"]["rejected"],
                "unknown_columns": manifest["schema"]["unknown_columns"],
            },
        )

    def adopt(self, parquet_key: str, metadata: dict[str, str], size: int) -> dict[str, Any]:
        """An entry rebuilt from a Parquet object's S3 metadata (the index had lost it)."""
        previous = self.entries.get(parquet_key, {})
        entry = {
            "source_key": metadata.get("source-key"),
            "source_file_name": metadata.get("source-file-name"),
            "source_etag": metadata.get("source-etag"),
            "source_size": int(metadata.get("source-size", "-1")),
            "source_sha256": metadata.get("source-sha256"),
            "source_stop_date": metadata.get("source-stop-date", ""),
            "parquet_bytes": size,
            "unknown_columns": previous.get("unknown_columns", []),
        }
        self._set(parquet_key, entry)
        return entry
