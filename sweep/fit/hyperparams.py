"""Hyperparameter laws: per compute budget, per model size or per (N, tokens) cell, the optimal
learning rate or batch size from a sweep; then DeepSeek LLM's (2024) power laws of compute,
lr_opt = c C^e, B_opt = c C^e (their data: eta_opt = 0.3118 C^-0.125, B_opt = 0.292 C^0.3271),
Step Law's (Li et al. 2025, arXiv 2503.04715) joint forms in N and D = training tokens,
lr_opt = c N^a D^b and B_opt = c D^b (their data: 1.79 N^-0.713 D^0.307, 0.58 D^0.571), and for
the batch size Kaplan's form against the loss, B_opt = B* / loss^(1/alpha_B).

Cells (`group_cells`): runs whose N agree within `rel_tol` (conf/fit.yaml budget_tolerance: 10%,
chained from the smallest as isoflop.group_budgets chains FLOPs) and, among those, whose tokens
agree within the same tolerance form one (N, tokens) cell; a cell's N, tokens and C are the
geometric means of its runs'. The tolerance on tokens absorbs the rounding of a run's tokens to
whole steps of its batch (a batch-size grid at one budget is one cell).

Groups (`by`): "cell": each cell is a group. "flops" (runs grouped as in sweep/fit/isoflop.py) and
"n_params": a group holding several cells (an IsoFLOP design: sizes x token budgets at one C; or
one size at several token budgets) is not merged into one U-curve, whose optimum would mix
different (N, D): each cell gets its own optimum and the group takes that of the cell with the
lowest loss (by flops: the compute-optimal allocation among those sampled, the allocation at which
DeepSeek state their law; by n_params: the longest-trained cell), with `n_cells` and a note saying
so. Cells of one run per hyperparameter value are skipped as any group is.

Per cell, at each distinct value of the swept hyperparameter the lowest loss stands (the other
hyperparameters free; runs differing only in their seed averaged first, `ucurve_table`). A parabola
of loss in ln(value) is fitted to the best value and up to `neighbours` (conf/fit.yaml: 2) values
on each side of it (at least 3 values; at an edge of the grid, more from the other side). Its vertex is the optimum (`status` "vertex"); a vertex outside the
sampled values is clipped to the nearest end ("clipped"), and so is a best sampled value at an end
of the grid wherever the vertex falls (nothing sampled turns up beyond it: the Findings' EDGE), and
a best value inside the grid with a grid end within noise of it (`bracketed_sides`: the noise rule
of sweep/fit/noise.py, the one decision the Findings' U / EDGE read too, `ucurve_shape`): the grid
does not bracket the optimum, and the best sampled value stands, not a vertex extrapolated below
every measured loss. A cell the Findings call FLAT (`ucurve_shape`: every value within noise of the best)
is "clipped" with a note saying so; values sharing the best loss to the last digit are named in the
note (the grid's order does not pick one: a tie with a grid end leaves that side open, as
`bracketed_sides` reads it). A vertex whose loss lies below every measured loss by more than the noise
says so in its note. The notes say where the standard errors were assumed (noise.noise_rule_text).
A parabola opening downward gives the best sampled value ("no_curvature").
Only "vertex" groups (and cells) enter the laws unless include_flagged=True. Groups with fewer than 3 distinct values are skipped and reported; none left
is an error.

The Step Law forms (`fit_step_law`) are fitted on the cells' optima, by least squares of ln opt on
(ln N, ln D) (the batch size: on ln D), with standard errors from the residuals. They need at least
3 cells whose (ln N, ln D) lie off one straight line by at least `min_log_spread` (conf/fit.yaml:
0.1, RMS, natural-log units; a sweep at one tokens per parameter has D = r N, one line) -- for the
batch size, ln D spread that far; otherwise a ConfigError naming what is missing (in a law's
`step_law_skipped` where the law was asked by flops or n_params).

Runs stopped early (status stopped_early, sweep/early_stop.py) count here, standing with their
predicted final loss (the runs table's `with_stopped`): a U-curve's points are then partly
predictions. Each group says how many of its points are (`n_predicted`) and whether its best
point is one (`best_predicted`); a stopped run without a prediction is left out and counted in
`excluded_runs`. The parametric fits never see them (sweep/fit/table.py).

The near-optimal band of a group: its runs within `band` (conf/fit.yaml: 0.25%) of its best loss, i.e.
loss <= best * (1 + band), with the learning rates and batch sizes they span.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G
groups (budgets, sizes or cells), X the distinct values of the swept hyperparameter, I the cells of
one regression, J its variables (ln N, ln D). In Step Law's forms D keeps the published meaning,
data (tokens, T), as in `d_opt`. B_opt is a batch size (B, sequences, as the runs
table gives it); B_star and alpha_B are Kaplan's constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.identify import Flag
from sweep.fit.isoflop import Parabola, PowerLaw, best_per_value, fit_parabola, fit_power_law, group_budgets
from sweep.fit.noise import lower_by, noise_rule_text, same_within_noise, stderr_or_fallback
from sweep.fit.points import setting_table
from sweep.fit.table import RunsTable, copied_values, validate
from sweep.jsonable import jsonable

PARAMS = ("lr", "batch_size")
BY = ("flops", "n_params", "cell")
STATUSES = ("vertex", "clipped", "no_curvature", "skipped")
A_LAW = {"lr": "an lr law", "batch_size": "a batch_size law"}  # as a message reads it
MIN_VALUES = 3
MIN_CELLS = 3  # cells a Step Law form needs
STEP_LAW_VARIABLES = {"lr": ("n_params", "tokens"), "batch_size": ("tokens",)}
STEP_LAW_FORM = {"lr": "lr_opt = c N^a D^b", "batch_size": "B_opt = c D^b"}
EXPONENT_OF = {"n_params": "a", "tokens": "b"}  # Step Law's names of the exponents on N and on D
U, FLAT, EDGE = "U", "FLAT", "EDGE"  # a U-curve's shape (`ucurve_shape`)
FLAT_SPAN = 4.0  # a FLAT U-curve spans at least this factor in the swept value


@dataclass(frozen=True)
class NearOptimalBand:
    """The runs of one group with loss <= loss_max = best loss x (1 + band)."""

    runs: tuple[str, ...]
    loss_max: float
    lr_range: tuple[float, float] | None
    batch_size_range: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass(frozen=True)
class HyperparamGroup:
    """One compute budget, model size or (N, tokens) cell `key` (its C for a cell): the sampled
    values of the hyperparameter, the best run, and the optimum (None when skipped; `note` says
    why, or what was flagged). `n_params` and `tokens`: the cell whose U-curve gave the optimum
    (the group's own for a cell; of a group of `n_cells` > 1, the cell with the lowest loss).
    `n_predicted`: of that U-curve's `n_values` points (the best loss at each value), those that
    are a run stopped early standing with its predicted final loss; `best_predicted`: whether the
    best point (best_run) is one."""

    key: float
    n_runs: int
    n_values: int
    value_min: float
    value_max: float
    best_run: str
    best_value: float
    best_loss: float
    band: NearOptimalBand
    status: str
    opt_value: float | None = None
    opt_loss: float | None = None
    note: str | None = None
    n_params: float | None = None
    tokens: float | None = None
    n_cells: int = 1
    n_predicted: int = 0
    best_predicted: bool = False
    open_side: str | None = None  # where the grid leaves the optimum open (`open_side`): below | above | both

    def to_dict(self) -> dict[str, Any]:
        return jsonable({**self.__dict__, "band": self.band.to_dict()})


@dataclass(frozen=True)
class StepLaw:
    """Li et al. 2025's joint form: `param`_opt = coefficient * prod over `variables` of
    variable^exponent (lr: c N^a D^b; batch size: c D^b), fitted as ln opt = ln c + sum a_k ln x_k
    by least squares over `n_points` cells. Standard errors from the residuals (None without a
    degree of freedom left); `rms_log_residual` is the spread of ln opt about the fit."""

    param: str
    variables: tuple[str, ...]  # "n_params" (N), "tokens" (D)
    coefficient: float
    exponents: tuple[float, ...]
    exponent_stderrs: tuple[float, ...]
    log_coefficient_stderr: float
    n_points: int
    rms_log_residual: float

    @property
    def form(self) -> str:
        return STEP_LAW_FORM[self.param]

    def exponent(self, variable: str) -> float:
        return self.exponents[self.variables.index(variable)]

    def __call__(self, n_params: Any, tokens: Any) -> Any:
        x = {"n_params": np.asarray(n_params, dtype=float), "tokens": np.asarray(tokens, dtype=float)}
        out = self.coefficient
        for variable, e in zip(self.variables, self.exponents):
            out = out * x[variable] ** e
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"form": self.form, "c": self.coefficient}
        for variable, e, se in zip(self.variables, self.exponents, self.exponent_stderrs):
            out[EXPONENT_OF[variable]] = e
            out[f"{EXPONENT_OF[variable]}_stderr"] = se
        out.update(log_c_stderr=self.log_coefficient_stderr, n_points=self.n_points,
                   rms_log_residual=self.rms_log_residual)
        return jsonable(out)


@dataclass(frozen=True)
class HyperparamOptima:
    """The optimum of each group (`by`) and of each (N, tokens) cell, before any law. `group_runs`
    lists, per group, the indices of the runs whose U-curve gave its optimum (a group of several
    cells: its chosen cell's)."""

    param: str
    by: str
    groups: list[HyperparamGroup]
    group_runs: list[np.ndarray]
    cells: list[HyperparamGroup]
    band: float
    excluded_runs: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HyperparamLaw:
    """`param`_opt = law.coefficient * `by`^law.exponent over the groups used (by cell: the
    cells' C); `step_law`: Step Law's form in N and D over the cells used (None: `step_law_skipped`
    says why); for the batch size also `loss_law`: B_opt = B_star * loss^(-1/alpha_B), the loss at
    the optimum."""

    param: str
    by: str
    law: PowerLaw
    groups: list[HyperparamGroup]
    band: float
    include_flagged: bool
    loss_law: PowerLaw | None = None
    excluded_runs: dict[str, int] = field(default_factory=dict)
    cells: list[HyperparamGroup] = field(default_factory=list)
    step_law: StepLaw | None = None
    step_law_skipped: str | None = None

    @property
    def used(self) -> list[HyperparamGroup]:
        return [g for g in self.groups if _usable(g, self.include_flagged)]

    @property
    def cells_used(self) -> list[HyperparamGroup]:
        return [g for g in self.cells if _usable(g, self.include_flagged)]

    def flags(self) -> list[Flag]:
        """What the optima cannot pin down, as the parametric fits' flags (`censoring_flags`), and a
        power law through 2 optima only: a line through 2 points, no scatter to judge it by."""
        cells = self.cells if self.step_law is not None else ()
        flags = censoring_flags(self.param, self.by, self.groups, cells, self.include_flagged)
        if len(self.used) == 2:
            what = GROUPS_OF[self.by]
            flags.append(Flag("exponent_stderr", f"fitted through the optima of 2 {what} only: a line through 2 points, "
                                          "with no scatter to judge it by (no standard error)",
                              f"sweep {self.param} at 3 or more {what}, bracketing each optimum"))
        return flags

    @property
    def alpha_B(self) -> float | None:
        return -1.0 / self.loss_law.exponent if self.loss_law else None

    @property
    def B_star(self) -> float | None:
        return self.loss_law.coefficient if self.loss_law else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"param": self.param, "by": self.by,
                               "grouping": grouping_text(self.by, any(g.n_cells > 1 for g in self.groups)),
                               "coefficient": self.law.coefficient,
                               "exponent": self.law.exponent, "exponent_stderr": self.law.exponent_stderr,
                               "groups_used": len(self.used),
                               "identifiability": [flag.to_dict() for flag in self.flags()],
                               "power_law": self.law.to_dict(), "band": self.band,
                               "include_flagged": self.include_flagged,
                               "step_law": self.step_law.to_dict() if self.step_law else None,
                               "step_law_skipped": self.step_law_skipped,
                               "groups": [g.to_dict() for g in self.groups],
                               "cells": [g.to_dict() for g in self.cells],
                               "excluded_runs": dict(self.excluded_runs)}
        if self.loss_law is not None:
            e = self.loss_law.exponent
            out["loss_law"] = {"B_star": self.B_star, "alpha_B": self.alpha_B,
                               "alpha_B_stderr": self.loss_law.exponent_stderr / e**2, **self.loss_law.to_dict()}
        return jsonable(out)


def fit_hyperparameter_law(table: RunsTable, param: str = "lr", by: str = "flops", rel_tol: float | None = None,
                           budgets: Sequence[float] | None = None, band: float | None = None,
                           neighbours: int | None = None, include_flagged: bool = False) -> HyperparamLaw:
    """The optimal `param` (lr | batch_size) per group of `by` (flops | n_params | cell), its
    power law of the groups' C (or N), and Step Law's form in N and D over the cells (skipped with
    the reason when the cells cannot support it). Arguments as `find_optima`."""
    return fit_laws(find_optima(table, param, by, rel_tol, budgets, band, neighbours), include_flagged)


def find_optima(table: RunsTable, param: str = "lr", by: str = "flops", rel_tol: float | None = None,
                budgets: Sequence[float] | None = None, band: float | None = None,
                neighbours: int | None = None) -> HyperparamOptima:
    """The optimum of `param` per group of `by` and per cell, over every run of `table`, its runs
    stopped early with their predicted loss (`ucurve_table(table)`: the indices of `group_runs`
    are that table's); `budgets`: explicit group centres (FLOPs or sizes; not with by="cell"), as
    in isoflop.group_budgets. rel_tol, band, neighbours left at None are conf/fit.yaml's
    budget_tolerance, band and neighbours."""
    defaults = fit_defaults()
    band = defaults.band if band is None else band
    neighbours = defaults.neighbours if neighbours is None else neighbours
    if param not in PARAMS:
        raise ConfigError(f"param {param!r}: the hyperparameter laws are for {' or '.join(PARAMS)}")
    if by not in BY:
        raise ConfigError(f"by {by!r}: runs are grouped by {', '.join(BY[:-1])} or {BY[-1]}")
    if by == "cell" and budgets is not None:
        raise ConfigError(f"budgets {list(budgets)!r}: by='cell' groups the runs by (N, tokens); explicit budgets "
                          "are the centres of flops or n_params groups")
    if neighbours < 1:
        raise ConfigError(f"neighbours {neighbours!r}: the parabola takes at least 1 value on each side of the best")
    table = validate(ucurve_table(table), MIN_VALUES, f"{'an' if param == 'lr' else 'a'} {param} law")
    values_R = table.column(param)
    missing_R = ~(np.isfinite(values_R) & (values_R > 0))
    if missing_R.any():
        i = int(np.argmax(missing_R))
        raise ConfigError(f"run {table.names[i]!r}: {param} = {float(values_R[i])!r}; must be finite and positive")
    everyone_R = np.arange(len(table))
    cells, cell_runs = _fit_cells(table, values_R, everyone_R, rel_tol, band, neighbours)
    if by == "cell":
        return HyperparamOptima(param, by, cells, cell_runs, cells, band, dict(table.excluded))
    key_G, group_R = group_budgets(table.flops_R if by == "flops" else table.n_params_R, rel_tol, budgets)
    bands = near_optimal_bands(table, key_G, group_R, band)
    groups, group_runs = [], []
    for g, key in enumerate(key_G):
        if (group_R == g).any():
            group, runs = _group_optimum(table, values_R, np.flatnonzero(group_R == g), key, bands[g], by, rel_tol,
                                         band, neighbours)
            groups.append(group)
            group_runs.append(runs)
    return HyperparamOptima(param, by, groups, group_runs, cells, band, dict(table.excluded))


def ucurve_table(table: RunsTable) -> RunsTable:
    """The runs a U-curve reads: every run, those stopped early standing with their predicted loss
    (`with_stopped`), a setting's seeds averaged into one (sweep/fit/points.py `setting_table`)."""
    return setting_table(table.with_stopped())


def fit_laws(optima: HyperparamOptima, include_flagged: bool = False) -> HyperparamLaw:
    """The power law of the groups' optima in their key (C, or N), Kaplan's batch law against the
    loss, and Step Law's form over the cells. ConfigError when fewer than 2 groups qualify."""
    param, by, groups = optima.param, optima.by, optima.groups
    used = [g for g in groups if _usable(g, include_flagged)]
    if by == "cell" and len(used) >= 2 and len(group_budgets(np.array([g.key for g in used]))[0]) < 2:
        raise ConfigError(f"{A_LAW[param]} in C needs cells with an optimum at 2 or more compute budgets; the "
                          f"{len(used)} of {len(groups)} cells that qualify are all at C = {used[0].key:.3g}")
    if len(used) < 2:
        raise ConfigError(f"{A_LAW[param]} needs at least 2 {by} groups with an optimum inside at least {MIN_VALUES} "
                          f"distinct {param} values; {len(used)} of {len(groups)} qualify: "
                          f"{_reasons_summary(groups, by)}")
    law = fit_power_law([g.key for g in used], [g.opt_value for g in used])
    loss_law = None
    if param == "batch_size" and len({g.opt_loss for g in used}) >= 2:
        loss_law = fit_power_law([g.opt_loss for g in used], [g.opt_value for g in used])
    step_law, step_law_skipped = None, None
    try:
        step_law = fit_step_law(param, [g for g in optima.cells if _usable(g, include_flagged)], len(optima.cells))
    except ConfigError as err:
        step_law_skipped = str(err)
    return HyperparamLaw(param, by, law, groups, optima.band, include_flagged, loss_law, dict(optima.excluded_runs),
                         optima.cells, step_law, step_law_skipped)


def fit_step_law(param: str, cells: Sequence[HyperparamGroup], n_cells: int | None = None,
                 min_log_spread: float | None = None) -> StepLaw:
    """Step Law's form of `param` (lr: c N^a D^b; batch_size: c D^b) by least squares on the
    logarithms of the cells' optima (cells with n_params, tokens and opt_value; `n_cells`: how many
    cells there were before the unusable ones were left out, for the message). ConfigError naming
    what is missing: fewer than 3 cells, or cells whose (ln N, ln D) (batch size: ln D) spread
    less than min_log_spread (None: conf/fit.yaml's) off one line (one point)."""
    min_log_spread = fit_defaults().min_log_spread if min_log_spread is None else min_log_spread
    if param not in PARAMS:
        raise ConfigError(f"param {param!r}: the hyperparameter laws are for {' or '.join(PARAMS)}")
    if not (np.isfinite(min_log_spread) and min_log_spread > 0):
        raise ConfigError(f"min_log_spread {min_log_spread!r}: the cells' spread in ln N, ln D is a number > 0")
    form, variables = STEP_LAW_FORM[param], STEP_LAW_VARIABLES[param]
    n_cells = len(cells) if n_cells is None else n_cells
    if len(cells) < MIN_CELLS:
        raise ConfigError(f"Step Law's {form} needs at least {MIN_CELLS} (N, tokens) cells with an optimum inside "
                          f"at least {MIN_VALUES} distinct {param} values; {len(cells)} of {n_cells} cells qualify: "
                          f"sweep {param} at more (N, tokens) pairs")
    logx_IxJ = np.log(np.array([[getattr(c, v) for v in variables] for c in cells], dtype=float))
    logy_I = np.log(np.array([c.opt_value for c in cells], dtype=float))
    mean_J = logx_IxJ.mean(axis=0)
    dx_IxJ = logx_IxJ - mean_J
    n, k = dx_IxJ.shape
    spread = float(np.linalg.svd(dx_IxJ, compute_uv=False)[-1] / np.sqrt(n))  # RMS distance off the best line
    if spread < min_log_spread:
        if k == 1:
            raise ConfigError(f"Step Law's {form} needs cells at several token budgets: the {n} cells' ln D spread "
                              f"{spread:.3g} (RMS), under min_log_spread {min_log_spread:g}: sweep {param} at other "
                              "token budgets")
        raise ConfigError(f"Step Law's {form} needs cells spread in both N and D: the {n} cells' (ln N, ln D) lie "
                          f"within {spread:.3g} (RMS) of one line, under min_log_spread {min_log_spread:g} (one tokens "
                          f"per parameter, or one compute budget, puts every cell on a line): sweep {param} at "
                          "(N, tokens) pairs off that line, e.g. a second tokens per parameter")
    dy_I = logy_I - logy_I.mean()
    gram_JxJ = dx_IxJ.T @ dx_IxJ
    exponent_J = np.linalg.solve(gram_JxJ, dx_IxJ.T @ dy_I)
    residual_I = dy_I - dx_IxJ @ exponent_J
    ssr = float(residual_I @ residual_I)
    dof = n - k - 1
    var = ssr / dof if dof > 0 else float("nan")
    cov_JxJ = var * np.linalg.inv(gram_JxJ)
    log_c = float(logy_I.mean() - mean_J @ exponent_J)
    se_log_c = float(np.sqrt(var / n + mean_J @ cov_JxJ @ mean_J))
    return StepLaw(param, variables, float(np.exp(log_c)), tuple(float(e) for e in exponent_J),
                   tuple(float(np.sqrt(v)) for v in np.diag(cov_JxJ)), se_log_c, n, float(np.sqrt(ssr / n)))


DESIGNS_APART = 0.01  # two sizes each shared by several runs and further apart are two cells (group_budgets)


def group_cells(n_params_R: np.ndarray, tokens_R: np.ndarray,
                rel_tol: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_params_G, tokens_G, cell_R): the (N, tokens) cells, ordered by N then tokens, and each
    run's cell: runs whose N agree within rel_tol (None: conf/fit.yaml's budget_tolerance; two values
    of N each shared by several runs and more than DESIGNS_APART apart are two sizes) and,
    among those, whose tokens do (each chained as isoflop.group_budgets chains FLOPs)."""
    n_params_R, tokens_R = np.asarray(n_params_R, dtype=float), np.asarray(tokens_R, dtype=float)
    sizes, size_R = group_budgets(n_params_R, rel_tol, designs_apart=DESIGNS_APART)
    cell_R = np.empty(len(n_params_R), dtype=int)
    n_params_G, tokens_G = [], []
    for s in range(len(sizes)):
        members = np.flatnonzero(size_R == s)
        token_budgets, budget_of_member = group_budgets(tokens_R[members], rel_tol)
        for t, tokens in enumerate(token_budgets):
            cell_R[members[budget_of_member == t]] = len(n_params_G)
            n_params_G.append(float(np.exp(np.log(n_params_R[members[budget_of_member == t]]).mean())))
            tokens_G.append(float(tokens))
    return np.array(n_params_G), np.array(tokens_G), cell_R


def _fit_cells(table: RunsTable, values_R: np.ndarray, members: np.ndarray, rel_tol: float | None, band: float,
               neighbours: int) -> tuple[list[HyperparamGroup], list[np.ndarray]]:
    """The optimum of each cell among the runs `members`, keyed by the cell's C, and its runs."""
    n_params_G, tokens_G, cell_of_member = group_cells(table.n_params_R[members], table.tokens_R[members], rel_tol)
    cells, cell_runs = [], []
    for g, (n_params, tokens) in enumerate(zip(n_params_G, tokens_G)):
        runs = members[cell_of_member == g]
        in_cell_R = np.zeros(len(table), dtype=bool)
        in_cell_R[runs] = True
        key = float(np.exp(np.log(table.flops_R[runs]).mean()))
        cell_band = near_optimal_bands(table, np.array([key]), np.where(in_cell_R, 0, -1), band)[0]
        cell = fit_group(table, values_R, in_cell_R, key, cell_band, neighbours)
        cells.append(replace(cell, n_params=float(n_params), tokens=float(tokens),
                             open_side=open_side(table, values_R, runs)))
        cell_runs.append(runs)
    return cells, cell_runs


