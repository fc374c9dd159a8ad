"""Where objects land in S3, what metadata they carry, and which keys are acceptable at all.

Every key the project writes is spelled here and nowhere else: data files, open
files, indexes, run manifests, reports and exports, the example DAGs' load catalogs
and license key files (the lake's in ``lake_layout``).
Operators, example DAGs, the demo and the tests call these functions, so a change
of layout is a change of this module (and of docs/s3-layout.md). Every transfer
checks its prefixes, templates and keys here, and only here: a key never leaves the
prefix a task was given, whatever a DAG author or a server sends.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_usageintel.api.files import (
    SAFE_NAME_PATTERN,
    FileKind,
    FileRecord,
    Frequency,
    check_record,
)
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

#: default key prefixes: the Usage Intelligence archive, Fluid Topics events, FusionAuth reports.
DEFAULT_PREFIX = "usageintel"
FLUID_TOPICS_PREFIX = "fluid_topics/events"
FUSIONAUTH_PREFIX = "fusionauth"
#: window bounds in keys: Fluid Topics' in UTC, FusionAuth's on the report time zone's wall clock.
EVENTS_KEY_TIME = "%Y-%m-%dT%H%M%SZ"
FUSIONAUTH_KEY_TIME = "%Y-%m-%dT%H%M"
DEFAULT_KEY_TEMPLATE = "{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{mm}/{file_name}"
#: open (non-final) files change until the day closes; they live apart and are overwritten.
OPEN_KEY_TEMPLATE = "{prefix}/open/{product_id}/{file_kind}/{file_name}"
KEY_FIELDS = ("prefix", "product_id", "file_kind", "frequency", "yyyy", "mm", "dd", "file_name")
#: what each placeholder can render to, for recognising the keys a task writes.
FIELD_PATTERNS = {
    "product_id": "[0-9]+",
    "file_kind": "|".join(kind.value for kind in FileKind),
    "frequency": "|".join(frequency.value for frequency in Frequency),
    "yyyy": "[0-9]{4}",
    "mm": "[0-9]{2}",
    "dd": "[0-9]{2}",
    "file_name": SAFE_NAME_PATTERN,
}
#: one directory of the archive per product and file kind (see archive/index.py); the lake's too.
INDEX_DIR = "_index"
#: run manifests (what a run archived), beside the files under the same prefix.
MANIFEST_DIR = "_manifests"
#: report results, by period and last day (``.json``, plus a flat ``.ndjson`` or ``.csv`` beside it).
REPORTS_DIR = "reports"
#: client-property exports, one object per export day.
CLIENTS_DIR = "clients"
CLIENT_PROPERTIES_NAME = "client_properties.ndjson.gz"
#: catalogs of verified objects for a warehouse load (the archive-verify example DAG), one per run.
CATALOG_DIR = "_catalog"
#: license key files: the inbox (files to apply), those applied, and daily registry snapshots.
LICENSE_KEYS_DIR = "license-keys"
INBOX, PROCESSED, REGISTRY = "inbox", "processed", "registry"
MAX_KEY_BYTES = 1024
SEGMENTS_RULE = "names separated by '/', no empty, '.' or '..' segment, no control character"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_key(key: object, field_name: str) -> str:
    """An object key: non-empty, at most 1,024 bytes, no NUL, no ``..`` segment."""
    if (
        not isinstance(key, str)
        or not key.strip("/")
        or len(key.encode()) > MAX_KEY_BYTES
        or "\x00" in key
        or ".." in key.split("/")
    ):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {key!r} is not a valid object key "
            "(allowed: 1-1024 bytes, no NUL character, no '..' segment)"
        )
    return key


def _bad_segments(path: str) -> bool:
    """An empty, ``.`` or ``..`` segment (once the ends' slashes are dropped), or a control character."""
    stripped = path.strip("/")
    if _CONTROL.search(path):
        return True
    return bool(stripped) and any(part in ("", ".", "..") for part in stripped.split("/"))


def check_prefix(prefix: object, field_name: str = "s3_prefix") -> str:
    """A key prefix (empty allowed): nothing in it can climb out of, or blur, the folder it names."""
    if not isinstance(prefix, str) or _bad_segments(prefix) or len(prefix.encode()) > MAX_KEY_BYTES // 2:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {prefix!r} is not a valid key prefix (allowed: {SEGMENTS_RULE}, "
            f"at most {MAX_KEY_BYTES // 2} bytes)"
        )
    return prefix


def check_key_template(template: object, field_name: str = "key_template") -> str:
    """Known placeholders used plainly, ``{file_name}`` among them, literal text that stays in its prefix."""
    if not isinstance(template, str):
        raise UsageIntelligenceValidationError(
            f"{field_name}: expected a string, got {type(template).__name__}"
        )
    return _checked_template(template, field_name)


