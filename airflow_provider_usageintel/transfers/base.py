"""What every to-S3 operator adds to its source's operators: the bucket, S3 writes and Asset events."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.operator import partial as airflow_partial

from airflow_provider_usageintel.archive.assets import DEFAULT_ALIAS, default_outlets, record_objects
from airflow_provider_usageintel.archive.layout import KeySpace, single_key_space
from airflow_provider_usageintel.archive.ndjson import GzipNdjson
from airflow_provider_usageintel.archive.upload import (
    DEFAULT_PART_SIZE,
    AbortedUpload,
    StreamingUpload,
    abort_stale_uploads,
)
from airflow_provider_usageintel.archive.validation import check_bucket_name
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.operators.base import Problems, UsageIntelligenceBaseOperator
from airflow_provider_usageintel.utils.lineage import lineage_of, s3_namespace
from airflow_provider_usageintel.utils.progress import Progress

#: an upload this old is no run's work in progress (a 1.5 GiB file takes minutes): it is a leftover.
DEFAULT_STALE_UPLOAD_AGE = dt.timedelta(hours=6)


class S3DestinationOperator(BaseOperator):
    """What every transfer of the provider adds to its source's operator: the bucket, S3 and Asset events.

    Mixed in before a source's base operator (``class X(S3DestinationOperator,
    FluidTopicsBaseOperator)``); the S3 hook is created on first use, never at
    DAG-parse time.

    :param s3_bucket: destination bucket. (templated)
    :param aws_conn_id: the Amazon provider's connection for S3.
    :param asset_alias: outlet alias that receives one Asset event per object written
        (``None`` disables it; passing ``outlets`` replaces it).
    :param abort_uploads_older_than: incomplete multipart uploads of this task's own keys that are
        older than this (a ``timedelta`` or seconds) are leftovers of a killed run and are aborted
        at the start of the next one; ``None`` leaves them to the bucket's lifecycle rule. Keep it
        above the longest time one upload of the task can take, or a concurrent run's upload
        could be aborted.
    """

    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        s3_bucket: str,
        aws_conn_id: str | None = "aws_default",
        asset_alias: str | None = DEFAULT_ALIAS,
        abort_uploads_older_than: dt.timedelta | float | None = DEFAULT_STALE_UPLOAD_AGE,
        **kwargs: Any,
    ) -> None:
        kwargs["outlets"] = default_outlets(asset_alias, kwargs.get("outlets"))
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.aws_conn_id = aws_conn_id
        self.asset_alias = asset_alias
        self.abort_uploads_older_than = abort_uploads_older_than

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Mapped transfers (``.partial().expand()``) get the same default alias outlet as plain ones.

        ``__init__`` does not run for a mapped task at DAG-parse time, so the default
        must be applied here too, or its Asset events would have no declared outlet.
        """
        kwargs["outlets"] = default_outlets(kwargs.get("asset_alias", DEFAULT_ALIAS), kwargs.get("outlets"))
        return airflow_partial(cls, **kwargs)

    @cached_property
    def s3(self) -> Any:
        """The boto3 S3 client; boto3 and the Amazon provider load here, never at DAG-parse time."""
        from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

        return ArchiveS3Hook(aws_conn_id=self.aws_conn_id, caller=type(self).__name__).get_conn()

    def check_target(self, problems: Problems) -> None:
        """The bucket and the stale-upload bound, checked locally before any call."""
        problems.check(check_bucket_name, self.s3_bucket)
        problems.check(stale_upload_age, self.abort_uploads_older_than)

    def abort_stale_uploads(self, space: KeySpace) -> list[AbortedUpload]:
        """Abort what killed runs of this task left incomplete in ``space`` (see archive/upload.py)."""
        age = stale_upload_age(self.abort_uploads_older_than)
        if age is None:
            return []
        return abort_stale_uploads(self.s3, self.s3_bucket, space.prefix, space.owns, age, self.log)

    def record_assets(self, context: Mapping[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> int:
        """One Asset event, and one OpenLineage output, per object ``(key, extra)`` written."""
        lineage = lineage_of(self)
        for key, _ in objects:
            lineage.wrote(s3_namespace(self.s3_bucket), key)
        return record_objects(
            context, self.asset_alias, [(self.s3_bucket, key, extra) for key, extra in objects]
        )

    def put_bytes(
        self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        """Write one small object whole; returns its key, size and SHA-256 (also stored as metadata)."""
        digest = hashlib.sha256(body).hexdigest()
        self.s3.put_object(
            Bucket=self.s3_bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={**metadata, "sha256": digest, "size": str(len(body))},
        )
        return {"key": key, "size": len(body), "sha256": digest}

    def upload_ndjson_gz(
        self,
        key: str,
        rows: Iterable[Any],
        metadata: Mapping[str, Any],
        *,
        part_size: int = DEFAULT_PART_SIZE,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Stream ``rows`` into ``key`` as gzipped NDJSON in constant memory, whole or not at all.

        Returns the key, rows, bytes and SHA-256; exports larger than one part carry the latter
        three only here and in their Asset event, not as object metadata.
        """
        self.abort_stale_uploads(single_key_space(key))
        output = GzipNdjson(rows)
        upload = StreamingUpload(
            self.s3,
            self.s3_bucket,
            key,
            metadata=metadata,
            final_metadata=lambda: {"rows": output.rows, "sha256": output.sha256, "size": output.size},
            part_size=part_size,
            content_type="application/x-ndjson",
            log=self.log,
        )
        upload.run(_counted(output, progress))
        return {"key": key, "rows": output.rows, "bytes": output.size, "sha256": output.sha256}


def stale_upload_age(value: object) -> dt.timedelta | None:
    """``abort_uploads_older_than`` as a duration: a ``timedelta`` or seconds, at least 0, or ``None``."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf"):
        return dt.timedelta(seconds=value)
    if isinstance(value, dt.timedelta) and value >= dt.timedelta(0):
        return value
    raise UsageIntelligenceValidationError(
        f"abort_uploads_older_than: {value!r} is not allowed "
        "(allowed: a timedelta or a number of seconds >= 0, or None to leave leftovers to the lifecycle rule)"
    )


def _counted(chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress.add_bytes(len(chunk))
        yield chunk


class UsageIntelligenceToS3BaseOperator(S3DestinationOperator, UsageIntelligenceBaseOperator):
    """Base of the Usage Intelligence S3 transfers.

    Takes the parameters of :class:`S3DestinationOperator` and
    ``usage_intelligence_conn_id`` and ``product_id``.
    """

    def check_target(self, problems: Problems) -> None:
        """Bucket and product, checked locally before any call."""
        super().check_target(problems)
        self.check_product_id(problems)
