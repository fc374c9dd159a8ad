"""The provider registers with Airflow as its own tooling expects."""

from __future__ import annotations

import importlib
import json
import re
import socket
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema
import pytest

from airflow_provider_usageintel.connection_fields import CONNECTION_TYPES
from airflow_provider_usageintel.get_provider_info import get_provider_info


def test_entry_point_points_at_get_provider_info():
    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.module.startswith("airflow_provider")
    ]
    assert ep.load() is get_provider_info


def test_provider_info_passes_airflow_schema():
    import airflow

    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_declared_module_and_class_imports():
    import importlib

    info = get_provider_info()
    modules = [
        m
        for group in ("hooks", "operators", "sensors", "triggers")
        for item in info.get(group, [])
        for m in item["python-modules"]
    ]
    modules += [t["python-module"] for t in info.get("transfers", [])]
    for module in modules:
        importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn["connection-type"]


def test_connection_type_in_airflow_form_metadata():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-usageintel" in manager.providers
    behaviour = manager.field_behaviours["usage_intelligence"]
    assert behaviour["relabeling"] == {"host": "API base URL", "login": "User name"}
    widgets = manager.connection_form_widgets
    for ctype in CONNECTION_TYPES:
        assert manager.field_behaviours[ctype.conn_type]["hidden_fields"] == list(ctype.hidden)
        offered = {name.split("__")[-1] for name in widgets if name.startswith(f"extra__{ctype.conn_type}__")}
        # every extra the hooks read is in the form, but a mapping (set in the Extra JSON)
        assert offered == {e.name for e in ctype.extras if e.kind != "object"}, ctype.conn_type
    assert "extra__usage_intelligence__retry_wait" in widgets
    assert "extra__usage_intelligence__endpoint_paths" not in widgets


@pytest.mark.parametrize("ctype", CONNECTION_TYPES, ids=lambda c: c.conn_type)
def test_hooks_take_their_names_and_form_from_the_one_description(ctype):
    import airflow

    module, _, name = ctype.hook_class.rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert (hook.conn_type, hook.hook_name, hook.default_conn_name) == (
        ctype.conn_type,
        ctype.hook_name,
        ctype.default_conn_id,
    )
    # BaseHook.get_ui_field_behaviour() has snake-case keys: Airflow validates them with this schema.
    schema_path = Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json"
    behaviour = hook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, json.loads(schema_path.read_text()))
    kebab = ctype.ui_field_behaviour()
    assert behaviour == {
        "hidden_fields": kebab["hidden-fields"],
        "relabeling": kebab["relabeling"],
        "placeholders": kebab["placeholders"],
    }


@pytest.mark.parametrize("ctype", CONNECTION_TYPES, ids=lambda c: c.conn_type)
def test_connection_type_names_are_what_airflow_can_find_again(ctype):
    """Lower case, digits and ``_``: ``-`` is how a URI spells ``_``, so it cannot round-trip."""
    from airflow.sdk.definitions.connection import Connection

    assert re.fullmatch(r"[a-z][a-z0-9_]*", ctype.conn_type)
    uri = Connection(conn_id="c", conn_type=ctype.conn_type, host="https://example.com").get_uri()
    assert Connection.from_uri(uri, conn_id="c").conn_type == ctype.conn_type


def test_hook_defaults_are_the_declared_defaults():
    from airflow_provider_usageintel.connection_fields import COMMON_EXTRAS
    from airflow_provider_usageintel.hooks.base import ConnectionSettings

    class Bare:
        host, port, login, password, extra_dejson = "https://example.com", None, "", "", {}

    class Empty(Bare):  # the form saves an emptied field as null
        extra_dejson = {extra.name: None for extra in COMMON_EXTRAS}

    for conn in (Bare(), Empty()):
        settings = ConnectionSettings.from_connection(conn, "")
        for extra in COMMON_EXTRAS:
            if extra.name != "allow_insecure_http":
                assert getattr(settings, extra.name) == extra.default, extra.name


def test_documented_retry_statuses_are_the_ones_retried():
    from airflow_provider_usageintel.connection_fields import COMMON_EXTRAS
    from airflow_provider_usageintel.hooks import base

    text = next(e for e in COMMON_EXTRAS if e.name == "max_retries").description
    for status in base.RETRY_ALWAYS | base.RETRY_IF_SAFE:
        assert str(status) in text
    assert "reads" in text


