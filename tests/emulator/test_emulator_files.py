"""File listings, the simulated clock, latest-data previews and size overrides."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from airflow_provider_usageintel.api.files import FileKind, check_file_name, parse_file_list
from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.pytest_plugin import DEFAULT_TEST_TODAY, make_config
from airflow_provider_usageintel.emulator.zipstream import zip_overhead

PID = "1234567890"
LIST_PATHS = {
    FileKind.CUSTOM_EVENTS: "/v3/customEventTracking/listFiles/{pid}",
    FileKind.EXCEPTIONS: "/v3/exceptionTracking/listFiles/{pid}",
    FileKind.RAW_EVENTS: "/v3/rawEvents/download/listFiles/{pid}",
}
URL_PATHS = {
    FileKind.CUSTOM_EVENTS: "/v3/customEventTracking/getDownloadUrl/{pid}",
    FileKind.EXCEPTIONS: "/v3/exceptionTracking/getDownloadUrl/{pid}",
    FileKind.RAW_EVENTS: "/v3/rawEvents/download/getDownloadUrl/{pid}",
}
INFIX = {FileKind.CUSTOM_EVENTS: "cust", FileKind.EXCEPTIONS: "exc"}


@pytest.fixture(scope="module")
def shared():
    """One server for the tests here that neither move its clock nor queue faults."""
    with EmulatorServer(make_config()) as server:
        yield server


def listing(server, session, kind, pid=PID):
    response = session.get(server.url + LIST_PATHS[kind].format(pid=pid), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def iso(day: dt.date) -> str:
    return day.isoformat()


@pytest.mark.parametrize("kind", [FileKind.CUSTOM_EVENTS, FileKind.EXCEPTIONS])
def test_custom_and_exception_listings_have_the_documented_shape(shared, kind):
    session = shared.login_session()
    body = listing(shared, session, kind)
    assert set(body) == {"openDailyFiles", "dailyFiles", "monthlyFiles"}
    today = DEFAULT_TEST_TODAY
    infix = INFIX[kind]
    [open_file] = body["openDailyFiles"]
    assert open_file == {
        "fileName": f"{PID}_{infix}_{iso(today)}.zip",
        "uncompressedSizeKB": open_file["uncompressedSizeKB"],
        "fileDate": iso(today),
        "isAvailable": True,
    }
    daily = body["dailyFiles"]
    assert len(daily) == 60
    assert daily[0]["fileDate"] == iso(today - dt.timedelta(days=60))
    assert daily[-1]["fileDate"] == iso(today - dt.timedelta(days=1))
    assert all(set(f) == {"fileName", "uncompressedSizeKB", "compressedSizeKB", "fileDate"} for f in daily)
    assert [(m["fileStartDate"], m["fileStopDate"]) for m in body["monthlyFiles"]] == [
        ("2024-01-15", "2024-01-31"),
        ("2024-02-01", "2024-02-29"),
    ]
    assert body["monthlyFiles"][1]["fileName"] == f"{PID}_{infix}_2024-02-01_to_2024-02-29.zip"
    for entry in daily + body["monthlyFiles"]:
        check_file_name(entry["fileName"])
        overhead_kb = zip_overhead(entry["fileName"].replace(".zip", ".csv")) / 1024
        assert entry["compressedSizeKB"] - entry["uncompressedSizeKB"] == pytest.approx(
            overhead_kb, abs=0.002
        )
    records = parse_file_list(kind, body, "list")
    assert [r.is_final for r in records].count(False) == 1


def test_raw_listing_has_the_documented_shape_and_retention(usageintel_emulator_factory):
    server = usageintel_emulator_factory(days=120, raw_events_retention_days=90)
    body = listing(server, server.login_session(), FileKind.RAW_EVENTS)
    assert set(body) == {"fileList"}
    files = body["fileList"]
    assert len(files) == 90
    assert files[0]["fileDate"] == iso(DEFAULT_TEST_TODAY - dt.timedelta(days=90))
    assert files[-1] == {
        "fileName": f"{PID}_{iso(DEFAULT_TEST_TODAY - dt.timedelta(days=1))}.zip",
        "fileDate": iso(DEFAULT_TEST_TODAY - dt.timedelta(days=1)),
        "compressedSizeKB": files[-1]["compressedSizeKB"],
    }
    assert len(parse_file_list(FileKind.RAW_EVENTS, body, "raw")) == 90


def test_raw_listing_is_bounded_by_history(usageintel_emulator_factory):
    server = usageintel_emulator_factory(days=10)
    files = listing(server, server.login_session(), FileKind.RAW_EVENTS)["fileList"]
    assert len(files) == 10


def test_advancing_the_clock_finalises_files(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    before = listing(server, session, FileKind.CUSTOM_EVENTS)
    assert server.control.today() == DEFAULT_TEST_TODAY
    assert server.control.advance_days(1) == dt.date(2024, 3, 16)
    after = listing(server, session, FileKind.CUSTOM_EVENTS)
    opened = before["openDailyFiles"][0]["fileName"]
    assert after["openDailyFiles"][0]["fileName"] == f"{PID}_cust_2024-03-16.zip"
    assert after["dailyFiles"][-1]["fileName"] == opened
    assert "compressedSizeKB" in after["dailyFiles"][-1]
    assert after["dailyFiles"][0] == before["dailyFiles"][0], "history start does not move"
    assert len(after["dailyFiles"]) == 61


def test_a_closing_month_produces_its_monthly_file(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    server.control.advance_days(16)
    assert server.control.today() == dt.date(2024, 3, 31)
    assert len(listing(server, session, FileKind.EXCEPTIONS)["monthlyFiles"]) == 2
    server.control.advance_days(1)
    monthly = listing(server, session, FileKind.EXCEPTIONS)["monthlyFiles"]
    assert monthly[-1]["fileName"] == f"{PID}_exc_2024-03-01_to_2024-03-31.zip"


def test_the_clock_only_moves_forward(usageintel_emulator):
    with pytest.raises(ValueError, match="422"):
        usageintel_emulator.control.advance_days(-1)
    assert usageintel_emulator.control.today() == DEFAULT_TEST_TODAY


def test_each_product_has_its_own_files(usageintel_emulator_factory):
    server = usageintel_emulator_factory(product_ids=["111", "222"])
    session = server.login_session()
    names = [f["fileName"] for f in listing(server, session, FileKind.CUSTOM_EVENTS, pid="222")["dailyFiles"]]
    assert all(name.startswith("222_cust_") for name in names)
    foreign = session.post(
        server.url + URL_PATHS[FileKind.CUSTOM_EVENTS].format(pid="111"),
        json={"fileName": names[0]},
        timeout=10,
    )
    assert foreign.status_code == 404
    assert foreign.json() == {"status": "ERROR", "reason": f"File not found: {names[0]}"}


@pytest.mark.parametrize("kind", list(FileKind))
def test_download_url_shape(shared, kind):
    server = shared
    session = server.login_session()
    name = parse_file_list(kind, listing(server, session, kind), "list")[-1].file_name
    response = session.post(server.url + URL_PATHS[kind].format(pid=PID), json={"fileName": name}, timeout=10)
    assert response.status_code == 200
    url = response.json()["downloadUrl"]
    assert url.startswith(f"{server.url}/_download/")
    assert "?expires=" in url
    assert "&signature=" in url


def test_download_url_needs_a_known_file_name(shared):
    server = shared
    session = server.login_session()
    path = server.url + URL_PATHS[FileKind.CUSTOM_EVENTS].format(pid=PID)
    assert session.post(path, json={}, timeout=10).status_code == 400
    assert session.post(path, json={"fileName": 7}, timeout=10).status_code == 400
    assert session.post(path, json={"fileName": "../etc/passwd"}, timeout=10).status_code == 404
    raw_name = f"{PID}_{iso(DEFAULT_TEST_TODAY - dt.timedelta(days=1))}.zip"
    assert session.post(path, json={"fileName": raw_name}, timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("kind", "path", "last_column"),
    [
        (FileKind.CUSTOM_EVENTS, "/v3/customEventTracking/getLastLines/{pid}", "eventValue"),
        (FileKind.EXCEPTIONS, "/v3/exceptionTracking/getLastLines/{pid}", "exceptionMethod"),
    ],
)
def test_last_lines_returns_newest_rows_first(shared, kind, path, last_column):
    session = shared.login_session()
    response = session.post(shared.url + path.format(pid=PID), json={"lineCount": 25}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    rows = body["result"]
    assert len(rows) == 25
    assert all(list(row) == list(body["fieldNames"]) for row in rows)
    assert list(body["fieldNames"])[-1] == last_column
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert all(stamp.startswith(iso(DEFAULT_TEST_TODAY)) for stamp in stamps)
    assert isinstance(rows[0]["ram"], int)
    assert isinstance(rows[0]["licenseStatus.activated"], bool)


@pytest.mark.parametrize("line_count", [0, 1001, "5", True, None])
def test_last_lines_validates_line_count(shared, line_count):
    session = shared.login_session()
    url = f"{shared.url}/v3/customEventTracking/getLastLines/{PID}"
    response = session.post(url, json={"lineCount": line_count}, timeout=10)
    assert response.status_code == 422
    assert response.json()["reason"].startswith("lineCount: ")


def test_file_sizes_can_be_pinned(usageintel_emulator_factory):
    name = f"{PID}_cust_2024-03-01.zip"
    server = usageintel_emulator_factory(file_sizes={name: 100_000})
    session = server.login_session()

    def compressed(file_name):
        daily = listing(server, session, FileKind.CUSTOM_EVENTS)["dailyFiles"]
        return next(f["compressedSizeKB"] for f in daily if f["fileName"] == file_name)

    assert compressed(name) == round(100_000 / 1024, 3)
    other = f"{PID}_cust_2024-03-02.zip"
    server.control.set_file_size(other, 54_321)
    assert compressed(other) == round(54_321 / 1024, 3)
    with pytest.raises(ValueError, match="size_bytes"):
        server.control.set_file_size(other, 10)
    with pytest.raises(ValueError, match="file_name"):
        server.control.set_file_size("../x.zip", 100_000)


def test_equal_seeds_serve_equal_data(usageintel_emulator_factory):
    first, second, other = (usageintel_emulator_factory(seed=s) for s in (7, 7, 8))

    def fetch(server):
        session = server.login_session()
        files = listing(server, session, FileKind.CUSTOM_EVENTS)
        name = files["dailyFiles"][3]["fileName"]
        url = session.post(
            server.url + URL_PATHS[FileKind.CUSTOM_EVENTS].format(pid=PID),
            json={"fileName": name},
            timeout=10,
        ).json()["downloadUrl"]
        return files, requests.get(url, timeout=10).content

    listing_a, bytes_a = fetch(first)
    listing_b, bytes_b = fetch(second)
    _, bytes_other = fetch(other)
    assert listing_a == listing_b
    assert bytes_a == bytes_b
    assert bytes_a != bytes_other
