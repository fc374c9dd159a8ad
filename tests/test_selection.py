"""File selection: validated up front, matched by kind, frequency, dates and names."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError


def rec(name, frequency="daily", start="2024-03-01", stop=None, kind="custom_events"):
    return FileRecord(kind, frequency, name, start, stop or start, is_final=frequency != "open")


def test_every_problem_is_reported_at_once():
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FileSelection.parse("logs", "yearly", since="2024-13-01", until="yesterday", file_names=["../x"])
    text = str(info.value)
    assert "file_kind: unknown value 'logs' (allowed: custom_events, exceptions, raw_events)" in text
    assert "frequency: unknown value 'yearly' (allowed: daily, monthly, open)" in text
    assert text.count("since") >= 1 and "until" in text and "file_names[0]" in text


def test_until_before_since_and_raw_monthly_are_refused():
    with pytest.raises(UsageIntelligenceValidationError) as info:
        FileSelection.parse("raw_events", "monthly", since="2024-03-02", until="2024-03-01")
    assert info.value.problems == [
        "frequency: monthly files are not offered for raw_events (allowed: daily)",
        "until: 2024-03-01 is before since 2024-03-02",
    ]


def test_dates_accept_date_and_datetime_objects():
    sel = FileSelection.parse(
        "exceptions", since=dt.datetime(2024, 3, 1, 5, tzinfo=dt.timezone.utc), until=dt.date(2024, 3, 2)
    )
    assert (sel.since, sel.until) == ("2024-03-01", "2024-03-02")


def test_matching_by_window_frequency_and_names():
    records = [
        rec("a_2024-02-29.zip", start="2024-02-29"),
        rec("a_2024-03-01.zip"),
        rec("a_2024-03-02.zip", start="2024-03-02"),
        rec("m_2024-02.zip", "monthly", "2024-02-01", "2024-02-29"),
        rec("o_2024-03-03.zip", "open", "2024-03-03"),
        rec("x_2024-03-01.zip", kind="exceptions"),
    ]
    daily = FileSelection.parse("custom_events", "daily", since="2024-03-01", until="2024-03-01")
    assert [r.file_name for r in daily.apply(records)] == ["a_2024-03-01.zip"]
    monthly = FileSelection.parse("custom_events", "monthly", since="2024-02-15")
    assert [r.file_name for r in monthly.apply(records)] == ["m_2024-02.zip"]
    with_open = FileSelection.parse("custom_events", "daily", since="2024-03-02", include_open=True)
    assert [r.file_name for r in with_open.apply(records)] == ["a_2024-03-02.zip", "o_2024-03-03.zip"]
    named = FileSelection.parse("custom_events", ["daily", "monthly"], file_names=["m_2024-02.zip"])
    assert [r.file_name for r in named.apply(records)] == ["m_2024-02.zip"]


def test_a_rejected_record_concerns_the_selection_that_would_have_taken_it():
    from airflow_provider_usageintel.api.files import RejectedRecord

    selection = FileSelection.parse("custom_events", "daily", since="2024-03-10", until="2024-03-14")

    def bad(frequency="daily", name=None, day=None):
        return RejectedRecord("dailyFiles[0]", ("dailyFiles[0].fileName: bad",), frequency, name, day)

    assert selection.wants(bad())  # nothing known: reported rather than overlooked
    assert selection.wants(bad(day="2024-03-12"))
    assert not selection.wants(bad(day="2024-03-09")) and not selection.wants(bad(day="2024-03-15"))
    assert not selection.wants(bad(frequency="monthly"))
    monthly = FileSelection.parse("custom_events", "monthly", since="2024-03-10", until="2024-03-14")
    assert monthly.wants(bad("monthly", day="2024-03-01"))  # may cover the window: its end is unknown
    named = FileSelection.parse("custom_events", "daily", file_names=["a.zip"])
    assert named.wants(bad(name="a.zip")) and not named.wants(bad(name="b.zip")) and not named.wants(bad())
