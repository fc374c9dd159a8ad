"""Every API session a task opens is ended, whatever happens: counted by the emulator.

The Usage Intelligence API limits concurrent sessions per account, so each login must
have its logout: the emulator counts both (``GET /_emulator/sessions``). Every example
DAG run in ``tests/test_example_dags.py`` is checked that way, and for the client sockets
it leaves open (Fluid Topics and FusionAuth authenticate with API keys: ending their
session means closing the sockets). Here: operators, sensor and trigger on failure,
on interruption and between polls.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceReportOperator
from airflow_provider_usageintel.sensors.file_wait import FileWait
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger
from airflow_provider_usageintel.utils.sessions import end_session_soon, ends_session

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


class EndsEarly(UsageIntelligenceReportOperator):
    """Done with the API as soon as it has logged in."""

    def execute(self, context):
        self.hook.login()
        end_session_soon(self)
        return "done"


def test_execute_waits_for_a_session_it_ended_early(ui_conn, usageintel_emulator):
    usageintel_emulator.control.set_latency_ms(300)  # the logout is still on its way as execute returns
    assert EndsEarly(task_id="early", report="event_names").execute({}) == "done"
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}


class ReportAfterEndingEarly(UsageIntelligenceReportOperator):
    """Ends its session early, then needs the API after all."""

    def execute(self, context):
        self.hook.login()
        end_session_soon(self)
        return self.hook.run_report(self.report, {}, self.product_id)


def test_a_session_needed_after_ending_early_is_a_new_one_that_ends_too(ui_conn, usageintel_emulator):
    assert ReportAfterEndingEarly(task_id="again", report="event_names").execute({})
    assert usageintel_emulator.control.sessions() == {"logins": 2, "logouts": 2, "open": 0}


def test_a_failure_ending_a_session_in_the_background_is_raised_by_execute():
    class FailingHook:
        def end_session(self) -> None:
            raise RuntimeError("the logout broke")

    class Task:
        @ends_session
        def execute(self) -> str:
            vars(self)["hook"] = FailingHook()
            end_session_soon(self)
            return "done"

    with pytest.raises(RuntimeError, match="the logout broke"):
        Task().execute()


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
        wait=FileWait.parse("custom_events", "daily", "2024-03-15"),
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
