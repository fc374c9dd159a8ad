"""Shared fixtures: an isolated AIRFLOW_HOME, and connections pointing at loopback servers."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

# Airflow reads AIRFLOW_HOME at import time: isolate it before anything imports airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="usageintel-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

UI_CONN_ENV = "AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"
#: fast retries keep fault tests quick without changing what is retried.
FAST_RETRIES = {"retry_wait": 0.01, "max_retry_wait": 2, "timeout": 10}


def set_ui_connection(monkeypatch: pytest.MonkeyPatch, emulator: Any, **extra: Any) -> dict[str, Any]:
    conn = json.loads(emulator.airflow_connection_json())
    conn["extra"] = {**conn.get("extra", {}), **FAST_RETRIES, **extra}
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    return conn


@pytest.fixture
def ui_conn(usageintel_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The default Usage Intelligence connection, aimed at a fresh emulator."""
    return set_ui_connection(monkeypatch, usageintel_emulator)


@pytest.fixture
def ui_hook(ui_conn: dict[str, Any]) -> Iterator[Any]:
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

    hook = UsageIntelligenceHook()
    yield hook
    hook.close()


class CapturedLogs:
    """Structured log events of the provider's own loggers (Airflow logs through structlog)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events  # filled live by structlog

    def text(self) -> str:
        return "\n".join(str(event.get("event", "")) for event in self.events)


@pytest.fixture
def hook_logs() -> Iterator[CapturedLogs]:
    import structlog

    with structlog.testing.capture_logs() as events:
        yield CapturedLogs(events)
