"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_usageintel.connection_fields import CONNECTION_TYPES
from airflow_provider_usageintel.version import __version__

PACKAGE = "airflow_provider_usageintel"


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
        # form fields and behaviour are derived from connection_fields.py, like the hooks and the docs
        "connection-types": [ctype.provider_info() for ctype in CONNECTION_TYPES],
    }
