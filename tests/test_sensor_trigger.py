"""UsageIntelligenceFileSensor and UsageIntelligenceFileTrigger against the emulator (today: 2024-03-15)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from airflow_provider_usageintel.exceptions import UsageIntelligenceError, UsageIntelligenceValidationError
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger
from tests.airflow_utils import run_dag, task_states, xcom
from tests.conftest import UI_CONN_ENV

CUST_0314 = "1234567890_cust_2024-03-14.zip"
CUST_0315 = "1234567890_cust_2024-03-15.zip"


def sensor(**kwargs) -> UsageIntelligenceFileSensor:
    kwargs.setdefault("file_kind", "custom_events")
    return UsageIntelligenceFileSensor(task_id="wait", **kwargs)


WAIT_FIELDS = ("file_kind", "frequency", "since", "until", "product_id")


def trigger(**kwargs) -> UsageIntelligenceFileTrigger:
    """A trigger waiting for today's custom events file; ``kwargs`` may name FileWait fields too."""
    wait = {"file_kind": "custom_events", "frequency": "daily", "since": "2024-03-15", "until": "2024-03-15"}
    wait.update({name: kwargs.pop(name) for name in WAIT_FIELDS if name in kwargs})
    params = {"wait": wait, "deadline": time.time() + 60, "poll_interval": 0.01, **kwargs}
    return UsageIntelligenceFileTrigger(**params)


def events(trig: UsageIntelligenceFileTrigger) -> list[dict]:
    async def collect() -> list[dict]:
        return [event.payload async for event in trig.run()]

    return asyncio.run(collect())


def list_calls(emulator) -> list[dict]:
    return [r for r in emulator.control.requests() if "listFiles" in r["path"]]


def names(records: list[dict]) -> list[str]:
    return [r["file_name"] for r in records]