@functools.lru_cache(maxsize=64)
def _checked_template(template: str, field_name: str) -> str:
    """:func:`check_key_template` of a string, once per template: every key of a run is made with one."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {template!r} is not a valid template ({exc})"
        ) from None
    names = [name for _, name, _, _ in parsed if name is not None]
    unknown = sorted(set(names) - set(KEY_FIELDS))
    if unknown:
        raise UsageIntelligenceValidationError(
            f"{field_name}: unknown placeholder(s) {', '.join(unknown)} (allowed: {allowed(KEY_FIELDS)})"
        )
    if "file_name" not in names:
        raise UsageIntelligenceValidationError(
            f"{field_name}: must contain {{file_name}} so that every file gets its own key"
        )
    if any(spec or conversion for _, name, spec, conversion in parsed if name is not None):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {template!r} formats a placeholder "
            "(allowed: plain placeholders such as {file_name}, no conversion or format spec)"
        )
    if _bad_segments(template.format(**dict.fromkeys(KEY_FIELDS, "x"))):
        raise UsageIntelligenceValidationError(
            f"{field_name}: {template!r} is not a valid key layout (allowed: {SEGMENTS_RULE})"
        )
    return template


def object_key(record: FileRecord, product_id: str, prefix: str, template: str | None = None) -> str:
    """The S3 key of an archived file; open files go under ``open/`` unless a template says otherwise."""
    if template is None:
        template = OPEN_KEY_TEMPLATE if not record.is_final else DEFAULT_KEY_TEMPLATE
    check_key_template(template)
    check_prefix(prefix)
    check_record(record)
    yyyy, mm, dd = record.start_date.split("-")
    key = template.format(
        prefix=prefix.strip("/"),
        product_id=product_id,
        file_kind=record.file_kind,
        frequency=record.frequency,
        yyyy=yyyy,
        mm=mm,
        dd=dd,
        file_name=record.file_name,
    ).lstrip("/")
    return check_key(key, "key")


def index_key(prefix: str, product_id: str, file_kind: str) -> str:
    """The archive index of one product and file kind."""
    return check_key(
        f"{check_prefix(prefix).strip('/')}/{INDEX_DIR}/{product_id}/{file_kind}.json".lstrip("/"), "key"
    )


def is_index_key(key: str) -> bool:
    """An index object (bookkeeping of the archive or the lake), not data."""
    return INDEX_DIR in key.split("/")[:-1]


def _under(prefix: str, *names: str) -> str:
    """``names`` below ``prefix`` as one checked key (a templated prefix passes as one segment)."""
    return check_key("/".join([check_prefix(prefix).strip("/"), *names]).lstrip("/"), "key")


def manifest_key(prefix: str, *names: str) -> str:
    """A run manifest: ``{prefix}/_manifests/{name}/.../{last name}.json``.

    The example DAGs use ``manifest_key(prefix, "daily", day)`` and
    ``manifest_key(prefix, "monthly", month, file_kind)``.
    """
    *folders, last = names
    return _under(prefix, MANIFEST_DIR, *folders, f"{last}.json")


def reports_prefix(prefix: str, period: str, stop: str) -> str:
    """The folder of the reports of one period (``weekly``...) that ends on ``stop``."""
    return _under(prefix, REPORTS_DIR, period, stop)


def report_key(prefix: str, period: str, stop: str, report: str) -> str:
    """A report's JSON result; its flat rows go beside it (``.ndjson`` or ``.csv``)."""
    return f"{reports_prefix(prefix, period, stop)}/{report}.json"


def flat_key_beside(key: str, extension: str) -> str:
    """The flat rows' key beside an answer's JSON key: ``.json`` replaced by ``.{extension}``."""
    base = key[: -len(".json")] if key.endswith(".json") else key
    return f"{base}.{extension}"


def client_properties_key(prefix: str, stop: str) -> str:
    """The client-property export whose window ends on ``stop``."""
    return _under(prefix, CLIENTS_DIR, stop, CLIENT_PROPERTIES_NAME)


def events_key(prefix: str, start: dt.datetime, end: dt.datetime) -> str:
    """Fluid Topics events of one window, from its UTC bounds: a re-run lands on the same key."""
    utc = [moment.astimezone(dt.timezone.utc) for moment in (start, end)]
    return f"{prefix.rstrip('/')}/{utc[0]:{EVENTS_KEY_TIME}}_{utc[1]:{EVENTS_KEY_TIME}}.ndjson.gz"


def fusionauth_report_key(prefix: str, report: str, start: dt.datetime, end: dt.datetime) -> str:
    """``<prefix>/<report>/<start>_<end>.json``, the bounds on the report time zone's wall clock."""
    return f"{prefix.rstrip('/')}/{report}/{start:{FUSIONAUTH_KEY_TIME}}_{end:{FUSIONAUTH_KEY_TIME}}.json"


def fusionauth_snapshot_key(prefix: str, report: str, moment: dt.datetime) -> str:
    """A report without a window (``totals``): keyed by the moment the run is due, in UTC."""
    return f"{prefix.rstrip('/')}/{report}/{moment.astimezone(dt.timezone.utc):{EVENTS_KEY_TIME}}.json"


def catalog_key(prefix: str, name: str) -> str:
    """A load catalog: the objects one verification run checked, for the warehouse to load."""
    return _under(prefix, CATALOG_DIR, f"{name}.json")


