"""The documentation portal's population: Fluid Topics users, sessions and events.

The documentation portal (Fluid Topics) and the identity server in front of it
(FusionAuth) share one population: a FusionAuth login opens a portal session,
and the session's events are what the analytics API serves.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_usageintel.emulator.config import EmulatorConfig
from airflow_provider_usageintel.emulator.randomness import stable_uuid

PORTAL_REALMS: tuple[str, ...] = ("internal", "Keycloak", "sso", "ldap")
PORTAL_GROUPS: tuple[str, ...] = (
    "ft:administrator",
    "ft:authenticated",
    "TechWriter",
    "antidot",
    "nda_basic",
    "nda_advanced",
    "partners",
)
PORTAL_ROLES: tuple[str, ...] = (
    "PERSONAL_BOOK_SHARE_USER",
    "PDF_EXPORT_USER",
    "PERSONAL_BOOK_USER",
    "OFFLINE_USER",
    "FEEDBACK_USER",
    "ANALYTICS_USER",
    "RATING_USER",
    "GENERATIVE_AI_USER",
    "ADMIN",
    "PRINT_USER",
    "COLLECTION_USER",
    "HTML_EXPORT_USER",
    "SAVED_SEARCH_USER",
)
PORTAL_EVENTS: tuple[tuple[str, float], ...] = (
    ("khub.search", 30),
    ("document.display", 25),
    ("page.display", 15),
    ("document.start_display", 8),
    ("khub.bookmark.create", 4),
    ("document.download", 5),
    ("document.print", 3),
    ("feedback.send", 2),
    ("document.rate", 3),
)
#: FusionAuth applications: (id, name); every user is registered to the first one.
PORTAL_APPLICATIONS: tuple[tuple[str, str], ...] = (
    ("3c219e58-ed0e-4b18-ad48-f4f92793ae32", "Documentation portal"),
    ("8f0a6a3c-2a7e-4d0b-9c58-0d8a5c3e1f10", "Support center"),
    ("c1b7f0e2-5d3a-4b4e-8f6a-2e9d7c4b1a05", "Partner extranet"),
)
PORTAL_SEARCH_TERMS: tuple[str, ...] = ("install", "license server", "upgrade 5.0", "api token", "backup")
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class PortalUser:
    index: int
    user_id: str
    login_id: str
    realms: tuple[str, ...]
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    applications: tuple[str, ...]
    #: epoch milliseconds of the registration (the same for every application).
    registered_ms: int
    #: share of days with a visit.
    activity: float
    locale: str


@dataclass(frozen=True, slots=True)
class PortalSession:
    """One login (FusionAuth) that opened one portal visit (Fluid Topics events)."""

    user: int
    application: str
    login_ms: int
    session_id: str
    #: ``(epoch ms, event name index)`` of the visit's events, oldest first.
    events: tuple[tuple[int, int], ...]


class Portal:
    """The portal's users and, per UTC day, their logins and events; deterministic and lazy."""

    #: users registered up to this many days before the history starts already have an account.
    PRE_HISTORY_DAYS = 400

    def __init__(self, config: EmulatorConfig) -> None:
        self.seed = config.seed
        start = dt.datetime.combine(config.history_start, dt.time(), dt.timezone.utc)
        self._first_ms = int(start.timestamp() * 1000) - self.PRE_HISTORY_DAYS * _DAY_MS
        self._span_ms = (self.PRE_HISTORY_DAYS + config.days) * _DAY_MS
        self.users = tuple(self._user(index) for index in range(config.portal_users))
        self.by_id = {user.user_id: user for user in self.users}
        self.by_login = {user.login_id: user for user in self.users}
        self._names, self._weights = zip(*PORTAL_EVENTS, strict=True)

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(self._names)

    def _user(self, index: int) -> PortalUser:
        rng = random.Random(f"portal|{self.seed}|{index}")  # noqa: S311 - synthetic data
        apps = [PORTAL_APPLICATIONS[0][0]] + [a for a, _ in PORTAL_APPLICATIONS[1:] if rng.random() < 0.3]
        return PortalUser(
            index=index,
            user_id=stable_uuid("portal-user", self.seed, index),
            login_id=f"user{index:04d}@example.com",
            realms=tuple(rng.sample(PORTAL_REALMS, rng.randint(1, 2))),
            groups=tuple(rng.sample(PORTAL_GROUPS, rng.randint(1, 4))),
            roles=tuple(sorted(rng.sample(PORTAL_ROLES, rng.randint(2, 8)))),
            applications=tuple(apps),
            registered_ms=self._first_ms + rng.randrange(self._span_ms),
            activity=rng.uniform(0.1, 0.7),
            locale=rng.choice(("en-US", "en-GB", "fr-FR", "de-DE", "ja-JP")),
        )

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Portal per emulator, kept for its lifetime
    def sessions(self, day: dt.date) -> tuple[PortalSession, ...]:
        """Every login of one UTC day, oldest first."""
        day_ms = int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000)
        found: list[PortalSession] = []
        for user in self.users:
            if user.registered_ms >= day_ms + _DAY_MS:
                continue
            rng = random.Random(f"visits|{self.seed}|{user.index}|{day.toordinal()}")  # noqa: S311
            if rng.random() >= user.activity:
                continue
            for visit in range(rng.choice((1, 1, 1, 2))):
                found.append(self._session(rng, user, max(day_ms, user.registered_ms + 1), day_ms, visit))
        return tuple(sorted(found, key=lambda s: (s.login_ms, s.session_id)))

    def _session(
        self, rng: random.Random, user: PortalUser, earliest: int, day_ms: int, visit: int
    ) -> PortalSession:
        login = rng.randrange(earliest, day_ms + _DAY_MS) if earliest < day_ms + _DAY_MS else earliest
        times = sorted(login + rng.randrange(1, 3_600_000) for _ in range(rng.randint(1, 8)))
        names = rng.choices(range(len(self._names)), weights=self._weights, k=len(times))
        return PortalSession(
            user=user.index,
            application=rng.choice(user.applications),
            login_ms=login,
            session_id=stable_uuid("session", self.seed, user.index, day_ms, visit),
            events=tuple(zip(times, names, strict=True)),
        )

    def sessions_between(self, start_ms: int, end_ms: int) -> Iterator[PortalSession]:
        """Logins in ``[start_ms, end_ms)``, oldest first."""
        day = dt.datetime.fromtimestamp(start_ms / 1000, dt.timezone.utc).date()
        while int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000) < end_ms:
            for session in self.sessions(day):
                if start_ms <= session.login_ms < end_ms:
                    yield session
            day += dt.timedelta(days=1)

    def event_record(self, session: PortalSession, position: int) -> dict[str, Any]:
        """One event of a session, shaped like the analytics API's ``results`` items."""
        moment, name_index = session.events[position]
        user, name = self.users[session.user], self._names[name_index]
        event_id = stable_uuid("event", session.session_id, position)
        rng = random.Random(event_id)  # noqa: S311 - synthetic data
        return {
            "appName": "ft/turnkey-portal",
            "appVersion": "4.3.32",
            "contentLocale": "en-US",
            "datetime": moment,
            "id": event_id,
            "name": name,
            "offline": False,
            "parameters": _event_parameters(name, rng),
            "sessionId": session.session_id,
            "tenantId": "documentation-emulator",
            "uiLocale": user.locale,
            "user": {
                "realm": list(user.realms),
                "groups": list(user.groups),
                "id": user.user_id,
                "roles": list(user.roles),
            },
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0",
            "userIp": f"10.60.{user.index // 250}.{user.index % 250 + 1}",
        }


def _event_parameters(name: str, rng: random.Random) -> dict[str, Any]:
    if name == "khub.search":
        return {
            "searchQuery": {
                "terms": rng.choice(PORTAL_SEARCH_TERMS),
                "facets": [],
                "searchType": "EVERYWHERE",
            },
            "searchResponse": {"autocorrect": False, "nbResults": rng.randrange(0, 2000)},
        }
    if name.startswith(("document.", "page.")):
        return {
            "document": {"id": f"doc-{rng.randrange(1, 400):04d}", "title": f"Guide {rng.randrange(1, 40)}"}
        }
    return {}
