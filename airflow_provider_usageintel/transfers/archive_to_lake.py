"""The Parquet lake beside the archive: the transfers' ``lake_prefix`` option and the backfill operator.

The option (declared by :class:`ToS3AndLakeBaseOperator`, the base of the files and client
properties transfers) and the backfill both read what is archived back from S3 in constant
memory and write their partitions with :mod:`airflow_provider_usageintel.lake.writer`; neither
calls the vendor API for the lake. pyarrow and the lake writer are imported
inside ``execute`` only: DAG files that use these operators parse without them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.files import FileKind, FileRecord, Frequency
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.archive.assets import record_objects
from airflow_provider_usageintel.archive.errors import s3_errors
from airflow_provider_usageintel.archive.lake_layout import PARTITION_KEYS, check_lake_prefix
from airflow_provider_usageintel.archive.layout import (
    index_key,
    object_key,
    selection_prefix,
)
from airflow_provider_usageintel.archive.validation import check_bucket_name
from airflow_provider_usageintel.exceptions import Problems, UsageIntelligenceValidationError, positive_number
from airflow_provider_usageintel.transfers.archive_base import UsageIntelligenceArchiveBaseOperator
from airflow_provider_usageintel.transfers.destination import StreamToS3BaseOperator, ToS3BaseOperator

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook
    from airflow_provider_usageintel.lake.glue import GlueCatalog
    from airflow_provider_usageintel.lake.writer import LakeSync, SourceFile

#: what ``lake_options`` may hold, with defaults.
LAKE_OPTION_DEFAULTS: dict[str, Any] = {
    "lake_bucket": None,
    "glue_database": None,
    "glue_table_template": "{dataset}",
    "compression": "snappy",
    "max_concurrency": 2,
}
COMPRESSIONS = ("snappy", "zstd", "gzip", "none")
_INFIX = {FileKind.CUSTOM_EVENTS: "_cust", FileKind.EXCEPTIONS: "_exc", FileKind.RAW_EVENTS: ""}
_DAY = r"\d{4}-\d{2}-\d{2}"


def check_lake_options(lake_prefix: object, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The lake's settings with defaults, every problem at once, before any call."""
    from airflow_provider_usageintel.lake.glue import check_glue_names

    problems = Problems()
    problems.check(check_lake_prefix, lake_prefix)
    given = dict(options or {})
    unknown = sorted(set(given) - set(LAKE_OPTION_DEFAULTS))
    if unknown:
        problems.add(
            f"lake_options: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(LAKE_OPTION_DEFAULTS)})"
        )
    settings = {**LAKE_OPTION_DEFAULTS, **{k: v for k, v in given.items() if k in LAKE_OPTION_DEFAULTS}}
    if settings["lake_bucket"] is not None:
        problems.check(check_bucket_name, settings["lake_bucket"], "lake_bucket")
    if settings["glue_database"]:  # empty: no Glue (an unset Variable renders as "")
        problems.check(check_glue_names, settings["glue_database"], settings["glue_table_template"])
    if settings["compression"] not in COMPRESSIONS:
        problems.add(
            f"compression: {settings['compression']!r} is not allowed (allowed: {', '.join(COMPRESSIONS)})"
        )
    positive_number(settings["max_concurrency"], "max_concurrency", problems)
    problems.raise_if_any()
    return settings


def check_lake_step(lake_prefix: object, options: Mapping[str, Any] | None, problems: Problems) -> None:
    """The ``lake_prefix`` option of a transfer, if set: its settings, and pyarrow to act on them."""
    if not lake_prefix:
        return
    problems.check(check_lake_options, lake_prefix, options)
    problems.check(require_pyarrow)


def require_pyarrow() -> None:
    """A clear error naming the extra, instead of an ImportError deep in the writer."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageIntelligenceValidationError(
            "lake_prefix: the Parquet lake needs pyarrow (allowed: install airflow-provider-usageintel[lake])"
        ) from None


class ToS3AndLakeBaseOperator(StreamToS3BaseOperator):
    """Base of the streaming transfers that can also write what they archive into the Parquet lake.

    Besides :class:`~airflow_provider_usageintel.transfers.destination.StreamToS3BaseOperator`'s
    parameters:

    :param lake_prefix: also keep a Parquet lake of what is archived under this prefix (needs the
        ``lake`` extra; see docs/query.md and ``UsageIntelligenceArchiveToLakeOperator``). (templated)
    :param lake_options: lake settings: ``lake_bucket``, ``glue_database``, ``glue_table_template``,
        ``compression``, ``max_concurrency``. (templated)
    """

    template_fields: Sequence[str] = (*StreamToS3BaseOperator.template_fields, "lake_prefix", "lake_options")

    def __init__(
        self,
        *,
        lake_prefix: str | None = None,
        lake_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_prefix = lake_prefix
        self.lake_options = lake_options

    def check_lake(self, problems: Problems) -> None:
        """With ``lake_prefix``: the lake's settings and pyarrow, checked before any call."""
        check_lake_step(self.lake_prefix, self.lake_options, problems)


