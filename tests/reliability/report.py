"""Render docs/reliability.md from the ``reliability`` marks of the collected tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent.parent / "docs" / "reliability.md"
WRITE_ENV = "USAGEINTEL_WRITE_RELIABILITY"
AREAS = (
    "API faults",
    "Download faults",
    "S3 faults",
    "Interruption and concurrency",
    "Bad input",
    "Hostile server data",
    "Fuzzing",
    "Secrets",
)

HEADER = """# Reliability

What the reliability suite (`tests/reliability`) does to the provider, and what happens.
Every fault runs over real sockets: the emulator's fault injection for the Usage Intelligence
API and its download URLs, moto's S3 server (behind a loopback proxy that fails chosen requests),
real Airflow `dag.test()` runs and real signals. A fault test passes only when the job either
succeeds with S3 objects byte-identical to the source, or fails with a clear error leaving nothing
partial (no object under the final key, no multipart upload in progress) and a retry completes it.

This page is generated from the suite (`make reliability-doc`) and a test fails when it no longer
matches the tests, so it cannot drift. *Tried* counts test cases (for fuzzing: generated inputs
per run). It is only written when every listed test passed: **bytes lost: 0**."""


@dataclass(frozen=True)
class Row:
    area: str
    case: str
    outcome: str
    tries: int


@dataclass
class State:
    items: list[pytest.Item] | None = None
    failed: bool = False
    ran: int = 0


STATE = pytest.StashKey[State]()


def marked(items: Iterable[pytest.Item]) -> Iterator[tuple[pytest.Item, pytest.Mark]]:
    for item in items:
        mark = item.get_closest_marker("reliability")
        if mark is not None:
            yield item, mark


def rows_of(items: Iterable[pytest.Item]) -> list[Row]:
    """One row per (area, case, outcome), in area order then first appearance."""
    rows: dict[tuple[str, str, str], int] = {}
    for _, mark in marked(items):
        area, case, outcome = mark.args
        if area not in AREAS:
            raise ValueError(f"reliability mark: unknown area {area!r} (allowed: {', '.join(AREAS)})")
        key = (area, case, outcome)
        rows[key] = rows.get(key, 0) + int(mark.kwargs.get("tries", 1))
    ordered = sorted(rows.items(), key=lambda kv: AREAS.index(kv[0][0]))
    return [Row(area, case, outcome, tries) for (area, case, outcome), tries in ordered]


def render(rows: list[Row]) -> str:
    parts = [HEADER]
    for area in AREAS:
        mine = [r for r in rows if r.area == area]
        if not mine:
            continue
        parts.append(
            f"\n## {area}\n\n| Fault or input | Tried | Outcome | Bytes lost |\n| --- | ---: | --- | ---: |"
        )
        parts.extend(f"| {r.case} | {r.tries} | {r.outcome} | 0 |" for r in mine)
    total = sum(r.tries for r in rows)
    parts.append(f"\n**Total: {len(rows)} faults and inputs, {total} tries, bytes lost: 0.**\n")
    return "\n".join(parts)


def suite_files() -> set[str]:
    return {p.name for p in HERE.glob("test_*.py")}


def collected_whole_suite(items: Iterable[pytest.Item]) -> bool:
    return suite_files() <= {Path(str(item.path)).name for item in items}
