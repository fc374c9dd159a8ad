"""Scenario 6: what importing the provider costs a DAG parse, beside the Amazon provider's HttpToS3Operator.

Each sample is a fresh interpreter that imports ``airflow.sdk`` and then, timed, the
contender's modules: ours are every public module the provider info declares (hooks,
operators, sensor, trigger, transfers), theirs is
``airflow.providers.amazon.aws.transfers.http_to_s3``. The contenders alternate and
the median of :data:`SAMPLES` counts, so both sides see the same machine load.
``python -m benchmarks.imports`` runs this scenario alone.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Any

from airflow_provider_usageintel.get_provider_info import get_provider_info

SAMPLES = 5
THEIRS = ("airflow.providers.amazon.aws.transfers.http_to_s3",)
#: modules a DAG parse must not pay for (see tests/test_parse_imports.py).
HEAVY = ("boto3", "botocore", "airflow_provider_usageintel.emulator", "fastapi", "uvicorn", "openlineage")

TIMED_IMPORT = """
import importlib, json, sys, time
import airflow.sdk
before = set(sys.modules)
started = time.perf_counter()
for name in sys.argv[1:]:
    importlib.import_module(name)
seconds = time.perf_counter() - started
added = set(sys.modules) - before
heavy = sorted({h for h in json.loads(sys.stdin.read()) for m in added if m == h or m.startswith(h + ".")})
print(json.dumps({"seconds": seconds, "modules": len(added), "heavy": heavy}))
"""


def ours() -> tuple[str, ...]:
    info = get_provider_info()
    modules = [
        module
        for group in ("hooks", "operators", "sensors", "triggers")
        for item in info[group]
        for module in item["python-modules"]
    ]
    return (*modules, *(item["python-module"] for item in info["transfers"]))


def sample(modules: tuple[str, ...]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT, *modules],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {modules} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(samples: int = SAMPLES) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "http_to_s3": []}
    for _ in range(samples):
        runs["ours"].append(sample(ours()))
        runs["http_to_s3"].append(sample(THEIRS))
    out = {}
    for name, results in runs.items():
        seconds = [round(r["seconds"], 3) for r in results]
        out[name] = {
            "seconds": statistics.median(seconds),
            "all_seconds": seconds,
            "modules": results[0]["modules"],
            "heavy": results[0]["heavy"],
        }
    print(f"  imports: {json.dumps(out)}", flush=True)
    return out


def passed(r: dict[str, Any]) -> bool:
    return bool(r["ours"]["seconds"] < r["http_to_s3"]["seconds"] and not r["ours"]["heavy"])


def describe(r: dict[str, Any]) -> tuple[str, str, str]:
    """Baseline, ours and ratio cells of the report row."""
    mine, theirs = r["ours"], r["http_to_s3"]
    baseline = f"{theirs['seconds']:.2f} (HttpToS3Operator, {theirs['modules']} modules)"
    loaded = f"; loads {', '.join(mine['heavy'])}" if mine["heavy"] else ""
    ours_cell = f"{mine['seconds']:.2f} ({len(ours())} public modules, {mine['modules']} modules{loaded})"
    return baseline, ours_cell, f"{mine['seconds'] / theirs['seconds']:.2f}"


def main() -> int:
    result = measure()
    baseline, mine, ratio = describe(result)
    verdict = "pass" if passed(result) else "FAIL"
    print(
        f"6. import cost over airflow.sdk, median of {SAMPLES} (s): {mine} vs {baseline}; {ratio}; {verdict}"
    )
    return 0 if passed(result) else 1


if __name__ == "__main__":
    sys.exit(main())
