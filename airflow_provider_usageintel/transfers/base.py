"""What every Usage Intelligence to S3 operator adds to the operators' base: S3 and Asset events."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_provider_usageintel.operators.base import Problems, UsageIntelligenceBaseOperator
from airflow_provider_usageintel.utils.assets import DEFAULT_ALIAS, default_outlets, record_objects
from airflow_provider_usageintel.utils.s3_validation import check_bucket_name


class UsageIntelligenceToS3BaseOperator(UsageIntelligenceBaseOperator):
    """Base of the S3 transfers; hooks are created on first use, never at DAG-parse time.

    :param s3_bucket: destination bucket. (templated)
    :param aws_conn_id: the Amazon provider's connection for S3.
    :param asset_alias: outlet alias that receives one Asset event per object written
        (``None`` disables it; passing ``outlets`` replaces it).

    Also takes ``usage_intelligence_conn_id`` and ``product_id``.
    """

    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        s3_bucket: str,
        aws_conn_id: str | None = "aws_default",
        asset_alias: str | None = DEFAULT_ALIAS,
        **kwargs: Any,
    ) -> None:
        kwargs["outlets"] = default_outlets(asset_alias, kwargs.get("outlets"))
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.aws_conn_id = aws_conn_id
        self.asset_alias = asset_alias

    @cached_property
    def s3(self) -> Any:
        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    def check_target(self, problems: Problems) -> None:
        """Bucket and product, checked locally before any call."""
        problems.check(check_bucket_name, self.s3_bucket)
        self.check_product_id(problems)

    def record_assets(self, context: Mapping[str, Any], objects: list[tuple[str, dict[str, Any]]]) -> int:
        """One Asset event per object ``(key, extra)`` written to the bucket."""
        return record_objects(
            context, self.asset_alias, [(self.s3_bucket, key, extra) for key, extra in objects]
        )
