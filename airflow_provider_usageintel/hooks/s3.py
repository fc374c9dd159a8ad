"""The Amazon provider's S3Hook, with the fixed costs of a task's S3 client cut.

Every transfer task creates one S3 client and, on a re-run, mostly lists
objects. Two costs of the stock hook dominate that no-op work and are avoidable
without changing what the client does:

- ``S3Hook`` names its caller in the User-Agent by walking the call stack with
  ``inspect.stack()``, which reads the source of every frame; the operator that
  creates this hook already knows its own name.
- botocore parses every ``LastModified`` of a listing with ``dateutil``, about
  0.3 ms a key (two thirds of parsing a listing page). S3 writes them in one
  ISO 8601 form that :meth:`datetime.fromisoformat` reads far faster; anything
  else still goes to botocore's parser.

It also says out loud when no Airflow connection is behind the client: boto3 then
takes the worker's default credential chain, which may write to another account.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.utils import parse_timestamp

from airflow_provider_usageintel.utils.gc_pause import collector_paused

DEFAULT_CHAIN = "the worker's default AWS credential chain (environment, ~/.aws, instance or pod role)"


def parse_s3_timestamp(value: Any) -> dt.datetime:
    """``2024-03-15T12:00:00.000Z`` (S3's XML timestamps) directly; other forms as botocore does."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    parsed: dt.datetime = parse_timestamp(value)
    return parsed


class ArchiveS3Hook(S3Hook):
    """``S3Hook`` for a known caller; its clients parse listing timestamps without ``dateutil``.

    :param caller: the operator class name the User-Agent reports (as ``S3Hook`` would find it).
    """

    def __init__(self, *args: Any, caller: str = "Unknown", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caller = caller

    def _get_caller(self, target_function_name: str = "execute") -> str:
        return self.caller

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        session = super().get_session(region_name=region_name, deferrable=deferrable)
        core = getattr(session, "_session", session)  # boto3 wraps the botocore session
        factory = core.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=parse_s3_timestamp)
        return session

    def get_conn(self) -> Any:
        """The client, created with the garbage collector paused (see utils/gc_pause.py)."""
        self.note_credentials()
        with collector_paused():
            return super().get_conn()

    def note_credentials(self) -> None:
        """Warn when the client falls back to the default credential chain because no connection exists."""
        if self.conn_config:
            return
        if self.aws_conn_id is None:
            self.log.info("aws_conn_id is None: S3 credentials come from %s", DEFAULT_CHAIN)
            return
        self.log.warning(
            "AWS connection %r does not exist: S3 credentials come from %s, whichever account that is. "
            "Create the connection, or pass aws_conn_id=None to use the default chain on purpose.",
            self.aws_conn_id,
            DEFAULT_CHAIN,
        )
