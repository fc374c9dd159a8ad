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

#: what every connection type of the provider takes besides its own fields.
COMMON_CONN_FIELDS: dict[str, dict[str, Any]] = {
    key: USAGE_INTELLIGENCE_CONN_FIELDS[key] for key in ("timeout", "max_retries", "verify_ssl")
}

FLUID_TOPICS_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "calling_app": _conn_field(
        "Calling app", "Sent as the Ft-Calling-App header.", "string", "airflow-provider-usageintel"
    ),
    **COMMON_CONN_FIELDS,
}

FLUID_TOPICS_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "Portal base URL", "password": "API key"},
    "placeholders": {"host": "https://doc.example.com", "calling_app": "airflow-provider-usageintel"},
}

FUSIONAUTH_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant_id": _conn_field(
        "Tenant ID", "Sent as X-FusionAuth-TenantId (needed when the key spans tenants).", "string"
    ),
    "path_style": _conn_field(
        "Report paths",
        "singular (current servers: daily-active-user) or plural (Passport: daily-active-users).",
        "string",
        "singular",
    ),
    "report_timezone": _conn_field(
        "Report time zone", "The server's report time zone (system settings), for labels.", "string", "UTC"
    ),
    **COMMON_CONN_FIELDS,
}

FUSIONAUTH_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login"],
    "relabeling": {"host": "FusionAuth base URL", "password": "API key"},
    "placeholders": {"host": "https://auth.example.com", "path_style": "singular", "report_timezone": "UTC"},
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
            },
            {
                "integration-name": "Fluid Topics",
                "external-doc-url": "https://doc.fluidtopics.com/r/Fluid-Topics-API-Reference-Guide",
                "tags": ["service"],
            },
            {
                "integration-name": "FusionAuth",
                "external-doc-url": "https://fusionauth.io/docs/apis/reports",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [f"{PACKAGE}.hooks.usage_intelligence"],
            },
            {"integration-name": "Fluid Topics", "python-modules": [f"{PACKAGE}.hooks.fluid_topics"]},
            {"integration-name": "FusionAuth", "python-modules": [f"{PACKAGE}.hooks.fusionauth"]},
        ],
        "operators": [
            {
                "integration-name": "Revenera Usage Intelligence",
                "python-modules": [
                    f"{PACKAGE}.operators.usage_intelligence",
                    f"{PACKAGE}.operators.license_keys",
                ],
            },
            {"integration-name": "Fluid Topics", "python-modules": [f"{PACKAGE}.operators.fluid_topics"]},
            {"integration-name": "FusionAuth", "python-modules": [f"{PACKAGE}.operators.fusionauth"]},
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
            {
                "source-integration-name": "Amazon Simple Storage Service (S3)",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.archive_to_lake",
            },
            {
                "source-integration-name": "Fluid Topics",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.fluid_topics_to_s3",
            },
            {
                "source-integration-name": "FusionAuth",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": f"{PACKAGE}.transfers.fusionauth_to_s3",
            },
        ],
        "connection-types": [
            {
                "hook-class-name": f"{PACKAGE}.hooks.usage_intelligence.UsageIntelligenceHook",
                "hook-name": "Usage Intelligence",
                "connection-type": "usage_intelligence",
                "ui-field-behaviour": USAGE_INTELLIGENCE_UI_BEHAVIOUR,
                "conn-fields": USAGE_INTELLIGENCE_CONN_FIELDS,
            },
            {
                "hook-class-name": f"{PACKAGE}.hooks.fluid_topics.FluidTopicsHook",
                "hook-name": "Fluid Topics",
                "connection-type": "fluid_topics",
                "ui-field-behaviour": FLUID_TOPICS_UI_BEHAVIOUR,
                "conn-fields": FLUID_TOPICS_CONN_FIELDS,
            },
            {
                "hook-class-name": f"{PACKAGE}.hooks.fusionauth.FusionAuthHook",
                "hook-name": "FusionAuth",
                "connection-type": "fusionauth",
                "ui-field-behaviour": FUSIONAUTH_UI_BEHAVIOUR,
                "conn-fields": FUSIONAUTH_CONN_FIELDS,
            },
        ],
    }
