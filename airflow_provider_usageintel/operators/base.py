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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_usageintel.api.endpoints import Endpoint, report_endpoint
from airflow_provider_usageintel.api.files import FileKind, FileRecord, Frequency, check_record
from airflow_provider_usageintel.api.selection import DateLike, FileSelection
from airflow_provider_usageintel.api.validation import request_problems
from airflow_provider_usageintel.exceptions import (
    Problems as Problems,  # noqa: PLC0414 - re-exported: the operators import it from here
)
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceError,
    UsageIntelligenceValidationError,
    positive_number,
)
from airflow_provider_usageintel.hooks.base import ApiHookBase
from airflow_provider_usageintel.hooks.usage_intelligence import (
    DEFAULT_PAGE_SIZE,
    UsageIntelligenceHook,
    request_body,
)
from airflow_provider_usageintel.utils.lineage import lineage_of, operator_lineage
from airflow_provider_usageintel.utils.periods import Window, run_window
from airflow_provider_usageintel.utils.sessions import end_session, ends_session

if TYPE_CHECKING:
    from airflow.sdk import Context

HookT = TypeVar("HookT", bound=ApiHookBase)
#: a window bound as a DAG gives it (``start``/``end``), before it is parsed.
WindowBound = dt.datetime | dt.date | str | None

UI_COLOR = "#d7ecf7"
#: the fields a file record needs; records pushed by the list operator have them all.
RECORD_FIELDS = ("file_kind", "frequency", "file_name", "start_date", "stop_date")


class UsageIntelligenceTaskError(UsageIntelligenceError, AirflowFailException):
    """Running the task again as is cannot help (or could do harm): fail it without Airflow retries."""


class ApiBaseOperator(BaseOperator, Generic[HookT]):
    """Base of the operators of one API hook: subclasses name the hook class and store its conn id.

    The hook is built on first use inside ``execute`` from the attribute the hook
    class names (``conn_name_attr``, e.g. ``fluid_topics_conn_id``): creating the
    operator at DAG-parse time reads no connection and opens no socket.
    """

    hook_class: type[HookT]
    ui_color = UI_COLOR

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every ``execute`` of a subclass ends the API session it opened (see utils/sessions.py)."""
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__:
            setattr(cls, "execute", ends_session(cls.__dict__["execute"]))  # noqa: B010 - mypy

    @cached_property
    def hook(self) -> HookT:
        return self.new_hook()

    def new_hook(self) -> HookT:
        """The task's hook, noting the data it reads in the task's lineage record."""
        hook = self.hook_class(getattr(self, self.hook_class.conn_name_attr))
        hook.lineage = lineage_of(self)
        return hook

    def on_kill(self) -> None:
        """Log out now: a killed task may not get to unwind ``execute`` before it is gone."""
        end_session(self, forget=False)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets of the run: API data read, S3 objects written (utils/lineage.py).

        Read by the OpenLineage provider's listener when it is installed; ``None`` otherwise.
        """
        return operator_lineage(self)


