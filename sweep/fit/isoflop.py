"""Chinchilla Approach 2 (IsoFLOP profiles): per compute budget, a parabola of final loss against
log N and its minimum N_opt(C), T_opt(C) = C / (6 N_opt); then N_opt = c_N C^a and
T_opt = c_T C^b fitted by least squares in log space (`d_opt`: T_opt, the published name).

How budgets are formed (`group_budgets`): without explicit budgets, runs sorted by FLOPs are
chained into one budget while their FLOPs stay within `rel_tol` (conf/fit.yaml: 10%) of the budget's
smallest; a budget's C is the geometric mean of its runs' FLOPs. Sizes are grouped the same way,
except that two values of N each shared by several runs and more than 1% apart (a design's sizes:
"(Mis)Fitting Scaling Laws"' 57.2M and 62.1M, 8% apart, each in a learning-rate grid) are never
one size; Epoch's extracted Chinchilla sizes that differ in their 7th digit stay one. With explicit budgets, each run
joins the nearest one (in log C) when within `rel_tol` of it, else it is left out and counted.
Approach 2 needs an IsoFLOP design: several model sizes trained at the same C (tokens chosen per
size so that 6 N T is the same). A sweep at a fixed tokens per parameter (e.g. 20 N) has one N
per budget, and is told so. Where several runs share an N within a budget (a learning-rate grid),
the lowest loss stands for that N; runs differing only in their seed are first averaged into one
(sweep/fit/points.py `setting_table`), so that the least of several seeds does not stand for it.

The window (`isoflop_neighbours`, conf/fit.yaml: k = 3): each budget's parabola is fitted to its
best (lowest-loss) size and k sizes on each side of it, 2k + 1 consecutive sizes, shifted inward at
an edge of the sampled range so that it keeps 2k + 1; a budget of at most 2k + 1 sizes is fitted
whole. Why: at fixed C the loss in x = ln N is E' + A e^(-alpha x) + B' e^(beta x), a parabola only
near its minimum; sizes far from it (a decade away, where a model sees a few tokens per parameter)
pull the vertex towards the side sampled further, and as a design's sizes sit differently around
each budget's optimum, that pull changes with C and biases the exponent (Porian et al. 2024;
benchmarks/isoflop_coverage.py measures it on tables from a known law). A count of sizes rather than a loss margin
around the best: the parabola then always has the same number of points (so the same noise), the
rule does not depend on the noise or on the loss's scale, and it is the rule of the lr / batch laws
(`neighbours`). Where the sizes are dense, 2k + 1 of them can span a factor 2 in N, too little
curvature against the noise (Epoch AI's Chinchilla IsoFLOP data: 7 sizes over 5.9e8 .. 1.14e9 at
3e19, a parabola opening downward): the window is widened one size at a time, on the side nearer
the best in ln N, until it spans `isoflop_min_span` decades (1: on the ladders below 7 sizes span
a decade, and nothing is widened; on ladders 2.5 times as dense it cut the exponent's sd 4-fold
and the budgets excluded from 39 to 0, benchmarks/isoflop_coverage.py --min-span). Each budget
records the sizes it fitted, their N range and the rule in words.
On synthetic ladders of 16 sizes over 2.5 decades at 6 budgets (benchmarks/isoflop_coverage.py,
RESULTS.md) the all-sizes parabola's a was off by -0.015 (sd 0.004), the window's by -0.001;
k = 3 because k = 2 loses budgets at 1% noise (32 of 600 excluded) and k = 4 keeps enough of
the far sizes to under-cover (91% at 95%, N_opt 84%).

Budgets with fewer than `min_sizes` distinct N, whose parabola opens downward, or whose minimum
lies outside the window of sizes fitted (or the sampled N range) are reported with the reason and
left out of the power laws.

The exponent's interval (`n_resamples` > 0): a residual bootstrap of the parabolas, the sizes held
fixed. The design's sizes are chosen, not drawn, and there is usually one run per size, so
resampling runs would drop sizes (the best one in about a third of resamples); instead each
resample multiplies a window's fitted losses by 1 + a relative residual drawn with replacement,
chooses the window again around the resample's best size, refits that parabola (one matrix product
per window position: the design is fixed), takes its vertex and refits the power laws. The
residuals are leverage-adjusted (r / sqrt(1 - h)), centred, relative to the fitted loss and pooled
over the used budgets: a window of 7 sizes leaves 4 degrees of freedom, too few to estimate its
own noise (per-budget residuals covered the true a in 89% of 100 seeds at 95% on the low-noise
table of benchmarks/RESULTS.md, pooled 91%), and a final loss's seed-to-seed noise is about
proportional to it. Percentile intervals of a, b, and N_opt, T_opt at the largest used budget.
Each resample's budget takes the point fit's rule (`accepted_minimum`): where its parabola opens
downward or its vertex lies outside the sizes fitted, that budget is left out of that resample's
power law (`accepted_fraction`), as the point fit leaves it out; keeping such vertices (a nearly
flat parabola's lies decades away) put the lower end of a's interval below 0 in 3 of 10 seeds at
1% noise on an 8-budget table whose point fit was 0.444 +- 0.037. A resample with fewer than 2
accepted budgets gives no value (`valid_fraction`); under min_converged_fraction accepted is
flagged. A window of exactly 3 sizes has no residuals (`budgets_without_residuals`; with none
anywhere the interval has no width).

Also the small pieces the other fits share: `PowerLaw` / `fit_power_law`, `fit_parabola`.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G compute
budgets, U the budgets the power laws use, X distinct values (model sizes), I the points of one
regression, W the sizes of one window, Q bootstrap resamples.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.identify import Flag
from sweep.fit.law_bootstrap import check_bootstrap_args, percentile_interval
from sweep.fit.points import setting_table
from sweep.fit.table import RunsTable, validate
from sweep.jsonable import jsonable
from sweep.record import training_flops

MIN_SIZES = 3
FLOPS_AGREE = 1.05  # the runs' median flops / (6 N T) within this factor: C = 6 N T, as T_opt = C / (6 N_opt) takes
MIN_USED_BUDGETS = 3  # budgets a power law of N_opt(C) is judged over; fewer: flagged (IsoFlopFit.flags)


@dataclass(frozen=True)
class PowerLaw:
    """y = coefficient * x^exponent, fitted as ln y = ln k + e ln x by least squares over
    `n_points`. Standard errors from the regression's residuals (None when n_points = 2);
    `rms_log_residual` is the spread of ln y about the line."""

    coefficient: float
    exponent: float
    exponent_stderr: float
    log_coefficient_stderr: float
    n_points: int
    rms_log_residual: float

    def __call__(self, x: Any) -> Any:
        return self.coefficient * np.asarray(x, dtype=float) ** self.exponent

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def fit_power_law(x_I: Sequence[float], y_I: Sequence[float]) -> PowerLaw:
    """Least squares of ln y on ln x (centred, so the two standard errors are uncorrelated)."""
    logx_I, logy_I = np.log(np.asarray(x_I, dtype=float)), np.log(np.asarray(y_I, dtype=float))
    n = len(logx_I)
    if n < 2 or np.ptp(logx_I) == 0:
        raise ConfigError(f"a power law needs at least 2 points at distinct x; got {n}")
    mean = logx_I.mean()
    dx_I = logx_I - mean
    sxx = float(dx_I @ dx_I)
    exponent = float(dx_I @ (logy_I - logy_I.mean())) / sxx
    intercept = float(logy_I.mean())  # at x = e^mean
    residual_I = logy_I - intercept - exponent * dx_I
    ssr = float(residual_I @ residual_I)
    var = ssr / (n - 2) if n > 2 else float("nan")
    se_exponent = float(np.sqrt(var / sxx))
    se_log_coefficient = float(np.sqrt(var / n + mean**2 * var / sxx))
    return PowerLaw(float(np.exp(intercept - exponent * mean)), exponent, se_exponent, se_log_coefficient, n,
                    float(np.sqrt(ssr / n)))


@dataclass(frozen=True)
class Parabola:
    """y = c2 (x - x0)^2 + c1 (x - x0) + c0, fitted by least squares (x0: the mean of the xs)."""

    c2: float
    c1: float
    c0: float
    x0: float

    @property
    def opens_upward(self) -> bool:
        return self.c2 > 0

    @property
    def vertex(self) -> float:
        return self.x0 - self.c1 / (2 * self.c2)

    def __call__(self, x: Any) -> Any:
        dx = np.asarray(x, dtype=float) - self.x0
        return self.c2 * dx**2 + self.c1 * dx + self.c0


def fit_parabola(x_I: Sequence[float], y_I: Sequence[float]) -> Parabola:
    x_I, y_I = np.asarray(x_I, dtype=float), np.asarray(y_I, dtype=float)
    if len(np.unique(x_I)) < 3:
        raise ConfigError(f"a parabola needs at least 3 distinct x; got {len(np.unique(x_I))}")
    x0 = float(x_I.mean())
    c2, c1, c0 = np.polyfit(x_I - x0, y_I, 2)
    return Parabola(float(c2), float(c1), float(c0), x0)


def group_budgets(flops_R: np.ndarray, rel_tol: float | None = None, budgets: Sequence[float] | None = None,
                  designs_apart: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(budget_G, group_R): the compute budgets and each run's index into them (-1: in none).
    See the module docstring for how budgets are formed; the same grouping serves model sizes
    (pass n_params as `flops_R`). rel_tol None: conf/fit.yaml's budget_tolerance. `designs_apart`
    (sizes: `group_cells`): two values each shared by several runs and more than this apart
    (relative) are never one group, whatever rel_tol."""
    flops_R = np.asarray(flops_R, dtype=float)
    rel_tol = fit_defaults().budget_tolerance if rel_tol is None else rel_tol
    if not (np.isfinite(rel_tol) and 0 <= rel_tol < 1):
        raise ConfigError(f"rel_tol {rel_tol!r}: the relative tolerance within a budget is in [0, 1)")
    if budgets is not None:
        budget_G = np.asarray(budgets, dtype=float)
        if budget_G.ndim != 1 or not len(budget_G) or not (np.isfinite(budget_G) & (budget_G > 0)).all():
            raise ConfigError(f"budgets {list(budgets)!r}: explicit budgets are finite positive numbers")
        nearest_R = np.abs(np.log(flops_R)[:, None] - np.log(budget_G)[None, :]).argmin(axis=1)
        within_R = np.abs(flops_R / budget_G[nearest_R] - 1) <= rel_tol
        return budget_G, np.where(within_R, nearest_R, -1)
    order_R = np.argsort(flops_R, kind="stable")
    group_R = np.empty(len(flops_R), dtype=int)
    value_V, count_V = np.unique(flops_R, return_counts=True)
    recurs = dict(zip(value_V.tolist(), (count_V > 1).tolist()))
    g, first, design = -1, None, None  # design: the group's first value shared by several runs
    for i in order_R:
        value = float(flops_R[i])
        other_design = (designs_apart is not None and recurs[value] and design is not None
                        and value > design * (1 + designs_apart))
        if first is None or value > first * (1 + rel_tol) or other_design:
            g, first, design = g + 1, value, None
        if recurs[value] and design is None:
            design = value
        group_R[i] = g
    budget_G = np.array([np.exp(np.log(flops_R[group_R == k]).mean()) for k in range(g + 1)])
    return budget_G, group_R