def _group_optimum(table: RunsTable, values_R: np.ndarray, members: np.ndarray, key: float,
                   group_band: NearOptimalBand, by: str, rel_tol: float | None, band: float,
                   neighbours: int) -> tuple[HyperparamGroup, np.ndarray]:
    """A group's optimum: its only cell's, or of several cells the one with the lowest loss among
    those with an optimum (see the module docstring); and the runs of that cell."""
    cells, cell_runs = _fit_cells(table, values_R, members, rel_tol, band, neighbours)
    fitted = [i for i, c in enumerate(cells) if c.status != "skipped"]
    pool = fitted or list(range(len(cells)))
    i = min(pool, key=lambda j: cells[j].best_loss)
    chosen = cells[i]
    note = chosen.note
    if len(cells) > 1:
        where = "budget" if by == "flops" else "size"
        if fitted:
            what = (f"{len(cells)} (N, tokens) cells in this {where}: the optimum of the one with the lowest loss "
                    f"(N = {chosen.n_params:.4g}, T = {chosen.tokens:.4g}; {len(fitted)} with an optimum)")
        else:
            what = f"{len(cells)} (N, tokens) cells in this {where}, none with {MIN_VALUES} distinct values"
        note = what if note is None else f"{what}; {note}"
    group = replace(chosen, key=float(key), n_runs=len(members), band=group_band, note=note, n_cells=len(cells))
    return group, cell_runs[i]


