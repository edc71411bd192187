"""The bootstrap of a parametric law fit (sweep/fit/parametric.py): percentile intervals of its
parameters and of what they imply (a, b, G, N_opt, T_opt, tokens per parameter at a compute C).

Resample counts are per-run weights (case), or the fit's own log residuals drawn onto its
predictions (residual), so all resamples are batched L-BFGS problems, started from the full-data
optimum, the grid's other distinct local optima and a small grid scaled to the runs, each keeping
its best end point; in chunks, to show progress between them.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; P a law's
parameters (theta), O distinct local optima, K starts of the resample grid, Q resamples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.parametric import (CHINCHILLA, FORMS, MAX_EXTRA_OPTIMA, PROGRESS_DELAY_S, ChinchillaLaw, LawFit, LogRuns,
                                  allocation_constant, held_mask, hold, minimize_form, params_times_tokens)
from sweep.progress import progress

# a bootstrap runs its resamples in up to BOOTSTRAP_CHUNKS batched calls, to show progress between
# them, each of at least MIN_CHUNK_PROBLEMS problems (resamples x starts: a call costs its slowest
# problem's iterations, whatever its width); the cost is measured in benchmarks/fit_time.py
BOOTSTRAP_CHUNKS = 20
MIN_CHUNK_PROBLEMS = 2_000


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile intervals over resamples of the runs (drawn with replacement, seeded)."""

    fit: LawFit
    n_resamples: int
    level: float
    seed: int
    compute: float | None  # C at which tokens_per_param, n_opt, d_opt are reported
    n_starts_per_resample: int
    converged_fraction: float
    intervals: dict[str, tuple[float, float]]
    samples: dict[str, np.ndarray] = field(repr=False)  # name -> n_resamples values
    theta_QxP: np.ndarray = field(repr=False)
    # fraction of resamples with each parameter at a bound (E at 0, an exponent at 0, A or B
    # running off to infinity; thresholds in conf/fit.yaml); only parameters with some are listed
    at_bound: dict[str, float] = field(default_factory=dict)
    method: str = "case"  # case | residual (see bootstrap_thetas)

    def laws(self) -> list:
        form = FORMS[self.fit.form]
        return [form.law_of(theta_P) for theta_P in self.theta_QxP]

    def summary(self) -> str:
        at = f" (n_opt, d_opt, tokens_per_param at C={self.compute:.3g})" if self.compute else ""
        lines = [f"{self.level:.0%} intervals from {self.n_resamples} resamples (seed "
                 f"{self.seed}, {self.converged_fraction:.0%} converged){at}:"]
        point = {**self.fit.params(), **_derived(self.fit.law, self.compute)}
        for name, (lo, hi) in self.intervals.items():
            lines.append(f"  {name:>16} {point.get(name, float('nan')):.4g}  [{lo:.4g}, {hi:.4g}]")
        return "\n".join(lines)


def _derived(law, compute: float | None) -> dict[str, float]:
    if not isinstance(law, ChinchillaLaw):
        return {}
    out = {"a": law.a, "b": law.b, "G": law.G}
    if compute is not None:
        out.update(n_opt=float(law.n_opt(compute)), d_opt=float(law.d_opt(compute)),
                   tokens_per_param=float(law.tokens_per_param(compute)))
    return out


