"""The two servers of a benchmark, each in its own process so their CPU and memory are not ours.

Also the emulator's entry point for that process (``python -m benchmarks.servers``): the
``usageintel-emulator`` CLI with the population size the client export scenario needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

LISTENING = "Usage Intelligence emulator listening on "
MOTO_LISTENING = "moto S3 server listening on "
TODAY = "2024-03-15"
#: a server that has said nothing after this long is stuck, not slow: starting takes seconds
#: on an idle machine and a few times that on a loaded one.
START_TIMEOUT_S = 600.0


class ServerFailed(RuntimeError):
    """A benchmark server did not start."""


@dataclass(frozen=True)
class Emulator:
    url: str
    config: dict[str, Any]

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.url}/_emulator{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def network(self, settings: dict[str, float]) -> None:
        """The simulated network of later requests: ``latency_ms`` and ``download_mib_per_s``."""
        self.control("POST", "/latency", {"latency_ms": settings["latency_ms"]})
        self.control("POST", "/bandwidth", {"download_mib_per_s": settings["download_mib_per_s"]})

    def requests_log(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.control("GET", "/requests")
        return result

    def connection_json(self) -> str:
        from airflow_provider_usageintel.emulator.config import DEFAULT_ORIGIN, DEFAULT_PASSWORD, DEFAULT_USER

        return json.dumps(
            {
                "conn_type": "usage_intelligence",
                "host": self.url,
                "login": DEFAULT_USER,
                "password": DEFAULT_PASSWORD,
                "extra": {"origin": DEFAULT_ORIGIN, "product_id": self.config["product_id"]},
            }
        )


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _announced(process: subprocess.Popen[str], prefix: str, what: str, log: Path | None = None) -> str:
    """The rest of the first line ``process`` prints, which must start with ``prefix``.

    The server prints it once it listens, so there is nothing to poll and no port to guess;
    how long that takes depends on the machine's load, so only a stuck server times out.
    """
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if line.startswith(prefix):
        return line[len(prefix) :].strip()
    state = f"exited with {process.poll()}" if ready else f"said nothing in {START_TIMEOUT_S:.0f} s"
    output = _tail(log) if log is not None else ""
    raise ServerFailed(f"{what} did not start ({state}; first line {line!r}){output}")


def _tail(log: Path, lines: int = 20) -> str:
    text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []
    return "".join(f"\n  {line}" for line in text)


@contextmanager
def emulator(days: int, file_size_kb: int, clients: int = 300, page_size: int = 200) -> Iterator[Emulator]:
    """An emulator process; its URL comes from the first line it prints."""
    args = ["--days", str(days), "--file-size-kb", str(file_size_kb), "--clients", str(clients)]
    args += ["--client-page-size", str(page_size)]
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.servers", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        url = _announced(process, LISTENING, "the emulator")
        config = {"days": days, "file_size_kb": file_size_kb, "clients": clients, "product_id": "1234567890"}
        yield Emulator(url, config)
    finally:
        _stop(process)


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server process on a free loopback port; yields its endpoint URL.

    It runs as :mod:`benchmarks.moto_server`: moto without its per-object timestamp re-parsing.
    Its request log goes to a file, shown if it fails to start.
    """
    with tempfile.TemporaryDirectory(prefix="usageintel-moto-") as tmp:
        log = Path(tmp) / "moto.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.moto_server"],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "MOTO_RECORDER_FILEPATH": os.path.join(tmp, "requests.jsonl")},
            )
        try:
            yield _announced(process, MOTO_LISTENING, "moto's S3 server", log)
        finally:
            _stop(process)


def create_bucket(endpoint: str, bucket: str) -> None:
    """A bucket on the S3 server (moto takes unsigned requests)."""
    requests.put(f"{endpoint}/{bucket}", timeout=30).raise_for_status()


@contextmanager
def s3_requests(endpoint: str) -> Iterator[list[tuple[str, str]]]:
    """``(method, url)`` of every request the S3 server gets inside the block.

    Counted by the server (moto's request recorder), so that nothing is hooked
    into the client being measured. Fills the yielded list when the block ends.
    """
    recorder = f"{endpoint}/moto-api/recorder"
    requests.post(f"{recorder}/reset-recording", timeout=30).raise_for_status()
    requests.post(f"{recorder}/start-recording", timeout=30).raise_for_status()
    seen: list[tuple[str, str]] = []
    try:
        yield seen
    finally:
        requests.post(f"{recorder}/stop-recording", timeout=30).raise_for_status()
        recording = requests.get(f"{recorder}/download-recording", timeout=30)
        recording.raise_for_status()
        seen.extend((entry["method"], entry["url"]) for entry in map(json.loads, recording.text.splitlines()))


#: botocore's client config of every S3 contender. moto listens on plain HTTP, where botocore
#: SHA-256-hashes every request body for the signature; over HTTPS, as S3 is used in production,
#: it sends a checksum header instead and leaves the body unhashed. This makes HTTP behave the same.
S3_CLIENT_CONFIG = {"s3": {"payload_signing_enabled": False}}


def aws_connection_json(endpoint: str) -> str:
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1", "config_kwargs": S3_CLIENT_CONFIG}
    return json.dumps(
        {"conn_type": "aws", "login": "bench-access-key", "password": "bench-secret-key", "extra": extra}
    )


def child_env(emu: Emulator, s3_endpoint: str) -> dict[str, str]:
    """Environment of a scenario process: connections from env vars, no Airflow metadata DB needed."""
    env = dict(os.environ)
    env["AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"] = emu.connection_json()
    env["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection_json(s3_endpoint)
    env["BENCH_S3_ENDPOINT"] = s3_endpoint
    env["BENCH_EMULATOR_URL"] = emu.url
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.servers")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--file-size-kb", type=int, default=16)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--client-page-size", type=int, default=200)
    args = parser.parse_args(argv)
    from airflow_provider_usageintel.emulator.config import EmulatorConfig
    from airflow_provider_usageintel.emulator.server import EmulatorServer

    config = EmulatorConfig(
        days=args.days,
        file_size_kb=args.file_size_kb,
        clients_per_product=args.clients,
        client_page_size=args.client_page_size,
        today=dt.date.fromisoformat(TODAY),
    )
    server = EmulatorServer(config).start()
    print(f"{LISTENING}{server.url}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
