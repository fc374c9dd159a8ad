"""Shared fixtures: an isolated AIRFLOW_HOME, emulators, and connections pointing at loopback servers."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="usageintel-tests-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent / "dags")
# boto3 must never find real credentials or endpoints on a developer's machine.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
)

UI_CONN_ENV = "AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"
#: fast retries keep fault tests quick without changing what is retried.
FAST_RETRIES = {"retry_wait": 0.01, "max_retry_wait": 2, "timeout": 10}


def set_ui_connection(monkeypatch: pytest.MonkeyPatch, emulator: Any, **extra: Any) -> dict[str, Any]:
    conn = json.loads(emulator.airflow_connection_json())
    conn["extra"] = {**conn.get("extra", {}), **FAST_RETRIES, **extra}
    monkeypatch.setenv(UI_CONN_ENV, json.dumps(conn))
    return conn


@pytest.fixture
def ui_conn(usageintel_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The default Usage Intelligence connection, aimed at a fresh emulator."""
    return set_ui_connection(monkeypatch, usageintel_emulator)


@pytest.fixture
def ui_hook(ui_conn: dict[str, Any]) -> Iterator[Any]:
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

    hook = UsageIntelligenceHook()
    yield hook
    hook.close()


class CapturedLogs:
    """Structured log events of the provider's own loggers (Airflow logs through structlog)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events  # filled live by structlog

    def text(self) -> str:
        return "\n".join(str(event.get("event", "")) for event in self.events)


@pytest.fixture
def hook_logs() -> Iterator[CapturedLogs]:
    import structlog

    with structlog.testing.capture_logs() as events:
        yield CapturedLogs(events)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database in the session's AIRFLOW_HOME, for ``dag.test()``."""
    from tests.airflow_utils import migrate_db

    migrate_db()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port (a real socket, like the emulator)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class S3Target:
    """A bucket on moto's server: ``client`` (plain boto3) checks what the provider's ``hook`` wrote."""

    client: Any
    bucket: str
    endpoint_url: str
    #: the provider's ArchiveS3Hook on ``aws_default``, for code that takes one.
    hook: Any

    def list_keys(self, prefix: str = "", *, include_index: bool = False) -> list[str]:
        """Keys under ``prefix``; the transfers' ``_index/`` bookkeeping objects only when asked."""
        from airflow_provider_usageintel.archive.layout import is_index_key

        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
        return keys if include_index else [k for k in keys if not is_index_key(k)]

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def head(self, key: str) -> dict[str, Any]:
        return dict(self.client.head_object(Bucket=self.bucket, Key=key))

    def multipart_uploads(self) -> list[dict[str, Any]]:
        return list(self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


def new_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Target:
    """A fresh bucket on the moto server, and ``aws_default`` pointing at it."""
    import boto3

    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": s3_server, "region_name": "us-east-1"}}),
    )
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Target(client, bucket, s3_server, ArchiveS3Hook(aws_conn_id="aws_default", caller="tests"))


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Target:
    """A fresh bucket on the moto server, and ``aws_default`` pointing at it."""
    return new_bucket(s3_server, monkeypatch)
