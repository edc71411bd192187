"""The console every `sweep` subcommand prints to, and the number formats of its tables."""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console


# Tables are wide: outside a terminal (logs, CI) do not cut them at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)


def num(x: Any, fmt: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, fmt)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


def cell(value: Any) -> str:
    if isinstance(value, float):
        return num(value, ".4g")
    return "-" if value is None else str(value)

