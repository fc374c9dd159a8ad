"""Request bodies are checked locally, every problem named with its JSON path and what is allowed."""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_usageintel.api.endpoints import REPORT_NAMES
from airflow_provider_usageintel.api.validation import (
    VALIDATED_NAMES,
    request_problems,
    validate_date,
    validate_events,
    validate_global_filters,
    validate_levels,
    validate_request,
)
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

EVENTS = [
    {"category": "File Operations", "name": "Open"},
    {
        "combiLabel": "Open and Save",
        "combiArray": [
            {"categoryType": "string", "nameType": "string", "category": "File Operations", "name": "Open"},
            {"categoryType": "regex", "nameType": "regex", "category": "^File", "name": "Save.*"},
        ],
    },
]

#: The request samples of seed 000 (collapsed parts filled in) and the churn example of seed 001.
VALID: dict[str, Any] = {
    "product_properties": None,
    "property_values": {"property": "os", "granularity": "edition"},
    "event_names": {"flat": True, "showEvents": "all"},
    "date_range": {
        "clientStatus": ["new", "active", "lost"],
        "startDate": "2023-05-15",
        "stopDate": "2023-07-13",
        "groupBy": "clientId",
        "daysUntilDeclaredLost": 40,
        "dateReportedLost": "dateDeclaredLost",
        "dateSplit": "week",
        "globalFilters": {
            "prodBuild": {"type": "regex", "value": "^30.{10}18$"},
            "ram": {"type": "numberRange", "min": 1024, "max": 4096},
            "geography": {"type": "stringArray", "continent": ["AS", "OC"], "country": ["DE"]},
            "licenseStatus": [
                {"activated": True, "whitelisted": True},
                {"whitelisted": False, "expired": True},
            ],
        },
        "resultMode": "absolute",
        "levels": {
            "level1": {
                "property": "prodVersion",
                "segments": [{"type": "regex", "value": ".*", "split": True}],
            }
        },
    },
    "current": {
        "clientStatus": ["active", "lost"],
        "startDate": "2023-05-15",
        "daysUntilDeclaredLost": 40,
        "dateReportedLost": "dateDeclaredLost",
        "globalFilters": {},
        "levels": {
            "level1": {
                "property": "geography.country",
                "segments": [{"type": "stringArray", "value": ["DE", "FR"], "split": True, "limit": 5}],
            },
            "level2": {
                "property": "prodEdition",
                "segments": [
                    {"type": "string", "value": "Pro", "segmentLabel": "Pro"},
                    {"type": "regex", "value": "^Home", "segmentLabel": "Home"},
                ],
            },
            "level3": {
                "property": "ram",
                "segments": [
                    {"type": "numberRange", "max": 4096, "segmentLabel": "small"},
                    {"type": "numberRange", "min": 4097, "segmentLabel": "large"},
                    {"type": "number", "value": 0, "segmentLabel": "unknown"},
                ],
            },
        },
        "groupBy": "clientId",
        "resultMode": "percentOfActive",
    },
    "usage_distribution": {"globalFilters": {}, "startDate": "2022-01-01", "stopDate": "2023-05-30"},
    "lifetime_event_histogram": {
        "startDate": "2023-05-15",
        "stopDate": "2023-07-13",
        "groupBy": "clientId",
        "globalFilters": {},
        "events": EVENTS,
    },
    "lifetime_event_data_table": {
        "startDate": "2023-05-15",
        "stopDate": "2023-07-13",
        "globalFilters": {},
        "events": None,
        "sorting": {
            "events": "eventCounts",
            "eventsDirection": "desc",
            "segments": "alpha",
            "segmentsDirection": "asc",
        },
        "categorizeEvents": True,
        "paging": {"startAt": 0, "maxResults": 50},
        "groupBy": "clientId",
        "segmentBy": "prodEdition",
        "segments": [{"type": "regex", "value": ".*", "split": True}],
    },
    "basic_event_data_table": {"startDate": "2023-05-15", "stopDate": "2023-07-13"},
    "basic_event_timeline": {
        "startDate": "2023-05-15",
        "stopDate": "2023-07-13",
        "dateSplit": "week",
        "dataView": "usageCounts",
        "divisor": None,
        "events": EVENTS,
    },
    "advanced_events": {"startDate": "2022-01-01", "stopDate": "2023-05-30", "events": EVENTS[:1]},
    "churn_histogram_sessions": {
        "startDate": "2015-10-01",
        "stopDate": "2015-12-31",
        "daysUntilDeclaredLost": 30,
    },
    "churn_histogram_runtime": {
        "startDate": "2015-10-01",
        "stopDate": "2015-12-31",
        "daysUntilDeclaredLost": 30,
        "globalFilters": {},
    },
    "churn_histogram_days": {
        "startDate": "2015-10-01",
        "stopDate": "2015-12-31",
        "daysUntilDeclaredLost": 30,
        "dateReportedLost": "dateLastSeen",
        "globalFilters": {"optOut": [{"historical": True, "current": False}, {"historical": False}]},
    },
    "license_keys_search": {
        "filters": {},
        "sorting": {"licenseKey": "asc"},
        "paging": {"startAt": 0, "maxResults": 10},
    },
    "license_keys_update": {
        "licenseKey": "2c5bc269-ac2c-465c-8f07-25fa4930ce13",
        "licenseType": "purchased",
        "licenseStatus": {"activated": True, "blocked": False, "expired": False},
        "installQuota": 2,
        "notes": "test",
    },
    "license_keys_insert": {
        "licenseType": "purchased",
        "licenseStatus": {"activated": True, "blocked": False, "expired": False},
        "installQuota": 2,
        "notes": "test",
    },
    "custom_events_last_lines": {"lineCount": 2},
    "exceptions_last_lines": {"lineCount": 2},
    "custom_events_download_url": {"fileName": "2376158762_cust_2023-07-11.zip"},
    "exceptions_download_url": {"fileName": "2376158762_exc_2023-07-11.zip"},
    "raw_events_download_url": {"fileName": "2376158762_2023-07-12.zip"},
    "client_property_list": {
        "retDailyData": {"startDate": "2023-07-01", "stopDate": "2023-07-13", "properties": ["prodVersion"]},
        "properties": ["prodVersion", "geography.country"],
    },
    "client_property_list_export": None,
}


def problems_of(report: str, body: Any) -> list[str]:
    with pytest.raises(UsageIntelligenceValidationError) as info:
        validate_request(report, body)
    return info.value.problems


