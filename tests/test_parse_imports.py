"""Parsing a DAG file that uses the provider loads neither boto3, the Amazon provider nor the emulator,
and no import of the provider's touches the network.

The scheduler's DAG processor re-imports DAG files all day, so what they import at
module level is paid on every parse. boto3 and the Amazon provider's S3 hook load
inside ``execute`` (about 0.4 s otherwise); the emulator and its web stack only in
tests and the demo; pyarrow only when the lake writes a partition. The checks run in
one fresh interpreter, since this test process has long imported all of them.

Airflow itself imports ``airflow.providers.amazon`` (the package and its
``get_provider_info``) when its providers manager reads every installed provider's
metadata, and the same of the OpenLineage provider; nothing else of them may be loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_usageintel.get_provider_info import get_provider_info

DAGS_EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
HEAVY = (
    "boto3",
    "botocore",
    "airflow.providers.amazon",
    "airflow_provider_usageintel.emulator",
    "fastapi",
    "uvicorn",
    "pyarrow",
    "pandas",
    "openlineage",  # lineage is reported after execute, and only when the provider is installed
    "airflow.providers.openlineage",
)
#: what the lake's operators import at parse time besides the public modules: pyarrow (and pandas,
#: which the provider never imports) load only when a partition is written.
LAKE_INTERNALS = (
    "airflow_provider_usageintel.archive.lake_layout",
    "airflow_provider_usageintel.lake.schema",
)
S3_HOOK = "airflow_provider_usageintel.hooks.s3"
#: heavy, but it too must import without touching the network.
EMULATOR = "airflow_provider_usageintel.emulator"
#: what Airflow's providers manager loads of every installed provider: its metadata only.
PROVIDER_METADATA = {
    f"airflow.providers.{name}{module}"
    for name in ("amazon", "openlineage")
    for module in ("", ".get_provider_info")
}

PROBE = """
import importlib, importlib.util, json, socket, sys
heavy = json.loads(sys.stdin.read())

def refuse(*args, **kwargs):
    raise AssertionError("network used at import time")

socket.socket.connect = refuse
socket.create_connection = refuse

def loaded():
    return {m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)}

found = {}
for number, target in enumerate(sys.argv[1:]):
    before = loaded()
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location(f"dag_file_{number}", target)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    else:
        importlib.import_module(target)
    found[target] = sorted(loaded() - before)
print(json.dumps(found))
"""


def heavy_modules_after_importing(*targets: str) -> dict[str, set[str]]:
    """For each target in turn, the heavy modules its import added (one interpreter for all, where
    opening a connection fails the import)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *targets],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {target: set(modules) - PROVIDER_METADATA for target, modules in found.items()}


def public_modules() -> list[str]:
    info = get_provider_info()
    modules = [
        module
        for group in ("hooks", "operators", "sensors", "triggers")
        for item in info[group]
        for module in item["python-modules"]
    ]
    return modules + [item["python-module"] for item in info["transfers"]]


def dag_files() -> list[str]:
    return sorted(str(path) for path in DAGS_EXAMPLES.glob("*.py"))


@pytest.fixture(scope="module")
def probed() -> dict[str, set[str]]:
    """Every check's imports in one interpreter (its start is most of the cost). The S3 hook and
    the emulator come last: they load what the others must not."""
    return heavy_modules_after_importing(*dag_files(), *public_modules(), *LAKE_INTERNALS, S3_HOOK, EMULATOR)


def test_parsing_the_example_dags_and_importing_the_public_modules_loads_nothing_heavy(probed):
    light = [*dag_files(), *public_modules(), *LAKE_INTERNALS]
    assert set(probed) == {*light, S3_HOOK, EMULATOR}  # and none of them touched the network
    assert {target: probed[target] for target in light if probed[target]} == {}


def test_the_probe_sees_a_heavy_import(probed):
    """The check above would notice: importing the S3 hook module loads boto3 and the provider."""
    assert {"boto3", "botocore", "airflow.providers.amazon.aws.hooks.s3"} <= probed[S3_HOOK]
