"""Server lifecycle, Airflow connection wiring and the command line."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys

import pytest
import requests

from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer
from airflow_provider_usageintel.emulator.cli import config_from_args, main
from airflow_provider_usageintel.emulator.pytest_plugin import make_config


def test_clients_connect_as_soon_as_start_returns():
    server = EmulatorServer(EmulatorConfig(today=dt.date(2024, 3, 15))).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(f"{server.url}/_emulator/clock", timeout=10).json() == {"today": "2024-03-15"}
        assert server.running
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{server.url}/_emulator/clock", timeout=2)


def test_context_manager_and_independent_instances():
    with EmulatorServer(EmulatorConfig(seed=1)) as first, EmulatorServer(EmulatorConfig(seed=2)) as second:
        assert first.port != second.port
        first.control.advance_days(3)
        assert first.control.today() == second.control.today() + dt.timedelta(days=3)
    assert not first.running
    assert not second.running


def test_a_server_starts_once():
    with EmulatorServer() as server, pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_airflow_connection_forms_round_trip(usageintel_emulator_factory):
    from airflow.sdk.definitions.connection import Connection

    server = usageintel_emulator_factory(product_ids=["111", "222"], password="p@ss:w/rd?")
    from_uri = Connection.from_uri(server.connection_uri("222"), conn_id="x")
    from_json = Connection.from_json(server.airflow_connection_json(), conn_id="y")
    assert from_uri.conn_type == from_json.conn_type == "usage_intelligence"
    assert from_uri.host == from_json.host == server.url
    assert from_uri.login == from_json.login == "demo@example.com"
    assert from_uri.password == from_json.password == "p@ss:w/rd?"
    assert from_uri.extra_dejson == {"origin": "https://analytics.revenera.com", "product_id": "222"}
    assert from_json.extra_dejson["product_id"] == "111"
    [(name, value)] = server.airflow_env().items()
    assert name == "AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"
    assert json.loads(value)["host"] == server.url


def test_cli_arguments_make_a_config():
    config = config_from_args(
        ["--port", "0", "--product-id", "1", "--product-id", "2", "--today", "2024-02-29", "--days", "9"]
    )
    assert config.product_ids == ["1", "2"]
    assert config.today == dt.date(2024, 2, 29)
    assert config.days == 9
    assert config.user == "demo@example.com"
    assert config_from_args([]).product_ids == ["1234567890"]


def test_cli_refuses_a_bad_config(capsys):
    assert main(["--product-id", "not-a-number"]) == 2
    assert "product_ids" in capsys.readouterr().err


def _spawn(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "airflow_provider_usageintel.emulator.cli", "--port", "0", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_running(process: subprocess.Popen[str]) -> None:
    first = process.stdout.readline()
    prefix = "Usage Intelligence emulator listening on "
    assert first.startswith(prefix), first + process.stderr.read()
    url = first[len(prefix) :].strip()
    assert url.startswith("http://127.0.0.1:")
    banner = dict(process.stdout.readline().strip().rsplit(": ", 1) for _ in range(10))
    assert banner["user"] == "me@x.org"
    assert banner["product ids"] == "111, 222"
    assert requests.get(f"{url}/_emulator/clock", timeout=10).json() == {"today": "2024-03-15"}
    # The other APIs' keys, as printed, are the ones the server accepts.
    ft_key = banner["Fluid Topics API key (Authorization: Bearer <key>)"]
    events = requests.post(
        f"{url}/analytics/api/v1/events",
        json={"startDate": "2024-03-13", "endDate": "2024-03-14"},
        headers={"Authorization": f"Bearer {ft_key}", "Ft-Calling-App": "tests"},
        timeout=10,
    )
    assert events.status_code == 200
    fa_key = banner["FusionAuth API key (Authorization: <key>)"]
    totals = requests.get(f"{url}/api/report/totals", headers={"Authorization": fa_key}, timeout=10)
    assert totals.status_code == 200
    assert banner["FusionAuth report paths"] == "both, time zone UTC"


def test_cli_serves_until_sigterm():
    process = _spawn(
        "--today", "2024-03-15", "--user", "me@x.org", "--product-id", "111", "--product-id", "222"
    )
    try:
        _check_running(process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_serve_forever_stops_cleanly_on_sigint(monkeypatch):
    server = EmulatorServer(make_config()).start()
    real_signal = signal.signal
    sent = []

    def install_then_interrupt(signum, handler):
        previous = real_signal(signum, handler)
        if signum == signal.SIGTERM and not sent:
            sent.append(signum)
            assert requests.get(f"{server.url}/_emulator/clock", timeout=10).status_code == 200
            signal.raise_signal(signal.SIGINT)
        return previous

    monkeypatch.setattr(signal, "signal", install_then_interrupt)
    original = signal.getsignal(signal.SIGINT)
    server.serve_forever()
    assert sent == [signal.SIGTERM]
    assert not server.running
    assert signal.getsignal(signal.SIGINT) is original
