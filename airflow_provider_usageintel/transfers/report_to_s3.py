"""Run a Usage Intelligence report and store it in S3: the whole JSON answer, plus flat rows.

A paged report (client property list, lifetime event data table, key registry
search, property values) is followed to its last page. Pages are spooled to a
local temporary file as they arrive, one page in memory at a time, then each
object is streamed from the spool into S3 (multipart beyond one part), so memory
does not depend on the number of rows and no partial object ever appears.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from airflow.sdk import Context

from airflow_provider_usageintel.api.endpoints import Endpoint, Paging
from airflow_provider_usageintel.archive.layout import flat_key_beside
from airflow_provider_usageintel.archive.validation import check_key
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError
from airflow_provider_usageintel.operators.base import Problems, UsageIntelligenceReportBaseOperator
from airflow_provider_usageintel.transfers.destination import StreamToS3BaseOperator, counted
from airflow_provider_usageintel.utils.flatten import flatten, to_csv, to_ndjson
from airflow_provider_usageintel.utils.progress import Progress

FLAT_FORMATS = {"ndjson": (to_ndjson, "application/x-ndjson"), "csv": (to_csv, "text/csv")}
#: spooled bytes handed to the upload at a time.
CHUNK_BYTES = 1024 * 1024


def payload(endpoint: Endpoint, answer: dict[str, Any]) -> Any:
    """The part of an answer that holds the report's data, which the flat rows are made of."""
    if endpoint.result_key is not None and endpoint.result_key in answer:
        return answer[endpoint.result_key]
    return answer


