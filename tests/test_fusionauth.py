"""FusionAuth hook, operators and example DAG over real sockets: emulator and moto S3."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowSkipException

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
DAU_SINGULAR, DAU_PLURAL = "/api/report/daily-active-user", "/api/report/daily-active-users"
MAU_SINGULAR, MAU_PLURAL = "/api/report/monthly-active-user", "/api/report/monthly-active-users"


def set_fa_connection(monkeypatch, emulator, path_style="auto", **extra) -> dict:
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


def interval_context(start: dt.datetime, end: dt.datetime) -> dict:
    return {"data_interval_start": start, "data_interval_end": end}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# -- hook -------------------------------------------------------------------------------------------


def test_the_server_truncates_both_bounds_and_includes_the_ends_interval(fa_conn, usageintel_emulator):
    # seed 003: start and end are each "an instant but it is truncated to days in the report timezone"
    hook = FusionAuthHook()
    raw = hook.daily_active_users(START, END)
    assert [d["period"] for d in raw["dailyActiveUsers"]] == ["2024-03-12", "2024-03-13", "2024-03-14"]
    assert raw["total"] == sum(d["count"] for d in raw["dailyActiveUsers"]) > 0
    window = hook.report_between("daily_active_users", START, END)
    assert [d["period"] for d in window["dailyActiveUsers"]] == ["2024-03-12", "2024-03-13"]
    assert window["dailyActiveUsers"] == raw["dailyActiveUsers"][:2]
    assert paths(usageintel_emulator) == [(DAU_SINGULAR, 200)] * 2


def test_auto_path_style_falls_back_to_plural_and_remembers_it(usageintel_emulator_factory, monkeypatch):
    passport = usageintel_emulator_factory(fusionauth_path_style="plural")
    set_fa_connection(monkeypatch, passport)  # path_style "auto", the default
    hook = FusionAuthHook()
    assert hook.daily_active_users(START, END)["total"] > 0
    assert hook.monthly_active_users(START, END)["monthlyActiveUsers"][0]["period"] == "2024-03"
    assert hook.daily_active_users(START, END)["total"] > 0
    # one 404, then the plural paths straight away, for every active-user report of this hook
    assert paths(passport) == [(DAU_SINGULAR, 404), (DAU_PLURAL, 200), (MAU_PLURAL, 200), (DAU_PLURAL, 200)]


def test_auto_path_style_on_a_current_server_never_tries_plural(usageintel_emulator_factory, monkeypatch):
    current = usageintel_emulator_factory(fusionauth_path_style="singular")
    set_fa_connection(monkeypatch, current)
    hook = FusionAuthHook()
    hook.daily_active_users(START, END)
    hook.monthly_active_users(START, END)
    assert paths(current) == [(DAU_SINGULAR, 200), (MAU_SINGULAR, 200)]


def test_auto_path_style_follows_a_server_upgraded_to_singular(usageintel_emulator_factory, monkeypatch):
    """A hook that learnt plural paths goes back to singular ones on a 404: the other direction."""
    server = usageintel_emulator_factory(fusionauth_path_style="plural")
    set_fa_connection(monkeypatch, server)
    hook = FusionAuthHook()
    hook.daily_active_users(START, END)
    server.config.fusionauth_path_style = "singular"  # Passport upgraded to FusionAuth in place
    hook.daily_active_users(START, END)
    hook.daily_active_users(START, END)
    assert paths(server) == [
        (DAU_SINGULAR, 404),
        (DAU_PLURAL, 200),
        (DAU_PLURAL, 404),
        (DAU_SINGULAR, 200),
        (DAU_SINGULAR, 200),
    ]


@pytest.mark.parametrize(("served", "forced"), [("plural", "singular"), ("singular", "plural")])
def test_a_forced_path_style_tries_that_path_only(usageintel_emulator_factory, monkeypatch, served, forced):
    server = usageintel_emulator_factory(fusionauth_path_style=served)
    set_fa_connection(monkeypatch, server, path_style=forced)
    with pytest.raises(UsageIntelligenceAPIError) as info:
        FusionAuthHook().monthly_active_users(START, END)
    assert info.value.status == 404
    assert paths(server) == [(MAU_SINGULAR if forced == "singular" else MAU_PLURAL, 404)]
    set_fa_connection(monkeypatch, server, path_style=served)
    assert FusionAuthHook().monthly_active_users(START, END)["total"] > 0


def test_a_server_without_the_report_names_both_paths(usageintel_emulator, monkeypatch):
    set_fa_connection(monkeypatch, usageintel_emulator, path_style="auto")
    hook = FusionAuthHook()
    hook.settings  # noqa: B018 - read the connection, then aim the hook at a path-less prefix
    object.__setattr__(hook._settings, "base_url", f"{usageintel_emulator.url}/nothing-here")
    with pytest.raises(UsageIntelligenceAPIError) as info:
        hook.daily_active_users(START, END)
    assert info.value.status == 404
    assert DAU_SINGULAR in info.value.reason and DAU_PLURAL in info.value.reason


def test_bad_path_style_and_time_zone_are_named(usageintel_emulator, monkeypatch, s3):
    set_fa_connection(monkeypatch, usageintel_emulator, path_style="newest", report_timezone="Mars/Olympus")
    with pytest.raises(UsageIntelligenceValidationError, match=r"extra\.path_style: 'newest'"):
        FusionAuthHook().totals()
    op = FusionAuthReportOperator(task_id="dau", report="daily_active_users")
    with pytest.raises(UsageIntelligenceValidationError, match=r"extra\.report_timezone: 'Mars/Olympus'"):
        op.execute(interval_context(START, END))
    assert paths(usageintel_emulator) == []


def test_logins_of_one_user_add_up_to_the_user_filter(fa_conn):
    hook = FusionAuthHook()
    everyone = hook.report_between("login", START, END)
    assert len(everyone["hourlyCounts"]) == 48 and everyone["hourlyCounts"][0]["period"] == "2024-03-12T00:00"
    one = hook.report_between("login", START, END, login_id="user0001@example.com")
    assert one["total"] < everyone["total"]
    with pytest.raises(UsageIntelligenceValidationError, match="loginId: not taken"):
        hook.report("registration", START, END, login_id="x")


def test_registrations_and_totals(fa_conn):
    hook = FusionAuthHook()
    month = hook.report_between("registration", utc(2024, 2, 1), utc(2024, 3, 1))
    totals = hook.totals()
    assert month["total"] >= 0 and len(month["hourlyCounts"]) == 29 * 24
    assert totals["globalRegistrations"] >= max(
        t["registrations"] for t in totals["applicationTotals"].values()
    )


def test_report_time_zone_shifts_intervals(usageintel_emulator_factory, monkeypatch):
    utc_server = usageintel_emulator_factory()
    tokyo_server = usageintel_emulator_factory(fusionauth_timezone="Asia/Tokyo")
    set_fa_connection(monkeypatch, utc_server)
    utc_hours = FusionAuthHook().report_between("login", START, END)["hourlyCounts"]
    set_fa_connection(monkeypatch, tokyo_server)
    tokyo_hours = FusionAuthHook().report_between("login", START, END)["hourlyCounts"]
    assert tokyo_hours[0]["interval"] == utc_hours[0]["interval"] + 9
    assert tokyo_hours[0]["period"] == "2024-03-12T09:00"
    assert [h["count"] for h in tokyo_hours] == [h["count"] for h in utc_hours]


def test_a_report_time_zone_mismatch_is_caught(usageintel_emulator_factory, monkeypatch):
    paris = usageintel_emulator_factory(fusionauth_timezone="Europe/Paris")
    set_fa_connection(monkeypatch, paris, report_timezone="UTC")  # the server's zone is Paris
    with pytest.raises(UsageIntelligenceAPIError) as info:
        FusionAuthHook().report_between("daily_active_users", START, END)
    assert "2024-03-14" in info.value.reason and "report_timezone 'UTC'" in info.value.reason


def test_interval_units_round_trip():
    assert DAY.period(19794) == "2024-03-12"
    assert HOUR.period(19794 * 24 + 5) == "2024-03-12T05:00"
    assert MONTH.period((2024 - 1970) * 12 + 2) == "2024-03"
    for unit, number in ((DAY, 19794), (HOUR, 19794 * 24 + 5), (MONTH, 650)):
        assert unit.number(unit.start(number)) == number
    assert epoch_millis(START, "start") == 1710201600000
    assert epoch_millis(pendulum.datetime(2024, 3, 12, 0, 0, 0, 250_000), "start") == 1710201600250


def test_bad_input_is_refused_before_any_call(fa_conn, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FusionAuthHook().logins(dt.datetime(2024, 3, 12), "yesterday")
    assert [p.split(":")[0] for p in info.value.problems] == ["start", "end"]
    with pytest.raises(UsageIntelligenceValidationError, match="end: must be later"):
        FusionAuthHook().logins(END, START)
    with pytest.raises(UsageIntelligenceValidationError, match="holds no whole day"):
        FusionAuthHook().report_between("daily_active_users", START, START + dt.timedelta(hours=5))
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


# -- operators: windows -----------------------------------------------------------------------------


def run_report(report: str, start: dt.datetime, end: dt.datetime) -> dict:
    return FusionAuthReportOperator(task_id="r", report=report).execute(interval_context(start, end))


def counts(result: dict, report: str) -> dict[int, int]:
    key = {"daily_active_users": "dailyActiveUsers", "monthly_active_users": "monthlyActiveUsers"}
    return {item["interval"]: item["count"] for item in result[key.get(report, "hourlyCounts")]}


@pytest.mark.parametrize(
    ("report", "timezone", "bounds"),
    [
        ("daily_active_users", "UTC", [utc(2024, 3, 10), utc(2024, 3, 11), utc(2024, 3, 13)]),
        # daily runs scheduled in UTC, reports in Paris: each run is one Paris day
        ("daily_active_users", "Europe/Paris", [utc(2024, 3, 10), utc(2024, 3, 11), utc(2024, 3, 13)]),
        ("daily_active_users", "America/New_York", [utc(2024, 3, 9), utc(2024, 3, 10), utc(2024, 3, 12)]),
        ("login", "Asia/Kolkata", [utc(2024, 3, 12), utc(2024, 3, 13), utc(2024, 3, 14)]),
        ("registration", "UTC", [utc(2024, 1, 2, 6), utc(2024, 2, 1, 18), utc(2024, 3, 10, 7)]),
        ("monthly_active_users", "UTC", [utc(2024, 1, 1), utc(2024, 2, 1), utc(2024, 3, 1)]),
        ("monthly_active_users", "Asia/Tokyo", [utc(2024, 1, 1), utc(2024, 2, 1), utc(2024, 3, 1)]),
    ],
)
def test_consecutive_runs_tile_exactly(usageintel_emulator_factory, monkeypatch, report, timezone, bounds):
    """Two adjacent runs count what one run over both counts: no interval twice, none lost."""
    server = usageintel_emulator_factory(fusionauth_timezone=timezone)
    set_fa_connection(monkeypatch, server)  # report_timezone: the server's
    first, second, whole = (
        run_report(report, bounds[0], bounds[1]),
        run_report(report, bounds[1], bounds[2]),
        run_report(report, bounds[0], bounds[2]),
    )
    one, two, both = counts(first, report), counts(second, report), counts(whole, report)
    assert one and two and not set(one) & set(two)
    assert {**one, **two} == both
    assert first["total"] + second["total"] == whole["total"] > 0


def test_daily_windows_are_the_report_zones_days(usageintel_emulator_factory, monkeypatch):
    server = usageintel_emulator_factory(fusionauth_timezone="America/New_York")
    set_fa_connection(monkeypatch, server)
    # the run due at 2024-03-12T00:00Z (19:00 on the 11th in New York) reports New York's 10th
    result = run_report("daily_active_users", utc(2024, 3, 11), utc(2024, 3, 12))
    assert [d["period"] for d in result["dailyActiveUsers"]] == ["2024-03-10"]
    assert paths(server) == [(DAU_SINGULAR, 200)]


def test_a_run_that_closes_no_month_skips_monthly_active_users(fa_conn, usageintel_emulator):
    with pytest.raises(AirflowSkipException, match="no whole month"):
        run_report("monthly_active_users", utc(2024, 3, 12), utc(2024, 3, 13))
    with pytest.raises(UsageIntelligenceValidationError, match=r"end: .* holds no whole month"):
        FusionAuthReportOperator(
            task_id="m", report="monthly_active_users", start="2024-03-01", end="2024-03-20"
        ).execute({})
    assert paths(usageintel_emulator) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-03-12", "2024-03-14"),  # what {{ ds }} renders
        (dt.date(2024, 3, 12), dt.date(2024, 3, 14)),
        ("2024-03-12T00:00:00", "2024-03-14T00:00"),
        ("2024-03-12T04:00:00Z", "2024-03-14T04:00:00+00:00"),  # midnight in New York (EDT from the 10th)
        (pendulum.datetime(2024, 3, 12, tz="America/New_York"), pendulum.datetime(2024, 3, 14, 4, tz="UTC")),
        (dt.datetime(2024, 3, 12, 0, 0), dt.datetime(2024, 3, 14, 0, 0)),
    ],
)
def test_dates_strings_and_datetimes_are_accepted(usageintel_emulator_factory, monkeypatch, start, end):
    """Naive values are the report time zone's wall clock: "2024-03-12" is midnight in New York."""
    server = usageintel_emulator_factory(fusionauth_timezone="America/New_York")
    set_fa_connection(monkeypatch, server)
    op = FusionAuthReportOperator(task_id="dau", report="daily_active_users", start=start, end=end)
    result = op.execute({})
    assert [d["period"] for d in result["dailyActiveUsers"]] == ["2024-03-12", "2024-03-13"]


