"""The runs a live local launcher has still to train, for `sweep status` (and `--wait`).

A Slurm job is queued in Slurm, which `sweep status` asks; a local launcher's runs wait in the
launcher's own process, and until it starts one its folder says only `pending` (or `started`,
between an early-stopped run's probe and its rest), as for a run nobody will train: `sweep status
--wait` returned there while the launcher went on training the rest (1 complete, 3 pending). So
while it runs, the local launcher keeps a file per sweep folder,
`<out_dir>/.local_queue/<host>-<pid>.json` (its runs, host, pid and start), under an exclusive flock that the kernel drops when the process
ends, however it ends; a reader that can take a shared lock on a file knows its launcher is gone.

    with announced({out_dir: run_names}):   # launch/local.py, around its loop
        ...
    runs_queued_locally(out_dir)             # launch/queue.py: those runs read `queued`
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Iterator, Sequence

QUEUE_DIR = ".local_queue"  # under out_dir


@contextlib.contextmanager
def announced(runs_by_dir: dict[Path, Sequence[str]]) -> Iterator[None]:
    """Hold, while the body runs, one locked file per sweep folder naming the runs it may train;
    remove them after. A folder that cannot be written is passed over (the runs' own checks name it)."""
    with contextlib.ExitStack() as stack:
        for out_dir, runs in runs_by_dir.items():
            with contextlib.suppress(OSError):
                stack.enter_context(_held_file(Path(out_dir), runs))
        yield


@contextlib.contextmanager
def _held_file(out_dir: Path, runs: Sequence[str]) -> Iterator[None]:
    folder = out_dir / QUEUE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{socket.gethostname()}-{os.getpid()}.json"
    with open(path, "w") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "runs": list(runs),
                   "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}, f)
        f.flush()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()


def runs_queued_locally(out_dir: Path) -> set[str]:
    """The runs of the sweep folder that a live local launcher has still to train (or is training):
    those of each file under .local_queue whose lock is held. A file left by a launcher that died
    is passed over (its lock went with it)."""
    runs: set[str] = set()
    for path in sorted((Path(out_dir) / QUEUE_DIR).glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            with open(path) as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # held: its launcher lives
                    runs.update(str(r) for r in json.loads(f.read() or "{}").get("runs", []))
    return runs
