"""S3 names checked before any call, so a typo fails with a message instead of a 400 deep in boto3."""

from __future__ import annotations

import re

from airflow_provider_usageintel.archive.layout import check_key
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

#: object keys are checked with the other key rules, in archive/layout.py.
__all__ = ["check_bucket_name", "check_key"]

#: matched whole (``fullmatch``): ``$`` would let a trailing newline through.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def check_bucket_name(bucket: object, field_name: str = "s3_bucket") -> str:
    """S3's general-purpose bucket naming rules."""
    if (
        not isinstance(bucket, str)
        or not _BUCKET.fullmatch(bucket)
        or ".." in bucket
        or _IP.fullmatch(bucket)
    ):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {bucket!r} is not a valid bucket name "
            "(allowed: 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit)"
        )
    return bucket
