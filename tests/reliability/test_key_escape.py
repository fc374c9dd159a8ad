# ruff: noqa: E501 - exact messages read best unwrapped
"""Prefixes, key templates and file records that would put keys outside the task's prefix: refused first."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from tests.reliability.helpers import DAYS, daily_name, files_op

SEGMENTS = "names separated by '/', no empty, '.' or '..' segment, no control character"
RECORD = {
    "file_kind": "custom_events",
    "frequency": "daily",
    "file_name": daily_name(DAYS[0]),
    "start_date": DAYS[0],
    "stop_date": DAYS[0],
}


def record(**fields: Any) -> list[dict[str, Any]]:
    return [{**RECORD, **fields}]


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "s3_prefix with '..'": (
        {"s3_prefix": "../../escape"},
        f"s3_prefix: '../../escape' is not a valid key prefix (allowed: {SEGMENTS}, at most 512 bytes)",
    ),
    "s3_prefix with '.' and an empty segment": (
        {"s3_prefix": "lake/./a//b"},
        f"s3_prefix: 'lake/./a//b' is not a valid key prefix (allowed: {SEGMENTS}, at most 512 bytes)",
    ),
    "s3_prefix with a newline": (
        {"s3_prefix": "lake\n"},
        f"s3_prefix: 'lake\\n' is not a valid key prefix (allowed: {SEGMENTS}, at most 512 bytes)",
    ),
    "key_template starting with '../'": (
        {"key_template": "../{file_name}"},
        f"key_template: '../{{file_name}}' is not a valid key layout (allowed: {SEGMENTS})",
    ),
    "key_template with '..' inside": (
        {"key_template": "{prefix}/../../{yyyy}/{file_name}"},
        f"key_template: '{{prefix}}/../../{{yyyy}}/{{file_name}}' is not a valid key layout (allowed: {SEGMENTS})",
    ),
    "key_template formatting a placeholder": (
        {"key_template": "{prefix}/{file_name:.3}"},
        "key_template: '{prefix}/{file_name:.3}' formats a placeholder (allowed: plain placeholders such as {file_name}, no conversion or format spec)",
    ),
    "record: start_date with a path": (
        {"files": record(start_date="../../evil-a-b")},
        "files[0].start_date: '../../evil-a-b' is not a date (allowed: YYYY-MM-DD)",
    ),
    "record: frequency with a path": (
        {"files": record(frequency="../../../x")},
        "files[0].frequency: unknown value '../../../x' (allowed: daily, monthly, open)",
    ),
    "record: start_date 'garbage'": (
        {"files": record(start_date="garbage")},
        "files[0].start_date: 'garbage' is not a date (allowed: YYYY-MM-DD)",
    ),
    "record: impossible stop_date": (
        {"files": record(stop_date="2024-13-45")},
        "files[0].stop_date: '2024-13-45' is not a real calendar date (allowed: YYYY-MM-DD)",
    ),
    "record: unknown file_kind, stop before start": (
        {"files": record(file_kind="../x", stop_date="2024-03-01")},
        "2 problems:\n- files[0].file_kind: unknown value '../x' (allowed: custom_events, exceptions, raw_events)\n- files[0].stop_date: 2024-03-01 is before start_date 2024-03-13",
    ),
    "max_concurrency=0": ({"max_concurrency": 0}, "max_concurrency: 0 is out of range (allowed: 1 to 64)"),
    "max_concurrency=True": (
        {"max_concurrency": True},
        "max_concurrency: True is out of range (allowed: 1 to 64)",
    ),
    "abort_uploads_older_than=-1": (
        {"abort_uploads_older_than": -1},
        "abort_uploads_older_than: -1 is not allowed (allowed: a timedelta or a number of seconds >= 0, or None to leave leftovers to the lifecycle rule)",
    ),
    "manifest_key with '..'": (
        {"manifest_key": "../m.json"},
        "manifest_key: '../m.json' is not a valid object key (allowed: 1-1024 bytes, no NUL character, no '..' segment)",
    ),
}


@pytest.mark.reliability(
    "Bad input",
    "s3_prefix or key_template with '..', '.', empty segments, a control character or a format spec; "
    "records (files=) with a path or junk as a date, frequency or kind; max_concurrency 0 or True; a "
    "negative stale-upload bound",
    "refused before any request with the exact message (each problem once); S3 untouched",
)
@pytest.mark.parametrize("case", list(CASES))
def test_nothing_is_written_outside_the_prefix(ui_conn, usageintel_emulator, s3, case):
    settings, message = CASES[case]
    with pytest.raises(UsageIntelligenceValidationError) as info:
        files_op(s3, **settings).execute({})
    assert str(info.value) == message
    assert usageintel_emulator.control.requests() == []
    assert s3.list_keys(include_index=True) == [] and s3.multipart_uploads() == []
