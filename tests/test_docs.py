"""Pages generated from code must match the code."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_usageintel import connection_fields
from airflow_provider_usageintel.api import reference
from airflow_provider_usageintel.api.endpoints import ENDPOINTS
from airflow_provider_usageintel.lake import reference as lake_reference
from airflow_provider_usageintel.lake.schema import SCHEMAS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_endpoint_reference_is_generated_from_the_table():
    committed = (DOCS / "endpoints.md").read_text(encoding="utf-8")
    assert committed == reference.render(), "docs/endpoints.md is stale: run `make gen-docs`"


def test_every_endpoint_is_in_the_reference():
    text = reference.render()
    for ep in ENDPOINTS:
        assert f"`{ep.method} {ep.path}`" in text


def test_connection_fields_are_generated_from_the_description():
    committed = (DOCS / "connections.md").read_text(encoding="utf-8")
    assert committed == connection_fields.render_page(committed), (
        "docs/connections.md is stale: run `make gen-docs`"
    )
    for ctype in connection_fields.CONNECTION_TYPES:
        for extra in ctype.extras:
            assert f"extra `{extra.name}`" in committed


def test_the_documented_uri_is_the_documented_json_connection():
    from airflow.sdk.definitions.connection import Connection

    text = (DOCS / "connections.md").read_text(encoding="utf-8")
    uri = re.search(r"AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT='(usage-intelligence://[^']+)'", text)
    document = re.search(r"AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT='(\{.+?\})'", text, re.DOTALL)
    assert uri and document
    from_uri = Connection.from_uri(uri.group(1), conn_id="u")
    from_json = Connection.from_json(document.group(1), conn_id="j")
    for attribute in ("conn_type", "host", "login", "password", "extra_dejson"):
        assert getattr(from_uri, attribute) == getattr(from_json, attribute), attribute


def test_query_page_schema_is_generated_from_the_schema_table():
    committed = (DOCS / "query.md").read_text(encoding="utf-8")
    assert committed == lake_reference.splice(committed), "docs/query.md is stale: run `make gen-docs`"


def test_every_lake_column_is_in_the_query_page():
    text = lake_reference.render()
    for columns in SCHEMAS.values():
        for column in columns:
            assert f"| `{column.header}` | `{column.name}` |" in text