def best_per_value(values_R: np.ndarray, loss_R: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value_X, loss_X, index_X): the distinct values in increasing order, the lowest loss at
    each, and which run gave it."""
    value_X = np.unique(values_R)
    index_X = np.array([np.flatnonzero(values_R == v)[np.argmin(loss_R[values_R == v])] for v in value_X])
    return value_X, loss_R[index_X], index_X


@dataclass(frozen=True)
class IsoFlopBudget:
    """One compute budget: its runs, sampled sizes, the window of sizes its parabola was fitted to
    (`n_sizes_fitted` of them, N from `window_n_min` to `window_n_max`, chosen by the rule `window`
    says in words) and the parabola's minimum (None where the budget is excluded; `excluded` then
    says why)."""

    flops: float
    n_runs: int
    n_sizes: int
    n_params_min: float
    n_params_max: float
    n_opt: float | None = None
    d_opt: float | None = None
    loss_opt: float | None = None
    curvature: float | None = None  # d^2 loss / d(ln N)^2 / 2
    excluded: str | None = None
    n_sizes_fitted: int | None = None
    window_n_min: float | None = None
    window_n_max: float | None = None
    window: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


class AllocationExponents:
    """a and b of N_opt ~ C^a, T_opt ~ C^b, for fits holding `n_opt` and `d_opt` power laws."""

    n_opt: PowerLaw
    d_opt: PowerLaw

    @property
    def a(self) -> float:
        return self.n_opt.exponent

    @property
    def b(self) -> float:
        return self.d_opt.exponent


@dataclass(frozen=True)
class IsoFlopBootstrap:
    """Percentile intervals (at `level`, from `n_resamples` residual-bootstrap resamples, `seed`)
    of a, b and of N_opt, T_opt at `compute`, the largest used budget (module docstring)."""

    n_resamples: int
    level: float
    seed: int
    compute: float
    intervals: dict[str, tuple[float, float]]
    valid_fraction: float  # resamples with a power law: 2 or more budgets whose minimum was accepted
    budgets_without_residuals: int  # used budgets fitted to exactly 3 sizes (no spread from them)
    # of the used budgets over the resamples, the share whose parabola gave an accepted minimum (opened
    # upward, vertex within the sizes fitted: `accepted_minimum`); the others are left out of that resample
    accepted_fraction: float = 1.0
    method: str = "residual bootstrap of each budget's parabola (sizes fixed), power laws refitted"
    # the intervals the power law's own scatter widened: the budgets' N_opt lie further off the law
    # than their parabolas' noise explains (widened_by_scatter)
    widened: tuple[str, ...] = ()

    @property
    def no_width(self) -> str | None:
        """Why the intervals have no width (every resample gave the same a), or None where a's has one.
        A report or figure then says "n/a" and why, not an interval [x, x]."""
        lo, hi = self.intervals["a"]
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > 1e-9 * max(1.0, abs(lo)):
            return None
        if self.budgets_without_residuals:
            return (f"{self.budgets_without_residuals} of the used budgets were fitted to exactly 3 sizes, which a "
                    "parabola passes through: no residuals to resample, so every resample gave the same a")
        return "every resample gave the same a"

    def to_dict(self) -> dict[str, Any]:
        return jsonable({**self.__dict__, "intervals": {k: list(v) for k, v in self.intervals.items()},
                         "no_width": self.no_width})


@dataclass(frozen=True)
class IsoFlopFit(AllocationExponents):
    """N_opt = n_opt.coefficient * C^a and T_opt = d_opt.coefficient * C^b (a = n_opt.exponent,
    b = d_opt.exponent = 1 - a, since T_opt = C / (6 N_opt)) over the used budgets; every budget
    is listed, excluded ones with their reason. `neighbours`, `min_span`: the window's k and least
    span in decades of N (module docstring);
    `bootstrap`: the exponents' intervals when asked for."""

    n_opt: PowerLaw
    d_opt: PowerLaw
    budgets: list[IsoFlopBudget]
    rel_tol: float
    runs: int
    runs_outside_budgets: int = 0
    excluded_runs: dict[str, int] = field(default_factory=dict)
    neighbours: int | None = None
    min_span: float | None = None
    bootstrap: IsoFlopBootstrap | None = None
    flops_ratio: tuple[float, float, float] = (1.0, 1.0, 1.0)  # the runs' flops / (6 N T): least, median, most

    @property
    def used(self) -> list[IsoFlopBudget]:
        return [b for b in self.budgets if b.excluded is None]

    def to_dict(self) -> dict[str, Any]:
        out = {"approach": 2, "headline": self.headline(), "a": jsonable(self.a), "a_stderr": jsonable(self.n_opt.exponent_stderr),
               "b": jsonable(self.b), "b_stderr": jsonable(self.d_opt.exponent_stderr),
               "budgets_used": len(self.used), "n_opt": self.n_opt.to_dict(), "d_opt": self.d_opt.to_dict(),
               "budgets": [b.to_dict() for b in self.budgets], "rel_tol": self.rel_tol, "runs": self.runs,
               "runs_outside_budgets": self.runs_outside_budgets, "excluded_runs": dict(self.excluded_runs),
               "neighbours": self.neighbours, "min_span": self.min_span}
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict()
        out["identifiability"] = [flag.to_dict() for flag in self.flags()]
        return out

    def headline(self) -> str:
        """The law in one line: N_opt = c C^a and T_opt = c C^b over the used budgets, with a's and b's
        standard errors; through fewer than MIN_USED_BUDGETS budgets, two digits and what it is, a
        line through that many points and no law judged by its scatter (IsoFlopFit.flags)."""
        n = len(self.used)
        if n < MIN_USED_BUDGETS:
            return (f"from {n} compute budget{'s' if n != 1 else ''} only, a line through {n} point"
                    f"{'s' if n != 1 else ''}, not a law (no scatter to judge it by; {MIN_USED_BUDGETS} or more budgets "
                    f"make one): N_opt ~ {self.n_opt.coefficient:.2g} C^{self.a:.2g}, "
                    f"T_opt ~ {self.d_opt.coefficient:.2g} C^{self.b:.2g}")
        return (f"N_opt = {self.n_opt.coefficient:.4g} C^a with a = {self.a:.4g} +- {self.n_opt.exponent_stderr:.2g}; "
                f"T_opt = {self.d_opt.coefficient:.4g} C^b with b = {self.b:.4g} +- {self.d_opt.exponent_stderr:.2g} "
                f"over {n} budgets")

    def flags(self) -> list[Flag]:
        """What the budgets cannot pin down, as the parametric fits' flags: a power law through fewer
        than MIN_USED_BUDGETS budgets (2: a = 0.27 in [-3.42, 0.44] for the truth's 0.45, with nothing
        said)."""
        flags = []
        if len(self.used) < MIN_USED_BUDGETS:
            left = [f"C = {b.flops:.3g}: {b.excluded}" for b in self.budgets if b.excluded is not None]
            flags.append(Flag("a", f"N_opt(C) is a power law through {len(self.used)} compute budget(s) (of "
                                   f"{len(self.budgets)}" + (f"; left out: {'; '.join(left)}" if left else "")
                              + "): no scatter to judge it by, its exponent and interval rest on the parabolas alone",
                              f"at least {MIN_USED_BUDGETS} compute budgets, each with sizes on both sides of its "
                              "best"))
        boot = self.bootstrap
        minimum = fit_defaults().min_converged_fraction
        if boot is not None and min(boot.accepted_fraction, boot.valid_fraction) < minimum:
            flags.append(Flag("a", f"of the used budgets' parabolas over {boot.n_resamples} bootstrap resamples, only "
                                   f"{boot.accepted_fraction:.0%} gave a minimum within their sizes (below "
                                   f"{minimum:.0%}; the others opened downward or had their vertex outside, and were left "
                                   f"out of that resample" + (f"; {1 - boot.valid_fraction:.0%} of resamples kept fewer "
                                   "than 2 budgets" if boot.valid_fraction < 1 else "")
                              + "): the parabolas are barely curved against the noise, the intervals are rough",
                              "more sizes on both sides of each budget's best, or sizes spanning a wider range of N, or "
                              "repeated seeds per size"))
        low, median, high = self.flops_ratio
        if not 1 / FLOPS_AGREE <= median <= FLOPS_AGREE:  # a nominal budget's few % either way is no matter
            flags.append(Flag("b", f"the runs' flops are {low:.3g} .. {high:.3g} x 6 N T (median {median:.3g}): T_opt = C / (6 N_opt) and "
                                   "b = 1 - a assume C = 6 N T, so T_opt is off by that factor and b with it (N "
                                   "counted otherwise than the flops were, as --column n_params=n_params_nonembedding "
                                   "beside a flops column of the total N)",
                              "N and flops of one count: the N the flops were computed from, or no flops column "
                              "(then C = 6 N T)"))
        return flags


