"""Single source of the package version (read by hatchling and sent as ``RUI-Client-Version``)."""

__version__ = "0.1.0"
