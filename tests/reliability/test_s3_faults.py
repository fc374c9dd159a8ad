"""S3 failures (through a loopback proxy in front of moto): aborted uploads, clear errors, clean retries."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError
from tests.reliability.helpers import (
    DAYS,
    assert_archived_identically,
    assert_nothing_partial,
    clients_op,
    daily_name,
    files_op,
    report_op,
    statuses,
)
from tests.reliability.servers import (
    S3FaultProxy,
    abort_upload,
    any_request,
    complete_upload,
    put_object,
    upload_part,
    writes,
)

BIG = daily_name(DAYS[-1])
SMALL = daily_name(DAYS[0])


@pytest.fixture
def proxy(s3, monkeypatch) -> Iterator[S3FaultProxy]:
    """``aws_default`` aimed at a fault proxy in front of the test's moto server."""
    with S3FaultProxy(s3.endpoint_url) as running:
        extra = {
            "endpoint_url": running.url,
            "region_name": "us-east-1",
            "config_kwargs": {"retries": {"max_attempts": 3}},  # fewer, faster retries of persistent faults
        }
        conn = {"conn_type": "aws", "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        yield running


@pytest.fixture
def big(usageintel_emulator) -> str:
    usageintel_emulator.control.set_file_size(BIG, 2 * MIN_PART_SIZE + 999)
    return BIG


def final_keys() -> list[str]:
    return [f"lake/1234567890/custom_events/daily/2024/03/{name}" for name in (SMALL, BIG)]


@pytest.mark.reliability(
    "S3 faults", "HTTP 500 then 503 SlowDown on a part upload", "retried by the S3 client; success"
)
@pytest.mark.parametrize(("status", "code"), [(500, "InternalError"), (503, "SlowDown")])
def test_transient_part_upload_errors_are_retried(ui_conn, s3, proxy, big, status, code):
    proxy.fail(upload_part, status, code, "injected", count=2)
    result = files_op(s3).execute({})
    assert len(proxy.failed) == 2
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "S3 faults",
    "HTTP 500/503 on every part upload, on complete, on PutObject",
    "upload aborted; clear error naming the S3 call; nothing partial; next try succeeds",
)
@pytest.mark.parametrize(
    ("rule", "status", "code", "operation", "failing"),
    [
        (upload_part, 500, "InternalError", "UploadPart", BIG),
        (upload_part, 503, "SlowDown", "UploadPart", BIG),
        (complete_upload, 500, "InternalError", "CompleteMultipartUpload", BIG),
        (put_object, 503, "SlowDown", "PutObject", SMALL),
    ],
)
def test_persistent_s3_errors_abort_and_the_retry_completes(
    ui_conn, s3, proxy, big, hook_logs, rule, status, code, operation, failing
):
    proxy.fail(rule, status, code, "injected")
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3).execute({})
    assert str(info.value) == (
        f"1 of 2 file(s) failed ({failing}: An error occurred ({code}) when calling the {operation} "
        "operation (reached max retries: 3): injected); 1 archived. A retry transfers only what is missing."
    )
    assert isinstance(info.value.__cause__, ClientError)  # the traceback shows S3's own error too
    assert f"An error occurred ({code}) when calling the {operation} operation" in hook_logs.text()
    failed_key = next(k for k in final_keys() if k.endswith(failing))
    assert_nothing_partial(s3, [failed_key])
    proxy.clear()
    result = files_op(s3).execute({})
    assert [t["file_name"] for t in result["transferred"]] == [failing]
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "S3 faults",
    "Bucket that does not exist",
    "NoSuchBucket before any download; nothing fetched",
)
def test_missing_bucket_fails_before_any_download(ui_conn, usageintel_emulator, s3):
    op = files_op(s3, s3_bucket="no-such-bucket-here")
    with pytest.raises(ClientError) as info:
        op.execute({})
    assert str(info.value) == (
        "An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: "
        "The specified bucket does not exist"
    )
    assert statuses(usageintel_emulator, "/_download/") == []


@pytest.mark.reliability(
    "S3 faults",
    "Access denied on every S3 call (files, report, client properties)",
    "AccessDenied error naming the S3 call; nothing written",
)
@pytest.mark.parametrize("job", ["files", "report", "clients"])
def test_access_denied_everywhere(ui_conn, s3, proxy, job):
    proxy.fail(any_request, 403, "AccessDenied", "Access Denied")
    op = {"files": files_op, "report": report_op, "clients": clients_op}[job](s3)
    with pytest.raises(ClientError) as info:
        op.execute({})
    operation = {"files": "ListObjectsV2", "report": "PutObject", "clients": "PutObject"}[job]
    assert (
        str(info.value)
        == f"An error occurred (AccessDenied) when calling the {operation} operation: Access Denied"
    )
    assert s3.list_keys() == [] and s3.multipart_uploads() == []


