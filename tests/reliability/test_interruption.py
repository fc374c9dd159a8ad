"""SIGTERM mid-transfer, and two runs of the same job at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from airflow_provider_usageintel.utils.s3_upload import MIN_PART_SIZE
from tests.reliability.helpers import DAYS, assert_archived_identically, daily_name, files_op, source_bytes

BIG = daily_name(DAYS[-1])
BIG_KEY = f"lake/1234567890/custom_events/daily/2024/03/{BIG}"
ROOT = Path(__file__).resolve().parents[2]

#: the task as Airflow's task runner runs it: SIGTERM calls on_kill() (and nothing else).
TASK = textwrap.dedent(
    """
    import signal, sys
    from tests.reliability.helpers import files_op

    class Bucket:
        bucket = sys.argv[1]

    op = files_op(Bucket)
    def on_term(signum, frame):
        print("SIGTERM: on_kill", flush=True)
        op.on_kill()

    signal.signal(signal.SIGTERM, on_term)
    print("result", op.execute({}))
    """
)


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll a condition (not a fixed sleep): the test goes on as soon as it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.reliability(
    "Interruption and concurrency",
    "SIGTERM while a multipart upload is in progress (task in its own process)",
    "upload aborted, no partial object ever visible; the next try completes the job",
)
def test_sigterm_mid_transfer_then_the_next_try_completes(ui_conn, usageintel_emulator, s3):
    usageintel_emulator.control.set_file_size(BIG, 3 * MIN_PART_SIZE + 777)
    # Hold the big download open once its multipart upload has begun, so the kill lands mid-upload.
    usageintel_emulator.control.add_fault(
        path="/_download/", kind="slow", after_bytes=2 * MIN_PART_SIZE + (1 << 20), delay_s=3, count=2
    )  # download URLs do not name the file: the small file takes (and never reaches) one of the two
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    task = subprocess.Popen(
        [sys.executable, "-c", TASK, s3.bucket],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: s3.multipart_uploads() != [] or task.poll() is not None, what="a multipart upload")
        assert task.poll() is None, task.communicate()
        assert BIG_KEY not in s3.list_keys()
        task.send_signal(signal.SIGTERM)
        out, err = task.communicate(timeout=60)
    finally:
        if task.poll() is None:
            task.kill()
    assert task.returncode != 0, (out, err)
    assert b"transfer cancelled" in out + err
    assert BIG_KEY not in s3.list_keys()
    assert s3.multipart_uploads() == []

    usageintel_emulator.control.reset()
    result = files_op(s3).execute({})  # the retry: only what is missing
    assert BIG in [t["file_name"] for t in result["transferred"]]
    assert result["files_transferred"] + result["files_skipped"] == len(DAYS)
    assert s3.read(BIG_KEY) == source_bytes(BIG)
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Interruption and concurrency",
    "Two runs of the same job at once (small and multipart files)",
    "same keys, byte-identical objects, no multipart leftovers",
)
def test_two_runs_at_once_never_corrupt_an_object(ui_conn, usageintel_emulator, s3):
    usageintel_emulator.control.set_file_size(BIG, 2 * MIN_PART_SIZE + 555)
    # Both runs stall half way through the big file, so their uploads overlap.
    usageintel_emulator.control.add_fault(
        path="/_download/", kind="slow", after_bytes=MIN_PART_SIZE, delay_s=1, count=2
    )
    results: list[dict] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        try:
            results.append(files_op(s3, replace=True).execute({}))
        except BaseException as exc:  # reported below, with the other run's outcome
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and len(results) == 2
    keys = [sorted(t["key"] for t in r["transferred"]) for r in results]
    assert keys[0] == keys[1] and len(keys[0]) == len(DAYS)
    assert {t["sha256"] for r in results for t in r["transferred"] if t["file_name"] == BIG} == {
        results[0]["transferred"][-1]["sha256"]
    }
    downloads = [r for r in usageintel_emulator.control.requests() if "getDownloadUrl" in r["path"]]
    assert len(downloads) == 2 * len(DAYS)  # both runs really did the work
    assert s3.list_keys() == keys[0]
    for result in results:
        assert_archived_identically(s3, result)
