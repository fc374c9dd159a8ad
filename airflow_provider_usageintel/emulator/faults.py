"""Injected faults: the failures a client must survive, on demand and in order.

A fault is queued through ``POST /_emulator/faults`` and applies to the next
``count`` requests whose URL path matches its regex (``re.search``); when
several match, the oldest is used first. Kinds:

* ``status``: answer ``status`` with ``{"status": ..., "reason": "Injected fault"}``
  (and ``Retry-After`` when ``retry_after`` is given);
* ``cookie_missing``: answer 400 ``Cookie Missing`` with a fresh CSRF cookie, as the
  real login does now and then;
* ``expire_session``: end the caller's session, then answer 401 like an expired one;
* ``reset``: send the headers and ``after_bytes`` bytes of the body, then drop the
  connection (the client sees an incomplete body);
* ``truncate``: declare and send only ``after_bytes`` bytes: a complete but short answer;
* ``corrupt_zip``: flip one byte in the middle of the body (inside the CSV data of a
  zip download, so its CRC fails while the length is right);
* ``slow``: pause ``delay_s`` seconds after ``after_bytes`` bytes of the body
  (``after_bytes`` 0: before answering at all).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

FaultKind = Literal["status", "cookie_missing", "expire_session", "reset", "truncate", "corrupt_zip", "slow"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: faults that change the body as it streams, rather than replacing the answer.
BODY_FAULTS = frozenset({"reset", "truncate", "corrupt_zip", "slow"})


@dataclass
class Fault:
    """One queued fault and how many more requests it will hit."""

    id: int
    path: str
    kind: FaultKind
    status: int = 503
    retry_after: int | None = None
    after_bytes: int = 0
    delay_s: float = 0.0
    count: int = 1

    def matches(self, path: str) -> bool:
        return re.search(self.path, path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "after_bytes": self.after_bytes,
            "delay_s": self.delay_s,
            "count": self.count,
        }


def _int(spec: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key}: expected an integer between {low} and {high}, got {value!r}")
    return value


def _number(spec: dict[str, Any], key: str, high: float) -> float:
    value = spec.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise ValueError(f"{key}: expected a number between 0 and {high}, got {value!r}")
    return float(value)


def _pattern(spec: dict[str, Any]) -> str:
    path = spec.get("path", "")
    if not isinstance(path, str):
        raise ValueError(f"path: expected a regular expression, got {path!r}")
    try:
        re.compile(path)
    except re.error as exc:
        raise ValueError(f"path: invalid regular expression ({exc})") from None
    return path


def _kind(spec: dict[str, Any]) -> FaultKind:
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(FAULT_KINDS)}, got {kind!r}")
    return cast(FaultKind, kind)


_KNOWN_KEYS = frozenset({"path", "kind", "status", "retry_after", "after_bytes", "delay_s", "count"})


def parse_fault(spec: object, fault_id: int) -> Fault:
    """Validate a fault request body; a ``ValueError`` names the offending field."""
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(spec) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    return Fault(
        id=fault_id,
        path=_pattern(spec),
        kind=_kind(spec),
        status=cast(int, _int(spec, "status", 503, 100, 599)),
        retry_after=_int(spec, "retry_after", None, 0, 86400),
        after_bytes=cast(int, _int(spec, "after_bytes", 0, 0, 1 << 40)),
        delay_s=_number(spec, "delay_s", 600.0),
        count=cast(int, _int(spec, "count", 1, 1, 1_000_000)),
    )


class FaultQueue:
    """Pending faults, first in first out."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: object) -> Fault:
        with self._lock:
            fault = parse_fault(spec, next(self._ids))
            self._faults.append(fault)
            return fault

    def take(self, path: str) -> Fault | None:
        """The oldest fault matching ``path``, spending one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
