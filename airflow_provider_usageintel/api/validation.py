"""Check request bodies before they leave the machine.

The API answers a malformed body with a terse error, or worse with a report
built on silently ignored fields. Checking locally names every problem at once,
each as ``<json.path>: <problem> (allowed: ...)``, before any network call.

Public helpers named ``validate_<part>`` return a list of problems so callers
can merge them; :func:`validate_request` and :func:`validate_date` raise one
:class:`UsageIntelligenceValidationError`. Nothing here trusts the input's
types: any JSON-like value (or junk) yields messages, never another exception.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from airflow_provider_usageintel.api.endpoints import REPORT_NAMES
from airflow_provider_usageintel.api.files import check_file_name
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

#: Checks one value at a JSON path and returns its problems.
Check = Callable[[object, str], list[str]]
#: Checks a relation between fields of one object (at a JSON path).
Rule = Callable[[Mapping[Any, Any], str], list[str]]

#: File calls whose bodies are checked too, although ``run_report`` does not accept them.
FILE_REQUESTS: tuple[str, ...] = (
    "custom_events_download_url",
    "exceptions_download_url",
    "raw_events_download_url",
)
VALIDATED_NAMES: tuple[str, ...] = REPORT_NAMES + FILE_REQUESTS

DATE_FORMAT = "YYYY-MM-DD"
DATE_SPLITS: tuple[str | None, ...] = ("day", "week", "month", None)
CLIENT_STATUSES: tuple[str, ...] = ("new", "active", "lost")
DATE_REPORTED_LOST: tuple[str, ...] = ("dateLastSeen", "dateDeclaredLost")
#: ``absolute`` and ``percentOfActive`` appear in the v3 samples; ``percentOfTotal`` completes the set.
RESULT_MODES: tuple[str, ...] = ("absolute", "percentOfActive", "percentOfTotal")
GROUP_BY: tuple[str, ...] = ("clientId", "machineId", "licenseKey", "C01..C20")
CUSTOM_PROPERTY = re.compile(r"C(0[1-9]|1[0-9]|20)")

STRING_PROPERTIES: frozenset[str] = frozenset(
    {
        "machineId",
        "clientId",
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
    }
)
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

STRING_TYPES: tuple[str, ...] = ("string", "stringArray", "regex")
NUMBER_TYPES: tuple[str, ...] = ("number", "numberRange")
DATE_TYPES: tuple[str, ...] = ("date", "dateRange")
FILTER_TYPES: tuple[str, ...] = STRING_TYPES + NUMBER_TYPES + DATE_TYPES
SEGMENT_TYPES: tuple[str, ...] = STRING_TYPES + NUMBER_TYPES
SPLIT_TYPES: tuple[str, ...] = ("stringArray", "regex")
GRANULAR_TYPES: tuple[str, ...] = ("string", "stringArray")
#: seed 001: "Regular expressions are not supported in geography filters"; os and gpu take them.
NO_REGEX_GRANULAR: frozenset[str] = frozenset({"geography"})
MATCH_TYPES: tuple[str, ...] = ("string", "regex")

LICENSE_FLAGS: tuple[str, ...] = ("activated", "blocked", "blacklisted", "expired", "allowed", "whitelisted")
HISTORY_FLAGS: tuple[str, ...] = ("historical", "current")
GRANULARITIES: Mapping[str, tuple[str, ...]] = {
    "os": ("platform", "version", "edition"),
    "geography": ("continent", "country", "usState"),
    "gpu": ("vendor", "model"),
}
CONTINENTS: tuple[str, ...] = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
LEVEL_KEYS: tuple[str, ...] = ("level1", "level2", "level3")

SORT_EVENTS: tuple[str, ...] = ("alpha", "eventCounts", "uniqueUsersUsedAtLeastOnce")
SORT_SEGMENTS: tuple[str, ...] = (
    "alpha",
    "active",
    "eventCounts",
    "uniqueUsersUsedAtLeastOnce",
    "percentUsedAtLeastOnce",
)
SORT_DIRECTIONS: tuple[str, ...] = ("asc", "desc")
DATA_VIEWS: tuple[str, ...] = ("usageCounts", "customValues")
DIVISORS: tuple[str | None, ...] = ("users", "sessions", "runtime", "usageCounts", None)
HISTOGRAM_METRICS: tuple[str, ...] = (
    "eventCount",
    "averageCountPerActiveDay",
    "averageCountPerActiveWeek",
    "averageCountPerActiveMonth",
)
#: v2 listed event names by tracking list: every event, or those enabled for basic/advanced tracking.
SHOW_EVENTS: tuple[str, ...] = ("all", "basic", "advanced")
MAX_LINE_COUNT = 1000

_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_US_STATE = re.compile(r"US-[A-Z]{2}")
#: Java-only regex syntax the server understands but Python's ``re`` does not: \p{..} classes, (?<name>..).
_JAVA_CLASS = re.compile(r"\\[pP]\{\w+\}")
_JAVA_GROUP = re.compile(r"\(\?<[A-Za-z][A-Za-z0-9]*>")

_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlevel = 2


# --- messages -----------------------------------------------------------------------------------


def _show(value: object) -> str:
    """A short, always-printable rendering of user input (long or deep junk is abbreviated)."""
    try:
        return _REPR.repr(value)
    except Exception:  # huge ints and broken __repr__ must not hide the real problem
        return f"<{type(value).__name__}>"


def _bare(value: object) -> str:
    """Dates and other strings unquoted, anything else abbreviated."""
    return value if isinstance(value, str) else _show(value)


def _choices(values: Iterable[object]) -> str:
    return allowed(["null" if v is None else v for v in values])


def _msg(path: str, problem: str, hint: Iterable[object] | str | None = None) -> str:
    text = f"{path or 'body'}: {problem}"
    if hint is None:
        return text
    return f"{text} (allowed: {(hint if isinstance(hint, str) else _choices(hint)) or 'none'})"


_KINDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("boolean", bool),
    ("integer", int),
    ("number", float),
    ("string", str),
    ("object", Mapping),
    ("array", (list, tuple)),
)


def _kind(value: object) -> str:
    """JSON vocabulary for a Python value, so messages read like the API documentation."""
    if value is None:
        return "null"
    for kind, types in _KINDS:
        if isinstance(value, types):
            return kind
    return type(value).__name__


def _expected(path: str, what: str, value: object, hint: Iterable[object] | str | None = None) -> str:
    return _msg(path, f"expected {what}, got {_kind(value)}", hint)


def _at(path: str, key: object) -> str:
    """``path.key``; keys that are not short strings are abbreviated like values."""
    name = key if isinstance(key, str) and len(key) <= _REPR.maxstring else _show(key)
    return f"{path}.{name}" if path else name


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


# --- scalar checks ------------------------------------------------------------------------------


def _is_array(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _accept(value: object, path: str) -> list[str]:
    return []


def _string(value: object, path: str) -> list[str]:
    return [] if isinstance(value, str) else [_expected(path, "a string", value)]


def _name(value: object, path: str) -> list[str]:
    if not isinstance(value, str):
        return [_expected(path, "a non-empty string", value)]
    return [] if value else [_msg(path, "expected a non-empty string, got an empty string")]


def _boolean(value: object, path: str) -> list[str]:
    return [] if isinstance(value, bool) else [_expected(path, "a boolean", value, "true, false")]


def _number(value: object, path: str) -> list[str]:
    return [] if _is_number(value) else [_expected(path, "a finite number", value)]


def _nullable(check: Check) -> Check:
    def nullable(value: object, path: str) -> list[str]:
        return [] if value is None else check(value, path)

    return nullable


def _one_of(choices: Sequence[str | None]) -> Check:
    def one_of(value: object, path: str) -> list[str]:
        if isinstance(value, (str, type(None))) and value in choices:
            return []
        return [_msg(path, f"{_show(value)} is not allowed", choices)]

    return one_of


def _integer(minimum: int, maximum: int | None = None) -> Check:
    bounds = f"integers >= {minimum}" if maximum is None else f"{minimum}..{maximum}"

    def integer(value: object, path: str) -> list[str]:
        if isinstance(value, bool) or not isinstance(value, int):
            return [_expected(path, "an integer", value, bounds)]
        if value < minimum or (maximum is not None and value > maximum):
            return [_msg(path, f"{_show(value)} is out of range", bounds)]
        return []

    return integer


def date_problems(value: object, path: str) -> list[str]:
    """Problems of one ``YYYY-MM-DD`` date that must exist in the calendar."""
    if not isinstance(value, str):
        return [_expected(path, "a date string", value, DATE_FORMAT)]
    if not _DATE_SHAPE.fullmatch(value):
        return [_msg(path, f"{_show(value)} is not a date", DATE_FORMAT)]
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return [_msg(path, f"{_show(value)} is not a real calendar date", DATE_FORMAT)]
    return []


def validate_date(value: object, field: str) -> str:
    """Return ``value`` as a ``YYYY-MM-DD`` string (``date`` objects are formatted) or raise."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = value.isoformat()
    problems = date_problems(value, field)
    if problems:
        raise UsageIntelligenceValidationError(problems)
    return cast(str, value)


