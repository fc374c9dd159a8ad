"""UsageIntelligenceFilesToS3Operator end to end: real Airflow, the emulator and moto's S3 server."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import threading

import pytest

from airflow_provider_usageintel.api.files import FileRecord
from airflow_provider_usageintel.archive import layout
from airflow_provider_usageintel.archive.upload import MIN_PART_SIZE
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
from airflow_provider_usageintel.transfers.files_to_s3 import UsageIntelligenceFilesToS3Operator
from tests.airflow_utils import run_dag, task_states, xcom

KINDS = ("custom_events", "exceptions", "raw_events")


def archive_run(s3, **conf):
    dagrun = run_dag("test_archive_files", run_conf={"bucket": s3.bucket, **conf})
    assert str(dagrun.state) == "success", task_states(dagrun)
    return {kind: xcom(dagrun, f"archive_{kind}") for kind in KINDS}, dagrun


def downloads(emulator) -> list[dict]:
    return [
        r for r in emulator.control.requests() if "getDownloadUrl" in r["path"] or "/_download/" in r["path"]
    ]


def asset_events(bucket: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri.like(f"s3://{bucket}/%"))
            .all()
        )
        return [(uri, extra) for uri, extra in rows]


def test_first_run_archives_history_and_rerun_is_a_no_op(airflow_db, ui_conn, usageintel_emulator, s3):
    manifests, _ = archive_run(s3)
    keys = [k for k in s3.list_keys("lake/usageintel/1234567890/")]
    # 60 days of daily files for each kind, plus January (from the 15th) and February monthly files.
    assert len([k for k in keys if "/daily/" in k]) == 3 * 60
    assert len([k for k in keys if "/monthly/" in k]) == 2 * 2
    assert sum(m["files_transferred"] for m in manifests.values()) == len(keys)
    assert s3.multipart_uploads() == []

    hook = UsageIntelligenceHook()
    sample = [k for k in keys if k.endswith("2024-03-14.zip")]
    assert len(sample) == 3
    for key in sample:
        kind = key.split("/")[3]
        body = s3.read(key)
        direct = io.BytesIO()
        hook.download_file(kind, key.rsplit("/", 1)[1], direct)
        assert body == direct.getvalue()  # byte-identical to the source
        meta = s3.head(key)["Metadata"]
        assert meta["sha256"] == hashlib.sha256(body).hexdigest()
        assert meta["size"] == str(len(body)) and meta["source-file-name"] == key.rsplit("/", 1)[1]
        assert meta["source-start-date"] == "2024-03-14" == meta["source-stop-date"]
    monthly = s3.head(
        "lake/usageintel/1234567890/custom_events/monthly/2024/02/1234567890_cust_2024-02-01_to_2024-02-29.zip"
    )
    assert monthly["Metadata"]["source-frequency"] == "monthly"

    manifest_obj = json.loads(s3.read(layout.manifest_key("lake/usageintel", _run_id(s3), "raw_events")))
    assert manifest_obj["files_transferred"] == 60

    events = asset_events(s3.bucket)
    assert sorted(uri for uri, _ in events) == sorted(f"s3://{s3.bucket}/{k}" for k in keys)
    assert all(extra["sha256"] and extra["size"] > 0 for _, extra in events)

    usageintel_emulator.control.reset()
    manifests, _ = archive_run(s3)
    assert all(m["files_transferred"] == 0 for m in manifests.values())
    assert sum(m["files_skipped"] for m in manifests.values()) == len(keys)
    assert downloads(usageintel_emulator) == []
    listings = [r for r in usageintel_emulator.control.requests() if "listFiles" in r["path"]]
    assert len(listings) == 3  # one listing per kind


def _run_id(s3) -> str:
    prefixes = {k.split("/")[3] for k in s3.list_keys(f"lake/usageintel/{layout.MANIFEST_DIR}/")}
    assert len(prefixes) == 1
    return prefixes.pop()


def test_as_the_clock_advances_each_closed_day_and_month_is_transferred_once(
    airflow_db, ui_conn, usageintel_emulator, s3
):
    archive_run(s3)
    # the next day: exactly one new file per kind
    usageintel_emulator.control.advance_days(1)
    manifests, _ = archive_run(s3)
    for kind in KINDS:
        names = [t["file_name"] for t in manifests[kind]["transferred"]]
        assert len(names) == 1 and names[0].endswith("2024-03-15.zip"), (kind, names)
    # month end: the rest of March's days, and March's monthly file
    usageintel_emulator.control.advance_days(16)  # 2024-04-01: March has closed
    manifests, _ = archive_run(s3)
    monthly = [
        t["file_name"] for t in manifests["custom_events"]["transferred"] if t["frequency"] == "monthly"
    ]
    assert monthly == ["1234567890_cust_2024-03-01_to_2024-03-31.zip"]
    assert len(manifests["custom_events"]["transferred"]) == 16 + 1


def execute(operator, context=None):
    return operator.execute(context or {})


def test_open_files_go_under_open_prefix_and_are_replaced_when_they_change(ui_conn, usageintel_emulator, s3):
    def op():
        return UsageIntelligenceFilesToS3Operator(
            task_id="t",
            file_kind="exceptions",
            frequency="daily",
            since="2024-03-14",
            include_open=True,
            s3_bucket=s3.bucket,
            s3_prefix="p",
            asset_alias=None,
        )

    first = execute(op())
    today = FileRecord(
        "exceptions", "open", "1234567890_exc_2024-03-15.zip", "2024-03-15", "2024-03-15", is_final=False
    )
    open_key = layout.object_key(today, "1234567890", "p")
    assert open_key in [t["key"] for t in first["transferred"]]
    assert execute(op())["files_transferred"] == 0  # unchanged open file: skipped
    usageintel_emulator.control.set_file_size("1234567890_exc_2024-03-15.zip", 40_000)
    again = execute(op())
    assert [t["key"] for t in again["transferred"]] == [open_key]
    assert len(s3.read(open_key)) == 40_000


def test_large_file_goes_through_multipart_in_bounded_parts(ui_conn, usageintel_emulator, s3):
    name = "1234567890_2024-03-14.zip"
    usageintel_emulator.control.set_file_size(name, 3 * MIN_PART_SIZE + 777)
    result = execute(
        UsageIntelligenceFilesToS3Operator(
            task_id="t",
            file_kind="raw_events",
            file_names=[name],
            s3_bucket=s3.bucket,
            part_size=MIN_PART_SIZE,
            asset_alias=None,
        )
    )
    (item,) = result["transferred"]
    body = s3.read(item["key"])
    assert len(body) == 3 * MIN_PART_SIZE + 777 and hashlib.sha256(body).hexdigest() == item["sha256"]
    assert s3.multipart_uploads() == [] and s3.list_keys() == [item["key"]]
    meta = s3.head(item["key"])["Metadata"]
    assert meta["source-file-name"] == name and "sha256" not in meta  # set before the first byte
    index_key = layout.index_key("usageintel", "1234567890", "raw_events")
    assert json.loads(s3.read(index_key))["objects"][item["key"]]["sha256"] == item["sha256"]


def test_multipart_object_without_index_is_confirmed_by_its_metadata(ui_conn, usageintel_emulator, s3):
    name = "1234567890_2024-03-14.zip"
    usageintel_emulator.control.set_file_size(name, 2 * MIN_PART_SIZE + 5)

    def op() -> UsageIntelligenceFilesToS3Operator:
        return UsageIntelligenceFilesToS3Operator(
            task_id="t",
            file_kind="raw_events",
            file_names=[name],
            s3_bucket=s3.bucket,
            part_size=MIN_PART_SIZE,
            asset_alias=None,
        )

    first = execute(op())
    index_key = layout.index_key("usageintel", "1234567890", "raw_events")
    s3.client.delete_object(Bucket=s3.bucket, Key=index_key)
    again = execute(op())
    assert again["files_transferred"] == 0 and again["skipped"][0]["reason"] == "already archived"
    (entry,) = json.loads(s3.read(index_key))["objects"].values()
    assert entry["size"] == first["transferred"][0]["size"] and entry["sha256"] is None
    execute(op())  # the entry without a checksum still vouches for the object


def test_replace_transfers_again(ui_conn, usageintel_emulator, s3):
    kwargs = dict(
        task_id="t",
        file_kind="custom_events",
        since="2024-03-13",
        until="2024-03-14",
        s3_bucket=s3.bucket,
        asset_alias=None,
    )
    assert execute(UsageIntelligenceFilesToS3Operator(**kwargs))["files_transferred"] == 2
    assert execute(UsageIntelligenceFilesToS3Operator(**kwargs))["files_transferred"] == 0
    assert execute(UsageIntelligenceFilesToS3Operator(replace=True, **kwargs))["files_transferred"] == 2


def test_custom_key_template(ui_conn, usageintel_emulator, s3):
    result = execute(
        UsageIntelligenceFilesToS3Operator(
            task_id="t",
            file_kind="custom_events",
            since="2024-03-14",
            until="2024-03-14",
            s3_bucket=s3.bucket,
            key_template="{prefix}/kind={file_kind}/dt={yyyy}-{mm}-{dd}/{file_name}",
            asset_alias=None,
        )
    )
    assert [t["key"] for t in result["transferred"]] == [
        "usageintel/kind=custom_events/dt=2024-03-14/1234567890_cust_2024-03-14.zip"
    ]


def test_bad_input_is_refused_before_any_call(ui_conn, usageintel_emulator, s3):
    op = UsageIntelligenceFilesToS3Operator(
        task_id="t",
        file_kind="logs",
        frequency="hourly",
        since="2024-02-30",
        s3_bucket="Bad_Bucket",
        key_template="{prefix}/{nope}",
        max_concurrency=0,
        part_size=1024,
        manifest_key="../x",
        progress_interval=0,
    )
    with pytest.raises(UsageIntelligenceValidationError) as info:
        execute(op)
    text = str(info.value)
    for field in (
        "file_kind",
        "frequency",
        "since",
        "s3_bucket",
        "key_template",
        "max_concurrency",
        "part_size",
        "manifest_key",
        "progress_interval",
    ):
        assert f"{field}:" in text, field
    assert "(allowed: custom_events, exceptions, raw_events)" in text
    assert usageintel_emulator.control.requests() == []


def test_mapped_transfer_one_task_per_listed_file(airflow_db, ui_conn, usageintel_emulator, s3):
    dagrun = run_dag("test_archive_mapped", run_conf={"bucket": s3.bucket})
    states = task_states(dagrun)
    assert str(dagrun.state) == "success", states
    mapped = sorted(k for k in states if k.startswith("archive_file["))
    assert len(mapped) == 5 and all(states[k] == "success" for k in mapped)
    keys = s3.list_keys("mapped/")
    assert [k.rsplit("/", 1)[1] for k in keys] == [
        f"1234567890_exc_2024-03-{d:02d}.zip" for d in range(10, 15)
    ]
    manifests = xcom(dagrun, "archive_file")
    assert sorted(m["transferred"][0]["key"] for m in manifests) == keys
    # mapped tasks declare the default alias too, so every object gets its Asset event
    assert sorted(uri for uri, _ in asset_events(s3.bucket)) == [f"s3://{s3.bucket}/{k}" for k in keys]


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_then_transfer_after_the_clock_advances(airflow_db, ui_conn, usageintel_emulator, s3, mode):
    usageintel_emulator.control.advance_days(1)  # 2024-03-15 becomes final
    dagrun = run_dag(f"test_daily_archive_{mode}", run_conf={"bucket": s3.bucket})
    assert str(dagrun.state) == "success", task_states(dagrun)
    keys = s3.list_keys("daily/")
    assert len(keys) == 3 and all(k.endswith("2024-03-15.zip") for k in keys)


def first_half_of_march(s3, prefix: str) -> UsageIntelligenceFilesToS3Operator:
    """The 14 daily custom-event files of 2024-03-01 to 2024-03-14, under ``prefix``."""
    return UsageIntelligenceFilesToS3Operator(
        task_id="t",
        file_kind="custom_events",
        since="2024-03-01",
        until="2024-03-14",
        s3_bucket=s3.bucket,
        s3_prefix=prefix,
        asset_alias=None,
    )


def test_rerun_trusts_the_archive_index_and_falls_back_to_head_without_it(ui_conn, usageintel_emulator, s3):
    def run():
        op = first_half_of_march(s3, "idx")
        heads: list[str] = []
        op.destination.hook.get_conn().meta.events.register(
            "before-parameter-build.s3.HeadObject", lambda params, **_: heads.append(params["Key"])
        )
        return op.execute({}), heads

    first, heads = run()
    assert first["files_transferred"] == 14 and heads == []
    index_key = layout.index_key("idx", "1234567890", "custom_events")
    assert s3.list_keys(f"idx/{layout.INDEX_DIR}/", include_index=True) == [index_key]
    assert s3.head(index_key)["Metadata"]["sha256"] == hashlib.sha256(s3.read(index_key)).hexdigest()
    index = json.loads(s3.read(index_key))["objects"]
    assert len(index) == 14 and all(len(v["sha256"]) == 64 for v in index.values())

    again, heads = run()
    assert again["files_transferred"] == 0 and heads == []  # one listing, no request per object

    s3.client.delete_object(Bucket=s3.bucket, Key=index_key)
    again, heads = run()
    assert again["files_transferred"] == 0 and len(heads) == 14  # confirmed from metadata instead
    assert len(json.loads(s3.read(index_key))["objects"]) == 14  # and written back

    s3.client.put_object(Bucket=s3.bucket, Key=index_key, Body=b"not json")
    again, heads = run()
    assert again["files_transferred"] == 0 and len(heads) == 14


def _listing_calls(op, emulator) -> list[tuple[str, int]]:
    """Each ListObjectsV2 prefix of ``op``'s client, with how many listFiles the API had answered by then."""
    calls: list[tuple[str, int]] = []

    def seen(params, **_):
        answered = [r for r in emulator.control.requests() if "listFiles" in r["path"]]
        calls.append((params["Prefix"], len(answered)))

    op.destination.hook.get_conn().meta.events.register("before-parameter-build.s3.ListObjectsV2", seen)
    return calls


