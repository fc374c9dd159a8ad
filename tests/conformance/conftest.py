"""Fixtures of the conformance suite: an emulator holding what the seeds' samples refer to, and stubs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.conformance.clients import CHURN_PRODUCT, PRODUCT, SEED_PASSWORD, SEED_USER, UI_TODAY
from tests.conformance.stub import Guard, Route, StubServer


@pytest.fixture
def seed_emulator(usageintel_emulator_factory: Callable[..., Any]) -> Any:
    """The emulator as the samples need it: the login sample's credentials, the samples' products,
    and a simulated today after every sample date (the clock only moves forward, so it starts there).
    """
    return usageintel_emulator_factory(
        user=SEED_USER, password=SEED_PASSWORD, product_ids=[PRODUCT, CHURN_PRODUCT], today=UI_TODAY
    )


@pytest.fixture
def stub_server() -> Iterator[Callable[..., StubServer]]:
    """``stub_server(routes, guard)`` starts a stub; all are stopped after the test."""
    started: list[StubServer] = []

    def start(routes: Mapping[tuple[str, str], Route], guard: Guard | None = None) -> StubServer:
        server = StubServer(routes, guard).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
