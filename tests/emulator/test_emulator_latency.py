"""Simulated network latency: validated, applied to every API answer and download, set at runtime.

Times are only ever bounded from below: a request must take at least the latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

import airflow_provider_usageintel.emulator.app as emulator_app
from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_usageintel.emulator.cli import config_from_args, main
from airflow_provider_usageintel.emulator.pytest_plugin import DEFAULT_TEST_TODAY, EmulatorFactory

PID = "1234567890"
LATENCY_MS = 150


def timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    """The response and the seconds it took, on the monotonic clock."""
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def status(call: Callable[[], requests.Response]) -> int:
    """The status of a call whose answer is read to the end (so the server logs it)."""
    with call() as response:
        _ = response.content
        return response.status_code


def vendor_calls(server: EmulatorServer) -> dict[str, Callable[[], requests.Response]]:
    """One request of each kind the latency applies to: the three APIs, a download, an error."""
    session = server.login_session()
    name = session.get(f"{server.url}/v3/customEventTracking/listFiles/{PID}", timeout=10).json()[
        "dailyFiles"
    ][0]["fileName"]
    download_url = session.post(
        f"{server.url}/v3/customEventTracking/getDownloadUrl/{PID}", json={"fileName": name}, timeout=10
    ).json()["downloadUrl"]
    fluid_topics = {
        "Authorization": f"Bearer {server.config.fluid_topics_api_key}",
        "Ft-Calling-App": "tests",
    }
    window = {"startDate": "2024-03-13", "endDate": "2024-03-14"}
    return {
        "list_files": lambda: session.get(f"{server.url}/v3/customEventTracking/listFiles/{PID}", timeout=10),
        "get_download_url": lambda: session.post(
            f"{server.url}/v3/customEventTracking/getDownloadUrl/{PID}", json={"fileName": name}, timeout=10
        ),
        # stream=True returns once the headers are in: the time to the first byte.
        "download": lambda: requests.get(download_url, stream=True, timeout=10),
        "fluid_topics": lambda: requests.post(
            f"{server.url}/analytics/api/v1/events", json=window, headers=fluid_topics, timeout=10
        ),
        "fusionauth": lambda: requests.get(
            f"{server.url}/api/report/totals",
            headers={"Authorization": server.config.fusionauth_api_key},
            timeout=10,
        ),
        "unauthenticated": lambda: requests.get(
            f"{server.url}/v3/customEventTracking/listFiles/{PID}",
            headers={"Origin": server.config.origin},
            timeout=10,
        ),
    }


EXPECTED_STATUS = {
    "list_files": 200,
    "get_download_url": 200,
    "download": 200,
    "fluid_topics": 200,
    "fusionauth": 200,
    "unauthenticated": 401,
}


@pytest.mark.parametrize("bad", [-1, -0.5, 60_001, float("nan"), float("inf"), "100", True, None])
def test_the_config_refuses_a_bad_latency(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"latency_ms: expected milliseconds between 0 and 60000"):
        EmulatorConfig(latency_ms=bad)


def test_the_option_is_off_by_default_and_set_from_keywords_or_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert EmulatorConfig().latency_ms == 0
    assert EmulatorConfig(days=30, file_size_kb=64, latency_ms=25).latency_ms == 25
    assert config_from_args(["--latency-ms", "80"]).latency_ms == 80
    assert config_from_args([]).latency_ms == 0
    assert main(["--latency-ms", "-5"]) == 2
    assert "latency_ms" in capsys.readouterr().err


def test_every_api_answer_and_download_waits_for_the_latency(
    usageintel_emulator_factory: EmulatorFactory,
) -> None:
    server = usageintel_emulator_factory(latency_ms=LATENCY_MS)
    assert server.control.latency_ms() == LATENCY_MS
    for name, call in vendor_calls(server).items():
        response, elapsed = timed(call)
        with response:
            assert response.status_code == EXPECTED_STATUS[name], (name, response.text)
            assert elapsed >= LATENCY_MS / 1000, f"{name} answered after {elapsed:.3f} s"
            if name == "download":
                assert len(response.content) == int(response.headers["content-length"])


def test_the_control_api_changes_the_latency_of_later_requests(usageintel_emulator: EmulatorServer) -> None:
    server = usageintel_emulator
    calls = vendor_calls(server)
    assert server.control.latency_ms() == 0
    assert server.control.set_latency_ms(LATENCY_MS) == LATENCY_MS
    assert server.control.latency_ms() == LATENCY_MS
    response, elapsed = timed(calls["list_files"])
    assert response.status_code == 200
    assert elapsed >= LATENCY_MS / 1000
    assert server.control.set_latency_ms(2.5) == 2.5, "fractions of a millisecond are kept"
    assert server.control.set_latency_ms(0) == 0
    assert status(calls["list_files"]) == 200


@pytest.mark.parametrize("bad", [-1, "fast", True, None, 60_001])
def test_the_control_api_refuses_a_bad_latency_and_keeps_the_old_one(
    usageintel_emulator_factory: EmulatorFactory, bad: Any
) -> None:
    server = usageintel_emulator_factory(latency_ms=10)
    with pytest.raises(ValueError, match=r"HTTP 422: .*latency_ms: expected milliseconds"):
        server.control.set_latency_ms(bad)
    assert server.control.latency_ms() == 10


def test_the_control_api_is_never_delayed(usageintel_emulator_factory: EmulatorFactory) -> None:
    """With a minute of latency, every control call still answers within the control client's 10 s timeout."""
    server = usageintel_emulator_factory(latency_ms=60_000)
    assert server.control.latency_ms() == 60_000
    assert server.control.today() == DEFAULT_TEST_TODAY
    server.control.add_fault(path="listFiles", kind="status", status=503)
    assert len(server.control.faults()) == 1
    server.control.reset()
    assert server.control.faults() == []
    assert server.control.requests() == [], "the control API is not in the request log"
    assert server.control.latency_ms() == 60_000, "reset leaves the latency as it is"
    assert server.control.set_latency_ms(0) == 0


def test_zero_latency_never_pauses_a_request(
    usageintel_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 0 (the default, or set back at runtime) requests go straight through, as before the option."""
    pauses: list[float] = []
    real_pause = emulator_app.pause

    async def recording_pause(seconds: float) -> None:
        pauses.append(seconds)
        await real_pause(seconds)

    monkeypatch.setattr(emulator_app, "pause", recording_pause)
    server = usageintel_emulator
    calls = vendor_calls(server)
    server.control.set_latency_ms(LATENCY_MS)
    assert status(calls["list_files"]) == 200
    assert pauses == [LATENCY_MS / 1000]
    server.control.set_latency_ms(0)
    pauses.clear()
    server.control.add_fault(path="listFiles", kind="status", status=503)
    statuses = [status(call) for call in calls.values()]
    assert statuses == [503, *(EXPECTED_STATUS[name] for name in list(calls)[1:])]
    assert pauses == []
    assert [entry["status"] for entry in server.control.requests()][-len(calls) :] == statuses
