"""Hostile or broken server data: a bad record is skipped and named, the rest archived, nothing escapes."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError, UsageIntelligenceTransferError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.utils.extract import extract_csv_members
from tests.reliability.helpers import daily_name, files_op
from tests.reliability.servers import ScriptedApi

LIST = "customEventTracking/listFiles/1234567890$"
LISTED = "GET /v3/customEventTracking/listFiles/1234567890 failed (HTTP 200): unexpected answer: "
NAME_RULE = (
    "is not a plain file name (allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')"
)
GOOD = daily_name("2024-03-13")
GOOD_KEY = f"lake/1234567890/custom_events/daily/2024/03/{GOOD}"
OTHER = daily_name("2024-03-14")
SKIPPED = (
    "1 listed file(s) skipped as unusable ({}); {} archived. A retry transfers only what is missing, "
    "and skips unusable files again until the API lists them correctly."
)


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        member = zipfile.ZipInfo(GOOD.replace(".zip", ".csv"), date_time=(2024, 3, 14, 0, 0, 0))
        archive.writestr(member, "eventName,count\nstart,1\n")
    return buffer.getvalue()


@pytest.fixture
def scripted(monkeypatch):
    def start(routes: dict) -> ScriptedApi:
        api = ScriptedApi(routes).__enter__()
        started.append(api)
        monkeypatch.setenv("AIRFLOW_CONN_USAGE_INTELLIGENCE_DEFAULT", json.dumps(api.connection()))
        return api

    started: list[ScriptedApi] = []
    yield start
    for api in started:
        api.__exit__()


def listing_with(scripted, *items: object) -> ScriptedApi:
    """A listing of the good file then ``items``; only the good file can be downloaded."""
    api = scripted({LIST: (200, {"dailyFiles": [{"fileName": GOOD, "fileDate": "2024-03-13"}, *items]})})
    api.serve_file(GOOD, a_zip())
    return api


def downloads(api: ScriptedApi) -> list[str]:
    return [p for p in api.paths if "getDownloadUrl" in p or "/_files/" in p]


def assert_only_under_the_prefix(s3, keys: list[str]) -> None:
    """S3 holds exactly ``keys`` (and the archive index), all under the task's prefix; no upload left."""
    assert s3.list_keys() == keys
    assert all(key.startswith("lake/") for key in s3.list_keys(include_index=True))
    assert s3.multipart_uploads() == []


HOSTILE_NAMES = {
    "parent directory": "../../etc/cron.d/x.zip",
    "absolute path": "/etc/passwd",
    "NUL byte": "x\x00.zip",
    "over-long": "a" * 250 + ".zip",
    "backslash path": "..\\..\\x.zip",
    "trailing newline": "x.zip\n",
}
HOSTILE_RECORDS = {
    **{
        f"name: {case}": (
            {"fileName": name, "fileDate": "2024-03-14"},
            f"dailyFiles[1].fileName: {name!r} {NAME_RULE}",
        )
        for case, name in HOSTILE_NAMES.items()
    },
    "impossible date": (
        {"fileName": OTHER, "fileDate": "2024-13-45"},
        "dailyFiles[1].fileDate: '2024-13-45' is not a real calendar date (allowed: YYYY-MM-DD)",
    ),
    "date with a path": (
        {"fileName": OTHER, "fileDate": "../../../x"},
        "dailyFiles[1].fileDate: '../../../x' is not a date (allowed: YYYY-MM-DD)",
    ),
    "date in non-ASCII digits": (
        {"fileName": OTHER, "fileDate": "\uff12\uff10\uff12\uff14-03-14"},
        "dailyFiles[1].fileDate: '\uff12\uff10\uff12\uff14-03-14' is not a date (allowed: YYYY-MM-DD)",
    ),
    "no date": ({"fileName": OTHER}, "dailyFiles[1].fileDate: None is not a date (allowed: YYYY-MM-DD)"),
    "size that is a string": (
        {"fileName": OTHER, "fileDate": "2024-03-14", "compressedSizeKB": "9"},
        "dailyFiles[1].compressedSizeKB: expected a size in KB, got '9' (allowed: a number >= 0)",
    ),
    "not an object": (42, "dailyFiles[1]: expected an object, got int"),
}


@pytest.mark.reliability(
    "Hostile server data",
    "A listed record with '../', an absolute path, NUL, backslashes, a newline or over-long name; an "
    "impossible, path-like, non-ASCII or missing date; a string size; not an object",
    "that record skipped and named in the task's error; the others archived; nothing outside the prefix",
)
@pytest.mark.parametrize("case", list(HOSTILE_RECORDS))
def test_a_hostile_record_is_skipped_and_the_rest_archived(scripted, s3, case):
    item, problem = HOSTILE_RECORDS[case]
    api = listing_with(scripted, item)
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3).execute({})
    assert str(info.value) == SKIPPED.format(problem, 1)
    assert downloads(api) == ["/v3/customEventTracking/getDownloadUrl/1234567890", f"/_files/{GOOD}"]
    assert_only_under_the_prefix(s3, [GOOD_KEY])
    assert s3.read(GOOD_KEY) == a_zip()


