"""Every API session a task opens is ended, whatever happens: counted by the emulator.

The Usage Intelligence API limits concurrent sessions per account, so each login must
have its logout: the emulator counts both (``GET /_emulator/sessions``). Fluid Topics
and FusionAuth authenticate with API keys, so ending the session means closing the
sockets: no client connection to the emulator may stay open after a run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import psutil
import pytest

from airflow_provider_usageintel.archive import layout
from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceReportOperator
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger
from tests.airflow_utils import run_dag, task_states
from tests.test_example_dags import DAGS_EXAMPLES, LOCAL_BUNDLE
from tests.test_fluid_topics import set_ft_connection
from tests.test_fusionauth import set_fa_connection

UTC = dt.timezone.utc
#: every example DAG, with a logical date whose files and report windows exist (today: 2024-03-15).
EXAMPLE_RUNS = {
    "usageintel_daily_archive": dt.datetime(2024, 3, 15, tzinfo=UTC),
    "usageintel_monthly_archive": dt.datetime(2024, 3, 1, tzinfo=UTC),
    "usageintel_weekly_reports": dt.datetime(2024, 3, 10, tzinfo=UTC),
    "usageintel_client_properties_export": dt.datetime(2024, 3, 10, tzinfo=UTC),
    "usageintel_license_key_sync": dt.datetime(2024, 3, 15, tzinfo=UTC),
    "usageintel_archive_verify": dt.datetime(2024, 3, 15, 1, tzinfo=UTC),
    # its client refuses windows more than a year back: yesterday, on an emulator living today
    "fluid_topics_events_archive": dt.datetime.combine(dt.datetime.now(UTC).date(), dt.time(), UTC),
    "fusionauth_reports": dt.datetime(2024, 3, 14, tzinfo=UTC),
}
#: DAGs that talk to Usage Intelligence, so log in at least once.
LOGGING_IN = {
    "usageintel_daily_archive",
    "usageintel_monthly_archive",
    "usageintel_weekly_reports",
    "usageintel_client_properties_export",
    "usageintel_license_key_sync",
}


def open_client_connections(emulator) -> list:
    """This process's TCP connections to the emulator that are still established (client side)."""
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == emulator.port and c.status == psutil.CONN_ESTABLISHED
    ]


@pytest.fixture
def all_connections(airflow_db, ui_conn, usageintel_emulator, s3, monkeypatch):
    """Every connection type aimed at one emulator, S3 at moto, dags_examples as a bundle."""
    set_ft_connection(monkeypatch, usageintel_emulator)
    set_fa_connection(monkeypatch, usageintel_emulator)
    bundle = {
        "name": "usageintel-examples",
        "classpath": LOCAL_BUNDLE,
        "kwargs": {"path": str(DAGS_EXAMPLES)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
    return s3


@pytest.mark.parametrize("dag_id", sorted(EXAMPLE_RUNS))
def test_every_example_dag_ends_every_session_it_opens(
    dag_id, all_connections, usageintel_emulator, usageintel_emulator_factory, monkeypatch
):
    s3 = all_connections
    emulators = [usageintel_emulator]
    if dag_id == "fluid_topics_events_archive":
        live = usageintel_emulator_factory(today=EXAMPLE_RUNS[dag_id].date())
        set_ft_connection(monkeypatch, live)
        emulators.append(live)
    if dag_id == "usageintel_license_key_sync":  # exercise the write branch too
        s3.client.put_object(
            Bucket=s3.bucket,
            Key=layout.license_keys_inbox_key("usageintel", "insert"),
            Body=b"licenseKey,licenseType\nSESSION-KEY-1,purchased\n",
        )
    dagrun = run_dag(dag_id, folder=DAGS_EXAMPLES, logical_date=EXAMPLE_RUNS[dag_id])
    assert set(task_states(dagrun).values()) <= {"success", "skipped"}, task_states(dagrun)

    counts = usageintel_emulator.control.sessions()
    assert counts["logins"] == counts["logouts"], counts
    assert counts["open"] == 0, counts
    assert (counts["logins"] > 0) == (dag_id in LOGGING_IN), counts
    for emulator in emulators:
        assert open_client_connections(emulator) == []


# -- operators: failure and interruption --------------------------------------------------------


def report_operator(**kwargs) -> UsageIntelligenceReportOperator:
    return UsageIntelligenceReportOperator(task_id="report", report="event_names", **kwargs)


def test_a_failing_operator_still_logs_out(ui_conn, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="event-tracking", kind="status", status=400, count=1)
    with pytest.raises(Exception, match="HTTP 400"):
        report_operator().execute({})
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}


class InterruptedReport(UsageIntelligenceReportOperator):
    """Logs in, then is interrupted as Airflow interrupts a task it stops (SIGINT)."""

    def execute(self, context):
        self.hook.login()
        raise KeyboardInterrupt


def test_an_interrupted_operator_logs_out_as_it_unwinds(ui_conn, usageintel_emulator):
    with pytest.raises(KeyboardInterrupt):
        InterruptedReport(task_id="interrupted", report="event_names").execute({})
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}