def test_bad_bounds_are_quoted_as_given(fa_conn, usageintel_emulator):
    op = FusionAuthReportOperator(task_id="x", report="login", start="yesterday", end=20240314)
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    text = str(info.value)
    assert "start: 'yesterday' is not allowed (allowed: a date YYYY-MM-DD" in text
    assert "end: 20240314 is not allowed" in text and "datetime.datetime" not in text
    with pytest.raises(UsageIntelligenceValidationError, match="end: '2024-03-10' must be later than start"):
        FusionAuthReportOperator(task_id="y", report="login", start="2024-03-12", end="2024-03-10").execute(
            {}
        )
    assert paths(usageintel_emulator) == []


def test_report_operator_uses_the_data_interval_and_checks_the_report(fa_conn):
    op = FusionAuthReportOperator(task_id="dau", report="daily_active_users")
    result = op.execute(interval_context(START, END))
    assert [d["period"] for d in result["dailyActiveUsers"]] == ["2024-03-12", "2024-03-13"]
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FusionAuthReportOperator(task_id="x", report="weekly", start="x").execute({})
    assert "report: unknown name 'weekly'" in str(info.value)


def test_without_a_data_interval_the_last_complete_day_is_reported(usageintel_emulator_factory, monkeypatch):
    """A run triggered without a logical date: the last complete day of the report zone before run_after."""
    server = usageintel_emulator_factory(fusionauth_timezone="Asia/Tokyo")
    set_fa_connection(monkeypatch, server)

    class DagRun:
        run_after = utc(2024, 3, 14, 16)  # 01:00 on the 15th in Tokyo

    result = FusionAuthReportOperator(task_id="dau", report="daily_active_users").execute(
        {"dag_run": DagRun()}
    )
    assert [d["period"] for d in result["dailyActiveUsers"]] == ["2024-03-14"]
    month = FusionAuthReportOperator(task_id="mau", report="monthly_active_users").execute(
        {"dag_run": DagRun()}
    )
    assert [m["period"] for m in month["monthlyActiveUsers"]] == ["2024-02"]


