"""One benchmark scenario in a fresh process: ``python -m benchmarks.scenario NAME JSON_ARGS``.

Prints one JSON line with the figures. Memory is the peak RSS growth over the
RSS measured right before the measured work starts (imports, connections and
a warm-up are done before), so Airflow's ~200 MB baseline is not counted.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

BUCKET = "bench"
KIND = "custom_events"
CHUNK = 1024 * 1024
MIB = 1024 * 1024
READY = "ready"


# -- memory and time ---------------------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measured(work: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """Run ``work``; return its result with wall and CPU seconds and peak RSS growth in MiB."""
    before_kb = _status_kb("VmRSS")
    reset = _reset_peak()
    cpu = time.process_time()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    peak_kb = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"seconds": seconds, "cpu_seconds": cpu_seconds, "rss_growth_mib": (peak_kb - before_kb) / 1024}
    return result, figures


# -- helpers -----------------------------------------------------------------------------------


def _hook() -> Any:
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

    return UsageIntelligenceHook()


def _s3_client() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook().get_conn()


def _ensure_bucket() -> None:
    client = _s3_client()
    if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=BUCKET)


def _files_operator(task_id: str, **kwargs: Any) -> Any:
    from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator

    kwargs.setdefault("file_kind", KIND)
    kwargs.setdefault("progress_interval", 3600.0)
    return UsageIntelligenceFilesToS3Operator(task_id=task_id, s3_bucket=BUCKET, asset_alias=None, **kwargs)


def _transfer_operator(file_name: str, prefix: str) -> Any:
    """The operator with its S3 client created and its API session logged in (a constant cost)."""
    operator = _files_operator("one", file_names=[file_name], s3_prefix=prefix, replace=True)
    operator.destination.hook.get_conn().list_buckets()
    operator.hook.login()
    return operator


def _transfer(file_name: str, prefix: str) -> dict[str, Any]:
    manifest: dict[str, Any] = _transfer_operator(file_name, prefix).execute({})
    return manifest


def _fetch(url: str, sink: Any) -> int:
    size = 0
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_content(CHUNK):
            sink.write(chunk)
            size += len(chunk)
    return size


# -- scenarios ---------------------------------------------------------------------------------


def ours(file_name: str, warmup: str) -> dict[str, Any]:
    """UsageIntelligenceFilesToS3Operator for one file, after a warm-up transfer of a small one."""
    _ensure_bucket()
    _transfer(warmup, "warmup/ours")
    operator = _transfer_operator(file_name, "ours")
    manifest, figures = measured(lambda: operator.execute({}))
    return {**figures, "bytes": manifest["bytes"], "files": manifest["files_transferred"]}


def http_to_s3(file_name: str, warmup: str) -> dict[str, Any]:
    """The Amazon provider's HttpToS3Operator on a fresh signed URL of the same file."""
    _ensure_bucket()
    hook = _hook()
    _http_to_s3(hook, warmup, "warmup/http").execute({})
    operator = _http_to_s3(hook, file_name, "http")
    _, figures = measured(lambda: operator.execute({}))
    size = _s3_client().head_object(Bucket=BUCKET, Key=operator.s3_key)["ContentLength"]
    return {**figures, "bytes": size}


def _http_to_s3(hook: Any, file_name: str, prefix: str) -> Any:
    """HttpToS3Operator on a fresh signed URL, its HTTP session and S3 client created."""
    from airflow.providers.amazon.aws.transfers.http_to_s3 import HttpToS3Operator

    url = urlsplit(hook.get_download_url(KIND, file_name))
    conn = {"conn_type": "http", "host": url.hostname, "port": url.port, "schema": url.scheme}
    os.environ["AIRFLOW_CONN_BENCH_HTTP"] = json.dumps(conn)
    operator = HttpToS3Operator(
        task_id="http",
        http_conn_id="bench_http",
        endpoint=f"{url.path}?{url.query}",
        s3_bucket=BUCKET,
        s3_key=f"{prefix}/{file_name}",
        replace=True,
    )
    operator.s3_hook.get_conn().list_buckets()
    operator.http_hook.get_conn()
    return operator


