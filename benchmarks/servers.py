"""The two servers of a benchmark, each in its own process so their CPU and memory are not ours.

Also the emulator's entry point for that process (``python -m benchmarks.servers``): the
``usageintel-emulator`` CLI with the population size the client export scenario needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

LISTENING = "Usage Intelligence emulator listening on "
TODAY = "2024-03-15"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def emulator(days: int, file_size_kb: int, clients: int = 300, page_size: int = 200) -> Iterator[Emulator]:
    """An emulator process; its URL comes from the first line it prints."""
    args = ["--days", str(days), "--file-size-kb", str(file_size_kb), "--clients", str(clients)]
    args += ["--client-page-size", str(page_size)]
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.servers", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith(LISTENING):
            raise RuntimeError(f"emulator did not start: {line!r}")
        config = {"days": days, "file_size_kb": file_size_kb, "clients": clients, "product_id": "1234567890"}
        yield Emulator(line[len(LISTENING) :].strip(), config)
    finally:
        _stop(process)


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server process on a free loopback port; yields its endpoint URL.

    It runs as :mod:`benchmarks.moto_server`: moto without its per-object timestamp re-parsing.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="usageintel-moto-") as tmp:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_RECORDER_FILEPATH": os.path.join(tmp, "requests.jsonl")},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url)
            yield url
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


def _wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:  # not listening yet, or still importing
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


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
