"""Every request sample of the seeds, sent literally: the hook must accept it, the emulator must answer it.

Validation tests call the provider's own validator: the hook must accept every seed sample.
Emulator tests use plain ``requests`` and the seeds' own auth flows, and decide nothing
with the provider's code: the status and keys expected are the seed's.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from airflow_provider_usageintel.api.fluid_topics import events_problems
from airflow_provider_usageintel.api.fusionauth import report_params
from airflow_provider_usageintel.api.validation import request_problems, validate_global_filters
from tests.conformance.clients import (
    LOGIN_REQUEST,
    LOGIN_RESPONSE,
    PRODUCT,
    TIMEOUT,
    interval_window,
    seed_headers,
    seed_login,
    seed_logout,
)
from tests.conformance.records import (
    SESSION_ENDPOINTS,
    Record,
    at_line,
    fill,
    missing_top_level_keys,
    params,
    records,
    report_name,
    response_for,
    shape_problems,
)

UI_REQUESTS = [r for r in records("request", "000") if (r["method"], r["endpoint"]) not in SESSION_ENDPOINTS]
CHURN_REQUEST = at_line("001", 183)
CHURN_RESPONSE = at_line("001", 197)
FT_REQUEST = at_line("002", 7)
#: GET endpoints have no request sample: the emulator is held to their response samples directly.
UI_GET_RESPONSES = [r for r in records("response", "000") if r["method"] == "GET"]


def assert_documented_answer(response: requests.Response, request: Record) -> None:
    """The seed's success status and, where the seed shows a response sample, its keys and shape."""
    assert response.status_code == request["status"], (
        f"{request['method']} {request['endpoint']}: expected {request['status']}, "
        f"got {response.status_code}: {response.text[:500]}"
    )
    documented = response_for(request)
    if documented is None or documented.get("absent"):
        return
    answer = response.json()
    assert missing_top_level_keys(documented, answer) == [], f"documented keys missing from {answer!r:.300}"
    assert shape_problems(documented, answer) == []


# -- the hook accepts every sample --------------------------------------------------------------------


@pytest.mark.parametrize("record", params([*UI_REQUESTS, CHURN_REQUEST]))
def test_request_sample_passes_the_hook_validation(record):
    problems = request_problems(report_name(record), record["request"])
    assert not problems, "the hook refuses the seed's sample: " + "; ".join(problems)


@pytest.mark.parametrize("record", params(records("filter_example")))
def test_filter_example_passes_the_hook_validation(record):
    problems = validate_global_filters({record["property"]: record["filter"]})
    assert not problems, "the hook refuses the seed's filter: " + "; ".join(problems)


def test_fluid_topics_request_sample_passes_the_hook_validation():
    """Judged on the day its window ends: the seed wants ``startDate`` "in the past year"."""
    end = dt.datetime.fromisoformat(FT_REQUEST["request"]["endDate"])
    assert events_problems(FT_REQUEST["request"], end) == []


@pytest.mark.parametrize("record", params(records("request", "003")))
def test_fusionauth_request_passes_the_hook_validation(record):
    name = report_name(record)
    if not record["parameters"]:
        assert report_params(name, None, None) == {}
        return
    start, end = interval_window(response_for(record))
    assert report_params(name, start, end) == {"start": start, "end": end}


# -- Usage Intelligence: the seed's auth flow and every sample -------------------------------------------


def test_login_sample_is_answered_with_the_documented_keys(seed_emulator):
    _, login = seed_login(seed_emulator.url)
    assert login.status_code == LOGIN_REQUEST["status"]
    assert missing_top_level_keys(LOGIN_RESPONSE, login.json()) == []
    assert shape_problems(LOGIN_RESPONSE, login.json()) == []


def test_logout_sample_is_answered_204_and_ends_the_session(seed_emulator):
    url = seed_emulator.url
    session, _ = seed_login(url)
    response = seed_logout(session, url)
    assert response.status_code == 204, response.text
    after = session.get(f"{url}/v3/meta/productProperties", timeout=TIMEOUT)
    assert after.status_code == 401, "a call after logout must be refused"


def _insert_the_key_to_update(session: requests.Session, url: str, record: Record) -> None:
    """The update sample changes an existing key: register that key first (state, not the sample)."""
    path = fill("/v3/license-key-registry/update/{product_id}", PRODUCT)
    key = {"licenseKey": record["request"]["licenseKey"], "licenseType": record["request"]["licenseType"]}
    response = session.post(f"{url}{path}", json=key, timeout=TIMEOUT)
    assert response.status_code == 200, f"setup: inserting {key['licenseKey']} failed: {response.text}"