def record_from_name(name: str, kind: FileKind, product_id: str) -> FileRecord | None:
    """The final file a vendor file name stands for (``{pid}_cust_{day}.zip``, ``..._{a}_to_{b}.zip``)."""
    stem = re.escape(f"{product_id}{_INFIX[kind]}_")
    daily = re.fullmatch(f"{stem}({_DAY})\\.zip", name)
    if daily:
        day = daily.group(1)
        return FileRecord(kind.value, Frequency.DAILY.value, name, day, day)
    monthly = re.fullmatch(f"{stem}({_DAY})_to_({_DAY})\\.zip", name)
    if monthly and kind is not FileKind.RAW_EVENTS:
        return FileRecord(kind.value, Frequency.MONTHLY.value, name, monthly.group(1), monthly.group(2))
    return None


def lake_sync(
    s3: ArchiveS3Hook,
    source_bucket: str,
    lake_prefix: str,
    settings: Mapping[str, Any],
    *,
    aws_conn_id: str | None,
    replace: bool = False,
    log: Any = None,
) -> LakeSync:
    """A :class:`LakeSync` for these settings (Glue only when a database is named)."""
    from airflow_provider_usageintel.lake.writer import LakeSync, PartitionWriter

    lake_bucket = settings["lake_bucket"] or source_bucket
    prefix = lake_prefix.strip("/")
    writer = PartitionWriter(
        s3, source_bucket, lake_bucket, prefix, compression=settings["compression"], log=log
    )
    catalog = glue_catalog(settings, lake_bucket, aws_conn_id)
    return LakeSync(
        writer, catalog=catalog, replace=replace, max_concurrency=settings["max_concurrency"], log=log
    )


def glue_catalog(
    settings: Mapping[str, Any], lake_bucket: str, aws_conn_id: str | None
) -> GlueCatalog | None:
    """The Glue catalog of these settings, or ``None`` without a database."""
    if not settings["glue_database"]:
        return None
    from airflow_provider_usageintel.hooks.glue import LakeCatalogHook
    from airflow_provider_usageintel.lake.glue import GlueCatalog

    glue = LakeCatalogHook(aws_conn_id=aws_conn_id)
    return GlueCatalog(
        glue, lake_bucket, settings["glue_database"], settings["glue_table_template"], settings["compression"]
    )


def sources_from_listing(
    listing: Mapping[str, Mapping[str, Any]],
    records: Iterable[tuple[FileRecord, str]],
    product_id: str,
    sha256: Mapping[str, str | None] | None = None,
) -> list[SourceFile]:
    """Archived objects (listing entries by key) of final files, as lake sources."""
    from airflow_provider_usageintel.lake.writer import SourceFile

    sources = []
    for record, key in records:
        item = listing.get(key)
        if item is None or not record.is_final or record.frequency not in {f.value for f in PARTITION_KEYS}:
            continue
        sources.append(
            SourceFile(
                key=key,
                size=int(item["Size"]),
                etag=str(item["ETag"]),
                file_kind=record.file_kind,
                frequency=record.frequency,
                product_id=product_id,
                file_name=record.file_name,
                start_date=record.start_date,
                stop_date=record.stop_date,
                sha256=(sha256 or {}).get(key),
            )
        )
    return sources


