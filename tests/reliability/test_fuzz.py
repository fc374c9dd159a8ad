"""Fuzzing the parsers of server data and the request validator: a clear error or a result, nothing else.

Inputs hypothesis once found failing are kept below as explicit examples.
"""

from __future__ import annotations

import contextlib
import io
import zipfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_usageintel.api.files import FileKind, FileRecord, check_record, parse_file_list
from airflow_provider_usageintel.api.validation import request_problems, validate_filter
from airflow_provider_usageintel.archive.zipcheck import ZipChecker, ZipCheckError
from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError
from airflow_provider_usageintel.hooks.base import parse_retry_after

EXAMPLES = 150
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
file_items = st.fixed_dictionaries(
    {},
    optional={
        "fileName": st.text(max_size=30)
        | st.sampled_from(["../x.zip", "/etc/passwd", "a\x00.zip", "a" * 300, "a.zip\n"]),
        "fileDate": st.text(max_size=12)
        | st.sampled_from(
            ["2024-03-01", "2024-13-45", "2024-02-30", "\uff12\uff10\uff12\uff14-03-01", "2024-03-01\n"]
        ),
        "fileStartDate": st.just("2024-02-01") | st.text(max_size=12),
        "fileStopDate": st.just("2024-02-29") | json_values,
        "compressedSizeKB": json_values | st.floats(min_value=0, max_value=1e6),
        "isAvailable": json_values,
    },
)
listings = st.dictionaries(
    st.sampled_from(["dailyFiles", "monthlyFiles", "openDailyFiles", "fileList", "other"]),
    st.lists(file_items | json_values, max_size=3) | json_values,
    max_size=4,
)


def check(data: bytes, chunk: int) -> ZipChecker:
    checker = ZipChecker("f.zip")
    for start in range(0, len(data), chunk):
        checker.feed(data[start : start + chunk])
    checker.finish()
    return checker


def a_zip(members: list[bytes], method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for i, data in enumerate(members):
            archive.writestr(f"m{i}.csv", data)
    return buffer.getvalue()


@pytest.mark.reliability(
    "Fuzzing",
    "listFiles answers (any JSON, hostile names)",
    "valid records, rejected records with their reasons, or an API error naming the field",
    tries=EXAMPLES,
)
@FAST
@given(kind=st.sampled_from(list(FileKind)), payload=listings | json_values)
@example(
    kind=FileKind.CUSTOM_EVENTS, payload={"dailyFiles": [{"fileName": "a\x00.zip", "fileDate": "2024-03-01"}]}
)
@example(
    kind=FileKind.CUSTOM_EVENTS,
    payload={"dailyFiles": [{"fileName": "a.zip\n", "fileDate": "2024-13-45"}, {"fileName": "b.zip"}]},
)
@example(
    kind=FileKind.RAW_EVENTS,
    payload={"fileList": [{"fileName": "x.zip", "fileDate": "2024-03-01", "compressedSizeKB": True}]},
)
def test_file_listing_parser(kind, payload):
    try:
        records = parse_file_list(kind, payload, "GET listFiles")
    except UsageIntelligenceAPIError as exc:
        assert str(exc).startswith("GET listFiles failed (HTTP 200): unexpected answer: ")
        return
    assert all(
        isinstance(r, FileRecord) and "/" not in r.file_name and ".." not in r.file_name for r in records
    )
    assert all(check_record(r) is r for r in records)  # every field fit for a key
    for rejected in records.rejected:  # a bad record is skipped with its reason, never raised
        assert rejected.problems and all(p.startswith(rejected.where) for p in rejected.problems)


@pytest.mark.reliability(
    "Fuzzing",
    "Global filters and whole report requests (any JSON)",
    "a list of problems, never an exception",
    tries=2 * EXAMPLES,
)
@FAST
@given(
    prop=json_values,
    entry=json_values,
    body=json_values,
    report=st.sampled_from(["date_range", "client_property_list", "nope"]),
)
@example(
    prop="ram",
    entry={"type": "numberRange", "min": float("nan")},
    body={"globalFilters": {"": 1}},
    report="date_range",
)
def test_filter_and_request_validator(prop, entry, body, report):
    problems = validate_filter(prop, entry, "globalFilters") + request_problems(report, body)
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)


@pytest.mark.reliability(
    "Fuzzing",
    "Zip stream checker: random bytes and single-byte flips of valid zips",
    "ZipCheckError or verified, never a crash",
    tries=2 * EXAMPLES,
)
@FAST
@given(data=st.binary(max_size=300), chunk=st.integers(1, 64))
@example(data=b"PK\x03\x04" + b"\xff" * 26, chunk=7)
@example(data=b"PK\x05\x06" + b"\x00" * 18, chunk=5)
def test_zip_checker_on_random_bytes(data, chunk):
    try:
        check(data, chunk)
    except ZipCheckError as exc:
        assert str(exc).startswith("f.zip: ")


@FAST
@given(
    members=st.lists(st.binary(max_size=400), min_size=1, max_size=3),
    method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
    chunk=st.integers(1, 97),
    flip=st.integers(0, 10_000),
)
def test_zip_checker_on_valid_and_flipped_zips(members, method, chunk, flip):
    data = a_zip(members, method)
    assert check(data, chunk).members == len(members)
    broken = bytearray(data)
    broken[flip % len(data)] ^= 0xFF
    with contextlib.suppress(ZipCheckError):  # a flip in the central directory goes unnoticed
        check(bytes(broken), chunk)


test_zip_checker_on_valid_and_flipped_zips = pytest.mark.reliability(
    "Fuzzing",
    "Zip stream checker: valid zips (stored, deflated) in any chunking",
    "every member verified",
    tries=EXAMPLES,
)(test_zip_checker_on_valid_and_flipped_zips)


@pytest.mark.reliability("Fuzzing", "Retry-After header values", "seconds >= 0 or ignored", tries=EXAMPLES)
@FAST
@given(value=st.text(max_size=40) | st.none())
@example(value="Wed, 21 Oct 2015 07:28:00 GMT")
@example(value="99999999999999999999999")
@example(value="\u00b9")  # found by hypothesis: isdigit() but not a number
def test_retry_after_parser(value):
    wait = parse_retry_after(value)
    assert wait is None or wait >= 0
