"""Archive Usage Intelligence files into S3: incrementally, exactly once, in bounded memory.

Each file is streamed from its signed download URL straight into S3 (no local
disk); memory is bounded by ``part_size * 5`` per concurrent file whatever the
file size. Objects appear only when complete and carry the source file's
name, kind and dates in their metadata (files of one part also their SHA-256,
which the archive index and the manifest hold for every file). Re-runs skip
files S3 already holds from the same source with the same size.
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
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_usageintel.api.files import FileRecord, Frequency
from airflow_provider_usageintel.api.selection import DateLike, FileSelection
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceError,
    UsageIntelligenceTransferError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.operators.base import Problems, parse_records, positive_number
from airflow_provider_usageintel.transfers.base import UsageIntelligenceToS3BaseOperator
from airflow_provider_usageintel.utils.archive_index import ArchiveIndex
from airflow_provider_usageintel.utils.keys import (
    check_key_template,
    common_prefix,
    object_key,
    object_metadata,
    selection_prefix,
)
from airflow_provider_usageintel.utils.progress import Progress
from airflow_provider_usageintel.utils.s3_upload import DEFAULT_PART_SIZE, MIN_PART_SIZE, StreamingUpload
from airflow_provider_usageintel.utils.s3_validation import check_key
from airflow_provider_usageintel.utils.zipcheck import verified_zip

#: one index object per product and file kind under ``{s3_prefix}/_index/`` (see utils/archive_index.py).
INDEX_DIR = "_index"
MAX_CONCURRENCY = 64
#: listed sizes are rounded KB: an object is the same file when its exact size agrees with them.
METADATA_SHA = "sha256"


class TransferCancelled(UsageIntelligenceError):
    """The task is being stopped; in-flight uploads abort instead of completing."""


@dataclass(frozen=True)
class Listing:
    """The archive's objects under ``prefix``, by key."""

    prefix: str
    objects: dict[str, dict[str, Any]]


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
    connection ids, asset_alias).

    :return: the manifest: transferred and skipped files, bytes, durations.
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
        if self.key_template:
            problems.check(check_key_template, self.key_template)
        if self.manifest_key:
            problems.check(check_key, self.manifest_key, "manifest_key")
        positive_number(self.part_size, "part_size", problems)
        positive_number(self.max_concurrency, "max_concurrency", problems)
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
        if not isinstance(self.max_concurrency, int) or not 1 <= self.max_concurrency <= 64:
            problems.append(f"max_concurrency: {self.max_concurrency!r} is out of range (allowed: 1 to 64)")
        if not isinstance(self.part_size, int) or self.part_size < MIN_PART_SIZE:
            problems.append(
                f"part_size: {self.part_size!r} is below S3's minimum (allowed: >= {MIN_PART_SIZE})"
            )
        if problems:
            raise UsageIntelligenceValidationError(problems)

    # -- planning ---------------------------------------------------------------------------

    def _records(self, selection: FileSelection, given: list[FileRecord] | None) -> list[FileRecord]:
        if given is not None:
            return selection.apply(given) if self.file_names else given
        return selection.apply(self.hook.list_files(selection.file_kind))

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
    ) -> tuple[list[FileRecord], ArchiveIndex, Listing | None]:
        """The API listing, while S3 gets ready beside it.

        The API calls are mostly waiting. Meanwhile the S3 client is created (about a
        tenth of a second of CPU: botocore parses the S3 service model) and, when the
        prefix is known upfront, the archive is listed and its index read: a no-op
        re-run pays about the longer of the two sides instead of their sum.
        """
        prefix = self._anticipated_prefix(selection, given, product_id)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="s3-early") as pool:
            s3_side = pool.submit(self._s3_ready, prefix, product_id, pool)
            records = self._records(selection, given)
            index, listing = s3_side.result()
        return records, index, listing

    def _s3_ready(
        self, prefix: str | None, product_id: str, pool: ThreadPoolExecutor
    ) -> tuple[ArchiveIndex, Listing | None]:
        index = self._index(product_id)  # creates the client
        if prefix is None:
            return index, None
        loaded = pool.submit(_preload, index)
        listing = Listing(prefix, self._list(prefix))
        loaded.result()
        return index, listing

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
        key = f"{self.s3_prefix.strip('/')}/{INDEX_DIR}/{product_id}/{self.file_kind}.json".lstrip("/")
        return ArchiveIndex(self.s3, self.s3_bucket, key)

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
        except (BotoCoreError, ClientError) as exc:
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
        records, index, early = self._records_while_s3_starts(selection, given, product_id)
        plan = self._plan(records, index, product_id, early)
        todo = [p for p in plan if p.skip_reason is None]
        self.log.info(
            "%d %s file(s) selected: %d to transfer, %d already archived",
            len(plan),
            selection.file_kind.value,
            len(todo),
            len(plan) - len(todo),
        )
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
        if self.manifest_key:
            self._write_manifest(manifest)
        self.record_assets(context, [(t["key"], _asset_extra(t)) for t in transferred])
        if self.lake_prefix:
            from airflow_provider_usageintel.transfers.archive_to_lake import lake_after_archive

            manifest["lake"] = lake_after_archive(self, plan, transferred, product_id, context)
        if failed:
            names = ", ".join(f["file_name"] for f in failed)
            raise UsageIntelligenceTransferError(
                f"{len(failed)} of {len(todo)} file(s) failed ({names}); {len(transferred)} archived. "
                "A retry transfers only what is missing."
            )
        return manifest

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
                except (UsageIntelligenceError, BotoCoreError, ClientError) as exc:
                    # One file's S3 error (after boto3's own retries) must not stop the others.
                    progress.file_failed()
                    self.log.error("%s: %s", item.record.file_name, exc)
                    failed.append({"file_name": item.record.file_name, "key": item.key, "error": str(exc)})
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
            "file_kind": str(self.file_kind),
            "bucket": self.s3_bucket,
            "transferred": transferred,
            "skipped": [
                {"file_name": p.record.file_name, "key": p.key, "reason": p.skip_reason}
                for p in plan
                if p.skip_reason
            ],
            "failed": failed,
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


def _preload(index: ArchiveIndex) -> None:
    """Read the index early; a failure is left to planning, which raises it only if it needs the index."""
    with contextlib.suppress(BotoCoreError, ClientError):
        index.load()


def _asset_extra(transferred: dict[str, Any]) -> dict[str, Any]:
    return {
        k: transferred[k] for k in ("file_name", "size", "sha256", "start_date", "stop_date", "frequency")
    }
