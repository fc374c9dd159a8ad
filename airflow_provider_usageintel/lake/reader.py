"""Read an archived object from S3 as a seekable file, streaming, in constant memory.

``zipfile`` needs to seek (the central directory comes last), and the archive
is in S3, not on disk: this file answers reads from ranged GETs pinned to the
object's ETag (``IfMatch``), so an object replaced while it is read fails the
read instead of mixing two versions.

While the zip is read front to back, the blocks are also hashed in order;
:meth:`S3File.sha256` hashes whatever was not read in order (the central
directory at the end) and returns the SHA-256 of the whole object, the
identity the archive index and manifests record. Every request goes through
:class:`~airflow_provider_usageintel.hooks.s3.ArchiveS3Hook`.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError
from airflow_provider_usageintel.hooks.s3 import error_code

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

#: what ``readinto`` and the final hashing read at once.
READ_SIZE = 1024 * 1024
#: what S3 answers a read pinned to an ETag the object no longer has.
CHANGED = ("PreconditionFailed", "412")


class S3File(io.RawIOBase):
    """A read-only, seekable view of ``s3://bucket/key`` as it was when opened (``etag``).

    Reads in order are served by one open GET (``Range: bytes=pos-``), so a zip is read
    front to back in one request whatever its size; a seek elsewhere (``zipfile`` reads
    the central directory first) opens another one there.
    """

    def __init__(
        self,
        s3: ArchiveS3Hook,
        bucket: str,
        key: str,
        *,
        size: int | None = None,
        etag: str | None = None,
    ) -> None:
        super().__init__()
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        if size is None or etag is None:
            head = s3.head(bucket, key)
            size, etag = head.size, head.etag
        self.size = size
        self.etag = etag
        self.requests = 0
        self._pos = 0
        self._body: Any = None
        self._body_pos = -1
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

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes in one piece (``zipfile`` and pyarrow take them without a copy)."""
        want = self.size - self._pos if size is None or size < 0 else min(size, self.size - self._pos)
        if want <= 0:
            return b""
        if self._body is None or self._body_pos != self._pos:
            self._open(self._pos)
        data: bytes = self._body.read(want)
        if not data:
            raise UsageIntelligenceTransferError(
                f"s3://{self.bucket}/{self.key}: the object ended at {self._pos} of {self.size} bytes"
            )
        if self._pos == self._hashed:
            self._sha.update(data)
            self._hashed += len(data)
        self._pos += len(data)
        self._body_pos = self._pos
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(min(len(buffer), READ_SIZE))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._drop()
        super().close()

    # -- requests ---------------------------------------------------------------------------

    def _open(self, start: int) -> None:
        self._drop()
        self.requests += 1
        try:
            self._body = self.s3.open_range(self.bucket, self.key, start, self.size - 1, self.etag)
        except ClientError as exc:
            if error_code(exc) in CHANGED:
                raise UsageIntelligenceTransferError(
                    f"s3://{self.bucket}/{self.key} changed while it was read (ETag is no longer {self.etag})"
                ) from None
            raise
        self._body_pos = start

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def sha256(self) -> str:
        """SHA-256 of the whole object: the bytes not yet hashed in order are read now."""
        self.seek(self._hashed)
        while self._hashed < self.size:
            self.read(READ_SIZE)
        return self._sha.hexdigest()
