"""ArchiveS3Hook: the stock S3Hook's client, minus its stack walk and dateutil, against moto's server."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from botocore.utils import parse_timestamp

from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook, parse_s3_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-15T12:34:56.789Z",  # S3's XML form
        "2024-03-15T12:34:56Z",
        "2024-03-15T12:34:56.789000Z",
        "Fri, 15 Mar 2024 12:34:56 GMT",  # HTTP headers
        "2024-03-15T12:34:56+02:00",
        1710506096,
        "1710506096",
    ],
)
def test_timestamps_parse_as_botocore_parses_them(value):
    ours, theirs = parse_s3_timestamp(value), parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()


def test_an_invalid_timestamp_is_refused_like_botocore_refuses_it():
    with pytest.raises(ValueError):
        parse_timestamp("2024-13-45T99:00:00Z")
    with pytest.raises(ValueError):
        parse_s3_timestamp("2024-13-45T99:00:00Z")


def test_client_lists_with_aware_utc_timestamps_and_names_its_caller(s3):
    s3.client.put_object(Bucket=s3.bucket, Key="a/one", Body=b"1")
    client = ArchiveS3Hook(caller="UsageIntelligenceFilesToS3Operator").get_conn()
    agents: list[str] = []
    client.meta.events.register(
        "before-send.s3", lambda request, **_: agents.append(request.headers["User-Agent"])
    )

    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix="a/")["Contents"]
    stock = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix="a/")["Contents"]

    assert [o["Key"] for o in listed] == ["a/one"]
    assert listed[0]["LastModified"] == stock[0]["LastModified"]
    assert listed[0]["LastModified"].utcoffset() == dt.timedelta(0)
    assert len(agents) == 1
    agent = agents[0].decode() if isinstance(agents[0], bytes) else agents[0]
    assert "Caller/UsageIntelligenceFilesToS3Operator" in agent


def test_the_collector_runs_again_after_the_client_is_made(s3):
    assert gc.isenabled()
    ArchiveS3Hook().get_conn()
    assert gc.isenabled()


# -- the archive's requests --------------------------------------------------------------------


def requests_sent(hook: ArchiveS3Hook, operation: str) -> list[str]:
    """Records each ``operation`` request the hook's client sends (its URL), as it is sent."""
    sent: list[str] = []
    hook.get_conn().meta.events.register(
        f"before-send.s3.{operation}", lambda request, **_: sent.append(request.url)
    )
    return sent


def test_missing_objects_are_none_not_errors(s3):
    from botocore.exceptions import ClientError

    assert s3.hook.head_if_exists(s3.bucket, "no/such.zip") is None
    assert s3.hook.read_bytes(s3.bucket, "no/such.json") is None
    with pytest.raises(ClientError):
        s3.hook.head(s3.bucket, "no/such.zip")


def test_listing_follows_every_page(s3):
    for n in range(5):
        s3.client.put_object(Bucket=s3.bucket, Key=f"a/{n}", Body=b"x" * n)
    s3.client.put_object(Bucket=s3.bucket, Key="b/outside", Body=b"")
    sent = requests_sent(s3.hook, "ListObjectsV2")
    s3.hook.get_conn().meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: params.update(MaxKeys=2)
    )
    listed = s3.hook.list_objects(s3.bucket, "a/")
    assert sorted(listed) == [f"a/{n}" for n in range(5)]
    assert [listed[f"a/{n}"]["Size"] for n in range(5)] == [0, 1, 2, 3, 4]
    assert listed["a/3"]["ETag"] and listed["a/3"]["LastModified"].utcoffset() == dt.timedelta(0)
    assert len(sent) == 3  # pages of 2, 2 and 1


def test_listing_needs_no_paginator_model(s3):
    s3.client.put_object(Bucket=s3.bucket, Key="a/one", Body=b"1")
    hook = ArchiveS3Hook(aws_conn_id="aws_default", caller="tests")
    loaded: list[str] = []
    loader = hook.get_conn()._loader  # botocore's: what the client reads from its data files
    load = loader.load_service_model
    loader.load_service_model = lambda service, kind, *args: loaded.append(kind) or load(service, kind, *args)
    assert list(hook.list_objects(s3.bucket, "a/")) == ["a/one"]
    assert list(hook.incomplete_uploads(s3.bucket, "a/")) == []
    assert loaded == []  # a paginator would have loaded "paginators-1"


def test_pages_follow_every_marker_and_stop_on_a_repeated_one():
    from botocore.exceptions import PaginationError

    from airflow_provider_usageintel.hooks.s3 import LIST_UPLOADS_MARKERS, _pages

    # moto's server answers ListMultipartUploads in one page whatever MaxUploads says: the
    # markers of a truncated answer are followed as S3 sends them.
    answers = [
        {"IsTruncated": True, "NextKeyMarker": "u/1", "NextUploadIdMarker": "id1", "Uploads": [1]},
        {"IsTruncated": True, "NextKeyMarker": "u/2", "NextUploadIdMarker": "", "Uploads": [2]},
        {"IsTruncated": False, "NextKeyMarker": "u/3", "Uploads": [3]},
    ]
    asked: list[dict] = []

    def operation(**params):
        asked.append(params)
        return answers[len(asked) - 1]

    pages = list(_pages(operation, {"Bucket": "b", "Prefix": "u/"}, LIST_UPLOADS_MARKERS))
    assert [page["Uploads"] for page in pages] == [[1], [2], [3]]
    assert asked == [
        {"Bucket": "b", "Prefix": "u/"},
        {"Bucket": "b", "Prefix": "u/", "KeyMarker": "u/1", "UploadIdMarker": "id1"},
        {"Bucket": "b", "Prefix": "u/", "KeyMarker": "u/2"},
    ]

    def stuck(**params):
        return {"IsTruncated": True, "NextKeyMarker": "u/1", "NextUploadIdMarker": "id1"}

    with pytest.raises(PaginationError, match="same next token"):
        list(_pages(stuck, {"Bucket": "b"}, LIST_UPLOADS_MARKERS))


