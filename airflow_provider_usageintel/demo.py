"""``make demo``: run the example DAGs with real Airflow, entirely on loopback.

Starts the Usage Intelligence emulator and moto's S3 server on free loopback ports,
creates a throw-away ``AIRFLOW_HOME`` (SQLite), points the ``usage_intelligence_default``
and ``aws_default`` connections at the two servers through ``AIRFLOW_CONN_*`` variables,
then runs ``airflow dags test`` for the daily archive and the weekly reports of
``dags_examples/``. Finally it reads every object back from S3, checks its SHA-256
against the checksum in its metadata and prints what landed and where the logs are.
Everything it starts is stopped before it returns, on errors and Ctrl-C too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_usageintel.archive.index import ArchiveIndex
from airflow_provider_usageintel.archive.layout import is_index_key
from airflow_provider_usageintel.emulator import EmulatorConfig, EmulatorServer

BUCKET = "usage-archive"
PREFIX = "usageintel"
DAGS_EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
#: the emulator's simulated today: yesterday's files are final, last week's reports complete.
DEMO_TODAY = dt.date(2024, 3, 15)
#: (DAG id, logical date): a daily run is due at the end of its day, so 2024-03-15 archives
#: 2024-03-14; the weekly run due on Sunday 2024-03-10 reports on 3 to 9 March.
RUNS = (("usageintel_daily_archive", "2024-03-15"), ("usageintel_weekly_reports", "2024-03-10"))
#: generous bounds for a 2-core machine; a hung child is killed, never left behind.
MIGRATE_TIMEOUT = 300
DAG_TEST_TIMEOUT = 300


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its output is."""


@dataclass
class Landed:
    key: str
    size: int
    sha256: str
    verified: bool | None  # None: the object carries no checksum to compare with


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def aws_connection(s3_endpoint: str) -> str:
    """``aws_default`` for moto: dummy keys, as moto accepts any."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "demo-access-key",
            "password": "demo-secret-key",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }
    )


def airflow_env(home: Path, emulator: EmulatorServer, s3_endpoint: str) -> dict[str, str]:
    """The environment of every ``airflow`` child: its own home, the examples and two connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_EXAMPLES),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # As a URI: Airflow 3.3 warns about the '_' of a JSON connection's type on every lookup
        # (see docs/connections.md); a connection read from its URI spelling does not.
        AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT=emulator.connection_uri(),
        AIRFLOW_CONN_AWS_DEFAULT=aws_connection(s3_endpoint),
        AIRFLOW_VAR_USAGEINTEL_BUCKET=BUCKET,
        AIRFLOW_VAR_USAGEINTEL_PREFIX=PREFIX,
    )
    return env


