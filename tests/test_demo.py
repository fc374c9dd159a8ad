"""``make demo`` runs the example DAGs with real Airflow and verifies what landed in S3."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_usageintel import demo
from airflow_provider_usageintel.archive import layout


@pytest.mark.slow
def test_demo_runs_real_airflow_and_verifies_every_object(capsys):
    assert demo.main() == 0
    out = capsys.readouterr().out
    assert "Usage Intelligence emulator: http://127.0.0.1:" in out
    for dag_id, logical_date in demo.RUNS:
        assert f"airflow dags test {dag_id} {logical_date} ... success" in out

    summary = out.strip().splitlines()[-1]
    objects = int(summary.split()[0])
    assert f"{objects}/{objects} verified by SHA-256" in summary
    rows = [line for line in out.splitlines() if line.startswith("usageintel/")]
    assert len(rows) == objects and all(row.endswith(" ok") for row in rows)
    keys = {row.split()[0] for row in rows}
    assert layout.manifest_key("usageintel", "daily", "2024-03-14") in keys
    assert "usageintel/1234567890/raw_events/daily/2024/03/1234567890_2024-03-14.zip" in keys
    assert f"{layout.reports_prefix('usageintel', 'weekly', '2024-03-09')}/date_range.ndjson" in keys

    home = Path(re.search(r"Airflow home \(SQLite database, config\): (\S+)", out).group(1))
    assert (home / "airflow.db").is_file()
    assert (home / "output" / "usageintel_daily_archive.log").is_file()
