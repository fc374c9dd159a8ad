"""SIGTERM and SIGKILL mid-transfer, the leftovers a killed run leaves, and two runs of one job at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from airflow_provider_usageintel.archive.layout import file_key_space
from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE, abort_stale_uploads
from tests.reliability.helpers import (
    DAYS,
    assert_archived_identically,
    clients_op,
    daily_name,
    files_op,
    source_bytes,
    wait_for,
)

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


#: the DAG run as ``dag.test()`` runs it, task runner and all, in its own process.
DAG_RUN = textwrap.dedent(
    """
    import sys
    from tests.airflow_utils import run_dag, task_states

    dagrun = run_dag("test_reliability_sigterm", run_conf={"bucket": sys.argv[1]})
    print("run finished:", dagrun.state, task_states(dagrun), flush=True)
    """
)


def hold_the_big_download(emulator, delay_s: float) -> None:
    """The big file needs a multipart upload; its download pauses once that upload has begun."""
    emulator.control.set_file_size(BIG, 3 * MIN_PART_SIZE + 777)
    emulator.control.add_fault(
        path="/_download/", kind="slow", after_bytes=2 * MIN_PART_SIZE + (1 << 20), delay_s=delay_s, count=2
    )  # download URLs do not name the file: the small file takes (and never reaches) one of the two


def spawn(script: str, *args: str) -> subprocess.Popen[bytes]:
    """``script`` in a new interpreter, with this process's Airflow home (and so its metadata database).

    Not the environment's: a test module importing ``tests.conftest`` runs it a second time,
    which points ``AIRFLOW_HOME`` at a new directory after Airflow has loaded the first one.
    """
    from airflow.configuration import AIRFLOW_HOME

    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW_HOME": AIRFLOW_HOME}
    command = [sys.executable, "-c", script, *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.reliability(
    "Interruption and concurrency",
    "SIGTERM while a multipart upload is in progress (task in its own process)",
    "upload aborted, no partial object ever visible; the next try completes the job",
)
def test_sigterm_mid_transfer_then_the_next_try_completes(ui_conn, usageintel_emulator, s3):
    hold_the_big_download(usageintel_emulator, delay_s=3)
    task = spawn(TASK, s3.bucket)
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
            # moto dates every upload to one fixed moment, long past: no clean-up beside a live run here
            results.append(files_op(s3, replace=True, abort_uploads_older_than=None).execute({}))
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


@pytest.mark.reliability(
    "Interruption and concurrency",
    "SIGTERM through Airflow's task runner (a dag.test() run in its own process) mid multipart upload",
    "on_kill() aborts the upload; the task fails with 'transfer cancelled'; nothing partial; retry completes",
)
def test_sigterm_through_the_task_runner(airflow_db, ui_conn, usageintel_emulator, s3):
    hold_the_big_download(usageintel_emulator, delay_s=3)
    run = spawn(DAG_RUN, s3.bucket)
    try:
        wait_for(lambda: s3.multipart_uploads() or run.poll() is not None, 120, "a multipart upload")
        assert run.poll() is None, run.communicate()[1].decode(errors="replace")[-3000:]
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    text = (out + err).decode(errors="replace")
    assert "transfer cancelled" in text
    assert "run finished: failed {'files': 'failed'}" in text, text[-3000:]
    assert BIG_KEY not in s3.list_keys()
    assert s3.multipart_uploads() == []

    usageintel_emulator.control.reset()
    result = files_op(s3).execute({})
    assert BIG in [t["file_name"] for t in result["transferred"]]
    assert_archived_identically(s3, result)


#: uploads of others, under and beside the task's prefix: never the task's to abort.
FOREIGN = ["other/1234567890_cust_2024-03-14.zip", "lake/1234567890/exceptions/daily/2024/03/x.zip"]


def start_foreign_uploads(s3) -> None:
    for key in FOREIGN:
        s3.client.create_multipart_upload(Bucket=s3.bucket, Key=key)


def abort_foreign_uploads(s3) -> None:
    for upload in s3.multipart_uploads():
        assert upload["Key"] in FOREIGN
        s3.client.abort_multipart_upload(Bucket=s3.bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.mark.reliability(
    "Interruption and concurrency",
    "SIGKILL (as the out-of-memory killer sends) mid multipart upload, then the next run",
    "the next run aborts the leftover under its own keys and reports it; others' uploads untouched",
)
def test_the_next_run_aborts_what_a_killed_run_left(ui_conn, usageintel_emulator, s3, hook_logs):
    hold_the_big_download(usageintel_emulator, delay_s=5)
    task = spawn(TASK, s3.bucket)
    try:
        wait_for(lambda: s3.multipart_uploads() != [] or task.poll() is not None, what="a multipart upload")
        assert task.poll() is None, task.communicate()
        task.send_signal(signal.SIGKILL)
        task.communicate(timeout=60)
    finally:
        if task.poll() is None:
            task.kill()
    assert [u["Key"] for u in s3.multipart_uploads()] == [BIG_KEY]  # killed: nothing could abort it
    start_foreign_uploads(s3)

    usageintel_emulator.control.reset()
    result = files_op(s3, abort_uploads_older_than=0).execute({})
    assert [a["key"] for a in result["aborted_uploads"]] == [BIG_KEY]
    assert (
        f"Aborted an incomplete multipart upload of s3://{s3.bucket}/{BIG_KEY} started " in hook_logs.text()
    )
    assert sorted(u["Key"] for u in s3.multipart_uploads()) == sorted(FOREIGN)
    abort_foreign_uploads(s3)
    assert all(key.startswith("lake/") for key in s3.list_keys(include_index=True))
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Interruption and concurrency",
    "Leftover uploads younger than the bound, or outside the task's keys",
    "left alone (a concurrent run's work in progress); aborted once older than the bound",
)
def test_only_stale_uploads_of_the_tasks_own_keys_are_aborted(s3):
    mine = "lake/1234567890/custom_events/daily/2024/03/1234567890_cust_2024-03-14.zip"
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key=mine)
    start_foreign_uploads(s3)
    space = file_key_space("lake", "1234567890", "custom_events")
    # moto reports one fixed initiation time for every upload: the clock is set relative to it.
    initiated = s3.multipart_uploads()[0]["Initiated"]

    def abort_at(now: dt.datetime) -> list:
        return abort_stale_uploads(
            s3.hook, s3.bucket, space.prefix, space.owns, dt.timedelta(hours=1), now=now
        )

    assert abort_at(initiated + dt.timedelta(minutes=59)) == []
    aborted = abort_at(initiated + dt.timedelta(hours=1))
    assert [a.key for a in aborted] == [mine]
    assert sorted(u["Key"] for u in s3.multipart_uploads()) == sorted(FOREIGN)
    abort_foreign_uploads(s3)
    assert s3.multipart_uploads() == [] and s3.list_keys(include_index=True) == []


@pytest.mark.reliability(
    "Interruption and concurrency",
    "A killed export (gzipped NDJSON) left its multipart upload",
    "the next export to the same key aborts it; other keys' uploads untouched",
)
def test_an_export_aborts_the_leftover_at_its_key(ui_conn, s3, hook_logs):
    key = "clients/all.ndjson.gz"
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key=key)
    s3.client.create_multipart_upload(Bucket=s3.bucket, Key=key + ".other")
    op = clients_op(s3, key)
    op.abort_uploads_older_than = 0
    assert op.execute({})["rows"] == 300
    assert f"Aborted an incomplete multipart upload of s3://{s3.bucket}/{key} started " in hook_logs.text()
    assert [u["Key"] for u in s3.multipart_uploads()] == [key + ".other"]
    upload = s3.multipart_uploads()[0]
    s3.client.abort_multipart_upload(Bucket=s3.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    assert s3.list_keys() == [key]
