"""Where a run stands, typed: `RunState` (the step, the wall clock, the recent train losses, the
step timer, the last metrics record), and the part of it a checkpoint saves: `state_dict()` /
`load_state_dict()`, so a resumed run logs and records exactly what an uninterrupted one does.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from sweep.run.throughput import StepTimer


class LossTracker:
    """Train losses between log lines, kept on the device (no host sync per step), and the
    last `window` losses for the final train loss. Its state goes into checkpoints, so a
    resumed run logs exactly what an uninterrupted one logs."""

    def __init__(self, window: int, device: torch.device):
        self.device = device
        self.since_log: list[torch.Tensor] = []
        self.recent: collections.deque[torch.Tensor] = collections.deque(maxlen=window)

    def add(self, loss: torch.Tensor) -> None:
        self.since_log.append(loss.detach())
        self.recent.append(loss.detach())

    def take_mean(self) -> float:
        """Mean loss since the last call (one host sync), then start a new interval."""
        mean = torch.stack(self.since_log).mean().item()
        self.since_log.clear()
        return mean

    def final(self) -> float:
        return torch.stack(list(self.recent)).mean().item()

    def state_dict(self) -> dict[str, list[float]]:
        return {"since_log": [x.item() for x in self.since_log], "recent": [x.item() for x in self.recent]}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        as_tensor = lambda x: torch.tensor(x, device=self.device)  # noqa: E731
        self.since_log = [as_tensor(x) for x in state["since_log"]]
        self.recent.extend(as_tensor(x) for x in state["recent"])


@dataclass
class Clock:
    """Wall time of the run across attempts (restored from the checkpoint on resume)."""

    prior_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return self.prior_seconds + time.perf_counter() - self.started


@dataclass
class RunState:
    """A run's progress: `step` (also its data position and learning rate: both are functions of
    the step), its `clock`, the train `losses` not yet logged and the last log_every of them, the
    `timer` of its training steps, `record`, the metrics.jsonl record of its last log step
    (not saved: a resumed run writes its next one before it ends), and for a ladder's branch
    `trunk_seconds`, the part of its clock its trunk spent (the clock of the checkpoint it started from)."""

    step: int
    clock: Clock
    losses: LossTracker
    timer: StepTimer
    record: dict[str, Any] = field(default_factory=dict)
    trunk_seconds: float = 0.0

    @classmethod
    def start(cls, loss_window: int, device: torch.device, origin: float) -> "RunState":
        """Step 0 of a run whose process started at `origin` (throughput.startup_origin)."""
        return cls(0, Clock(), LossTracker(loss_window, device), StepTimer(device, origin=origin))

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint saves of it (sweep/run/checkpoint.py): plain numbers and lists."""
        return {"step": self.step, "wall_seconds": self.clock.seconds, "losses": self.losses.state_dict(),
                "timer": self.timer.state(), "trunk_seconds": self.trunk_seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state (one written before the timer was saved has none)."""
        self.step = state["step"]
        self.clock.prior_seconds = state["wall_seconds"]
        self.losses.load_state_dict(state["losses"])
        if "timer" in state:
            self.timer.load(state["timer"])
        self.trunk_seconds = state.get("trunk_seconds", 0.0)
