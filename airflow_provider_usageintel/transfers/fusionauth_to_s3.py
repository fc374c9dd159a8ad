"""Store a FusionAuth report in S3: the JSON as returned, plus one NDJSON row per interval."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.api.fusionauth import flat_rows
from airflow_provider_usageintel.operators.base import Problems
from airflow_provider_usageintel.operators.fusionauth import FusionAuthBaseOperator
from airflow_provider_usageintel.transfers.base import S3DestinationOperator
from airflow_provider_usageintel.utils.flatten import to_ndjson
from airflow_provider_usageintel.utils.s3_validation import check_key

if TYPE_CHECKING:
    from airflow.sdk import Context


class FusionAuthReportToS3Operator(S3DestinationOperator, FusionAuthBaseOperator):
    """Write a report to ``s3_key`` as JSON and its intervals next to it as NDJSON.

    Rows are ``{"report", "interval", "day"|"hour"|"month", "timezone", "count"}``
    (``totals``: one row per application), the period an ISO date, hour or month
    in the server's report time zone (the connection's ``report_timezone``).
    Keys are templated from the interval, so a re-run overwrites its own objects.

    :param s3_key: key of the JSON object (templated), e.g. ``fusionauth/login/{{ ds }}.json``.
    :param flat_key: key of the NDJSON object (default: ``s3_key`` with ``.ndjson``;
        ``None`` with ``flat=False`` writes the JSON only).
    :param flat: also write the NDJSON rows.

    Also takes the parameters of :class:`FusionAuthBaseOperator` and
    :class:`~airflow_provider_usageintel.transfers.base.S3DestinationOperator`.

    Returns (pushed to XCom): the objects written with their sizes and SHA-256, and the row count.
    """

    template_fields: Sequence[str] = (
        *FusionAuthBaseOperator.template_fields,
        "s3_bucket",
        "s3_key",
        "flat_key",
    )

    def __init__(self, *, s3_key: str, flat_key: str | None = None, flat: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.s3_key = s3_key
        self.flat_key = flat_key
        self.flat = flat

    def _flat_key(self) -> str:
        base = self.s3_key[: -len(".json")] if self.s3_key.endswith(".json") else self.s3_key
        return self.flat_key or f"{base}.ndjson"

    def execute(self, context: Context) -> dict[str, Any]:
        problems = Problems()
        self.check_target(problems)
        problems.check(check_key, self.s3_key, "s3_key")
        if self.flat:
            problems.check(check_key, self._flat_key(), "flat_key")
        arguments = self.check_report(context, problems)
        result = self.hook.report(self.report, **arguments)
        metadata = {"source-report": f"fusionauth-{self.report}"}
        body = json.dumps(result, indent=2, sort_keys=True).encode()
        written = [self.put_bytes(self.s3_key, body, "application/json", metadata)]
        if self.flat:
            rows = flat_rows(self.report, result, self.hook.report_timezone)
            flat = self.put_bytes(self._flat_key(), to_ndjson(rows), "application/x-ndjson", metadata)
            written.append({**flat, "rows": len(rows)})
        self.record_assets(context, [(w["key"], {"report": self.report, **w}) for w in written])
        self.log.info("FusionAuth %s report written to %s", self.report, ", ".join(w["key"] for w in written))
        return {"report": self.report, "objects": written}