def _compile(pattern: str) -> str | None:
    """Why ``pattern`` does not compile, or ``None``; Java-only syntax is neutralised first."""
    try:
        re.compile(_JAVA_GROUP.sub("(?:", _JAVA_CLASS.sub(".", pattern)))
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _regex(value: object, path: str) -> list[str]:
    if not isinstance(value, str):
        return [_expected(path, "a regular expression string", value)]
    reason = _compile(value)
    return (
        [] if reason is None else [_msg(path, f"{_show(value)} is not a valid regular expression: {reason}")]
    )


# --- arrays and objects -------------------------------------------------------------------------


def _array_of(check: Check, what: str, *, non_empty: bool = True) -> Check:
    def array_of(value: object, path: str) -> list[str]:
        if not isinstance(value, (list, tuple)):
            return [_expected(path, f"an array of {what}", value)]
        if non_empty and not value:
            return [_msg(path, f"expected a non-empty array of {what}, got an empty array")]
        return [p for i, item in enumerate(value) for p in check(item, _item(path, i))]

    return array_of


_string_list = _array_of(_string, "strings")


def _unknown_keys(value: Mapping[Any, Any], path: str, known: Sequence[str], problem: str) -> list[str]:
    return [_msg(_at(path, key), problem, known) for key in value if key not in known]


