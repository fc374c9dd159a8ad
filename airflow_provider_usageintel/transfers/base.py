"""What every Usage Intelligence to S3 operator shares: hooks, S3 target checks and Asset events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.utils.assets import DEFAULT_ALIAS, default_outlets, record_objects
from airflow_provider_usageintel.utils.s3_validation import check_bucket_name


class UsageIntelligenceToS3BaseOperator(BaseOperator):
    """Base of the S3 transfers; hooks are created on first use, never at DAG-parse time.

    :param s3_bucket: destination bucket.
    :param product_id: product to read (default: the connection's extra ``product_id``).
    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``.
    :param aws_conn_id: the Amazon provider's connection for S3.
    :param asset_alias: outlet alias that receives one Asset event per object written
        (``None`` disables it; passing ``outlets`` replaces it).
    """

    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        s3_bucket: str,
        product_id: str | int | None = None,
        usage_intelligence_conn_id: str = UsageIntelligenceHook.default_conn_name,
        aws_conn_id: str | None = "aws_default",
        asset_alias: str | None = DEFAULT_ALIAS,
        **kwargs: Any,
    ) -> None:
        kwargs["outlets"] = default_outlets(asset_alias, kwargs.get("outlets"))
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.product_id = product_id
        self.usage_intelligence_conn_id = usage_intelligence_conn_id
        self.aws_conn_id = aws_conn_id
        self.asset_alias = asset_alias

    @cached_property
    def hook(self) -> UsageIntelligenceHook:
        return UsageIntelligenceHook(self.usage_intelligence_conn_id, product_id=self.product_id)

    @cached_property
    def s3(self) -> Any:
        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    def collect_problems(self, *checks: Callable[[], object]) -> list[str]:
        """Run checks that raise validation errors; return all their problems."""
        problems: list[str] = []
        for check in (lambda: check_bucket_name(self.s3_bucket), self.hook.product_id, *checks):
            try:
                check()
            except UsageIntelligenceValidationError as exc:
                problems += exc.problems
        return problems

    def validate_or_raise(self, *checks: Callable[[], object], problems: Iterable[str] = ()) -> None:
        """Raise one error with every problem, before anything touches the network."""
        found = [*problems, *self.collect_problems(*checks)]
        if found:
            raise UsageIntelligenceValidationError(found)

    def record_assets(self, context: Mapping[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> int:
        """One Asset event per object ``(key, extra)`` written to the bucket."""
        return record_objects(
            context, self.asset_alias, [(self.s3_bucket, key, extra) for key, extra in objects]
        )