REASON_EXAMPLES = 4  # groups named in a law's error, beside the counts of every reason


def _reasons_summary(groups: Sequence[HyperparamGroup], by: str) -> str:
    """Why the groups gave no optimum for a law: how many of each reason (`reason`), then at most
    REASON_EXAMPLES groups with their note, and where every group's is listed."""
    reason_G = [reason(g) for g in groups]
    counts = {what: reason_G.count(what) for what in REASONS if what in reason_G}
    first = [reason_G.index(what) for what in counts if what != REASONS[0]]  # one group of each other reason
    failed = [g for g, what in enumerate(reason_G) if what != REASONS[0]]
    examples = (first + [g for g in failed if g not in first])[:REASON_EXAMPLES]
    named = "; ".join(_describe(groups[g], by) + f": {groups[g].status}"
                      + (f" ({groups[g].note})" if groups[g].note else "") for g in sorted(examples))
    more = len(failed) - len(examples)
    return (", ".join(f"{k} {what}" for what, k in counts.items()) + f". E.g. {named}"
            + (f"; and {more} more" if more > 0 else "")
            + ". `sweep report` lists every group's status and note (section 5)")


REASONS = ("with an interior optimum", "with a grid end within noise of the best", "with the best at an end of the grid",
           "with the vertex outside the grid", "with a parabola opening downward",
           f"with too few values (under {MIN_VALUES})")


