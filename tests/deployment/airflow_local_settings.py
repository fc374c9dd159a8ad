"""Local settings of the test deployment (copied to ``$AIRFLOW_HOME/config``, on every component's path).

The example DAGs poll for files every 15 minutes, as production should; here the simulated
clock moves on command, so file sensors poll every few seconds instead. A cluster policy is
how a platform team overrides operator arguments without touching DAG files; every component
that parses DAGs (dag-processor, workers) applies it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

DEPLOYMENT_POKE_INTERVAL = 2.0


def task_policy(task: Any) -> None:
    if type(task).__name__ == "UsageIntelligenceFileSensor":
        task.poke_interval = DEPLOYMENT_POKE_INTERVAL


def worker_hostname() -> str:
    """``[core] hostname_callable``: each worker of the deployment names itself, as separate hosts would."""
    return os.environ.get("DEPLOYMENT_HOSTNAME") or socket.getfqdn()
