"""Reliability suite: fault and bad-input tests, and the page that reports them.

Each test carries ``@pytest.mark.reliability(area, case, outcome, tries=1)``.
The table in ``docs/reliability.md`` is rendered from those marks (one row per
case, ``tries`` summed over parametrisations), so the page lists exactly what
the suite runs. ``USAGEINTEL_WRITE_RELIABILITY=1`` rewrites the page at the end
of a complete run in which every marked test passed (``make reliability-doc``);
``test_reliability_doc.py`` fails when the committed page has drifted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.report import (
    HERE,
    PAGE,
    STATE,
    WRITE_ENV,
    State,
    collected_whole_suite,
    marked,
    render,
    rows_of,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(area, case, outcome, tries=1): a row of docs/reliability.md"
    )
    config.stash[STATE] = State()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before -k/-m deselection: the page describes the whole suite, whatever subset runs.
    config.stash[STATE].items = [i for i in items if HERE in Path(str(i.path)).parents]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if item.get_closest_marker("reliability") is not None:
        state = item.config.stash[STATE]
        if report.failed or (report.when == "call" and not report.passed):
            state.failed = True
        if report.when == "call" and report.passed:
            state.ran += 1
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get(WRITE_ENV) != "1":
        return
    state = session.config.stash[STATE]
    items = state.items or []
    expected = sum(1 for _ in marked(items))
    if state.failed or not collected_whole_suite(items) or state.ran != expected:
        print(f"\n{PAGE.name} not written: run the whole reliability suite with every test passing")
        return
    PAGE.write_text(render(rows_of(items)))
    print(f"\n{PAGE} written ({expected} tests)")


@pytest.fixture
def reliability_items(request: pytest.FixtureRequest) -> list[pytest.Item]:
    """Every item collected under tests/reliability in this session (before deselection)."""
    return request.config.stash[STATE].items or []