def reason(group: HyperparamGroup) -> str:
    """A group's optimum in a few words: an interior optimum (vertex), an end within noise of an
    interior best, the best at an end of the grid, a vertex outside the grid, no curvature, too
    few values."""
    if group.status == "vertex":
        return REASONS[0]
    if group.status == "skipped":
        return REASONS[5]
    if group.status == "no_curvature":
        return REASONS[4]
    if group.best_value in (group.value_min, group.value_max):
        return REASONS[2]
    return REASONS[1] if group.open_side is not None else REASONS[3]


def grouping_text(by: str, several_cells: bool) -> str:
    """How a law's groups were made, for its output: `by`, and where a budget holds several cells
    (`several_cells`) that `sweep report` takes every cell instead."""
    if by == "cell":
        return "per (N, tokens) cell (--by cell), each cell at its own C"
    if by == "n_params":
        return "per model size (--by n_params); a size of several (N, tokens) cells takes its longest-trained cell's optimum"
    text = "per compute budget (--by flops, the default)"
    if several_cells:
        text += ("; a budget of several (N, tokens) cells takes its lowest-loss cell's optimum, while `sweep report` "
                 "fits every cell at its own C (--by cell gives that law)")
    return text


def open_side(table: RunsTable, values_R: np.ndarray, members: np.ndarray) -> str | None:
    """Where the grid of the U-curve of the runs `members` leaves the optimum open: below, above,
    both (`bracketed_sides`: the best at that end, or that end within noise of the best); None
    where it brackets it on both sides or has fewer than MIN_VALUES values."""
    value_X, loss_X, best_X = best_per_value(values_R[members], table.loss_R[members])
    if len(value_X) < MIN_VALUES:
        return None
    return unbracketed_side(loss_X, point_stderrs(table, members[best_X])[0])


