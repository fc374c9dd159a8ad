"""Files streamed from their signed download URLs into S3, a few at a time, each whole or not at all.

Memory is bounded by ``part_size * 5`` per file in flight whatever the file size.
One file's failure (after boto3's and the hook's own retries) is recorded and the
others go on; SIGTERM, a kill or a bug cancels the pool, and every upload in
flight aborts instead of completing. Once the last download has ended, the API is
not needed any more: ``api_done`` is called then, while the last uploads complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.archive.errors import s3_errors
from airflow_provider_usageintel.archive.layout import object_metadata
from airflow_provider_usageintel.archive.plan import METADATA_SHA, PlannedFile
from airflow_provider_usageintel.archive.zipcheck import verified_zip
from airflow_provider_usageintel.exceptions import UsageIntelligenceError
from airflow_provider_usageintel.utils.progress import Progress

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook


class TransferCancelled(UsageIntelligenceError):
    """The task is being stopped; in-flight uploads abort instead of completing."""


@dataclass
class FilePool:
    """Streams planned files from the API (``api``) into ``bucket`` (``s3``)."""

    api: UsageIntelligenceHook
    s3: ArchiveS3Hook
    bucket: str
    product_id: str
    part_size: int
    max_concurrency: int
    log: Any
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: called once every download has ended (read to its end or failed), before the uploads complete.
    api_done: Callable[[], None] | None = None
    _downloading: _Countdown = field(init=False, repr=False)

    def run(
        self, todo: list[PlannedFile], *, skipped: int, label: str, interval: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Transfer every file of ``todo``, logging progress (``skipped`` files count as done) every
        ``interval`` seconds; returns what was written (by key) and what failed, and why."""
        self._downloading = _Countdown(len(todo), self.api_done)
        with Progress(self.log, label, len(todo) + skipped, interval) as progress:
            for _ in range(skipped):
                progress.file_skipped()
            return self._run(todo, progress)

    def _run(
        self, todo: list[PlannedFile], progress: Progress
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        transferred: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="usageintel-file")
        futures: dict[Future[dict[str, Any]], PlannedFile] = {
            pool.submit(self._transfer, item, progress): item for item in todo
        }
        try:
            for future in as_completed(futures):
                item = futures[future]
                try:
                    transferred.append(future.result())
                    progress.file_done()
                except s3_errors(UsageIntelligenceError) as exc:
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
            self.cancelled.set()  # SIGTERM or a bug: abort in-flight uploads, leave nothing partial
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        transferred.sort(key=lambda t: t["key"])
        return transferred, failed

    def _transfer(self, item: PlannedFile, progress: Progress) -> dict[str, Any]:
        record = item.record
        started = time.monotonic()
        downloaded = self._downloading.once()
        try:
            stream = self.api.open_file(record.file_kind, record, self.product_id)
            # A corrupt zip raises before the chunks run out, so the upload aborts instead of committing.
            chunks = (
                verified_zip(stream, record.file_name)
                if record.file_name.lower().endswith(".zip")
                else stream
            )
            self.s3.upload_stream(
                self.bucket,
                item.key,
                self._counted(chunks, progress, downloaded),
                metadata=object_metadata(record, self.product_id),
                final_metadata=lambda: {"size": stream.size, METADATA_SHA: stream.sha256},
                size=lambda: stream.total,
                part_size=self.part_size,
                content_type="application/zip",
                log=self.log,
            )
        finally:
            downloaded()  # a failed one too (its read may have been left unfinished)
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

    def _counted(
        self, chunks: Iterable[bytes], progress: Progress, downloaded: Callable[[], None]
    ) -> Iterator[bytes]:
        for chunk in chunks:
            if self.cancelled.is_set():
                raise TransferCancelled("transfer cancelled")
            progress.add_bytes(len(chunk))
            yield chunk
        downloaded()  # the last byte is in (and checked): the upload only completes from here


class _Countdown:
    """Calls ``then`` when ``count`` things have ended, each counted once however often it says so."""

    def __init__(self, count: int, then: Callable[[], None] | None) -> None:
        self._left = count
        self._then = then
        self._lock = threading.Lock()
        if count == 0:
            self._end()

    def once(self) -> Callable[[], None]:
        """What one of the things calls when it has ended."""
        ended = False

        def end() -> None:
            nonlocal ended
            with self._lock:
                if ended:
                    return
                ended = True
                self._left -= 1
                last = self._left == 0
            if last:
                self._end()

        return end

    def _end(self) -> None:
        if self._then is not None:
            self._then()
