"""A queryable Parquet lake beside the archive of vendor zips.

``schema`` and ``layout`` are plain data and import nothing heavy, so DAG files,
operators and the docs generator may import them at parse time; ``writer``,
``convert``, ``reader`` and ``glue`` import pyarrow or boto3 and are only
imported inside ``execute``.
"""