def body(report: str, **changes: Any) -> dict[str, Any]:
    """A valid sample with top-level fields replaced (``None`` values are kept as JSON null)."""
    result = copy.deepcopy(VALID[report])
    result.update(changes)
    return result


def without(report: str, *keys: str) -> dict[str, Any]:
    result = copy.deepcopy(VALID[report])
    for key in keys:
        del result[key]
    return result


# --- valid requests -----------------------------------------------------------------------------------


def test_every_validated_name_has_a_sample():
    assert set(VALID) == set(VALIDATED_NAMES)
    assert set(REPORT_NAMES) <= set(VALIDATED_NAMES)


@pytest.mark.parametrize("report", sorted(VALID))
def test_seed_samples_are_valid(report):
    validate_request(report, VALID[report])


@pytest.mark.parametrize(
    ("report", "request_body"),
    [
        ("license_keys_update", [VALID["license_keys_update"], {"licenseKey": "k2", "installQuota": 0}]),
        ("license_keys_insert", [VALID["license_keys_insert"], VALID["license_keys_update"]]),
        ("license_keys_update", {"licenseKey": "k", "expiryDate": "2030-01-01"}),
        ("client_property_list", {"startAtClientId": None, "properties": [], "globalFilters": {}}),
        ("client_property_list", {"startAtClientId": "6EE7BA394847D19"}),
        ("client_property_list_export", {"anything": [1, 2]}),
        ("event_names", None),
        ("event_names", {"showEvents": ["basic", "advanced"]}),
        ("product_properties", {}),
        ("property_values", {"property": "prodVersion", "startAfter": "1.0"}),
        ("property_values", {"property": "geography", "granularity": "usState", "startAfter": None}),
        ("date_range", body("date_range", levels={})),
        ("current", {"startDate": "2023-05-15", "groupBy": "C07", "levels": None, "clientStatus": ["new"]}),
        (
            "lifetime_event_histogram",
            body("lifetime_event_histogram", lowerBounds={"eventCount": [0, 1, 5.5]}),
        ),
        (
            "advanced_events",
            body(
                "advanced_events",
                segmentBy="prodVersion",
                segments=[{"type": "regex", "value": "^1", "segmentLabel": "v1"}],
            ),
        ),
    ],
)
def test_other_valid_shapes(report, request_body):
    validate_request(report, request_body)


# --- the seed's elided forms: what an empty value means (docs/reports.md) ---------------------------------


@pytest.mark.parametrize(
    ("line", "report", "request_body"),
    [
        # seed 000 line 268 and 322: ``clientStatus: []`` is the default set of statuses
        (268, "date_range", body("date_range", clientStatus=[])),
        (322, "current", body("current", clientStatus=[])),
        # seed 000 lines 426, 576, 624: ``events: []`` asks for no event
        (426, "lifetime_event_histogram", body("lifetime_event_histogram", events=[])),
        (576, "basic_event_timeline", body("basic_event_timeline", events=[])),
        (624, "advanced_events", body("advanced_events", events=[])),
        (477, "lifetime_event_data_table", body("lifetime_event_data_table", events=[])),
        # seed 000 line 477: ``segments: []`` segments by every value of segmentBy
        (477, "lifetime_event_data_table", body("lifetime_event_data_table", segments=[])),
        (624, "advanced_events", body("advanced_events", segmentBy="prodEdition", segments=[])),
        # seed 000 lines 719 and 760: ``licenseStatus: {}`` gives no status flag
        (719, "license_keys_update", body("license_keys_update", licenseStatus={})),
        (760, "license_keys_insert", body("license_keys_insert", licenseStatus={})),
        (760, "license_keys_insert", [body("license_keys_insert", licenseStatus={})]),
        # seed 000 line 1042: ``retDailyData: {}`` and ``properties: []``
        (1042, "client_property_list", {"retDailyData": {}, "properties": []}),
        (1042, "client_property_list", {"retDailyData": {"properties": []}}),
        (1042, "client_property_list", {"retDailyData": {"properties": ["sessionCount"]}}),
    ],
)
def test_the_seeds_empty_forms_are_accepted(line, report, request_body):
    assert request_problems(report, request_body) == [], f"seed 000 line {line}"


@pytest.mark.parametrize(
    ("report", "request_body", "expected"),
    [
        # an empty form is accepted where the seed shows it, not everywhere
        (
            "date_range",
            body("date_range", levels={"level1": {"property": "prodVersion", "segments": []}}),
            "levels.level1.segments: expected a non-empty array of segments, got an empty array",
        ),
        (
            "date_range",
            body("date_range", globalFilters={"licenseStatus": [{}]}),
            "globalFilters.licenseStatus[0]: expected a non-empty object of booleans, got an empty object "
            "(allowed: activated, blocked, blacklisted, expired, allowed, whitelisted)",
        ),
        (
            "basic_event_timeline",
            body("basic_event_timeline", events=[{"combiLabel": "x", "combiArray": []}]),
            "events[0].combiArray: expected a non-empty array of event matches, got an empty array",
        ),
        (
            "advanced_events",
            body("advanced_events", segments=[]),
            "segments: needs segmentBy (allowed: a property name in segmentBy)",
        ),
        # and the empty forms' types and members stay checked
        (
            "license_keys_insert",
            body("license_keys_insert", licenseStatus=[]),
            "licenseStatus: expected an object of booleans, got array "
            "(allowed: activated, blocked, blacklisted, expired, allowed, whitelisted)",
        ),
        (
            "license_keys_update",
            body("license_keys_update", licenseStatus={"revoked": True}),
            "licenseStatus.revoked: unknown field "
            "(allowed: activated, blocked, blacklisted, expired, allowed, whitelisted)",
        ),
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", segments={}),
            "segments: expected an array of segments, got object",
        ),
        (
            "date_range",
            body("date_range", clientStatus={}),
            "clientStatus: expected an array of client statuses, got object",
        ),
        (
            "advanced_events",
            body("advanced_events", events={}),
            "events: expected an array of events, got object",
        ),
        ("client_property_list", {"retDailyData": []}, "retDailyData: expected an object, got array"),
    ],
)
def test_empty_forms_stay_strict_elsewhere(report, request_body, expected):
    assert expected in problems_of(report, request_body)


