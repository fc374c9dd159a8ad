"""Report and client-property exports land in S3, as DAG tasks and with Asset events."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json

import pytest

from airflow_provider_usageintel.api.endpoints import REPORT_NAMES
from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.transfers.client_properties_to_s3 import (
    UsageIntelligenceClientPropertiesToS3Operator,
)
from airflow_provider_usageintel.transfers.report_to_s3 import UsageIntelligenceReportToS3Operator
from airflow_provider_usageintel.utils.progress import human_bytes
from tests.airflow_utils import run_dag, task_states, xcom
from tests.test_files_to_s3 import asset_events


def test_report_and_client_properties_land_in_s3(airflow_db, ui_conn, usageintel_emulator, s3):
    dagrun = run_dag("test_exports", run_conf={"bucket": s3.bucket})
    assert str(dagrun.state) == "success", task_states(dagrun)

    report = xcom(dagrun, "date_range")
    json_key, csv_key = (o["key"] for o in report["objects"])
    result = json.loads(s3.read(json_key))
    assert result == UsageIntelligenceHook().date_range(
        {
            "startDate": "2024-02-01",
            "stopDate": "2024-02-29",
            "dateSplit": "week",
            "clientStatus": ["new", "active", "lost"],
            "daysUntilDeclaredLost": 30,
            "globalFilters": {"ram": {"type": "numberRange", "min": 1024}},
        }
    )
    rows = list(csv.DictReader(io.StringIO(s3.read(csv_key).decode())))
    assert [r["date"] for r in rows] == sorted(result["result"])
    assert {"active", "new", "lost"} <= set(rows[0])
    assert s3.head(csv_key)["Metadata"]["sha256"] == hashlib.sha256(s3.read(csv_key)).hexdigest()

    export = xcom(dagrun, "client_properties")
    lines = gzip.decompress(s3.read(export["key"])).decode().splitlines()
    clients = [json.loads(line) for line in lines]
    assert export["rows"] == len(clients) == usageintel_emulator.config.clients_per_product
    assert len({c["clientId"] for c in clients}) == len(clients)
    assert {"prodVersion", "prodEdition", "ram", "geography.country"} <= set(clients[0])
    assert "<NULL>" not in lines[0] and "<NULL>" not in "".join(lines)
    meta = s3.head(export["key"])["Metadata"]
    assert (
        meta["rows"] == str(len(clients))
        and meta["sha256"] == hashlib.sha256(s3.read(export["key"])).hexdigest()
    )

    uris = sorted(uri for uri, _ in asset_events(s3.bucket))
    assert uris == sorted(f"s3://{s3.bucket}/{k}" for k in (json_key, csv_key, export["key"]))


def test_client_export_spans_many_pages_through_multipart(
    ui_conn, usageintel_emulator_factory, s3, monkeypatch
):
    from tests.conftest import set_ui_connection

    emulator = usageintel_emulator_factory(clients_per_product=2500, client_page_size=100)
    set_ui_connection(monkeypatch, emulator)
    op = UsageIntelligenceClientPropertiesToS3Operator(
        task_id="t",
        request={
            "properties": ["prodVersion"],
            "retDailyData": {
                "startDate": "2024-03-01",
                "stopDate": "2024-03-14",
                "properties": ["prodVersion"],
            },
        },
        s3_bucket=s3.bucket,
        s3_key="clients/all.ndjson.gz",
        part_size=MIN_PART_SIZE,
        asset_alias=None,
    )
    summary = op.execute({})
    pages = [r for r in emulator.control.requests() if "clientPropertyList" in r["path"]]
    assert len(pages) == 25
    clients = [json.loads(x) for x in gzip.decompress(s3.read("clients/all.ndjson.gz")).splitlines()]
    assert summary["rows"] == len(clients) == 2500
    assert any(c.get("dailyData") for c in clients)
    assert s3.multipart_uploads() == []


def test_export_bad_input_is_refused_before_any_call(ui_conn, usageintel_emulator, s3):
    report = UsageIntelligenceReportToS3Operator(
        task_id="t", report="date_rnge", request={}, s3_bucket="x", s3_key="", flat_format="xml"
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        report.execute({})
    assert info.value.problems == [
        f"report: unknown name 'date_rnge' (allowed: {', '.join(REPORT_NAMES)})",
        "flat_format: 'xml' is not supported (allowed: ndjson, csv, None)",
        "s3_bucket: 'x' is not a valid bucket name (allowed: 3-63 lowercase letters, digits, '.' and '-', "
        "starting and ending with a letter or digit)",
        "s3_key: '' is not a valid object key (allowed: 1-1024 bytes, no NUL character, no '..' segment)",
    ]
    clients = UsageIntelligenceClientPropertiesToS3Operator(
        task_id="t", request={"properties": "prodVersion"}, s3_bucket=s3.bucket, s3_key="k"
    )
    with pytest.raises(UsageIntelligenceValidationError, match=r"request\.properties"):
        clients.execute({})
    assert usageintel_emulator.control.requests() == []


PART_SIZE_RULE = f"part_size: 1024 is below S3's minimum (allowed: >= {MIN_PART_SIZE})"
#: each export transfer, made with the given (bad) arguments.
EXPORTS = {
    "report": lambda bucket, **bad: UsageIntelligenceReportToS3Operator(
        task_id="t", report="date_range", s3_bucket=bucket, s3_key="r.json", **bad
    ),
    "client_properties": lambda bucket, **bad: UsageIntelligenceClientPropertiesToS3Operator(
        task_id="t", s3_bucket=bucket, s3_key="c.ndjson.gz", **bad
    ),
}


@pytest.mark.parametrize("operator", EXPORTS.values(), ids=EXPORTS.keys())
def test_every_transfer_refuses_a_part_size_s3_would_refuse(operator, ui_conn, usageintel_emulator, s3):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        operator(s3.bucket, part_size=1024).execute({})
    assert PART_SIZE_RULE in info.value.problems
    assert usageintel_emulator.control.requests() == []


@pytest.mark.parametrize("operator", EXPORTS.values(), ids=EXPORTS.keys())
def test_every_transfer_refuses_a_progress_interval_that_is_not_positive(
    operator, ui_conn, usageintel_emulator, s3
):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        operator(s3.bucket, progress_interval=0).execute({})
    assert "progress_interval: 0 is not allowed (allowed: numbers > 0)" in info.value.problems
    assert usageintel_emulator.control.requests() == []


@pytest.fixture
def paged_server(usageintel_emulator_factory, monkeypatch):
    """450 clients in pages of 200, and at most 4 rows a page of any offset-paged report."""
    from tests.conftest import set_ui_connection

    server = usageintel_emulator_factory(clients_per_product=450, client_page_size=200, max_page_size=4)
    set_ui_connection(monkeypatch, server)
    return server


def test_a_paged_report_lands_whole_in_s3(paged_server, s3):
    """Seed 000 lines 1053-1056: every page of the client list, as one answer, and its rows flat."""
    op = UsageIntelligenceReportToS3Operator(
        task_id="t",
        report="client_property_list",
        request={"properties": ["prodVersion", "dotNetVersion"]},
        s3_bucket=s3.bucket,
        s3_key="reports/clients.json",
        asset_alias=None,
    )
    summary = op.execute({})
    assert summary["pages"] == 3
    answer = json.loads(s3.read("reports/clients.json"))
    ids = [c.client_id for c in paged_server.context.dataset.clients("1234567890")]
    assert [row["clientId"] for row in answer["result"]] == ids
    assert answer["reachedEnd"] is True and "nextClientId" not in answer
    flat = [json.loads(line) for line in s3.read("reports/clients.ndjson").splitlines()]
    assert flat == answer["result"]
    json_object, flat_object = summary["objects"]
    assert json_object["rows"] == flat_object["rows"] == 450
    assert (
        s3.head("reports/clients.json")["Metadata"]["sha256"]
        == hashlib.sha256(s3.read("reports/clients.json")).hexdigest()
    )


def test_a_paged_report_logs_rows_read_and_bytes_sent_at_its_progress_interval(paged_server, s3, hook_logs):
    """A slow first page shows in the log as it happens; the summary counts every row and object."""
    paged_server.control.add_fault(path="clientPropertyList", kind="slow", delay_s=0.5)
    op = UsageIntelligenceReportToS3Operator(
        task_id="t",
        report="client_property_list",
        request={"properties": ["prodVersion"]},
        s3_bucket=s3.bucket,
        s3_key="reports/clients.json",
        asset_alias=None,
        progress_interval=0.05,
    )
    summary = op.execute({})
    label = f"Report client_property_list to s3://{s3.bucket}/reports/clients.json: "
    lines = [line for line in hook_logs.text().splitlines() if line.startswith(label)]
    assert len(lines) >= 2  # at least one line while the first page is late, then the summary
    assert lines[0].startswith(f"{label}0/2 files (0 transferred, 0 skipped, 0 failed), 0 rows, 0 B in ")
    sent = sum(written["size"] for written in summary["objects"])
    assert sent == len(s3.read("reports/clients.json")) + len(s3.read("reports/clients.ndjson"))
    assert lines[-1].startswith(f"{label}2/2 files (2 transferred, 0 skipped, 0 failed), 450 rows, ")
    assert f"rows, {human_bytes(sent)} in " in lines[-1]


def test_offset_pages_a_capped_server_shortens_all_land_in_s3_as_csv(paged_server, s3):
    """Seed 000 lines 683-685: matchingKeysCount counts the keys; short pages do not end the pull."""
    op = UsageIntelligenceReportToS3Operator(
        task_id="t",
        report="license_keys_search",
        request={"sorting": {"licenseKey": "asc"}},
        s3_bucket=s3.bucket,
        s3_key="reports/keys.json",
        flat_format="csv",
        page_size=50,
        asset_alias=None,
    )
    assert op.execute({})["pages"] == 10
    answer = json.loads(s3.read("reports/keys.json"))
    assert answer["matchingKeysCount"] == answer["returnedKeysCount"] == len(answer["results"]) == 40
    keys = [key["licenseKey"] for key in answer["results"]]
    assert keys == sorted(keys) and len(set(keys)) == 40
    rows = list(csv.DictReader(io.StringIO(s3.read("reports/keys.csv").decode())))
    assert [row["licenseKey"] for row in rows] == keys
    assert {"licenseStatus.activated", "installQuota", "expiryDate"} <= set(rows[0])


def test_a_report_with_a_summary_keeps_it_in_s3(ui_conn, s3):
    """Seed 000 lines 439-441: the lifetime histogram answers summary and result."""
    op = UsageIntelligenceReportToS3Operator(
        task_id="t",
        report="lifetime_event_histogram",
        request={
            "startDate": "2024-01-15",
            "stopDate": "2024-03-10",
            "events": [{"category": "File Operations", "name": "Open"}],
        },
        s3_bucket=s3.bucket,
        s3_key="reports/histogram.json",
        asset_alias=None,
    )
    op.execute({})
    answer = json.loads(s3.read("reports/histogram.json"))
    assert set(answer) == {"summary", "result"} and answer["summary"]["totalClients"] > 0
    flat = [json.loads(line) for line in s3.read("reports/histogram.ndjson").splitlines()]
    assert flat and all(row["name"] == "Open" for row in flat)
