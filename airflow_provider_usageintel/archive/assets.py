"""Airflow Assets for what S3-writing operators produce.

An operator cannot know its object keys at DAG-parse time (buckets, prefixes and
dates are templated), so it declares an :class:`AssetAlias` as its outlet and
attaches one concrete ``s3://bucket/key`` Asset event per object at run time.
Downstream DAGs schedule on the alias (or on the concrete assets once resolved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset, AssetAlias

DEFAULT_ALIAS = "usageintel-archive"


def default_outlets(asset_alias: str | None, outlets: Any) -> Any:
    """The user's outlets if given, else the provider's alias (``None`` disables it)."""
    if outlets is not None or asset_alias is None:
        return outlets
    return [AssetAlias(asset_alias)]


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/path/key`` (an Asset's URI, ``keys_s3_uri``...) as ``(bucket, "path/key")``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def record_objects(
    context: Mapping[str, Any], asset_alias: str | None, objects: list[tuple[str, str, dict[str, Any]]]
) -> int:
    """Attach an Asset event per written object ``(bucket, key, extra)`` to the alias; return how many."""
    if asset_alias is None:
        return 0
    events = context.get("outlet_events")
    if events is None:
        return 0
    accessor = events[AssetAlias(asset_alias)]
    for bucket, key, extra in objects:
        accessor.add(Asset(s3_uri(bucket, key)), extra=extra)
    return len(objects)
