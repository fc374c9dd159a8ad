"""Where files land in S3, and the listing prefix known before the API lists them."""

from __future__ import annotations

import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.archive.layout import (
    DEFAULT_KEY_TEMPLATE,
    catalog_key,
    check_key_template,
    check_prefix,
    client_properties_key,
    common_prefix,
    file_key_space,
    flat_key_beside,
    index_key,
    is_index_key,
    known_prefix,
    license_keys_inbox_key,
    license_keys_prefix,
    license_keys_processed_key,
    license_keys_registry_key,
    manifest_key,
    object_key,
    report_key,
    reports_prefix,
    selection_prefix,
)
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError

PID = "1234567890"


def daily(day: str, kind: str = "custom_events") -> FileRecord:
    return FileRecord(kind, "daily", f"{PID}_cust_{day}.zip", day, day, 1.0, 3.0)


def monthly(first: str, last: str) -> FileRecord:
    return FileRecord("custom_events", "monthly", f"{PID}_cust_{first}_to_{last}.zip", first, last, 1.0, 3.0)


def open_file(day: str) -> FileRecord:
    return FileRecord("custom_events", "open", f"{PID}_cust_{day}.zip", day, day, None, 3.0, False)


def test_known_prefix_stops_at_the_first_unknown_placeholder():
    template = "{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{file_name}"
    assert known_prefix(template, {"prefix": "p", "product_id": PID}) == f"p/{PID}/"
    assert known_prefix(template, {"prefix": "p", "file_kind": "x"}) == "p/"
    assert known_prefix("{prefix}/{yyyy!r}/{file_name}", {"prefix": "p", "yyyy": "2024"}) == "p/"


def test_common_prefix_is_character_wise():
    assert common_prefix(["a/b/2024/03", "a/b/2024/04"]) == "a/b/2024/0"
    assert common_prefix(["only"]) == "only"


@pytest.mark.parametrize(
    ("frequency", "since", "until", "template", "expected"),
    [
        (["daily", "monthly"], None, None, None, f"lake/{PID}/custom_events/"),
        ("daily", None, None, None, f"lake/{PID}/custom_events/daily/"),
        ("daily", None, "2024-03-14", None, f"lake/{PID}/custom_events/daily/"),
        ("daily", "2023-12-30", "2024-01-02", None, f"lake/{PID}/custom_events/daily/"),
        ("daily", "2024-01-30", "2024-02-02", None, f"lake/{PID}/custom_events/daily/2024/"),
        ("daily", "2024-03-01", "2024-03-14", None, f"lake/{PID}/custom_events/daily/2024/03/"),
        ("monthly", "2024-02-01", "2024-02-01", None, f"lake/{PID}/custom_events/monthly/2024/02/"),
        ("daily", "2024-03-14", "2024-03-14", "{prefix}/{yyyy}-{mm}-{dd}/{file_name}", "lake/2024-03-14/"),
    ],
)
def test_selection_prefix(frequency, since, until, template, expected):
    selection = FileSelection.parse("custom_events", frequency, since, until)
    assert selection_prefix(selection, PID, "/lake/", template) == expected


def test_open_files_widen_the_prefix_to_what_both_layouts_share():
    selection = FileSelection.parse("custom_events", "daily", include_open=True)
    assert selection_prefix(selection, PID, "lake", None) == "lake/"
    only_open = FileSelection.parse("custom_events", "open")
    assert selection_prefix(only_open, PID, "lake", None) == f"lake/open/{PID}/custom_events/"


RECORDS = [
    daily("2024-01-31"),
    daily("2024-02-01"),
    daily("2024-03-14"),
    monthly("2024-01-15", "2024-01-31"),
    monthly("2024-02-01", "2024-02-29"),
    open_file("2024-03-15"),
]
WINDOWS = [(None, None), (None, "2024-02-10"), ("2024-02-01", "2024-02-29"), ("2024-01-31", "2024-02-01")]
WINDOWS += [("2024-03-14", "2024-03-14"), ("2024-01-01", "2024-03-31")]
TEMPLATES = [
    None,
    "{prefix}/{file_kind}/{yyyy}/{mm}/{dd}/{file_name}",
    "{prefix}/x/{frequency}-{yyyy}/{file_name}",
]


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("frequency", [["daily"], ["monthly"], ["daily", "monthly"], ["daily", "open"]])
def test_every_selected_file_lands_under_the_selection_prefix(window, template, frequency):
    selection = FileSelection.parse("custom_events", frequency, *window)
    prefix = selection_prefix(selection, PID, "lake", template)
    for record in selection.apply(RECORDS):
        key = object_key(record, PID, "lake", template if record.is_final else None)
        assert key.startswith(prefix), (key, prefix)


SEGMENTS = "names separated by '/', no empty, '.' or '..' segment, no control character"


@pytest.mark.parametrize("prefix", ["", "lake", "/lake/", "a/b-c/d.e", "usage intel/x"])
def test_plain_prefixes_are_accepted(prefix):
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["..", "../x", "a/../b", "a/./b", "a//b", "./a", "a\nb", "a\x00", 7, "a" * 513]
)
def test_prefixes_that_leave_or_blur_their_folder_are_refused(prefix):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        check_prefix(prefix)
    assert str(info.value) == (
        f"s3_prefix: {prefix!r} is not a valid key prefix (allowed: {SEGMENTS}, at most 512 bytes)"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("../{file_name}", f"is not a valid key layout (allowed: {SEGMENTS})"),
        ("{prefix}/./{file_name}", f"is not a valid key layout (allowed: {SEGMENTS})"),
        ("{prefix}//{file_name}", f"is not a valid key layout (allowed: {SEGMENTS})"),
        ("{prefix}/{file_name!r}", "formats a placeholder"),
        ("{prefix}/{yyyy:>8}/{file_name}", "formats a placeholder"),
    ],
)
def test_templates_that_leave_the_prefix_or_reformat_values_are_refused(template, problem):
    with pytest.raises(UsageIntelligenceValidationError) as info:
        check_key_template(template)
    assert str(info.value).startswith(f"key_template: {template!r} {problem}")


