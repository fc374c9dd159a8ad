"""Fluid Topics hook, operators and example DAG over real sockets: emulator and moto S3."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from pathlib import Path

import pytest

from airflow_provider_usageintel.api.fluid_topics import events_problems, events_request, format_date
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.fluid_topics import FluidTopicsHook
from airflow_provider_usageintel.operators.fluid_topics import FluidTopicsEventCountsOperator
from airflow_provider_usageintel.transfers.fluid_topics_to_s3 import (
    FluidTopicsEventsToS3Operator,
    interval_key,
)
from tests.airflow_utils import run_dag, task_states, xcom
from tests.conftest import FAST_RETRIES

EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
UTC = dt.timezone.utc
DAY_START = dt.datetime(2024, 3, 13, tzinfo=UTC)
DAY_END = dt.datetime(2024, 3, 14, tzinfo=UTC)
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
def ft_conn(usageintel_emulator, monkeypatch) -> dict:
    return set_ft_connection(monkeypatch, usageintel_emulator)


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


def test_paging_is_followed_to_the_last_page_in_order(ft_hook, usageintel_emulator):
    everything = list(ft_hook.iter_events(DAY_START, DAY_END, per_page=10_000))
    paged = list(ft_hook.iter_events(DAY_START, DAY_END, per_page=37))

    assert len(everything) > 100
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    assert len(calls(usageintel_emulator, EVENTS_PATH)) == 1 + -(-len(everything) // 37)
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
            ("2024-03-13", "2024-03-14"),
            ("2024-03-13T00:00", "2024-03-14T00:00"),
            ("2024-03-13T00:00:00", "2024-03-14T00:00:00"),
            (DAY_START, DAY_END),
        )
    }
    assert len(ids) == 1 and len(next(iter(ids))) > 0


def test_aware_datetimes_are_sent_in_utc():
    paris = dt.datetime(2024, 3, 13, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_date(paris, "start") == "2024-03-13T00:30:00"


def test_bad_input_is_refused_before_any_call(ft_hook, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        list(ft_hook.iter_events("2024/03/13", "2024-03-13", names=["x"], per_page=0))
    text = str(info.value)
    assert "startDate: '2024/03/13' is not a date" in text and "paging.perPage: 0" in text
    with pytest.raises(UsageIntelligenceValidationError, match="later than startDate"):
        list(ft_hook.iter_events("2024-03-13", "2024-03-13"))
    with pytest.raises(UsageIntelligenceValidationError, match="sortOrder"):
        list(ft_hook.iter_events("2024-03-13", sort_order="newest"))
    assert calls(usageintel_emulator, EVENTS_PATH) == []


def test_a_start_older_than_a_year_is_the_servers_400(ft_hook):
    with pytest.raises(UsageIntelligenceAPIError) as info:
        list(ft_hook.iter_events("2023-03-01", "2023-03-02"))
    assert info.value.status == 400 and "more than a year ago" in info.value.reason


def test_retry_after_503_then_success(ft_hook, usageintel_emulator, hook_logs):
    usageintel_emulator.control.add_fault(path=EVENTS_PATH, kind="status", status=503, retry_after=0, count=2)
    events = list(ft_hook.iter_events(DAY_START, DAY_END))
    assert events and calls(usageintel_emulator, EVENTS_PATH) == [503, 503, 200]
    assert "retry 2/" in hook_logs.text()


def test_event_counts_agree_with_the_events(ft_hook):
    counts = ft_hook.event_counts(DAY_START, DAY_END, names=["khub.search", "page.display"])
    searches = sum(1 for e in ft_hook.iter_events(DAY_START, DAY_END, names=["khub.search"]))
    by_name = {item["name"]: item["periods"] for item in counts}
    assert set(by_name) == {"khub.search", "page.display"}
    assert by_name["khub.search"] == [
        {
            "periodStartDate": "2024-03-13T00:00:00",
            "periodEndDate": "2024-03-14T00:00:00",
            "eventCount": searches,
        }
    ]


def test_wrong_key_is_401_and_secrets_stay_out_of_logs(usageintel_emulator, monkeypatch, caplog, hook_logs):
    from airflow.sdk._shared.secrets_masker import redact

    conn = set_ft_connection(monkeypatch, usageintel_emulator, max_retries=1)
    good_key = conn["password"]
    with caplog.at_level(logging.DEBUG):
        usageintel_emulator.control.add_fault(path=EVENTS_PATH, kind="status", status=503, count=1)
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


def test_test_connection(ft_conn, usageintel_emulator, monkeypatch):
    ok, message = FluidTopicsHook().test_connection()
    assert ok, message
    conn = json.loads(usageintel_emulator.fluid_topics_connection_json())
    conn["password"] = "nope-nope-nope"
    monkeypatch.setenv("AIRFLOW_CONN_FLUID_TOPICS_DEFAULT", json.dumps(conn))
    ok, message = FluidTopicsHook().test_connection()
    assert not ok and "401" in message


def test_request_builder_output_passes_the_shared_validator():
    body = events_request("2024-03-13", names=["khub.search"], realms=["internal"], sort="LATESTFIRST")
    assert events_problems(body, dt.date(2024, 3, 15)) == []
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

    assert first["key"] == second["key"] == interval_key("fluid_topics/events", DAY_START, DAY_END)
    assert s3.read(second["key"]) == content and first["sha256"] == second["sha256"]
    rows = [json.loads(line) for line in gzip.decompress(content).splitlines()]
    assert len(rows) == first["rows"] > 100
    assert s3.head(first["key"])["Metadata"]["rows"] == str(first["rows"])
    assert s3.list_keys() == [first["key"]]  # nothing else written


def test_events_to_s3_names_every_bad_argument(ft_conn, s3, usageintel_emulator):
    op = FluidTopicsEventsToS3Operator(
        task_id="bad", s3_bucket="Bad_Bucket", per_page=0, start="yesterday", end=DAY_END
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert {p.split(":")[0] for p in info.value.problems} >= {"per_page", "start"}
    assert any("Bad_Bucket" in p for p in info.value.problems)
    assert calls(usageintel_emulator, EVENTS_PATH) == []


def test_event_counts_operator_returns_counts(ft_conn):
    op = FluidTopicsEventCountsOperator(task_id="counts", names=["khub.search"], group_by_period="day")
    result = op.execute(context_for(DAY_START - dt.timedelta(days=2), DAY_END))
    assert [item["name"] for item in result] == ["khub.search"]
    assert len(result[0]["periods"]) == 3 and all(p["eventCount"] > 0 for p in result[0]["periods"])
    with pytest.raises(UsageIntelligenceValidationError, match="group_by_period"):
        FluidTopicsEventCountsOperator(task_id="x", group_by_period="year").execute(
            context_for(DAY_START, DAY_END)
        )


def test_example_dag_archives_a_day(ft_conn, examples_bundle):
    s3 = examples_bundle
    dagrun = run_dag("fluid_topics_events_archive", EXAMPLES, logical_date=DAY_START)

    assert task_states(dagrun) == {"archive_events": "success", "count_searches": "success"}
    summary = xcom(dagrun, "archive_events")
    assert s3.list_keys("fluid_topics/") == [summary["key"]]
    assert summary["rows"] == len(gzip.decompress(s3.read(summary["key"])).splitlines()) > 0
    assert {item["name"] for item in xcom(dagrun, "count_searches")} == {"khub.search", "document.display"}
