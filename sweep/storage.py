"""Free space on a run folder's file system, and the one error a failed write becomes.

A write that fails (disk full, I/O error, no permission) is a `StorageError` naming the file,
the OS error and the free space left there: one line, no chain of tracebacks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sweep.errors import StorageError


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (its nearest existing folder); None if unknown."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def describe_bytes(n: int | None) -> str:
    """e.g. 512 B, 9.8 KiB, 3.1 GiB."""
    if n is None:
        return "unknown"
    if n < 1024:
        return f"{n} B"
    size, unit = n / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


def write_failed(path: Path, err: OSError) -> StorageError:
    """The error for a failed write of `path` (raise it `from None`: the message says it all)."""
    reason = f"[Errno {err.errno}] {err.strerror}" if err.strerror else str(err)
    return StorageError(f"cannot write {path}: {reason}; {describe_bytes(free_bytes(path))} free on its "
                        "file system. Free space (or fix the permission) and re-run the same command: the run "
                        "resumes from its last checkpoint")
