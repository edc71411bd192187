"""The one atomic write, free space on a file system, the one error a failed write becomes, and the
end of a growing file read without reading the rest (`tail_lines`).

`atomic_write(path, data)` writes a temporary file beside `path`, fsyncs it, renames it over
`path` and fsyncs the folder: a reader sees the old file or the new one, never half of one. The
file gets the mode a plain `open()` would give (0666 less the umask), so a teammate can read a
shared sweep. A write that fails (disk full, I/O error, no permission) is a `StorageError` naming
the file, the OS error and the free space left there: one line, no chain of tracebacks.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

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
    in_a_run = (path.parent / "config.yaml").exists()  # a run folder's file (a report's has no checkpoint)
    return StorageError(f"cannot write {path}: {reason}; {describe_bytes(free_bytes(path))} free on its "
                        "file system. Free space (or fix the permission) and re-run the same command: what was "
                        "written before is kept" + (" (a run resumes from its last checkpoint)" if in_a_run else ""))


DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)  # the file system's, not the program's


def output_failed(err: OSError) -> str | None:
    """The one line for a write the file system refused (`DISK_ERRNOS`) anywhere in a command (a figure,
    stdout redirected to a full disk); None for another OSError, which is the program's to show."""
    if err.errno not in DISK_ERRNOS:
        return None
    if err.filename:
        return str(write_failed(Path(err.filename), err))
    return (f"cannot write the output: [Errno {err.errno}] {err.strerror}. Free space and re-run the same command: "
            "what was written before is kept")


def atomic_write(path: Path, data: str | bytes | Callable[[BinaryIO], None]) -> None:
    """Replace `path` with `data` (text as UTF-8, bytes, or a function that writes into a binary
    file) all at once; a failed write leaves `path` as it was and raises a StorageError."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600: give what open() would
        with os.fdopen(fd, "wb", buffering=0) as f:
            if callable(data):
                data(f)
            else:
                write_whole(f, data.encode() if isinstance(data, str) else data)
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_dir(path.parent)
    except OSError as err:
        if tmp is not None:  # before the free space is measured: the half-written file is no longer there
            Path(tmp).unlink(missing_ok=True)
            tmp = None
        raise write_failed(path, err) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def write_whole(f: BinaryIO, data: bytes | memoryview) -> None:
    """Write all of `data` to a raw (unbuffered) file, whose writes may be short."""
    view = memoryview(data).cast("B")
    while view:
        view = view[f.write(view):]


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def nearest_existing(path: str | os.PathLike) -> Path:
    """`path` (absolute) where it exists, else its nearest ancestor that does."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing


def remove_empty_folders(path: str | os.PathLike, up_to: str | os.PathLike) -> None:
    """Remove `path` and its parents below `up_to` (`nearest_existing` before they were made)
    while each is an empty folder: what a failed start made and left empty. Stops at the first
    that holds anything (another process's files, or this one's)."""
    folder, up_to = Path(path).absolute(), Path(up_to).absolute()
    while up_to in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return
        folder = folder.parent


def current_umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


TAIL_BYTES = 4096  # what `tail_lines` reads of a file's end


def tail_lines(path: str | os.PathLike, nbytes: int = TAIL_BYTES) -> list[bytes]:
    """The lines within the last `nbytes` of a file, split at each newline, at the same cost at any
    length: the first may be cut by the seek, the last is what follows the last newline (empty, or
    a line still being written); [] where the file cannot be read."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - nbytes))
            return f.read().split(b"\n")
    except OSError:
        return []