@pytest.mark.reliability(
    "Hostile server data",
    "A file listed twice (alike; with different details)",
    "alike: transferred once; different: skipped and named in the task's error, nothing written",
    tries=2,
)
def test_a_file_listed_twice(scripted, s3):
    api = listing_with(scripted, {"fileName": GOOD, "fileDate": "2024-03-13"})
    result = files_op(s3).execute({})
    assert [t["key"] for t in result["transferred"]] == [GOOD_KEY]
    assert len(downloads(api)) == 2  # one download URL, one download
    assert_only_under_the_prefix(s3, [GOOD_KEY])

    s3.client.delete_object(Bucket=s3.bucket, Key=GOOD_KEY)
    api = listing_with(scripted, {"fileName": GOOD, "fileDate": "2024-03-14"})
    with pytest.raises(UsageIntelligenceTransferError) as info:
        files_op(s3).execute({})
    assert str(info.value) == SKIPPED.format(
        f"{GOOD}: listed 2 times with different start_date, stop_date", 0
    )
    assert downloads(api) == []
    assert_only_under_the_prefix(s3, [])


MALFORMED = {
    "not JSON": (LIST, (200, b"<html>oops</html>"), "expected a JSON answer, got '<html>oops</html>'"),
    "a list, not an object": (LIST, (200, [1, 2]), "unexpected answer: expected a JSON object, got list"),
    "a section that is not a list": (
        LIST,
        (200, {"dailyFiles": {"a": 1}}),
        "dailyFiles: expected a list, got dict",
    ),
}


@pytest.mark.reliability(
    "Hostile server data",
    "listFiles answers of the wrong shape (not JSON, not an object, a section that is not a list)",
    "UsageIntelligenceAPIError naming the endpoint and the field, never a KeyError; nothing written",
)
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_listing(scripted, s3, case):
    path, answer, reason = MALFORMED[case]
    scripted({path: answer})
    with pytest.raises(UsageIntelligenceAPIError) as info:
        files_op(s3).execute({})
    assert str(info.value).startswith("GET /v3/customEventTracking/listFiles/1234567890 failed (HTTP 200): ")
    assert reason in str(info.value)
    assert_only_under_the_prefix(s3, [])


@pytest.mark.reliability(
    "Hostile server data",
    "getDownloadUrl without a usable URL; clientPropertyList with a non-list result",
    "UsageIntelligenceAPIError naming the endpoint",
    tries=3,
)
def test_malformed_download_url_and_client_pages(scripted):
    scripted(
        {
            "getDownloadUrl": (200, {"downloadUrl": "file:///etc/passwd"}),
            "clientPropertyList": (200, {"result": "nope", "reachedEnd": True}),
            "dateRange": (200, "a string"),
        }
    )
    hook = UsageIntelligenceHook()
    with pytest.raises(UsageIntelligenceAPIError) as info:
        hook.get_download_url("custom_events", "a.zip")
    assert str(info.value) == (
        "POST /v3/customEventTracking/getDownloadUrl/{product_id} failed (HTTP 200): "
        "answer for a.zip carries no usable 'downloadUrl'"
    )
    with pytest.raises(UsageIntelligenceAPIError) as info:
        list(hook.iter_client_properties({"properties": ["prodVersion"]}))
    assert str(info.value) == (
        "/v3/reporting/clientPropertyList/{product_id} failed (HTTP 200): 'result' is not a list"
    )
    with pytest.raises(UsageIntelligenceAPIError) as info:  # every documented answer is an object
        hook.date_range({"startDate": "2024-02-01", "stopDate": "2024-02-29", "dateSplit": "week"})
    assert str(info.value) == (
        "/v3/reporting/generic/dateRange/{product_id} failed (HTTP 200): expected a JSON object, got str"
    )


def hostile_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ok.csv", "a,b\n1,2\n")
        archive.writestr("../escape.csv", "x")
        archive.writestr("/abs.csv", "x")
        archive.writestr("sub/../../up.csv", "x")
        link = zipfile.ZipInfo("link.csv")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.reliability(
    "Hostile server data",
    "Zip members with '../', absolute paths, escaping folders, symbolic links",
    "members refused and not extracted; the safe member is",
)
def test_unsafe_zip_members_are_not_extracted(tmp_path):
    archive = tmp_path / "in.zip"
    archive.write_bytes(hostile_zip())
    dest = tmp_path / "out"
    dest.mkdir()
    result = extract_csv_members(archive, dest)
    assert result.extracted == [str(dest / "ok.csv")]
    assert sorted(result.refused) == sorted(["../escape.csv", "/abs.csv", "sub/../../up.csv", "link.csv"])
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["in.zip", "ok.csv"]
