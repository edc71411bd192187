"""Progress of a long loop (a local sweep, `sweep prepare`, `sweep status --wait`, a bootstrap,
`sweep report`): a live rich bar when stderr is a terminal, plain log lines when it is not
(Slurm logs, CI, pipes): at most about 20 per loop plus the final one, none for a loop inside
another's (a bootstrap inside `sweep report`: the outer loop's lines name it); nothing when disabled.
A loop whose count moves seldom (a local sweep's runs ended) can ask for more plain lines: one at
each event it names (`update(event=True)`: a run started) and, with `every_s`, one per interval
while it goes (`plain_interval_s`: `every_s` at first, 1/20 of the time elapsed later, at most
10 x `every_s`).

    with progress(total, "prepare c4", unit="tokens") as bar:
        bar.advance(n)                     # or bar.update(done=...)
        bar.update(info="unit 3/1024")     # text shown after the bar

The ETA is the remaining work over the rate observed since the loop began (`eta_seconds`). By
default the work is the bar's own count; `update(work=(done, total))` gives a separate measure
(a sweep's bar counts runs, its ETA comes from their FLOPs), and `update(eta_s=...)` the caller's
own estimate of the seconds left, counted down until the next one (a local sweep models each run's
start-up apart from its FLOPs: launch/eta.py). With `delay_s`, a loop that ends
sooner shows nothing at all (a fit of half a second prints no bar).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from typing import Any, Iterator

log = logging.getLogger("sweep.progress")

PLAIN_LINES = 20  # a plain loop logs at every 1/20 of its total, plus the final line
LONGEST_INTERVAL = 10  # a plain loop's periodic lines (every_s) space out to at most 10 x every_s


def eta_seconds(done: float, total: float, elapsed_s: float, start: float = 0.0) -> float | None:
    """Seconds left at the rate seen so far: (total - done) / ((done - start) / elapsed_s).
    None while nothing has been done since `start` (no rate yet); 0 once done >= total."""
    if done >= total:
        return 0.0
    if done <= start or elapsed_s <= 0:
        return None
    return (total - done) * elapsed_s / (done - start)


def plain_interval_s(every_s: float, elapsed_s: float) -> float:
    """Seconds between a plain loop's periodic lines: 1/20 of the time elapsed, at least `every_s`
    and at most 10 x `every_s` (every_s=60: a line a minute for the first 20 minutes, then spacing
    out to one every 10 minutes from 200 minutes on)."""
    return min(max(every_s, elapsed_s / PLAIN_LINES), LONGEST_INTERVAL * every_s)


def format_duration(seconds: float | None) -> str:
    """2h05m, 3m07s, 12s; '?' for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def format_amount(value: float) -> str:
    """Whole numbers with thousands separators up to 1e12, larger ones (FLOPs) as 1.23e+15."""
    if abs(value) >= 1e12:
        return f"{value:.3g}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}"


class Bar:
    """What a loop reports to: plain log lines (this class), a rich bar (RichBar), or nothing
    (enabled=False)."""

    def __init__(self, total: float, name: str, unit: str, start: float, delay_s: float, enabled: bool = True,
                 every_s: float | None = None):
        self.name, self.unit, self.enabled, self.delay_s = name, unit, enabled, delay_s
        self.every_s = every_s  # plain mode: a line at least this often too (plain_interval_s); None: not
        self.total, self.done, self.info = float(total), float(start), ""
        self.work: tuple[float, float] | None = None  # (done, total) for the ETA when not the bar's own
        self.work_start: float | None = None
        self.estimate: tuple[float, float] | None = None  # (seconds left, when) given by the caller
        self.start = float(start)
        self.started_at = time.monotonic()
        self.shown = False  # anything printed yet (False: the loop is still inside its delay)
        self.ended = False  # the loop is over (finish): a count short of the total has no ETA
        self._next = self._threshold_after(self.done)
        self._logged: tuple | None = None
        self._logged_at = self.started_at

    def advance(self, n: float = 1) -> None:
        self.update(done=self.done + n)

    def update(self, done: float | None = None, total: float | None = None, info: str | None = None,
               work: tuple[float, float] | None = None, eta_s: float | None = None, event: bool = False) -> None:
        """`event`: something the log should show now (a run started): a plain line whatever the count."""
        if total is not None:
            self.total = float(total)
        if done is not None:
            self.done = float(done)
        if info is not None:
            self.info = info
        if work is not None:
            if self.work_start is None:
                self.work_start = float(work[0])
            self.work = (float(work[0]), float(work[1]))
        if eta_s is not None:
            self.estimate = (float(eta_s), time.monotonic())
        if self.enabled and time.monotonic() - self.started_at >= self.delay_s:
            self.show(event)

    def eta(self) -> float | None:
        if self.estimate is not None:
            seconds_left, given_at = self.estimate
            return max(0.0, seconds_left - (time.monotonic() - given_at))
        done, total = self.work if self.work is not None else (self.done, self.total)
        start = self.work_start if self.work is not None else self.start
        return eta_seconds(done, total, time.monotonic() - self.started_at, start or 0.0)

    def line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        percent = f" ({self.done / self.total:.0%})" if self.total > 0 else ""
        parts = [f"{self.name}: {format_amount(self.done)}/{format_amount(self.total)}{unit}{percent}"]
        if self.done < self.total:  # a loop ended short of its total (a run diverged, stopped): no ETA
            parts.append("ended short of its total" if self.ended else f"ETA {format_duration(self.eta())}")
        if self.info:
            parts.append(self.info)
        return ", ".join(parts)

    def show(self, event: bool = False) -> None:
        """Plain mode: a line at each 1/20 of the total crossed, at an event that changed the line's
        state, and, with `every_s`, once an interval has passed since the last line."""
        changed = self._logged != self._state()
        if self.done >= self._next or (changed and (event or self.done >= self.total)) or self._interval_passed():
            self._next = self._threshold_after(self.done)
            self._log()

    def _interval_passed(self) -> bool:
        if self.every_s is None:
            return False
        now = time.monotonic()
        return now - self._logged_at >= plain_interval_s(self.every_s, now - self.started_at)

    def finish(self) -> None:
        """The final line, once the loop has shown anything or outlived its delay."""
        self.ended = True
        if self.enabled and (self.shown or time.monotonic() - self.started_at >= self.delay_s) \
                and self._logged != self._state():
            self._log()

    def _log(self) -> None:
        log.info("%s", self.line())
        self._logged = self._state()
        self._logged_at = time.monotonic()
        self.shown = True

    def _state(self) -> tuple:
        return (self.done, self.total, self.info)

    def _threshold_after(self, done: float) -> float:
        every = self.total / PLAIN_LINES if self.total > 0 else 1.0
        return (math.floor(done / every) + 1) * every


