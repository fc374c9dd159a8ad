"""Broken, short, stalled, refused and corrupt downloads: resumed, re-fetched or refused before commit."""

from __future__ import annotations

import pytest

from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from tests.conftest import set_ui_connection
from tests.reliability.helpers import (
    DAYS,
    assert_archived_identically,
    assert_nothing_partial,
    daily_name,
    files_op,
    statuses,
)

BIG = daily_name(DAYS[-1])
#: multipart-sized, so a failure also has parts to abort.
BIG_SIZE = 2 * MIN_PART_SIZE + 4321


def final_key(name: str) -> str:
    return f"lake/1234567890/custom_events/daily/2024/03/{name}"


@pytest.fixture
def big_file(usageintel_emulator):
    usageintel_emulator.control.set_file_size(BIG, BIG_SIZE)
    return BIG


@pytest.mark.reliability(
    "Download faults", "Connection reset after 1 MiB of a download", "resumed with Range; success"
)
def test_reset_mid_download_resumes(ui_conn, usageintel_emulator, s3, big_file):
    usageintel_emulator.control.add_fault(path="/_download/", kind="reset", after_bytes=1 << 20)
    result = files_op(s3, file_names=[big_file]).execute({})
    assert statuses(usageintel_emulator, "/_download/") == [200, 206]
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Download faults",
    "Truncated body (fewer bytes than announced, listed size disagrees)",
    "fresh URL, downloaded again; success",
)
def test_truncated_body_is_fetched_again(ui_conn, usageintel_emulator, s3, hook_logs):
    usageintel_emulator.control.add_fault(path="/_download/", kind="truncate", after_bytes=1000)
    result = files_op(s3).execute({})
    assert "server announced 1000 bytes" in hook_logs.text()
    assert len(statuses(usageintel_emulator, "getDownloadUrl")) == 3  # one file needed a second URL
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Download faults", "Stalled server (read timeout mid-body)", "read timeout, resumed with Range; success"
)
def test_stalled_download_times_out_and_resumes(usageintel_emulator, monkeypatch, s3, hook_logs, big_file):
    set_ui_connection(monkeypatch, usageintel_emulator, timeout=0.5)
    usageintel_emulator.control.add_fault(path="/_download/", kind="slow", after_bytes=1 << 20, delay_s=3)
    result = files_op(s3, file_names=[big_file]).execute({})
    assert "(read timeout); resuming" in hook_logs.text()
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Download faults",
    "Expired or used download URL (HTTP 401, 403, 404, 410)",
    "fresh URL fetched; success",
    tries=4,
)
def test_refused_download_url_gets_a_fresh_one(ui_conn, usageintel_emulator, s3):
    for status in (401, 403, 404, 410):
        usageintel_emulator.control.add_fault(path="/_download/", kind="status", status=status)
    result = files_op(s3, max_concurrency=1).execute({})
    assert [s for s in statuses(usageintel_emulator, "/_download/") if s >= 400] == [401, 403, 404, 410]
    assert len(statuses(usageintel_emulator, "getDownloadUrl")) == 2 + 4
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "Download faults",
    "Corrupt zip (bad CRC), single-part and multipart sizes",
    "CRC-32 mismatch before commit; nothing partial; next try succeeds",
)
@pytest.mark.parametrize("size", [None, BIG_SIZE])
def test_corrupt_zip_is_never_committed(ui_conn, usageintel_emulator, s3, size):
    if size:
        usageintel_emulator.control.set_file_size(BIG, size)
    usageintel_emulator.control.add_fault(path="/_download/", kind="corrupt_zip")
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3, file_names=[BIG]).execute({})
    text = str(info.value)
    assert text.startswith(
        f"1 of 1 file(s) failed ({BIG}: CRC-32 mismatch in member '{BIG[:-4]}.csv' (stored "
    )
    assert text.endswith("): the file is corrupt); 0 archived. A retry transfers only what is missing.")
    assert_nothing_partial(s3, [final_key(BIG)])
    result = files_op(s3, file_names=[BIG]).execute({})
    assert_archived_identically(s3, result)


def test_corrupt_zip_message_names_the_crc(ui_conn, usageintel_emulator, s3, hook_logs):
    usageintel_emulator.control.add_fault(path="/_download/", kind="corrupt_zip")
    with pytest.raises(UsageIntelligenceTransferError):
        files_op(s3, file_names=[BIG]).execute({})
    assert f"{BIG}: {BIG}: CRC-32 mismatch in member " in hook_logs.text()
    assert "the file is corrupt" in hook_logs.text()


@pytest.mark.reliability(
    "Download faults",
    "Size differs from the listing (file changed after it was listed)",
    "refused before commit after fresh URLs; next try with a new listing succeeds",
)
def test_size_mismatch_with_the_listing_is_refused(usageintel_emulator, monkeypatch, s3, hook_logs):
    set_ui_connection(monkeypatch, usageintel_emulator, max_retries=1)
    with UsageIntelligenceHook() as hook:
        record = next(r for r in hook.list_files("custom_events") if r.file_name == BIG)
    usageintel_emulator.control.set_file_size(BIG, 50_000)
    with pytest.raises(UsageIntelligenceTransferError):
        files_op(s3, files=[record.to_dict()]).execute({})
    assert (
        f"download of {BIG} failed after 2 attempts without progress: server announced 50000 bytes, "
        f"the listing says {record.compressed_size_kb} KB"
    ) in hook_logs.text()
    assert_nothing_partial(s3, [final_key(BIG)])
    result = files_op(s3, file_names=[BIG]).execute({})
    assert result["transferred"][0]["size"] == 50_000
    assert_archived_identically(s3, result)


test_corrupt_zip_message_names_the_crc = pytest.mark.reliability(
    "Download faults", "Corrupt zip: the error text", "names the file, the member and both CRCs"
)(test_corrupt_zip_message_names_the_crc)
