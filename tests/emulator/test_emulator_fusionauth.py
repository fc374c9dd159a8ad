"""The emulated FusionAuth report API, spoken to with plain requests."""

from __future__ import annotations

import pytest
import requests

START, END = 1710201600000, 1710374400000  # 2024-03-12 .. 2024-03-14, UTC
WINDOW = {"start": START, "end": END}
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


def get(emulator, path, params=None, key=None, tenant=None):
    headers = {"Authorization": key or emulator.config.fusionauth_api_key}
    if tenant:
        headers["X-FusionAuth-TenantId"] = tenant
    return requests.get(f"{emulator.url}/api/report/{path}", params=params, headers=headers, timeout=10)


def test_raw_key_is_enforced_with_an_empty_401(usageintel_emulator):
    for key in ("wrong", f"Bearer {usageintel_emulator.config.fusionauth_api_key}"):
        answer = get(usageintel_emulator, "totals", key=key)
        assert answer.status_code == 401 and answer.content == b""


def test_tenant_header_is_enforced_when_configured(usageintel_emulator_factory):
    server = usageintel_emulator_factory(fusionauth_tenant_id="t-1")
    assert get(server, "totals").status_code == 401
    assert get(server, "totals", tenant="t-2").status_code == 401
    assert get(server, "totals", tenant="t-1").status_code == 200


def test_licence_expired_is_an_empty_402(usageintel_emulator_factory):
    answer = get(usageintel_emulator_factory(fusionauth_license_expired=True), "login", WINDOW)
    assert answer.status_code == 402 and answer.content == b""


@pytest.mark.parametrize(
    ("style", "served", "missing"),
    [
        ("both", ["daily-active-user", "daily-active-users"], []),
        ("singular", ["daily-active-user"], ["daily-active-users"]),
        ("plural", ["daily-active-users"], ["daily-active-user"]),
    ],
)
def test_path_styles(usageintel_emulator_factory, style, served, missing):
    server = usageintel_emulator_factory(fusionauth_path_style=style)
    answers = [get(server, path, WINDOW).json() for path in served]
    assert all(answer == answers[0] for answer in answers) and answers[0]["total"] > 0
    not_found = [get(server, path, WINDOW) for path in missing]
    # seed 003, 404: "The object you requested doesn't exist. The response will be empty."
    assert [(answer.status_code, answer.content) for answer in not_found] == [(404, b"")] * len(missing)


def test_field_errors(usageintel_emulator):
    answer = get(usageintel_emulator, "registration", {"start": "abc"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["generalErrors"] == []
    assert body["fieldErrors"]["start"][0]["code"] == "[invalid]start"
    assert body["fieldErrors"]["end"][0]["code"] == "[missing]end"
    reversed_window = get(usageintel_emulator, "login", {"start": END, "end": START}).json()
    assert reversed_window["fieldErrors"]["end"][0]["code"] == "[invalid]end"


def test_active_users_never_exceed_the_population(usageintel_emulator):
    days = get(usageintel_emulator, "daily-active-user", WINDOW).json()
    month = get(usageintel_emulator, "monthly-active-user", WINDOW).json()
    users = usageintel_emulator.config.portal_users
    # both bounds truncated to days, the end's day included: 12, 13 and 14 March
    assert [d["interval"] for d in days["dailyActiveUsers"]] == [19794, 19795, 19796]
    assert all(0 < d["count"] <= users for d in days["dailyActiveUsers"])
    assert (
        max(d["count"] for d in days["dailyActiveUsers"]) <= month["monthlyActiveUsers"][0]["count"] <= users
    )


def test_login_filters_narrow_the_counts(usageintel_emulator):
    everyone = get(usageintel_emulator, "login", WINDOW).json()
    unknown = get(
        usageintel_emulator, "login", {**WINDOW, "userId": "00000000-0000-0000-0000-000000000000"}
    ).json()
    assert everyone["total"] > 0 and unknown["total"] == 0
    assert len(everyone["hourlyCounts"]) == 48 + 1  # the end's hour (00:00 on the 14th) too


def test_data_stops_at_the_simulated_today(usageintel_emulator):
    later = get(usageintel_emulator, "login", {"start": 1710460800000, "end": 1710547200000}).json()
    assert later["total"] == 0


@pytest.mark.parametrize(("report", "unit_ms"), [("daily-active-user", DAY_MS), ("login", HOUR_MS)])
def test_start_and_end_are_truncated_to_whole_intervals(usageintel_emulator, report, unit_ms):
    """Seed 003: start and end are each "an instant but it is truncated to" the report's interval."""
    first = START + 11 * HOUR_MS  # 11:00 on the 12th: seven logins, one of them in 11:20-11:30
    first -= first % unit_ms
    whole = get(usageintel_emulator, report, {"start": first, "end": first + unit_ms - 1}).json()
    inside = get(
        usageintel_emulator, report, {"start": first + unit_ms // 3, "end": first + unit_ms // 2}
    ).json()
    assert inside == whole and whole["total"] > 0
    assert len(next(v for k, v in whole.items() if k != "total")) == 1


def test_truncation_follows_the_report_time_zone(usageintel_emulator_factory):
    paris = usageintel_emulator_factory(fusionauth_timezone="Europe/Paris")
    # 00:00 UTC on the 12th is 01:00 in Paris: the Paris day of the 12th, which began at 23:00 UTC
    from_utc_midnight = get(paris, "daily-active-user", {"start": START, "end": START + 1}).json()
    from_paris_midnight = get(paris, "daily-active-user", {"start": START - HOUR_MS, "end": START}).json()
    assert from_utc_midnight == from_paris_midnight
    assert [d["interval"] for d in from_utc_midnight["dailyActiveUsers"]] == [19794]
    # and the logins of that Paris day are what its 24 hours hold, 23:00 UTC on the 11th first
    hours = get(paris, "login", {"start": START - HOUR_MS, "end": START - HOUR_MS + DAY_MS - 1}).json()
    assert len(hours["hourlyCounts"]) == 24 and hours["hourlyCounts"][0]["interval"] == 19794 * 24
