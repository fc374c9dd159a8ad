"""Reports computed by the emulator, checked against the population they are computed from."""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from unittest import mock

import pytest

from airflow_provider_usageintel.api.endpoints import BY_NAME, REPORT_NAMES
from airflow_provider_usageintel.emulator import EmulatorServer
from airflow_provider_usageintel.emulator.population import EVENTS, Population
from airflow_provider_usageintel.emulator.pytest_plugin import DEFAULT_TEST_TODAY, make_config
from tests.test_validation import VALID

PID = "1234567890"
TODAY = DEFAULT_TEST_TODAY
START, STOP = dt.date(2024, 1, 15), dt.date(2024, 3, 10)
WINDOW = {"startDate": START.isoformat(), "stopDate": STOP.isoformat()}
EVERYONE = {"startDate": "2023-01-01", "clientStatus": ["new"]}

#: the keys each answer must carry (seed 000 and api-facts).
DOCUMENTED_KEYS: dict[str, set[str]] = {
    **{name: {"result"} for name in REPORT_NAMES},
    "lifetime_event_histogram": {"summary", "result"},
    "lifetime_event_data_table": {"returnedEventsCount", "matchingEventsCount", "result"},
    **{f"churn_histogram_{m}": {"status", "results"} for m in ("sessions", "runtime", "days")},
    "license_keys_search": {"matchingKeysCount", "returnedKeysCount", "results"},
    "license_keys_update": {"status", "results"},
    "license_keys_insert": {"status", "results"},
    "custom_events_last_lines": {"fieldNames", "result"},
    "exceptions_last_lines": {"fieldNames", "result"},
    "client_property_list": {"result", "nextClientId", "reachedEnd"},
    "client_property_list_export": {"status", "exportId"},
}


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(make_config()) as running:
        yield running


@pytest.fixture(scope="module")
def session(server):
    return server.login_session()


@pytest.fixture(scope="module")
def clients(server):
    return server.context.dataset.clients(PID)


def call(server, session, name, body=None):
    """One call on the endpoint's own path; seed 001's churn paths take the product in the body."""
    ep = BY_NAME[name]
    url = server.url + ep.url_path(PID)
    if ep.product_id_in_body and isinstance(body, dict):
        body = {"productId": int(PID), **body}
    if ep.method == "GET":
        return session.get(url, params=body, timeout=30)
    return session.request(ep.method, url, json=body, timeout=30)


def ok(server, session, name, body=None):
    response = call(server, session, name, body)
    assert response.status_code == 200, response.text
    return response.json()


def days(first, last):
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def active_in(client, first, last):
    return any(client.is_active(day) for day in days(first, last))


# -- every sample, every refusal --------------------------------------------------------------


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_seed_sample_is_answered_with_its_documented_keys(server, session, name):
    body = copy.deepcopy(VALID[name])
    if name == "license_keys_update":  # the sample updates a key the registry must know
        ok(server, session, "license_keys_insert", {"licenseKey": body["licenseKey"]})
    if name == "event_names":
        body = {"flat": "true", "showEvents": "all"}
    answer = ok(server, session, name, body)
    assert set(answer) == DOCUMENTED_KEYS[name]


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        (
            "date_range",
            {"startDate": "2024-01-01", "dateSplit": "year"},
            "stopDate: required; dateSplit: 'year' is not one of day, week, month, null",
        ),
        (
            "lifetime_event_histogram",
            {**WINDOW, "events": [{"category": "Editing"}]},
            "events[0].name: required",
        ),
        ("client_property_list", {"properties": "prodVersion"}, "properties: expected an array, got string"),
        ("current", {"startDate": "2024-01-01", "shoeSize": 42}, "shoeSize: unknown field"),
        (
            "license_keys_insert",
            [{"installQuota": -1}],
            "[0].installQuota: -1 is out of range (at least 0)",
        ),
    ],
)
def test_invalid_bodies_get_the_emulators_own_problems(server, session, name, body, reason):
    response = call(server, session, name, body)
    assert response.status_code == 400
    assert response.json() == {"status": "SYNTAX ERROR", "reason": reason}


