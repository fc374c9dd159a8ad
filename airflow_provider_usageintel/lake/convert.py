"""CSV cells (raw bytes, as the CSV reader hands them over) to typed lake columns, row by row exact.

Each batch is converted column by column with vectorised kernels. A cell that
does not fit its column (an integer column holding ``abc``, an unparseable event
time, bytes that are not UTF-8) makes its row a reject: the row leaves the
batch, with the first reason found, and goes to the partition's rejects object.
Nothing is coerced to null and nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_usageintel.lake.schema import (
    SCHEMA_VERSION,
    TIMESTAMP_FORMATS,
    ColumnType,
    ResolvedColumn,
)

#: what fits int64 without overflow, whatever the digits (values past it are rejected, not wrapped).
_INTEGER = r"^[+-]?[0-9]{1,18}$"
_FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.STRING: pa.string(),
    ColumnType.INT64: pa.int64(),
    ColumnType.DOUBLE: pa.float64(),
    ColumnType.TIMESTAMP: TIMESTAMP_TYPE,
    ColumnType.DATE: pa.date32(),
}
_EXPECTED = {
    ColumnType.INT64: "not an integer",
    ColumnType.DOUBLE: "not a number",
    ColumnType.TIMESTAMP: "not a timestamp",
    ColumnType.DATE: "not a YYYY-MM-DD date",
}


def arrow_schema(columns: Sequence[ResolvedColumn], metadata: dict[str, str] | None = None) -> pa.Schema:
    """The Parquet schema; each field keeps its CSV header key in its metadata."""
    fields = [pa.field(c.name, ARROW_TYPES[c.type], metadata={"csv_header": c.header}) for c in columns]
    return pa.schema(fields, metadata={"usageintel.schema_version": str(SCHEMA_VERSION), **(metadata or {})})


@dataclass
class Rejected:
    """Rows of one batch that did not convert: their reasons and their cells as read."""

    reasons: list[str]
    cells: list[list[str | None]]


class BatchConverter:
    """Converts batches whose columns are the CSV's, as binary, in CSV order."""

    def __init__(self, columns: Sequence[ResolvedColumn], header: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.header = tuple(header)
        self.schema = arrow_schema(columns)

    def convert(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, Rejected | None]:
        rows = batch.num_rows
        values: list[pa.Array] = []
        problems: list[tuple[str, pa.Array]] = []  # (reason, mask of failing rows)
        for column in self.columns:
            if column.position is None:
                values.append(pa.nulls(rows, ARROW_TYPES[column.type]))
                continue
            array, failed = self._column(column, batch.column(column.position))
            values.append(array)
            problems.extend((f"{column.header}: {reason}", mask) for reason, mask in failed)
        out = pa.RecordBatch.from_arrays(values, schema=self.schema)
        if not problems:
            return out, None
        bad = problems[0][1]
        for _, mask in problems[1:]:
            bad = pc.or_(bad, mask)
        if not pc.any(bad).as_py():
            return out, None
        return out.filter(pc.invert(bad)), self._rejected(batch, bad, problems)

    def _column(self, column: ResolvedColumn, raw: pa.Array) -> tuple[pa.Array, list[tuple[str, pa.Array]]]:
        text, bad_utf8 = _as_text(raw)
        failed = [("not UTF-8 text", bad_utf8)] if bad_utf8 is not None else []
        if column.type is ColumnType.STRING:
            return text, failed
        trimmed = pc.utf8_trim_whitespace(text)
        # blanks (the vendor pads some cells with spaces) are empty cells: null, not a reject
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        parsed = _parse(column.type, trimmed)
        # a cell failed when it held text and parsing gave nothing
        wrong = pc.and_(pc.is_valid(trimmed), pc.is_null(parsed))
        if bad_utf8 is not None:
            wrong = pc.and_not(wrong, bad_utf8)
        failed.append((_EXPECTED[column.type], wrong))
        return parsed, failed

    def _rejected(
        self, batch: pa.RecordBatch, bad: pa.Array, problems: list[tuple[str, pa.Array]]
    ) -> Rejected:
        positions = pc.indices_nonzero(bad).to_pylist()
        reasons = []
        for row in positions:
            reasons.append(next(reason for reason, mask in problems if mask[row].as_py()))
        picked = batch.take(pa.array(positions, pa.int64()))
        cells = [[_cell(v) for v in picked.column(i).to_pylist()] for i in range(picked.num_columns)]
        return Rejected(reasons, [list(row) for row in zip(*cells, strict=True)])


def _cell(value: bytes | None) -> str | None:
    """A raw cell as text; bytes that are not UTF-8 survive the round trip (``surrogateescape``)."""
    return None if value is None else value.decode("utf-8", "surrogateescape")


def _as_text(raw: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Binary cells as strings, and which cells are not UTF-8 (``None`` when all are, the usual case)."""
    try:
        return raw.cast(pa.string()), None
    except pa.ArrowInvalid:
        pass
    bad = [v is not None and not _is_utf8(v) for v in raw.to_pylist()]
    mask = pa.array(bad, pa.bool_())
    cleaned = pc.if_else(mask, pa.scalar(None, pa.binary()), raw)
    return cleaned.cast(pa.string()), mask


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse(kind: ColumnType, text: pa.Array) -> pa.Array:
    """Typed values; null where the text is null or does not parse."""
    if kind is ColumnType.INT64:
        return _cast_matching(text, _INTEGER, pa.int64())
    if kind is ColumnType.DOUBLE:
        return _cast_matching(text, _FLOAT, pa.float64())
    if kind is ColumnType.DATE:
        parsed = pc.strptime(text, format=_DATE_FORMAT, unit="s", error_is_null=True)
        return pc.cast(parsed, pa.date32())
    parsed = None
    for fmt in TIMESTAMP_FORMATS:
        attempt = pc.strptime(text, format=fmt, unit="ms", error_is_null=True)
        parsed = attempt if parsed is None else pc.coalesce(parsed, attempt)
    return pc.cast(parsed, TIMESTAMP_TYPE)


def _cast_matching(text: pa.Array, pattern: str, target: pa.DataType) -> pa.Array:
    ok = pc.match_substring_regex(text, pattern)
    return pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), target)


def json_value_text(value: Any) -> bytes | None:
    """A JSON value (client properties) as the CSV cell it would be: the converters take text."""
    if value is None:
        return None
    if value is True or value is False:
        return b"true" if value else b"false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat().encode()
    return str(value).encode("utf-8", "surrogateescape")
