"""The Usage Intelligence Reporting API v3, described once as data.

The hook builds its calls from this table, the emulator registers its routes
from it and ``docs/endpoints.md`` is generated from it, so the three cannot
drift apart. Paths follow the seeds: seed 000 for the v3 reference, seed 001
for the churn histograms, whose documented paths carry the product id in the
body. Other spellings of a call (``aliases``: the churn histograms' v3-convention
guess, the product properties without a product id) are served by the emulator
too, and a connection's ``endpoint_paths`` extra selects one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed


class Paging(str, enum.Enum):
    """How an endpoint splits a long answer into pages."""

    NONE = "none"
    #: clientPropertyList: send ``startAtClientId``; answer has ``nextClientId`` / ``reachedEnd``.
    CLIENT_ID = "client_id"
    #: propertyValues: send ``startAfter`` = last value of the previous page.
    START_AFTER = "start_after"
    #: data tables and key registry: ``paging: {startAt, maxResults}`` with returned/matching counts.
    OFFSET = "offset"
    #: Fluid Topics events: ``paging: {page (from 1), perPage}``; the answer says ``lastPage``.
    PAGE = "page"


@dataclass(frozen=True)
class Endpoint:
    """One API call: how to send it and how to read its answer."""

    name: str
    method: str
    path: str
    group: str
    summary: str
    #: key of the answer that holds the payload (``None``: the whole body, or no body).
    result_key: str | None = "result"
    paging: Paging = Paging.NONE
    #: reads may be re-sent after a network error; writes never once they may have arrived.
    retry_safe: bool = True
    #: needs a logged-in session (everything but the CSRF and login calls).
    auth: bool = True
    #: query parameters the endpoint accepts.
    query: tuple[str, ...] = ()
    #: keys of the answer that count pages for ``Paging.OFFSET`` (returned, matching).
    page_counts: tuple[str, str] | None = None
    #: other paths of the same call (older or guessed spellings); the emulator serves them too.
    aliases: tuple[str, ...] = field(default=())
    #: on 404, or when the path needs a product id and none is known, try the ``aliases`` in order.
    falls_back: bool = False
    #: body field that carries the product id, as an integer, when the path has no ``{product_id}``.
    body_product_id: str | None = None
    #: media type of the request body; ``*/*`` takes any text (seed 000's export request).
    body_media: str = "application/json"
    #: the body may also be an array of objects (a batch).
    accepts_batch: bool = False
    #: a write that may be re-sent once every object of its body names this field: sending it
    #: again sets the same state again (the key registry inserts or updates each key).
    idempotent_key: str | None = None
    #: errors on ``path`` answer HTTP 200 with ``status`` SYNTAX ERROR/AUTH ERROR and ``reason`` (seed 001).
    errors_in_body: bool = False

    @property
    def takes_product_id(self) -> bool:
        """The path carries the product id."""
        return path_takes_product_id(self.path)

    @property
    def product_id_in_body(self) -> bool:
        """The product id travels in the body (``body_product_id``) because the path has none."""
        return self.body_product_id is not None and not self.takes_product_id

    @property
    def needs_product_id(self) -> bool:
        """No call without a product id: none of its paths (that it may fall back to) does without."""
        if self.falls_back and not all(path_takes_product_id(path) for path in self.paths):
            return False
        return self.takes_product_id or self.product_id_in_body

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path of the call: the table's own first."""
        return (self.path, *self.aliases)

    def url_path(self, product_id: str | int | None = None, path: str | None = None) -> str:
        """``path`` (default: the table's) with the product id filled in."""
        path = self.path if path is None else path
        if not path_takes_product_id(path):
            return path
        if product_id is None or str(product_id) == "":
            raise UsageIntelligenceValidationError(
                f"product_id: required by {self.name} ({self.method} {path}); "
                "set it on the task or as the connection's extra 'product_id'"
            )
        return path.format(product_id=product_id)


def path_takes_product_id(path: str) -> bool:
    return "{product_id}" in path


def _e(name: str, method: str, path: str, group: str, summary: str, **kw: object) -> Endpoint:
    return Endpoint(name, method, path, group, summary, **kw)  # type: ignore[arg-type]


_AUTH, _META, _EVT, _GEN, _ENG, _EVR, _CHURN, _LIC, _CUST, _EXC, _CLIENT, _RAW = (
    "Auth",
    "Metadata queries",
    "Event tracking management",
    "Generic reports",
    "User engagement",
    "Event tracking reports",
    "Churn (lost installations)",
    "License key registry",
    "Custom event tracking",
    "Exception tracking",
    "Client profile",
    "Raw data exports",
)

