"""Extract the CSV members of a downloaded zip, never writing outside the target directory.

An archive is input from the network: a member named ``../x.csv``,
``/etc/x.csv``, ``x\\0.csv`` or stored as a symbolic link could otherwise
write anywhere the worker may. Such members are skipped with a warning (the
rest of the archive is still extracted) and every target path is resolved and
checked against the directory before anything is written. Each CSV is written
atomically, and its CRC is checked by ``zipfile`` while it is copied.
"""

from __future__ import annotations

import logging
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from airflow_provider_usageintel.utils.local_files import atomic_writer

COPY_CHUNK = 1024 * 1024
CSV_SUFFIX = ".csv"
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]")


class ExtractLog(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...
    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


@dataclass
class Extraction:
    """Paths written (or already present), and the members refused as unsafe."""

    extracted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why a member must not be extracted, or ``None`` when its name and type are safe."""
    name = info.orig_filename  # zipfile cuts ``filename`` at a NUL byte; the original keeps it
    if "\x00" in name:
        return "NUL byte in the name"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    if ".." in _SEPARATORS.split(name):
        return "'..' in the path"
    return None


def member_target(dest: Path, name: str) -> Path | None:
    """Where a member goes inside ``dest`` (already resolved), or ``None`` if it would land outside."""
    target = (dest / name.replace("\\", "/")).resolve()
    return target if target.is_relative_to(dest) and target != dest else None


def extract_csv_members(
    archive: str | Path,
    dest_dir: str | Path,
    *,
    overwrite: bool = True,
    log: ExtractLog | None = None,
) -> Extraction:
    """Extract every safe ``.csv`` member of ``archive`` into ``dest_dir``, keeping relative folders.

    Without ``overwrite``, a CSV already present with the member's size is kept as is.
    """
    log = log or logging.getLogger(__name__)
    dest = Path(dest_dir).resolve()
    result = Extraction()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            reason = unsafe_reason(info)
            target = None if reason else member_target(dest, info.filename)
            if target is None:
                reason = reason or f"resolves outside {dest}"
                log.warning(
                    "Refusing zip member %r of %s: %s", info.orig_filename, Path(archive).name, reason
                )
                result.refused.append(info.orig_filename)
                continue
            if not info.filename.lower().endswith(CSV_SUFFIX):
                log.info("Leaving out zip member %r (not a CSV file)", info.filename)
                continue
            _extract_member(zf, info, target, overwrite)
            result.extracted.append(str(target))
    return result


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, overwrite: bool) -> None:
    if not overwrite and target.is_file() and target.stat().st_size == info.file_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as source, atomic_writer(target) as sink:
        shutil.copyfileobj(source, sink, COPY_CHUNK)
