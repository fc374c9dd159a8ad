"""OpenLineage datasets of a task: the API data it read and the S3 objects it wrote.

While ``execute`` runs, the task's hook notes each API endpoint it reads data
from and the S3 transfers note each object they write, in a :class:`Lineage`
kept on the task. Afterwards the OpenLineage provider's listener, when it is
installed, asks the task for ``get_openlineage_facets_on_complete``, which turns
the record into datasets. Without the provider nothing but that small record
exists: the OpenLineage classes are imported only when asked for.

Dataset naming (see docs/transfers.md):

* Usage Intelligence: namespace ``usageintel://<host>[:<port>]`` of the API base URL,
  name ``<product_id>/<endpoint>`` (an endpoint name of the endpoint table, e.g.
  ``1234567890/date_range``);
* Fluid Topics: ``fluidtopics://<host>``, name ``<endpoint>`` (``events``, ``event_counts``);
* FusionAuth: ``fusionauth://<host>``, name ``<report>`` (e.g. ``daily_active_users``);
* S3, as OpenLineage names it: namespace ``s3://<bucket>``, name ``<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: the attribute of the task that holds its record.
ATTRIBUTE = "_openlineage_record"

Dataset = tuple[str, str]


@dataclass
class Lineage:
    """Datasets as ``(namespace, name)``, each once, in the order first seen."""

    inputs: dict[Dataset, None] = field(default_factory=dict)
    outputs: dict[Dataset, None] = field(default_factory=dict)

    def read(self, namespace: str, name: str) -> None:
        self.inputs[(namespace, name)] = None

    def wrote(self, namespace: str, name: str) -> None:
        self.outputs[(namespace, name)] = None


def lineage_of(task: object) -> Lineage:
    """The task's record, created on first use."""
    record: Lineage = vars(task).setdefault(ATTRIBUTE, Lineage())
    return record


def api_namespace(scheme: str, base_url: str) -> str:
    """``<scheme>://<host>[:<port>]`` of an API base URL."""
    return f"{scheme}://{urlsplit(base_url).netloc}"


def s3_namespace(bucket: str) -> str:
    return f"s3://{bucket}"


def operator_lineage(task: object) -> Any:
    """The task's record as the OpenLineage provider's ``OperatorLineage``.

    ``None`` when the task recorded nothing, or when the provider is not installed.
    """
    record: Lineage | None = vars(task).get(ATTRIBUTE)
    if record is None or not (record.inputs or record.outputs):
        return None
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset as OpenLineageDataset
    except ImportError:
        return None
    return OperatorLineage(
        inputs=[OpenLineageDataset(namespace=ns, name=name) for ns, name in record.inputs],
        outputs=[OpenLineageDataset(namespace=ns, name=name) for ns, name in record.outputs],
    )
