"""moto's S3 server for the benchmarks, without its dateutil cost per listed object.

moto keeps each object's ``LastModified`` as an ISO 8601 string and re-parses it
with ``dateutil`` every time it serialises a listing: 40% of its time to list 377
keys (profiled with py-spy). Real S3 has no such cost, and it is not the client's
to pay, so this process reads those strings with :func:`datetime.fromisoformat`
(other forms still go to botocore) and then runs moto's own server unchanged:
``python -m benchmarks.moto_server -H 127.0.0.1 -p PORT``.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from botocore.utils import parse_to_aware_datetime
from moto.core import serialize
from moto.server import main

from airflow_provider_usageintel.hooks.s3 import parse_s3_timestamp


def aware_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str) and value.endswith("Z"):
        return parse_s3_timestamp(value)
    parsed: dt.datetime = parse_to_aware_datetime(value)
    return parsed


if __name__ == "__main__":
    serialize.parse_to_aware_datetime = aware_datetime  # type: ignore[attr-defined]
    sys.exit(main())
