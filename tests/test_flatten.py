"""Report results of every documented shape flatten to rows a warehouse can load."""

from __future__ import annotations

from airflow_provider_usageintel.utils.flatten import flatten, to_csv, to_ndjson


def test_date_series():
    result = {"2024-01-01": {"active": 3, "new": 1}, "2024-01-08": {"active": 4, "new": 0}}
    assert flatten(result) == [
        {"date": "2024-01-01", "active": 3, "new": 1},
        {"date": "2024-01-08", "active": 4, "new": 0},
    ]


def test_level_tree():
    result = {
        "level1": {
            "Pro": {
                "totals": {"new": 2, "active": 5},
                "level2": {"Win": {"totals": {"new": 1, "active": 3}}},
            },
            "Basic": {"totals": {"new": 0, "active": 1}},
        }
    }
    assert flatten(result) == [
        {"level1": "Pro", "new": 2, "active": 5},
        {"level1": "Pro", "level2": "Win", "new": 1, "active": 3},
        {"level1": "Basic", "new": 0, "active": 1},
    ]


def test_histograms():
    assert flatten({"\u2264 0:50": 90, "0:51 - 1:00": 2}) == [
        {"key1": "\u2264 0:50", "value": 90},
        {"key1": "0:51 - 1:00", "value": 2},
    ]
    assert flatten({"activeDays": {"1": 10}, "sessions": {"1-5": 3}}) == [
        {"key1": "activeDays", "key2": "1", "value": 10},
        {"key1": "sessions", "key2": "1-5", "value": 3},
    ]


def test_tables_and_timelines():
    assert flatten([{"category": "File", "name": "Open", "data": {"eventCounts": 7}}]) == [
        {"category": "File", "name": "Open", "data.eventCounts": 7}
    ]
    timeline = {"2018-08-01": [{"category": "File", "name": "Open", "value": 295}]}
    assert flatten(timeline) == [{"date": "2018-08-01", "category": "File", "name": "Open", "value": 295}]


def test_serialisations():
    rows = [{"a": 1, "b": "x"}, {"a": 2, "c": None}]
    assert to_ndjson(rows) == b'{"a":1,"b":"x"}\n{"a":2,"c":null}\n'
    assert to_csv(rows) == b"a,b,c\n1,x,\n2,,\n"
