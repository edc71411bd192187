"""Choosing the next runs of a scaling study: which (N, T) most sharpen what the fit is asked.

The bootstrap of a parametric fit (sweep/fit/law_bootstrap.py `bootstrap`) gives Q laws that the
runs cannot tell apart. Taken together they are a joint distribution of every quantity the laws
predict: the log loss of each candidate run, and the targets (the log of the compute-optimal loss
L*(C) and of N_opt(C) at a target compute C). Training a candidate m observes its log loss with
the fit's noise sigma^2; treating that distribution as Gaussian with the bootstrap's covariance S
(the ensemble, linear-Gaussian update), observing m shrinks a target t's variance by

    S[t, m]^2 / (S[m, m] + sigma^2)

and the covariance itself by the same rank-one update, so a second candidate is scored against
what the first already tells (a point next to one already chosen adds little). The criterion is
the mean, over the targets, of the fraction of each target's variance removed; an interval's
expected width after the runs is its width now x sqrt(variance after / variance now).

A set is chosen greedily, one run at a time. Given a number of runs and no budget: each time the
candidate that removes the most variance. Given a budget of FLOPs: each time the candidate with the
most variance removed per FLOPs^p among those the budget still affords, p = conf/fit.yaml's
`suggest_cost_exponent` (0.4, the cost discount of Li et al. 2026). p = 1 (the most per FLOP) keeps
to the cheapest runs, p = 0 (the most outright) spends the budget on the largest; replayed on
tables from a known law, p = 0.4 reached a lower held-out error below 20% of the pool's compute
than the earlier rule, the better of those two sets (benchmarks/RESULTS.md). Each bootstrap
column is clipped to its central 95% before the covariance, so a resample whose coefficient ran
off to infinity does not decide.

Letters: Q bootstrap laws, U candidates, Y targets, Z = Y + U their columns together (the targets
first), O points of the optimum's search (RATIOS_O).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.record import training_flops

TARGETS = ("loss", "n_opt")  # what the criterion sharpens: log L*(C), log N_opt(C)
CLIP_PERCENT = 2.5  # each bootstrap column is clipped to its [2.5, 97.5] percentiles
RATIOS_O = np.geomspace(0.05, 2e4, 1201)  # tokens per parameter searched for the optimum at C
MIN_GAIN = 1e-9  # a run removing less of the targets' variance than this tells nothing: a target every law
# agrees on has, after centring, a round-off variance (~1e-30) that would otherwise turn round-off into gains


@dataclass(frozen=True)
class Candidate:
    """A run that could be trained next: its N, tokens, FLOPs (6 N T unless given), a label, and the
    Hydra overrides that train it (empty when the source has no configs, e.g. a table file), applied
    to conf/<config_name>.yaml (`--config-name`)."""

    n_params: float
    tokens: float
    flops: float = 0.0
    label: str = ""
    overrides: tuple[str, ...] = ()
    steps: int | None = None
    config_name: str = "train"

    def __post_init__(self) -> None:
        if not self.flops:
            object.__setattr__(self, "flops", float(training_flops(self.n_params, self.tokens)))

    @property
    def tokens_per_param(self) -> float:
        return self.tokens / self.n_params


@dataclass(frozen=True)
class Choice:
    """A chosen set: `picked` indexes the candidates in the order chosen; `gain` is each pick's
    criterion gain (the mean fraction of the targets' variance it removes, given the picks before
    it); `width_ratio` maps each target to its expected interval width after all the picks over its
    width now; `criterion` says how the set was chosen."""

    picked: tuple[int, ...]
    gain: tuple[float, ...]
    width_ratio: dict[str, float]
    criterion: str
    targets: tuple[str, ...] = TARGETS
    flops: float = 0.0
    variance_now: dict[str, float] = field(default_factory=dict)

    @property
    def total_gain(self) -> float:
        return float(sum(self.gain))


def optimum_at(law, compute: float) -> tuple[float, float]:
    """(L*, N_opt) of a law at compute C = 6 N T: its lowest predicted loss over the tokens per
    parameter in RATIOS_O (N = sqrt(C / (6 r)), T = r N), refined by a parabola in log r."""
    n_O = np.sqrt(compute / (6.0 * RATIOS_O))
    with np.errstate(all="ignore"):
        loss_O = np.asarray(law.predict(n_O, RATIOS_O * n_O), dtype=np.float64)
    loss_O = np.where(np.isfinite(loss_O), loss_O, np.inf)
    k = int(np.argmin(loss_O))
    if not np.isfinite(loss_O[k]):
        return float("nan"), float("nan")
    log_r = np.log(RATIOS_O)
    if 0 < k < len(RATIOS_O) - 1:
        y0, y1, y2 = loss_O[k - 1: k + 2]
        curvature = y0 - 2 * y1 + y2
        if curvature > 0:
            step = 0.5 * (y0 - y2) / curvature  # in units of the grid's spacing
            r = float(np.exp(log_r[k] + step * (log_r[k + 1] - log_r[k])))
            n = float(np.sqrt(compute / (6.0 * r)))
            with np.errstate(all="ignore"):  # a bootstrap law with runaway coefficients: inf, not a warning
                return float(law.predict(np.array([n]), np.array([r * n]))[0]), n
    return float(loss_O[k]), float(n_O[k])


def search_edge_share(n_opt: np.ndarray, compute: float) -> float:
    """The share of N_opt values (one, or a bootstrap's) at an end of the RATIOS_O search: a law with no
    compute-optimal size inside 0.05 .. 2e4 tokens per parameter, its N_opt the search's end."""
    n_opt = np.atleast_1d(np.asarray(n_opt, dtype=float))
    n_opt = n_opt[np.isfinite(n_opt)]
    if not len(n_opt):
        return 0.0
    ratio = compute / (6.0 * n_opt**2)
    return float(((ratio <= RATIOS_O[0] * 1.001) | (ratio >= RATIOS_O[-1] / 1.001)).mean())


def target_samples(laws: Sequence, compute: float, targets: Sequence[str] = TARGETS) -> np.ndarray:
    """(Q, Y) log values of the targets under each law (NaN where a law has no optimum)."""
    check_targets(targets)
    out_QxY = np.empty((len(laws), len(targets)))
    for q, law in enumerate(laws):
        loss, n = optimum_at(law, compute)
        values = {"loss": loss, "n_opt": n}
        with np.errstate(all="ignore"):
            out_QxY[q] = [np.log(values[t]) for t in targets]
    return out_QxY


def candidate_samples(laws: Sequence, candidates: Sequence[Candidate]) -> np.ndarray:
    """(Q, U) log predicted loss of each candidate under each law."""
    n_U = np.array([c.n_params for c in candidates], dtype=np.float64)
    t_U = np.array([c.tokens for c in candidates], dtype=np.float64)
    out_QxU = np.empty((len(laws), len(candidates)))
    for q, law in enumerate(laws):
        with np.errstate(all="ignore"):
            out_QxU[q] = np.log(np.asarray(law.predict(n_U, t_U), dtype=np.float64))
    return out_QxU


def check_targets(targets: Sequence[str]) -> None:
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise ConfigError(f"target {', '.join(map(repr, bad)) or '(none)'}: accepted are {', '.join(TARGETS)} "
                          "(one or both)")


def check_count(count: int | None) -> None:
    """None (no bound) or a whole number >= 1 of runs."""
    if count is not None and (isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1):
        raise ConfigError(f"--count {count!r}: accepted is a whole number >= 1")


def check_budget(budget: float | None, cost_U: Sequence[float]) -> None:
    """None (no bound) or a budget of FLOPs that affords at least the cheapest candidate."""
    cheapest = float(np.min(cost_U))
    if budget is not None and budget < cheapest:
        raise ConfigError(f"--budget {budget:.3g} FLOPs is smaller than the cheapest candidate "
                          f"({cheapest:.3g} FLOPs): accepted is at least that")


def check_candidate_count(n_candidates: int, max_candidates: int) -> None:
    """At most max_candidates runs scored at once: their joint covariance with the targets is a
    (Z, Z) matrix, Z = Y + U, of Z^2 x 8 bytes, copied as the greedy choice updates it."""
    if n_candidates > max_candidates:
        raise ConfigError(f"{n_candidates:,} candidate runs: too many to score at once (their covariance would take "
                          f"{8 * (n_candidates + 2) ** 2 / 2**30:.1f} GiB); accepted: at most {max_candidates:,} "
                          "(suggest_max_candidates in conf/fit.yaml): give fewer values with --candidates")


def clipped_covariance(samples_QxZ: np.ndarray) -> np.ndarray:
    """(Z, Z) covariance of the columns, each clipped to its central 95% (rows with a non-finite
    value left out)."""
    finite_Q = np.isfinite(samples_QxZ).all(axis=1)
    x_QxZ = samples_QxZ[finite_Q]
    if len(x_QxZ) < 3:
        raise ConfigError(f"only {len(x_QxZ)} of {len(samples_QxZ)} bootstrap laws give finite predictions: "
                          "too few to tell which runs would sharpen the fit")
    lo_Z, hi_Z = np.percentile(x_QxZ, [CLIP_PERCENT, 100 - CLIP_PERCENT], axis=0)
    x_QxZ = np.clip(x_QxZ, lo_Z, hi_Z)
    x_QxZ = x_QxZ - x_QxZ.mean(axis=0)
    return x_QxZ.T @ x_QxZ / (len(x_QxZ) - 1)


def check_cost_exponent(cost_exponent: float) -> float:
    """p of the score variance removed / FLOPs^p: a number from 0 (outright) to 1 (per FLOP)."""
    if isinstance(cost_exponent, bool) or not isinstance(cost_exponent, numbers.Real) \
            or not 0 <= cost_exponent <= 1:
        raise ConfigError(f"suggest_cost_exponent {cost_exponent!r} (conf/fit.yaml): accepted is a number from 0 "
                          "(the most variance removed outright) to 1 (the most per FLOP)")
    return float(cost_exponent)


def _count_criterion(count: int, n_candidates: int) -> str:
    """How a set of `count` runs is chosen, said of the runs it can hold: --count 100000 of 12
    candidates was "removed by 100000 runs" above 12 proposals."""
    runs = min(count, n_candidates)
    every = f" (every candidate: --count {count} asks for more than the {n_candidates})" if count > n_candidates else ""
    return f"the most of the targets' variance removed by {runs} run{'s' * (runs != 1)}{every}"


def choose(target_QxY: np.ndarray, candidate_QxU: np.ndarray, cost_U: np.ndarray, noise_var: float, *,
           count: int | None = None, budget: float | None = None,
           targets: Sequence[str] = TARGETS, cost_exponent: float | None = None) -> Choice:
    """The set of candidates (at most `count`, total cost within `budget`; at least one bound) that
    removes the most of the targets' variance, chosen greedily (module docstring); with a budget,
    each pick the most variance removed per FLOPs^cost_exponent (None: conf/fit.yaml's
    suggest_cost_exponent)."""
    if count is None and budget is None:
        raise ConfigError("choose: give a count of runs, a budget of FLOPs, or both")
    check_count(count)
    cost_U = np.asarray(cost_U, dtype=np.float64)
    check_budget(budget, cost_U)
    p = check_cost_exponent(fit_defaults().suggest_cost_exponent if cost_exponent is None else cost_exponent)
    n_targets = target_QxY.shape[1]
    check_candidate_count(candidate_QxU.shape[1], fit_defaults().suggest_max_candidates)
    cov_ZxZ = clipped_covariance(np.concatenate([target_QxY, candidate_QxU], axis=1))
    var0_Y = np.diag(cov_ZxZ)[:n_targets].copy()
    if budget is None:  # `count` runs, whatever they cost
        criterion = _count_criterion(count, candidate_QxU.shape[1])
        picked, gain, var_Y = _greedy(cov_ZxZ, var0_Y, cost_U, noise_var, count, None, cost_exponent=0.0)
    else:
        criterion = f"the most of the targets' variance removed per FLOPs^{p:g}, within the budget"
        picked, gain, var_Y = _greedy(cov_ZxZ, var0_Y, cost_U, noise_var, count, budget, cost_exponent=p)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_Y = np.sqrt(np.where(var0_Y > 0, var_Y / var0_Y, 1.0))
    return Choice(tuple(picked), tuple(gain), {t: float(r) for t, r in zip(targets, ratio_Y)}, criterion,
                  tuple(targets), float(cost_U[list(picked)].sum()) if picked else 0.0,
                  {t: float(v) for t, v in zip(targets, var0_Y)})


def _greedy(cov_ZxZ: np.ndarray, var0_Y: np.ndarray, cost_U: np.ndarray, noise_var: float,
            count: int | None, budget: float | None, cost_exponent: float):
    n_targets = len(var0_Y)
    cov = cov_ZxZ.copy()
    left = np.inf if budget is None else float(budget)
    weight_Y = np.where(var0_Y > 0, 1.0 / np.where(var0_Y > 0, var0_Y, 1.0), 0.0) / n_targets
    picked: list[int] = []
    gains: list[float] = []
    open_U = np.ones(len(cost_U), dtype=bool)
    while count is None or len(picked) < count:
        affordable_U = open_U & (cost_U <= left)
        if not affordable_U.any():
            break
        m_idx = n_targets + np.arange(len(cost_U))
        denom_U = np.diag(cov)[m_idx] + noise_var
        gain_U = (weight_Y[:, None] * cov[:n_targets][:, m_idx] ** 2).sum(axis=0) / denom_U
        score_U = gain_U / cost_U ** cost_exponent
        score_U = np.where(affordable_U, score_U, -np.inf)
        j = int(np.argmax(score_U))
        if not gain_U[j] > MIN_GAIN:
            break
        v = n_targets + j
        cov = cov - np.outer(cov[:, v], cov[v, :]) / (cov[v, v] + noise_var)
        picked.append(j)
        gains.append(float(gain_U[j]))
        open_U[j] = False
        left -= cost_U[j]
    return picked, gains, np.diag(cov)[:n_targets].copy()


def noise_variance(fit, floor: float) -> float:
    """sigma^2 of a new run's log loss about the law: the fit's log residuals' mean square, scaled by
    R / (R - P) for the spread the fit absorbed, at least floor^2."""
    from sweep.fit.parametric import FORMS

    residual_R = np.log(fit.loss_R) - np.log(fit.predict(fit.N_R, fit.tokens_R))
    n_free = FORMS[fit.form].n_params - len(fit.fixed)
    dof = max(len(residual_R) - n_free, 1)
    return max(float(np.sum(residual_R ** 2) / dof), floor ** 2)
