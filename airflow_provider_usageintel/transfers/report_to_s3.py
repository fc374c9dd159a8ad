"""Run a Usage Intelligence report and store it in S3: the JSON as returned, plus flat rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.endpoints import REPORT_NAMES
from airflow_provider_usageintel.api.validation import request_problems
from airflow_provider_usageintel.exceptions import allowed
from airflow_provider_usageintel.operators.base import Problems, json_argument, within
from airflow_provider_usageintel.transfers.base import UsageIntelligenceToS3BaseOperator
from airflow_provider_usageintel.utils.flatten import flatten, to_csv, to_ndjson
from airflow_provider_usageintel.utils.s3_validation import check_key

FLAT_FORMATS = {"ndjson": (to_ndjson, "application/x-ndjson"), "csv": (to_csv, "text/csv")}


class UsageIntelligenceReportToS3Operator(UsageIntelligenceToS3BaseOperator):
    """Write a report's result to ``s3_key`` as JSON and, flattened, next to it as NDJSON or CSV.

    :param report: a report name of the endpoint table (e.g. ``date_range``).
    :param request: the request body (templated; validated before any call).
    :param s3_key: key of the JSON object (templated), e.g. ``reports/{{ ds }}/date_range.json``.
    :param flat_format: ``ndjson`` (default), ``csv`` or ``None`` for the JSON only.
    :param flat_key: key of the flat object (default: ``s3_key`` with the format's extension).

    Also takes the parameters of :class:`UsageIntelligenceToS3BaseOperator`.

    Returns (pushed to XCom): the keys written with their sizes, SHA-256 and row count.
    """

    template_fields: Sequence[str] = ("report", "request", "s3_bucket", "s3_key", "flat_key", "product_id")
    template_fields_renderers = {"request": "json"}

    def __init__(
        self,
        *,
        report: str,
        s3_key: str,
        request: dict[str, Any] | list[dict[str, Any]] | str | None = None,
        flat_format: str | None = "ndjson",
        flat_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.request = request
        self.s3_key = s3_key
        self.flat_format = flat_format
        self.flat_key = flat_key

    def _flat_key(self) -> str:
        if self.flat_key:
            return self.flat_key
        base = self.s3_key[: -len(".json")] if self.s3_key.endswith(".json") else self.s3_key
        return f"{base}.{self.flat_format}"

    def _validate(self) -> Any:
        """Every problem of the report, its request and the targets, before any call."""
        problems = Problems()
        request = problems.check(json_argument, self.request, "request")
        if self.report not in REPORT_NAMES:
            problems.add(f"report: unknown name {self.report!r} (allowed: {allowed(REPORT_NAMES)})")
        else:
            problems.extend(within("request", request_problems(self.report, request or {})))
        if self.flat_format is not None and self.flat_format not in FLAT_FORMATS:
            problems.add(f"flat_format: {self.flat_format!r} is not supported (allowed: ndjson, csv, None)")
        self.check_target(problems)
        problems.check(check_key, self.s3_key, "s3_key")
        if self.flat_format in FLAT_FORMATS:
            problems.check(check_key, self._flat_key(), "flat_key")
        problems.raise_if_any()
        return request

    def execute(self, context: Context) -> dict[str, Any]:
        request = self._validate()
        result = self.hook.run_report(self.report, request, self.product_id)
        written = [
            self._put(self.s3_key, json.dumps(result, indent=2, default=str).encode(), "application/json")
        ]
        if self.flat_format:
            rows = flatten(result)
            serialise, content_type = FLAT_FORMATS[self.flat_format]
            written.append({**self._put(self._flat_key(), serialise(rows), content_type), "rows": len(rows)})
        self.record_assets(context, [(w["key"], {"report": self.report, **w}) for w in written])
        self.log.info(
            "Report %s written to %s",
            self.report,
            ", ".join(f"s3://{self.s3_bucket}/{w['key']}" for w in written),
        )
        return {"report": self.report, "objects": written}

    def _put(self, key: str, body: bytes, content_type: str) -> dict[str, Any]:
        return self.put_bytes(key, body, content_type, {"source-report": self.report})
