"""No password, session cookie, CSRF token or signed URL in the logs, errors or XCom of whole DAG runs."""

from __future__ import annotations

import json

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.airflow_utils import run_dag, task_states, xcom
from tests.conftest import UI_CONN_ENV, set_ui_connection
from tests.reliability.helpers import files_op

FAULTS = [
    {"path": "listFiles", "kind": "expire_session"},
    {"path": "getDownloadUrl", "kind": "status", "status": 503},
    {"path": "/_download/", "kind": "reset", "after_bytes": 100},
    {"path": "/_download/", "kind": "status", "status": 403},
    {"path": "dateRange", "kind": "status", "status": 500},
    {"path": "clientPropertyList", "kind": "expire_session"},
    {"path": "auth/web$", "kind": "cookie_missing"},
]
FAILING = [
    {"path": "/_download/", "kind": "status", "status": 403, "count": 50},
    {"path": "dateRange", "kind": "status", "status": 400},
]


def secrets_of(emulator) -> set[str]:
    """The password, every session token and CSRF token issued, and every download URL's secret parts."""
    context = emulator.context
    values = {emulator.config.password}
    for token, session in context.sessions._sessions.items():
        values |= {token, session.csrf}
    for token, grant in context.signer._grants.items():
        values |= {token, context.signer._signature(token, grant.expires)}
    return {v for v in values if v}


def run_and_collect(s3, capfd, hook_logs) -> tuple[object, str]:
    dagrun = run_dag("test_reliability_secrets", run_conf={"bucket": s3.bucket})
    out, err = capfd.readouterr()
    return dagrun, "\n".join([out, err, json.dumps(hook_logs.events, default=str)])


def xcoms(dagrun) -> str:
    return json.dumps([xcom(dagrun, task) for task in ("files", "report", "clients")], default=str)


@pytest.mark.reliability(
    "Secrets",
    "Whole dag.test() runs with expiry, Cookie Missing, 5xx, resets, refused URLs; then failing tasks",
    "no password, cookie, CSRF token or signed URL in task logs, errors or XCom",
    tries=2,
)
def test_no_secret_in_logs_errors_or_xcom(airflow_db, ui_conn, usageintel_emulator, s3, capfd, hook_logs):
    for fault in FAULTS:
        usageintel_emulator.control.add_fault(**fault)
    dagrun, text = run_and_collect(s3, capfd, hook_logs)
    assert str(dagrun.state) == "success", task_states(dagrun)
    assert "Logged in to" in text and "interrupted at " in text  # the task logs were captured
    assert usageintel_emulator.control.faults() == []
    secrets = secrets_of(usageintel_emulator)
    assert len(secrets) >= 8  # password, two sessions' cookies, several signed URLs
    found = [s for s in secrets if s in text or s in xcoms(dagrun)]
    assert found == []

    usageintel_emulator.control.reset()
    for fault in FAILING:
        usageintel_emulator.control.add_fault(**fault)
    failed_run, text = run_and_collect(s3, capfd, hook_logs)
    assert task_states(failed_run)["report"] == "failed"
    assert "Injected fault" in text  # the errors themselves are logged ...
    secrets = secrets_of(usageintel_emulator)
    assert [s for s in secrets if s in text] == []  # ... without a secret


@pytest.mark.reliability(
    "Secrets",
    "Secrets masker registration and TLS verification default",
    "password and session cookies registered with Airflow's masker; verify=True unless turned off",
)
def test_secrets_are_registered_and_tls_is_verified(ui_conn, usageintel_emulator):
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    hook = UsageIntelligenceHook()
    hook.login()
    masker = _secrets_masker()
    cookies = [c.value for c in hook.get_conn().cookies if c.name in ("RUI-Session-Token", "RUI-Csrf")]
    assert len(cookies) == 2
    for value in [usageintel_emulator.config.password, *cookies]:
        assert masker.redact(f"x {value} y") == "x *** y"
    assert hook.get_conn().verify is True and hook._downloads().verify is True
    hook.close()


@pytest.mark.reliability(
    "Secrets",
    "User name and password inside the connection's host URL (http://user:secret@host:port), also "
    "a password holding '/', '?' or '#'",
    "refused before any request, naming host and port only; the password in no message or log",
)
@pytest.mark.parametrize("userinfo", ["demo:secret-in-url@", "demo:secret/in?url#@"])
def test_credentials_in_the_host_url_are_refused(
    usageintel_emulator, monkeypatch, s3, capfd, hook_logs, userinfo
):
    conn = set_ui_connection(monkeypatch, usageintel_emulator)
    conn["host"] = usageintel_emulator.url.replace("http://", f"http://{userinfo}")
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    message = (
        f"host: '{usageintel_emulator.url}' with a user name or password in the URL is not allowed "
        "(allowed: https://host[:port][/path]; credentials go in the connection's login and password)"
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        files_op(s3).execute({})
    assert str(info.value) == message
    assert UsageIntelligenceHook().test_connection() == (False, message)  # the UI's Test button
    assert usageintel_emulator.control.requests() == []
    assert s3.list_keys(include_index=True) == [] and s3.multipart_uploads() == []
    out, err = capfd.readouterr()
    secret = userinfo[len("demo:") : -1]
    assert secret not in out + err + json.dumps(hook_logs.events, default=str) + message
