"""The seeds' samples as transcribed in ``seed_NNN.json``, and the checks the conformance tests share.

The data files are the transcription: tests read samples from them, never from the seed
text (which is read only to count samples and to check that each record's line numbers
point at the right headings).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SEEDS: tuple[str, ...] = ("000", "001", "002", "003")
#: where the seeds are when they are not at ``../shared/seeds`` beside the repository.
SEEDS_ENV = "USAGEINTEL_SEEDS_DIR"

Record = dict[str, Any]


@functools.cache
def data_file(seed: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / f"seed_{seed}.json").read_text(encoding="utf-8"))
    for record in data["records"]:
        record["seed_key"] = seed
    return data


def all_records() -> list[Record]:
    return [record for seed in SEEDS for record in data_file(seed)["records"]]


def records(kind: str, *seeds: str) -> list[Record]:
    """Records of one kind (``request``, ``response``, ``filter_example``), of some seeds or all."""
    return [r for r in all_records() if r["kind"] == kind and (not seeds or r["seed_key"] in seeds)]


def record_id(record: Record) -> str:
    """``000:51``: the seed and the line of the sample's heading, as a reviewer finds it."""
    return f"{record['seed_key']}:{record['line']}"


def params(items: Iterable[Record]) -> list[Any]:
    """pytest parameters named by seed and line, so a failure names the sample to read."""
    return [pytest.param(record, id=record_id(record)) for record in items]


def at_line(seed: str, line: int) -> Record:
    found = [r for r in data_file(seed)["records"] if r["line"] == line]
    assert len(found) == 1, f"seed {seed}: expected one record at line {line}, found {len(found)}"
    return found[0]


def response_for(request: Record) -> Record | None:
    """The response sample documented for the same endpoint as ``request``."""
    line = request.get("response_line")
    return None if line is None else at_line(request["seed_key"], line)


def sample(record: Record) -> Any:
    return record[{"request": "request", "response": "response", "filter_example": "filter"}[record["kind"]]]


