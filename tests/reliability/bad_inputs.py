"""Parameters a DAG author can get wrong, each as a call that must fail before any request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_usageintel.api.filters import Event, GlobalFilters, Levels
from airflow_provider_usageintel.hooks.base import normalise_base_url
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.sensors.usage_intelligence import UsageIntelligenceFileSensor
from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator

BUCKET = "archive-bucket"


def files(**kwargs: Any) -> Callable[[], Any]:
    settings = {
        "task_id": "t",
        "file_kind": "custom_events",
        "s3_bucket": BUCKET,
        "asset_alias": None,
        **kwargs,
    }
    return lambda: UsageIntelligenceFilesToS3Operator(**settings).execute({})


def report(**kwargs: Any) -> Callable[[], Any]:
    settings = {
        "task_id": "t",
        "report": "date_range",
        "request": {"startDate": "2024-02-01", "stopDate": "2024-02-29", "dateSplit": "week"},
        "s3_bucket": BUCKET,
        "s3_key": "r/x.json",
        "asset_alias": None,
        **kwargs,
    }
    return lambda: UsageIntelligenceReportToS3Operator(**settings).execute({})


def clients(**kwargs: Any) -> Callable[[], Any]:
    settings = {"task_id": "t", "s3_bucket": BUCKET, "s3_key": "c/x.ndjson.gz", "asset_alias": None, **kwargs}
    return lambda: UsageIntelligenceClientPropertiesToS3Operator(**settings).execute({})


def sensor(**kwargs: Any) -> Callable[[], Any]:
    return lambda: UsageIntelligenceFileSensor(task_id="t", **kwargs).poke({})


def hook(method: str, *args: Any) -> Callable[[], Any]:
    return lambda: getattr(UsageIntelligenceHook(), method)(*args)


DATE_RANGE = {"startDate": "2024-02-01", "stopDate": "2024-02-29", "dateSplit": "week"}

CASES: dict[str, Callable[[], Any]] = {
    "impossible date": files(since="2024-02-30"),
    "malformed date": files(until="14/03/2024"),
    "stop before start": files(since="2024-03-10", until="2024-03-01"),
    "unknown file_kind": files(file_kind="logs"),
    "unknown frequency": files(frequency="hourly"),
    "monthly raw events": files(file_kind="raw_events", frequency="monthly"),
    "non-numeric product id": files(product_id="12ab"),
    "invalid bucket name": files(s3_bucket="Bad_Bucket"),
    "key template with an unknown placeholder": files(key_template="{prefix}/{nope}/{file_name}"),
    "key template without the file name": files(key_template="{prefix}/{yyyy}"),
    "file name with a path": files(file_names=["../etc/passwd"]),
    "unknown report": report(report="date_rnge"),
    "report stop before start": report(request={**DATE_RANGE, "stopDate": "2024-01-01"}),
    "invalid global filter": report(
        request={**DATE_RANGE, "globalFilters": {"ram": {"type": "numberRange", "min": "x"}}}
    ),
    "report key with '..'": report(s3_key="../up.json"),
    "client properties: properties not a list": clients(request={"properties": "prodVersion"}),
    "client properties key with NUL": clients(s3_key="c/x\x00.gz"),
    "filter builder: bad number range": lambda: GlobalFilters().number_range("ram", min="a"),
    "levels builder: unknown property type": lambda: Levels().level("", {"type": "bogus"}),
    "event builder: name not a string": lambda: Event("Usage", 42),  # type: ignore[arg-type]
    "plain http to a remote host": lambda: normalise_base_url(
        "http://analytics-api.example.com", "https://x", allow_http=False
    ),
    "sensor: impossible file_date": sensor(file_kind="exceptions", file_date="2024-13-01"),
    "sensor: unknown frequency": sensor(file_kind="exceptions", frequency="weekly", file_date="2024-03-01"),
    "hook: unknown file kind": hook("list_files", "logs"),
    "hook: download URL for '../x.zip'": hook("get_download_url", "custom_events", "../x.zip"),
    "hook: non-numeric product id": hook("product_id", "abc"),
}
