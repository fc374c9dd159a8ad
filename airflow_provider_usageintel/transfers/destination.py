"""The S3 side of a transfer: its parameters, declared once, and the destination they name.

A transfer derives from its vendor's operator base (the API side) and from
:class:`ToS3BaseOperator` (the S3 side), as ``BranchPythonOperator`` derives from
two operator bases; a transfer that streams by multipart upload derives from
:class:`StreamToS3BaseOperator` instead, which adds the part size and the progress
cadence. Each base takes its own parameters and passes the rest on, so their order
does not matter. The S3 side is held by composition, as
``HttpToS3Operator`` holds its ``S3Hook``: an :class:`S3Destination` with the
bucket, the :class:`ArchiveS3Hook`, small and streamed writes, the clean-up of
leftover uploads and the Asset events of what was written. It is built on first
use, after templating, so boto3 and the Amazon provider load in ``execute``,
never when a DAG file is parsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_usageintel.archive.assets import DEFAULT_ALIAS, default_outlets, record_objects
from airflow_provider_usageintel.archive.layout import KeySpace, single_key_space
from airflow_provider_usageintel.archive.ndjson import GzipNdjson
from airflow_provider_usageintel.archive.upload import DEFAULT_PART_SIZE, MIN_PART_SIZE, AbortedUpload
from airflow_provider_usageintel.archive.validation import check_bucket_name
from airflow_provider_usageintel.exceptions import Problems, UsageIntelligenceValidationError, positive_number
from airflow_provider_usageintel.utils.lineage import lineage_of, s3_namespace
from airflow_provider_usageintel.utils.progress import DEFAULT_PROGRESS_INTERVAL, Progress

if TYPE_CHECKING:
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

__all__ = [
    "DEFAULT_ALIAS",
    "DEFAULT_AWS_CONN_ID",
    "DEFAULT_STALE_UPLOAD_AGE",
    "S3Destination",
    "StreamToS3BaseOperator",
    "ToS3BaseOperator",
    "check_part_size",
    "with_asset_outlet",
]

DEFAULT_AWS_CONN_ID = "aws_default"
#: an upload this old is no run's work in progress (a 1.5 GiB file takes minutes): it is a leftover.
DEFAULT_STALE_UPLOAD_AGE = dt.timedelta(hours=6)


def with_asset_outlet(asset_alias: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A transfer's ``BaseOperator`` arguments with the default alias outlet (plain or mapped tasks)."""
    return {**kwargs, "outlets": default_outlets(asset_alias, kwargs.get("outlets"))}