def license_keys_prefix(prefix: str, folder: str) -> str:
    """One folder of the license key files: :data:`INBOX`, :data:`PROCESSED` or :data:`REGISTRY`."""
    if folder not in (INBOX, PROCESSED, REGISTRY):
        raise UsageIntelligenceValidationError(
            f"folder: {folder!r} is not allowed (allowed: {allowed((INBOX, PROCESSED, REGISTRY))})"
        )
    return _under(prefix, LICENSE_KEYS_DIR, folder)


def license_keys_inbox_key(prefix: str, action: str) -> str:
    """Where the sales system drops the keys of one action (``insert`` or ``update``), as CSV."""
    return _under(prefix, LICENSE_KEYS_DIR, INBOX, f"{action}.csv")


def license_keys_processed_key(prefix: str, stamp: str, action: str) -> str:
    """Where an applied inbox file goes, named by the run that applied it: never applied twice."""
    return _under(prefix, LICENSE_KEYS_DIR, PROCESSED, f"{stamp}-{action}.csv")


def license_keys_registry_key(prefix: str, day: str) -> str:
    """The day's snapshot of the whole license key registry (gzipped NDJSON)."""
    return _under(prefix, LICENSE_KEYS_DIR, REGISTRY, f"{day}.ndjson.gz")


def common_prefix(keys: Iterable[str]) -> str:
    """The longest string every key starts with (the one prefix that lists them all)."""
    return os.path.commonprefix(list(keys))  # noqa: RUF071 - S3 prefixes are strings, not paths


def known_prefix(template: str, values: Mapping[str, str]) -> str:
    """What every key rendered from ``template`` starts with when only ``values`` are known."""
    rendered = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        rendered.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            break
        rendered.append(values[name])
    return "".join(rendered)


def key_pattern(template: str, values: Mapping[str, str]) -> re.Pattern[str]:
    """Every key ``template`` renders with ``values`` fixed (the other placeholders as they can render)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(re.escape(values[name]) if name in values else f"(?:{FIELD_PATTERNS[name]})")
    return re.compile("".join(parts).lstrip("/"))  # as object_key, which drops a leading '/'


@dataclass(frozen=True)
class KeySpace:
    """The keys one task writes: all start with ``prefix``, and ``owns`` recognises each of them.

    Multipart uploads left by an interrupted run are aborted only inside it, so a
    task never touches what another task (or anyone else) uploads to the bucket.
    """

    prefix: str
    patterns: tuple[re.Pattern[str], ...]

    def owns(self, key: str) -> bool:
        return any(pattern.fullmatch(key) for pattern in self.patterns)


def file_key_space(prefix: str, product_id: str, file_kind: str, template: str | None = None) -> KeySpace:
    """The keys of the files of one product and kind, final (``template``) and open."""
    values = {"prefix": check_prefix(prefix).strip("/"), "product_id": product_id, "file_kind": file_kind}
    templates = (check_key_template(template or DEFAULT_KEY_TEMPLATE), OPEN_KEY_TEMPLATE)
    return KeySpace(
        common_prefix(known_prefix(t, values).lstrip("/") for t in templates),
        tuple(key_pattern(t, values) for t in templates),
    )


def single_key_space(key: str) -> KeySpace:
    """One object's key, as written by a report or export."""
    return KeySpace(key, (re.compile(re.escape(key)),))


def selection_prefix(
    selection: FileSelection, product_id: str, prefix: str, template: str | None = None
) -> str:
    """The prefix of every key the files of ``selection`` get, known before the API lists them.

    From what the selection fixes: kind, a single frequency, and the year, month and
    day a bounded date window shares (a file's key takes its first day; a monthly file
    starts in a month of the window). Open files use :data:`OPEN_KEY_TEMPLATE`, like
    :func:`object_key`.
    """
    values = {"prefix": prefix.strip("/"), "product_id": product_id, "file_kind": selection.file_kind.value}
    final = [f.value for f in selection.frequencies if f is not Frequency.OPEN]
    if len(final) == 1:
        values["frequency"] = final[0]
    if selection.since and selection.until:
        since, until = selection.since.split("-"), selection.until.split("-")
        shared = ("yyyy", "mm", "dd") if Frequency.MONTHLY.value not in final else ("yyyy", "mm")
        for name, first, last in zip(shared, since, until, strict=False):
            if first != last:
                break
            values[name] = first
    starts = [known_prefix(template or DEFAULT_KEY_TEMPLATE, values)] if final else []
    if Frequency.OPEN in selection.frequencies:
        starts.append(known_prefix(OPEN_KEY_TEMPLATE, values))
    return common_prefix(starts).lstrip("/")


def object_metadata(record: FileRecord, product_id: str) -> dict[str, Any]:
    """User metadata of an archived object known before its first byte: where it came from.

    With the object's size it is enough to skip it on re-runs; objects written in one
    request also get ``size`` and ``sha256`` (see archive/upload.py).
    """
    return {
        "source-file-name": record.file_name,
        "source-file-kind": record.file_kind,
        "source-frequency": record.frequency,
        "source-product-id": product_id,
        "source-start-date": record.start_date,
        "source-stop-date": record.stop_date,
        "source-uncompressed-kb": record.uncompressed_size_kb,
    }
