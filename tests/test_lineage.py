"""OpenLineage: the API data a task read and the S3 objects it wrote reach the emitted events.

The example DAGs run with ``dag.test()`` in a fresh interpreter with an Airflow home
of its own and the OpenLineage provider's file transport configured: the provider
sets its listener up once per process from the configuration it finds, so this test
process (where other tests ran Airflow without OpenLineage) cannot host it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_usageintel.archive import layout
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from airflow_provider_usageintel.utils.lineage import lineage_of, operator_lineage
from tests.test_example_dags import DAGS_EXAMPLES, LOCAL_BUNDLE
from tests.test_fluid_topics import set_ft_connection

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "1234567890"
RUN = """
import datetime as dt, sys
from tests.airflow_utils import migrate_db, run_dag, task_states
migrate_db()
dagrun = run_dag(sys.argv[1], folder=__import__("pathlib").Path(sys.argv[2]),
                 logical_date=dt.datetime.fromisoformat(sys.argv[3]))
states = set(task_states(dagrun).values())
assert states <= {"success", "skipped"}, states
"""


def run_with_openlineage(dag_id: str, logical_date: str, events_file: Path) -> list[dict]:
    """``dag.test()`` in a child interpreter; returns the OpenLineage events it emitted."""
    env = {
        **os.environ,
        # an Airflow home of its own: the test session's database stays the test session's
        "AIRFLOW_HOME": str(events_file.parent / "airflow"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "usageintel-tests",
        # emit in a thread of the task's process rather than a fork of it
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN, dag_id, str(DAGS_EXAMPLES), logical_date],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]


def datasets(event: dict, side: str) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in event.get(side) or []}


def completed(events: list[dict]) -> dict[str, dict]:
    """Each task's COMPLETE event, by task id."""
    return {
        event["job"]["name"].rsplit(".", 1)[-1]: event
        for event in events
        if event["eventType"] == "COMPLETE" and "." in event["job"]["name"]
    }


@pytest.fixture
def examples(ui_conn, usageintel_emulator, s3, monkeypatch):
    path = {"path": str(DAGS_EXAMPLES)}
    bundle = {"name": "usageintel-examples", "classpath": LOCAL_BUNDLE, "kwargs": path}
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
    set_ft_connection(monkeypatch, usageintel_emulator)
    return s3


def test_report_transfers_emit_the_report_read_and_the_objects_written(
    examples, usageintel_emulator, tmp_path
):
    s3 = examples
    events = run_with_openlineage("usageintel_weekly_reports", "2024-03-10T00:00:00+00:00", tmp_path / "ol")
    tasks = completed(events)
    api = f"usageintel://127.0.0.1:{usageintel_emulator.port}"
    bucket = f"s3://{s3.bucket}"
    written = set()
    for report in ("date_range", "usage_distribution", "churn_histogram_days", "basic_event_data_table"):
        event = tasks[report]
        assert datasets(event, "inputs") == {(api, f"{PRODUCT}/{report}")}
        base = f"{layout.reports_prefix('usageintel', 'weekly', '2024-03-09')}/{report}"
        assert datasets(event, "outputs") == {(bucket, f"{base}.json"), (bucket, f"{base}.ndjson")}
    for event in tasks.values():
        written |= {name for namespace, name in datasets(event, "outputs") if namespace == bucket}
    assert written == set(s3.list_keys())  # every object written, and nothing else


def test_fluid_topics_transfer_emits_the_events_endpoint_and_its_object(
    examples, usageintel_emulator_factory, monkeypatch, tmp_path
):
    s3 = examples
    # the Fluid Topics client refuses windows more than a year back: yesterday, on an emulator of today
    today = dt.datetime.now(dt.timezone.utc).date()
    live = usageintel_emulator_factory(today=today)
    set_ft_connection(monkeypatch, live)
    events = run_with_openlineage("fluid_topics_events_archive", f"{today}T00:00:00+00:00", tmp_path / "ol")
    tasks = completed(events)
    api = f"fluidtopics://127.0.0.1:{live.port}"
    [key] = s3.list_keys("fluid_topics/")
    assert datasets(tasks["archive_events"], "inputs") == {(api, "events")}
    assert datasets(tasks["archive_events"], "outputs") == {(f"s3://{s3.bucket}", key)}
    assert datasets(tasks["count_searches"], "inputs") == {(api, "event_counts")}
    assert datasets(tasks["count_searches"], "outputs") == set()


def test_without_the_openlineage_provider_the_method_returns_none(monkeypatch):
    operator = UsageIntelligenceReportToS3Operator(
        task_id="r", report="date_range", s3_bucket="b", s3_key="k.json", asset_alias=None
    )
    assert operator.get_openlineage_facets_on_complete(None) is None  # nothing recorded yet
    lineage_of(operator).wrote("s3://b", "k.json")
    assert operator_lineage(operator).outputs[0].name == "k.json"
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)  # not installed
    assert operator.get_openlineage_facets_on_complete(None) is None
