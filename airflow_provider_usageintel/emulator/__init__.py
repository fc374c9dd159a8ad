"""Offline emulator of the Revenera Usage Intelligence Reporting API v3.

A real HTTP server (FastAPI on uvicorn) that speaks the API strictly, for the
demo, the tests, the benchmarks and anyone testing DAGs without the vendor::

    from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(port=0)) as server:
        print(server.url, server.airflow_connection_json())

The server class loads on first use, so importing this package (as the pytest
plugin does in every test run) does not pull in the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.emulator.config import EmulatorConfig

if TYPE_CHECKING:
    from airflow_provider_usageintel.emulator.server import EmulatorControl, EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorControl", "EmulatorServer"]


def __getattr__(name: str) -> Any:
    if name in ("EmulatorServer", "EmulatorControl"):
        from airflow_provider_usageintel.emulator import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
