"""Trigger that waits in the triggerer for final Usage Intelligence files.

The hook is synchronous (``requests``), so each check runs in a worker thread
with :func:`asyncio.to_thread`: the event loop never blocks, and the hook's
synchronous connection lookup is safe there, because the triggerer answers
requests from other threads on its loop (only a sync call *on* the loop
would deadlock). Transient failures are retried inside the hook; what still
fails ends the wait with an ``error`` event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.exceptions import UsageIntelligenceError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.sensors.file_wait import FileWait, summarise

FOUND = "found"
TIMEOUT = "timeout"
ERROR = "error"


class UsageIntelligenceFileTrigger(BaseTrigger):
    """Poll the file listing until the wanted final files exist, or the deadline passes.

    Fires exactly one event: ``{"status": "found", "records": [...]}`` (records as
    ``FileRecord.to_dict()``), ``{"status": "timeout", "reason": ..., "missing": [...]}``
    or ``{"status": "error", "reason": ...}``; reasons never carry credentials.

    :param wait: what to wait for: a :class:`FileWait` (kind, frequency, window, product), as
        the sensor parsed it, or its ``to_dict()``; checked again here before the first call.
    :param deadline: wall-clock end of the wait, as a Unix timestamp: it survives triggerer restarts.
    :param usage_intelligence_conn_id: connection of type ``usage_intelligence``.
    :param poll_interval: seconds between two listings.
    """

    def __init__(
        self,
        *,
        wait: FileWait | Mapping[str, Any],
        deadline: float,
        usage_intelligence_conn_id: str = UsageIntelligenceHook.default_conn_name,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger is not annotated
        self.wait = wait.to_dict() if isinstance(wait, FileWait) else dict(wait)
        self.deadline = float(deadline)
        self.usage_intelligence_conn_id = usage_intelligence_conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "wait": self.wait,
                "deadline": self.deadline,
                "usage_intelligence_conn_id": self.usage_intelligence_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield one event. Each poll logs in and out, so no session is held while waiting.

        A cancelled trigger (triggerer shutdown, task cleared) leaves no session either: a
        poll already under way finishes in its thread, logout included.
        """
        event = await self._poll()
        yield TriggerEvent(event)  # type: ignore[no-untyped-call]

    async def _poll(self) -> dict[str, Any]:
        try:
            wait = FileWait.from_dict(self.wait)
            hook = UsageIntelligenceHook(self.usage_intelligence_conn_id, product_id=wait.product_id)
            while True:
                found, missing = await asyncio.to_thread(_check, hook, wait)
                if not missing:
                    self.log.info("Found %s: %d file(s)", wait.describe(), len(found))
                    return {"status": FOUND, "records": [r.to_dict() for r in found]}
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    reason = f"no {wait.describe()} by the deadline; missing: {summarise(missing)}"
                    return {"status": TIMEOUT, "reason": reason, "missing": missing}
                self.log.info("Waiting for %s; missing: %s", wait.describe(), summarise(missing))
                await self._pause(min(self.poll_interval, remaining))
        except (UsageIntelligenceError, AirflowNotFoundException) as exc:  # secret-free messages
            return {"status": ERROR, "reason": str(exc)}
        except Exception as exc:  # any other text is not vetted: name the type, log the details
            self.log.exception("File listing failed")
            return {"status": ERROR, "reason": f"{type(exc).__name__} (details in the triggerer log)"}

    async def _pause(self, seconds: float) -> None:
        """Sleep between listings; a method of its own so tests can move the clock instead."""
        await asyncio.sleep(seconds)


def _check(hook: UsageIntelligenceHook, wait: FileWait) -> tuple[list[FileRecord], list[str]]:
    """One poll: list, then log out (a failure is only logged) and close the sockets."""
    with hook:
        records = hook.list_files(wait.file_kind, wait.product_id, wait.frequency)
    return wait.check(records)
