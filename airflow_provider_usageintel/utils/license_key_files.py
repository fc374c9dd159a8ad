"""Read license keys from a JSON array or a CSV file with a header row.

CSV cells are text, the registry wants types: ``installQuota`` becomes an
integer and ``licenseStatus.<flag>`` columns become booleans nested under
``licenseStatus`` (``true``/``false``, any case). Empty cells are left out, so
an update changes only the fields a row fills in. Every bad cell is reported
at once, by line and column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

INTEGER_COLUMNS = frozenset({"installQuota"})
BOOLEAN_PREFIX = "licenseStatus."
BOOLEANS = {"true": True, "false": False}
_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_key_file(text: str, source: str) -> list[dict[str, Any]]:
    """Keys from a file's text: JSON when it is named ``.json`` or starts with ``[``, else CSV."""
    text = text.lstrip("\ufeff")
    name = source.lower()
    if name.endswith(".json") or (not name.endswith(".csv") and text.lstrip().startswith(("[", "{"))):
        return keys_from_json(text, source)
    return keys_from_csv(text, source)


def keys_from_json(text: str, source: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageIntelligenceValidationError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise UsageIntelligenceValidationError(f"{source}: expected a JSON array of license key objects")
    return [dict(item) for item in data]


def keys_from_csv(text: str, source: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise UsageIntelligenceValidationError(f"{source}: empty file (expected a CSV header row)")
    problems: list[str] = []
    keys = [_row_key(row, f"{source} line {reader.line_num}", problems) for row in reader]
    if problems:
        raise UsageIntelligenceValidationError(problems)
    return keys


def _row_key(row: Mapping[str | None, Any], where: str, problems: list[str]) -> dict[str, Any]:
    key: dict[str, Any] = {}
    for column, raw in row.items():
        if column is None:  # DictReader files surplus cells under None
            problems.append(f"{where}: more cells than header columns")
            continue
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        try:
            _set(key, column.strip(), coerce_cell(column.strip(), text))
        except ValueError as exc:
            problems.append(f"{where}, column {column}: {exc}")
    return key


def coerce_cell(column: str, text: str) -> Any:
    """The typed value of one non-empty CSV cell; ``ValueError`` says what is allowed."""
    if column in INTEGER_COLUMNS:
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"{text!r} is not an integer (allowed: integers >= 0)")
        return int(text)
    if column.startswith(BOOLEAN_PREFIX):
        if text.lower() not in BOOLEANS:
            raise ValueError(f"{text!r} is not a boolean (allowed: true, false)")
        return BOOLEANS[text.lower()]
    return text


def _set(key: dict[str, Any], column: str, value: Any) -> None:
    """``licenseStatus.activated`` -> ``key["licenseStatus"]["activated"]``."""
    *parents, leaf = column.split(".")
    node = key
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"conflicts with column {part}")
        node = child
    node[leaf] = value
