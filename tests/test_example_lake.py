"""The lake example DAGs, scheduled and triggered without a logical date: emulator, moto S3 and Glue."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest

from tests.airflow_utils import DAGS_FOLDER, run_dag, task_states, xcom

DAGS_EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
PID = "1234567890"


@pytest.fixture
def lake_env(airflow_db, ui_conn, usageintel_emulator, s3, monkeypatch):
    bundles = [
        {"name": "usageintel-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(DAGS_EXAMPLES)}},
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(DAGS_FOLDER)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
    database = f"lake_{s3.bucket.rsplit('-', 1)[1]}"
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_GLUE_DATABASE", database)
    glue = boto3.client("glue", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    return s3, glue, database


def run(dag_id: str, **kwargs):
    dagrun = run_dag(dag_id, folder=DAGS_EXAMPLES, **kwargs)
    states = task_states(dagrun)
    assert set(states.values()) == {"success"}, states
    return dagrun


def test_scheduled_run_archives_and_writes_the_lake(lake_env):
    s3, glue, database = lake_env
    # a scheduled run is due when its day starts (run_after): 2024-03-15 archives the days before it
    due = dt.datetime(2024, 3, 15, tzinfo=dt.timezone.utc)
    dagrun = run("usageintel_lake", logical_date=due, run_after=due)
    manifest = xcom(dagrun, "archive_raw_events")
    # the three days before the run's date, whichever timetable runs @daily
    assert [t["file_name"] for t in manifest["transferred"]] == [
        f"{PID}_2024-03-{d}.zip" for d in (12, 13, 14)
    ]
    assert len(manifest["lake"]["written"]) == 3
    keys = s3.list_keys("usageintel-lake/raw_events/")
    assert f"usageintel-lake/raw_events/product_id={PID}/date=2024-03-14/part-0000.parquet" in keys
    tables = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert tables == {"custom_events", "exceptions", "raw_events"}
    partitions = glue.get_partitions(DatabaseName=database, TableName="raw_events")["Partitions"]
    assert sorted(p["Values"][1] for p in partitions) == ["2024-03-12", "2024-03-13", "2024-03-14"]
    # every partition written is an Asset event, beside the archived zips'
    parquet = (
        f"s3://{s3.bucket}/usageintel-lake/raw_events/product_id={PID}/date=2024-03-14/part-0000.parquet"
    )
    assert parquet in asset_uris(s3.bucket)


def asset_uris(bucket: str) -> set[str]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri.like(f"s3://{bucket}/%"))
            .all()
        )
    return {uri for (uri,) in rows}


def test_manual_trigger_without_logical_date_then_backfill(lake_env):
    s3, glue, database = lake_env
    # the UI's Trigger button: no logical date; the run takes the day before the one it runs on
    run(
        "usageintel_lake",
        logical_date=None,
        run_after=dt.datetime(2024, 3, 15, 9, tzinfo=dt.timezone.utc),
        run_conf={"days": 1},
    )
    assert s3.list_keys("usageintel-lake/exceptions/") == [
        f"usageintel-lake/exceptions/product_id={PID}/date=2024-03-14/{name}"
        for name in ("_manifest.json", "part-0000.parquet")
    ]
    # archive more without the lake, then backfill it from the archive
    day = dt.datetime(2024, 3, 14, tzinfo=dt.timezone.utc)
    run("usageintel_daily_archive", logical_date=day, run_after=day, run_conf={"day": "2024-03-13"})
    dagrun = run(
        "usageintel_lake_backfill",
        logical_date=None,
        run_after=dt.datetime(2024, 3, 15, 10, tzinfo=dt.timezone.utc),
    )
    summary = xcom(dagrun, "backfill_exceptions")
    assert [w["file_name"] for w in summary["written"]] == [f"{PID}_exc_2024-03-13.zip"]
    assert [s["reason"] for s in summary["skipped"]] == ["already in the lake"]
    partitions = glue.get_partitions(DatabaseName=database, TableName="exceptions")["Partitions"]
    assert sorted(p["Values"][1] for p in partitions) == ["2024-03-13", "2024-03-14"]