def test_object_key_checks_every_field_that_goes_into_it():
    bad = FileRecord("custom_events", "daily", f"{PID}_cust_x.zip", "../../evil-a-b", "2024-03-14")
    with pytest.raises(UsageIntelligenceValidationError) as info:
        object_key(bad, PID, "lake")
    assert str(info.value) == "file.start_date: '../../evil-a-b' is not a date (allowed: YYYY-MM-DD)"
    with pytest.raises(UsageIntelligenceValidationError):
        object_key(daily("2024-03-14"), PID, "../lake")
    with pytest.raises(UsageIntelligenceValidationError):
        object_key(daily("2024-03-14"), "../..", "lake")  # the rendered key is checked last


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_task_owns_exactly_the_keys_it_writes(template):
    space = file_key_space("lake", PID, "custom_events", template)
    mine = [object_key(r, PID, "lake", template if r.is_final else None) for r in RECORDS]
    assert all(key.startswith(space.prefix) and space.owns(key) for key in mine)
    others = [
        index_key("lake", PID, "custom_events"),
        f"lake/{PID}/custom_events/daily/2024/03/notes/readme.txt",
        "other/" + mine[0],
        object_key(daily("2024-03-14"), PID, "lake2", template),
    ]
    assert [key for key in others if space.owns(key)] == []
    # Another kind's or product's keys are told apart by the placeholders the layout has.
    other_kind = object_key(daily("2024-03-14", "exceptions"), PID, "lake", template)
    other_product = object_key(daily("2024-03-14"), "999", "lake", template)
    template = template or DEFAULT_KEY_TEMPLATE
    assert space.owns(other_kind) is ("{file_kind}" not in template)
    assert space.owns(other_product) is ("{product_id}" not in template)


def test_an_empty_prefix_owns_keys_without_a_leading_slash():
    space = file_key_space("", PID, "custom_events")
    key = object_key(daily("2024-03-14"), PID, "")
    assert key == f"{PID}/custom_events/daily/2024/03/{PID}_cust_2024-03-14.zip"
    assert space.owns(key) and space.prefix == ""


def test_every_key_beside_the_files_comes_from_the_layout():
    assert index_key("/lake/", PID, "custom_events") == f"lake/_index/{PID}/custom_events.json"
    assert manifest_key("lake", "daily", "2024-03-14") == "lake/_manifests/daily/2024-03-14.json"
    assert (
        manifest_key("", "monthly", "2024-02", "exceptions") == "_manifests/monthly/2024-02/exceptions.json"
    )
    assert reports_prefix("lake", "weekly", "2024-03-09") == "lake/reports/weekly/2024-03-09"
    assert report_key("lake", "weekly", "2024-03-09", "date_range") == (
        "lake/reports/weekly/2024-03-09/date_range.json"
    )
    assert (
        client_properties_key("lake", "2024-03-09") == "lake/clients/2024-03-09/client_properties.ndjson.gz"
    )
    # A templated prefix renders later: it is one segment now, and the task checks the rendered key.
    templated = "{{ var.value.get('usageintel_prefix', 'usageintel') }}"
    assert manifest_key(templated, "daily", "{{ ds }}") == f"{templated}/_manifests/daily/{{{{ ds }}}}.json"


def test_flat_rows_go_beside_the_json_answer():
    assert flat_key_beside("lake/reports/weekly/2024-03-09/date_range.json", "csv") == (
        "lake/reports/weekly/2024-03-09/date_range.csv"
    )
    assert flat_key_beside("fusionauth/login/2024-03-14T0000_2024-03-15T0000.json", "ndjson") == (
        "fusionauth/login/2024-03-14T0000_2024-03-15T0000.ndjson"
    )
    assert flat_key_beside("reports/clients", "ndjson") == "reports/clients.ndjson"


def test_the_example_dags_keys_come_from_the_layout_too():
    assert catalog_key("lake", "manual__2024-03-15") == "lake/_catalog/manual__2024-03-15.json"
    assert license_keys_inbox_key("lake", "insert") == "lake/license-keys/inbox/insert.csv"
    assert (
        license_keys_processed_key("lake", "20240315T063000", "update")
        == "lake/license-keys/processed/20240315T063000-update.csv"
    )
    assert (
        license_keys_registry_key("lake", "2024-03-15") == "lake/license-keys/registry/2024-03-15.ndjson.gz"
    )
    assert license_keys_prefix("", "inbox") == "license-keys/inbox"
    with pytest.raises(UsageIntelligenceValidationError) as info:
        license_keys_prefix("lake", "outbox")
    assert str(info.value) == "folder: 'outbox' is not allowed (allowed: inbox, processed, registry)"
    with pytest.raises(UsageIntelligenceValidationError):
        license_keys_inbox_key("../x", "insert")


def test_index_objects_are_told_from_data():
    assert is_index_key(index_key("lake", PID, "custom_events"))
    assert is_index_key("_index/custom_events/1.json")
    assert not is_index_key(manifest_key("lake", "daily", "2024-03-14"))
    assert not is_index_key(object_key(daily("2024-03-14"), PID, "lake"))


def test_keys_beside_the_files_check_their_prefix():
    with pytest.raises(UsageIntelligenceValidationError) as info:
        manifest_key("../x", "daily", "2024-03-14")
    assert str(info.value).startswith("s3_prefix: '../x' is not a valid key prefix")
