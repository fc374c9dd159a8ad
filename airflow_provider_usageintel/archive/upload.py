"""Stream an iterable of byte chunks into one S3 object that appears only when complete.

Memory is bounded by ``part_size * (max_inflight + 1)`` whatever the object
size. Objects that fit in one part are written with a single ``PutObject``,
which also carries the metadata known only at the end (size, SHA-256). Larger
ones go through a multipart upload under the final key while the next part is
being read (download and upload overlap); S3 shows the object only once
``CompleteMultipartUpload`` succeeds, after the last byte was read and
checked. Their metadata is what is known before the first byte: adding the
end-of-stream values would take a server-side copy of the whole object, which
doubled the S3 work of every large file, so callers keep those values
elsewhere (the archive index, the run manifest). Any failure, including
SIGTERM, aborts the multipart upload: a partial object is never visible.

A process that is killed (SIGKILL, the out-of-memory killer) or loses S3
while aborting leaves its upload incomplete: invisible, but billed.
:func:`abort_stale_uploads` removes such leftovers on the task's next run, and
a bucket lifecycle rule (``AbortIncompleteMultipartUpload``) is the second line
of defence.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.archive.errors import s3_errors

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

DEFAULT_PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
#: what is left to send once the last byte is in, when the stream's length is known upfront.
LAST_PART_SIZE = 3 * 1024 * 1024
#: what a bucket lifecycle rule should do too, as the second line of defence (see docs/s3-layout.md).
LIFECYCLE_HINT = "the bucket's AbortIncompleteMultipartUpload lifecycle rule"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int
    parts: int


def _metadata(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


class _PartBuffers:
    """Part buffers given back once their upload is done, so that a new part reuses one.

    A fresh 8 MiB buffer costs two thousand page faults as it is first written, with the
    GIL held; a 1 GiB file would take 128 of them, where 5 go round.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    def take(self) -> bytearray:
        with self._lock:
            return self._free.pop() if self._free else bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        if len(buffer) == self.size:  # not a last part, which was cut short
            with self._lock:
                self._free.append(buffer)


