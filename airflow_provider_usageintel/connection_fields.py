"""The provider's connection types, their fields and extras, described once as data.

Airflow's connection form (the provider info's ``conn-fields`` and
``ui-field-behaviour``), the hooks' defaults and the tables of
``docs/connections.md`` are all derived from here, so they cannot disagree. The
module imports nothing but the standard library: Airflow reads the provider info
in every component, and DAG files import the hooks.

``python -m airflow_provider_usageintel.connection_fields docs/connections.md``
rewrites the page's generated section (``make gen-docs``); a test fails when it is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: statuses that say "not now": the request was not processed, so even a write may be re-sent.
RETRY_ALWAYS = frozenset({429, 503})
#: statuses worth another try for reads; a write may already have been applied behind a gateway.
RETRY_IF_SAFE = frozenset({500, 502, 504})

DEFAULT_CLIENT_NAME = "airflow-provider-usageintel"


def _statuses(codes: frozenset[int]) -> str:
    return ", ".join(str(code) for code in sorted(codes))


@dataclass(frozen=True)
class Extra:
    """One key of a connection's extra JSON.

    :param kind: its JSON type: ``string``, ``number``, ``integer``, ``boolean`` or ``object``.
        Objects have no form field: they are written in the form's Extra JSON.
    """

    name: str
    label: str
    description: str
    kind: str
    default: Any = None

    @property
    def in_form(self) -> bool:
        return self.kind != "object"

    def conn_field(self) -> dict[str, Any]:
        """The provider info's ``conn-fields`` entry: Airflow renders it as a form field."""
        schema: dict[str, Any] = {"type": [self.kind, "null"]}
        if self.default is not None:
            schema["default"] = self.default
        return {"label": self.label, "description": self.description, "schema": schema}


@dataclass(frozen=True)
class StandardField:
    """One of Airflow's own connection fields (host, login, password) as a type uses it."""

    name: str
    label: str
    description: str
    placeholder: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class ConnectionType:
    conn_type: str
    hook_name: str
    hook_class: str
    default_conn_id: str
    fields: tuple[StandardField, ...]
    extras: tuple[Extra, ...]
    hidden: tuple[str, ...]
    placeholders: Mapping[str, str] = field(default_factory=dict)

    def extra(self, name: str) -> Extra:
        return next(e for e in self.extras if e.name == name)

    def default(self, name: str) -> Any:
        return self.extra(name).default

    def conn_fields(self) -> dict[str, dict[str, Any]]:
        return {e.name: e.conn_field() for e in self.extras if e.in_form}

    def relabeling(self) -> dict[str, str]:
        return {f.name: f.label for f in self.fields if f.label != f.name.capitalize()}

    def all_placeholders(self) -> dict[str, str]:
        standard = {f.name: f.placeholder for f in self.fields if f.placeholder}
        return {**standard, **self.placeholders}

    def ui_field_behaviour(self) -> dict[str, Any]:
        """The provider info's ``ui-field-behaviour`` (keys in kebab case, as its schema has them)."""
        return {
            "hidden-fields": list(self.hidden),
            "relabeling": self.relabeling(),
            "placeholders": self.all_placeholders(),
        }

    def hook_field_behaviour(self) -> dict[str, Any]:
        """What ``BaseHook.get_ui_field_behaviour()`` returns (keys in snake case, as Airflow validates)."""
        return {
            "hidden_fields": list(self.hidden),
            "relabeling": self.relabeling(),
            "placeholders": self.all_placeholders(),
        }

    def provider_info(self) -> dict[str, Any]:
        return {
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "connection-type": self.conn_type,
            "ui-field-behaviour": self.ui_field_behaviour(),
            "conn-fields": self.conn_fields(),
        }


#: what every connection type takes, read by ``ConnectionSettings`` (hooks/base.py).
COMMON_EXTRAS: tuple[Extra, ...] = (
    Extra("timeout", "Timeout (s)", "Seconds to connect, and for each read.", "number", 60),
    Extra(
        "max_retries",
        "Max retries",
        f"Retries of a call on network errors, {_statuses(RETRY_ALWAYS)}, and for reads also "
        f"{_statuses(RETRY_IF_SAFE)}. A write is re-sent only when it cannot have been processed.",
        "integer",
        5,
    ),
    Extra("verify_ssl", "Verify TLS", "Verify the server's TLS certificate.", "boolean", True),
    Extra(
        "retry_wait",
        "First retry wait (s)",
        "First backoff step; it doubles with each try, with jitter.",
        "number",
        1.0,
    ),
    Extra(
        "max_retry_wait",
        "Max retry wait (s)",
        "Upper bound of one wait, including a server's Retry-After.",
        "number",
        120.0,
    ),
    Extra(
        "allow_insecure_http",
        "Allow plain HTTP",
        "Allow http:// to a host that is not a loopback address (credentials travel unencrypted).",
        "boolean",
        False,
    ),
)

_PACKAGE = "airflow_provider_usageintel"
_API_KEY = "API key"

