"""FusionAuth hook, operators and example DAG over real sockets: emulator and moto S3."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_usageintel.api.fusionauth import DAY, HOUR, MONTH, epoch_millis
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.fusionauth import FusionAuthHook
from airflow_provider_usageintel.operators.fusionauth import FusionAuthReportOperator
from airflow_provider_usageintel.transfers.fusionauth_to_s3 import FusionAuthReportToS3Operator
from tests.airflow_utils import run_dag, task_states, xcom
from tests.test_fluid_topics import EXAMPLES, examples_bundle, set_connection  # noqa: F401 - a fixture

UTC = dt.timezone.utc
START = dt.datetime(2024, 3, 12, tzinfo=UTC)
END = dt.datetime(2024, 3, 14, tzinfo=UTC)


def set_fa_connection(monkeypatch, emulator, path_style="singular", **extra) -> dict:
    return set_connection(
        monkeypatch, "fusionauth_default", emulator.fusionauth_connection_json(path_style), extra
    )


@pytest.fixture
def fa_conn(usageintel_emulator, monkeypatch) -> dict:
    return set_fa_connection(monkeypatch, usageintel_emulator)


def paths(emulator) -> list[tuple[str, int]]:
    return [
        (r["path"], r["status"]) for r in emulator.control.requests() if r["path"].startswith("/api/report")
    ]


# -- hook -------------------------------------------------------------------------------------------


def test_daily_active_users_with_iso_days(fa_conn, usageintel_emulator):
    report = FusionAuthHook().daily_active_users(START, END)
    days = report["dailyActiveUsers"]
    assert [d["period"] for d in days] == ["2024-03-12", "2024-03-13"]
    assert report["total"] == sum(d["count"] for d in days) > 0
    assert paths(usageintel_emulator) == [("/api/report/daily-active-user", 200)]


def test_plural_paths_for_passport_servers(usageintel_emulator_factory, monkeypatch):
    passport = usageintel_emulator_factory(fusionauth_path_style="plural")
    set_fa_connection(monkeypatch, passport, path_style="singular")
    with pytest.raises(UsageIntelligenceAPIError) as info:
        FusionAuthHook().monthly_active_users(START, END)
    assert info.value.status == 404
    set_fa_connection(monkeypatch, passport, path_style="plural")
    report = FusionAuthHook().monthly_active_users(START, END)
    assert report["monthlyActiveUsers"][0]["period"] == "2024-03"
    assert paths(passport)[-1] == ("/api/report/monthly-active-users", 200)


def test_logins_of_one_user_add_up_to_the_user_filter(fa_conn):
    hook = FusionAuthHook()
    everyone = hook.logins(START, END)
    assert len(everyone["hourlyCounts"]) == 48 and everyone["hourlyCounts"][0]["period"] == "2024-03-12T00:00"
    one = hook.logins(START, END, login_id="user0001@example.com")
    assert one["total"] < everyone["total"]
    with pytest.raises(UsageIntelligenceValidationError, match="loginId: not taken"):
        hook.report("registration", START, END, login_id="x")


def test_registrations_and_totals(fa_conn):
    hook = FusionAuthHook()
    month = hook.registrations(dt.datetime(2024, 2, 1, tzinfo=UTC), dt.datetime(2024, 3, 1, tzinfo=UTC))
    totals = hook.totals()
    assert month["total"] >= 0 and len(month["hourlyCounts"]) == 29 * 24
    assert totals["globalRegistrations"] >= max(
        t["registrations"] for t in totals["applicationTotals"].values()
    )


def test_report_time_zone_shifts_intervals(usageintel_emulator_factory, monkeypatch):
    utc_server = usageintel_emulator_factory()
    tokyo_server = usageintel_emulator_factory(fusionauth_timezone="Asia/Tokyo")
    set_fa_connection(monkeypatch, utc_server)
    utc_hours = FusionAuthHook().logins(START, END)["hourlyCounts"]
    set_fa_connection(monkeypatch, tokyo_server)
    tokyo_hours = FusionAuthHook().logins(START, END)["hourlyCounts"]
    assert tokyo_hours[0]["interval"] == utc_hours[0]["interval"] + 9
    assert tokyo_hours[0]["period"] == "2024-03-12T09:00"
    assert [h["count"] for h in tokyo_hours] == [h["count"] for h in utc_hours]


def test_interval_units_round_trip():
    assert DAY.period(19794) == "2024-03-12"
    assert HOUR.period(19794 * 24 + 5) == "2024-03-12T05:00"
    assert MONTH.period((2024 - 1970) * 12 + 2) == "2024-03"
    assert epoch_millis(START, "start") == 1710201600000
    import pendulum

    assert epoch_millis(pendulum.datetime(2024, 3, 12, 0, 0, 0, 250_000), "start") == 1710201600250


def test_bad_input_is_refused_before_any_call(fa_conn, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FusionAuthHook().logins(dt.datetime(2024, 3, 12), "yesterday")
    assert [p.split(":")[0] for p in info.value.problems] == ["start", "end"]
    with pytest.raises(UsageIntelligenceValidationError, match="end: must be later"):
        FusionAuthHook().logins(END, START)
    assert paths(usageintel_emulator) == []


def test_field_errors_from_the_server_become_the_reason(fa_conn, usageintel_emulator):
    hook = FusionAuthHook()
    with pytest.raises(UsageIntelligenceAPIError) as info:
        hook.send_json("GET", "/api/report/login", params={"start": "soon"})
    assert info.value.status == 400
    assert "end: You must specify the [end] parameter." in info.value.reason
    assert "start: The [start] parameter must be a Long." in info.value.reason


def test_licence_expired_is_reported_clearly(usageintel_emulator_factory, monkeypatch):
    server = usageintel_emulator_factory(fusionauth_license_expired=True)
    set_fa_connection(monkeypatch, server)
    with pytest.raises(UsageIntelligenceAPIError) as info:
        FusionAuthHook().totals()
    assert info.value.status == 402 and "licence has expired" in str(info.value)
    assert paths(server) == [("/api/report/totals", 402)]  # not retried


def test_tenant_header_and_wrong_key_and_masking(usageintel_emulator_factory, monkeypatch, hook_logs):
    server = usageintel_emulator_factory(fusionauth_tenant_id="tenant-42")
    conn = set_fa_connection(monkeypatch, server, max_retries=1)
    server.control.add_fault(path="/api/report/totals", kind="status", status=503, count=1)
    assert FusionAuthHook().totals()["globalRegistrations"] > 0
    ok, message = FusionAuthHook().test_connection()
    assert ok, message
    conn["extra"].pop("tenant_id")
    monkeypatch.setenv("AIRFLOW_CONN_FUSIONAUTH_DEFAULT", json.dumps(conn))
    ok, message = FusionAuthHook().test_connection()
    assert not ok and "HTTP 401" in message and "API key is missing or not valid" in message
    assert conn["password"] not in hook_logs.text() and conn["password"] not in message
    assert "retry 1/" in hook_logs.text()


# -- operators --------------------------------------------------------------------------------------


def test_report_operator_uses_the_data_interval(fa_conn):
    op = FusionAuthReportOperator(task_id="dau", report="daily_active_users")
    result = op.execute({"data_interval_start": START, "data_interval_end": END})
    assert [d["period"] for d in result["dailyActiveUsers"]] == ["2024-03-12", "2024-03-13"]
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FusionAuthReportOperator(task_id="x", report="weekly", start="x").execute({})
    assert "report: unknown name 'weekly'" in str(info.value)


def test_report_to_s3_writes_json_and_rows(fa_conn, s3):
    op = FusionAuthReportToS3Operator(
        task_id="logins", report="login", s3_bucket=s3.bucket, s3_key="fa/login.json", asset_alias=None
    )
    result = op.execute({"data_interval_start": START, "data_interval_end": END})
    assert s3.list_keys() == ["fa/login.json", "fa/login.ndjson"]
    body = json.loads(s3.read("fa/login.json"))
    rows = [json.loads(line) for line in s3.read("fa/login.ndjson").splitlines()]
    assert result["objects"][1]["rows"] == len(rows) == len(body["hourlyCounts"]) == 48
    assert rows[0] == {
        "report": "login",
        "interval": body["hourlyCounts"][0]["interval"],
        "hour": "2024-03-12T00:00",
        "timezone": "UTC",
        "count": body["hourlyCounts"][0]["count"],
    }


@pytest.mark.usefixtures("examples_bundle")
def test_example_dag_runs_end_to_end(fa_conn, s3):
    dagrun = run_dag("fusionauth_reports", EXAMPLES, logical_date=END)
    assert set(task_states(dagrun).values()) == {"success"}
    keys = s3.list_keys("fusionauth/")
    assert len(keys) == 8 and all(k.endswith((".json", ".ndjson")) for k in keys)
    assert xcom(dagrun, "daily_active_users")["total"] > 0
