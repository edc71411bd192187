"""Cheap checks of what a run needs from the machine, before anything is created or computed:
the device it asks for, folders it can write, local corpus files it can read, a local corpus's
token cache entry that is whole.

Used for a single run (`python -m sweep.train`, before Hydra creates the run's folder) and for
every grid (launch/grid.py check_data_ready, before the first job starts). Each check raises
ConfigError naming the value and what is accepted; none of them leaves a file or a folder (the
write check makes one and removes it at once).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from sweep.config import DataConfig, TrainConfig
from sweep.data.corpus import check_documents
from sweep.data.local import check_cache_entry
from sweep.data.streamed import is_streamed
from sweep.run.device import check_device
from sweep.errors import ConfigError


def check_run_inputs(cfg: TrainConfig, runs_here: bool = True) -> None:
    """The device is there (when the run will start on this machine, `runs_here`; not for a
    Slurm job submitted from a login node), out_dir (and a local corpus's cache_dir) can be
    written, the corpus files hold documents. Prepared (streamed) corpora: launch/grid.py."""
    if runs_here:
        check_device(cfg.train)
    check_writable_dir("out_dir", cfg.out_dir)
    check_local_corpus(cfg.data)


def check_local_corpus(data: DataConfig) -> None:
    """A corpus built by the first run (embedded, files): its cache folder can be written, its
    files hold documents, and its token cache entry, once built, has the files its manifest
    lists (was: a truncated train.bin passed `sweep plan` and failed every job at its start). A
    prepared (streamed) corpus's cache folder is only read by runs: it is not a file (was: 'not
    prepared', and the `sweep prepare` it advised failed)."""
    if is_streamed(data):
        check_folder_path("data.cache_dir", data.cache_dir)
        return
    check_writable_dir("data.cache_dir", data.cache_dir)
    check_documents(data)
    check_cache_entry(data)


READ_ONLY_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS)
WRITABLE = "a folder this user can write, or a path where one can be created"


def check_folder_path(name: str, path: str | Path) -> Path:
    """`path` names a folder, or a place for one: not '', not a file nor under one. Returns its
    nearest existing ancestor (itself when it exists)."""
    if not str(path).strip():  # '' is the current folder: `sweep report --out ''` wrote over ./runs.csv
        raise ConfigError(f"{name}={str(path)!r}: accepted: {WRITABLE} (give . for the current one)")
    target = Path(os.path.expanduser(str(path))).absolute()
    existing = target
    while not existing.exists() and existing != existing.parent:  # the nearest existing ancestor
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == target else f"is under {existing}, which is a file"
        raise ConfigError(f"{name}={str(path)!r} {where}; accepted: {WRITABLE}")
    return existing


def check_writable_dir(name: str, path: str | Path) -> None:
    """`path` is a folder this process can write, or can be created as one: a folder made in it
    (or in its nearest existing ancestor) and removed at once says so. Permissions alone said yes
    to root for /proc or a read-only mount, and the run failed later."""
    target = Path(os.path.expanduser(str(path))).absolute()
    existing = check_folder_path(name, path)
    refusal = None if os.access(existing, os.W_OK | os.X_OK) else "is read-only"
    if refusal is None:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".sweep-write-check-", dir=existing))
        except OSError as err:
            refusal = "is read-only" if err.errno in READ_ONLY_ERRORS else f"refuses a new folder ({err.strerror})"
    if refusal is not None:
        what = refusal if existing == target else f"cannot be created: {existing} {refusal}"
        raise ConfigError(f"{name}={str(path)!r} {what}; accepted: {WRITABLE}")
