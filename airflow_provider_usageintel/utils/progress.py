"""Progress of long transfers, logged at a steady cadence whatever the data rate.

A background timer logs every ``interval`` seconds, so a stalled download is
visible in the task log too; counters are thread-safe because transfers run
several files at once.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Protocol

#: seconds between progress lines: often enough to see a stall, rarely enough to keep logs short.
DEFAULT_PROGRESS_INTERVAL = 30.0


class InfoLog(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


class Progress:
    """Counts files, bytes and rows or events; as a context manager, logs while work runs and at the end."""

    def __init__(
        self,
        log: InfoLog,
        label: str,
        total_files: int,
        interval: float = DEFAULT_PROGRESS_INTERVAL,
        item_name: str | None = None,
    ) -> None:
        self.log = log
        #: what ``add_items`` counts (e.g. "rows"); ``None`` when only files and bytes matter.
        self.item_name = item_name
        self.items = 0
        self.label = label
        self.total_files = total_files
        self.interval = interval
        self.files_done = 0
        self.files_skipped = 0
        self.files_failed = 0
        self.bytes_done = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._timer: threading.Thread | None = None

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes_done += count

    def add_items(self, count: int = 1) -> None:
        with self._lock:
            self.items += count

    def file_done(self) -> None:
        with self._lock:
            self.files_done += 1

    def file_skipped(self) -> None:
        with self._lock:
            self.files_skipped += 1

    def file_failed(self) -> None:
        with self._lock:
            self.files_failed += 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def line(self) -> str:
        with self._lock:
            done, skipped, failed, size, items = (
                self.files_done,
                self.files_skipped,
                self.files_failed,
                self.bytes_done,
                self.items,
            )
        elapsed = max(self.elapsed, 1e-9)
        counted = f"{items} {self.item_name}, " if self.item_name else ""
        text = (
            f"{self.label}: {done + skipped + failed}/{self.total_files} files "
            f"({done} transferred, {skipped} skipped, {failed} failed), {counted}"
            f"{human_bytes(size)} in {elapsed:.1f} s ({human_bytes(size / elapsed)}/s)"
        )
        return text

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.log.info(self.line())

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._timer = threading.Thread(target=self._run, name="progress", daemon=True)
        self._timer.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        self.log.info("%s", self.line())
