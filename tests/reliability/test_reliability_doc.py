"""docs/reliability.md must list exactly the faults and inputs this suite tries."""

from __future__ import annotations

import pytest

from tests.reliability.report import PAGE, collected_whole_suite, render, rows_of


def test_the_committed_page_matches_the_suite(reliability_items):
    if not collected_whole_suite(reliability_items):
        pytest.skip("only part of tests/reliability was collected")
    expected = render(rows_of(reliability_items))
    assert PAGE.read_text() == expected, (
        "docs/reliability.md is stale: run `make reliability-doc` and commit the page"
    )


def test_every_reliability_test_is_marked(reliability_items):
    unmarked = [
        item.nodeid
        for item in reliability_items
        if item.get_closest_marker("reliability") is None and "test_reliability_doc" not in item.nodeid
    ]
    assert unmarked == []