@dataclasses.dataclass(frozen=True)
class _Shape:
    """A JSON object: the checks of its fields, which must be present, and rules across fields."""

    fields: Mapping[str, Check]
    #: field name -> what is allowed, for the "required" message.
    required: Mapping[str, str] = dataclasses.field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    #: unknown fields pass through (documents whose full field list is not published).
    open: bool = False
    #: named in "required by <owner>" messages.
    owner: str = ""

    def __call__(self, value: object, path: str) -> list[str]:
        if not isinstance(value, Mapping):
            return [_expected(path, "an object", value)]
        problems = self._fields(value, path) + self._missing(value, path)
        for rule in self.rules:
            problems += rule(value, path)
        return problems

    def _fields(self, value: Mapping[Any, Any], path: str) -> list[str]:
        problems: list[str] = []
        for key, item in value.items():
            check = self.fields.get(key) if isinstance(key, str) else None
            if check is not None:
                problems += check(item, _at(path, key))
            elif not self.open:
                problems.append(_msg(_at(path, key), "unknown field", list(self.fields)))
        return problems

    def _missing(self, value: Mapping[Any, Any], path: str) -> list[str]:
        problem = f"required by {self.owner}" if self.owner else "required"
        return [
            _msg(_at(path, key), problem, hint) for key, hint in self.required.items() if key not in value
        ]


# --- typed values: global filters and segments ----------------------------------------------------

#: the fields that carry the value of each ``type``.
VALUE_KEYS: Mapping[str, tuple[str, ...]] = {
    "string": ("value",),
    "stringArray": ("value",),
    "regex": ("value",),
    "number": ("value",),
    "numberRange": ("min", "max"),
    "date": ("value",),
    "dateRange": ("min", "max"),
}
_VALUE_CHECKS: Mapping[str, Check] = {
    "string": _string,
    "stringArray": _string_list,
    "regex": _regex,
    "number": _number,
    "date": date_problems,
}
_RANGE_BOUNDS: Mapping[str, tuple[Check, str]] = {
    "numberRange": (_number, "below"),
    "dateRange": (date_problems, "before"),
}


def _type_of(entry: Mapping[Any, Any], path: str, owner: str, types: Sequence[str]) -> tuple[list[str], str]:
    """The entry's ``type`` if it is one of ``types``, else the problem (and an empty type)."""
    where = _at(path, "type")
    if "type" not in entry:
        return [_msg(where, "required", types)], ""
    kind = entry["type"]
    if isinstance(kind, str) and kind in types:
        return [], kind
    if isinstance(kind, str) and kind in FILTER_TYPES:
        return [_msg(where, f"{kind} is not allowed for {owner}", types)], ""
    return [_msg(where, f"{_show(kind)} is not allowed", types)], ""


def _range_problems(entry: Mapping[Any, Any], path: str, kind: str) -> list[str]:
    check, relation = _RANGE_BOUNDS[kind]
    present = [key for key in ("min", "max") if key in entry]
    if not present:
        return [_msg(path, f"{kind} needs min and/or max", "min, max")]
    problems = [p for key in present for p in check(entry[key], _at(path, key))]
    if problems or len(present) < 2:
        return problems
    low, high = cast(float, entry["min"]), cast(float, entry["max"])
    if high < low:
        return [_msg(_at(path, "max"), f"{_bare(high)} is {relation} min {_bare(low)}")]
    return []


def _typed_value(entry: Mapping[Any, Any], path: str, kind: str) -> list[str]:
    """Problems of the value fields of a ``type``d entry (filter or segment)."""
    if kind in _RANGE_BOUNDS:
        return _range_problems(entry, path, kind)
    if "value" not in entry:
        return [_msg(_at(path, "value"), f"required with type {kind}")]
    return _VALUE_CHECKS[kind](entry["value"], _at(path, "value"))


