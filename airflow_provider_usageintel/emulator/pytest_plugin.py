"""pytest fixtures that run the emulator, for this project's tests and for users testing DAGs offline.

* ``usageintel_emulator``: a started :class:`EmulatorServer` with the default
  config and ``today`` fixed to :data:`DEFAULT_TEST_TODAY`, stopped after the test;
* ``usageintel_emulator_factory``: ``factory(**config_overrides)`` starts more
  (each with its own port and state); all are stopped at teardown.

The server's ``control`` attribute drives the simulated clock, faults and file
sizes; ``airflow_env()`` gives the ``AIRFLOW_CONN_...`` variable for a hook.
"""

from __future__ import annotations

import datetime as dt
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


@pytest.fixture
def usageintel_emulator_factory() -> Iterator[EmulatorFactory]:
    from airflow_provider_usageintel.emulator.server import EmulatorServer

    started: list[EmulatorServer] = []

    def factory(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(make_config(**overrides)).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def usageintel_emulator(usageintel_emulator_factory: EmulatorFactory) -> EmulatorServer:
    return usageintel_emulator_factory()
