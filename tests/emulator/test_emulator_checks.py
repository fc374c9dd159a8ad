"""The emulator's own body checks: any JSON gets a refusal or an answer, never a server error."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_usageintel.api.endpoints import BY_NAME, REPORT_NAMES
from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.checks import REQUESTS, problems
from airflow_provider_usageintel.emulator.pytest_plugin import make_config
from tests.test_validation import VALID

PID = "1234567890"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
#: what a JSON body can carry (no NaN or infinity).
wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))


def test_every_report_has_checks():
    assert set(REQUESTS) == set(REPORT_NAMES)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_the_seed_samples_pass_the_emulators_checks(name):
    assert problems(name, copy.deepcopy(VALID[name])) == []


@pytest.mark.parametrize(
    ("line", "name", "body"),
    [
        (268, "date_range", {**VALID["date_range"], "clientStatus": []}),
        (322, "current", {**VALID["current"], "clientStatus": []}),
        (426, "lifetime_event_histogram", {**VALID["lifetime_event_histogram"], "events": []}),
        (477, "lifetime_event_data_table", {**VALID["lifetime_event_data_table"], "segments": []}),
        (477, "lifetime_event_data_table", {**VALID["lifetime_event_data_table"], "events": []}),
        (576, "basic_event_timeline", {**VALID["basic_event_timeline"], "events": []}),
        (624, "advanced_events", {**VALID["advanced_events"], "events": []}),
        (624, "advanced_events", {**VALID["advanced_events"], "segmentBy": "prodEdition", "segments": []}),
        (719, "license_keys_update", {**VALID["license_keys_update"], "licenseStatus": {}}),
        (760, "license_keys_insert", {**VALID["license_keys_insert"], "licenseStatus": {}}),
        (1042, "client_property_list", {"retDailyData": {}, "properties": []}),
        (1042, "client_property_list", {"retDailyData": {"properties": ["sessionCount"]}}),
    ],
)
def test_the_seeds_empty_forms_pass_the_emulators_checks(line, name, body):
    """Seed 000 shows these values collapsed, i.e. empty: the server takes them (docs/reports.md)."""
    assert problems(name, copy.deepcopy(body)) == [], f"seed 000 line {line}"


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "date_range",
            {
                "startDate": "2024-01-01",
                "stopDate": "2024-01-02",
                "levels": {"level1": {"property": "prodVersion", "segments": []}},
            },
            "levels.level1.segments: expected a non-empty array",
        ),
        (
            "current",
            {"startDate": "2024-01-01", "globalFilters": {"licenseStatus": [{}]}},
            "globalFilters.licenseStatus: a condition names no flag",
        ),
        (
            "basic_event_timeline",
            {
                "startDate": "2024-01-01",
                "stopDate": "2024-01-02",
                "events": [{"combiLabel": "x", "combiArray": []}],
            },
            "events[0].combiArray: expected a non-empty array",
        ),
        (
            "advanced_events",
            {"startDate": "2024-01-01", "stopDate": "2024-01-02", "segments": []},
            "segments: needs segmentBy",
        ),
        (
            "current",
            {"startDate": "2024-01-01", "clientStatus": ["gone"]},
            "clientStatus[0]: 'gone' is not one of new, active, lost",
        ),
        ("license_keys_insert", {"licenseStatus": {"revoked": True}}, "licenseStatus.revoked: unknown field"),
        ("license_keys_insert", {"licenseStatus": []}, "licenseStatus: expected an object, got array"),
        (
            "client_property_list",
            {"retDailyData": {"stopDate": "2024-01-02"}},
            "retDailyData.startDate: required with stopDate",
        ),
        (
            "client_property_list",
            {"retDailyData": {"startDate": "2024-01-02", "stopDate": "2024-01-01"}},
            "retDailyData.stopDate: 2024-01-01 is before startDate 2024-01-02",
        ),
        (
            "client_property_list",
            {"retDailyData": {"startDate": "2024-1-2", "stopDate": "2024-01-03"}},
            "retDailyData.startDate: '2024-1-2' is not a YYYY-MM-DD date",
        ),
    ],
)
def test_empty_forms_are_taken_where_the_seed_shows_them_only(name, body, expected):
    assert expected in problems(name, body)


@SETTINGS
@given(name=st.sampled_from(REPORT_NAMES), body=json_values)
@example(
    name="date_range", body={"startDate": "2024-01-01", "stopDate": "2024-01-02", "levels": {"level2": {}}}
)
@example(name="current", body={"startDate": "2024-01-01", "globalFilters": {"os": {"type": None}}})
def test_checks_name_problems_and_never_raise(name, body):
    found = problems(name, body)
    assert isinstance(found, list) and all(isinstance(p, str) and p for p in found)


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(make_config()) as running:
        yield running


@pytest.fixture(scope="module")
def session(server):
    return server.login_session()


def mutated(name: str, key: str | None, value: object) -> object:
    """A seed sample with one top-level field replaced (or the whole body, when ``key`` is None)."""
    body = copy.deepcopy(VALID[name])
    if key is None or not isinstance(body, dict):
        return value
    body[key] = value
    return body


fields = st.sampled_from(
    [None, "startDate", "stopDate", "globalFilters", "levels", "events", "segments", "paging", "properties"]
)


@SETTINGS
@given(
    name=st.sampled_from([n for n in REPORT_NAMES if BY_NAME[n].method != "GET"]),
    key=fields,
    value=wire_values,
)
@example(
    name="lifetime_event_data_table", key="segments", value=[{"type": "regex", "value": "(", "split": True}]
)
@example(name="client_property_list", key="properties", value=["os"])
def test_any_body_gets_an_answer_or_a_refusal_never_a_server_error(server, session, name, key, value):
    ep = BY_NAME[name]
    body = mutated(name, key, value)
    if ep.product_id_in_body and isinstance(body, dict):
        body = {**body, "productId": int(PID)}
    response = session.request(ep.method, server.url + ep.url_path(PID), json=body, timeout=30)
    assert response.status_code in (200, 400, 404, 422), response.text
    assert response.json().get("status", "OK") in ("OK", "SYNTAX ERROR", "AUTH ERROR"), response.text