def _property_types(prop: str) -> tuple[str, ...]:
    if prop in STRING_PROPERTIES or CUSTOM_PROPERTY.fullmatch(prop):
        return STRING_TYPES
    if prop in NUMERIC_PROPERTIES:
        return NUMBER_TYPES
    if prop in DATE_PROPERTIES:
        return DATE_TYPES
    return FILTER_TYPES


def _typed_filter(prop: str, entry: object, path: str) -> list[str]:
    types = _property_types(prop)
    if not isinstance(entry, Mapping):
        return [_expected(path, "an object with a type", entry, types)]
    problems, kind = _type_of(entry, path, prop, types)
    if not kind:
        return problems
    keys = ("type", *VALUE_KEYS[kind])
    return _unknown_keys(entry, path, keys, f"not allowed with type {kind}") + _typed_value(entry, path, kind)


# --- special global filters -----------------------------------------------------------------------


def _flags(flags: Sequence[str], *, non_empty: bool = True) -> Check:
    """An object of booleans: a filter condition (ANDed flags) must name one, a key's status need not."""
    what = "a non-empty object of booleans" if non_empty else "an object of booleans"

    def condition(value: object, path: str) -> list[str]:
        if not isinstance(value, Mapping):
            return [_expected(path, what, value, flags)]
        if non_empty and not value:
            return [_msg(path, f"expected {what}, got an empty object", flags)]
        problems = _unknown_keys(value, path, flags, "unknown field")
        return problems + [p for key in flags if key in value for p in _boolean(value[key], _at(path, key))]

    return condition


def _continent(value: str, path: str) -> list[str]:
    return [] if value in CONTINENTS else [_msg(path, f"{_show(value)} is not a continent code", CONTINENTS)]


def _country(value: str, path: str) -> list[str]:
    if _COUNTRY.fullmatch(value):
        return []
    return [_msg(path, f"{_show(value)} is not an ISO 3166-1 alpha-2 code", "two capital letters, e.g. DE")]


def _us_state(value: str, path: str) -> list[str]:
    if _US_STATE.fullmatch(value):
        return []
    return [_msg(path, f"{_show(value)} is not an ISO 3166-2:US code", "US-XX, e.g. US-NY")]


_CODES: Mapping[str, Callable[[str, str], list[str]]] = {
    "continent": _continent,
    "country": _country,
    "usState": _us_state,
}


def _granular_value(value: object, path: str, kind: str, part: str) -> list[str]:
    """A string (string), a pattern (regex) or strings (stringArray); codes checked for geography."""
    if kind == "regex":
        return _regex(value, path)
    problems = _string(value, path) if kind == "string" else _string_list(value, path)
    code = _CODES.get(part)
    if problems or code is None:
        return problems
    if isinstance(value, str):
        return code(value, path)
    return [p for i, item in enumerate(cast(list[str], value)) for p in code(item, _item(path, i))]


def _granular(prop: str) -> Check:
    """os, geography and gpu: granularity fields, ORed, all of one type (no regex for geography)."""
    parts = GRANULARITIES[prop]
    types = GRANULAR_TYPES if prop in NO_REGEX_GRANULAR else STRING_TYPES

    def granular(entry: object, path: str) -> list[str]:
        if not isinstance(entry, Mapping):
            return [_expected(path, "an object with a type", entry, types)]
        problems, kind = _type_of(entry, path, prop, types)
        problems += _unknown_keys(entry, path, ("type", *parts), "unknown field")
        given = [part for part in parts if part in entry]
        if not given:
            problems.append(_msg(path, "needs at least one granularity", parts))
        if kind:
            problems += [
                p for part in given for p in _granular_value(entry[part], _at(path, part), kind, part)
            ]
        return problems

    return granular


_SPECIAL_FILTERS: Mapping[str, Check] = {
    "licenseStatus": _array_of(_flags(LICENSE_FLAGS), "objects"),
    "optOut": _array_of(_flags(HISTORY_FLAGS), "objects"),
    "backOff": _array_of(_flags(HISTORY_FLAGS), "objects"),
    **{prop: _granular(prop) for prop in GRANULARITIES},
}


def validate_filter(prop: object, entry: object, path: str) -> list[str]:
    """Problems of one global filter; unknown property names pass if their entry is well typed."""
    if not isinstance(prop, str) or not prop:
        return [_msg(path, f"{_show(prop)} is not a property name", "non-empty strings")]
    special = _SPECIAL_FILTERS.get(prop)
    return special(entry, path) if special else _typed_filter(prop, entry, path)


def validate_global_filters(filters: object, path: str = "globalFilters") -> list[str]:
    """Problems of a ``globalFilters`` object (``null`` means no filter)."""
    if filters is None:
        return []
    if not isinstance(filters, Mapping):
        return [_expected(path, "an object", filters)]
    return [p for prop, entry in filters.items() for p in validate_filter(prop, entry, _at(path, prop))]


