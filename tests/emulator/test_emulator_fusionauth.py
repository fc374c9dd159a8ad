"""The emulated FusionAuth report API, spoken to with plain requests."""

from __future__ import annotations

import pytest
import requests

START, END = 1710201600000, 1710374400000  # 2024-03-12 .. 2024-03-14, UTC
WINDOW = {"start": START, "end": END}


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
    assert [get(server, path, WINDOW).status_code for path in missing] == [404] * len(missing)


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
    assert [d["interval"] for d in days["dailyActiveUsers"]] == [19794, 19795]
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
    assert len(everyone["hourlyCounts"]) == 48


def test_data_stops_at_the_simulated_today(usageintel_emulator):
    later = get(usageintel_emulator, "login", {"start": 1710460800000, "end": 1710547200000}).json()
    assert later["total"] == 0
