"""Injected faults and the request log."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
import requests

from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.pytest_plugin import make_config

PID = "1234567890"
LIST = f"/v3/customEventTracking/listFiles/{PID}"
GET_URL = f"/v3/customEventTracking/getDownloadUrl/{PID}"
BROKEN = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)


@pytest.fixture(scope="module")
def shared():
    """One server for the tests here that leave no fault queued."""
    with EmulatorServer(make_config()) as server:
        yield server


def first_file(server, session) -> str:
    return session.get(server.url + LIST, timeout=10).json()["dailyFiles"][0]["fileName"]


def signed_url(server, session, name) -> str:
    return session.post(server.url + GET_URL, json={"fileName": name}, timeout=10).json()["downloadUrl"]


@pytest.fixture
def big_file(usageintel_emulator):
    """A 3 MiB file, so body faults land mid-stream."""
    session = usageintel_emulator.login_session()
    name = first_file(usageintel_emulator, session)
    usageintel_emulator.control.set_file_size(name, 3 * 1024 * 1024)
    return usageintel_emulator, session, name


def test_status_fault_with_retry_after(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="listFiles", kind="status", status=503, retry_after=7, count=2)
    for _ in range(2):
        response = session.get(server.url + LIST, timeout=10)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.json() == {"status": "ERROR", "reason": "Injected fault"}
    assert session.get(server.url + LIST, timeout=10).status_code == 200


def test_faults_are_fifo_and_path_specific(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="getDownloadUrl", kind="status", status=500)
    server.control.add_fault(path="listFiles", kind="status", status=429)
    server.control.add_fault(path="listFiles$", kind="status", status=502)
    server.control.add_fault(path=r"listFiles/\d+$", kind="status", status=504)
    assert [f["status"] for f in server.control.faults()] == [500, 429, 502, 504]
    statuses = [session.get(server.url + LIST, timeout=10).status_code for _ in range(3)]
    assert statuses == [429, 504, 200]
    assert [f["status"] for f in server.control.faults()] == [500, 502]


def test_cookie_missing_fault_on_login(usageintel_emulator):
    server = usageintel_emulator
    session = requests.Session()
    session.headers["Origin"] = server.config.origin
    session.get(f"{server.url}/v3/request-csrf", timeout=10)
    server.control.add_fault(path="/v3/auth/web$", kind="cookie_missing")
    credentials = {"userName": server.config.user, "password": server.config.password}
    refused = session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10)
    assert (refused.status_code, refused.json()["reason"]) == (400, "Cookie Missing")
    assert session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10).status_code == 200


def test_expire_session_fault(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="listFiles", kind="expire_session")
    expired = session.get(server.url + LIST, timeout=10)
    assert expired.status_code == 401
    assert expired.json() == {"status": "AUTH ERROR", "reason": "Not authenticated"}
    assert session.get(server.url + LIST, timeout=10).status_code == 401, "the session is gone for good"
    credentials = {"userName": server.config.user, "password": server.config.password}
    assert session.post(f"{server.url}/v3/auth/web", json=credentials, timeout=10).status_code == 200
    assert session.get(server.url + LIST, timeout=10).status_code == 200


def test_reset_fault_on_an_api_call(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="listFiles", kind="reset")
    with pytest.raises(BROKEN):
        session.get(server.url + LIST, timeout=10)
    assert session.get(server.url + LIST, timeout=10).status_code == 200


def test_reset_fault_mid_download_keeps_the_url_usable(big_file):
    server, session, name = big_file
    url = signed_url(server, session, name)
    server.control.add_fault(path="^/_download/", kind="reset", after_bytes=1024 * 1024)
    received = 0
    with pytest.raises(BROKEN), requests.get(url, stream=True, timeout=10) as response:
        assert response.headers["content-length"] == str(3 * 1024 * 1024)
        for chunk in response.iter_content(64 * 1024):
            received += len(chunk)
    assert received == 1024 * 1024
    complete = requests.get(url, timeout=10)
    assert complete.status_code == 200
    assert len(complete.content) == 3 * 1024 * 1024


def test_truncate_fault_on_a_download(big_file):
    server, session, name = big_file
    url = signed_url(server, session, name)
    server.control.add_fault(path="/_download/", kind="truncate", after_bytes=5000)
    short = requests.get(url, timeout=10)
    assert short.status_code == 200
    assert short.headers["content-length"] == "5000"
    assert len(short.content) == 5000
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(short.content))
    assert len(requests.get(url, timeout=10).content) == 3 * 1024 * 1024, (
        "a short answer does not spend the URL"
    )


def test_truncate_fault_on_an_api_call(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="listFiles", kind="truncate", after_bytes=12)
    response = session.get(server.url + LIST, timeout=10)
    assert response.status_code == 200
    assert len(response.content) == 12
    with pytest.raises(ValueError):
        response.json()


def test_corrupt_zip_fault_flips_one_byte_of_csv_data(big_file):
    server, session, name = big_file
    clean = requests.get(signed_url(server, session, name), timeout=10).content
    server.control.add_fault(path="/_download/", kind="corrupt_zip")
    corrupt = requests.get(signed_url(server, session, name), timeout=10).content
    assert len(corrupt) == len(clean)
    assert sum(a != b for a, b in zip(clean, corrupt, strict=True)) == 1
    member = name.replace(".zip", ".csv")
    assert zipfile.ZipFile(io.BytesIO(corrupt)).testzip() == member


def test_slow_fault_delays_the_answer(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.add_fault(path="listFiles", kind="slow", delay_s=0.3)
    started = time.monotonic()
    assert session.get(server.url + LIST, timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_slow_fault_mid_download_times_out_a_reader(big_file):
    server, session, name = big_file
    url = signed_url(server, session, name)
    server.control.add_fault(path="/_download/", kind="slow", after_bytes=1024 * 1024, delay_s=1.0)
    received = 0
    with pytest.raises(BROKEN), requests.get(url, stream=True, timeout=(5, 0.2)) as response:
        for chunk in response.iter_content(64 * 1024):
            received += len(chunk)
    assert received == 1024 * 1024


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "x", "kind": "explode"}, "kind"),
        ({"path": "(", "kind": "status"}, "path"),
        ({"path": "x", "kind": "status", "count": 0}, "count"),
        ({"path": "x", "kind": "status", "status": 99}, "status"),
        ({"path": "x", "kind": "slow", "delay_s": -1}, "delay_s"),
        ({"path": "x", "kind": "status", "colour": "red"}, "unknown fields"),
    ],
)
def test_invalid_faults_are_refused(shared, spec, message):
    with pytest.raises(ValueError, match=message):
        shared.control.add_fault(**spec)
    assert shared.control.faults() == []


def test_the_control_api_is_never_faulted(usageintel_emulator):
    server = usageintel_emulator
    server.control.add_fault(path=".", kind="status", status=500)
    assert server.control.today() is not None
    assert len(server.control.faults()) == 1
    assert requests.get(f"{server.url}/v3/request-csrf", timeout=10).status_code == 500
    assert server.control.faults() == []


def test_request_log_holds_paths_and_statuses_but_no_secrets(big_file):
    server, session, name = big_file
    server.control.reset()
    url = signed_url(server, session, name)
    requests.get(url, timeout=10)
    requests.get(url, timeout=10)
    requests.get(f"{server.url}{LIST}?secret=1", timeout=10)
    log = server.control.requests()
    assert log == [
        {"method": "POST", "path": GET_URL, "status": 200},
        {"method": "GET", "path": "/_download/<token>", "status": 200},
        {"method": "GET", "path": "/_download/<token>", "status": 403},
        {"method": "GET", "path": LIST, "status": 403},
    ]
    token = url.split("/_download/")[1].split("?")[0]
    assert token not in str(log)
    assert "?" not in str(log)


def test_reset_clears_faults_and_log(usageintel_emulator):
    server = usageintel_emulator
    requests.get(f"{server.url}/v3/request-csrf", timeout=10)
    server.control.add_fault(path="x", kind="status")
    assert server.control.requests()
    server.control.reset()
    assert server.control.requests() == []
    assert server.control.faults() == []