def test_airflow_providers_list_shows_provider():
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    packages = {p["package_name"] for p in json.loads(out[out.index("[") :])}
    assert "airflow-provider-usageintel" in packages


def test_creating_a_hook_touches_no_network(monkeypatch):
    """Hooks connect when first used. (That importing the package, the emulator too, opens no
    connection: tests/test_parse_imports.py, in a fresh interpreter.)"""
    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook

    def refuse(*args, **kwargs):
        raise AssertionError("network used when creating a hook")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    UsageIntelligenceHook()


def transfer_classes() -> list[type]:
    """Every operator class the provider's declared transfer modules define."""
    from airflow.sdk import BaseOperator

    classes = []
    for transfer in get_provider_info()["transfers"]:
        module = importlib.import_module(transfer["python-module"])
        classes += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, BaseOperator)
            and obj.__module__ == module.__name__
            and not obj.__name__.endswith("BaseOperator")  # a base a transfer module declares
        ]
    return classes


S3_PARAMETERS = ("s3_bucket", "aws_conn_id", "asset_alias", "abort_uploads_older_than")


@pytest.mark.parametrize("operator", transfer_classes(), ids=lambda cls: cls.__name__)
def test_every_transfer_takes_the_s3_parameters_from_one_base(operator):
    """Declared once, on ToS3BaseOperator: a transfer re-declaring one would shadow its default and check."""
    import inspect

    from airflow.sdk import AssetAlias

    from airflow_provider_usageintel.transfers.destination import DEFAULT_ALIAS, ToS3BaseOperator

    assert issubclass(operator, ToS3BaseOperator)
    for cls in operator.__mro__:
        if cls is not ToS3BaseOperator and "__init__" in vars(cls):
            assert not set(S3_PARAMETERS) & set(inspect.signature(cls.__init__).parameters), cls
    assert "s3_bucket" in operator.template_fields
    # the default alias outlet, for a plain task and a mapped one (whose __init__ runs only in the worker)
    samples = {"file_kind": "exceptions", "lake_prefix": "lake", "report": "date_range", "s3_key": "k"}
    kwargs = {name: samples[name] for name in required_parameters(operator) if name != "s3_bucket"}
    plain = operator(task_id="plain", s3_bucket="b", **kwargs)
    assert plain.outlets == [AssetAlias(DEFAULT_ALIAS)]
    assert plain.destination.bucket == "b" and plain.destination.aws_conn_id == "aws_default"
    mapped = operator.partial(task_id="mapped", **kwargs).expand(s3_bucket=["b1", "b2"])
    assert mapped.partial_kwargs["outlets"] == [AssetAlias(DEFAULT_ALIAS)]


def required_parameters(operator: type) -> set[str]:
    import inspect

    return {
        name
        for cls in operator.__mro__
        if "__init__" in vars(cls) and cls.__module__.startswith("airflow_provider_usageintel")
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if param.kind is param.KEYWORD_ONLY and param.default is param.empty
    }


STREAM_PARAMETERS = ("part_size", "progress_interval")
LAKE_PARAMETERS = ("lake_prefix", "lake_options")
#: the transfers that stream objects by multipart upload, and those of them with the lake option.
STREAMING = {
    "UsageIntelligenceFilesToS3Operator",
    "UsageIntelligenceReportToS3Operator",
    "UsageIntelligenceClientPropertiesToS3Operator",
    "FluidTopicsEventsToS3Operator",
}
WITH_LAKE = {"UsageIntelligenceFilesToS3Operator", "UsageIntelligenceClientPropertiesToS3Operator"}