def test_ds_templates_render_into_a_window(fa_conn, airflow_db):
    dagrun = run_dag("test_ds_window_fusionauth", logical_date=START)
    assert task_states(dagrun) == {"dau": "success"}
    assert [d["period"] for d in xcom(dagrun, "dau")["dailyActiveUsers"]] == ["2024-03-12"]


# -- transfer ---------------------------------------------------------------------------------------


def test_report_to_s3_writes_json_and_rows_under_the_windows_key(fa_conn, s3):
    op = FusionAuthReportToS3Operator(task_id="logins", report="login", s3_bucket=s3.bucket, asset_alias=None)
    result = op.execute(interval_context(START, END))
    base = "fusionauth/login/2024-03-12T0000_2024-03-14T0000"
    assert s3.list_keys() == [f"{base}.json", f"{base}.ndjson"]
    body = json.loads(s3.read(f"{base}.json"))
    rows = [json.loads(line) for line in s3.read(f"{base}.ndjson").splitlines()]
    assert result["objects"][1]["rows"] == len(rows) == len(body["hourlyCounts"]) == 48
    assert rows[0] == {
        "report": "login",
        "interval": body["hourlyCounts"][0]["interval"],
        "hour": "2024-03-12T00:00",
        "timezone": "UTC",
        "count": body["hourlyCounts"][0]["count"],
    }
    assert s3.head(f"{base}.json")["Metadata"]["window-end"] == END.isoformat()


