"""The lake on the provider's hooks, without a transfer operator: moto's server for S3 and Glue.

The transfers call :func:`lake_after_archive` and :func:`lake_after_client_export` with
themselves as ``operator``; here a plain object with the same attributes stands in, so the
lake's reading (ranged GETs), writing, index, re-run checks and Glue registration are
tested on their own. The lake is read back with pyarrow's dataset API and compared row by
row with the source CSVs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import uuid
import zipfile
from types import SimpleNamespace

import boto3
import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.archive import lake_layout
from airflow_provider_usageintel.archive.layout import client_properties_key, object_key
from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError
from airflow_provider_usageintel.lake.reader import S3File
from airflow_provider_usageintel.lake.writer import LakeError
from airflow_provider_usageintel.transfers.archive_to_lake import (
    lake_after_archive,
    lake_after_client_export,
)
from tests.lake_helpers import csv_rows, expected, lake_dataset, same

PID = "1234567890"
HEADER = ["timestamp", "clientId", "eventCategory", "eventName", "eventValue", "ram"]


def _zip(member: str, rows: list[list[str]]) -> bytes:
    import csv

    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text.getvalue())
    return buffer.getvalue()


def _rows(day: str, count: int) -> list[list[str]]:
    return [
        [f"{day} 10:00:{n % 60:02d}", f"c{n}", "File", "Open", str(n / 2), str(1024 * n)]
        for n in range(count)
    ]


@pytest.fixture
def glue(s3):
    """A Glue database of this test's own on moto's server (its state is shared between tests)."""
    client = boto3.client("glue", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    return SimpleNamespace(client=client, database=f"lake_{uuid.uuid4().hex[:8]}")


def stand_in(s3, **attributes):
    """What the lake functions use of a transfer operator."""
    defaults = {
        "destination": SimpleNamespace(hook=s3.hook),
        "s3_bucket": s3.bucket,
        "aws_conn_id": "aws_default",
        "asset_alias": None,
        "log": logging.getLogger("tests.lake"),
        "lake_prefix": "lake",
        "lake_options": {},
    }
    return SimpleNamespace(**{**defaults, **attributes})


def archived(s3, record: FileRecord, rows: list[list[str]]) -> tuple[SimpleNamespace, dict]:
    """A zip put where the archive keeps it: the transfer's plan entry and transferred entry."""
    key = object_key(record, PID, "archive")
    body = _zip(record.file_name.replace(".zip", ".csv"), rows)
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=body)
    planned = SimpleNamespace(record=record, key=key, skip_reason=None)
    return planned, {"key": key, "sha256": hashlib.sha256(body).hexdigest()}


def daily(day: str) -> FileRecord:
    return FileRecord("custom_events", "daily", f"{PID}_cust_{day}.zip", day, day)


# -- reading archived objects ------------------------------------------------------------------


def test_an_archived_zip_is_read_in_ranges_and_hashed_whole(s3):
    body = _zip("x.csv", _rows("2024-03-01", 2000))
    s3.client.put_object(Bucket=s3.bucket, Key="a/x.zip", Body=body)
    with S3File(s3.hook, s3.bucket, "a/x.zip") as raw:
        assert raw.size == len(body)
        with zipfile.ZipFile(raw) as archive:
            assert archive.read("x.csv") == zipfile.ZipFile(io.BytesIO(body)).read("x.csv")
        assert raw.sha256() == hashlib.sha256(body).hexdigest()
        assert raw.requests <= 4  # a GET per seek, not per read


def test_an_object_replaced_while_it_is_read_fails_the_read(s3):
    s3.client.put_object(Bucket=s3.bucket, Key="a/x.zip", Body=b"first version of the object")
    raw = S3File(s3.hook, s3.bucket, "a/x.zip")
    assert raw.read(5) == b"first"
    s3.client.put_object(Bucket=s3.bucket, Key="a/x.zip", Body=b"second version of the object")
    raw.seek(10)  # a new ranged GET, pinned to the first version's ETag
    with pytest.raises(UsageIntelligenceTransferError) as caught:
        raw.read(5)
    assert str(caught.value) == (
        f"s3://{s3.bucket}/a/x.zip changed while it was read (ETag is no longer {raw.etag})"
    )
    raw.close()


