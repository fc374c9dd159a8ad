"""What the emulated server accepts in a request body, read from the seeds themselves.

The emulator must catch client bugs, so it never asks the client's validator
(:mod:`airflow_provider_usageintel.api.validation`) what is valid: this module
is its own reading of seed 000 (request samples), seed 001 (churn body, global
filters) and the field lists of the public docs. A body that breaks a rule
answers ``400 SYNTAX ERROR`` with every problem joined by ``"; "``; whether a
property exists for the product is decided later, when the report runs (422).

Checks are plain functions ``check(value, path) -> problems``, composed per report.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_usageintel.emulator.app import ApiError

Check = Callable[[Any, str], list[str]]

# --------------------------------------------------------------------------- vocabulary of the seeds

#: seed 001 "String-based filters", plus the ids and custom properties of the later docs.
STRING_PROPERTIES: frozenset[str] = frozenset(
    {
        "prodVersion",
        "prodEdition",
        "prodBuild",
        "prodLanguage",
        "licenseType",
        "formFactor",
        "osLanguage",
        "osWordLength",
        "cpuType",
        "dotNetVersion",
        "licenseKey",
        "machineId",
        "clientId",
    }
)
#: seed 001 "Numeric filters".
NUMERIC_PROPERTIES: frozenset[str] = frozenset(
    {
        "cpuCores",
        "displayCount",
        "ram",
        "resolutionWidth",
        "resolutionHeight",
        "lifetimeRuntimeMinutes",
        "lifetimeSessionCount",
    }
)
DATE_PROPERTIES: frozenset[str] = frozenset({"dateInstalled", "dateLastSeen"})
#: custom properties C01..C20.
CUSTOM_PROPERTY = re.compile(r"C(0[1-9]|1[0-9]|20)")
#: seed 001 "Special filters" with granularity levels.
GRANULARITIES: Mapping[str, tuple[str, ...]] = {
    "os": ("platform", "version", "edition"),
    "geography": ("continent", "country", "usState"),
    "gpu": ("vendor", "model"),
}
#: seed 001: "Regular expressions are not supported in geography filters."
NO_REGEX: frozenset[str] = frozenset({"geography"})
#: seed 001's licenseStatus sub-values, and the registry's newer names for two of them.
LICENSE_FLAGS: tuple[str, ...] = ("activated", "blacklisted", "expired", "whitelisted", "blocked", "allowed")
HISTORY_FLAGS: tuple[str, ...] = ("historical", "current")
FLAG_FILTERS: Mapping[str, tuple[str, ...]] = {
    "licenseStatus": LICENSE_FLAGS,
    "optOut": HISTORY_FLAGS,
    "backOff": HISTORY_FLAGS,
}
STRING_TYPES: tuple[str, ...] = ("string", "stringArray", "regex")
NUMBER_TYPES: tuple[str, ...] = ("number", "numberRange")
DATE_TYPES: tuple[str, ...] = ("date", "dateRange")
LEVEL_KEYS: tuple[str, ...] = ("level1", "level2", "level3")
HISTOGRAM_METRICS: tuple[str, ...] = (
    "eventCount",
    "averageCountPerActiveDay",
    "averageCountPerActiveWeek",
    "averageCountPerActiveMonth",
)
DATE_REPORTED_LOST: tuple[str, ...] = ("dateLastSeen", "dateDeclaredLost")
CLIENT_STATUSES: tuple[str, ...] = ("new", "active", "lost")
SHOW_EVENTS: tuple[str, ...] = ("all", "basic", "advanced")
MAX_LINE_COUNT = 1000

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --------------------------------------------------------------------------- building blocks


def _at(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _want(path: str, what: str, value: object) -> list[str]:
    return [f"{path or 'body'}: expected {what}, got {_kind(value)}"]


def string(value: Any, path: str) -> list[str]:
    return [] if isinstance(value, str) else _want(path, "a string", value)


def name(value: Any, path: str) -> list[str]:
    return [] if isinstance(value, str) and value else _want(path, "a non-empty string", value)


def boolean(value: Any, path: str) -> list[str]:
    return [] if isinstance(value, bool) else _want(path, "true or false", value)


def number(value: Any, path: str) -> list[str]:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return [] if ok else _want(path, "a finite number", value)


def integer(low: int, high: int | None = None) -> Check:
    def check(value: Any, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, int):
            return _want(path, "an integer", value)
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" and at most {high}"
            return [f"{path}: {value} is out of range (at least {low}{upper})"]
        return []

    return check


def date(value: Any, path: str) -> list[str]:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return [f"{path}: {value!r} is not a YYYY-MM-DD date"]
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return [f"{path}: {value} is not a calendar date"]
    return []


def one_of(*choices: str | None) -> Check:
    def check(value: Any, path: str) -> list[str]:
        if (value is None or isinstance(value, str)) and value in choices:
            return []
        shown = ", ".join("null" if c is None else c for c in choices)
        return [f"{path}: {value!r} is not one of {shown}"]

    return check


def nullable(check: Check) -> Check:
    return lambda value, path: [] if value is None else check(value, path)


def array_of(check: Check, *, non_empty: bool = False) -> Check:
    def checked(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return _want(path, "an array", value)
        if non_empty and not value:
            return [f"{path}: expected a non-empty array"]
        return [p for i, item in enumerate(value) for p in check(item, f"{path}[{i}]")]

    return checked


def regex(value: Any, path: str) -> list[str]:
    """A pattern the server's (Java) engine could take; ``\\p{..}`` and named groups are Java's."""
    if not isinstance(value, str):
        return _want(path, "a regular expression", value)
    python = re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", re.sub(r"\\[pP]\{\w+\}", ".", value))
    try:
        re.compile(python)
    except re.error as exc:
        return [f"{path}: {value!r} is not a valid regular expression ({exc})"]
    return []


Rule = Callable[[Mapping[str, Any], str], list[str]]


def obj(
    fields: Mapping[str, Check],
    required: Sequence[str] = (),
    rules: Sequence[Rule] = (),
    *,
    open_fields: bool = False,
) -> Check:
    """An object: known fields checked, required ones present, unknown ones refused unless open."""

    def checked(value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return _want(path, "an object", value)
        problems = [f"{_at(path, key)}: required" for key in required if key not in value]
        for key, item in value.items():
            check = fields.get(key)
            if check is not None:
                problems += check(item, _at(path, key))
            elif not open_fields:
                problems.append(f"{_at(path, key)}: unknown field")
        if not problems:
            for rule in rules:
                problems += rule(value, path)
        return problems

    return checked


# --------------------------------------------------------------------------- typed entries (seed 001)


def _typed(entry: Any, path: str, types: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """``{"type": ..., "value"|"min"/"max": ...}`` of a filter or a segment."""
    if not isinstance(entry, dict):
        return _want(path, "an object with a type", entry)
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in types:
        return [f"{_at(path, 'type')}: {kind!r} is not allowed here ({', '.join(types)})"]
    allowed_keys = {"type", *extra, *(("min", "max") if kind.endswith("Range") else ("value",))}
    problems = [f"{_at(path, key)}: not allowed with type {kind}" for key in entry if key not in allowed_keys]
    if kind.endswith("Range"):
        bound = number if kind == "numberRange" else date
        present = [key for key in ("min", "max") if key in entry]
        if not present:
            return [*problems, f"{path}: {kind} needs min and/or max"]
        return problems + [p for key in present for p in bound(entry[key], _at(path, key))]
    if "value" not in entry:
        return [*problems, f"{_at(path, 'value')}: required"]
    value_check: Check = {
        "string": string,
        "stringArray": array_of(string, non_empty=True),
        "regex": regex,
        "number": number,
        "date": date,
    }[kind]
    return problems + value_check(entry["value"], _at(path, "value"))


def _types_of(prop: str) -> tuple[str, ...]:
    if prop in STRING_PROPERTIES or CUSTOM_PROPERTY.fullmatch(prop):
        return STRING_TYPES
    if prop in NUMERIC_PROPERTIES:
        return NUMBER_TYPES
    if prop in DATE_PROPERTIES:
        return DATE_TYPES
    return STRING_TYPES + NUMBER_TYPES + DATE_TYPES


def _flags(flags: Sequence[str]) -> Check:
    """licenseStatus/optOut/backOff: an array of objects of booleans (ORed objects, ANDed flags)."""
    condition = obj(dict.fromkeys(flags, boolean))

    def checked(value: Any, path: str) -> list[str]:
        problems = array_of(condition, non_empty=True)(value, path)
        if not problems and any(not item for item in value):
            problems.append(f"{path}: a condition names no flag")
        return problems

    return checked


def _granular(prop: str) -> Check:
    """os, geography, gpu: one type for the granularities given, which are ORed."""
    parts = GRANULARITIES[prop]
    types = ("string", "stringArray") if prop in NO_REGEX else STRING_TYPES

    def checked(entry: Any, path: str) -> list[str]:
        if not isinstance(entry, dict):
            return _want(path, "an object with a type", entry)
        kind = entry.get("type")
        if not isinstance(kind, str) or kind not in types:
            return [f"{_at(path, 'type')}: {kind!r} is not allowed for {prop} ({', '.join(types)})"]
        problems = [f"{_at(path, key)}: unknown field" for key in entry if key not in ("type", *parts)]
        given = [part for part in parts if part in entry]
        if not given:
            problems.append(f"{path}: needs at least one of {', '.join(parts)}")
        value_check = {"string": string, "stringArray": array_of(string, non_empty=True), "regex": regex}[
            kind
        ]
        return problems + [p for part in given for p in value_check(entry[part], _at(path, part))]

    return checked


_SPECIAL: Mapping[str, Check] = {
    **{prop: _flags(flags) for prop, flags in FLAG_FILTERS.items()},
    **{prop: _granular(prop) for prop in GRANULARITIES},
}


def global_filters(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return _want(path, "an object", value)
    problems: list[str] = []
    for prop, entry in value.items():
        where = _at(path, prop)
        special = _SPECIAL.get(prop)
        problems += special(entry, where) if special else _typed(entry, where, _types_of(prop))
    return problems


# --------------------------------------------------------------------------- levels, segments, events


def segment(prop: str) -> Check:
    """A level's segment: typed; ``split`` only for stringArray/regex; a label unless split."""
    head = prop.split(".", 1)[0]
    types = _types_of(prop) if head not in GRANULARITIES else STRING_TYPES
    types = tuple(t for t in types if t not in DATE_TYPES)

    def checked(entry: Any, path: str) -> list[str]:
        problems = _typed(entry, path, types, ("segmentLabel", "split", "limit"))
        if problems:
            return problems
        split = entry.get("split", False)
        if not isinstance(split, bool):
            return _want(_at(path, "split"), "true or false", split)
        if split and entry["type"] not in ("stringArray", "regex"):
            problems.append(f"{_at(path, 'split')}: only stringArray and regex segments split")
        if "limit" in entry:
            problems += integer(1)(entry["limit"], _at(path, "limit"))
            if not split:
                problems.append(f"{_at(path, 'limit')}: only with split")
        if not split:
            problems += name(entry.get("segmentLabel"), _at(path, "segmentLabel"))
        return problems

    return checked