USAGE_INTELLIGENCE = ConnectionType(
    conn_type="usage_intelligence",
    hook_name="Usage Intelligence",
    hook_class=f"{_PACKAGE}.hooks.usage_intelligence.UsageIntelligenceHook",
    default_conn_id="usage_intelligence_default",
    fields=(
        StandardField(
            "host",
            "API base URL",
            "Base URL of the Reporting API; a bare host name gets https://; a user name or password in it "
            "(https://user:secret@host) is refused.",
            "https://analytics-api.revenera.com",
            "https://analytics-api.revenera.com",
        ),
        StandardField(
            "login", "User name", "The Usage Intelligence account (userName).", "analyst@example.com"
        ),
        StandardField("password", "Password", "Its password; registered with Airflow's secrets masker."),
    ),
    extras=(
        Extra(
            "origin",
            "Origin",
            "Origin header the API insists on.",
            "string",
            "https://analytics.revenera.com",
        ),
        Extra("client_name", "Client name", "Sent as the RUI-Client header.", "string", DEFAULT_CLIENT_NAME),
        Extra("product_id", "Product ID", "Default product of every call that takes one.", "string"),
        Extra(
            "endpoint_paths",
            "Endpoint paths",
            'Endpoint names mapped to other paths, e.g. {"churn_histogram_days": "/v3/..."}.',
            "object",
        ),
        *COMMON_EXTRAS,
    ),
    hidden=("schema", "port"),
    placeholders={"origin": "https://analytics.revenera.com", "product_id": "1234567890"},
)

FLUID_TOPICS = ConnectionType(
    conn_type="fluid_topics",
    hook_name="Fluid Topics",
    hook_class=f"{_PACKAGE}.hooks.fluid_topics.FluidTopicsHook",
    default_conn_id="fluid_topics_default",
    fields=(
        StandardField(
            "host", "Portal base URL", "The portal's base URL (required).", "https://doc.example.com"
        ),
        StandardField(
            "password",
            _API_KEY,
            "An API key with the ANALYTICS_USER role, sent as a Bearer token; masked, never logged.",
        ),
    ),
    extras=(
        Extra(
            "calling_app",
            "Calling app",
            "Sent as the Ft-Calling-App header (required on POST).",
            "string",
            DEFAULT_CLIENT_NAME,
        ),
        *COMMON_EXTRAS,
    ),
    hidden=("schema", "port", "login"),
    placeholders={"calling_app": DEFAULT_CLIENT_NAME},
)

FUSIONAUTH = ConnectionType(
    conn_type="fusionauth",
    hook_name="FusionAuth",
    hook_class=f"{_PACKAGE}.hooks.fusionauth.FusionAuthHook",
    default_conn_id="fusionauth_default",
    fields=(
        StandardField(
            "host", "FusionAuth base URL", "The server's base URL (required).", "https://auth.example.com"
        ),
        StandardField(
            "password",
            _API_KEY,
            "An API key allowed to call the report API, sent raw as Authorization; masked, never logged.",
        ),
    ),
    extras=(
        Extra(
            "tenant_id",
            "Tenant ID",
            "Sent as X-FusionAuth-TenantId (needed when the key spans tenants).",
            "string",
        ),
        Extra(
            "path_style",
            "Report paths",
            "auto (singular, else plural on a 404), singular (current servers: daily-active-user) "
            "or plural (Passport: daily-active-users).",
            "string",
            "auto",
        ),
        Extra(
            "report_timezone",
            "Report time zone",
            "The report time zone of the server's system settings (IANA name): the server truncates report "
            "windows to its days, hours and months, so task windows are aligned to it.",
            "string",
            "UTC",
        ),
        *COMMON_EXTRAS,
    ),
    hidden=("schema", "port", "login"),
    placeholders={"path_style": "auto", "report_timezone": "UTC"},
)

CONNECTION_TYPES: tuple[ConnectionType, ...] = (USAGE_INTELLIGENCE, FLUID_TOPICS, FUSIONAUTH)


def common_default(name: str) -> Any:
    """The default of an extra every connection type takes."""
    return next(e for e in COMMON_EXTRAS if e.name == name).default


# -- docs ----------------------------------------------------------------------------------------

BEGIN = "<!-- BEGIN connection fields: generated from airflow_provider_usageintel/connection_fields.py -->"
END = "<!-- END connection fields -->"
_COMMON_NAMES = {e.name for e in COMMON_EXTRAS}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def _extra_row(extra: Extra) -> str:
    form = extra.label if extra.in_form else "no: set it in the Extra JSON"
    return f"| extra `{extra.name}` | {form} | {extra.description} | {_cell(extra.default)} |"


def render_section() -> str:
    """The generated part of docs/connections.md: one table per type, then the common extras."""
    lines = [
        BEGIN,
        "<!-- Run `make gen-docs` after changing the fields; do not edit by hand. -->",
        "",
    ]
    for ctype in CONNECTION_TYPES:
        lines += [
            f"### {ctype.hook_name} (`{ctype.conn_type}`)",
            "",
            f"Default connection id: `{ctype.default_conn_id}`. Hidden form fields: "
            + ", ".join(f"`{name}`" for name in ctype.hidden)
            + ".",
            "",
            "| field | in the form | meaning | default |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {f.name} | {f.label} | {f.description} | {_cell(f.default)} |" for f in ctype.fields]
        lines += [_extra_row(e) for e in ctype.extras if e.name not in _COMMON_NAMES]
        lines += ["| extras | | [those of every type](#extras-of-every-connection-type) | |", ""]
    lines += [
        "### Extras of every connection type",
        "",
        "| field | in the form | meaning | default |",
        "| --- | --- | --- | --- |",
        *(_extra_row(e) for e in COMMON_EXTRAS),
        "",
        END,
    ]
    return "\n".join(lines)


def render_page(page: str) -> str:
    """``page`` with its generated section replaced by :func:`render_section`."""
    start, stop = page.index(BEGIN), page.index(END) + len(END)
    return page[:start] + render_section() + page[stop:]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(render_section() + "\n")
        return 0
    path = Path(args[0])
    path.write_text(render_page(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