def test_churn_errors_come_in_the_body_of_a_200_answer(server, session):
    """Seed 001 lines 24-25: status SYNTAX ERROR or AUTH ERROR, and the reason."""
    response = call(
        server, session, "churn_histogram_days", {"startDate": "2024-01-01", "stopDate": "2023-01-01"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "SYNTAX ERROR",
        "reason": "stopDate: 2023-01-01 is before startDate 2024-01-01",
    }


def test_the_emulator_does_not_ask_the_clients_validator():
    """The server's rules are its own reading of the seeds: no import of the client's validator."""
    import pathlib
    import re

    from airflow_provider_usageintel import emulator

    imports = re.compile(
        r"^\s*(from|import) airflow_provider_usageintel\.api(\.validation| import validation)", re.M
    )
    sources = pathlib.Path(emulator.__file__).parent.glob("*.py")
    assert [p.name for p in sources if imports.search(p.read_text(encoding="utf-8"))] == []


def test_invalid_query_parameters_get_refused(server, session):
    response = call(server, session, "event_names", {"flat": "maybe"})
    assert response.status_code == 400
    assert response.json()["reason"] == "flat: expected true or false, got string"


SHOE = {"type": "string", "value": "42", "segmentLabel": "42"}


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("date_range", {**WINDOW, "levels": {"level1": {"property": "shoeSize", "segments": [SHOE]}}}),
        ("current", {**EVERYONE, "globalFilters": {"shoeSize": {"type": "string", "value": "42"}}}),
        ("lifetime_event_data_table", {**WINDOW, "segmentBy": "shoeSize"}),
        ("client_property_list", {"properties": ["prodVersion", "shoeSize"]}),
        ("property_values", {"property": "shoeSize"}),
    ],
)
def test_unknown_properties_are_unprocessable(server, session, name, body):
    response = call(server, session, name, body)
    assert response.status_code == 422
    assert "unknown property 'shoeSize'" in response.json()["reason"]


# -- generic reports --------------------------------------------------------------------------


FILTERS = [
    (
        {"prodEdition": {"type": "string", "value": "Professional"}},
        lambda c: c.prod_edition == "Professional",
    ),
    (
        {"licenseType": {"type": "stringArray", "value": ["trial", "freeware"]}},
        lambda c: c.license_type in ("trial", "freeware"),
    ),
    ({"prodVersion": {"type": "regex", "value": r"^4\.1"}}, lambda c: c.prod_version.startswith("4.1")),
    ({"ram": {"type": "number", "value": 8192}}, lambda c: c.ram == 8192),
    ({"cpuCores": {"type": "numberRange", "min": 6, "max": 12}}, lambda c: 6 <= c.cpu_cores <= 12),
    (
        {"dateInstalled": {"type": "dateRange", "min": "2024-01-01"}},
        lambda c: c.date_installed >= dt.date(2024, 1, 1),
    ),
    (
        {"os": {"type": "string", "version": "Microsoft Windows 10", "edition": "macOS 14 Sonoma"}},
        lambda c: c.os_version == "Microsoft Windows 10" or c.os_edition == "macOS 14 Sonoma",
    ),
    (
        {"geography": {"type": "stringArray", "continent": ["EU"], "usState": ["US-NY"]}},
        lambda c: c.continent == "EU" or c.us_state == "US-NY",
    ),
    ({"gpu": {"type": "string", "vendor": "AMD"}}, lambda c: c.gpu_vendor == "AMD"),
    (
        {"licenseStatus": [{"activated": True, "whitelisted": False}, {"expired": True}]},
        lambda c: (c.license_activated and not c.license_allowed) or c.license_expired,
    ),
    (
        {"optOut": [{"historical": True, "current": False}]},
        lambda c: c.opt_out_historical and not c.opt_out_current,
    ),
    ({"C01": {"type": "string", "value": "team"}}, lambda c: c.custom[0] == "team"),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS, ids=[next(iter(f)) for f, _ in FILTERS])
def test_global_filters_select_exactly_the_matching_clients(server, session, clients, filters, expected):
    answer = ok(server, session, "current", {**EVERYONE, "globalFilters": filters})
    matching = sum(1 for client in clients if expected(client))
    assert 0 < matching < len(clients), "the filter must really select"
    assert answer["result"] == {"new": matching}


def test_an_unset_custom_property_matches_nobody(server, session):
    answer = ok(
        server, session, "current", {**EVERYONE, "globalFilters": {"C07": {"type": "regex", "value": ""}}}
    )
    assert answer["result"] == {"new": 0}


def test_date_range_by_week_counts_new_active_and_lost_clients(server, session, clients):
    body = {
        **WINDOW,
        "dateSplit": "week",
        "clientStatus": ["new", "active", "lost"],
        "daysUntilDeclaredLost": 14,
        "dateReportedLost": "dateLastSeen",
    }
    result = ok(server, session, "date_range", body)["result"]
    labels = [dt.date.fromisoformat(label) for label in result]
    assert all(label.weekday() == 0 for label in labels) and labels == sorted(labels)
    for label, counts in result.items():
        first = max(dt.date.fromisoformat(label), START)
        last = min(first + dt.timedelta(days=6 - first.weekday()), STOP)
        lost_on = [c.last_seen(TODAY) for c in clients if c.last_seen(TODAY) + dt.timedelta(days=14) < TODAY]
        assert counts == {
            "new": sum(1 for c in clients if first <= c.date_installed <= last),
            "active": sum(1 for c in clients if active_in(c, first, last)),
            "lost": sum(1 for day in lost_on if first <= day <= last),
        }
    assert sum(counts["lost"] for counts in result.values()) > 0


