"""Store a FusionAuth report in S3: the JSON as returned, plus one NDJSON row per interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.fusionauth import flat_rows
from airflow_provider_usageintel.archive.layout import (
    FUSIONAUTH_PREFIX,
    check_key,
    flat_key_beside,
    fusionauth_report_key,
    fusionauth_snapshot_key,
)
from airflow_provider_usageintel.operators.base import Problems
from airflow_provider_usageintel.operators.fusionauth import FusionAuthBaseOperator
from airflow_provider_usageintel.transfers.destination import (
    ToS3BaseOperator,
)
from airflow_provider_usageintel.utils.flatten import to_ndjson
from airflow_provider_usageintel.utils.periods import reference_time

if TYPE_CHECKING:
    from airflow.sdk import Context


def report_key(prefix: str, report: str, arguments: Mapping[str, Any], context: Mapping[str, Any]) -> str:
    """The key of the aligned window (a re-run hits it again); ``totals`` has none. See archive/layout.py."""
    if not arguments:
        return fusionauth_snapshot_key(prefix, report, reference_time(context))
    return fusionauth_report_key(prefix, report, arguments["start"], arguments["end"])


class FusionAuthReportToS3Operator(FusionAuthBaseOperator, ToS3BaseOperator):
    """Write a report to ``s3_key`` as JSON and its intervals next to it as NDJSON.

    Rows are ``{"report", "interval", "day"|"hour"|"month", "timezone", "count"}``
    (``totals``: one row per application), the period an ISO date, hour or month
    in the server's report time zone (the connection's ``report_timezone``).
    The default key comes from the aligned window, so a re-run overwrites its own
    objects and consecutive runs never share one.

    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``)
    are those of :class:`~airflow_provider_usageintel.transfers.destination.ToS3BaseOperator`.

    :param s3_prefix: prefix of the default key ``<prefix>/<report>/<start>_<end>.json``,
        the bounds on the report time zone's wall clock, e.g.
        ``fusionauth/login/2024-03-14T0000_2024-03-15T0000.json`` (``totals``:
        ``<prefix>/totals/<run time, UTC>.json``). (templated)
    :param s3_key: the whole key of the JSON object instead. (templated)
    :param flat_key: key of the NDJSON object (default: the JSON key with ``.ndjson``).
        (templated)
    :param flat: also write the NDJSON rows.

    Returns (pushed to XCom): the objects written with their sizes and SHA-256, and the row count.
    """

    template_fields: Sequence[str] = (
        *FusionAuthBaseOperator.template_fields,
        *ToS3BaseOperator.template_fields,
        "s3_prefix",
        "s3_key",
        "flat_key",
    )

    def __init__(
        self,
        *,
        s3_prefix: str = FUSIONAUTH_PREFIX,
        s3_key: str | None = None,
        flat_key: str | None = None,
        flat: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_prefix = s3_prefix
        self.s3_key = s3_key
        self.flat_key = flat_key
        self.flat = flat

    def _flat_key(self, key: str) -> str:
        return self.flat_key or flat_key_beside(key, "ndjson")

    def _check_keys(self, key: str, problems: Problems) -> None:
        problems.check(check_key, key, "s3_key")
        if self.flat:
            problems.check(check_key, self._flat_key(key), "flat_key")

    def execute(self, context: Context) -> dict[str, Any]:
        problems = Problems()
        self.destination.check(problems)
        if self.s3_key:
            self._check_keys(self.s3_key, problems)
        arguments = self.check_report(context, problems)
        key = self.s3_key
        if not key:
            key = problems.check(report_key, self.s3_prefix, self.report, arguments, context) or ""
            self._check_keys(key, problems)
            problems.raise_if_any()
        result = self.run_report(arguments)
        metadata = {"source-report": f"fusionauth-{self.report}"}
        if arguments:
            metadata["window-start"] = arguments["start"].isoformat()
            metadata["window-end"] = arguments["end"].isoformat()
        written = [self.destination.put_json(key, result, metadata)]
        if self.flat:
            rows = flat_rows(self.report, result, self.hook.report_timezone)
            flat = self.destination.put_bytes(
                self._flat_key(key), to_ndjson(rows), "application/x-ndjson", metadata
            )
            written.append({**flat, "rows": len(rows)})
        self.destination.record_assets(context, [(w["key"], {"report": self.report, **w}) for w in written])
        self.log.info("FusionAuth %s report written to %s", self.report, ", ".join(w["key"] for w in written))
        return {"report": self.report, "objects": written}