def airflow_command() -> list[str]:
    """The ``airflow`` script of this interpreter's environment, so the venv need not be activated."""
    script = Path(sys.executable).with_name("airflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def run_airflow(args: list[str], env: dict[str, str], output: Path, timeout: float) -> float:
    """Run one ``airflow`` command into ``output``; its whole process group is stopped on any exit."""
    started = time.monotonic()
    with output.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter's airflow, fixed arguments
            [*airflow_command(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout)
        except BaseException:  # timeout, Ctrl-C or SIGTERM: take the child and its children down
            _stop_group(proc)
            raise
    if code != 0:
        raise DemoError(f"`airflow {' '.join(args)}` exited with {code}; see {output}")
    return time.monotonic() - started


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def check_dag_run(output: Path, dag_id: str) -> None:
    """``airflow dags test`` may exit 0 when a task fails: read the run's final state from its output."""
    finished = re.findall(
        rf"DagRun Finished: dag_id={re.escape(dag_id)},.*?, state=(\w+)", output.read_text()
    )
    if finished[-1:] != ["success"]:
        state = finished[-1] if finished else "unknown"
        raise DemoError(f"{dag_id} finished in state {state}; see {output}")


def run_dags(env: dict[str, str], home: Path) -> None:
    out_dir = home / "output"
    out_dir.mkdir()
    print("airflow db migrate ...", end=" ", flush=True)
    print(f"{run_airflow(['db', 'migrate'], env, out_dir / 'db-migrate.log', MIGRATE_TIMEOUT):.1f} s")
    for dag_id, logical_date in RUNS:
        print(f"airflow dags test {dag_id} {logical_date} ...", end=" ", flush=True)
        output = out_dir / f"{dag_id}.log"
        seconds = run_airflow(["dags", "test", dag_id, logical_date], env, output, DAG_TEST_TIMEOUT)
        check_dag_run(output, dag_id)
        print(f"success, {seconds:.1f} s")


def verify(s3: Any) -> list[Landed]:
    """Read every object back and compare its SHA-256 with its metadata's or the archive index's."""
    landed = []
    items = [
        i for p in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for i in p.get("Contents", [])
    ]
    indexed = _indexed_checksums(s3, [i["Key"] for i in items if is_index_key(i["Key"])])
    for item in items:
        obj = s3.get_object(Bucket=BUCKET, Key=item["Key"])
        digest = hashlib.sha256()
        for chunk in obj["Body"].iter_chunks(1024 * 1024):
            digest.update(chunk)
        expected = obj["Metadata"].get("sha256") or indexed.get(item["Key"])
        verified = None if expected is None else expected == digest.hexdigest()
        landed.append(Landed(item["Key"], item["Size"], digest.hexdigest(), verified))
    return landed


def _indexed_checksums(s3: Any, index_keys: list[str]) -> dict[str, str]:
    """Key to SHA-256 from the archive indexes: where objects of several parts keep theirs."""
    found: dict[str, str] = {}
    for key in index_keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        entries = json.loads(body).get(ArchiveIndex.section, {})
        found.update({k: v["sha256"] for k, v in entries.items() if v.get("sha256")})
    return found


def print_table(landed: list[Landed]) -> None:
    width = max(len(item.key) for item in landed)
    print(f"\n{'key':<{width}}  {'bytes':>9}  sha256 (verified)")
    marks = {True: "ok", False: "MISMATCH", None: "no checksum"}
    for item in landed:
        print(f"{item.key:<{width}}  {item.size:>9}  {item.sha256[:16]}... {marks[item.verified]}")


def print_logs(home: Path) -> None:
    """``airflow dags test`` runs every task in its own process and logs them all to its output."""
    print(f"\nAirflow home (SQLite database, config): {home}")
    print("Task logs (output of each airflow command):")
    for log in sorted((home / "output").glob("*.log")):
        print(f"  {log}")


def demo(home: Path) -> list[Landed]:
    config = EmulatorConfig(today=DEMO_TODAY)
    with EmulatorServer(config) as emulator, s3_server() as s3_endpoint:
        print(f"Usage Intelligence emulator: {emulator.url} (today {DEMO_TODAY})")
        print(f"S3 stand-in (moto):          {s3_endpoint}")
        # A plain boto3 client, not the provider's ArchiveS3Hook: this process only starts the
        # servers and checks the result. Airflow runs in the `airflow` children, and aws_default
        # exists only in their environment; importing Airflow here would create ~/airflow for
        # nothing. And what landed is read back by code independent of the S3 hook on show.
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="demo-access-key",
            aws_secret_access_key="demo-secret-key",  # noqa: S106 - moto accepts any key
        )
        s3.create_bucket(Bucket=BUCKET)
        run_dags(airflow_env(home, emulator, s3_endpoint), home)
        return verify(s3)


def main() -> int:
    if not DAGS_EXAMPLES.is_dir():
        print(f"{DAGS_EXAMPLES} not found: run the demo from a clone of the repository", file=sys.stderr)
        return 2
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    home = Path(tempfile.mkdtemp(prefix="usageintel-demo-"))
    started = time.monotonic()
    try:
        landed = demo(home)
    except DemoError as exc:
        print(f"\nDemo failed: {exc}", file=sys.stderr)
        print_logs(home)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; everything the demo started has been stopped.", file=sys.stderr)
        return 130
    if not landed:
        print("\nNothing landed in S3.", file=sys.stderr)
        return 1
    print_table(landed)
    print_logs(home)
    good = sum(1 for item in landed if item.verified)
    total = sum(item.size for item in landed)
    print(
        f"\n{len(landed)} objects, {total} bytes in s3://{BUCKET}/ in {time.monotonic() - started:.1f} s; "
        f"{good}/{len(landed)} verified by SHA-256"
    )
    return 0 if good == len(landed) else 1


if __name__ == "__main__":
    sys.exit(main())
