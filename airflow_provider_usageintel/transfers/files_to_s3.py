"""Archive Usage Intelligence files into S3: incrementally, exactly once, in bounded memory.

Each file is streamed from its signed download URL straight into S3 (no local
disk); memory is bounded by ``part_size * 5`` per concurrent file whatever the
file size. Objects appear only when complete and carry the source file's
name, kind and dates in their metadata (files of one part also their SHA-256,
which the archive index and the manifest hold for every file). Re-runs skip
files S3 already holds from the same source with the same size, and abort the
multipart uploads a killed run left behind under the task's own keys.

A listed record that is unsafe or malformed (a name with a path, an impossible
date, a file listed twice with different details) is skipped: the others are
archived, then the task fails naming it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.files import (
    FileKind,
    FileRecord,
    Frequency,
    RejectedRecord,
    unique_records,
)
from airflow_provider_usageintel.api.selection import DateLike, FileSelection
from airflow_provider_usageintel.archive.errors import s3_errors
from airflow_provider_usageintel.archive.index import ArchiveIndex
from airflow_provider_usageintel.archive.layout import (
    check_key,
    check_key_template,
    check_prefix,
    common_prefix,
    file_key_space,
    index_key,
    object_key,
    object_metadata,
    selection_prefix,
)
from airflow_provider_usageintel.archive.upload import (
    DEFAULT_PART_SIZE,
    MIN_PART_SIZE,
    AbortedUpload,
    StreamingUpload,
)
from airflow_provider_usageintel.archive.zipcheck import verified_zip
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceError,
    UsageIntelligenceTransferError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.operators.base import Problems, parse_records
from airflow_provider_usageintel.transfers.base import UsageIntelligenceToS3BaseOperator
from airflow_provider_usageintel.utils.progress import Progress

MAX_CONCURRENCY = 64
#: failed and skipped files the task's error names one by one; the manifest and the log have them all.
NAMED_IN_ERROR = 5
#: listed sizes are rounded KB: an object is the same file when its exact size agrees with them.
METADATA_SHA = "sha256"


class TransferCancelled(UsageIntelligenceError):
    """The task is being stopped; in-flight uploads abort instead of completing."""


@dataclass(frozen=True)
class Listing:
    """The archive's objects under ``prefix``, by key."""

    prefix: str
    objects: dict[str, dict[str, Any]]


@dataclass
class EarlyS3:
    """What the S3 side prepared while the API listed files."""

    index: ArchiveIndex
    listing: Listing | None
    aborted: list[AbortedUpload]


@dataclass(frozen=True)
class PlannedFile:
    record: FileRecord
    key: str
    #: why the file is not transferred, or ``None`` when it is.
    skip_reason: str | None = None


