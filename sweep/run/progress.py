"""Progress of a long loop: a live bar when attached to a terminal, plain log lines when not
(Slurm logs, CI), at most about 20 per loop."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, Iterator

log = logging.getLogger("sweep.run.progress")


class _Plain:
    def __init__(self, total: int, name: str, start: int):
        self.total, self.name, self.done = total, name, start
        self.every = max(1, total // 20)
        self._next = (start // self.every + 1) * self.every

    def advance(self) -> None:
        self.done += 1

    def log(self, record: dict[str, Any]) -> None:
        if self.done >= self._next or self.done == self.total:
            self._next = (self.done // self.every + 1) * self.every
            log.info("%s step %d/%d %s", self.name, self.done, self.total, _describe(record))


class _Rich(_Plain):
    def __init__(self, total: int, name: str, start: int, progress: Any):
        super().__init__(total, name, start)
        self.progress = progress
        self.task = progress.add_task(name, total=total, completed=start, info="")

    def advance(self) -> None:
        super().advance()
        self.progress.advance(self.task)

    def log(self, record: dict[str, Any]) -> None:
        self.progress.update(self.task, info=_describe(record))


def _describe(record: dict[str, Any]) -> str:
    parts = [f"loss {record['train_loss']:.4f}"]
    if "eval_loss" in record:
        parts.append(f"eval {record['eval_loss']:.4f}")
    if record.get("tokens_per_second") is not None:
        parts.append(f"{record['tokens_per_second']:,.0f} tok/s")
    if record.get("mfu") is not None:
        parts.append(f"MFU {record['mfu']:.1%}")
    return " ".join(parts)


class _Silent(_Plain):
    """For the ranks other than 0 of a distributed run: rank 0 reports."""

    def log(self, record: dict[str, Any]) -> None:
        pass


@contextlib.contextmanager
def bar(total: int, name: str, start: int = 0, enabled: bool = True) -> Iterator[_Plain]:
    if not enabled:
        yield _Silent(total, name, start)
        return
    if not sys.stderr.isatty():
        yield _Plain(total, name, start)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, transient=False) as progress:
        yield _Rich(total, name, start, progress)