class ReportToS3Twice(UsageIntelligenceReportToS3Operator):
    """Calls the parent's execute, then uses the hook again: one session for the whole task."""

    def execute(self, context):
        written = super().execute(context)
        return [written, self.hook.run_report(self.report, {}, self.product_id)]


def test_the_session_ends_when_the_outermost_execute_ends(ui_conn, usageintel_emulator, s3):
    operator = ReportToS3Twice(
        task_id="twice", report="event_names", s3_bucket=s3.bucket, s3_key="r/names.json", asset_alias=None
    )
    written, again = operator.execute({})
    assert json.loads(s3.read(written["objects"][0]["key"])) == again
    # One login: the inner execute did not end the session the outer one still used.
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}


def test_on_kill_logs_out_at_once(ui_conn, usageintel_emulator, s3):
    operator = UsageIntelligenceFilesToS3Operator(task_id="kill", file_kind="exceptions", s3_bucket=s3.bucket)
    operator.hook.login()
    operator.on_kill()
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}
    assert operator._cancelled.is_set()


# -- sensor and trigger: no session between pokes or polls ------------------------------------------


def test_poke_mode_logs_out_after_every_poke(ui_conn, usageintel_emulator):
    sensor = UsageIntelligenceFileSensor(task_id="wait", file_kind="custom_events", file_date="2024-03-15")
    assert sensor.poke({}).is_done is False  # today's file is still open
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}
    usageintel_emulator.control.advance_days(1)
    assert sensor.poke({}).is_done is True
    assert usageintel_emulator.control.sessions() == {"logins": 2, "logouts": 2, "open": 0}


def test_the_trigger_holds_no_session_between_polls(ui_conn, usageintel_emulator, monkeypatch):
    between: list[dict] = []

    async def pause(self, seconds: float) -> None:
        between.append(await asyncio.to_thread(usageintel_emulator.control.sessions))
        if len(between) == 2:
            await asyncio.to_thread(usageintel_emulator.control.advance_days, 1)

    monkeypatch.setattr(UsageIntelligenceFileTrigger, "_pause", pause)
    trigger = UsageIntelligenceFileTrigger(
        file_kind="custom_events",
        frequency="daily",
        since="2024-03-15",
        until="2024-03-15",
        deadline=time.time() + 60,
        poll_interval=0.01,
    )

    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    assert [event["status"] for event in asyncio.run(collect())] == ["found"]
    assert between == [
        {"logins": 1, "logouts": 1, "open": 0},
        {"logins": 2, "logouts": 2, "open": 0},
    ]
    assert usageintel_emulator.control.sessions() == {"logins": 3, "logouts": 3, "open": 0}
