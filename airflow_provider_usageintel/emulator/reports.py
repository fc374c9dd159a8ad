"""Every report of the v3 table, computed from the synthetic population.

Handlers first check the body with the emulator's own reading of the seeds
(:mod:`.checks`, never the client's validator) and answer ``400 SYNTAX ERROR``
with its problems joined by ``"; "``; what only the server can know (an unknown
property) answers 422. Nothing is canned: each answer is computed
from :class:`~airflow_provider_usageintel.emulator.population.Client` data as of the
simulated today.

Daily usage model: on each active day a client runs 1-3 sessions of about its
lifetime average length, and performs each catalogue event a fixed number of
times per session (zero for events it never uses). Window totals therefore come
from running sums, and every event count is ``rate x sessions``. Lifetime figures
(``lifetimeSessionCount``, ``lifetimeRuntimeMinutes``) are client properties, as
the server stores them.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
import uuid
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_usageintel.emulator.app import ApiError
from airflow_provider_usageintel.emulator.checks import (
    GRANULARITIES,
    HISTOGRAM_METRICS,
    LEVEL_KEYS,
    NUMERIC_PROPERTIES,
    refuse_invalid,
)
from airflow_provider_usageintel.emulator.filtering import (
    NULL,
    Level,
    PropertyReader,
    client_filter,
    compile_regex,
    level,
    require_known,
    split_everything,
    text,
)
from airflow_provider_usageintel.emulator.license_keys import LicenseKeyRegistry
from airflow_provider_usageintel.emulator.population import (
    EVENTS,
    PRODUCT_PROPERTIES,
    Client,
    EventType,
    Population,
)
from airflow_provider_usageintel.emulator.randomness import mix64, stable_unit

if TYPE_CHECKING:
    from airflow_provider_usageintel.emulator.usage_intelligence import Call

ReportHandler = Callable[["Call"], Any]
Compute = Callable[["Call", Any], Any]

#: handlers by endpoint name; :mod:`.usage_intelligence` registers them with its routes.
REPORTS: dict[str, ReportHandler] = {}

PROPERTY_VALUES_PAGE = 100
LICENSE_KEYS_PAGE = 100
DATA_TABLE_PAGE = 50
#: churn histograms without ``daysUntilDeclaredLost`` (seed 001 does not require it): the sample's 30.
DEFAULT_DAYS_UNTIL_DECLARED_LOST = 30
#: the whole date range, beside the ``dateSplit`` buckets.
TOTAL = -1
_ONE_DAY = dt.timedelta(days=1)
_USAGE_SALT = 0xD1B54A32D192ED03
_EVENT_SALT = 0x8CB92BA72F3D8DD7
_VALUE_SALT = 0xA24BAED4963EE407
_BOOLEANS: Mapping[str, bool] = {"true": True, "false": False}


# --------------------------------------------------------------------------- registration


def _query_body(call: Call) -> dict[str, Any]:
    """GET reports take their request as query parameters; ``true``/``false`` are booleans."""
    query = call.request.query_params
    body: dict[str, Any] = {}
    for key in query:
        values = [_BOOLEANS.get(value, value) for value in query.getlist(key)]
        body[key] = values[0] if len(values) == 1 else values
    return body


def report(name: str) -> Callable[[Compute], Compute]:
    """Serve ``name`` with ``compute(call, body)`` once the body passed the emulator's checks."""

    def register(compute: Compute) -> Compute:
        def handle(call: Call) -> Any:
            body = _query_body(call) if call.endpoint.method == "GET" else call.body
            refuse_invalid(name, body)
            return compute(call, {} if body is None else body)

        REPORTS[name] = handle
        return compute

    return register


# --------------------------------------------------------------------------- what every report reads


@dataclass(frozen=True)
class Scope:
    """The product's clients as of the simulated today."""

    population: Population
    today: dt.date
    reader: PropertyReader

    @classmethod
    def of(cls, call: Call) -> Scope:
        today = call.context.clock.today
        return cls(call.context.dataset.population(call.pid), today, PropertyReader(today))

    def clients(self, filters: Mapping[str, Any] | None) -> Iterator[Client]:
        keep = client_filter(filters, self.reader)
        return (client for client in self.population if keep(client))

    @property
    def yesterday(self) -> dt.date:
        return self.today - _ONE_DAY


