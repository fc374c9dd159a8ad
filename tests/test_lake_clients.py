"""The client-property export's lake option: the NDJSON export read back and compared with the lake."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid

import boto3

from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from tests.lake_helpers import lake_dataset

PID = "1234567890"


def export(s3, request, database=None, **context):
    options = {"glue_database": database} if database else {}
    op = UsageIntelligenceClientPropertiesToS3Operator(
        task_id="clients",
        request=request,
        s3_bucket=s3.bucket,
        s3_key="clients/clients.ndjson.gz",
        asset_alias=None,
        lake_prefix="lake",
        lake_options=options,
    )
    summary = op.execute(context)
    rows = [json.loads(line) for line in gzip.decompress(s3.read("clients/clients.ndjson.gz")).splitlines()]
    return summary, rows


def test_client_properties_become_a_typed_partition(ui_conn, s3):
    database = f"clients_{uuid.uuid4().hex[:8]}"
    request = {"properties": ["prodVersion", "ram", "dateInstalled", "geography.country"]}
    day = dt.datetime(2024, 3, 15, tzinfo=dt.timezone.utc)
    summary, rows = export(s3, request, database, logical_date=day)
    lake = summary["lake"]
    assert lake["key"] == f"lake/client_properties/product_id={PID}/date=2024-03-15/part-0000.parquet"
    assert lake["rows"] == len(rows) == summary["rows"] and lake["rows_rejected"] == 0
    table = lake_dataset(s3, "lake/client_properties").to_table().to_pylist()
    by_client = {r["client_id"]: r for r in table}
    assert len(by_client) == len(rows)
    for row in rows:
        got = by_client[row["clientId"]]
        assert got["prod_version"] == row["prodVersion"]
        # the API answers every value as a string (reveneraR reads them so); the lake types ram
        assert got["ram"] == (int(row["ram"]) if row["ram"] is not None else None)
        assert got["date_installed"] == (
            dt.date.fromisoformat(row["dateInstalled"]) if row["dateInstalled"] else None
        )
        assert got["geography_country"] == row["geography.country"]
        assert got["other_properties"] is None
    glue = boto3.client("glue", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    columns = glue.get_table(DatabaseName=database, Name="client_properties")["Table"]["StorageDescriptor"][
        "Columns"
    ]
    assert {c["Name"]: c["Type"] for c in columns}["ram"] == "bigint"
    partitions = glue.get_partitions(DatabaseName=database, TableName="client_properties")["Partitions"]
    assert [p["Values"] for p in partitions] == [[PID, "2024-03-15"]]


def test_daily_client_data_is_one_row_per_client_and_day(ui_conn, s3):
    request = {
        "retDailyData": {"startDate": "2024-03-10", "stopDate": "2024-03-14", "properties": ["prodVersion"]}
    }
    run = type("Run", (), {"run_after": dt.datetime(2024, 3, 16, 8, tzinfo=dt.timezone.utc)})()
    summary, rows = export(s3, request, dag_run=run)  # a manual run: no logical date
    expected = sorted(
        (row["clientId"], entry.get("date") or "", entry.get("prodVersion") or "")
        for row in rows
        for entry in row["dailyData"] or [{}]
    )
    table = lake_dataset(s3, "lake/client_properties").to_table().to_pylist()
    assert {r["date"] for r in table} == {"2024-03-16"}  # the partition: the day the run ran
    got = sorted(
        (r["client_id"], r["day"].isoformat() if r["day"] else "", r["prod_version"] or "") for r in table
    )
    assert got == [(c, d, v) for c, d, v in expected]
    assert summary["lake"]["rows"] == len(expected)
