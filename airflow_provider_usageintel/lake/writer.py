"""Archived zips into Parquet partitions: streamed, checked, idempotent, atomic per partition.

One source zip becomes one partition (see layout.py). The pipeline runs in
constant memory whatever the file size::

    S3 ranged GETs -> zip member -> CSV reader (blocks) -> typed batches -> Parquet row groups
    -> multipart upload (the object appears only when complete)

Every CSV row ends up in the Parquet object or in the partition's rejects
object; the counts must add up before the upload is completed, and the
partition manifest records them. A re-run skips a partition whose Parquet
object was written from the same source (same SHA-256, or same ETag and size),
trusting the lake index when the listing agrees with it and else the Parquet
object's own metadata; a changed source rewrites the partition.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_usageintel.api.files import FileKind
from airflow_provider_usageintel.archive.lake_layout import Partition, index_key, partition_for
from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE, StreamingUpload
from airflow_provider_usageintel.exceptions import UsageIntelligenceError
from airflow_provider_usageintel.lake.convert import BatchConverter
from airflow_provider_usageintel.lake.index import LakeIndex
from airflow_provider_usageintel.lake.reader import S3File
from airflow_provider_usageintel.lake.schema import NULL_VALUES, SCHEMA_VERSION, Resolved, resolve

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

#: CSV read per block: each block becomes one Parquet row group (about 18,000 rows of these files).
#: Memory is about ten times this (blocks read ahead, Arrow arrays, Parquet encoding, upload parts).
DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024
#: blocks the CSV reader may read ahead of the conversion (its own readahead is unbounded in effect).
READ_AHEAD = 1
#: Parquet is several times smaller than its CSV: small parts, one in flight, keep up with it.
UPLOAD_PART_SIZE = MIN_PART_SIZE
UPLOAD_INFLIGHT = 1
#: the CSV reader parses in the calling thread: blocks are converted one at a time anyway.
USE_THREADS = False
#: rejects are spooled to disk past this size, so a file of bad rows cannot fill memory.
REJECTS_SPOOL = 4 * 1024 * 1024
MAX_HEADER = 1024 * 1024
#: seconds a read waits for the conversion before it goes ahead anyway.
THROTTLE_WAIT = 5.0
MANIFEST_VERSION = 1


class LakeError(UsageIntelligenceError):
    """A source file could not be turned into its partition (nothing was committed for it)."""


@dataclass(frozen=True)
class SourceFile:
    """An archived zip: where it is, what it holds, and its identity."""

    key: str
    size: int
    etag: str
    file_kind: str
    frequency: str
    product_id: str
    file_name: str
    start_date: str
    stop_date: str
    #: known when the caller just archived it; else computed while it is read.
    sha256: str | None = None

    def partition(self, lake_prefix: str) -> Partition:
        return partition_for(lake_prefix, self.file_kind, self.frequency, self.product_id, self.start_date)


@dataclass
class Counts:
    """Row counts of one partition: ``csv == parquet + rejected`` or nothing is committed."""

    csv: int = 0
    parquet: int = 0
    rejected: int = 0
    row_groups: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.csv == self.parquet + self.rejected


@dataclass
class PartitionRun:
    """What one partition write learns on the way."""

    resolved: Resolved | None = None
    header: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    sha256: str | None = None
    rejects: Any = None  # the spooled gzip file, when rows were rejected
    rejects_writer: Any = None
    rejects_gzip: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class ChunkSink:
    """The file the Parquet writer writes into; the upload drains it after every row group."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._size += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> Iterator[bytes]:
        chunks, self._chunks = self._chunks, []
        yield from chunks


