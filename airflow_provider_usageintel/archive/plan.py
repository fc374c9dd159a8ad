"""What is archived already and what to transfer, with as few S3 requests as a re-run allows.

A file is archived when an object under its key comes from the same source file
with a size its listed size agrees with. The archive index vouches for the
objects this provider wrote (one listing, no request per object); any other
candidate is confirmed from its own metadata with ``HeadObject``, and added to
the index so the next run needs no request for it. Our metadata proves an
object whole: it is only ever written by a single ``PutObject`` or a completed
multipart upload.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.files import FileRecord, Frequency
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.archive.errors import s3_errors
from airflow_provider_usageintel.archive.index import ArchiveIndex
from airflow_provider_usageintel.archive.layout import (
    KeySpace,
    common_prefix,
    file_key_space,
    index_key,
    object_key,
    selection_prefix,
)
from airflow_provider_usageintel.archive.upload import AbortedUpload
from airflow_provider_usageintel.utils.gc_pause import collector_paused

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook, ObjectHead

#: the metadata field holding an object's SHA-256 (objects written in one request).
METADATA_SHA = "sha256"
ALREADY_ARCHIVED = "already archived"
OPEN_NOT_AVAILABLE = "open file not available yet"


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


@dataclass
class ArchivePlanner:
    """The archive of one product and file kind under ``prefix``, as seen by one run.

    :param s3: the hook every request goes through.
    :param key_template: layout of final files (``None``: the default layout).
    :param replace: plan every file for transfer, archived or not.
    :param max_concurrency: ``HeadObject`` requests at once.
    """

    s3: ArchiveS3Hook
    bucket: str
    prefix: str
    product_id: str
    file_kind: str
    key_template: str | None = None
    replace: bool = False
    max_concurrency: int = 4
    log: Any = None
    #: leftover uploads aborted while preparing.
    aborted: list[AbortedUpload] = field(default_factory=list, init=False)
    #: the S3 work started while preparing: the archive's listing and the index read.
    _early_listing: Future[Listing] | None = field(default=None, init=False, repr=False)
    _early_index: Future[None] | None = field(default=None, init=False, repr=False)

    @cached_property
    def index(self) -> ArchiveIndex:
        return ArchiveIndex(self.s3, self.bucket, index_key(self.prefix, self.product_id, self.file_kind))

    @property
    def key_space(self) -> KeySpace:
        """Every key this archive's files get, final and open: the only place leftovers are aborted."""
        return file_key_space(self.prefix, self.product_id, self.file_kind, self.key_template)

    def upfront_prefix(self, selection: FileSelection, *, given_records: bool) -> str | None:
        """The archive's listing prefix, when the selection fixes it as narrowly as the records would.

        A window open only at its end (``since`` alone) or a list of names is narrower
        once the records are known, so those wait for the API; so do given records.
        """
        if self.replace or given_records or selection.file_names is not None:
            return None
        if selection.since is not None and selection.until is None:
            return None
        return selection_prefix(selection, self.product_id, self.prefix, self.key_template)

    def key(self, record: FileRecord) -> str:
        template = self.key_template if record.is_final else None
        return object_key(record, self.product_id, self.prefix, template)

    @contextlib.contextmanager
    def preparing(
        self, abort_stale: Callable[[KeySpace], list[AbortedUpload]], listing_prefix: str | None
    ) -> Iterator[None]:
        """Get the S3 side ready while the body of the ``with`` (the API listing) runs.

        The API calls are mostly waiting. Meanwhile the S3 client is created (about a
        tenth of a second of CPU: botocore parses the S3 service model) and, when the
        prefix is known upfront, the archive is listed and its index read: a no-op re-run
        pays about the longer of the two sides instead of their sum. Leftovers of killed
        runs are aborted (``abort_stale(key_space)``) beside the listing, once the index is
        in: planning waits for the index, not for them. :meth:`plan` may run in the body;
        it waits for what it needs.

        The garbage collector stays paused until then (see utils/gc_pause.py): the S3
        client's objects, long-lived, would otherwise be scanned twice more in the middle
        of the listing, about 15 ms of a no-op task's 150.
        """
        with collector_paused(), ThreadPoolExecutor(max_workers=3, thread_name_prefix="s3-early") as pool:
            # Each job waits only for jobs submitted before it, and three workers run them all.
            connected = pool.submit(self.s3.get_conn)
            if listing_prefix is not None:
                self._early_listing = pool.submit(self._list_early, connected, listing_prefix)
                self._early_index = pool.submit(self._preload, connected)
            aborted = pool.submit(self._abort_stale, self._early_index or connected, abort_stale)
            yield
            self.aborted = aborted.result()

    def _list_early(self, connected: Future[Any], prefix: str) -> Listing:
        connected.result()
        return Listing(prefix, self.s3.list_objects(self.bucket, prefix))

    def _preload(self, connected: Future[Any]) -> None:
        """Read the index early; a failure is left to planning, which raises it only if it needs it."""
        connected.result()
        with contextlib.suppress(*s3_errors()):
            self.index.load()

    def _abort_stale(
        self, after: Future[Any], abort_stale: Callable[[KeySpace], list[AbortedUpload]]
    ) -> list[AbortedUpload]:
        """Leftovers are listed after ``after``: beside the archive's listing, not ahead of it."""
        after.result()
        return abort_stale(self.key_space)

    @property
    def listing(self) -> Listing | None:
        """The archive listed while preparing, when its prefix was known upfront (once it is)."""
        return self._early_listing.result() if self._early_listing is not None else None

    def existing(self, keys: list[str], early: Listing | None = None) -> dict[str, dict[str, Any]]:
        """Objects already under the keys' common prefix: one listing page per 1,000 keys."""
        early = early or self.listing
        if not keys:
            return {}
        prefix = common_prefix(keys)
        if early is not None and prefix.startswith(early.prefix):
            return early.objects
        return self.s3.list_objects(self.bucket, prefix)

    def plan(
        self, records: list[FileRecord], api_done: Callable[[], None] | None = None
    ) -> list[PlannedFile]:
        """Every record with its key, and why it is skipped when it is.

        ``api_done`` is called as soon as the index read while preparing shows every record
        archived, before the listing confirms it: a no-op run then ends its API session
        while S3 answers. Should the listing disagree, the downloads log in again.
        """
        keyed = [(record, self.key(record)) for record in records]
        if api_done is not None and self._foreseen_archived(keyed):
            api_done()
        existing = {} if self.replace else self.existing([key for _, key in keyed])
        candidates = [(r, k) for r, k in keyed if k in existing and r.size_matches(existing[k]["Size"])]
        self._wait_for_early_index()
        if candidates and not self.index.loaded:
            self.index.load()
        indexed = {k for r, k in candidates if self.index.vouches_for(k, r, existing[k]["Size"])}
        archived = indexed | self._confirm_archived([(r, k) for r, k in candidates if k not in indexed])
        plan = []
        for record, key in keyed:
            reason = ALREADY_ARCHIVED if key in archived else None
            if _unavailable(record):
                reason = OPEN_NOT_AVAILABLE
            plan.append(PlannedFile(record, key, reason))
        if self.log is not None:
            todo = sum(p.skip_reason is None for p in plan)
            self.log.info(
                "%d %s file(s) selected: %d to transfer, %d already archived",
                len(plan),
                self.file_kind,
                todo,
                len(plan) - todo,
            )
        return plan

    def _foreseen_archived(self, keyed: list[tuple[FileRecord, str]]) -> bool:
        """Whether the index read early vouches for every record at its listed size (no download)."""
        if self.replace or self._early_index is None:
            return False
        self._wait_for_early_index()
        return all(_unavailable(record) or self.index.expects(key, record) for record, key in keyed)

    def _wait_for_early_index(self) -> None:
        """The index read while preparing, if one was started, is in (or has failed) from here."""
        if self._early_index is not None:
            self._early_index.result()

    def _confirm_archived(self, candidates: list[tuple[FileRecord, str]]) -> set[str]:
        """Keys whose object carries our metadata for the same source file, with a matching size."""
        if not candidates:
            return set()
        keys = [key for _, key in candidates]
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="s3-head") as pool:
            heads: dict[str, ObjectHead] = dict(zip(keys, pool.map(self._head, keys), strict=True))
        confirmed = set()
        for record, key in candidates:
            head = heads[key]
            same_source = head.metadata.get("source-file-name") == record.file_name
            open_unchanged = record.is_final or head.metadata.get("source-uncompressed-kb") == str(
                record.uncompressed_size_kb
            )
            if same_source and open_unchanged and record.size_matches(head.size):
                confirmed.add(key)
                self.index.add(key, record, head.size, head.metadata.get(METADATA_SHA))
        return confirmed

    def _head(self, key: str) -> ObjectHead:
        return self.s3.head(self.bucket, key)

    def remember(self, plan: list[PlannedFile], transferred: list[dict[str, Any]]) -> None:
        """Add what was written to the index and save it.

        The index only saves requests: failing to write it must not fail (or hide) the transfer.
        """
        by_key = {p.key: p.record for p in plan}
        for item in transferred:
            self.index.add(item["key"], by_key[item["key"]], item["size"], item["sha256"])
        try:
            self.index.save()
        except s3_errors() as exc:
            if self.log is not None:
                self.log.warning(
                    "Archive index %s not updated (%s); the next run checks with HeadObject",
                    self.index.key,
                    exc,
                )


def _unavailable(record: FileRecord) -> bool:
    """Today's open file, listed before there is anything to download."""
    return record.frequency == Frequency.OPEN.value and not record.is_available
