"""Training's step bar, on the progress helper every long loop uses (sweep/progress.py): a live
rich bar on a terminal, else plain log lines (Slurm logs, CI) at about every 1/20 of the steps:

    d64-l2-...: 400/1,000 steps (40%), ETA 2m10s, loss 3.4121 eval 3.5012 52,310 tok/s MFU 31.0%
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from sweep.progress import Bar, RichBar, progress


class StepBar:
    """What the training loop reports to: `advance()` after each optimizer step, `log(record)`
    with each metrics record. A plain line shows the record of its step; a live bar moves at
    every step."""

    def __init__(self, shared: Bar):
        self.shared = shared
        self.steps = shared.done

    def advance(self) -> None:
        self.steps += 1
        if isinstance(self.shared, RichBar):
            self.shared.update(done=self.steps)

    def log(self, record: dict[str, Any]) -> None:
        self.shared.update(done=self.steps, info=describe(record))


def describe(record: dict[str, Any]) -> str:
    """'loss 3.4121 eval 3.5012 52,310 tok/s MFU 31.0%': what a metrics record says."""
    parts = [f"loss {record['train_loss']:.4f}"]
    if "eval_loss" in record:
        parts.append(f"eval {record['eval_loss']:.4f}")
    if record.get("tokens_per_second") is not None:
        parts.append(f"{record['tokens_per_second']:,.0f} tok/s")
    if record.get("mfu") is not None:
        parts.append(f"MFU {record['mfu']:.1%}")
    return " ".join(parts)


@contextlib.contextmanager
def bar(total: int, name: str, start: int = 0, enabled: bool = True) -> Iterator[StepBar]:
    """The step bar of a run of `total` steps resumed at `start`; silent when not `enabled` (the
    ranks other than 0 of a distributed run: rank 0 reports)."""
    with progress(total, name, unit="steps", start=start, enabled=enabled) as shared:
        steps = StepBar(shared)
        try:
            yield steps
        finally:  # the last line at the step it stopped at (a run diverged at step 5 said 0/35), not its last log's
            shared.done = steps.steps