#: emulator state a sample presupposes, by the sample's line in seed 000.
SETUP = {719: _insert_the_key_to_update}


@pytest.mark.parametrize("record", params(UI_REQUESTS))
def test_emulator_answers_request_sample(seed_emulator, record):
    url = seed_emulator.url
    session, _ = seed_login(url)
    if record["line"] in SETUP:
        SETUP[record["line"]](session, url, record)
    response = session.request(
        record["method"], f"{url}{fill(record['endpoint'], PRODUCT)}", json=record["request"], timeout=TIMEOUT
    )
    assert_documented_answer(response, record)
    assert seed_logout(session, url).status_code == 204


@pytest.mark.parametrize("record", params(UI_GET_RESPONSES))
def test_emulator_answers_get_endpoint_with_the_documented_keys(seed_emulator, record):
    url = seed_emulator.url
    session, _ = seed_login(url)
    response = session.get(
        f"{url}{fill(record['endpoint'], PRODUCT)}", params=record.get("query_examples"), timeout=TIMEOUT
    )
    assert response.status_code == record["status"], response.text[:500]
    assert missing_top_level_keys(record, response.json()) == []
    assert shape_problems(record, response.json()) == []


# -- churn histograms (seed 001): the seed's path, body and headers ----------------------------------


def churn_call(url: str, body: dict) -> requests.Response:
    session, _ = seed_login(url)
    headers = {**seed_headers(), **CHURN_REQUEST["http_headers"]}
    return session.post(f"{url}{CHURN_REQUEST['endpoint']}", json=body, headers=headers, timeout=TIMEOUT)


def test_emulator_answers_churn_request_sample(seed_emulator):
    response = churn_call(seed_emulator.url, CHURN_REQUEST["request"])
    assert_documented_answer(response, CHURN_REQUEST)
    assert response.json()["status"] == CHURN_RESPONSE["response"]["status"]


def test_emulator_runtime_bins_are_the_seeds(seed_emulator):
    response = churn_call(seed_emulator.url, CHURN_REQUEST["request"])
    assert response.status_code == 200, response.text[:500]
    assert list(response.json()["results"]) == list(CHURN_RESPONSE["response"]["results"])


@pytest.mark.parametrize("record", params(records("filter_example")))
def test_emulator_answers_churn_request_with_filter_example(seed_emulator, record):
    body = {**CHURN_REQUEST["request"], "globalFilters": {record["property"]: record["filter"]}}
    assert_documented_answer(churn_call(seed_emulator.url, body), CHURN_REQUEST)


# -- Fluid Topics (seed 002) ------------------------------------------------------------------------


def test_emulator_answers_fluid_topics_request_sample(usageintel_emulator):
    """The sample's window ends 2024-05-01 (exclusive): the clock moves there so the window is past."""
    end = dt.date.fromisoformat(FT_REQUEST["request"]["endDate"])
    control = usageintel_emulator.control
    if control.today() < end:
        control.advance_days((end - control.today()).days)
    assert control.today() == end
    config = usageintel_emulator.config
    response = requests.post(
        f"{usageintel_emulator.url}{FT_REQUEST['endpoint']}",
        json=FT_REQUEST["request"],
        headers={"Authorization": f"Bearer {config.fluid_topics_api_key}", "Ft-Calling-App": "conformance"},
        timeout=TIMEOUT,
    )
    assert_documented_answer(response, FT_REQUEST)


# -- FusionAuth (seed 003): the seed's URIs ---------------------------------------------------------


@pytest.mark.parametrize("record", params(records("request", "003")))
def test_emulator_answers_fusionauth_uri(usageintel_emulator, record):
    """``start``/``end`` cover the intervals of the seed's example answer; ``applicationId`` is optional.

    Both instants are truncated to the interval that holds them and that interval is reported (seed 003:
    "This is an instant but it is truncated to days/hours/months"), so ``end`` is the last millisecond
    of the sample's last interval.
    """
    documented = response_for(record)
    query = {}
    if record["parameters"]:
        start, end = interval_window(documented)
        query = {"start": start, "end": end - 1}
    response = requests.get(
        f"{usageintel_emulator.url}{record['endpoint']}",
        params=query,
        headers={"Authorization": usageintel_emulator.config.fusionauth_api_key},
        timeout=TIMEOUT,
    )
    assert_documented_answer(response, record)
    if record["parameters"]:
        items = documented["keys"][1]
        intervals = [item["interval"] for item in response.json()[items]]
        assert intervals == sorted(item["interval"] for item in documented["response"][items])
