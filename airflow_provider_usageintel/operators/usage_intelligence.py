"""Operators for the Usage Intelligence Reporting API: reports, file listings, downloads, license keys.

Each operator checks its rendered arguments at the start of ``execute`` and
raises one :class:`~airflow_provider_usageintel.exceptions.UsageIntelligenceValidationError`
naming every bad field before any API call. What they return goes to XCom, so
it stays small: file records, paths and counts; large results belong in S3.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_usageintel.api.endpoints import Endpoint, Paging
from airflow_provider_usageintel.api.files import FileKind, FileRecord, Frequency
from airflow_provider_usageintel.api.selection import RAW_FREQUENCIES, FileSelection
from airflow_provider_usageintel.exceptions import (
    UsageIntelligenceTransferError,
    UsageIntelligenceValidationError,
    positive_number,
)
from airflow_provider_usageintel.operators.base import (
    FrequencyArg,
    Problems,
    UsageIntelligenceFileOperator,
    UsageIntelligenceReportBaseOperator,
    UsageIntelligenceTaskError,
    parse_records,
)
from airflow_provider_usageintel.operators.license_keys import UsageIntelligenceLicenseKeysOperator
from airflow_provider_usageintel.utils.extract import extract_csv_members
from airflow_provider_usageintel.utils.local_files import atomic_writer, file_sha256
from airflow_provider_usageintel.utils.progress import DEFAULT_PROGRESS_INTERVAL, Progress

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_usageintel.hooks.usage_intelligence import UsageIntelligenceHook
    from airflow_provider_usageintel.utils.download import FileStream

__all__ = [
    "UsageIntelligenceDownloadFileOperator",
    "UsageIntelligenceLicenseKeysOperator",
    "UsageIntelligenceListFilesOperator",
    "UsageIntelligenceReportOperator",
]

DEFAULT_MAX_RESULT_BYTES = 1_000_000


# -- reports ------------------------------------------------------------------------------------


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON: roughly what it costs in the XCom table."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


class UsageIntelligenceReportOperator(UsageIntelligenceReportBaseOperator):
    """Run one report of the endpoint table by name and return its whole answer (pushed to XCom).

    The answer is the server's JSON object with every documented field (``summary``,
    ``fieldNames``, counts...). A paged report (client property list, lifetime event
    data table, key registry search, property values) is followed to its last page and
    returned as one answer: the rows of every page under its result key, the other
    fields from the last page, the returned count set to the rows returned in all.

    XCom lives in Airflow's metadata database, so the rows are measured as they arrive
    and the task fails as soon as they pass ``max_result_bytes``, without fetching the
    rest. Large pulls belong in S3: ``UsageIntelligenceReportToS3Operator`` streams every
    page there in constant memory.

    Takes the parameters of :class:`UsageIntelligenceReportBaseOperator` (``report``,
    ``request``, ``page_size``), ``product_id`` and ``usage_intelligence_conn_id``, and:

    :param max_result_bytes: largest result accepted, measured as compact JSON.
    """

    def __init__(self, *, max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_result_bytes = max_result_bytes

    def execute(self, context: Context) -> Any:
        endpoint, body = self._checked_request()
        hook = self.hook  # the session ends with execute (operators/base.py)
        if endpoint.paging is Paging.NONE:
            result = hook.run_report(self.report, body, self.product_id)
            self._check_size(json_size(result), None)
        else:
            pages = hook.iter_pages(self.report, body, self.product_id, self.page_size)
            result = merge_pages(endpoint, self._bounded(endpoint, pages))
        self.log.info("%s: %s bytes of JSON", self.report, f"{json_size(result):,}")
        return result

    def _bounded(self, endpoint: Endpoint, pages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The pages, measured as they come: past ``max_result_bytes`` no further page is fetched."""
        size, rows = 0, 0
        key = endpoint.result_key or "result"
        for number, page in enumerate(pages, start=1):
            items = page.get(key) or []
            size += json_size(items)
            rows += len(items) if isinstance(items, list) else 0
            self._check_size(size, (rows, number))
            yield page

    def _check_size(self, size: int, progress: tuple[int, int] | None) -> None:
        if size <= self.max_result_bytes:
            return
        where = (
            "the result is"
            if progress is None
            else (f"the first {progress[1]} page(s), {progress[0]:,} rows, are already")
        )
        rest = "" if progress is None else " The rest was not fetched."
        raise UsageIntelligenceTaskError(
            f"{self.report}: {where} {size:,} bytes as JSON, more than "
            f"max_result_bytes={self.max_result_bytes:,}.{rest} XCom is meant for small values: "
            "write large results to S3 with UsageIntelligenceReportToS3Operator (every page, streamed), "
            "or narrow the request (or raise max_result_bytes)."
        )

    def _checked_request(self) -> tuple[Endpoint, Any]:
        problems = Problems()
        endpoint, body = self.check_request(problems)
        positive_number(self.max_result_bytes, "max_result_bytes", problems)
        problems.raise_if_any()
        return cast(Endpoint, endpoint), body