def fit_isoflop(table: RunsTable, rel_tol: float | None = None, budgets: Sequence[float] | None = None,
                min_sizes: int = MIN_SIZES, neighbours: int | None = None, n_resamples: int | None = 0,
                level: float | None = None, seed: int | None = None, min_span: float | None = None) -> IsoFlopFit:
    """Approach 2 on the table's complete runs. rel_tol, neighbours, min_span None: conf/fit.yaml's
    budget_tolerance, isoflop_neighbours, isoflop_min_span. n_resamples 0: no intervals; K >= 2: a
    bootstrap of K resamples, its intervals widened to the power law's own scatter where that is
    wider (widened_by_scatter); None (like level, seed None): conf/fit.yaml's. ConfigError when
    fewer than 2 budgets are usable."""
    defaults = fit_defaults()
    rel_tol = defaults.budget_tolerance if rel_tol is None else rel_tol
    neighbours = defaults.isoflop_neighbours if neighbours is None else neighbours
    min_span = defaults.isoflop_min_span if min_span is None else min_span
    if isinstance(min_span, bool) or not isinstance(min_span, (int, float)) or not 0 <= min_span < 10:
        raise ConfigError(f"isoflop_min_span {min_span!r}: accepted is a number of decades of N, 0 .. 10 (0: the "
                          "window is the best size and isoflop_neighbours each side, however close they lie)")
    if min_sizes < 3:
        raise ConfigError(f"min_sizes {min_sizes!r}: a parabola needs at least 3 model sizes per budget")
    if not isinstance(neighbours, (int, np.integer)) or isinstance(neighbours, bool) or neighbours < 1:
        raise ConfigError(f"isoflop_neighbours {neighbours!r}: accepted is a whole number >= 1 (the sizes "
                          "on each side of a budget's best that its parabola takes)")
    if n_resamples != 0:
        n_resamples, level, seed = defaults.resolve_bootstrap(n_resamples, level, seed)
        check_bootstrap_args(n_resamples, level)
    n_runs = len(validate(table, 2 * min_sizes, "Approach 2 (IsoFLOP parabolas)"))
    table = setting_table(table)
    budget_G, group_R = group_budgets(table.flops_R, rel_tol, budgets)
    fitted = [_fit_budget(C, table.n_params_R[group_R == g], table.loss_R[group_R == g], min_sizes, neighbours,
                          min_span) for g, C in enumerate(budget_G) if (group_R == g).any()]
    fits = [b for b, _ in fitted]
    used = [b for b in fits if b.excluded is None]
    if len(used) < 2:
        raise ConfigError(_too_few_budgets(fits, min_sizes))
    flops_U = [b.flops for b in used]
    ratio_R = table.flops_R / training_flops(table.n_params_R, table.tokens_R)
    result = IsoFlopFit(fit_power_law(flops_U, [b.n_opt for b in used]),
                        fit_power_law(flops_U, [b.d_opt for b in used]),
                        fits, rel_tol, n_runs, int((group_R < 0).sum()), dict(table.excluded), int(neighbours),
                        float(min_span), flops_ratio=(float(ratio_R.min()), float(np.median(ratio_R)), float(ratio_R.max())))
    if not n_resamples:
        return result
    profiles = [w for b, w in fitted if b.excluded is None]
    boot = bootstrap_isoflop(np.array(flops_U), profiles, neighbours, n_resamples, level, seed, min_span)
    return replace(result, bootstrap=widened_by_scatter(boot, np.array(flops_U), np.array([b.n_opt for b in used])))


