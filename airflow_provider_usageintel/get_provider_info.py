"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_usageintel.version import __version__

PACKAGE = "airflow_provider_usageintel"


def _conn_field(label: str, description: str, json_type: str, default: Any = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [json_type, "null"]}
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


USAGE_INTELLIGENCE_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "origin": _conn_field(
        "Origin", "Origin header the API insists on.", "string", "https://analytics.revenera.com"
    ),
    "client_name": _conn_field("Client name", "Sent as the RUI-Client header.", "string"),
    "product_id": _conn_field("Product ID", "Default product for every call that takes one.", "string"),
    "timeout": _conn_field("Timeout (s)", "Connect and read timeout of each request.", "number", 60),
    "max_retries": _conn_field(
        "Max retries", "Retries on network errors, 429 and 502/503/504.", "integer", 5
    ),
    "verify_ssl": _conn_field("Verify TLS", "Verify the server's TLS certificate.", "boolean", True),
}

USAGE_INTELLIGENCE_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "API base URL", "login": "User name"},
    "placeholders": {
        "host": "https://analytics-api.revenera.com",
        "login": "analyst@example.com",
        "origin": "https://analytics.revenera.com",
        "product_id": "1234567890",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-usageintel",
        "name": "Usage Intelligence",
        "description": "Archive product-usage analytics (Revenera Usage Intelligence, Fluid Topics, "
        "FusionAuth) into S3, incrementally and in constant memory.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "external-doc-url": "https://docs.revenera.com/ui560/report/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [f"{PACKAGE}.hooks.usage_intelligence"],
            }
        ],
        "operators": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [
                    f"{PACKAGE}.operators.usage_intelligence",
                    f"{PACKAGE}.operators.license_keys",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [f"{PACKAGE}.sensors.usage_intelligence"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [f"{PACKAGE}.triggers.usage_intelligence"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Revenera Usage Intelligence",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.files_to_s3",
            },
            {
                "source-integration-name": "Revenera Usage Intelligence",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.report_to_s3",
            },
            {
                "source-integration-name": "Revenera Usage Intelligence",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.client_properties_to_s3",
            },
        ],
        "connection-types": [
            {
                "hook-class-name": f"{PACKAGE}.hooks.usage_intelligence.UsageIntelligenceHook",
                "hook-name": "Usage Intelligence",
                "connection-type": "usage_intelligence",
                "ui-field-behaviour": USAGE_INTELLIGENCE_UI_BEHAVIOUR,
                "conn-fields": USAGE_INTELLIGENCE_CONN_FIELDS,
            }
        ],
    }
