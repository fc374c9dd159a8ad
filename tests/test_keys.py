"""Where files land in S3, and the listing prefix known before the API lists them."""

from __future__ import annotations

import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.utils.keys import common_prefix, known_prefix, object_key, selection_prefix

PID = "1234567890"


def daily(day: str, kind: str = "custom_events") -> FileRecord:
    return FileRecord(kind, "daily", f"{PID}_cust_{day}.zip", day, day, 1.0, 3.0)


def monthly(first: str, last: str) -> FileRecord:
    return FileRecord("custom_events", "monthly", f"{PID}_cust_{first}_to_{last}.zip", first, last, 1.0, 3.0)


def open_file(day: str) -> FileRecord:
    return FileRecord("custom_events", "open", f"{PID}_cust_{day}.zip", day, day, None, 3.0, False)


def test_known_prefix_stops_at_the_first_unknown_placeholder():
    template = "{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{file_name}"
    assert known_prefix(template, {"prefix": "p", "product_id": PID}) == f"p/{PID}/"
    assert known_prefix(template, {"prefix": "p", "file_kind": "x"}) == "p/"
    assert known_prefix("{prefix}/{yyyy!r}/{file_name}", {"prefix": "p", "yyyy": "2024"}) == "p/"


def test_common_prefix_is_character_wise():
    assert common_prefix(["a/b/2024/03", "a/b/2024/04"]) == "a/b/2024/0"
    assert common_prefix(["only"]) == "only"


@pytest.mark.parametrize(
    ("frequency", "since", "until", "template", "expected"),
    [
        (["daily", "monthly"], None, None, None, f"lake/{PID}/custom_events/"),
        ("daily", None, None, None, f"lake/{PID}/custom_events/daily/"),
        ("daily", None, "2024-03-14", None, f"lake/{PID}/custom_events/daily/"),
        ("daily", "2023-12-30", "2024-01-02", None, f"lake/{PID}/custom_events/daily/"),
        ("daily", "2024-01-30", "2024-02-02", None, f"lake/{PID}/custom_events/daily/2024/"),
        ("daily", "2024-03-01", "2024-03-14", None, f"lake/{PID}/custom_events/daily/2024/03/"),
        ("monthly", "2024-02-01", "2024-02-01", None, f"lake/{PID}/custom_events/monthly/2024/02/"),
        ("daily", "2024-03-14", "2024-03-14", "{prefix}/{yyyy}-{mm}-{dd}/{file_name}", "lake/2024-03-14/"),
    ],
)
def test_selection_prefix(frequency, since, until, template, expected):
    selection = FileSelection.parse("custom_events", frequency, since, until)
    assert selection_prefix(selection, PID, "/lake/", template) == expected


def test_open_files_widen_the_prefix_to_what_both_layouts_share():
    selection = FileSelection.parse("custom_events", "daily", include_open=True)
    assert selection_prefix(selection, PID, "lake", None) == "lake/"
    only_open = FileSelection.parse("custom_events", "open")
    assert selection_prefix(only_open, PID, "lake", None) == f"lake/open/{PID}/custom_events/"


RECORDS = [
    daily("2024-01-31"),
    daily("2024-02-01"),
    daily("2024-03-14"),
    monthly("2024-01-15", "2024-01-31"),
    monthly("2024-02-01", "2024-02-29"),
    open_file("2024-03-15"),
]
WINDOWS = [(None, None), (None, "2024-02-10"), ("2024-02-01", "2024-02-29"), ("2024-01-31", "2024-02-01")]
WINDOWS += [("2024-03-14", "2024-03-14"), ("2024-01-01", "2024-03-31")]
TEMPLATES = [
    None,
    "{prefix}/{file_kind}/{yyyy}/{mm}/{dd}/{file_name}",
    "{prefix}/x/{frequency}-{yyyy}/{file_name}",
]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("frequency", [["daily"], ["monthly"], ["daily", "monthly"], ["daily", "open"]])
def test_every_selected_file_lands_under_the_selection_prefix(window, template, frequency):
    selection = FileSelection.parse("custom_events", frequency, *window)
    prefix = selection_prefix(selection, PID, "lake", template)
    for record in selection.apply(RECORDS):
        key = object_key(record, PID, "lake", template if record.is_final else None)
        assert key.startswith(prefix), (key, prefix)
