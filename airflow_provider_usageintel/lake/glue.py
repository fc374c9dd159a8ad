"""The lake's tables in the AWS Glue Data Catalog, kept current as partitions are written.

One table per file kind and frequency (``custom_events``, ``custom_events_monthly``...),
partitioned by ``product_id`` and ``date`` (or ``month``), each partition registered
as it is written: Athena queries need no crawler and no ``MSCK REPAIR TABLE``.
Columns come from the schema table (lake/schema.py); a column found by schema
drift is appended as a string, the one change Parquet tables take without
rewriting data. Every call is idempotent: registering a partition that exists
changes nothing, so a re-run also repairs a catalog that missed some. This module is
the policy (what a table and a partition are); the Glue calls are the
:class:`~airflow_provider_usageintel.hooks.glue.LakeCatalogHook`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.files import FileKind, Frequency
from airflow_provider_usageintel.archive.lake_layout import Partition, dataset_name
from airflow_provider_usageintel.exceptions import UsageIntelligenceError, UsageIntelligenceValidationError
from airflow_provider_usageintel.lake.schema import SCHEMAS, ColumnType, lake_name

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.glue import LakeCatalogHook

DEFAULT_DATABASE = "usageintel"
DEFAULT_TABLE_TEMPLATE = "{dataset}"
TABLE_FIELDS = ("dataset", "file_kind", "frequency")
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
DATABASE_DESCRIPTION = "Product-usage analytics lake (airflow-provider-usageintel)"
#: the error code Glue gives a partition that is registered already (not a failure: re-runs add it again).
ALREADY_EXISTS = "AlreadyExistsException"


def check_glue_names(database: object, table_template: object) -> None:
    """Glue names (lower-case letters, digits, ``_``) and the table template's placeholders."""
    problems = []
    if not isinstance(database, str) or not _glue_name(database):
        problems.append(
            f"glue_database: {database!r} is not allowed "
            "(allowed: 1-255 lower-case letters, digits and '_', as Athena needs)"
        )
    if not isinstance(table_template, str):
        problems.append(f"glue_table_template: {table_template!r} is not a string")
    else:
        try:
            sample = table_name(table_template, FileKind.CUSTOM_EVENTS.value, Frequency.MONTHLY.value)
        except (KeyError, IndexError, ValueError):
            sample = ""
        if not _glue_name(sample):
            problems.append(
                f"glue_table_template: {table_template!r} does not make a valid table name "
                f"(placeholders: {', '.join(TABLE_FIELDS)}; result: lower-case letters, digits and '_')"
            )
    if problems:
        raise UsageIntelligenceValidationError(problems)


def _glue_name(name: str) -> bool:
    return 0 < len(name) <= 255 and all(c.islower() or c.isdigit() or c == "_" for c in name)


def table_name(template: str, file_kind: str, frequency: str, dataset: str | None = None) -> str:
    """The Glue table of a dataset (``dataset`` defaults to the one of the kind and frequency)."""
    return template.format(
        dataset=dataset or dataset_name(file_kind, frequency), file_kind=file_kind, frequency=frequency
    )


def table_columns(file_kind: str, extra: Sequence[str] = ()) -> list[dict[str, str]]:
    """Glue columns of a kind's table: the schema's, then drifted headers as strings."""
    columns = [
        {"Name": c.name, "Type": c.type.glue_type, "Comment": c.description[:255]}
        for c in SCHEMAS[FileKind(file_kind)]
    ]
    names = {c["Name"] for c in columns}
    for header in extra:
        name = lake_name(header)
        if name not in names:
            names.add(name)
            columns.append(
                {
                    "Name": name,
                    "Type": ColumnType.STRING.glue_type,
                    "Comment": f"schema drift: {header}"[:255],
                }
            )
    return columns


def partition_keys(key_name: str) -> list[dict[str, str]]:
    return [{"Name": "product_id", "Type": "string"}, {"Name": key_name, "Type": "string"}]


