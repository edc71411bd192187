"""A run's measured speed: training tokens/s, MFU and the peak FLOP/s it is measured against,
the first step's time (compilation included) and the time from process start to the first step
(for a later run in the same process: from the run's start).

The peak (`run_peak`): `train.peak_tflops` when set; else the datasheet bf16 peak of a known
GPU (model/arithmetic.PEAK_FLOPS_BF16); else one measured at start-up with a large matmul in
the run's precision (CPUs, unknown GPUs). Every result.json says which (`peak_flops_source`).

Timing (`StepTimer`) adds no host-device sync to ordinary steps: the device is synchronised
once after the first step of each attempt, and the loop's log steps sync anyway (the loss is
read there). Only the time between those points that was spent in training steps counts:
evals, checkpoints and logging are left out, and so is the first step (it compiles).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.arithmetic import device_key, peak_flops


@dataclass(frozen=True)
class Peak:
    flops: float  # FLOP/s of all the run's devices together
    source: str  # where the figure comes from, for result.json


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CPU work is already done when it returns)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_flops(device: torch.device, dtype: torch.dtype, n: int, seconds: float = 0.3) -> float:
    """FLOP/s of an n x n x n matmul on this device in this dtype: the best of as many timed
    products as fit in about `seconds` (at least one), after one warm-up product. X = n (N is the
    parameters)."""
    a_XxX = torch.randn(n, n, device=device, dtype=dtype)
    b_XxX = torch.randn(n, n, device=device, dtype=dtype)
    a_XxX @ b_XxX  # warm-up: library initialisation, kernel choice
    best, spent = 0.0, 0.0
    while spent < seconds or best == 0.0:
        sync(device)
        start = time.perf_counter()
        a_XxX @ b_XxX
        sync(device)
        elapsed = time.perf_counter() - start
        best, spent = max(best, 2 * n**3 / elapsed), spent + elapsed
    return best


def run_peak(device: torch.device, bf16: bool, world_size: int, peak_tflops: float | None) -> Peak:
    """The peak a run's MFU is measured against (see the module docstring)."""
    if peak_tflops is not None:
        return Peak(peak_tflops * 1e12 * world_size, f"train.peak_tflops={peak_tflops:g} per device")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        key = device_key(name)
        if key is not None:
            return Peak(peak_flops(key) * world_size, f"datasheet bf16 dense peak of {key} ({name})")
    dtype = torch.bfloat16 if bf16 else torch.float32
    n = 4096 if device.type == "cuda" else 1024
    flops = measure_matmul_flops(device, dtype, n)
    return Peak(flops * world_size, f"measured: {str(dtype).removeprefix('torch.')} {n}^3 matmul on {device.type}")


def process_start_time() -> float | None:
    """This process's start as a time.time() timestamp (Linux /proc); None elsewhere."""
    try:
        stat = Path(f"/proc/{os.getpid()}/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime, after comm
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + start_ticks / os.sysconf("SC_CLK_TCK")


_process_origin_used = False


def startup_origin() -> float:
    """Where a run's start-up is counted from (a time.time() timestamp): the process start for
    the first run of a process, the call itself for later runs in the same process (Hydra's
    basic launcher trains a whole grid in one process)."""
    global _process_origin_used
    started = None if _process_origin_used else process_start_time()
    _process_origin_used = True
    return started if started is not None else time.time()


class StepTimer:
    """Seconds spent in training steps, and the steps they cover, across attempts (its state
    goes into checkpoints); the first step of each attempt is timed on its own."""

    def __init__(self, device: torch.device, origin: float):
        self.device, self.origin = device, origin  # origin: startup_origin()
        self.seconds, self.steps = 0.0, 0  # steady steps: every attempt's first step left out
        self.first_step_seconds: float | None = None  # this attempt's, compile included
        self.startup_seconds: float | None = None  # origin (process start) -> first step done
        self._since: tuple[float, int] | None = None  # (time, step) of the open interval
        self._step_started: float | None = None

    def attempt_starts(self) -> None:
        """Just before the first step of this attempt."""
        self._step_started = time.perf_counter()

    def first_step_done(self, step: int) -> None:
        sync(self.device)
        now = time.perf_counter()
        self.first_step_seconds = now - self._step_started
        self.startup_seconds = time.time() - self.origin
        self._since = (now, step)

    def pause(self, step: int) -> float | None:
        """At a log step, after its sync: close the open interval; its tokens/s factor, i.e.
        steady steps per second over the interval (None when it was empty)."""
        if self._since is None:
            return None
        now = time.perf_counter()
        start, start_step = self._since
        self._since = None
        if step == start_step:
            return None
        self.seconds += now - start
        self.steps += step - start_step
        return (step - start_step) / (now - start)

    def resume(self, step: int) -> None:
        """After the log step's eval, checkpoint and logging: open a new interval."""
        self._since = (time.perf_counter(), step)

    @property
    def steps_per_second(self) -> float | None:
        return self.steps / self.seconds if self.seconds > 0 else None

    def compile_seconds(self) -> float | None:
        """The first step's excess over a steady step: compilation (and warm-up)."""
        if self.first_step_seconds is None or self.steps_per_second is None:
            return None
        return max(0.0, self.first_step_seconds - 1 / self.steps_per_second)

    def state(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "steps": self.steps}

    def load(self, state: dict[str, Any]) -> None:
        self.seconds, self.steps = state["seconds"], state["steps"]


@dataclass
class Speed:
    """A run's tokens/s and MFU, per log interval and over the whole run."""

    timer: StepTimer
    peak: Peak
    tokens_per_step: int  # all ranks together
    flops_per_token: float  # model/arithmetic.flops_per_token
    compiled: bool

    def of_interval(self, steps_per_second: float | None) -> dict[str, float | None]:
        """tokens_per_second and mfu of a metrics line."""
        if steps_per_second is None:
            return {"tokens_per_second": None, "mfu": None}
        tokens_per_second = steps_per_second * self.tokens_per_step
        return {"tokens_per_second": tokens_per_second,
                "mfu": tokens_per_second * self.flops_per_token / self.peak.flops}

    def of_run(self) -> dict[str, Any]:
        """The fields of result.json (and the W&B summary)."""
        steady = self.of_interval(self.timer.steps_per_second)
        return {
            "train_tokens_per_second": steady["tokens_per_second"],
            "mfu": steady["mfu"],
            "peak_flops": self.peak.flops,
            "peak_flops_source": self.peak.source,
            "model_flops_per_token": self.flops_per_token,
            "first_step_seconds": self.timer.first_step_seconds,
            "compile_seconds": self.timer.compile_seconds() if self.compiled else None,
            "startup_seconds": self.timer.startup_seconds,
        }
