"""OpenLineage: the API data a task read and the S3 objects it wrote reach the emitted events.

The example DAGs run with ``dag.test()`` in a fresh interpreter with an Airflow home
of its own and the OpenLineage provider's file transport configured: the provider
sets its listener up once per process from the configuration it finds, so this test
process (where other tests ran Airflow without OpenLineage) cannot host it. One
interpreter runs both examples, once for the module.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_usageintel.archive import layout
from airflow_provider_usageintel.emulator.pytest_plugin import make_config
from airflow_provider_usageintel.emulator.server import EmulatorServer
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from airflow_provider_usageintel.utils.lineage import lineage_of, operator_lineage
from tests.conftest import S3Target, new_bucket, set_ui_connection
from tests.test_example_dags import DAGS_EXAMPLES, LOCAL_BUNDLE
from tests.test_fluid_topics import set_ft_connection

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = "1234567890"
WEEKLY = "usageintel_weekly_reports"
FLUID_TOPICS = "fluid_topics_events_archive"
RUN = """
import datetime as dt, pathlib, sys
from tests.airflow_utils import migrate_db, run_dag, task_states
migrate_db()
folder, runs = pathlib.Path(sys.argv[1]), sys.argv[2:]
for dag_id, logical_date in zip(runs[::2], runs[1::2]):
    dagrun = run_dag(dag_id, folder=folder, logical_date=dt.datetime.fromisoformat(logical_date))
    states = set(task_states(dagrun).values())
    assert states <= {"success", "skipped"}, (dag_id, states)
"""


def run_with_openlineage(runs: list[tuple[str, str]], events_file: Path) -> list[dict]:
    """``dag.test()`` of each ``(dag_id, logical_date)`` in one child interpreter; the OpenLineage
    events they emitted."""
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
        [sys.executable, "-c", RUN, str(DAGS_EXAMPLES), *(arg for run in runs for arg in run)],
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


def completed(events: list[dict], dag_id: str) -> dict[str, dict]:
    """Each task's COMPLETE event in the DAG, by task id."""
    return {
        event["job"]["name"].removeprefix(f"{dag_id}."): event
        for event in events
        if event["eventType"] == "COMPLETE" and event["job"]["name"].startswith(f"{dag_id}.")
    }


@dataclass
class LineageRuns:
    events: list[dict]
    s3: S3Target
    usageintel: EmulatorServer
    fluid_topics: EmulatorServer


@pytest.fixture(scope="module")
def lineage(s3_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineageRuns]:
    """The weekly reports and the Fluid Topics archive, run once with OpenLineage for this module.

    Both in one interpreter: its start and its database's migration are most of a run's time.
    The Fluid Topics client refuses windows more than a year back: yesterday, on an emulator of today.
    """
    today = dt.datetime.now(dt.timezone.utc).date()
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        EmulatorServer(make_config()) as usageintel,
        EmulatorServer(make_config(today=today)) as live,
    ):
        s3 = new_bucket(s3_server, monkeypatch)
        set_ui_connection(monkeypatch, usageintel)
        set_ft_connection(monkeypatch, live)
        bundle = {
            "name": "usageintel-examples",
            "classpath": LOCAL_BUNDLE,
            "kwargs": {"path": str(DAGS_EXAMPLES)},
        }
        monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
        monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
        runs = [(WEEKLY, "2024-03-10T00:00:00+00:00"), (FLUID_TOPICS, f"{today}T00:00:00+00:00")]
        events = run_with_openlineage(runs, tmp_path_factory.mktemp("lineage") / "ol")
        yield LineageRuns(events, s3, usageintel, live)


def test_report_transfers_emit_the_report_read_and_the_objects_written(lineage):
    tasks = completed(lineage.events, WEEKLY)
    api = f"usageintel://127.0.0.1:{lineage.usageintel.port}"
    bucket = f"s3://{lineage.s3.bucket}"
    written = set()
    for report in ("date_range", "usage_distribution", "churn_histogram_days", "basic_event_data_table"):
        event = tasks[report]
        assert datasets(event, "inputs") == {(api, f"{PRODUCT}/{report}")}
        base = f"{layout.reports_prefix('usageintel', 'weekly', '2024-03-09')}/{report}"
        assert datasets(event, "outputs") == {(bucket, f"{base}.json"), (bucket, f"{base}.ndjson")}
    for event in tasks.values():
        written |= {name for namespace, name in datasets(event, "outputs") if namespace == bucket}
    # every object written, and nothing else (beside the Fluid Topics run's)
    assert written == set(lineage.s3.list_keys()) - set(lineage.s3.list_keys("fluid_topics/"))


def test_fluid_topics_transfer_emits_the_events_endpoint_and_its_object(lineage):
    tasks = completed(lineage.events, FLUID_TOPICS)
    api = f"fluidtopics://127.0.0.1:{lineage.fluid_topics.port}"
    [key] = lineage.s3.list_keys("fluid_topics/")
    assert datasets(tasks["archive_events"], "inputs") == {(api, "events")}
    assert datasets(tasks["archive_events"], "outputs") == {(f"s3://{lineage.s3.bucket}", key)}
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
