"""Where every task ends the API session it opened: one rule for operators, sensors and triggers.

APIs limit concurrent sessions per account, so a session left to expire on the
server is a slot lost until it does. A task's hook is created lazily and cached
on the task as ``hook``; :func:`end_session` ends and forgets it. Operators get
it for free through :func:`ends_session`, which their base class applies to
every ``execute``: the session ends when ``execute`` returns, raises, or is
interrupted (Airflow stops a task with SIGINT first, which unwinds ``execute``).
A task done with the API before the end of ``execute`` calls :func:`end_session_soon`:
the logout runs beside the rest of its work, and ``execute`` still waits for it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute a task caches its API hook in (a ``functools.cached_property``).
HOOK_ATTRIBUTE = "hook"
_DEPTH = "_api_session_depth"
#: sessions :func:`end_session_soon` is ending in the background, for ``execute`` to wait for.
_ENDING = "_api_sessions_ending"


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


def end_session_soon(task: object) -> None:
    """End the session of ``task``'s hook in the background: the task needs nothing more from the API.

    The logout (a round trip) then overlaps what the task still does on its S3 side, and
    the ``execute`` wrapper of :func:`ends_session` waits for it before it returns or
    raises, so the session ends whatever happens. The hook is forgotten: should the task
    use the API again after all, it gets a new hook, whose session ends with ``execute``.
    Call it from inside ``execute``.
    """
    hook: SessionHook | None = vars(task).pop(HOOK_ATTRIBUTE, None)
    if hook is None:
        return
    ended: Future[None] = Future()

    def end() -> None:
        try:
            hook.end_session()
        except BaseException as exc:  # raised where the task waits for it, as if it had ended there
            ended.set_exception(exc)
        else:
            ended.set_result(None)

    vars(task).setdefault(_ENDING, []).append(ended)
    threading.Thread(target=end, name="api-session-end").start()


def _wait_for_ending(task: object) -> None:
    """Wait until every session :func:`end_session_soon` began to end has ended; raise the first failure."""
    endings: list[Future[None]] = vars(task).pop(_ENDING, [])
    failures = [exc for exc in [ended.exception() for ended in endings] if exc is not None]
    if failures:
        raise failures[0]


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
                try:
                    end_session(self)
                finally:
                    _wait_for_ending(self)

    wrapper.ends_session = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