def test_report_to_s3_with_an_explicit_key(fa_conn, s3):
    op = FusionAuthReportToS3Operator(
        task_id="totals", report="totals", s3_bucket=s3.bucket, s3_key="fa/totals.json", flat=False
    )
    op.execute({})
    assert s3.list_keys() == ["fa/totals.json"]
    assert json.loads(s3.read("fa/totals.json"))["globalRegistrations"] > 0


@pytest.mark.usefixtures("examples_bundle")
def test_example_dag_runs_end_to_end(fa_conn, s3):
    dagrun = run_dag("fusionauth_reports", EXAMPLES, logical_date=END)
    assert set(task_states(dagrun).values()) == {"success"}
    keys = s3.list_keys("fusionauth/")
    # CronDataIntervalTimetable: the run of 2024-03-14 covers 2024-03-13
    window = "2024-03-13T0000_2024-03-14T0000"
    assert [k for k in keys if "/login/" in k] == [
        f"fusionauth/login/{window}.json",
        f"fusionauth/login/{window}.ndjson",
    ]
    assert len(keys) == 8 and all(k.endswith((".json", ".ndjson")) for k in keys)
    assert [d["period"] for d in xcom(dagrun, "daily_active_users")["dailyActiveUsers"]] == ["2024-03-13"]
