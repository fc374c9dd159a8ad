"""The daily archive example in a real deployment, as a data-platform team runs Airflow.

PostgreSQL metadata database; api-server, dag-processor, triggerer and scheduler as separate
processes; LocalExecutor, then CeleryExecutor with two workers on Redis (see cluster.py).
Unlike ``dag.test()``, triggers run in the triggerer, tasks read connections through the
api-server, and every task is a process of its own. The emulator's simulated clock decides
when a day's files become final; the REST API triggers and polls the runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_usageintel.api.endpoints import endpoint
from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.archive.layout import manifest_key, object_key
from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger
from tests.deployment.cluster import (
    BUCKET,
    PREFIX,
    PRODUCT_ID,
    AirflowApi,
    Deployment,
    task_instances,
    task_log,
    wait_for_run,
    wait_for_tasks,
)

pytestmark = pytest.mark.deployment

DAG_ID = "usageintel_daily_archive"
KINDS = ("custom_events", "exceptions", "raw_events")
TRIGGER_CLASSPATH = f"{UsageIntelligenceFileTrigger.__module__}.{UsageIntelligenceFileTrigger.__qualname__}"
WORKERS = ("worker-1", "worker-2")
#: each download of the Celery run takes about this long, so the mapped transfers overlap.
SLOW_DOWNLOAD_S = 4
RUN_TIMEOUT = 150


def is_sensor(ti: dict[str, Any]) -> bool:
    return bool(ti["task_id"].startswith("wait_"))


def is_transfer(ti: dict[str, Any]) -> bool:
    return bool(ti["task_id"].startswith("archive_"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Everything up, connections created through the REST API, the DAG parsed; stopped at the end."""
    with Deployment(tmp_path_factory.mktemp("deployment")) as deployment:
        deployment.start_all(DAG_ID)
        # Idle until the Celery test switches executors; they start while the first runs wait.
        deployment.start_celery_workers(WORKERS)
        yield deployment


@pytest.fixture(autouse=True)
def end_unfinished_runs(cluster: Deployment, request: pytest.FixtureRequest) -> Iterator[None]:
    """A run a failed test leaves behind would hold the next ones back (``max_active_runs=1``)."""
    cluster.note(f"--- {request.node.name}")
    yield
    api = cluster.api()
    for run in api.get(f"/dags/{DAG_ID}/dagRuns", order_by="-run_after", limit=1)["dag_runs"]:
        for ti in sorted(task_instances(api, DAG_ID, run["dag_run_id"]), key=lambda t: t["start_date"] or ""):
            cluster.note(
                f"    {ti['task_id']}[{ti['map_index']}] {ti['state']} queued {ti['queued_when']} "
                f"start {ti['start_date']} end {ti['end_date']} on {ti['hostname']}"
            )
    for run in api.get(f"/dags/{DAG_ID}/dagRuns", state=["queued", "running"])["dag_runs"]:
        api.patch(f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}", {"state": "failed"})


def xcom(api: AirflowApi, run_id: str, task_id: str, map_index: int = -1) -> Any:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    return api.get(path, map_index=map_index)["value"]


def wait_in_triggerer(cluster: Deployment, api: AirflowApi, run_id: str, day: dt.date) -> None:
    """The sensors deferred, their triggers belong to the running triggerer and have polled from there."""
    sensors = wait_for_tasks(cluster, api, DAG_ID, run_id, is_sensor, "deferred", RUN_TIMEOUT)
    assert sorted(ti["task_id"] for ti in sensors) == [f"wait_{kind}" for kind in KINDS]
    triggerers = api.get("/jobs", job_type="TriggererJob", is_alive=True)["jobs"]
    assert len(triggerers) == 1, triggerers
    triggerer_id = triggerers[0]["id"]

    def claimed() -> list[dict[str, Any]]:
        tis = [ti for ti in task_instances(api, DAG_ID, run_id) if is_sensor(ti)]
        assert all(ti["state"] == "deferred" for ti in tis), tis
        return tis if all((ti["trigger"] or {}).get("triggerer_id") == triggerer_id for ti in tis) else []

    sensors = cluster.wait("the triggerer to take the triggers", claimed, 60)
    for ti in sensors:
        assert ti["trigger"]["classpath"] == TRIGGER_CLASSPATH
    # The triggerer writes each trigger's log next to the task's; a poll that found the
    # files still open proves the trigger runs there, before the clock moves.
    for ti in sensors:
        log = task_log(cluster, ti, f".trigger.{triggerer_id}.log")
        cluster.wait(
            f"{ti['task_id']}'s trigger to poll in the triggerer ({log})",
            lambda log=log: log.is_file() and "Waiting for final daily" in log.read_text(),
            60,
        )
        assert day.isoformat() in log.read_text()


def assert_fired_in_triggerer(cluster: Deployment, api: AirflowApi, run_id: str) -> None:
    for ti in task_instances(api, DAG_ID, run_id):
        if is_sensor(ti):
            assert ti["state"] == "success"
            logs = list(task_log(cluster, ti).parent.glob(f"{task_log(cluster, ti).name}.trigger.*.log"))
            assert any("Trigger fired event" in log.read_text() for log in logs), logs


