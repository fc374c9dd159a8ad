"""``usageintel-emulator``: serve the emulated API in the foreground, for demos and manual testing.

The first line on stdout is exactly ``Usage Intelligence emulator listening on
<url>`` (flushed at once), so scripts can start the process and read the port;
the next lines give the credentials of each emulated API (Usage Intelligence,
Fluid Topics, FusionAuth).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from airflow_provider_usageintel.emulator.config import (
    DEFAULT_ORIGIN,
    DEFAULT_PASSWORD,
    DEFAULT_PRODUCT_ID,
    DEFAULT_USER,
    EmulatorConfig,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usageintel-emulator",
        description="Offline emulator of the Revenera Usage Intelligence Reporting API v3.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument(
        "--product-id", dest="product_ids", action="append", help=f"repeatable (default {DEFAULT_PRODUCT_ID})"
    )
    parser.add_argument("--days", type=int, default=60, help="days of history (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--file-size-kb", type=int, default=16, help="approximate size of each zip file")
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="simulated date, YYYY-MM-DD (default: UTC today)"
    )
    parser.add_argument("--origin", default=DEFAULT_ORIGIN, help="Origin header the API insists on")
    parser.add_argument("--session-idle-seconds", type=float, default=1800.0)
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="simulated network latency before every API answer and download (default 0)",
    )
    parser.add_argument(
        "--download-mib-per-s",
        type=float,
        default=0,
        help="simulated bandwidth of each file download in MiB/s (default 0: unlimited)",
    )
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    args = _parser().parse_args(argv)
    settings = {
        "host": args.host,
        "port": args.port,
        "user": args.user,
        "password": args.password,
        "product_ids": args.product_ids or [DEFAULT_PRODUCT_ID],
        "days": args.days,
        "seed": args.seed,
        "file_size_kb": args.file_size_kb,
        "origin": args.origin,
        "session_idle_seconds": args.session_idle_seconds,
        "latency_ms": args.latency_ms,
        "download_mib_per_s": args.download_mib_per_s,
    }
    if args.today is not None:
        settings["today"] = args.today
    return EmulatorConfig(**settings)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = config_from_args(argv)
    except ValueError as exc:
        print(f"usageintel-emulator: {exc}", file=sys.stderr)
        return 2
    from airflow_provider_usageintel.emulator.server import EmulatorServer

    server = EmulatorServer(config).start()
    for line in server.banner():
        print(line, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
