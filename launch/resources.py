"""What each grid point asks of a cluster: estimated GPU-hours and its resource bucket.

A grid spans models whose costs differ by orders of magnitude, so one time limit for all is
wrong. Points are grouped into buckets by estimated cost; each bucket has its own Slurm time
limit (and GPU count where configured) and is submitted as its own job array.

GPU-hours = training FLOPs (flops_per_token x tokens, attention included) / (assumed MFU x the
device's bf16 peak) / 3600.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from model import flops_per_token, peak_flops
from sweep.budget import Budget, model_shape
from sweep.config import TrainConfig
from sweep.errors import ConfigError


@dataclass(frozen=True)
class Bucket:
    name: str
    max_hours: float  # points estimated at most this many GPU-hours go here
    time_min: int  # Slurm time limit of each job of the bucket
    gpus_per_node: int  # GPUs (= DDP ranks, one task per GPU) of each job


def estimate_gpu_hours(cfg: TrainConfig, budget: Budget, assumed_mfu: float, device: str) -> float:
    if not 0 < assumed_mfu <= 1:
        raise ConfigError(f"hydra.launcher.assumed_mfu={assumed_mfu}: must be in (0, 1]")
    try:
        peak = peak_flops(device)
    except KeyError as err:
        raise ConfigError(f"hydra.launcher.device: {err.args[0]}") from None
    flops = flops_per_token(model_shape(cfg)) * budget.tokens
    return flops / (assumed_mfu * peak) / 3600


STARTUP_S = 60  # from a job's start to submitit's SIGUSR2 handler and the first steps


def signal_delay_range(time_min: int) -> tuple[int, int]:
    """The `signal_delay_s` a bucket accepts: SIGUSR2 arrives at the time limit minus the delay.
    At least STARTUP_S must come before it (a signal before submitit's handler is installed kills
    the job: FAILED), and submitit must still take it for a time-out (it counts a SIGUSR2 as one
    only after min(80% of the limit, the limit - 10 min) of the attempt; an earlier one is a
    pre-emption, never counted against max_requeues: the run would be requeued forever)."""
    limit_s = 60 * time_min
    return 1, min(limit_s - STARTUP_S, max(limit_s // 5, 600) - STARTUP_S // 2)


def check_signal_delay(buckets: Sequence[Bucket], signal_delay_s: int) -> None:
    """One ConfigError naming every bucket whose time limit the delay does not fit."""
    errors = []
    for bucket in buckets:
        low, high = signal_delay_range(bucket.time_min)
        if not low <= signal_delay_s <= high:
            errors.append(f"bucket {bucket.name!r} (time_min={bucket.time_min}) accepts "
                          + (f"{low} .. {high}" if low <= high else "none: raise its time_min to 2 or more"))
    if errors:
        raise ConfigError(f"hydra.launcher.signal_delay_s={signal_delay_s} does not fit: "
                          + "; ".join(errors) + f" (SIGUSR2 comes signal_delay_s before the limit; "
                          f"{STARTUP_S} s of start-up must come before it, and submitit must count it "
                          "as a time-out)")


def pick_bucket(gpu_hours: float, buckets: Sequence[Bucket]) -> Bucket:
    """The first bucket whose max_hours covers the estimate; past the last one, the last one (the
    run continues over requeues, resuming from its checkpoint: `check_attempts`)."""
    if not buckets:
        raise ConfigError("hydra.launcher.buckets is empty: give at least one {name, max_hours, time_min}")
    return next((bucket for bucket in buckets if gpu_hours <= bucket.max_hours), buckets[-1])


def wall_minutes(gpu_hours: float, bucket: Bucket, nodes: int) -> float:
    """A run's estimated wall time on its bucket's GPUs (nodes x gpus_per_node; a CPU job counts as one)."""
    return 60 * gpu_hours / max(1, nodes * bucket.gpus_per_node)


def attempts_needed(gpu_hours: float, bucket: Bucket, nodes: int) -> int:
    """Attempts of the bucket's time limit the run takes (it resumes from its checkpoint at each requeue)."""
    return max(1, math.ceil(wall_minutes(gpu_hours, bucket, nodes) / bucket.time_min))


def check_attempts(jobs: Sequence[tuple[str, float, Bucket]], max_requeues: int, nodes: int) -> None:
    """One ConfigError naming each bucket with a job (label, estimated GPU-hours, its bucket) that
    needs more than its 1 + max_requeues attempts: every such job would end timed out. Each names
    the bucket's longest job and what would hold it (a time_min, or max_requeues)."""
    allowed = 1 + max_requeues
    short: dict[str, list[tuple[str, float, Bucket]]] = {}
    for label, hours, bucket in jobs:
        if attempts_needed(hours, bucket, nodes) > allowed:
            short.setdefault(bucket.name, []).append((label, hours, bucket))
    errors = []
    for name, over in short.items():
        label, hours, bucket = max(over, key=lambda job: job[1])
        wall = wall_minutes(hours, bucket, nodes)
        gpus = max(1, nodes * bucket.gpus_per_node)
        larger = ", or a bucket with a larger max_hours after it" if hours > bucket.max_hours else ""
        others = f" (and {len(over) - 1} more of its jobs)" if len(over) > 1 else ""
        errors.append(
            f"bucket {name!r}: {label}{others}, estimated at {hours:.3g} GPU-hours = {wall:.0f} min on {gpus} "
            f"GPU{'s' * (gpus != 1)}, needs {attempts_needed(hours, bucket, nodes)} attempts but time_min="
            f"{bucket.time_min} x (max_requeues={max_requeues} + 1) = {bucket.time_min * allowed} min allows "
            f"{allowed}: give bucket {name!r} time_min >= {math.ceil(wall / allowed)}, or hydra.launcher.max_requeues"
            f" >= {attempts_needed(hours, bucket, nodes) - 1}{larger}")
    if errors:
        raise ConfigError("hydra.launcher.buckets: a job would end timed out (each requeue resumes from its "
                          "checkpoint, max_requeues times); nothing was submitted:\n"
                          + "\n".join(f"  {e}" for e in errors))