# --- levels and segments ----------------------------------------------------------------------------


def _split_rules(segment: Mapping[Any, Any], path: str, kind: str) -> list[str]:
    """``split`` only for stringArray/regex, ``limit`` only with split, a label when not splitting."""
    split = segment.get("split", False)
    problems = _boolean(split, _at(path, "split")) if "split" in segment else []
    if split is True and kind not in SPLIT_TYPES:
        problems.append(_msg(_at(path, "split"), f"not allowed with type {kind}", SPLIT_TYPES))
    if "limit" in segment:
        problems += _integer(1)(segment["limit"], _at(path, "limit"))
        if split is not True:
            problems.append(_msg(_at(path, "limit"), "only allowed when split is true"))
    if "segmentLabel" in segment:
        problems += _name(segment["segmentLabel"], _at(path, "segmentLabel"))
    elif split is not True:
        problems.append(_msg(_at(path, "segmentLabel"), "required when split is not true", "a unique label"))
    return problems


def validate_segment(segment: object, path: str, prop: str | None = None) -> list[str]:
    """Problems of one segment of a level (or of ``segments`` in event reports)."""
    types = tuple(t for t in _property_types(prop or "") if t in SEGMENT_TYPES)
    if not isinstance(segment, Mapping):
        return [_expected(path, "an object with a type", segment, types)]
    problems, kind = _type_of(segment, path, prop or "segments", types)
    if not kind:
        return problems
    keys = ("type", *VALUE_KEYS[kind], "segmentLabel", "split", "limit")
    problems += _unknown_keys(segment, path, keys, f"not allowed with type {kind}")
    return problems + _typed_value(segment, path, kind) + _split_rules(segment, path, kind)


