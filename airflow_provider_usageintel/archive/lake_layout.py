"""Where the lake's objects live: the one place that knows the Hive-style layout.

::

    {lake_prefix}/{file_kind}/product_id={id}/date=YYYY-MM-DD/part-0000.parquet        daily files
    {lake_prefix}/{file_kind}_monthly/product_id={id}/month=YYYY-MM/part-0000.parquet   monthly files
    .../_rejects.csv.gz      rows that did not parse (only when there are some)
    .../_manifest.json       what the partition was written from, row counts, schema drift
    {lake_prefix}/client_properties/product_id={id}/date=YYYY-MM-DD/part-0000.parquet  client exports
    {lake_prefix}/_index/{dataset}/{product_id}.json                                    re-run index

A daily file is one ``date`` partition. Daily and monthly files hold the same
events, so monthly files go to their own table (``{file_kind}_monthly``), one
``month`` partition per month; a month's newer file (the vendor lists
month-to-date files such as ``..._2017-11-01_to_2017-11-23.zip``) replaces the
partition. A partition is always one Parquet object, so replacing it is one
atomic S3 write. Readers skip the ``_``-prefixed side objects (Athena, Spark,
Trino, pyarrow and DuckDB's ``*.parquet`` globs all do).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_usageintel.api.files import FileKind, Frequency
from airflow_provider_usageintel.archive.layout import INDEX_DIR
from airflow_provider_usageintel.archive.validation import check_key
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

PARQUET_NAME = "part-0000.parquet"
REJECTS_NAME = "_rejects.csv.gz"
MANIFEST_NAME = "_manifest.json"
#: the table of client-property exports (one ``date`` partition per export day).
CLIENT_PROPERTIES = "client_properties"
#: frequencies the lake holds, and the partition key of each; open files are not final, so never.
PARTITION_KEYS: dict[Frequency, str] = {Frequency.DAILY: "date", Frequency.MONTHLY: "month"}


def check_lake_prefix(prefix: object, field_name: str = "lake_prefix") -> str:
    """A key prefix the lake can live under (not empty: a table needs its own folder)."""
    check_key(prefix, field_name)
    assert isinstance(prefix, str)  # noqa: S101 - check_key accepts strings only
    if "=" in prefix:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {prefix!r} contains '=' (allowed: a prefix without Hive partition folders)"
        )
    return prefix.strip("/")


def dataset_name(file_kind: str | FileKind, frequency: str | Frequency) -> str:
    """The table of a kind and frequency: ``custom_events``, ``custom_events_monthly``..."""
    kind, freq = FileKind(file_kind), Frequency(frequency)
    if freq not in PARTITION_KEYS:
        raise UsageIntelligenceValidationError(
            f"frequency: {freq.value} files are not final and have no lake table (allowed: daily, monthly)"
        )
    return kind.value if freq is Frequency.DAILY else f"{kind.value}_monthly"


def partition_value(frequency: str | Frequency, start_date: str) -> str:
    """``YYYY-MM-DD`` of a daily file; ``YYYY-MM`` of the month a monthly file starts in."""
    return start_date if Frequency(frequency) is Frequency.DAILY else start_date[:7]


@dataclass(frozen=True)
class Partition:
    """One partition of one table: the objects a source file (or an export) becomes."""

    lake_prefix: str
    #: the table: ``custom_events``, ``custom_events_monthly``, ``client_properties``...
    dataset: str
    #: the partition key after ``product_id``: ``date`` or ``month``.
    key_name: str
    product_id: str
    value: str
    #: the vendor file kind and frequency, for tables of files.
    file_kind: str = ""
    frequency: str = ""

    @property
    def table_location(self) -> str:
        """The key prefix of the table (its Glue ``Location``), with a trailing slash."""
        return f"{self.lake_prefix}/{self.dataset}/"

    @property
    def prefix(self) -> str:
        return f"{self.table_location}product_id={self.product_id}/{self.key_name}={self.value}/"

    @property
    def parquet_key(self) -> str:
        return self.prefix + PARQUET_NAME

    @property
    def rejects_key(self) -> str:
        return self.prefix + REJECTS_NAME

    @property
    def manifest_key(self) -> str:
        return self.prefix + MANIFEST_NAME

    @property
    def values(self) -> list[str]:
        """The partition's values in the table's partition-key order (``product_id``, then date)."""
        return [self.product_id, self.value]


def partition_for(
    lake_prefix: str, file_kind: str, frequency: str, product_id: str, start_date: str
) -> Partition:
    """The partition a final source file (its kind, frequency and first day) is written to."""
    return Partition(
        lake_prefix.strip("/"),
        dataset_name(file_kind, frequency),  # refuses open files
        PARTITION_KEYS[Frequency(frequency)],
        product_id,
        partition_value(frequency, start_date),
        file_kind,
        frequency,
    )


def client_properties_partition(lake_prefix: str, product_id: str, day: str) -> Partition:
    """The partition of one day's client-property export: ``client_properties/.../date=YYYY-MM-DD/``."""
    return Partition(lake_prefix.strip("/"), CLIENT_PROPERTIES, "date", product_id, day)


def index_key(lake_prefix: str, dataset: str, product_id: str) -> str:
    """The re-run index of one table and product (outside every table's location)."""
    return f"{lake_prefix.strip('/')}/{INDEX_DIR}/{dataset}/{product_id}.json"
