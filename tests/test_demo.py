"""``make demo``: the parts of its own, apart from the example runs.

The demo runs the daily archive and the weekly reports with ``airflow dags test``, then reads
every object back. Those runs are ``tests/test_example_dags.py``'s, where the demo's
verification (:func:`demo.verify`) and its reading of a run's outcome
(:func:`demo.check_dag_run`) are checked on them; running them once more through the
``airflow`` command would cost a migration and two interpreters for the same DAGs. Here: the
environment it gives the ``airflow`` command, the command itself, and the failures it reports.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_usageintel import demo

#: Airflow's line at the end of ``airflow dags test``, as Airflow 3.3 prints it.
FINISHED = (
    "2026-12-06T06:50:38.076054Z [info     ] DagRun Finished: dag_id=usageintel_daily_archive, "
    "logical_date=2024-03-15 00:00:00+00:00, run_id=manual__2026-12-06T06:50:26.433429+00:00, "
    "run_start_date=2024-03-15 00:00:00+00:00, run_end_date=2026-12-06 06:50:38.075944+00:00, "
    "run_duration=86079038.075944, state={state}, run_type=manual\n"
)


@pytest.fixture
def demo_env(tmp_path, usageintel_emulator, s3_server, monkeypatch):
    """The demo's environment for ``airflow``, built while this session's Airflow variables are set."""
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "3")  # the session's own settings must not leak in
    (tmp_path / "output").mkdir()
    return demo.airflow_env(tmp_path, usageintel_emulator, s3_server)


def test_the_airflow_command_gets_its_own_home_the_examples_and_both_servers(
    demo_env, tmp_path, usageintel_emulator, s3_server
):
    assert demo_env["AIRFLOW_HOME"] == str(tmp_path)
    assert demo_env["AIRFLOW__CORE__DAGS_FOLDER"] == str(demo.DAGS_EXAMPLES)
    assert "AIRFLOW__CORE__PARALLELISM" not in demo_env
    assert demo_env["AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT"] == usageintel_emulator.connection_uri()
    assert json.loads(demo_env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == s3_server
    assert demo_env["AIRFLOW_VAR_USAGEINTEL_BUCKET"] == demo.BUCKET


def test_airflow_runs_with_that_environment_and_a_failure_names_its_log(demo_env, tmp_path):
    """One command that reads the configuration the demo set, one that fails."""
    output = tmp_path / "output" / "dags-folder.log"
    seconds = demo.run_airflow(["config", "get-value", "core", "dags_folder"], demo_env, output, 120)
    assert seconds > 0
    assert output.read_text().strip().splitlines()[-1] == str(demo.DAGS_EXAMPLES)

    failing = tmp_path / "output" / "failing.log"
    with pytest.raises(demo.DemoError, match=r"^`airflow dags test` exited with 2; see .*failing\.log$"):
        demo.run_airflow(["dags", "test"], demo_env, failing, 120)  # no DAG id
    assert "the following arguments are required: dag_id" in failing.read_text()


@pytest.mark.parametrize(("written", "state"), [(FINISHED.format(state="failed"), "failed"), ("", "unknown")])
def test_a_run_that_did_not_succeed_is_a_demo_failure(tmp_path, written, state):
    """``airflow dags test`` may exit 0 when a task fails: the demo reads the run's final state."""
    output = tmp_path / "usageintel_daily_archive.log"
    output.write_text(written)
    with pytest.raises(demo.DemoError, match=f"usageintel_daily_archive finished in state {state}; see "):
        demo.check_dag_run(output, "usageintel_daily_archive")
    output.write_text(FINISHED.format(state="success"))
    demo.check_dag_run(output, "usageintel_daily_archive")


def test_the_logs_are_listed_with_the_airflow_home(tmp_path, capsys):
    (tmp_path / "output").mkdir()
    for name in ("db-migrate.log", "usageintel_daily_archive.log"):
        (tmp_path / "output" / name).write_text("")
    demo.print_logs(tmp_path)
    out = capsys.readouterr().out
    assert f"Airflow home (SQLite database, config): {tmp_path}" in out
    assert f"  {tmp_path / 'output' / 'usageintel_daily_archive.log'}\n" in out
