"""How the conformance tests reach a server: the seed's own auth flows with plain ``requests``,
and Airflow connections for the provider's hooks aimed at a stub.

Everything a sample needs from the emulator comes from the seeds themselves: the login
sample's credentials, the product ids the samples use, a "today" at which their dates and
file names exist.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests

from tests.conformance.records import at_line, data_file
from tests.conformance.stub import CSRF_COOKIE, SESSION_COOKIE

#: the product of the seed's file-name samples (seed 000 lines 886, 1006, 1161).
PRODUCT = "2376158762"
#: the product of seed 001's example request (line 191).
CHURN_PRODUCT = "12345678901"
#: the day after seed 000's latest sample date (stopDate 2023-07-13): every sample's
#: dates are in the past and its file names (2023-07-11, 2023-07-12) exist.
UI_TODAY = dt.date(2023, 7, 14)
#: fast retries keep a failing test quick without changing what is retried.
FAST_RETRIES = {"retry_wait": 0.01, "max_retry_wait": 1, "timeout": 10, "max_retries": 1}
FLUID_TOPICS_KEY = "conformance-ft-key"
FUSIONAUTH_KEY = "conformance-fa-key"
TIMEOUT = 30

LOGIN_REQUEST = at_line("000", 51)
LOGIN_RESPONSE = at_line("000", 57)
LOGOUT_REQUEST = at_line("000", 99)
SEED_USER = LOGIN_REQUEST["request"]["userName"]
SEED_PASSWORD = LOGIN_REQUEST["request"]["password"]


def seed_headers() -> dict[str, str]:
    """The header parameters of seed 000 (lines 23-34), sent on every call."""
    return dict(data_file("000")["headers"]["values"])


def seed_login(base_url: str) -> tuple[requests.Session, requests.Response]:
    """Seed 000's flow: ``GET /v3/request-csrf`` -> 204 + CSRF cookie, then the login sample -> 200 + cookies.

    Returns the logged-in session and the login answer.
    """
    session = requests.Session()
    session.headers.update(seed_headers())
    csrf = session.get(f"{base_url}/v3/request-csrf", timeout=TIMEOUT)
    assert csrf.status_code == 204, f"request-csrf answered {csrf.status_code}: {csrf.text}"
    assert CSRF_COOKIE in session.cookies, "request-csrf set no RUI-Csrf cookie"
    login = session.post(
        f"{base_url}{LOGIN_REQUEST['endpoint']}", json=LOGIN_REQUEST["request"], timeout=TIMEOUT
    )
    assert login.status_code == LOGIN_REQUEST["status"], (
        f"auth/web answered {login.status_code}: {login.text}"
    )
    assert {CSRF_COOKIE, SESSION_COOKIE} <= set(session.cookies.keys()), "auth/web did not set both cookies"
    return session, login


def seed_logout(session: requests.Session, base_url: str) -> requests.Response:
    """The logout sample, literally."""
    return session.post(
        f"{base_url}{LOGOUT_REQUEST['endpoint']}", json=LOGOUT_REQUEST["request"], timeout=TIMEOUT
    )


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, conn: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def ui_connection(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    set_connection(
        monkeypatch,
        "usage_intelligence_default",
        {
            "conn_type": "usage_intelligence",
            "host": url,
            "login": SEED_USER,
            "password": SEED_PASSWORD,
            "extra": {"product_id": PRODUCT, **FAST_RETRIES},
        },
    )


def fluid_topics_connection(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    set_connection(
        monkeypatch,
        "fluid_topics_default",
        {
            "conn_type": "fluid_topics",
            "host": url,
            "password": FLUID_TOPICS_KEY,
            "extra": {"calling_app": "conformance-tests", **FAST_RETRIES},
        },
    )


def fusionauth_connection(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """No ``path_style``: the hook's default must reach the seed's paths."""
    set_connection(
        monkeypatch,
        "fusionauth_default",
        {"conn_type": "fusionauth", "host": url, "password": FUSIONAUTH_KEY, "extra": dict(FAST_RETRIES)},
    )


# -- FusionAuth windows: the seed's example intervals, back to instants --------------------------------

_UNIT_MS = {"day": 86_400_000, "hour": 3_600_000}


def _month_start_ms(interval: int) -> int:
    start = dt.datetime(1970 + interval // 12, interval % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return int(start.timestamp() * 1000)


def interval_window(response: dict[str, Any]) -> tuple[int, int]:
    """``[start, end)`` in epoch milliseconds covering exactly the sample's intervals (UTC report zone)."""
    items = response["response"][response["keys"][1]]
    first, last = min(i["interval"] for i in items), max(i["interval"] for i in items)
    unit = response["interval_unit"]
    if unit == "month":
        return _month_start_ms(first), _month_start_ms(last + 1)
    return first * _UNIT_MS[unit], (last + 1) * _UNIT_MS[unit]