def test_global_filters_accept_custom_and_newer_properties():
    filters = {
        "C05": {"type": "regex", "value": "^a"},
        "C20": {"type": "stringArray", "value": ["x"]},
        "dateInstalled": {"type": "dateRange", "min": "2024-01-01"},
        "dateLastSeen": {"type": "date", "value": "2024-02-29"},
        "brandNewProperty": {"type": "numberRange", "max": 3},
        "anotherNewOne": {"type": "date", "value": "2024-01-01"},
        "lifetimeSessionCount": {"type": "number", "value": 2.5},
        "os": {"type": "string", "platform": "Microsoft Windows"},
        "gpu": {"type": "string", "vendor": "NVIDIA"},
        "backOff": [{"current": True}],
        "geography": {"type": "string", "usState": "US-NY"},
    }
    assert validate_global_filters(filters) == []
    assert validate_global_filters(None) == []


def test_java_only_regex_syntax_is_not_refused():
    filters = {"prodBuild": {"type": "regex", "value": r"^(?<major>\d+)\.\p{Alpha}+$"}}
    assert validate_global_filters(filters) == []


# --- report names and body shape ----------------------------------------------------------------------


def test_unknown_report_lists_allowed_names():
    (problem,) = problems_of("nope", {})
    assert problem.startswith("report: unknown name 'nope' (allowed: product_properties, property_values,")
    assert problem.endswith("raw_events_download_url)")


def test_body_must_be_an_object():
    assert problems_of("date_range", [1]) == ["body: expected an object, got array"]
    assert problems_of("client_property_list_export", [1]) == [
        "body: expected a string or an object, got array"
    ]


def test_the_export_request_takes_any_text():
    """Seed 000 line 1081: ``Request Body schema: */*`` string."""
    validate_request("client_property_list_export", "every client, please")
    validate_request("client_property_list_export", "")


def test_seed_001_churn_sample_is_valid_as_printed():
    """Seed 001 lines 189-195: user, sessionId and productId included; daysUntilDeclaredLost optional."""
    sample = {
        "user": "",
        "sessionId": "VSB8E2BzSC2eZSJm4QmTpA",
        "productId": 12345678901,
        "startDate": "2015-10-01",
        "stopDate": "2015-12-31",
        "daysUntilDeclaredLost": 30,
        "globalFilters": {},
    }
    validate_request("churn_histogram_runtime", sample)
    del sample["daysUntilDeclaredLost"]  # seed 001 line 20 lists it, nothing makes it required
    validate_request("churn_histogram_runtime", sample)


def test_regex_is_refused_for_geography_only():
    """Seed 001 line 153: no regular expressions in geography filters; os and gpu take them."""
    filters = {
        "os": {"type": "regex", "version": "^Microsoft Windows 1[01]$"},
        "gpu": {"type": "regex", "vendor": "^(NVIDIA|Intel)$", "model": "RTX"},
    }
    assert validate_global_filters(filters) == []
    assert validate_global_filters({"geography": {"type": "regex", "country": "^D"}}) == [
        "globalFilters.geography.type: regex is not allowed for geography (allowed: string, stringArray)"
    ]
    assert validate_global_filters({"os": {"type": "regex", "version": "("}})[0].startswith(
        "globalFilters.os.version: '(' is not a valid regular expression"
    )


def test_unknown_top_level_fields_are_refused_including_v2_ones():
    problems = problems_of(
        "usage_distribution", body("usage_distribution", productId=1, stopdate="2023-01-01")
    )
    assert problems == [
        "productId: unknown field (allowed: startDate, stopDate, globalFilters)",
        "stopdate: unknown field (allowed: startDate, stopDate, globalFilters)",
    ]


