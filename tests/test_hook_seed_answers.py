"""The hook against the emulator where the seeds say exactly how a call looks and what it answers.

Each test cites the seed lines it holds the code to (seed 000: v3 reference, seed 001: churn
histograms and global filters; api-facts: what the public R client reads). All over real sockets.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_usageintel.emulator.population import EVENTS
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.conftest import UI_CONN_ENV, set_ui_connection

PID = "1234567890"
LOST = {"startDate": "2023-10-01", "stopDate": "2024-03-14"}
V3_RUNTIME = "/v3/reporting/churn/histogram/runtime/{product_id}"


def requests_made(server: Any) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in server.control.requests()]


def api_paths(server: Any) -> list[str]:
    return [
        path for _, path, _ in requests_made(server) if not path.startswith(("/v3/auth", "/v3/request-csrf"))
    ]


# -- churn histograms (seed 001) -----------------------------------------------------------------


def test_churn_uses_the_documented_path_with_the_product_in_the_body(ui_hook, usageintel_emulator):
    """Seed 001 lines 11-13 (paths), 17 (productId in the body), 20 (daysUntilDeclaredLost is just
    a parameter, not a requirement), 26 and 202-203 (the answer is ``results``)."""
    answer = ui_hook.churn_histogram_runtime(LOST)
    assert answer["status"] == "OK"
    assert sum(answer["results"].values()) > 0 and "≥ 39:01" in answer["results"]
    assert api_paths(usageintel_emulator) == ["/reporting/churn/histogram/runtime"]


def test_the_seed_path_needs_the_product_id_in_the_body(usageintel_emulator):
    """Seed 001 line 17: ``productId (integer)`` -- without it the server answers an error (line 24)."""
    session = usageintel_emulator.login_session()
    url = f"{usageintel_emulator.url}/reporting/churn/histogram/days"
    missing = session.post(url, json=LOST, timeout=10)
    assert (missing.status_code, missing.json()["status"]) == (200, "SYNTAX ERROR")
    assert missing.json()["reason"] == "productId: required, an integer (the product the request is about)"
    given = session.post(url, json={**LOST, "productId": int(PID)}, timeout=10)
    assert given.json()["status"] == "OK" and given.json()["results"]


def test_the_v3_convention_path_is_available_through_endpoint_paths(usageintel_emulator, monkeypatch):
    """api-facts: the v3 path is a guess, so it stays selectable; there the product id is in the
    path and the body carries none (the emulator refuses one there), even when the caller passes
    seed 001's sample (lines 189-195) as printed."""
    set_ui_connection(
        monkeypatch, usageintel_emulator, endpoint_paths={"churn_histogram_runtime": V3_RUNTIME}
    )
    sample = {"user": "", "sessionId": "VSB8E2BzSC2eZSJm4QmTpA", "productId": int(PID), **LOST}
    with UsageIntelligenceHook() as hook:
        by_path = hook.churn_histogram_runtime(sample)
    assert api_paths(usageintel_emulator) == [f"/v3/reporting/churn/histogram/runtime/{PID}"]
    set_ui_connection(monkeypatch, usageintel_emulator)
    with UsageIntelligenceHook() as hook:
        assert by_path == hook.churn_histogram_runtime(LOST)


def test_the_emulator_refuses_a_body_product_id_on_the_v3_path(usageintel_emulator):
    session = usageintel_emulator.login_session()
    url = usageintel_emulator.url + V3_RUNTIME.format(product_id=PID)
    refused = session.post(url, json={**LOST, "productId": int(PID)}, timeout=10)
    assert refused.status_code == 400
    assert (
        refused.json()["reason"] == "productId: not accepted in the body here; the product id is in the path"
    )


def test_a_body_product_id_that_contradicts_product_id_is_refused_before_any_call(
    ui_hook, usageintel_emulator
):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        ui_hook.churn_histogram_days({**LOST, "productId": 42}, product_id=PID)
    assert str(info.value) == (
        "request.productId: 42 differs from product_id 1234567890 "
        "(allowed: leave productId out; it is set from product_id)"
    )
    assert usageintel_emulator.control.requests() == []


