"""Keep signed download URLs out of logs without making long runs quadratic.

Airflow's secrets masker recompiles one regex of every registered secret on
each registration, so registering each of thousands of one-time URLs costs
minutes of CPU in a long backfill (measured: 1,200 URLs, about six minutes;
the first 100 alone cost about two seconds of every task's CPU).
Signed URLs are therefore protected in two ways:

* our code never logs, raises or returns them (errors name the file instead);
* the only other place they could surface, ``urllib3``'s DEBUG request lines,
  passes a filter that replaces every query string with ``***``;

and the first :data:`MASKED_URLS_PER_PROCESS` of them are also registered with
the masker, covering any other DEBUG output. Passwords, API keys, cookies and
CSRF tokens are few and always registered.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

from airflow.sdk.log import mask_secret

MASKED_URLS_PER_PROCESS = 32
_QUERY = re.compile(r"\?[^\s\"']*")


class QueryStringRedactor(logging.Filter):
    """Replace query strings (where presigned URLs carry their signatures) in log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_QUERY.sub("?***", a) if isinstance(a, str) else a for a in args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub("?***", record.msg)
        return True


class _SignedUrlGuard:
    """Process-wide state: the redaction filter is installed once, masker registrations are bounded."""

    def __init__(self, logger_name: str = "urllib3.connectionpool") -> None:
        self._lock = threading.Lock()
        self._logger_name = logger_name
        self._filter: QueryStringRedactor | None = None
        self.registered = 0

    def install(self) -> None:
        with self._lock:
            if self._filter is None:
                self._filter = QueryStringRedactor()
                logging.getLogger(self._logger_name).addFilter(self._filter)

    def protect(self, url: str) -> None:
        self.install()
        with self._lock:
            if self.registered >= MASKED_URLS_PER_PROCESS:
                return
            self.registered += 1
        parts = urlsplit(url)
        mask_secret(parts.query or parts.path)


_guard = _SignedUrlGuard()


def protect_signed_url(url: str) -> None:
    """Register the secret part of a signed URL (its query string, else its path)."""
    _guard.protect(url)
