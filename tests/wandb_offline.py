"""Reading what W&B wrote for an offline run: its `run-<id>.wandb` file, a LevelDB-style log
of protobuf `Record`s (W&B 0.31 ships no reader of its own in Python)."""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)  # ident, magic, version
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[pb.Record]:
    return [record for _end, record in records_with_ends(path)]


def records_with_ends(path: Path) -> list[tuple[int, pb.Record]]:
    """Each whole record, with the offset in the file where it ends."""
    data = path.read_bytes()
    assert data.startswith(HEADER), f"{path} is not a W&B run file"
    out, pos, pending = [], len(HEADER), b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # a block's tail too short for a record header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if pos + 7 + length > len(data):
            break  # the writer is still writing this record
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind in (FULL, FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append((pos, record))
    return out


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


@dataclass
class OfflineRun:
    """One offline run folder (`wandb/offline-run-<time>-<id>`), as W&B recorded it."""

    id: str
    name: str
    project: str
    group: str
    job_type: str
    tags: list[str]
    resumed: bool
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)  # metric name or glob -> its step metric
    artifacts: list[dict[str, Any]] = field(default_factory=list)  # name, type, aliases, files: path -> size
    exit_code: int | None = None


def read_offline_run(folder: Path, timeout_s: float = 30) -> OfflineRun:
    """The run as W&B recorded it, once its exit record is written: W&B's service process writes
    the file behind the training process (finish() may return before the file is complete)."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = _read(folder)
        if run is not None and run.exit_code is not None:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"{folder}: no {'run' if run is None else 'exit'} record after {timeout_s} s")
        time.sleep(0.2)


def read_unfinished_offline_run(folder: Path) -> OfflineRun | None:
    """What the run's file holds now, exit record or not (a writer that was killed)."""
    return _read(folder)


def _read(folder: Path) -> OfflineRun | None:
    (path,) = folder.glob("run-*.wandb")
    run = None
    for r in records(path):
        kind = r.WhichOneof("record_type")
        if kind == "run":
            run = OfflineRun(id=r.run.run_id, name=r.run.display_name, project=r.run.project, group=r.run.run_group,
                             job_type=r.run.job_type, tags=list(r.run.tags), resumed=r.run.resumed)
            run.config.update({_key(i): json.loads(i.value_json) for i in r.run.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in r.history.item})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in r.summary.update})
        elif kind == "metric":
            run.metrics[r.metric.name or r.metric.glob_name] = r.metric.step_metric
        elif kind == "artifact":
            a = r.artifact
            run.artifacts.append({"name": a.name, "type": a.type, "aliases": list(a.aliases), "digest": a.digest,
                                  "files": {e.path: e.size for e in a.manifest.contents}})
        elif kind == "exit":
            run.exit_code = r.exit.exit_code
    return run
