"""The best run of each (group, N, tokens) cell, with its standard error: the points the findings
of recipes.py and scaling.py compare.

A cell is the runs of one group (a recipe, a corpus) whose N and tokens agree within the fits'
budget tolerance (sweep/fit/hyperparams.py `group_cells`); the run with the lowest loss stands for
it (its learning rate, weight decay, ... were the best tried), with that run's eval standard error,
or the fallback share of its loss where none was recorded (sweep/fit/noise.py stderr_or_fallback).
Runs that differ only in their seed are first one run at their mean loss, its standard error the
seeds' spread over sqrt(J) and the eval error they share, in quadrature (sweep/fit/points.py
`averaged`).

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from sweep.fit.hyperparams import group_cells
from sweep.fit.isoflop import group_budgets
from sweep.fit.noise import FALLBACK_RELATIVE_STDERR, stderr_or_fallback
from sweep.fit.points import averaged, settings
from sweep.fit.table import RunsTable


@dataclass(frozen=True)
class Cell:
    """One cell's best run: its group key, N, T, C, width d (NaN when the runs carry none), loss
    and standard error (`fallback`: none was recorded, FALLBACK_RELATIVE_STDERR of the loss)."""

    group: Hashable
    n_params: float
    tokens: float
    flops: float
    width: float
    loss: float
    stderr: float
    fallback: bool
    run: str

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.n_params

    def to_dict(self) -> dict:
        return {"group": self.group, "n_params": self.n_params, "tokens": self.tokens, "flops": self.flops,
                "width": None if math.isnan(self.width) else self.width, "loss": self.loss,
                "stderr": self.stderr, "stderr_is_fallback": self.fallback, "run": self.run}


def best_cells(table: RunsTable, group_R: Sequence[Hashable]) -> list[Cell]:
    """The best run of each (group, N, T) cell, ordered by group then N then T; runs whose group
    is None are left out. The cells are formed over all groups at once, so two groups' runs at
    one (N, T) fall in cells of the same N and T."""
    keep_R = np.array([g is not None for g in group_R], dtype=bool)
    if not keep_R.any():
        return []
    table, group_R = table.select(keep_R), [g for g in group_R if g is not None]
    replicates = settings(table, group_R)  # a setting's seeds: one row at their mean loss
    table, group_R = averaged(table, replicates), [group_R[runs[0]] for runs in replicates]
    n_G, t_G, cell_of = group_cells(table.n_params_R, table.tokens_R)
    best: dict[tuple, int] = {}
    for i, cell in enumerate(cell_of.tolist()):
        key = (group_R[i], cell)
        if key not in best or table.loss_R[i] < table.loss_R[best[key]]:
            best[key] = i
    stderr_R = table.loss_stderr_R
    width_R = table.d_R
    cells = []
    for (group, cell), i in best.items():
        loss = float(table.loss_R[i])
        recorded = None if stderr_R is None else float(stderr_R[i])
        se = stderr_or_fallback(loss, recorded)
        cells.append(Cell(group=group, n_params=float(n_G[cell]), tokens=float(t_G[cell]),
                          flops=float(table.flops_R[i]), width=math.nan if width_R is None else float(width_R[i]),
                          loss=loss, stderr=se, fallback=recorded is None or se != recorded, run=table.names[i]))
    return sorted(cells, key=lambda c: (str(c.group), c.n_params, c.tokens))


def plus_minus(value: float, se: float, fallback: bool = False) -> str:
    """'3.214 ± 0.006' (a trailing * when the standard error is the fallback)."""
    return f"{value:.4g} ± {se:.2g}{'*' if fallback else ''}"


def fallback_note(cells: Sequence[Cell]) -> str:
    """A clause saying how many losses count with the fallback standard error ('' when none)."""
    n = sum(c.fallback for c in cells)
    if not n:
        return ""
    return (f" (* {n} of {len(cells)} losses have no recorded eval standard error and count with "
            f"{FALLBACK_RELATIVE_STDERR:.1%} of the loss)")


def by_tokens_per_param(cells: Sequence[Cell]) -> dict[float, list[Cell]]:
    """The cells grouped by tokens per parameter T / N, in increasing order: ratios within the fits'
    budget tolerance of one another form one group (a run's tokens are rounded up to whole steps,
    so its T / N lands a little above the ratio it was given), keyed by the group's smallest ratio
    (the one asked for) to 2 significant digits."""
    if not cells:
        return {}
    ratio_X = np.array([c.tokens_per_param for c in cells])
    _, group_X = group_budgets(ratio_X)
    groups: dict[float, list[Cell]] = {}
    for c, g in zip(cells, group_X.tolist()):
        groups.setdefault(ratio_key(ratio_X[group_X == g].min()), []).append(c)
    return dict(sorted(groups.items()))


def ratio_key(value: float, digits: int = 2) -> float:
    """A tokens-per-parameter ratio (or any positive number) rounded to `digits` significant digits."""
    return float(f"{value:.{digits}g}")
