"""StreamingUpload against moto's S3 server: complete objects only, with their metadata."""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE, StreamingUpload
from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook


def chunks(data: bytes, size: int = 256 * 1024):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def upload(s3, key: str, final_metadata=None) -> StreamingUpload:
    return StreamingUpload(
        s3.hook,
        s3.bucket,
        key,
        metadata={"source": "test", "absent": None},
        final_metadata=final_metadata,
        part_size=MIN_PART_SIZE,
    )


def hashed(data: bytes, digest):
    for chunk in chunks(data):
        digest.update(chunk)
        yield chunk


def test_small_object_is_one_put_with_all_its_metadata(s3):
    data = os.urandom(100_000)
    digest = hashlib.sha256()
    result = upload(s3, "a/small.zip", lambda: {"sha256": digest.hexdigest()}).run(hashed(data, digest))
    assert result.parts == 1 and result.size == len(data)
    assert s3.read("a/small.zip") == data
    expected = {"source": "test", "sha256": hashlib.sha256(data).hexdigest()}
    assert s3.head("a/small.zip")["Metadata"] == expected


def test_large_object_is_one_multipart_upload_under_its_key(s3):
    data = os.urandom(3 * MIN_PART_SIZE + 12345)
    asked = []
    result = upload(s3, "a/large.zip", lambda: asked.append(1) or {"sha256": "x"}).run(chunks(data))
    assert result.parts == 4 and result.size == len(data)
    assert s3.read("a/large.zip") == data
    head = s3.head("a/large.zip")
    # what was known before the first byte; the end-of-stream values need a copy, never made
    assert head["Metadata"] == {"source": "test"} and asked == []
    assert head["ContentType"] == "application/octet-stream"
    assert s3.list_keys() == ["a/large.zip"]
    assert s3.multipart_uploads() == []


def test_object_is_invisible_until_the_upload_completes(s3):
    seen = []

    def watched():
        for _ in range(3):
            seen.append(s3.list_keys())  # parts 1 .. n-1 are already uploading
            yield os.urandom(MIN_PART_SIZE)

    upload(s3, "a/watched.zip").run(watched())
    assert seen == [[], [], []]
    assert s3.list_keys() == ["a/watched.zip"]


def test_failure_mid_stream_leaves_nothing_behind(s3):
    def broken():
        yield os.urandom(2 * MIN_PART_SIZE + 1)
        raise ConnectionError("source went away")

    with pytest.raises(ConnectionError):
        upload(s3, "a/broken.zip").run(broken())
    assert s3.list_keys() == []
    assert s3.multipart_uploads() == []


def test_part_size_below_s3_minimum_is_refused(s3):
    with pytest.raises(ValueError, match="part_size"):
        StreamingUpload(s3.hook, s3.bucket, "k", part_size=1024)


def test_multipart_upload_declares_the_part_checksum_botocore_sends(s3):
    """As boto3's managed upload does: S3 keeps a composite CRC32 instead of computing its own."""
    data = os.urandom(2 * MIN_PART_SIZE + 1)
    upload(s3, "a/checked.zip").run(chunks(data))
    head = s3.client.head_object(Bucket=s3.bucket, Key="a/checked.zip", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] and "ChecksumCRC64NVME" not in head  # combined from the parts


def test_no_checksum_is_declared_when_the_client_sends_none(s3):
    from botocore.config import Config

    hook = ArchiveS3Hook(
        aws_conn_id="aws_default", config=Config(request_checksum_calculation="when_required")
    )
    data = os.urandom(2 * MIN_PART_SIZE + 1)
    StreamingUpload(hook, s3.bucket, "a/plain.zip", part_size=MIN_PART_SIZE).run(chunks(data))
    assert s3.read("a/plain.zip") == data
    head = s3.client.head_object(Bucket=s3.bucket, Key="a/plain.zip", ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in head


def test_part_buffers_go_round_and_every_byte_arrives(s3):
    """Twelve parts through two upload slots: three buffers in all, and the object byte-identical."""
    data = os.urandom(12 * MIN_PART_SIZE - 1000)
    bodies: set[int] = set()
    s3.hook.get_conn().meta.events.register(
        "before-parameter-build.s3.UploadPart", lambda params, **_: bodies.add(id(params["Body"]))
    )
    streaming = StreamingUpload(s3.hook, s3.bucket, "a/round.zip", part_size=MIN_PART_SIZE, max_inflight=2)
    result = streaming.run(chunks(data, 1024 * 1024 + 7))
    assert result.parts == 12
    assert s3.read("a/round.zip") == data
    assert len(bodies) <= 3  # two in flight and one being filled, reused from part to part


@pytest.mark.parametrize(
    ("announced", "expected_parts"),
    [
        (None, [8, 8]),  # length unknown: parts of part_size
        (16, [8, 5, 3]),  # known: the last part short, the one before at S3's minimum
        (19, [8, 8, 3]),
        (20, [8, 8, 4]),  # nothing to gain: the last part is short anyway
        (10, [8, 8]),  # announced wrong: every byte still goes, in parts of part_size
    ],
)
def test_a_known_length_leaves_little_to_send_after_the_last_byte(s3, announced, expected_parts):
    mib = 1024 * 1024
    data = os.urandom(sum(expected_parts) * mib)
    sizes: list[int] = []
    s3.hook.get_conn().meta.events.register(
        "before-parameter-build.s3.UploadPart", lambda params, **_: sizes.append(len(params["Body"]))
    )
    size = (lambda: announced * mib) if announced else None
    result = StreamingUpload(s3.hook, s3.bucket, "a/known.zip", part_size=8 * mib, size=size).run(
        chunks(data, mib + 7)
    )
    assert sorted(sizes, reverse=True) == [n * mib for n in expected_parts] and result.parts == len(sizes)
    assert s3.read("a/known.zip") == data
