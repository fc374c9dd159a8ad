"""pytest fixtures that run the emulator, for this project's tests and for users testing DAGs offline.

* ``usageintel_emulator``: a started :class:`EmulatorServer` with the default
  config and ``today`` fixed to :data:`DEFAULT_TEST_TODAY`, stopped after the test;
* ``usageintel_emulator_factory``: ``factory(**config_overrides)`` starts more
  (each with its own port and state); all are stopped at teardown, in the background
  while the next test runs (the session waits for them at its end).

The server's ``control`` attribute drives the simulated clock, faults and file
sizes; ``airflow_env()`` gives the ``AIRFLOW_CONN_...`` variable for a hook.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_usageintel.emulator.config import EmulatorConfig

if TYPE_CHECKING:
    from airflow_provider_usageintel.emulator.server import EmulatorServer

#: a fixed date keeps file names and listings identical from one run to the next.
DEFAULT_TEST_TODAY = dt.date(2024, 3, 15)

EmulatorFactory = Callable[..., "EmulatorServer"]


def make_config(**overrides: Any) -> EmulatorConfig:
    """The fixtures' config: library defaults, ``today`` pinned, then ``overrides``."""
    settings: dict[str, Any] = {"today": DEFAULT_TEST_TODAY, **overrides}
    return EmulatorConfig(**settings)


@pytest.fixture(scope="session")
def usageintel_emulator_stops() -> Iterator[list[threading.Thread]]:
    """Emulators still stopping after their test; the session waits for every one at its end."""
    stopping: list[threading.Thread] = []
    yield stopping
    for thread in stopping:
        thread.join()


@pytest.fixture
def usageintel_emulator_factory(
    usageintel_emulator_stops: list[threading.Thread],
) -> Iterator[EmulatorFactory]:
    """Servers stopped without holding up the next test.

    Stopping a server waits out uvicorn's shutdown ticks, about 0.2 s; with a server in
    most tests that is a sixth of a suite's time. Each server is stopped in a thread of
    its own while the next test runs (it has its own port and state).
    """
    from airflow_provider_usageintel.emulator.server import EmulatorServer

    started: list[EmulatorServer] = []

    def factory(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(make_config(**overrides)).start()
        started.append(server)
        return server

    yield factory
    stops = usageintel_emulator_stops
    stops[:] = [thread for thread in stops if thread.is_alive()]
    for server in started:
        thread = threading.Thread(target=server.stop, name=f"stop-{server.url}", daemon=True)
        thread.start()
        stops.append(thread)


@pytest.fixture
def usageintel_emulator(usageintel_emulator_factory: EmulatorFactory) -> EmulatorServer:
    return usageintel_emulator_factory()
