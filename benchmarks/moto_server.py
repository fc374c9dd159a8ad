"""moto's S3 server for the benchmarks, without its dateutil cost per listed object.

moto keeps each object's ``LastModified`` as an ISO 8601 string and re-parses it
with ``dateutil`` every time it serialises a listing: 40% of its time to list 377
keys (profiled with py-spy). Real S3 has no such cost, and it is not the client's
to pay, so this process reads those strings with :func:`datetime.fromisoformat`
(other forms still go to botocore) and then serves moto's own application
unchanged: ``python -m benchmarks.moto_server``.

It binds a free loopback port itself and, once it has answered a first request
(which builds moto's S3 application), prints its URL as the one line of its
standard output; everything else it writes (the request log) goes to standard
error. The caller waits for that line instead of polling a port it guessed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import sys
import threading
from typing import Any, TextIO

from benchmarks.servers import MOTO_LISTENING


def aware_datetime(value: Any) -> dt.datetime:
    """moto's timestamp parser: S3's own ``...Z`` form with :func:`datetime.fromisoformat`."""
    from botocore.utils import parse_to_aware_datetime

    from airflow_provider_usageintel.hooks.s3 import parse_s3_timestamp

    if isinstance(value, str) and value.endswith("Z"):
        return parse_s3_timestamp(value)
    parsed: dt.datetime = parse_to_aware_datetime(value)
    return parsed


def announce(host: str, port: int, out: TextIO) -> None:
    """Ask the server once (no deadline: a busy machine only delays the answer), then say where it is."""
    try:
        connection = http.client.HTTPConnection(host, port)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()
    except OSError as exc:
        print(f"moto S3 server did not answer its first request: {exc!r}", file=sys.stderr, flush=True)
        os._exit(1)
    print(f"{MOTO_LISTENING}http://{host}:{port}", file=out, flush=True)


def main() -> int:
    # The announcement keeps standard output; whatever else writes there (Airflow's logging
    # writes werkzeug's request log to it) goes to standard error.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    from moto.core import serialize
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    aware_datetime("2024-03-15T00:00:00.000Z")  # its imports (Airflow's among them) before the first listing
    serialize.parse_to_aware_datetime = aware_datetime  # type: ignore[attr-defined]
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto's own server sets it
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    os.environ["MOTO_PORT"] = str(port)  # moto's server sets it to the port it serves on
    threading.Thread(target=announce, args=(str(host), port, out), daemon=True).start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