def resolve(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (``""`` is the whole document)."""
    value = document
    for part in pointer.split("/")[1:]:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def fill(endpoint: str, product_id: str) -> str:
    return endpoint.replace("{product_id}", product_id)


# -- the seeds themselves -------------------------------------------------------------------------


def seeds_dir() -> Path | None:
    """``shared/seeds`` beside the repository (or beside one of its parents), or ``$USAGEINTEL_SEEDS_DIR``."""
    if os.environ.get(SEEDS_ENV):
        return Path(os.environ[SEEDS_ENV])
    for parent in REPO.parents:
        candidate = parent / "shared" / "seeds"
        if candidate.is_dir():
            return candidate
    return None


def seed_lines(seed: str) -> list[str]:
    """The seed's lines (index 0 is line 1); skips the test when the seeds are not beside the clone."""
    folder = seeds_dir()
    if folder is None:
        pytest.skip(f"seeds not found: no shared/seeds beside {REPO} and {SEEDS_ENV} is not set")
    path = folder / data_file(seed)["seed"]
    assert path.is_file(), f"{path} is missing: the transcription names a seed file that is not there"
    return path.read_text(encoding="utf-8").splitlines()


# -- comparing answers with samples ---------------------------------------------------------------


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def missing_top_level_keys(record: Record, answer: Any) -> list[str]:
    """The sample's top-level keys that ``answer`` lacks (all of them when it is no object)."""
    if not isinstance(answer, dict):
        return [
            f"{key} (the answer is a JSON {json_kind(answer)}, not the whole object)"
            for key in record["keys"]
        ]
    return [key for key in record["keys"] if key not in answer]


def shape_problems(record: Record, answer: Any) -> list[str]:
    """Where ``answer`` departs from the documented shape of the record's sample.

    Every key the sample shows must be there with a value of the same JSON type; an
    elided value documents its type only; under ``data_keys`` the keys are data and
    each value takes the shape of the sample's first; ``free_form`` values their type only.
    """
    return list(
        _shape(
            sample(record),
            answer,
            "",
            elided=set(record.get("elided", {})),
            data_keys=set(record.get("data_keys", [])),
            free_form=set(record.get("free_form", [])),
        )
    )


def _shape(
    documented: Any, actual: Any, pointer: str, *, elided: set[str], data_keys: set[str], free_form: set[str]
) -> Iterator[str]:
    if documented is None:
        return
    if json_kind(actual) != json_kind(documented):
        yield f"{pointer or '/'}: expected a JSON {json_kind(documented)}, got {json_kind(actual)}"
        return
    if pointer in elided or pointer in free_form:
        return
    rules = {"elided": elided, "data_keys": data_keys, "free_form": free_form}
    if isinstance(documented, dict):
        if pointer in data_keys:
            first = next(iter(documented.values()), None)
            for value in actual.values():
                yield from _shape(first, value, f"{pointer}/*", **rules)
            return
        for key, value in documented.items():
            if key not in actual:
                yield f"{pointer}/{key}: missing"
            else:
                yield from _shape(value, actual[key], f"{pointer}/{key}", **rules)
    elif isinstance(documented, list) and documented:
        for item in actual:
            yield from _shape(documented[0], item, f"{pointer}/*", **rules)


def lost_fields(expected: Any, actual: Any, pointer: str = "") -> list[str]:
    """Where ``actual`` lost or changed something of ``expected`` (extra keys are fine)."""
    where = pointer or "/"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a JSON object, got {json_kind(actual)}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{pointer}/{key}: missing")
            else:
                problems += lost_fields(value, actual[key], f"{pointer}/{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            size = len(actual) if isinstance(actual, list) else json_kind(actual)
            return [f"{where}: expected an array of {len(expected)} items, got {size}"]
        return [
            p
            for i, pair in enumerate(zip(expected, actual, strict=True))
            for p in lost_fields(*pair, f"{pointer}/{i}")
        ]
    if json_kind(expected) != json_kind(actual) or expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


# -- which provider call serves each seed endpoint ----------------------------------------------------

#: the provider's report name for each endpoint of the samples, as ``(method, seed path)``.
REPORT_NAMES: dict[tuple[str, str], str] = {
    ("GET", "/v3/meta/productProperties"): "product_properties",
    ("POST", "/v3/meta/propertyValues/{product_id}"): "property_values",
    ("GET", "/v3/event-tracking/{product_id}"): "event_names",
    ("POST", "/v3/reporting/generic/dateRange/{product_id}"): "date_range",
    ("POST", "/v3/reporting/generic/current/{product_id}"): "current",
    ("POST", "/v3/reporting/engagement/usageDistribution/{product_id}"): "usage_distribution",
    ("POST", "/v3/reporting/eventTracking/lifetime/histogram/{product_id}"): "lifetime_event_histogram",
    ("POST", "/v3/reporting/eventTracking/lifetime/dataTable/{product_id}"): "lifetime_event_data_table",
    ("POST", "/v3/reporting/eventTracking/basic/dataTable/{product_id}"): "basic_event_data_table",
    ("POST", "/v3/reporting/eventTracking/basic/timeline/{product_id}"): "basic_event_timeline",
    ("POST", "/v3/reporting/eventTracking/advanced/fullReport/{product_id}"): "advanced_events",
    ("POST", "/v3/license-key-registry/{product_id}"): "license_keys_search",
    ("PATCH", "/v3/license-key-registry/update/{product_id}"): "license_keys_update",
    ("POST", "/v3/license-key-registry/update/{product_id}"): "license_keys_insert",
    ("POST", "/v3/customEventTracking/getLastLines/{product_id}"): "custom_events_last_lines",
    ("POST", "/v3/customEventTracking/getDownloadUrl/{product_id}"): "custom_events_download_url",
    ("POST", "/v3/exceptionTracking/getLastLines/{product_id}"): "exceptions_last_lines",
    ("POST", "/v3/exceptionTracking/getDownloadUrl/{product_id}"): "exceptions_download_url",
    ("POST", "/v3/reporting/clientPropertyList/{product_id}"): "client_property_list",
    ("POST", "/v3/rawEvents/download/getDownloadUrl/{product_id}"): "raw_events_download_url",
    ("POST", "/reporting/churn/histogram/runtime"): "churn_histogram_runtime",
    ("GET", "/api/report/daily-active-users"): "daily_active_users",
    ("GET", "/api/report/login"): "login",
    ("GET", "/api/report/monthly-active-users"): "monthly_active_users",
    ("GET", "/api/report/registration"): "registration",
    ("GET", "/api/report/totals"): "totals",
}
#: file listings go through ``list_files``, by file kind.
FILE_LISTINGS: dict[tuple[str, str], str] = {
    ("GET", "/v3/customEventTracking/listFiles/{product_id}"): "custom_events",
    ("GET", "/v3/exceptionTracking/listFiles/{product_id}"): "exceptions",
    ("GET", "/v3/rawEvents/download/listFiles/{product_id}"): "raw_events",
}
#: the session calls: the hook builds these bodies itself, so no request validation applies.
SESSION_ENDPOINTS: frozenset[tuple[str, str]] = frozenset(
    {("POST", "/v3/auth/web"), ("POST", "/v3/auth/logout")}
)


def report_name(record: Record) -> str:
    key = (record["method"], record["endpoint"])
    assert key in REPORT_NAMES, f"{record_id(record)}: no provider call is known for {key}"
    return REPORT_NAMES[key]
