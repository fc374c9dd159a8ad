"""Single-member stored zip files produced on demand, in one pass, at any size.

A served file must not cost memory proportional to its size, and its exact
length must be known before a byte is generated (listings, ``Content-Length``
and ``Range`` depend on it). So the CSV member is described as
``head + block * repeats + tail`` and stored uncompressed with a data
descriptor (general purpose flag bit 3): the zip framing around it has a fixed
size, and the CRC of the repeated part comes from ``crc32_combine`` arithmetic
instead of reading gigabytes.
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

CHUNK_SIZE = 1024 * 1024
#: what a run of a zip is made of: bytes, or a zero-copy slice of them.
Buffer = bytes | memoryview
#: zip32 offsets and sizes are 32-bit; the emulator never needs zip64.
MAX_ZIP_SIZE = 0xFFFFFFFF - 1024

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_DESCRIPTOR = struct.Struct("<IIII")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_LOCAL_SIG, _DESCRIPTOR_SIG, _CENTRAL_SIG, _END_SIG = 0x04034B50, 0x08074B50, 0x02014B50, 0x06054B50
_VERSION = 20
_FLAG_DATA_DESCRIPTOR = 0x0008
_STORED = 0

_CRC_POLY = 0xEDB88320


def _multmodp(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC-32 polynomial (zlib's ``multmodp``)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _x2n_table() -> tuple[int, ...]:
    p = 1 << 30
    table = [p]
    for _ in range(1, 32):
        p = _multmodp(p, p)
        table.append(p)
    return tuple(table)


_X2N = _x2n_table()


def _x2nmodp(n: int, k: int) -> int:
    p = 1 << 31
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)``, without the bytes."""
    return _multmodp(_x2nmodp(len2, 3), crc1) ^ crc2


def crc32_repeat(crc: int, length: int, times: int, start: int = 0) -> int:
    """CRC-32 of a byte string repeated ``times`` times (after bytes whose CRC-32 is ``start``).

    O(log times) polynomial products: ``shift`` is the operator that appends ``length`` zero
    bytes, and doubling the run squares it, which is one product where recomputing it from
    ``length`` would be one per bit of ``length``.
    """
    result = start
    shift = _x2nmodp(length, 3)
    while times:
        if times & 1:
            result = _multmodp(shift, result) ^ crc
        times >>= 1
        if times:
            crc = _multmodp(shift, crc) ^ crc
            shift = _multmodp(shift, shift)
    return result


def zip_overhead(member_name: str) -> int:
    """Bytes a zip adds around its single stored member: fixed, so sizes are plain arithmetic."""
    name_len = len(member_name.encode())
    return _LOCAL.size + _DESCRIPTOR.size + _CENTRAL.size + _END.size + 2 * name_len


def member_length_for(zip_size: int, member_name: str) -> int:
    """Length the member must have for the zip to be exactly ``zip_size`` bytes."""
    return zip_size - zip_overhead(member_name)


@dataclass(frozen=True)
class RepeatedContent:
    """Member bytes spelled as ``head + block * repeats + tail``."""

    head: bytes
    block: bytes
    repeats: int
    tail: bytes

    @property
    def length(self) -> int:
        return len(self.head) + len(self.block) * self.repeats + len(self.tail)

    @cached_property
    def crc32(self) -> int:
        crc = crc32_repeat(zlib.crc32(self.block), len(self.block), self.repeats, zlib.crc32(self.head))
        return zlib.crc32(self.tail, crc)

    def segments(self) -> list[tuple[Buffer, int]]:
        """The content as ``(bytes, times)`` runs."""
        return [(self.head, 1), *self._body_runs, (self.tail, 1)]

    @cached_property
    def _body_runs(self) -> tuple[tuple[Buffer, int], ...]:
        """The repeats, a small block widened to about :data:`CHUNK_SIZE` (built once per file).

        Slices of a small block reach the socket only after :func:`_coalesce` copies them
        together; slices of a wide one are large enough to be sent as they are.
        """
        factor = CHUNK_SIZE // len(self.block) if self.block else 1
        if factor <= 1 or self.repeats < factor:
            return ((self.block, self.repeats),)
        wide = self.block * factor
        times, rest = divmod(self.repeats, factor)
        return ((wide, times), (memoryview(wide)[: rest * len(self.block)], 1))


