"""The example DAGs import, serialise, touch no network at parse time and run end to end.

Each runs with ``dag.test()`` against the emulator (today 2024-03-15) and moto's S3
server, with logical dates chosen so that the files and report windows exist, and once
more as the UI's Trigger button runs it: without a logical date, dated by ``run_after``.
Every run must also end every API session it opened (see :meth:`Examples.run`), and
what ``make demo`` checks after its runs is checked here on the same runs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from airflow_provider_usageintel import demo
from airflow_provider_usageintel.archive import layout
from tests.airflow_utils import DAGS_FOLDER, run_dag, task_states, xcom
from tests.conftest import S3Target

DAGS_EXAMPLES = Path(__file__).resolve().parent.parent / "dags_examples"
PRODUCT = "1234567890"
USAGEINTEL_DAGS = {
    "usageintel_daily_archive",
    "usageintel_monthly_archive",
    "usageintel_weekly_reports",
    "usageintel_client_properties_export",
    "usageintel_license_key_sync",
    "usageintel_archive_verify",
}
#: examples that talk to Usage Intelligence, so log in at least once per run.
LOGGING_IN = {
    "usageintel_daily_archive",
    "usageintel_monthly_archive",
    "usageintel_weekly_reports",
    "usageintel_client_properties_export",
    "usageintel_license_key_sync",
}
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc)


def load_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_EXAMPLES))


def open_client_connections(emulator) -> list:
    """This process's TCP connections to the emulator that are still established (client side)."""
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == emulator.port and c.status == psutil.CONN_ESTABLISHED
    ]


@dataclass
class Examples:
    """The bucket the examples write to, and the emulators their connections point at (Usage
    Intelligence's first)."""

    s3: S3Target
    emulators: list[Any]

    def run(self, dag_id: str, logical_date: dt.datetime | None, **kwargs: Any):
        """``dag.test()`` of an example: every task succeeds or is skipped, and every session ends.

        The Usage Intelligence API limits concurrent sessions per account, so each login must
        have its logout: the emulator counts both. Fluid Topics and FusionAuth authenticate with
        API keys, so ending the session means closing the sockets: no client connection to an
        emulator may stay open after a run.
        """
        usageintel = self.emulators[0]
        usageintel.control.reset()  # the counts are this run's
        dagrun = run_dag(dag_id, folder=DAGS_EXAMPLES, logical_date=logical_date, **kwargs)
        states = task_states(dagrun)
        assert set(states.values()) <= {"success", "skipped"}, states
        counts = usageintel.control.sessions()
        assert counts["logins"] == counts["logouts"], counts
        assert counts["open"] == 0, counts
        assert (counts["logins"] > 0) == (dag_id in LOGGING_IN), counts
        for emulator in self.emulators:
            assert open_client_connections(emulator) == [], (dag_id, emulator.url)
        return dagrun, states


@pytest.fixture
def examples(airflow_db, ui_conn, usageintel_emulator, s3, monkeypatch) -> Examples:
    """dag.test() syncs the configured bundles: add dags_examples as one; aim the Variables at the bucket."""
    bundles = [
        {"name": "usageintel-examples", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(DAGS_EXAMPLES)}},
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(DAGS_FOLDER)}},
    ]
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps(bundles))
    monkeypatch.setenv("AIRFLOW_VAR_USAGEINTEL_BUCKET", s3.bucket)
    return Examples(s3, [usageintel_emulator])


def assert_demo_verifies_every_object(s3: S3Target, monkeypatch) -> None:
    """What ``make demo`` checks after its runs: every object in the bucket, manifests and archive
    indexes too, hashes to the SHA-256 recorded for it (in its metadata or in the archive index)."""
    monkeypatch.setattr(demo, "BUCKET", s3.bucket)
    landed = demo.verify(s3.client)
    assert sorted(item.key for item in landed) == s3.list_keys(include_index=True)
    assert [item.key for item in landed if not item.verified] == []


def assert_verified(s3, key: str) -> dict:
    """The object's bytes hash to the SHA-256 and size in its metadata."""
    body = s3.read(key)
    meta = s3.head(key)["Metadata"]
    assert meta["sha256"] == hashlib.sha256(body).hexdigest(), key
    assert int(meta["size"]) == len(body) > 0, key
    return meta


# -- parsing ----------------------------------------------------------------------------------------


