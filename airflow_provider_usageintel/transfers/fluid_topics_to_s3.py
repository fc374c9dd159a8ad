"""Archive the Fluid Topics events of a data interval into one gzipped NDJSON object in S3."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.fluid_topics import DEFAULT_PER_PAGE, MAX_PER_PAGE
from airflow_provider_usageintel.archive.layout import FLUID_TOPICS_PREFIX, check_key, events_key
from airflow_provider_usageintel.exceptions import Problems, whole_number_within
from airflow_provider_usageintel.operators.fluid_topics import FluidTopicsBaseOperator, Names
from airflow_provider_usageintel.transfers.destination import StreamToS3BaseOperator
from airflow_provider_usageintel.utils.progress import Progress

if TYPE_CHECKING:
    from airflow.sdk import Context


class FluidTopicsEventsToS3Operator(FluidTopicsBaseOperator, StreamToS3BaseOperator):
    """Stream every event of the window into S3 as gzipped NDJSON, one event per line.

    Pages are followed oldest first until ``lastPage``; one page is in memory at a
    time and the object is written by multipart upload, so memory does not grow
    with the number of events. A re-run of the same interval rewrites the same key
    with the same bytes (the window fixes the key, the order and the content;
    gzip carries no timestamp), so retries and backfills are idempotent.

    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``,
    ``part_size``, ``progress_interval``) are those of
    :class:`~airflow_provider_usageintel.transfers.destination.StreamToS3BaseOperator`. Its own:

    :param s3_prefix: prefix of the default key ``<prefix>/<start>_<end>.ndjson.gz``. (templated)
    :param s3_key: the whole key instead, e.g. ``events/{{ ds }}.ndjson.gz``. (templated)
    :param user_ids: keep only these users' events. (templated)
    :param realms: keep only users of these realms. (templated)
    :param groups: keep only users of these groups. (templated)
    :param roles: keep only users with these roles. (templated)
    :param per_page: events per call (1 to 10000).

    Returns (pushed to XCom): key, rows, bytes and SHA-256 of the object, the window and the duration.
    """

    template_fields: Sequence[str] = (
        *FluidTopicsBaseOperator.template_fields,
        *StreamToS3BaseOperator.template_fields,
        "s3_prefix",
        "s3_key",
        "user_ids",
        "realms",
        "groups",
        "roles",
    )

    def __init__(
        self,
        *,
        s3_prefix: str = FLUID_TOPICS_PREFIX,
        s3_key: str | None = None,
        user_ids: Names = None,
        realms: Names = None,
        groups: Names = None,
        roles: Names = None,
        per_page: int = DEFAULT_PER_PAGE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_prefix = s3_prefix
        self.s3_key = s3_key
        self.user_ids = user_ids
        self.realms = realms
        self.groups = groups
        self.roles = roles
        self.per_page = per_page

    def _validate(self, context: Context) -> tuple[dt.datetime, dt.datetime, str]:
        problems = Problems()
        self.destination.check(problems)
        whole_number_within(self.per_page, "per_page", 1, MAX_PER_PAGE, problems)
        self.check_streaming(problems)
        start, end = self.window(context, problems)
        key = self.s3_key or events_key(self.s3_prefix, start, end)
        problems.check(check_key, key, "s3_key")
        problems.raise_if_any()
        return start, end, key

    def execute(self, context: Context) -> dict[str, Any]:
        start, end, key = self._validate(context)
        started = time.monotonic()
        label = f"Fluid Topics events to s3://{self.s3_bucket}/{key}"
        with Progress(self.log, label, 1, self.progress_interval, item_name="events") as progress:
            summary = self.destination.upload_ndjson_gz(
                key,
                self._events(start, end, progress),
                {
                    "source": "fluid-topics-events",
                    "window-start": start.isoformat(),
                    "window-end": end.isoformat(),
                },
                part_size=self.part_size,
                progress=progress,
            )
            progress.file_done()
        summary.update(
            start=start.isoformat(), end=end.isoformat(), seconds=round(time.monotonic() - started, 3)
        )
        self.destination.record_assets(
            context, [(key, {k: summary[k] for k in ("rows", "bytes", "sha256", "start", "end")})]
        )
        self.log.info(
            "%d events of [%s, %s) written to s3://%s/%s", summary["rows"], start, end, self.s3_bucket, key
        )
        return summary

    def _events(self, start: dt.datetime, end: dt.datetime, progress: Progress) -> Iterator[dict[str, Any]]:
        for event in self.hook.iter_events(
            start,
            end,
            names=self.names,
            user_ids=self.user_ids,
            realms=self.realms,
            groups=self.groups,
            roles=self.roles,
            sort_order="OldestFirst",
            per_page=self.per_page,
        ):
            progress.add_items()
            yield event
