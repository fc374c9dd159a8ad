"""Hostile or broken server data: refused with an error naming the endpoint, never escaping a prefix."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from airflow_provider_usageintel.exceptions import UsageIntelligenceAPIError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.utils.extract import extract_csv_members
from tests.reliability.helpers import files_op
from tests.reliability.servers import ScriptedApi

LIST = "customEventTracking/listFiles/1234567890$"
LISTED = "GET /v3/customEventTracking/listFiles/1234567890 failed (HTTP 200): unexpected answer: "
NAME_RULE = (
    "is not a plain file name (allowed: letters, digits, '.', '_' and '-', at most 200 characters, no '..')"
)
HOSTILE_NAMES = {
    "parent directory": "../../etc/cron.d/x.zip",
    "absolute path": "/etc/passwd",
    "NUL byte": "x\x00.zip",
    "over-long": "a" * 250 + ".zip",
    "backslash path": "..\\..\\x.zip",
}


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


@pytest.mark.reliability(
    "Hostile server data",
    "Listed file names with '../', absolute paths, NUL bytes, backslashes, over-long",
    "listing refused naming the field; nothing downloaded or written",
)
@pytest.mark.parametrize("case", list(HOSTILE_NAMES))
def test_hostile_file_names_are_refused(scripted, s3, case):
    name = HOSTILE_NAMES[case]
    api = scripted({LIST: (200, {"dailyFiles": [{"fileName": name, "fileDate": "2024-03-14"}]})})
    with pytest.raises(UsageIntelligenceAPIError) as info:
        files_op(s3).execute({})
    assert str(info.value) == f"{LISTED}dailyFiles[0].fileName: {name!r} {NAME_RULE}"
    assert not any("Download" in p for p in api.paths)
    assert s3.list_keys() == []


MALFORMED = {
    "not JSON": (LIST, (200, b"<html>oops</html>"), "expected a JSON answer, got '<html>oops</html>'"),
    "a list, not an object": (LIST, (200, [1, 2]), "unexpected answer: expected a JSON object, got list"),
    "a section that is not a list": (
        LIST,
        (200, {"dailyFiles": {"a": 1}}),
        "dailyFiles: expected a list, got dict",
    ),
    "a record without a date": (
        LIST,
        (200, {"dailyFiles": [{"fileName": "a.zip"}]}),
        "fileDate: expected a YYYY-MM-DD date, got None",
    ),
    "a size that is a string": (
        LIST,
        (200, {"dailyFiles": [{"fileName": "a.zip", "fileDate": "2024-03-14", "compressedSizeKB": "9"}]}),
        "compressedSizeKB: expected a size in KB, got '9'",
    ),
}


@pytest.mark.reliability(
    "Hostile server data",
    "Malformed or unexpected JSON from listFiles",
    "UsageIntelligenceAPIError naming the endpoint and the field, never a KeyError",
)
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_listing(scripted, s3, case):
    path, answer, reason = MALFORMED[case]
    scripted({path: answer})
    with pytest.raises(UsageIntelligenceAPIError) as info:
        files_op(s3).execute({})
    assert str(info.value).startswith("GET /v3/customEventTracking/listFiles/1234567890 failed (HTTP 200): ")
    assert reason in str(info.value)


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