def test_put_and_read_round_trip_with_metadata(s3):
    body = b'{"version": 1}'
    s3.hook.put_bytes(
        s3.bucket, "i/index.json", body, content_type="application/json", metadata={"sha256": "abc"}
    )
    assert s3.hook.read_bytes(s3.bucket, "i/index.json") == body
    head = s3.hook.head(s3.bucket, "i/index.json")
    assert (head.size, head.metadata) == (len(body), {"sha256": "abc"})
    assert head.etag == s3.head("i/index.json")["ETag"]
    assert s3.head("i/index.json")["ContentType"] == "application/json"
    assert s3.hook.head_if_exists(s3.bucket, "i/index.json") == head

    opened, stream = s3.hook.open_object(s3.bucket, "i/index.json")
    with stream:
        assert stream.read() == body
    assert opened == head


def test_a_range_is_read_only_from_the_version_it_names(s3):
    from botocore.exceptions import ClientError

    from airflow_provider_usageintel.hooks.s3 import error_code

    s3.client.put_object(Bucket=s3.bucket, Key="r", Body=b"0123456789")
    etag = s3.hook.head(s3.bucket, "r").etag
    with s3.hook.open_range(s3.bucket, "r", 2, 5, etag) as stream:
        assert stream.read() == b"2345"
    s3.client.put_object(Bucket=s3.bucket, Key="r", Body=b"abcdefghij")
    with pytest.raises(ClientError) as caught:
        s3.hook.open_range(s3.bucket, "r", 2, 5, etag)
    assert error_code(caught.value) in ("PreconditionFailed", "412")


def test_copy_keeps_metadata_and_delete_removes(s3):
    s3.hook.put_bytes(s3.bucket, "in/k.csv", b"a,b\n", content_type="text/csv", metadata={"rows": "1"})
    s3.hook.copy(s3.bucket, "in/k.csv", "done/k.csv")
    s3.hook.delete(s3.bucket, "in/k.csv")
    s3.hook.delete(s3.bucket, "in/never-there.csv")  # S3 answers 204 either way
    assert s3.list_keys() == ["done/k.csv"]
    assert s3.read("done/k.csv") == b"a,b\n"
    assert s3.head("done/k.csv")["Metadata"] == {"rows": "1"}


def test_upload_stream_writes_one_object(s3):
    result = s3.hook.upload_stream(
        s3.bucket, "s/one.bin", [b"ab", b"cd"], metadata={"source": "t"}, content_type="text/plain"
    )
    assert (result.key, result.size, result.parts) == ("s/one.bin", 4, 1)
    assert s3.read("s/one.bin") == b"abcd"
    assert s3.head("s/one.bin")["Metadata"] == {"source": "t"}


def test_multipart_primitives_complete_an_object(s3):
    from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE

    first, last = b"1" * MIN_PART_SIZE, b"2" * 10
    upload_id = s3.hook.start_upload(s3.bucket, "m/big.bin", content_type="text/plain", metadata={"k": "v"})
    parts = [
        s3.hook.upload_part(s3.bucket, "m/big.bin", upload_id, 1, bytearray(first)),
        s3.hook.upload_part(s3.bucket, "m/big.bin", upload_id, 2, bytearray(last)),
    ]
    assert [p["PartNumber"] for p in parts] == [1, 2] and all(p["ChecksumCRC32"] for p in parts)
    assert s3.list_keys() == []  # nothing visible before completion
    s3.hook.complete_upload(s3.bucket, "m/big.bin", upload_id, parts)
    assert s3.read("m/big.bin") == first + last
    assert s3.head("m/big.bin")["Metadata"] == {"k": "v"}
    assert s3.multipart_uploads() == []


def test_an_incomplete_upload_is_listed_then_aborted(s3):
    upload_id = s3.hook.start_upload(s3.bucket, "u/left.zip", content_type="application/zip", metadata={})
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key="elsewhere/other.zip")
    [listed] = s3.hook.incomplete_uploads(s3.bucket, "u/")
    assert (listed["Key"], listed["UploadId"]) == ("u/left.zip", upload_id)
    assert listed["Initiated"].tzinfo is not None
    s3.hook.abort_upload(s3.bucket, "u/left.zip", upload_id)
    assert list(s3.hook.incomplete_uploads(s3.bucket, "u/")) == []
    assert [u["Key"] for u in s3.multipart_uploads()] == ["elsewhere/other.zip"]


def test_stale_uploads_are_aborted_only_where_the_caller_owns_them(s3):
    s3.hook.start_upload(s3.bucket, "p/mine.zip", content_type="application/zip", metadata={})
    s3.hook.start_upload(s3.bucket, "p/theirs.zip", content_type="application/zip", metadata={})
    aborted = s3.hook.abort_stale_uploads(
        s3.bucket, "p/", lambda key: key.endswith("mine.zip"), dt.timedelta(0)
    )
    assert [a.key for a in aborted] == ["p/mine.zip"]
    assert [u["Key"] for u in s3.multipart_uploads()] == ["p/theirs.zip"]