def widened_by_scatter(boot: IsoFlopBootstrap, flops_U: np.ndarray, n_opt_U: np.ndarray) -> IsoFlopBootstrap:
    """The bootstrap's intervals, each widened to the least-squares t interval of the power law
    ln N_opt = ln k + a ln C over the U used budgets where that is wider. The bootstrap resamples
    the noise within each budget's parabola; budgets whose optima scatter about the law by more
    than that (a misfit of the power law, or noise shared by a budget's runs) are seen only in the
    law's residuals (Llama 3's IsoFLOP runs: residual bootstrap a +-0.012, the law's t interval
    +-0.049). U = 2 leaves no residual: the bootstrap's intervals stand."""
    dof = len(flops_U) - 2
    if dof < 1:
        return boot
    logc_U, logn_U = np.log(flops_U), np.log(n_opt_U)
    dc_U = logc_U - logc_U.mean()
    sxx = float(dc_U @ dc_U)
    a = float(dc_U @ (logn_U - logn_U.mean())) / sxx
    residual_U = logn_U - logn_U.mean() - a * dc_U
    scale = float(np.sqrt(residual_U @ residual_U / dof))
    t = t_quantile(boot.level, dof)
    at_max = float(np.log(boot.compute) - logc_U.mean())
    logn_max = float(logn_U.mean() + a * at_max)
    half_a, half_logn = t * scale / np.sqrt(sxx), t * scale * np.sqrt(1 / len(flops_U) + at_max**2 / sxx)
    n_lo, n_hi = np.exp(logn_max - half_logn), np.exp(logn_max + half_logn)
    law = {"a": (a - half_a, a + half_a), "b": (1 - a - half_a, 1 - a + half_a), "n_opt": (n_lo, n_hi),
           "d_opt": (boot.compute / training_flops(n_hi, 1.0), boot.compute / training_flops(n_lo, 1.0))}
    intervals, widened = dict(boot.intervals), []
    for name, (lo, hi) in law.items():
        now_lo, now_hi = intervals[name]
        if not (np.isfinite(now_lo) and np.isfinite(now_hi)) or lo < now_lo or hi > now_hi:
            intervals[name] = (float(np.nanmin([lo, now_lo])), float(np.nanmax([hi, now_hi])))
            widened.append(name)
    return replace(boot, intervals=intervals, widened=tuple(widened))


