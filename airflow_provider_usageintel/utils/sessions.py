"""Where every task ends the API session it opened: one rule for operators, sensors and triggers.

APIs limit concurrent sessions per account, so a session left to expire on the
server is a slot lost until it does. A task's hook is created lazily and cached
on the task as ``hook``; :func:`end_session` ends and forgets it. Operators get
it for free through :func:`ends_session`, which their base class applies to
every ``execute``: the session ends when ``execute`` returns, raises, or is
interrupted (Airflow stops a task with SIGINT first, which unwinds ``execute``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute a task caches its API hook in (a ``functools.cached_property``).
HOOK_ATTRIBUTE = "hook"
_DEPTH = "_api_session_depth"


class SessionHook(Protocol):
    def end_session(self) -> None: ...


def end_session(task: object, *, forget: bool = True) -> None:
    """End the session of the hook ``task`` has created, if it has created one.

    ``forget=False`` keeps the hook cached: ``on_kill`` runs while ``execute`` may still
    hold the hook, so the ``execute`` wrapper must still find it and end it once more.
    """
    cache = vars(task)
    hook: SessionHook | None = cache.pop(HOOK_ATTRIBUTE, None) if forget else cache.get(HOOK_ATTRIBUTE)
    if hook is not None:
        hook.end_session()


def ends_session(execute: F) -> F:
    """``execute``, ending the task's API session when the outermost call returns or raises.

    Subclasses calling ``super().execute()`` keep the session until their own call ends.
    """
    if getattr(execute, "ends_session", False):
        return execute

    @functools.wraps(execute)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        cache = vars(self)
        depth = cache.get(_DEPTH, 0)
        cache[_DEPTH] = depth + 1
        try:
            return execute(self, *args, **kwargs)
        finally:
            if depth:
                cache[_DEPTH] = depth
            else:
                cache.pop(_DEPTH, None)
                end_session(self)

    wrapper.ends_session = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
