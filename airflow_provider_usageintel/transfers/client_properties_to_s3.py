"""Export every client's properties into one gzipped NDJSON object in S3, in constant memory."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.validation import request_problems
from airflow_provider_usageintel.archive.validation import check_key
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.operators.base import (
    Problems,
    UsageIntelligenceBaseOperator,
    json_argument,
    within,
)
from airflow_provider_usageintel.transfers.archive_to_lake import (
    ToS3AndLakeBaseOperator,
    lake_after_client_export,
)
from airflow_provider_usageintel.utils.progress import Progress


class UsageIntelligenceClientPropertiesToS3Operator(UsageIntelligenceBaseOperator, ToS3AndLakeBaseOperator):
    """Page through clientPropertyList and stream the rows into ``s3_key`` as gzipped NDJSON.

    Pages are followed with ``nextClientId`` until ``reachedEnd``; one page is in
    memory at a time and the object is written by multipart upload, so memory
    does not depend on the number of clients. Values come as strings; ``"<NULL>"``
    (a missing value) becomes ``null``. With ``retDailyData`` and no ``properties``
    a row holds ``clientId`` and ``dailyData`` only.

    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``,
    ``part_size``, ``progress_interval``) and the lake's (``lake_prefix``, ``lake_options``) are
    those of :class:`~airflow_provider_usageintel.transfers.archive_to_lake.ToS3AndLakeBaseOperator`.
    With ``lake_prefix`` the export is also written as the Parquet partition
    ``{lake_prefix}/client_properties/product_id={id}/date={day}/`` (see docs/query.md). Its own:

    :param s3_key: destination key (templated), e.g. ``clients/{{ ds }}/clients.ndjson.gz``.
    :param request: clientPropertyList body: ``properties``, optional ``retDailyData``
        (``{startDate, stopDate, properties}``) and ``globalFilters``. (templated)

    Returns (pushed to XCom): key, rows, bytes, SHA-256 of the object and duration.
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceBaseOperator.template_fields,
        *ToS3AndLakeBaseOperator.template_fields,
        "request",
        "s3_key",
    )
    template_fields_renderers = {"request": "json"}

    def __init__(
        self,
        *,
        s3_key: str,
        request: dict[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_key = s3_key
        self.request = request

    def _validate(self) -> dict[str, Any]:
        problems = Problems()
        request = problems.check(json_argument, self.request, "request") or {}
        problems.extend(within("request", request_problems("client_property_list", request)))
        self.destination.check(problems)
        self.check_product_id(problems)
        problems.check(check_key, self.s3_key, "s3_key")
        self.check_streaming(problems)
        self.check_lake(problems)
        problems.raise_if_any()
        return dict(request)

    def execute(self, context: Context) -> dict[str, Any]:
        request = self._validate()
        started = time.monotonic()
        label = f"client properties to s3://{self.s3_bucket}/{self.s3_key}"
        with (
            self.hook as hook,
            Progress(self.log, label, 1, self.progress_interval, item_name="rows") as progress,
        ):
            written = self.destination.upload_ndjson_gz(
                self.s3_key,
                self._rows(hook, request, progress),
                {"source-product-id": hook.product_id(self.product_id)},
                part_size=self.part_size,
                progress=progress,
            )
            progress.file_done()
        summary = {**written, "seconds": round(time.monotonic() - started, 3)}
        self.destination.record_assets(
            context, [(self.s3_key, {k: summary[k] for k in ("rows", "bytes", "sha256")})]
        )
        if self.lake_prefix:
            summary["lake"] = lake_after_client_export(self, written, request, context)
        return summary

    def _rows(
        self, hook: UsageIntelligenceHook, request: dict[str, Any], progress: Progress
    ) -> Iterator[dict[str, Any]]:
        for row in hook.iter_client_properties(request, self.product_id):
            progress.add_items()
            yield row
