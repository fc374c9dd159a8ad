"""Errors raised by the provider.

Every message is safe to log: none carries a password, API key, cookie, CSRF
token or signed download URL. Callers that need to react programmatically use
the attributes, not the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class UsageIntelligenceError(Exception):
    """Base class of every error this provider raises.

    A plain ``Exception`` on purpose: the API description, the validators and
    the emulator share these errors and must not need Airflow to import (Airflow
    fails a task on any exception alike).
    """


class UsageIntelligenceValidationError(UsageIntelligenceError, ValueError):
    """Bad input, detected before any network call.

    ``problems`` lists every problem found (each names the field and what is
    allowed), so a DAG author fixes them all in one go.
    """

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(f"- {p}" for p in self.problems)
        super().__init__(message)


class Problems:
    """Collects validation problems across checks, so one error names every bad field."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, problem: str) -> None:
        self.items.append(problem)

    def extend(self, problems: Sequence[str]) -> None:
        self.items.extend(problems)

    def check(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``func(*args, **kwargs)``, or ``None`` once its validation problems are recorded."""
        try:
            return func(*args, **kwargs)
        except UsageIntelligenceValidationError as exc:
            self.items.extend(exc.problems)
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise UsageIntelligenceValidationError(self.items)


def positive_number(value: object, field: str, problems: Problems, *, integer: bool = True) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        bounds = "integers >= 1" if integer else "numbers > 0"
        problems.add(f"{field}: {value!r} is not allowed (allowed: {bounds})")


def whole_number_within(value: object, field: str, low: int, high: int, problems: Problems) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(f"{field}: {value!r} is out of range (allowed: {low} to {high})")


class UsageIntelligenceAPIError(UsageIntelligenceError):
    """The server answered with an error status or a body we cannot use."""

    def __init__(self, status: int | None, endpoint: str, reason: str) -> None:
        self.status = status
        self.endpoint = endpoint
        self.reason = reason
        status_text = f"HTTP {status}" if status is not None else "no HTTP status"
        super().__init__(f"{endpoint} failed ({status_text}): {reason}")


class UsageIntelligenceAuthError(UsageIntelligenceAPIError):
    """Login failed, or the server kept refusing the session after a fresh login."""


class UsageIntelligenceTransferError(UsageIntelligenceError):
    """A file could not be fetched completely and intact (size or checksum mismatch, broken stream)."""


def allowed(values: Sequence[object]) -> str:
    """Render allowed values the same way in every message."""
    return ", ".join(str(v) for v in values)
