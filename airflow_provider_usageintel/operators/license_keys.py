"""Search, insert and update keys of the license key registry, in batches, never re-sent blindly.

A registry write whose answer is lost may or may not have been applied, and
the API offers no way to tell but a search. So the operator stops at the first
failed batch and fails the task without Airflow retries, saying which input
positions were confirmed, which batch is in doubt and which were never sent:
search the registry for the batch in doubt, then send what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_usageintel.api.validation import request_problems
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed
from airflow_provider_usageintel.operators.base import (
    Problems,
    UsageIntelligenceBaseOperator,
    UsageIntelligenceTaskError,
    json_argument,
    positive_number,
    within,
)
from airflow_provider_usageintel.utils.license_key_files import parse_key_file

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

ACTIONS: tuple[str, ...] = ("search", "insert", "update")
WRITE_REPORTS: Mapping[str, str] = {"insert": "license_keys_insert", "update": "license_keys_update"}
SEARCH_REPORT = "license_keys_search"
DEFAULT_BATCH_SIZE = 100


def key_label(key: Mapping[str, Any], position: int) -> str:
    """How messages name a key: its value, else its 1-based position in the input."""
    value = key.get("licenseKey")
    return value if isinstance(value, str) and value else f"#{position}"


def count_keys(count: int) -> str:
    return f"{count} key" if count == 1 else f"{count} keys"


def positions(start: int, stop: int) -> str:
    """Input positions ``start+1..stop`` (1-based, inclusive), or ``none``."""
    if stop <= start:
        return "none"
    return str(start + 1) if stop == start + 1 else f"{start + 1}-{stop}"


class LicenseKeyBatchError(UsageIntelligenceTaskError):
    """A write batch failed; it may have been applied in whole or in part, so nothing is re-sent.

    ``confirmed``, ``in_doubt`` and ``not_sent`` name the keys (their value, or
    ``#position`` in the input) so the user can reconcile with a search.
    """

    def __init__(
        self,
        report: str,
        batch_index: int,
        batch_count: int,
        batch_size: int,
        labels: Sequence[str],
        cause: BaseException,
    ) -> None:
        start = batch_index * batch_size
        stop = min(start + batch_size, len(labels))
        self.batch_index = batch_index
        self.batch_count = batch_count
        self.confirmed = list(labels[:start])
        self.in_doubt = list(labels[start:stop])
        self.not_sent = list(labels[stop:])
        super().__init__(
            f"{report}: batch index {batch_index} of {batch_count} batches "
            f"(input positions {positions(start, stop)}, {count_keys(len(self.in_doubt))}) failed and "
            f"may have been applied in whole or in part, so it was not re-sent: {cause}. "
            f"Confirmed: {count_keys(len(self.confirmed))} (positions {positions(0, start)}); "
            f"not sent: {count_keys(len(self.not_sent))} (positions {positions(stop, len(labels))}). "
            "Search the registry for the keys of the failed batch before sending them again."
        )


@dataclass(frozen=True)
class _Plan:
    action: str
    product_id: str
    keys: list[Mapping[str, Any]] | None = None
    search_request: dict[str, Any] | None = None


class UsageIntelligenceLicenseKeysOperator(UsageIntelligenceBaseOperator):
    """Search the license key registry, or insert or update keys in batches.

    :param action: ``search``, ``insert`` or ``update``. (templated)
    :param keys: key objects to write, as a list (or a JSON string of one). (templated)
    :param keys_s3_uri: ``s3://bucket/key`` of a JSON array or a CSV file with a header row,
        read with the Amazon provider's S3Hook; an alternative to ``keys``. (templated)
    :param aws_conn_id: AWS connection used to read ``keys_s3_uri``. (templated)
    :param search_request: body of a search (``filters``, ``sorting``, ``paging``). (templated)
    :param batch_size: keys per call: one write batch, or one page of a search.
    :param count_only: for a search, return only the number of matching keys.

    Returns (pushed to XCom): search: ``{"action", "count", "keys"}`` (no ``keys`` with ``count_only``);
    insert/update: ``{"action", "keys", "sent", "batches", "failed_batches"}``.
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceBaseOperator.template_fields,
        "action",
        "keys",
        "keys_s3_uri",
        "aws_conn_id",
        "search_request",
    )
    template_fields_renderers = {"keys": "json", "search_request": "json"}

    def __init__(
        self,
        *,
        action: str,
        keys: list[dict[str, Any]] | str | None = None,
        keys_s3_uri: str | None = None,
        aws_conn_id: str | None = "aws_default",
        search_request: dict[str, Any] | str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        count_only: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.keys = keys
        self.keys_s3_uri = keys_s3_uri
        self.aws_conn_id = aws_conn_id
        self.search_request = search_request
        self.batch_size = batch_size
        self.count_only = count_only

    def execute(self, context: Context) -> dict[str, Any]:
        plan = self._plan()
        with self.hook as hook:
            if plan.action == "search":
                return self._search(hook, plan)
            return self._write(hook, plan)

    # -- validation -----------------------------------------------------------------------------

    def _plan(self) -> _Plan:
        """Every argument checked; keys read from S3 and checked too, all before any API call."""
        problems = Problems()
        if self.action not in ACTIONS:
            problems.add(f"action: {self.action!r} is not allowed (allowed: {allowed(ACTIONS)})")
        positive_number(self.batch_size, "batch_size", problems)
        product_id = self.check_product_id(problems)
        if self.action == "search":
            body = self._search_request(problems)
            problems.raise_if_any()
            return _Plan("search", cast(str, product_id), search_request=body)
        keys = self._keys(problems) if self.action in WRITE_REPORTS else None
        problems.raise_if_any()
        return _Plan(self.action, cast(str, product_id), keys=keys)

    def _search_request(self, problems: Problems) -> dict[str, Any] | None:
        for field in ("keys", "keys_s3_uri"):
            if getattr(self, field) is not None:
                problems.add(f"{field}: not used by action 'search' (allowed: search_request)")
        body = problems.check(json_argument, self.search_request, "search_request")
        problems.extend(within("search_request", request_problems(SEARCH_REPORT, body)))
        return cast("dict[str, Any] | None", body)

    def _keys(self, problems: Problems) -> list[Mapping[str, Any]] | None:
        if self.search_request is not None:
            problems.add(f"search_request: not used by action {self.action!r} (allowed: keys, keys_s3_uri)")
        if (self.keys is None) == (self.keys_s3_uri is None):
            problems.add(f"keys: action {self.action!r} needs exactly one of keys or keys_s3_uri")
            return None
        if self.keys is not None:
            field, keys = "keys", problems.check(json_argument, self.keys, "keys")
        else:
            field = "keys_s3_uri"
            uri = problems.check(check_s3_uri, self.keys_s3_uri)
            keys = None if uri is None or problems.items else problems.check(self.read_keys, uri)
        if keys is None:
            return None
        if isinstance(keys, Mapping):  # one key object
            keys = [dict(keys)]
        problems.extend(within(field, request_problems(WRITE_REPORTS[self.action], keys)))
        return cast("list[Mapping[str, Any]]", keys)

    def read_keys(self, uri: str) -> list[dict[str, Any]]:
        """Keys from a JSON or CSV object in S3 (read only once the other arguments are valid)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        bucket, key = S3Hook.parse_s3_url(uri)
        text = S3Hook(aws_conn_id=self.aws_conn_id).read_key(key, bucket)
        keys = parse_key_file(text, uri)
        self.log.info("Read %d license keys from %s", len(keys), uri)
        return keys

    # -- calls ----------------------------------------------------------------------------------

    def _search(self, hook: UsageIntelligenceHook, plan: _Plan) -> dict[str, Any]:
        rows = hook.iter_offset_pages(
            SEARCH_REPORT, plan.search_request, plan.product_id, page_size=self.batch_size
        )
        if self.count_only:
            count = sum(1 for _ in rows)
            self.log.info("%d license keys match", count)
            return {"action": "search", "count": count}
        keys = list(rows)
        self.log.info("%d license keys match", len(keys))
        return {"action": "search", "count": len(keys), "keys": keys}

    def _write(self, hook: UsageIntelligenceHook, plan: _Plan) -> dict[str, Any]:
        report, keys, size = WRITE_REPORTS[plan.action], plan.keys or [], self.batch_size
        batches = [keys[start : start + size] for start in range(0, len(keys), size)]
        for index, batch in enumerate(batches):
            try:
                hook.run_report(report, batch, plan.product_id)
            except Exception as exc:
                labels = [key_label(key, i) for i, key in enumerate(keys, start=1)]
                error = LicenseKeyBatchError(report, index, len(batches), size, labels, exc)
                self.log.error("Keys of the failed batch %d: %s", index, ", ".join(error.in_doubt))
                raise error from exc
            self.log.info("Batch %d/%d: %d keys sent (%s)", index + 1, len(batches), len(batch), plan.action)
        return {
            "action": plan.action,
            "keys": len(keys),
            "sent": len(keys),
            "batches": len(batches),
            "failed_batches": 0,
        }


def check_s3_uri(uri: object, field: str = "keys_s3_uri") -> str:
    """``s3://bucket/key`` with both parts, checked without any call."""
    text = uri if isinstance(uri, str) else ""
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not text.startswith("s3://") or not bucket or not key or key.endswith("/"):
        raise UsageIntelligenceValidationError(
            f"{field}: {uri!r} is not an S3 object URI (allowed: s3://bucket/path/to/keys.csv or .json)"
        )
    return text
