"""Every response sample of the seeds, served verbatim by a stub, must come out whole.

Through the hook, the operator's XCom value and the object a transfer writes to S3
(moto's server), every top-level key of the seed's sample must be present, and every
value the sample shows unchanged. The stub answers the seed's own paths, so a client
that calls another path fails here as it would against a server built from the seed.

Target contract: ``run_report`` returns the whole JSON answer (not only ``result``);
churn histograms default to the seed's ``/reporting/churn/histogram/{metric}`` with
``productId`` in the body; FusionAuth's default reaches the seed's plural paths as
well as the singular ones; product properties may try ``/{product_id}`` first but
must reach the seed's bare path.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

import pytest

from airflow_provider_usageintel.api.endpoints import Paging, endpoint
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError
from airflow_provider_usageintel.hooks.fluid_topics import FluidTopicsHook
from airflow_provider_usageintel.hooks.fusionauth import FusionAuthHook
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.operators.fusionauth import FusionAuthReportOperator
from airflow_provider_usageintel.operators.usage_intelligence import (
    UsageIntelligenceListFilesOperator,
    UsageIntelligenceReportOperator,
)
from airflow_provider_usageintel.transfers.fluid_topics_to_s3 import FluidTopicsEventsToS3Operator
from airflow_provider_usageintel.transfers.fusionauth_to_s3 import FusionAuthReportToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from tests.conformance.clients import (
    FLUID_TOPICS_KEY,
    FUSIONAUTH_KEY,
    LOGIN_RESPONSE,
    PRODUCT,
    SEED_PASSWORD,
    SEED_USER,
    fluid_topics_connection,
    fusionauth_connection,
    interval_window,
    ui_connection,
)
from tests.conformance.records import (
    FILE_LISTINGS,
    REPORT_NAMES,
    Record,
    at_line,
    fill,
    lost_fields,
    missing_top_level_keys,
    params,
    records,
    report_name,
)
from tests.conformance.stub import (
    Reply,
    StubRequest,
    fixed,
    fluid_topics_guard,
    fusionauth_guard,
    usage_intelligence_routes,
)

UTC = dt.timezone.utc
UI_RESPONSES = [
    r
    for r in [*records("response", "000"), *records("response", "001")]
    if (r["method"], r["endpoint"]) in REPORT_NAMES and not r.get("absent")
]
UI_LISTINGS = [r for r in records("response", "000") if (r["method"], r["endpoint"]) in FILE_LISTINGS]
FT_REQUEST = at_line("002", 7)
FT_RESPONSE = at_line("002", 64)
FA_RESPONSES = records("response", "003")
_EVENT = {"category": "File Operations", "name": "Open"}
_WINDOW = {"startDate": "2023-05-15", "stopDate": "2023-07-13"}
#: the request is not under test here (the request tests hold the samples): a small valid one per report.
REQUESTS: dict[str, dict[str, Any] | None] = {
    "product_properties": None,
    "property_values": {"property": "os", "granularity": "edition"},
    "event_names": {"flat": True, "showEvents": "all"},
    "date_range": dict(_WINDOW),
    "current": {"startDate": "2023-05-15"},
    "usage_distribution": dict(_WINDOW),
    "lifetime_event_histogram": {**_WINDOW, "events": [_EVENT]},
    "lifetime_event_data_table": dict(_WINDOW),
    "basic_event_data_table": dict(_WINDOW),
    "basic_event_timeline": {**_WINDOW, "events": [_EVENT]},
    "advanced_events": dict(_WINDOW),
    "license_keys_search": {},
    "custom_events_last_lines": {"lineCount": 2},
    "exceptions_last_lines": {"lineCount": 2},
    "client_property_list": {},
    "churn_histogram_runtime": {
        "startDate": "2015-10-01",
        "stopDate": "2015-12-31",
        "daysUntilDeclaredLost": 30,
    },
}


def assert_whole(record: Record, value: Any, where: str) -> None:
    """``value`` holds every top-level key of the sample, and every value the sample shows."""
    missing = missing_top_level_keys(record, value)
    assert not missing, f"{where} lost documented keys of the seed's sample: {missing}"
    lost = lost_fields(record["response"], value)
    assert not lost, f"{where} changed the seed's sample at {lost}"


def as_xcom(value: Any) -> Any:
    """What XCom keeps of a return value: its JSON."""
    return json.loads(json.dumps(value))


# -- Usage Intelligence -------------------------------------------------------------------------------


def paging_of(record: Record) -> Paging:
    return endpoint(report_name(record)).paging


def first_page_then_end(record: Record) -> Any:
    """The sample as the first page; the same envelope, empty and final, after it.

    A single sample cannot show a paged report's end, so whoever follows the pages
    (the operator, the transfer) gets the sample first and a last page next.
    """
    sample = record["response"]

    def route(request: StubRequest) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if paging_of(record) is Paging.CLIENT_ID and body.get("startAtClientId"):
            last = {k: v for k, v in sample.items() if k != "nextClientId"}
            return Reply(200, {**last, "result": [], "reachedEnd": True})
        return Reply(200, sample)

    return route


@pytest.fixture
def ui_stub(stub_server, monkeypatch):
    """``ui_stub(record)``: the seed's login flow plus the record's endpoint answering its sample."""

    def start(record: Record | None = None) -> Any:
        routes, guard = usage_intelligence_routes(SEED_USER, SEED_PASSWORD, LOGIN_RESPONSE["response"])
        if record is not None:
            paged = (record["method"], record["endpoint"]) in REPORT_NAMES
            route = first_page_then_end(record) if paged else fixed(record["response"])
            routes[(record["method"], fill(record["endpoint"], PRODUCT))] = route
        server = stub_server(routes, guard)
        ui_connection(monkeypatch, server.url)
        return server

    return start


def assert_sent_as_the_seed_says(server: Any, record: Record) -> None:
    """Churn: the seed's body carries ``productId`` (seed 001 line 17)."""
    if record["seed_key"] != "001":
        return
    calls = server.calls(record["endpoint"])
    assert calls, f"the hook never called the seed's {record['endpoint']}"
    assert str(calls[-1].body.get("productId")) == PRODUCT, f"productId not in the body: {calls[-1].body}"