def test_date_split_buckets_add_up_to_the_range(server, session):
    body = {**WINDOW, "clientStatus": ["new"]}
    whole = ok(server, session, "date_range", body)["result"]
    by_month = ok(server, session, "date_range", {**body, "dateSplit": "month"})["result"]
    assert list(by_month) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert sum(counts["new"] for counts in by_month.values()) == whole["new"] > 0


def test_levels_split_by_edition_and_segment_by_platform(server, session, clients):
    windows = {"type": "regex", "value": "^Microsoft", "segmentLabel": "Windows"}
    other = {"type": "regex", "value": "^(?!Microsoft)", "segmentLabel": "Other"}
    levels = {
        "level1": {"property": "prodEdition", "segments": [{"type": "regex", "value": ".*", "split": True}]},
        "level2": {"property": "os.platform", "segments": [windows, other]},
    }
    body = {**EVERYONE, "clientStatus": ["new", "active"]}
    total = ok(server, session, "current", body)["result"]
    tree = ok(server, session, "current", {**body, "levels": levels})["result"]["level1"]
    assert set(tree) == {c.prod_edition for c in clients}
    assert sum(node["totals"]["new"] for node in tree.values()) == total["new"] == len(clients)
    for edition, node in tree.items():
        assert list(node["level2"]) == ["Windows", "Other"]
        windows_count = sum(
            1 for c in clients if c.prod_edition == edition and c.os_platform == "Microsoft Windows"
        )
        assert node["level2"]["Windows"]["totals"]["new"] == windows_count
        assert sum(child["totals"]["new"] for child in node["level2"].values()) == node["totals"]["new"]


def test_percent_of_active_segments_share_one_hundred(server, session):
    levels = {
        "level1": {"property": "licenseType", "segments": [{"type": "regex", "value": "", "split": True}]}
    }
    body = {**WINDOW, "clientStatus": ["active"], "levels": levels, "resultMode": "percentOfActive"}
    tree = ok(server, session, "date_range", body)["result"]["level1"]
    assert sum(node["totals"]["active"] for node in tree.values()) == pytest.approx(100, abs=0.05)


def test_a_split_limit_keeps_the_most_frequent_values(server, session, clients):
    split = {"type": "regex", "value": ".*", "split": True, "limit": 2}
    body = {**EVERYONE, "levels": {"level1": {"property": "geography.country", "segments": [split]}}}
    tree = ok(server, session, "current", body)["result"]["level1"]
    top = Counter(c.country for c in clients).most_common(2)
    assert {country: node["totals"]["new"] for country, node in tree.items()} == dict(top)


# -- engagement and churn ---------------------------------------------------------------------


def test_usage_distribution_counts_each_client_active_in_the_range(server, session, clients):
    result = ok(server, session, "usage_distribution", WINDOW)["result"]
    active = sum(1 for client in clients if active_in(client, START, STOP))
    assert set(result) == {"activeDays", "sessions", "runtime"}
    assert all(sum(histogram.values()) == active for histogram in result.values())
    labels = list(result["activeDays"])
    assert labels[0] == "≤ 1" and labels[-1] == "≥ 91"


@pytest.mark.parametrize("metric", ["sessions", "runtime", "days"])
def test_churn_histograms_bin_the_clients_lost_in_the_range(server, session, clients, metric):
    body = {"startDate": "2023-10-01", "stopDate": "2024-03-14", "daysUntilDeclaredLost": 7}
    result = ok(server, session, f"churn_histogram_{metric}", body)["results"]
    start, stop = dt.date(2023, 10, 1), dt.date(2024, 3, 14)
    lost = [
        c
        for c in clients
        if c.last_seen(TODAY) + dt.timedelta(days=7) < TODAY and start <= c.last_seen(TODAY) <= stop
    ]
    assert sum(result.values()) == len(lost) > 0
    if metric == "days":
        lifetimes = Counter(min((c.last_seen(TODAY) - c.date_installed).days + 1, 181) for c in lost)
        assert result["≤ 1"] == lifetimes[1] and result["≥ 181"] == lifetimes[181]


