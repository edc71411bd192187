"""Tiny CPU configs composed from the real config tree, for every test module."""

from __future__ import annotations

import contextlib
import csv
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from hydra import compose, initialize_config_dir
from torch.overrides import TorchFunctionMode

import sweep.config  # noqa: F401  (registers the schema with Hydra)
from sweep.config import OptimConfig, Schedule, WeightDecayMode
from sweep.run.preempt import StopRequest

REPO = Path(__file__).resolve().parent.parent
CONF_DIR = REPO / "conf"

# A run small enough to train in about a second on one CPU core.
TINY = [
    "model.d=32",
    "model.l=1",
    "model.head_dim=16",
    "model.seq_len=32",
    "train.batch_size=4",
    "budget.tokens_per_param=0.5",
    "optim.warmup_steps=2",
    "optim.lr=3e-3",
    "train.log_every=2",
    "train.eval_every=4",
    "train.device=cpu",
    "train.precision=fp32",
    "train.compile=false",
    "data.eval_tokens=2048",
    "logger=none",
]


def compose_config(*overrides: str, config_name: str = "train"):
    """The DictConfig Hydra would give `python -m sweep.train OVERRIDES`."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name, overrides=list(overrides))


class StopAtStep(StopRequest):
    """A StopRequest whose SIGUSR2 'arrives' while step `at` runs."""

    at = 5

    def __init__(self):
        super().__init__()
        self.checks = 0

    @property
    def requested(self) -> bool:
        self.checks += 1
        if self.checks == self.at:  # checked once at the end of every step
            self.signal = signal.SIGUSR2
        return self.signal is not None


def optim_config(**overrides) -> OptimConfig:
    """An OptimConfig for unit tests: the usual AdamW settings, any field overridden."""
    base = dict(lr=1e-2, weight_decay=0.1, weight_decay_mode=WeightDecayMode.coupled, b1=0.9, b2=0.95,
                eps=1e-20, warmup_steps=10, warmup_max_fraction=0.1, final_lr_fraction=0.1, grad_clip=1.0,
                schedule=Schedule.cosine, cooldown_fraction=0.2, cooldown_shape="1-sqrt")
    return OptimConfig(**{**base, **overrides})


class HostReads(TorchFunctionMode):
    """Records every tensor operation that reads a value back to the host (a device sync on a
    GPU), with `step` as it was when it happened (set it from outside)."""

    READS = {"item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy", "cpu", "nonzero"}

    def __init__(self):
        super().__init__()
        self.step: int | None = None
        self.reads: list[tuple[int | None, str]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in self.READS:
            self.reads.append((self.step, func.__name__))
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def node_lost_at(step: int, monkeypatch) -> Iterator[None]:
    """Inside, the training reader raises RuntimeError("node lost") when asked for `step`'s batch
    (a crash mid-run); the reader is put back on leaving."""
    from sweep.data import TrainReader

    real_batch = TrainReader.batch

    def crash(self, asked):
        if asked == step:
            raise RuntimeError("node lost")
        return real_batch(self, asked)

    with monkeypatch.context() as patch:
        patch.setattr(TrainReader, "batch", crash)
        yield


def train_until_sigusr2(overrides: list[str], metrics_file: Path, lines: int = 10,
                        timeout: float = 120) -> tuple[int, str]:
    """`python -m sweep.train OVERRIDES` in its own process, sent a real SIGUSR2 once its metrics
    file has `lines` lines (or left to end within `timeout`); (its exit status, its output)."""
    proc = subprocess.Popen([sys.executable, "-m", "sweep.train", *overrides], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if metrics_file.exists() and len(metrics_file.read_text().splitlines()) >= lines:
            proc.send_signal(signal.SIGUSR2)
            break
        time.sleep(0.02)
    output, _ = proc.communicate(timeout=timeout)
    return proc.returncode, output


def write_runs(path, rows, columns=("run", "n_params", "tokens", "final_eval_loss")):
    """A runs table as a CSV file at `path` (the columns given, the rows' other keys left out)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def slurm_tools(folder: Path, monkeypatch, **outputs: str) -> None:
    """Slurm tools on PATH that print `outputs[name]` (squeue, sinfo, ...), written to `folder`;
    `sinfo=""` hides a cluster this machine may run (no partition known: nothing refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        (folder / name).write_text(f"#!/bin/sh\ncat <<'END'\n{text}END\n")
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
