"""What the operators that write or read the file archive share: its layout and the run manifest's key.

The files transfer writes the archive and the lake backfill reads it back: both must
name the same keys, so they take the layout from one base and check it in one place
(:mod:`airflow_provider_usageintel.archive.layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_usageintel.archive.layout import DEFAULT_PREFIX, check_key_template, check_prefix
from airflow_provider_usageintel.archive.validation import check_key
from airflow_provider_usageintel.operators.base import Problems, UsageIntelligenceFileOperator


class UsageIntelligenceArchiveBaseOperator(UsageIntelligenceFileOperator):
    """Base of the files transfer and the lake backfill: files of a kind, in the archive's layout.

    Takes the parameters of
    :class:`~airflow_provider_usageintel.operators.base.UsageIntelligenceFileOperator`, and:

    :param s3_prefix: the archive's key prefix (default ``usageintel``). (templated)
    :param key_template: the archive's key layout of final files, default
        ``{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{mm}/{file_name}``
        (placeholders: prefix, product_id, file_kind, frequency, yyyy, mm, dd, file_name). (templated)
    :param manifest_key: also write the run's manifest as JSON to this key. (templated)
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceFileOperator.template_fields,
        "s3_prefix",
        "key_template",
        "manifest_key",
    )

    def __init__(
        self,
        *,
        s3_prefix: str = DEFAULT_PREFIX,
        key_template: str | None = None,
        manifest_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_prefix = s3_prefix
        self.key_template = key_template
        self.manifest_key = manifest_key

    def check_archive(self, problems: Problems) -> None:
        """The layout and the manifest's key, checked locally: no key may leave its prefix."""
        problems.check(check_prefix, self.s3_prefix)
        if self.key_template is not None:
            problems.check(check_key_template, self.key_template)
        if self.manifest_key:
            problems.check(check_key, self.manifest_key, "manifest_key")
