"""An index of archived objects, so a no-op re-run needs no request per object.

Deciding that a file is already archived needs the object's source metadata,
which S3 listings do not return: without an index that is one ``HeadObject``
per file (a 365-day history of three kinds is over a thousand). The index is
one small JSON object per product and file kind mapping each key this provider
wrote to its size, SHA-256 and source file (objects larger than one part carry
no SHA-256 metadata, so the index and the run manifest are where theirs is
kept). A key is trusted from the index only when the listing shows it with the
recorded size; anything else (a missing or unreadable index, an entry lost to
two runs writing the index at once) falls back to ``HeadObject``. The index
only saves requests: it never makes a file count as archived that S3 does not
hold.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow_provider_usageintel.api.files import FileRecord

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

INDEX_VERSION = 1
_IndexT = TypeVar("_IndexT", bound="JsonIndex")


class JsonIndex:
    """One small versioned JSON object of entries keyed by S3 key, read once and written if changed.

    The archive's index and the lake's share this; each names the section its entries live in.
    A missing or unreadable index is empty: an index only ever saves requests.
    """

    section: ClassVar[str]

    def __init__(self, s3: ArchiveS3Hook, bucket: str, key: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.entries: dict[str, dict[str, Any]] = {}
        self.loaded = False
        self._changed = False

    def load(self: _IndexT) -> _IndexT:
        """Read the index; a missing or unreadable one is empty."""
        body = self.s3.read_bytes(self.bucket, self.key)
        self.loaded = True
        if body is None:
            return self
        try:
            data = json.loads(body)
            entries = data[self.section] if data.get("version") == INDEX_VERSION else {}
        except (ValueError, KeyError, TypeError, AttributeError):
            entries = {}
        self.entries = {k: v for k, v in entries.items() if isinstance(v, dict)}
        return self

    def _set(self, key: str, entry: dict[str, Any]) -> None:
        if self.entries.get(key) != entry:
            self.entries[key] = entry
            self._changed = True

    def save(self) -> bool:
        """Write the index if anything changed; returns whether it was written."""
        if not self._changed:
            return False
        body = json.dumps({"version": INDEX_VERSION, self.section: self.entries}, sort_keys=True).encode()
        self.s3.put_bytes(
            self.bucket,
            self.key,
            body,
            content_type="application/json",
            # like every object this provider writes, verifiable from its own metadata
            metadata={"sha256": hashlib.sha256(body).hexdigest(), "size": str(len(body))},
        )
        self._changed = False
        return True


class ArchiveIndex(JsonIndex):
    """The archived objects of one product and file kind (every candidate not vouched for is HEADed)."""

    section = "objects"

    def vouches_for(self, key: str, record: FileRecord, listed_size: int) -> bool:
        """The listing shows ``key`` with the size recorded when this provider wrote it from ``record``."""
        entry = self.entries.get(key)
        if not entry or entry.get("source") != record.file_name:
            return False
        if entry.get("size") != listed_size:
            return False
        return record.is_final or entry.get("uncompressed_kb") == record.uncompressed_size_kb

    def expects(self, key: str, record: FileRecord) -> bool:
        """Whether :meth:`vouches_for` will, if the listing shows ``key`` with the size recorded here."""
        size = self.entries.get(key, {}).get("size")
        return isinstance(size, int) and record.size_matches(size) and self.vouches_for(key, record, size)

    def add(self, key: str, record: FileRecord, size: int, sha256: str | None) -> None:
        """``sha256`` is ``None`` for an object confirmed by ``HeadObject`` that was written in parts."""
        entry = {
            "size": size,
            "sha256": sha256,
            "source": record.file_name,
            "uncompressed_kb": record.uncompressed_size_kb,
        }
        self._set(key, entry)