# -- archived zips into the lake ----------------------------------------------------------------


def test_archived_files_become_partitions_registered_in_glue_and_reruns_write_nothing(s3, glue):
    sources = {
        daily("2024-03-04"): _rows("2024-03-04", 30),
        daily("2024-03-05"): _rows("2024-03-05", 40),
        FileRecord(
            "custom_events", "monthly", f"{PID}_cust_2024-02-01_to_2024-02-29.zip", "2024-02-01", "2024-02-29"
        ): _rows("2024-02-10", 25),
    }
    plan, transferred = zip(*(archived(s3, record, rows) for record, rows in sources.items()), strict=True)
    operator = stand_in(s3, lake_options={"glue_database": glue.database})

    first = lake_after_archive(operator, plan, transferred, PID, {})
    assert len(first["written"]) == 3 and first["failed"] == [] and first["rows"] == 95
    assert first["partitions_registered"] == 3
    for planned in plan:
        record = planned.record
        partition = lake_layout.partition_for(
            "lake", "custom_events", record.frequency, PID, record.start_date
        )
        header, rows = csv_rows(s3.read(planned.key))
        table = lake_dataset(s3, partition.table_location, partition.key_name).to_table()
        lake_rows = [
            row
            for row in table.to_pylist()
            if row.pop("product_id") == PID and row.pop(partition.key_name) == partition.value
        ]
        assert len(lake_rows) == len(rows)
        for csv_row, lake_row in zip(rows, lake_rows, strict=True):
            want = expected("custom_events", header, csv_row)
            assert same(want, {name: lake_row[name] for name in want}), (csv_row, lake_row)
            assert all(lake_row[name] is None for name in lake_row.keys() - want.keys())  # not in the CSV
        manifest = json.loads(s3.read(partition.manifest_key))
        assert manifest["rows"]["balanced"] and manifest["source"]["key"] == planned.key
    tables = glue.client.get_tables(DatabaseName=glue.database)["TableList"]
    assert sorted(t["Name"] for t in tables) == ["custom_events", "custom_events_monthly"]
    partitions = glue.client.get_partitions(DatabaseName=glue.database, TableName="custom_events")[
        "Partitions"
    ]
    assert sorted(p["Values"][1] for p in partitions) == ["2024-03-04", "2024-03-05"]
    assert s3.multipart_uploads() == []

    parquet = {k: s3.head(k)["ETag"] for k in s3.list_keys("lake/") if k.endswith(".parquet")}
    again = lake_after_archive(operator, plan, transferred, PID, {})
    assert again["written"] == [] and {s["reason"] for s in again["skipped"]} == {"already in the lake"}
    assert again["partitions_registered"] == 0  # registered already: left as they are

    # without the index, each partition's own metadata vouches for it
    s3.client.delete_object(Bucket=s3.bucket, Key=lake_layout.index_key("lake", "custom_events", PID))
    third = lake_after_archive(operator, plan, transferred, PID, {})
    assert third["written"] == [] and len(third["skipped"]) == 3
    assert {k: s3.head(k)["ETag"] for k in s3.list_keys("lake/") if k.endswith(".parquet")} == parquet


def test_a_source_that_differs_from_what_was_archived_commits_nothing(s3):
    planned, transferred = archived(s3, daily("2024-03-01"), _rows("2024-03-01", 10))
    transferred["sha256"] = "0" * 64  # what the archive recorded is not what S3 holds
    with pytest.raises(LakeError, match="1 of 1 partition"):
        lake_after_archive(stand_in(s3), [planned], [transferred], PID, {})
    assert s3.list_keys("lake/custom_events/") == []
    assert s3.multipart_uploads() == []


