"""Operators end to end: real DAG runs and direct ``execute()`` calls against the emulator and moto S3."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.emulator.population import PRODUCT_PROPERTIES, product_properties_json
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceTransferError,
    UsageIntelligenceValidationError,
)
from airflow_provider_usageintel.operators.base import UsageIntelligenceTaskError
from airflow_provider_usageintel.operators.license_keys import LicenseKeyBatchError
from airflow_provider_usageintel.operators.usage_intelligence import (
    UsageIntelligenceDownloadFileOperator,
    UsageIntelligenceLicenseKeysOperator,
    UsageIntelligenceListFilesOperator,
    UsageIntelligenceReportOperator,
    json_size,
)
from airflow_provider_usageintel.utils.extract import extract_csv_members
from airflow_provider_usageintel.utils.license_key_files import parse_key_file
from tests.airflow_utils import run_dag, task_states, xcom

PRODUCT = "1234567890"
KEYS_PATH = f"/v3/license-key-registry/update/{PRODUCT}"


def api_calls(emulator, path_part: str = "") -> list[tuple[str, str, int]]:
    return [
        (r["method"], r["path"], r["status"]) for r in emulator.control.requests() if path_part in r["path"]
    ]


def hook_bytes(hook, kind: str, record: FileRecord) -> bytes:
    buffer = io.BytesIO()
    hook.download_file(kind, record, buffer)
    return buffer.getvalue()


def daily_records(hook, kind: str = "custom_events") -> list[FileRecord]:
    return hook.list_files(kind, frequency="daily")


# -- report operator --------------------------------------------------------------------------------


def test_report_dag_hands_product_properties_to_the_next_task(ui_conn, airflow_db):
    dagrun = run_dag("test_operators_report")

    assert task_states(dagrun) == {"product_properties": "success", "property_names": "success"}
    assert xcom(dagrun, "product_properties") == {"result": product_properties_json()}
    assert xcom(dagrun, "property_names") == sorted(spec.name for spec in PRODUCT_PROPERTIES)


def test_report_takes_a_rendered_json_string_request(ui_conn):
    op = UsageIntelligenceReportOperator(
        task_id="last_lines", report="custom_events_last_lines", request='{"lineCount": 3}'
    )
    answer = op.execute({})
    assert len(answer["result"]) == 3
    # seed 000 line 810: the answer's fieldNames is part of what the task returns
    assert answer["fieldNames"]["clientId"] == "Client ID"


def test_report_refuses_a_result_too_large_for_xcom_and_points_to_s3(ui_conn, ui_hook):
    size = json_size(ui_hook.run_report("product_properties"))
    op = UsageIntelligenceReportOperator(task_id="r", report="product_properties", max_result_bytes=100)

    with pytest.raises(UsageIntelligenceTaskError) as info:
        op.execute({})
    assert str(info.value) == (
        f"product_properties: the result is {size:,} bytes as JSON, more than max_result_bytes=100. "
        "XCom is meant for small values: write large results to S3 with "
        "UsageIntelligenceReportToS3Operator (every page, streamed), or narrow the request "
        "(or raise max_result_bytes)."
    )


def test_report_rejects_a_bad_request_before_any_call(ui_conn, usageintel_emulator):
    op = UsageIntelligenceReportOperator(
        task_id="r",
        report="date_range",
        request={"startDate": "2024-02-30", "stopDate": "2024-03-01", "dateSplit": "year"},
        max_result_bytes=0,
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        "3 problems:\n"
        "- request.startDate: '2024-02-30' is not a real calendar date (allowed: YYYY-MM-DD)\n"
        "- request.dateSplit: 'year' is not allowed (allowed: day, week, month, null)\n"
        "- max_result_bytes: 0 is not allowed (allowed: integers >= 1)"
    )
    assert api_calls(usageintel_emulator) == []


def test_report_rejects_an_unknown_report_and_broken_json(ui_conn, usageintel_emulator):
    unknown = UsageIntelligenceReportOperator(task_id="r", report="dateRange")
    with pytest.raises(UsageIntelligenceValidationError) as info:
        unknown.execute({})
    assert str(info.value).startswith("report: unknown name 'dateRange' (allowed: product_properties, ")

    broken = UsageIntelligenceReportOperator(task_id="r", report="date_range", request="{'startDate': 1}")
    with pytest.raises(UsageIntelligenceValidationError) as info:
        broken.execute({})
    assert str(info.value) == (
        "request: not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )
    assert api_calls(usageintel_emulator) == []


@pytest.fixture
def paged_server(usageintel_emulator_factory, monkeypatch):
    """450 clients in pages of 200, and at most 4 rows a page of any offset-paged report."""
    from tests.conftest import set_ui_connection

    server = usageintel_emulator_factory(clients_per_product=450, client_page_size=200, max_page_size=4)
    set_ui_connection(monkeypatch, server)
    return server


def test_report_follows_the_client_list_to_its_end(paged_server):
    """Seed 000 lines 1053-1056: result, nextClientId, reachedEnd -- every page, one answer."""
    answer = UsageIntelligenceReportOperator(
        task_id="r", report="client_property_list", request={"properties": ["prodVersion"]}
    ).execute({})
    ids = [c.client_id for c in paged_server.context.dataset.clients(PRODUCT)]
    assert [row["clientId"] for row in answer["result"]] == ids
    assert answer["reachedEnd"] is True and "nextClientId" not in answer
    assert len(api_calls(paged_server, "clientPropertyList")) == 3


@pytest.mark.parametrize(
    ("report", "request_body", "key", "counts", "expected"),
    [
        (  # seed 000 lines 497-499
            "lifetime_event_data_table",
            {"startDate": "2024-01-15", "stopDate": "2024-03-10"},
            "result",
            ("returnedEventsCount", "matchingEventsCount"),
            15,
        ),
        ("license_keys_search", {}, "results", ("returnedKeysCount", "matchingKeysCount"), 40),  # 683-685
    ],
)
def test_report_follows_offset_pages_a_capped_server_shortens(
    paged_server, report, request_body, key, counts, expected
):
    answer = UsageIntelligenceReportOperator(task_id="r", report=report, request=request_body).execute({})
    assert len(answer[key]) == answer[counts[0]] == answer[counts[1]] == expected
    assert len(api_calls(paged_server, PRODUCT)) == -(-expected // 4)


def test_report_follows_property_values_to_the_empty_page(paged_server):
    answer = UsageIntelligenceReportOperator(
        task_id="r", report="property_values", request={"property": "clientId"}
    ).execute({})
    assert answer["result"] == sorted(c.client_id for c in paged_server.context.dataset.clients(PRODUCT))


def test_report_too_large_for_xcom_stops_paging_and_says_where_the_rest_goes(paged_server):
    op = UsageIntelligenceReportOperator(
        task_id="r",
        report="client_property_list",
        request={"properties": ["prodVersion"]},
        max_result_bytes=5000,
    )
    with pytest.raises(UsageIntelligenceTaskError) as info:
        op.execute({})
    message = str(info.value)
    assert message.startswith("client_property_list: the first 1 page(s), 200 rows, are already ")
    assert "The rest was not fetched." in message and "UsageIntelligenceReportToS3Operator" in message
    assert len(api_calls(paged_server, "clientPropertyList")) == 1


# -- list and download ------------------------------------------------------------------------------


def test_list_then_mapped_download_one_task_per_file(ui_conn, ui_hook, airflow_db, tmp_path):
    conf = {"since": "2024-03-10", "until": "2024-03-12", "local_dir": str(tmp_path)}
    dagrun = run_dag("test_operators_files", run_conf=conf)

    listed = xcom(dagrun, "list_files")
    assert [r["start_date"] for r in listed] == ["2024-03-10", "2024-03-11", "2024-03-12"]
    assert task_states(dagrun) == {
        "list_files": "success",
        **{f"download[{i}]": "success" for i in range(len(listed))},
    }
    for index, record in enumerate(listed):
        result = xcom(dagrun, "download", map_index=index)
        path = tmp_path / record["file_name"]
        data = path.read_bytes()
        assert data == hook_bytes(ui_hook, "custom_events", FileRecord.from_dict(record))
        assert result["path"] == str(path) and result["size"] == len(data)
        assert result["sha256"] == hashlib.sha256(data).hexdigest() and result["skipped"] is False
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            (member,) = archive.namelist()
            assert result["extracted"] == [str(tmp_path / member)]
            assert (tmp_path / member).read_bytes() == archive.read(member)
    assert not list(tmp_path.glob(".*.part"))


def test_list_files_rejects_every_bad_argument_at_once(ui_conn, usageintel_emulator):
    op = UsageIntelligenceListFilesOperator(
        task_id="l", file_kind="events", frequency="weekly", since="2024-13-01", product_id="abc"
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert info.value.problems == [
        "file_kind: unknown value 'events' (allowed: custom_events, exceptions, raw_events)",
        "frequency: unknown value 'weekly' (allowed: daily, monthly, open)",
        "since: '2024-13-01' is not a real calendar date (allowed: YYYY-MM-DD)",
        "product_id: 'abc' is not numeric (allowed: digits only)",
    ]
    assert api_calls(usageintel_emulator) == []


def test_list_files_returns_monthly_and_open_records(ui_conn):
    op = UsageIntelligenceListFilesOperator(
        task_id="l", file_kind="exceptions", frequency=["monthly", "open"], since="2024-02-01"
    )
    records = op.execute({})
    assert [(r["frequency"], r["start_date"], r["is_final"]) for r in records] == [
        ("monthly", "2024-02-01", True),
        ("open", "2024-03-15", False),
    ]
    json.dumps(records)  # XCom-ready as is


def test_download_skips_present_files_unless_overwrite(ui_conn, usageintel_emulator, tmp_path):
    def download(**kwargs):
        op = UsageIntelligenceDownloadFileOperator(
            task_id="d",
            file_kind="raw_events",
            since="2024-03-13",
            until="2024-03-14",
            local_dir=tmp_path,
            **kwargs,
        )
        return op.execute({})

    first = download()
    assert [r["skipped"] for r in first] == [False, False]
    usageintel_emulator.control.reset()

    again = download()
    assert [r["skipped"] for r in again] == [True, True]
    assert [(r["size"], r["sha256"]) for r in again] == [(r["size"], r["sha256"]) for r in first]
    assert api_calls(usageintel_emulator, "getDownloadUrl") == []

    forced = download(overwrite=True)
    assert [r["skipped"] for r in forced] == [False, False]
    assert len(api_calls(usageintel_emulator, "getDownloadUrl")) == 2


def test_download_logs_progress_while_a_file_is_slow_and_a_summary(
    ui_conn, usageintel_emulator, tmp_path, hook_logs
):
    usageintel_emulator.control.add_fault(path="^/_download/", kind="slow", delay_s=0.5)
    op = UsageIntelligenceDownloadFileOperator(
        task_id="d", file_kind="custom_events", since="2024-03-14", local_dir=tmp_path, progress_interval=0.05
    )
    (result,) = op.execute({})
    lines = [line for line in hook_logs.text().splitlines() if line.startswith("Download of custom_events")]
    assert len(lines) >= 2  # at least one line while the server stalls, then the summary
    assert lines[0].startswith("Download of custom_events files: 0/1 files")
    assert lines[-1].startswith(
        "Download of custom_events files: 1/1 files (1 transferred, 0 skipped, 0 failed)"
    )
    assert result["file_name"].endswith("_cust_2024-03-14.zip")


def test_download_by_name_finds_monthly_files_too(ui_conn, ui_hook, tmp_path):
    monthly = ui_hook.list_files("custom_events", frequency="monthly")[0]
    op = UsageIntelligenceDownloadFileOperator(
        task_id="d", file_kind="custom_events", file_names=[monthly.file_name], local_dir=tmp_path
    )
    (result,) = op.execute({})
    assert (tmp_path / monthly.file_name).read_bytes() == hook_bytes(ui_hook, "custom_events", monthly)
    assert result["file_name"] == monthly.file_name


def test_download_of_an_unlisted_name_fails_with_the_name(ui_conn, tmp_path):
    op = UsageIntelligenceDownloadFileOperator(
        task_id="d",
        file_kind="custom_events",
        file_names=["1234567890_cust_1999-01-01.zip"],
        local_dir=tmp_path,
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        "file_names: not offered by the server for custom_events: 1234567890_cust_1999-01-01.zip"
    )


def test_download_of_a_corrupt_archive_leaves_nothing_behind(ui_conn, ui_hook, usageintel_emulator, tmp_path):
    record = daily_records(ui_hook)[-1]
    usageintel_emulator.control.add_fault(path="^/_download/", kind="corrupt_zip")
    op = UsageIntelligenceDownloadFileOperator(
        task_id="d", file_kind="custom_events", files=record.to_dict(), local_dir=tmp_path
    )
    with pytest.raises(UsageIntelligenceTransferError) as info:
        op.execute({})
    assert str(info.value).startswith(f"{record.file_name}: ")
    assert "CRC" in str(info.value) or "not a valid zip archive" in str(info.value)
    assert list(tmp_path.iterdir()) == []

    retry = UsageIntelligenceDownloadFileOperator(
        task_id="d", file_kind="custom_events", files=[record.to_dict()], local_dir=tmp_path
    )
    (result,) = retry.execute({})
    assert (tmp_path / record.file_name).read_bytes() == hook_bytes(ui_hook, "custom_events", record)
    assert result["skipped"] is False


def test_download_rejects_bad_records_before_any_call(ui_conn, usageintel_emulator, tmp_path):
    good = {
        "file_kind": "exceptions",
        "frequency": "daily",
        "file_name": "1234567890_exc_2024-03-14.zip",
        "start_date": "2024-03-14",
        "stop_date": "2024-03-14",
    }
    (tmp_path / "file").write_text("x")
    op = UsageIntelligenceDownloadFileOperator(
        task_id="d",
        file_kind="custom_events",
        files=[good, {**good, "file_name": "../../etc/passwd"}, {"file_name": "x.zip"}, "x.zip"],
        since="2024-03-01",
        local_dir=tmp_path / "file",
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert info.value.problems == [
        "since: not used together with files (allowed: files, or a selection)",
        "files[0].file_kind: 'exceptions' does not match file_kind (allowed: custom_events)",
        "files[1].file_name: '../../etc/passwd' is not a plain file name "
        "(allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')",
        "files[2]: missing file_kind, frequency, start_date, stop_date "
        "(allowed: records from UsageIntelligenceListFilesOperator)",
        "files[3]: expected a file record (a dict), got str",
        f"local_dir: {str(tmp_path / 'file')!r} exists and is not a directory",
    ]
    assert api_calls(usageintel_emulator) == []


# -- safe extraction --------------------------------------------------------------------------------


def hostile_zip(path: Path) -> Path:
    """Good members beside every unsafe kind of name; the NUL byte is patched into the raw bytes."""
    link = zipfile.ZipInfo("link.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.csv", "a,b\n1,2\n")
        archive.writestr("nested/more.csv", "a\n3\n")
        archive.writestr("README.txt", "not a csv")
        archive.writestr("../evil.csv", "escaped")
        archive.writestr("/etc/abs-evil.csv", "escaped")
        archive.writestr("..\\win-evil.csv", "escaped")
        archive.writestr("nulXevil.csv", "escaped")
        archive.writestr(link, "/etc/passwd")
    path.write_bytes(buffer.getvalue().replace(b"nulXevil.csv", b"nul\x00evil.csv"))
    return path


def test_extraction_refuses_unsafe_members_and_writes_only_inside(tmp_path, caplog):
    archive = hostile_zip(tmp_path / "hostile.zip")
    dest = tmp_path / "out" / "inner"
    dest.mkdir(parents=True)

    result = extract_csv_members(archive, dest)

    assert result.extracted == [str(dest / "good.csv"), str(dest / "nested" / "more.csv")]
    assert result.refused == [
        "../evil.csv",
        "/etc/abs-evil.csv",
        "..\\win-evil.csv",
        "nul\x00evil.csv",
        "link.csv",
    ]
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["hostile.zip", "out/inner/good.csv", "out/inner/nested/more.csv"]
    assert (dest / "good.csv").read_text() == "a,b\n1,2\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "Refusing zip member 'nul\\x00evil.csv' of hostile.zip: NUL byte in the name" in warnings
    assert "Refusing zip member 'link.csv' of hostile.zip: symbolic link" in warnings
    assert "Refusing zip member '../evil.csv' of hostile.zip: '..' in the path" in warnings
    assert "Refusing zip member '/etc/abs-evil.csv' of hostile.zip: absolute path" in warnings


def test_extraction_refuses_a_path_through_a_symlinked_folder(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("sub/x.csv", "x\n")
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside)

    result = extract_csv_members(archive, dest)

    assert result.extracted == [] and result.refused == ["sub/x.csv"]
    assert list(outside.iterdir()) == []


def test_extraction_keeps_a_present_csv_of_the_same_size_without_overwrite(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("x.csv", "new\n")
    (tmp_path / "x.csv").write_text("old\n")

    extract_csv_members(archive, tmp_path, overwrite=False)
    assert (tmp_path / "x.csv").read_text() == "old\n"
    extract_csv_members(archive, tmp_path)
    assert (tmp_path / "x.csv").read_text() == "new\n"


# -- license keys -----------------------------------------------------------------------------------

KEYS_CSV = (
    "licenseKey,licenseType,installQuota,licenseStatus.activated,licenseStatus.blocked,notes\n"
    "key-csv-1,purchased,2,true,false,first\n"
    "key-csv-2,trial,1,FALSE,,\n"
    "key-csv-3,subscription,5,true,false,third\n"
)


def new_keys(count: int, prefix: str = "key") -> list[dict]:
    return [
        {"licenseKey": f"{prefix}-{i}", "licenseType": "purchased", "installQuota": i, "notes": f"note {i}"}
        for i in range(1, count + 1)
    ]


def test_csv_cells_are_typed_and_empty_cells_left_out():
    assert parse_key_file(KEYS_CSV, "s3://b/keys.csv") == [
        {
            "licenseKey": "key-csv-1",
            "licenseType": "purchased",
            "installQuota": 2,
            "licenseStatus": {"activated": True, "blocked": False},
            "notes": "first",
        },
        {
            "licenseKey": "key-csv-2",
            "licenseType": "trial",
            "installQuota": 1,
            "licenseStatus": {"activated": False},
        },
        {
            "licenseKey": "key-csv-3",
            "licenseType": "subscription",
            "installQuota": 5,
            "licenseStatus": {"activated": True, "blocked": False},
            "notes": "third",
        },
    ]
    assert parse_key_file('[{"licenseKey": "k"}]', "s3://b/keys") == [{"licenseKey": "k"}]


def test_csv_errors_name_line_and_column():
    text = "licenseKey,installQuota,licenseStatus.expired\nk1,two,yes\nk2,3,true,extra\n"
    with pytest.raises(UsageIntelligenceValidationError) as info:
        parse_key_file(text, "s3://b/keys.csv")
    assert info.value.problems == [
        "s3://b/keys.csv line 2, column installQuota: 'two' is not an integer (allowed: integers >= 0)",
        "s3://b/keys.csv line 2, column licenseStatus.expired: 'yes' is not a boolean (allowed: true, false)",
        "s3://b/keys.csv line 3: more cells than header columns",
    ]


def test_license_keys_reject_bad_input_before_any_call(ui_conn, usageintel_emulator):
    op = UsageIntelligenceLicenseKeysOperator(
        task_id="k", action="delete", keys=[], keys_s3_uri="s3://bucket/keys.csv", batch_size=0
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert info.value.problems == [
        "action: 'delete' is not allowed (allowed: search, insert, update)",
        "batch_size: 0 is not allowed (allowed: integers >= 1)",
    ]

    op = UsageIntelligenceLicenseKeysOperator(
        task_id="k", action="update", keys=[{"licenseKey": "k1", "installQuota": "2"}, {"notes": "n"}]
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert info.value.problems == [
        "keys[0].installQuota: expected an integer, got string (allowed: integers >= 0)",
        "keys[1].licenseKey: required by license_keys_update (allowed: a license key string)",
    ]

    op = UsageIntelligenceLicenseKeysOperator(task_id="k", action="insert", keys_s3_uri="bucket/keys.csv")
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        "keys_s3_uri: 'bucket/keys.csv' is not an S3 object URI "
        "(allowed: s3://bucket/path/to/keys.csv or .json)"
    )
    assert api_calls(usageintel_emulator) == []


def test_license_keys_from_s3_with_a_bad_cell_make_no_api_call(ui_conn, usageintel_emulator, s3):
    s3.client.put_object(Bucket=s3.bucket, Key="keys.csv", Body=b"licenseKey,installQuota\nk1,lots\n")
    op = UsageIntelligenceLicenseKeysOperator(
        task_id="k", action="insert", keys_s3_uri=f"s3://{s3.bucket}/keys.csv"
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        f"s3://{s3.bucket}/keys.csv line 2, column installQuota: 'lots' is not an integer "
        "(allowed: integers >= 0)"
    )
    assert api_calls(usageintel_emulator) == []


def test_license_keys_from_a_missing_or_unreadable_s3_object_name_the_uri(ui_conn, usageintel_emulator, s3):
    uri = f"s3://{s3.bucket}/in/missing.csv"
    op = UsageIntelligenceLicenseKeysOperator(task_id="k", action="insert", keys_s3_uri=uri)
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        f"keys_s3_uri: {uri} does not exist (allowed: the URI of an existing JSON or CSV object)"
    )

    s3.client.put_object(
        Bucket=s3.bucket, Key="in/latin1.csv", Body="licenseKey,notes\nk1,caf\xe9\n".encode("latin-1")
    )
    uri = f"s3://{s3.bucket}/in/latin1.csv"
    op = UsageIntelligenceLicenseKeysOperator(task_id="k", action="insert", keys_s3_uri=uri)
    with pytest.raises(UsageIntelligenceValidationError) as info:
        op.execute({})
    assert str(info.value) == (
        f"keys_s3_uri: {uri} is not UTF-8 text (byte 23; allowed: a UTF-8 JSON or CSV file)"
    )
    assert api_calls(usageintel_emulator) == []


def search_all(hook) -> list[dict]:
    return list(hook.iter_offset_pages("license_keys_search", {}, PRODUCT))


def test_insert_keys_from_s3_csv_then_count_them(ui_conn, ui_hook, usageintel_emulator, airflow_db, s3):
    s3.client.put_object(Bucket=s3.bucket, Key="in/keys.csv", Body=KEYS_CSV.encode())
    before = len(search_all(ui_hook))

    dagrun = run_dag("test_operators_license_keys", run_conf={"keys_s3_uri": f"s3://{s3.bucket}/in/keys.csv"})

    assert task_states(dagrun) == {"insert": "success", "count": "success"}
    assert xcom(dagrun, "insert") == {
        "action": "insert",
        "keys": 3,
        "sent": 3,
        "batches": 2,
        "failed_batches": 0,
    }
    assert xcom(dagrun, "count") == {"action": "search", "count": before + 3}
    assert [m for m, *_ in api_calls(usageintel_emulator, KEYS_PATH)] == ["POST", "POST"]


def test_insert_and_update_keys_from_a_list(ui_conn, ui_hook, usageintel_emulator):
    keys = new_keys(3, "list")
    inserted = UsageIntelligenceLicenseKeysOperator(
        task_id="i", action="insert", keys=keys, batch_size=2
    ).execute({})
    assert inserted == {"action": "insert", "keys": 3, "sent": 3, "batches": 2, "failed_batches": 0}

    change = [{"licenseKey": "list-2", "notes": "renewed", "installQuota": 9}]
    updated = UsageIntelligenceLicenseKeysOperator(task_id="u", action="update", keys=change).execute({})
    assert updated == {"action": "update", "keys": 1, "sent": 1, "batches": 1, "failed_batches": 0}
    assert [m for m, *_ in api_calls(usageintel_emulator, KEYS_PATH)] == ["POST", "POST", "PATCH"]

    found = {row["licenseKey"]: row for row in search_all(ui_hook)}
    assert found["list-2"]["notes"] == "renewed" and found["list-2"]["installQuota"] == 9
    assert found["list-1"]["notes"] == "note 1"


def test_search_returns_every_page(ui_conn, ui_hook, usageintel_emulator):
    expected = search_all(ui_hook)
    usageintel_emulator.control.reset()
    op = UsageIntelligenceLicenseKeysOperator(task_id="s", action="search", batch_size=7)
    result = op.execute({})
    assert result == {"action": "search", "count": len(expected), "keys": expected}
    pages = api_calls(usageintel_emulator, f"/v3/license-key-registry/{PRODUCT}")
    assert len(expected) > 7 and len(pages) == -(-len(expected) // 7)


def test_a_lost_answer_to_a_batch_naming_every_key_is_sent_again(
    ui_conn, ui_hook, usageintel_emulator, monkeypatch
):
    """Seed 000 lines 691 and 732: a batch inserts new keys and updates known ones, so a batch
    naming every key sets the same state however often it arrives: a lost answer is re-sent."""
    op = UsageIntelligenceLicenseKeysOperator(
        task_id="u", action="insert", keys=new_keys(5, "again"), batch_size=2
    )
    original = op.hook.run_report

    def first_batch_then_fault(*args, **kwargs):
        result = original(*args, **kwargs)
        usageintel_emulator.control.add_fault(path="license-key-registry/update", kind="reset", count=1)
        return result

    monkeypatch.setattr(op.hook, "run_report", first_batch_then_fault)
    assert op.execute({}) == {"action": "insert", "keys": 5, "sent": 5, "batches": 3, "failed_batches": 0}
    # batch 2 was cut once and sent again; the registry holds each key once, as sent
    assert [m for m, *_ in api_calls(usageintel_emulator, KEYS_PATH)] == ["POST"] * 5
    found = [row for row in search_all(ui_hook) if row["licenseKey"].startswith("again-")]
    assert sorted((r["licenseKey"], r["notes"]) for r in found) == [
        (f"again-{i}", f"note {i}") for i in range(1, 6)
    ]


def test_a_failed_batch_with_generated_keys_stops_the_task_and_is_not_sent_again(
    ui_conn, usageintel_emulator, monkeypatch
):
    keys = [{"licenseType": "trial", "notes": f"unnamed {i}"} for i in range(1, 6)]
    op = UsageIntelligenceLicenseKeysOperator(task_id="u", action="insert", keys=keys, batch_size=2)
    original = op.hook.run_report

    def first_batch_then_fault(*args, **kwargs):
        result = original(*args, **kwargs)
        usageintel_emulator.control.add_fault(path="license-key-registry/update", kind="reset")
        return result

    monkeypatch.setattr(op.hook, "run_report", first_batch_then_fault)
    with pytest.raises(LicenseKeyBatchError) as info:
        op.execute({})

    error = info.value
    assert str(error) == (
        "license_keys_insert: batch index 1 of 3 batches (input positions 3-4, 2 keys) failed and "
        f"may have been applied in whole or in part: {error.__cause__}. "
        "Confirmed: 2 keys (positions 1-2); not sent: 1 key (positions 5). "
        "2 keys of the failed batch (#3, #4) have no licenseKey and get one generated: sending them "
        "again would insert them a second time, so search the registry for them first; keys that "
        "name their licenseKey can be sent again as they are."
    )
    assert (error.confirmed, error.in_doubt, error.not_sent) == (["#1", "#2"], ["#3", "#4"], ["#5"])
    assert "not re-sent because the call is not idempotent" in str(error.__cause__)
    assert [m for m, *_ in api_calls(usageintel_emulator, KEYS_PATH)] == ["POST", "POST"]


def test_a_batch_that_fails_for_good_says_sending_named_keys_again_is_safe(ui_conn, usageintel_emulator):
    usageintel_emulator.control.add_fault(path="license-key-registry/update", kind="status", status=400)
    op = UsageIntelligenceLicenseKeysOperator(task_id="u", action="update", keys=new_keys(1, "named"))
    with pytest.raises(LicenseKeyBatchError) as info:
        op.execute({})
    assert str(info.value).endswith(
        "Every key of the failed batch names its licenseKey and the registry inserts or updates each "
        "key, so sending the batch and the rest again is safe."
    )


def test_update_of_a_key_the_registry_does_not_know_inserts_it(ui_conn, ui_hook):
    """Seed 000 line 691: an update batch may hold new keys; they are inserted, not refused."""
    op = UsageIntelligenceLicenseKeysOperator(
        task_id="u", action="update", keys=[{"licenseKey": "brand-new", "notes": "via update"}]
    )
    assert op.execute({})["sent"] == 1
    found = {row["licenseKey"]: row for row in search_all(ui_hook)}
    assert found["brand-new"]["notes"] == "via update"
