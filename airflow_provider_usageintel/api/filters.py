"""Fluent builders for global filters, levels, segments and events.

DAG authors write ``GlobalFilters().string("prodEdition", "Pro").number_range("ram", min=1024)``
instead of nested JSON and learn about a mistake on the line that makes it,
with the same messages as :mod:`~airflow_provider_usageintel.api.validation`.

Every builder *is* a ``dict`` of the exact JSON the API expects, so it can be
passed wherever a body part is expected, rendered by Airflow's templating and
serialised by ``json``; ``to_dict()`` returns a plain deep copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from airflow_provider_usageintel.api.validation import (
    LEVEL_KEYS,
    validate_event,
    validate_event_match,
    validate_filter,
    validate_level,
    validate_segment,
)
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

#: a single value (type ``string``) or several (type ``stringArray``).
Values: TypeAlias = str | Sequence[str]


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise UsageIntelligenceValidationError(problems)


def _listed(values: object) -> object:
    """Sequences become lists; anything else is left for the validator to name."""
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes, Mapping)):
        return list(values)
    return values


def plain(value: object) -> Any:
    """A deep copy made of plain ``dict``/``list`` only, for JSON and XCom."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


class _JsonDict(dict[str, Any]):
    def to_dict(self) -> dict[str, Any]:
        """A plain deep copy of the JSON this builder stands for."""
        result: dict[str, Any] = plain(self)
        return result


class GlobalFilters(_JsonDict):
    """The ``globalFilters`` object; each method adds one property's filter (ANDed across properties)."""

    def __init__(self, filters: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for prop, entry in (filters or {}).items():
            self.add(prop, entry)

    def add(self, prop: str, entry: Any) -> GlobalFilters:
        """Add a filter given as raw JSON (custom or newer properties); it is checked all the same."""
        path = f"globalFilters.{prop}"
        problems = [f"{path}: already set (allowed: one filter per property)"] if prop in self else []
        entry = plain(entry)
        _raise_if(problems + validate_filter(prop, entry, path))
        self[prop] = entry
        return self

    def string(self, prop: str, value: str) -> GlobalFilters:
        return self.add(prop, {"type": "string", "value": value})

    def string_array(self, prop: str, values: Sequence[str]) -> GlobalFilters:
        """Any of ``values`` matches (OR)."""
        return self.add(prop, {"type": "stringArray", "value": _listed(values)})

    def regex(self, prop: str, pattern: str) -> GlobalFilters:
        return self.add(prop, {"type": "regex", "value": pattern})

    def number(self, prop: str, value: float) -> GlobalFilters:
        return self.add(prop, {"type": "number", "value": value})

    def number_range(self, prop: str, *, min: float | None = None, max: float | None = None) -> GlobalFilters:
        """Both limits included; leave one out for an open range."""
        return self.add(prop, _range("numberRange", min, max))

    def date(self, prop: str, value: str) -> GlobalFilters:
        return self.add(prop, {"type": "date", "value": value})

    def date_range(self, prop: str, *, min: str | None = None, max: str | None = None) -> GlobalFilters:
        return self.add(prop, _range("dateRange", min, max))

    def license_status(self, *conditions: Mapping[str, bool]) -> GlobalFilters:
        """Each condition ANDs its flags; the conditions are ORed."""
        return self.add("licenseStatus", list(conditions))

    def opt_out(self, *conditions: Mapping[str, bool]) -> GlobalFilters:
        """Conditions on ``historical``/``current`` opt-out, ORed."""
        return self.add("optOut", list(conditions))

    def back_off(self, *conditions: Mapping[str, bool]) -> GlobalFilters:
        """Conditions on ``historical``/``current`` back-off, ORed."""
        return self.add("backOff", list(conditions))

    def os(
        self, *, platform: Values | None = None, version: Values | None = None, edition: Values | None = None
    ) -> GlobalFilters:
        """Granularities are ORed; single strings give type ``string``, sequences ``stringArray``."""
        return self.add("os", _granular({"platform": platform, "version": version, "edition": edition}))

    def geography(
        self,
        *,
        continent: Values | None = None,
        country: Values | None = None,
        us_state: Values | None = None,
    ) -> GlobalFilters:
        """Continent and ISO 3166 codes; the API offers no regex here."""
        return self.add(
            "geography", _granular({"continent": continent, "country": country, "usState": us_state})
        )

    def gpu(self, *, vendor: Values | None = None, model: Values | None = None) -> GlobalFilters:
        return self.add("gpu", _granular({"vendor": vendor, "model": model}))


def _range(kind: str, low: object, high: object) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind}
    entry.update({key: value for key, value in (("min", low), ("max", high)) if value is not None})
    return entry


