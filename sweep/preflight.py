"""Cheap checks of what a run needs from the machine, before anything is created or computed:
the device it asks for, folders it can write, local corpus files it can read.

Used for a single run (`python -m sweep.train`, before Hydra creates the run's folder) and for
every grid (launch/grid.py check_data_ready, before the first job starts). Each check raises
ConfigError naming the value and what is accepted; none of them creates a file or a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from sweep.config import DataConfig, TrainConfig
from sweep.data.corpus import check_documents
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
    """A corpus built by the first run (embedded, files): its cache folder can be written and
    its files hold documents."""
    if is_streamed(data):
        return
    check_writable_dir("data.cache_dir", data.cache_dir)
    check_documents(data)


def check_writable_dir(name: str, path: str | Path) -> None:
    """`path` is a folder this process can write, or can be created as one (without creating it)."""
    accepted = "a folder this user can write, or a path where one can be created"
    if not str(path).strip():  # '' is the current folder: `sweep report --out ''` wrote over ./runs.csv
        raise ConfigError(f"{name}={str(path)!r}: accepted: {accepted} (give . for the current one)")
    target = Path(os.path.expanduser(str(path))).absolute()
    existing = target
    while not existing.exists() and existing != existing.parent:  # the nearest existing ancestor
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == target else f"is under {existing}, which is a file"
        raise ConfigError(f"{name}={str(path)!r} {where}; accepted: {accepted}")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "is read-only" if existing == target else f"cannot be created: {existing} is read-only"
        raise ConfigError(f"{name}={str(path)!r} {what}; accepted: {accepted}")