class UsageIntelligenceFilesToS3Operator(UsageIntelligenceToS3BaseOperator):
    """Stream custom-event, exception or raw-event files into S3, skipping those already archived.

    :param file_kind: ``custom_events``, ``exceptions`` or ``raw_events``.
    :param s3_bucket: destination bucket.
    :param frequency: ``daily``, ``monthly`` (or a list of both).
    :param since: first day (inclusive) of the files wanted; ``YYYY-MM-DD``, a date or a datetime.
    :param until: last day (inclusive).
    :param file_names: only these files.
    :param files: file records (dicts from ``UsageIntelligenceListFilesOperator``), or one record when
        the task is mapped with ``.expand(files=...)``; skips the listing call.
    :param s3_prefix: key prefix.
    :param key_template: key layout of final files, default
        ``{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{mm}/{file_name}``
        (placeholders: prefix, product_id, file_kind, frequency, yyyy, mm, dd, file_name).
    :param replace: transfer even files already archived.
    :param max_concurrency: files transferred at once.
    :param include_open: also archive today's open (non-final) file, under ``{prefix}/open/``; it is
        overwritten when its content changes.
    :param part_size: multipart part size in bytes (memory per file is at most about five parts).
    :param manifest_key: also write the run manifest as JSON to this key.
    :param progress_interval: seconds between progress lines in the log.
    :param lake_prefix: also keep a Parquet lake of the final files under this prefix (needs the
        ``lake`` extra; see docs/query.md and ``UsageIntelligenceArchiveToLakeOperator``).
    :param lake_options: lake settings: ``lake_bucket``, ``glue_database``, ``glue_table_template``,
        ``compression``, ``max_concurrency``.

    Also takes the parameters of :class:`UsageIntelligenceToS3BaseOperator` (product_id,
    connection ids, asset_alias, abort_uploads_older_than).

    Returns (pushed to XCom): the manifest: transferred, skipped, failed and rejected files, aborted
    leftover uploads, bytes, durations.
    """

    template_fields: Sequence[str] = (
        "file_kind",
        "frequency",
        "since",
        "until",
        "file_names",
        "files",
        "s3_bucket",
        "s3_prefix",
        "key_template",
        "product_id",
        "manifest_key",
        "lake_prefix",
        "lake_options",
    )
    template_fields_renderers = {"files": "json", "file_names": "json"}

    def __init__(
        self,
        *,
        file_kind: str,
        s3_bucket: str,
        frequency: str | Sequence[str] = "daily",
        since: DateLike = None,
        until: DateLike = None,
        file_names: Sequence[str] | None = None,
        files: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        s3_prefix: str = "usageintel",
        key_template: str | None = None,
        replace: bool = False,
        max_concurrency: int = 4,
        include_open: bool = False,
        part_size: int = DEFAULT_PART_SIZE,
        manifest_key: str | None = None,
        progress_interval: float = 30.0,
        lake_prefix: str | None = None,
        lake_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(s3_bucket=s3_bucket, **kwargs)
        self.lake_prefix = lake_prefix
        self.lake_options = lake_options
        self.file_kind = file_kind
        self.frequency = frequency
        self.since = since
        self.until = until
        self.file_names = file_names
        self.files = files
        self.s3_prefix = s3_prefix
        self.key_template = key_template
        self.replace = replace
        self.max_concurrency = max_concurrency
        self.include_open = include_open
        self.part_size = part_size
        self.manifest_key = manifest_key
        self.progress_interval = progress_interval
        self._cancelled = threading.Event()

    # -- input ------------------------------------------------------------------------------

    def _validate(self) -> tuple[FileSelection, list[FileRecord] | None]:
        """Check every parameter before any network call; report all problems at once."""
        problems = Problems()
        selection = problems.check(
            FileSelection.parse,
            self.file_kind,
            self.frequency,
            self.since,
            self.until,
            self.file_names,
            self.include_open,
        )
        given = None
        if self.files is not None:
            given = parse_records(self.files, selection.file_kind if selection else None, problems)
        self.check_target(problems)
        problems.check(check_prefix, self.s3_prefix)
        if self.key_template is not None:
            problems.check(check_key_template, self.key_template)
        if self.manifest_key:
            problems.check(check_key, self.manifest_key, "manifest_key")
        problems.check(self._check_numbers)
        if self.lake_prefix:
            from airflow_provider_usageintel.transfers.archive_to_lake import (
                check_lake_options,
                require_pyarrow,
            )

            problems.check(check_lake_options, self.lake_prefix, self.lake_options)
            problems.check(require_pyarrow)
        problems.raise_if_any()
        if selection is None:  # pragma: no cover - a failed parse recorded problems above
            raise UsageIntelligenceValidationError("file_kind: no valid selection")
        return selection, given

    def _check_numbers(self) -> None:
        problems = []
        if not _is_int(self.max_concurrency) or not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            problems.append(
                f"max_concurrency: {self.max_concurrency!r} is out of range (allowed: 1 to {MAX_CONCURRENCY})"
            )
        if not _is_int(self.part_size) or self.part_size < MIN_PART_SIZE:
            problems.append(
                f"part_size: {self.part_size!r} is below S3's minimum (allowed: >= {MIN_PART_SIZE})"
            )
        if problems:
            raise UsageIntelligenceValidationError(problems)

    # -- planning ---------------------------------------------------------------------------

    def _records(
        self, selection: FileSelection, given: list[FileRecord] | None
    ) -> tuple[list[FileRecord], list[RejectedRecord]]:
        """The files to plan for, each once, and the unusable ones this task would have wanted."""
        if given is not None:
            records = selection.apply(given) if self.file_names else given
            rejected = []
        else:
            listing = self.hook.list_files(selection.file_kind)
            records = selection.apply(listing)
            rejected = [r for r in listing.rejected if selection.wants(r)]
        unique, duplicates = unique_records(records)
        return unique, rejected + duplicates

    def _anticipated_prefix(
        self, selection: FileSelection, given: list[FileRecord] | None, product_id: str
    ) -> str | None:
        """The listing prefix, when the selection fixes it as narrowly as the records would.

        A window open only at its end (``since`` alone) or a list of names is narrower
        once the records are known, so those wait for the API; so do given records.
        """
        if self.replace or given is not None or selection.file_names is not None:
            return None
        if selection.since is not None and selection.until is None:
            return None
        return selection_prefix(selection, product_id, self.s3_prefix, self.key_template)

    def _records_while_s3_starts(
        self, selection: FileSelection, given: list[FileRecord] | None, product_id: str
    ) -> tuple[list[FileRecord], list[RejectedRecord], EarlyS3]:
        """The API listing, while S3 gets ready beside it.

        The API calls are mostly waiting. Meanwhile the S3 client is created (about a
        tenth of a second of CPU: botocore parses the S3 service model), leftovers of
        killed runs are aborted and, when the prefix is known upfront, the archive is
        listed and its index read: a no-op re-run pays about the longer of the two
        sides instead of their sum.
        """
        prefix = self._anticipated_prefix(selection, given, product_id)
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="s3-early") as pool:
            s3_side = pool.submit(self._s3_ready, prefix, product_id, pool)
            records, rejected = self._records(selection, given)
            early = s3_side.result()
        return records, rejected, early

    def _s3_ready(self, prefix: str | None, product_id: str, pool: ThreadPoolExecutor) -> EarlyS3:
        index = self._index(product_id)  # creates the client
        space = file_key_space(self.s3_prefix, product_id, self._kind, self.key_template)
        aborted = pool.submit(self.abort_stale_uploads, space)
        listing = None
        if prefix is not None:
            loaded = pool.submit(_preload, index)
            listing = Listing(prefix, self._list(prefix))
            loaded.result()
        return EarlyS3(index, listing, aborted.result())

    @property
    def _kind(self) -> str:
        """The file kind's value, also when given as a :class:`FileKind` (checked by ``_validate``)."""
        return FileKind.parse(self.file_kind).value

    def _key(self, record: FileRecord, product_id: str) -> str:
        template = self.key_template if record.is_final else None
        return object_key(record, product_id, self.s3_prefix, template)

    def _existing(self, keys: list[str], early: Listing | None) -> dict[str, dict[str, Any]]:
        """Objects already under the keys' common prefix: one listing page per 1,000 keys."""
        if not keys:
            return {}
        prefix = common_prefix(keys)
        if early is not None and prefix.startswith(early.prefix):
            return early.objects
        return self._list(prefix)

    def _list(self, prefix: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.s3_bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"]] = item
        return found

    def _index(self, product_id: str) -> ArchiveIndex:
        return ArchiveIndex(self.s3, self.s3_bucket, index_key(self.s3_prefix, product_id, self._kind))

    def _plan(
        self, records: list[FileRecord], index: ArchiveIndex, product_id: str, early: Listing | None
    ) -> list[PlannedFile]:
        keyed = [(record, self._key(record, product_id)) for record in records]
        existing = {} if self.replace else self._existing([key for _, key in keyed], early)
        candidates = [(r, k) for r, k in keyed if k in existing and r.size_matches(existing[k]["Size"])]
        if candidates and not index.loaded:
            index.load()
        indexed = {k for r, k in candidates if index.vouches_for(k, r, existing[k]["Size"])}
        archived = indexed | self._confirm_archived(
            [(r, k) for r, k in candidates if k not in indexed], index
        )
        plan = []
        for record, key in keyed:
            reason = "already archived" if key in archived else None
            if record.frequency == Frequency.OPEN.value and not record.is_available:
                reason = "open file not available yet"
            plan.append(PlannedFile(record, key, reason))
        return plan

    def _confirm_archived(self, candidates: list[tuple[FileRecord, str]], index: ArchiveIndex) -> set[str]:
        """Keys whose object carries our metadata for the same source file, with a matching size.

        Our metadata proves the object whole: it is only ever written by a single
        ``PutObject`` or a completed multipart upload. Confirmed keys are added to the
        index, so the next run needs no request for them.
        """
        if not candidates:
            return set()
        keys = [key for _, key in candidates]
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="s3-head") as pool:
            heads = dict(zip(keys, pool.map(self._head, keys), strict=True))
        confirmed = set()
        for record, key in candidates:
            meta, size = heads[key]
            same_source = meta.get("source-file-name") == record.file_name
            open_unchanged = record.is_final or meta.get("source-uncompressed-kb") == str(
                record.uncompressed_size_kb
            )
            if same_source and open_unchanged and record.size_matches(size):
                confirmed.add(key)
                index.add(key, record, size, meta.get(METADATA_SHA))
        return confirmed

    def _save_index(self, index: ArchiveIndex) -> None:
        """The index only saves requests: failing to write it must not fail (or hide) the transfer."""
        try:
            index.save()
        except s3_errors() as exc:
            self.log.warning(
                "Archive index %s not updated (%s); the next run checks with HeadObject", index.key, exc
            )

    def _head(self, key: str) -> tuple[dict[str, str], int]:
        head = self.s3.head_object(Bucket=self.s3_bucket, Key=key)
        return dict(head.get("Metadata", {})), int(head["ContentLength"])

    # -- transfer ---------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        selection, given = self._validate()
        product_id = self.hook.product_id()
        started = time.monotonic()
        records, rejected, early = self._records_while_s3_starts(selection, given, product_id)
        index = early.index
        plan = self._plan(records, index, product_id, early.listing)
        todo = [p for p in plan if p.skip_reason is None]
        self.log.info(
            "%d %s file(s) selected: %d to transfer, %d already archived",
            len(plan),
            selection.file_kind.value,
            len(todo),
            len(plan) - len(todo),
        )
        for bad in rejected:
            self.log.error("Skipped, not archived: %s", bad)
        with Progress(
            self.log,
            f"{selection.file_kind.value} to s3://{self.s3_bucket}",
            len(plan),
            self.progress_interval,
        ) as progress:
            for _ in range(len(plan) - len(todo)):
                progress.file_skipped()
            transferred, failed = self._transfer_all(todo, product_id, progress)
        by_key = {p.key: p.record for p in plan}
        for item in transferred:
            index.add(item["key"], by_key[item["key"]], item["size"], item["sha256"])
        self._save_index(index)
        manifest = self._manifest(plan, transferred, failed, product_id, time.monotonic() - started)
        manifest["rejected"] = [r.to_dict() for r in rejected]
        manifest["aborted_uploads"] = [a.to_dict() for a in early.aborted]
        if self.manifest_key:
            self._write_manifest(manifest)
        self.record_assets(context, [(t["key"], _asset_extra(t)) for t in transferred])
        lake_error = self._update_lake(manifest, plan, transferred, product_id, context)
        if failed or rejected:
            also = f"; the lake step failed too: {lake_error}" if lake_error else ""
            raise UsageIntelligenceTransferError(
                _failure_message(len(todo), failed, rejected, len(transferred)) + also
            ) from (failed[0]["exception"] if failed else lake_error)
        if lake_error is not None:
            raise lake_error
        return manifest

    def _update_lake(
        self,
        manifest: dict[str, Any],
        plan: list[PlannedFile],
        transferred: list[dict[str, Any]],
        product_id: str,
        context: Context,
    ) -> Exception | None:
        """Parquet partitions of the archived files (``lake_prefix``); its error, never hiding the
        archive's own failures, which the task reports first."""
        if not self.lake_prefix:
            return None
        from airflow_provider_usageintel.transfers.archive_to_lake import lake_after_archive

        try:
            manifest["lake"] = lake_after_archive(self, plan, transferred, product_id, context)
        except Exception as exc:  # reported with the archive's failures, or raised as it is
            return exc
        return None

    def _transfer_all(
        self, todo: list[PlannedFile], product_id: str, progress: Progress
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        transferred: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="usageintel-file")
        futures: dict[Future[dict[str, Any]], PlannedFile] = {
            pool.submit(self._transfer_one, item, product_id, progress): item for item in todo
        }
        try:
            for future in as_completed(futures):
                item = futures[future]
                try:
                    transferred.append(future.result())
                    progress.file_done()
                except s3_errors(UsageIntelligenceError) as exc:
                    # One file's S3 error (after boto3's own retries) must not stop the others.
                    progress.file_failed()
                    self.log.error("%s: %s", item.record.file_name, exc)
                    failed.append(
                        {
                            "file_name": item.record.file_name,
                            "key": item.key,
                            "error": str(exc),
                            "exception": exc,
                        }
                    )
        except BaseException:
            self._cancelled.set()  # SIGTERM or a bug: abort in-flight uploads, leave nothing partial
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        transferred.sort(key=lambda t: t["key"])
        return transferred, failed

    def _transfer_one(self, item: PlannedFile, product_id: str, progress: Progress) -> dict[str, Any]:
        record = item.record
        started = time.monotonic()
        stream = self.hook.open_file(record.file_kind, record, product_id)
        upload = StreamingUpload(
            self.s3,
            self.s3_bucket,
            item.key,
            metadata=object_metadata(record, product_id),
            final_metadata=lambda: {"size": stream.size, METADATA_SHA: stream.sha256},
            part_size=self.part_size,
            content_type="application/zip",
            log=self.log,
        )
        # A corrupt zip raises before the chunks run out, so the upload aborts instead of committing.
        chunks = (
            verified_zip(stream, record.file_name) if record.file_name.lower().endswith(".zip") else stream
        )
        upload.run(self._counted(chunks, progress))
        return {
            "file_name": record.file_name,
            "key": item.key,
            "size": stream.size,
            "sha256": stream.sha256,
            "start_date": record.start_date,
            "stop_date": record.stop_date,
            "frequency": record.frequency,
            "seconds": round(time.monotonic() - started, 3),
        }

    def _counted(self, chunks: Any, progress: Progress) -> Iterator[bytes]:
        for chunk in chunks:
            if self._cancelled.is_set():
                raise TransferCancelled("transfer cancelled")
            progress.add_bytes(len(chunk))
            yield chunk

    def on_kill(self) -> None:
        self._cancelled.set()
        super().on_kill()

    # -- manifest ---------------------------------------------------------------------------

    def _manifest(
        self,
        plan: list[PlannedFile],
        transferred: list[dict[str, Any]],
        failed: list[dict[str, Any]],
        product_id: str,
        seconds: float,
    ) -> dict[str, Any]:
        total = sum(t["size"] for t in transferred)
        return {
            "product_id": product_id,
            "file_kind": self._kind,
            "bucket": self.s3_bucket,
            "transferred": transferred,
            "skipped": [
                {"file_name": p.record.file_name, "key": p.key, "reason": p.skip_reason}
                for p in plan
                if p.skip_reason
            ],
            "failed": [{k: v for k, v in f.items() if k != "exception"} for f in failed],
            "files_transferred": len(transferred),
            "files_skipped": sum(1 for p in plan if p.skip_reason),
            "bytes": total,
            "seconds": round(seconds, 3),
        }

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        self.s3.put_object(
            Bucket=self.s3_bucket, Key=self.manifest_key, Body=body, ContentType="application/json"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _failure_message(
    tried: int, failed: list[dict[str, Any]], rejected: list[RejectedRecord], archived: int
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


def _preload(index: ArchiveIndex) -> None:
    """Read the index early; a failure is left to planning, which raises it only if it needs the index."""
    with contextlib.suppress(*s3_errors()):
        index.load()


def _asset_extra(transferred: dict[str, Any]) -> dict[str, Any]:
    return {
        k: transferred[k] for k in ("file_name", "size", "sha256", "start_date", "stop_date", "frequency")
    }