@pytest.fixture
def advance_on_pause(usageintel_emulator, monkeypatch):
    """Make the trigger's first pause close the emulator's day: the next poll sees the change."""
    pauses: list[float] = []

    async def pause(self, seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 1:
            await asyncio.to_thread(usageintel_emulator.control.advance_days, 1)

    monkeypatch.setattr(UsageIntelligenceFileTrigger, "_pause", pause)
    return pauses


# -- poke mode ------------------------------------------------------------------------------


def test_poke_mode_dag_pushes_the_final_daily_file(airflow_db, ui_conn, usageintel_emulator):
    # the run due on the 15th waits for the day that has just closed, the 14th (not {{ ds }})
    dagrun = run_dag("test_sensor_poke", logical_date=pendulum.datetime(2024, 3, 15, tz="UTC"))
    assert task_states(dagrun) == {"wait": "success", "count_files": "success"}
    records = xcom(dagrun, "wait")
    assert names(records) == [CUST_0314]
    assert records[0]["is_final"] is True and records[0]["frequency"] == "daily"
    assert xcom(dagrun, "count_files") == 1
    assert usageintel_emulator.control.requests()[-1]["path"] == "/v3/auth/logout"


@pytest.mark.parametrize(
    ("context", "frequency", "expected"),
    [
        ({"data_interval_end": pendulum.datetime(2024, 3, 15, tz="UTC")}, "daily", CUST_0314),
        (
            {"data_interval_end": pendulum.datetime(2024, 3, 14, 23, 59, tz="UTC")},
            "daily",
            "1234567890_cust_2024-03-13.zip",
        ),
        (
            {"dag_run": type("DagRun", (), {"run_after": pendulum.datetime(2024, 3, 15, 9, tz="UTC")})()},
            "daily",
            CUST_0314,
        ),
        (
            {"dag_run": type("DagRun", (), {"run_after": pendulum.datetime(2024, 3, 15, 9, tz="UTC")})()},
            "monthly",
            "1234567890_cust_2024-02-01_to_2024-02-29.zip",
        ),
        (
            {"data_interval_end": pendulum.datetime(2024, 3, 1, tz="UTC")},
            "monthly",
            "1234567890_cust_2024-02-01_to_2024-02-29.zip",
        ),
    ],
)
def test_the_default_is_the_newest_period_that_can_be_final(ui_conn, context, frequency, expected):
    """The day (month) before the run is due: data_interval_end, or run_after without a logical date."""
    done = sensor(frequency=frequency).poke(context)
    assert done.is_done and names(done.xcom_value) == [expected]


def test_without_a_run_date_the_sensor_asks_for_one(ui_conn, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError, match="file_date: required"):
        sensor().poke({})
    assert list_calls(usageintel_emulator) == []


def test_a_manual_run_without_a_logical_date_waits_for_the_last_closed_day(
    airflow_db, ui_conn, usageintel_emulator
):
    dagrun = run_dag(
        "test_sensor_poke", logical_date=None, run_after=pendulum.datetime(2024, 3, 15, 8, tz="UTC")
    )
    assert task_states(dagrun) == {"wait": "success", "count_files": "success"}
    assert names(xcom(dagrun, "wait")) == [CUST_0314]
    monthly = run_dag(
        "test_sensor_poke",
        logical_date=None,
        run_after=pendulum.datetime(2024, 3, 15, 9, tz="UTC"),
        run_conf={"frequency": "monthly"},
    )
    assert names(xcom(monthly, "wait")) == ["1234567890_cust_2024-02-01_to_2024-02-29.zip"]


def test_open_file_is_accepted_only_once_the_day_closes(ui_conn, usageintel_emulator):
    wait = sensor(file_date="2024-03-15")
    first = wait.poke({})
    assert not first.is_done and first.xcom_value is None  # only the open file is listed
    usageintel_emulator.control.advance_days(1)
    done = wait.poke({})
    assert done.is_done
    assert names(done.xcom_value) == [CUST_0315]
    assert done.xcom_value[0]["is_final"] is True


def test_a_range_waits_for_every_day(ui_conn, usageintel_emulator):
    wait = sensor(since="2024-03-13", until="2024-03-15")
    assert not wait.poke({}).is_done
    usageintel_emulator.control.advance_days(1)
    done = wait.poke({})
    assert done.is_done
    assert [r["start_date"] for r in done.xcom_value] == ["2024-03-13", "2024-03-14", "2024-03-15"]


def test_monthly_file_exists_only_once_the_month_has_closed(ui_conn, usageintel_emulator):
    february = sensor(frequency="monthly", file_date="2024-02-10").poke({})
    assert february.is_done
    assert names(february.xcom_value) == ["1234567890_cust_2024-02-01_to_2024-02-29.zip"]

    march = sensor(frequency="monthly", file_date="2024-03-10")
    assert not march.poke({}).is_done
    usageintel_emulator.control.advance_days(16)  # 2024-03-31: the month is still open
    assert not march.poke({}).is_done
    usageintel_emulator.control.advance_days(1)  # 2024-04-01
    done = march.poke({})
    assert done.is_done
    assert [(r["start_date"], r["stop_date"]) for r in done.xcom_value] == [("2024-03-01", "2024-03-31")]


def test_a_monthly_file_completes_its_month_only_up_to_the_last_day():
    from airflow_provider_usageintel.api.files import FileRecord
    from airflow_provider_usageintel.sensors.file_wait import FileWait

    def monthly(start: str, stop: str) -> FileRecord:
        return FileRecord("exceptions", "monthly", f"m_{start}.zip", start, stop)

    wait = FileWait.parse("exceptions", "monthly", since="2024-01-20", until="2024-03-05")
    assert wait.periods() == ["2024-01", "2024-02", "2024-03"]
    listed = [monthly("2024-01-15", "2024-01-31"), monthly("2024-02-01", "2024-02-29")]
    found, missing = wait.check([*listed, monthly("2024-03-01", "2024-03-15")])
    assert missing == ["2024-03"]
    found, missing = wait.check([*listed, monthly("2024-03-01", "2024-03-31")])
    assert missing == [] and [r.start_date for r in found] == ["2024-01-15", "2024-02-01", "2024-03-01"]


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"file_date": "2024-02-30"}, ["file_date", "not a real calendar date"]),
        ({"file_date": "14/03/2024"}, ["file_date", "YYYY-MM-DD"]),
        ({"file_kind": "sessions"}, ["file_kind", "allowed: custom_events, exceptions, raw_events"]),
        ({"file_kind": "raw_events", "frequency": "monthly"}, ["raw_events", "allowed: daily"]),
        ({"frequency": "open"}, ["frequency", "never final", "allowed: daily, monthly"]),
        ({"frequency": "weekly"}, ["frequency", "allowed: daily, monthly"]),
        ({"since": "2024-03-10"}, ["until: required"]),
        ({"since": "2024-03-10", "until": "2024-03-01"}, ["until", "before since"]),
        ({"file_date": "2024-03-01", "since": "2024-03-01", "until": "2024-03-02"}, ["not both"]),
        ({"product_id": "abc"}, ["product_id", "digits only"]),
    ],
)
def test_bad_input_fails_before_any_request(ui_conn, usageintel_emulator, kwargs, expected):
    if "since" not in kwargs:
        kwargs = {"file_date": "2024-03-14", **kwargs}
    for deferrable in (False, True):
        with pytest.raises(UsageIntelligenceValidationError) as info:
            sensor(deferrable=deferrable, **kwargs).execute({})
        for text in expected:
            assert text in str(info.value)
    with pytest.raises(UsageIntelligenceValidationError):
        sensor(**kwargs).poke({})
    assert usageintel_emulator.control.requests() == []


