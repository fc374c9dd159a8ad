"""What the Usage Intelligence operators share: connection, product, a lazy hook, argument checks.

The checks collect every problem before raising, so a DAG author fixes all of
them in one go; file records arriving through XCom are checked here too, since
their fields become local paths and S3 keys.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_usageintel.api.files import FileKind, FileRecord, check_record
from airflow_provider_usageintel.exceptions import (
    Problems as Problems,  # noqa: PLC0414 - re-exported: the operators import it from here
)
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.hooks.base import ApiHookBase
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

HookT = TypeVar("HookT", bound=ApiHookBase)

UI_COLOR = "#d7ecf7"
#: the fields a file record needs; records pushed by the list operator have them all.
RECORD_FIELDS = ("file_kind", "frequency", "file_name", "start_date", "stop_date")


class UsageIntelligenceTaskError(UsageIntelligenceError, AirflowFailException):
    """Running the task again as is cannot help (or could do harm): fail it without Airflow retries."""


def positive_number(value: object, field: str, problems: Problems, *, integer: bool = True) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        bounds = "integers >= 1" if integer else "numbers > 0"
        problems.add(f"{field}: {value!r} is not allowed (allowed: {bounds})")


class ApiBaseOperator(BaseOperator, Generic[HookT]):
    """Base of the operators of one API hook: subclasses name the hook class and store its conn id.

    The hook is built on first use inside ``execute`` from the attribute the hook
    class names (``conn_name_attr``, e.g. ``fluid_topics_conn_id``): creating the
    operator at DAG-parse time reads no connection and opens no socket.
    """

    hook_class: type[HookT]
    ui_color = UI_COLOR

    @cached_property
    def hook(self) -> HookT:
        return self.hook_class(getattr(self, self.hook_class.conn_name_attr))


#: Airflow 3's cron schedules (CronTriggerTimetable) and manual runs have empty data intervals.
EMPTY_INTERVAL_HINT = (
    " (the run's data interval is empty: schedule with CronDataIntervalTimetable or a timedelta, "
    "or pass start and end)"
)


def _moment(value: object, field: str, problems: Problems) -> dt.datetime | None:
    if value is None:
        problems.add(f"{field}: required (this run has no data interval to default to)")
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            problems.add(f"{field}: {value!r} is not an ISO 8601 date-time")
            return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    problems.add(f"{field}: {value!r} is not allowed (allowed: a timezone-aware datetime or ISO string)")
    return None


def time_window(
    context: Mapping[str, Any], start: object, end: object, problems: Problems
) -> tuple[dt.datetime, dt.datetime]:
    """``start``/``end`` as given (rendered templates parse as ISO), else the run's data interval.

    Raises every problem recorded so far, so check the other arguments first.
    """
    first = _moment(
        start if start not in (None, "") else context.get("data_interval_start"), "start", problems
    )
    last = _moment(end if end not in (None, "") else context.get("data_interval_end"), "end", problems)
    if first is not None and last is not None and last <= first:
        hint = "" if start or end else EMPTY_INTERVAL_HINT
        problems.add(f"end: {last.isoformat()} must be later than start {first.isoformat()}{hint}")
    problems.raise_if_any()
    if first is None or last is None:  # pragma: no cover - recorded as problems above
        raise UsageIntelligenceValidationError("start/end: missing")
    return first, last


class UsageIntelligenceBaseOperator(BaseOperator):
    """Base of the Usage Intelligence operators.

    The hook is built on first use inside ``execute``: creating the operator
    (at DAG-parse time) reads no connection and opens no socket.

    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``. (templated)
    :param product_id: product to query; defaults to the connection's extra ``product_id``. (templated)
    """

    template_fields: Sequence[str] = ("usage_intelligence_conn_id", "product_id")
    ui_color = UI_COLOR

    def __init__(
        self,
        *,
        usage_intelligence_conn_id: str = UsageIntelligenceHook.default_conn_name,
        product_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.usage_intelligence_conn_id = usage_intelligence_conn_id
        self.product_id = product_id

    @cached_property
    def hook(self) -> UsageIntelligenceHook:
        return UsageIntelligenceHook(
            usage_intelligence_conn_id=self.usage_intelligence_conn_id, product_id=self.product_id
        )

    def check_product_id(self, problems: Problems) -> str | None:
        """The task's product (else the connection's), checked locally: no API call."""
        return problems.check(self.hook.product_id, self.product_id)


def json_argument(value: Any, field: str) -> Any:
    """A templated JSON argument: dicts and lists as they are, strings (rendered Jinja) parsed."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise UsageIntelligenceValidationError(f"{field}: not valid JSON ({exc})") from None


def within(field: str, problems: Sequence[str]) -> list[str]:
    """Re-root request-validation messages (``body: ...``, ``[2].x: ...``, ``x: ...``) under ``field``."""
    rooted: list[str] = []
    for problem in problems:
        if problem.startswith("body:"):
            rooted.append(field + problem[len("body") :])
        elif problem.startswith("["):
            rooted.append(field + problem)
        else:
            rooted.append(f"{field}.{problem}")
    return rooted


def parse_record(item: object, where: str, kind: FileKind | None) -> FileRecord:
    """A record handed over through XCom (a dict), every field checked: each becomes part of a path or key."""
    if isinstance(item, FileRecord):
        record = item
    elif isinstance(item, Mapping):
        missing = [name for name in RECORD_FIELDS if name not in item]
        if missing:
            raise UsageIntelligenceValidationError(
                f"{where}: missing {', '.join(missing)} (allowed: records from "
                "UsageIntelligenceListFilesOperator)"
            )
        record = FileRecord.from_dict(dict(item))
    else:
        raise UsageIntelligenceValidationError(
            f"{where}: expected a file record (a dict), got {type(item).__name__}"
        )
    check_record(record, where)
    if kind is not None and record.file_kind != kind.value:
        raise UsageIntelligenceValidationError(
            f"{where}.file_kind: {record.file_kind!r} does not match file_kind (allowed: {kind.value})"
        )
    return record


def parse_records(files: object, kind: FileKind | None, problems: Problems) -> list[FileRecord]:
    """One record (a mapped task's) or a list of them; every bad one is recorded in ``problems``."""
    if isinstance(files, (Mapping, FileRecord)):
        record = problems.check(parse_record, files, "files", kind)
        return [record] if record else []
    if not isinstance(files, (list, tuple)):
        problems.add(f"files: expected a file record or a list of them, got {type(files).__name__}")
        return []
    parsed = (problems.check(parse_record, item, f"files[{i}]", kind) for i, item in enumerate(files))
    return [record for record in parsed if record]
