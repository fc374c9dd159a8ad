"""The provider registers with Airflow as its own tooling expects."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import jsonschema

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
    assert "usage_intelligence" in manager.field_behaviours
    behaviour = manager.field_behaviours["usage_intelligence"]
    assert behaviour["relabeling"] == {"host": "API base URL", "login": "User name"}
    widgets = manager.connection_form_widgets
    for field in ("origin", "client_name", "product_id", "timeout", "max_retries", "verify_ssl"):
        assert f"extra__usage_intelligence__{field}" in widgets, field


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


def test_importing_the_package_touches_no_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('network used at import time')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import airflow_provider_usageintel.hooks.usage_intelligence\n"
        "import airflow_provider_usageintel.emulator\n"
        "from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook\n"
        "UsageIntelligenceHook()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