def t_quantile(level: float, dof: int) -> float:
    """The two-sided `level` quantile of Student's t with `dof` degrees of freedom (200,000 seeded
    draws: about 0.3% off; numpy has no t quantile and the library does not depend on scipy)."""
    return float(np.quantile(np.abs(np.random.default_rng(0).standard_t(dof, 200_000)), level))


def size_window(best: int, logn_X: np.ndarray, neighbours: int, min_span: float = 0.0) -> tuple[int, int]:
    """[lo, hi) of the sizes ln N_X (increasing): the best size and `neighbours` on each side,
    2 neighbours + 1 consecutive sizes shifted inward at an edge, then widened one size at a time
    (on the side nearer the best in ln N, where there is one) until they span at least `min_span`
    decades of N; all the sizes when there are at most 2 neighbours + 1."""
    n, width = len(logn_X), 2 * neighbours + 1
    if n <= width:
        return 0, n
    lo = min(max(best - neighbours, 0), n - width)
    hi = lo + width
    while logn_X[hi - 1] - logn_X[lo] < min_span * np.log(10) * (1 - 1e-9) and (lo > 0 or hi < n):
        nearer_below = logn_X[best] - logn_X[lo] <= logn_X[hi - 1] - logn_X[best]
        if lo > 0 and (nearer_below or hi == n):
            lo -= 1
        else:
            hi += 1
    return lo, hi


