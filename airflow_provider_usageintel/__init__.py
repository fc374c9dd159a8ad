"""Apache Airflow provider for product-usage analytics: Revenera Usage Intelligence, Fluid Topics, FusionAuth."""

from airflow_provider_usageintel.version import __version__

__all__ = ["__version__"]
