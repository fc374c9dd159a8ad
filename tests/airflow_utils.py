"""Run real DAGs from tests/dags with ``dag.test()`` on a throw-away SQLite metadata database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DAGS_FOLDER = Path(__file__).resolve().parent / "dags"


def migrate_db() -> None:
    from airflow.utils.db import initdb

    initdb()


def get_dag(dag_id: str, folder: Path = DAGS_FOLDER) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    assert dag is not None, f"no DAG {dag_id} in {folder}"
    return dag


def run_dag(dag_id: str, folder: Path = DAGS_FOLDER, **kwargs: Any) -> Any:
    """Run a DAG end to end in this process; returns the finished DagRun."""
    return get_dag(dag_id, folder).test(**kwargs)


def task_states(dagrun: Any) -> dict[str, str]:
    return {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
        for ti in dagrun.get_task_instances()
    }


def xcom(dagrun: Any, task_id: str, key: str = "return_value", map_index: int | None = None) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(XComModel).filter(
            XComModel.dag_id == dagrun.dag_id,
            XComModel.run_id == dagrun.run_id,
            XComModel.task_id == task_id,
            XComModel.key == key,
        )
        if map_index is not None:
            query = query.filter(XComModel.map_index == map_index)
        rows = query.order_by(XComModel.map_index).all()
        values = [XComModel.deserialize_value(row) for row in rows]
    if map_index is None and len(values) == 1:
        return values[0]
    return values if map_index is None else (values[0] if values else None)
