"""An independent reader of the lake (pyarrow's dataset API over moto's S3) and of the zips' CSVs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import zipfile
from typing import Any

from airflow_provider_usageintel.api.files import FileKind
from airflow_provider_usageintel.lake.schema import SCHEMAS, ColumnType, lake_name


def csv_rows(zip_bytes: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the zip's CSV member, read with the standard library."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".csv")]
        text = archive.read(name).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [row for row in reader if row]


def lake_dataset(s3: Any, table_prefix: str, partition_key: str = "date") -> Any:
    """The table under ``table_prefix`` through pyarrow's S3 filesystem and Hive partitioning."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    host = s3.endpoint_url.split("://", 1)[1]
    fs = pafs.S3FileSystem(
        endpoint_override=host, scheme="http", access_key="testing", secret_key="testing", region="us-east-1"
    )
    partitioning = ds.partitioning(
        pa.schema([("product_id", pa.string()), (partition_key, pa.string())]), flavor="hive"
    )
    return ds.dataset(
        f"{s3.bucket}/{table_prefix.strip('/')}", filesystem=fs, format="parquet", partitioning=partitioning
    )


def expected(kind: str, header: list[str], row: list[str]) -> dict[str, Any]:
    """What the lake must hold for one CSV row, computed without the lake's code paths."""
    types = {c.header: (c.name, c.type) for c in SCHEMAS[FileKind(kind)]}
    out: dict[str, Any] = {}
    for key, cell in zip(header, row, strict=True):
        name, kind_of = types.get(key, (lake_name(key), ColumnType.STRING))
        if cell == "" or (kind_of is not ColumnType.STRING and not cell.strip()):
            out[name] = None
        elif kind_of is ColumnType.TIMESTAMP:
            out[name] = dt.datetime.strptime(cell.strip(), "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=dt.timezone.utc
            )
        elif kind_of is ColumnType.INT64:
            out[name] = int(cell.strip())
        elif kind_of is ColumnType.DOUBLE:
            out[name] = float(cell.strip())
        else:
            out[name] = cell
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other):
                return False
        elif isinstance(value, dt.datetime) and isinstance(other, dt.datetime):
            if value.timestamp() != other.timestamp():
                return False
        elif value != other:
            return False
    return True
