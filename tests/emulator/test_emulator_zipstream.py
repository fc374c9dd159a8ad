"""The streaming zip writer and exact-size CSV filling, without a server."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_usageintel.emulator.files import fill_content
from airflow_provider_usageintel.emulator.zipstream import (
    CHUNK_SIZE,
    MAX_ZIP_SIZE,
    RepeatedContent,
    StoredZip,
    crc32_combine,
    crc32_repeat,
    member_length_for,
    zip_overhead,
)

HEAD = b"a,b,c\r\n"
ROWS = [b"1,two,3\r\n", b"44,five five,6\r\n", b'7,"eight, quoted",9\r\n', b"10,x,11\r\n"]


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_combine_matches_zlib(first, second):
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=300))
def test_crc32_repeat_matches_zlib(block, times):
    assert crc32_repeat(zlib.crc32(block), len(block), times) == zlib.crc32(block * times)


@given(st.binary(max_size=64), st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=300))
def test_crc32_repeat_continues_a_crc(prefix: bytes, block: bytes, times: int) -> None:
    crc = crc32_repeat(zlib.crc32(block), len(block), times, zlib.crc32(prefix))
    assert crc == zlib.crc32(prefix + block * times)


def build(length: int) -> StoredZip:
    return StoredZip("data.csv", fill_content(HEAD, ROWS, length), dt.date(2024, 2, 29))


@settings(max_examples=150)
@given(st.integers(min_value=len(HEAD) + len(ROWS[0]), max_value=2000))
def test_content_has_the_exact_length_and_parses(length):
    archive = build(length)
    payload = archive.read_all()
    assert len(payload) == archive.size == length + zip_overhead("data.csv")
    opened = zipfile.ZipFile(io.BytesIO(payload))
    assert opened.testzip() is None
    text = opened.read("data.csv").decode()
    assert len(text) == length
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["a", "b", "c"]
    assert all(len(row) == 3 for row in rows)
    assert rows[-1][-1].rstrip(" ").isdigit(), "only the last row is padded, with spaces"


@given(st.data())
def test_any_byte_range_matches_the_whole(data):
    archive = build(900)
    whole = archive.read_all()
    start = data.draw(st.integers(min_value=0, max_value=len(whole)))
    stop = data.draw(st.integers(min_value=start, max_value=len(whole)))
    assert b"".join(bytes(p) for p in archive.iter_bytes(start, stop)) == whole[start:stop]


def test_large_content_is_described_not_materialised():
    content = RepeatedContent(HEAD, b"".join(ROWS) * 1000, 60_000, b"")
    archive = StoredZip("big.csv", content, dt.date(2024, 1, 1))
    assert archive.size == content.length + zip_overhead("big.csv")
    assert archive.size > 2 * 1024**3
    trailer = b"".join(bytes(p) for p in archive.iter_bytes(archive.size - 22))
    assert trailer[:4] == b"PK\x05\x06"


def test_sizes_beyond_zip32_are_refused():
    content = RepeatedContent(HEAD, b"x" * 1024, MAX_ZIP_SIZE // 1024 + 1, b"")
    with pytest.raises(ValueError, match="zip32"):
        StoredZip("huge.csv", content, dt.date(2024, 1, 1))


def test_member_length_inverts_the_overhead():
    assert member_length_for(10_000, "x_2024-01-01.csv") + zip_overhead("x_2024-01-01.csv") == 10_000


def test_too_small_a_body_is_refused():
    with pytest.raises(ValueError, match="cannot hold a single row"):
        fill_content(HEAD, ROWS, len(HEAD) + 3)


SMALL_BLOCK = b"".join(ROWS) * 24
#: enough repeats of a ~1 KiB block that it is streamed widened to about CHUNK_SIZE, plus a rest.
WIDENED = RepeatedContent(HEAD, SMALL_BLOCK, 3 * (CHUNK_SIZE // len(SMALL_BLOCK)) + 5, ROWS[0])
WIDENED_BYTES = StoredZip("data.csv", WIDENED, dt.date(2024, 2, 29)).read_all()


def test_a_small_block_is_streamed_in_large_pieces_with_the_same_bytes() -> None:
    archive = StoredZip("data.csv", WIDENED, dt.date(2024, 2, 29))
    pieces = [bytes(piece) for piece in archive.iter_bytes()]
    opened = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert opened.testzip() is None
    assert opened.read("data.csv") == HEAD + SMALL_BLOCK * WIDENED.repeats + ROWS[0]
    assert all(len(piece) >= CHUNK_SIZE // 2 for piece in pieces[1:-1]), "few large writes"


@settings(max_examples=60)
@given(st.data())
def test_any_byte_range_of_a_widened_block_matches_the_whole(data: st.DataObject) -> None:
    archive = StoredZip("data.csv", WIDENED, dt.date(2024, 2, 29))
    whole = WIDENED_BYTES
    start = data.draw(st.integers(min_value=0, max_value=len(whole)))
    stop = data.draw(st.integers(min_value=start, max_value=min(len(whole), start + 3 * CHUNK_SIZE)))
    assert b"".join(bytes(p) for p in archive.iter_bytes(start, stop)) == whole[start:stop]