def merge_pages(endpoint: Endpoint, pages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One answer for every page of a paged report.

    The rows of all pages under the result key; the other fields from the last page;
    the returned count (``returnedEventsCount``/``returnedKeysCount``) set to the rows
    returned in all; ``reachedEnd`` true and no ``nextClientId`` for the client list.
    """
    key = endpoint.result_key or "result"
    rows: list[Any] = []
    last: dict[str, Any] = {}
    for page in pages:
        rows.extend(page.get(key) or [])
        last = page
    merged = {**last, key: rows}
    if endpoint.page_counts is not None:
        merged[endpoint.page_counts[0]] = len(rows)
    if endpoint.paging is Paging.CLIENT_ID:
        merged.pop("nextClientId", None)
        merged["reachedEnd"] = True
    return merged


# -- file selection -----------------------------------------------------------------------------


def unlisted(selection: FileSelection, records: Sequence[FileRecord]) -> list[str]:
    """Names asked for by ``file_names`` that the selection did not find."""
    found = {record.file_name for record in records}
    return [name for name in selection.file_names or () if name not in found]


class UsageIntelligenceListFilesOperator(UsageIntelligenceFileOperator):
    """List the downloadable files of a kind; returns small record dicts to fan out with ``.expand()``.

    Takes the parameters of :class:`~airflow_provider_usageintel.operators.base.UsageIntelligenceFileOperator`
    (``file_kind``, ``frequency``, ``since``, ``until``, ``file_names``).

    Returns (pushed to XCom): a list of ``FileRecord.to_dict()`` dicts, oldest first.
    """

    def execute(self, context: Context) -> list[dict[str, Any]]:
        problems = Problems()
        selection = self.parse_selection(problems)
        product_id = self.check_product_id(problems)
        problems.raise_if_any()
        selection = cast(FileSelection, selection)
        hook = self.hook  # the session ends with execute (operators/base.py)
        records = self.select(hook, selection, cast(str, product_id))
        missing = unlisted(selection, records)
        if missing:
            self.log.warning("Not offered by the server: %s", ", ".join(missing))
        return [record.to_dict() for record in records]


# -- downloads ----------------------------------------------------------------------------------


def check_zip(path: Path, file_name: str) -> None:
    """Read every member once: a flipped byte that kept the length right fails its CRC here."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UsageIntelligenceTransferError(f"{file_name}: not a valid zip archive ({exc})") from None
    if bad is not None:
        raise UsageIntelligenceTransferError(f"{file_name}: corrupt archive, member {bad!r} fails its CRC")


@dataclass(frozen=True)
class _Downloads:
    """A validated download task: given records, or a selection to list."""

    kind: FileKind
    product_id: str
    local_dir: Path
    records: list[FileRecord] | None
    selection: FileSelection | None


class UsageIntelligenceDownloadFileOperator(UsageIntelligenceFileOperator):
    """Download files of a kind into a local directory, atomically, optionally extracting their CSVs.

    Name the files with ``files`` (records from :class:`UsageIntelligenceListFilesOperator`:
    a list, or one record per mapped task with ``.expand(files=...)``), with ``file_names``,
    or by ``frequency``/``since``/``until``; ``file_kind`` and the selection arguments work as
    for the list operator, but ``frequency`` defaults to every one when ``file_names`` is
    given (else to ``daily``). Each file is streamed to a temporary name in ``local_dir`` while
    its SHA-256 is computed, its length checked (and with ``verify_zip`` its CRCs), then
    renamed into place: a reader never sees a partial file.

    :param local_dir: target directory, created if missing. (templated)
    :param files: file record dict(s) to download. (templated)
    :param extract: also extract the CSV members next to the zip; unsafe member names
        (absolute, ``..``, NUL bytes, symbolic links) are refused with a warning.
    :param overwrite: download even when a file of the listed size is present already.
    :param verify_zip: check the archive's CRCs before it replaces anything.
    :param progress_interval: seconds between progress lines (files, bytes, rate).

    Returns (pushed to XCom): per file ``{"file_name", "file_kind", "path", "size", "sha256", "skipped",
    "extracted"}``: one dict when ``files`` is one record, else a list.
    """

    template_fields: Sequence[str] = (*UsageIntelligenceFileOperator.template_fields, "files", "local_dir")
    template_fields_renderers = {"files": "json"}

    def __init__(
        self,
        *,
        local_dir: str | Path,
        files: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        extract: bool = False,
        overwrite: bool = False,
        verify_zip: bool = True,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.local_dir = local_dir
        self.files = files
        self.extract = extract
        self.overwrite = overwrite
        self.verify_zip = verify_zip
        self.progress_interval = progress_interval

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        plan = self._plan()
        plan.local_dir.mkdir(parents=True, exist_ok=True)
        hook = self.hook  # the session ends with execute (operators/base.py)
        records = plan.records if plan.records is not None else self._listed(hook, plan)
        results = self._download_all(hook, plan, records)
        return results[0] if isinstance(self.files, (Mapping, FileRecord)) else results

    # -- validation -----------------------------------------------------------------------------

    def _plan(self) -> _Downloads:
        problems = Problems()
        kind = problems.check(FileKind.parse, self.file_kind)
        records, selection = None, None
        if self.files is not None:
            self._no_selection_with_files(problems)
            records = parse_records(self.files, kind, problems)
        else:
            selection = self.parse_selection(problems)
        local_dir = self._local_dir(problems)
        positive_number(self.progress_interval, "progress_interval", problems, integer=False)
        product_id = self.check_product_id(problems)
        problems.raise_if_any()
        return _Downloads(cast(FileKind, kind), cast(str, product_id), local_dir, records, selection)

    def _no_selection_with_files(self, problems: Problems) -> None:
        for field in ("file_names", "frequency", "since", "until"):
            if getattr(self, field) not in (None, "", []):
                problems.add(f"{field}: not used together with files (allowed: files, or a selection)")

    def chosen_frequency(self) -> FrequencyArg:
        """``daily`` by default; every frequency of the kind when files are named."""
        if self.frequency is not None or self.file_names is None:
            return super().chosen_frequency()
        raw = self.file_kind in (FileKind.RAW_EVENTS, FileKind.RAW_EVENTS.value)
        return [frequency.value for frequency in (RAW_FREQUENCIES if raw else tuple(Frequency))]

    def _local_dir(self, problems: Problems) -> Path:
        path = Path(str(self.local_dir or ""))
        if not str(self.local_dir or "").strip():
            problems.add("local_dir: required (allowed: a directory path)")
        elif path.exists() and not path.is_dir():
            problems.add(f"local_dir: {str(path)!r} exists and is not a directory")
        return path

    # -- work -----------------------------------------------------------------------------------

    def _listed(self, hook: UsageIntelligenceHook, plan: _Downloads) -> list[FileRecord]:
        selection = cast(FileSelection, plan.selection)
        records = self.select(hook, selection, plan.product_id)
        missing = unlisted(selection, records)
        if missing:
            raise UsageIntelligenceValidationError(
                f"file_names: not offered by the server for {plan.kind.value}: {', '.join(missing)}"
            )
        return records

    def _download_all(
        self, hook: UsageIntelligenceHook, plan: _Downloads, records: Sequence[FileRecord]
    ) -> list[dict[str, Any]]:
        label = f"Download of {plan.kind.value} files"
        with Progress(self.log, label, len(records), self.progress_interval) as progress:
            return [self._download_one(hook, plan, record, progress) for record in records]

    def _download_one(
        self, hook: UsageIntelligenceHook, plan: _Downloads, record: FileRecord, progress: Progress
    ) -> dict[str, Any]:
        target = plan.local_dir / record.file_name
        skipped = self._is_current(record, target)
        try:
            if skipped:
                size, sha256 = target.stat().st_size, file_sha256(target)
                self.log.info("%s is present with the listed size; skipped", record.file_name)
            else:
                size, sha256 = self._fetch(hook, plan, record, target, progress.add_bytes)
            extracted = self._extract(target, plan.local_dir, overwrite=self.overwrite or not skipped)
        except Exception:
            progress.file_failed()
            raise
        if skipped:
            progress.file_skipped()
        else:
            progress.file_done()
        return {
            "file_name": record.file_name,
            "file_kind": record.file_kind,
            "path": str(target),
            "size": size,
            "sha256": sha256,
            "skipped": skipped,
            "extracted": extracted,
        }

    def _is_current(self, record: FileRecord, target: Path) -> bool:
        """Final files whose listed size matches the local copy are not fetched again."""
        if self.overwrite or not record.is_final or record.compressed_size_kb is None:
            return False
        return target.is_file() and record.size_matches(target.stat().st_size)

    def _fetch(
        self,
        hook: UsageIntelligenceHook,
        plan: _Downloads,
        record: FileRecord,
        target: Path,
        count: Callable[[int], None],
    ) -> tuple[int, str]:
        stream = hook.open_file(plan.kind, record, plan.product_id)
        with atomic_writer(target, verify=lambda tmp: self._verify(tmp, record, stream)) as sink:
            for chunk in stream:
                sink.write(chunk)
                count(len(chunk))
        result = stream.result()
        self.log.info("Downloaded %s: %d bytes, sha256 %s", record.file_name, result.size, result.sha256)
        return result.size, result.sha256

    def _verify(self, tmp: Path, record: FileRecord, stream: FileStream) -> None:
        """The complete temporary file, before it replaces anything: length, listing, CRCs."""
        written, received = tmp.stat().st_size, stream.result().size
        if written != received:
            raise UsageIntelligenceTransferError(
                f"{record.file_name}: {written} bytes on disk, {received} received"
            )
        if not record.size_matches(written):
            raise UsageIntelligenceTransferError(
                f"{record.file_name}: {written} bytes, the listing says {record.compressed_size_kb} KB"
            )
        if self.verify_zip:
            check_zip(tmp, record.file_name)

    def _extract(self, archive: Path, local_dir: Path, *, overwrite: bool) -> list[str]:
        if not self.extract:
            return []
        return extract_csv_members(archive, local_dir, overwrite=overwrite, log=self.log).extracted