def test_a_client_is_lost_once_its_inactive_days_are_over(server, session, clients):
    """Seen last on day L and lost after D days: declared on L + D, so counted only from L + D + 1 on."""
    last = max(c.last_seen(TODAY) for c in clients if c.last_seen(TODAY) < TODAY - dt.timedelta(days=5))
    on_last = sum(1 for c in clients if c.last_seen(TODAY) == last)
    body = {"startDate": "2023-01-01", "stopDate": "2024-03-14"}
    declared_today = (TODAY - last).days

    def lost(days_until_declared):
        result = ok(
            server, session, "churn_histogram_days", {**body, "daysUntilDeclaredLost": days_until_declared}
        )
        return sum(result["results"].values())

    assert lost(declared_today - 1) - lost(declared_today) == on_last > 0


def test_runtime_bins_are_those_of_seed_001(server, session):
    body = {"startDate": "2023-10-01", "stopDate": "2024-03-14", "daysUntilDeclaredLost": 30}
    labels = list(ok(server, session, "churn_histogram_runtime", body)["results"])
    assert len(labels) == 42
    assert labels[:3] == ["≤ 0:50", "0:51 - 1:00", "1:01 - 1:15"]
    assert labels[8:10] == ["2:31 - 2:44", "2:45 - 3:00"]
    assert labels[-3:] == ["33:01 - 36:00", "36:01 - 39:00", "≥ 39:01"]


# -- events -----------------------------------------------------------------------------------


ALL_EVENTS = [{"category": e.category, "name": e.name} for e in EVENTS]


def test_timeline_days_add_up_to_the_basic_data_table(server, session):
    table = ok(server, session, "basic_event_data_table", WINDOW)["result"]
    timeline = ok(
        server,
        session,
        "basic_event_timeline",
        {**WINDOW, "dateSplit": "day", "dataView": "usageCounts", "divisor": None, "events": ALL_EVENTS},
    )["result"]
    assert len(timeline) == (STOP - START).days + 1
    totals = Counter()
    for entries in timeline.values():
        for entry in entries:
            totals[entry["category"], entry["name"]] += entry["value"]
    assert {(row["category"], row["name"]): row["eventCounts"] for row in table} == dict(totals)
    assert all(row["eventCounts"] > 0 for row in table)


def test_timeline_divisors_and_custom_values(server, session):
    events = [{"category": "File Operations", "name": "Print"}, {"category": "Editing", "name": "Undo"}]
    body = {**WINDOW, "dateSplit": "month", "events": events}
    per_use = ok(
        server,
        session,
        "basic_event_timeline",
        {**body, "dataView": "customValues", "divisor": "usageCounts"},
    )
    for entries in per_use["result"].values():
        printed, undone = entries
        assert 1 <= printed["value"] <= 40, "Print carries a value between 1 and 40"
        assert undone["value"] == 0, "Undo carries no value"
    per_user = ok(server, session, "basic_event_timeline", {**body, "divisor": "users"})["result"]
    counts = ok(server, session, "basic_event_timeline", body)["result"]
    for label, entries in counts.items():
        assert 0 < per_user[label][0]["value"] < entries[0]["value"]


def test_advanced_report_agrees_with_the_basic_table_and_needs_advanced_events(server, session):
    table = {
        (r["category"], r["name"]): r for r in ok(server, session, "basic_event_data_table", WINDOW)["result"]
    }
    detailed = ok(server, session, "advanced_events", {**WINDOW, "events": None})["result"]["detailedReport"]
    assert [(d["category"], d["name"]) for d in detailed] == [
        (e.category, e.name) for e in EVENTS if e.advanced
    ]
    for entry in detailed:
        row = table[entry["category"], entry["name"]]
        assert entry["data"]["eventCounts"] == row["eventCounts"]
        assert sum(entry["data"]["usageFrequency"].values()) == row["uniqueUsersUsedAtLeastOnce"]
    refused = call(
        server, session, "advanced_events", {**WINDOW, "events": [{"category": "Editing", "name": "Undo"}]}
    )
    assert refused.status_code == 422
    assert "Editing / Undo is not selected for advanced tracking" in refused.json()["reason"]


