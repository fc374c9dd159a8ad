"""The emulated Fluid Topics analytics API, spoken to with plain requests."""

from __future__ import annotations

import pytest
import requests

EVENTS = "/analytics/api/v1/events"
COUNTS = "/analytics/api/v1/traffic/event-counts"
WINDOW = {"startDate": "2024-03-13", "endDate": "2024-03-14"}


def post(emulator, path, body, key=None, app="tests"):
    headers = {"Authorization": f"Bearer {key or emulator.config.fluid_topics_api_key}"}
    if app is not None:
        headers["Ft-Calling-App"] = app
    return requests.post(f"{emulator.url}{path}", json=body, headers=headers, timeout=10)


def test_bearer_key_is_enforced(usageintel_emulator):
    assert post(usageintel_emulator, EVENTS, WINDOW, key="wrong").status_code == 401
    no_auth = requests.post(f"{usageintel_emulator.url}{EVENTS}", json=WINDOW, timeout=10)
    assert no_auth.status_code == 401


def test_calling_app_header_is_required(usageintel_emulator):
    answer = post(usageintel_emulator, EVENTS, WINDOW, app=None)
    assert answer.status_code == 400 and "Ft-Calling-App" in answer.json()["reason"]


def test_paging_counts_and_last_page(usageintel_emulator):
    first = post(usageintel_emulator, EVENTS, {**WINDOW, "paging": {"page": 1, "perPage": 25}}).json()
    total = first["paging"]["totalCount"]
    last_page = -(-total // 25)
    last = post(usageintel_emulator, EVENTS, {**WINDOW, "paging": {"page": last_page, "perPage": 25}}).json()
    assert first["paging"] == {"page": 1, "perPage": 25, "totalCount": total, "lastPage": False}
    assert last["paging"]["lastPage"] is True and 0 < len(last["results"]) <= 25
    assert first["startDate"] == "2024-03-13T00:00:00" and first["endDate"] == "2024-03-14T00:00:00"
    event = first["results"][0]
    assert set(event) >= {"appName", "datetime", "id", "name", "parameters", "sessionId", "user", "userIp"}
    assert set(event["user"]) == {"realm", "groups", "id", "roles"}


@pytest.mark.parametrize("spelling", ["latestFirst", "LatestFirst", "LATESTFIRST"])
def test_sort_order_spellings(usageintel_emulator, spelling):
    latest = post(usageintel_emulator, EVENTS, {**WINDOW, "sortOrder": spelling}).json()["results"]
    oldest = post(usageintel_emulator, EVENTS, {**WINDOW, "sortOrder": "oldestfirst"}).json()["results"]
    assert [e["id"] for e in latest] == [e["id"] for e in oldest][::-1]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # seed 002, startDate: "It must be in the past year." (by the simulated today, 2024-03-15)
        ({"startDate": "2023-03-14"}, "more than a year ago"),
        ({"startDate": "2023-03-14T23:59:59"}, "more than a year ago"),
        ({"startDate": "2024-03-16"}, "is in the future"),
        ({"startDate": "2024-03-15T00:00:01"}, "is in the future"),
        # seed 002, endDate: "must be later than the start date"
        ({"startDate": "2024-03-13", "endDate": "2024-03-12"}, "must be later than startDate"),
        ({"startDate": "2024-03-13T10:00", "endDate": "2024-03-13T10:00:00"}, "must be later than startDate"),
        ({"startDate": "13/03/2024"}, "is not a date"),
        ({"startDate": "2024-03-13", "paging": {"page": 0, "perPage": 5}}, "paging.page"),
        ({"startDate": "2024-03-13", "sortOrder": "random"}, "sortOrder"),
        ({"endDate": "2024-03-13"}, "startDate: required"),
    ],
)
def test_bad_bodies_are_400_with_a_reason(usageintel_emulator, body, reason):
    answer = post(usageintel_emulator, EVENTS, body)
    assert answer.status_code == 400 and reason in answer.json()["reason"]


def test_data_is_deterministic_and_ends_today(usageintel_emulator_factory):
    one, two = usageintel_emulator_factory(), usageintel_emulator_factory()
    body = {"startDate": "2024-03-14", "endDate": "2024-03-20"}
    assert post(one, EVENTS, body).json() == post(two, EVENTS, body).json()
    stamps = [e["datetime"] for e in post(one, EVENTS, body).json()["results"]]
    assert stamps and max(stamps) < 1710460800000  # 2024-03-15T00:00Z, the simulated today


def test_event_counts_by_month(usageintel_emulator):
    body = {"startDate": "2024-02-10", "endDate": "2024-03-15", "groupByPeriod": "month"}
    results = post(usageintel_emulator, COUNTS, body).json()["results"]
    assert [p["periodStartDate"] for p in results[0]["periods"]] == [
        "2024-02-10T00:00:00",
        "2024-03-01T00:00:00",
    ]
    bad = post(usageintel_emulator, COUNTS, {**body, "groupByPeriod": "year"})
    assert bad.status_code == 400 and "groupByPeriod" in bad.json()["reason"]


def test_faults_apply_to_the_analytics_paths(usageintel_emulator):
    usageintel_emulator.control.add_fault(path=EVENTS, kind="status", status=429, retry_after=3)
    answer = post(usageintel_emulator, EVENTS, WINDOW)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "3"
    assert post(usageintel_emulator, EVENTS, WINDOW).status_code == 200


def test_the_past_year_is_judged_by_the_simulated_clock(usageintel_emulator):
    def status(start: str) -> int:
        body = {"startDate": start, "endDate": start + "T00:01", "paging": {"page": 1, "perPage": 1}}
        return post(usageintel_emulator, EVENTS, body).status_code

    assert [status("2023-03-15"), status("2024-03-15")] == [200, 200]  # a year ago today; today
    usageintel_emulator.control.advance_days(1)
    assert [status("2023-03-15"), status("2024-03-16")] == [400, 200]


def test_event_counts_dates_are_checked_too(usageintel_emulator):
    for body, reason in (
        ({"startDate": "2024-03-20", "endDate": "2024-03-21"}, "is in the future"),
        ({"startDate": "2024-03-10", "endDate": "2024-03-10"}, "must be later than startDate"),
        ({"startDate": "2024-03-10"}, "endDate: required"),
    ):
        answer = post(usageintel_emulator, COUNTS, body)
        assert answer.status_code == 400 and reason in answer.json()["reason"], body
