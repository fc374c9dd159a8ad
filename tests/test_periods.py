"""The one place that dates a run: last complete day/week/month, windows, and their template macros."""

from __future__ import annotations

import datetime as dt

import jinja2
import pendulum
import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.macros import PERIOD_MACROS
from airflow_provider_usageintel.utils import periods

UTC = dt.timezone.utc


class DagRun:
    def __init__(self, run_after: dt.datetime) -> None:
        self.run_after = run_after


SCHEDULED = {"data_interval_end": pendulum.datetime(2024, 3, 10, tz="UTC"), "ds": "2024-03-10"}
MANUAL = {"dag_run": DagRun(pendulum.datetime(2024, 3, 13, 15, 42, tz="UTC"))}  # a Wednesday


def render(template: str, context: dict) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)
    return env.from_string(template).render(**PERIOD_MACROS, **context)


@pytest.mark.parametrize(
    ("template", "scheduled", "manual"),
    [
        ("{{ last_complete_day() }}", "2024-03-09", "2024-03-12"),
        (
            "{{ last_complete_week('sunday').first }}..{{ last_complete_week('sunday').last }}",
            "2024-03-03..2024-03-09",
            "2024-03-03..2024-03-09",
        ),
        ("{{ last_complete_week().first }}", "2024-02-26", "2024-03-04"),  # ISO weeks start on Monday
        ("{{ last_complete_month() }}", "2024-02", "2024-02"),
        ("{{ run_time().strftime('%Y%m%dT%H%M') }}", "20240310T0000", "20240313T1542"),
        ("{{ last_complete_day('Asia/Tokyo') }}", "2024-03-09", "2024-03-13"),
    ],
)
def test_macros_date_scheduled_and_manual_runs(template, scheduled, manual):
    assert render(template, SCHEDULED) == scheduled
    assert render(template, MANUAL) == manual  # where {{ ds }} and data_interval_end are undefined
    with pytest.raises(jinja2.UndefinedError):
        render("{{ data_interval_end }}", MANUAL)


def test_a_context_without_any_date_is_refused():
    with pytest.raises(UsageIntelligenceValidationError, match="neither a data_interval_end"):
        periods.last_complete_day({})


@pytest.mark.parametrize(
    ("moment", "unit", "zone", "expected"),
    [
        (dt.datetime(2024, 3, 10, 23, 30, tzinfo=UTC), "day", "Europe/Paris", "2024-03-11T00:00:00+01:00"),
        (dt.datetime(2024, 3, 10, 23, 30, tzinfo=UTC), "hour", "Asia/Kolkata", "2024-03-11T05:00:00+05:30"),
        (dt.datetime(2024, 3, 13, 12, tzinfo=UTC), "week", "UTC", "2024-03-11T00:00:00+00:00"),
        (dt.datetime(2024, 3, 31, 23, tzinfo=UTC), "month", "Europe/Berlin", "2024-04-01T00:00:00+02:00"),
    ],
)
def test_floor_is_on_the_zones_wall_clock(moment, unit, zone, expected):
    assert periods.floor(moment, unit, zone).isoformat() == expected


def test_days_across_a_daylight_saving_change_are_23_and_25_hours():
    spring = periods.floor(dt.datetime(2024, 3, 31, 12, tzinfo=UTC), "day", "Europe/Paris")
    autumn = periods.floor(dt.datetime(2024, 10, 27, 12, tzinfo=UTC), "day", "Europe/Paris")

    def hours(start: dt.datetime) -> float:
        return (periods.step(start, "day").astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600

    assert (hours(spring), hours(autumn)) == (23, 25)
    assert periods.step(periods.floor(autumn, "month", "Europe/Paris"), "month", -10).isoformat() == (
        "2023-12-01T00:00:00+01:00"
    )


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2024-03-10", "UTC", "2024-03-10T00:00:00+00:00"),
        ("2024-03-10", "America/New_York", "2024-03-10T00:00:00-05:00"),
        (dt.date(2024, 3, 10), "Asia/Tokyo", "2024-03-10T00:00:00+09:00"),
        ("2024-03-10T06:00:00Z", "Asia/Tokyo", "2024-03-10T06:00:00+00:00"),
        (pendulum.datetime(2024, 3, 10, tz="Europe/Paris"), "UTC", "2024-03-10T00:00:00+01:00"),
        (dt.datetime(2024, 3, 10, 6), "Europe/Paris", "2024-03-10T06:00:00+01:00"),
    ],
)
def test_window_bounds_accept_dates_strings_and_datetimes(value, zone, expected):
    assert periods.to_datetime(value, "start", zone).isoformat() == expected


def test_bad_bounds_are_quoted_as_given():
    with pytest.raises(UsageIntelligenceValidationError) as info:
        periods.run_window(SCHEDULED, "10/03/2024", 1710028800)
    assert [p.split(":")[0] for p in info.value.problems] == ["start", "end"]
    assert "start: '10/03/2024' is not allowed (allowed: a date YYYY-MM-DD" in str(info.value)
    assert "datetime.datetime" not in str(info.value)


def test_run_window_defaults():
    interval = {"data_interval_start": pendulum.datetime(2024, 3, 9, tz="UTC"), **SCHEDULED}
    window = periods.run_window(interval)
    assert (window.start.isoformat(), window.end.isoformat(), window.from_run) == (
        "2024-03-09T00:00:00+00:00",
        "2024-03-10T00:00:00+00:00",
        True,
    )
    # Airflow 3's cron timetable: an empty interval, so the last complete day before the run
    empty = periods.run_window({"data_interval_start": SCHEDULED["data_interval_end"], **SCHEDULED})
    assert (empty.start.day, empty.end.day) == (9, 10)
    manual = periods.run_window(MANUAL, timezone="America/New_York", fallback="month")
    assert (manual.start.isoformat(), manual.end.isoformat()) == (
        "2024-02-01T00:00:00-05:00",
        "2024-03-01T00:00:00-05:00",
    )
    given = periods.run_window(MANUAL, start="2024-03-01")
    assert (given.start.day, given.end.day, given.from_run) == (1, 13, False)
    with pytest.raises(
        UsageIntelligenceValidationError, match="end: 2024-03-13T00:00:00\\+00:00 must be later"
    ):
        periods.run_window(MANUAL, start="2024-03-20")
