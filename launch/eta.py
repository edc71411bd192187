"""The local sweep's ETA: each job's time is modelled as a start-up overhead (process start,
imports, data, compile, the launcher noticing its end) plus seconds per FLOP of its steps, both
learned from the jobs ended so far; the jobs left are then laid out on the launcher's slots in
the order it starts them. A job's FLOPs count its evals' forward passes too (`eval_flops`): a
tiny run's evals are nearly half its compute, a large one's a tenth.

A rate over the whole sweep's FLOPs (what the bar used before) counts every run's start-up as
compute: after the first tiny runs of a grid, whose start-up is most of their time, it read
4-10x the time left. Here a job's time splits by its own record: the seconds its result.json
gives its steps after the first one (`wall_seconds` less `first_step_seconds`, a branch's own
clock) are training, the rest of the time the launcher saw it run is overhead.
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Sequence


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
    """When each running job started, and what the ended ones took: overhead per job and seconds
    per FLOP. Keys are the launcher's own (one per job)."""

    def __init__(self) -> None:
        self.started_at: dict[int, float] = {}
        self.fraction_at_start: dict[int, float] = {}  # a resumed run's metrics.jsonl reaches its checkpoint
        self.overheads: list[float] = []
        self.seconds, self.flops = 0.0, 0.0  # training seconds, and FLOPs, of the ended jobs measured

    def start(self, key: int, fraction: float = 0.0) -> None:
        """A job starts, `fraction` of its steps already in its run's metrics (a resumed run)."""
        self.started_at[key] = time.monotonic()
        self.fraction_at_start[key] = fraction

    def elapsed(self, key: int) -> float:
        return time.monotonic() - self.started_at[key]

    def end(self, key: int, flops: float, result: dict[str, Any]) -> None:
        """A job has ended: measured when its result says how long its steps took."""
        elapsed = self.elapsed(key)
        del self.started_at[key], self.fraction_at_start[key]
        training = training_seconds(result, elapsed)
        if training is None or flops <= 0:
            return
        self.overheads.append(elapsed - training)
        self.seconds += training
        self.flops += flops

    def duration(self, flops: float) -> float | None:
        """The modelled seconds of a job of `flops` from its start to its end; None before any
        job was measured."""
        if not self.overheads:
            return None
        return sum(self.overheads) / len(self.overheads) + flops * self.seconds / self.flops

    def running_seconds_left(self, key: int, flops: float, fraction: float) -> float:
        """A running job's seconds left: at its own pace once it has logged a step since it started
        (the `fraction` of its steps gained in its time after the modelled overhead), else the model's."""
        elapsed, gained = self.elapsed(key), fraction - self.fraction_at_start[key]
        if gained > 0:
            overhead = sum(self.overheads) / len(self.overheads)
            return (1 - fraction) / gained * max(0.0, elapsed - overhead)
        return self.duration(flops) - elapsed

    def seconds_left(self, running: Sequence[tuple[int, float, float]], pending: Sequence[float],
                     slots: int) -> float | None:
        """Seconds until the last job ends: `running` jobs as (key, FLOPs, fraction of their steps
        done: `running_seconds_left`), `pending` jobs' FLOPs in the order they start, each on the first slot free (jobs
        waiting for another are not held back: the plan starts them soon after). None before any
        job was measured."""
        if self.duration(0.0) is None:
            return None
        free_at = [self.running_seconds_left(key, flops, fraction) for key, flops, fraction in running]
        free_at = [max(0.0, t) for t in free_at] + [0.0] * max(0, slots - len(running))
        heapq.heapify(free_at)
        for flops in pending:
            heapq.heappush(free_at, heapq.heappop(free_at) + self.duration(flops))
        return max(free_at, default=0.0)