def test_the_archive_is_listed_while_the_api_lists_files(ui_conn, usageintel_emulator, s3):
    def operator(**kwargs):
        return UsageIntelligenceFilesToS3Operator(
            task_id="t",
            file_kind="custom_events",
            s3_bucket=s3.bucket,
            s3_prefix="early",
            asset_alias=None,
            **kwargs,
        )

    assert operator(until="2024-03-14").execute({})["files_transferred"] == 60
    # The API holds its file listing back; the S3 listing does not wait for it.
    usageintel_emulator.control.reset()
    usageintel_emulator.control.add_fault(path="listFiles", kind="slow", delay_s=3.0)
    op = operator(until="2024-03-14")
    calls = _listing_calls(op, usageintel_emulator)
    again = op.execute({})
    assert again["files_transferred"] == 0 and again["files_skipped"] == 60
    assert calls == [("early/1234567890/custom_events/daily/", 0)]

    # A window open at its end is narrower once the files are known: that listing waits for them.
    usageintel_emulator.control.reset()
    op = operator(since="2024-03-10")
    calls = _listing_calls(op, usageintel_emulator)
    assert op.execute({})["files_skipped"] == 5
    [(prefix, answered)] = calls
    assert prefix.startswith("early/1234567890/custom_events/daily/2024/03/") and answered == 1


