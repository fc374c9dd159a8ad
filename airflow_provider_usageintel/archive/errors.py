"""botocore's error classes, imported when an error is handled, never when a DAG file is parsed.

``except s3_errors():`` evaluates the call only once an exception reaches the
clause, by which time the S3 client (and so botocore) is loaded anyway.
"""

from __future__ import annotations


def s3_errors(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """``(BotoCoreError, ClientError)``, what a failed S3 call raises after boto3's own retries,
    and the classes in ``also``."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (*also, BotoCoreError, ClientError)