def test_lifetime_data_table_pages_sorts_and_segments(server, session, clients):
    body = {
        **WINDOW,
        "events": None,
        "sorting": {"events": "eventCounts", "eventsDirection": "desc"},
        "segmentBy": "prodEdition",
    }
    pages = [
        ok(
            server,
            session,
            "lifetime_event_data_table",
            {**body, "paging": {"startAt": start, "maxResults": 4}},
        )
        for start in (0, 4, 8, 12)
    ]
    assert [p["returnedEventsCount"] for p in pages] == [4, 4, 4, 3]
    assert {p["matchingEventsCount"] for p in pages} == {len(EVENTS)}
    rows = [row for page in pages for row in page["result"]]
    assert len({(r["category"], r["name"]) for r in rows}) == len(EVENTS)
    counts = [row["eventCounts"] for row in rows]
    assert counts == sorted(counts, reverse=True)
    for row in rows:
        assert [s["segment"] for s in row["segments"]] == sorted({c.prod_edition for c in clients})
        assert sum(s["eventCounts"] for s in row["segments"]) == row["eventCounts"]


def test_categorized_data_table_keeps_categories_together(server, session):
    body = {**WINDOW, "categorizeEvents": True, "sorting": {"events": "uniqueUsersUsedAtLeastOnce"}}
    categories = [row["category"] for row in ok(server, session, "lifetime_event_data_table", body)["result"]]
    assert len(categories) == len(EVENTS)
    assert [c for i, c in enumerate(categories) if i == 0 or categories[i - 1] != c] == list(
        dict.fromkeys(categories)
    )


def test_lifetime_histograms_cover_the_users_of_each_event(server, session):
    open_and_save = {
        "combiLabel": "Open or Save",
        "combiArray": [
            {
                "categoryType": "string",
                "nameType": "regex",
                "category": "File Operations",
                "name": "^(Open|Save)$",
            }
        ],
    }
    body = {**WINDOW, "events": [{"category": "File Operations", "name": "Open"}, open_and_save]}
    answer = ok(server, session, "lifetime_event_histogram", body)
    opened, combined = answer["result"]["events"]
    assert (
        0
        < opened["usersUsedAtLeastOnce"]
        <= combined["usersUsedAtLeastOnce"]
        <= answer["summary"]["totalClients"]
    )
    for entry in (opened, combined):
        for metric in (
            "eventCount",
            "averageCountPerActiveDay",
            "averageCountPerActiveWeek",
            "averageCountPerActiveMonth",
        ):
            assert sum(entry[metric].values()) == entry["usersUsedAtLeastOnce"]
    custom = ok(
        server, session, "lifetime_event_histogram", {**body, "binUpperBounds": {"eventCount": [10, 100]}}
    )
    assert list(custom["result"]["events"][0]["eventCount"]) == ["≤ 10", "11 - 100", "≥ 101"]
    lower = ok(
        server,
        session,
        "lifetime_event_histogram",
        {**body, "lowerBounds": {"averageCountPerActiveDay": [1, 5]}},
    )
    assert list(lower["result"]["events"][0]["averageCountPerActiveDay"]) == ["1 - 5", "≥ 5"]


def test_event_names_flat_nested_and_by_list(server, session):
    flat = ok(server, session, "event_names", {"flat": "true"})["result"]
    assert [(e["category"], e["eventName"]) for e in flat] == [(e.category, e.name) for e in EVENTS]
    nested = ok(server, session, "event_names", {"flat": "false"})["result"]
    # api-facts (reveneraR): result[] of {category,
    # categoryEventNames[{eventName, basic, advanced, dateFirstSeen}]}
    assert all(set(group) == {"category", "categoryEventNames"} for group in nested)
    names = [name for group in nested for name in group["categoryEventNames"]]
    assert len(names) == len(EVENTS)
    assert all(set(name) == {"eventName", "basic", "advanced", "dateFirstSeen"} for name in names)
    assert all(name["basic"] is True and name["dateFirstSeen"] < TODAY.isoformat() for name in names)
    assert len({group["category"] for group in nested}) == len(nested)
    advanced = ok(server, session, "event_names", {"flat": "true", "showEvents": "advanced"})["result"]
    assert [e["eventName"] for e in advanced] == [e.name for e in EVENTS if e.advanced]


# -- properties and clients -------------------------------------------------------------------


def test_property_values_page_after_start_after(server, session, clients):
    pages, body = [], {"property": "clientId"}
    while True:
        values = ok(server, session, "property_values", body)["result"]
        pages.append(values)
        if not values:
            break
        body["startAfter"] = values[-1]
    assert [len(p) for p in pages] == [100, 100, 100, 0]
    assert [v for p in pages for v in p] == sorted(c.client_id for c in clients)
    editions = ok(server, session, "property_values", {"property": "os", "granularity": "edition"})["result"]
    assert editions == sorted({c.os_edition for c in clients})
    ram = ok(server, session, "property_values", {"property": "ram", "startAfter": "4096"})["result"]
    assert ram == [str(v) for v in sorted({c.ram for c in clients}) if v > 4096]


