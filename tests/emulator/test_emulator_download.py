"""Signed download URLs: zip validity, exact lengths, ranges, single use, signatures and expiry."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest
import requests

from airflow_provider_usageintel.api.files import FileKind, kb_to_bytes
from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.files import columns
from airflow_provider_usageintel.emulator.pytest_plugin import make_config

PID = "1234567890"
PATHS = {
    FileKind.CUSTOM_EVENTS: (
        "/v3/customEventTracking/listFiles/{pid}",
        "/v3/customEventTracking/getDownloadUrl/{pid}",
    ),
    FileKind.EXCEPTIONS: (
        "/v3/exceptionTracking/listFiles/{pid}",
        "/v3/exceptionTracking/getDownloadUrl/{pid}",
    ),
    FileKind.RAW_EVENTS: (
        "/v3/rawEvents/download/listFiles/{pid}",
        "/v3/rawEvents/download/getDownloadUrl/{pid}",
    ),
}


@pytest.fixture(scope="module")
def shared():
    """One server for the tests here that neither move its clock nor queue faults."""
    with EmulatorServer(make_config()) as server:
        yield server


def entries(server, session, kind):
    body = session.get(server.url + PATHS[kind][0].format(pid=PID), timeout=10).json()
    if kind is FileKind.RAW_EVENTS:
        return body["fileList"]
    return body["openDailyFiles"] + body["dailyFiles"] + body["monthlyFiles"]


def signed_url(server, session, kind, name):
    response = session.post(server.url + PATHS[kind][1].format(pid=PID), json={"fileName": name}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["downloadUrl"]


def read_csv(payload: bytes, member: str) -> list[dict[str, str]]:
    archive = zipfile.ZipFile(io.BytesIO(payload))
    assert archive.testzip() is None
    assert archive.namelist() == [member]
    return list(csv.DictReader(io.StringIO(archive.read(member).decode("utf-8"), newline="")))


@pytest.mark.parametrize("kind", list(FileKind))
def test_downloads_are_valid_zips_of_one_csv(shared, kind):
    server = shared
    session = server.login_session()
    entry = entries(server, session, kind)[-1]
    response = requests.get(signed_url(server, session, kind, entry["fileName"]), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(response.content)
    assert abs(kb_to_bytes(entry["compressedSizeKB"]) - len(response.content)) <= 1
    member = entry["fileName"].replace(".zip", ".csv")
    rows = read_csv(response.content, member)
    assert rows
    assert list(rows[0]) == [key for key, _ in columns(kind)]
    assert all(len(row) == len(rows[0]) and None not in row.values() for row in rows)
    first = dt.date.fromisoformat(entry.get("fileStartDate", entry.get("fileDate")))
    last = dt.date.fromisoformat(entry.get("fileStopDate", entry.get("fileDate")))
    days = {dt.date.fromisoformat(row["timestamp"][:10]) for row in rows}
    assert first <= min(days) <= max(days) <= last
    client_ids = {c.client_id for c in server.context.dataset.clients(PID)}
    assert {row["clientId"] for row in rows} <= client_ids


def test_uncompressed_size_is_the_member_size(shared):
    server = shared
    session = server.login_session()
    entry = entries(server, session, FileKind.CUSTOM_EVENTS)[5]
    payload = requests.get(signed_url(server, session, FileKind.CUSTOM_EVENTS, entry["fileName"]), timeout=10)
    [info] = zipfile.ZipFile(io.BytesIO(payload.content)).infolist()
    assert info.compress_type == zipfile.ZIP_STORED
    assert info.flag_bits & 0x08, "streamable: sizes and CRC follow the data"
    assert round(info.file_size / 1024, 3) == entry["uncompressedSizeKB"]


def test_a_url_serves_once(shared):
    server = shared
    session = server.login_session()
    url = signed_url(
        server, session, FileKind.EXCEPTIONS, entries(server, session, FileKind.EXCEPTIONS)[2]["fileName"]
    )
    assert requests.get(url, timeout=10).status_code == 200
    again = requests.get(url, timeout=10)
    assert again.status_code == 403
    assert again.text == "Download URL already used"


def test_head_describes_without_spending(shared):
    server = shared
    session = server.login_session()
    name = entries(server, session, FileKind.CUSTOM_EVENTS)[1]["fileName"]
    url = signed_url(server, session, FileKind.CUSTOM_EVENTS, name)
    head = requests.head(url, timeout=10)
    assert head.status_code == 200
    assert head.content == b""
    full = requests.get(url, timeout=10)
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == full.headers["etag"]


def test_ranges(shared):
    server = shared
    session = server.login_session()
    name = entries(server, session, FileKind.CUSTOM_EVENTS)[4]["fileName"]
    full = requests.get(signed_url(server, session, FileKind.CUSTOM_EVENTS, name), timeout=10).content
    size = len(full)
    url = signed_url(server, session, FileKind.CUSTOM_EVENTS, name)
    middle = requests.get(url, headers={"Range": "bytes=10-99"}, timeout=10)
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes 10-99/{size}"
    assert middle.content == full[10:100]
    beyond = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=10)
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert requests.get(url, headers={"Range": "bytes=0-0"}, timeout=10).content == full[:1]
    rest = requests.get(url, headers={"Range": "bytes=100-"}, timeout=10)
    assert rest.status_code == 206
    assert full[:100] + rest.content == full
    assert requests.get(url, timeout=10).status_code == 403, "the last byte went out: the URL is spent"
    fresh = signed_url(server, session, FileKind.CUSTOM_EVENTS, name)
    suffix = requests.get(fresh, headers={"Range": "bytes=-22"}, timeout=10)
    assert (suffix.status_code, suffix.content) == (206, full[-22:])


def test_malformed_ranges_are_ignored(shared):
    server = shared
    session = server.login_session()
    name = entries(server, session, FileKind.EXCEPTIONS)[0]["fileName"]
    response = requests.get(
        signed_url(server, session, FileKind.EXCEPTIONS, name), headers={"Range": "bytes=9-3"}, timeout=10
    )
    assert response.status_code == 200
    assert "content-range" not in response.headers


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"), "Signature does not match"),
        (lambda url: url.split("&signature=")[0], "Missing or malformed signature parameters"),
        (lambda url: url.replace("?expires=", "?expires=9"), "Signature does not match"),
    ],
)
def test_tampered_urls_are_refused(shared, tamper, reason):
    server = shared
    session = server.login_session()
    name = entries(server, session, FileKind.RAW_EVENTS)[0]["fileName"]
    url = signed_url(server, session, FileKind.RAW_EVENTS, name)
    response = requests.get(tamper(url), timeout=10)
    assert response.status_code == 403
    assert response.text == reason
    assert requests.get(url, timeout=10).status_code == 200, "the genuine URL still works"


def test_expired_urls_are_refused(usageintel_emulator_factory):
    server = usageintel_emulator_factory(download_url_ttl_seconds=0)
    session = server.login_session()
    name = entries(server, session, FileKind.CUSTOM_EVENTS)[0]["fileName"]
    response = requests.get(signed_url(server, session, FileKind.CUSTOM_EVENTS, name), timeout=10)
    assert (response.status_code, response.text) == (403, "Download URL expired")


def test_etags_are_stable_per_file_version(usageintel_emulator):
    server = usageintel_emulator
    session = server.login_session()
    files = entries(server, session, FileKind.CUSTOM_EVENTS)
    open_name, other = files[0]["fileName"], files[1]["fileName"]

    def tag(name):
        return requests.head(signed_url(server, session, FileKind.CUSTOM_EVENTS, name), timeout=10).headers[
            "etag"
        ]

    assert tag(open_name) == tag(open_name)
    assert tag(open_name) != tag(other)
    growing = tag(open_name)
    server.control.advance_days(1)
    assert tag(open_name) != growing, "yesterday's open file was completed"
