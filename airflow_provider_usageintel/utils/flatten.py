"""Turn report results (date series, level trees, histograms, tables) into flat rows.

Warehouses load rows, not nested JSON. Results come in a few shapes (see the
endpoint reference): a list of objects (a table), ``{date: {metric: n}}`` (a
date series), ``{"level1": {segment: {"totals": {...}, "level2": ...}}}`` (a
level tree) and ``{bin: n}`` (a histogram). One walk handles them all: every
object whose values are all scalars becomes a row, and the keys leading to it
become columns (``date`` for dates, ``level1``... for level segments, ``key1``...
otherwise).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_LEVEL = re.compile(r"^level\d$")
Row = dict[str, Any]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _flat_object(value: Mapping[str, Any], prefix: str = "") -> Row:
    """Nested objects inside a row become dotted column names."""
    row: Row = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            row.update(_flat_object(item, f"{name}."))
        elif isinstance(item, list):
            row[name] = json.dumps(item, separators=(",", ":"))
        else:
            row[name] = item
    return row


def _walk(node: Any, path: Row, depth: int, as_row: bool = False) -> Iterator[Row]:
    """``as_row``: the mapping is one record (reached through a date or ``totals``)."""
    if isinstance(node, list):
        for item in node:
            yield {**path, **_flat_object(item)} if isinstance(item, Mapping) else {**path, "value": item}
    elif not isinstance(node, Mapping):
        yield {**path, "value": node}
    else:
        yield from _scalar_rows(node, path, depth, as_row)
        for key, value in node.items():
            if not _scalar(value):
                yield from _child(str(key), value, path, depth)


def _scalar_rows(node: Mapping[Any, Any], path: Row, depth: int, as_row: bool) -> Iterator[Row]:
    scalars = {str(k): v for k, v in node.items() if _scalar(v)}
    if as_row and scalars:
        yield {**path, **scalars}
    elif not as_row:
        for key, value in scalars.items():
            yield {**path, f"key{depth}": key, "value": value}


def _child(key: str, value: Any, path: Row, depth: int) -> Iterator[Row]:
    if key == "totals":
        yield from _walk(value, path, depth, as_row=True)
    elif _LEVEL.match(key) and isinstance(value, Mapping):
        for segment, child in value.items():
            yield from _walk(child, {**path, key: segment}, depth)
    elif _DATE.match(key) and "date" not in path:
        yield from _walk(value, {**path, "date": key}, depth, as_row=True)
    else:
        yield from _walk(value, {**path, f"key{depth}": key}, depth + 1)


def flatten(result: Any) -> list[Row]:
    """Rows of a report result, in the result's order."""
    return list(_walk(result, {}, 1))


def to_ndjson(rows: list[Row]) -> bytes:
    return "".join(json.dumps(row, separators=(",", ":"), default=str) + "\n" for row in rows).encode()


def to_csv(rows: list[Row]) -> bytes:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