def count_lost(server: Any, keep: Any) -> int:
    """Clients reported lost (30 days, on their last day seen) within ``LOST``, as the emulator counts."""
    import datetime as dt

    today = server.control.today()
    start, stop = (dt.date.fromisoformat(LOST[k]) for k in ("startDate", "stopDate"))
    return sum(
        1
        for c in server.context.dataset.clients(PID)
        if keep(c)
        and c.last_seen(today) + dt.timedelta(days=30) < today
        and start <= c.last_seen(today) <= stop
    )


def test_os_and_gpu_filters_take_regular_expressions(ui_hook, usageintel_emulator):
    """Seed 001 line 153: only geography filters refuse regular expressions (os: lines 117-137,
    gpu: lines 155-165 know string, stringArray and -- like every string filter, line 50 -- regex)."""
    filters = {
        "os": {"type": "regex", "version": "^Microsoft Windows 1[01]$"},
        "gpu": {"type": "regex", "vendor": "^(NVIDIA|AMD)$"},
    }
    answer = ui_hook.churn_histogram_sessions({**LOST, "globalFilters": filters})
    expected = count_lost(
        usageintel_emulator,
        lambda c: (
            c.os_version in ("Microsoft Windows 10", "Microsoft Windows 11") and c.gpu_vendor != "Intel"
        ),
    )
    assert sum(answer["results"].values()) == expected > 0


def test_geography_refuses_regular_expressions_before_any_call(ui_hook, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError, match=r"globalFilters\.geography\.type: regex"):
        ui_hook.churn_histogram_days(
            {**LOST, "globalFilters": {"geography": {"type": "regex", "country": "^D"}}}
        )
    assert usageintel_emulator.control.requests() == []
    session = usageintel_emulator.login_session()
    body = {**LOST, "productId": int(PID), "globalFilters": {"geography": {"type": "regex", "country": "^D"}}}
    answer = session.post(f"{usageintel_emulator.url}/reporting/churn/histogram/days", json=body, timeout=10)
    assert answer.json()["status"] == "SYNTAX ERROR" and "geography" in answer.json()["reason"]


# -- a 200 answer whose status is not OK is an error (seed 001 lines 24-25) ----------------------


def test_a_200_answer_with_an_error_status_raises_with_the_reason(usageintel_emulator, monkeypatch):
    set_ui_connection(monkeypatch, usageintel_emulator, product_id="999")  # digits, but no such product
    with UsageIntelligenceHook() as hook, pytest.raises(UsageIntelligenceAPIError) as info:
        hook.churn_histogram_days(LOST)
    assert (info.value.status, info.value.endpoint) == (200, "POST /reporting/churn/histogram/days")
    assert info.value.reason == "AUTH ERROR: Product 999 not found"


# -- license key registry (seed 000 lines 691 and 732) -------------------------------------------


@pytest.mark.parametrize("name", ["license_keys_insert", "license_keys_update"])
def test_one_batch_inserts_new_keys_and_updates_existing_ones(ui_hook, name):
    known = ui_hook.license_keys_search({"paging": {"startAt": 0, "maxResults": 1}})["results"][0][
        "licenseKey"
    ]
    batch = [{"licenseKey": f"new-{name}", "notes": "inserted"}, {"licenseKey": known, "notes": "updated"}]
    assert ui_hook.run_report(name, batch)["status"] == "OK"
    found = {key["licenseKey"]: key for key in ui_hook.iter_offset_pages("license_keys_search", {})}
    assert (found[f"new-{name}"]["notes"], found[known]["notes"]) == ("inserted", "updated")


# -- the export request takes any text (seed 000 line 1081) --------------------------------------


def test_the_export_request_sends_text_as_it_is(ui_hook, usageintel_emulator):
    answer = ui_hook.client_property_list_export("all clients, all properties")
    assert answer["status"] == "OK" and answer["exportId"]
    assert (
        ui_hook.run_report("client_property_list_export", {"properties": ["prodVersion"]})["status"] == "OK"
    )


# -- product properties (seed 000 line 132; reveneraR's path with the product id) ----------------


