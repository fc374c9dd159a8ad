"""A 200 MiB file streams with bounded memory and intact framing."""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import pytest
import requests

PID = "1234567890"
SIZE = 200 * 1024 * 1024


@pytest.mark.slow
def test_a_200_mib_file_streams_in_bounded_memory(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    name = session.get(f"{server.url}/v3/exceptionTracking/listFiles/{PID}", timeout=10).json()["dailyFiles"][
        0
    ]["fileName"]
    server.control.set_file_size(name, SIZE)
    url = session.post(
        f"{server.url}/v3/exceptionTracking/getDownloadUrl/{PID}", json={"fileName": name}, timeout=10
    ).json()["downloadUrl"]
    member_start = 30 + len(name)
    crc, received, tail = 0, 0, b""
    tracemalloc.start()
    try:
        with requests.get(url, stream=True, timeout=30) as response:
            assert response.headers["content-length"] == str(SIZE)
            for chunk in response.iter_content(1024 * 1024):
                crc = zlib.crc32(_member_part(chunk, received, member_start, SIZE), crc)
                received += len(chunk)
                tail = (tail + chunk)[-200:]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == SIZE
    assert peak < 32 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"
    descriptor_at = len(tail) - (22 + 46 + len(name) + 16)
    signature, stored_crc, compressed, size = struct.unpack_from("<IIII", tail, descriptor_at)
    assert signature == 0x08074B50
    assert stored_crc == crc, "the CRC computed without reading the data matches the data"
    assert compressed == size == SIZE - (114 + 2 * len(name))


def _member_part(chunk: bytes, offset: int, member_start: int, size: int) -> bytes:
    """The bytes of ``chunk`` (at ``offset`` in the file) that belong to the CSV member."""
    member_stop = size - (16 + 46 + (member_start - 30) + 22)
    first = max(member_start - offset, 0)
    last = min(member_stop - offset, len(chunk))
    return chunk[first:last] if first < last else b""