def unbracketed_side(loss_X: np.ndarray, stderr_X: np.ndarray) -> str | None:
    """The side a grid's best losses leave the optimum open (`bracketed_sides`): below, above or
    both; None where it is bracketed on both."""
    below, above = (bool(side[0]) for side in bracketed_sides(loss_X, stderr_X))
    if below and above:
        return None
    return "both" if not (below or above) else "below" if not below else "above"


CENSORED_SHARE = 0.5  # a law on fewer than this share of the groups with a grid is flagged (`censoring_flags`)
GROUPS_OF = {"flops": "compute budgets", "n_params": "model sizes", "cell": "(N, tokens) cells"}


def censoring_flags(param: str, by: str, groups: Sequence[HyperparamGroup], cells: Sequence[HyperparamGroup],
                    include_flagged: bool = False) -> list[Flag]:
    """A flag per law (the power law in C or N: "exponent"; Step Law's form over `cells`, given
    where it was fitted: "step_law", unless by cell, where the two read the same cells) fitted on fewer than CENSORED_SHARE of the groups
    with at least MIN_VALUES values: the others' optima lie outside (or at the edge of) their grid,
    so the law rests on a censored sample, the groups whose optimum the grid happened to bracket."""
    same_cells = " (the law in C and Step Law's forms alike: both read these cells)" if cells and by == "cell" else ""
    laws = [("exponent", GROUPS_OF[by], groups, same_cells)]
    if cells and by != "cell":
        laws.append(("step_law", GROUPS_OF["cell"], cells, ""))
    flags = []
    for parameter, what, pool, which in laws:
        gridded = [g for g in pool if g.status != "skipped"]
        used = [g for g in gridded if _usable(g, include_flagged)]
        if not gridded or len(used) >= CENSORED_SHARE * len(gridded):
            continue
        sides = {side: sum(g.open_side == side for g in gridded if g not in used) for side in ("above", "below", "both")}
        open_text = ", ".join(f"{k} open " + ("on both sides" if side == "both" else side)
                              for side, k in sides.items() if k)
        flags.append(Flag(parameter, f"fitted on {len(used)} of the {len(gridded)} {what} with {MIN_VALUES} or more "
                                     f"{param} values, those whose grid brackets the optimum; of the other "
                                     f"{len(gridded) - len(used)}, {open_text or 'none open'} (the best at that end of "
                                     f"the grid or within noise of it): the law rests on a censored sample, selected "
                                     f"for optima inside the grids{which}",
                          f"widen the {param} grid on the open side of those {what} until the loss rises beyond "
                          "noise on both sides of each best"))
    return flags


