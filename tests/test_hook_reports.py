"""Every report of the table through the hook, against the emulator over a real socket."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_usageintel.api.endpoints import REPORT_NAMES
from airflow_provider_usageintel.api.filters import GlobalFilters, Levels, Segment
from airflow_provider_usageintel.emulator.population import EVENTS
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.conftest import set_ui_connection
from tests.test_validation import VALID

PID = "1234567890"
START, STOP = "2024-01-15", "2024-03-10"
SHOE_SIZE = {"type": "number", "value": 4}
#: the seed's dateRange filters (a build regex, Asian or German clients...) match no synthetic client.
CHANGES: dict[str, dict[str, Any]] = {"date_range": {"globalFilters": {}}}


def sample(name: str) -> Any:
    """The seed's sample for ``name``, its dates moved into the emulator's history."""
    body = copy.deepcopy(VALID[name])
    if not isinstance(body, dict):
        return body
    for key, value in (("startDate", START), ("stopDate", STOP)):
        if key in body:
            body[key] = value
    body.update(CHANGES.get(name, {}))
    if "retDailyData" in body:
        body["retDailyData"].update(startDate="2024-03-01", stopDate=STOP)
    return body


def histogram_total(histogram: dict[str, int]) -> int:
    assert all(isinstance(count, int) for count in histogram.values())
    return sum(histogram.values())


def check_usage(result: dict[str, Any]) -> None:
    totals = {metric: histogram_total(histogram) for metric, histogram in result.items()}
    assert set(totals) == {"activeDays", "sessions", "runtime"}
    assert len(set(totals.values())) == 1 and totals["sessions"] > 0


def check_lifetime_histogram(result: dict[str, Any]) -> None:
    opened, combined = result["events"]
    assert (opened["category"], opened["name"], combined["combiLabel"]) == (
        "File Operations",
        "Open",
        "Open and Save",
    )
    assert 0 < histogram_total(opened["eventCount"]) == opened["usersUsedAtLeastOnce"]


def check_timeline(result: dict[str, Any]) -> None:
    assert next(iter(result)) == START  # a Monday: weeks are labelled by their first day
    assert all(
        len(entries) == 2 and entries[1]["value"] >= entries[0]["value"] > 0 for entries in result.values()
    )


def check_date_range(result: dict[str, Any]) -> None:
    versions = result["level1"]
    assert sorted(versions) == ["4.0.2", "4.1.0", "4.1.3", "5.0.0"]
    for node in versions.values():
        weekly = node["dates"]
        assert list(weekly)[:2] == [START, "2024-01-22"]
        assert sum(week["new"] for week in weekly.values()) == node["totals"]["new"]


def check_data_table(result: list[dict[str, Any]]) -> None:
    assert len(result) == len(EVENTS)
    assert sum(row["eventCounts"] for row in result) > 0


def check_product_properties(answer: dict[str, Any]) -> None:
    categories = answer["result"]
    names = {p["name"] for category in categories for p in category["properties"]}
    assert {"prodEdition", "os", "ram"} <= names
    assert all(set(category) == {"category", "properties"} for category in categories)


def check_event_names(answer: dict[str, Any]) -> None:
    # flat: one entry per event, with the fields reveneraR reads
    assert len(answer["result"]) == len(EVENTS)
    assert set(answer["result"][0]) == {"category", "eventName", "basic", "advanced", "dateFirstSeen"}


def check_lifetime_answer(answer: dict[str, Any]) -> None:
    check_lifetime_histogram(answer["result"])
    assert answer["summary"]["totalClients"] > 0  # seed 000 line 439: the answer's summary is kept


def check_last_lines(answer: dict[str, Any], column: str) -> None:
    assert len(answer["result"]) == 2 and column in answer["result"][0]
    assert column in answer["fieldNames"]  # seed 000 line 810: fieldNames is kept


#: each check gets the whole answer ``run_report`` returns.
CHECKS: dict[str, Callable[[Any], None]] = {
    "product_properties": check_product_properties,
    "property_values": lambda a: a["result"][0] == "Fedora 39 Workstation" and len(a["result"]) == 9,
    "event_names": check_event_names,
    "date_range": lambda a: check_date_range(a["result"]),
    "current": lambda a: set(a["result"]["level1"]) == {"DE", "FR"},
    "usage_distribution": lambda a: check_usage(a["result"]),
    "lifetime_event_histogram": check_lifetime_answer,
    "lifetime_event_data_table": lambda a: (
        check_data_table(a["result"]) or a["returnedEventsCount"] == a["matchingEventsCount"] == len(EVENTS)
    ),
    "basic_event_data_table": lambda a: check_data_table(a["result"]),
    "basic_event_timeline": lambda a: check_timeline(a["result"]),
    "advanced_events": lambda a: a["result"]["detailedReport"][0]["data"]["eventCounts"] > 0,
    "churn_histogram_sessions": lambda a: a["status"] == "OK" and histogram_total(a["results"]) > 0,
    "churn_histogram_runtime": lambda a: histogram_total(a["results"]) > 0 and "≥ 39:01" in a["results"],
    "churn_histogram_days": lambda a: histogram_total(a["results"]) > 0,
    "license_keys_search": lambda a: (
        len(a["results"]) == a["returnedKeysCount"] == 10
        and a["matchingKeysCount"] == 40
        and all("licenseKey" in key for key in a["results"])
    ),
    "license_keys_update": lambda answer: answer["results"][0]["notes"] == "test",
    "license_keys_insert": lambda answer: (
        answer["status"] == "OK" and len(answer["results"][0]["licenseKey"]) == 36
    ),
    "custom_events_last_lines": lambda a: check_last_lines(a, "eventName"),
    "exceptions_last_lines": lambda a: check_last_lines(a, "exceptionClass"),
    "client_property_list": lambda a: (
        len(a["result"]) == 200
        and any(row["dailyData"] for row in a["result"])
        and a["reachedEnd"] is False
        and a["nextClientId"]
    ),
    "client_property_list_export": lambda answer: answer["status"] == "OK" and answer["exportId"],
}


def test_every_report_name_is_checked():
    assert set(CHECKS) == set(REPORT_NAMES)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_round_trips_through_the_hook(ui_hook, name):
    body = sample(name)
    if name == "license_keys_update":
        ui_hook.license_keys_insert({"licenseKey": body["licenseKey"]})
    answer = ui_hook.run_report(name, body)
    check = CHECKS[name]
    assert check(answer) is not False, answer


# -- computed content ---------------------------------------------------------------------------


def test_levels_split_by_edition_add_up_to_the_unfiltered_total(ui_hook, usageintel_emulator):
    clients = usageintel_emulator.context.dataset.clients(PID)
    body = {"startDate": START, "stopDate": STOP, "clientStatus": ["new", "active"]}
    total = ui_hook.date_range(body)["result"]
    levels = Levels().level("prodEdition", Segment.regex(".*", split=True))
    tree = ui_hook.date_range({**body, "levels": levels})["result"]["level1"]
    assert sorted(tree) == ["Community", "Enterprise", "Professional"]
    for status in ("new", "active"):
        assert sum(node["totals"][status] for node in tree.values()) == total[status] > 0
    installed = sum(1 for c in clients if START <= c.date_installed.isoformat() <= STOP)
    assert total["new"] == installed


def test_filters_really_reduce_the_counts(ui_hook, usageintel_emulator):
    clients = usageintel_emulator.context.dataset.clients(PID)
    body = {"startDate": "2023-01-01", "clientStatus": ["new"]}
    everyone = ui_hook.current(body)["result"]["new"]
    filters = GlobalFilters().string("prodEdition", "Enterprise").number_range("ram", min=16384)
    filtered = ui_hook.current({**body, "globalFilters": filters})["result"]["new"]
    assert everyone == len(clients)
    assert (
        0
        < filtered
        == sum(1 for c in clients if c.prod_edition == "Enterprise" and c.ram >= 16384)
        < everyone
    )


# -- paging -------------------------------------------------------------------------------------


def client_list_calls(server) -> list[dict[str, Any]]:
    return [r for r in server.control.requests() if "clientPropertyList" in r["path"]]


@pytest.fixture
def big_hook(usageintel_emulator_factory, monkeypatch):
    server = usageintel_emulator_factory(clients_per_product=450, client_page_size=200)
    set_ui_connection(monkeypatch, server)
    with UsageIntelligenceHook() as hook:
        yield hook, server


def test_client_properties_page_through_every_client_once(big_hook):
    hook, server = big_hook
    rows = list(hook.iter_client_properties({"properties": ["prodVersion"]}))
    assert len(client_list_calls(server)) == 3
    assert len({row["clientId"] for row in rows}) == len(rows) == 450
    assert [row["clientId"] for row in rows] == [c.client_id for c in server.context.dataset.clients(PID)]


def test_client_properties_empty_and_single_page(big_hook):
    hook, server = big_hook
    nobody = GlobalFilters().string("prodEdition", "Ultimate")
    assert list(hook.iter_client_properties({"globalFilters": nobody})) == []
    assert len(client_list_calls(server)) == 1
    few = GlobalFilters().string("prodEdition", "Enterprise").string("formFactor", "Tablet")
    rows = list(hook.iter_client_properties({"properties": ["formFactor"], "globalFilters": few}))
    assert 0 < len(rows) < 200 and {row["formFactor"] for row in rows} == {"Tablet"}
    assert len(client_list_calls(server)) == 2


def test_missing_values_become_none(ui_hook, usageintel_emulator):
    by_id = {c.client_id: c for c in usageintel_emulator.context.dataset.clients(PID)}
    rows = list(ui_hook.iter_client_properties({"properties": ["geography.usState", "C09"]}))
    assert len(rows) == len(by_id)
    assert all(row["geography.usState"] == by_id[row["clientId"]].us_state for row in rows)
    assert {row["C09"] for row in rows} == {None}
    assert None in {row["geography.usState"] for row in rows} and any(
        row["geography.usState"] for row in rows
    )


def test_offset_pages_of_the_data_table_and_the_key_registry(ui_hook, usageintel_emulator):
    events = list(
        ui_hook.iter_offset_pages(
            "lifetime_event_data_table", {"startDate": START, "stopDate": STOP}, page_size=4
        )
    )
    assert len({(row["category"], row["name"]) for row in events}) == len(events) == len(EVENTS)
    keys = list(
        ui_hook.iter_offset_pages("license_keys_search", {"sorting": {"licenseKey": "desc"}}, page_size=7)
    )
    assert len({key["licenseKey"] for key in keys}) == len(keys) == 40
    assert [key["licenseKey"] for key in keys] == sorted((key["licenseKey"] for key in keys), reverse=True)
    paths = [r["path"] for r in usageintel_emulator.control.requests()]
    assert sum("lifetime/dataTable" in p for p in paths) == 4
    assert sum("license-key-registry" in p for p in paths) == 6


def test_property_values_follow_start_after(ui_hook, usageintel_emulator):
    values = list(ui_hook.iter_property_values({"property": "clientId"}))
    assert values == sorted(c.client_id for c in usageintel_emulator.context.dataset.clients(PID))
    assert sum("propertyValues" in r["path"] for r in usageintel_emulator.control.requests()) == 4


# -- license keys -------------------------------------------------------------------------------


def test_inserted_keys_are_found_and_updated(ui_hook):
    answer = ui_hook.license_keys_insert(
        [{"licenseType": "trial", "notes": "pilot"}, {"licenseType": "trial", "notes": "pilot"}]
    )
    new_keys = {key["licenseKey"] for key in answer["results"]}
    assert len(new_keys) == 2
    found = ui_hook.license_keys_search({"filters": {"notes": "pilot"}})["results"]
    assert {key["licenseKey"] for key in found} == new_keys
    first = sorted(new_keys)[0]
    ui_hook.license_keys_update({"licenseKey": first, "licenseType": "purchased", "installQuota": 5})
    [changed] = ui_hook.license_keys_search({"filters": {"licenseKey": {"type": "string", "value": first}}})[
        "results"
    ]
    assert (changed["licenseType"], changed["installQuota"], changed["notes"]) == ("purchased", 5, "pilot")


# -- refusals -----------------------------------------------------------------------------------


def test_an_invalid_body_never_leaves_the_machine(ui_hook, usageintel_emulator):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        ui_hook.date_range({"startDate": START, "stopDate": "2024-13-01", "clientStatus": ["lost"]})
    assert "stopDate: '2024-13-01' is not a real calendar date" in str(info.value)
    assert any("daysUntilDeclaredLost" in problem for problem in info.value.problems)
    assert usageintel_emulator.control.requests() == []


@pytest.mark.parametrize(
    ("call", "status", "endpoint", "reason"),
    [
        (
            lambda hook: hook.date_range(
                {
                    "startDate": START,
                    "stopDate": STOP,
                    "levels": Levels().level("shoeSize", Segment.string("42", "42")),
                }
            ),
            422,
            f"POST /v3/reporting/generic/dateRange/{PID}",
            "levels.level1.property: unknown property 'shoeSize'",
        ),
        (
            lambda hook: hook.churn_histogram_days(
                {"startDate": START, "stopDate": STOP, "globalFilters": {"shoeSize": SHOE_SIZE}}
            ),
            200,  # seed 001 lines 24-25: the error is in the body's status and reason
            "POST /reporting/churn/histogram/days",
            "SYNTAX ERROR: globalFilters.shoeSize: unknown property 'shoeSize'",
        ),
        (
            lambda hook: hook.advanced_events(
                {"startDate": START, "stopDate": STOP, "events": [{"category": "View", "name": "Zoom"}]}
            ),
            422,
            f"POST /v3/reporting/eventTracking/advanced/fullReport/{PID}",
            "events[0]: View / Zoom is not selected for advanced tracking",
        ),
    ],
    ids=["unknown-level-property", "churn-unknown-property", "not-advanced"],
)
def test_a_body_the_server_refuses_raises_an_api_error(
    ui_hook, usageintel_emulator, call, status, endpoint, reason
):
    with pytest.raises(UsageIntelligenceAPIError) as info:
        call(ui_hook)
    assert (info.value.status, info.value.endpoint) == (status, endpoint)
    assert reason in info.value.reason
    assert [r["status"] for r in usageintel_emulator.control.requests()][-1] == status