def test_hook_logs_in_on_the_login_response_sample_and_logs_out(ui_stub):
    server = ui_stub()
    with UsageIntelligenceHook() as hook:
        hook.login()
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v3/request-csrf"),
        ("POST", "/v3/auth/web"),
        ("POST", "/v3/auth/logout"),
    ]


@pytest.mark.parametrize("record", params(UI_RESPONSES))
def test_hook_returns_the_whole_response_sample(ui_stub, record):
    server = ui_stub(record)
    name = report_name(record)
    with UsageIntelligenceHook() as hook:
        result = hook.run_report(name, REQUESTS[name])
    assert_sent_as_the_seed_says(server, record)
    assert_whole(record, result, f"run_report({name!r})")


def promises_unlisted_rows(record: Record) -> bool:
    """An offset-paged sample whose rows are elided while its count says there are some."""
    if paging_of(record) is not Paging.OFFSET:
        return False
    ep = endpoint(report_name(record))
    assert ep.page_counts is not None
    rows = record["response"].get(ep.result_key or "result", [])
    return int(record["response"][ep.page_counts[1]]) > len(rows)


def assert_followed_to_the_end(server: Any, record: Record, value: Any, where: str) -> None:
    """Every documented key but the paging cursor; the cursor was sent back as the seed says."""
    if paging_of(record) is not Paging.CLIENT_ID:
        assert_whole(record, value, where)
        return
    sample = record["response"]
    documented = {k: v for k, v in sample.items() if k not in ("nextClientId", "reachedEnd")}
    assert_whole({**record, "response": documented, "keys": list(documented)}, value, where)
    assert value["reachedEnd"] is True, f"{where} did not follow the pages to reachedEnd"
    cursors = [call.body.get("startAtClientId") for call in server.calls(fill(record["endpoint"], PRODUCT))]
    assert cursors[1:] == [sample["nextClientId"]], f"{where} sent {cursors} as startAtClientId"