def test_every_example_file_imports_without_touching_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("an example DAG opened a connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    bag = load_bag()
    assert not bag.import_errors, bag.import_errors
    files = {Path(dag.fileloc).name for dag in bag.dags.values()}
    assert files == {path.name for path in DAGS_EXAMPLES.glob("*.py")}
    assert set(bag.dag_ids) >= USAGEINTEL_DAGS


@pytest.mark.parametrize("dag_id", sorted(load_bag().dag_ids))
def test_every_example_dag_serialises_and_round_trips(dag_id):
    from airflow.serialization.serialized_objects import DagSerialization

    dag = load_bag().dags[dag_id]
    data = json.loads(json.dumps(DagSerialization.to_dict(dag)))
    DagSerialization.validate_schema(data)
    restored = DagSerialization.from_dict(data)
    assert restored.dag_id == dag_id
    assert set(restored.task_dict) == set(dag.task_dict)


def test_verify_dag_is_scheduled_on_the_daily_archive_alias():
    from airflow.sdk import AssetAlias

    bag = load_bag()
    alias = AssetAlias("usageintel-daily-archive")
    archive = bag.dags["usageintel_daily_archive"]
    for kind in ("custom_events", "exceptions", "raw_events"):
        assert archive.task_dict[f"archive_{kind}"].outlets == [alias]
    schedule = bag.dags["usageintel_archive_verify"].timetable.asset_condition
    assert schedule == alias


# -- end-to-end runs --------------------------------------------------------------------------------


def test_daily_archive_then_verify(examples, hook_logs, tmp_path, monkeypatch):
    s3 = examples.s3
    # A daily run is due at the end of its day: the run of 2024-03-15 archives 2024-03-14.
    dagrun, states = examples.run("usageintel_daily_archive", utc(2024, 3, 15))
    assert {k: v for k, v in states.items() if k.startswith("archive_")} == {
        "archive_custom_events[0]": "success",
        "archive_exceptions[0]": "success",
        "archive_raw_events[0]": "success",
    }
    prefix = f"usageintel/{PRODUCT}"
    expected = [
        f"{prefix}/custom_events/daily/2024/03/{PRODUCT}_cust_2024-03-14.zip",
        f"{prefix}/exceptions/daily/2024/03/{PRODUCT}_exc_2024-03-14.zip",
        f"{prefix}/raw_events/daily/2024/03/{PRODUCT}_2024-03-14.zip",
    ]
    manifest_key = layout.manifest_key("usageintel", "daily", "2024-03-14")
    assert s3.list_keys() == sorted([*expected, manifest_key])
    manifest = json.loads(s3.read(manifest_key))
    assert [f["key"] for f in manifest["files"]] == expected
    for entry in manifest["files"]:
        meta = assert_verified(s3, entry["key"])
        assert entry["sha256"] == meta["sha256"] and entry["new"] is True
        assert meta["source-start-date"] == "2024-03-14"
    assert xcom(dagrun, "write_manifest") == {"key": manifest_key, "files": 3, "bytes": manifest["bytes"]}
    # make demo reads a run's outcome from Airflow's own output, as `airflow dags test` prints it
    output = tmp_path / "usageintel_daily_archive.log"
    output.write_text(hook_logs.text())
    demo.check_dag_run(output, "usageintel_daily_archive")  # raises unless the run is said to succeed
    assert_demo_verifies_every_object(s3, monkeypatch)

    # The downstream DAG checks every archived object against its checksum and catalogs it. A
    # manual run has no triggering events: it re-checks the alias's latest ones.
    dagrun, _ = examples.run("usageintel_archive_verify", utc(2024, 3, 15, 1), run_conf={"recent": 3})
    result = xcom(dagrun, "verify_and_catalog")
    assert result["objects"] == 3
    catalog_key = result["catalog"].removeprefix(f"s3://{s3.bucket}/")
    catalog = json.loads(s3.read(catalog_key))
    assert sorted(c["uri"] for c in catalog) == [f"s3://{s3.bucket}/{key}" for key in expected]


def test_daily_archive_rerun_skips_and_keeps_the_manifest_complete(examples):
    s3 = examples.s3
    examples.run("usageintel_daily_archive", utc(2024, 3, 15), run_conf={"day": "2024-03-13"})
    first = json.loads(s3.read(layout.manifest_key("usageintel", "daily", "2024-03-13")))
    dagrun, _ = examples.run("usageintel_daily_archive", utc(2024, 3, 16), run_conf={"day": "2024-03-13"})
    again = json.loads(s3.read(layout.manifest_key("usageintel", "daily", "2024-03-13")))
    assert [f["key"] for f in again["files"]] == [f["key"] for f in first["files"]]
    assert not any(f["new"] for f in again["files"])
    assert xcom(dagrun, "archive_raw_events", map_index=0)["files_skipped"] == 1


def test_monthly_archive(examples):
    s3 = examples.s3
    examples.run("usageintel_monthly_archive", utc(2024, 3, 1))  # due on the 1st: February
    keys = s3.list_keys()
    for kind in ("custom_events", "exceptions"):
        manifest = json.loads(s3.read(layout.manifest_key("usageintel", "monthly", "2024-02", kind)))
        [transferred] = manifest["transferred"]
        assert transferred["key"].startswith(f"usageintel/{PRODUCT}/{kind}/monthly/2024/02/")
        assert transferred["key"] in keys and transferred["frequency"] == "monthly"
        meta = assert_verified(s3, transferred["key"])
        assert meta["source-start-date"] == "2024-02-01"


def test_weekly_reports(examples, monkeypatch):
    s3 = examples.s3
    examples.run("usageintel_weekly_reports", utc(2024, 3, 10))  # Sunday: the week 3 to 9 March
    base = layout.reports_prefix("usageintel", "weekly", "2024-03-09")
    reports = [
        "basic_event_data_table",
        "churn_histogram_days",
        "churn_histogram_runtime",
        "churn_histogram_sessions",
        "date_range",
        "usage_distribution",
    ]
    assert s3.list_keys() == sorted(f"{base}/{r}.{ext}" for r in reports for ext in ("json", "ndjson"))
    for key in s3.list_keys():
        assert_verified(s3, key)
    date_range = json.loads(s3.read(f"{base}/date_range.json"))["result"]  # the whole answer is kept
    editions = set(date_range["level1"])
    assert editions and editions <= {"Community", "Professional", "Enterprise"}
    days = next(iter(date_range["level1"].values()))["dates"]
    assert sorted(days) == [f"2024-03-0{d}" for d in range(3, 10)]
    usage = json.loads(s3.read(f"{base}/usage_distribution.json"))["result"]
    assert set(usage) >= {"activeDays", "sessions"}
    churn = json.loads(s3.read(f"{base}/churn_histogram_days.json"))
    assert churn["status"] == "OK" and sum(churn["results"].values()) >= 0
    assert_demo_verifies_every_object(s3, monkeypatch)


def test_client_properties_export(examples):
    s3 = examples.s3
    dagrun, _ = examples.run("usageintel_client_properties_export", utc(2024, 3, 10))
    key = layout.client_properties_key("usageintel", "2024-03-09")
    assert s3.list_keys() == [key]
    body = s3.read(key)
    meta = s3.head(key)["Metadata"]
    assert meta["sha256"] == hashlib.sha256(body).hexdigest()
    rows = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert len(rows) == int(meta["rows"]) == xcom(dagrun, "export_client_properties")["rows"] > 100
    assert all("clientId" in row for row in rows)
    daily = [day for row in rows for day in row.get("dailyData") or []]
    assert daily and {"sessionCount", "runtimeMinutes"} <= set(daily[0])


def test_license_key_sync_applies_inbox_files_once_and_snapshots_the_registry(examples):
    s3 = examples.s3
    inbox = layout.license_keys_prefix("usageintel", layout.INBOX)
    s3.client.put_object(
        Bucket=s3.bucket,
        Key=layout.license_keys_inbox_key("usageintel", "insert"),
        Body=b"licenseKey,licenseType,installQuota,notes\nEX-KEY-1,purchased,3,from crm\nEX-KEY-2,trial,1,\n",
    )
    s3.client.put_object(
        Bucket=s3.bucket,
        Key=layout.license_keys_inbox_key("usageintel", "update"),
        Body=b"licenseKey,installQuota\nEX-KEY-2,10\n",
    )
    dagrun, states = examples.run("usageintel_license_key_sync", utc(2024, 3, 15))
    assert states["insert_keys"] == states["update_keys"] == "success"
    keys = s3.list_keys()
    assert not [k for k in keys if k.startswith(inbox)]
    processed = layout.license_keys_prefix("usageintel", layout.PROCESSED)
    assert len([k for k in keys if k.startswith(f"{processed}/")]) == 2

    snapshot = xcom(dagrun, "export_registry")
    assert snapshot["key"] == layout.license_keys_registry_key("usageintel", "2024-03-15")
    body = s3.read(snapshot["key"])
    assert hashlib.sha256(body).hexdigest() == snapshot["sha256"]
    assert s3.head(snapshot["key"])["Metadata"] == {
        "rows": str(snapshot["keys"]),
        "size": str(len(body)),
        "sha256": snapshot["sha256"],
    }
    registry = {row["licenseKey"]: row for row in map(json.loads, gzip.decompress(body).splitlines())}
    assert len(registry) == snapshot["keys"]
    assert registry["EX-KEY-1"]["notes"] == "from crm"
    assert registry["EX-KEY-2"]["installQuota"] == 10

    # Nothing in the inbox: both branches are skipped, the snapshot is still written.
    dagrun, states = examples.run("usageintel_license_key_sync", utc(2024, 3, 16))
    assert states["insert_keys"] == states["update_keys"] == "skipped"
    assert xcom(dagrun, "export_registry")["keys"] == snapshot["keys"]


# -- manual runs: the UI's Trigger button and the REST API create runs without a logical date ------


@pytest.fixture
def manual(examples, usageintel_emulator_factory, usageintel_emulator, monkeypatch):
    """Connections for every example: Usage Intelligence and FusionAuth on the emulator pinned to
    2024-03-15, Fluid Topics on one living today (its client refuses dates outside the past year)."""
    from tests.test_fluid_topics import set_connection

    live = usageintel_emulator_factory(today=dt.datetime.now(dt.timezone.utc).date())
    set_connection(monkeypatch, "fluid_topics_default", live.fluid_topics_connection_json(), {})
    set_connection(monkeypatch, "fusionauth_default", usageintel_emulator.fusionauth_connection_json(), {})
    examples.emulators.append(live)
    return examples


def run_manual(examples: Examples, dag_id: str, run_after: dt.datetime | None = None, **kwargs):
    """``dag.test(logical_date=None)``: no ds, no data_interval_*, only dag_run.run_after."""
    dagrun, states = examples.run(dag_id, None, run_after=run_after, **kwargs)
    assert dagrun.logical_date is None and dagrun.data_interval_end is None
    return dagrun, states


def manual_daily_archive(examples: Examples) -> None:
    s3 = examples.s3
    dagrun, _ = run_manual(
        examples, "usageintel_daily_archive", utc(2024, 3, 15, 8)
    )  # the day that closed: the 14th
    manifest = json.loads(s3.read(layout.manifest_key("usageintel", "daily", "2024-03-14")))
    assert [f["file_name"] for f in manifest["files"]] == [
        f"{PRODUCT}_cust_2024-03-14.zip",
        f"{PRODUCT}_exc_2024-03-14.zip",
        f"{PRODUCT}_2024-03-14.zip",
    ]
    assert xcom(dagrun, "write_manifest")["files"] == 3


def manual_archive_verify(examples: Examples) -> None:
    run_manual(examples, "usageintel_daily_archive", utc(2024, 3, 15, 8))
    dagrun, _ = run_manual(examples, "usageintel_archive_verify", utc(2024, 3, 15, 9), run_conf={"recent": 3})
    assert xcom(dagrun, "verify_and_catalog")["objects"] == 3


def manual_monthly_archive(examples: Examples) -> None:
    s3 = examples.s3
    run_manual(examples, "usageintel_monthly_archive", utc(2024, 3, 20, 8))  # the month that closed: February
    for kind in ("custom_events", "exceptions"):
        manifest = json.loads(s3.read(layout.manifest_key("usageintel", "monthly", "2024-02", kind)))
        [transferred] = manifest["transferred"]
        assert transferred["key"].startswith(f"usageintel/{PRODUCT}/{kind}/monthly/2024/02/")


def manual_weekly_reports(examples: Examples) -> None:
    s3 = examples.s3
    run_manual(
        examples, "usageintel_weekly_reports", utc(2024, 3, 13, 10)
    )  # a Wednesday: the week of 3 to 9 March
    base = layout.reports_prefix("usageintel", "weekly", "2024-03-09")
    assert len(s3.list_keys(base)) == 12
    answer = json.loads(s3.read(f"{base}/date_range.json"))  # the whole answer: result and all
    days = next(iter(answer["result"]["level1"].values()))["dates"]
    assert sorted(days) == [f"2024-03-0{d}" for d in range(3, 10)]


def manual_client_properties_export(examples: Examples) -> None:
    s3 = examples.s3
    dagrun, _ = run_manual(examples, "usageintel_client_properties_export", utc(2024, 3, 13, 10))
    assert s3.list_keys() == [layout.client_properties_key("usageintel", "2024-03-09")]
    assert xcom(dagrun, "export_client_properties")["rows"] > 100


def manual_license_key_sync(examples: Examples) -> None:
    s3 = examples.s3
    s3.client.put_object(
        Bucket=s3.bucket,
        Key=layout.license_keys_inbox_key("usageintel", "insert"),
        Body=b"licenseKey,installQuota\nEX-M-1,2\n",
    )
    dagrun, states = run_manual(examples, "usageintel_license_key_sync", utc(2024, 3, 15, 6, 30))
    assert states["insert_keys"] == "success" and states["update_keys"] == "skipped"
    folder = layout.license_keys_prefix("usageintel", layout.PROCESSED)
    processed = [k for k in s3.list_keys() if k.startswith(f"{folder}/")]
    assert processed == [layout.license_keys_processed_key("usageintel", "20240315T063000", "insert")]
    assert xcom(dagrun, "export_registry")["key"] == layout.license_keys_registry_key(
        "usageintel", "2024-03-15"
    )


def manual_fluid_topics_events_archive(examples: Examples) -> None:
    from airflow_provider_usageintel.archive.layout import FLUID_TOPICS_PREFIX, events_key

    s3 = examples.s3

    dagrun, _ = run_manual(examples, "fluid_topics_events_archive")  # run_after: now
    summary = xcom(dagrun, "archive_events")
    today = dt.datetime.combine(dt.datetime.now(dt.timezone.utc).date(), dt.time(), dt.timezone.utc)
    yesterday = today - dt.timedelta(days=1)
    assert (summary["start"], summary["end"]) == (yesterday.isoformat(), today.isoformat())
    assert s3.list_keys("fluid_topics/") == [events_key(FLUID_TOPICS_PREFIX, yesterday, today)]
    assert summary["rows"] > 0


def manual_fusionauth_reports(examples: Examples) -> None:
    s3 = examples.s3
    dagrun, _ = run_manual(examples, "fusionauth_reports", utc(2024, 3, 15, 6))
    window = "2024-03-14T0000_2024-03-15T0000"
    assert s3.list_keys("fusionauth/") == sorted(
        [
            *(
                f"fusionauth/{r}/{window}.{ext}"
                for r in ("daily_active_users", "login", "registration")
                for ext in ("json", "ndjson")
            ),
            "fusionauth/totals/2024-03-15T060000Z.json",
            "fusionauth/totals/2024-03-15T060000Z.ndjson",
        ]
    )
    assert [d["period"] for d in xcom(dagrun, "daily_active_users")["dailyActiveUsers"]] == ["2024-03-14"]


MANUAL_RUNS = {
    "usageintel_daily_archive": manual_daily_archive,
    "usageintel_archive_verify": manual_archive_verify,
    "usageintel_monthly_archive": manual_monthly_archive,
    "usageintel_weekly_reports": manual_weekly_reports,
    "usageintel_client_properties_export": manual_client_properties_export,
    "usageintel_license_key_sync": manual_license_key_sync,
    "fluid_topics_events_archive": manual_fluid_topics_events_archive,
    "fusionauth_reports": manual_fusionauth_reports,
}


#: examples whose manual run is tested beside their scheduled one.
MANUAL_RUNS_ELSEWHERE = {
    "usageintel_lake": "tests/test_example_lake.py",
    "usageintel_lake_backfill": "tests/test_example_lake.py",
}


def test_every_example_has_a_manual_run_test():
    """A new example DAG must say what it does when triggered without a logical date."""
    assert sorted(load_bag().dag_ids) == sorted({*MANUAL_RUNS, *MANUAL_RUNS_ELSEWHERE})


@pytest.mark.parametrize("dag_id", sorted(MANUAL_RUNS))
def test_every_example_runs_from_the_trigger_button(manual, dag_id):
    """Airflow 3's UI and REST API trigger runs without a logical date by default."""
    MANUAL_RUNS[dag_id](manual)
