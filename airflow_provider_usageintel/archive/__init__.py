"""Everything about the objects the provider writes to S3, in one place.

``layout`` names every key (data files, open files, indexes, manifests, reports and
exports) and checks prefixes and templates; ``lake_layout`` does the same for the
Parquet lake. ``index`` keeps re-runs cheap, ``upload`` streams an object that
appears only when complete, ``validation`` and ``errors`` check names and classify
S3 failures, ``ndjson`` and ``zipcheck`` shape and verify the bytes on their way,
and ``assets`` turns written keys into Airflow Asset events. None of them imports
boto3 at module level, so DAG files and operators may import them at parse time.
"""
