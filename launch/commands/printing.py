"""The console every `sweep` subcommand prints to (its errors: on stderr), and the number formats of its tables."""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console
from rich.text import Text


# Tables are wide: outside a terminal (logs, CI) do not cut them at 80 columns. No markup: what is printed
# holds paths and lists in brackets (`[/data/x.txt]`, `[cosine, wsd]`) that rich would read as its tags
# (a MarkupError traceback, or the words dropped); styles are given as Text (`styled`).
console = Console(markup=False) if sys.stdout.isatty() else Console(width=200, markup=False)
# `error: ...` lines: on stderr, so that stdout holds only a command's output (`--json` stays JSON, `> FILE`
# keeps no error as its result); red on a terminal, a log's lines not cut, as on `console`.
error_console = Console(markup=False, stderr=True) if sys.stderr.isatty() else \
    Console(width=200, markup=False, stderr=True)


def styled(style: str, head: str, rest: str) -> Text:
    """`head` in `style` (e.g. "red"), then `rest` as it is, brackets and all."""
    return Text.assemble((head, style), rest)


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

