"""A run's identity and its folder: the contract every other part (launchers, status, fits,
W&B) relies on.

The folder is `out_dir/<name>` with name = readable prefix + short hash of the config fields
that change what is trained, e.g. `d512-l8-b256-lr3e-03-wd0.1-3f9a2c1e`; never a timestamp or a
job number, so a re-launched or requeued run finds its own checkpoint. It holds:

  config.yaml      the resolved config (written at start)
  checkpoints/     latest.pt, written atomically (sweep/checkpoint.py)
  metrics.jsonl    one JSON line per log step (and per eval)
  result.json      written atomically, last; its `status` is complete | diverged | failed

A write that fails raises one `StorageError` naming the file and the free space. Temporary files
of atomic writes left by a killed process are removed when the run starts again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import yaml

from sweep.config import TrainConfig, to_plain
from sweep.storage import write_failed

STATUSES = ("complete", "diverged", "failed")
FINISHED = ("complete", "diverged")  # never run again; a failed run is retried when re-launched

# Fields that do not change what is trained: where runs go and where they are tracked, how often
# they log, eval and checkpoint, which device and compiler run them. Everything else is identity.
NON_IDENTITY_FIELDS = {
    "out_dir": None,
    "logger": None,
    "data": {"cache_dir", "max_epochs", "density_documents"},
    "train": {"log_every", "eval_every", "checkpoint_every_minutes", "divergence_factor", "device", "compile",
              "peak_tflops"},
}


def identity_fields(cfg: TrainConfig) -> dict[str, Any]:
    plain = to_plain(cfg)
    for key, sub in NON_IDENTITY_FIELDS.items():
        if sub is None:
            plain.pop(key, None)
        else:
            for name in sub:
                plain[key].pop(name, None)
    return plain


def run_hash(cfg: TrainConfig) -> str:
    blob = json.dumps(identity_fields(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def run_name(cfg: TrainConfig) -> str:
    """Readable prefix (the grid coordinates) + hash of the whole identity."""
    o = cfg.optim
    prefix = f"d{cfg.model.d}-l{cfg.model.l}-b{cfg.train.batch_size}-lr{o.lr:.1e}-wd{o.weight_decay:g}"
    return f"{prefix}-{run_hash(cfg)}"


class RunDir:
    """Paths and file operations of one run folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def for_config(cls, cfg: TrainConfig) -> "RunDir":
        return cls(Path(cfg.out_dir) / run_name(cfg))

    config_file = property(lambda self: self.path / "config.yaml")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    result_file = property(lambda self: self.path / "result.json")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    checkpoint_file = property(lambda self: self.path / "checkpoints" / "latest.pt")

    def write_config(self, cfg: TrainConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(to_plain(cfg), sort_keys=False)
        atomic_write_text(self.config_file, text)

    def read_result(self) -> dict[str, Any] | None:
        if not self.result_file.exists():
            return None
        return json.loads(self.result_file.read_text())

    def write_result(self, result: dict[str, Any]) -> None:
        if result.get("status") not in STATUSES:
            raise ValueError(f"result status {result.get('status')!r} not in {STATUSES}")
        atomic_write_text(self.result_file, json.dumps(_finite(result), indent=2) + "\n")

    def append_metrics(self, record: dict[str, Any]) -> None:
        try:
            with open(self.metrics_file, "a") as f:
                f.write(json.dumps(_finite(record)) + "\n")
        except OSError as err:
            raise write_failed(self.metrics_file, err) from None

    def remove_stale_temporaries(self) -> list[Path]:
        """Remove the temporary files of atomic writes (checkpoint, result, config, metrics) that
        a killed process left behind; only the process training the run may call this."""
        stale = [tmp for file in (self.checkpoint_file, self.result_file, self.config_file, self.metrics_file)
                 for tmp in file.parent.glob(f".{file.name}.*.tmp")]
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        return stale

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_file.exists():
            return []
        return [json.loads(line) for line in self.metrics_file.read_text().splitlines() if line]

    def truncate_metrics(self, after_step: int) -> None:
        """Drop records of steps later than `after_step`: on resume from a checkpoint at that
        step, those steps are trained again and logged again."""
        kept = [r for r in self.read_metrics() if r["step"] <= after_step]
        atomic_write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in kept))


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`; a failed
    write leaves `path` as it was and raises a StorageError."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        raise write_failed(path, err) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _finite(record: Any) -> Any:
    """JSON has no NaN/Inf: write them as null (a diverged loss is recorded as its status)."""
    if isinstance(record, float) and not math.isfinite(record):
        return None
    if isinstance(record, dict):
        return {k: _finite(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [_finite(v) for v in record]
    return record


def iter_run_dirs(root: str | os.PathLike) -> Iterable[RunDir]:
    """Every run folder directly under a sweep root (those with a config.yaml), sorted."""
    root = Path(root)
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if (path / "config.yaml").is_file():
            yield RunDir(path)