def resample_weights(n_runs: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap resamples as counts: row b says how often each run was drawn (sums to R)."""
    return rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=n_resamples).astype(float)


def resample_start_grid(fit: LawFit) -> np.ndarray:
    """K starts every resample tries besides the grid's optima (K = 36 by conf/fit.yaml), scaled
    to the runs: E at each of `resample_e_fractions` x the lowest loss (the smallest puts E
    near its bound 0, so a resample whose best fit has no floor finds it), alpha and beta each
    in `resample_exponents`, and A, B such that each term is half the mean loss above E at the
    runs' geometric centre. Sub-scaling: k_D = k_N = 1e-2 and R_D, R_N taken as 1.5. Held
    parameters are set to their values (duplicates dropped)."""
    form = FORMS[fit.form]
    defaults = fit_defaults()
    lowest, mean = float(np.min(fit.loss_R)), float(np.mean(fit.loss_R))
    log_n, log_t = float(np.mean(np.log(fit.N_R))), float(np.mean(np.log(fit.tokens_R)))
    rows = []
    for fraction, alpha, beta in itertools.product(defaults.resample_e_fractions,
                                                   defaults.resample_exponents, defaults.resample_exponents):
        E = fraction * lowest
        log_half = np.log(max(mean - E, 0.05 * mean) / 2)
        if form is CHINCHILLA:  # A with N, B with T
            rows.append((log_half + alpha * log_n, log_half + beta * log_t, np.log(E), alpha, beta))
        else:  # A with T, B with N, each times R = 1.5
            log_k = np.log(1e-2)
            rows.append((log_half - np.log(1.5) + alpha * log_t, log_half - np.log(1.5) + beta * log_n,
                         np.log(E), alpha, beta, log_k, log_k))
    return hold(form, np.array(rows, dtype=np.float64), fit.fixed)


BOOTSTRAP_METHODS = ("case", "residual")


def bootstrap_thetas(fit: LawFit, n_resamples: int, rng: np.random.Generator,
                     n_extra_starts: int = MAX_EXTRA_OPTIMA, grid_starts: bool = True,
                     method: str | None = None, chunks: int = BOOTSTRAP_CHUNKS, show_progress: bool = True):
    """theta_QxP, f_Q, converged_Q of every resample, and the starts per resample.

    method (None: conf/fit.yaml's bootstrap_method):
        case      runs drawn with replacement (counts as weights); at or above the nominal
                  coverage on tables from a known law (benchmarks/RESULTS.md)
        residual  the runs stay where the sweep put them (a grid is designed, not drawn); each
                  resample adds to the fit's log prediction of every run a log residual drawn
                  with replacement from the fit's own, centred and scaled by sqrt(R / (R - P))
                  (P the free parameters) for the spread the fit absorbed; a little under the
                  nominal coverage on a 12-run grid
    Batched L-BFGS calls (Q x starts problems, in up to `chunks` calls of at least
    MIN_CHUNK_PROBLEMS problems each, for a progress bar): each resample starts from the full-data
    optimum, from up to n_extra_starts other local optima of the grid fit that are different
    fits with an objective within OPTIMUM_SLACK x the best, and (grid_starts) from the K starts
    of `resample_start_grid`; its best end point is kept. Starting only from the full-data
    optimum gave a fit pinned at a bound (E -> 0) a zero-width interval: every resample stayed
    in the basin it started in. Held parameters (fit.fixed) stay held."""
    method = check_bootstrap_method(fit_defaults().bootstrap_method if method is None else method)
    form = FORMS[fit.form]
    starts_OxP = fit.optima_OxP[: 1 + n_extra_starts]
    if grid_starts:
        starts_OxP = np.concatenate([starts_OxP, resample_start_grid(fit)])
    k = len(starts_OxP)
    runs = LogRuns.of(fit.N_R, fit.tokens_R, fit.loss_R)
    log_loss_QxR = None
    if method == "case":
        w_QxR = resample_weights(fit.n_runs, n_resamples, rng) * fit.weights_R
    else:
        w_QxR = np.broadcast_to(fit.weights_R, (n_resamples, fit.n_runs))
        log_loss_QxR = residual_resamples(fit, n_resamples, rng)
    theta_QxP = np.empty((n_resamples, starts_OxP.shape[1]))
    f_Q, converged_Q = np.empty(n_resamples), np.empty(n_resamples, dtype=bool)
    size = max(-(-n_resamples // max(1, chunks)), -(-MIN_CHUNK_PROBLEMS // k))
    with progress(n_resamples, f"bootstrap of the {fit.form} fit", unit="resamples", enabled=show_progress,
                  delay_s=PROGRESS_DELAY_S) as bar:
        for lo in range(0, n_resamples, size):  # one batched call per chunk: the draws and starts of one call
            q = slice(lo, min(lo + size, n_resamples))
            n = q.stop - q.start
            result = minimize_form(form, runs, np.tile(starts_OxP, (n, 1)), np.repeat(w_QxR[q], k, axis=0),
                                   held_mask(form, fit.fixed),
                                   None if log_loss_QxR is None else np.repeat(log_loss_QxR[q], k, axis=0))
            f_QxO = np.where(np.isfinite(result.f_S), result.f_S, np.inf).reshape(n, k)
            best_Q = np.arange(n) * k + np.argmin(f_QxO, axis=1)
            theta_QxP[q], f_Q[q], converged_Q[q] = result.x_SxP[best_Q], result.f_S[best_Q], result.converged_S[best_Q]
            bar.advance(n)
    return theta_QxP, f_Q, converged_Q, k


def residual_resamples(fit: LawFit, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """log_loss_QxR: the fit's log prediction of each run plus a log residual drawn with
    replacement from the fit's residuals (of the runs with weight > 0), centred and scaled by
    sqrt(R / (R - P)), P the law's free (not held) parameters."""
    log_pred_R = np.log(fit.predict(fit.N_R, fit.tokens_R))
    kept_R = fit.weights_R > 0
    residual_K = (np.log(fit.loss_R) - log_pred_R)[kept_R]
    n_free = FORMS[fit.form].n_params - len(fit.fixed)
    scale = np.sqrt(len(residual_K) / max(len(residual_K) - n_free, 1))
    residual_K = (residual_K - residual_K.mean()) * scale
    return log_pred_R + residual_K[rng.integers(0, len(residual_K), size=(n_resamples, fit.n_runs))]


def check_bootstrap_method(method: str) -> str:
    if method not in BOOTSTRAP_METHODS:
        raise ConfigError(f"bootstrap method {method!r}: accepted are {', '.join(BOOTSTRAP_METHODS)}")
    return method


def bound_fractions(fit: LawFit, theta_QxP: np.ndarray) -> dict[str, float]:
    """Fraction of rows of theta_QxP with each parameter at a bound (conf/fit.yaml): E below
    e_floor_fraction x the lowest loss (its bound 0), alpha or beta below exponent_floor (0),
    log A or log B above log_coefficient_max (infinity). Held parameters and those with no row at
    a bound are left out."""
    d = fit_defaults()
    names = FORMS[fit.form].theta_names
    column = {name: theta_QxP[:, names.index(name)] for name in ("log_E", "alpha", "beta", "log_A", "log_B")}
    at_Q = {"E": column["log_E"] < np.log(d.e_floor_fraction * float(np.min(fit.loss_R))),
            "alpha": column["alpha"] < d.exponent_floor, "beta": column["beta"] < d.exponent_floor,
            "A": column["log_A"] > d.log_coefficient_max, "B": column["log_B"] > d.log_coefficient_max}
    return {name: float(v_Q.mean()) for name, v_Q in at_Q.items() if v_Q.any() and name not in fit.fixed}


def bootstrap(fit: LawFit, *, n_resamples: int | None = None, level: float | None = None,
              seed: int | None = None, compute: float | None = None,
              n_extra_starts: int = MAX_EXTRA_OPTIMA, grid_starts: bool = True,
              method: str | None = None, show_progress: bool = True) -> BootstrapResult:
    """Percentile intervals for every parameter of `fit`'s law and, for a Chinchilla law, for
    its exponents a, b, G and (given `compute`) tokens_per_param, n_opt, d_opt at that C.
    n_resamples, level, seed, method (residual | case, see bootstrap_thetas) None: conf/fit.yaml's.
    Honest at the bound: a resample whose E is
    below conf's e_floor_fraction x the lowest loss counts as E = 0, so when enough resamples
    lose the floor E's interval starts at 0 (not at 1e-31); `at_bound` says how many did.
    show_progress: a bar (plain lines off a terminal) once it has taken PROGRESS_DELAY_S."""
    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)
    check_bootstrap_args(n_resamples, level)
    if compute is not None and (fit.form != "chinchilla" or not compute > 0):
        raise ConfigError(f"compute={compute!r}: tokens per parameter need a Chinchilla fit and "
                          f"a compute > 0 (FLOPs)")
    method = check_bootstrap_method(fit_defaults().bootstrap_method if method is None else method)
    theta_QxP, _, converged_Q, k = bootstrap_thetas(fit, n_resamples, np.random.default_rng(seed),
                                                    n_extra_starts, grid_starts, method,
                                                    show_progress=show_progress)
    samples = law_samples(fit.form, theta_QxP, compute)
    at_bound = bound_fractions(fit, theta_QxP)
    if "E" in at_bound:  # E below the floor is E at its bound 0
        floor = fit_defaults().e_floor_fraction * float(np.min(fit.loss_R))
        samples["E"] = np.where(samples["E"] < floor, 0.0, samples["E"])
    return BootstrapResult(
        fit=fit, n_resamples=n_resamples, level=level, seed=seed, compute=compute,
        n_starts_per_resample=k, converged_fraction=float(converged_Q.mean()),
        intervals={name: (_allocation_interval if name in ALLOCATION else percentile_interval)(v_Q, level)
                   for name, v_Q in samples.items()},
        samples=samples, theta_QxP=theta_QxP, at_bound=at_bound, method=method)


ALLOCATION = ("G", "n_opt", "d_opt", "tokens_per_param")  # NaN in a resampled law with no compute-optimal allocation


def _allocation_interval(values_Q: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile interval of an allocation quantity, or NaN ends where more than 1 - level of the
    resampled laws have none (an exponent at or below 0): an interval of the few that have one would
    be read as the whole bootstrap's."""
    if np.mean(np.isnan(values_Q)) > 1 - level:
        return float("nan"), float("nan")
    return percentile_interval(values_Q, level)


def law_samples(form: str, theta_QxP: np.ndarray, compute: float | None = None) -> dict:
    """Named parameter arrays (Q values each) of Q laws given as theta rows."""
    with np.errstate(over="ignore"):  # A or B running off to infinity is flagged, not warned about
        out = {"E": np.exp(theta_QxP[:, 2]), "A": np.exp(theta_QxP[:, 0]),
               "B": np.exp(theta_QxP[:, 1]), "alpha": theta_QxP[:, 3], "beta": theta_QxP[:, 4]}
    if form == "subscaling":
        out["k_D"], out["k_N"] = np.exp(theta_QxP[:, 5]), np.exp(theta_QxP[:, 6])
        return out
    alpha, beta = out["alpha"], out["beta"]
    with np.errstate(all="ignore"):
        out["a"] = beta / (alpha + beta)
        out["b"] = alpha / (alpha + beta)
        out["G"] = allocation_constant(out["A"], out["B"], alpha, beta)
        if compute is not None:
            out["n_opt"] = out["G"] * params_times_tokens(compute) ** out["a"]
            out["d_opt"] = params_times_tokens(compute) ** out["b"] / out["G"]
            out["tokens_per_param"] = out["d_opt"] / out["n_opt"]
    return out


def percentile_interval(values_Q: np.ndarray, level: float) -> tuple[float, float]:
    """The central `level` interval of the values (NaN left out); an end that falls among infinite
    values (a coefficient run off to infinity in a resample) is that infinity, not NaN."""
    with np.errstate(invalid="ignore"):  # interpolating between two infinities
        lo, hi = np.nanpercentile(values_Q, [50 * (1 - level), 50 * (1 + level)])
    if np.isnan(hi) and np.isposinf(values_Q).any():
        hi = np.inf
    if np.isnan(lo) and np.isneginf(values_Q).any():
        lo = -np.inf
    return float(lo), float(hi)


def check_bootstrap_args(n_resamples, level) -> None:
    fit_defaults().check_resamples(n_resamples, "n_resamples", 2)
    if not 0 < level < 1:
        raise ConfigError(f"level={level!r}: accepted is a probability in (0, 1), e.g. 0.95")
