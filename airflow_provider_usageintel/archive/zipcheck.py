"""Verify a zip file's members (CRC-32 and sizes) while it streams past, in constant memory.

A download is committed to S3 as soon as its last byte arrives, so a corrupt
archive must be caught from the same chunks, without a second read and
without the central directory (which comes last). :class:`ZipChecker` walks
the local file headers in order: stored and deflated members are checked
against the CRC and sizes in their header or, when general purpose bit 3 is
set, in the data descriptor that follows them. A stored member with a data
descriptor has no length up front; its end is the first descriptor whose CRC
and size agree with the bytes before it, as streaming unzippers do. Members
compressed with other methods, or encrypted, cannot be checked here: the rest
of the file is then passed through unverified (the length and SHA-256 checks
of the download still apply).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError

LOCAL_SIG = b"PK\x03\x04"
DESCRIPTOR_SIG = b"PK\x07\x08"
#: a central directory or end record means every member has been seen.
TAIL_SIGS = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_ZIP64_EXTRA = 0x0001
STORED, DEFLATED = 0, 8
_FLAG_ENCRYPTED, _FLAG_DESCRIPTOR = 0x0001, 0x0008
#: bound on what one call inflates at once: a zip bomb cannot blow up memory.
MAX_INFLATE = 1024 * 1024
#: longest data descriptor: signature, CRC and two 8-byte (zip64) sizes.
_MAX_DESCRIPTOR = 24


class ZipCheckError(UsageIntelligenceTransferError):
    """The bytes are not an intact zip file."""


@dataclass
class _Member:
    name: str
    method: int
    crc: int
    compressed: int
    size: int
    descriptor: bool


class ZipChecker:
    """Feed the file's chunks in order with :meth:`feed`, then call :meth:`finish`."""

    def __init__(self, file_name: str = "zip file") -> None:
        self.file_name = file_name
        self.members = 0
        self.verified = True
        self._buf = bytearray()
        self._member: _Member | None = None
        self._crc = 0
        self._read = 0  # compressed bytes of the current member consumed
        self._written = 0  # uncompressed bytes of the current member
        self._inflater: zlib._Decompress | None = None
        self._awaiting_descriptor = False
        self._tail = False

    def feed(self, chunk: bytes) -> None:
        if self._tail or not self.verified:
            return  # central directory, or past a member we cannot check
        self._buf += chunk
        while self._step():
            pass

    def finish(self) -> None:
        """Raise :class:`ZipCheckError` unless the stream ended after a complete last member."""
        if self.verified and not self._tail:
            where = f"inside member {self._member.name!r}" if self._member else "before the central directory"
            raise ZipCheckError(f"{self.file_name}: zip file ends {where} (truncated or corrupt)")

    # -- state machine: each step consumes what it can and says whether to go on ----------------

    def _step(self) -> bool:
        if self._member is None:
            return self._header()
        if self._awaiting_descriptor:
            return self._descriptor()
        if self._member.method == STORED and self._member.descriptor:
            return self._stored_until_descriptor()
        return self._data()

    def _fail(self, problem: str) -> ZipCheckError:
        return ZipCheckError(f"{self.file_name}: {problem}")

    def _header(self) -> bool:
        if len(self._buf) < 4:
            return False
        signature = bytes(self._buf[:4])
        if signature in TAIL_SIGS:
            self._tail = True
            self._buf.clear()
            return False
        if signature != LOCAL_SIG:
            raise self._fail(f"no zip member header at member {self.members + 1} (corrupt or not a zip)")
        if len(self._buf) < _LOCAL.size:
            return False
        fields = _LOCAL.unpack_from(self._buf)
        name_len, extra_len = fields[9], fields[10]
        end = _LOCAL.size + name_len + extra_len
        if len(self._buf) < end:
            return False
        name = bytes(self._buf[_LOCAL.size : _LOCAL.size + name_len]).decode("utf-8", "replace")
        extra = bytes(self._buf[_LOCAL.size + name_len : end])
        del self._buf[:end]
        self._start(fields, name, extra)
        return True

    def _start(self, fields: tuple[int, ...], name: str, extra: bytes) -> None:
        flags, method, crc, compressed, size = fields[2], fields[3], fields[6], fields[7], fields[8]
        if 0xFFFFFFFF in (compressed, size):
            size, compressed = _zip64_sizes(extra, size, compressed)
        self.members += 1
        self._member = _Member(name, method, crc, compressed, size, bool(flags & _FLAG_DESCRIPTOR))
        self._crc = self._read = self._written = 0
        self._inflater = zlib.decompressobj(-15) if method == DEFLATED else None
        if method not in (STORED, DEFLATED) or flags & _FLAG_ENCRYPTED:
            self.verified = False  # cannot check it, nor find where it ends: stop here
            self._buf.clear()

    def _data(self) -> bool:
        """A member whose end is known: from its header (stored) or from the deflate stream."""
        member = self._member
        assert member is not None  # noqa: S101 - only called with a current member
        if self._inflater is None:
            self._take_data(min(member.compressed - self._read, len(self._buf)))
            done = self._read == member.compressed
        else:
            done = self._inflate()
        if not done:
            return False
        if member.descriptor:
            self._awaiting_descriptor = True
            return True
        self._close_member(member.crc, member.compressed, member.size)
        return True

    def _inflate(self) -> bool:
        inflater = self._inflater
        assert inflater is not None  # noqa: S101 - deflated members always have one
        data, self._buf = bytes(self._buf), bytearray()
        try:
            while data and not inflater.eof:
                out = inflater.decompress(data, MAX_INFLATE)
                self._read += len(data) - len(inflater.unconsumed_tail)
                self._crc = zlib.crc32(out, self._crc)
                self._written += len(out)
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            raise self._fail(f"member {self._name()!r} is not valid deflate data ({exc})") from None
        if inflater.eof:
            self._read -= len(inflater.unused_data)
            self._buf = bytearray(inflater.unused_data)
        return inflater.eof

    def _descriptor(self) -> bool:
        """The data descriptor after a deflated member: signature optional, sizes 4 or 8 bytes."""
        offset = 4 if self._buf[:4] == DESCRIPTOR_SIG else 0
        if len(self._buf) < offset + 12:
            return False
        crc, compressed, size = struct.unpack_from("<III", self._buf, offset)
        used = offset + 12
        if (compressed, size) != (self._read & 0xFFFFFFFF, self._written & 0xFFFFFFFF):
            if len(self._buf) < offset + 20:
                return False
            crc, compressed, size = struct.unpack_from("<IQQ", self._buf, offset)
            used = offset + 20
        del self._buf[:used]
        self._close_member(crc, compressed, size)
        return True

    def _stored_until_descriptor(self) -> bool:
        """Stored data runs to the first descriptor that matches the bytes before it."""
        while True:
            at = _find_descriptor(self._buf)
            if at < 0:
                keep = len(DESCRIPTOR_SIG) - 1  # a signature may straddle two chunks
                self._take_data(max(len(self._buf) - keep, 0))
                return False
            self._take_data(at)
            if len(self._buf) < _MAX_DESCRIPTOR:
                return False
            found = self._match_descriptor()
            if found:
                return True
            self._take_data(1)  # a "PK\7\8" inside the data: keep scanning after it

    def _match_descriptor(self) -> bool:
        crc, size32, usize32 = struct.unpack_from("<III", self._buf, 4)
        _, size64, usize64 = struct.unpack_from("<IQQ", self._buf, 4)
        for compressed, size, used in ((size32, usize32, 16), (size64, usize64, 24)):
            if compressed == size == self._read:
                if crc != self._crc:
                    raise self._crc_error(crc)
                del self._buf[:used]
                self._close_member(crc, compressed, size)
                return True
        return False

    def _take_data(self, count: int) -> None:
        if count:
            with memoryview(self._buf) as view, view[:count] as data:  # no copy of the data
                self._consume(data)
            del self._buf[:count]

    def _consume(self, data: bytes | memoryview) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._read += len(data)
        self._written += len(data)

    def _close_member(self, crc: int, compressed: int, size: int) -> None:
        if self._written != size or self._read != compressed:
            raise self._fail(
                f"member {self._name()!r} holds {self._written} bytes, its header or descriptor says {size}"
            )
        if crc != self._crc:
            raise self._crc_error(crc)
        self._member = None
        self._inflater = None
        self._awaiting_descriptor = False

    def _crc_error(self, expected: int) -> ZipCheckError:
        return self._fail(
            f"CRC-32 mismatch in member {self._name()!r} "
            f"(stored {expected:08x}, computed {self._crc:08x}): the file is corrupt"
        )

    def _name(self) -> str:
        return self._member.name if self._member else "?"


