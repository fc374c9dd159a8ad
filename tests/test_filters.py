"""Builders produce exactly the seed examples' JSON and refuse mistakes with the validator's messages."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airflow_provider_usageintel.api.filters import (
    Event,
    EventCombination,
    EventMatch,
    GlobalFilters,
    Levels,
    Segment,
)
from airflow_provider_usageintel.api.validation import validate_global_filters, validate_request
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

#: The example filters of seed 001 ("Global Filters") as JSON text, and the builder call that matches each.
SEED_001: list[tuple[str, str, Callable[[], GlobalFilters]]] = [
    (
        "string",
        '{"prodBuild": {"type": "string", "value": ""}}',
        lambda: GlobalFilters().string("prodBuild", ""),
    ),
    (
        "stringArray",
        '{"prodBuild": {"type": "stringArray", "value": ["", "3017.enx-57718", "4180.vrx-81059"]}}',
        lambda: GlobalFilters().string_array("prodBuild", ["", "3017.enx-57718", "4180.vrx-81059"]),
    ),
    (
        "regex",
        '{"prodBuild": {"type": "regex", "value": "^30.{10}18$"}}',
        lambda: GlobalFilters().regex("prodBuild", "^30.{10}18$"),
    ),
    (
        "number",
        '{"displayCount": {"type": "number", "value": 3}}',
        lambda: GlobalFilters().number("displayCount", 3),
    ),
    (
        "numberRange",
        '{"ram": {"type": "numberRange", "min": 1024, "max": 4096}}',
        lambda: GlobalFilters().number_range("ram", min=1024, max=4096),
    ),
    (
        "licenseStatus",
        '{"licenseStatus": [{"activated": true, "whitelisted": true}, '
        '{"whitelisted": false, "expired": true}]}',
        lambda: GlobalFilters().license_status(
            {"activated": True, "whitelisted": True}, {"whitelisted": False, "expired": True}
        ),
    ),
    (
        "os string",
        '{"os": {"type": "string", "version": "Microsoft Windows 7", '
        '"edition": "Microsoft Windows Vista Home Premium"}}',
        lambda: GlobalFilters().os(
            version="Microsoft Windows 7", edition="Microsoft Windows Vista Home Premium"
        ),
    ),
    (
        "os stringArray",
        '{"os": {"type": "stringArray", "version": ["Microsoft Windows 7", "Microsoft Windows 8"], '
        '"edition": ["Microsoft Windows XP Professional"]}}',
        lambda: GlobalFilters().os(
            version=["Microsoft Windows 7", "Microsoft Windows 8"],
            edition=["Microsoft Windows XP Professional"],
        ),
    ),
    (
        "geography",
        '{"geography": {"type": "stringArray", "continent": ["AS", "OC"], "country": ["DE"], '
        '"usState": ["US-NY", "US-NJ", "US-KS"]}}',
        lambda: GlobalFilters().geography(
            continent=["AS", "OC"], country=["DE"], us_state=["US-NY", "US-NJ", "US-KS"]
        ),
    ),
    (
        "gpu",
        '{"gpu": {"type": "stringArray", "vendor": ["NVIDIA", "Intel"], "model": ["AMD Radeon HD 4600"]}}',
        lambda: GlobalFilters().gpu(vendor=["NVIDIA", "Intel"], model=["AMD Radeon HD 4600"]),
    ),
    (
        "optOut",
        '{"optOut": [{"historical": true, "current": false}, {"historical": false}]}',
        lambda: GlobalFilters().opt_out({"historical": True, "current": False}, {"historical": False}),
    ),
]


def message(build: Callable[[], object]) -> list[str]:
    with pytest.raises(UsageIntelligenceValidationError) as info:
        build()
    return info.value.problems


@pytest.mark.parametrize(("name", "literal", "build"), SEED_001, ids=[case[0] for case in SEED_001])
def test_seed_001_examples_round_trip_exactly(name, literal, build):
    built = build()
    assert json.dumps(built) == json.dumps(json.loads(literal))
    assert built.to_dict() == json.loads(literal)
    assert validate_global_filters(built) == []
    assert GlobalFilters(json.loads(literal)) == built


def full_chain() -> GlobalFilters:
    return (
        GlobalFilters()
        .string("prodEdition", "Pro")
        .string_array("prodVersion", ["1.0", "1.1"])
        .regex("prodBuild", "^30.{10}18$")
        .number("displayCount", 3)
        .number_range("ram", min=1024, max=4096)
        .date_range("dateInstalled", min="2024-01-01")
        .date("dateLastSeen", "2024-06-30")
        .license_status({"activated": True, "whitelisted": True}, {"whitelisted": False, "expired": True})
        .os(
            version=["Microsoft Windows 7", "Microsoft Windows 8"],
            edition=["Microsoft Windows XP Professional"],
        )
        .geography(continent=["AS", "OC"], country=["DE"], us_state=["US-NY", "US-NJ", "US-KS"])
        .gpu(vendor=["NVIDIA", "Intel"], model=["AMD Radeon HD 4600"])
        .opt_out({"historical": True, "current": False}, {"historical": False})
        .back_off({"current": False})
        .add("C03", {"type": "string", "value": "beta"})
    )


def test_full_chain_is_a_plain_json_mapping():
    filters = full_chain()
    plain = filters.to_dict()
    assert type(plain) is dict
    assert type(plain["prodVersion"]["value"]) is list
    assert list(filters) == list(plain)
    assert len(filters) == 14
    assert filters["ram"] == {"type": "numberRange", "min": 1024, "max": 4096}
    assert filters["dateInstalled"] == {"type": "dateRange", "min": "2024-01-01"}
    assert filters["backOff"] == [{"current": False}]
    assert json.loads(json.dumps(filters)) == plain
    plain["ram"]["min"] = 0
    assert filters["ram"]["min"] == 1024


def test_builders_compose_into_a_valid_request():
    request_body = {
        "startDate": "2024-01-01",
        "stopDate": "2024-01-31",
        "clientStatus": ["active"],
        "globalFilters": full_chain(),
        "levels": Levels()
        .level("prodEdition", Segment.regex(".*", split=True, limit=10))
        .level("os.version", Segment.string("Microsoft Windows 7", "Windows 7"), Segment.regex("^Mac", "Mac"))
        .level("ram", Segment.number_range(label="small", max=4096), Segment.number(8192, "8 GB")),
    }
    validate_request("date_range", request_body)
    events = [
        Event("File", "Open"),
        EventCombination("Open or Save", [Event("File", "Open"), Event("File", "Save")]),
    ]
    validate_request(
        "basic_event_timeline", {"startDate": "2024-01-01", "stopDate": "2024-01-02", "events": events}
    )


def test_granular_filters_pick_their_type():
    assert GlobalFilters().gpu(vendor="NVIDIA")["gpu"] == {"type": "string", "vendor": "NVIDIA"}
    assert GlobalFilters().geography(country="DE", us_state=("US-NY",))["geography"] == {
        "type": "stringArray",
        "country": ["DE"],
        "usState": ["US-NY"],
    }


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda: GlobalFilters().add("geography", {"type": "regex", "continent": "EU"}),
            [
                "globalFilters.geography.type: regex is not allowed for geography "
                "(allowed: string, stringArray)"
            ],
        ),
        (
            lambda: GlobalFilters().number_range("ram", min=4096, max=1024),
            ["globalFilters.ram.max: 1024 is below min 4096"],
        ),
        (
            lambda: GlobalFilters().number_range("ram"),
            ["globalFilters.ram: numberRange needs min and/or max (allowed: min, max)"],
        ),
        (
            lambda: GlobalFilters().date_range("dateInstalled", min="2024-13-01"),
            [
                "globalFilters.dateInstalled.min: '2024-13-01' is not a real calendar date "
                "(allowed: YYYY-MM-DD)"
            ],
        ),
        (
            lambda: GlobalFilters().number("ram", "8"),
            ["globalFilters.ram.value: expected a finite number, got string"],
        ),
        (
            lambda: GlobalFilters().string("ram", "8"),
            ["globalFilters.ram.type: string is not allowed for ram (allowed: number, numberRange)"],
        ),
        (
            lambda: GlobalFilters().string_array("prodVersion", []),
            ["globalFilters.prodVersion.value: expected a non-empty array of strings, got an empty array"],
        ),
        (
            lambda: GlobalFilters().string_array("prodVersion", "1.0"),
            ["globalFilters.prodVersion.value: expected an array of strings, got string"],
        ),
        (
            lambda: GlobalFilters().regex("prodBuild", "("),
            [
                "globalFilters.prodBuild.value: '(' is not a valid regular expression: "
                "missing ), unterminated subpattern at position 0"
            ],
        ),
        (
            lambda: GlobalFilters().string("prodEdition", "Pro").string("prodEdition", "Home"),
            ["globalFilters.prodEdition: already set (allowed: one filter per property)"],
        ),
        (
            lambda: GlobalFilters().license_status(),
            ["globalFilters.licenseStatus: expected a non-empty array of objects, got an empty array"],
        ),
        (
            lambda: GlobalFilters().opt_out({"historic": True}),
            ["globalFilters.optOut[0].historic: unknown field (allowed: historical, current)"],
        ),
        (
            lambda: GlobalFilters().os(),
            ["globalFilters.os: needs at least one granularity (allowed: platform, version, edition)"],
        ),
        (
            lambda: GlobalFilters().geography(continent="XX", country=["de"], us_state="NY"),
            [
                "globalFilters.geography.continent[0]: 'XX' is not a continent code "
                "(allowed: AF, AN, AS, EU, NA, OC, SA)",
                "globalFilters.geography.country[0]: 'de' is not an ISO 3166-1 alpha-2 code "
                "(allowed: two capital letters, e.g. DE)",
                "globalFilters.geography.usState[0]: 'NY' is not an ISO 3166-2:US code "
                "(allowed: US-XX, e.g. US-NY)",
            ],
        ),
        (
            lambda: GlobalFilters().gpu(vendor=7),  # type: ignore[arg-type]
            ["globalFilters.gpu.vendor: expected an array of strings, got integer"],
        ),
        (
            lambda: GlobalFilters({"ram": {"type": "number"}}),
            ["globalFilters.ram.value: required with type number"],
        ),
    ],
)
def test_global_filter_builder_errors(build, expected):
    assert message(build) == expected


def test_a_refused_filter_is_not_added():
    filters = GlobalFilters().string("prodEdition", "Pro")
    with pytest.raises(UsageIntelligenceValidationError):
        filters.number("ram", -1).regex("prodBuild", "[")
    assert filters == {
        "prodEdition": {"type": "string", "value": "Pro"},
        "ram": {"type": "number", "value": -1},
    }


def test_segment_shapes():
    assert Segment.string("Pro", "Pro users") == {
        "type": "string",
        "value": "Pro",
        "segmentLabel": "Pro users",
    }
    assert Segment.string_array(("1.0", "1.1"), split=True, limit=3) == {
        "type": "stringArray",
        "value": ["1.0", "1.1"],
        "split": True,
        "limit": 3,
    }
    assert Segment.regex(".*", split=True) == {"type": "regex", "value": ".*", "split": True}
    assert Segment.regex("^1", "v1") == {"type": "regex", "value": "^1", "segmentLabel": "v1"}
    assert Segment.number(2, "two") == {"type": "number", "value": 2, "segmentLabel": "two"}
    assert Segment.number_range(label="big", min=8192) == {
        "type": "numberRange",
        "min": 8192,
        "segmentLabel": "big",
    }


def test_levels_shape():
    levels = Levels().level("prodEdition", Segment.regex(".*", split=True))
    assert levels.to_dict() == {
        "level1": {"property": "prodEdition", "segments": [{"type": "regex", "value": ".*", "split": True}]}
    }
    assert type(levels.to_dict()["level1"]["segments"][0]) is dict


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda: Segment.regex(".*"),
            ["segment.segmentLabel: required when split is not true (allowed: a unique label)"],
        ),
        (
            lambda: Segment.regex(".*", "all", limit=5),
            ["segment.limit: only allowed when split is true"],
        ),
        (
            lambda: Segment.string_array(["a"], split=True, limit=0),
            ["segment.limit: 0 is out of range (allowed: integers >= 1)"],
        ),
        (
            lambda: Segment.number_range(label="none"),
            ["segment: numberRange needs min and/or max (allowed: min, max)"],
        ),
        (
            lambda: Segment.string("Pro", ""),
            ["segment.segmentLabel: expected a non-empty string, got an empty string"],
        ),
        (
            lambda: Levels().level("prodEdition"),
            ["levels.level1.segments: expected a non-empty array of segments, got an empty array"],
        ),
        (
            lambda: Levels().level("prodEdition", Segment.string("Pro", "x"), Segment.string("Home", "x")),
            ["levels.level1.segments[1].segmentLabel: 'x' is already used by segments[0] (allowed: unique)"],
        ),
        (
            lambda: Levels().level("gpu", Segment.string("NVIDIA", "nv")),
            ["levels.level1.property: 'gpu' needs a granularity (allowed: gpu.vendor, gpu.model)"],
        ),
        (
            lambda: Levels().level("ram", Segment.regex(".*", split=True)),
            ["levels.level1.segments[0].type: regex is not allowed for ram (allowed: number, numberRange)"],
        ),
        (
            lambda: (
                Levels()
                .level("a", Segment.string("x", "x"))
                .level("b", Segment.string("x", "x"))
                .level("c", Segment.string("x", "x"))
                .level("d", Segment.string("x", "x"))
            ),
            ["levels: at most 3 levels (allowed: level1, level2, level3)"],
        ),
    ],
)
def test_level_and_segment_builder_errors(build, expected):
    assert message(build) == expected


def test_event_shapes():
    assert Event("File Operations", "Open") == {"category": "File Operations", "name": "Open"}
    combination = EventCombination(
        "Open and Save",
        [
            Event("File Operations", "Open"),
            EventMatch("^File", "Save.*", category_regex=True, name_regex=True),
        ],
    )
    assert json.dumps(combination) == json.dumps(
        {
            "combiLabel": "Open and Save",
            "combiArray": [
                {
                    "categoryType": "string",
                    "nameType": "string",
                    "category": "File Operations",
                    "name": "Open",
                },
                {"categoryType": "regex", "nameType": "regex", "category": "^File", "name": "Save.*"},
            ],
        }
    )


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: Event("File", 3), ["event.name: expected a string, got integer"]),  # type: ignore[arg-type]
        (
            lambda: EventMatch("File", "*", name_regex=True),
            ["event.name: '*' is not a valid regular expression: nothing to repeat at position 0"],
        ),
        (
            lambda: EventCombination("x", []),
            ["event.combiArray: expected a non-empty array of event matches, got an empty array"],
        ),
        (
            lambda: EventCombination("", [Event("a", "b")]),
            ["event.combiLabel: expected a non-empty string, got an empty string"],
        ),
        (
            lambda: EventCombination("x", [{"category": "a", "name": "(", "nameType": "regex"}]),
            [
                "event.combiArray[0].categoryType: required (allowed: string, regex)",
                "event.combiArray[0].name: '(' is not a valid regular expression: "
                "missing ), unterminated subpattern at position 0",
            ],
        ),
    ],
)
def test_event_builder_errors(build, expected):
    assert message(build) == expected
