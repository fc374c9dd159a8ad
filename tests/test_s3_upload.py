"""StreamingUpload against moto's S3 server: complete objects only, with their metadata."""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_provider_usageintel.utils.s3_upload import MIN_PART_SIZE, StreamingUpload


def chunks(data: bytes, size: int = 256 * 1024):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def upload(s3, key: str, metadata=None) -> StreamingUpload:
    return StreamingUpload(
        s3.client,
        s3.bucket,
        key,
        staging_key=f"_staging/{key}",
        metadata=metadata or (lambda: {"source": "test", "absent": None}),
        part_size=MIN_PART_SIZE,
    )


def test_small_object_is_one_put_with_metadata(s3):
    data = os.urandom(100_000)
    result = upload(s3, "a/small.zip").run(chunks(data))
    assert result.parts == 1 and result.size == len(data)
    assert s3.read("a/small.zip") == data
    assert s3.head("a/small.zip")["Metadata"] == {"source": "test"}


def test_large_object_goes_through_staging_and_lands_whole(s3):
    data = os.urandom(3 * MIN_PART_SIZE + 12345)
    digest = hashlib.sha256()

    def hashed():
        for chunk in chunks(data):
            digest.update(chunk)
            yield chunk

    result = upload(s3, "a/large.zip", lambda: {"sha256": digest.hexdigest()}).run(hashed())
    assert result.parts == 4 and result.size == len(data)
    assert s3.read("a/large.zip") == data
    assert s3.head("a/large.zip")["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert s3.head("a/large.zip")["ContentType"] == "application/octet-stream"
    assert s3.list_keys() == ["a/large.zip"]  # staging object removed
    assert s3.multipart_uploads() == []


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
        StreamingUpload(s3.client, s3.bucket, "k", staging_key="s", metadata=dict, part_size=1024)
