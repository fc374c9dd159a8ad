"""Render the lake's schema tables and Athena DDL into docs/query.md, from the schema table.

``python -m airflow_provider_usageintel.lake.reference docs/query.md`` rewrites the
part of the page between the markers; a test fails when the committed page differs,
so the docs cannot drift from the schema.
"""

from __future__ import annotations

import sys
from pathlib import Path

from airflow_provider_usageintel.api.files import FileKind, Frequency
from airflow_provider_usageintel.archive.lake_layout import PARTITION_KEYS, dataset_name
from airflow_provider_usageintel.lake.glue import partition_keys
from airflow_provider_usageintel.lake.schema import SCHEMA_VERSION, SCHEMAS, TIMESTAMP_FORMATS, ColumnType

_PARQUET = {
    ColumnType.STRING: "string (UTF-8)",
    ColumnType.INT64: "int64",
    ColumnType.DOUBLE: "double",
    ColumnType.TIMESTAMP: "timestamp (ms, UTC)",
    ColumnType.DATE: "date32",
}
START = "<!-- lake-schema:start (generated from airflow_provider_usageintel/lake/schema.py) -->"
END = "<!-- lake-schema:end -->"


def _ddl(kind: FileKind, frequency: Frequency) -> list[str]:
    dataset = dataset_name(kind, frequency)
    columns = ",\n".join(f"  `{c.name}` {c.type.glue_type}" for c in SCHEMAS[kind])
    keys = ", ".join(f"`{k['Name']}` {k['Type']}" for k in partition_keys(PARTITION_KEYS[frequency]))
    return [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS usageintel.{dataset} (",
        columns,
        ")",
        f"PARTITIONED BY ({keys})",
        "STORED AS PARQUET",
        f"LOCATION 's3://YOUR-BUCKET/usageintel-lake/{dataset}/'",
        "TBLPROPERTIES ('parquet.compression' = 'SNAPPY');",
    ]


def render() -> str:
    lines = [
        START,
        "",
        f"Schema version {SCHEMA_VERSION}. Event times are read with these formats, in order: "
        + ", ".join(f"`{f}`" for f in TIMESTAMP_FORMATS)
        + " (taken as UTC).",
        "",
    ]
    for kind in FileKind:
        tables = f"`{dataset_name(kind, Frequency.DAILY)}`"
        if kind is not FileKind.RAW_EVENTS:
            tables += f" and `{dataset_name(kind, Frequency.MONTHLY)}`"
        lines += [
            f"### {kind.value}",
            "",
            f"Tables {tables}.",
            "",
            "| CSV header | lake column | Parquet | Athena | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{c.header}` | `{c.name}` | {_PARQUET[c.type]} | {c.type.glue_type} | {c.description} |"
            for c in SCHEMAS[kind]
        ]
        lines.append("")
    lines += [
        "### Athena DDL",
        "",
        "Only needed without `glue_database` (the operators create and update these tables,",
        "and register each partition, themselves). Add partitions with `MSCK REPAIR TABLE` or",
        "`ALTER TABLE ... ADD PARTITION`.",
        "",
        "```sql",
    ]
    for kind in FileKind:
        lines += _ddl(kind, Frequency.DAILY)
        lines.append("")
    lines += _ddl(FileKind.CUSTOM_EVENTS, Frequency.MONTHLY)
    lines += ["```", "", END]
    return "\n".join(lines)


def splice(page: str) -> str:
    """``page`` with its generated part replaced by :func:`render`."""
    head, found, rest = page.partition(START)
    if not found or END not in rest:
        raise ValueError(f"the page has no {START!r} ... {END!r} section")
    return head + render() + rest.split(END, 1)[1]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(render() + "\n")
        return 0
    path = Path(args[0])
    path.write_text(splice(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
