"""Streaming download of a file behind a short-lived signed URL.

The stream is the one piece every consumer shares (local files, S3 multipart
uploads), so it owns the hard parts once: fixed-size chunks (memory does not
grow with the file), a running SHA-256, resuming with ``Range`` after a
broken connection, fetching a fresh URL when the old one has expired or been
used, and checking the length against what the server and the listing said.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

import requests

from airflow_provider_usageintel.exceptions import UsageIntelligenceTransferError
from airflow_provider_usageintel.hooks.base import describe_network_error, parse_retry_after

DEFAULT_CHUNK_SIZE = 1024 * 1024
#: statuses a signed URL answers once it has expired or been used: ask the API for a new one.
URL_REFUSED = frozenset({401, 403, 404, 410})
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class WarningLog(Protocol):
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class DownloadResult:
    """What was fetched: enough to verify an archived copy later."""

    file_name: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"file_name": self.file_name, "size": self.size, "sha256": self.sha256}


class _Retry(Exception):
    """Internal: this attempt failed; try again (from the current offset)."""

    def __init__(self, reason: str, *, new_url: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.new_url = new_url
        self.retry_after = retry_after


class FileStream:
    """Iterate to get the file's bytes; afterwards ``size`` and ``sha256`` describe what was read.

    ``size_check`` receives the total length once the server announces it and
    returns an error text when it disagrees with the listing.
    """

    def __init__(
        self,
        *,
        file_name: str,
        fetch_url: Callable[[], str],
        session: requests.Session,
        timeout: float,
        max_retries: int,
        backoff: Callable[[int, float | None], float],
        log: WarningLog,
        size_check: Callable[[int], str | None] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.file_name = file_name
        self._fetch_url = fetch_url
        self._session = session
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._log = log
        self._size_check = size_check
        self._chunk_size = chunk_size
        self._sha = hashlib.sha256()
        self.size = 0
        self.total: int | None = None
        self.attempts = 0
        self._done = False

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def result(self) -> DownloadResult:
        if not self._done:
            raise UsageIntelligenceTransferError(f"download of {self.file_name} has not completed")
        return DownloadResult(self.file_name, self.size, self.sha256)

    def __iter__(self) -> Iterator[bytes]:
        if self._done or self.attempts:
            raise UsageIntelligenceTransferError(f"download of {self.file_name} can be read only once")
        url: str | None = None
        failures = 0
        while True:
            self.attempts += 1
            url = url or self._fetch_url()
            start = self.size
            try:
                yield from self._read_from(url)
            except _Retry as retry:
                failures = 0 if self.size > start else failures + 1
                if failures > self._max_retries:
                    raise UsageIntelligenceTransferError(
                        f"download of {self.file_name} failed after {failures} attempts "
                        f"without progress: {retry}"
                    ) from None
                if retry.new_url:
                    url = None
                wait = self._backoff(max(failures, 1), retry.retry_after)
                self._log.warning(
                    "Download of %s interrupted at %d bytes (%s); resuming in %.1f s",
                    self.file_name,
                    self.size,
                    retry,
                    wait,
                )
                time.sleep(wait)
                continue
            self._done = True
            return

    def _read_from(self, url: str) -> Iterator[bytes]:
        headers = {"Range": f"bytes={self.size}-"} if self.size else {}
        try:
            response = self._session.get(url, headers=headers, stream=True, timeout=self._timeout)
        except requests.RequestException as exc:
            raise _Retry(describe_network_error(exc)) from None
        with response:
            skip = self._check_response(response)
            try:
                for received in response.iter_content(self._chunk_size):
                    chunk = received
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    if chunk:
                        self._sha.update(chunk)
                        self.size += len(chunk)
                        yield chunk
            except requests.RequestException as exc:
                raise _Retry(describe_network_error(exc)) from None
        if self.total is not None and self.size != self.total:
            raise _Retry(f"connection closed after {self.size} of {self.total} bytes")

    def _check_response(self, response: requests.Response) -> int:
        """Validate status and length headers; return how many leading bytes to drop."""
        status = response.status_code
        if status in URL_REFUSED:
            raise _Retry(f"download URL refused with HTTP {status} (expired or used)", new_url=True)
        if status in RETRYABLE_STATUS:
            raise _Retry(f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status not in (200, 206):
            raise UsageIntelligenceTransferError(
                f"download of {self.file_name} failed (HTTP {status}): {response.reason}"
            )
        skip = 0
        if status == 200:
            skip = self.size  # the server ignored Range: drop what we already have
            total = _int_header(response.headers.get("Content-Length"))
        else:
            total = self._content_range_total(response.headers.get("Content-Range"))
        if total is not None:
            self._accept_total(total)
        return skip

    def _content_range_total(self, value: str | None) -> int | None:
        # "bytes START-END/TOTAL"
        try:
            unit, _, rest = (value or "").partition(" ")
            span, _, total = rest.partition("/")
            first = int(span.split("-")[0])
        except ValueError:
            raise _Retry("partial answer without a valid Content-Range") from None
        if unit != "bytes" or first != self.size:
            raise _Retry(f"partial answer starts at {first}, expected {self.size}")
        return _int_header(total)

    def _accept_total(self, total: int) -> None:
        if self.total is not None and total != self.total:
            raise _Retry(f"file length changed from {self.total} to {total} bytes", new_url=True)
        problem = self._size_check(total) if self._size_check else None
        if problem:
            raise _Retry(problem, new_url=True)
        self.total = total


def _int_header(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def copy_stream(stream: FileStream, fileobj: IO[bytes]) -> DownloadResult:
    for chunk in stream:
        fileobj.write(chunk)
    return stream.result()
