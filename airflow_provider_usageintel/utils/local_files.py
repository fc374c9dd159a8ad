"""Write local files so that a reader never sees a partial one.

Bytes go to a hidden temporary name in the target's own directory (same file
system, so the final ``os.replace`` is atomic) and are flushed to disk first.
Any failure removes the temporary file and leaves an older target untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

#: read size when hashing a file already on disk.
HASH_CHUNK = 1024 * 1024


def temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")


@contextlib.contextmanager
def atomic_writer(target: Path, verify: Callable[[Path], None] | None = None) -> Iterator[IO[bytes]]:
    """A binary file object whose content replaces ``target`` only if the block completes.

    ``verify`` receives the complete temporary file and raises to keep it from replacing ``target``.
    """
    tmp = temporary_name(target)
    # O_EXCL: never write through a file or symlink planted under the temporary name.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fileobj:
            yield fileobj
            fileobj.flush()
            os.fsync(fileobj.fileno())
        if verify is not None:
            verify(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fileobj:
        while chunk := fileobj.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