def assert_archived(cluster: Deployment, api: AirflowApi, run_id: str, day: dt.date) -> list[str]:
    """The day's files under the documented keys (docs/s3-layout.md), and a manifest describing them."""
    expected = set()
    for kind in KINDS:
        records = [FileRecord.from_dict(r) for r in xcom(api, run_id, f"wait_{kind}")]
        assert records and all(r.start_date == day.isoformat() and r.is_final for r in records), records
        expected |= {object_key(r, PRODUCT_ID, PREFIX) for r in records}
    s3 = cluster.s3()
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]}
    assert expected <= listed, sorted(expected - listed)

    written = xcom(api, run_id, "write_manifest")
    assert written["key"] == manifest_key(PREFIX, "daily", day.isoformat())
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=written["key"])["Body"].read())
    assert manifest["day"] == day.isoformat() and manifest["bucket"] == BUCKET
    assert {f["key"] for f in manifest["files"]} == expected
    for entry in manifest["files"]:
        body = s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (entry["size"], entry["sha256"])
    return sorted(expected)


@pytest.mark.timeout(420)  # includes starting the deployment
def test_scheduled_run_waits_in_the_triggerer_until_the_day_closes(cluster: Deployment) -> None:
    api = cluster.api()
    api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
    runs = cluster.wait(
        "the scheduler to create the latest scheduled run",
        lambda: api.get(f"/dags/{DAG_ID}/dagRuns", run_type="scheduled")["dag_runs"],
        60,
    )
    run = runs[0]
    day = dt.date.fromisoformat(run["data_interval_end"][:10]) - dt.timedelta(days=1)

    wait_in_triggerer(cluster, api, run["dag_run_id"], day)
    cluster.advance_until_final(day)
    wait_for_run(cluster, api, DAG_ID, run["dag_run_id"], RUN_TIMEOUT)

    assert_fired_in_triggerer(cluster, api, run["dag_run_id"])
    keys = assert_archived(cluster, api, run["dag_run_id"], day)
    assert len(keys) == len(KINDS)


@pytest.mark.timeout(300)
def test_manual_run_without_logical_date_archives_the_day_that_closed(cluster: Deployment) -> None:
    """What the UI's Trigger button sends: no logical date, no data interval, default params."""
    api = cluster.api()
    api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
    run = api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None})
    assert run["logical_date"] is None and run["run_type"] == "manual"
    day = dt.date.fromisoformat(run["run_after"][:10]) - dt.timedelta(days=1)
    cluster.advance_until_final(day)

    wait_for_run(cluster, api, DAG_ID, run["dag_run_id"], RUN_TIMEOUT)
    assert_archived(cluster, api, run["dag_run_id"], day)


@pytest.mark.timeout(300)
def test_celery_workers_share_the_mapped_transfers(cluster: Deployment) -> None:
    assert cluster.emulator is not None
    control = cluster.emulator.control
    api = cluster.api()
    cluster.switch_to_celery(api)
    api.patch(f"/dags/{DAG_ID}", {"is_paused": False})
    day = control.today()  # its files are still open: the sensors defer again
    run = api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {"day": day.isoformat()}})

    wait_in_triggerer(cluster, api, run["dag_run_id"], day)
    # about 16 KB per file: slow downloads keep a worker busy, so the next transfer goes to the other
    control.set_download_mib_per_s(16 / 1024 / SLOW_DOWNLOAD_S)
    try:
        cluster.advance_until_final(day)
        wait_for_run(cluster, api, DAG_ID, run["dag_run_id"], RUN_TIMEOUT)
    finally:
        control.set_download_mib_per_s(0)

    tis = task_instances(api, DAG_ID, run["dag_run_id"])
    transfers = [ti for ti in tis if is_transfer(ti)]
    assert len(transfers) == len(KINDS)
    assert {ti["hostname"] for ti in transfers} == set(WORKERS), [
        (ti["task_id"], ti["hostname"]) for ti in tis
    ]
    assert {ti["hostname"] for ti in tis} <= set(WORKERS)  # every task ran on a Celery worker
    assert_fired_in_triggerer(cluster, api, run["dag_run_id"])
    assert_archived(cluster, api, run["dag_run_id"], day)


def test_every_api_login_is_matched_by_a_logout(cluster: Deployment) -> None:
    """Across every task and trigger of the runs above (the emulator logs each request)."""
    assert cluster.emulator is not None
    log = cluster.emulator.control.requests()
    (cluster.root / "emulator-requests.json").write_text(json.dumps(log, indent=1))
    logins = [r for r in log if r["path"] == endpoint("auth_web").path and r["status"] == 200]
    logouts = [r for r in log if r["path"] == endpoint("logout").path and r["status"] < 300]
    assert logins, "no session was opened: run this module's DAG-run tests first"
    saved = cluster.root / "emulator-requests.json"
    assert len(logouts) == len(logins), f"{len(logins)} logins, {len(logouts)} logouts; request log: {saved}"