def run_paged_or_fail(record: Record, run: Any) -> Any:
    """Rows a sample promises but does not list are reported missing, never returned as nothing."""
    if not promises_unlisted_rows(record):
        return run()
    ep = endpoint(report_name(record))
    assert ep.page_counts is not None
    count = record["response"][ep.page_counts[1]]
    with pytest.raises(UsageIntelligenceAPIError, match=rf"{ep.page_counts[1]} is {count}: {count} rows"):
        run()
    return None


@pytest.mark.parametrize("record", params(UI_RESPONSES))
def test_report_operator_returns_the_whole_response_sample(ui_stub, record):
    server = ui_stub(record)
    name = report_name(record)
    operator = UsageIntelligenceReportOperator(task_id="conformance", report=name, request=REQUESTS[name])
    value = run_paged_or_fail(record, lambda: as_xcom(operator.execute({})))
    if value is None:
        return
    assert_sent_as_the_seed_says(server, record)
    assert_followed_to_the_end(
        server, record, value, f"UsageIntelligenceReportOperator(report={name!r}) XCom"
    )


@pytest.mark.parametrize("record", params(UI_RESPONSES))
def test_report_to_s3_writes_the_whole_response_sample(ui_stub, s3, record):
    server = ui_stub(record)
    name = report_name(record)
    key = f"conformance/{name}.json"
    operator = UsageIntelligenceReportToS3Operator(
        task_id="conformance",
        report=name,
        request=REQUESTS[name],
        s3_bucket=s3.bucket,
        s3_key=key,
        asset_alias=None,
    )
    written = run_paged_or_fail(record, lambda: as_xcom(operator.execute({})))
    if written is None:
        assert s3.list_keys(include_index=True) == [], "a report that failed for missing rows left an object"
        assert s3.multipart_uploads() == []
        return
    assert key in [obj["key"] for obj in written["objects"]]
    assert_sent_as_the_seed_says(server, record)
    assert_followed_to_the_end(server, record, json.loads(s3.read(key)), f"s3://{key}")


@pytest.mark.parametrize("record", params(UI_LISTINGS))
def test_file_listing_sample_is_accepted(ui_stub, record):
    """The seed's lists are elided (shown empty): nothing is refused and nothing is invented."""
    ui_stub(record)
    kind = FILE_LISTINGS[(record["method"], record["endpoint"])]
    with UsageIntelligenceHook() as hook:
        assert hook.list_files(kind) == []
    operator = UsageIntelligenceListFilesOperator(task_id="conformance", file_kind=kind)
    assert as_xcom(operator.execute({})) == []


# -- Fluid Topics -------------------------------------------------------------------------------------


@pytest.fixture
def ft_stub(stub_server, monkeypatch):
    """Page 1 is the seed's answer, as is; a later page is the same envelope, empty and last."""
    sample = FT_RESPONSE["response"]

    def events(request: StubRequest) -> Reply:
        page = ((request.body or {}).get("paging") or {}).get("page", 1)
        if page == 1:
            return Reply(200, sample)
        return Reply(
            200, {**sample, "paging": {**sample["paging"], "page": page, "lastPage": True}, "results": []}
        )

    server = stub_server(
        {(FT_REQUEST["method"], FT_REQUEST["endpoint"]): events}, fluid_topics_guard(FLUID_TOPICS_KEY)
    )
    fluid_topics_connection(monkeypatch, server.url)
    return server


def recent_window() -> tuple[dt.datetime, dt.datetime]:
    """The sample's window lies more than a year back, which the hook refuses before any call
    (seed 002: startDate "must be in the past year"); the request is not under test here."""
    end = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - dt.timedelta(days=30), end