def property_names(categories: list[dict[str, Any]]) -> set[str]:
    return {p["name"] for category in categories for p in category["properties"]}


def test_product_properties_prefer_the_product_id_path(ui_hook, usageintel_emulator):
    """Seed 000 line 132 shows ``GET /v3/meta/productProperties``; reveneraR calls it with the
    product id and reads result[] of {category, properties[...]} (api-facts)."""
    categories = ui_hook.get_product_properties()
    assert {"prodVersion", "os", "geography"} <= property_names(categories)
    first = categories[0]["properties"][0]
    assert set(first) == {
        "name",
        "friendlyName",
        "filterType",
        "dataType",
        "supportsRegex",
        "supportsMeta",
        "supportsNull",
    }
    assert api_paths(usageintel_emulator) == [f"/v3/meta/productProperties/{PID}"]


def test_product_properties_fall_back_to_the_bare_path_on_404(ui_hook, usageintel_emulator):
    """Seed 000 lines 128-132: the bare path (and its 404 answer) is the documented one."""
    usageintel_emulator.control.add_fault(path=f"productProperties/{PID}$", kind="status", status=404)
    assert "ram" in property_names(ui_hook.get_product_properties())
    assert [(p, s) for _, p, s in requests_made(usageintel_emulator) if "productProperties" in p] == [
        (f"/v3/meta/productProperties/{PID}", 404),
        ("/v3/meta/productProperties", 200),
    ]


def test_test_connection_works_without_a_product_id(usageintel_emulator, monkeypatch):
    conn = json.loads(usageintel_emulator.airflow_connection_json())
    del conn["extra"]["product_id"]
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    ok, message = UsageIntelligenceHook().test_connection()
    assert ok and "product properties in 6 categories" in message
    assert "/v3/meta/productProperties" in api_paths(usageintel_emulator)


def test_the_report_operator_reads_product_properties_without_a_product_id(usageintel_emulator, monkeypatch):
    from airflow_provider_usageintel.operators.usage_intelligence import UsageIntelligenceReportOperator

    conn = json.loads(usageintel_emulator.airflow_connection_json())
    del conn["extra"]["product_id"]
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    answer = UsageIntelligenceReportOperator(task_id="p", report="product_properties").execute({})
    assert "ram" in property_names(answer["result"])
    assert api_paths(usageintel_emulator) == ["/v3/meta/productProperties"]


def test_test_connection_works_when_only_the_bare_path_exists(ui_conn, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="productProperties/[0-9]+$", kind="status", status=404)
    ok, message = UsageIntelligenceHook().test_connection()
    assert ok, message


# -- event tracking and client property list shapes (api-facts, reveneraR) ------------------------


def test_event_names_come_by_category(ui_hook):
    """Seed 000 lines 228-233 (``GET /v3/event-tracking/{product_id}`` answers ``result``);
    api-facts: reveneraR reads result[] of
    {category, categoryEventNames[{eventName, basic, advanced, dateFirstSeen}]}."""
    categories = ui_hook.event_names()["result"]
    names = [name for category in categories for name in category["categoryEventNames"]]
    assert [n["eventName"] for n in names] == [e.name for e in EVENTS]
    assert {n["advanced"] for n in names} == {True, False} and all(n["basic"] for n in names)
    assert all(n["dateFirstSeen"] <= "2024-03-15" for n in names)


def test_client_property_values_are_strings_with_null_markers(ui_hook, usageintel_emulator):
    """Seed 000 lines 1041-1053 (clientPropertyList answers ``result``); api-facts: values are read
    as strings and ``"<NULL>"`` marks a missing one."""
    answer = ui_hook.client_property_list({"properties": ["ram", "licenseStatus.activated", "dotNetVersion"]})
    rows = answer["result"]
    assert all(isinstance(value, str) for row in rows for value in row.values())
    assert {row["licenseStatus.activated"] for row in rows} == {"true", "false"}
    assert "<NULL>" in {row["dotNetVersion"] for row in rows}
    by_id = {c.client_id: c for c in usageintel_emulator.context.dataset.clients(PID)}
    assert all(row["ram"] == str(by_id[row["clientId"]].ram) for row in rows)
    parsed = list(ui_hook.iter_client_properties({"properties": ["dotNetVersion"]}))
    assert None in {row["dotNetVersion"] for row in parsed}