def _fit_budget(C: float, n_params_R: np.ndarray, loss_R: np.ndarray, min_sizes: int,
                neighbours: int, min_span: float) -> tuple[IsoFlopBudget, BudgetProfile | None]:
    """The budget and its profile (None when it has too few sizes)."""
    n_X, loss_X, _ = best_per_value(n_params_R, loss_R)
    base = dict(flops=float(C), n_runs=len(n_params_R), n_sizes=len(n_X), n_params_min=float(n_X[0]),
                n_params_max=float(n_X[-1]))
    if len(n_X) < min_sizes:
        return IsoFlopBudget(**base, excluded=f"{len(n_X)} model size(s), needs {min_sizes}"), None
    width = 2 * neighbours + 1
    lo, hi = size_window(int(np.argmin(loss_X)), np.log(n_X), neighbours, min_span)
    if len(n_X) <= width:
        rule = f"all {len(n_X)} sizes (at most 2 x {neighbours} + 1)"
    elif hi - lo > width:
        rule = (f"the best size and {neighbours} each side, widened to span {min_span:g} "
                f"decade{'' if min_span == 1 else 's'} of N: {hi - lo} of {len(n_X)} sizes")
    else:
        rule = (f"the best size and {neighbours} each side: {hi - lo} of {len(n_X)} sizes"
                + (" (shifted at an edge)" if loss_X[lo:hi].argmin() != neighbours else ""))
    base.update(n_sizes_fitted=hi - lo, window_n_min=float(n_X[lo]), window_n_max=float(n_X[hi - 1]), window=rule)
    profile = BudgetProfile(np.log(n_X), loss_X, lo, hi)
    logn_W, loss_W = profile.logn_X[lo:hi], loss_X[lo:hi]
    parabola = fit_parabola(logn_W, loss_W)
    if not parabola.opens_upward:
        return IsoFlopBudget(**base, curvature=parabola.c2,
                             excluded="the parabola opens downward (no minimum)"), profile
    logn_opt = parabola.vertex
    if not accepted_minimum(parabola.c2, logn_opt, logn_W):
        where = (f"the sampled range [{n_X[0]:.4g}, {n_X[-1]:.4g}]"
                 if not np.log(n_X[0]) <= logn_opt <= np.log(n_X[-1]) else
                 f"the {hi - lo} sizes fitted around the best, [{n_X[lo]:.4g}, {n_X[hi - 1]:.4g}]")
        return IsoFlopBudget(**base, n_opt=float(np.exp(logn_opt)), curvature=parabola.c2,
                             excluded=f"the minimum N = {np.exp(logn_opt):.4g} lies outside {where}"), profile
    n_opt = float(np.exp(logn_opt))
    t_opt = float(C / training_flops(n_opt, 1.0))
    return (IsoFlopBudget(**base, n_opt=n_opt, d_opt=t_opt, loss_opt=float(parabola(logn_opt)), curvature=parabola.c2),
            profile)


