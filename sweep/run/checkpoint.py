"""Where a checkpoint is written and read: `save_checkpoint` / `load_checkpoint`.

One file, `<run>/checkpoints/latest.pt`, written to a temporary file and renamed over the old
one, so a crash mid-write never leaves a half checkpoint, and a write that fails (disk full, I/O
error, permission) leaves the previous checkpoint as it was and raises one `StorageError` naming
the file and the free space (the temporary file is removed). It holds the model, the optimizer,
the step (which is also the data position: the reader is a function of (seed, step, rank) and
the learning rate a function of the step), the RNG states, and the rest of the run's state
(sweep/run/state.py RunState.state_dict: wall time, recent losses, step timer). The file's layout
(FORMAT_VERSION 1): {format_version, run, step, model, optimizer, rng_cpu, rng_cuda, extra}, `run`
the name of the run folder that wrote it (checked on load), `extra` the run state less its step. Loaded with `weights_only=True`: no pickled code runs on load.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch
import torch.nn as nn

from sweep.errors import ConfigError, StorageError
from sweep.storage import atomic_write, describe_bytes, free_bytes, write_whole

FORMAT_VERSION = 1


class WrongRun(Exception):
    """A checkpoint written by another run (its name)."""


def save_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, run_state: dict[str, Any], run: str | None = None
) -> None:
    """Save the model, the optimizer, the RNG states and `run_state` (RunState.state_dict(): a
    `step` and plain values) to `path`, whole or not at all; `run`: the name of the run folder
    that wrote it, which `load_checkpoint` checks."""
    extra = {k: v for k, v in run_state.items() if k != "step"}
    state = {
        "format_version": FORMAT_VERSION,
        "run": run,
        "step": run_state["step"],
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "extra": extra,
    }

    def write(f: BinaryIO) -> None:
        writer = WholeWrites(f)
        try:
            torch.save(state, writer)
        except RuntimeError:  # torch's zip writer reports a failed write as its own error
            if writer.error is None:
                raise
            raise writer.error from None

    atomic_write(path, write)


class WholeWrites:
    """A raw file for torch.save: each write is written whole (a raw write may be short), and the
    OSError of a failed one (no space, I/O error) is kept, since torch turns it into a RuntimeError."""

    def __init__(self, raw: Any):
        self.raw, self.error = raw, None

    def write(self, data: Any) -> int:
        n_bytes = memoryview(data).nbytes
        try:
            write_whole(self.raw, data)
        except OSError as err:
            self.error = err
            raise
        return n_bytes

    def flush(self) -> None:
        pass


def checkpoint_bytes(model: nn.Module) -> int:
    """The size of a checkpoint less its RNG states and headers (tens of KiB): the parameters and
    AdamW's two moments of each. Never more than the real size, so the check never refuses one that fits."""
    return 3 * sum(p.numel() * p.element_size() for p in model.parameters())


def check_room_for_checkpoint(path: Path, model: nn.Module) -> None:
    """Before the first step: a checkpoint of `model` must fit next to the current one (it is
    written in full before it replaces it), else the run would train and then lose its work."""
    needed, free = checkpoint_bytes(model), free_bytes(path)
    if free is not None and free < needed:
        raise StorageError(f"no room for checkpoint {path}: it needs about {describe_bytes(needed)} and its "
                           f"file system has {describe_bytes(free)} free. Free space or choose another out_dir")


def checkpoint_step(path: Path) -> int | None:
    """The step a checkpoint was saved at (None: no checkpoint), its tensors memory-mapped, not read."""
    if not path.exists():
        return None
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["step"])
    except Exception as err:
        raise ConfigError(f"checkpoint {path} cannot be read ({type(err).__name__}: {err}); it is damaged: move it "
                          "away to restart the run from step 0") from err


def saved_at_or_past(path: Path, step: int) -> bool:
    """Whether a checkpoint at `step` or later is at `path` (a readable one: a damaged one is not, and
    its run's next load says so)."""
    try:
        saved = checkpoint_step(path)
    except ConfigError:
        return False
    return saved is not None and saved >= step


def damaged_record(path: Path) -> str | None:
    """The first record of the checkpoint (a zip archive, as torch.save writes it) whose bytes do not match
    the CRC-32 written with them, or None. torch.load does not check them: a checkpoint garbled in place (same
    size) loaded, and its run resumed to a different loss without a word. A file that is no zip archive at
    all is left to torch.load's error."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return None


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, run: str | None = None
) -> dict[str, Any] | None:
    """Restore model, optimizer and RNG from `path` if it exists and return the run state saved
    with them (for RunState.load_state_dict), else None. `run`: the run folder it must have been
    written by (a checkpoint naming another run is a ConfigError: one copied in from a run of the same
    shape resumed into a wrong loss, with nothing said; one written before runs were named passes)."""
    if not path.exists():
        return None
    damaged = damaged_record(path)
    if damaged is not None:
        raise ConfigError(f"checkpoint {path} is damaged: its record {damaged} fails its CRC-32 check (bytes changed "
                          "after it was written); move it away to restart the run from step 0, or put back a copy")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {state.get('format_version')} != {FORMAT_VERSION}")
        written_by = state.get("run")
        if run is not None and written_by is not None and written_by != run:
            raise WrongRun(written_by)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except WrongRun as err:
        raise ConfigError(f"checkpoint {path} was written by the run {err}, not by {run}: copied in from another "
                          "run; move it away to restart this run from step 0, or put back its own") from None
    except Exception as err:
        # torch's first sentence only: the rest is its advice for files of its own (weights_only=False)
        reason = (str(err).strip().splitlines() or [""])[0].split(". ")[0]
        raise ConfigError(
            f"checkpoint {path} cannot be loaded ({type(err).__name__}: {reason}); it does not "
            "match this run's config or is damaged: move it away to restart the run from step 0"
        ) from err
    torch.set_rng_state(state["rng_cpu"])
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return {"step": state["step"], **state["extra"]}