def test_fluid_topics_hook_returns_the_whole_response_sample(ft_stub):
    start, end = recent_window()
    request = {**FT_REQUEST["request"], "startDate": f"{start:%Y-%m-%d}", "endDate": f"{end:%Y-%m-%d}"}
    answer = FluidTopicsHook().events_page(json.loads(json.dumps(request)))
    assert_whole(FT_RESPONSE, answer, "FluidTopicsHook.events_page")


def test_fluid_topics_events_to_s3_keeps_every_documented_field(ft_stub, s3):
    """The archive holds the events: each line is a whole ``results`` item; the envelope's
    ``startDate``/``endDate`` are the object's window metadata; ``paging`` is per call.
    """
    body = FT_REQUEST["request"]
    user = body["filters"]["user"]
    start, end = recent_window()
    operator = FluidTopicsEventsToS3Operator(
        task_id="conformance",
        s3_bucket=s3.bucket,
        start=start,
        end=end,
        names=body["filters"]["name"],
        realms=user["realm"],
        groups=user["group"],
        roles=user["role"],
        asset_alias=None,
    )
    summary = as_xcom(operator.execute({"data_interval_start": start, "data_interval_end": end}))
    rows = [json.loads(line) for line in gzip.decompress(s3.read(summary["key"])).splitlines()]
    events = FT_RESPONSE["response"]["results"]
    assert summary["rows"] == len(rows) == len(events)
    for written, documented in zip(rows, events, strict=True):
        assert lost_fields(documented, written) == []
    metadata = s3.head(summary["key"])["Metadata"]
    assert metadata["window-start"].startswith(f"{start:%Y-%m-%dT%H:%M:%S}")
    assert metadata["window-end"].startswith(f"{end:%Y-%m-%dT%H:%M:%S}")


# -- FusionAuth ---------------------------------------------------------------------------------------


@pytest.fixture
def fa_stub(stub_server, monkeypatch):
    """``fa_stub(record)``: the seed's URI of the record answering its sample; nothing else."""

    def start(record: Record) -> Any:
        routes = {(record["method"], record["endpoint"]): fixed(record["response"])}
        server = stub_server(routes, fusionauth_guard(FUSIONAUTH_KEY))
        fusionauth_connection(monkeypatch, server.url)
        return server

    return start


def fa_window(record: Record) -> dict[str, dt.datetime]:
    """The instants covering the sample's intervals (``totals`` takes none)."""
    if "interval_unit" not in record:
        return {}
    start, end = interval_window(record)
    return {
        "start": dt.datetime.fromtimestamp(start / 1000, UTC),
        "end": dt.datetime.fromtimestamp(end / 1000, UTC),
    }


@pytest.mark.parametrize("record", params(FA_RESPONSES))
def test_fusionauth_hook_returns_the_whole_response_sample(fa_stub, record):
    fa_stub(record)
    name = report_name(record)
    result = FusionAuthHook().report(name, **fa_window(record))
    assert_whole(record, result, f"FusionAuthHook.report({name!r})")


@pytest.mark.parametrize("record", params(FA_RESPONSES))
def test_fusionauth_report_operator_returns_the_whole_response_sample(fa_stub, record):
    fa_stub(record)
    name = report_name(record)
    value = as_xcom(
        FusionAuthReportOperator(task_id="conformance", report=name, **fa_window(record)).execute({})
    )
    assert_whole(record, value, f"FusionAuthReportOperator(report={name!r}) XCom")


@pytest.mark.parametrize("record", params(FA_RESPONSES))
def test_fusionauth_report_to_s3_writes_the_whole_response_sample(fa_stub, s3, record):
    fa_stub(record)
    name = report_name(record)
    key = f"conformance/fusionauth/{name}.json"
    operator = FusionAuthReportToS3Operator(
        task_id="conformance",
        report=name,
        s3_bucket=s3.bucket,
        s3_key=key,
        asset_alias=None,
        **fa_window(record),
    )
    written = as_xcom(operator.execute({}))
    assert key in [obj["key"] for obj in written["objects"]]
    assert_whole(record, json.loads(s3.read(key)), f"s3://{key}")
