"""The zip checker's search for the data descriptor of stored members, as streaming writers make them."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_usageintel.archive.zipcheck import DESCRIPTOR_SIG, ZipCheckError, _find_descriptor
from tests.reliability.test_fuzz import check


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes each member's sizes in a data descriptor after it."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        return len(data)


def streamed_zip(members: list[bytes]) -> bytes:
    out = Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for i, body in enumerate(members):
            with archive.open(f"m{i}.csv", "w") as member:
                member.write(body)
    return bytes(out.buffer)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.lists(st.sampled_from([b"PK", b"\x07", b"\x08", b"a,b\n"])).map(b"".join))
def test_the_descriptor_search_finds_what_a_plain_search_finds(data):
    assert _find_descriptor(bytearray(data)) == data.find(DESCRIPTOR_SIG)


@pytest.mark.parametrize(
    "body",
    [
        b"2024-03-14,client-1,Pro,Open\n" * 50_000,  # text: the signature's last byte never occurs
        os.urandom(300_000),  # binary: it occurs every 256 bytes or so
        b"\x08" * 1000 + b"K\x07\x08" * 1000 + b"text",  # near misses of the signature
    ],
)
@pytest.mark.parametrize("chunk", [7, 4093, 1 << 20])
def test_stored_members_with_descriptors_are_verified_in_any_chunking(body, chunk):
    data = streamed_zip([body, b"second member"])
    assert data[6] & 0x08, "the writer used data descriptors"
    assert check(data, chunk).members == 2
    broken = bytearray(data)
    broken[100] ^= 0x01  # inside the first member's data
    with pytest.raises(ZipCheckError, match=r"CRC-32 mismatch in member 'm0\.csv'"):
        check(bytes(broken), chunk)