def test_client_property_list_pages_by_client_id(server, session, clients):
    ids = [c.client_id for c in clients]
    assert ids == sorted(ids), "the population comes in clientId order"
    first = ok(server, session, "client_property_list", {"properties": ["geography.usState"]})
    assert [row["clientId"] for row in first["result"]] == ids[:200]
    assert first["nextClientId"] == ids[200] and first["reachedEnd"] is False
    rest = ok(server, session, "client_property_list", {"startAtClientId": ids[200], "properties": []})
    assert [row["clientId"] for row in rest["result"]] == ids[200:]
    assert rest["reachedEnd"] is True and "nextClientId" not in rest
    between = ok(server, session, "client_property_list", {"startAtClientId": ids[250][:-1] + "0"})["result"]
    assert between[0]["clientId"] in (ids[249], ids[250])
    by_id = {c.client_id: c for c in clients}
    for row in first["result"]:
        assert row["geography.usState"] == (by_id[row["clientId"]].us_state or "<NULL>")
    assert {"US-NY", "<NULL>"} <= {row["geography.usState"] for row in first["result"]}


def test_client_property_list_filters_and_daily_data(server, session, clients):
    daily = {
        "startDate": "2024-03-01",
        "stopDate": "2024-03-14",
        "properties": ["prodVersion", "sessionCount"],
    }
    body = {
        "properties": ["prodEdition", "dateLastSeen"],
        "retDailyData": daily,
        "globalFilters": {"prodEdition": {"type": "string", "value": "Enterprise"}},
    }
    answer = ok(server, session, "client_property_list", body)
    expected = [c for c in clients if c.prod_edition == "Enterprise"]
    assert [row["clientId"] for row in answer["result"]] == [c.client_id for c in expected]
    assert answer["reachedEnd"] is True
    for client, row in zip(expected, answer["result"], strict=True):
        assert row["dateLastSeen"] == client.last_seen(TODAY).isoformat()
        active = [
            d.isoformat() for d in days(dt.date(2024, 3, 1), dt.date(2024, 3, 14)) if client.is_active(d)
        ]
        assert [day["date"] for day in row["dailyData"]] == active
        assert all(
            day["prodVersion"] == client.prod_version and day["sessionCount"] in ("1", "2", "3")
            for day in row["dailyData"]
        )


def test_a_page_deep_in_a_large_population_costs_its_own_size(usageintel_emulator_factory):
    big = usageintel_emulator_factory(clients_per_product=200_000)
    population = big.context.dataset.population(PID)
    start = population.client_id(199_950)
    with mock.patch.object(Population, "everyone", side_effect=AssertionError("built the whole population")):
        answer = ok(
            big,
            big.login_session(),
            "client_property_list",
            {"startAtClientId": start, "properties": ["ram"]},
        )
    ids = [row["clientId"] for row in answer["result"]]
    assert ids == [population.client_id(i) for i in range(199_950, 200_000)]
    assert answer["reachedEnd"] is True


# -- license key registry ---------------------------------------------------------------------


def test_license_keys_insert_search_and_update(server, session):
    inserted = ok(
        server,
        session,
        "license_keys_insert",
        [
            {"licenseKey": "emulator-test-key-1", "licenseType": "subscription", "installQuota": 3},
            {"notes": "generated"},
        ],
    )["results"]
    generated = inserted[1]["licenseKey"]
    assert inserted[0]["expiryDate"] == (TODAY + dt.timedelta(days=365)).isoformat()
    wanted = {"licenseKey": {"type": "stringArray", "value": ["emulator-test-key-1", generated]}}
    found = ok(server, session, "license_keys_search", {"filters": wanted})
    assert found["matchingKeysCount"] == found["returnedKeysCount"] == 2
    assert {r["licenseKey"] for r in found["results"]} == {"emulator-test-key-1", generated}
    update = {"licenseKey": generated, "notes": "renewed", "licenseStatus": {"blacklisted": True}}
    [updated] = ok(server, session, "license_keys_update", update)["results"]
    assert updated["notes"] == "renewed" and updated["licenseStatus"]["blocked"] is True
    assert updated["licenseStatus"]["activated"] is False, "flags not sent keep their value"
    again = ok(
        server,
        session,
        "license_keys_search",
        {"filters": {"licenseStatus": {"blocked": True}, "notes": "renewed"}},
    )
    assert [r["licenseKey"] for r in again["results"]] == [generated]


