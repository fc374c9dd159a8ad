"""Archive Usage Intelligence files into S3: incrementally, exactly once, in bounded memory.

The story of a run: validate every parameter, list the files (while the S3 side
gets ready), plan what is not archived yet (archive/plan.py), stream those in a
pool (transfers/file_pool.py), then write the manifest (archive/manifest.py).
Objects appear only when complete; re-runs skip what S3 already holds from the
same source and abort the uploads a killed run left behind under the task's own
keys. A listed record that is unsafe or malformed is skipped: the others are
archived, then the task fails naming it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.files import FileKind, FileRecord, RejectedRecord, unique_records
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.archive.manifest import asset_extra, files_manifest, raise_for_failures
from airflow_provider_usageintel.archive.plan import ArchivePlanner, PlannedFile
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, whole_number_within
from airflow_provider_usageintel.operators.base import Problems, parse_records
from airflow_provider_usageintel.transfers.archive_base import UsageIntelligenceArchiveBaseOperator
from airflow_provider_usageintel.transfers.archive_to_lake import ToS3AndLakeBaseOperator, keep_lake_in_step
from airflow_provider_usageintel.transfers.file_pool import FilePool
from airflow_provider_usageintel.utils.sessions import end_session_soon

MAX_CONCURRENCY = 64


class UsageIntelligenceFilesToS3Operator(UsageIntelligenceArchiveBaseOperator, ToS3AndLakeBaseOperator):
    """Stream custom-event, exception or raw-event files into S3, skipping those already archived.

    Takes the selection and layout parameters of
    :class:`~airflow_provider_usageintel.transfers.archive_base.UsageIntelligenceArchiveBaseOperator`
    (``file_kind``, ``frequency``, ``since``, ``until``, ``file_names``, ``s3_prefix``,
    ``key_template``, ``manifest_key``), ``product_id`` and ``usage_intelligence_conn_id``.
    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``,
    ``part_size``, ``progress_interval``) and the lake's (``lake_prefix``, ``lake_options``) are
    those of :class:`~airflow_provider_usageintel.transfers.archive_to_lake.ToS3AndLakeBaseOperator`;
    memory per file in flight is at most about five parts, and with ``lake_prefix`` each final file
    also becomes a Parquet partition of the lake. Its own:

    :param files: file records (dicts from ``UsageIntelligenceListFilesOperator``), or one record when
        the task is mapped with ``.expand(files=...)``; skips the listing call.
    :param replace: transfer even files already archived.
    :param max_concurrency: files transferred at once.
    :param include_open: also archive today's open (non-final) file, under ``{prefix}/open/``; it is
        overwritten when its content changes.

    Returns (pushed to XCom): the manifest: transferred, skipped, failed and rejected files, aborted
    leftover uploads, bytes, durations.
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceArchiveBaseOperator.template_fields,
        *ToS3AndLakeBaseOperator.template_fields,
        "files",
    )
    template_fields_renderers = {"files": "json", "file_names": "json"}

    def __init__(
        self,
        *,
        files: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        replace: bool = False,
        max_concurrency: int = 4,
        include_open: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.replace = replace
        self.max_concurrency = max_concurrency
        self.include_open = include_open
        self._cancelled = threading.Event()

    # -- the story ------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        selection, given = self._validate()
        product_id = self.hook.product_id()
        started = time.monotonic()
        planner = self._planner(product_id)
        early_prefix = planner.upfront_prefix(selection, given_records=given is not None)
        with planner.preparing(self.destination.abort_stale_uploads, early_prefix):
            records, rejected = self._records(selection, given)
            plan = planner.plan(records, api_done=lambda: end_session_soon(self))
        todo = [p for p in plan if p.skip_reason is None]
        for bad in rejected:
            self.log.error("Skipped, not archived: %s", bad)
        transferred, failed = self._transfer(todo, len(plan), product_id)
        planner.remember(plan, transferred)
        manifest = files_manifest(
            product_id=product_id,
            file_kind=planner.file_kind,
            bucket=self.s3_bucket,
            plan=plan,
            transferred=transferred,
            failed=failed,
            rejected=rejected,
            aborted=planner.aborted,
            seconds=time.monotonic() - started,
        )
        if self.manifest_key:
            self.destination.put_json(self.manifest_key, manifest)
        self.destination.record_assets(context, [(t["key"], asset_extra(t)) for t in transferred])
        lake_error = keep_lake_in_step(self, manifest, plan, transferred, product_id, context)
        raise_for_failures(len(todo), failed, rejected, len(transferred), lake_error)
        return manifest

    def on_kill(self) -> None:
        self._cancelled.set()  # uploads in flight abort instead of completing
        super().on_kill()

    # -- validate -------------------------------------------------------------------------------

    def _validate(self) -> tuple[FileSelection, list[FileRecord] | None]:
        """Check every parameter before any network call; report all problems at once."""
        problems = Problems()
        selection = self.parse_selection(problems, include_open=self.include_open)
        given = None
        if self.files is not None:
            given = parse_records(self.files, selection.file_kind if selection else None, problems)
        self.check_product_id(problems)
        self.destination.check(problems)
        self.check_archive(problems)
        whole_number_within(self.max_concurrency, "max_concurrency", 1, MAX_CONCURRENCY, problems)
        self.check_streaming(problems)
        self.check_lake(problems)
        problems.raise_if_any()
        if selection is None:  # pragma: no cover - a failed parse recorded problems above
            raise UsageIntelligenceValidationError("file_kind: no valid selection")
        return selection, given

    # -- list -----------------------------------------------------------------------------------

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

    # -- plan -----------------------------------------------------------------------------------

    def _planner(self, product_id: str) -> ArchivePlanner:
        return ArchivePlanner(
            self.destination.hook,
            self.s3_bucket,
            self.s3_prefix,
            product_id,
            FileKind.parse(self.file_kind).value,
            key_template=self.key_template,
            replace=self.replace,
            max_concurrency=self.max_concurrency,
            log=self.log,
        )

    # -- transfer -------------------------------------------------------------------------------

    def _transfer(
        self, todo: list[PlannedFile], planned: int, product_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        pool = FilePool(
            self.hook,
            self.destination.hook,
            self.s3_bucket,
            product_id,
            self.part_size,
            self.max_concurrency,
            self.log,
            self._cancelled,
            api_done=lambda: end_session_soon(self),
        )
        label = f"{FileKind.parse(self.file_kind).value} to s3://{self.s3_bucket}"
        return pool.run(todo, skipped=planned - len(todo), label=label, interval=self.progress_interval)