class ApiWindowBaseOperator(ApiBaseOperator[HookT]):
    """Base of the operators that read a time window of an API: Fluid Topics events, FusionAuth reports.

    A scheduled run reads its data interval, so consecutive runs read every instant once;
    the vendor's base says in which time zone naive values are read and which window a run
    without a data interval gets.

    :param start: inclusive start of the window: a date ``YYYY-MM-DD`` (``{{ ds }}``), an ISO
        date-time, or a date/datetime (pendulum's too). Default: the run's data interval. (templated)
    :param end: exclusive end of the window, likewise. (templated)
    """

    template_fields: Sequence[str] = ("start", "end")

    def __init__(self, *, start: WindowBound = None, end: WindowBound = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start = start
        self.end = end

    def run_window(
        self, context: Context, problems: Problems, *, timezone: str, fallback: str
    ) -> Window | None:
        """The task's window, else the run's, else the last complete ``fallback``; problems recorded."""
        return problems.check(run_window, context, self.start, self.end, timezone=timezone, fallback=fallback)


class UsageIntelligenceBaseOperator(ApiBaseOperator[UsageIntelligenceHook]):
    """Base of the Usage Intelligence operators.

    The hook is built on first use inside ``execute``: creating the operator
    (at DAG-parse time) reads no connection and opens no socket.

    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``. (templated)
    :param product_id: product to query; defaults to the connection's extra ``product_id``. (templated)
    """

    hook_class = UsageIntelligenceHook
    template_fields: Sequence[str] = ("usage_intelligence_conn_id", "product_id")

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

    def new_hook(self) -> UsageIntelligenceHook:
        hook = UsageIntelligenceHook(
            usage_intelligence_conn_id=self.usage_intelligence_conn_id, product_id=self.product_id
        )
        hook.lineage = lineage_of(self)
        return hook

    def check_product_id(self, problems: Problems) -> str | None:
        """The task's product (else the connection's), checked locally: no API call."""
        return problems.check(self.hook.product_id, self.product_id)


FrequencyArg = str | Sequence[str] | None


class UsageIntelligenceFileWindowOperator(UsageIntelligenceBaseOperator):
    """Base of the tasks about the files of one kind over a window: the file operators and the sensor.

    :param file_kind: ``custom_events``, ``exceptions`` or ``raw_events``. (templated)
    :param frequency: ``daily`` (default), ``monthly``, ``open`` (today's file, not final) or a
        list; the sensor waits for ``daily`` or ``monthly`` files only. (templated)
    :param since: first day wanted (``YYYY-MM-DD`` or a date); files overlapping it match. (templated)
    :param until: last day wanted, inclusive. (templated)
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceBaseOperator.template_fields,
        "file_kind",
        "frequency",
        "since",
        "until",
    )

    def __init__(
        self,
        *,
        file_kind: str,
        frequency: FrequencyArg = None,
        since: DateLike = None,
        until: DateLike = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_kind = file_kind
        self.frequency = frequency
        self.since = since
        self.until = until

    def chosen_frequency(self) -> FrequencyArg:
        """``frequency``, ``daily`` when none is given (``None`` lets a subclass choose first)."""
        return Frequency.DAILY.value if self.frequency is None else self.frequency


class UsageIntelligenceFileOperator(UsageIntelligenceFileWindowOperator):
    """Base of the operators that pick files of a kind: list, download and archive into S3.

    Takes the parameters of :class:`UsageIntelligenceFileWindowOperator`, and:

    :param file_names: keep only these names. (templated)
    """

    template_fields: Sequence[str] = (*UsageIntelligenceFileWindowOperator.template_fields, "file_names")

    def __init__(self, *, file_names: Sequence[str] | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_names = file_names

    def parse_selection(self, problems: Problems, *, include_open: bool = False) -> FileSelection | None:
        """The selection the parameters describe; every bad one is recorded in ``problems``."""
        return problems.check(
            FileSelection.parse,
            self.file_kind,
            self.chosen_frequency(),
            self.since,
            self.until,
            self.file_names,
            include_open,
        )

    def select(
        self, hook: UsageIntelligenceHook, selection: FileSelection, product_id: str
    ) -> list[FileRecord]:
        records = selection.apply(hook.list_files(selection.file_kind, product_id))
        self.log.info("%d %s file(s) selected", len(records), selection.file_kind.value)
        return records


class UsageIntelligenceReportBaseOperator(UsageIntelligenceBaseOperator):
    """Base of the operators that run one report of the endpoint table: into XCom or into S3.

    :param report: endpoint name, e.g. ``date_range`` (see the endpoint table). (templated)
    :param request: JSON body (query parameters for GET reports), a dict or a JSON string;
        rendered, then validated before any call. (templated)
    :param page_size: rows asked for per page of offset-paged reports (unless the request's
        ``paging.maxResults`` says).
    """

    template_fields: Sequence[str] = (*UsageIntelligenceBaseOperator.template_fields, "report", "request")
    template_fields_renderers = {"request": "json"}

    def __init__(
        self,
        *,
        report: str,
        request: Mapping[str, Any] | list[Mapping[str, Any]] | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.request = request
        self.page_size = page_size

    def check_request(self, problems: Problems) -> tuple[Endpoint | None, Any]:
        """The report's endpoint and its rendered, validated request; problems go in ``problems``."""
        endpoint = problems.check(report_endpoint, self.report)
        body = None
        try:
            body = self._request(endpoint)
        except UsageIntelligenceValidationError as exc:
            problems.extend(exc.problems)
        else:
            if endpoint is not None:
                problems.extend(within("request", request_problems(endpoint.name, body)))
        if endpoint is not None and endpoint.needs_product_id:
            self.check_product_id(problems)
        positive_number(self.page_size, "page_size", problems)
        return endpoint, body

    def _request(self, endpoint: Endpoint | None) -> Any:
        """The rendered request; text for an endpoint that takes any (``*/*``) stays text unless JSON."""
        takes_text = endpoint is not None and endpoint.body_media != "application/json"
        if takes_text and isinstance(self.request, str):
            try:
                return json.loads(self.request)
            except ValueError:
                return self.request
        body = json_argument(self.request, "request")
        if endpoint is not None:
            body = request_body(endpoint, body)
        return body


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
