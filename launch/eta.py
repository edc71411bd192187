"""The local sweep's ETA: each job's time is modelled as a start-up overhead (process start,
imports, data, compile, the launcher noticing its end) plus seconds per step and seconds per FLOP
of its steps, all learned from the jobs ended so far; the jobs left are then laid out on the
launcher's slots in the order they start. A job's FLOPs count its evals' forward passes too
(`eval_flops`): a tiny run's evals are nearly half its compute, a large one's a tenth.

A rate over the whole sweep's FLOPs (what the bar used before) counts every run's start-up as
compute: after the first tiny runs of a grid, whose start-up is most of their time, it read
4-10x the time left. Here a job's time splits by its own record: the seconds its result.json
gives its steps after the first one (`wall_seconds` less `first_step_seconds`, a branch's own
clock) are training, the rest of the time the launcher saw it run is overhead. Seconds per FLOP
alone still read a small model's pace into a large one's: a small model's step is mostly
per-step work (Python, kernel launches, the optimizer's loop over tensors), so it does fewer
FLOPs a second (the README demo: 2.4e9 at d32, 5.3e9 at d64), and after a grid's small runs the
ETA read 2-40x the time left. So training seconds are fitted as a x steps + b x FLOPs
(`fit_pace`) once the ended jobs span two FLOPs per step (benchmarks/eta_replay.py replays
finished sweeps with both models: benchmarks/RESULTS.md).

Letters: T a job's training seconds, S its steps, F its FLOPs (steps and evals).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

SPAN = 1.2  # the ended jobs' FLOPs per step must span this ratio before seconds per step are fitted


@dataclass(frozen=True)
class JobWork:
    """What a job's time is modelled on: its steps S (its own: a branch's, a rung's) and FLOPs F
    (of those steps and of its evals)."""

    steps: int
    flops: float


def fit_pace(done: Sequence[tuple[float, JobWork]]) -> tuple[float, float]:
    """(a, b), seconds per step and per FLOP, from ended jobs as (T, work): T = a S + b F in the
    least squares of the relative error (a small job counts as much as a large one), a, b >= 0.
    While the jobs' FLOPs per step span less than SPAN (one model size so far: S and F move
    together) a = 0 and b = sum T / sum F: seconds per FLOP, which over-reads a larger model's
    time rather than under-reading it."""
    seconds = np.array([t for t, _ in done], dtype=float)
    steps = np.array([w.steps for _, w in done], dtype=float)
    flops = np.array([w.flops for _, w in done], dtype=float)
    per_flop = (0.0, float(seconds.sum() / flops.sum()))
    per_step = flops / steps
    if per_step.max() < SPAN * per_step.min() or (seconds <= 0).any():
        return per_flop
    x = np.stack([steps / seconds, flops / seconds], axis=1)  # rows scaled by 1/T: relative errors
    (a, b), *_ = np.linalg.lstsq(x, np.ones(len(done)), rcond=None)
    if a >= 0 and b >= 0:
        return float(a), float(b)
    only_b = float(x[:, 1].sum() / (x[:, 1] @ x[:, 1]))  # the better of the two one-term fits
    only_a = float(x[:, 0].sum() / (x[:, 0] @ x[:, 0]))
    if ((only_a * x[:, 0] - 1) ** 2).sum() < ((only_b * x[:, 1] - 1) ** 2).sum():
        return only_a, 0.0
    return 0.0, only_b


def eval_flops(n_params: int, eval_tokens: int, first_step: int, last_step: int, eval_every: int) -> float:
    """The forward FLOPs (2 N per token) of a job's evals: one every `eval_every` steps of its own
    steps (first_step, last_step], and one at its last step."""
    evals = last_step // eval_every - first_step // eval_every + (last_step % eval_every != 0)
    return 2.0 * n_params * eval_tokens * max(0, evals)


def training_seconds(result: dict[str, Any], elapsed_s: float) -> float | None:
    """The seconds of a job spent in the steps after its first one: its run's clock (a branch's
    own) less the first step, and no more than the job's time after its start-up (a resumed run's
    clock counts its earlier attempts); None when its result says neither (a failed job)."""
    wall = result.get("own_wall_seconds", result.get("wall_seconds"))
    first = result.get("first_step_seconds")
    if wall is None or first is None:
        return None
    after_startup = elapsed_s - (result.get("startup_seconds") or 0.0)
    return max(0.0, min(wall - first, after_startup))


class JobTimes:
    """When each running job started, and what the ended ones took: overhead per job, and training
    seconds with the work they were spent on. Keys are the launcher's own (one per job)."""

    def __init__(self) -> None:
        self.started_at: dict[int, float] = {}
        self.fraction_at_start: dict[int, float] = {}  # a resumed run's metrics.jsonl reaches its checkpoint
        self.first_seen: dict[int, tuple[float, float]] = {}  # (when, fraction): its first progress noticed
        self.last_seen: dict[int, tuple[float, float]] = {}  # (when, fraction): its latest progress noticed
        self.overheads: list[float] = []
        self.trained: list[tuple[float, JobWork]] = []  # (T, work) of the ended jobs measured
        self._pace: tuple[float, float] | None = None  # fit_pace(trained), kept until a job ends

    def start(self, key: int, fraction: float = 0.0) -> None:
        """A job starts, `fraction` of its steps already in its run's metrics (a resumed run)."""
        self.started_at[key] = time.monotonic()
        self.fraction_at_start[key] = fraction

    def elapsed(self, key: int) -> float:
        return time.monotonic() - self.started_at[key]

    def end(self, key: int, work: JobWork, result: dict[str, Any]) -> None:
        """A job has ended: measured when its result says how long its steps took."""
        elapsed = self.elapsed(key)
        del self.started_at[key], self.fraction_at_start[key]
        self.first_seen.pop(key, None)
        self.last_seen.pop(key, None)
        training = training_seconds(result, elapsed)
        if training is None or work.flops <= 0 or work.steps <= 0:
            return
        self.overheads.append(elapsed - training)
        self.trained.append((training, work))
        self._pace = None

    def pace(self) -> tuple[float, float] | None:
        """(seconds per step, seconds per FLOP): fit_pace over the ended jobs; None before any."""
        if self._pace is None and self.trained:
            self._pace = fit_pace(self.trained)
        return self._pace

    def duration(self, work: JobWork) -> float | None:
        """The modelled seconds of a job from its start to its end; None before any job was measured."""
        pace = self.pace()
        if pace is None:
            return None
        return sum(self.overheads) / len(self.overheads) + pace[0] * work.steps + pace[1] * work.flops

    def running_seconds_left(self, key: int, work: JobWork, fraction: float) -> float:
        """A running job's seconds left: at its own pace once two of its progress points have been
        noticed since it started (the fraction gained between the first and the latest, over the time
        between them; less the time since the latest), else the model's. Reading its pace from its
        start instead (the overhead being the ended jobs' mean) took a larger run's longer start-up
        for training: after its first logged step the ETA read 6-13x the time left, and rose until
        the next record."""
        now = time.monotonic()
        if fraction > self.last_seen.get(key, (now, self.fraction_at_start[key]))[1]:
            self.first_seen.setdefault(key, (now, fraction))
            self.last_seen[key] = (now, fraction)
        first, last = self.first_seen.get(key), self.last_seen.get(key)
        if first is not None and last[1] > first[1]:
            seconds_per_fraction = (last[0] - first[0]) / (last[1] - first[1])
            return (1 - last[1]) * seconds_per_fraction - (now - last[0])
        return self.duration(work) - self.elapsed(key)

    def seconds_left(self, running: Sequence[tuple[int, JobWork, float]], pending: Sequence[JobWork],
                     slots: int) -> float | None:
        """Seconds until the last job ends: `running` jobs as (key, work, fraction of their steps
        done: `running_seconds_left`), `pending` jobs' work in the order they start, each on the
        first slot free (jobs waiting for another are not held back: the plan starts them soon
        after). None before any job was measured."""
        if self.pace() is None:
            return None
        free_at = [self.running_seconds_left(key, work, fraction) for key, work, fraction in running]
        free_at = [max(0.0, t) for t in free_at] + [0.0] * max(0, slots - len(running))
        heapq.heapify(free_at)
        for work in pending:
            heapq.heappush(free_at, heapq.heappop(free_at) + self.duration(work))
        return max(free_at, default=0.0)
