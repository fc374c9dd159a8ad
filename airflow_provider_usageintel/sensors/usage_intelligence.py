"""Sensor that waits until Usage Intelligence has published the final files of a day or a month."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.api.selection import DateLike
from airflow_provider_usageintel.exceptions import UsageIntelligenceError, UsageIntelligenceValidationError
from airflow_provider_usageintel.operators.base import UsageIntelligenceFileWindowOperator
from airflow_provider_usageintel.sensors.file_wait import FileWait, newest_final_period, summarise
from airflow_provider_usageintel.utils.sessions import end_session

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger

#: the triggerer's own timeout is a backstop: the trigger's deadline fires first, with a clearer message.
TRIGGER_TIMEOUT_GRACE = timedelta(minutes=10)


class UsageIntelligenceFileSensor(BaseSensorOperator, UsageIntelligenceFileWindowOperator):
    """Wait until the final (not open) files of a day, a month or a date range are listed.

    A daily wait is over when every day of the window has its final daily file (today's
    open file never counts); a monthly wait when every month of the window has its
    monthly file, which the API publishes once the month has closed. The records found
    (``FileRecord.to_dict()``) are the task's return value, ready for
    ``UsageIntelligenceFilesToS3Operator(files=...)`` or ``.expand()``.

    It is a sensor of the vendor's file operators' base, as ``BranchPythonOperator`` is a
    branch operator and a ``PythonOperator``: ``usage_intelligence_conn_id``, ``product_id``,
    the window (``file_kind``, ``frequency``, ``since``, ``until``), the lazy hook and the end
    of the API session are
    :class:`~airflow_provider_usageintel.operators.base.UsageIntelligenceFileWindowOperator`'s.
    ``frequency`` is ``daily`` (default) or ``monthly`` here (``raw_events`` are daily only):
    open files are never final.

    Every parameter is checked after templating and before any call; a bad one fails the
    task at once, whatever ``soft_fail`` says. ``soft_fail`` turns only a timeout into a skip.

    :param file_date: the day to wait for (``YYYY-MM-DD``); for monthly files, any day of the
        month. Default (without ``since`` and ``until``): the newest period that can be final
        when the run is due, i.e. the day before its ``data_interval_end`` (``run_after`` for
        runs without a logical date), or for monthly files the month before that moment's
        month. (``{{ ds }}`` would name the day that has only just begun, whose file is open.)
        ``since`` and ``until`` give an inclusive date range instead.
    :param deferrable: wait in the triggerer instead of a worker slot (default: the
        ``[operators] default_deferrable`` setting); ``poke_interval`` is then the poll interval.
    """

    template_fields: Sequence[str] = (*UsageIntelligenceFileWindowOperator.template_fields, "file_date")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        file_date: DateLike = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_date = file_date
        self.deferrable = deferrable

    def file_wait(self, context: Context) -> FileWait:
        """The rendered parameters, validated; raises naming every bad field and its allowed values."""
        file_date, frequency = self.file_date, self.chosen_frequency()
        if all(value in (None, "") for value in (file_date, self.since, self.until)):
            try:
                file_date = newest_final_period(context, frequency)
            except UsageIntelligenceValidationError:
                file_date = None  # FileWait names the missing date
        return FileWait.parse(self.file_kind, frequency, file_date, self.since, self.until, self.product_id)

    def execute(self, context: Context) -> Any:
        wait = self.file_wait(context)  # before the poke loop, so silent_fail cannot swallow a bad parameter
        deadline = time.time() + self.timeout
        if not self.deferrable:
            return super().execute(context)
        found, missing = self._check(wait)
        if not missing:
            return [r.to_dict() for r in found]
        self.log.info("Deferring: polling every %s s for at most %s s", self.poke_interval, self.timeout)
        self.defer(
            trigger=self._trigger(wait, deadline),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + TRIGGER_TIMEOUT_GRACE,
        )

    def poke(self, context: Context) -> PokeReturnValue:
        found, missing = self._check(self.file_wait(context))
        if missing:
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=[r.to_dict() for r in found])

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger: return the records, or fail (timeouts honour ``soft_fail``)."""
        status = event.get("status") if isinstance(event, dict) else None
        if status == "found" and event is not None:
            records = list(event.get("records") or [])
            self.log.info("Found %d file(s)", len(records))
            return records
        reason = event.get("reason") if isinstance(event, dict) else None
        if status == "timeout":
            # BaseSensorOperator.resume_execution turns this into a skip when soft_fail is set.
            raise AirflowSensorTimeout(f"Sensor has timed out: {reason}")
        message = f"Waiting for files failed: {reason or f'unexpected trigger event {event!r}'}"
        if self.never_fail:
            raise AirflowSkipException(f"Skipping due to never_fail: {message}")
        raise UsageIntelligenceError(message)

    def _check(self, wait: FileWait) -> tuple[list[FileRecord], list[str]]:
        """One listing; the session ends right after it, so a poke loop holds none between pokes."""
        try:
            records = self.hook.list_files(wait.file_kind, wait.product_id, wait.frequency)
        finally:
            end_session(self)
        found, missing = wait.check(records)
        if missing:
            self.log.info("Waiting for %s; missing: %s", wait.describe(), summarise(missing))
        else:
            self.log.info("Found %s: %d file(s)", wait.describe(), len(found))
        return found, missing

    def _trigger(self, wait: FileWait, deadline: float) -> UsageIntelligenceFileTrigger:
        from airflow_provider_usageintel.triggers.usage_intelligence import UsageIntelligenceFileTrigger

        return UsageIntelligenceFileTrigger(
            wait=wait,
            deadline=deadline,
            usage_intelligence_conn_id=self.usage_intelligence_conn_id,
            poll_interval=self.poke_interval,
        )