def naive(file_name: str, local_path: str) -> dict[str, Any]:
    """Download to local disk with requests, then S3Hook.load_file; the file is kept for upload_file."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    _ensure_bucket()
    url = _hook().get_download_url(KIND, file_name)
    s3 = S3Hook()
    s3.get_conn()

    def work() -> int:
        with open(local_path, "wb") as sink:
            size = _fetch(url, sink)
        s3.load_file(local_path, f"naive/{file_name}", BUCKET, replace=True)
        return size

    size, figures = measured(work)
    return {**figures, "bytes": size}


def pipe_download(file_name: str) -> dict[str, Any]:
    """The emulator's signed URL read to /dev/null: the download half of the pipe."""
    url = _hook().get_download_url(KIND, file_name)
    with open(os.devnull, "wb") as sink:
        size, figures = measured(lambda: _fetch(url, sink))
    return {**figures, "bytes": size}


def pipe_upload(local_path: str) -> dict[str, Any]:
    """boto3 upload_file of the same bytes from local disk: the upload half of the pipe."""
    import boto3
    from botocore.config import Config

    from benchmarks.servers import S3_CLIENT_CONFIG

    _ensure_bucket()
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["BENCH_S3_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto accepts any credentials
        config=Config(**S3_CLIENT_CONFIG),
    )
    _, figures = measured(lambda: client.upload_file(local_path, BUCKET, "pipe/upload"))
    return {**figures, "bytes": os.path.getsize(local_path)}


def many(concurrency: int, since: str, until: str) -> dict[str, Any]:
    """Small files, ``concurrency`` at a time."""
    _ensure_bucket()
    _transfer_first_of(since)
    operator = _files_operator(
        f"many{concurrency}",
        since=since,
        until=until,
        max_concurrency=concurrency,
        s3_prefix=f"many{concurrency}",
        replace=True,
    )
    manifest, figures = measured(lambda: operator.execute({}))
    return {**figures, "files": manifest["files_transferred"], "bytes": manifest["bytes"]}


def _transfer_first_of(day: str) -> None:
    """Warm-up: imports, login and clients, on a file outside the measured prefix."""
    _files_operator("warmup", since=day, until=day, s3_prefix="warmup/many", replace=True).execute({})


def history(kind: str, concurrency: int) -> dict[str, Any]:
    """One kind's whole history, as one Airflow task runs it: in a process of its own.

    The measured time covers ``execute`` with everything it creates (API login, S3
    client), not the interpreter's start and imports, which are Airflow's, not ours.
    Nothing is hooked into the client: S3 calls are counted by the S3 server, and
    the bucket is the caller's to create, so the process makes no S3 request of its
    own before ``execute`` (a client made and dropped warms the imports).
    The process says ``ready`` and waits for a line on stdin, so the caller can start
    several tasks at the same moment, as an executor does with independent tasks.
    """
    _s3_client()
    operator = _files_operator(
        f"history_{kind}",
        file_kind=kind,
        frequency="daily" if kind == "raw_events" else ["daily", "monthly"],  # raw: daily only
        max_concurrency=concurrency,
        s3_prefix="history",
    )
    print(READY, flush=True)
    sys.stdin.readline()
    started = time.time()
    manifest, figures = measured(lambda: operator.execute({}))
    return {
        "started": started,
        "ended": time.time(),
        "seconds": figures["seconds"],
        "transferred": manifest["files_transferred"],
        "skipped": manifest["files_skipped"],
    }


def clients(count: int, profile: bool = False) -> dict[str, Any]:
    """Every client's properties into gzipped NDJSON in S3."""
    from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
        UsageIntelligenceClientPropertiesToS3Operator,
    )

    _ensure_bucket()
    request = {"properties": ["prodVersion", "prodEdition", "ram", "geography.country"]}

    def operator(key: str) -> Any:
        return UsageIntelligenceClientPropertiesToS3Operator(
            task_id="clients",
            request=request,
            s3_bucket=BUCKET,
            s3_key=key,
            asset_alias=None,
            progress_interval=3600.0,
        )

    warm = operator("warmup/clients.ndjson.gz")
    warm.hook.login()
    warm.destination.hook.get_conn().list_buckets()
    summary, figures = measured(lambda: operator("clients/clients.ndjson.gz").execute({}))
    result = {**figures, "rows": summary["rows"], "bytes": summary["bytes"]}
    if profile:
        result["profile"] = _profile(lambda: operator("profile/clients.ndjson.gz").execute({}))
    return result