def _dos_date(day: dt.date) -> int:
    return ((day.year - 1980) << 9) | (day.month << 5) | day.day


class StoredZip:
    """A zip holding one stored member; bytes are produced lazily, any byte range on request."""

    def __init__(self, member_name: str, content: RepeatedContent, modified: dt.date) -> None:
        self.member_name = member_name
        self.content = content
        self.modified = modified
        self.size = content.length + zip_overhead(member_name)
        if self.size > MAX_ZIP_SIZE:
            raise ValueError(f"{member_name}: {self.size} bytes is beyond what a zip32 file can hold")

    def _local_header(self) -> bytes:
        name = self.member_name.encode()
        date = _dos_date(self.modified)
        fields = (_LOCAL_SIG, _VERSION, _FLAG_DATA_DESCRIPTOR, _STORED, 0, date, 0, 0, 0, len(name), 0)
        return _LOCAL.pack(*fields) + name

    def _trailer(self) -> bytes:
        name = self.member_name.encode()
        length, crc = self.content.length, self.content.crc32
        descriptor = _DESCRIPTOR.pack(_DESCRIPTOR_SIG, crc, length, length)
        central = (
            _CENTRAL.pack(
                _CENTRAL_SIG,
                _VERSION,
                _VERSION,
                _FLAG_DATA_DESCRIPTOR,
                _STORED,
                0,
                _dos_date(self.modified),
                crc,
                length,
                length,
                len(name),
                0,
                0,
                0,
                0,
                0,
                0,
            )
            + name
        )
        central_offset = _LOCAL.size + len(name) + length + len(descriptor)
        end = _END.pack(_END_SIG, 0, 0, 1, 1, len(central), central_offset, 0)
        return descriptor + central + end

    def segments(self) -> list[tuple[Buffer, int]]:
        """The whole file as ``(bytes, times)`` runs, in order."""
        return [(self._local_header(), 1), *self.content.segments(), (self._trailer(), 1)]

    def iter_bytes(self, start: int = 0, stop: int | None = None) -> Iterator[bytes | memoryview]:
        """Bytes ``start`` (inclusive) to ``stop`` (exclusive) in chunks of at most about 1 MiB."""
        stop = self.size if stop is None else min(stop, self.size)
        return _coalesce(_slice_runs(self.segments(), start, stop))

    def read_all(self) -> bytes:
        """Whole file in memory: for small files and tests only."""
        return b"".join(bytes(piece) for piece in self.iter_bytes())


def _slice_runs(runs: Iterable[tuple[Buffer, int]], start: int, stop: int) -> Iterator[memoryview]:
    """Yield the part of the virtual concatenation of ``runs`` that lies in ``[start, stop)``."""
    offset = 0
    for data, times in runs:
        size = len(data)
        run_end = offset + size * times
        if size and run_end > start and offset < stop:
            yield from _slice_run(memoryview(data), max(start - offset, 0), min(stop, run_end) - offset)
        offset = run_end
        if offset >= stop:
            return


def _slice_run(data: memoryview, first: int, last: int) -> Iterator[memoryview]:
    size = len(data)
    position = first
    while position < last:
        index_in_block = position % size
        take = min(size - index_in_block, last - position, CHUNK_SIZE)
        yield data[index_in_block : index_in_block + take]
        position += take


def _coalesce(pieces: Iterable[memoryview]) -> Iterator[bytes | memoryview]:
    """Merge small pieces so a file is sent in few large writes; large pieces pass without a copy."""
    buffer = bytearray()
    for piece in pieces:
        if len(piece) >= CHUNK_SIZE // 2:
            if buffer:
                yield bytes(buffer)
                buffer.clear()
            yield piece
            continue
        buffer += piece
        if len(buffer) >= CHUNK_SIZE // 2:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