class RichBar(Bar):
    """A live rich bar; started at the first update after the delay (never for a shorter loop).
    Bars inside another one (a bootstrap inside `sweep report`) are rows of the same live display
    (rich allows one at a time); a nested row goes when its loop ends."""

    def __init__(self, *args: Any, console: Any):
        super().__init__(*args)
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def show(self, event: bool = False) -> None:
        if self.progress is None:
            self.progress = _shared_display(self.console)
            self.task = self.progress.add_task(self.name, total=self.total, completed=self.done,
                                               **self._fields())
            self.shown = True
        self.progress.update(self.task, total=self.total, completed=self.done, **self._fields())

    def _fields(self) -> dict[str, str]:
        unit = f" {self.unit}" if self.unit else ""
        return {"amount": f"{format_amount(self.done)}/{format_amount(self.total)}{unit}",
                "eta": format_duration(self.eta()), "info": self.info}

    def finish(self) -> None:
        if self.progress is None:
            return
        self.progress.update(self.task, total=self.total, completed=self.done, **self._fields())
        _LIVE["users"] -= 1
        if _LIVE["users"] == 0:  # the outermost bar: its last state stays on the screen
            self.progress.stop()
            _LIVE["progress"] = None
        else:
            self.progress.remove_task(self.task)


_LIVE: dict[str, Any] = {"progress": None, "users": 0}  # the one live display and the bars on it
_PLAIN = {"active": 0}  # plain bars logging now: one inside another logs nothing (a log holds about 20 lines)


def _shared_display(console: Any) -> Any:
    """The live display (rich Progress) bars are drawn on: started by the first bar that shows."""
    if _LIVE["progress"] is None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        _LIVE["progress"] = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.fields[amount]}"), TimeElapsedColumn(),
                                     TextColumn("ETA {task.fields[eta]}"), TextColumn("{task.fields[info]}"),
                                     console=console, transient=False)
        _LIVE["progress"].start()
    _LIVE["users"] += 1
    return _LIVE["progress"]


@contextlib.contextmanager
def progress(total: float, name: str, *, unit: str = "", start: float = 0, enabled: bool = True,
             delay_s: float = 0.0, every_s: float | None = None, console: Any = None) -> Iterator[Bar]:
    """A Bar for a loop of `total` (in `unit`s, from `start`): rich on a terminal (stderr, or
    `console` when given: a rich Console), plain log lines otherwise, silent when not `enabled`.
    Nothing is shown before `delay_s` seconds have passed. Off a terminal, `every_s` adds a line
    per interval while the loop goes (plain_interval_s). While a rich bar is live, log lines
    written to stderr appear above it."""
    if console is None and enabled and sys.stderr.isatty():
        from rich.console import Console

        console = Console(stderr=True)
    if not enabled or console is None or not console.is_terminal:
        nested = _PLAIN["active"] > 0  # inside another plain bar (a bootstrap in `sweep report`): the outer
        bar = Bar(total, name, unit, start, delay_s, enabled and not nested, every_s)  # one's lines say it (its info)
        _PLAIN["active"] += bar.enabled
        try:
            yield bar
        finally:
            _PLAIN["active"] -= bar.enabled
            bar.finish()
        return
    rich_bar = RichBar(total, name, unit, start, delay_s, console=console)
    with _logs_through(console):
        try:
            yield rich_bar
        finally:
            rich_bar.finish()


@contextlib.contextmanager
def _logs_through(console: Any) -> Iterator[None]:
    """Log handlers writing to the terminal (stderr, or stdout when it is a terminal too: Hydra
    logs there) write through `console` meanwhile, so their lines print above the live bar
    instead of through it."""
    streams = [sys.stderr, sys.__stderr__]
    if sys.stdout.isatty():
        streams += [sys.stdout, sys.__stdout__]
    handlers = [h for h in logging.getLogger().handlers
                if type(h) is logging.StreamHandler and any(h.stream is s for s in streams)]
    proxy = _ConsoleStream(console)
    previous = [h.setStream(proxy) for h in handlers]
    try:
        yield
    finally:
        for handler, stream in zip(handlers, previous):
            handler.setStream(stream)


class _ConsoleStream:
    """A text stream printing each line through a rich Console (above its live display)."""

    def __init__(self, console: Any):
        self.console = console

    def write(self, text: str) -> int:
        if text.strip():
            self.console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass
