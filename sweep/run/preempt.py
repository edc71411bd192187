"""Stop requests: SIGUSR2 (Slurm's warning before a time limit or a pre-emption), SIGTERM, and
SIGINT (Ctrl-C) where the process has Python's own SIGINT handler (a run started from a terminal;
the local launcher starts its runs with SIGINT ignored and stops them with SIGTERM itself). The
handler only sets a flag; the training loop finishes its current step, saves a checkpoint and
exits (signal -> flag -> save at the step boundary -> exit). A second Ctrl-C does not wait for the
step: it raises KeyboardInterrupt at once."""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGUSR2, signal.SIGTERM)


class StopRequest:
    """Context manager: while inside, STOP_SIGNALS set `.signal` instead of killing us."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self._previous: dict[signal.Signals, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.signal is signal.SIGINT:
            raise KeyboardInterrupt  # Ctrl-C twice: now, not at the step's end
        self.signal = signal.Signals(signum)

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored by a launcher
                self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
