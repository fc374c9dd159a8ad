"""Mutable server state: simulated clock, latency and bandwidth, sessions, download grants, request log.

Each piece guards itself with a lock: the server thread and test code calling
these objects directly may interleave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_usageintel.emulator.config import check_download_mib_per_s, check_latency_ms
from airflow_provider_usageintel.emulator.files import FileSpec


class SimulatedClock:
    """The emulated 'today': it starts at the configured date and only moves forward on request."""

    def __init__(self, today: dt.date) -> None:
        self._today = today
        self._lock = threading.Lock()

    @property
    def today(self) -> dt.date:
        with self._lock:
            return self._today

    def advance(self, days: int) -> dt.date:
        if days < 0:
            raise ValueError("advance_days: the clock only moves forward")
        with self._lock:
            self._today += dt.timedelta(days=days)
            return self._today


class RuntimeSetting:
    """A number set at start and changed on request, read by concurrent requests."""

    def __init__(self, value: float, check: Callable[[object], float]) -> None:
        self._check = check
        self._value = check(value)
        self._lock = threading.Lock()

    @property
    def value(self) -> float:
        with self._lock:
            return self._value

    def set(self, value: object) -> float:
        """Change it for requests arriving from now on; a ``ValueError`` names a bad value."""
        checked = self._check(value)
        with self._lock:
            self._value = checked
        return checked


class SimulatedLatency(RuntimeSetting):
    """How long every vendor answer waits before its first byte, in milliseconds.

    A local server answers in well under a millisecond, so a client's concurrency shows no gain
    against it; a remote SaaS API costs a round trip and its time to first byte on every call.
    """

    def __init__(self, milliseconds: float) -> None:
        super().__init__(milliseconds, check_latency_ms)

    @property
    def seconds(self) -> float:
        return self.value / 1000


class SimulatedBandwidth(RuntimeSetting):
    """How fast each file download flows, in MiB/s (0: as fast as loopback goes).

    A download from a remote server is bounded by the network, not by the server's CPU:
    on loopback a 256 MiB file arrives in a few tens of milliseconds, which hides whether
    a client overlaps its download with its upload.
    """

    def __init__(self, mib_per_s: float) -> None:
        super().__init__(mib_per_s, check_download_mib_per_s)

    def pacer(self) -> Pacer:
        """A pacer for one download, at the rate set when it starts."""
        return Pacer(self.value * 1024 * 1024)


class Pacer:
    """Holds one stream to ``bytes_per_second`` (0: no limit) from its first byte on."""

    def __init__(self, bytes_per_second: float) -> None:
        self.bytes_per_second = bytes_per_second
        self._started = time.monotonic()
        self._sent = 0

    def delay(self, size: int) -> float:
        """Seconds to wait before sending ``size`` more bytes so that the stream keeps to its rate."""
        self._sent += size
        if not self.bytes_per_second:
            return 0.0
        due = self._started + self._sent / self.bytes_per_second
        return max(0.0, due - time.monotonic())


@dataclass
class Session:
    """A login: both cookies must come back together for it to count."""

    token: str
    csrf: str
    user: str
    last_used: float
    active: bool = True


class SessionStore:
    """Issued CSRF tokens and live sessions, with idle expiry on a monotonic clock.

    Also counts logins and the sessions logouts ended, since the last :meth:`reset_counts`:
    the real API limits concurrent sessions per account, so a client must end each one.
    """

    def __init__(self, idle_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self._monotonic = monotonic
        self._csrf: set[str] = set()
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._logins = 0
        self._logouts = 0

    def issue_csrf(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._csrf.add(token)
        return token

    def csrf_known(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._csrf

    def login(self, user: str, presented_csrf: str) -> Session:
        """Open a session; the pre-login CSRF token is spent and a session-bound one replaces it."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(24), user, self._monotonic())
        with self._lock:
            self._csrf.discard(presented_csrf)
            self._csrf.add(session.csrf)
            self._sessions[session.token] = session
            self._logins += 1
        return session

    def lookup(self, token: str | None, csrf: str | None) -> Session | None:
        """The live session these cookies name, refreshing its idle timer; ``None`` if there is none."""
        now = self._monotonic()
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None or not session.active or csrf != session.csrf:
                return None
            if now - session.last_used > self.idle_seconds:
                session.active = False
                return None
            session.last_used = now
            return session

    def expire(self, token: str | None) -> bool:
        """End a session as if it had timed out (its CSRF token stays usable for a new login)."""
        with self._lock:
            session = self._sessions.get(token or "")
            if session is None:
                return False
            session.active = False
            return True

    def logout(self, session: Session, all_sessions: bool) -> int:
        """End this session, or every session of its user; their CSRF tokens die with them."""
        with self._lock:
            ended = [
                s
                for s in self._sessions.values()
                if s.active and (s is session or (all_sessions and s.user == session.user))
            ]
            for ended_session in ended:
                ended_session.active = False
                self._csrf.discard(ended_session.csrf)
            self._logouts += len(ended)
            return len(ended)

    def active_count(self) -> int:
        with self._lock:
            return sum(1 for s in self._sessions.values() if s.active)

    def counts(self) -> dict[str, int]:
        """``logins``, sessions ended by ``logouts``, and sessions ``open`` (not ended, not expired)."""
        now = self._monotonic()
        with self._lock:
            live = [s for s in self._sessions.values() if s.active and now - s.last_used <= self.idle_seconds]
            return {"logins": self._logins, "logouts": self._logouts, "open": len(live)}

    def reset_counts(self) -> None:
        with self._lock:
            self._logins = self._logouts = 0