class StreamingUpload:
    """One upload; call :meth:`run` once.

    :param metadata: known before the first byte; every object gets it.
    :param final_metadata: called after the last byte (size, checksum); only an object written
        in one request can carry it.
    :param size: called before each part is cut: the stream's full length once known (a
        download's announced length), else ``None``. The last parts are then cut short (see
        :meth:`_part_length`).
    """

    def __init__(
        self,
        s3: ArchiveS3Hook,
        bucket: str,
        key: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        final_metadata: Callable[[], Mapping[str, Any]] | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        max_inflight: int = 4,
        content_type: str = "application/octet-stream",
        log: Any = None,
        size: Callable[[], int | None] | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size: {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes")
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.metadata = _metadata(metadata or {})
        self._final_metadata = final_metadata
        self.part_size = part_size
        self.max_inflight = max(1, max_inflight)
        self.content_type = content_type
        self.size = 0
        self._buffers = _PartBuffers(part_size)
        self._log = log or _log
        self._expected_size = size

    def run(self, chunks: Iterable[bytes]) -> UploadedObject:
        parts = self._cut(chunks)
        first = next(parts, bytearray())
        second = next(parts, None)
        if second is None:
            self.size = len(first)
            self.s3.put_bytes(
                self.bucket,
                self.key,
                first,
                content_type=self.content_type,
                metadata={**self.metadata, **self._end_metadata()},
            )
            return UploadedObject(self.bucket, self.key, self.size, 1)
        return self._multipart(chain((first, second), parts))

    def _end_metadata(self) -> dict[str, str]:
        return _metadata(self._final_metadata()) if self._final_metadata else {}

    def _cut(self, chunks: Iterable[bytes]) -> Iterator[bytearray]:
        """Parts of ``part_size`` (near a known end, see :meth:`_part_length`), each byte copied once.

        A part is allocated only when the previous one was taken, so the
        consumer holds at most the parts it has not released yet plus one.
        """
        part, filled, start = self._buffers.take(), 0, 0
        length = self._part_length(start)
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                take = min(len(view), length - filled)
                part[filled : filled + take] = view[:take]
                filled += take
                view = view[take:]
                if filled == length:
                    if length < self.part_size:
                        del part[length:]  # shrinks in place: no copy
                    yield part
                    part, filled, start = self._buffers.take(), 0, start + length
                    length = self._part_length(start)
        if filled:
            del part[filled:]
            yield part

    def _part_length(self, start: int) -> int:
        """The length of the part starting at byte ``start``: ``part_size``, but for the last ones.

        After the last byte, its part still has to be uploaded before the upload completes.
        When the stream's length is known and above one part, the last part is cut down to
        :data:`LAST_PART_SIZE` (the one before stays at S3's minimum or more): less is left
        to send at the end, while the part before it uploads as the last bytes arrive.
        """
        total = self._expected_size() if self._expected_size is not None else None
        if total is None or total <= self.part_size:
            return self.part_size  # unknown, or one request's worth: its own end
        left, last_two = total - start, MIN_PART_SIZE + LAST_PART_SIZE
        if 0 < left <= self.part_size and left - LAST_PART_SIZE >= MIN_PART_SIZE:
            return left - LAST_PART_SIZE
        if self.part_size < left < self.part_size + last_two and left - last_two >= MIN_PART_SIZE:
            return left - last_two
        return self.part_size

    def _multipart(self, parts: Iterator[bytearray]) -> UploadedObject:
        upload_id = self.s3.start_upload(
            self.bucket, self.key, content_type=self.content_type, metadata=self.metadata
        )
        try:
            uploaded = self._upload_parts(upload_id, parts)
            self.s3.complete_upload(self.bucket, self.key, upload_id, uploaded)
        except BaseException:
            self._abort(upload_id)
            raise  # the error that stopped the upload, whatever became of the abort
        return UploadedObject(self.bucket, self.key, self.size, len(uploaded))

    def _abort(self, upload_id: str) -> None:
        """Abort, or say what is left behind: an abort that fails must not hide why the upload stopped."""
        try:
            self.s3.abort_upload(self.bucket, self.key, upload_id)
        except s3_errors() as exc:
            self._log.warning(
                "Aborting the multipart upload of s3://%s/%s failed too (%s); the incomplete upload "
                "stays until the task's next run or %s removes it",
                self.bucket,
                self.key,
                exc,
                LIFECYCLE_HINT,
            )

    def _upload_parts(self, upload_id: str, parts: Iterator[bytearray]) -> list[dict[str, Any]]:
        slots = threading.BoundedSemaphore(self.max_inflight)
        futures: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(max_workers=self.max_inflight, thread_name_prefix="s3-part") as pool:
            try:
                for data in parts:
                    # wait for a free slot before reading on: memory stays at max_inflight + 1 parts
                    slots.acquire()
                    self._raise_failed(futures)
                    self.size += len(data)
                    future = pool.submit(self._upload_part, upload_id, len(futures) + 1, data)
                    future.add_done_callback(functools.partial(self._part_done, slots, data))
                    futures.append(future)
                    del data
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _part_done(self, slots: threading.BoundedSemaphore, data: bytearray, _: Future[Any]) -> None:
        """The part's bytes are sent (or failed for good): its buffer and its slot are free."""
        self._buffers.give(data)
        slots.release()

    @staticmethod
    def _raise_failed(futures: list[Future[dict[str, Any]]]) -> None:
        """Stop reading as soon as a part failed instead of downloading the rest for nothing."""
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()

    def _upload_part(self, upload_id: str, number: int, data: bytearray) -> dict[str, Any]:
        return self.s3.upload_part(self.bucket, self.key, upload_id, number, data)


@dataclass(frozen=True)
class AbortedUpload:
    key: str
    initiated: dt.datetime

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "initiated": self.initiated.isoformat()}


def abort_stale_uploads(
    s3: ArchiveS3Hook,
    bucket: str,
    prefix: str,
    owns: Callable[[str], bool],
    older_than: dt.timedelta,
    log: Any = None,
    now: dt.datetime | None = None,
) -> list[AbortedUpload]:
    """Abort incomplete multipart uploads under ``prefix`` that ``owns`` and are older than ``older_than``.

    Leftovers of a run that was killed or lost S3 while aborting. Others' uploads (keys
    ``owns`` does not recognise) and recent ones (a concurrent run's) are left alone.
    Cleaning up only saves storage: failing to list or abort is logged, never raised.
    """
    log = log or _log
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        stale = [
            upload
            for upload in s3.incomplete_uploads(bucket, prefix)
            if owns(upload["Key"]) and now - upload["Initiated"] >= older_than
        ]
    except s3_errors() as exc:
        log.warning(
            "Incomplete multipart uploads under s3://%s/%s not checked (%s); leftovers of interrupted "
            "runs stay until %s removes them",
            bucket,
            prefix,
            exc,
            LIFECYCLE_HINT,
        )
        return []
    aborted = []
    for upload in stale:
        key, initiated = upload["Key"], upload["Initiated"]
        try:
            s3.abort_upload(bucket, key, upload["UploadId"])
        except s3_errors() as exc:
            log.warning("Incomplete multipart upload of s3://%s/%s not aborted (%s)", bucket, key, exc)
            continue
        log.warning(
            "Aborted an incomplete multipart upload of s3://%s/%s started %s, left by an interrupted run",
            bucket,
            key,
            initiated.isoformat(),
        )
        aborted.append(AbortedUpload(key, initiated))
    return aborted