def test_daily_data_without_properties_gives_client_id_and_daily_data_only(ui_hook):
    """Seed 000 lines 1045-1048 (``retDailyData`` beside ``properties``); api-facts: with
    ``retDailyData`` and no top-level ``properties`` a row is ``clientId`` and ``dailyData`` only."""
    daily = {
        "startDate": "2024-03-01",
        "stopDate": "2024-03-14",
        "properties": ["prodVersion", "sessionCount"],
    }
    rows = ui_hook.client_property_list({"retDailyData": daily})["result"]
    assert rows and all(set(row) == {"clientId", "dailyData"} for row in rows)
    days = [day for row in rows for day in row["dailyData"]]
    assert days and all(isinstance(day["sessionCount"], str) for day in days)


# -- paging that a capped server cannot cut short ------------------------------------------------


@pytest.fixture
def capped(usageintel_emulator_factory, monkeypatch):
    """A server that returns at most 3 rows a page, whatever ``maxResults`` asks for."""
    server = usageintel_emulator_factory(max_page_size=3)
    set_ui_connection(monkeypatch, server)
    with UsageIntelligenceHook() as hook:
        yield hook, server


def test_offset_paging_stops_on_the_matching_count_not_on_a_short_page(capped):
    """Seed 000 lines 497-498 and 683-684: the answers count matching and returned rows; only the
    matching count says where the end is."""
    hook, server = capped
    events = list(hook.iter_offset_pages("lifetime_event_data_table", LOST, page_size=10))
    assert len({(row["category"], row["name"]) for row in events}) == len(events) == len(EVENTS)
    keys = list(hook.iter_offset_pages("license_keys_search", {}, page_size=50))
    assert len({key["licenseKey"] for key in keys}) == len(keys) == 40
    paths = api_paths(server)
    assert sum("lifetime/dataTable" in p for p in paths) == 5 and sum("registry" in p for p in paths) == 14
    values = list(hook.iter_property_values({"property": "clientId"}))
    assert values == sorted(c.client_id for c in server.context.dataset.clients(PID))


# -- a request of the wrong type, and product ids, are refused before any call -------------------


@pytest.mark.parametrize(
    ("name", "request_body", "message"),
    [
        ("date_range", [1, 2], "request: expected an object for date_range, got array"),
        ("date_range", "startDate=2024-01-01", "request: expected an object for date_range, got string"),
        ("date_range", 7, "request: expected an object for date_range, got number"),
        (
            "license_keys_insert",
            "k1,k2",
            "request: expected an object or an array of objects for license_keys_insert, got string",
        ),
        ("license_keys_insert", [1], "[0]: expected an object, got integer"),
        (
            "client_property_list_export",
            [1],
            "request: expected an object or a string for client_property_list_export, got array",
        ),
    ],
)
# Seed 000: report bodies are objects ("Request Body schema: application/json object"); the key
# registry takes keys "one by one or in batch" (line 691); the export request any text (line 1081).
def test_a_request_of_the_wrong_type_is_a_validation_error(
    ui_hook, usageintel_emulator, name, request_body, message
):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        ui_hook.run_report(name, request_body)
    assert str(info.value).startswith(message)
    assert usageintel_emulator.control.requests() == []


@pytest.mark.parametrize("product_id", ["\u0661\u0662\u0663", "\u00b9\u00b2\u00b3", "\uff11\uff12\uff13"])
def test_product_ids_in_other_digits_are_refused_before_any_call(ui_hook, usageintel_emulator, product_id):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        ui_hook.run_report("date_range", {"startDate": "2024-01-01", "stopDate": "2024-01-31"}, product_id)
    assert str(info.value) == (
        f"product_id: {product_id!r} has digits other than 0-9 (allowed: ASCII digits 0-9 only)"
    )
    assert usageintel_emulator.control.requests() == []
