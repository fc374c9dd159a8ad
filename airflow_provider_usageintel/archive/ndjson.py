"""Rows to gzipped NDJSON as a stream of chunks: constant memory whatever the row count."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

#: rows are compressed in batches of about this many bytes.
BATCH_BYTES = 1024 * 1024


class GzipNdjson:
    """Iterate to get gzip bytes; afterwards ``rows``, ``size`` and ``sha256`` describe the output."""

    def __init__(self, rows: Iterable[Any], level: int = 6) -> None:
        self._rows = rows
        self._level = level
        self.rows = 0
        self.size = 0
        self._sha = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def _out(self, data: bytes) -> bytes:
        self.size += len(data)
        self._sha.update(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        compressor = zlib.compressobj(self._level, zlib.DEFLATED, 31)  # 31: gzip framing
        batch: list[bytes] = []
        pending = 0
        for row in self._rows:
            line = json.dumps(row, separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"
            batch.append(line)
            pending += len(line)
            self.rows += 1
            if pending >= BATCH_BYTES:
                data = compressor.compress(b"".join(batch))
                batch.clear()
                pending = 0
                if data:
                    yield self._out(data)
        yield self._out(compressor.compress(b"".join(batch)) + compressor.flush())