class _Throttled:
    """The CSV member as pyarrow reads it, at most ``ahead`` blocks ahead of the conversion.

    pyarrow's streaming CSV reader reads its input in a background thread, as fast as
    it can: left alone it held most of a 256 MiB file in memory while the conversion
    caught up. Each read waits for a slot, freed as the conversion takes a batch. A
    row longer than the slots allow (the reader needs further blocks to finish a batch)
    is not a deadlock: the wait gives up after a while and the read goes ahead.
    """

    def __init__(self, stream: Any, ahead: int) -> None:
        self._stream = stream
        self._slots = threading.Semaphore(ahead + 1)
        self.closed = False
        #: reads that went ahead without a slot.
        self.overruns = 0

    def read(self, size: int = -1) -> bytes:
        if not self._slots.acquire(timeout=THROTTLE_WAIT):
            self.overruns += 1
        data: bytes = self._stream.read(size)
        return data

    def readable(self) -> bool:
        return True

    def release(self) -> None:
        self._slots.release()

    def close(self) -> None:
        self.closed = True


class PartitionWriter:
    """Writes one source file's partition; :meth:`write` returns its manifest."""

    def __init__(
        self,
        s3: ArchiveS3Hook,
        source_bucket: str,
        lake_bucket: str,
        lake_prefix: str,
        *,
        compression: str = "snappy",
        part_size: int = UPLOAD_PART_SIZE,
        block_size: int = DEFAULT_BLOCK_SIZE,
        log: logging.Logger | Any = None,
    ) -> None:
        self.s3 = s3
        self.source_bucket = source_bucket
        self.lake_bucket = lake_bucket
        self.lake_prefix = lake_prefix
        self.compression = compression
        self.part_size = part_size
        self.block_size = block_size
        self.log = log or logging.getLogger(__name__)

    def write(self, source: SourceFile) -> dict[str, Any]:
        partition = source.partition(self.lake_prefix)
        started = time.monotonic()
        run = PartitionRun()
        upload = StreamingUpload(
            self.s3,
            self.lake_bucket,
            partition.parquet_key,
            metadata=_object_metadata(source),
            part_size=self.part_size,
            max_inflight=UPLOAD_INFLIGHT,
            content_type="application/vnd.apache.parquet",
        )
        try:
            uploaded = upload.run(self._parquet(source, run))
            rejects = self._write_rejects(partition, run)
        finally:
            if run.rejects is not None:
                run.rejects.close()
        resolved = run.resolved
        assert resolved is not None  # noqa: S101 - set before the first chunk
        manifest = _manifest(source, partition, run, resolved, uploaded.size, rejects)
        manifest["seconds"] = round(time.monotonic() - started, 3)
        self._put_json(partition.manifest_key, manifest)
        if resolved.drift:
            self.log.warning(
                "%s: schema drift (kept as string: %s; missing, written as nulls: %s; duplicated: %s)",
                source.file_name,
                ", ".join(resolved.unknown) or "none",
                ", ".join(resolved.missing) or "none",
                ", ".join(resolved.duplicates) or "none",
            )
        if run.counts.rejected:
            self.log.warning(
                "%s: %d of %d row(s) rejected, kept in s3://%s/%s (%s)",
                source.file_name,
                run.counts.rejected,
                run.counts.csv,
                self.lake_bucket,
                partition.rejects_key,
                "; ".join(f"{reason}: {n}" for reason, n in run.counts.reasons.most_common(5)),
            )
        return manifest

    # -- the stream -------------------------------------------------------------------------

    def _parquet(self, source: SourceFile, run: PartitionRun) -> Iterator[bytes]:
        """Parquet bytes of the source's CSV member, produced row group by row group."""
        raw = S3File(self.s3, self.source_bucket, source.key, size=source.size, etag=source.etag)
        with raw, zipfile.ZipFile(raw) as archive:
            member = _csv_member(archive, source.file_name)
            with archive.open(member) as stream:
                run.header = _header(stream, source.file_name)
                run.resolved = resolve(FileKind(source.file_kind), run.header)
                converter = BatchConverter(run.resolved.columns, run.header)
                sink = ChunkSink()
                writer = pq.ParquetWriter(
                    sink, converter.schema, compression=self.compression, write_statistics=True
                )
                for batch in self._batches(stream, run):
                    good, rejected = converter.convert(batch)
                    run.counts.csv += batch.num_rows
                    if rejected is not None:
                        self._reject(run, rejected.reasons, rejected.cells)
                    if good.num_rows:
                        writer.write_batch(good)
                        run.counts.parquet += good.num_rows
                        run.counts.row_groups += 1
                    yield from sink.drain()
            # the member was read to its end: zipfile has checked its CRC-32
            run.sha256 = raw.sha256()
        if source.sha256 and run.sha256 != source.sha256:
            raise LakeError(
                f"{source.file_name}: s3://{self.source_bucket}/{source.key} has SHA-256 {run.sha256}, "
                f"the archive recorded {source.sha256}"
            )
        if not run.counts.balanced:
            raise LakeError(
                f"{source.file_name}: {run.counts.csv} CSV row(s) but {run.counts.parquet} in Parquet "
                f"and {run.counts.rejected} rejected; nothing committed"
            )
        writer.add_key_value_metadata(_footer_metadata(source, run))
        writer.close()
        yield from sink.drain()

    def _batches(self, stream: Any, run: PartitionRun) -> Iterator[pa.RecordBatch]:
        width = len(run.header)
        names = [f"c{i}" for i in range(width)]

        def invalid(row: Any) -> str:
            cells = next(csv.reader([row.text]), [])
            reason = f"wrong number of columns (expected {row.expected_columns}, got {row.actual_columns})"
            self._reject(run, [reason], [cells])
            run.counts.csv += 1
            return "skip"

        if width == 0:
            return
        throttled = _Throttled(stream, READ_AHEAD)
        reader = pa_csv.open_csv(
            throttled,
            read_options=pa_csv.ReadOptions(
                column_names=names, block_size=self.block_size, use_threads=USE_THREADS
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.binary()),
                null_values=list(NULL_VALUES),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        for batch in reader:
            yield batch
            throttled.release()

    # -- rejects ----------------------------------------------------------------------------

    def _reject(self, run: PartitionRun, reasons: list[str], rows: Sequence[Sequence[str | None]]) -> None:
        with run.lock:
            if run.rejects is None:
                run.rejects = tempfile.SpooledTemporaryFile(max_size=REJECTS_SPOOL)  # noqa: SIM115
                run.rejects_gzip = gzip.GzipFile(fileobj=run.rejects, mode="wb", mtime=0)
                text = io.TextIOWrapper(
                    run.rejects_gzip, encoding="utf-8", errors="surrogateescape", newline=""
                )
                run.rejects_writer = (text, csv.writer(text))
                run.rejects_writer[1].writerow(["reject_reason", *run.header])
            for reason, row in zip(reasons, rows, strict=True):
                run.rejects_writer[1].writerow([reason, *("" if cell is None else cell for cell in row)])
                run.counts.reasons[reason] += 1
            run.counts.rejected += len(reasons)

    def _write_rejects(self, partition: Partition, run: PartitionRun) -> dict[str, Any] | None:
        """Upload the rejects (or remove those of an earlier version of the partition)."""
        if run.rejects is None:
            self.s3.delete(self.lake_bucket, partition.rejects_key)
            return None
        text, _ = run.rejects_writer
        text.flush()
        text.detach()
        run.rejects_gzip.close()
        size = run.rejects.tell()
        run.rejects.seek(0)
        upload = StreamingUpload(
            self.s3,
            self.lake_bucket,
            partition.rejects_key,
            metadata={"rows": run.counts.rejected},
            part_size=self.part_size,
            max_inflight=UPLOAD_INFLIGHT,
            content_type="text/csv",
        )
        upload.run(_file_chunks(run.rejects, self.part_size))
        return {"key": partition.rejects_key, "rows": run.counts.rejected, "bytes": size}

    def _put_json(self, key: str, body: dict[str, Any]) -> None:
        data = json.dumps(body, indent=2, sort_keys=True).encode()
        self.s3.put_bytes(self.lake_bucket, key, data, content_type="application/json")


def _file_chunks(file: Any, size: int) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


def _csv_member(archive: zipfile.ZipFile, file_name: str) -> zipfile.ZipInfo:
    members = [i for i in archive.infolist() if not i.is_dir() and i.filename.lower().endswith(".csv")]
    if len(members) != 1:
        names = ", ".join(i.filename for i in archive.infolist()) or "none"
        raise LakeError(f"{file_name}: expected exactly one CSV member, found {len(members)} ({names})")
    return members[0]


def _header(stream: Any, file_name: str) -> list[str]:
    line = stream.readline(MAX_HEADER)
    if line and not line.endswith(b"\n") and len(line) >= MAX_HEADER:
        raise LakeError(f"{file_name}: the CSV header is longer than {MAX_HEADER} bytes")
    text = line.decode("utf-8-sig", "surrogateescape").rstrip("\r\n")
    return next(csv.reader([text]), []) if text else []


def _object_metadata(source: SourceFile) -> dict[str, Any]:
    """S3 metadata of a Parquet object: its source, known before the first byte (re-run checks)."""
    return {
        "source-key": source.key,
        "source-etag": source.etag.strip('"'),
        "source-size": source.size,
        "source-file-name": source.file_name,
        "source-stop-date": source.stop_date,
        "source-sha256": source.sha256,
        "schema-version": SCHEMA_VERSION,
    }


def _footer_metadata(source: SourceFile, run: PartitionRun) -> dict[str, str]:
    """Parquet footer metadata: the source's identity, SHA-256 included, travels with the file."""
    return {
        "usageintel.source_key": source.key,
        "usageintel.source_file_name": source.file_name,
        "usageintel.source_sha256": run.sha256 or "",
        "usageintel.source_etag": source.etag.strip('"'),
        "usageintel.source_size": str(source.size),
        "usageintel.csv_rows": str(run.counts.csv),
        "usageintel.rejected_rows": str(run.counts.rejected),
    }


def _manifest(
    source: SourceFile,
    partition: Partition,
    run: PartitionRun,
    resolved: Resolved,
    parquet_size: int,
    rejects: dict[str, Any] | None,
) -> dict[str, Any]:
    counts = run.counts
    return {
        "version": MANIFEST_VERSION,
        "dataset": partition.dataset,
        "partition": {"product_id": partition.product_id, partition.key_name: partition.value},
        "source": {**asdict(source), "sha256": run.sha256},
        "parquet": {
            "key": partition.parquet_key,
            "bytes": parquet_size,
            "rows": counts.parquet,
            "row_groups": counts.row_groups,
        },
        "rejects": rejects,
        "rows": {
            "csv": counts.csv,
            "parquet": counts.parquet,
            "rejected": counts.rejected,
            "balanced": counts.balanced,
            "reasons": dict(counts.reasons),
        },
        "schema": {
            "version": SCHEMA_VERSION,
            "columns": [c.name for c in resolved.columns],
            "unknown_columns": list(resolved.unknown),
            "missing_columns": list(resolved.missing),
            "duplicate_columns": list(resolved.duplicates),
            "drift": resolved.drift,
        },
    }


# ----------------------------------------------------------------------------- many files


@dataclass(frozen=True)
class Planned:
    source: SourceFile
    partition: Partition
    #: why nothing is written, or ``None``.
    skip_reason: str | None = None


class LakeSync:
    """Bring the lake up to date with a set of archived zips (the files transfer's or a backfill's).

    :param catalog: a :class:`~airflow_provider_usageintel.lake.glue.GlueCatalog`, or ``None``.
    """

    def __init__(
        self,
        writer: PartitionWriter,
        *,
        catalog: Any = None,
        replace: bool = False,
        max_concurrency: int = 2,
        log: logging.Logger | Any = None,
    ) -> None:
        self.writer = writer
        self.s3 = writer.s3
        self.bucket = writer.lake_bucket
        self.lake_prefix = writer.lake_prefix
        self.catalog = catalog
        self.replace = replace
        self.max_concurrency = max_concurrency
        self.log = log or logging.getLogger(__name__)
        self._indexes: dict[tuple[str, str], LakeIndex] = {}

    def run(self, sources: Iterable[SourceFile]) -> dict[str, Any]:
        started = time.monotonic()
        plan = self.plan(list(sources))
        todo = [p for p in plan if p.skip_reason is None]
        self.log.info("Lake: %d partition(s) to write, %d up to date", len(todo), len(plan) - len(todo))
        written, failed = self._write_all(todo)
        for manifest in written:
            self._index_for(manifest["source"]["product_id"], manifest["dataset"]).record(manifest)
        for lake_index in self._indexes.values():
            _save(lake_index, self.log)
        registered = self._register(plan, failed)
        summary = {
            "lake_bucket": self.bucket,
            "lake_prefix": self.lake_prefix,
            "written": [_brief(m) for m in written],
            "skipped": [
                {"file_name": p.source.file_name, "key": p.partition.parquet_key, "reason": p.skip_reason}
                for p in plan
                if p.skip_reason
            ],
            "failed": failed,
            "partitions_registered": registered,
            "rows": sum(m["rows"]["parquet"] for m in written),
            "rows_rejected": sum(m["rows"]["rejected"] for m in written),
            "seconds": round(time.monotonic() - started, 3),
        }
        if failed:
            names = ", ".join(f["file_name"] for f in failed)
            raise LakeError(
                f"lake: {len(failed)} of {len(todo)} partition(s) failed ({names}); "
                f"{len(written)} written. A retry writes only what is missing."
            )
        return summary

    # -- planning ---------------------------------------------------------------------------

    def plan(self, sources: list[SourceFile]) -> list[Planned]:
        """Per partition, the newest source, and whether the lake already holds it."""
        winners = _newest_per_partition(sources, self.lake_prefix)
        plan: list[Planned] = []
        listed: dict[str, dict[str, int]] = {}
        for partition, source, superseded in winners:
            for older in superseded:
                plan.append(Planned(older, partition, f"superseded by {source.file_name}"))
            if self.replace:
                plan.append(Planned(source, partition))
                continue
            lake_index = self._index_for(source.product_id, partition.dataset)
            folder = partition.table_location + f"product_id={source.product_id}/"
            if folder not in listed:
                listed[folder] = self._list(folder)
            plan.append(
                Planned(source, partition, self._skip_reason(source, partition, lake_index, listed[folder]))
            )
        return plan

    def _index_for(self, product_id: str, dataset: str) -> LakeIndex:
        key = (product_id, dataset)
        if key not in self._indexes:
            self._indexes[key] = LakeIndex(
                self.s3, self.bucket, index_key(self.lake_prefix, dataset, product_id)
            ).load()
        return self._indexes[key]

    def _list(self, prefix: str) -> dict[str, int]:
        """Size of every object under ``prefix``, by key."""
        return {key: int(item["Size"]) for key, item in self.s3.list_objects(self.bucket, prefix).items()}

    def _skip_reason(
        self, source: SourceFile, partition: Partition, lake_index: LakeIndex, listed: dict[str, int]
    ) -> str | None:
        key = partition.parquet_key
        if key not in listed:
            return None
        entry = lake_index.entry(key, listed[key])
        if entry is None:
            entry = self._from_object(key, lake_index)
        if entry is None:
            return None
        if entry.get("source_stop_date", "") > source.stop_date:
            return f"the lake holds a newer file for this partition ({entry.get('source_file_name')})"
        return "already in the lake" if _same_source(entry, source) else None

    def _from_object(self, key: str, lake_index: LakeIndex) -> dict[str, Any] | None:
        """The Parquet object's own metadata, when the index does not vouch for it."""
        try:
            head = self.s3.head(self.bucket, key)
        except ClientError:  # gone since the listing, or unreadable: the partition is written again
            return None
        if "source-etag" not in head.metadata:
            return None
        return lake_index.adopt(key, head.metadata, head.size)

    # -- writing ----------------------------------------------------------------------------

    def _write_all(self, todo: list[Planned]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        written: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        if not todo:
            return written, failed
        with ThreadPoolExecutor(
            max_workers=self.max_concurrency, thread_name_prefix="usageintel-lake"
        ) as pool:
            futures = {pool.submit(self.writer.write, item.source): item for item in todo}
            for future in as_completed(futures):
                item = futures[future]
                try:
                    written.append(future.result())
                except (
                    UsageIntelligenceError,
                    BotoCoreError,
                    ClientError,
                    zipfile.BadZipFile,
                    pa.ArrowException,
                ) as exc:
                    self.log.error("%s: lake partition not written: %s", item.source.file_name, exc)
                    failed.append(
                        {
                            "file_name": item.source.file_name,
                            "key": item.partition.parquet_key,
                            "error": str(exc),
                        }
                    )
        written.sort(key=lambda m: m["parquet"]["key"])
        return written, failed

    def _register(self, plan: list[Planned], failed: list[dict[str, Any]]) -> int:
        """Glue: every table touched, and every partition the lake holds for this plan."""
        if self.catalog is None:
            return 0
        failed_keys = {f["key"] for f in failed}
        by_dataset: dict[str, list[Partition]] = {}
        for item in plan:
            if item.skip_reason and item.skip_reason.startswith("superseded"):
                continue
            if item.partition.parquet_key in failed_keys:
                continue
            by_dataset.setdefault(item.partition.dataset, []).append(item.partition)
        count = 0
        for partitions in by_dataset.values():
            first = partitions[0]
            unknown = self._unknown_columns(first.product_id, first.dataset, partitions)
            self.catalog.ensure_table(first, unknown)
            count += self.catalog.add_partitions(partitions)
        return count

    def _unknown_columns(self, product_id: str, dataset: str, partitions: list[Partition]) -> list[str]:
        names: dict[str, None] = {}
        for partition in partitions:
            entry = self._index_for(partition.product_id, dataset).entries.get(partition.parquet_key, {})
            names.update(dict.fromkeys(entry.get("unknown_columns", [])))
        return list(names)


def _newest_per_partition(
    sources: list[SourceFile], lake_prefix: str
) -> list[tuple[Partition, SourceFile, list[SourceFile]]]:
    """Per partition, the source covering the most days (a month's full file over month-to-date ones)."""
    groups: dict[Partition, list[SourceFile]] = {}
    for source in sources:
        groups.setdefault(source.partition(lake_prefix), []).append(source)
    result = []
    for partition, members in sorted(groups.items(), key=lambda g: g[0].parquet_key):
        ordered = sorted(members, key=lambda s: (s.stop_date, s.file_name), reverse=True)
        result.append((partition, ordered[0], ordered[1:]))
    return result


def _same_source(entry: dict[str, Any], source: SourceFile) -> bool:
    if entry.get("source_file_name") != source.file_name:
        return False
    if source.sha256 and entry.get("source_sha256"):
        return bool(entry["source_sha256"] == source.sha256)
    return bool(
        entry.get("source_etag") == source.etag.strip('"') and entry.get("source_size") == source.size
    )


def _brief(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_name": manifest["source"]["file_name"],
        "key": manifest["parquet"]["key"],
        "bytes": manifest["parquet"]["bytes"],
        "rows": manifest["rows"]["parquet"],
        "rows_rejected": manifest["rows"]["rejected"],
        "schema_drift": manifest["schema"]["drift"],
        "seconds": manifest.get("seconds"),
    }


def _save(lake_index: LakeIndex, log: Any) -> None:
    """The index only saves requests: failing to write it must not fail (or hide) the lake write."""
    try:
        lake_index.save()
    except (BotoCoreError, ClientError) as exc:
        log.warning(
            "Lake index %s not updated (%s); the next run checks with HeadObject", lake_index.key, exc
        )
