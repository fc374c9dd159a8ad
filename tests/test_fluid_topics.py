"""Fluid Topics hook, operators and example DAG over real sockets: emulator and moto S3.

The client refuses a ``startDate`` outside the past year by the worker's clock, so these
tests run an emulator whose simulated ``today`` is the real one, with windows relative to it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from pathlib import Path

import pendulum
import pytest

from airflow_provider_usageintel.api.fluid_topics import events_problems, events_request, format_date, utc_now
from airflow_provider_usageintel.archive.layout import FLUID_TOPICS_PREFIX, events_key
from airflow_provider_usageintel.emulator.config import utc_today
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.fluid_topics import FluidTopicsHook
from airflow_provider_usageintel.operators.fluid_topics import FluidTopicsEventCountsOperator
from airflow_provider_usageintel.transfers.fluid_topics_to_s3 import FluidTopicsEventsToS3Operator
from tests.airflow_utils import run_dag, task_states, xcom
from tests.conftest import FAST_RETRIES

EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
UTC = dt.timezone.utc
TODAY = utc_today()
DAY_START = dt.datetime.combine(TODAY - dt.timedelta(days=2), dt.time(), UTC)
DAY_END = DAY_START + dt.timedelta(days=1)
DAY = DAY_START.date().isoformat()
NEXT_DAY = DAY_END.date().isoformat()
EVENTS_PATH = "/analytics/api/v1/events"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def set_connection(monkeypatch, conn_id: str, conn_json: str, extra: dict) -> dict:
    """Define ``conn_id`` from an emulator helper's JSON, with fast retries and ``extra`` merged in."""
    conn = json.loads(conn_json)
    conn["extra"] = {**conn["extra"], **FAST_RETRIES, **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn


def set_ft_connection(monkeypatch, emulator, **extra) -> dict:
    return set_connection(monkeypatch, "fluid_topics_default", emulator.fluid_topics_connection_json(), extra)


@pytest.fixture
def ft_emulator(usageintel_emulator_factory):
    """An emulator living today: its clock and the worker's agree on what the past year is."""
    return usageintel_emulator_factory(today=TODAY)


@pytest.fixture
def ft_conn(ft_emulator, monkeypatch) -> dict:
    return set_ft_connection(monkeypatch, ft_emulator)


@pytest.fixture
def ft_hook(ft_conn):
    hook = FluidTopicsHook()
    yield hook
    hook.close()


@pytest.fixture
def examples_bundle(airflow_db, s3, monkeypatch):
    """dag.test() syncs the configured bundles: serve dags_examples as one; aim the Variable at the bucket."""
    bundle = {"name": "provider-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(EXAMPLES)}}
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
    return s3


def calls(emulator, path: str) -> list[int]:
    return [r["status"] for r in emulator.control.requests() if r["path"] == path]


# -- hook -------------------------------------------------------------------------------------------


def test_paging_is_followed_to_the_last_page_in_order(ft_hook, ft_emulator):
    everything = list(ft_hook.iter_events(DAY_START, DAY_END, per_page=10_000))
    paged = list(ft_hook.iter_events(DAY_START, DAY_END, per_page=37))

    assert len(everything) > 100
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert len(calls(ft_emulator, EVENTS_PATH)) == 1 + -(-len(everything) // 37)
    stamps = [e["datetime"] for e in everything]
    assert stamps == sorted(stamps)
    assert DAY_START.timestamp() * 1000 <= stamps[0] and stamps[-1] < DAY_END.timestamp() * 1000


def test_latest_first_reverses_the_order(ft_hook):
    oldest = [e["id"] for e in ft_hook.iter_events(DAY_START, DAY_END, per_page=50)]
    latest = [e["id"] for e in ft_hook.iter_events(DAY_START, DAY_END, per_page=50, sort_order="latestFirst")]
    assert latest == oldest[::-1]


def test_every_filter_narrows_to_matching_events(ft_hook):
    everything = list(ft_hook.iter_events(DAY_START, DAY_END))
    some_user = everything[0]["user"]
    cases = {
        "names": (["khub.search"], lambda e: e["name"] == "khub.search"),
        "user_ids": ([some_user["id"]], lambda e: e["user"]["id"] == some_user["id"]),
        "realms": (["ldap"], lambda e: "ldap" in e["user"]["realm"]),
        "groups": (["TechWriter"], lambda e: "TechWriter" in e["user"]["groups"]),
        "roles": (["ADMIN"], lambda e: "ADMIN" in e["user"]["roles"]),
    }
    for argument, (values, keep) in cases.items():
        found = list(ft_hook.iter_events(DAY_START, DAY_END, **{argument: values}))
        expected = [e["id"] for e in everything if keep(e)]
        assert [e["id"] for e in found] == expected, argument
        assert 0 < len(expected) < len(everything), argument


def test_all_three_date_formats_select_the_same_window(ft_hook):
    ids = {
        tuple(e["id"] for e in ft_hook.iter_events(start, end))
        for start, end in (
            (DAY, NEXT_DAY),
            (f"{DAY}T00:00", f"{NEXT_DAY}T00:00"),
            (f"{DAY}T00:00:00", f"{NEXT_DAY}T00:00:00"),
            (DAY_START, DAY_END),
        )
    }
    assert len(ids) == 1 and len(next(iter(ids))) > 0


def test_aware_datetimes_are_sent_in_utc():
    paris = dt.datetime(2024, 3, 13, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_date(paris, "start") == "2024-03-13T00:30:00"


def test_bad_input_is_refused_before_any_call(ft_hook, ft_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        list(ft_hook.iter_events("2024/03/13", DAY, names=["x"], per_page=0))
    text = str(info.value)
    assert "startDate: '2024/03/13' is not a date" in text and "paging.perPage: 0" in text
    with pytest.raises(UsageIntelligenceValidationError, match="allowed: later than startDate"):
        list(ft_hook.iter_events(DAY, DAY))
    with pytest.raises(UsageIntelligenceValidationError, match="sortOrder"):
        list(ft_hook.iter_events(DAY, sort_order="newest"))
    assert calls(ft_emulator, EVENTS_PATH) == []


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (dt.timedelta(days=2), "is in the future"),
        (dt.timedelta(minutes=5), "is in the future"),
        (-dt.timedelta(days=367), "is more than a year ago"),
    ],
)
def test_a_start_outside_the_past_year_is_refused_before_any_call(ft_hook, ft_emulator, offset, reason):
    # seed 002, startDate: "It must be in the past year."
    start = utc_now() + offset
    calls_to_make = (
        lambda: list(ft_hook.iter_events(start)),
        lambda: ft_hook.event_counts(start, start + dt.timedelta(days=1)),
    )
    for call in calls_to_make:
        with pytest.raises(UsageIntelligenceValidationError) as info:
            call()
        [problem] = info.value.problems
        assert problem.startswith("startDate: ") and reason in problem
        assert f"(allowed: from {TODAY.year - 1}-" in problem and "to now" in problem
    assert ft_emulator.control.requests() == []


def test_the_emulator_judges_dates_by_its_own_clock(usageintel_emulator, monkeypatch):
    """The client accepts two days ago; an emulator whose simulated today is 2024-03-15 does not."""
    set_ft_connection(monkeypatch, usageintel_emulator)
    hook = FluidTopicsHook()
    with pytest.raises(UsageIntelligenceAPIError) as info:
        list(hook.iter_events(DAY_START, DAY_END))
    assert info.value.status == 400 and "is in the future" in info.value.reason
    assert calls(usageintel_emulator, EVENTS_PATH) == [400]


def test_retry_after_503_then_success(ft_hook, ft_emulator, hook_logs):
    ft_emulator.control.add_fault(path=EVENTS_PATH, kind="status", status=503, retry_after=0, count=2)
    events = list(ft_hook.iter_events(DAY_START, DAY_END))
    assert events and calls(ft_emulator, EVENTS_PATH) == [503, 503, 200]
    assert "retry 2/" in hook_logs.text()


def test_event_counts_agree_with_the_events(ft_hook):
    counts = ft_hook.event_counts(DAY_START, DAY_END, names=["khub.search", "page.display"])
    searches = sum(1 for e in ft_hook.iter_events(DAY_START, DAY_END, names=["khub.search"]))
    by_name = {item["name"]: item["periods"] for item in counts}
    assert set(by_name) == {"khub.search", "page.display"}
    assert by_name["khub.search"] == [
        {
            "periodStartDate": f"{DAY}T00:00:00",
            "periodEndDate": f"{NEXT_DAY}T00:00:00",
            "eventCount": searches,
        }
    ]


def test_wrong_key_is_401_and_secrets_stay_out_of_logs(ft_emulator, monkeypatch, caplog, hook_logs):
    from airflow.sdk._shared.secrets_masker import redact

    conn = set_ft_connection(monkeypatch, ft_emulator, max_retries=1)
    good_key = conn["password"]
    with caplog.at_level(logging.DEBUG):
        ft_emulator.control.add_fault(path=EVENTS_PATH, kind="status", status=503, count=1)
        assert list(FluidTopicsHook().iter_events(DAY_START, DAY_END, per_page=500))
        conn["password"] = "wrong-key-987654321"
        monkeypatch.setenv("AIRFLOW_CONN_FLUID_TOPICS_DEFAULT", json.dumps(conn))
        with pytest.raises(UsageIntelligenceAPIError) as info:
            list(FluidTopicsHook().iter_events(DAY_START, DAY_END))
    assert info.value.status == 401
    library_lines = [str(redact(r.getMessage())) for r in caplog.records]
    for secret in (good_key, "wrong-key-987654321"):
        assert secret not in str(info.value) and secret not in hook_logs.text()
        assert all(secret not in line for line in library_lines)
    assert "retry 1/" in hook_logs.text()


def test_test_connection(ft_conn, ft_emulator, monkeypatch):
    ok, message = FluidTopicsHook().test_connection()
    assert ok, message
    conn = json.loads(ft_emulator.fluid_topics_connection_json())
    conn["password"] = "nope-nope-nope"
    monkeypatch.setenv("AIRFLOW_CONN_FLUID_TOPICS_DEFAULT", json.dumps(conn))
    ok, message = FluidTopicsHook().test_connection()
    assert not ok and "401" in message


def test_request_builder_output_passes_the_validator():
    body = events_request("2024-03-13", names=["khub.search"], realms=["internal"], sort="LATESTFIRST")
    assert events_problems(body, dt.datetime(2024, 3, 15, 12)) == []
    assert body["sortOrder"] == "LatestFirst" and body["filters"]["user"] == {"realm": ["internal"]}


# -- operators --------------------------------------------------------------------------------------


def context_for(start: dt.datetime, end: dt.datetime) -> dict:
    return {"data_interval_start": start, "data_interval_end": end}


def test_events_to_s3_is_idempotent_per_interval(ft_conn, s3):
    op = FluidTopicsEventsToS3Operator(task_id="archive", s3_bucket=s3.bucket, per_page=40, asset_alias=None)
    first = op.execute(context_for(DAY_START, DAY_END))
    content = s3.read(first["key"])
    second = FluidTopicsEventsToS3Operator(
        task_id="again", s3_bucket=s3.bucket, per_page=500, asset_alias=None
    ).execute(context_for(DAY_START, DAY_END))

    assert first["key"] == second["key"] == events_key(FLUID_TOPICS_PREFIX, DAY_START, DAY_END)
    assert s3.read(second["key"]) == content and first["sha256"] == second["sha256"]
    rows = [json.loads(line) for line in gzip.decompress(content).splitlines()]
    assert len(rows) == first["rows"] > 100
    assert s3.head(first["key"])["Metadata"]["rows"] == str(first["rows"])
    assert s3.list_keys() == [first["key"]]  # nothing else written


def test_events_to_s3_names_every_bad_argument(ft_conn, s3, ft_emulator):
    op = FluidTopicsEventsToS3Operator(
        task_id="bad",
        s3_bucket="Bad_Bucket",
        per_page=0,
        start="yesterday",
        end=DAY_END,
        part_size=1024,
        progress_interval=-1,
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert {p.split(":")[0] for p in info.value.problems} >= {"per_page", "start", "part_size"}
    assert "progress_interval: -1 is not allowed (allowed: numbers > 0)" in info.value.problems
    assert any("Bad_Bucket" in p for p in info.value.problems)
    assert calls(ft_emulator, EVENTS_PATH) == []


def test_event_counts_operator_returns_counts(ft_conn):
    op = FluidTopicsEventCountsOperator(task_id="counts", names=["khub.search"], group_by_period="day")
    result = op.execute(context_for(DAY_START - dt.timedelta(days=2), DAY_END))
    assert [item["name"] for item in result] == ["khub.search"]
    assert len(result[0]["periods"]) == 3 and all(p["eventCount"] > 0 for p in result[0]["periods"])
    with pytest.raises(UsageIntelligenceValidationError, match="group_by_period"):
        FluidTopicsEventCountsOperator(task_id="x", group_by_period="year").execute(
            context_for(DAY_START, DAY_END)
        )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (DAY, NEXT_DAY),  # what {{ ds }} renders
        (DAY_START.date(), DAY_END.date()),
        (f"{DAY}T00:00:00", f"{NEXT_DAY}T00:00Z"),
        (pendulum.parse(DAY, tz="Europe/Paris").add(hours=1), pendulum.parse(NEXT_DAY, tz="UTC")),
        (DAY_START.replace(tzinfo=None), DAY_END.replace(tzinfo=None)),
    ],
)
def test_dates_strings_and_datetimes_are_accepted(ft_conn, s3, start, end):
    """Naive values are UTC: "2024-03-10" is midnight UTC."""
    op = FluidTopicsEventsToS3Operator(
        task_id="a", s3_bucket=s3.bucket, start=start, end=end, asset_alias=None
    )
    assert op.execute({})["key"] == events_key(FLUID_TOPICS_PREFIX, DAY_START, DAY_END)


def test_bad_and_out_of_range_bounds_name_the_argument(ft_conn, s3, ft_emulator):
    future = (TODAY + dt.timedelta(days=1)).isoformat()
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FluidTopicsEventCountsOperator(task_id="x", start=future, end="later").execute({})
    assert [p.split(":")[0] for p in info.value.problems] == ["end"]
    assert "end: 'later' is not allowed (allowed: a date YYYY-MM-DD" in str(info.value)
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FluidTopicsEventCountsOperator(task_id="x", start=future, end=TODAY + dt.timedelta(days=3)).execute(
            context_for(DAY_START, DAY_END)
        )
    [problem] = info.value.problems
    assert problem.startswith(f"start: '{future}T00:00:00' is in the future (allowed: from ")
    assert ft_emulator.control.requests() == []


def test_without_a_data_interval_the_last_complete_day_is_archived(ft_conn, s3):
    """A run triggered without a logical date has only dag_run.run_after."""

    class DagRun:
        run_after = pendulum.now("UTC")

    op = FluidTopicsEventsToS3Operator(task_id="a", s3_bucket=s3.bucket, asset_alias=None)
    result = op.execute({"dag_run": DagRun()})
    today = dt.datetime.combine(TODAY, dt.time(), UTC)
    yesterday = today - dt.timedelta(days=1)
    assert (result["start"], result["end"]) == (yesterday.isoformat(), today.isoformat())
    assert result["rows"] > 0


def test_ds_templates_render_into_a_window(ft_conn, airflow_db):
    dagrun = run_dag("test_ds_window_fluid_topics", logical_date=DAY_START)
    assert task_states(dagrun) == {"counts": "success"}
    [searches] = xcom(dagrun, "counts")
    assert [p["periodStartDate"] for p in searches["periods"]] == [f"{DAY}T00:00:00"]


def test_example_dag_archives_a_day(ft_conn, examples_bundle):
    s3 = examples_bundle
    dagrun = run_dag("fluid_topics_events_archive", EXAMPLES, logical_date=DAY_START)

    assert task_states(dagrun) == {"archive_events": "success", "count_searches": "success"}
    summary = xcom(dagrun, "archive_events")
    assert s3.list_keys("fluid_topics/") == [summary["key"]]
    assert summary["rows"] == len(gzip.decompress(s3.read(summary["key"])).splitlines()) > 0
    assert {item["name"] for item in xcom(dagrun, "count_searches")} == {"khub.search", "document.display"}