UPPER_BOUND_SHARE = 0.25  # of the cells with a grid, the share left open that a parametric fit warns of


def upper_bound_cells(param: str, cells: Sequence[HyperparamGroup]) -> dict[str, Any] | None:
    """Of the (N, tokens) cells with MIN_VALUES or more `param` values, those whose grid leaves the
    optimum open (`open_side`, by `bracketed_sides`): their best loss, a parametric fit's point
    (sweep/fit/points.py), is an upper bound on the tuned loss. A dict of the counts (cells, with a
    grid, open, open below / above / on both sides) where at least UPPER_BOUND_SHARE of those with
    a grid are open; else None."""
    gridded = [c for c in cells if c.status != "skipped"]
    open_cells = [c for c in gridded if c.open_side is not None]
    if not gridded or len(open_cells) < UPPER_BOUND_SHARE * len(gridded):
        return None
    return {"param": param, "cells": len(cells), "gridded": len(gridded), "open": len(open_cells),
            **{f"open_{side}": sum(c.open_side == side for c in open_cells) for side in ("above", "below", "both")}}


def upper_bound_text(counts: dict[str, Any]) -> str:
    """`upper_bound_cells`' counts in words."""
    sides = ", ".join(f"{counts[f'open_{side}']} {'on both sides' if side == 'both' else side}"
                      for side in ("above", "below", "both") if counts[f"open_{side}"])
    return (f"in {counts['open']} of the {counts['gridded']} (N, tokens) cells with {MIN_VALUES} or more "
            f"{counts['param']} values (of {counts['cells']} cells) the grid does not bracket the optimum (open "
            f"{sides}): those points' best loss is an upper bound on the tuned loss, and the law is fitted to it "
            f"(widen those {counts['param']} grids, or read the fit as one of untuned runs)")


def grid_upper_bounds(table: RunsTable) -> dict[str, Any] | None:
    """`upper_bound_cells` of the table's lr grid, else of its batch-size grid: the first with a
    cell of MIN_VALUES values and enough cells open; None where neither."""
    for param in PARAMS:
        if getattr(table, f"{param}_R") is None:
            continue
        try:
            counts = upper_bound_cells(param, find_optima(table, param, by="cell").cells)
        except ConfigError:  # no such grid (every value missing, too few runs)
            continue
        if counts is not None:
            return counts
    return None


def _describe(group: HyperparamGroup, by: str) -> str:
    if by == "cell":
        return f"N={group.n_params:.3g} T={group.tokens:.3g}"
    return f"{by}={group.key:.3g}"