def test_keys_outside_the_early_listing_are_listed_again(ui_conn, usageintel_emulator, s3):
    from airflow_provider_usageintel.archive.plan import ArchivePlanner, Listing
    from airflow_provider_usageintel.hooks.s3 import ArchiveS3Hook

    s3.client.put_object(Bucket=s3.bucket, Key="a/b/one.zip", Body=b"1")
    planner = ArchivePlanner(ArchiveS3Hook(), s3.bucket, "a", "1234567890", "custom_events")
    early = Listing("elsewhere/", {})
    assert list(planner.existing(["a/b/one.zip", "a/b/two.zip"], early)) == ["a/b/one.zip"]
    covering = Listing("a/", {"a/b/one.zip": {"Key": "a/b/one.zip", "Size": 1}})
    assert planner.existing(["a/b/one.zip"], covering) is covering.objects


def test_an_unreadable_index_does_not_fail_a_run_that_does_not_need_it(ui_conn, usageintel_emulator, s3):
    index_key = layout.index_key("cold", "1234567890", "custom_events")
    s3.client.put_object(Bucket=s3.bucket, Key=index_key, Body=b"{}", StorageClass="GLACIER")
    assert first_half_of_march(s3, "cold").execute({})["files_transferred"] == 14
    assert len(json.loads(s3.read(index_key))["objects"]) == 14  # written anew


