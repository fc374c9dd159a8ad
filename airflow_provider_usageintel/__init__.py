"""Apache Airflow provider for product-usage analytics (Revenera Usage Intelligence and more)."""

from airflow_provider_usageintel.version import __version__

__all__ = ["__version__"]