# --- one test per rule, exact messages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "request_body", "expected"),
    [
        (
            "date_range",
            body("date_range", startDate="2023-02-30"),
            "startDate: '2023-02-30' is not a real calendar date (allowed: YYYY-MM-DD)",
        ),
        (
            "date_range",
            body("date_range", stopDate="2023/07/13"),
            "stopDate: '2023/07/13' is not a date (allowed: YYYY-MM-DD)",
        ),
        (
            "date_range",
            body("date_range", startDate=20230515),
            "startDate: expected a date string, got integer (allowed: YYYY-MM-DD)",
        ),
        (
            "date_range",
            body("date_range", startDate="2024-02-01", stopDate="2024-01-01"),
            "stopDate: 2024-01-01 is before startDate 2024-02-01",
        ),
        (
            "date_range",
            without("date_range", "stopDate"),
            "stopDate: required by date_range (allowed: YYYY-MM-DD)",
        ),
        ("current", without("current", "startDate"), "startDate: required by current (allowed: YYYY-MM-DD)"),
        (
            "usage_distribution",
            without("usage_distribution", "startDate"),
            "startDate: required by usage_distribution (allowed: YYYY-MM-DD)",
        ),
        (
            "basic_event_data_table",
            {},
            "startDate: required by basic_event_data_table (allowed: YYYY-MM-DD)",
        ),
        (
            "date_range",
            body("date_range", dateSplit="year"),
            "dateSplit: 'year' is not allowed (allowed: day, week, month, null)",
        ),
        (
            "date_range",
            body("date_range", clientStatus=["gone"]),
            "clientStatus[0]: 'gone' is not allowed (allowed: new, active, lost)",
        ),
        (
            "date_range",
            body("date_range", clientStatus="new"),
            "clientStatus: expected an array of client statuses, got string",
        ),
        (
            "date_range",
            body("date_range", clientStatus=["new", "new"]),
            "clientStatus[1]: 'new' is listed twice",
        ),
        (
            "date_range",
            without("date_range", "daysUntilDeclaredLost"),
            "daysUntilDeclaredLost: required when clientStatus includes lost (allowed: integers >= 1)",
        ),
        (
            "current",
            body("current", daysUntilDeclaredLost=None),
            "daysUntilDeclaredLost: required when clientStatus includes lost (allowed: integers >= 1)",
        ),
        (
            "date_range",
            body("date_range", daysUntilDeclaredLost=0),
            "daysUntilDeclaredLost: 0 is out of range (allowed: integers >= 1)",
        ),
        (
            "date_range",
            body("date_range", daysUntilDeclaredLost="40"),
            "daysUntilDeclaredLost: expected an integer, got string (allowed: integers >= 1)",
        ),
        (
            "churn_histogram_days",
            without("churn_histogram_days", "startDate"),
            "startDate: required by churn_histogram_days (allowed: YYYY-MM-DD)",
        ),
        (
            "date_range",
            body("date_range", dateReportedLost="lastSeen"),
            "dateReportedLost: 'lastSeen' is not allowed (allowed: dateLastSeen, dateDeclaredLost)",
        ),
        (
            "current",
            body("current", resultMode="percent"),
            "resultMode: 'percent' is not allowed (allowed: absolute, percentOfActive, percentOfTotal)",
        ),
        (
            "date_range",
            body("date_range", groupBy="C21"),
            "groupBy: 'C21' is not allowed (allowed: clientId, machineId, licenseKey, C01..C20)",
        ),
        (
            "current",
            body("current", stopDate="2023-07-13"),
            "stopDate: unknown field (allowed: startDate, clientStatus, groupBy, daysUntilDeclaredLost, "
            "dateReportedLost, globalFilters, resultMode, levels)",
        ),
    ],
)
def test_body_rules(report, request_body, expected):
    assert expected in problems_of(report, request_body)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"geography": {"type": "regex", "continent": "EU"}},
            "globalFilters.geography.type: regex is not allowed for geography (allowed: string, stringArray)",
        ),
        (
            {"prodBuild": {"type": "string", "value": ["a"]}},
            "globalFilters.prodBuild.value: expected a string, got array",
        ),
        (
            {"prodVersion": {"type": "stringArray", "value": []}},
            "globalFilters.prodVersion.value: expected a non-empty array of strings, got an empty array",
        ),
        (
            {"prodVersion": {"type": "stringArray", "value": ["1.0", 2]}},
            "globalFilters.prodVersion.value[1]: expected a string, got integer",
        ),
        (
            {"prodBuild": {"type": "regex", "value": "("}},
            "globalFilters.prodBuild.value: '(' is not a valid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        ({"prodBuild": {"type": "string"}}, "globalFilters.prodBuild.value: required with type string"),
        (
            {"prodBuild": {"value": "x"}},
            "globalFilters.prodBuild.type: required (allowed: string, stringArray, regex)",
        ),
        (
            {"displayCount": {"type": "number", "value": "3"}},
            "globalFilters.displayCount.value: expected a finite number, got string",
        ),
        (
            {"displayCount": {"type": "number", "value": float("nan")}},
            "globalFilters.displayCount.value: expected a finite number, got number",
        ),
        (
            {"prodEdition": {"type": "number", "value": 3}},
            "globalFilters.prodEdition.type: number is not allowed for prodEdition "
            "(allowed: string, stringArray, regex)",
        ),
        (
            {"ram": {"type": "numberRange", "value": 3, "min": 1}},
            "globalFilters.ram.value: not allowed with type numberRange (allowed: type, min, max)",
        ),
        (
            {"ram": {"type": "numberRange"}},
            "globalFilters.ram: numberRange needs min and/or max (allowed: min, max)",
        ),
        (
            {"ram": {"type": "numberRange", "min": 4096, "max": 1024}},
            "globalFilters.ram.max: 1024 is below min 4096",
        ),
        (
            {"ram": {"type": "numberRange", "min": True}},
            "globalFilters.ram.min: expected a finite number, got boolean",
        ),
        (
            {"dateInstalled": {"type": "date", "value": "2024-02-30"}},
            "globalFilters.dateInstalled.value: '2024-02-30' is not a real calendar date "
            "(allowed: YYYY-MM-DD)",
        ),
        (
            {"dateLastSeen": {"type": "dateRange", "min": "2024-02-01", "max": "2024-01-01"}},
            "globalFilters.dateLastSeen.max: 2024-01-01 is before min 2024-02-01",
        ),
        (
            {"dateLastSeen": {"type": "string", "value": "x"}},
            "globalFilters.dateLastSeen.type: string is not allowed for dateLastSeen "
            "(allowed: date, dateRange)",
        ),
        (
            {"licenseStatus": [{"activated": "yes"}]},
            "globalFilters.licenseStatus[0].activated: expected a boolean, got string (allowed: true, false)",
        ),
        (
            {"licenseStatus": [{"active": True}]},
            "globalFilters.licenseStatus[0].active: unknown field "
            "(allowed: activated, blocked, blacklisted, expired, allowed, whitelisted)",
        ),
        (
            {"licenseStatus": []},
            "globalFilters.licenseStatus: expected a non-empty array of objects, got an empty array",
        ),
        (
            {"licenseStatus": [{}]},
            "globalFilters.licenseStatus[0]: expected a non-empty object of booleans, got an empty object "
            "(allowed: activated, blocked, blacklisted, expired, allowed, whitelisted)",
        ),
        (
            {"licenseStatus": {"activated": True}},
            "globalFilters.licenseStatus: expected an array of objects, got object",
        ),
        (
            {"os": {"type": "string"}},
            "globalFilters.os: needs at least one granularity (allowed: platform, version, edition)",
        ),
        (
            {"os": {"type": "string", "version": ["Microsoft Windows 7"]}},
            "globalFilters.os.version: expected a string, got array",
        ),
        (
            {"os": {"type": "string", "build": "x", "version": "v"}},
            "globalFilters.os.build: unknown field (allowed: type, platform, version, edition)",
        ),
        (
            {"geography": {"type": "stringArray", "continent": ["EU", "XX"]}},
            "globalFilters.geography.continent[1]: 'XX' is not a continent code "
            "(allowed: AF, AN, AS, EU, NA, OC, SA)",
        ),
        (
            {"geography": {"type": "string", "country": "Germany"}},
            "globalFilters.geography.country: 'Germany' is not an ISO 3166-1 alpha-2 code "
            "(allowed: two capital letters, e.g. DE)",
        ),
        (
            {"geography": {"type": "stringArray", "usState": ["NY"]}},
            "globalFilters.geography.usState[0]: 'NY' is not an ISO 3166-2:US code "
            "(allowed: US-XX, e.g. US-NY)",
        ),
        (
            {"gpu": {"type": "stringArray", "vendor": "NVIDIA"}},
            "globalFilters.gpu.vendor: expected an array of strings, got string",
        ),
        (
            {"optOut": [{"historical": True}, {"current": 1}]},
            "globalFilters.optOut[1].current: expected a boolean, got integer (allowed: true, false)",
        ),
        (
            {"backOff": [{"now": True}]},
            "globalFilters.backOff[0].now: unknown field (allowed: historical, current)",
        ),
        (
            {"newProp": {"type": "bogus", "value": 1}},
            "globalFilters.newProp.type: 'bogus' is not allowed "
            "(allowed: string, stringArray, regex, number, numberRange, date, dateRange)",
        ),
        (
            {"newProp": ["x"]},
            "globalFilters.newProp: expected an object with a type, got array "
            "(allowed: string, stringArray, regex, number, numberRange, date, dateRange)",
        ),
        (
            {"": {"type": "string", "value": "x"}},
            "globalFilters.: '' is not a property name (allowed: non-empty strings)",
        ),
    ],
)
def test_global_filter_rules(filters, expected):
    problems = validate_global_filters(filters)
    assert expected in problems
    assert expected in problems_of("usage_distribution", body("usage_distribution", globalFilters=filters))


def test_global_filters_must_be_an_object_and_take_a_path():
    assert validate_global_filters([], "retDailyData.globalFilters") == [
        "retDailyData.globalFilters: expected an object, got array"
    ]


def level(prop: str, *segments: dict[str, Any]) -> dict[str, Any]:
    return {"property": prop, "segments": list(segments)}


PRO = {"type": "string", "value": "Pro", "segmentLabel": "Pro"}


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        (
            {"level1": level("prodEdition", PRO), "level4": level("prodEdition", PRO)},
            "levels.level4: unknown field (allowed: level1, level2, level3)",
        ),
        (
            {"level2": level("prodEdition", PRO)},
            "levels.level2: needs level1 (allowed: level1, level2, level3 in order)",
        ),
        (
            {"level1": level("os", PRO)},
            "levels.level1.property: 'os' needs a granularity (allowed: os.platform, os.version, os.edition)",
        ),
        (
            {"level1": level("geography.city", PRO)},
            "levels.level1.property: 'geography.city' needs a granularity "
            "(allowed: geography.continent, geography.country, geography.usState)",
        ),
        ({"level1": {"segments": [PRO]}}, "levels.level1.property: required (allowed: a property name)"),
        (
            {"level1": level("prodEdition")},
            "levels.level1.segments: expected a non-empty array of segments, got an empty array",
        ),
        (
            {"level1": level("prodEdition", {**PRO, "split": True})},
            "levels.level1.segments[0].split: not allowed with type string (allowed: stringArray, regex)",
        ),
        (
            {"level1": level("prodEdition", {"type": "regex", "value": ".*"})},
            "levels.level1.segments[0].segmentLabel: required when split is not true "
            "(allowed: a unique label)",
        ),
        (
            {"level1": level("prodEdition", PRO, {"type": "regex", "value": "^P", "segmentLabel": "Pro"})},
            "levels.level1.segments[1].segmentLabel: 'Pro' is already used by segments[0] (allowed: unique)",
        ),
        (
            {
                "level1": level(
                    "prodEdition", {"type": "regex", "value": ".*", "segmentLabel": "x", "limit": 5}
                )
            },
            "levels.level1.segments[0].limit: only allowed when split is true",
        ),
        (
            {"level1": level("prodEdition", {"type": "regex", "value": ".*", "split": True, "limit": 0})},
            "levels.level1.segments[0].limit: 0 is out of range (allowed: integers >= 1)",
        ),
        (
            {"level1": level("ram", {"type": "numberRange", "value": 1, "min": 1, "segmentLabel": "x"})},
            "levels.level1.segments[0].value: not allowed with type numberRange "
            "(allowed: type, min, max, segmentLabel, split, limit)",
        ),
        (
            {"level1": level("ram", {"type": "regex", "value": ".*", "split": True})},
            "levels.level1.segments[0].type: regex is not allowed for ram (allowed: number, numberRange)",
        ),
        (
            {"level1": level("C03", {"type": "stringArray", "value": "x", "segmentLabel": "x"})},
            "levels.level1.segments[0].value: expected an array of strings, got string",
        ),
        ({"level1": []}, "levels.level1: expected an object, got array"),
        ("level1", "levels: expected an object, got string"),
    ],
)
def test_level_rules(levels, expected):
    assert expected in validate_levels(levels)
    assert expected in problems_of("current", body("current", levels=levels))


def test_only_one_level_with_a_date_split():
    levels = {"level1": level("prodEdition", PRO), "level2": level("prodVersion", PRO)}
    assert problems_of("date_range", body("date_range", levels=levels)) == [
        "levels: 2 levels with dateSplit 'week' (allowed: 1 level when dateSplit is set)"
    ]
    validate_request("date_range", body("date_range", levels=levels, dateSplit=None))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (None, "events: expected an array of events, got null"),
        ([{"category": "File"}], "events[0].name: required (allowed: a string)"),
        (
            ["Open"],
            "events[0]: expected an event object, got string "
            "(allowed: {category, name}, {combiLabel, combiArray})",
        ),
        (
            [{"category": "a", "name": "b", "label": "c"}],
            "events[0].label: unknown field (allowed: category, name)",
        ),
        (
            [{"combiLabel": "x", "combiArray": []}],
            "events[0].combiArray: expected a non-empty array of event matches, got an empty array",
        ),
        (
            [{"combiLabel": "x", "combiArray": [{**EVENTS[1]["combiArray"][0], "categoryType": "glob"}]}],
            "events[0].combiArray[0].categoryType: 'glob' is not allowed (allowed: string, regex)",
        ),
        (
            [{"combiLabel": "x", "combiArray": [{**EVENTS[1]["combiArray"][1], "name": "*Save"}]}],
            "events[0].combiArray[0].name: '*Save' is not a valid regular expression: "
            "nothing to repeat at position 0",
        ),
        ([{"combiArray": EVENTS[1]["combiArray"]}], "events[0].combiLabel: required (allowed: a label)"),
    ],
)
def test_event_rules(events, expected):
    assert expected in validate_events(events)
    assert expected in problems_of("basic_event_timeline", body("basic_event_timeline", events=events))


def test_events_required_or_nullable_per_report():
    assert problems_of("lifetime_event_histogram", without("lifetime_event_histogram", "events")) == [
        "events: required by lifetime_event_histogram (allowed: an array of events)"
    ]
    validate_request("lifetime_event_data_table", body("lifetime_event_data_table", events=None))
    assert validate_events(None, nullable=True) == []


@pytest.mark.parametrize(
    ("report", "request_body", "expected"),
    [
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", sorting={"events": "count"}),
            "sorting.events: 'count' is not allowed "
            "(allowed: alpha, eventCounts, uniqueUsersUsedAtLeastOnce)",
        ),
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", sorting={"segmentsDirection": "up"}),
            "sorting.segmentsDirection: 'up' is not allowed (allowed: asc, desc)",
        ),
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", paging={"startAt": -1}),
            "paging.startAt: -1 is out of range (allowed: integers >= 0)",
        ),
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", paging=[0, 10]),
            "paging: expected an object, got array",
        ),
        (
            "lifetime_event_data_table",
            body("lifetime_event_data_table", categorizeEvents="yes"),
            "categorizeEvents: expected a boolean, got string (allowed: true, false)",
        ),
        (
            "lifetime_event_data_table",
            without("lifetime_event_data_table", "segmentBy"),
            "segments: needs segmentBy (allowed: a property name in segmentBy)",
        ),
        (
            "lifetime_event_histogram",
            body("lifetime_event_histogram", lowerBounds={"eventCounts": [1]}),
            "lowerBounds.eventCounts: unknown field (allowed: eventCount, averageCountPerActiveDay, "
            "averageCountPerActiveWeek, averageCountPerActiveMonth)",
        ),
        (
            "basic_event_timeline",
            body("basic_event_timeline", dataView="counts"),
            "dataView: 'counts' is not allowed (allowed: usageCounts, customValues)",
        ),
        (
            "basic_event_timeline",
            body("basic_event_timeline", divisor="days"),
            "divisor: 'days' is not allowed (allowed: users, sessions, runtime, usageCounts, null)",
        ),
        (
            "property_values",
            {"property": "geography", "granularity": "city"},
            "granularity: 'city' is not allowed for geography (allowed: continent, country, usState)",
        ),
        (
            "property_values",
            {"property": "prodVersion", "granularity": "version"},
            "granularity: not allowed for property 'prodVersion' (allowed: os, geography, gpu)",
        ),
        ("property_values", {}, "property: required by property_values (allowed: a property name)"),
        (
            "property_values",
            {"property": "os", "startAfter": 3},
            "startAfter: expected a string, got integer",
        ),
        (
            "event_names",
            {"showEvents": "enabled"},
            "showEvents: 'enabled' is not allowed (allowed: all, basic, advanced)",
        ),
        ("event_names", {"flat": "true"}, "flat: expected a boolean, got string (allowed: true, false)"),
        ("product_properties", {"x": 1}, "x: unknown field (allowed: none)"),
        (
            "license_keys_update",
            without("license_keys_update", "licenseKey"),
            "licenseKey: required by license_keys_update (allowed: a license key string)",
        ),
        (
            "license_keys_update",
            [VALID["license_keys_update"], {"licenseKey": "k", "installQuota": -1}],
            "[1].installQuota: -1 is out of range (allowed: integers >= 0)",
        ),
        (
            "license_keys_insert",
            body("license_keys_insert", licenseStatus={"activated": "no"}),
            "licenseStatus.activated: expected a boolean, got string (allowed: true, false)",
        ),
        (
            "license_keys_insert",
            [],
            "body: expected a non-empty array of license key objects, got an empty array",
        ),
        (
            "license_keys_insert",
            "key",
            "body: expected a license key object or an array of them, got string",
        ),
        ("license_keys_search", {"filters": []}, "filters: expected an object, got array"),
        (
            "custom_events_last_lines",
            {"lineCount": 1001},
            "lineCount: 1001 is out of range (allowed: 1..1000)",
        ),
        ("exceptions_last_lines", {"lineCount": 0}, "lineCount: 0 is out of range (allowed: 1..1000)"),
        (
            "exceptions_last_lines",
            {"lineCount": "2"},
            "lineCount: expected an integer, got string (allowed: 1..1000)",
        ),
        (
            "custom_events_last_lines",
            {},
            "lineCount: required by custom_events_last_lines (allowed: 1..1000)",
        ),
        (
            "raw_events_download_url",
            {"fileName": "../etc/passwd"},
            "fileName: '../etc/passwd' is not a plain file name "
            "(allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')",
        ),
        ("exceptions_download_url", {"fileName": 7}, "fileName: expected a file name string, got integer"),
        (
            "client_property_list",
            {"retDailyData": {"startDate": "2023-07-01", "properties": []}},
            "retDailyData.stopDate: required with startDate (allowed: both dates or neither)",
        ),
        (
            "client_property_list",
            {"retDailyData": {"stopDate": "2023-07-01"}},
            "retDailyData.startDate: required with stopDate (allowed: both dates or neither)",
        ),
        (
            "client_property_list",
            {"retDailyData": {"startDate": "2023-07-01", "stopDate": "2023-7-13"}},
            "retDailyData.stopDate: '2023-7-13' is not a date (allowed: YYYY-MM-DD)",
        ),
        (
            "client_property_list",
            {"retDailyData": {"properties": [1]}},
            "retDailyData.properties[0]: expected a string, got integer",
        ),
        (
            "client_property_list",
            {"retDailyData": {"days": 7}},
            "retDailyData.days: unknown field (allowed: startDate, stopDate, properties)",
        ),
        (
            "client_property_list",
            {"retDailyData": {"startDate": "2023-02-01", "stopDate": "2023-01-01"}},
            "retDailyData.stopDate: 2023-01-01 is before startDate 2023-02-01",
        ),
        (
            "client_property_list",
            {"properties": ["prodVersion", 3]},
            "properties[1]: expected a string, got integer",
        ),
        ("client_property_list", {"startAtClientId": 5}, "startAtClientId: expected a string, got integer"),
    ],
)
def test_report_specific_rules(report, request_body, expected):
    assert expected in problems_of(report, request_body)


def test_all_problems_are_reported_at_once():
    request_body = {
        "startDate": "2024-02-01",
        "stopDate": "2024-01-01",
        "dateSplit": "year",
        "clientStatus": ["lost"],
        "globalFilters": {
            "geography": {"type": "regex", "continent": "EU"},
            "ram": {"type": "numberRange", "value": 3},
        },
        "levels": {"level2": level("prodEdition", {"type": "regex", "value": "("})},
    }
    with pytest.raises(UsageIntelligenceValidationError) as info:
        validate_request("date_range", request_body)
    assert info.value.problems == [
        "dateSplit: 'year' is not allowed (allowed: day, week, month, null)",
        "globalFilters.geography.type: regex is not allowed for geography (allowed: string, stringArray)",
        "globalFilters.ram.value: not allowed with type numberRange (allowed: type, min, max)",
        "globalFilters.ram: numberRange needs min and/or max (allowed: min, max)",
        "levels.level2: needs level1 (allowed: level1, level2, level3 in order)",
        "levels.level2.segments[0].value: '(' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "levels.level2.segments[0].segmentLabel: required when split is not true (allowed: a unique label)",
        "stopDate: 2024-01-01 is before startDate 2024-02-01",
        "daysUntilDeclaredLost: required when clientStatus includes lost (allowed: integers >= 1)",
    ]
    assert str(info.value).startswith("9 problems:\n- dateSplit: ")


