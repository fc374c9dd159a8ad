"""Global filters, segments and property reads, applied to the synthetic clients as the server would.

Bodies reach this module only after the emulator's own checks (:mod:`.checks`) found no
problem, so their shapes are trusted; what a body check cannot know, whether a property
exists for this product, is answered here with 422 as the server does.
The same typed tests (``string``, ``stringArray``, ``regex``, ``number``,
``numberRange``, ``date``, ``dateRange``) serve filters, level segments and the
license key registry.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from airflow_provider_usageintel.emulator.app import ApiError
from airflow_provider_usageintel.emulator.checks import CUSTOM_PROPERTY, GRANULARITIES
from airflow_provider_usageintel.emulator.population import CLIENT_PROPERTY_NAMES, Client, PropertyValue

#: how the API spells a missing value in client rows.
NULL = "<NULL>"
#: special filters made of boolean conditions: ORed objects of ANDed flags.
FLAG_FILTERS: tuple[str, ...] = ("licenseStatus", "optOut", "backOff")

ValueTest = Callable[[Any], bool]
Predicate = Callable[[Client], bool]


# --------------------------------------------------------------------------- property reads


def is_known(name: str) -> bool:
    """Whether the product has this property (custom C01..C20 always exist, perhaps unset)."""
    return name in CLIENT_PROPERTY_NAMES or CUSTOM_PROPERTY.fullmatch(name) is not None


def require_known(names: Iterable[str], path: str) -> None:
    """422 for the first unknown property, as the server answers."""
    for name in names:
        if not is_known(name):
            raise ApiError(422, f"{path}: unknown property {name!r}")


@dataclass(frozen=True)
class PropertyReader:
    """Reads client properties as of ``today``: the last-seen date moves with the clock."""

    today: dt.date

    def value(self, client: Client, name: str) -> PropertyValue:
        if name == "dateLastSeen":
            return client.last_seen(self.today)
        if name not in CLIENT_PROPERTY_NAMES:
            return None  # a custom property this product never set
        return client.property_value(name)


def text(value: PropertyValue) -> str | None:
    """A value as string filters and segment keys see it (JSON spelling of booleans, ISO dates)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- typed tests

#: Java's named classes that Python's ``re`` lacks, positive and negated.
_JAVA_CLASSES: Mapping[str, tuple[str, str]] = {
    "Alpha": ("[A-Za-z]", "[^A-Za-z]"),
    "Digit": (r"\d", r"\D"),
    "Alnum": ("[A-Za-z0-9]", "[^A-Za-z0-9]"),
    "Upper": ("[A-Z]", "[^A-Z]"),
    "Lower": ("[a-z]", "[^a-z]"),
    "Space": (r"\s", r"\S"),
    "L": (r"[^\W\d_]", r"[\W\d_]"),
    "Lu": ("[A-Z]", "[^A-Z]"),
    "Ll": ("[a-z]", "[^a-z]"),
    "N": (r"\d", r"\D"),
    "Nd": (r"\d", r"\D"),
}
_JAVA_CLASS = re.compile(r"\\([pP])\{(\w+)\}")
_JAVA_GROUP = re.compile(r"\(\?<([A-Za-z][A-Za-z0-9]*)>")


