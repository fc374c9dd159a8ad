"""The only code that calls AWS Glue: the lake's catalog, through methods named for what the lake needs.

:class:`LakeCatalogHook` makes sure a database exists, reads, creates and updates a
table, and registers partitions, in Glue's own terms (``TableInput``,
``PartitionInput``). What goes into a table or a partition (columns, locations,
formats) and when a table changes is the lake's policy, in ``lake/glue.py``; this
module only speaks Glue. Like the S3 hook, it is imported inside ``execute``, never
when a DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

#: ``BatchCreatePartition`` takes at most this many partitions a call.
PARTITION_BATCH = 100


class LakeCatalogHook(AwsBaseHook):
    """Glue Data Catalog client of the Parquet lake; ``aws_conn_id`` as for the S3 hook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "glue"
        super().__init__(*args, **kwargs)

    def ensure_database(self, database: str, description: str) -> bool:
        """Create ``database`` unless it exists; ``True`` when this call created it."""
        client = self.get_conn()
        try:
            client.create_database(DatabaseInput={"Name": database, "Description": description})
        except client.exceptions.AlreadyExistsException:
            return False
        return True

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        """The table's definition (``Table`` of ``GetTable``), or ``None`` when there is none."""
        client = self.get_conn()
        try:
            table: dict[str, Any] = client.get_table(DatabaseName=database, Name=name)["Table"]
        except client.exceptions.EntityNotFoundException:
            return None
        return table

    def create_table(self, database: str, table_input: dict[str, Any]) -> bool:
        """Create a table; ``False`` when one of that name exists already (a concurrent run made it)."""
        client = self.get_conn()
        try:
            client.create_table(DatabaseName=database, TableInput=table_input)
        except client.exceptions.AlreadyExistsException:
            return False
        return True

    def update_table(self, database: str, table_input: dict[str, Any]) -> None:
        """Replace a table's definition with ``table_input`` (its partitions stay as they are)."""
        self.get_conn().update_table(DatabaseName=database, TableInput=table_input)

    def add_partitions(
        self, database: str, table: str, partition_inputs: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Register partitions, :data:`PARTITION_BATCH` a call; returns Glue's per-partition errors.

        A partition that is already registered comes back as an error with code
        ``AlreadyExistsException`` and is left as it is.
        """
        client = self.get_conn()
        errors: list[dict[str, Any]] = []
        for start in range(0, len(partition_inputs), PARTITION_BATCH):
            answer = client.batch_create_partition(
                DatabaseName=database,
                TableName=table,
                PartitionInputList=list(partition_inputs[start : start + PARTITION_BATCH]),
            )
            errors.extend(answer.get("Errors", []))
        return errors