def accepted_minimum(c2: Any, logn_opt: Any, logn_W: np.ndarray) -> Any:
    """Whether a budget's parabola gives its N_opt: it opens upward (c2 > 0) and its vertex ln N_opt
    lies within the window of sizes fitted, ln N_W (increasing). The one rule of the point fit
    (`_fit_budget`, which says which part failed) and of each bootstrap resample; elementwise over
    arrays of c2 and ln N_opt."""
    with np.errstate(invalid="ignore"):
        return (np.asarray(c2) > 0) & (logn_W[0] <= np.asarray(logn_opt)) & (np.asarray(logn_opt) <= logn_W[-1])


@dataclass(frozen=True)
class BudgetProfile:
    """One budget's best loss at each size (ln N_X increasing, loss_X) and its window [lo, hi)."""

    logn_X: np.ndarray
    loss_X: np.ndarray
    lo: int
    hi: int


def bootstrap_isoflop(flops_U: np.ndarray, profiles: Sequence[BudgetProfile], neighbours: int, n_resamples: int,
                      level: float, seed: int, min_span: float = 0.0) -> IsoFlopBootstrap:
    """The residual bootstrap of the module docstring over the used budgets' profiles: per
    resample and budget, the window's fitted losses times (1 + a relative residual drawn from all
    used windows'), the window chosen again around the resample's best size (so its choice varies
    as it would with the noise), the parabola refitted; then the power laws."""
    rng = np.random.default_rng(seed)
    logn_opt_QxU = np.empty((n_resamples, len(profiles)))
    fits = [_parabola_residuals(p.logn_X[p.lo:p.hi], p.loss_X[p.lo:p.hi]) for p in profiles]
    without_residuals = sum(not adjusted_W.any() for _, adjusted_W in fits)
    pooled_I = np.concatenate([adjusted_W / fitted_W for fitted_W, adjusted_W in fits if adjusted_W.any()]
                              or [np.zeros(1)])  # relative residuals of every budget's window
    for u, (p, (fitted_W, _)) in enumerate(zip(profiles, fits)):
        draw_QxW = rng.integers(len(pooled_I), size=(n_resamples, len(fitted_W)))
        loss_QxX = np.tile(p.loss_X, (n_resamples, 1))
        loss_QxX[:, p.lo:p.hi] = fitted_W * (1 + pooled_I[draw_QxW])
        best_Q = loss_QxX.argmin(axis=1)
        for best in np.unique(best_Q):
            rows = best_Q == best
            lo, hi = size_window(int(best), p.logn_X, neighbours, min_span)
            logn_W = p.logn_X[lo:hi]
            solve_3xW = np.linalg.pinv(_parabola_design(logn_W))
            coef_Qx3 = loss_QxX[rows, lo:hi] @ solve_3xW.T
            c2_Q, c1_Q = coef_Qx3[:, 0], coef_Qx3[:, 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                vertex_Q = logn_W.mean() - c1_Q / (2 * c2_Q)
            logn_opt_QxU[rows, u] = np.where(accepted_minimum(c2_Q, vertex_Q, logn_W), vertex_Q, np.nan)
    compute = float(np.max(flops_U))
    a_Q, logn_max_Q = _power_laws_of_resamples(np.log(flops_U), logn_opt_QxU, np.log(compute))
    with np.errstate(over="ignore", divide="ignore"):
        n_opt_Q = np.exp(logn_max_Q)
        samples = {"a": a_Q, "b": 1 - a_Q, "n_opt": n_opt_Q, "d_opt": compute / training_flops(n_opt_Q, 1.0)}
    return IsoFlopBootstrap(n_resamples, float(level), int(seed), compute,
                            {k: percentile_interval(v_Q, level) for k, v_Q in samples.items()},
                            float(np.isfinite(a_Q).mean()), int(without_residuals),
                            accepted_fraction=float(np.isfinite(logn_opt_QxU).mean()))


def _power_laws_of_resamples(logc_U: np.ndarray, logn_opt_QxU: np.ndarray,
                             logc_max: float) -> tuple[np.ndarray, np.ndarray]:
    """(a_Q, ln N_opt at logc_max per resample): ln N_opt = ln k + a ln C fitted per resample over
    the budgets whose minimum it accepted (finite ln N_opt), as the point fit leaves a budget out;
    NaN where fewer than 2 were accepted."""
    used_QxU = np.isfinite(logn_opt_QxU)
    count_Q = used_QxU.sum(axis=1)
    y_QxU = np.where(used_QxU, logn_opt_QxU, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cbar_Q = (used_QxU * logc_U).sum(axis=1) / count_Q
        ybar_Q = y_QxU.sum(axis=1) / count_Q
        dc_QxU = np.where(used_QxU, logc_U - cbar_Q[:, None], 0.0)
        a_Q = (dc_QxU * (y_QxU - ybar_Q[:, None])).sum(axis=1) / (dc_QxU**2).sum(axis=1)
    a_Q = np.where(count_Q >= 2, a_Q, np.nan)
    return a_Q, ybar_Q + a_Q * (logc_max - cbar_Q)


def _parabola_design(logn_W: np.ndarray) -> np.ndarray:
    """The least-squares design (dx^2, dx, 1) of a parabola in dx = ln N - mean ln N."""
    dx_W = logn_W - logn_W.mean()
    return np.stack([dx_W**2, dx_W, np.ones_like(dx_W)], axis=1)


def _parabola_residuals(logn_W: np.ndarray, loss_W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fitted_W, adjusted_W): the parabola's fitted losses and its residuals r / sqrt(1 - h)
    (h: leverage), centred; all 0 where the parabola passes through every point (3 sizes)."""
    design_Wx3 = _parabola_design(logn_W)
    solve_3xW = np.linalg.pinv(design_Wx3)
    fitted_W = design_Wx3 @ (solve_3xW @ loss_W)
    spare_W = 1 - np.einsum("wk,kw->w", design_Wx3, solve_3xW)
    if not (spare_W > 1e-9).any():
        return fitted_W, np.zeros_like(fitted_W)
    adjusted_W = (loss_W - fitted_W) / np.sqrt(np.maximum(spare_W, 1e-9))
    return fitted_W, adjusted_W - adjusted_W.mean()


def _too_few_budgets(fits: list[IsoFlopBudget], min_sizes: int) -> str:
    lines = "; ".join(f"C={b.flops:.3g}: {b.excluded or 'usable'}" for b in fits)
    message = (f"Approach 2 needs at least 2 usable compute budgets; "
               f"{sum(b.excluded is None for b in fits)} of {len(fits)} are ({lines})")
    if all(b.n_sizes < min_sizes for b in fits):
        message += (f". Approach 2 needs an IsoFLOP design: at least {min_sizes} model sizes trained at the same "
                    "compute (tokens chosen per size so that 6 N T is the same); a sweep over sizes at set tokens per "
                    "parameter has one or two sizes per budget (Approach 3, the parametric fit, takes runs of any "
                    "design, but to set N_opt it too needs runs at 2 or more tokens per parameter)")
    return message