def near_optimal_bands(table: RunsTable, key_G: np.ndarray, group_R: np.ndarray,
                       band: float | None = None) -> list[NearOptimalBand]:
    """Per group g: the runs with loss <= (1 + band) x the group's lowest loss (band None:
    conf/fit.yaml's)."""
    band = fit_defaults().band if band is None else band
    if not (np.isfinite(band) and band >= 0):
        raise ConfigError(f"band {band!r}: the near-optimal band is a relative loss margin >= 0 (0.0025 = 0.25%)")
    bands = []
    for g in range(len(key_G)):
        in_group_R = group_R == g
        if not in_group_R.any():
            bands.append(NearOptimalBand((), float("nan"), None, None))
            continue
        loss_max = float(table.loss_R[in_group_R].min() * (1 + band))
        near_R = in_group_R & (table.loss_R <= loss_max)
        bands.append(NearOptimalBand(tuple(n for n, k in zip(table.names, near_R) if k), loss_max,
                                     _span(table.lr_R, near_R), _span(table.batch_size_R, near_R)))
    return bands


def fit_group(table: RunsTable, values_R: np.ndarray, in_group_R: np.ndarray, key: float,
               band: NearOptimalBand, neighbours: int) -> HyperparamGroup:
    members = np.flatnonzero(in_group_R)
    value_X, loss_X, best_X = best_per_value(values_R[members], table.loss_R[members])
    i = int(np.argmin(loss_X))
    predicted_X = table.is_predicted()[members[best_X]]
    base = dict(key=float(key), n_runs=len(members), n_values=len(value_X), value_min=float(value_X[0]),
                value_max=float(value_X[-1]), best_run=table.names[members[best_X[i]]],
                best_value=float(value_X[i]), best_loss=float(loss_X[i]), band=band,
                n_predicted=int(predicted_X.sum()), best_predicted=bool(predicted_X[i]))
    if len(value_X) < MIN_VALUES:
        return HyperparamGroup(**base, status="skipped", note=f"{len(value_X)} distinct value(s), needs {MIN_VALUES}")
    lo, hi = parabola_window(i, len(value_X), neighbours)
    logv_X = np.log(value_X)
    parabola = fit_parabola(logv_X[lo:hi], loss_X[lo:hi])
    if not parabola.opens_upward:
        return HyperparamGroup(**base, status="no_curvature", opt_value=float(value_X[i]), opt_loss=float(loss_X[i]),
                               note="the parabola around the best opens downward: the best sampled value stands")
    stderr_X, fallback_X = point_stderrs(table, members[best_X])
    noise = noise_rule_text(bool(fallback_X.any()))
    best = _best_text(value_X, loss_X, copied_values(table.loss_R))
    clipped_here = dict(status="clipped", opt_value=float(value_X[i]), opt_loss=float(loss_X[i]))
    if ucurve_shape(value_X, loss_X, stderr_X)[0] == FLAT:  # as the Findings read the cell
        return HyperparamGroup(**base, **clipped_here, note=(
            f"every value from {value_X[0]:.4g} to {value_X[-1]:.4g} ({value_X[-1] / value_X[0]:.3g}x) is within "
            f"noise of {best} ({noise}): the loss does not depend on it there (FLAT), the optimum is not bracketed"))
    x = parabola.vertex
    tied = int((loss_X == loss_X[i]).sum()) > 1  # the grid's order would pick among equal losses
    if not tied and i in (0, len(value_X) - 1) and logv_X[0] < x < logv_X[-1]:  # nothing seen turns up beyond it
        end = "lowest" if i == 0 else "highest"
        return HyperparamGroup(**base, **clipped_here,
                               note=f"the best sampled value {value_X[i]:.4g} is the grid's {end}: the optimum is not "
                                    f"bracketed (the parabola's vertex {np.exp(x):.4g} is not taken)")
    below, above = (bool(side[0]) for side in bracketed_sides(loss_X, stderr_X))
    if (tied or 0 < i < len(value_X) - 1) and not (below and above):  # an end within noise of the best
        return HyperparamGroup(**base, **clipped_here,
                               note=_not_bracketed(value_X, loss_X, below, above, parabola, best, noise))
    clipped = float(np.clip(x, logv_X[0], logv_X[-1]))
    if clipped != x:  # the grid's end itself (exp(ln 0.03) is 0.029999999999999995)
        end = float(value_X[0] if clipped == logv_X[0] else value_X[-1])
        return HyperparamGroup(**base, status="clipped", opt_value=end,
                               opt_loss=float(parabola(clipped)),
                               note=f"the vertex {np.exp(x):.4g} lies outside the sampled "
                                    f"[{value_X[0]:.4g}, {value_X[-1]:.4g}]: clipped")
    opt_loss = float(parabola(x))
    below_every = bool(lower_by(opt_loss, 0.0, loss_X[i], stderr_X[i]))
    return HyperparamGroup(**base, status="vertex", opt_value=float(np.exp(x)), opt_loss=opt_loss, note=(
        f"the parabola's vertex loss {opt_loss:.4g} is {(loss_X[i] - opt_loss) / loss_X[i]:.1%} below every measured "
        f"loss, more than the noise ({noise}): that depth rests on the parabola's shape, not on a run"
        if below_every else None))


def _best_text(value_X: np.ndarray, loss_X: np.ndarray, copied: np.ndarray) -> str:
    """'the best LOSS at VALUE', or where several values share the best loss to the last digit,
    which ones (the grid's order would otherwise pick one), and whether the table's copied losses
    hold it (sweep/fit/table.py copied_values)."""
    i = int(np.argmin(loss_X))
    tied_X = loss_X == loss_X[i]
    if tied_X.sum() == 1:
        return f"the best {loss_X[i]:.4g} at {value_X[i]:.4g}"
    what = "copies of one loss, see the copied losses" if np.isin(loss_X[i], copied) else "a tie to the last digit"
    return (f"the best {loss_X[i]:.4g}, shared by {' and '.join(f'{v:.4g}' for v in value_X[tied_X])} ({what}; the "
            "grid cannot tell them apart)")


