"""S3 names checked before any call, so a typo fails with a message instead of a 400 deep in boto3."""

from __future__ import annotations

import re

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def check_bucket_name(bucket: object, field_name: str = "s3_bucket") -> str:
    """S3's general-purpose bucket naming rules."""
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket or _IP.match(bucket):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {bucket!r} is not a valid bucket name "
            "(allowed: 3-63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit)"
        )
    return bucket


def check_key(key: object, field_name: str) -> str:
    """An object key: non-empty, at most 1,024 bytes, no NUL, no ``..`` segment."""
    if (
        not isinstance(key, str)
        or not key.strip("/")
        or len(key.encode()) > 1024
        or "\x00" in key
        or ".." in key.split("/")
    ):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {key!r} is not a valid object key "
            "(allowed: 1-1024 bytes, no NUL character, no '..' segment)"
        )
    return key