def _granular(values: Mapping[str, object]) -> dict[str, Any]:
    """One type for all granularities: ``stringArray`` as soon as one of them is a sequence."""
    given = {key: value for key, value in values.items() if value is not None}
    as_array = any(not isinstance(value, str) for value in given.values())
    entry: dict[str, Any] = {"type": "stringArray" if as_array else "string"}
    for key, value in given.items():
        entry[key] = _listed([value] if isinstance(value, str) else value) if as_array else value
    return entry


class Segment(_JsonDict):
    """One segment of a level; labelled unless it splits into one segment per matched value."""

    @classmethod
    def string(cls, value: str, label: str) -> Segment:
        return cls._checked({"type": "string", "value": value, "segmentLabel": label})

    @classmethod
    def string_array(
        cls, values: Sequence[str], label: str | None = None, *, split: bool = False, limit: int | None = None
    ) -> Segment:
        return cls._checked(_splittable("stringArray", _listed(values), label, split, limit))

    @classmethod
    def regex(
        cls, pattern: str, label: str | None = None, *, split: bool = False, limit: int | None = None
    ) -> Segment:
        return cls._checked(_splittable("regex", pattern, label, split, limit))

    @classmethod
    def number(cls, value: float, label: str) -> Segment:
        return cls._checked({"type": "number", "value": value, "segmentLabel": label})

    @classmethod
    def number_range(cls, *, label: str, min: float | None = None, max: float | None = None) -> Segment:
        return cls._checked({**_range("numberRange", min, max), "segmentLabel": label})

    @classmethod
    def _checked(cls, segment: dict[str, Any]) -> Segment:
        _raise_if(validate_segment(segment, "segment"))
        return cls(segment)


def _splittable(
    kind: str, value: object, label: str | None, split: bool, limit: int | None
) -> dict[str, Any]:
    segment: dict[str, Any] = {"type": kind, "value": value}
    if split:
        segment["split"] = True
    if limit is not None:
        segment["limit"] = limit
    if label is not None:
        segment["segmentLabel"] = label
    return segment


class Levels(_JsonDict):
    """The ``levels`` object; each :meth:`level` call adds the next of at most three."""

    def level(self, prop: str, *segments: Mapping[str, Any]) -> Levels:
        """Segment by ``prop`` (``os.version``, ``geography.country``, ... for special properties)."""
        if len(self) >= len(LEVEL_KEYS):
            raise UsageIntelligenceValidationError(
                f"levels: at most {len(LEVEL_KEYS)} levels (allowed: {allowed(LEVEL_KEYS)})"
            )
        key = LEVEL_KEYS[len(self)]
        level = {"property": prop, "segments": plain(list(segments))}
        _raise_if(validate_level(level, f"levels.{key}"))
        self[key] = level
        return self


class Event(_JsonDict):
    """One event by exact category and name."""

    def __init__(self, category: str, name: str) -> None:
        super().__init__(category=category, name=name)
        _raise_if(validate_event(self, "event"))


class EventMatch(_JsonDict):
    """One member of an :class:`EventCombination`; category and name may be regular expressions."""

    def __init__(
        self, category: str, name: str, *, category_regex: bool = False, name_regex: bool = False
    ) -> None:
        super().__init__(
            categoryType="regex" if category_regex else "string",
            nameType="regex" if name_regex else "string",
            category=category,
            name=name,
        )
        _raise_if(validate_event_match(self, "event"))


class EventCombination(_JsonDict):
    """Several events counted as one, under ``label``; plain :class:`Event` members match exactly."""

    def __init__(self, label: str, events: Sequence[Mapping[str, Any]]) -> None:
        members = _listed(events)
        matches = [_as_match(event) for event in members] if isinstance(members, list) else members
        super().__init__(combiLabel=label, combiArray=matches)
        _raise_if(validate_event(self, "event"))


def _as_match(event: object) -> object:
    """A plain ``{category, name}`` member matches both exactly."""
    if isinstance(event, Mapping) and "categoryType" not in event and "nameType" not in event:
        return {"categoryType": "string", "nameType": "string", **plain(event)}
    return plain(event)