class GlueCatalog:
    """Tables and partitions of one lake in one Glue database."""

    def __init__(
        self,
        glue: LakeCatalogHook,
        bucket: str,
        database: str = DEFAULT_DATABASE,
        table_template: str = DEFAULT_TABLE_TEMPLATE,
        compression: str = "snappy",
    ) -> None:
        self.glue = glue
        self.bucket = bucket
        self.database = database
        self.table_template = table_template
        self.compression = compression
        self._databases_checked = False

    def table(self, partition: Partition) -> str:
        kind = partition.file_kind or partition.dataset
        return table_name(self.table_template, kind, partition.frequency, partition.dataset)

    def ensure_database(self) -> None:
        if self._databases_checked:
            return
        self.glue.ensure_database(self.database, DATABASE_DESCRIPTION)
        self._databases_checked = True

    def ensure_table(
        self,
        partition: Partition,
        extra_columns: Sequence[str] = (),
        columns: list[dict[str, str]] | None = None,
    ) -> str:
        """Create the partition's table, or add the columns it lacks; returns its name.

        ``columns`` are those of a table that is not of vendor files (client properties);
        a files table takes its kind's schema plus ``extra_columns`` (drifted headers).
        """
        self.ensure_database()
        name = self.table(partition)
        wanted = columns if columns is not None else table_columns(partition.file_kind, extra_columns)
        current = self.glue.table(self.database, name)
        if current is None:
            if self.glue.create_table(self.database, self._table_input(partition, name, wanted)):
                return name
            current = self.glue.table(self.database, name)  # created meanwhile by a concurrent run
            if current is None:  # pragma: no cover - created, then dropped at once
                raise UsageIntelligenceGlueError(f"Glue {self.database}.{name}: table vanished")
        have = {c["Name"] for c in current.get("StorageDescriptor", {}).get("Columns", [])}
        missing = [c for c in wanted if c["Name"] not in have]
        if missing:
            columns = [*current["StorageDescriptor"]["Columns"], *missing]
            table_input = self._table_input(partition, name, columns)
            self.glue.update_table(self.database, table_input)
        return name

    def _table_input(self, partition: Partition, name: str, columns: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Name": name,
            "Description": f"{partition.dataset} as Parquet (airflow-provider-usageintel)",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "parquet.compression": self.compression.upper(),
            },
            "PartitionKeys": partition_keys(partition.key_name),
            "StorageDescriptor": self._storage(f"s3://{self.bucket}/{partition.table_location}", columns),
        }

    def _storage(self, location: str, columns: list[dict[str, str]] | None = None) -> dict[str, Any]:
        storage: dict[str, Any] = {
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        }
        if columns is not None:
            storage["Columns"] = columns
        return storage

    def add_partitions(self, partitions: Iterable[Partition]) -> int:
        """Register partitions (those already there are left as they are); returns how many are new."""
        by_table: dict[str, list[Partition]] = {}
        for partition in partitions:
            by_table.setdefault(self.table(partition), []).append(partition)
        return sum(self._add(table, items) for table, items in by_table.items())

    def _add(self, table: str, partitions: list[Partition]) -> int:
        inputs = [
            {"Values": p.values, "StorageDescriptor": self._storage(f"s3://{self.bucket}/{p.prefix}")}
            for p in partitions
        ]
        errors = self.glue.add_partitions(self.database, table, inputs)
        real = [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") != ALREADY_EXISTS]
        if real:
            detail = real[0].get("ErrorDetail", {})
            raise UsageIntelligenceGlueError(
                f"Glue {self.database}.{table}: {len(real)} partition(s) not registered "
                f"({detail.get('ErrorCode')}: {detail.get('ErrorMessage')})"
            )
        return len(partitions) - len(errors)


class UsageIntelligenceGlueError(UsageIntelligenceError):
    """Glue refused to register partitions."""