@pytest.mark.parametrize("name", ["license_keys_insert", "license_keys_update"])
def test_a_key_batch_inserts_new_keys_and_updates_known_ones(server, session, name):
    """Seed 000 lines 691 and 732: "A single batch can contain both new and existing keys to be
    inserted or updated accordingly" -- for POST and PATCH alike."""
    seeded = ok(server, session, "license_keys_search", {"paging": {"startAt": 0, "maxResults": 1}})[
        "results"
    ][0]
    fresh = f"fresh-key-{name}"
    answer = ok(
        server,
        session,
        name,
        [{"licenseKey": fresh, "notes": "new"}, {"licenseKey": seeded["licenseKey"], "notes": "known"}],
    )
    assert [(r["licenseKey"], r["notes"]) for r in answer["results"]] == [
        (fresh, "new"),
        (seeded["licenseKey"], "known"),
    ]
    wanted = {"licenseKey": {"type": "stringArray", "value": [fresh, seeded["licenseKey"]]}}
    found = {
        r["licenseKey"]: r for r in ok(server, session, "license_keys_search", {"filters": wanted})["results"]
    }
    assert found[fresh]["notes"] == "new" and found[fresh]["autoCollected"] is False
    assert found[seeded["licenseKey"]]["notes"] == "known"
    assert found[seeded["licenseKey"]]["addedDate"] == seeded["addedDate"], (
        "an update keeps the key's history"
    )