class S3Destination:
    """Where a transfer writes, and how: whole objects only, Asset events for each.

    :param operator: the transfer (its log, lineage record and class name go with each call).
    The other parameters are :class:`ToS3BaseOperator`'s (``bucket`` is ``s3_bucket``).
    """

    def __init__(
        self,
        operator: BaseOperator,
        bucket: str,
        aws_conn_id: str | None,
        asset_alias: str | None,
        abort_uploads_older_than: dt.timedelta | float | None,
    ) -> None:
        self.operator = operator
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id
        self.asset_alias = asset_alias
        self.abort_uploads_older_than = abort_uploads_older_than

    @classmethod
    def of(cls, operator: ToS3BaseOperator) -> S3Destination:
        """The destination a transfer's (rendered) parameters name."""
        return cls(
            operator,
            operator.s3_bucket,
            operator.aws_conn_id,
            operator.asset_alias,
            operator.abort_uploads_older_than,
        )

    @cached_property
    def hook(self) -> ArchiveS3Hook:
        """The S3 hook; boto3 and the Amazon provider load here, never at DAG-parse time."""
        from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

        return ArchiveS3Hook(aws_conn_id=self.aws_conn_id, caller=type(self.operator).__name__)

    @property
    def log(self) -> Any:
        return self.operator.log

    def check(self, problems: Problems) -> None:
        """The bucket and the stale-upload bound, checked locally before any call."""
        problems.check(check_bucket_name, self.bucket)
        problems.check(stale_upload_age, self.abort_uploads_older_than)

    def abort_stale_uploads(self, space: KeySpace) -> list[AbortedUpload]:
        """Abort what killed runs of this task left incomplete in ``space`` (see archive/upload.py)."""
        age = stale_upload_age(self.abort_uploads_older_than)
        if age is None:
            return []
        return self.hook.abort_stale_uploads(self.bucket, space.prefix, space.owns, age, self.log)

    def record_assets(self, context: Mapping[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> int:
        """One Asset event, and one OpenLineage output, per object ``(key, extra)`` written."""
        lineage = lineage_of(self.operator)
        for key, _ in objects:
            lineage.wrote(s3_namespace(self.bucket), key)
        return record_objects(
            context, self.asset_alias, [(self.bucket, key, extra) for key, extra in objects]
        )

    def put_bytes(
        self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Write one small object whole; returns its key, size and SHA-256 (also stored as metadata)."""
        digest = hashlib.sha256(body).hexdigest()
        self.hook.put_bytes(
            self.bucket,
            key,
            body,
            content_type=content_type,
            metadata={**(metadata or {}), "sha256": digest, "size": str(len(body))},
        )
        return {"key": key, "size": len(body), "sha256": digest}

    def put_json(self, key: str, value: Any, metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Write a manifest or an API answer as indented JSON with sorted keys, readable and diffable."""
        body = json.dumps(value, indent=2, sort_keys=True).encode()
        return self.put_bytes(key, body, "application/json", metadata)

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
        self.hook.upload_stream(
            self.bucket,
            key,
            counted(output, progress),
            metadata=metadata,
            final_metadata=lambda: {"rows": output.rows, "sha256": output.sha256, "size": output.size},
            part_size=part_size,
            content_type="application/x-ndjson",
            log=self.log,
        )
        return {"key": key, "rows": output.rows, "bytes": output.size, "sha256": output.sha256}


class ToS3BaseOperator(BaseOperator):
    """Base of every transfer into S3: the S3 parameters and the :class:`S3Destination` they name.

    :param s3_bucket: destination bucket. (templated)
    :param aws_conn_id: the Amazon provider's connection for S3 (default ``aws_default``;
        ``None``: the worker's default credential chain, on purpose).
    :param asset_alias: outlet alias that receives one Asset event per object written
        (default ``usageintel-archive``; ``None`` disables it; passing ``outlets`` replaces it).
    :param abort_uploads_older_than: incomplete multipart uploads of the task's own keys that are
        older than this (a ``timedelta`` or seconds; default 6 hours) are leftovers of a killed
        run and are aborted at the start of the next one; ``None`` leaves them to the bucket's
        lifecycle rule. Keep it above the longest time one upload of the task can take, or a
        concurrent run's upload could be aborted.
    """

    template_fields: Sequence[str] = ("s3_bucket",)

    def __init__(
        self,
        *,
        s3_bucket: str,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        asset_alias: str | None = DEFAULT_ALIAS,
        abort_uploads_older_than: dt.timedelta | float | None = DEFAULT_STALE_UPLOAD_AGE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**with_asset_outlet(asset_alias, kwargs))
        self.s3_bucket = s3_bucket
        self.aws_conn_id = aws_conn_id
        self.asset_alias = asset_alias
        self.abort_uploads_older_than = abort_uploads_older_than

    destination = cached_property(S3Destination.of)

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """A mapped transfer (``.partial().expand()``) gets the default alias outlet as a plain one does.

        ``__init__`` does not run for a mapped task at DAG-parse time, so the default is
        applied here too, or its Asset events would have no declared outlet.
        """
        return super().partial(**with_asset_outlet(kwargs.get("asset_alias", DEFAULT_ALIAS), kwargs))


class StreamToS3BaseOperator(ToS3BaseOperator):
    """Base of the transfers that stream objects into S3 by multipart upload, in constant memory.

    Besides :class:`ToS3BaseOperator`'s parameters:

    :param part_size: multipart part size in bytes, at least 5 MiB (default 8 MiB); an object
        passes through memory a few parts at a time (up to four in flight, one filling).
    :param progress_interval: seconds between progress lines in the task log (default 30), so a
        long or stalled transfer shows how far it got.
    """

    def __init__(
        self,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.part_size = part_size
        self.progress_interval = progress_interval

    def check_streaming(self, problems: Problems) -> None:
        """Part size and progress cadence, checked locally before any call."""
        problems.check(check_part_size, self.part_size)
        positive_number(self.progress_interval, "progress_interval", problems, integer=False)


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


def check_part_size(value: object) -> None:
    """A multipart part size S3 accepts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_PART_SIZE:
        raise UsageIntelligenceValidationError(
            f"part_size: {value!r} is below S3's minimum (allowed: >= {MIN_PART_SIZE})"
        )


def counted(chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    """``chunks`` as they are, each one's size added to ``progress``."""
    for chunk in chunks:
        if progress is not None:
            progress.add_bytes(len(chunk))
        yield chunk