def test_validate_date():
    assert validate_date("2024-02-29", "start_date") == "2024-02-29"
    assert validate_date(dt.date(2024, 3, 1), "start_date") == "2024-03-01"
    with pytest.raises(
        UsageIntelligenceValidationError, match=r"^start_date: '2023-02-29' is not a real calendar"
    ):
        validate_date("2023-02-29", "start_date")
    with pytest.raises(UsageIntelligenceValidationError, match="expected a date string, got datetime"):
        validate_date(dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc), "start_date")


def test_hostile_values_are_abbreviated_not_crashing():
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    problems = request_problems(
        "date_range",
        {
            "startDate": deep,
            "stopDate": 10**5000,
            "globalFilters": {1: 2, (1, 2): {"type": deep}},
            "x" * 500: 1,
        },
    )
    assert problems[0] == "startDate: expected a date string, got array (allowed: YYYY-MM-DD)"
    assert "stopDate: expected a date string, got integer (allowed: YYYY-MM-DD)" in problems
    assert "globalFilters.1: 1 is not a property name (allowed: non-empty strings)" in problems
    assert "globalFilters.(1, 2): (1, 2) is not a property name (allowed: non-empty strings)" in problems
    assert max(len(p) for p in problems) < 400


def test_pathological_regexes_are_problems_not_crashes():
    for pattern in ("(" * 2000 + ")" * 2000, "a{99999999999}", "\\", "[z-a]", "(?P<a>)(?P<a>)"):
        problems = validate_global_filters({"prodBuild": {"type": "regex", "value": pattern}})
        assert all(p.startswith("globalFilters.prodBuild.value: ") for p in problems)


# --- properties: mutations of valid bodies are rejected at their path ---------------------------------

DELETE = object()

not_string = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
not_number = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
not_array = st.one_of(
    st.booleans(), st.integers(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), st.none())
)
not_object = st.one_of(st.booleans(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
not_bool = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats())
bad_date = st.one_of(
    not_string.filter(lambda v: v is not None),
    st.text(max_size=12).filter(lambda s: not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s)),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(13, 99), st.integers(1, 28)),
    st.builds("{:04d}-02-{:02d}".format, st.integers(1, 9999), st.integers(30, 99)),
    st.builds("{:04d}-{:02d}-00".format, st.integers(1, 9999), st.integers(1, 12)),
)


def outside(*allowed_values: object) -> st.SearchStrategy[object]:
    return st.one_of(not_string, st.text(max_size=12)).filter(lambda v: v not in allowed_values)


def bad_int(low: int, high: int | None = None) -> st.SearchStrategy[object]:
    out_of_range = st.integers(max_value=low - 1)
    if high is not None:
        out_of_range |= st.integers(min_value=high + 1)
    return st.one_of(out_of_range, not_number.filter(lambda v: v is not None), st.floats())


GF = "globalFilters"
L1 = ("levels", "level1")
SEG = (*L1, "segments", 0)
COMBI = ("events", 1, "combiArray", 1)