def _duplicate_labels(segments: Sequence[Any], path: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, segment in enumerate(segments):
        label = segment.get("segmentLabel") if isinstance(segment, Mapping) else None
        if not isinstance(label, str) or segment.get("split") is True:
            continue
        if label in seen:
            where = _at(_item(path, i), "segmentLabel")
            problems.append(
                _msg(where, f"{_show(label)} is already used by segments[{seen[label]}]", "unique")
            )
        seen.setdefault(label, i)
    return problems


def validate_segments(
    segments: object, path: str = "segments", prop: str | None = None, *, non_empty: bool = True
) -> list[str]:
    """Problems of an array of segments whose labels are unique (a level's must not be empty)."""
    check = _array_of(lambda s, p: validate_segment(s, p, prop), "segments", non_empty=non_empty)
    problems = check(segments, path)
    if _is_array(segments):
        problems += _duplicate_labels(cast(Sequence[Any], segments), path)
    return problems


def _level_property(value: object, path: str) -> list[str]:
    """A property name; os/geography/gpu need their granularity (``os.version``)."""
    problems = _name(value, path)
    if problems:
        return problems
    head = cast(str, value).split(".", 1)[0]
    choices = [f"{head}.{part}" for part in GRANULARITIES.get(head, ())]
    if choices and value not in choices:
        return [_msg(path, f"{_show(value)} needs a granularity", choices)]
    return []


def validate_level(level: object, path: str) -> list[str]:
    """Problems of one level: a property and its segments."""
    if not isinstance(level, Mapping):
        return [_expected(path, "an object", level)]
    problems = _unknown_keys(level, path, ("property", "segments"), "unknown field")
    for key, hint in (("property", "a property name"), ("segments", "a non-empty array of segments")):
        if key not in level:
            problems.append(_msg(_at(path, key), "required", hint))
    prop = level.get("property")
    if "property" in level:
        problems += _level_property(prop, _at(path, "property"))
    if "segments" in level:
        problems += validate_segments(
            level["segments"], _at(path, "segments"), prop if isinstance(prop, str) else None
        )
    return problems


def validate_levels(levels: object, path: str = "levels") -> list[str]:
    """Problems of a ``levels`` object: level1..level3, contiguous (``null``/``{}``: no segmentation)."""
    if levels is None:
        return []
    if not isinstance(levels, Mapping):
        return [_expected(path, "an object", levels)]
    problems = _unknown_keys(levels, path, LEVEL_KEYS, "unknown field")
    for previous, key in itertools.pairwise(LEVEL_KEYS):
        if key in levels and previous not in levels:
            problems.append(_msg(_at(path, key), f"needs {previous}", "level1, level2, level3 in order"))
    return problems + [
        p for key in LEVEL_KEYS if key in levels for p in validate_level(levels[key], _at(path, key))
    ]


# --- events ---------------------------------------------------------------------------------------------


def _match_regexes(match: Mapping[Any, Any], path: str) -> list[str]:
    """In a combination, ``category``/``name`` must compile when their type is regex."""
    pairs = (("categoryType", "category"), ("nameType", "name"))
    return [
        p
        for type_key, key in pairs
        if match.get(type_key) == "regex" and isinstance(match.get(key), str)
        for p in _regex(match[key], _at(path, key))
    ]


_MATCH = _Shape(
    {
        "categoryType": _one_of(MATCH_TYPES),
        "nameType": _one_of(MATCH_TYPES),
        "category": _string,
        "name": _string,
    },
    required={
        "categoryType": "string, regex",
        "nameType": "string, regex",
        "category": "a string",
        "name": "a string",
    },
    rules=(_match_regexes,),
)
_SIMPLE_EVENT = _Shape(
    {"category": _string, "name": _string},
    required={"category": "a string", "name": "a string"},
)
_COMBINATION = _Shape(
    {"combiLabel": _name, "combiArray": _array_of(_MATCH, "event matches")},
    required={"combiLabel": "a label", "combiArray": "a non-empty array of event matches"},
)


def validate_event_match(match: object, path: str) -> list[str]:
    """Problems of one member of a ``combiArray``."""
    return _MATCH(match, path)


def validate_event(event: object, path: str) -> list[str]:
    """Problems of one event: ``{category, name}`` or ``{combiLabel, combiArray}``."""
    if not isinstance(event, Mapping):
        return [_expected(path, "an event object", event, "{category, name}, {combiLabel, combiArray}")]
    if "combiLabel" in event or "combiArray" in event:
        return _COMBINATION(event, path)
    return _SIMPLE_EVENT(event, path)


#: seed 000 line 426 and others send ``"events": []``: no event asked for, an answer without event entries.
_events = _array_of(validate_event, "events", non_empty=False)


def validate_events(events: object, path: str = "events", *, nullable: bool = False) -> list[str]:
    """Problems of an ``events`` array (``[]``: none; ``null`` where the report takes every event)."""
    return [] if nullable and events is None else _events(events, path)


# --- rules across fields ----------------------------------------------------------------------------------


def _date_order(body: Mapping[Any, Any], path: str) -> list[str]:
    start, stop = body.get("startDate"), body.get("stopDate")
    if date_problems(start, "") or date_problems(stop, ""):
        return []
    if cast(str, stop) < cast(str, start):
        return [_msg(_at(path, "stopDate"), f"{stop} is before startDate {start}")]
    return []


def _lost_needs_days(body: Mapping[Any, Any], path: str) -> list[str]:
    status = body.get("clientStatus")
    if _is_array(status) and "lost" in cast(list[Any], status) and body.get("daysUntilDeclaredLost") is None:
        where = _at(path, "daysUntilDeclaredLost")
        return [_msg(where, "required when clientStatus includes lost", "integers >= 1")]
    return []


def _levels_with_split(body: Mapping[Any, Any], path: str) -> list[str]:
    split, levels = body.get("dateSplit"), body.get("levels")
    if split is None or split not in DATE_SPLITS or not isinstance(levels, Mapping):
        return []
    count = sum(1 for key in LEVEL_KEYS if key in levels)
    if count > 1:
        return [
            _msg(
                _at(path, "levels"),
                f"{count} levels with dateSplit {_show(split)}",
                "1 level when dateSplit is set",
            )
        ]
    return []


def _segments_need_segment_by(body: Mapping[Any, Any], path: str) -> list[str]:
    if body.get("segments") is not None and body.get("segmentBy") is None:
        return [_msg(_at(path, "segments"), "needs segmentBy", "a property name in segmentBy")]
    return []


def _granularity(body: Mapping[Any, Any], path: str) -> list[str]:
    prop, granularity = body.get("property"), body.get("granularity")
    if granularity is None:
        return []
    where = _at(path, "granularity")
    parts = GRANULARITIES.get(prop) if isinstance(prop, str) else None
    if parts is None:
        return [_msg(where, f"not allowed for property {_show(prop)}", list(GRANULARITIES))]
    if not isinstance(granularity, str) or granularity not in parts:
        return [_msg(where, f"{_show(granularity)} is not allowed for {prop}", parts)]
    return []


def _client_status(value: object, path: str) -> list[str]:
    """A subset of new/active/lost, each listed once; ``[]`` (seed 000 line 268) is the default set."""
    problems = _array_of(_one_of(CLIENT_STATUSES), "client statuses", non_empty=False)(value, path)
    seen: set[str] = set()
    for i, status in enumerate(cast(list[str], [] if problems else value)):
        if status in seen:
            problems.append(_msg(_item(path, i), f"{_show(status)} is listed twice"))
        seen.add(status)
    return problems


def _group_by(value: object, path: str) -> list[str]:
    if isinstance(value, str) and (value in GROUP_BY or CUSTOM_PROPERTY.fullmatch(value)):
        return []
    return [_msg(path, f"{_show(value)} is not allowed", GROUP_BY)]


def _show_events(value: object, path: str) -> list[str]:
    if _is_array(value):
        return _array_of(_one_of(SHOW_EVENTS), "event lists")(value, path)
    return _one_of(SHOW_EVENTS)(value, path)


def _file_name(value: object, path: str) -> list[str]:
    if not isinstance(value, str):
        return [_expected(path, "a file name string", value)]
    try:
        check_file_name(value, path)
    except UsageIntelligenceValidationError as exc:
        return exc.problems
    return []


def _any_object(value: object, path: str) -> list[str]:
    return [] if isinstance(value, Mapping) else [_expected(path, "an object", value)]


# --- report bodies ------------------------------------------------------------------------------------

_DAYS_LOST = _nullable(_integer(1))
_DATES: Mapping[str, Check] = {"startDate": date_problems, "stopDate": date_problems}
_REQUIRED_DATES: Mapping[str, str] = {"startDate": DATE_FORMAT, "stopDate": DATE_FORMAT}
_GENERIC: Mapping[str, Check] = {
    "startDate": date_problems,
    "clientStatus": _client_status,
    "groupBy": _group_by,
    "daysUntilDeclaredLost": _DAYS_LOST,
    "dateReportedLost": _one_of(DATE_REPORTED_LOST),
    "globalFilters": validate_global_filters,
    "resultMode": _one_of(RESULT_MODES),
    "levels": validate_levels,
}
_PAGING = _Shape({"startAt": _integer(0), "maxResults": _integer(0)}, open=True)
_SORTING = _Shape(
    {
        "events": _one_of(SORT_EVENTS),
        "eventsDirection": _one_of(SORT_DIRECTIONS),
        "segments": _one_of(SORT_SEGMENTS),
        "segmentsDirection": _one_of(SORT_DIRECTIONS),
    }
)
_BOUNDS = _Shape({metric: _array_of(_number, "numbers") for metric in HISTOGRAM_METRICS})


def _event_segments(value: object, path: str) -> list[str]:
    """``[]`` (seed 000 line 477) segments by every value of ``segmentBy``, as no ``segments`` does."""
    return validate_segments(value, path, non_empty=False)


_SEGMENTED: Mapping[str, Check] = {"segmentBy": _nullable(_name), "segments": _nullable(_event_segments)}
#: seed 001's churn body; ``user``/``sessionId`` serve non-cookie authentication only, and the hook
#: sets ``productId`` from the product id where the endpoint wants it in the body.
_CHURN: Mapping[str, Check] = {
    "user": _string,
    "sessionId": _string,
    "productId": _integer(1),
    **_DATES,
    "daysUntilDeclaredLost": _integer(1),
    "dateReportedLost": _one_of(DATE_REPORTED_LOST),
    "globalFilters": validate_global_filters,
}
_LICENSE_KEY_FIELDS: Mapping[str, Check] = {
    "licenseKey": _name,
    "licenseType": _string,
    #: ``{}`` (seed 000 lines 719, 760) gives no flag: a new key's defaults, a known key's unchanged.
    "licenseStatus": _flags(LICENSE_FLAGS, non_empty=False),
    "installQuota": _integer(0),
    "notes": _string,
}


def _dates_together(body: Mapping[Any, Any], path: str) -> list[str]:
    """Both dates or neither: without them the server picks the window (seed 000 line 1042 sends none)."""
    given = [key for key in ("startDate", "stopDate") if key in body]
    if len(given) != 1:
        return []
    missing = "stopDate" if given == ["startDate"] else "startDate"
    return [_msg(_at(path, missing), f"required with {given[0]}", "both dates or neither")]


_RET_DAILY_DATA = _Shape(
    {**_DATES, "properties": _array_of(_string, "strings", non_empty=False)},
    rules=(_dates_together, _date_order),
)
_LINE_COUNT = {"lineCount": _integer(1, MAX_LINE_COUNT)}
_REQUIRED_EVENTS = {"events": "an array of events"}


def _report(name: str, fields: Mapping[str, Check], required: Mapping[str, str], *rules: Rule) -> _Shape:
    return _Shape(fields, required=required, rules=rules, owner=name)


def _license_keys(name: str, *, key_required: bool) -> Check:
    """A key object or a batch of them; unknown key fields pass, as the registry's list is not published."""
    required = {"licenseKey": "a license key string"} if key_required else {}
    key = _Shape(_LICENSE_KEY_FIELDS, required=required, open=True, owner=name)

    def keys(body: object, path: str) -> list[str]:
        if isinstance(body, Mapping):
            return key(body, path)
        if not _is_array(body):
            return [_expected(path, "a license key object or an array of them", body)]
        return _array_of(key, "license key objects")(body, path)

    return keys


def _any_text(body: object, path: str) -> list[str]:
    """Seed 000 gives the export request's body as ``*/*`` text: any string, or a JSON object."""
    if body is None or isinstance(body, (str, Mapping)):
        return []
    return [_expected(path, "a string or an object", body)]


_REQUESTS: Mapping[str, Check] = {
    "product_properties": _report("product_properties", {}, {}),
    "property_values": _report(
        "property_values",
        {"property": _name, "granularity": _accept, "startAfter": _nullable(_string)},
        {"property": "a property name"},
        _granularity,
    ),
    "event_names": _report("event_names", {"flat": _boolean, "showEvents": _show_events}, {}),
    "date_range": _report(
        "date_range",
        {**_DATES, **_GENERIC, "dateSplit": _one_of(DATE_SPLITS)},
        _REQUIRED_DATES,
        _date_order,
        _lost_needs_days,
        _levels_with_split,
    ),
    "current": _report("current", _GENERIC, {"startDate": DATE_FORMAT}, _lost_needs_days),
    "usage_distribution": _report(
        "usage_distribution",
        {**_DATES, "globalFilters": validate_global_filters},
        _REQUIRED_DATES,
        _date_order,
    ),
    "lifetime_event_histogram": _report(
        "lifetime_event_histogram",
        {
            **_DATES,
            "groupBy": _group_by,
            "globalFilters": validate_global_filters,
            "events": validate_events,
            "lowerBounds": _BOUNDS,
            "binUpperBounds": _BOUNDS,
        },
        {**_REQUIRED_DATES, **_REQUIRED_EVENTS},
        _date_order,
    ),
    "lifetime_event_data_table": _report(
        "lifetime_event_data_table",
        {
            **_DATES,
            **_SEGMENTED,
            "globalFilters": validate_global_filters,
            "events": _nullable(validate_events),
            "sorting": _SORTING,
            "categorizeEvents": _boolean,
            "paging": _PAGING,
            "groupBy": _group_by,
        },
        _REQUIRED_DATES,
        _date_order,
        _segments_need_segment_by,
    ),
    "basic_event_data_table": _report(
        "basic_event_data_table",
        {**_DATES, "globalFilters": validate_global_filters},
        _REQUIRED_DATES,
        _date_order,
    ),
    "basic_event_timeline": _report(
        "basic_event_timeline",
        {
            **_DATES,
            "dateSplit": _one_of(DATE_SPLITS),
            "dataView": _one_of(DATA_VIEWS),
            "divisor": _one_of(DIVISORS),
            "events": validate_events,
            "globalFilters": validate_global_filters,
        },
        {**_REQUIRED_DATES, **_REQUIRED_EVENTS},
        _date_order,
    ),
    "advanced_events": _report(
        "advanced_events",
        {
            **_DATES,
            **_SEGMENTED,
            "globalFilters": validate_global_filters,
            "events": _nullable(validate_events),
        },
        _REQUIRED_DATES,
        _date_order,
        _segments_need_segment_by,
    ),
    **{
        name: _report(name, _CHURN, _REQUIRED_DATES, _date_order)
        for name in ("churn_histogram_sessions", "churn_histogram_runtime", "churn_histogram_days")
    },
    "license_keys_search": _report(
        "license_keys_search", {"filters": _any_object, "sorting": _any_object, "paging": _PAGING}, {}
    ),
    "license_keys_update": _license_keys("license_keys_update", key_required=True),
    "license_keys_insert": _license_keys("license_keys_insert", key_required=False),
    "custom_events_last_lines": _report("custom_events_last_lines", _LINE_COUNT, {"lineCount": "1..1000"}),
    "exceptions_last_lines": _report("exceptions_last_lines", _LINE_COUNT, {"lineCount": "1..1000"}),
    **{
        name: _report(name, {"fileName": _file_name}, {"fileName": "a plain file name"})
        for name in FILE_REQUESTS
    },
    "client_property_list": _report(
        "client_property_list",
        {
            "startAtClientId": _nullable(_string),
            "properties": _array_of(_string, "strings", non_empty=False),
            "retDailyData": _RET_DAILY_DATA,
            "globalFilters": validate_global_filters,
        },
        {},
    ),
    "client_property_list_export": _any_text,
}


def request_problems(report_name: object, body: object) -> list[str]:
    """Every problem of ``body`` as a request for ``report_name`` (an empty list when it is fine)."""
    check = _REQUESTS.get(report_name) if isinstance(report_name, str) else None
    if check is None:
        return [_msg("report", f"unknown name {_show(report_name)}", VALIDATED_NAMES)]
    if body is None and report_name != "client_property_list_export":
        body = {}
    return check(body, "")


def validate_request(report_name: str, body: object = None) -> None:
    """Raise one :class:`UsageIntelligenceValidationError` listing every problem of the request."""
    problems = request_problems(report_name, body)
    if problems:
        raise UsageIntelligenceValidationError(problems)