def page_size(call: Call, asked: int) -> int:
    """The rows a page holds: what was asked for, capped by the server's ``max_page_size``."""
    cap = call.context.config.max_page_size
    return min(asked, cap) if cap else asked


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _window(body: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    return _day(body["startDate"]), _day(body["stopDate"])


def _percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


# --------------------------------------------------------------------------- daily usage


@dataclass(frozen=True)
class Totals:
    days: int
    sessions: int
    minutes: int


@dataclass(frozen=True)
class Usage:
    """A client's active days up to yesterday, with running sums: any window adds up by bisection.

    Compact arrays keep a cached client's history to a few kilobytes.
    """

    days: array[int]
    sessions: array[int]
    minutes: array[int]
    session_sums: array[int]
    minute_sums: array[int]

    def span(self, first: dt.date, last: dt.date) -> range:
        """Positions of the active days within ``first`` .. ``last``."""
        return range(bisect_left(self.days, first.toordinal()), bisect_right(self.days, last.toordinal()))

    def totals(self, first: dt.date, last: dt.date) -> Totals:
        at = self.span(first, last)
        return Totals(
            len(at),
            self.session_sums[at.stop] - self.session_sums[at.start],
            self.minute_sums[at.stop] - self.minute_sums[at.start],
        )

    def periods(self, first: dt.date, last: dt.date) -> tuple[int, int, int]:
        """Active days, weeks (Monday to Sunday) and calendar months within the window."""
        at = self.span(first, last)
        days = self.days[at.start : at.stop]
        months = {dt.date.fromordinal(day).replace(day=1) for day in days}
        return len(days), len({(day - 1) // 7 for day in days}), len(months)


@functools.lru_cache(maxsize=2048)
def usage(client: Client, today: dt.date) -> Usage:
    """Sessions and minutes of each active day from installation to the last day seen before ``today``."""
    days = client.active_days(client.date_installed, client.last_seen(today))
    key = int(client.client_id, 16)
    average = client.lifetime_runtime_minutes / client.lifetime_session_count
    sessions: list[int] = []
    minutes: list[int] = []
    for day in days:
        roll = mix64(key ^ (day * _USAGE_SALT))
        count = 1 + (roll & 0xFFFF) % 3
        sessions.append(count)
        minutes.append(max(1, round(count * average * (0.5 + (roll >> 32) / 2**32))))
    return Usage(
        array("l", days),
        array("l", sessions),
        array("l", minutes),
        array("q", itertools.accumulate(sessions, initial=0)),
        array("q", itertools.accumulate(minutes, initial=0)),
    )


def _rate(roll: int, event: EventType) -> int:
    used = (roll & 0xFFFFFFFF) / 2**32 < min(0.95, 0.2 + event.weight / 25)
    return 1 + int((roll >> 32) / 2**32 * event.weight / 5) if used else 0


@functools.lru_cache(maxsize=8192)
def event_rates(client: Client) -> tuple[int, ...]:
    """Occurrences per session of each catalogue event (0: the client never uses it)."""
    key = int(client.client_id, 16)
    return tuple(_rate(mix64(key ^ ((i + 1) * _EVENT_SALT)), event) for i, event in enumerate(EVENTS))


@functools.lru_cache(maxsize=8192)
def event_values(client: Client) -> tuple[int, ...]:
    """The custom value each catalogue event carries for this client (0 for events without one)."""
    key = int(client.client_id, 16)
    values = []
    for i, event in enumerate(EVENTS):
        low, high = event.value_range or (0, 0)
        values.append(low + mix64(key ^ ((i + 1) * _VALUE_SALT)) % (high - low + 1))
    return tuple(values)


# --------------------------------------------------------------------------- histograms


def _plain(value: float) -> str:
    return f"{value:g}"


def hours_minutes(minutes: float) -> str:
    """Runtime bins read ``h:mm`` (seed 001)."""
    whole = int(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


@dataclass(frozen=True)
class Bins:
    """Histogram bins with open ends, labelled like the API's (``≤ 0:50``, ``0:51 - 1:00``, ``≥ 39:01``).

    ``bounds`` are inclusive upper bounds, or with ``from_lower`` inclusive lower bounds
    (values below the first are left out). ``step`` is the data's resolution: an integer
    bin starts one step above the previous bound; 0 means continuous values.
    """

    bounds: tuple[float, ...]
    step: float = 1
    show: Callable[[float], str] = _plain
    from_lower: bool = False

    def index(self, value: float) -> int | None:
        if not self.from_lower:
            return bisect_left(self.bounds, value)
        found = bisect_right(self.bounds, value) - 1
        return None if found < 0 else found

    def _range(self, low: float, high: float) -> str:
        first, last = self.show(low), self.show(high)
        return first if first == last else f"{first} - {last}"

    def labels(self) -> list[str]:
        pairs = list(itertools.pairwise(self.bounds))
        if self.from_lower:
            middle = [self._range(low, high - self.step if self.step else high) for low, high in pairs]
            return [*middle, f"≥ {self.show(self.bounds[-1])}"]
        middle = [self._range(low + self.step, high) for low, high in pairs]
        top = (
            f"≥ {self.show(self.bounds[-1] + self.step)}" if self.step else f"> {self.show(self.bounds[-1])}"
        )
        return [f"≤ {self.show(self.bounds[0])}", *middle, top]

    def histogram(self, values: Iterable[float]) -> dict[str, int]:
        labels = self.labels()
        counts = [0] * len(labels)
        for value in values:
            at = self.index(value)
            if at is not None:
                counts[at] += 1
        return dict(zip(labels, counts, strict=True))


#: seed 001's runtime bins, in minutes.
RUNTIME_BOUNDS: tuple[int, ...] = (
    50,
    60,
    75,
    90,
    105,
    120,
    135,
    150,
    164,
    180,
    *range(210, 721, 30),
    *range(780, 1081, 60),
    *range(1260, 2341, 180),
)
CHURN_BINS: Mapping[str, Bins] = {
    "sessions": Bins((1, 2, 3, 5, 10, 15, 20, 30, 50, 75, 100)),
    "runtime": Bins(RUNTIME_BOUNDS, show=hours_minutes),
    "days": Bins((1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180)),
}
USAGE_BINS: Mapping[str, Bins] = {
    "activeDays": Bins((1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90)),
    "sessions": Bins((1, 2, 3, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200)),
    "runtime": Bins((1, 2, 5, 10, 20, 50, 100, 200), step=0),
}
LIFETIME_BINS: Mapping[str, Bins] = {
    "eventCount": Bins((1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
    "averageCountPerActiveDay": Bins((0.5, 1, 2, 3, 5, 10, 20), step=0),
    "averageCountPerActiveWeek": Bins((1, 2, 5, 10, 20, 50, 100), step=0),
    "averageCountPerActiveMonth": Bins((1, 5, 10, 20, 50, 100, 200, 500), step=0),
}
#: how often users of an advanced event performed it.
USAGE_FREQUENCY = LIFETIME_BINS["eventCount"]


# --------------------------------------------------------------------------- date buckets


def _period_start(day: dt.date, split: str | None, start: dt.date) -> dt.date:
    if split == "day":
        return day
    if split == "week":
        return day - dt.timedelta(days=day.weekday())
    if split == "month":
        return day.replace(day=1)
    return start


@dataclass(frozen=True)
class Buckets:
    """The days of a range grouped by ``dateSplit``, each labelled by its period's first day."""

    start: dt.date
    stop: dt.date
    labels: tuple[str, ...]
    lasts: tuple[dt.date, ...]
    by_offset: tuple[int, ...]

    @classmethod
    def of(cls, start: dt.date, stop: dt.date, split: str | None) -> Buckets:
        labels: list[str] = []
        lasts: list[dt.date] = []
        by_offset: list[int] = []
        day = start
        while day <= stop:
            label = _period_start(day, split, start).isoformat()
            if not labels or labels[-1] != label:
                labels.append(label)
                lasts.append(day)
            lasts[-1] = day
            by_offset.append(len(labels) - 1)
            day += _ONE_DAY
        return cls(start, stop, tuple(labels), tuple(lasts), tuple(by_offset))

    def at(self, ordinal: int) -> int | None:
        offset = ordinal - self.start.toordinal()
        return self.by_offset[offset] if 0 <= offset < len(self.by_offset) else None

    def at_day(self, day: dt.date | None) -> int | None:
        return None if day is None else self.at(day.toordinal())


# --------------------------------------------------------------------------- generic reports


@dataclass(frozen=True)
class LostRule:
    """When a client counts as lost: ``days`` of inactivity, reported on the last-seen or declared date."""

    days: int
    reported: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> LostRule:
        """The body's rule (generic reports must give the days when they ask for lost clients)."""
        days = body.get("daysUntilDeclaredLost") or DEFAULT_DAYS_UNTIL_DECLARED_LOST
        return cls(days, body.get("dateReportedLost") or "dateLastSeen")

    def reported_on(self, client: Client, today: dt.date) -> dt.date | None:
        last = client.last_seen(today)
        declared = last + dt.timedelta(days=self.days)
        if declared >= today:
            return None
        return last if self.reported == "dateLastSeen" else declared


def _marks(client: Client, buckets: Buckets, lost: LostRule | None, today: dt.date) -> set[tuple[int, str]]:
    """``(bucket, status)`` pairs of one client, the whole range (``TOTAL``) included."""
    found = {(b, "new") for b in [buckets.at_day(client.date_installed)] if b is not None}
    daily = usage(client, today)
    active = {buckets.at(daily.days[i]) for i in daily.span(buckets.start, buckets.stop)}
    found |= {(b, "active") for b in active if b is not None}
    if lost is not None:
        found |= {(b, "lost") for b in [buckets.at_day(lost.reported_on(client, today))] if b is not None}
    return found | {(TOTAL, status) for _, status in found}


def _paths(keys_per_level: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """The root and every segment path a client belongs to, level by level."""
    paths: list[tuple[str, ...]] = [()]
    frontier: list[tuple[str, ...]] = [()]
    for keys in keys_per_level:
        frontier = [(*path, key) for path in frontier for key in keys]
        paths += frontier
    return paths


def _levels(body: Mapping[str, Any], clients: Sequence[Client], reader: PropertyReader) -> list[Level]:
    given = body.get("levels") or {}
    levels = [
        level(given[key]["property"], given[key]["segments"], f"levels.{key}.property")
        for key in LEVEL_KEYS
        if key in given
    ]
    return [lv.limited(reader.value(client, lv.prop) for client in clients) for lv in levels]


def _group_key(prop: str, reader: PropertyReader) -> Callable[[Client], str | None]:
    """What a count counts: clients, or distinct values of ``groupBy``."""
    if prop == "clientId":
        return attrgetter("client_id")
    require_known([prop], "groupBy")
    return lambda client: text(reader.value(client, prop))


def _default_statuses(body: Mapping[str, Any]) -> list[str]:
    return ["new", "active"] + (["lost"] if body.get("daysUntilDeclaredLost") is not None else [])


@dataclass
class GenericReport:
    """dateRange and current: new/active/lost counts by date bucket and segment path."""

    buckets: Buckets
    statuses: list[str]
    mode: str
    split: str | None
    levels: list[Level]
    tally: dict[tuple[tuple[str, ...], int, str], set[str]] = field(default_factory=dict)
    installs: list[tuple[dt.date, str]] = field(default_factory=list)

    def add(
        self, key: str, marks: set[tuple[int, str]], paths: list[tuple[str, ...]], installed: dt.date
    ) -> None:
        self.installs.append((installed, key))
        for path in paths:
            for bucket, status in marks:
                self.tally.setdefault((path, bucket, status), set()).add(key)

    def count(self, path: tuple[str, ...], bucket: int, status: str) -> int:
        return len(self.tally.get((path, bucket, status), ()))

    @functools.cached_property
    def _known(self) -> dict[int, int]:
        """Distinct keys installed by the end of each bucket (the percentOfTotal base)."""
        installs = sorted(self.installs)
        seen: set[str] = set()
        known: dict[int, int] = {}
        ends = [*enumerate(self.buckets.lasts), (TOTAL, self.buckets.stop)]
        position = 0
        for bucket, last in sorted(ends, key=itemgetter(1)):
            while position < len(installs) and installs[position][0] <= last:
                seen.add(installs[position][1])
                position += 1
            known[bucket] = len(seen)
        return known

    def _value(self, number: int, bucket: int) -> int | float:
        if self.mode == "percentOfActive":
            return _percent(number, self.count((), bucket, "active"))
        if self.mode == "percentOfTotal":
            return _percent(number, self._known.get(bucket, 0))
        return number

    def counts(self, path: tuple[str, ...], bucket: int) -> dict[str, int | float]:
        return {status: self._value(self.count(path, bucket, status), bucket) for status in self.statuses}

    def _by_date(self, path: tuple[str, ...]) -> dict[str, dict[str, int | float]]:
        return {label: self.counts(path, bucket) for bucket, label in enumerate(self.buckets.labels)}

    def _children(self, path: tuple[str, ...]) -> list[str]:
        depth = len(path)
        labels = [seg.label for seg in self.levels[depth].segments if seg.label is not None]
        present = {p[depth] for p, _, _ in self.tally if len(p) == depth + 1 and p[:depth] == path}
        return list(dict.fromkeys(labels)) + sorted(present - set(labels))

    def _tree(self, path: tuple[str, ...]) -> dict[str, Any]:
        depth = len(path)
        node: dict[str, Any] = {}
        for key in self._children(path):
            child = (*path, key)
            entry: dict[str, Any] = {"totals": self.counts(child, TOTAL)}
            if self.split is not None:
                entry["dates"] = self._by_date(child)
            if depth + 1 < len(self.levels):
                entry.update(self._tree(child))
            node[key] = entry
        return {LEVEL_KEYS[depth]: node}

    def result(self) -> dict[str, Any]:
        if self.levels:
            return self._tree(())
        if self.split is None:
            return self.counts((), TOTAL)
        return self._by_date(())


def generic_report(scope: Scope, body: Mapping[str, Any], stop: dt.date, split: str | None) -> dict[str, Any]:
    buckets = Buckets.of(_day(body["startDate"]), stop, split)
    statuses = body.get("clientStatus") or _default_statuses(body)
    lost = LostRule.of(body) if "lost" in statuses else None
    group = _group_key(body.get("groupBy") or "clientId", scope.reader)
    clients = list(scope.clients(body.get("globalFilters")))
    levels = _levels(body, clients, scope.reader)
    generic = GenericReport(buckets, statuses, body.get("resultMode") or "absolute", split, levels)
    for client in clients:
        key = group(client)
        if key is None:
            continue
        keys = [lv.keys(scope.reader.value(client, lv.prop)) for lv in levels]
        generic.add(key, _marks(client, buckets, lost, scope.today), _paths(keys), client.date_installed)
    return {"result": generic.result()}


@report("date_range")
def date_range(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    return generic_report(Scope.of(call), body, _day(body["stopDate"]), body.get("dateSplit"))


@report("current")
def current(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """The user base from ``startDate`` up to yesterday, without a date split."""
    scope = Scope.of(call)
    return generic_report(scope, body, scope.yesterday, None)


# --------------------------------------------------------------------------- engagement and churn


@report("usage_distribution")
def usage_distribution(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Clients active in the range, by active days, sessions and runtime hours within it."""
    scope = Scope.of(call)
    start, stop = _window(body)
    windows = [
        usage(client, scope.today).totals(start, stop) for client in scope.clients(body.get("globalFilters"))
    ]
    used = [w for w in windows if w.days]
    values: Mapping[str, Iterable[float]] = {
        "activeDays": (w.days for w in used),
        "sessions": (w.sessions for w in used),
        "runtime": (w.minutes / 60 for w in used),
    }
    return {"result": {metric: USAGE_BINS[metric].histogram(values[metric]) for metric in USAGE_BINS}}


_CHURN_VALUES: Mapping[str, Callable[[Client, dt.date], int]] = {
    "sessions": lambda client, today: client.lifetime_session_count,
    "runtime": lambda client, today: client.lifetime_runtime_minutes,
    "days": lambda client, today: (client.last_seen(today) - client.date_installed).days + 1,
}


def churn_histogram(call: Call, body: Mapping[str, Any], metric: str) -> dict[str, Any]:
    """Installations reported lost within the range, by their lifetime sessions, runtime or days."""
    scope = Scope.of(call)
    start, stop = _window(body)
    rule = LostRule.of(body)
    value = _CHURN_VALUES[metric]
    lost = [
        value(client, scope.today)
        for client in scope.clients(body.get("globalFilters"))
        if start <= (rule.reported_on(client, scope.today) or dt.date.min) <= stop
    ]
    return {"status": "OK", "results": CHURN_BINS[metric].histogram(lost)}


for _metric in _CHURN_VALUES:
    report(f"churn_histogram_{_metric}")(functools.partial(churn_histogram, metric=_metric))


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Tracked:
    """A requested event or combination: the catalogue events it counts, and how answers name it."""

    identity: dict[str, str]
    members: tuple[int, ...]


def _part_matches(kind: str, wanted: str, actual: str) -> bool:
    return actual == wanted if kind == "string" else compile_regex(wanted).search(actual) is not None


def _member(match: Mapping[str, str], event: EventType) -> bool:
    return _part_matches(match["categoryType"], match["category"], event.category) and _part_matches(
        match["nameType"], match["name"], event.name
    )


def _tracked(event: Mapping[str, Any], allowed: Sequence[int]) -> Tracked:
    if "combiArray" in event:
        members = tuple(i for i in allowed if any(_member(m, EVENTS[i]) for m in event["combiArray"]))
        return Tracked({"combiLabel": event["combiLabel"]}, members)
    wanted = (event["category"], event["name"])
    members = tuple(i for i in allowed if (EVENTS[i].category, EVENTS[i].name) == wanted)
    return Tracked({"category": event["category"], "name": event["name"]}, members)


def tracked_events(events: Sequence[Mapping[str, Any]] | None, allowed: Sequence[int]) -> list[Tracked]:
    """The requested events; ``None`` means every allowed catalogue event."""
    if events is None:
        return [Tracked({"category": EVENTS[i].category, "name": EVENTS[i].name}, (i,)) for i in allowed]
    return [_tracked(event, allowed) for event in events]


@dataclass(frozen=True)
class EventUse:
    """One client's count of each tracked event."""

    client: Client
    counts: tuple[int, ...]


def _rates(client: Client, tracked: Sequence[Tracked]) -> list[int]:
    rates = event_rates(client)
    return [sum(rates[i] for i in t.members) for t in tracked]


def event_uses(
    scope: Scope, body: Mapping[str, Any], tracked: Sequence[Tracked], *, lifetime: bool
) -> list[EventUse]:
    """Counts of the clients active in the range: within it, or (``lifetime``) since installation."""
    start, stop = _window(body)
    uses = []
    for client in scope.clients(body.get("globalFilters")):
        daily = usage(client, scope.today)
        if not daily.totals(start, stop).days:
            continue
        sessions = daily.totals(client.date_installed if lifetime else start, stop).sessions
        uses.append(EventUse(client, tuple(sessions * rate for rate in _rates(client, tracked))))
    return uses


def _metrics(counts: Sequence[int], clients: int) -> dict[str, Any]:
    users = sum(1 for count in counts if count)
    total = sum(counts)
    return {
        "eventCounts": total,
        "uniqueUsersUsedAtLeastOnce": users,
        "percentUsedAtLeastOnce": _percent(users, clients),
        "averageCountPerUser": round(total / users, 2) if users else 0,
    }


def _segment_groups(
    scope: Scope, body: Mapping[str, Any], uses: Sequence[EventUse]
) -> dict[str, list[EventUse]] | None:
    """``segmentBy``/``segments``: the clients of each segment (every value when no segments are given)."""
    prop = body.get("segmentBy")
    if prop is None:
        return None
    entries = body.get("segments")
    by = level(prop, entries, "segmentBy") if entries else split_everything(prop, "segmentBy")
    by = by.limited(scope.reader.value(use.client, prop) for use in uses)
    groups: dict[str, list[EventUse]] = {}
    for use in uses:
        for key in by.keys(scope.reader.value(use.client, prop)):
            groups.setdefault(key, []).append(use)
    return groups


def _segment_rows(groups: Mapping[str, Sequence[EventUse]], at: int) -> list[dict[str, Any]]:
    return [
        {"segment": key, "active": len(group), **_metrics([use.counts[at] for use in group], len(group))}
        for key, group in sorted(groups.items())
    ]


def _event_rows(
    tracked: Sequence[Tracked], uses: Sequence[EventUse], groups: Mapping[str, Sequence[EventUse]] | None
) -> list[dict[str, Any]]:
    rows = []
    for at, event in enumerate(tracked):
        row = {**event.identity, **_metrics([use.counts[at] for use in uses], len(uses))}
        if groups is not None:
            row["segments"] = _segment_rows(groups, at)
        rows.append(row)
    return rows


def _row_name(row: Mapping[str, Any]) -> tuple[str, str]:
    return row.get("category", ""), row.get("name") or row["combiLabel"]


_EVENT_ORDER: Mapping[str, Callable[[Mapping[str, Any]], Any]] = {
    "alpha": _row_name,
    "eventCounts": itemgetter("eventCounts"),
    "uniqueUsersUsedAtLeastOnce": itemgetter("uniqueUsersUsedAtLeastOnce"),
}


def _sort_segments(rows: list[dict[str, Any]], sorting: Mapping[str, str]) -> None:
    key = sorting.get("segments", "alpha")
    for row in rows:
        row.get("segments", []).sort(
            key=itemgetter("segment" if key == "alpha" else key),
            reverse=sorting.get("segmentsDirection") == "desc",
        )


def _sort_rows(
    rows: list[dict[str, Any]], sorting: Mapping[str, str], categorize: bool
) -> list[dict[str, Any]]:
    """Events by ``sorting`` (ties by name); categorized, each category follows its best-placed event."""
    rows = sorted(rows, key=_row_name)
    rows.sort(
        key=_EVENT_ORDER[sorting.get("events", "alpha")], reverse=sorting.get("eventsDirection") == "desc"
    )
    _sort_segments(rows, sorting)
    if categorize:
        first_seen = list(dict.fromkeys(row.get("category", "") for row in rows))
        rows.sort(key=lambda row: first_seen.index(row.get("category", "")))
    return rows


@report("lifetime_event_data_table")
def lifetime_event_data_table(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """One page of event rows, counted since installation, optionally segmented."""
    scope = Scope.of(call)
    tracked = tracked_events(body.get("events"), range(len(EVENTS)))
    uses = event_uses(scope, body, tracked, lifetime=True)
    rows = _event_rows(tracked, uses, _segment_groups(scope, body, uses))
    rows = _sort_rows(rows, body.get("sorting") or {}, body.get("categorizeEvents", False))
    paging = body.get("paging") or {}
    start = paging.get("startAt", 0)
    page = rows[start : start + page_size(call, paging.get("maxResults", DATA_TABLE_PAGE))]
    return {"returnedEventsCount": len(page), "matchingEventsCount": len(rows), "result": page}


@report("basic_event_data_table")
def basic_event_data_table(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Every catalogue event, counted within the range."""
    scope = Scope.of(call)
    tracked = tracked_events(None, range(len(EVENTS)))
    rows = _event_rows(tracked, event_uses(scope, body, tracked, lifetime=False), None)
    return {"result": sorted(rows, key=_row_name)}


def _advanced_only(events: Sequence[Mapping[str, Any]] | None, advanced: Sequence[int]) -> None:
    names = {(EVENTS[i].category, EVENTS[i].name) for i in advanced}
    for at, event in enumerate(events or []):
        if "combiArray" not in event and (event["category"], event["name"]) not in names:
            reason = (
                f"events[{at}]: {event['category']} / {event['name']} is not selected for advanced tracking"
            )
            raise ApiError(422, reason)


@report("advanced_events")
def advanced_events(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Events selected for advanced tracking, with how often their users performed them."""
    scope = Scope.of(call)
    advanced = [i for i, event in enumerate(EVENTS) if event.advanced]
    _advanced_only(body.get("events"), advanced)
    tracked = tracked_events(body.get("events"), advanced)
    uses = event_uses(scope, body, tracked, lifetime=False)
    groups = _segment_groups(scope, body, uses)
    detailed = []
    for at, event in enumerate(tracked):
        counts = [use.counts[at] for use in uses]
        entry: dict[str, Any] = {**event.identity, "data": _advanced_data(counts, len(uses))}
        if groups is not None:
            entry["segments"] = [
                {"segment": key, "data": _advanced_data([use.counts[at] for use in group], len(group))}
                for key, group in sorted(groups.items())
            ]
        detailed.append(entry)
    return {"result": {"detailedReport": detailed}}


def _advanced_data(counts: Sequence[int], clients: int) -> dict[str, Any]:
    used = [count for count in counts if count]
    return {**_metrics(counts, clients), "usageFrequency": USAGE_FREQUENCY.histogram(used)}


def _lifetime_bins(body: Mapping[str, Any]) -> dict[str, Bins]:
    """Default bins, replaced per metric by ``binUpperBounds`` or ``lowerBounds``."""
    bins = dict(LIFETIME_BINS)
    for key, from_lower in (("lowerBounds", True), ("binUpperBounds", False)):
        for metric, bounds in (body.get(key) or {}).items():
            if bounds:
                bins[metric] = Bins(tuple(sorted(bounds)), LIFETIME_BINS[metric].step, from_lower=from_lower)
    return bins


@report("lifetime_event_histogram")
def lifetime_event_histogram(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """For clients active in the range: lifetime counts, and averages per active day, week and month.

    Seed 000 (lines 439-442) shows ``result`` as an object; the seed does not name its keys, and
    the emulator lists the requested events under ``events``, in the request's order.
    """
    scope = Scope.of(call)
    start, stop = _window(body)
    tracked = tracked_events(body["events"], range(len(EVENTS)))
    samples: list[list[tuple[float, ...]]] = [[] for _ in tracked]
    clients = 0
    for client in scope.clients(body.get("globalFilters")):
        daily = usage(client, scope.today)
        if not daily.totals(start, stop).days:
            continue
        clients += 1
        sessions = daily.totals(client.date_installed, stop).sessions
        periods = daily.periods(client.date_installed, stop)
        for at, rate in enumerate(_rates(client, tracked)):
            if rate:
                count = sessions * rate
                samples[at].append((count, *(count / period for period in periods)))
    bins = _lifetime_bins(body)
    entries = [
        {
            **event.identity,
            "usersUsedAtLeastOnce": len(values),
            **{
                metric: bins[metric].histogram(v[k] for v in values)
                for k, metric in enumerate(HISTOGRAM_METRICS)
            },
        }
        for event, values in zip(tracked, samples, strict=True)
    ]
    summary = {"totalClients": clients, "startDate": body["startDate"], "stopDate": body["stopDate"]}
    return {"summary": summary, "result": {"events": entries}}


@dataclass
class TimelineBucket:
    users: int = 0
    sessions: int = 0
    minutes: int = 0
    counts: list[int] = field(default_factory=list)
    values: list[int] = field(default_factory=list)


def _worth(client: Client, tracked: Sequence[Tracked]) -> list[int]:
    """Summed custom values per session of each tracked event."""
    rates, values = event_rates(client), event_values(client)
    return [sum(rates[i] * values[i] for i in t.members) for t in tracked]


def _divide(value: int, divisor: str | None, bucket: TimelineBucket, count: int) -> int | float:
    if divisor is None:
        return value
    base = {
        "users": bucket.users,
        "sessions": bucket.sessions,
        "runtime": bucket.minutes / 60,
        "usageCounts": count,
    }
    return round(value / base[divisor], 4) if base[divisor] else 0


def _timeline_buckets(
    scope: Scope, body: Mapping[str, Any], buckets: Buckets, tracked: Sequence[Tracked]
) -> list[TimelineBucket]:
    found = [TimelineBucket(counts=[0] * len(tracked), values=[0] * len(tracked)) for _ in buckets.labels]
    for client in scope.clients(body.get("globalFilters")):
        daily = usage(client, scope.today)
        rates = _rates(client, tracked)
        worth = _worth(client, tracked)
        seen: set[int] = set()
        for i in daily.span(buckets.start, buckets.stop):
            at_bucket = buckets.by_offset[daily.days[i] - buckets.start.toordinal()]
            bucket = found[at_bucket]
            bucket.users += at_bucket not in seen
            seen.add(at_bucket)
            bucket.sessions += daily.sessions[i]
            bucket.minutes += daily.minutes[i]
            for at in range(len(tracked)):
                bucket.counts[at] += rates[at] * daily.sessions[i]
                bucket.values[at] += worth[at] * daily.sessions[i]
    return found


@report("basic_event_timeline")
def basic_event_timeline(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Per period: usage counts or summed custom values of each event, optionally divided."""
    scope = Scope.of(call)
    start, stop = _window(body)
    buckets = Buckets.of(start, stop, body.get("dateSplit"))
    tracked = tracked_events(body["events"], range(len(EVENTS)))
    custom = body.get("dataView") == "customValues"
    divisor = body.get("divisor")
    result = {}
    for label, bucket in zip(buckets.labels, _timeline_buckets(scope, body, buckets, tracked), strict=True):
        result[label] = [
            {
                **event.identity,
                "value": _divide(
                    bucket.values[at] if custom else bucket.counts[at], divisor, bucket, bucket.counts[at]
                ),
            }
            for at, event in enumerate(tracked)
        ]
    return {"result": result}


_SHOWN: Mapping[str, Callable[[EventType], bool]] = {
    "all": lambda event: True,
    "basic": lambda event: True,
    "advanced": attrgetter("advanced"),
}


def _first_seen(call: Call, event: EventType) -> str:
    """The day the product first reported the event: within the first week of the history."""
    offset = int(stable_unit(call.context.config.seed, call.pid, event.category, event.name) * 7)
    return (call.context.dataset.history_start + dt.timedelta(days=offset)).isoformat()


def _name_entry(call: Call, event: EventType) -> dict[str, Any]:
    """reveneraR reads ``eventName``, ``basic``, ``advanced`` and ``dateFirstSeen`` of each event."""
    return {
        "eventName": event.name,
        "basic": True,
        "advanced": event.advanced,
        "dateFirstSeen": _first_seen(call, event),
    }


@report("event_names")
def event_names(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """``result[]`` of ``{category, categoryEventNames[]}``; with ``flat`` one entry per event.

    Every catalogue event is collected (``basic``); some are also selected for advanced tracking.
    """
    shows = body.get("showEvents", "all")
    wanted = [shows] if isinstance(shows, str) else shows
    chosen = [event for event in EVENTS if any(_SHOWN[show](event) for show in wanted)]
    if body.get("flat", False):
        return {"result": [{"category": event.category, **_name_entry(call, event)} for event in chosen]}
    categories: dict[str, list[dict[str, Any]]] = {}
    for event in chosen:
        categories.setdefault(event.category, []).append(_name_entry(call, event))
    return {
        "result": [
            {"category": category, "categoryEventNames": names} for category, names in categories.items()
        ]
    }


# --------------------------------------------------------------------------- properties and clients


def _value_property(prop: str, granularity: str | None) -> str:
    """``os`` + ``edition`` -> ``os.edition``; a special property alone lists its broadest part."""
    if granularity is not None:
        return f"{prop}.{granularity}"
    return f"{prop}.{GRANULARITIES[prop][0]}" if prop in GRANULARITIES else prop


def _number_order(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ApiError(400, f"startAfter: {value!r} is not a number") from None


@report("property_values")
def property_values(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """Distinct values in the population, in order, one page after ``startAfter`` (empty at the end)."""
    scope = Scope.of(call)
    name = _value_property(body["property"], body.get("granularity"))
    require_known([name], "property")
    order: Callable[[str], Any] = _number_order if name in NUMERIC_PROPERTIES else str
    found = {text(scope.reader.value(client, name)) for client in scope.population}
    values = sorted((value for value in found if value is not None), key=order)
    after = body.get("startAfter")
    if after is not None:
        values = values[bisect_right([order(v) for v in values], order(after)) :]
    return {"result": values[: page_size(call, PROPERTY_VALUES_PAGE)]}


DEFAULT_PROPERTIES: tuple[str, ...] = tuple(
    spec.name for spec in PRODUCT_PROPERTIES if spec.kind != "special" and spec.name != "clientId"
)
#: ``retDailyData`` without dates (seed 000 line 1042 sends ``{}``): the last complete days before today.
DEFAULT_DAILY_DAYS = 7
#: per-day figures ``retDailyData`` can ask for beside client properties.
DAILY_METRICS: Mapping[str, Callable[[Usage, int], int]] = {
    "sessionCount": lambda daily, at: daily.sessions[at],
    "runtimeMinutes": lambda daily, at: daily.minutes[at],
}


def _daily_window(scope: Scope, daily: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """The dates asked for, else the last :data:`DEFAULT_DAILY_DAYS` complete days."""
    if "startDate" in daily:
        return _window(daily)
    return scope.today - dt.timedelta(days=DEFAULT_DAILY_DAYS), scope.yesterday


@dataclass(frozen=True)
class ClientRows:
    """How clientPropertyList renders one client: its properties, and its active days when asked."""

    scope: Scope
    properties: Sequence[str]
    #: ``retDailyData``: the days to list, and what each day shows.
    days: tuple[dt.date, dt.date] | None = None
    daily_properties: Sequence[str] = ()

    @classmethod
    def of(cls, scope: Scope, body: Mapping[str, Any]) -> ClientRows:
        """Rows for a clientPropertyList body; unknown properties are refused (422).

        Without ``properties`` a row lists every plain property, unless ``retDailyData`` is
        asked for: then a row is ``clientId`` and ``dailyData`` only (as reveneraR reads it).
        ``retDailyData`` without dates covers the :data:`DEFAULT_DAILY_DAYS` days before today,
        and without ``properties`` each day shows its ``date`` only.
        """
        daily = body.get("retDailyData")
        properties = body.get("properties") or (DEFAULT_PROPERTIES if daily is None else ())
        require_known([p for p in properties if p != "clientId"], "properties")
        if daily is None:
            return cls(scope, properties)
        daily_properties = daily.get("properties") or ()
        require_known([p for p in daily_properties if p not in DAILY_METRICS], "retDailyData.properties")
        return cls(scope, properties, _daily_window(scope, daily), daily_properties)

    def _value(self, client: Client, prop: str) -> str:
        """Every value as a string; a missing one as ``"<NULL>"`` (what reveneraR reads)."""
        found = text(self.scope.reader.value(client, prop))
        return NULL if found is None else found

    def row(self, client: Client) -> dict[str, Any]:
        row: dict[str, Any] = {"clientId": client.client_id}
        row.update((prop, self._value(client, prop)) for prop in self.properties if prop != "clientId")
        if self.days is not None:
            row["dailyData"] = self._daily_rows(client, *self.days)
        return row

    def _daily_rows(self, client: Client, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        daily = usage(client, self.scope.today)
        rows = []
        for at in daily.span(first, last):
            day: dict[str, Any] = {"date": dt.date.fromordinal(daily.days[at]).isoformat()}
            for prop in self.daily_properties:
                metric = DAILY_METRICS.get(prop)
                day[prop] = str(metric(daily, at)) if metric else self._value(client, prop)
            rows.append(day)
        return rows


@report("client_property_list")
def client_property_list(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """One page of clients in clientId order from ``startAtClientId``; a page costs its own size."""
    scope = Scope.of(call)
    rows = ClientRows.of(scope, body)
    keep = client_filter(body.get("globalFilters"), scope.reader)
    population = scope.population
    start = body.get("startAtClientId")
    first = population.index_from(start) if start else 0
    matching = (population.client(i) for i in range(first, population.size) if keep(population.client(i)))
    page = [rows.row(client) for client in itertools.islice(matching, call.context.config.client_page_size)]
    following = next(matching, None)
    if following is None:
        return {"result": page, "reachedEnd": True}
    return {"result": page, "nextClientId": following.client_id, "reachedEnd": False}


@report("client_property_list_export")
def client_property_list_export(call: Call, body: Any) -> dict[str, Any]:
    """Accept an export of every client. Seed 000 gives the body as ``*/*`` text: anything goes.

    The emulator queues nothing; it answers as a server that accepted the job.
    """
    return {"status": "OK", "exportId": uuid.uuid4().hex}


# --------------------------------------------------------------------------- license key registry

_REGISTRY_LOCK = threading.Lock()


def _registry(call: Call) -> LicenseKeyRegistry:
    """One registry per server, kept on the application for its whole life."""
    state = call.request.app.state
    with _REGISTRY_LOCK:
        registry = getattr(state, "license_keys", None)
        if registry is None:
            registry = state.license_keys = LicenseKeyRegistry(call.context.dataset)
    return registry


def _batch(body: Any) -> list[Mapping[str, Any]]:
    return body if isinstance(body, list) else [body]


@report("license_keys_search")
def license_keys_search(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    paging = body.get("paging") or {}
    matching, page = _registry(call).search(
        call.pid,
        body.get("filters") or {},
        body.get("sorting") or {},
        paging.get("startAt", 0),
        page_size(call, paging.get("maxResults", LICENSE_KEYS_PAGE)),
    )
    return {"matchingKeysCount": matching, "returnedKeysCount": len(page), "results": page}


def license_keys_write(call: Call, body: Any) -> dict[str, Any]:
    """Seed 000: "A single batch can contain both new and existing keys to be inserted or updated
    accordingly" -- POST and PATCH alike."""
    stored = _registry(call).upsert(call.pid, _batch(body), call.context.clock.today)
    return {"status": "OK", "results": stored}


report("license_keys_insert")(license_keys_write)
report("license_keys_update")(license_keys_write)
