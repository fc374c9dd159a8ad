"""Where an archived file lands in S3, and what metadata it carries."""

from __future__ import annotations

import os
import string
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_usageintel.api.files import FileRecord, Frequency, check_file_name
from airflow_provider_usageintel.api.selection import FileSelection
from airflow_provider_usageintel.exceptions import UsageIntelligenceValidationError, allowed

DEFAULT_KEY_TEMPLATE = "{prefix}/{product_id}/{file_kind}/{frequency}/{yyyy}/{mm}/{file_name}"
#: open (non-final) files change until the day closes; they live apart and are overwritten.
OPEN_KEY_TEMPLATE = "{prefix}/open/{product_id}/{file_kind}/{file_name}"
KEY_FIELDS = ("prefix", "product_id", "file_kind", "frequency", "yyyy", "mm", "dd", "file_name")


def check_key_template(template: str, field_name: str = "key_template") -> str:
    """Refuse unknown placeholders, and templates that do not end with the file name."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise UsageIntelligenceValidationError(
            f"{field_name}: {template!r} is not a valid template ({exc})"
        ) from None
    unknown = sorted(set(names) - set(KEY_FIELDS))
    if unknown:
        raise UsageIntelligenceValidationError(
            f"{field_name}: unknown placeholder(s) {', '.join(unknown)} (allowed: {allowed(KEY_FIELDS)})"
        )
    if "file_name" not in names:
        raise UsageIntelligenceValidationError(
            f"{field_name}: must contain {{file_name}} so that every file gets its own key"
        )
    return template


def object_key(record: FileRecord, product_id: str, prefix: str, template: str | None = None) -> str:
    """The S3 key of an archived file; open files go under ``open/`` unless a template says otherwise."""
    if template is None:
        template = OPEN_KEY_TEMPLATE if not record.is_final else DEFAULT_KEY_TEMPLATE
    check_key_template(template)
    yyyy, mm, dd = record.start_date.split("-")
    key = template.format(
        prefix=prefix.strip("/"),
        product_id=product_id,
        file_kind=record.file_kind,
        frequency=record.frequency,
        yyyy=yyyy,
        mm=mm,
        dd=dd,
        file_name=check_file_name(record.file_name),
    )
    return key.lstrip("/")


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
    request also get ``size`` and ``sha256`` (see utils/s3_upload.py).
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