@pytest.mark.parametrize("operator", transfer_classes(), ids=lambda cls: cls.__name__)
def test_streaming_and_lake_parameters_are_declared_once_on_their_base(operator):
    """``part_size`` and ``progress_interval`` only on StreamToS3BaseOperator, the lake option only on
    ToS3AndLakeBaseOperator (the backfill takes ``lake_prefix`` as its purpose), and a mapped
    transfer still takes them: Airflow's ``partial`` checks them against the MRO's ``__init__``s."""
    import inspect

    from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
    from airflow_provider_usageintel.transfers.archive_to_lake import (
        ToS3AndLakeBaseOperator,
        UsageIntelligenceArchiveToLakeOperator,
    )
    from airflow_provider_usageintel.transfers.destination import StreamToS3BaseOperator

    assert issubclass(operator, StreamToS3BaseOperator) == (operator.__name__ in STREAMING)
    assert issubclass(operator, ToS3AndLakeBaseOperator) == (operator.__name__ in WITH_LAKE)
    declared = {
        cls: names
        for cls in operator.__mro__
        if "__init__" in vars(cls)
        and (
            names := set(STREAM_PARAMETERS + LAKE_PARAMETERS)
            & set(inspect.signature(cls.__init__).parameters)
        )
    }
    expected = {}
    if operator.__name__ in STREAMING:
        expected[StreamToS3BaseOperator] = set(STREAM_PARAMETERS)
    if operator.__name__ in WITH_LAKE:
        expected[ToS3AndLakeBaseOperator] = set(LAKE_PARAMETERS)
    if operator is UsageIntelligenceArchiveToLakeOperator:
        expected[operator] = {"lake_prefix"}
    assert declared == expected
    if operator.__name__ not in STREAMING:
        return
    for name in ("lake_prefix", "lake_options"):
        assert (name in operator.template_fields) == (operator.__name__ in WITH_LAKE), name
    samples = {"file_kind": "exceptions", "report": "date_range", "s3_key": "k"}
    kwargs = {name: samples[name] for name in required_parameters(operator) if name != "s3_bucket"}
    taken = {"part_size": MIN_PART_SIZE, "progress_interval": 0.5}
    if operator.__name__ in WITH_LAKE:
        taken.update(lake_prefix="lake", lake_options={"compression": "zstd"})
    plain = operator(task_id="plain", s3_bucket="b", **kwargs, **taken)
    assert {name: getattr(plain, name) for name in taken} == taken
    mapped = operator.partial(task_id="mapped", **kwargs, **taken).expand(s3_bucket=["b1", "b2"])
    assert {name: mapped.partial_kwargs[name] for name in taken} == taken
    with pytest.raises(TypeError, match="lake_option"):  # the check is real: a misspelt name fails
        operator.partial(task_id="typo", lake_option={}, **kwargs)


def operator_classes() -> list[type]:
    """Every operator class (bases included) the provider's operators, sensors and transfers define."""
    import pkgutil

    from airflow.sdk import BaseOperator

    import airflow_provider_usageintel.operators as operators
    import airflow_provider_usageintel.sensors as sensors
    import airflow_provider_usageintel.transfers as transfers

    classes = []
    for package in (operators, sensors, transfers):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            classes += [
                obj
                for obj in vars(module).values()
                if isinstance(obj, type) and issubclass(obj, BaseOperator) and obj.__module__ == info.name
            ]
    return classes


#: names that two operator classes both declare, each with its own meaning or default there.
SHARED_NAMES = {
    "aws_conn_id": "the license key operator reads its CSVs from S3; the transfers write to it",
    "files": "records to act on, for the two operators that act on given records (download, archive)",
    "flat_key": "the flat rows' key beside each transfer's own JSON answer (report, FusionAuth)",
    "lake_prefix": "the backfill's required target; the transfers' option to keep the lake in step",
    "max_concurrency": "downloads at once (files transfer) or conversions at once (backfill)",
    "progress_interval": "the download operator writes local files, not S3 objects",
    "replace": "transfer files again (files transfer) or rewrite partitions (backfill)",
    "report": "each vendor's own report names (Usage Intelligence endpoints, FusionAuth reports)",
    "request": "a report's body, or the client properties export's",
    "s3_key": "each single-object transfer's key: required (reports, exports) or an override",
    "s3_prefix": "each transfer's own default prefix (archive, Fluid Topics, FusionAuth)",
}


def test_parameter_blocks_are_declared_once():
    """A block of parameters lives on one base (S3, streaming, lake, file window, time window,
    archive layout, report); any other name two classes declare is listed above with its reason,
    so a new repetition fails here until it is moved to a base or explained."""
    import inspect

    owners: dict[str, list[str]] = {}
    for cls in operator_classes():
        if "__init__" not in vars(cls):
            continue
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if param.kind is param.KEYWORD_ONLY:
                owners.setdefault(name, []).append(cls.__name__)
    repeated = {name: sorted(classes) for name, classes in owners.items() if len(classes) > 1}
    assert set(repeated) == set(SHARED_NAMES), repeated
    blocks = {"file_kind", "frequency", "since", "until", "start", "end", "part_size", "lake_options"}
    assert all(len(owners[name]) == 1 for name in blocks | set(S3_PARAMETERS) - {"aws_conn_id"})