def segments_of(prop: Any, *, non_empty: bool = True) -> Check:
    return array_of(segment(prop if isinstance(prop, str) else ""), non_empty=non_empty)


def _level(value: Any, path: str) -> list[str]:
    problems = obj({"property": name, "segments": lambda v, p: []}, ("property", "segments"))(value, path)
    if problems:
        return problems
    return segments_of(value["property"])(value["segments"], _at(path, "segments"))


def levels(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    problems = obj(dict.fromkeys(LEVEL_KEYS, _level))(value, path)
    if problems:
        return problems
    if set(value) != set(LEVEL_KEYS[: len(value)]):
        problems.append(f"{path}: levels must be level1, level2, level3 in order, none skipped")
    return problems


_MATCH = obj(
    {
        "categoryType": one_of("string", "regex"),
        "nameType": one_of("string", "regex"),
        "category": string,
        "name": string,
    },
    ("categoryType", "nameType", "category", "name"),
)


def event(value: Any, path: str) -> list[str]:
    """``{category, name}`` or a combination ``{combiLabel, combiArray}``."""
    if isinstance(value, dict) and ("combiLabel" in value or "combiArray" in value):
        combination = obj(
            {"combiLabel": name, "combiArray": array_of(_MATCH, non_empty=True)}, ("combiLabel", "combiArray")
        )
        problems = combination(value, path)
        for i, match in enumerate([] if problems else value["combiArray"]):
            for type_key, key in (("categoryType", "category"), ("nameType", "name")):
                if match[type_key] == "regex":
                    problems += regex(match[key], f"{path}.combiArray[{i}].{key}")
        return problems
    return obj({"category": string, "name": string}, ("category", "name"))(value, path)


#: seed 000 (lines 426, 576, 624) sends ``"events": []``: no event asked for, so none is answered.
events = array_of(event)


# --------------------------------------------------------------------------- rules across fields


def _dates_in_order(body: Mapping[str, Any], path: str) -> list[str]:
    start, stop = body.get("startDate"), body.get("stopDate")
    if isinstance(start, str) and isinstance(stop, str) and stop < start:
        return [f"{_at(path, 'stopDate')}: {stop} is before startDate {start}"]
    return []


def _lost_needs_days(body: Mapping[str, Any], path: str) -> list[str]:
    if "lost" in (body.get("clientStatus") or []) and body.get("daysUntilDeclaredLost") is None:
        return ["daysUntilDeclaredLost: required when clientStatus asks for lost clients"]
    return []


def _one_level_with_split(body: Mapping[str, Any], path: str) -> list[str]:
    if body.get("dateSplit") is not None and len(body.get("levels") or {}) > 1:
        return ["levels: only one level with a dateSplit"]
    return []


def _segments_need_property(body: Mapping[str, Any], path: str) -> list[str]:
    if body.get("segments") is not None and body.get("segmentBy") is None:
        return ["segments: needs segmentBy"]
    return []


def _granularity(body: Mapping[str, Any], path: str) -> list[str]:
    granularity = body.get("granularity")
    if granularity is None:
        return []
    parts = GRANULARITIES.get(body["property"])
    if parts is None or granularity not in parts:
        return [f"granularity: {granularity!r} does not apply to {body['property']}"]
    return []


def _segments_field(value: Any, path: str) -> list[str]:
    return [] if value is None else array_of(lambda v, p: [])(value, path)


def _event_segments(body: Mapping[str, Any], path: str) -> list[str]:
    """Seed 000 line 477 sends ``"segments": []``: one segment per value of ``segmentBy``."""
    if body.get("segments") is None:
        return []
    return segments_of(body.get("segmentBy") or "", non_empty=False)(body["segments"], "segments")


def _daily_dates_together(body: Mapping[str, Any], path: str) -> list[str]:
    """Seed 000 line 1042 sends ``"retDailyData": {}``: both dates or neither (the server's window)."""
    given = [key for key in ("startDate", "stopDate") if key in body]
    if len(given) != 1:
        return []
    missing = "stopDate" if given == ["startDate"] else "startDate"
    return [f"{_at(path, missing)}: required with {given[0]}"]


# --------------------------------------------------------------------------- report bodies

DATES: Mapping[str, Check] = {"startDate": date, "stopDate": date}
PAGING = obj({"startAt": integer(0), "maxResults": integer(1)})
_GENERIC: Mapping[str, Check] = {
    #: seed 000 lines 268 and 322 send ``[]``: no restriction, the statuses of an absent field.
    "clientStatus": array_of(one_of(*CLIENT_STATUSES)),
    "groupBy": name,
    "daysUntilDeclaredLost": nullable(integer(1)),
    "dateReportedLost": one_of(*DATE_REPORTED_LOST),
    "globalFilters": global_filters,
    "resultMode": one_of("absolute", "percentOfActive", "percentOfTotal"),
    "levels": levels,
}
_SEGMENTED: Mapping[str, Check] = {"segmentBy": nullable(name), "segments": _segments_field}
_BOUNDS = obj({metric: array_of(number) for metric in HISTOGRAM_METRICS})
_KEY = obj(
    {
        "licenseKey": name,
        "licenseType": string,
        #: ``{}`` (seed 000 lines 719, 760) names no flag: a new key's defaults, a known key's kept.
        "licenseStatus": obj(dict.fromkeys(LICENSE_FLAGS, boolean)),
        "installQuota": integer(0),
        "notes": string,
        "expiryDate": nullable(date),
    },
    open_fields=True,
)


def _keys(value: Any, path: str) -> list[str]:
    """Seed 000: keys one by one or in batch."""
    return array_of(_KEY, non_empty=True)(value, path) if isinstance(value, list) else _KEY(value, path)


def _show_events(value: Any, path: str) -> list[str]:
    check = one_of(*SHOW_EVENTS)
    return array_of(check, non_empty=True)(value, path) if isinstance(value, list) else check(value, path)


def _anything(value: Any, path: str) -> list[str]:
    return []


#: seed 001's churn body; ``productId`` is checked where the route knows whether the path has it.
CHURN = obj(
    {
        "user": string,
        "sessionId": string,
        "productId": _anything,
        **DATES,
        "daysUntilDeclaredLost": integer(1),
        "dateReportedLost": one_of(*DATE_REPORTED_LOST),
        "globalFilters": global_filters,
    },
    ("startDate", "stopDate"),
    (_dates_in_order,),
)

REQUESTS: Mapping[str, Check] = {
    "product_properties": obj({}),
    "property_values": obj(
        {"property": name, "granularity": string, "startAfter": nullable(string)},
        ("property",),
        (_granularity,),
    ),
    "event_names": obj({"flat": boolean, "showEvents": _show_events}),
    "date_range": obj(
        {**DATES, **_GENERIC, "dateSplit": one_of("day", "week", "month", None)},
        ("startDate", "stopDate"),
        (_dates_in_order, _lost_needs_days, _one_level_with_split),
    ),
    "current": obj({"startDate": date, **_GENERIC}, ("startDate",), (_lost_needs_days,)),
    "usage_distribution": obj(
        {**DATES, "globalFilters": global_filters}, ("startDate", "stopDate"), (_dates_in_order,)
    ),
    "lifetime_event_histogram": obj(
        {
            **DATES,
            "groupBy": name,
            "globalFilters": global_filters,
            "events": events,
            "lowerBounds": _BOUNDS,
            "binUpperBounds": _BOUNDS,
        },
        ("startDate", "stopDate", "events"),
        (_dates_in_order,),
    ),
    "lifetime_event_data_table": obj(
        {
            **DATES,
            **_SEGMENTED,
            "globalFilters": global_filters,
            "events": nullable(events),
            "sorting": obj(
                {
                    "events": one_of("alpha", "eventCounts", "uniqueUsersUsedAtLeastOnce"),
                    "eventsDirection": one_of("asc", "desc"),
                    "segments": one_of(
                        "alpha",
                        "active",
                        "eventCounts",
                        "uniqueUsersUsedAtLeastOnce",
                        "percentUsedAtLeastOnce",
                    ),
                    "segmentsDirection": one_of("asc", "desc"),
                }
            ),
            "categorizeEvents": boolean,
            "paging": PAGING,
            "groupBy": name,
        },
        ("startDate", "stopDate"),
        (_dates_in_order, _segments_need_property, _event_segments),
    ),
    "basic_event_data_table": obj(
        {**DATES, "globalFilters": global_filters}, ("startDate", "stopDate"), (_dates_in_order,)
    ),
    "basic_event_timeline": obj(
        {
            **DATES,
            "dateSplit": one_of("day", "week", "month", None),
            "dataView": one_of("usageCounts", "customValues"),
            "divisor": one_of("users", "sessions", "runtime", "usageCounts", None),
            "events": events,
            "globalFilters": global_filters,
        },
        ("startDate", "stopDate", "events"),
        (_dates_in_order,),
    ),
    "advanced_events": obj(
        {**DATES, **_SEGMENTED, "globalFilters": global_filters, "events": nullable(events)},
        ("startDate", "stopDate"),
        (_dates_in_order, _segments_need_property, _event_segments),
    ),
    "churn_histogram_sessions": CHURN,
    "churn_histogram_runtime": CHURN,
    "churn_histogram_days": CHURN,
    "license_keys_search": obj(
        {"filters": obj({}, open_fields=True), "sorting": obj({}, open_fields=True), "paging": PAGING}
    ),
    "license_keys_update": _keys,
    "license_keys_insert": _keys,
    "custom_events_last_lines": obj({"lineCount": integer(1, MAX_LINE_COUNT)}, ("lineCount",)),
    "exceptions_last_lines": obj({"lineCount": integer(1, MAX_LINE_COUNT)}, ("lineCount",)),
    "client_property_list": obj(
        {
            "startAtClientId": nullable(string),
            "properties": array_of(name),
            "retDailyData": obj(
                {**DATES, "properties": array_of(name)}, (), (_daily_dates_together, _dates_in_order)
            ),
            "globalFilters": global_filters,
        }
    ),
    #: seed 000: ``Request Body schema: */*`` -- any text at all.
    "client_property_list_export": _anything,
}


def problems(name_: str, body: Any) -> list[str]:
    """Every rule ``body`` breaks as a request for ``name_`` (an absent body counts as ``{}``)."""
    return REQUESTS[name_]({} if body is None else body, "")


def refuse_invalid(name_: str, body: Any) -> None:
    """400 SYNTAX ERROR naming every problem, as the server words it."""
    found = problems(name_, body)
    if found:
        raise ApiError(400, "; ".join(found))