def list_objects(s3: ArchiveS3Hook, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """The archive's objects under ``prefix`` by key (``Size``, ``ETag``): what lake sources are made of."""
    return s3.list_objects(bucket, prefix)


def keep_lake_in_step(
    operator: Any,
    manifest: dict[str, Any],
    plan: Sequence[Any],
    transferred: Sequence[Mapping[str, Any]],
    product_id: str,
    context: Mapping[str, Any],
) -> Exception | None:
    """The files transfer's lake step, if ``lake_prefix`` is set: its summary goes in the manifest.

    Its failure is returned, not raised, so the task reports it after the archive's own failures.
    """
    if not operator.lake_prefix:
        return None
    try:
        manifest["lake"] = lake_after_archive(operator, plan, transferred, product_id, context)
    except Exception as exc:  # reported after the archive's own failures, never hiding them
        return exc
    return None


def lake_after_archive(
    operator: Any,
    plan: Sequence[Any],
    transferred: Sequence[Mapping[str, Any]],
    product_id: str,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The files transfer's ``lake_prefix`` step: the final files now in the archive, into the lake.

    ``plan`` holds the transfer's planned files (``record``, ``key``, ``skip_reason``) and
    ``transferred`` what it wrote; every file that is in the archive after the run (written now or
    found already archived) is a source, and the lake writes only the partitions it lacks.
    """
    import os

    settings = check_lake_options(operator.lake_prefix, operator.lake_options)
    sha256 = {str(t["key"]): t.get("sha256") for t in transferred}
    archived = [
        (p.record, p.key)
        for p in plan
        if p.record.is_final and (p.key in sha256 or p.skip_reason == "already archived")
    ]
    if not archived:
        return {"written": [], "skipped": [], "failed": []}
    prefix = os.path.commonprefix([key for _, key in archived])  # noqa: RUF071 - S3 prefixes
    listing = list_objects(operator.destination.hook, operator.s3_bucket, prefix)
    sources = sources_from_listing(listing, archived, product_id, sha256)
    sync = lake_sync(
        operator.destination.hook,
        operator.s3_bucket,
        operator.lake_prefix,
        settings,
        aws_conn_id=operator.aws_conn_id,
        log=operator.log,
    )
    summary = sync.run(sources)
    record_partitions(context, operator.asset_alias, sync.bucket, summary)
    return summary


def record_partitions(
    context: Mapping[str, Any], asset_alias: str | None, bucket: str, summary: Mapping[str, Any]
) -> int:
    """One Asset event per Parquet object written (``s3://lake-bucket/...part-0000.parquet``)."""
    events = [
        (bucket, w["key"], {"rows": w["rows"], "rows_rejected": w["rows_rejected"]})
        for w in summary["written"]
    ]
    return record_objects(context, asset_alias, events)


def lake_after_client_export(
    operator: Any, written: Mapping[str, Any], request: dict[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The client-property export's ``lake_prefix`` step: the export just written, as a Parquet partition.

    The partition is the export's day: the run's logical date, or the day it ran when it has
    none (a manual trigger). Each run rewrites its day's partition whole, atomically.
    """
    from airflow_provider_usageintel.lake.clients import ClientPropertiesLakeWriter, glue_columns
    from airflow_provider_usageintel.lake.schema import client_columns

    settings = check_lake_options(operator.lake_prefix, operator.lake_options)
    product_id = operator.hook.product_id(operator.product_id)
    writer = ClientPropertiesLakeWriter(
        operator.destination.hook,
        operator.s3_bucket,
        settings["lake_bucket"] or operator.s3_bucket,
        operator.lake_prefix.strip("/"),
        compression=settings["compression"],
        log=operator.log,
    )
    partition, manifest = writer.write_export(str(written["key"]), product_id, export_day(context), request)
    registered = 0
    catalog = glue_catalog(settings, writer.lake_bucket, operator.aws_conn_id)
    if catalog is not None:
        daily = request.get("retDailyData")
        columns = client_columns(
            [str(p) for p in request.get("properties") or []],
            [str(p) for p in (daily or {}).get("properties") or []] if daily else None,
        )
        catalog.ensure_table(partition, columns=glue_columns(columns))
        registered = catalog.add_partitions([partition])
    summary = {
        "key": partition.parquet_key,
        "rows": manifest["rows"]["parquet"],
        "rows_rejected": manifest["rows"]["rejected"],
        "bytes": manifest["parquet"]["bytes"],
        "partitions_registered": registered,
    }
    record_partitions(context, operator.asset_alias, writer.lake_bucket, {"written": [summary]})
    return summary


def export_day(context: Mapping[str, Any]) -> str:
    """``YYYY-MM-DD`` of the run's logical date; of when it runs if it has none (manual trigger)."""

    moment = context.get("logical_date")
    if moment is None and context.get("dag_run") is not None:
        moment = getattr(context["dag_run"], "run_after", None)
    if moment is None:
        moment = dt.datetime.now(dt.timezone.utc)
    return str(moment.date().isoformat())


class UsageIntelligenceArchiveToLakeOperator(UsageIntelligenceArchiveBaseOperator, ToS3BaseOperator):
    """Backfill the Parquet lake from zips already in the archive, without calling the vendor API.

    Lists the archive (the layout :class:`UsageIntelligenceFilesToS3Operator` wrote: same
    ``s3_prefix`` and ``key_template``), reads each final file's zip from S3 in ranged GETs and writes the
    partitions the lake lacks or whose source changed (see docs/query.md).

    Takes the selection and layout parameters of
    :class:`~airflow_provider_usageintel.transfers.archive_base.UsageIntelligenceArchiveBaseOperator`
    (``file_kind``, ``frequency`` (``daily``, ``monthly`` or both), ``since``, ``until``,
    ``file_names``; without ``since`` and ``until``, the whole archive; ``s3_prefix``,
    ``key_template``, ``manifest_key`` for the run summary), ``product_id`` and
    ``usage_intelligence_conn_id``.
    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``)
    are those of :class:`~airflow_provider_usageintel.transfers.destination.ToS3BaseOperator`
    (``s3_bucket`` is the archive's bucket, also the lake's unless ``lake_bucket``;
    ``asset_alias`` gets one Asset event per partition). Its own:

    :param lake_prefix: key prefix of the lake, e.g. ``usageintel-lake``.
    :param lake_bucket: write the lake to another bucket.
    :param glue_database: register tables and partitions in this Glue database (``None``: no Glue).
    :param glue_table_template: table names, placeholders ``dataset``, ``file_kind``, ``frequency``.
    :param compression: Parquet compression (``snappy``, ``zstd``, ``gzip``, ``none``).
    :param replace: rewrite partitions even when their source did not change.
    :param max_concurrency: files converted at once (CPU-bound: about one per core).

    Returns (pushed to XCom): partitions written, skipped and failed, rows and rejected rows.
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceArchiveBaseOperator.template_fields,
        *ToS3BaseOperator.template_fields,
        "lake_prefix",
        "lake_bucket",
        "glue_database",
        "replace",
    )
    ui_color = "#eaf5e1"

    def __init__(
        self,
        *,
        lake_prefix: str,
        lake_bucket: str | None = None,
        glue_database: str | None = None,
        glue_table_template: str = "{dataset}",
        compression: str = "snappy",
        replace: bool = False,
        max_concurrency: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_prefix = lake_prefix
        self.lake_bucket = lake_bucket
        self.glue_database = glue_database
        self.glue_table_template = glue_table_template
        self.compression = compression
        self.replace = replace
        self.max_concurrency = max_concurrency

    def _validate(self) -> tuple[FileSelection, dict[str, Any], str]:
        problems = Problems()
        selection = self.parse_selection(problems)
        if selection is not None and Frequency.OPEN in selection.frequencies:
            problems.add(
                "frequency: open files are not final and have no lake table (allowed: daily, monthly)"
            )
        self.destination.check(problems)
        product_id = problems.check(self.hook.product_id, self.product_id)
        settings = problems.check(
            check_lake_options,
            self.lake_prefix,
            {
                "lake_bucket": self.lake_bucket,
                "glue_database": self.glue_database,
                "glue_table_template": self.glue_table_template,
                "compression": self.compression,
                "max_concurrency": self.max_concurrency,
            },
        )
        self.check_archive(problems)
        problems.raise_if_any()
        if selection is None or settings is None or product_id is None:  # pragma: no cover
            raise UsageIntelligenceValidationError("file_kind: no valid selection")
        return selection, settings, product_id

    def execute(self, context: Context) -> dict[str, Any]:
        selection, settings, product_id = self._validate()
        require_pyarrow()
        prefix = selection_prefix(selection, product_id, self.s3_prefix, self.key_template)
        listing = list_objects(self.destination.hook, self.s3_bucket, prefix)
        records = self._archived(listing, selection, product_id)
        self.log.info(
            "%d archived %s file(s) under s3://%s/%s",
            len(records),
            selection.file_kind.value,
            self.s3_bucket,
            prefix,
        )
        sources = sources_from_listing(
            listing, records, product_id, self._archive_sha256(product_id, listing)
        )
        sync = lake_sync(
            self.destination.hook,
            self.s3_bucket,
            self.lake_prefix,
            settings,
            aws_conn_id=self.aws_conn_id,
            replace=self.replace,
            log=self.log,
        )
        summary = sync.run(sources)
        if self.manifest_key:
            self.destination.put_json(self.manifest_key, summary, {"source-product-id": product_id})
        record_partitions(context, self.asset_alias, settings["lake_bucket"] or self.s3_bucket, summary)
        return summary

    def _archived(
        self, listing: Mapping[str, Any], selection: FileSelection, product_id: str
    ) -> list[tuple[FileRecord, str]]:
        """Listed keys that are where the archive puts a final file of the selection."""
        found = []
        for key in listing:
            record = record_from_name(key.rsplit("/", 1)[-1], selection.file_kind, product_id)
            if record is None or not selection.matches(record):
                continue
            if object_key(record, product_id, self.s3_prefix, self.key_template) == key:
                found.append((record, key))
        return sorted(found, key=lambda item: item[1])

    def _archive_sha256(
        self, product_id: str, listing: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, str | None]:
        """SHA-256s the archive index recorded for objects the listing shows unchanged (checked on read)."""
        from airflow_provider_usageintel.archive.index import ArchiveIndex

        key = index_key(self.s3_prefix, product_id, FileKind.parse(self.file_kind).value)
        try:
            index = ArchiveIndex(self.destination.hook, self.s3_bucket, key).load()
        except s3_errors():  # the index only adds a check; the lake hashes anyway
            return {}
        return {
            k: entry.get("sha256")
            for k, entry in index.entries.items()
            if k in listing and entry.get("size") == int(listing[k]["Size"])
        }
