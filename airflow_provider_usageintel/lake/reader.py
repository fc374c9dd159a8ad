"""Read an archived object from S3 as a seekable file, one ranged GET per block, in constant memory.

``zipfile`` needs to seek (the central directory comes last), and the archive
is in S3, not on disk: this file keeps one block in memory and fetches blocks
with ``Range`` requests pinned to the object's ETag (``IfMatch``), so an object
replaced while it is read fails the read instead of mixing two versions.

While the zip is read front to back, the blocks are also hashed in order;
:meth:`S3File.sha256` hashes whatever was not read in order (the central
directory at the end) and returns the SHA-256 of the whole object, the
identity the archive index and manifests record.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from botocore.exceptions import ClientError

from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError

DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024


class S3File(io.RawIOBase):
    """A read-only, seekable view of ``s3://bucket/key`` as it was when opened (``etag``)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        etag: str | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> None:
        super().__init__()
        self.client = client
        self.bucket = bucket
        self.key = key
        if size is None or etag is None:
            head = client.head_object(Bucket=bucket, Key=key)
            size, etag = int(head["ContentLength"]), str(head["ETag"])
        self.size = size
        self.etag = etag
        self.block_size = block_size
        self.requests = 0
        self._pos = 0
        self._block_start = 0
        self._block = b""
        self._sha = hashlib.sha256()
        self._hashed = 0

    # -- io.RawIOBase -----------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self.size:
            offset = self._pos - self._block_start
            if not 0 <= offset < len(self._block):
                self._load(self._pos)
                offset = 0
            take = min(len(view) - done, len(self._block) - offset)
            view[done : done + take] = self._block[offset : offset + take]
            done += take
            self._pos += take
        return done

    # -- blocks -----------------------------------------------------------------------------

    def _load(self, position: int) -> None:
        """The block holding ``position``; a block read in order is also hashed."""
        start = position
        stop = min(self.size, start + self.block_size)
        self._block = self._get(start, stop)
        self._block_start = start
        if start <= self._hashed < stop:
            self._sha.update(memoryview(self._block)[self._hashed - start :])
            self._hashed = stop

    def _get(self, start: int, stop: int) -> bytes:
        self.requests += 1
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{stop - 1}", IfMatch=self.etag
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                raise UsageIntelligenceTransferError(
                    f"s3://{self.bucket}/{self.key} changed while it was read (ETag is no longer {self.etag})"
                ) from None
            raise
        data: bytes = answer["Body"].read()
        if len(data) != stop - start:
            raise UsageIntelligenceTransferError(
                f"s3://{self.bucket}/{self.key}: asked for {stop - start} bytes at {start}, got {len(data)}"
            )
        return data

    def sha256(self) -> str:
        """SHA-256 of the whole object: the bytes not yet hashed in order are read now."""
        while self._hashed < self.size:
            self._load(self._hashed)
        return self._sha.hexdigest()