# -- the API session ends as soon as the task needs nothing more from it -----------------------


def _march_records() -> list[FileRecord]:
    """The listed records that ``first_half_of_march`` selects."""
    from airflow_provider_usageintel.api.selection import FileSelection

    selection = FileSelection.parse("custom_events", since="2024-03-01", until="2024-03-14")
    with UsageIntelligenceHook() as hook:
        return selection.apply(hook.list_files("custom_events"))


def _held_until(s3, operation: str, event: threading.Event) -> list[bool]:
    """Holds each ``operation`` request of the S3 client until ``event`` is set; says whether it was."""
    released: list[bool] = []
    s3.hook.get_conn().meta.events.register(
        f"before-send.s3.{operation}", lambda **_: released.append(event.wait(60))
    )
    return released


def test_a_no_op_run_is_done_with_the_api_before_s3_answers_its_listing(ui_conn, usageintel_emulator, s3):
    from airflow_provider_usageintel.archive.plan import ALREADY_ARCHIVED, ArchivePlanner

    assert first_half_of_march(s3, "soon").execute({})["files_transferred"] == 14
    records = _march_records()
    planner = ArchivePlanner(s3.hook, s3.bucket, "soon", "1234567890", "custom_events")
    done_with_api = threading.Event()
    # The index vouches for every file: planning says so before the listing is in, which
    # is held until then (it would wait in vain if planning waited for it first).
    released = _held_until(s3, "ListObjectsV2", done_with_api)
    with planner.preparing(lambda space: [], "soon/1234567890/custom_events/"):
        plan = planner.plan(records, api_done=done_with_api.set)
    assert released == [True]
    assert [p.skip_reason for p in plan] == [ALREADY_ARCHIVED] * 14
    assert gc.isenabled()  # paused while preparing only


