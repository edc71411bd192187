"""The U-curve findings (README "Reproducing the papers"), each checked on a sweep's runs:

    lr_ucurve      final loss against peak learning rate at Chinchilla-optimal training is
                   U-shaped at every model size, and the optimum moves with size (Xiao 2024)
    batch_ucurve   final loss against batch size is U-shaped: small batches are not better (Xiao)
    batch_vs_loss  the optimal batch size grows as the loss falls, Kaplan's
                   B_opt = B* / L^(1/alpha_B) (Chen et al. 2025)

Each `assess_X(table, *, resamples, seed)` returns a Finding (sweep/fit/findings/verdict.py), or
None when the table holds no runs that test it (the finding is then absent from the report).

The U-curve of a cell. Runs are grouped into (N, tokens) cells as the hyperparameter laws group
them (sweep/fit/hyperparams.py `group_cells`; per recipe when the table has several); at each
distinct value of the swept hyperparameter the lowest loss stands (the other hyperparameters
free), with that run's standard error (hyperparams `point_stderrs`: its eval standard error or
the fallback, sweep/fit/noise.py; a run stopped early stands with its predicted loss, and at least
its prediction's interval over 2 z as its standard error, z the normal quantile of the interval's
level, early_stop.level: a quarter of a 95% interval). A cell with at least 3 distinct values is
a U-curve; its shape (hyperparams `ucurve_shape`):

    FLAT  every value's loss is within noise of the best (noise.same_within_noise) over a span
          of at least FLAT_SPAN (4x) in the value: the loss does not depend on it there;
    U     the best value is inside the grid and both grid ends lie above the best by the noise
          rule (noise.lower_by; hyperparams `bracketed_sides`);
    EDGE  otherwise: the best is at a grid end, or a grid end is within noise of the best (the
          grid does not bracket the optimum on that side: `open_side` below / above / both).

Its optimum is hyperparams' (`fit_group`: the vertex of a parabola in ln value around the best,
clipped to the sampled range; "vertex" only in a U cell, the same `bracketed_sides` deciding, else
the best sampled value), with an interval at conf/fit.yaml's `level` (95%) from `resamples` redraws of every
point's loss within its standard error (normal, numpy's generator seeded with `seed`), the
parabola refitted on each redraw in the same window rule (`parabola_window`) and clipped the same
way. The redraws' parabolas are fitted all at once (one least-squares solve per window), the same
fit as isoflop.fit_parabola. A redraw whose grid does not bracket its optimum on a side (the same
`bracketed_sides`) leaves the optimum open there: it stands at its best sampled value, and the
interval is open on that side (-inf below, +inf above; printed ">= lo", "<= hi", or "-" when open
on both) where more than (1 - level) / 2 of the redraws leave it open -- or where the cell itself
does (EDGE, FLAT): an interval no wider than the grid's end said nothing of what lies beyond it.

lr_ucurve's evidence: a FLAT cell decides "did not hold" only where none of its losses is a copy
(sweep/fit/table.py copied_values over the table: a copied loss is no second measurement); a FLAT
cell resting on copies counts as "cannot tell". Of the FLAT cells, the one quoted is the nearest
CHINCHILLA_TOKENS_PER_PARAM (the claim is about Chinchilla-optimal training).

Letters (README "The science: Letters"): N parameters, T tokens, R runs; and here X the distinct
values of the swept hyperparameter in one cell, K the redraws, I the cells of the batch-vs-loss
fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from sweep.fit.defaults import fit_defaults
from sweep.fit.figures import PARAM_LABEL, draw_batch_vs_loss, draw_finding_ucurves
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD, Finding, intervals_apart
from sweep.fit.hyperparams import (EDGE, FLAT, FLAT_SPAN, MIN_VALUES, U, HyperparamGroup, bracketed_sides, fit_group,
                                   group_cells, near_optimal_bands, parabola_window, point_stderrs, ucurve_shape,
                                   ucurve_table)
from sweep.fit.isoflop import best_per_value, fit_power_law, group_budgets
from sweep.fit.noise import FALLBACK_RELATIVE_STDERR, Z, combined, lower_by, noise_rule_text
from sweep.fit.table import RunsTable, copied_values

CHINCHILLA_TOKENS_PER_PARAM = 20.0  # lr_ucurve's claim is at Chinchilla-optimal training: its evidence nearest this

LR_CLAIM = ("Final loss against peak learning rate at Chinchilla-optimal training is U-shaped at every model size, "
            "and the optimum moves with size.")
BATCH_CLAIM = "Final loss against batch size at Chinchilla-optimal training is U-shaped: small batches are not better."
BATCH_LOSS_CLAIM = "The optimal batch size grows as the loss falls (Kaplan's B_opt = B* / L^(1/alpha_B))."

_NOISE = (f"two losses differ when they are more than Z = {Z:g} combined eval standard errors apart (a run without "
          f"one counts with {FALLBACK_RELATIVE_STDERR:.1%} of its loss, a run stopped early with at least its "
          "prediction's interval over 2 z, z the normal quantile of the interval's level: a quarter of a 95% one)")
_SHAPES = (f"per (N, tokens) cell, the best loss at each value; a cell is U when its best value is inside the grid and "
           f"both grid ends are above it, FLAT when every value is within noise of the best over at least "
           f"{FLAT_SPAN:g}x, else EDGE (the grid does not bracket the optimum); {_NOISE}")
BATCH_RULE = (f"{_SHAPES}. Held: every cell U. Did not hold: in some cell the smallest batch is the best and below "
              "the next batch by the noise rule (small batches better there). Otherwise cannot tell.")


def optimum_rule(level: float) -> str:
    """How a cell's optimum and its interval at `level` are found, as a rule's text says it."""
    return (f"the optimum is the vertex of a parabola in ln value around the best, its {level:.0%} interval from "
            "redrawing every point's loss within its standard error and refitting, open on a side where the cell or "
            f"more than {(1 - level) / 2:.1%} of the redraws do not bracket the optimum there")


def lr_rule(level: float) -> str:
    return (f"{_SHAPES}; {optimum_rule(level)}. Held: at least 2 model sizes, every cell U, and the optimum intervals "
            "of the smallest and largest size do not overlap. Did not hold: some cell is FLAT (no U there) and none "
            f"of its losses is a copy of another (the cell quoted: the nearest {CHINCHILLA_TOKENS_PER_PARAM:g} tokens "
            "per parameter). Otherwise cannot tell (a FLAT cell resting on copied losses among them).")


def batch_loss_rule(level: float) -> str:
    return (f"per (N, tokens) cell with at least {MIN_VALUES} batch sizes, {optimum_rule(level)}; the best loss with "
            "its standard error. Over the cells whose optimum is a vertex, least squares of ln B_opt = c + s ln L, "
            "s's standard error the larger of the regression's and the spread of s over the redraws. Held: at "
            f"least 3 such cells and s < 0 by more than Z = {Z:g} standard errors (B_opt grows as L falls). "
            f"Did not hold: at least 3 such cells and s > 0 by more than {Z:g} standard errors. Otherwise "
            "cannot tell.")


def table_header(level: float) -> tuple[str, ...]:
    """The columns of a finding's table of cells, the optimum's interval at `level`."""
    return ("N", "tokens", "values swept", "best value", f"optimum [{level:.0%}]", "best loss +- stderr", "shape")


@dataclass(frozen=True)
class UCurve:
    """One (N, tokens) cell's U-curve in `param`: value_X increasing, loss_X the best loss at
    each, stderr_X its standard error (`fallback_X`: the fallback was used; `predicted_X`: a
    run stopped early's predicted loss); `optimum` hyperparams' fit_group of the cell;
    `opt_draws_K` and `best_loss_draws_K` the optimum and the best loss of each redraw;
    `interval` the optimum's interval at conf/fit.yaml's `level`, -inf / +inf on a side left open; `shape` U / FLAT /
    EDGE, `open_side` (EDGE) the side the grid leaves open: "below", "above" or "both";
    `copied_X` whether each point's loss is one of the table's copied losses."""

    param: str
    recipe: str | None
    n_params: float
    tokens: float
    value_X: np.ndarray
    loss_X: np.ndarray
    stderr_X: np.ndarray
    fallback_X: np.ndarray
    predicted_X: np.ndarray
    optimum: HyperparamGroup
    opt_draws_K: np.ndarray
    best_loss_draws_K: np.ndarray
    interval: tuple[float, float]
    shape: str
    open_side: str | None
    copied_X: np.ndarray

    @property
    def best(self) -> int:
        return int(np.argmin(self.loss_X))

    @property
    def best_value(self) -> float:
        return float(self.value_X[self.best])

    @property
    def best_loss(self) -> float:
        return float(self.loss_X[self.best])

    @property
    def best_stderr(self) -> float:
        return float(self.stderr_X[self.best])

    @property
    def opt_value(self) -> float | None:
        return self.optimum.opt_value

    @property
    def interval_open(self) -> str | None:
        """The side the optimum's interval leaves open: below | above | both, None when closed."""
        below, above = math.isinf(self.interval[0]), math.isinf(self.interval[1])
        return "both" if below and above else "below" if below else "above" if above else None

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.n_params

    @property
    def is_vertex(self) -> bool:
        return self.optimum.status == "vertex"

    def where(self) -> str:
        """N=..., T=... (and the recipe where the table has several)."""
        recipe = f"recipe {self.recipe!r}, " if self.recipe else ""
        return f"{recipe}N={self.n_params:.3g}, T={self.tokens:.3g}"

    def row(self) -> tuple[Any, ...]:
        at_end = self.shape == EDGE and self.opt_value is not None and bool(
            np.isclose(self.opt_value, self.value_X[[0, -1]], rtol=1e-9).any())
        status = (" (at the grid's end: the optimum may lie beyond)" if at_end and not self.is_vertex
                  else "" if self.is_vertex else f" ({self.optimum.status})")
        optimum = f"{_opt(self)}{status}"
        fallback = " (fallback)" if self.fallback_X[self.best] else ""
        predicted = " (predicted)" if self.predicted_X[self.best] else ""
        return ((f"{self.recipe}: " if self.recipe else "") + _g(self.n_params), _g(self.tokens),
                f"{_g(self.value_X[0])} .. {_g(self.value_X[-1])} ({len(self.value_X)})", _g(self.best_value),
                optimum, f"{self.best_loss:.4f} +- {self.best_stderr:.2g}{fallback}{predicted}",
                self.shape + (f" (open {self.open_side})" if self.open_side else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "n_params": self.n_params, "tokens": self.tokens, "param": self.param,
                "values": self.value_X.tolist(), "losses": self.loss_X.tolist(), "stderrs": self.stderr_X.tolist(),
                "stderr_fallback": self.fallback_X.tolist(), "predicted": self.predicted_X.tolist(),
                "best_value": self.best_value, "best_loss": self.best_loss, "best_stderr": self.best_stderr,
                "optimum": self.opt_value, "optimum_status": self.optimum.status,
                "optimum_interval": [v if math.isfinite(v) else None for v in self.interval],
                "optimum_interval_open": self.interval_open, "shape": self.shape, "open_side": self.open_side}


def ucurves(table: RunsTable, param: str, *, resamples: int, seed: int, level: float | None = None) -> list[UCurve]:
    """The U-curve of every (N, tokens) cell (per recipe) with at least MIN_VALUES distinct
    values of `param` (lr | batch_size), ordered by recipe, N, tokens; [] when none (or the
    table has no such column). `table`: every run, the stopped ones standing with their
    prediction, a setting's seeds averaged (`ucurve_table` is applied). The optimum's interval
    is at `level`, by default conf/fit.yaml's."""
    level = fit_defaults().level if level is None else level
    copied = copied_values(table.loss_R)
    table = ucurve_table(table)
    values_R = getattr(table, f"{param}_R")
    if values_R is None or len(table) == 0:
        return []
    usable_R = np.isfinite(values_R) & (values_R > 0)
    recipe_R = np.array([r or "" for r in (table.recipe or ("",) * len(table))])
    neighbours = fit_defaults().neighbours
    rng = np.random.default_rng(seed)
    out = []
    for recipe in sorted(set(recipe_R[usable_R].tolist())):
        members = np.flatnonzero(usable_R & (recipe_R == recipe))
        n_params_G, tokens_G, cell_of_member = group_cells(table.n_params_R[members], table.tokens_R[members])
        for g, (n_params, tokens) in enumerate(zip(n_params_G, tokens_G)):
            runs = members[cell_of_member == g]
            if len(np.unique(values_R[runs])) < MIN_VALUES:
                continue
            out.append(_ucurve(table, param, values_R, runs, recipe or None, float(n_params), float(tokens),
                               resamples, rng, neighbours, copied, level))
    return out


def assess_lr_ucurve(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """Final loss against peak learning rate is U-shaped at every size, the optimum moving with size."""
    level = fit_defaults().level
    curves = ucurves(table, "lr", resamples=resamples, seed=seed, level=level)
    if not curves:
        return None
    flat = sorted((c for c in curves if c.shape == FLAT), key=_from_chinchilla)
    measured = [c for c in flat if not c.copied_X.any()]
    if measured:
        verdict = NOT_HELD
        because = _flat_because(measured[0], "lr") + _more_flat(len(measured) - 1, len(flat) - len(measured))
    else:
        moves, problems = _size_moves(curves)
        problems = ([_copied_flat_because(c) for c in flat] + [_edge_because(c, "lr") for c in curves
                                                                if c.shape == EDGE] + problems)
        if not problems:
            verdict = HELD
            because = ("every cell is U-shaped and the optimum moves with size: " +
                       "; ".join(f"{_opt(small)} at N={small.n_params:.3g} vs {_opt(large)} at "
                                 f"N={large.n_params:.3g}" for small, large in moves) + " (intervals apart)")
        else:
            verdict, because = CANNOT_TELL, _summary(problems)
    return _finding("lr_ucurve", LR_CLAIM, lr_rule(level), verdict, because, curves, resamples, seed, level,
                    lambda: draw_finding_ucurves(curves, "lr", unit=table.loss_unit))


def assess_batch_ucurve(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """Final loss against batch size is U-shaped: small batches are not better."""
    level = fit_defaults().level
    curves = ucurves(table, "batch_size", resamples=resamples, seed=seed, level=level)
    if not curves:
        return None
    small_better = [c for c in curves if c.best == 0 and
                    lower_by(c.loss_X[0], c.stderr_X[0], c.loss_X[1], c.stderr_X[1])]
    if small_better:
        c = small_better[0]
        gap, noise = c.loss_X[1] - c.loss_X[0], Z * combined(c.stderr_X[0], c.stderr_X[1])
        verdict = NOT_HELD
        because = (f"at {c.where()} the smallest batch {_g(c.value_X[0])} is the best, {gap:.3g} below batch "
                   f"{_g(c.value_X[1])} (more than the noise {noise:.3g}, {gap / noise * Z:.2f} standard errors; "
                   f"{noise_rule_text(bool(c.fallback_X[:2].any()))}): small batches are better there")
    elif all(c.shape == U for c in curves):
        verdict = HELD
        because = (f"all {len(curves)} cell(s) are U-shaped: the best batch is inside the grid and both ends are "
                   "higher beyond noise (" + "; ".join(f"{c.where()}: best {_g(c.best_value)}" for c in curves) + ")")
    else:
        verdict = CANNOT_TELL
        because = _summary([_flat_because(c, "batch_size", claim=False) if c.shape == FLAT else
                            _edge_because(c, "batch_size") for c in curves if c.shape != U])
    return _finding("batch_ucurve", BATCH_CLAIM, BATCH_RULE, verdict, because, curves, resamples, seed, level,
                    lambda: draw_finding_ucurves(curves, "batch_size", unit=table.loss_unit))


def assess_batch_vs_loss(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """The optimal batch size grows as the loss falls (Kaplan's B_opt = B* / L^(1/alpha_B))."""
    level = fit_defaults().level
    curves = ucurves(table, "batch_size", resamples=resamples, seed=seed, level=level)
    if len(curves) < 2:
        return None
    used = [c for c in curves if c.is_vertex]
    fit = _slope(used, level) if len(used) >= 3 else None
    if fit is None:
        verdict = CANNOT_TELL
        why = (f"fewer than 3 cells with an interior optimum ({len(used)} of {len(curves)} have a parabola vertex)"
               if len(used) < 3 else "the cells' best losses do not differ: no slope against the loss")
        because = f"{why}: sweep batch sizes at more (N, tokens) cells, bracketing each optimum"
    else:
        s, se = fit["slope"], fit["slope_stderr"]
        numbers = (f"ln B_opt = c + s ln L over {len(used)} cells: s = {s:.3g} +- {se:.2g} "
                   f"({level:.0%} redraw interval [{fit['slope_interval'][0]:.3g}, {fit['slope_interval'][1]:.3g}])")
        if s < 0 and -s > Z * se:
            verdict, because = HELD, f"{numbers}, below 0 by more than {Z:g} stderr: B_opt grows as L falls"
        elif s > Z * se:
            verdict, because = NOT_HELD, f"{numbers}, above 0 by more than {Z:g} stderr: B_opt shrinks as L falls"
        else:
            verdict, because = CANNOT_TELL, f"{numbers}: within {Z:g} stderr of 0 (slope within noise)"
    rows = tuple((*c.row(), "yes" if c.is_vertex and fit is not None else "no") for c in curves)
    details = {"param": "batch_size", "z": Z, "level": level, "resamples": resamples, "seed": seed,
               "cells": [c.to_dict() for c in curves], "fit": fit}
    return Finding("batch_vs_loss", BATCH_LOSS_CLAIM, batch_loss_rule(level), verdict, because,
                   (*table_header(level), "in fit"), rows,
                   lambda: draw_batch_vs_loss(curves, fit, unit=table.loss_unit), details)


# --- the pieces ---------------------------------------------------------------------------------

def _ucurve(table: RunsTable, param: str, values_R: np.ndarray, runs: np.ndarray, recipe: str | None,
            n_params: float, tokens: float, resamples: int, rng: np.random.Generator, neighbours: int,
            copied: np.ndarray, level: float) -> UCurve:
    value_X, loss_X, index_X = best_per_value(values_R[runs], table.loss_R[runs])
    best_R = runs[index_X]
    stderr_X, fallback_X = point_stderrs(table, best_R)
    predicted_X = table.is_predicted()[best_R]
    in_cell_R = np.zeros(len(table), dtype=bool)
    in_cell_R[runs] = True
    key = float(np.exp(np.log(table.flops_R[runs]).mean()))
    band = near_optimal_bands(table, np.array([key]), np.where(in_cell_R, 0, -1))[0]
    optimum = fit_group(table, values_R, in_cell_R, key, band, neighbours)
    draws_KxX = loss_X + stderr_X * rng.standard_normal((resamples, len(value_X)))
    opt_draws_K, open_below_K, open_above_K = _redrawn_optima(value_X, draws_KxX, stderr_X, neighbours)
    shape, open_side = ucurve_shape(value_X, loss_X, stderr_X)
    cell_open = "both" if shape == FLAT else open_side
    interval = _open_interval(opt_draws_K, open_below_K | (cell_open in ("below", "both")),
                              open_above_K | (cell_open in ("above", "both")), level)
    return UCurve(param, recipe, n_params, tokens, value_X, loss_X, stderr_X, fallback_X, predicted_X, optimum,
                  opt_draws_K, draws_KxX.min(axis=1), interval, shape, open_side, np.isin(loss_X, copied))


def _redrawn_optima(value_X: np.ndarray, loss_KxX: np.ndarray, stderr_X: np.ndarray,
                    neighbours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(opt_K, open_below_K, open_above_K): the optimum of each redrawn U-curve, as fit_group finds
    it: a parabola in ln value on hyperparams' window around the redraw's best, its vertex clipped
    to the sampled range; the redraw's best value where the redraw's grid does not bracket it
    (hyperparams bracketed_sides, the points' standard errors `stderr_X`: a best at the grid's end,
    or an end within noise of it) or the parabola opens downward. Without the end's rule an EDGE
    cell's interval, [0.0062, 0.0066], left out its own estimate 0.01. `open_below_K` /
    `open_above_K`: the redraw's grid does not bracket its optimum on that side (its best value is
    no estimate there, only where the grid stops telling: `_open_interval` counts them)."""
    logv_X = np.log(value_X)
    best_K = np.argmin(loss_KxX, axis=1)
    logopt_K = logv_X[best_K].copy()
    below_K, above_K = bracketed_sides(loss_KxX, stderr_X)  # as hyperparams fit_group decides
    for i in np.unique(best_K):
        lo, hi = parabola_window(int(i), len(value_X), neighbours)
        x_W = logv_X[lo:hi] - logv_X[lo:hi].mean()
        design_Wx3 = np.stack([x_W**2, x_W, np.ones_like(x_W)], axis=1)
        draws = best_K == i
        c_3xK = np.linalg.lstsq(design_Wx3, loss_KxX[draws, lo:hi].T, rcond=None)[0]
        upward_K = c_3xK[0] > 0
        vertex_K = logv_X[lo:hi].mean() - c_3xK[1] / (2 * np.where(upward_K, c_3xK[0], 1.0))
        bracketed_K = below_K[draws] & above_K[draws]
        logopt_K[draws] = np.where(upward_K & bracketed_K, np.clip(vertex_K, logv_X[0], logv_X[-1]), logv_X[i])
    sampled_K = np.isin(logopt_K, logv_X)  # a sampled value itself, not exp(ln value) a digit off
    opt_K = np.where(sampled_K, value_X[np.searchsorted(logv_X, logopt_K).clip(0, len(value_X) - 1)],
                     np.exp(logopt_K))
    return opt_K, ~below_K, ~above_K


def _open_interval(opt_K: np.ndarray, open_below_K: np.ndarray, open_above_K: np.ndarray,
                   level: float) -> tuple[float, float]:
    """The `level` interval of the redrawn optima `opt_K`, a redraw left open below ranked below
    every estimate (-inf) and one left open above above every one (+inf): a side is open (-inf,
    +inf) where more than (1 - level) / 2 of the redraws leave it open; else that side's
    percentile of the whole sample, read off the redraws not open on it."""
    tail = (1 - level) / 2
    below, above = float(open_below_K.mean()), float(open_above_K.mean())
    lo = -math.inf if below > tail else float(np.quantile(opt_K[~open_below_K], (tail - below) / (1 - below)))
    hi = math.inf if above > tail else float(np.quantile(opt_K[~open_above_K], (1 - tail) / (1 - above)))
    return lo, hi


def _size_moves(curves: Sequence[UCurve]) -> tuple[list[tuple[UCurve, UCurve]], list[str]]:
    """Per recipe, (the smallest size's cell, the largest size's cell) -- of several cells at one
    size, the one with the lowest loss, as hyperparams groups by size -- and the reasons the
    optimum's move with size cannot be told (one size; no vertex; intervals overlapping)."""
    moves, problems = [], []
    for recipe in sorted({c.recipe or "" for c in curves}):
        mine = [c for c in curves if (c.recipe or "") == recipe]
        sizes, size_I = group_budgets(np.array([c.n_params for c in mine]))
        of_recipe = f" of recipe {recipe!r}" if recipe else ""
        if len(sizes) < 2:
            problems.append(f"one model size only{of_recipe} (N={mine[0].n_params:.3g}): whether the optimum moves "
                            "with size needs an lr grid at 2 or more sizes")
            continue
        small, large = (min((c for c, s in zip(mine, size_I) if s == k), key=lambda c: c.best_loss)
                        for k in (0, len(sizes) - 1))
        flagged = [c for c in (small, large) if not c.is_vertex and c.shape == U]
        if flagged:
            problems.append("; ".join(f"at {c.where()} the parabola gives no vertex ({c.optimum.status})"
                                      for c in flagged))
        elif small.shape == U and large.shape == U:
            if intervals_apart(small.interval, large.interval):
                moves.append((small, large))
            else:
                problems.append(f"the optimum intervals of the smallest and largest size overlap{of_recipe}: "
                                f"{_opt(small)} at N={small.n_params:.3g} vs {_opt(large)} at N={large.n_params:.3g}")
    return moves, problems


def _slope(used: Sequence[UCurve], level: float) -> dict[str, Any] | None:
    """ln B_opt = c + s ln L over the cells `used` (best loss L, vertex B_opt): s, its regression
    standard error, its spread over the redraws (each cell's redrawn optimum against its redrawn
    best loss), the stderr used, the larger, and the redraws' interval at `level`; None when the
    losses are all equal."""
    loss_I = np.array([c.best_loss for c in used])
    if np.ptp(np.log(loss_I)) == 0:
        return None
    law = fit_power_law(loss_I, [c.opt_value for c in used])
    logl_IxK = np.log(np.array([c.best_loss_draws_K for c in used]))
    logb_IxK = np.log(np.array([c.opt_draws_K for c in used]))
    dl_IxK = logl_IxK - logl_IxK.mean(axis=0)
    slope_K = (dl_IxK * (logb_IxK - logb_IxK.mean(axis=0))).sum(axis=0) / (dl_IxK**2).sum(axis=0)
    slope_K = slope_K[np.isfinite(slope_K)]
    spread = float(slope_K.std(ddof=1)) if len(slope_K) > 1 else math.nan
    tail = 100 * (1 - level) / 2
    interval = [float(v) for v in np.percentile(slope_K, [tail, 100 - tail])] if len(slope_K) else [math.nan] * 2
    stderr = float(np.nanmax([law.exponent_stderr, spread]))
    return {"form": "ln B_opt = c + s ln L", "slope": law.exponent, "slope_stderr": stderr,
            "slope_stderr_regression": law.exponent_stderr, "slope_stderr_redraws": spread,
            "slope_interval": interval, "coefficient": law.coefficient, "n_cells": len(used),
            "alpha_B": -1 / law.exponent if law.exponent else None, "B_star": law.coefficient,
            "rms_log_residual": law.rms_log_residual}


def _finding(name: str, claim: str, rule: str, verdict: str, because: str, curves: Sequence[UCurve],
             resamples: int, seed: int, level: float, draw: Any) -> Finding:
    details = {"param": curves[0].param, "z": Z, "flat_span": FLAT_SPAN, "level": level, "resamples": resamples,
               "seed": seed, "cells": [c.to_dict() for c in curves]}
    return Finding(name, claim, rule, verdict, because, table_header(level), tuple(c.row() for c in curves), draw,
                   details)


def _flat_because(c: UCurve, param: str, claim: bool = True) -> str:
    label = PARAM_LABEL[param]
    text = (f"at {c.where()} ({c.tokens_per_param:.3g} tokens per parameter) every {label} from "
            f"{_g(c.value_X[0])} to {_g(c.value_X[-1])} ({c.value_X[-1] / c.value_X[0]:.3g}x) is within noise of the "
            f"best (loss {c.best_loss:.4f} +- {c.best_stderr:.2g}; {noise_rule_text(bool(c.fallback_X.any()))})")
    copies = int(c.copied_X.sum())
    copied = (f"; {copies} of its {len(c.loss_X)} losses are one another's to the last digit, copies rather than "
              "runs (see the copied losses above)") if copies else ""
    return text + (f": the loss does not depend on the {label} there, no U" if claim else ": no U") + copied


def _copied_flat_because(c: UCurve) -> str:
    """Why a FLAT cell resting on copied losses decides nothing."""
    return (f"at {c.where()} every lr from {_g(c.value_X[0])} to {_g(c.value_X[-1])} is within noise of the best, "
            f"but {int(c.copied_X.sum())} of its {len(c.loss_X)} losses are copies of another run's (see the copied "
            "losses above): no second measurement, so that flat curve cannot decide the claim")


def _more_flat(measured: int, copied: int) -> str:
    """' (N more FLAT cell(s) in the table; M FLAT cell(s) resting on copied losses left out)'."""
    parts = ([f"{measured} more FLAT cell(s) in the table"] if measured else []) + (
        [f"{copied} FLAT cell(s) resting on copied losses left out"] if copied else [])
    return f" ({'; '.join(parts)})" if parts else ""


def _from_chinchilla(c: UCurve) -> float:
    """How far a cell's tokens per parameter lie from Chinchilla's 20, in ln."""
    return abs(math.log(c.tokens_per_param / CHINCHILLA_TOKENS_PER_PARAM))


def _edge_because(c: UCurve, param: str) -> str:
    label = "lr" if param == "lr" else "batch size"
    extend = {"below": f"below {_g(c.value_X[0])}", "above": f"above {_g(c.value_X[-1])}",
              "both": f"below {_g(c.value_X[0])} and above {_g(c.value_X[-1])}"}[c.open_side or "both"]
    return f"the grid does not bracket the optimum at {c.where()}: extend {label} {extend}"


def _summary(reasons: Sequence[str], shown: int = 2) -> str:
    """The first `shown` reasons, and how many more there are (the table lists every cell)."""
    more = len(reasons) - shown
    return "; ".join(reasons[:shown]) + (f"; and {more} more (see the table)" if more > 0 else "")


def _opt(c: UCurve) -> str:
    """'OPT [LO, HI]', an interval open on a side as '[>= LO]' / '[<= HI]', open on both '[-]'."""
    lo, hi = c.interval
    shown = {None: f"{_g(lo)}, {_g(hi)}", "below": f"<= {_g(hi)}", "above": f">= {_g(lo)}", "both": "-"}
    return f"{_g(c.opt_value)} [{shown[c.interval_open]}]"


def _g(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.4g}"
