# ruff: noqa: E501 - exact messages read best unwrapped
"""Bad input: every parameter a DAG author can get wrong fails before any request, with this exact message."""

from __future__ import annotations

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from tests.reliability.bad_inputs import CASES

EXPECTED = {
    "impossible date": "since: '2024-02-30' is not a real calendar date (allowed: YYYY-MM-DD)",
    "malformed date": "until: '14/03/2024' is not a date (allowed: YYYY-MM-DD)",
    "stop before start": "until: 2024-03-01 is before since 2024-03-10",
    "unknown file_kind": "file_kind: unknown value 'logs' (allowed: custom_events, exceptions, raw_events)",
    "unknown frequency": "frequency: unknown value 'hourly' (allowed: daily, monthly, open)",
    "monthly raw events": "frequency: monthly files are not offered for raw_events (allowed: daily)",
    "non-numeric product id": "product_id: '12ab' is not numeric (allowed: digits only)",
    "invalid bucket name": "s3_bucket: 'Bad_Bucket' is not a valid bucket name (allowed: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)",
    "key template with an unknown placeholder": "key_template: unknown placeholder(s) nope (allowed: prefix, product_id, file_kind, frequency, yyyy, mm, dd, file_name)",
    "key template without the file name": "key_template: must contain {file_name} so that every file gets its own key",
    "file name with a path": "file_names[0]: '../etc/passwd' is not a plain file name (allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')",
    "unknown report": "report: unknown name 'date_rnge' (allowed: product_properties, property_values, event_names, date_range, current, usage_distribution, lifetime_event_histogram, lifetime_event_data_table, basic_event_data_table, basic_event_timeline, advanced_events, churn_histogram_sessions, churn_histogram_runtime, churn_histogram_days, license_keys_search, license_keys_update, license_keys_insert, custom_events_last_lines, exceptions_last_lines, client_property_list, client_property_list_export)",
    "report stop before start": "request.stopDate: 2024-01-01 is before startDate 2024-02-01",
    "invalid global filter": "request.globalFilters.ram.min: expected a finite number, got string",
    "report key with '..'": "2 problems:\n- s3_key: '../up.json' is not a valid object key (allowed: 1-1024 bytes, no NUL character, no '..' segment)\n- flat_key: '../up.ndjson' is not a valid object key (allowed: 1-1024 bytes, no NUL character, no '..' segment)",
    "client properties: properties not a list": "request.properties: expected an array of strings, got string",
    "client properties key with NUL": "s3_key: 'c/x\\x00.gz' is not a valid object key (allowed: 1-1024 bytes, no NUL character, no '..' segment)",
    "filter builder: bad number range": "globalFilters.ram.min: expected a finite number, got string",
    "levels builder: unknown property type": "2 problems:\n- levels.level1.property: expected a non-empty string, got an empty string\n- levels.level1.segments[0].type: 'bogus' is not allowed (allowed: string, stringArray, regex, number, numberRange)",
    "event builder: name not a string": "event.name: expected a string, got integer",
    "plain http to a remote host": "host: plain http to analytics-api.example.com would send credentials unencrypted (allowed: https, http to a loopback address, or set the extra 'allow_insecure_http': true)",
    "sensor: impossible file_date": "file_date: '2024-13-01' is not a real calendar date (allowed: YYYY-MM-DD)",
    "sensor: unknown frequency": "frequency: unknown value 'weekly' (allowed: daily, monthly)",
    "hook: unknown file kind": "file_kind: unknown value 'logs' (allowed: custom_events, exceptions, raw_events)",
    "hook: download URL for '../x.zip'": "file_name: '../x.zip' is not a plain file name (allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')",
    "hook: non-numeric product id": "product_id: 'abc' is not numeric (allowed: digits only)",
}


@pytest.mark.reliability(
    "Bad input",
    "Malformed or impossible dates, stop before start, unknown file_kind/frequency/report, non-numeric "
    "product id, invalid filters/levels/events, invalid bucket/key/template, plain http to a remote host",
    "refused before any request, with the exact message naming the field and what is allowed",
    tries=len(CASES),
)
def test_every_bad_input_is_refused_with_its_message(ui_conn, usageintel_emulator):
    assert set(EXPECTED) == set(CASES)
    wrong = {}
    for name, call in CASES.items():
        with pytest.raises(UsageIntelligenceValidationError) as info:
            call()
        if str(info.value) != EXPECTED[name]:
            wrong[name] = str(info.value)
    assert wrong == {}
    assert usageintel_emulator.control.requests() == []
