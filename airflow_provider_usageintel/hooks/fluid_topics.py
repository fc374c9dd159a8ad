"""Hook for the Fluid Topics analytics API (events and event counts).

Authentication is stateless: every call carries ``Authorization: Bearer <API
key>`` and ``Ft-Calling-App`` (required on POST). The key is the connection's
password and is registered with Airflow's masker when the settings are read;
retries, Retry-After and error wording come from :class:`ApiHookBase`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import requests
from typing_extensions import Unpack

from airflow_provider_usageintel.api.fluid_topics import (
    BY_NAME,
    DEFAULT_PER_PAGE,
    DateArg,
    EventFilters,
    check,
    event_counts_problems,
    event_counts_request,
    events_problems,
    events_request,
    utc_now,
)
from airflow_provider_usageintel.connection_fields import FLUID_TOPICS
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError
from airflow_provider_usageintel.hooks.base import ApiHookBase

DEFAULT_CALLING_APP: str = FLUID_TOPICS.default("calling_app")


class FluidTopicsHook(ApiHookBase):
    """Access to the analytics API of one Fluid Topics portal.

    :param fluid_topics_conn_id: connection of type ``fluid_topics`` (host: the portal's
        base URL, password: an API key with the ANALYTICS_USER role, extra ``calling_app``).
    """

    conn_name_attr = "fluid_topics_conn_id"
    connection = FLUID_TOPICS
    default_conn_name = FLUID_TOPICS.default_conn_id
    conn_type = FLUID_TOPICS.conn_type
    hook_name = FLUID_TOPICS.hook_name
    lineage_scheme = "fluidtopics"
    #: portals live on their own domains: the connection must name one.
    default_base_url: ClassVar[str] = ""

    def __init__(self, fluid_topics_conn_id: str = default_conn_name) -> None:
        super().__init__(fluid_topics_conn_id)
        self.fluid_topics_conn_id = fluid_topics_conn_id

    @property
    def calling_app(self) -> str:
        return str(self.extra_or_default("calling_app"))

    def _prepare_session(self, session: requests.Session) -> None:
        session.headers.update(
            {
                "Authorization": f"Bearer {self.settings.password}",
                "Ft-Calling-App": self.calling_app,
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )

    # -- calls ----------------------------------------------------------------------------------

    def events_page(self, body: dict[str, Any], *, now: dt.datetime | None = None) -> dict[str, Any]:
        """One page of ``POST /analytics/api/v1/events`` for a body as the seed describes it.

        The body is checked first, its dates against ``now`` (naive UTC; default: the
        worker's clock): a start in the future or more than a year back never leaves.
        """
        check(events_problems(body, now or utc_now()))
        ep = BY_NAME["events"]
        self.note_read(ep.name)
        answer = self.send_json(ep.method, ep.path, json=body)
        if not isinstance(answer, dict) or not isinstance(answer.get(ep.result_key), list):
            raise UsageIntelligenceAPIError(200, f"{ep.method} {ep.path}", "answer has no 'results' list")
        return answer

    def iter_events(
        self,
        start: DateArg,
        end: DateArg | None = None,
        *,
        sort_order: str = "OldestFirst",
        per_page: int = DEFAULT_PER_PAGE,
        **filters: Unpack[EventFilters],
    ) -> Iterator[dict[str, Any]]:
        """Every event of ``[start, end)``, page after page until ``paging.lastPage``.

        One page is in memory at a time. Aware datetimes are sent in UTC; ``end``
        defaults to the server's current date. ``filters``: ``names``, ``user_ids``,
        ``realms``, ``groups``, ``roles`` (lists; an event matches any value of each).
        """
        body = events_request(start, end, sort=sort_order, per_page=per_page, **filters)
        now = utc_now()  # one clock reading: a long export must not fail halfway at a day boundary
        while True:
            answer = self.events_page(body, now=now)
            yield from answer["results"]
            if _last_page(answer):
                return
            body["paging"]["page"] += 1

    def event_counts(
        self,
        start: DateArg,
        end: DateArg,
        *,
        group_by_period: str = "day",
        names: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Event counts per name and period: ``[{name, periods: [{periodStartDate, ..., eventCount}]}]``."""
        body = event_counts_request(start, end, group_by_period=group_by_period, names=names)
        check(event_counts_problems(body, utc_now()))
        ep = BY_NAME["event_counts"]
        self.note_read(ep.name)
        answer = self.send_json(ep.method, ep.path, json=body)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise UsageIntelligenceAPIError(200, f"{ep.method} {ep.path}", "answer has no 'results' list")
        return results

    def test_connection(self) -> tuple[bool, str]:
        """Ask for one event of the last day: proves the URL, the key and the calling app."""
        start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        try:
            self.events_page(events_request(start, per_page=1))
        except UsageIntelligenceAPIError as exc:
            return False, str(exc)
        return True, "Connected: the analytics API answered the events call"


def _last_page(answer: dict[str, Any]) -> bool:
    """``paging.lastPage``, with an empty page taken as the end (a server that never says so)."""
    paging = answer.get("paging") or {}
    return bool(paging.get("lastPage", True)) or not answer["results"]
