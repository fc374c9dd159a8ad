"""A queryable Parquet lake beside the archive of vendor zips.

``schema`` (and the lake's key layout, ``archive/lake_layout.py``, owned by the
archive layer with every other key) are plain data and import nothing heavy, so DAG
files, operators and the docs generator may import them at parse time; ``writer``,
``convert``, ``reader`` and ``glue`` import pyarrow or boto3 and are only
imported inside ``execute``.
"""