#: (report, path to set, strategy of invalid values, path the message must name (default: the path set)).
MUTATIONS: list[tuple[str, tuple[Any, ...], st.SearchStrategy[Any], str | None]] = [
    ("date_range", ("startDate",), bad_date, None),
    ("date_range", ("stopDate",), bad_date, None),
    ("date_range", ("stopDate",), st.sampled_from(["2023-05-14", "2000-01-01", "1999-12-31"]), None),
    ("current", ("startDate",), st.one_of(bad_date, st.just(DELETE)), None),
    ("usage_distribution", ("stopDate",), st.just(DELETE), None),
    ("churn_histogram_runtime", ("daysUntilDeclaredLost",), bad_int(1), None),
    ("churn_histogram_runtime", ("productId",), bad_int(1), None),
    ("date_range", ("daysUntilDeclaredLost",), st.one_of(bad_int(1), st.just(DELETE)), None),
    ("date_range", ("dateSplit",), outside("day", "week", "month", None), None),
    ("basic_event_timeline", ("dateSplit",), outside("day", "week", "month", None), None),
    ("date_range", ("clientStatus",), not_array, None),
    ("date_range", ("clientStatus", 0), outside("new", "active", "lost"), "clientStatus[0]"),
    ("date_range", ("dateReportedLost",), outside("dateLastSeen", "dateDeclaredLost"), None),
    ("current", ("resultMode",), outside("absolute", "percentOfActive", "percentOfTotal"), None),
    ("current", ("groupBy",), outside("clientId", "machineId", "licenseKey", "C01", "C10", "C20"), None),
    ("date_range", (GF,), not_object.filter(lambda v: v is not None), None),
    (
        "date_range",
        (GF, "prodBuild", "value"),
        st.one_of(not_string, st.sampled_from(["(", "[a", "*", "a{2,1}"])),
        None,
    ),
    ("date_range", (GF, "prodBuild", "type"), outside("string", "stringArray", "regex"), None),
    ("date_range", (GF, "ram", "value"), st.integers(), None),
    (
        "date_range",
        (GF, "ram", "min"),
        st.one_of(not_number, st.integers(min_value=4097)),
        "globalFilters.ram",
    ),
    (
        "date_range",
        (GF, "ram", "type"),
        st.sampled_from(["regex", "string", "stringArray", "date", "x"]),
        None,
    ),
    ("date_range", (GF, "geography", "type"), st.just("regex"), None),
    (
        "date_range",
        (GF, "geography", "continent", 0),
        outside("AF", "AN", "AS", "EU", "NA", "OC", "SA"),
        None,
    ),
    (
        "date_range",
        (GF, "geography", "country", 0),
        st.text(max_size=4).filter(lambda s: not re.fullmatch("[A-Z]{2}", s)),
        None,
    ),
    (
        "date_range",
        (GF, "geography", "usState"),
        st.lists(st.sampled_from(["NY", "us-ny", "US-N", 1]), min_size=1),
        None,
    ),
    ("date_range", (GF, "geography", "continent"), st.one_of(st.just([]), st.just("AS")), None),
    ("date_range", (GF, "licenseStatus"), st.one_of(not_array, st.just([])), None),
    ("date_range", (GF, "licenseStatus", 0, "activated"), not_bool, None),
    ("date_range", (GF, "licenseStatus", 1, "bogus"), st.booleans(), None),
    ("churn_histogram_days", (GF, "optOut", 0, "current"), not_bool, None),
    ("date_range", ("levels",), not_object.filter(lambda v: v is not None), None),
    ("date_range", ("levels", "level2"), st.just({"property": "prodEdition", "segments": [PRO]}), "levels"),
    ("current", ("levels", "level4"), st.just({"property": "prodEdition", "segments": [PRO]}), None),
    ("current", ("levels", "level1"), st.just(DELETE), "levels.level2"),
    ("date_range", (*L1, "property"), st.one_of(not_string, st.sampled_from(["", "os", "gpu.colour"])), None),
    ("date_range", (*L1, "segments"), st.one_of(not_array, st.just([])), None),
    ("date_range", (*SEG, "type"), outside("string", "stringArray", "regex", "number", "numberRange"), None),
    ("date_range", (*SEG, "split"), not_bool, None),
    ("date_range", (*SEG, "limit"), bad_int(1), None),
    ("current", ("levels", "level2", "segments", 0, "split"), st.just(True), None),
    (
        "current",
        ("levels", "level2", "segments", 1, "segmentLabel"),
        st.one_of(st.just("Pro"), st.just(DELETE), not_string),
        None,
    ),
    ("current", ("levels", "level3", "segments", 0, "value"), st.integers(), None),
    ("basic_event_timeline", ("events",), st.one_of(not_array, st.just(DELETE)), None),
    ("basic_event_timeline", ("events", 0, "name"), st.one_of(not_string, st.just(DELETE)), None),
    ("basic_event_timeline", (*COMBI, "categoryType"), outside("string", "regex"), None),
    ("basic_event_timeline", (*COMBI, "name"), st.sampled_from(["(", "*x", "[", "a)"]), None),
    ("basic_event_timeline", ("dataView",), outside("usageCounts", "customValues"), None),
    (
        "basic_event_timeline",
        ("divisor",),
        outside("users", "sessions", "runtime", "usageCounts", None),
        None,
    ),
    (
        "lifetime_event_data_table",
        ("sorting", "events"),
        outside("alpha", "eventCounts", "uniqueUsersUsedAtLeastOnce"),
        None,
    ),
    ("lifetime_event_data_table", ("sorting", "eventsDirection"), outside("asc", "desc"), None),
    ("lifetime_event_data_table", ("paging", "maxResults"), bad_int(0), None),
    ("lifetime_event_data_table", ("categorizeEvents",), not_bool, None),
    (
        "lifetime_event_data_table",
        ("segmentBy",),
        st.one_of(st.just(""), not_string.filter(lambda v: v is not None)),
        None,
    ),
    ("property_values", ("granularity",), outside("platform", "version", "edition", None), None),
    ("property_values", ("property",), st.one_of(not_string, st.just(DELETE)), None),
    ("license_keys_update", ("licenseKey",), st.one_of(not_string, st.just(""), st.just(DELETE)), None),
    ("license_keys_update", ("installQuota",), bad_int(0), None),
    ("license_keys_update", ("licenseStatus", "activated"), not_bool, None),
    ("license_keys_insert", ("notes",), not_string, None),
    ("custom_events_last_lines", ("lineCount",), st.one_of(bad_int(1, 1000), st.just(DELETE)), None),
    (
        "raw_events_download_url",
        ("fileName",),
        st.one_of(not_string, st.sampled_from(["", "../x", "a/b", ".x", "a" * 201])),
        None,
    ),
    (
        "client_property_list",
        ("retDailyData", "startDate"),
        st.one_of(bad_date, st.just("2023-07-14")),
        "retDailyData",
    ),
    ("client_property_list", ("properties",), not_array, None),
    ("client_property_list", ("properties", 0), not_string, "properties[0]"),
]
for _report, _body in VALID.items():
    if isinstance(_body, dict) and _report not in {
        "client_property_list_export",
        "license_keys_insert",
        "license_keys_update",
    }:
        MUTATIONS.append((_report, ("unknownField",), st.integers(), None))


def json_path(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def set_at(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    elif isinstance(target, list) and path[-1] >= len(target):
        target.append(value)
    else:
        target[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any, str]:
    report, path, values, expected = draw(st.sampled_from(MUTATIONS))
    request_body = copy.deepcopy(VALID[report])
    set_at(request_body, path, draw(values))
    return report, request_body, expected or json_path(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_every_mutation_is_rejected_at_its_path(case):
    report, request_body, expected = case
    problems = problems_of(report, request_body)
    assert any(p.startswith((f"{expected}:", f"{expected}.", f"{expected}[")) for p in problems), problems


# --- properties: junk never crashes -----------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        *(key for value in VALID.values() if isinstance(value, dict) for key in value),
        *("type", "value", "min", "max", "split", "limit", "segmentLabel", "property", "segments"),
        *(
            "level1",
            "level2",
            "level3",
            "combiLabel",
            "combiArray",
            "categoryType",
            "nameType",
            "category",
            "name",
        ),
        *(
            "licenseStatus",
            "optOut",
            "backOff",
            "os",
            "geography",
            "gpu",
            "ram",
            "prodEdition",
            "dateInstalled",
        ),
        *("continent", "country", "usState", "version", "activated", "historical", "startAt", "maxResults"),
    }
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.builds(lambda: 10**5000),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["regex", "numberRange", "stringArray", "dateRange", "lost", "2024-01-01", "(", "US-NY"]),
)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=4), st.integers()), children, max_size=5
        ),
    ),
    max_leaves=25,
)


def subpaths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        paths += subpaths(item, (*prefix, key))
    return paths


GRAFT_POINTS = [(report, path) for report, value in VALID.items() for path in subpaths(value) if path]


def assert_only_validation_errors(report: Any, request_body: Any) -> None:
    try:
        validate_request(report, request_body)
    except UsageIntelligenceValidationError as exc:
        assert exc.problems
        assert all(isinstance(p, str) and ": " in p for p in exc.problems)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.sampled_from(VALIDATED_NAMES), junk), junk)
def test_junk_bodies_only_raise_validation_errors(report, request_body):
    assert_only_validation_errors(report, request_body)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(GRAFT_POINTS), junk)
def test_junk_grafted_into_valid_bodies_only_raises_validation_errors(graft, value):
    report, path = graft
    request_body = copy.deepcopy(VALID[report])
    set_at(request_body, path, value)
    assert_only_validation_errors(report, request_body)