#: the descriptor signature's last byte: a control character that CSV text hardly ever holds.
_SIG_LAST = DESCRIPTOR_SIG[-1:]
#: false hits on it after which the data is taken for binary and searched for the whole signature.
_BINARY_HITS = 16


def _find_descriptor(buf: bytearray) -> int:
    """``buf.find(DESCRIPTOR_SIG)``, a few times faster on text.

    A one-byte search runs as ``memchr``; a four-byte one compares its way through. In
    text the last byte alone is found (almost) only where the signature is; in binary
    data it is common, and the whole signature is searched for instead.
    """
    size = len(DESCRIPTOR_SIG)
    at = buf.find(_SIG_LAST, size - 1)
    for _ in range(_BINARY_HITS):
        if at < 0 or buf[at - size + 1 : at + 1] == DESCRIPTOR_SIG:
            return at if at < 0 else at - size + 1
        at = buf.find(_SIG_LAST, at + 1)
    return -1 if at < 0 else buf.find(DESCRIPTOR_SIG, at - size + 1)


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    """Sizes from the zip64 extra field, in its order: uncompressed first, then compressed."""
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + length]
        if tag == _ZIP64_EXTRA:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if compressed == 0xFFFFFFFF and values:
                compressed = values.pop(0)
            break
        offset += 4 + length
    return size, compressed


def verified_zip(chunks: Iterable[bytes], file_name: str) -> Iterator[bytes]:
    """Pass ``chunks`` through, raising :class:`ZipCheckError` before the end if the zip is not intact.

    The error comes from inside the iteration, before it ends, so a consumer that
    commits only once the iterator is exhausted (StreamingUpload) never commits a
    corrupt file.
    """
    checker = ZipChecker(file_name)
    for chunk in chunks:
        checker.feed(chunk)
        yield chunk
    checker.finish()