class UsageIntelligenceReportToS3Operator(UsageIntelligenceReportBaseOperator, StreamToS3BaseOperator):
    """Write a report's whole answer to ``s3_key`` as JSON and, flattened, next to it as NDJSON or CSV.

    The JSON object is the server's answer with every documented field; for a paged
    report, one answer for every page: the rows of all pages under the result key, the
    other fields from the last page, the returned count set to the rows returned in all.
    The flat object holds the rows of the answer's data (its result key).

    The S3 parameters (``s3_bucket``, ``aws_conn_id``, ``asset_alias``, ``abort_uploads_older_than``,
    ``part_size``, ``progress_interval``) are those of
    :class:`~airflow_provider_usageintel.transfers.destination.StreamToS3BaseOperator`; a paged
    report logs its rows read and bytes uploaded every ``progress_interval`` seconds.

    The report parameters (``report``, ``request``, ``page_size``) are those of
    :class:`~airflow_provider_usageintel.operators.base.UsageIntelligenceReportBaseOperator`. Its own:

    :param s3_key: key of the JSON object (templated), e.g. ``reports/{{ ds }}/date_range.json``.
    :param flat_format: ``ndjson`` (default), ``csv`` or ``None`` for the JSON only.
    :param flat_key: key of the flat object (default: ``s3_key`` with the format's extension).

    Returns (pushed to XCom): the keys written with their sizes, SHA-256 and row count, and the pages
    read.
    """

    template_fields: Sequence[str] = (
        *UsageIntelligenceReportBaseOperator.template_fields,
        *StreamToS3BaseOperator.template_fields,
        "s3_key",
        "flat_key",
    )

    def __init__(
        self,
        *,
        s3_key: str,
        flat_format: str | None = "ndjson",
        flat_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_key = s3_key
        self.flat_format = flat_format
        self.flat_key = flat_key

    def _flat_key(self) -> str:
        return self.flat_key or flat_key_beside(self.s3_key, str(self.flat_format))

    def _validate(self) -> tuple[Endpoint, Any]:
        """Every problem of the report, its request and the targets, before any call."""
        problems = Problems()
        endpoint, request = self.check_request(problems)
        if self.flat_format is not None and self.flat_format not in FLAT_FORMATS:
            problems.add(f"flat_format: {self.flat_format!r} is not supported (allowed: ndjson, csv, None)")
        self.destination.check(problems)
        problems.check(check_key, self.s3_key, "s3_key")
        if self.flat_format in FLAT_FORMATS:
            problems.check(check_key, self._flat_key(), "flat_key")
        self.check_streaming(problems)
        problems.raise_if_any()
        if endpoint is None:  # pragma: no cover - recorded as a problem above
            raise UsageIntelligenceValidationError("report: unknown")
        return endpoint, request

    def execute(self, context: Context) -> dict[str, Any]:
        endpoint, request = self._validate()
        pages = 1
        hook = self.hook  # the session ends with execute (operators/base.py)
        if endpoint.paging is Paging.NONE:
            written = self._write_answer(endpoint, hook.run_report(self.report, request, self.product_id))
        else:
            pages_read = hook.iter_pages(self.report, request, self.product_id, self.page_size)
            written, pages = self._write_pages(endpoint, pages_read)
        self.destination.record_assets(context, [(w["key"], {"report": self.report, **w}) for w in written])
        self.log.info(
            "Report %s (%d page(s)) written to %s",
            self.report,
            pages,
            ", ".join(f"s3://{self.s3_bucket}/{w['key']}" for w in written),
        )
        return {"report": self.report, "pages": pages, "objects": written}

    # -- one answer ---------------------------------------------------------------------------------

    def _write_answer(self, endpoint: Endpoint, answer: dict[str, Any]) -> list[dict[str, Any]]:
        written = [
            self._put(self.s3_key, json.dumps(answer, indent=2, default=str).encode(), "application/json")
        ]
        if self.flat_format:
            rows = flatten(payload(endpoint, answer))
            serialise, content_type = FLAT_FORMATS[self.flat_format]
            written.append({**self._put(self._flat_key(), serialise(rows), content_type), "rows": len(rows)})
        return written

    def _put(self, key: str, body: bytes, content_type: str) -> dict[str, Any]:
        return self.destination.put_bytes(key, body, content_type, {"source-report": self.report})

    # -- every page, from the spool -----------------------------------------------------------------

    def _write_pages(
        self, endpoint: Endpoint, pages: Iterable[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], int]:
        """Spool every page, then stream the objects; progress (rows read, bytes sent) goes to the log."""
        label = f"Report {self.report} to s3://{self.s3_bucket}/{self.s3_key}"
        objects = 2 if self.flat_format else 1
        with (
            tempfile.TemporaryFile() as file,
            Progress(self.log, label, objects, self.progress_interval, item_name="rows") as progress,
        ):
            spool = PagedSpool(endpoint, file, progress)
            spool.add(pages)
            return self._write_spool(spool, progress), spool.pages

    def _write_spool(self, spool: PagedSpool, progress: Progress) -> list[dict[str, Any]]:
        written = [self._stream(self.s3_key, spool.json_chunks(), "application/json", progress)]
        written[0]["rows"] = spool.rows
        if self.flat_format in FLAT_FORMATS:
            chunks = spool.csv_chunks() if self.flat_format == "csv" else spool.ndjson_chunks()
            flat = self._stream(self._flat_key(), chunks, FLAT_FORMATS[self.flat_format][1], progress)
            written.append({**flat, "rows": spool.flat})
        return written

    def _stream(
        self, key: str, chunks: Iterable[bytes], content_type: str, progress: Progress
    ) -> dict[str, Any]:
        """One object from ``chunks``, whole or not at all; its key, size and SHA-256."""
        digest = _Digest(counted(chunks, progress))
        self.destination.hook.upload_stream(
            self.s3_bucket,
            key,
            digest,
            metadata={"source-report": self.report},
            final_metadata=lambda: {"sha256": digest.sha256, "size": digest.size},
            part_size=self.part_size,
            content_type=content_type,
        )
        progress.file_done()
        return {"key": key, "size": digest.size, "sha256": digest.sha256}


class PagedSpool:
    """The pages of a paged report on a local file, one JSON row per line, and what the last page said."""

    def __init__(self, endpoint: Endpoint, spool: IO[bytes], progress: Progress | None = None) -> None:
        self.endpoint = endpoint
        self.key = endpoint.result_key or "result"
        self.spool = spool
        self.progress = progress
        self.rows = 0
        self.pages = 0
        #: flat rows the rows make, and their columns in order of appearance (for CSV).
        self.flat = 0
        self.columns: dict[str, None] = {}
        self.last: dict[str, Any] = {}

    def add(self, pages: Iterable[dict[str, Any]]) -> None:
        for page in pages:
            rows = page.get(self.key) or []
            for row in rows:
                self.spool.write(json.dumps(row, separators=(",", ":"), default=str).encode() + b"\n")
                for flat in flatten([row]):
                    self.columns.update(dict.fromkeys(flat))
                    self.flat += 1
            self.rows += len(rows)
            self.pages += 1
            if self.progress is not None:
                self.progress.add_items(len(rows))
            self.last = {k: v for k, v in page.items() if k != self.key}

    def answer_fields(self) -> dict[str, Any]:
        """The last page's fields, as one answer for all pages says them."""
        fields = dict(self.last)
        if self.endpoint.page_counts is not None:
            fields[self.endpoint.page_counts[0]] = self.rows
        if self.endpoint.paging is Paging.CLIENT_ID:
            fields.pop("nextClientId", None)
            fields["reachedEnd"] = True
        return fields

    def _lines(self) -> Iterator[bytes]:
        self.spool.seek(0)
        for line in self.spool:
            yield line.rstrip(b"\n")

    def rows_back(self) -> Iterator[Any]:
        for line in self._lines():
            yield json.loads(line)

    def flat_rows(self) -> Iterator[dict[str, Any]]:
        for row in self.rows_back():
            yield from flatten([row])

    def json_chunks(self) -> Iterator[bytes]:
        """``{"<result key>": [rows...], <other fields>}``, the rows streamed from the spool."""
        yield b"{" + json.dumps(self.key).encode() + b": ["
        yield from _batched_bytes(_joined(self._lines()))
        tail = "".join(
            f", {json.dumps(k)}: {json.dumps(v, default=str)}" for k, v in self.answer_fields().items()
        )
        yield b"]" + tail.encode() + b"}"

    def ndjson_chunks(self) -> Iterator[bytes]:
        return _batched(
            json.dumps(row, separators=(",", ":"), default=str) + "\n" for row in self.flat_rows()
        )

    def csv_chunks(self) -> Iterator[bytes]:
        columns = list(self.columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.flat_rows():
            writer.writerow(row)
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()


def _joined(lines: Iterable[bytes]) -> Iterator[bytes]:
    for at, line in enumerate(lines):
        yield line if at == 0 else b"," + line


def _batched(texts: Iterable[str]) -> Iterator[bytes]:
    return _batched_bytes(text.encode() for text in texts)


def _batched_bytes(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Small pieces gathered into chunks of about ``CHUNK_BYTES``."""
    batch: list[bytes] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


class _Digest:
    """Pass chunks through, counting bytes and hashing them."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._sha = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._sha.update(chunk)
            self.size += len(chunk)
            yield chunk
