"""A client-property export (gzipped NDJSON in the archive) as one Parquet partition of the lake.

The export is the record of truth; this reads it back from S3 as a stream and writes
``{lake_prefix}/client_properties/product_id={id}/date={day}/part-0000.parquet``: one row
per client, or per client and day when the export asked for daily data
(``retDailyData``). Properties the API documents as numeric or dates are typed
(schema.CLIENT_PROPERTY_TYPES), the rest are strings; keys a row has beyond those
requested are kept as one JSON object in ``other_properties``. A row that does not
convert goes to the partition's rejects object, as with the files.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_usageintel.archive.lake_layout import Partition, client_properties_partition
from airflow_provider_usageintel.archive.upload import StreamingUpload
from airflow_provider_usageintel.lake.convert import BatchConverter, json_value_text
from airflow_provider_usageintel.lake.reader import S3File
from airflow_provider_usageintel.lake.schema import SCHEMA_VERSION, ResolvedColumn, client_columns
from airflow_provider_usageintel.lake.writer import ChunkSink, PartitionRun, PartitionWriter

ROWS_PER_BATCH = 20_000
Cells = list[bytes | None]


def glue_columns(columns: Sequence[ResolvedColumn]) -> list[dict[str, str]]:
    return [{"Name": c.name, "Type": c.type.glue_type, "Comment": c.header[:255]} for c in columns]


class ClientPropertiesLakeWriter(PartitionWriter):
    """Writes one export's partition; :meth:`write_export` returns its manifest."""

    def write_export(
        self, export_key: str, product_id: str, day: str, request: dict[str, Any]
    ) -> tuple[Partition, dict[str, Any]]:
        properties = [str(p) for p in request.get("properties") or []]
        daily_request = request.get("retDailyData")
        daily = [str(p) for p in (daily_request or {}).get("properties") or []] if daily_request else None
        columns = client_columns(properties, daily)
        partition = client_properties_partition(self.lake_prefix, product_id, day)
        started = time.monotonic()
        run = PartitionRun(header=[c.header for c in columns])
        head = self.s3.head(self.source_bucket, export_key)
        raw = S3File(self.s3, self.source_bucket, export_key, size=head.size, etag=head.etag)
        upload = StreamingUpload(
            self.s3,
            self.lake_bucket,
            partition.parquet_key,
            metadata={"source-key": export_key, "source-etag": head.etag.strip('"')},
            part_size=self.part_size,
            max_inflight=1,
            content_type="application/vnd.apache.parquet",
        )
        try:
            uploaded = upload.run(self._parquet_rows(raw, columns, properties, daily, run))
            rejects = self._write_rejects(partition, run)
        finally:
            raw.close()
            if run.rejects is not None:
                run.rejects.close()
        counts = run.counts
        manifest = {
            "version": 1,
            "dataset": partition.dataset,
            "partition": {"product_id": product_id, "date": day},
            "source": {
                "key": export_key,
                "etag": head.etag,
                "size": head.size,
                "sha256": run.sha256,
            },
            "parquet": {"key": partition.parquet_key, "bytes": uploaded.size, "rows": counts.parquet},
            "rejects": rejects,
            "rows": {
                "source": counts.csv,
                "parquet": counts.parquet,
                "rejected": counts.rejected,
                "balanced": counts.balanced,
                "reasons": dict(counts.reasons),
            },
            "schema": {"version": SCHEMA_VERSION, "columns": [c.name for c in columns]},
            "seconds": round(time.monotonic() - started, 3),
        }
        self._put_json(partition.manifest_key, manifest)
        return partition, manifest

    def _parquet_rows(
        self,
        raw: S3File,
        columns: Sequence[ResolvedColumn],
        properties: list[str],
        daily: list[str] | None,
        run: PartitionRun,
    ) -> Iterator[bytes]:
        converter = BatchConverter(columns, run.header)
        sink = ChunkSink()
        writer = pq.ParquetWriter(sink, converter.schema, compression=self.compression)
        batch: list[Cells] = []
        for cells in self._table_rows(raw, properties, daily, run):
            batch.append(cells)
            if len(batch) >= ROWS_PER_BATCH:
                self._write(writer, converter, batch, run)
                batch = []
                yield from sink.drain()
        if batch:
            self._write(writer, converter, batch, run)
        run.sha256 = raw.sha256()
        if not run.counts.balanced:  # pragma: no cover - every row is counted once on each side
            raise ValueError(f"client export rows do not add up: {run.counts}")
        writer.add_key_value_metadata({"usageintel.source_sha256": run.sha256 or ""})
        writer.close()
        yield from sink.drain()

    def _write(self, writer: Any, converter: BatchConverter, rows: list[Cells], run: PartitionRun) -> None:
        arrays = [pa.array([row[i] for row in rows], pa.binary()) for i in range(len(converter.columns))]
        good, rejected = converter.convert(pa.RecordBatch.from_arrays(arrays, names=run.header))
        run.counts.csv += len(rows)
        if rejected is not None:
            self._reject(run, rejected.reasons, rejected.cells)
        if good.num_rows:
            writer.write_batch(good)
            run.counts.parquet += good.num_rows

    def _table_rows(
        self, raw: S3File, properties: list[str], daily: list[str] | None, run: PartitionRun
    ) -> Iterator[Cells]:
        """Table rows of the export's JSON lines; a line that is not a JSON object is rejected."""
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            for line in io.BufferedReader(unzipped, 1024 * 1024):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError("not an object")
                except ValueError:
                    run.counts.csv += 1
                    self._reject(run, ["not a JSON object"], [[line.decode("utf-8", "replace").rstrip()]])
                    continue
                yield from _explode(row, properties, daily)


def _explode(row: dict[str, Any], properties: list[str], daily: list[str] | None) -> Iterator[Cells]:
    known = {"clientId", *properties, "dailyData"}
    other = {k: v for k, v in row.items() if k not in known}
    extra = json.dumps(other, sort_keys=True, default=str).encode() if other else None
    base = [json_value_text(row.get("clientId")), *(json_value_text(row.get(p)) for p in properties)]
    if daily is None:
        yield [*base, extra]
        return
    entries = row.get("dailyData") or []
    if not isinstance(entries, list) or not entries:
        yield [*base, None, *(None for _ in daily), extra]
        return
    for item in entries:
        entry = item if isinstance(item, dict) else {}
        day_other = {k: v for k, v in entry.items() if k not in {"date", *daily}}
        cells_other = extra
        if day_other:
            cells_other = json.dumps({**other, "dailyData": day_other}, sort_keys=True, default=str).encode()
        yield [
            *base,
            json_value_text(entry.get("date")),
            *(json_value_text(entry.get(p)) for p in daily),
            cells_other,
        ]
