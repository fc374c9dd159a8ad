"""The pytest plugin's fixtures and the control helper."""

from __future__ import annotations

import datetime as dt

import requests

from airflow_provider_usageintel.emulator.pytest_plugin import DEFAULT_TEST_TODAY

pytest_plugins = ("pytester",)


def test_default_fixture(usageintel_emulator):
    assert usageintel_emulator.running
    assert usageintel_emulator.control.today() == DEFAULT_TEST_TODAY == dt.date(2024, 3, 15)
    assert usageintel_emulator.config.product_ids == ["1234567890"]
    assert usageintel_emulator.config.user == "demo@example.com"


def test_factory_applies_overrides(usageintel_emulator_factory):
    first = usageintel_emulator_factory()
    second = usageintel_emulator_factory(today=dt.date(2023, 1, 31), product_ids=["5"])
    assert first.url != second.url
    assert second.control.today() == dt.date(2023, 1, 31)
    assert first.control.today() == DEFAULT_TEST_TODAY


def test_control_helpers(usageintel_emulator):
    control = usageintel_emulator.control
    assert control.advance_days(2) == DEFAULT_TEST_TODAY + dt.timedelta(days=2)
    fault = control.add_fault(path="csrf", kind="status", status=418)
    assert fault["id"] >= 1
    assert control.faults() == [fault]
    assert requests.get(f"{usageintel_emulator.url}/v3/request-csrf", timeout=10).status_code == 418
    assert control.requests() == [{"method": "GET", "path": "/v3/request-csrf", "status": 418}]
    control.reset()
    assert control.requests() == []


def test_factory_stops_every_server_at_teardown(pytester):
    pytester.makepyfile(
        """
        import pathlib

        def test_start(usageintel_emulator, usageintel_emulator_factory):
            other = usageintel_emulator_factory(seed=5)
            pathlib.Path("urls.txt").write_text(usageintel_emulator.url + "\\n" + other.url)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    for url in (pytester.path / "urls.txt").read_text().split():
        try:
            requests.get(f"{url}/_emulator/clock", timeout=2)
        except requests.exceptions.ConnectionError:
            continue
        raise AssertionError(f"{url} still answers after teardown")
