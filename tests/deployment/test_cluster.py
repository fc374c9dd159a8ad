"""The deployment harness leaves no process behind: not on stop, not when the test process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.deployment.cluster import REPO, Deployment, Service, wait_until

pytestmark = pytest.mark.deployment

#: a process that starts a child in a process group of its own, as Airflow's task supervisor
#: does, writes the child's pid to argv[1], then waits.
SPAWNER = """
import subprocess, sys, time
child = "import os, time; os.setpgid(0, 0); time.sleep(600)"
proc = subprocess.Popen([sys.executable, "-c", child])
open(sys.argv[1], "w").write(str(proc.pid))
time.sleep(600)
"""

#: starts SPAWNER as a Service of a Deployment, writes the Service's pid to argv[1], then waits.
HARNESS = """
import sys, time
from pathlib import Path
from tests.deployment.cluster import Deployment, Service
root = Path(sys.argv[1])
deployment = Deployment(root)
service = deployment.start_service(
    Service("spawner", [sys.executable, "-c", sys.argv[2], str(root / "child.pid")],
            deployment.base_env(), root / "spawner.log")
)
(root / "service.pid").write_text(str(service.proc.pid))
time.sleep(600)
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def read_pid(path: Path) -> int:
    return int(wait_until(f"{path.name}", lambda: path.is_file() and path.read_text().strip(), 30))


def test_stop_ends_the_session_with_processes_that_left_the_group(tmp_path):
    deployment = Deployment(tmp_path)
    service = deployment.start_service(
        Service(
            "spawner",
            [sys.executable, "-c", SPAWNER, str(tmp_path / "child.pid")],
            deployment.base_env(),
            tmp_path / "spawner.log",
        )
    )
    child = read_pid(tmp_path / "child.pid")
    assert service.proc is not None
    wait_until("the child's own group", lambda: os.getpgid(child) == child, 10)
    assert os.getsid(child) == service.proc.pid

    deployment.stop()  # raises if anything survives

    assert gone(service.proc.pid) and gone(child)


def test_processes_end_when_the_process_that_started_them_is_killed(tmp_path):
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(tmp_path), SPAWNER], cwd=REPO, start_new_session=True
    )
    try:
        service = read_pid(tmp_path / "service.pid")
        child = read_pid(tmp_path / "child.pid")
        os.kill(harness.pid, signal.SIGKILL)  # no finalizer, no atexit
        harness.wait(timeout=10)
        # the kernel signals the service (parent-death signal), the janitor ends its session
        wait_until("the service and its child to end", lambda: gone(service) and gone(child), 30)
    finally:
        if harness.poll() is None:
            harness.kill()