ENDPOINTS: tuple[Endpoint, ...] = (
    _e(
        "request_csrf",
        "GET",
        "/v3/request-csrf",
        _AUTH,
        "Obtain the CSRF cookie (204).",
        result_key=None,
        auth=False,
    ),
    _e(
        "auth_web",
        "POST",
        "/v3/auth/web",
        _AUTH,
        "Log in; sets the RUI-Csrf and RUI-Session-Token cookies.",
        result_key=None,
        auth=False,
    ),
    _e(
        "logout",
        "POST",
        "/v3/auth/logout",
        _AUTH,
        "Invalidate this session, or every session of the user.",
        result_key=None,
    ),
    _e(
        "product_properties",
        "GET",
        "/v3/meta/productProperties/{product_id}",
        _META,
        "Properties available for filtering and segmentation, by category.",
        aliases=("/v3/meta/productProperties",),
        falls_back=True,
    ),
    _e(
        "property_values",
        "POST",
        "/v3/meta/propertyValues/{product_id}",
        _META,
        "Possible values of one property (granularity for os/geography/gpu).",
        paging=Paging.START_AFTER,
    ),
    _e(
        "event_names",
        "GET",
        "/v3/event-tracking/{product_id}",
        _EVT,
        "Event categories and names, and which are collected.",
        query=("flat", "showEvents"),
    ),
    _e(
        "date_range",
        "POST",
        "/v3/reporting/generic/dateRange/{product_id}",
        _GEN,
        "New/active/lost clients over a date range, optionally split by date and levels.",
    ),
    _e(
        "current",
        "POST",
        "/v3/reporting/generic/current/{product_id}",
        _GEN,
        "Current state of the user base, optionally by levels.",
    ),
    _e(
        "usage_distribution",
        "POST",
        "/v3/reporting/engagement/usageDistribution/{product_id}",
        _ENG,
        "Histograms of active days, sessions and runtime.",
    ),
    _e(
        "lifetime_event_histogram",
        "POST",
        "/v3/reporting/eventTracking/lifetime/histogram/{product_id}",
        _EVR,
        "How often clients performed events over their lifetime.",
    ),
    _e(
        "lifetime_event_data_table",
        "POST",
        "/v3/reporting/eventTracking/lifetime/dataTable/{product_id}",
        _EVR,
        "Paged table of every event and its lifetime counts.",
        paging=Paging.OFFSET,
        page_counts=("returnedEventsCount", "matchingEventsCount"),
    ),
    _e(
        "basic_event_data_table",
        "POST",
        "/v3/reporting/eventTracking/basic/dataTable/{product_id}",
        _EVR,
        "Every known event within a date range.",
    ),
    _e(
        "basic_event_timeline",
        "POST",
        "/v3/reporting/eventTracking/basic/timeline/{product_id}",
        _EVR,
        "Daily/weekly/monthly timeline of selected events.",
    ),
    _e(
        "advanced_events",
        "POST",
        "/v3/reporting/eventTracking/advanced/fullReport/{product_id}",
        _EVR,
        "Detailed report of events selected for advanced tracking.",
    ),
    _e(
        "churn_histogram_sessions",
        "POST",
        "/reporting/churn/histogram/sessions",
        _CHURN,
        "Sessions before installations were lost.",
        result_key="results",
        aliases=("/v3/reporting/churn/histogram/sessions/{product_id}",),
        body_product_id="productId",
        errors_in_body=True,
    ),
    _e(
        "churn_histogram_runtime",
        "POST",
        "/reporting/churn/histogram/runtime",
        _CHURN,
        "Lifetime runtime (h:mm bins) of lost installations.",
        result_key="results",
        aliases=("/v3/reporting/churn/histogram/runtime/{product_id}",),
        body_product_id="productId",
        errors_in_body=True,
    ),
    _e(
        "churn_histogram_days",
        "POST",
        "/reporting/churn/histogram/days",
        _CHURN,
        "Lifetime in days of lost installations.",
        result_key="results",
        aliases=("/v3/reporting/churn/histogram/days/{product_id}",),
        body_product_id="productId",
        errors_in_body=True,
    ),
    _e(
        "license_keys_search",
        "POST",
        "/v3/license-key-registry/{product_id}",
        _LIC,
        "Search the key registry (paged, sorted).",
        result_key="results",
        paging=Paging.OFFSET,
        page_counts=("returnedKeysCount", "matchingKeysCount"),
    ),
    _e(
        "license_keys_update",
        "PATCH",
        "/v3/license-key-registry/update/{product_id}",
        _LIC,
        "Update keys, one or a batch; new keys in the batch are inserted.",
        result_key=None,
        retry_safe=False,
        accepts_batch=True,
        idempotent_key="licenseKey",
    ),
    _e(
        "license_keys_insert",
        "POST",
        "/v3/license-key-registry/update/{product_id}",
        _LIC,
        "Insert keys, one or a batch; keys already known are updated.",
        result_key=None,
        retry_safe=False,
        accepts_batch=True,
        idempotent_key="licenseKey",
    ),
    _e(
        "custom_events_last_lines",
        "POST",
        "/v3/customEventTracking/getLastLines/{product_id}",
        _CUST,
        "Latest custom events as JSON rows.",
    ),
    _e(
        "custom_events_list_files",
        "GET",
        "/v3/customEventTracking/listFiles/{product_id}",
        _CUST,
        "Open daily, daily and monthly zipped CSV files.",
        result_key=None,
    ),
    _e(
        "custom_events_download_url",
        "POST",
        "/v3/customEventTracking/getDownloadUrl/{product_id}",
        _CUST,
        "Short-lived signed URL of one file.",
        result_key="downloadUrl",
    ),
    _e(
        "exceptions_last_lines",
        "POST",
        "/v3/exceptionTracking/getLastLines/{product_id}",
        _EXC,
        "Latest exceptions as JSON rows.",
    ),
    _e(
        "exceptions_list_files",
        "GET",
        "/v3/exceptionTracking/listFiles/{product_id}",
        _EXC,
        "Open daily, daily and monthly zipped CSV files.",
        result_key=None,
    ),
    _e(
        "exceptions_download_url",
        "POST",
        "/v3/exceptionTracking/getDownloadUrl/{product_id}",
        _EXC,
        "Short-lived signed URL of one file.",
        result_key="downloadUrl",
    ),
    _e(
        "client_property_list",
        "POST",
        "/v3/reporting/clientPropertyList/{product_id}",
        _CLIENT,
        "Properties of clients, paged by client id.",
        paging=Paging.CLIENT_ID,
    ),
    _e(
        "client_property_list_export",
        "POST",
        "/v3/export/request/clientPropertyList/{product_id}",
        _CLIENT,
        "Request an export of every client's data; the body is any text.",
        result_key=None,
        retry_safe=False,
        body_media="*/*",
    ),
    _e(
        "raw_events_list_files",
        "GET",
        "/v3/rawEvents/download/listFiles/{product_id}",
        _RAW,
        "Raw data export files (paid add-on, about 90 days kept).",
        result_key="fileList",
    ),
    _e(
        "raw_events_download_url",
        "POST",
        "/v3/rawEvents/download/getDownloadUrl/{product_id}",
        _RAW,
        "Short-lived signed URL of one raw export file.",
        result_key="downloadUrl",
    ),
)