def _java_class(match: re.Match[str]) -> str:
    negated, name = match.group(1) == "P", match.group(2)
    if name not in _JAVA_CLASSES:
        raise ApiError(400, f"regular expression class \\{match.group(1)}{{{name}}} is not supported")
    return _JAVA_CLASSES[name][negated]


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """The server's (Java) dialect in Python: named groups and the common ``\\p{..}`` classes."""
    translated = _JAVA_GROUP.sub(r"(?P<\1>", _JAVA_CLASS.sub(_java_class, pattern))
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ApiError(400, f"{pattern!r} is not a valid regular expression: {exc}") from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _within(low: Any, high: Any, value: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _equal_text(entry: Mapping[str, Any]) -> ValueTest:
    wanted = entry["value"]
    return lambda value: text(value) == wanted


def _one_of(entry: Mapping[str, Any]) -> ValueTest:
    wanted = frozenset(entry["value"])
    return lambda value: text(value) in wanted


def _regex(entry: Mapping[str, Any]) -> ValueTest:
    pattern = compile_regex(entry["value"])

    def matches(value: Any) -> bool:
        found = text(value)
        return found is not None and pattern.search(found) is not None

    return matches


def _number(entry: Mapping[str, Any]) -> ValueTest:
    wanted = entry["value"]
    return lambda value: _is_number(value) and value == wanted


def _number_range(entry: Mapping[str, Any]) -> ValueTest:
    low, high = entry.get("min"), entry.get("max")
    return lambda value: _is_number(value) and _within(low, high, value)


def _date_range(entry: Mapping[str, Any]) -> ValueTest:
    low, high = entry.get("min"), entry.get("max")

    def within(value: Any) -> bool:
        day = text(value)
        return day is not None and _within(low, high, day)

    return within


_TESTS: Mapping[str, Callable[[Mapping[str, Any]], ValueTest]] = {
    "string": _equal_text,
    "stringArray": _one_of,
    "regex": _regex,
    "number": _number,
    "numberRange": _number_range,
    "date": _equal_text,
    "dateRange": _date_range,
}


def value_test(entry: Mapping[str, Any]) -> ValueTest:
    """The test of one typed entry (``{"type": ..., "value"|"min"/"max": ...}``)."""
    return _TESTS[entry["type"]](entry)


def flag_test(conditions: Sequence[Mapping[str, bool]]) -> Callable[[Callable[[str], Any]], bool]:
    """licenseStatus/optOut/backOff: any condition whose flags all hold (flags read by name)."""
    pairs = [tuple(condition.items()) for condition in conditions]
    return lambda flag: any(all(flag(name) == wanted for name, wanted in pair) for pair in pairs)


# --------------------------------------------------------------------------- global filters


def _flag_filter(prop: str, conditions: Sequence[Mapping[str, bool]], reader: PropertyReader) -> Predicate:
    test = flag_test(conditions)
    return lambda client: test(lambda flag: reader.value(client, f"{prop}.{flag}"))


def _granular_filter(prop: str, entry: Mapping[str, Any], reader: PropertyReader) -> Predicate:
    """os/geography/gpu: the given granularities are ORed, each tested like a string filter."""
    kind = entry["type"]
    wanted = [
        (f"{prop}.{part}", value_test({"type": kind, "value": entry[part]}))
        for part in GRANULARITIES[prop]
        if part in entry
    ]
    return lambda client: any(test(reader.value(client, name)) for name, test in wanted)


def _typed_filter(prop: str, entry: Mapping[str, Any], reader: PropertyReader) -> Predicate:
    require_known([prop], f"globalFilters.{prop}")
    test = value_test(entry)
    return lambda client: test(reader.value(client, prop))


def _filter(prop: str, entry: Any, reader: PropertyReader) -> Predicate:
    if prop in FLAG_FILTERS:
        return _flag_filter(prop, entry, reader)
    if prop in GRANULARITIES:
        return _granular_filter(prop, entry, reader)
    return _typed_filter(prop, entry, reader)


def client_filter(filters: Mapping[str, Any] | None, reader: PropertyReader) -> Predicate:
    """One predicate for a ``globalFilters`` object: every property's filter must hold."""
    tests = [_filter(prop, entry, reader) for prop, entry in (filters or {}).items()]
    return lambda client: all(test(client) for test in tests)


# --------------------------------------------------------------------------- segments and levels


@dataclass(frozen=True)
class Segment:
    """One segment: a labelled bucket, or (``split``) one bucket per matching value."""

    test: ValueTest
    label: str | None
    limit: int | None = None
    #: with a limit, the values kept (the most frequent ones).
    kept: frozenset[str] | None = None

    def key(self, value: PropertyValue) -> str | None:
        if not self.test(value):
            return None
        if self.label is not None:
            return self.label
        key = text(value)
        return key if self.kept is None or key in self.kept else None


def segment(entry: Mapping[str, Any]) -> Segment:
    split = entry.get("split") is True
    return Segment(value_test(entry), None if split else entry["segmentLabel"], entry.get("limit"))


@dataclass(frozen=True)
class Level:
    """A property and its segments; a client may fall in several segments, or in none."""

    prop: str
    segments: tuple[Segment, ...]

    def keys(self, value: PropertyValue) -> list[str]:
        found: list[str] = []
        for seg in self.segments:
            key = seg.key(value)
            if key is not None and key not in found:
                found.append(key)
        return found

    def limited(self, values: Iterable[PropertyValue]) -> Level:
        """Each split with a ``limit`` keeps its most frequent values (ties in name order)."""
        limited = [seg for seg in self.segments if seg.limit is not None]
        if not limited:
            return self
        counts = Counter(values)
        return replace(self, segments=tuple(_keep_top(seg, counts) for seg in self.segments))


def _keep_top(seg: Segment, counts: Counter[PropertyValue]) -> Segment:
    if seg.limit is None:
        return seg
    matching = Counter[str]()
    for value, count in counts.items():
        key = text(value)
        if key is not None and seg.test(value):
            matching[key] += count
    ranked = sorted(matching, key=lambda key: (-matching[key], key))
    return replace(seg, kept=frozenset(ranked[: seg.limit]))


def level(prop: str, entries: Sequence[Mapping[str, Any]], path: str) -> Level:
    require_known([prop], path)
    return Level(prop, tuple(segment(entry) for entry in entries))


def split_everything(prop: str, path: str) -> Level:
    """``segmentBy`` without ``segments``: one segment per value."""
    return level(prop, [{"type": "regex", "value": "", "split": True}], path)
