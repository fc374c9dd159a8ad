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
