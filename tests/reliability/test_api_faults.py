"""Error statuses, Retry-After, session expiry and "Cookie Missing" on every kind of API call."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceTransferError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.conftest import UI_CONN_ENV, set_ui_connection
from tests.reliability.helpers import (
    CLIENT_REQUEST,
    DAYS,
    assert_archived_identically,
    assert_nothing_partial,
    clients_op,
    daily_name,
    files_op,
    gunzip_rows,
    report_op,
    statuses,
)

#: the endpoint kinds a job calls, as fault path patterns, and the job that calls them.
ENDPOINTS = {
    "csrf": ("request-csrf$", "files"),
    "auth": ("auth/web$", "files"),
    "listing": ("listFiles", "files"),
    "download URL": ("getDownloadUrl", "files"),
    "download": ("/_download/", "files"),
    "report": ("dateRange", "report"),
    "client paging": ("clientPropertyList", "clients"),
}
RETRIED = (500, 502, 503, 504)


def run_job(job: str, s3, key_suffix: str = "") -> dict:
    if job == "files":
        return files_op(s3).execute({})
    op = report_op(s3, f"reports/date_range{key_suffix}.json") if job == "report" else None
    op = op or clients_op(s3, f"clients/all{key_suffix}.ndjson.gz")
    return op.execute({})


def assert_job_output(job: str, s3, result: dict) -> None:
    """Byte-identical to a clean run made afterwards (files: to a fresh download)."""
    if job == "files":
        assert sorted(t["file_name"] for t in result["transferred"]) == [daily_name(d) for d in DAYS]
        assert_archived_identically(s3, result)
        return
    clean = run_job(job, s3, "-clean")
    if job == "report":
        assert s3.read(result["objects"][0]["key"]) == s3.read(clean["objects"][0]["key"])
    else:
        assert result["rows"] == clean["rows"] == 300
        assert gunzip_rows(s3, result["key"]) == gunzip_rows(s3, clean["key"])
    assert_nothing_partial(s3)


@pytest.mark.reliability(
    "API faults",
    "HTTP 500, 502, 503, 504, then 429 with Retry-After: 1, on each endpoint kind",
    "retried (Retry-After honoured); success",
    tries=len(RETRIED) + 1,
)
@pytest.mark.parametrize("where", list(ENDPOINTS))
def test_server_errors_and_rate_limits_are_retried(ui_conn, usageintel_emulator, s3, hook_logs, where):
    path, job = ENDPOINTS[where]
    for status in RETRIED:  # queued faults apply oldest first: one call sees them all in turn
        usageintel_emulator.control.add_fault(path=path, kind="status", status=status, count=1)
    usageintel_emulator.control.add_fault(path=path, kind="status", status=429, retry_after=1, count=1)
    result = run_job(job, s3)
    seen = statuses(usageintel_emulator, path.rstrip("$"))
    assert [s for s in seen if s >= 400] == [*RETRIED, 429]
    assert usageintel_emulator.control.faults() == []
    assert "in 1.0 s" in hook_logs.text()  # the server's Retry-After, not the 0.01 s backoff
    assert_job_output(job, s3, result)


@pytest.mark.reliability(
    "API faults",
    "HTTP 503 that outlasts the retry budget, on each endpoint kind",
    "clear error naming the call; nothing partial; next try succeeds",
)
@pytest.mark.parametrize("where", list(ENDPOINTS))
def test_persistent_errors_fail_cleanly_and_the_retry_completes(
    usageintel_emulator, monkeypatch, s3, hook_logs, where
):
    set_ui_connection(monkeypatch, usageintel_emulator, max_retries=2)
    path, job = ENDPOINTS[where]
    per_call = 2 if where in ("download URL", "download") else 1  # two files, each gives up alone
    usageintel_emulator.control.add_fault(path=path, kind="status", status=503, count=3 * per_call)
    with pytest.raises((UsageIntelligenceAPIError, UsageIntelligenceTransferError)) as info:
        run_job(job, s3)
    text = str(info.value)
    if per_call == 2:
        assert text.startswith("2 of 2 file(s) failed (") and text.endswith(
            "); 0 archived. A retry transfers only what is missing."
        )
        symptom = "without progress: HTTP 503" if where == "download" else "failed (HTTP 503): Injected fault"
        lines = hook_logs.text().splitlines()
        for name in (daily_name(day) for day in DAYS):
            assert any(line.startswith(f"{name}: ") and symptom in line for line in lines), name
    else:
        assert "failed (HTTP 503): Injected fault" in text
    final = {"files": [], "report": ["reports/date_range.json"], "clients": ["clients/all.ndjson.gz"]}[job]
    assert_nothing_partial(s3, final)
    usageintel_emulator.control.reset()
    assert_job_output(job, s3, run_job(job, s3))


@pytest.mark.reliability(
    "API faults", "Session expired mid-run (listing, download URL, report)", "logged in again; success"
)
@pytest.mark.parametrize("where", ["listing", "download URL", "report"])
def test_session_expiry_mid_run(ui_conn, usageintel_emulator, s3, where):
    path, job = ENDPOINTS[where]
    usageintel_emulator.control.add_fault(path=path, kind="expire_session", count=1)
    result = run_job(job, s3)
    logins = statuses(usageintel_emulator, "/v3/auth/web")
    assert logins == [200, 200]  # the first login and the one after the expiry
    assert 401 in statuses(usageintel_emulator, path)
    assert_job_output(job, s3, result)


@pytest.mark.reliability(
    "API faults",
    "Session expired, then HTTP 503, in the middle of clientPropertyList paging",
    "page retried from the same client id; every row exactly once",
)
@pytest.mark.parametrize("kind", ["expire_session", "status"])
def test_fault_in_the_middle_of_client_paging(ui_hook, usageintel_emulator, kind):
    clean = list(ui_hook.iter_client_properties(CLIENT_REQUEST))
    usageintel_emulator.control.reset()
    rows = ui_hook.iter_client_properties(CLIENT_REQUEST)
    first = next(rows)  # page one is in; the fault hits page two
    usageintel_emulator.control.add_fault(path="clientPropertyList", kind=kind, status=503, count=1)
    got = [first, *rows]
    assert got == clean and len(clean) == 300
    assert len({row["clientId"] for row in got}) == 300
    assert statuses(usageintel_emulator, "clientPropertyList") == [200, 401 if kind != "status" else 503, 200]


@pytest.mark.reliability(
    "API faults", "'Cookie Missing' on login (once, twice)", "fresh CSRF cookie; success"
)
@pytest.mark.parametrize("count", [1, 2])
def test_cookie_missing_on_login(ui_conn, usageintel_emulator, s3, count):
    usageintel_emulator.control.add_fault(path="auth/web$", kind="cookie_missing", count=count)
    result = files_op(s3).execute({})
    assert statuses(usageintel_emulator, "/v3/auth/web") == [400] * count + [200]
    assert len(statuses(usageintel_emulator, "request-csrf")) == count + 1
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "API faults",
    "'Cookie Missing' on every login",
    "UsageIntelligenceAuthError naming the login; nothing written",
)
def test_cookie_missing_forever(ui_conn, usageintel_emulator, s3):
    usageintel_emulator.control.add_fault(path="auth/web$", kind="cookie_missing", count=10)
    with pytest.raises(UsageIntelligenceAPIError) as info:
        files_op(s3).execute({})
    assert str(info.value) == "POST /v3/auth/web failed (HTTP 400): Cookie Missing"
    assert s3.list_keys() == []
    usageintel_emulator.control.reset()
    assert_archived_identically(s3, files_op(s3).execute({}))


@pytest.mark.reliability("API faults", "A call after a failed login", "logs in afresh; success")
def test_hook_is_usable_after_a_failed_login(ui_conn, usageintel_emulator):
    """Guard for the tests above: a hook that failed to log in logs in on the next call."""
    hook = UsageIntelligenceHook()
    usageintel_emulator.control.add_fault(path="auth/web$", kind="cookie_missing", count=3)
    with pytest.raises(UsageIntelligenceAPIError):
        hook.list_files("custom_events")
    assert len(hook.list_files("custom_events")) > 0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.reliability(
    "API faults",
    "Unreachable host (nothing listens on the port)",
    "error naming the call, host and port and why, never the URL's query or credentials; nothing written",
)
def test_an_unreachable_host_is_named(monkeypatch, s3, capfd, hook_logs):
    port = closed_port()
    conn = {
        "conn_type": "usage_intelligence",
        "host": f"http://127.0.0.1:{port}/?token=query-secret",
        "login": "user@example.com",
        "password": "unreachable-password",
        "extra": {"product_id": "1234567890", "max_retries": 1, "retry_wait": 0.01},
    }
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    with pytest.raises(UsageIntelligenceAPIError) as info:
        files_op(s3).execute({})
    assert str(info.value) == (
        "GET /v3/request-csrf failed (no HTTP status): "
        f"connection failed (127.0.0.1:{port}, connection refused)"
    )
    out, err = capfd.readouterr()
    logged = out + err + json.dumps(hook_logs.events, default=str)
    assert f"connection failed (127.0.0.1:{port}, connection refused); retry 1/1" in logged
    assert "query-secret" not in logged + str(info.value)
    assert s3.list_keys() == [] and s3.multipart_uploads() == []