# -- the Parquet lake ---------------------------------------------------------------------------

LAKE_ARCHIVE = "lake-archive"


def lake_prepare(file_names: list[str]) -> dict[str, Any]:
    """Archive the files the lake scenarios read (not measured)."""
    _ensure_bucket()
    operator = _files_operator("archive", file_names=file_names, s3_prefix=LAKE_ARCHIVE, max_concurrency=2)
    manifest = operator.execute({})
    return {"files": manifest["files_transferred"] + manifest["files_skipped"]}


def _archived(file_name: str) -> tuple[Any, Any]:
    """The archived zip as a lake source, and the S3 hook."""
    from airflow_provider_usageintel.api.files import FileRecord
    from airflow_provider_usageintel.archive.layout import object_key
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook
    from airflow_provider_usageintel.lake.writer import SourceFile

    s3 = ArchiveS3Hook(caller="bench")
    pid, _, day = file_name.removesuffix(".zip").split("_")
    key = object_key(FileRecord(KIND, "daily", file_name, day, day), pid, LAKE_ARCHIVE)
    head = s3.head(BUCKET, key)
    source = SourceFile(key, head.size, head.etag, KIND, "daily", pid, file_name, day, day)
    return source, s3


def lake(file_name: str, warmup: str) -> dict[str, Any]:
    """One archived zip into its Parquet partition with the lake writer, after a warm-up on a small one."""
    from airflow_provider_usageintel.lake.writer import PartitionWriter

    warm_source, s3 = _archived(warmup)
    writer = PartitionWriter(s3, BUCKET, BUCKET, "lake")
    writer.write(warm_source)
    source, _ = _archived(file_name)
    manifest, figures = measured(lambda: writer.write(source))
    rows = manifest["rows"]
    return {
        **figures,
        "rows": rows["csv"],
        "rows_per_s": rows["csv"] / figures["seconds"],
        "rows_per_cpu_s": rows["csv"] / figures["cpu_seconds"],
        "rejected": rows["rejected"],
        "zip_bytes": source.size,
        "parquet_bytes": manifest["parquet"]["bytes"],
        "row_groups": manifest["parquet"]["row_groups"],
    }


def lake_naive(file_name: str, local_dir: str) -> dict[str, Any]:
    """The naive path: download the zip, pandas ``read_csv`` of the whole file, ``to_parquet``, upload.

    ``low_memory=False``: with the default, pandas infers each chunk's types on its own, and a
    column typed differently in two chunks (``eventValue``: numbers, then blanks) makes
    ``to_parquet`` fail on the 1 GiB file.
    """
    import pandas as pd

    source, s3 = _archived(file_name)
    client = s3.get_conn()  # the baseline is boto3's own managed transfers
    zip_path = Path(local_dir) / file_name
    parquet_path = zip_path.with_suffix(".parquet")

    def work() -> int:
        client.download_file(BUCKET, source.key, str(zip_path))
        frame = pd.read_csv(zip_path, compression="zip", low_memory=False)
        frame.to_parquet(parquet_path, index=False)
        client.upload_file(str(parquet_path), BUCKET, f"naive-lake/{parquet_path.name}")
        return len(frame)

    try:
        rows, figures = measured(work)
    finally:
        zip_path.unlink(missing_ok=True)
        parquet_path.unlink(missing_ok=True)
    return {
        **figures,
        "rows": rows,
        "rows_per_s": rows / figures["seconds"],
        "rows_per_cpu_s": rows / figures["cpu_seconds"],
        "zip_bytes": source.size,
    }


def _profile(work: Callable[[], Any]) -> str:
    """pyinstrument's text report of one more run, when pyinstrument is installed."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed"
    profiler = Profiler(interval=0.005)
    profiler.start()
    work()
    profiler.stop()
    return str(profiler.output_text(unicode=False, color=False, show_all=False))


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "ours": ours,
    "http_to_s3": http_to_s3,
    "naive": naive,
    "pipe_download": pipe_download,
    "pipe_upload": pipe_upload,
    "many": many,
    "history": history,
    "clients": clients,
    "lake_prepare": lake_prepare,
    "lake": lake,
    "lake_naive": lake_naive,
}


def main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    tempfile.tempdir = os.environ.get("BENCH_TMP") or None
    result = SCENARIOS[name](**args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
