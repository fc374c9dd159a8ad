"""Simulated download bandwidth: validated, holding each file download to its rate, set at runtime.

Times are only ever bounded from below: a download must take at least its size over the rate.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest
import requests

from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_usageintel.emulator.cli import config_from_args, main
from airflow_provider_usageintel.emulator.pytest_plugin import EmulatorFactory
from airflow_provider_usageintel.emulator.state import Pacer

PID = "1234567890"
SIZE = 6 * 1024 * 1024
RATE_MIB_PER_S = 12  # 6 MiB take at least half a second


def download(server: EmulatorServer, headers: dict[str, str] | None = None) -> tuple[bytes, float]:
    """A pinned 6 MiB file, fetched whole through a fresh signed URL: its bytes and the seconds it took."""
    session = server.login_session()
    name = session.get(f"{server.url}/v3/customEventTracking/listFiles/{PID}", timeout=10).json()[
        "dailyFiles"
    ][0]["fileName"]
    server.control.set_file_size(name, SIZE)
    url = session.post(
        f"{server.url}/v3/customEventTracking/getDownloadUrl/{PID}", json={"fileName": name}, timeout=10
    ).json()["downloadUrl"]
    started = time.monotonic()
    response = requests.get(url, headers=headers or {}, timeout=30)
    elapsed = time.monotonic() - started
    assert response.status_code in (200, 206), response.text
    return response.content, elapsed


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "100", True, None, 102_401])
def test_the_config_refuses_a_bad_rate(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"download_mib_per_s: expected MiB/s between 0 and 102400"):
        EmulatorConfig(download_mib_per_s=bad)


def test_unlimited_by_default_and_set_from_keywords_or_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert EmulatorConfig().download_mib_per_s == 0
    assert EmulatorConfig(download_mib_per_s=64).download_mib_per_s == 64
    assert config_from_args(["--download-mib-per-s", "32.5"]).download_mib_per_s == 32.5
    assert config_from_args([]).download_mib_per_s == 0
    assert main(["--download-mib-per-s", "-1"]) == 2
    assert "download_mib_per_s" in capsys.readouterr().err


def test_a_download_flows_no_faster_than_the_rate_and_arrives_whole(
    usageintel_emulator_factory: EmulatorFactory,
) -> None:
    unlimited, _ = download(usageintel_emulator_factory())
    server = usageintel_emulator_factory(download_mib_per_s=RATE_MIB_PER_S)
    assert server.control.download_mib_per_s() == RATE_MIB_PER_S
    body, elapsed = download(server)
    assert len(body) == SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256(unlimited).digest()
    assert elapsed >= SIZE / (RATE_MIB_PER_S * 1024 * 1024), f"{elapsed:.3f} s"


def test_a_ranged_download_is_paced_on_what_it_sends(usageintel_emulator_factory: EmulatorFactory) -> None:
    server = usageintel_emulator_factory(download_mib_per_s=RATE_MIB_PER_S)
    body, elapsed = download(server, {"Range": f"bytes={SIZE // 2}-"})
    assert len(body) == SIZE // 2
    assert elapsed >= SIZE / 2 / (RATE_MIB_PER_S * 1024 * 1024)


def test_the_control_api_changes_the_rate_of_later_downloads(usageintel_emulator: EmulatorServer) -> None:
    server = usageintel_emulator
    assert server.control.download_mib_per_s() == 0
    assert server.control.set_download_mib_per_s(RATE_MIB_PER_S) == RATE_MIB_PER_S
    body, elapsed = download(server)
    assert len(body) == SIZE and elapsed >= SIZE / (RATE_MIB_PER_S * 1024 * 1024)
    server.control.reset()
    assert server.control.download_mib_per_s() == RATE_MIB_PER_S, "reset leaves the rate as it is"
    assert server.control.set_download_mib_per_s(0) == 0


@pytest.mark.parametrize("bad", [-1, "fast", True, None])
def test_the_control_api_refuses_a_bad_rate_and_keeps_the_old_one(
    usageintel_emulator_factory: EmulatorFactory, bad: Any
) -> None:
    server = usageintel_emulator_factory(download_mib_per_s=8)
    with pytest.raises(ValueError, match=r"HTTP 422: .*download_mib_per_s: expected MiB/s"):
        server.control.set_download_mib_per_s(bad)
    assert server.control.download_mib_per_s() == 8


def test_a_pacer_without_a_rate_never_waits_and_one_with_a_rate_waits_for_what_was_sent() -> None:
    free = Pacer(0)
    assert [free.delay(10 * 1024 * 1024) for _ in range(3)] == [0.0, 0.0, 0.0]
    paced = Pacer(1024 * 1024)
    assert paced.delay(4 * 1024 * 1024) > 3.0  # four seconds' worth, sent at once
