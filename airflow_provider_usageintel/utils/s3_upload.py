"""Stream an iterable of byte chunks into one S3 object that appears only when complete.

Memory is bounded by ``part_size * (max_inflight + 1)`` whatever the object
size. Objects that fit in one part are written with a single ``PutObject``.
Larger ones go through a multipart upload to a staging key while the next
part is being read (download and upload overlap), then a server-side copy
puts them under the final key with their metadata, which includes a SHA-256
known only at the end. Any failure, including SIGTERM, aborts the multipart
upload and removes the staging object: a partial object is never visible.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

DEFAULT_PART_SIZE = 16 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
#: CopyObject copies up to 5 GiB in one request; above that boto3's managed copy uses UploadPartCopy.
SINGLE_COPY_LIMIT = 5 * 1024**3


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    size: int
    parts: int


def _metadata(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


class StreamingUpload:
    """One upload; call :meth:`run` once."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        staging_key: str,
        metadata: Callable[[], Mapping[str, Any]],
        part_size: int = DEFAULT_PART_SIZE,
        max_inflight: int = 2,
        content_type: str = "application/octet-stream",
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size: {part_size} is below S3's minimum of {MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.key = key
        self.staging_key = staging_key
        self._metadata = metadata
        self.part_size = part_size
        self.max_inflight = max(1, max_inflight)
        self.content_type = content_type
        self.size = 0

    def run(self, chunks: Iterable[bytes]) -> UploadedObject:
        buffer = bytearray()
        iterator = iter(chunks)
        for chunk in iterator:
            buffer += chunk
            if len(buffer) > self.part_size:
                return self._multipart(buffer, iterator)
        self.size = len(buffer)
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=bytes(buffer),
            ContentType=self.content_type,
            Metadata=_metadata(self._metadata()),
        )
        return UploadedObject(self.bucket, self.key, self.size, 1)

    def _multipart(self, buffer: bytearray, rest: Iterable[bytes]) -> UploadedObject:
        upload_id = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self.staging_key, ContentType=self.content_type
        )["UploadId"]
        try:
            parts = self._upload_parts(upload_id, buffer, rest)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.staging_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.staging_key, UploadId=upload_id)
            raise
        try:
            self._publish()
        finally:
            self.client.delete_object(Bucket=self.bucket, Key=self.staging_key)
        return UploadedObject(self.bucket, self.key, self.size, len(parts))

    def _upload_parts(self, upload_id: str, buffer: bytearray, rest: Iterable[bytes]) -> list[dict[str, Any]]:
        slots = threading.BoundedSemaphore(self.max_inflight)
        futures: list[Future[dict[str, Any]]] = []
        with ThreadPoolExecutor(max_workers=self.max_inflight, thread_name_prefix="s3-part") as pool:

            def submit(data: bytes) -> None:
                slots.acquire()
                self.size += len(data)
                number = len(futures) + 1
                future = pool.submit(self._upload_part, upload_id, number, data)
                future.add_done_callback(lambda _: slots.release())
                futures.append(future)

            def drain() -> None:
                while len(buffer) >= self.part_size:
                    self._raise_failed(futures)
                    submit(bytes(buffer[: self.part_size]))
                    del buffer[: self.part_size]

            try:
                drain()
                for chunk in rest:
                    buffer += chunk
                    drain()
                if buffer:
                    submit(bytes(buffer))
                buffer.clear()
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    @staticmethod
    def _raise_failed(futures: list[Future[dict[str, Any]]]) -> None:
        """Stop reading as soon as a part failed instead of downloading the rest for nothing."""
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()

    def _upload_part(self, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.staging_key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _publish(self) -> None:
        """Server-side copy to the final key, now that the metadata (with the checksum) is known."""
        extra = {
            "Metadata": _metadata(self._metadata()),
            "MetadataDirective": "REPLACE",
            "ContentType": self.content_type,
        }
        source = {"Bucket": self.bucket, "Key": self.staging_key}
        if self.size <= SINGLE_COPY_LIMIT:
            self.client.copy_object(Bucket=self.bucket, Key=self.key, CopySource=source, **extra)
        else:
            self.client.copy(source, self.bucket, self.key, ExtraArgs=extra)