def test_license_key_search_filters_sorts_and_pages(server, session):
    body = {
        "filters": {
            "licenseType": ["trial", "purchased"],
            "addedDate": {"type": "dateRange", "max": "2024-03-01"},
        },
        "sorting": {"addedDate": "desc"},
    }
    everything = ok(server, session, "license_keys_search", body)
    records = everything["results"]
    assert records and everything["matchingKeysCount"] == len(records)
    assert all(r["licenseType"] in ("trial", "purchased") and r["addedDate"] <= "2024-03-01" for r in records)
    assert [r["addedDate"] for r in records] == sorted((r["addedDate"] for r in records), reverse=True)
    page = ok(server, session, "license_keys_search", {**body, "paging": {"startAt": 2, "maxResults": 3}})
    assert page["results"] == records[2:5] and page["returnedKeysCount"] == 3
    refused = call(server, session, "license_keys_search", {"sorting": {"licenseStatus": "asc"}})
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"properties": ["prodVersion"]}', "application/json"),
        (b'{"properties": "prodVersion"}', "application/json"),
        (b"every client, please", "text/plain"),
        (b"not { json", "application/json"),
        (b"", "text/plain"),
    ],
)
def test_export_request_takes_any_text(server, session, content, content_type):
    """Seed 000 line 1081: the export request's body schema is ``*/*`` string."""
    url = server.url + BY_NAME["client_property_list_export"].url_path(PID)
    response = session.post(url, data=content, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "OK" and len(response.json()["exportId"]) == 32


# -- the seed's empty forms (seed 000 samples shown collapsed): what each means ------------------


def test_an_empty_client_status_counts_what_an_absent_one_does(server, session):
    """Seed 000 lines 268 and 322 send ``clientStatus: []`` with ``daysUntilDeclaredLost: 40``:
    no restriction, new, active and (given the days) lost clients."""
    body = {**WINDOW, "dateSplit": "week", "daysUntilDeclaredLost": 40}
    empty = ok(server, session, "date_range", {**body, "clientStatus": []})["result"]
    assert empty == ok(server, session, "date_range", body)["result"]
    assert all(set(counts) == {"new", "active", "lost"} for counts in empty.values())
    assert (
        empty
        == ok(server, session, "date_range", {**body, "clientStatus": ["new", "active", "lost"]})["result"]
    )
    current = {"startDate": START.isoformat(), "daysUntilDeclaredLost": 40}
    answer = ok(server, session, "current", {**current, "clientStatus": []})["result"]
    assert answer == ok(server, session, "current", current)["result"]
    assert set(answer) == {"new", "active", "lost"} and answer["active"] > 0
    assert set(
        ok(server, session, "current", {"startDate": START.isoformat(), "clientStatus": []})["result"]
    ) == {
        "new",
        "active",
    }, "lost needs daysUntilDeclaredLost"


def test_empty_events_answer_no_event_entries(server, session):
    """Seed 000 lines 426, 576 and 624 send ``events: []``: no event asked for, none answered;
    the answer keeps its shape (the histogram its summary, the timeline its periods)."""
    event = [{"category": "File Operations", "name": "Open"}]
    histogram = ok(server, session, "lifetime_event_histogram", {**WINDOW, "events": []})
    with_event = ok(server, session, "lifetime_event_histogram", {**WINDOW, "events": event})
    assert histogram["result"] == {"events": []} and histogram["summary"] == with_event["summary"]
    assert histogram["summary"]["totalClients"] > 0
    timeline_body = {**WINDOW, "dateSplit": "week", "dataView": "usageCounts", "divisor": None}
    timeline = ok(server, session, "basic_event_timeline", {**timeline_body, "events": []})["result"]
    assert list(timeline) == list(
        ok(server, session, "basic_event_timeline", {**timeline_body, "events": event})["result"]
    )
    assert timeline and all(entries == [] for entries in timeline.values())
    advanced = ok(server, session, "advanced_events", {**WINDOW, "events": []})
    assert advanced == {"result": {"detailedReport": []}}
    table = ok(server, session, "lifetime_event_data_table", {**WINDOW, "events": []})
    assert table == {"returnedEventsCount": 0, "matchingEventsCount": 0, "result": []}


def test_empty_segments_segment_by_every_value(server, session, clients):
    """Seed 000 line 477: ``segmentBy: "prodEdition", segments: []`` gives one segment per edition,
    labelled by it, as ``segmentBy`` alone does."""
    body = {**WINDOW, "events": None, "segmentBy": "prodEdition"}
    empty = ok(server, session, "lifetime_event_data_table", {**body, "segments": []})
    assert empty == ok(server, session, "lifetime_event_data_table", body)
    editions = sorted({c.prod_edition for c in clients})
    for row in empty["result"]:
        assert [s["segment"] for s in row["segments"]] == editions
        assert sum(s["eventCounts"] for s in row["segments"]) == row["eventCounts"]
    advanced = ok(
        server,
        session,
        "advanced_events",
        {**WINDOW, "events": None, "segmentBy": "prodEdition", "segments": []},
    )
    for entry in advanced["result"]["detailedReport"]:
        assert [s["segment"] for s in entry["segments"]] == editions


def test_an_empty_license_status_sets_no_flag(server, session):
    """Seed 000 lines 760 (insert) and 719 (update) send ``licenseStatus: {}``: a new key gets the
    registry's default status (no flag set), a known key keeps its own."""
    [inserted] = ok(
        server, session, "license_keys_insert", {"licenseKey": "empty-status-key", "licenseStatus": {}}
    )["results"]
    assert inserted["licenseStatus"] == {
        "activated": False,
        "blocked": False,
        "expired": False,
        "allowed": False,
    }
    [plain] = ok(server, session, "license_keys_insert", {"licenseKey": "no-status-key"})["results"]
    assert plain["licenseStatus"] == inserted["licenseStatus"]
    flagged = {"licenseKey": "empty-status-key", "licenseStatus": {"activated": True, "whitelisted": True}}
    [before] = ok(server, session, "license_keys_update", flagged)["results"]
    [after] = ok(
        server,
        session,
        "license_keys_update",
        {"licenseKey": "empty-status-key", "licenseStatus": {}, "installQuota": 2, "notes": "test"},
    )["results"]
    assert (
        after["licenseStatus"]
        == before["licenseStatus"]
        == {
            "activated": True,
            "blocked": False,
            "expired": False,
            "allowed": True,
        }
    )
    assert (after["installQuota"], after["notes"]) == (2, "test")


def test_daily_data_without_dates_covers_the_last_seven_days(server, session, clients):
    """Seed 000 line 1042 sends ``retDailyData: {}`` and ``properties: []``: rows of ``clientId`` and
    ``dailyData``, one ``{"date"}`` per active day of the seven complete days before today."""
    answer = ok(server, session, "client_property_list", {"retDailyData": {}, "properties": []})
    window = days(TODAY - dt.timedelta(days=7), TODAY - dt.timedelta(days=1))
    by_id = {c.client_id: c for c in clients}
    assert answer["result"]
    for row in answer["result"]:
        assert set(row) == {"clientId", "dailyData"}
        client = by_id[row["clientId"]]
        assert row["dailyData"] == [{"date": d.isoformat()} for d in window if client.is_active(d)]
    assert any(row["dailyData"] for row in answer["result"])
    dated = {"startDate": window[0].isoformat(), "stopDate": window[-1].isoformat()}
    assert answer == ok(server, session, "client_property_list", {"retDailyData": dated})
    with_metric = ok(
        server, session, "client_property_list", {"retDailyData": {"properties": ["sessionCount"]}}
    )
    assert all(
        set(day) == {"date", "sessionCount"} for row in with_metric["result"] for day in row["dailyData"]
    )
    one_date = call(
        server, session, "client_property_list", {"retDailyData": {"startDate": dated["startDate"]}}
    )
    assert one_date.status_code == 400
    assert one_date.json()["reason"] == "retDailyData.stopDate: required with startDate"
