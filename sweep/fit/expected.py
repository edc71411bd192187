"""The intervals of L*(C) and N_opt(C) now, and the ones expected after proposed runs.

Now: the fitted law's value at the target compute C with the bootstrap laws' percentile interval.

Expected after: `sweep suggest` chooses its runs by a linear-Gaussian update over the bootstrap
laws (sweep/fit/design.py). Read as a promise, that update was optimistic: replayed on tables drawn
from a known law, the intervals came out about 10% wider than it said, on a public table up to 1.4
(L*) and 1.8 (N_opt) times as wide (benchmarks/RESULTS.md, "The narrowing the criterion
expects"); the choice's own noise among many candidates explained little of it ("Where the
optimism comes from"). So the expectation is measured the way the realised interval will be: the proposed runs are added to the fitted
points at the law's predicted loss x exp(sigma z) (sigma^2 the scatter the criterion assumes,
design.noise_variance; z standard normal), the law is refitted and bootstrapped as the table's own
fit is, and each target's width is the median over `draws` such draws (seeded by the bootstrap's
seed and the number of points). The ratio of that width to the width now narrows the interval now
about its point (`shrunk_interval`). Added without the scatter, the runs pin every resample that
holds them, and the expectation is again optimistic.

Widths: L*'s relative, (hi - lo) / L*; N_opt's in log, ln(hi / lo), as it spans factors (and as
sweep/fit/replay.py reads the realised ones).

Letters: R fitted points, K proposed runs, Q bootstrap laws, Y targets.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit import design
from sweep.fit.law_bootstrap import bootstrap, percentile_interval
from sweep.fit.parametric import fit_law

REFIT, LINEAR = "refit", "linear-Gaussian"  # what an interval expected after the runs was read from


def target_intervals(fit, target_QxY: np.ndarray, target_compute: float, targets: Sequence[str],
                     level: float) -> dict[str, tuple[float, float, float]]:
    """Each target's (the fit's value at C, the bootstrap's percentile interval lo, hi) from the
    bootstrap laws' log values target_QxY (NaN where a law has none)."""
    point = dict(zip(design.TARGETS, design.optimum_at(fit.law, target_compute)))
    now = {}
    for t, log_Q in zip(targets, target_QxY.T):
        values_Q = np.exp(log_Q[np.isfinite(log_Q)])
        lo, hi = percentile_interval(values_Q, level) if len(values_Q) >= 2 else (float("nan"),) * 2
        now[t] = (point[t], lo, hi)
    return now


def interval_width(target: str, point: float, lo: float, hi: float) -> float:
    """L*'s relative width (hi - lo) / point; N_opt's ln(hi / lo); NaN where it cannot be read."""
    with np.errstate(all="ignore"):
        width = (hi - lo) / point if target == "loss" else (math.log(hi / lo) if lo > 0 and hi > 0 else math.nan)
    return float(width) if math.isfinite(width) and width > 0 else math.nan


def refit_width_ratio(law: str, n_params_R: np.ndarray, tokens_R: np.ndarray, loss_R: np.ndarray, fit,
                      now: dict[str, tuple[float, float, float]], n_params_K: np.ndarray, tokens_K: np.ndarray,
                      noise_var: float, *, target_compute: float, resamples: int, seed: int, level: float,
                      draws: int) -> dict[str, float]:
    """Per target of `now`, the median width after the K runs are added (module docstring) over its
    width now; NaN for a target where no draw's refit gives a width (every refit failed, or the width
    now is none)."""
    check_draws(draws)
    targets = tuple(now)
    predicted_K = np.asarray(fit.predict(n_params_K, tokens_K), dtype=np.float64)
    rng = np.random.default_rng([seed, len(n_params_R)])  # another table, another draw of the scatter
    n_all = np.concatenate([n_params_R, n_params_K])
    tokens_all = np.concatenate([tokens_R, tokens_K])
    widths: dict[str, list[float]] = {t: [] for t in targets}
    for _ in range(draws):
        loss_K = predicted_K * np.exp(math.sqrt(noise_var) * rng.standard_normal(len(predicted_K)))
        try:
            refit = fit_law(law, n_all, tokens_all, np.concatenate([loss_R, loss_K]), show_progress=False)
            laws = bootstrap(refit, n_resamples=resamples, seed=seed, level=level, show_progress=False).laws()
        except ConfigError:
            continue
        after = target_intervals(refit, design.target_samples(laws, target_compute, targets), target_compute,
                                 targets, level)
        for t in targets:
            widths[t].append(interval_width(t, *after[t]))
    out = {}
    for t in targets:
        now_width = interval_width(t, *now[t])
        after_W = np.array(widths[t])
        after_W = after_W[np.isfinite(after_W)]
        out[t] = float(np.median(after_W) / now_width) if len(after_W) and math.isfinite(now_width) else math.nan
    return out


def or_linear(refit_ratio: dict[str, float],
              linear_ratio: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """Each target's refit ratio, or the criterion's linear-Gaussian one where no refit gave a width
    (NaN); and which of the two (REFIT, LINEAR) each is."""
    from_ = {t: REFIT if math.isfinite(r) else LINEAR for t, r in refit_ratio.items()}
    return {t: r if from_[t] == REFIT else linear_ratio[t] for t, r in refit_ratio.items()}, from_


def check_draws(draws: int) -> None:
    """conf/fit.yaml's suggest_expect_draws: a whole number >= 1 of refits."""
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ConfigError(f"suggest_expect_draws {draws!r} (conf/fit.yaml): accepted is a whole number >= 1 of refits "
                          "with the proposed runs added (each one more bootstrap)")


def shrunk_interval(point: float, lo: float, hi: float, ratio: float, log_scale: bool) -> tuple[float, float]:
    """The interval [lo, hi] with its width times `ratio` about `point` (in log for a quantity spanning
    factors, N_opt); as it was where either end or the ratio is not a number."""
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(ratio)):
        return lo, hi
    if log_scale and lo > 0 and point > 0:
        return (float(point * (lo / point) ** ratio), float(point * (hi / point) ** ratio))
    return float(point - (point - lo) * ratio), float(point + (hi - point) * ratio)