def _not_bracketed(value_X: np.ndarray, loss_X: np.ndarray, below: bool, above: bool, parabola: Parabola,
                   best: str, noise: str) -> str:
    """The note of a U-curve whose best value is inside the grid (or tied with another) while a grid
    end lies within noise of the best (`best`: _best_text; `noise`: noise_rule_text): the optimum
    is not bracketed there, and the vertex is not taken."""
    i = int(np.argmin(loss_X))
    ends = [f"{which} {value_X[k]:.4g} (loss {loss_X[k]:.4g})" for which, k, bracketed
            in (("lowest", 0, below), ("highest", -1, above)) if not bracketed]
    side = "below and above" if not (below or above) else "below" if not below else "above"
    depth = (loss_X[i] - parabola(parabola.vertex)) / loss_X[i]
    where = "level with the best loss" if round(100 * depth, 1) <= 0 else f"{depth:.1%} below the best loss"
    return (f"the grid's {' and '.join(ends)} {'is' if len(ends) == 1 else 'are'} within noise of {best} ({noise}): "
            f"the optimum is not bracketed {side}; the parabola's vertex {np.exp(parabola.vertex):.4g}, {where}, "
            "is not taken")


def point_stderrs(table: RunsTable, runs_X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stderr_X, fallback_X): the standard error of each point of a U-curve, the run runs_X[x]
    standing for it: its eval standard error, or where it has none the fallback share of its loss
    (`fallback_X`, sweep/fit/noise.py); a run stopped early, standing with its predicted loss, at
    least its prediction's interval taken as +- z standard errors, z the normal quantile of the
    interval's level (early_stop.level, as its result.json records it: `interval_z`; 1.96 at 95%,
    about a quarter of the interval)."""
    stderr_R = table.loss_stderr_R if table.loss_stderr_R is not None else np.full(len(table), np.nan)
    fallback_X = ~(np.isfinite(stderr_R[runs_X]) & (stderr_R[runs_X] > 0))
    stderr_X = np.array([stderr_or_fallback(float(table.loss_R[r]), stderr_R[r]) for r in runs_X])
    predicted_X = table.is_predicted()[runs_X]
    if predicted_X.any() and table.interval_Rx2 is not None:
        z_X = np.array([interval_z(level) for level in table.interval_levels()[runs_X]])
        spread_X = (table.interval_Rx2[runs_X, 1] - table.interval_Rx2[runs_X, 0]) / (2 * z_X)
        stderr_X = np.where(predicted_X & np.isfinite(spread_X), np.fmax(stderr_X, spread_X), stderr_X)
    return stderr_X, fallback_X


def interval_z(level: float) -> float:
    """The standard errors each side of a normal interval at `level` (1.96 at 0.95)."""
    return NormalDist().inv_cdf((1 + level) / 2)


def bracketed_sides(loss_KxX: np.ndarray, stderr_X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(below_K, above_K): for each of K U-curves over one grid of X values (a cell's, or its
    redraws), whether the grid brackets the optimum below (above): the best value is not the
    grid's lowest (highest), and that end's loss lies above the best by the noise rule
    (sweep/fit/noise.py lower_by). The one rule for a found optimum: the Findings' shape U
    (`ucurve_shape`) and the status "vertex" (`fit_group`) both need both sides."""
    loss_KxX = np.atleast_2d(loss_KxX)
    best_K = np.argmin(loss_KxX, axis=1)
    best_loss_K, best_stderr_K = loss_KxX[np.arange(len(best_K)), best_K], stderr_X[best_K]
    below_K = (best_K > 0) & lower_by(best_loss_K, best_stderr_K, loss_KxX[:, 0], stderr_X[0])
    above_K = (best_K < loss_KxX.shape[1] - 1) & lower_by(best_loss_K, best_stderr_K, loss_KxX[:, -1], stderr_X[-1])
    return below_K, above_K


def ucurve_shape(value_X: np.ndarray, loss_X: np.ndarray, stderr_X: np.ndarray) -> tuple[str, str | None]:
    """(U | FLAT | EDGE, the side an EDGE grid leaves open: below | above | both). FLAT: every
    value's loss within noise of the best over at least FLAT_SPAN in the value; U: the grid
    brackets the optimum on both sides (`bracketed_sides`); else EDGE."""
    i = int(np.argmin(loss_X))
    b, se = loss_X[i], stderr_X[i]
    if (all(same_within_noise(loss, s, b, se) for loss, s in zip(loss_X, stderr_X))
            and value_X[-1] / value_X[0] >= FLAT_SPAN):
        return FLAT, None
    side = unbracketed_side(loss_X, stderr_X)
    return (U, None) if side is None else (EDGE, side)


def parabola_window(i: int, n: int, neighbours: int) -> tuple[int, int]:
    """[lo, hi): up to `neighbours` values each side of i, widened to at least 3 at an edge."""
    lo, hi = max(0, i - neighbours), min(n, i + neighbours + 1)
    while hi - lo < MIN_VALUES:
        lo, hi = (lo - 1, hi) if hi == n else (lo, hi + 1)
    return lo, hi


def _span(values_R: np.ndarray | None, keep_R: np.ndarray) -> tuple[float, float] | None:
    if values_R is None:
        return None
    kept = values_R[keep_R & np.isfinite(values_R)]
    return (float(kept.min()), float(kept.max())) if len(kept) else None


def _usable(group: HyperparamGroup, include_flagged: bool) -> bool:
    return group.status == "vertex" or (include_flagged and group.status in ("clipped", "no_curvature"))