# -- a client-property export into the lake ------------------------------------------------------


def test_a_client_export_becomes_a_typed_partition_with_its_glue_table(s3, glue):
    rows = [{"clientId": f"c{n}", "prodVersion": "1.2", "ram": str(512 * n)} for n in range(50)]
    rows.append({"clientId": "c-extra", "prodVersion": None, "ram": None, "colour": "blue"})
    key = client_properties_key("exports", "2024-03-09")
    body = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=body)
    operator = stand_in(
        s3,
        lake_options={"glue_database": glue.database},
        hook=SimpleNamespace(product_id=lambda given: PID),
        product_id=PID,
    )
    day = dt.datetime(2024, 3, 9, tzinfo=dt.timezone.utc)
    request = {"properties": ["prodVersion", "ram"]}

    summary = lake_after_client_export(operator, {"key": key}, request, {"logical_date": day})

    partition = lake_layout.client_properties_partition("lake", PID, "2024-03-09")
    assert summary["key"] == partition.parquet_key
    assert (summary["rows"], summary["rows_rejected"], summary["partitions_registered"]) == (51, 0, 1)
    table = {r["client_id"]: r for r in lake_dataset(s3, partition.table_location).to_table().to_pylist()}
    assert table["c3"]["ram"] == 1536 and table["c3"]["prod_version"] == "1.2"
    assert json.loads(table["c-extra"]["other_properties"]) == {"colour": "blue"}
    manifest = json.loads(s3.read(partition.manifest_key))
    assert manifest["source"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["source"]["etag"] == s3.head(key)["ETag"]
    columns = glue.client.get_table(DatabaseName=glue.database, Name="client_properties")["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert {c["Name"]: c["Type"] for c in columns}["ram"] == "bigint"


# -- the Glue hook and catalog ------------------------------------------------------------------


def test_the_catalog_hook_answers_for_what_exists(s3, glue):
    from airflow_provider_usageintel.hooks.glue import LakeCatalogHook

    hook = LakeCatalogHook(aws_conn_id="aws_default")
    assert hook.ensure_database(glue.database, "test") is True
    assert hook.ensure_database(glue.database, "test") is False
    assert hook.table(glue.database, "nothing") is None
    table_input = {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}]}}
    assert hook.create_table(glue.database, table_input) is True
    assert hook.create_table(glue.database, table_input) is False  # as when a concurrent run made it
    hook.update_table(glue.database, {**table_input, "Description": "changed"})
    assert hook.table(glue.database, "t")["Description"] == "changed"


def test_a_table_made_elsewhere_gets_the_drifted_columns_and_partitions_are_added_once(s3, glue):
    from airflow_provider_usageintel.hooks.glue import PARTITION_BATCH, LakeCatalogHook
    from airflow_provider_usageintel.lake.glue import GlueCatalog

    catalog = GlueCatalog(LakeCatalogHook(aws_conn_id="aws_default"), s3.bucket, glue.database)
    first = lake_layout.partition_for("lake", "exceptions", "daily", PID, "2024-03-01")
    assert catalog.ensure_table(first) == "exceptions"
    assert catalog.ensure_table(first, ["brandNewProp"]) == "exceptions"
    columns = glue.client.get_table(DatabaseName=glue.database, Name="exceptions")["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert columns[-1] == {
        "Name": "brand_new_prop",
        "Type": "string",
        "Comment": "schema drift: brandNewProp",
    }

    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(PARTITION_BATCH + 5)]
    partitions = [
        lake_layout.partition_for("lake", "exceptions", "daily", PID, day.isoformat()) for day in days
    ]
    assert catalog.add_partitions(partitions[:3]) == 3
    assert catalog.add_partitions(partitions) == len(partitions) - 3  # more than one call's worth
    pages = glue.client.get_paginator("get_partitions").paginate(
        DatabaseName=glue.database, TableName="exceptions"
    )
    assert sum(len(page["Partitions"]) for page in pages) == len(partitions)