def test_every_problem_is_reported_at_once(ui_conn, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        sensor(file_kind="raw", frequency="hourly", file_date="yesterday", silent_fail=True).execute({})
    assert [p.split(":")[0] for p in info.value.problems] == ["file_kind", "frequency", "file_date"]
    assert usageintel_emulator.control.requests() == []


# -- trigger --------------------------------------------------------------------------------


def test_serialize_round_trip_is_json_only():
    from airflow.sdk._shared.module_loading import import_string

    original = trigger(product_id="1234567890", usage_intelligence_conn_id="ui_prod", poll_interval=300)
    classpath, kwargs = original.serialize()
    assert classpath == "airflow_provider_usageintel.triggers.usage_intelligence.UsageIntelligenceFileTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = import_string(classpath)(**kwargs)
    assert isinstance(rebuilt, UsageIntelligenceFileTrigger)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_trigger_fires_found_once_the_day_closes(ui_conn, usageintel_emulator, advance_on_pause):
    fired = events(trigger())
    assert [e["status"] for e in fired] == ["found"]
    assert names(fired[0]["records"]) == [CUST_0315]
    assert advance_on_pause == [0.01]
    assert len(list_calls(usageintel_emulator)) == 2  # not yet, then found
    assert usageintel_emulator.control.requests()[-1]["path"] == "/v3/auth/logout"


def test_trigger_times_out_at_a_past_deadline_after_one_last_check(ui_conn, usageintel_emulator):
    fired = events(trigger(deadline=time.time() - 1))
    assert [e["status"] for e in fired] == ["timeout"]
    assert fired[0]["missing"] == ["2024-03-15"]
    assert "2024-03-15" in fired[0]["reason"]
    assert len(list_calls(usageintel_emulator)) == 1


def test_trigger_never_sleeps_past_its_deadline(ui_conn, usageintel_emulator):
    started = time.monotonic()
    fired = events(trigger(deadline=time.time() + 2, poll_interval=3600))  # 2 s: room for the first listing
    assert [e["status"] for e in fired] == ["timeout"]
    assert time.monotonic() - started < 30
    assert len(list_calls(usageintel_emulator)) == 2  # at the start and at the deadline


def test_trigger_reports_a_persistent_403_as_an_error(ui_conn, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=403, count=50)
    fired = events(trigger())
    assert [e["status"] for e in fired] == ["error"]
    reason = fired[0]["reason"]
    assert "HTTP 403" in reason and "listFiles" in reason
    assert ui_conn["password"] not in reason and "RUI-" not in reason


def test_trigger_rides_out_a_transient_503(ui_conn, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=503, count=1)
    fired = events(trigger(since="2024-03-14", until="2024-03-14"))
    assert [e["status"] for e in fired] == ["found"]
    assert [r["status"] for r in list_calls(usageintel_emulator)] == [503, 200]


def test_trigger_checks_the_wait_it_is_handed_before_any_call(ui_conn, usageintel_emulator):
    fired = events(trigger(frequency="open", until="2024-03-14x"))
    assert [e["status"] for e in fired] == ["error"]
    assert "frequency: open files are never final" in fired[0]["reason"]
    assert "until" in fired[0]["reason"]
    stray = events(UsageIntelligenceFileTrigger(wait={"file_kind": "exceptions", "days": 3}, deadline=0))
    assert "wait: unknown field 'days'" in stray[0]["reason"]
    assert usageintel_emulator.control.requests() == []


def test_trigger_turns_a_missing_connection_into_an_error_event(usageintel_emulator):
    fired = events(trigger(usage_intelligence_conn_id="no_such_connection"))
    assert [e["status"] for e in fired] == ["error"]
    assert "no_such_connection" in fired[0]["reason"]


class TriggererComms:
    """Stands in for the triggerer's supervisor channel, which deadlocks on sync calls from its loop."""

    def __init__(self, connection: dict) -> None:
        self.connection = connection
        self.loop_thread = threading.get_ident()  # asyncio.run() below runs the loop on this thread
        self.calls: list[tuple[str, bool]] = []

    def send(self, msg):
        from airflow.sdk.execution_time.comms import ConnectionResult, GetConnection

        self.calls.append((type(msg).__name__, threading.get_ident() == self.loop_thread))
        if not isinstance(msg, GetConnection):
            return None
        conn = {**self.connection, "extra": json.dumps(self.connection["extra"])}
        return ConnectionResult(conn_id=msg.conn_id, schema=None, port=None, **conn)


def test_trigger_looks_the_connection_up_off_the_event_loop(usageintel_emulator, monkeypatch):
    from airflow.sdk.execution_time.supervisor import set_supervisor_comms

    monkeypatch.delenv(UI_CONN_ENV, raising=False)  # only the supervisor knows the connection
    comms = TriggererComms(usageintel_emulator.airflow_connection())
    with set_supervisor_comms(comms):
        fired = events(trigger(since="2024-03-14", until="2024-03-14"))
    assert [e["status"] for e in fired] == ["found"]
    assert ("GetConnection", False) in comms.calls
    assert [name for name, on_loop in comms.calls if on_loop] == []


# -- deferrable mode ------------------------------------------------------------------------


def test_deferrable_sensor_defers_with_a_wall_clock_deadline(ui_conn, usageintel_emulator):
    before = time.time()
    with pytest.raises(TaskDeferred) as info:
        sensor(file_date="2024-03-15", deferrable=True, timeout=600, poke_interval=30).execute({})
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    _, kwargs = deferred.trigger.serialize()
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600
    assert kwargs["wait"] == {
        "file_kind": "custom_events",
        "frequency": "daily",
        "since": "2024-03-15",
        "until": "2024-03-15",
        "product_id": None,
    }
    assert kwargs["poll_interval"] == 30
    assert deferred.timeout.total_seconds() > 600  # the triggerer's timeout is only a backstop
    assert usageintel_emulator.control.requests()[-1]["path"] == "/v3/auth/logout"


def test_deferrable_dag_succeeds_on_the_worker_when_the_file_exists(
    airflow_db, ui_conn, usageintel_emulator, advance_on_pause
):
    dagrun = run_dag("test_sensor_deferrable", logical_date=pendulum.datetime(2024, 3, 15, tz="UTC"))
    assert task_states(dagrun) == {"wait": "success", "count_files": "success"}
    assert names(xcom(dagrun, "wait")) == [CUST_0314]
    assert advance_on_pause == []  # never deferred
    assert len(list_calls(usageintel_emulator)) == 1


def test_deferrable_dag_resumes_from_the_trigger(airflow_db, ui_conn, usageintel_emulator, advance_on_pause):
    # due on the 16th: waits for the 15th, still open at the emulator's today
    dagrun = run_dag("test_sensor_deferrable", logical_date=pendulum.datetime(2024, 3, 16, tz="UTC"))
    assert task_states(dagrun) == {"wait": "success", "count_files": "success"}
    assert names(xcom(dagrun, "wait")) == [CUST_0315]
    assert xcom(dagrun, "count_files") == 1
    assert len(advance_on_pause) == 1
    assert len(list_calls(usageintel_emulator)) == 3  # worker check, trigger twice


def test_soft_fail_skips_on_timeout_in_both_modes(airflow_db, ui_conn, usageintel_emulator):
    dagrun = run_dag("test_sensor_soft_fail", logical_date=pendulum.datetime(2024, 3, 14, tz="UTC"))
    assert task_states(dagrun) == {"wait_poke": "skipped", "wait_deferrable": "skipped"}
    assert len(list_calls(usageintel_emulator)) == 3  # one poke; a worker check and a trigger check


def test_execute_complete_outcomes():
    records = [{"file_name": CUST_0314}]
    assert sensor().execute_complete({}, {"status": "found", "records": records}) == records
    with pytest.raises(AirflowSensorTimeout, match="still missing"):
        sensor().execute_complete({}, {"status": "timeout", "reason": "still missing"})
    with pytest.raises(UsageIntelligenceError, match="HTTP 403"):
        sensor(soft_fail=True).execute_complete({}, {"status": "error", "reason": "HTTP 403"})
    with pytest.raises(AirflowSkipException):
        sensor(never_fail=True).execute_complete({}, {"status": "error", "reason": "HTTP 403"})
    with pytest.raises(UsageIntelligenceError, match="unexpected trigger event"):
        sensor().execute_complete({}, None)