BY_NAME: Mapping[str, Endpoint] = {e.name: e for e in ENDPOINTS}

#: Endpoints that ``run_report`` accepts: every call that returns data, minus auth and file plumbing.
REPORT_NAMES: tuple[str, ...] = (
    "product_properties",
    "property_values",
    "event_names",
    "date_range",
    "current",
    "usage_distribution",
    "lifetime_event_histogram",
    "lifetime_event_data_table",
    "basic_event_data_table",
    "basic_event_timeline",
    "advanced_events",
    "churn_histogram_sessions",
    "churn_histogram_runtime",
    "churn_histogram_days",
    "license_keys_search",
    "license_keys_update",
    "license_keys_insert",
    "custom_events_last_lines",
    "exceptions_last_lines",
    "client_property_list",
    "client_property_list_export",
)


def endpoint(name: str, overrides: Mapping[str, str] | None = None) -> Endpoint:
    """Look up an endpoint by name, applying per-connection path overrides."""
    try:
        found = BY_NAME[name]
    except KeyError:
        raise UsageIntelligenceValidationError(
            f"report: unknown name {name!r} (allowed: {allowed(REPORT_NAMES)})"
        ) from None
    if overrides and name in overrides:  # the connection says where the call lives: no other path
        return replace(found, path=overrides[name], aliases=(), falls_back=False)
    return found


def report_endpoint(name: str, overrides: Mapping[str, str] | None = None) -> Endpoint:
    """Like :func:`endpoint`, restricted to the names ``run_report`` accepts."""
    if name not in REPORT_NAMES:
        raise UsageIntelligenceValidationError(
            f"report: unknown name {name!r} (allowed: {allowed(REPORT_NAMES)})"
        )
    return endpoint(name, overrides)