@dataclass
class DownloadGrant:
    """What a signed URL gives access to: one file as it was when the URL was issued."""

    spec: FileSpec
    expires: int
    used: bool = False


class DownloadRefused(Exception):
    """A signed URL that must not be served; the message is safe to show."""


class DownloadSigner:
    """Short-lived, single-use signed URLs, like object-store presigned URLs."""

    def __init__(self, ttl_seconds: float, wall_clock: Callable[[], float] = time.time) -> None:
        self.ttl_seconds = ttl_seconds
        self._key = secrets.token_bytes(32)
        self._wall_clock = wall_clock
        self._grants: dict[str, DownloadGrant] = {}
        self._lock = threading.Lock()

    def _signature(self, token: str, expires: int) -> str:
        return hmac.new(self._key, f"{token}.{expires}".encode(), hashlib.sha256).hexdigest()

    def issue(self, spec: FileSpec) -> tuple[str, int, str]:
        """``(token, expires, signature)`` for the URL ``/_download/{token}?expires=&signature=``."""
        token = secrets.token_urlsafe(24)
        expires = int(self._wall_clock() + self.ttl_seconds)
        with self._lock:
            self._grants[token] = DownloadGrant(spec, expires)
        return token, expires, self._signature(token, expires)

    def check(self, token: str, expires: str | None, signature: str | None) -> DownloadGrant:
        """The grant behind a URL, or :class:`DownloadRefused` saying why not."""
        if not expires or not signature or not expires.isdigit():
            raise DownloadRefused("Missing or malformed signature parameters")
        if not hmac.compare_digest(self._signature(token, int(expires)), signature):
            raise DownloadRefused("Signature does not match")
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires != int(expires):
            raise DownloadRefused("Unknown download URL")
        if self._wall_clock() >= grant.expires:
            raise DownloadRefused("Download URL expired")
        if grant.used:
            raise DownloadRefused("Download URL already used")
        return grant

    def mark_used(self, grant: DownloadGrant) -> None:
        with self._lock:
            grant.used = True


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "status": self.status}


@dataclass
class RequestLog:
    """What clients asked and what they got: method, path (never a query string) and status."""

    limit: int = 100_000
    _entries: deque[LoggedRequest] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._entries = deque(maxlen=self.limit)

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._entries.append(LoggedRequest(method, path, status))

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
