"""UsageIntelligenceHook against the emulator, over real sockets."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import tracemalloc
import zipfile

import pytest
import requests

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceAPIError,
    UsageIntelligenceAuthError,
    UsageIntelligenceTransferError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.conftest import set_ui_connection


def calls(emulator, path_part: str) -> list[dict]:
    return [r for r in emulator.control.requests() if path_part in r["path"]]


def newest_daily(hook: UsageIntelligenceHook, kind: str = "custom_events") -> FileRecord:
    return hook.list_files(kind, frequency="daily")[-1]


# -- authentication ------------------------------------------------------------------------


def test_login_is_lazy_and_follows_the_seed_flow(ui_hook, usageintel_emulator):
    assert usageintel_emulator.control.requests() == []  # creating the hook touched nothing
    ui_hook.get_product_properties()
    log = [(r["method"], r["path"], r["status"]) for r in usageintel_emulator.control.requests()]
    assert log == [
        ("GET", "/v3/request-csrf", 204),
        ("POST", "/v3/auth/web", 200),
        ("GET", "/v3/meta/productProperties/1234567890", 200),
    ]
    headers = ui_hook.get_conn().headers
    assert headers["Origin"] == "https://analytics.revenera.com"
    assert headers["RUI-Client"] == "airflow-provider-usageintel"
    assert headers["RUI-Client-Version"] == __import__("airflow_provider_usageintel").__version__
    assert headers["Content-Type"] == "application/json"
    assert {c.name for c in ui_hook.get_conn().cookies} == {"RUI-Csrf", "RUI-Session-Token"}


def test_wrong_origin_is_rejected_with_the_server_reason(usageintel_emulator, monkeypatch):
    set_ui_connection(monkeypatch, usageintel_emulator, origin="https://evil.example.com")
    with pytest.raises(UsageIntelligenceAuthError) as info:
        UsageIntelligenceHook().get_product_properties()
    assert info.value.status == 403
    assert "Origin" in info.value.reason
    assert info.value.endpoint == "GET /v3/request-csrf" or "/v3/auth/web" in info.value.endpoint


def test_wrong_password_raises_auth_error_without_the_password(usageintel_emulator, monkeypatch):
    conn = set_ui_connection(monkeypatch, usageintel_emulator)
    conn["password"] = "wrong-password-123"
    monkeypatch.setenv("AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT", json.dumps(conn))
    with pytest.raises(UsageIntelligenceAuthError) as info:
        UsageIntelligenceHook().list_files("custom_events")
    assert info.value.status == 401
    assert info.value.endpoint == "POST /v3/auth/web"
    assert "wrong-password-123" not in str(info.value)


def test_expired_session_logs_in_again_and_replays_once(ui_hook, usageintel_emulator):
    ui_hook.get_product_properties()
    usageintel_emulator.control.add_fault(path="listFiles", kind="expire_session", count=1)
    records = ui_hook.list_files("custom_events")
    assert records
    assert len(calls(usageintel_emulator, "/v3/auth/web")) == 2
    statuses = [r["status"] for r in calls(usageintel_emulator, "listFiles")]
    assert statuses == [401, 200]


def test_second_consecutive_401_is_an_auth_error(ui_hook, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="listFiles", kind="expire_session", count=2)
    with pytest.raises(UsageIntelligenceAuthError) as info:
        ui_hook.list_files("exceptions")
    assert info.value.status == 401
    assert "listFiles" in info.value.endpoint


def test_cookie_missing_on_login_is_retried_with_a_fresh_csrf_cookie(ui_hook, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="^/v3/auth/web$", kind="cookie_missing", count=1)
    ui_hook.get_product_properties()
    assert [r["status"] for r in calls(usageintel_emulator, "/v3/auth/web")] == [400, 200]
    assert len(calls(usageintel_emulator, "/v3/request-csrf")) == 2


def test_persistent_cookie_missing_gives_up_with_auth_error(ui_hook, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="^/v3/auth/web$", kind="cookie_missing", count=10)
    with pytest.raises(UsageIntelligenceAuthError, match="Cookie Missing"):
        ui_hook.get_product_properties()
    assert len(calls(usageintel_emulator, "/v3/auth/web")) == 3


def test_logout_on_context_exit_invalidates_the_session(ui_conn, usageintel_emulator):
    with UsageIntelligenceHook() as hook:
        hook.get_product_properties()
        session = hook.get_conn()
        cookies = requests.utils.dict_from_cookiejar(session.cookies)
    assert calls(usageintel_emulator, "/v3/auth/logout")[0]["status"] == 204
    replay = requests.get(
        f"{usageintel_emulator.url}/v3/meta/productProperties",
        cookies=cookies,
        headers={"Origin": "https://analytics.revenera.com"},
        timeout=10,
    )
    assert replay.status_code == 401


# -- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(ui_hook, usageintel_emulator, status):
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=status, count=2)
    assert ui_hook.list_files("raw_events")
    assert [r["status"] for r in calls(usageintel_emulator, "listFiles")] == [status, status, 200]


def test_retry_after_is_honoured(ui_hook, usageintel_emulator, hook_logs):
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=429, retry_after=1, count=1)
    assert ui_hook.list_files("custom_events")
    err = hook_logs.text()
    assert "HTTP 429" in err and "retry 1/" in err
    assert "in 1.0 s" in err  # the server's Retry-After, not the 0.01 s backoff


@pytest.mark.parametrize(("kind", "symptom"), [("reset", "connection broken"), ("slow", "read timeout")])
def test_network_faults_are_retried(usageintel_emulator, monkeypatch, hook_logs, kind, symptom):
    set_ui_connection(monkeypatch, usageintel_emulator, timeout=0.5)
    hook = UsageIntelligenceHook()
    usageintel_emulator.control.add_fault(path="listFiles", kind=kind, delay_s=2, count=1)
    assert hook.list_files("exceptions")
    assert f"listFiles/1234567890 failed (no HTTP status): {symptom}" in hook_logs.text()
    assert "retry 1/" in hook_logs.text()


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_are_not_retried(ui_hook, usageintel_emulator, status):
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=status, count=5)
    with pytest.raises(UsageIntelligenceAPIError) as info:
        ui_hook.list_files("custom_events")
    assert info.value.status == status
    assert info.value.endpoint.startswith("GET /v3/customEventTracking/listFiles/")
    assert info.value.reason == "Injected fault"
    assert str(status) in str(info.value)
    assert len(calls(usageintel_emulator, "listFiles")) == 1


def test_retries_are_bounded(usageintel_emulator, monkeypatch):
    set_ui_connection(monkeypatch, usageintel_emulator, max_retries=2)
    usageintel_emulator.control.add_fault(path="listFiles", kind="status", status=503, count=10)
    with pytest.raises(UsageIntelligenceAPIError) as info:
        UsageIntelligenceHook().list_files("custom_events")
    assert info.value.status == 503
    assert len(calls(usageintel_emulator, "listFiles")) == 3


def test_a_write_that_may_have_arrived_is_never_resent(ui_hook, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="license-key-registry/update", kind="reset", count=5)
    with pytest.raises(UsageIntelligenceAPIError, match="not re-sent"):
        ui_hook.run_report("license_keys_insert", {"licenseType": "purchased"})
    assert len(calls(usageintel_emulator, "license-key-registry/update")) == 1


def test_a_write_refused_with_503_is_resent(ui_hook, usageintel_emulator):
    usageintel_emulator.control.add_fault(
        path="license-key-registry/update", kind="status", status=503, count=1
    )
    with contextlib.suppress(UsageIntelligenceAPIError):  # what the server says next is not the point
        ui_hook.run_report("license_keys_insert", {"licenseType": "purchased"})
    statuses = [r["status"] for r in calls(usageintel_emulator, "license-key-registry/update")]
    assert len(statuses) == 2 and statuses[0] == 503 and statuses[1] != 503


# -- validation before the network ---------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda h: h.list_files("logs"),
            "file_kind: unknown value 'logs' (allowed: custom_events, exceptions, raw_events)",
        ),
        (
            lambda h: h.list_files("exceptions", frequency="yearly"),
            "frequency: unknown value 'yearly' (allowed: daily, monthly, open)",
        ),
        (
            lambda h: h.list_files("exceptions", product_id="12ab"),
            "product_id: '12ab' is not numeric (allowed: digits only)",
        ),
        (
            lambda h: h.get_download_url("raw_events", "../etc/passwd"),
            "file_name: '../etc/passwd' is not a plain file name",
        ),
        (
            lambda h: h.run_report("nope"),
            "report: unknown name 'nope' (allowed: product_properties, property_values",
        ),
    ],
)
def test_bad_input_fails_before_any_request(ui_hook, usageintel_emulator, call, message):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        call(ui_hook)
    assert str(info.value).startswith(message)
    assert usageintel_emulator.control.requests() == []


def test_plain_http_to_a_remote_host_is_refused(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT",
        json.dumps(
            {
                "conn_type": "usage_intelligence",
                "host": "http://analytics.example.com",
                "login": "u",
                "password": "p",
            }
        ),
    )
    expected = r"host: plain http to analytics\.example\.com"
    with pytest.raises(UsageIntelligenceValidationError, match=expected):
        UsageIntelligenceHook().list_files("custom_events", product_id=1)


def test_bare_host_gets_https(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT",
        json.dumps(
            {
                "conn_type": "usage_intelligence",
                "host": "analytics-api.example.com",
                "login": "u",
                "password": "p",
            }
        ),
    )
    assert UsageIntelligenceHook().settings.base_url == "https://analytics-api.example.com"


# -- files ---------------------------------------------------------------------------------


def test_file_listing_for_each_kind(ui_hook, usageintel_emulator):
    days = usageintel_emulator.config.days
    custom = ui_hook.list_files("custom_events")
    daily = [r for r in custom if r.frequency == "daily"]
    assert len(daily) == days
    assert all(r.is_final and "_cust_" in r.file_name for r in daily)
    (open_file,) = [r for r in custom if r.frequency == "open"]
    assert not open_file.is_final and open_file.start_date == str(usageintel_emulator.control.today())
    monthly = ui_hook.list_files("exceptions", frequency="monthly")
    assert monthly and all("_exc_" in r.file_name and "_to_" in r.file_name for r in monthly)
    assert all(r.start_date <= r.stop_date for r in monthly)
    raw = ui_hook.list_files("raw_events")
    assert len(raw) == min(days, 90) and {r.frequency for r in raw} == {"daily"}
    json.dumps([r.to_dict() for r in custom])  # XCom-serialisable
    assert FileRecord.from_dict(custom[0].to_dict()) == custom[0]


def test_download_streams_a_valid_zip_with_checksum(ui_hook, usageintel_emulator, tmp_path):
    record = newest_daily(ui_hook)
    target = tmp_path / record.file_name
    with target.open("wb") as out:
        result = ui_hook.download_file("custom_events", record, out)
    data = target.read_bytes()
    assert result.size == len(data) and record.size_matches(len(data))
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        (member,) = archive.namelist()
        header = archive.read(member).splitlines()[0].decode()
    assert "clientId" in header and "timestamp" in header


def test_download_resumes_after_a_connection_reset(ui_hook, usageintel_emulator):
    record = newest_daily(ui_hook, "exceptions")
    usageintel_emulator.control.set_file_size(record.file_name, 3 * 1024 * 1024)
    record = next(r for r in ui_hook.list_files("exceptions") if r.file_name == record.file_name)
    clean = io.BytesIO()
    ui_hook.download_file("exceptions", record, clean)
    usageintel_emulator.control.add_fault(path="/_download/", kind="reset", after_bytes=1024 * 1024, count=1)
    resumed = io.BytesIO()
    result = ui_hook.download_file("exceptions", record, resumed)
    assert resumed.getvalue() == clean.getvalue()
    assert result.sha256 == hashlib.sha256(clean.getvalue()).hexdigest()
    assert 206 in [r["status"] for r in calls(usageintel_emulator, "/_download/")]


def test_download_gets_a_fresh_url_when_the_old_one_is_refused(ui_hook, usageintel_emulator):
    record = newest_daily(ui_hook, "raw_events")
    usageintel_emulator.control.add_fault(path="/_download/", kind="status", status=403, count=1)
    result = ui_hook.download_file("raw_events", record, io.BytesIO())
    assert record.size_matches(result.size)
    assert len(calls(usageintel_emulator, "getDownloadUrl")) == 2


def test_truncated_download_is_detected_against_the_listing(usageintel_emulator, monkeypatch):
    set_ui_connection(monkeypatch, usageintel_emulator, max_retries=1)
    hook = UsageIntelligenceHook()
    record = newest_daily(hook)
    usageintel_emulator.control.add_fault(path="/_download/", kind="truncate", after_bytes=100, count=5)
    with pytest.raises(UsageIntelligenceTransferError, match="the listing says"):
        hook.download_file("custom_events", record, io.BytesIO())


@pytest.mark.slow
def test_large_download_uses_constant_memory(ui_hook, usageintel_emulator):
    size = 80 * 1024 * 1024
    record = newest_daily(ui_hook)
    usageintel_emulator.control.set_file_size(record.file_name, size)
    record = next(r for r in ui_hook.list_files("custom_events") if r.file_name == record.file_name)

    class Sink(io.RawIOBase):
        written = 0

        def writable(self):
            return True

        def write(self, b):
            self.written += len(b)
            return len(b)

    sink = Sink()
    tracemalloc.start()
    try:
        result = ui_hook.download_file("custom_events", record, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == sink.written == size
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes for a {size}-byte file"


# -- secrets and test_connection -----------------------------------------------------------


def test_no_secret_reaches_logs_or_errors(usageintel_emulator, monkeypatch, caplog, hook_logs):
    from airflow.sdk._shared.secrets_masker import redact

    conn = set_ui_connection(monkeypatch, usageintel_emulator, max_retries=1)
    hook = UsageIntelligenceHook()
    usageintel_emulator.control.add_fault(path="listFiles", kind="expire_session", count=1)
    usageintel_emulator.control.add_fault(path="getDownloadUrl", kind="status", status=503, count=1)
    usageintel_emulator.control.add_fault(path="/_download/", kind="reset", after_bytes=10, count=1)
    with caplog.at_level(logging.DEBUG):
        record = newest_daily(hook)
        url = hook.get_download_url("custom_events", record.file_name)
        hook.download_file("custom_events", record, io.BytesIO())
        cookies = [c.value for c in hook.get_conn().cookies]
        usageintel_emulator.control.add_fault(path="/_download/", kind="status", status=403, count=10)
        with pytest.raises(UsageIntelligenceTransferError) as info:
            hook.download_file("custom_events", record, io.BytesIO())
    own_output = hook_logs.text()  # the hook's own log lines, unmasked
    assert "retry 1/" in own_output and "resuming" in own_output  # the failure paths were logged
    # Third-party DEBUG lines (urllib3 prints request targets) pass Airflow's masker in task logs.
    library_lines = [str(redact(r.getMessage())) for r in caplog.records]
    secrets = [conn["password"], url, url.split("?", 1)[1], *cookies]
    assert cookies and all(len(s) > 6 for s in secrets)
    for secret in secrets:
        assert secret not in own_output
        assert secret not in str(info.value)
        assert all(secret not in line for line in library_lines), (
            "a secret was not registered with the masker"
        )


def test_test_connection_reports_success_and_failure(ui_conn, usageintel_emulator, monkeypatch):
    ok, message = UsageIntelligenceHook().test_connection()
    assert ok and "product properties" in message
    assert calls(usageintel_emulator, "/v3/auth/logout")
    set_ui_connection(monkeypatch, usageintel_emulator, origin="https://wrong.example.com")
    ok, message = UsageIntelligenceHook().test_connection()
    assert not ok and "403" in message


def test_signed_urls_stay_out_of_library_logs_beyond_the_masker_bound(ui_hook, usageintel_emulator, caplog):
    """Registrations with the masker are bounded; the query-string filter keeps protecting."""
    from airflow_provider_usageintel.utils import secrets

    record = newest_daily(ui_hook, "raw_events")
    monkey_registered = secrets._guard.registered
    secrets._guard.registered = secrets.MASKED_URLS_PER_PROCESS  # as after a long backfill
    try:
        with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
            url = ui_hook.get_download_url("raw_events", record.file_name)
            ui_hook.download_file("raw_events", record, io.BytesIO())
    finally:
        secrets._guard.registered = monkey_registered
    query = url.split("?", 1)[1]
    lines = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any("/_download/" in line and "?***" in line for line in lines)
    assert all(query not in line for line in lines)
