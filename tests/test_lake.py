"""The Parquet lake: files transfer option, backfill operator, Glue, drift, rejects, re-runs.

Everything over real sockets: the emulator for the API, moto's server for S3 and Glue; the lake
is read back with pyarrow's dataset API over S3 and compared row by row with the zips' CSVs.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
import zipfile
from dataclasses import dataclass

import boto3
import pytest

from airflow_provider_usageintel.archive import lake_layout, layout
from airflow_provider_usageintel.archive.lake_layout import dataset_name, partition_for
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.lake.schema import resolve
from airflow_provider_usageintel.transfers.archive_to_lake import (
    UsageIntelligenceArchiveToLakeOperator,
    record_from_name,
)
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from tests.lake_helpers import csv_rows, expected, lake_dataset, same

PID = "1234567890"


@dataclass
class Glue:
    client: object
    database: str

    def partitions(self, table):
        return self.client.get_partitions(DatabaseName=self.database, TableName=table)["Partitions"]


@pytest.fixture
def glue(s3):
    """moto's Glue on the same server, and a database of this test's own (moto's state is shared)."""
    client = boto3.client("glue", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    return Glue(client, f"usageintel_{uuid.uuid4().hex[:8]}")


def archive(s3, *, lake=True, database=None, **kwargs):
    options = {"glue_database": database} if database else {}
    args = {
        "task_id": "archive",
        "file_kind": "custom_events",
        "frequency": ["daily", "monthly"],
        "since": "2024-02-01",
        "until": "2024-03-14",
        "s3_bucket": s3.bucket,
        "s3_prefix": "archive",
        "asset_alias": None,
        **kwargs,
    }
    if lake:
        args.update(lake_prefix="lake", lake_options=options)
    return UsageIntelligenceFilesToS3Operator(**args).execute({})


def check_partition(s3, zip_key: str, kind: str, frequency: str, start: str) -> int:
    """Every CSV row of the zip is in its partition, typed, and the manifest's counts add up."""
    partition = partition_for("lake", kind, frequency, PID, start)
    header, rows = csv_rows(s3.read(zip_key))
    table = lake_dataset(s3, partition.table_location, partition.key_name).to_table(
        filter=_partition_filter(partition)
    )
    lake_rows = table.drop_columns(["product_id", partition.key_name]).to_pylist()
    assert len(lake_rows) == len(rows)
    for csv_row, lake_row in zip(rows, lake_rows, strict=True):
        assert same(expected(kind, header, csv_row), lake_row), (csv_row, lake_row)
    manifest = json.loads(s3.read(partition.manifest_key))
    assert manifest["rows"] == {
        "csv": len(rows),
        "parquet": len(rows),
        "rejected": 0,
        "balanced": True,
        "reasons": {},
    }
    assert manifest["source"]["key"] == zip_key
    return len(rows)


def _partition_filter(partition):
    import pyarrow.dataset as ds

    return (ds.field("product_id") == partition.product_id) & (
        ds.field(partition.key_name) == partition.value
    )


# -- pure data ------------------------------------------------------------------------------------


def test_schema_resolution_keeps_unknown_columns_and_reports_missing_ones():
    header = ["timestamp", "clientId", "newProp", "eventValue", "clientId", "eventName", "date"]
    resolved = resolve(_kind("custom_events"), header)
    names = [c.name for c in resolved.columns]
    assert names[:2] == ["event_time", "client_id"]
    assert "new_prop" in names and "client_id_2" in names
    assert "date_2" in names  # "date" is a partition key
    assert resolved.unknown == ("newProp", "date")
    assert resolved.duplicates == ("clientId",)
    assert "prodEdition" in resolved.missing and "eventCategory" in resolved.missing
    assert {c.name: c.position for c in resolved.columns}["prod_edition"] is None
    assert resolved.drift


def test_layout_partitions_daily_by_day_and_monthly_by_month():
    daily = partition_for("lake/", "exceptions", "daily", PID, "2024-03-05")
    assert daily.parquet_key == f"lake/exceptions/product_id={PID}/date=2024-03-05/part-0000.parquet"
    monthly = partition_for("lake", "exceptions", "monthly", PID, "2024-02-01")
    assert monthly.parquet_key == f"lake/exceptions_monthly/product_id={PID}/month=2024-02/part-0000.parquet"
    assert monthly.rejects_key.endswith("/month=2024-02/_rejects.csv.gz")
    with pytest.raises(UsageIntelligenceValidationError, match="open files are not final"):
        dataset_name("exceptions", "open")


def test_file_names_map_back_to_final_records():
    daily = record_from_name(f"{PID}_exc_2024-03-05.zip", _kind("exceptions"), PID)
    assert daily is not None and daily.frequency == "daily" and daily.stop_date == "2024-03-05"
    monthly = record_from_name(f"{PID}_cust_2017-11-01_to_2017-11-23.zip", _kind("custom_events"), PID)
    assert monthly is not None and (monthly.start_date, monthly.stop_date) == ("2017-11-01", "2017-11-23")
    assert record_from_name(f"{PID}_2024-03-05.zip", _kind("raw_events"), PID) is not None
    assert record_from_name(f"{PID}_cust_2024-03-05.zip", _kind("exceptions"), PID) is None
    assert record_from_name("999_cust_2024-03-05.zip", _kind("custom_events"), PID) is None


def _kind(value):
    from airflow_provider_usageintel.api.files import FileKind

    return FileKind(value)


# -- the files transfer's lake_prefix option -------------------------------------------------------


def test_files_transfer_writes_the_lake_and_registers_glue_partitions(ui_conn, s3, glue):
    manifest = archive(s3, database=glue.database)
    lake = manifest["lake"]
    # 43 daily files (2024-02-01 .. 03-14) and one closed month (February)
    assert len(lake["written"]) == 44 and lake["failed"] == [] and lake["rows_rejected"] == 0
    zips = s3.list_keys("archive/")
    total = 0
    for key in zips:
        record = record_from_name(key.rsplit("/", 1)[1], _kind("custom_events"), PID)
        assert record is not None
        total += check_partition(s3, key, "custom_events", record.frequency, record.start_date)
    assert total == lake["rows"]

    tables = {t["Name"]: t for t in glue.client.get_tables(DatabaseName=glue.database)["TableList"]}
    assert set(tables) == {"custom_events", "custom_events_monthly"}
    daily = tables["custom_events"]
    assert daily["StorageDescriptor"]["Location"] == f"s3://{s3.bucket}/lake/custom_events/"
    assert [k["Name"] for k in daily["PartitionKeys"]] == ["product_id", "date"]
    types = {c["Name"]: c["Type"] for c in daily["StorageDescriptor"]["Columns"]}
    assert (
        types["event_time"] == "timestamp" and types["ram"] == "bigint" and types["event_value"] == "double"
    )
    partitions = glue.partitions("custom_events")
    assert len(partitions) == 43
    march_5 = next(p for p in partitions if p["Values"] == [PID, "2024-03-05"])
    assert march_5["StorageDescriptor"]["Location"] == (
        f"s3://{s3.bucket}/lake/custom_events/product_id={PID}/date=2024-03-05/"
    )
    assert [p["Values"] for p in glue.partitions("custom_events_monthly")] == [[PID, "2024-02"]]
    assert s3.multipart_uploads() == []

    # the source's SHA-256 travels in the Parquet footer
    import pyarrow.parquet as pq

    key = f"lake/custom_events/product_id={PID}/date=2024-03-05/part-0000.parquet"
    footer = pq.read_metadata(io.BytesIO(s3.read(key))).metadata
    archived = next(t for t in manifest["transferred"] if t["file_name"].endswith("2024-03-05.zip"))
    assert footer[b"usageintel.source_sha256"].decode() == archived["sha256"]


def test_rerun_writes_nothing_and_a_lost_index_costs_heads_not_rewrites(ui_conn, s3):
    archive(s3, since="2024-03-01")
    before = {k: s3.head(k)["ETag"] for k in s3.list_keys("lake/")}
    again = archive(s3, since="2024-03-01")["lake"]
    assert again["written"] == [] and len(again["skipped"]) == 14
    assert {s["reason"] for s in again["skipped"]} == {"already in the lake"}
    assert {k: s3.head(k)["ETag"] for k in s3.list_keys("lake/")} == before

    s3.client.delete_object(Bucket=s3.bucket, Key=lake_layout.index_key("lake", "custom_events", PID))
    third = archive(s3, since="2024-03-01")["lake"]
    assert third["written"] == [] and len(third["skipped"]) == 14
    assert {k: s3.head(k)["ETag"] for k in s3.list_keys("lake/") if not layout.is_index_key(k)} == before


def test_lake_prefix_is_checked_before_any_call(s3):
    with pytest.raises(UsageIntelligenceValidationError) as caught:
        UsageIntelligenceFilesToS3Operator(
            task_id="bad",
            file_kind="custom_events",
            s3_bucket=s3.bucket,
            product_id=PID,
            lake_prefix="lake/date=2024",
            lake_options={"glue_database": "Bad-Name", "compression": "lz4", "colour": 1},
        ).execute({})
    text = str(caught.value)
    for field in ("lake_prefix", "glue_database", "compression", "lake_options: unknown key(s) colour"):
        assert field in text


# -- the backfill operator ------------------------------------------------------------------------


def backfill(s3, **kwargs):
    args = {
        "task_id": "backfill",
        "file_kind": "custom_events",
        "frequency": ["daily", "monthly"],
        "s3_bucket": s3.bucket,
        "s3_prefix": "archive",
        "lake_prefix": "lake",
        "product_id": PID,
        "glue_database": None,
        "asset_alias": None,
        **kwargs,
    }
    return UsageIntelligenceArchiveToLakeOperator(**args).execute({})


def test_backfill_checks_the_archive_layout_as_the_files_transfer_does(ui_conn, usageintel_emulator, s3):
    """The layout is the archive base's, checked by one method: a bad one fails before any call."""
    with pytest.raises(UsageIntelligenceValidationError) as info:
        backfill(s3, s3_prefix="../archive", key_template="{prefix}/{file_name!r}", manifest_key="../m.json")
    problems = str(info.value)
    assert "s3_prefix: '../archive' is not a valid key prefix" in problems
    assert "key_template: '{prefix}/{file_name!r}' formats a placeholder" in problems
    assert "manifest_key: '../m.json' is not a valid object key" in problems
    assert usageintel_emulator.control.requests() == []
    assert s3.list_keys() == []


def test_backfill_reads_the_archive_only_and_is_idempotent(ui_conn, usageintel_emulator, s3, glue):
    archive(s3, lake=False, since="2024-03-01")
    usageintel_emulator.control.reset()
    first = backfill(s3, since="2024-03-10", until="2024-03-14", glue_database=glue.database)
    assert [w["file_name"] for w in first["written"]] == [
        f"{PID}_cust_2024-03-{d}.zip" for d in range(10, 15)
    ]
    assert usageintel_emulator.control.requests() == []  # not one API call
    for day in range(10, 15):
        key = f"archive/{PID}/custom_events/daily/2024/03/{PID}_cust_2024-03-{day}.zip"
        check_partition(s3, key, "custom_events", "daily", f"2024-03-{day}")
    assert len(glue.partitions("custom_events")) == 5

    again = backfill(s3, since="2024-03-10", until="2024-03-14", glue_database=glue.database)
    assert again["written"] == [] and len(again["skipped"]) == 5


def test_a_replaced_source_rewrites_its_partition(ui_conn, s3):
    archive(s3, lake=False, since="2024-03-05", until="2024-03-05")
    backfill(s3)
    key = f"archive/{PID}/custom_events/daily/2024/03/{PID}_cust_2024-03-05.zip"
    header, rows = csv_rows(s3.read(key))
    fewer = rows[: len(rows) // 2]
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=_zip(f"{PID}_cust_2024-03-05.csv", header, fewer))
    second = backfill(s3)
    assert [w["file_name"] for w in second["written"]] == [f"{PID}_cust_2024-03-05.zip"]
    assert check_partition(s3, key, "custom_events", "daily", "2024-03-05") == len(fewer)


def test_a_newer_month_to_date_file_replaces_the_older_one(s3):
    header = ["timestamp", "clientId", "eventCategory", "eventName", "eventValue"]
    older = _zip("a.csv", header, [["2024-01-02 10:00:00", "c1", "File", "Open", "1"]])
    newer = _zip("b.csv", header, [["2024-01-02 10:00:00", "c1", "File", "Open", "1"]] * 2)
    for name, body in ((f"{PID}_cust_2024-01-01_to_2024-01-10.zip", older),):
        s3.client.put_object(
            Bucket=s3.bucket, Key=f"archive/{PID}/custom_events/monthly/2024/01/{name}", Body=body
        )
    assert backfill(s3, frequency="monthly")["rows"] == 1
    name = f"{PID}_cust_2024-01-01_to_2024-01-31.zip"
    s3.client.put_object(
        Bucket=s3.bucket, Key=f"archive/{PID}/custom_events/monthly/2024/01/{name}", Body=newer
    )
    second = backfill(s3, frequency="monthly")
    assert [w["file_name"] for w in second["written"]] == [name]
    assert [s["reason"] for s in second["skipped"]] == [f"superseded by {name}"]
    table = lake_dataset(s3, "lake/custom_events_monthly", "month").to_table()
    assert table.num_rows == 2


# -- drift, rejects, corruption ------------------------------------------------------------------


def test_drift_is_kept_and_bad_rows_are_rejected_not_lost(s3, glue):
    header = ["timestamp", "clientId", "cpuCores", "eventName", "eventValue", "brandNewProp"]
    rows = [
        ["2024-03-01 00:00:01", "c1", "4", "Open", "2.5", "x"],
        ["2024-03-01 00:00:02", "c2", "four", "Open", "1", "y"],  # not an integer
        ["not a time", "c3", "4", "Open", "1", "z"],
        ["2024-03-01 00:00:04", "c4", "8", "Save, as", "", "NA"],  # quoted comma, null value, "NA" kept
        ["2024-03-01 00:00:05", "c5"],  # too few columns
    ]
    body = _zip(
        f"{PID}_cust_2024-03-01.csv", header, rows, extra=b"2024-03-01 00:00:06,c\xff6,2,Open,1,w\r\n"
    )
    key = f"archive/{PID}/custom_events/daily/2024/03/{PID}_cust_2024-03-01.zip"
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=body)
    summary = backfill(s3, glue_database=glue.database)
    assert summary["rows"] == 2 and summary["rows_rejected"] == 4
    partition = partition_for("lake", "custom_events", "daily", PID, "2024-03-01")
    manifest = json.loads(s3.read(partition.manifest_key))
    assert manifest["rows"]["csv"] == 6 and manifest["rows"]["balanced"]
    assert manifest["schema"]["unknown_columns"] == ["brandNewProp"]
    assert "prodEdition" in manifest["schema"]["missing_columns"]
    assert manifest["rows"]["reasons"] == {
        "cpuCores: not an integer": 1,
        "timestamp: not a timestamp": 1,
        "wrong number of columns (expected 6, got 2)": 1,
        "clientId: not UTF-8 text": 1,
    }
    table = lake_dataset(s3, partition.table_location).to_table().to_pylist()
    assert [
        (r["client_id"], r["cpu_cores"], r["event_name"], r["event_value"], r["brand_new_prop"])
        for r in table
    ] == [
        ("c1", 4, "Open", 2.5, "x"),
        ("c4", 8, "Save, as", None, "NA"),
    ]
    assert all(r["prod_edition"] is None for r in table)
    rejects = gzip.decompress(s3.read(partition.rejects_key)).decode("utf-8", "surrogateescape")
    rejected = list(__import__("csv").reader(io.StringIO(rejects, newline="")))
    assert rejected[0] == ["reject_reason", *header]
    assert sorted(r[2] for r in rejected[1:]) == sorted(["c2", "c3", "c5", "c\udcff6"])
    columns = glue.client.get_table(DatabaseName=glue.database, Name="custom_events")["Table"][
        "StorageDescriptor"
    ]
    assert {"Name": "brand_new_prop", "Type": "string", "Comment": "schema drift: brandNewProp"} in columns[
        "Columns"
    ]


def test_a_corrupt_zip_fails_its_partition_and_commits_nothing(s3):
    good = _zip("x.csv", ["timestamp", "clientId"], [["2024-03-01 00:00:01", "c1"]] * 50)
    broken = bytearray(good)
    broken[60] ^= 0xFF  # inside the stored member: its CRC-32 no longer matches
    key = f"archive/{PID}/custom_events/daily/2024/03/{PID}_cust_2024-03-01.zip"
    s3.client.put_object(Bucket=s3.bucket, Key=key, Body=bytes(broken))
    with pytest.raises(Exception, match="1 of 1 partition"):
        backfill(s3)
    assert s3.list_keys("lake/custom_events/") == []
    assert s3.multipart_uploads() == []


def _zip(member: str, header: list[str], rows: list[list[str]], extra: bytes = b"") -> bytes:
    import csv

    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(member, text.getvalue().encode() + extra)
    return buffer.getvalue()