def test_planning_in_the_preparation_reads_the_index_once(ui_conn, usageintel_emulator, s3):
    from airflow_provider_usageintel.archive.plan import ALREADY_ARCHIVED, ArchivePlanner

    assert first_half_of_march(s3, "once").execute({})["files_transferred"] == 14
    records = _march_records()
    planner = ArchivePlanner(s3.hook, s3.bucket, "once", "1234567890", "custom_events")
    listed = threading.Event()
    gets: list[str] = []
    events = s3.hook.get_conn().meta.events
    events.register("after-call.s3.ListObjectsV2", lambda **_: listed.set())
    # The early index read is held until the listing is in: planning must wait for it,
    # not read the index a second time.
    events.register("before-send.s3.GetObject", lambda request, **_: gets.append(request.url))
    released = _held_until(s3, "GetObject", listed)
    with planner.preparing(lambda space: [], "once/1234567890/custom_events/"):
        plan = planner.plan(records)
    assert len(gets) == 1 and released == [True]
    assert [p.skip_reason for p in plan] == [ALREADY_ARCHIVED] * 14


def test_a_no_op_rerun_logs_in_again_for_a_file_s3_lost_since(ui_conn, usageintel_emulator, s3):
    assert first_half_of_march(s3, "lost").execute({})["files_transferred"] == 14
    usageintel_emulator.control.reset()
    assert first_half_of_march(s3, "lost").execute({})["files_transferred"] == 0
    assert usageintel_emulator.control.sessions() == {"logins": 1, "logouts": 1, "open": 0}

    # The index still vouches for a file S3 no longer holds: the session ends as for a no-op,
    # then the listing shows the file missing and its download logs in again.
    lost = layout.object_key(_march_records()[0], "1234567890", "lost")
    s3.client.delete_object(Bucket=s3.bucket, Key=lost)
    usageintel_emulator.control.reset()
    again = first_half_of_march(s3, "lost").execute({})
    assert again["files_transferred"] == 1 and s3.list_keys(lost) == [lost]
    assert usageintel_emulator.control.sessions() == {"logins": 2, "logouts": 2, "open": 0}


@pytest.mark.parametrize("size", [None, MIN_PART_SIZE + 1024 * 1024], ids=["one put", "multipart"])
def test_the_api_is_done_with_once_the_last_byte_is_read(ui_conn, usageintel_emulator, s3, size):
    import logging

    from airflow_provider_usageintel.archive.plan import PlannedFile
    from airflow_provider_usageintel.transfers.file_pool import FilePool

    name = "1234567890_cust_2024-03-14.zip"
    if size:
        usageintel_emulator.control.set_file_size(name, size)
    [record] = [r for r in _march_records() if r.file_name == name]
    done_with_api = threading.Event()
    # The upload completes only once the pool is done with the API.
    released = _held_until(s3, "CompleteMultipartUpload" if size else "PutObject", done_with_api)
    with UsageIntelligenceHook() as api:
        pool = FilePool(
            api,
            s3.hook,
            s3.bucket,
            "1234567890",
            MIN_PART_SIZE,
            2,
            logging.getLogger("tests"),
            api_done=done_with_api.set,
        )
        transferred, failed = pool.run(
            [PlannedFile(record, "pool/one.zip")], skipped=0, label="t", interval=60
        )
    assert released == [True] and failed == []
    assert [t["key"] for t in transferred] == ["pool/one.zip"]
    assert hashlib.sha256(s3.read("pool/one.zip")).hexdigest() == transferred[0]["sha256"]