@pytest.mark.reliability(
    "S3 faults",
    "Access denied on writes only (multipart and single-part)",
    "every file fails with AccessDenied; multipart uploads aborted; nothing written",
)
def test_access_denied_on_writes(ui_conn, s3, proxy, big, hook_logs):
    proxy.fail(writes, 403, "AccessDenied", "Access Denied")
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3).execute({})
    assert str(info.value).startswith("2 of 2 file(s) failed (")
    assert str(info.value).count("(AccessDenied) when calling the") == 2
    assert hook_logs.text().count("(AccessDenied) when calling the") == 2
    assert_nothing_partial(s3, final_keys())
    assert s3.list_keys() == []


@pytest.mark.reliability(
    "S3 faults",
    "Access denied on the one file of a task",
    "the task's error carries S3's error (code, call, message), chained as its cause; nothing written",
)
def test_access_denied_names_its_cause(ui_conn, s3, proxy):
    proxy.fail(writes, 403, "AccessDenied", "Access Denied")
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3, file_names=[SMALL]).execute({})
    assert str(info.value) == (
        f"1 of 1 file(s) failed ({SMALL}: An error occurred (AccessDenied) when calling the PutObject "
        "operation: Access Denied); 0 archived. A retry transfers only what is missing."
    )
    assert isinstance(info.value.__cause__, ClientError)
    assert_nothing_partial(s3, final_keys())
    assert s3.list_keys(include_index=True) == []


@pytest.mark.reliability(
    "S3 faults",
    "S3 outage during the abort of a failed multipart upload",
    "the task's error is the upload's, not the abort's; the next run aborts the leftover and completes",
)
def test_a_failed_abort_keeps_the_original_error(ui_conn, s3, proxy, big, hook_logs):
    proxy.fail(upload_part, 403, "AccessDenied", "Access Denied")
    proxy.fail(abort_upload, 503, "ServiceUnavailable", "outage")
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3, file_names=[BIG]).execute({})
    assert str(info.value) == (
        f"1 of 1 file(s) failed ({BIG}: An error occurred (AccessDenied) when calling the UploadPart "
        "operation: Access Denied); 0 archived. A retry transfers only what is missing."
    )
    big_key = final_keys()[1]
    assert (
        f"Aborting the multipart upload of s3://{s3.bucket}/{big_key} failed too (An error occurred "
        "(ServiceUnavailable) when calling the AbortMultipartUpload operation (reached max retries: 3): "
        "outage); the incomplete upload stays until the task's next run or the bucket's "
        "AbortIncompleteMultipartUpload lifecycle rule removes it"
    ) in hook_logs.text()
    assert [u["Key"] for u in s3.multipart_uploads()] == [big_key]  # left behind, invisible
    assert s3.list_keys() == []

    proxy.clear()
    result = files_op(s3, file_names=[BIG], abort_uploads_older_than=0).execute({})
    assert [a["key"] for a in result["aborted_uploads"]] == [big_key]
    assert all(key.startswith("lake/") for key in s3.list_keys(include_index=True))
    assert_archived_identically(s3, result)


@pytest.mark.reliability(
    "S3 faults",
    "No Airflow connection behind aws_conn_id (missing 'aws_default'; aws_conn_id=None)",
    "works with the default credential chain, saying so: a loud warning when the connection is missing",
    tries=2,
)
def test_a_missing_aws_connection_is_said_out_loud(ui_conn, s3, monkeypatch, hook_logs):
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)  # the default chain reaches moto
    result = files_op(s3).execute({})
    warning = (
        "AWS connection 'aws_default' does not exist: S3 credentials come from the worker's default AWS "
        "credential chain (environment, ~/.aws, instance or pod role), whichever account that is. Create "
        "the connection, or pass aws_conn_id=None to use the default chain on purpose."
    )
    assert any(e["event"] == warning and e["log_level"] == "warning" for e in hook_logs.events)
    assert_archived_identically(s3, result)

    result = files_op(s3, aws_conn_id=None, replace=True).execute({})
    assert "aws_conn_id is None: S3 credentials come from the worker's default AWS credential chain" in (
        hook_logs.text()
    )
    assert len(result["transferred"]) == 2
    assert_archived_identically(s3, result)
