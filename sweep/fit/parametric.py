"""Parametric loss laws loss(N, T) fitted the Chinchilla Approach 3 way (README "The science:
Approach 3: the parametric law" and "The science: Sub-scaling and data density").

Two laws fitted, bootstrapped and suggested from (FORMS), and a third fitted only for the held-out
comparison (COMPARED_FORMS), all fitted by minimising the SUM over runs of
Huber_delta(LSE(terms) - log loss) (alpha_D LSE(terms) for kaplan), delta = 1e-3, by ONE batched
L-BFGS call (sweep.fit.lbfgs) from every start of a grid, keeping the start that ends lowest and
reporting its convergence:

    chinchilla   loss = E + A / N^alpha + B / T^beta
                 terms: log_A - alpha log N, log_B - beta log T, log_E
                 grid (published): alpha, beta in {0, 0.5, .., 2}, log_E in {-1, -0.5, .., 1},
                 log_A, log_B in {0, 5, .., 25}: 4,500 starts
    subscaling   loss = A R_D / T^alpha + B R_N / N^beta + E   (Chen et al. 2025, as published:
                 A, alpha go with the tokens T and B, beta with N; their D is our T), OTR = T / N,
                 R_D = 1 + 1 / (1 + exp(-k_D OTR)), R_N = 1 + 1 / (1 + exp(-k_N OTR))
                 terms: log_A + log R_D - alpha log T, log_B + log R_N - beta log N, log_E
                 k_D, k_N are fitted as log k (so k > 0): the published law has R rising from
                 1.5 to 2 as OTR grows (more over-training, less return); k < 0 would reverse
                 that, and log k puts k of 1e-4 .. 1e-1 on one scale for the optimiser.
                 grid: 1,296 starts (see SUBSCALING_EXPONENT_STARTS below)
    kaplan       loss = ((N_c / N)^(alpha_N / alpha_D) + D_c / T)^alpha_D   (Kaplan et al. 2020,
                 eq. 1.5: no floor; `--law compare` only, as the sub-scaling paper compares it)
                 terms: (alpha_N / alpha_D)(log_N_c - log N), log_D_c - log T
                 grid: 144 starts (KAPLAN_LOG_SCALE_STARTS x KAPLAN_EXPONENT_STARTS)

A fit needs at least one run more than the law has parameters (6 for Chinchilla, 8 for the
sub-scaling law, 5 for Kaplan's), two distinct N and two distinct T, and finite N, T, loss > 0.

Also here: the compute-optimal allocation of a Chinchilla law (G, a, b, N_opt, T_opt, tokens
per parameter), `--fix` (parameters held at a value) and the grid's distinct local optima (the
bootstrap's starts). The bootstrap is sweep/fit/law_bootstrap.py, the held-out comparison of the
three laws sweep/fit/law_comparison.py.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here
S starts of a grid, W the rows of one objective evaluation, P a law's parameters (theta),
O distinct local optima, Q bootstrap resamples. The loss is spelled out.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.lbfgs import minimize
from sweep.progress import progress
from sweep.record import training_flops

HUBER_DELTA = 1e-3
MAX_ITER = 1000
BLOCK_ELEMENTS = 16_384  # the objective is evaluated in row blocks of about this many cells
THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)  # set 1 to evaluate in the calling thread only
# other local optima kept for the bootstrap's starts: a different fit (some run's predicted log
# loss differs by more than DISTINCT_FIT) with an objective within OPTIMUM_SLACK x the best
DISTINCT_FIT = 1e-3
OPTIMUM_SLACK = 2.0
MAX_EXTRA_OPTIMA = 4
MAX_OPTIMA_CHECKED = 500
PROGRESS_DELAY_S = 1.0  # a fit or bootstrap shows progress once it has taken this long


# --- the laws ------------------------------------------------------------------------------

def float64s(*values) -> tuple[np.ndarray, ...]:
    """Each of N, tokens, ... as a float64 array (a law's inputs)."""
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


def params_times_tokens(C) -> np.ndarray:
    """N·T that a compute C pays for: C = training_flops(N, T) = 6·N·T is linear in N·T."""
    return np.asarray(C, dtype=np.float64) / training_flops(1.0, 1.0)


def allocation_constant(A, B, alpha, beta) -> np.ndarray:
    """G = (alpha A / (beta B))^(1 / (alpha + beta)), of one law or of arrays of them: the loss
    along C = 6 N T has a minimum only where both exponents are positive (with either one at or
    below 0 the loss falls, or rises, all the way to an end: e.g. a loss that rises with tokens at
    fixed N), so G is NaN there and so are N_opt and T_opt."""
    A, B, alpha, beta = float64s(A, B, alpha, beta)
    has_minimum = (alpha > 0) & (beta > 0)
    with np.errstate(all="ignore"):
        G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    return np.where(has_minimum, G, np.nan)


@dataclass(frozen=True)
class ChinchillaLaw:
    """loss(N, T) = E + A / N^alpha + B / T^beta and its compute-optimal allocation (C = 6 N T).

    `d_opt` is the compute-optimal number of tokens T_opt (the published name, D for data)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def predict(self, N, tokens) -> np.ndarray:
        N, tokens = float64s(N, tokens)
        return self.E + self.A / N**self.alpha + self.B / tokens**self.beta

    @property
    def G(self) -> float:
        """N_opt(C) = G (C / 6)^a; NaN where the law has no compute-optimal allocation."""
        return float(allocation_constant(self.A, self.B, self.alpha, self.beta))

    @property
    def a(self) -> float:
        """N_opt grows as C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """T_opt grows as C^b."""
        return self.alpha / (self.alpha + self.beta)

    def n_opt(self, C) -> np.ndarray:
        return self.G * params_times_tokens(C) ** self.a

    def d_opt(self, C) -> np.ndarray:
        return params_times_tokens(C) ** self.b / self.G

    def tokens_per_param(self, C) -> np.ndarray:
        """T_opt / N_opt at compute C."""
        return self.d_opt(C) / self.n_opt(C)

    def loss_opt(self, C) -> np.ndarray:
        """The loss of the compute-optimal run at compute C, loss(N_opt(C), T_opt(C))."""
        return self.predict(self.n_opt(C), self.d_opt(C))

    def params(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}


def overtraining_factor(k: float, otr) -> np.ndarray:
    """Sub-scaling's R = 1 + 1 / (1 + exp(-k OTR)) at tokens per parameter `otr`: 1.5 at OTR 0,
    rising to 2 (saturated) once k OTR passes a few units."""
    return 1 + 1 / (1 + np.exp(-k * np.asarray(otr, dtype=float)))


@dataclass(frozen=True)
class SubScalingLaw:
    """loss(N, T) = A R_D / T^alpha + B R_N / N^beta + E, R_x = 1 + sigmoid(k_x T / N)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    k_D: float
    k_N: float

    def predict(self, N, tokens) -> np.ndarray:
        N, tokens = float64s(N, tokens)
        otr = tokens / N
        r_d, r_n = overtraining_factor(self.k_D, otr), overtraining_factor(self.k_N, otr)
        return self.A * r_d / tokens**self.alpha + self.B * r_n / N**self.beta + self.E

    def params(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta,
                "k_D": self.k_D, "k_N": self.k_N}


@dataclass(frozen=True)
class KaplanLaw:
    """loss(N, T) = ((N_c / N)^(alpha_N / alpha_D) + D_c / T)^alpha_D (Kaplan et al. 2020, eq. 1.5):
    no floor, the two terms inside one power. Fitted only to be compared held out (`--law compare`),
    as the sub-scaling paper compares it; it has no compute-optimal allocation of its own here."""

    N_c: float
    D_c: float
    alpha_N: float
    alpha_D: float

    def params(self) -> dict[str, float]:
        return {"N_c": self.N_c, "D_c": self.D_c, "alpha_N": self.alpha_N, "alpha_D": self.alpha_D}

    def predict(self, N, tokens) -> np.ndarray:
        N, tokens = float64s(N, tokens)
        with np.errstate(over="ignore"):
            return ((self.N_c / N) ** (self.alpha_N / self.alpha_D) + self.D_c / tokens) ** self.alpha_D


# --- input checks --------------------------------------------------------------------------

def run_arrays(N, tokens, loss):
    """(N_R, tokens_R, loss_R) as float64 arrays of one length, finite and > 0, or a ConfigError that
    names the first bad value and its row."""
    arrays = {}
    for name, what, values in (("N", "N (parameters)", N), ("tokens", "tokens", tokens), ("loss", "loss", loss)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{what} must be numbers: {exc}") from None
        if arr.ndim != 1:
            raise ConfigError(f"{what} must be a 1-D array of runs, got shape {arr.shape}")
        arrays[name] = arr
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ConfigError(f"N, tokens and loss must have one entry per run; got lengths {lengths}")
    for name, arr in arrays.items():
        bad_R = np.flatnonzero(~np.isfinite(arr))
        if bad_R.size:
            raise ConfigError(f"{name} is {arr[bad_R[0]]} at run {_rows(bad_R)}: every run needs "
                              f"finite N, tokens and loss")
        bad_R = np.flatnonzero(arr <= 0)
        if bad_R.size:
            raise ConfigError(f"{name}={arr[bad_R[0]]:g} at run {_rows(bad_R)}: N, tokens and loss must "
                              f"be > 0")
    return arrays["N"], arrays["tokens"], arrays["loss"]


def check_enough_points(n_runs: int, n_points: int, law: str) -> None:
    """A fit of `law` to the `n_points` best runs (one per model size and token count) of `n_runs`
    has at least one point more than the law has parameters, or a ConfigError counting both: a
    learning-rate grid at two sizes is many runs and two points."""
    n_params = FORMS[law].n_params
    if n_points < n_params + 1:
        raise ConfigError(f"the {n_runs} run{'s' if n_runs != 1 else ''} give{'s' if n_runs == 1 else ''} {n_points} "
                          f"point{'s' if n_points != 1 else ''} to fit (the best run of each model size and token "
                          f"count): the {law} law ({n_params} parameters) needs at least {n_params + 1}; train more "
                          "sizes or tokens per parameter")


def validate_runs(N, tokens, loss, *, n_params: int = 5, weights=None, law: str = "chinchilla"):
    """run_arrays, and enough runs to fit a law of n_params parameters, or a ConfigError.

    Accepted: R >= n_params + 1 runs (one more than the law has parameters, so a fit is not
    an interpolation), at least two distinct N and two distinct token counts, and weights (if given) one
    finite number >= 0 per run."""
    N_R, tokens_R, loss_R = run_arrays(N, tokens, loss)
    if len(N_R) < n_params + 1:
        count = "1 run is" if len(N_R) == 1 else f"{len(N_R)} runs are"
        raise ConfigError(f"{count} too few to fit the {law} law ({n_params} parameters): need at least "
                          f"{n_params + 1}")
    for name, arr in (("N", N_R), ("tokens", tokens_R)):
        distinct = np.unique(arr)
        if distinct.size < 2:
            raise ConfigError(f"every run has {name}={distinct[0]:g}: the {law} law needs at "
                              f"least 2 distinct N and 2 distinct token counts")
    if weights is not None:
        w_R = np.asarray(weights, dtype=np.float64)
        if w_R.shape != N_R.shape:
            raise ConfigError(f"weights of shape {w_R.shape}: accepted is one weight per run, "
                              f"shape {N_R.shape}")
        bad_R = np.flatnonzero(~(np.isfinite(w_R) & (w_R >= 0)))
        if bad_R.size:
            raise ConfigError(f"weight {w_R[bad_R[0]]} at run {_rows(bad_R)}: accepted are "
                              f"finite weights >= 0")
    return N_R, tokens_R, loss_R


def _rows(rows_R: np.ndarray) -> str:
    shown = ", ".join(str(i) for i in rows_R[:5])
    if rows_R.size == 1:
        return f"row {shown}"
    return f"rows {shown}{' ...' if rows_R.size > 5 else ''}"


# --- objectives: SUM of Huber(LSE(terms) - log loss), with the gradient -------------------------
#
# LSE(u_1, u_2, log E) = log(e^u_1 + e^u_2 + E) is computed without the max shift: the terms
# are exponentials of moderate numbers at every start, and a trial step that overflows gives a
# non-finite f, which the line search rejects. exp and log dominate the cost (about 9 ns each
# per element), so each cell of the S x R arrays takes three of them and is updated in place.

@dataclass(frozen=True)
class LogRuns:
    log_loss_R: np.ndarray
    otr_R: np.ndarray  # T / N
    X_n_Rx2: np.ndarray  # (1, -log N): sums and log N moments in one product
    X_t_Rx2: np.ndarray  # (1, -log T)

    @classmethod
    def of(cls, N_R, tokens_R, loss_R) -> LogRuns:
        ones_R = np.ones_like(N_R)
        return cls(log_loss_R=np.log(loss_R), otr_R=tokens_R / N_R,
                   X_n_Rx2=np.stack([ones_R, -np.log(N_R)], axis=1),
                   X_t_Rx2=np.stack([ones_R, -np.log(tokens_R)], axis=1))

    @property
    def logN_R(self) -> np.ndarray:
        return -self.X_n_Rx2[:, 1]

    @property
    def log_tokens_R(self) -> np.ndarray:
        return -self.X_t_Rx2[:, 1]


def huber_of_log(e_1, e_2, E_Wx1, log_loss_R, w_WxR, delta: float):
    """f_W = sum_R w Huber(log(e_1 + e_2 + E) - log loss) and dh/du (= w Huber'(r) / sum), W x R.

    Huber(r) = c (r - c / 2) with c = clip(r, -delta, delta): r^2 / 2 inside, delta (|r| -
    delta / 2) outside."""
    s_WxR = e_1 + e_2
    s_WxR += E_Wx1
    r_WxR = np.log(s_WxR)
    r_WxR -= log_loss_R
    c_WxR = np.clip(r_WxR, -delta, delta)
    r_WxR -= 0.5 * c_WxR
    r_WxR *= c_WxR  # now the Huber loss of each run
    if w_WxR is not None:
        r_WxR *= w_WxR
        c_WxR *= w_WxR
    c_WxR /= s_WxR
    return r_WxR.sum(axis=1), c_WxR


def chinchilla_objective(theta_WxP, runs: LogRuns, w_WxR, delta: float = HUBER_DELTA):
    """theta = (log_A, log_B, log_E, alpha, beta): terms log_A - alpha log N, log_B - beta
    log T, log_E."""
    log_a, log_b, log_e, alpha, beta = (c[:, None] for c in theta_WxP.T)
    e_n = np.exp(log_a + alpha * runs.X_n_Rx2[:, 1])
    e_t = np.exp(log_b + beta * runs.X_t_Rx2[:, 1])
    E_Wx1 = np.exp(log_e)
    f_W, dh_WxR = huber_of_log(e_n, e_t, E_Wx1, runs.log_loss_R, w_WxR, delta)
    g_n_Wx2 = (e_n * dh_WxR) @ runs.X_n_Rx2  # d/d log_A, d/d alpha
    g_t_Wx2 = (e_t * dh_WxR) @ runs.X_t_Rx2
    g_e_W = dh_WxR.sum(axis=1) * E_Wx1[:, 0]
    grad_WxP = np.stack([g_n_Wx2[:, 0], g_t_Wx2[:, 0], g_e_W, g_n_Wx2[:, 1], g_t_Wx2[:, 1]],
                        axis=1)
    return f_W, grad_WxP


def subscaling_objective(theta_WxP, runs: LogRuns, w_WxR, delta: float = HUBER_DELTA):
    """theta = (log_A, log_B, log_E, alpha, beta, log_k_D, log_k_N): terms log_A + log R_D -
    alpha log T, log_B + log R_N - beta log N, log_E."""
    log_a, log_b, log_e, alpha, beta, log_kd, log_kn = (c[:, None] for c in theta_WxP.T)
    z_d = np.exp(log_kd) * runs.otr_R
    z_n = np.exp(log_kn) * runs.otr_R
    sig_d = 1 / (1 + np.exp(-z_d))
    sig_n = 1 / (1 + np.exp(-z_n))
    e_t = np.exp(log_a + alpha * runs.X_t_Rx2[:, 1]) * (1 + sig_d)
    e_n = np.exp(log_b + beta * runs.X_n_Rx2[:, 1]) * (1 + sig_n)
    E_Wx1 = np.exp(log_e)
    f_W, dh_WxR = huber_of_log(e_t, e_n, E_Wx1, runs.log_loss_R, w_WxR, delta)
    e_t *= dh_WxR  # now dF/du_D
    e_n *= dh_WxR
    g_t_Wx2 = e_t @ runs.X_t_Rx2
    g_n_Wx2 = e_n @ runs.X_n_Rx2
    # d log(1 + sigmoid(z)) / d log k = sigmoid (1 - sigmoid) z / (1 + sigmoid)
    g_kd_W = np.einsum("kr,kr->k", e_t, sig_d * (1 - sig_d) * z_d / (1 + sig_d))
    g_kn_W = np.einsum("kr,kr->k", e_n, sig_n * (1 - sig_n) * z_n / (1 + sig_n))
    grad_WxP = np.stack([g_t_Wx2[:, 0], g_n_Wx2[:, 0], dh_WxR.sum(axis=1) * E_Wx1[:, 0],
                         g_t_Wx2[:, 1], g_n_Wx2[:, 1], g_kd_W, g_kn_W], axis=1)
    return f_W, grad_WxP


def kaplan_objective(theta_WxP, runs: LogRuns, w_WxR, delta: float = HUBER_DELTA):
    """theta = (log_N_c, log_D_c, alpha_N, alpha_D): log loss = alpha_D log(e^u_N + e^u_D), u_N =
    (alpha_N / alpha_D)(log N_c - log N), u_D = log D_c - log T, summed as Huber of the log residual
    like the other forms; the log-sum-exp is shifted by its larger term, so no start overflows."""
    log_nc, log_dc, alpha_n, alpha_d = (c[:, None] for c in theta_WxP.T)
    gap_WxR = log_nc - runs.logN_R  # log N_c - log N
    u_n = alpha_n / alpha_d * gap_WxR
    u_d = log_dc - runs.log_tokens_R
    top = np.maximum(u_n, u_d)
    log_s = top + np.log(np.exp(u_n - top) + np.exp(u_d - top))
    share_n, share_d = np.exp(u_n - log_s), np.exp(u_d - log_s)  # each term's part of the sum
    r_WxR = alpha_d * log_s - runs.log_loss_R
    c_WxR = np.clip(r_WxR, -delta, delta)
    h_WxR = c_WxR * (r_WxR - 0.5 * c_WxR)
    if w_WxR is not None:
        h_WxR, c_WxR = h_WxR * w_WxR, c_WxR * w_WxR
    grad_WxP = np.stack([(c_WxR * alpha_n * share_n).sum(axis=1), (c_WxR * alpha_d * share_d).sum(axis=1),
                         (c_WxR * share_n * gap_WxR).sum(axis=1), (c_WxR * (log_s - share_n * u_n)).sum(axis=1)],
                        axis=1)
    return h_WxR.sum(axis=1), grad_WxP


# --- start grids -----------------------------------------------------------------------------

ALPHA_BETA_STARTS = (0.0, 0.5, 1.0, 1.5, 2.0)
LOG_E_STARTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
LOG_AB_STARTS = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
# The sub-scaling grid keeps the Chinchilla grid's log A, log B values, thins alpha, beta to
# {0.5, 1, 1.5} and log E to {0}, and adds k_D, k_N in {1e-3, 1e-2} (R rising within the usual
# OTR of 1 .. 1000, fully or barely): 6 x 6 x 1 x 3 x 3 x 2 x 2 = 1,296 starts. On synthetic
# sub-scaling data about 20% of starts reach the best fit, from every value of every axis, and
# each start costs about twice a Chinchilla one, so the fit costs about what Chinchilla's does.
SUBSCALING_EXPONENT_STARTS = (0.5, 1.0, 1.5)
SUBSCALING_LOG_E_STARTS = (0.0,)
K_STARTS = (1e-3, 1e-2)


def chinchilla_start_grid() -> np.ndarray:
    """The published grid: 6 x 6 x 5 x 5 x 5 = 4,500 starts of (log_A, log_B, log_E, alpha,
    beta)."""
    return _grid(LOG_AB_STARTS, LOG_AB_STARTS, LOG_E_STARTS, ALPHA_BETA_STARTS, ALPHA_BETA_STARTS)


def subscaling_start_grid() -> np.ndarray:
    """1,296 starts of (log_A, log_B, log_E, alpha, beta, log_k_D, log_k_N)."""
    log_k = tuple(np.log(K_STARTS))
    return _grid(LOG_AB_STARTS, LOG_AB_STARTS, SUBSCALING_LOG_E_STARTS,
                 SUBSCALING_EXPONENT_STARTS, SUBSCALING_EXPONENT_STARTS, log_k, log_k)


KAPLAN_LOG_SCALE_STARTS = (5.0, 15.0, 25.0, 35.0)  # log N_c, log D_c (Kaplan et al.: about 31 and 30)
KAPLAN_EXPONENT_STARTS = (0.05, 0.2, 0.5)  # alpha_N, alpha_D (Kaplan et al.: 0.076 and 0.103)


def kaplan_start_grid() -> np.ndarray:
    """4 x 4 x 3 x 3 = 144 starts of (log_N_c, log_D_c, alpha_N, alpha_D)."""
    return _grid(KAPLAN_LOG_SCALE_STARTS, KAPLAN_LOG_SCALE_STARTS, KAPLAN_EXPONENT_STARTS, KAPLAN_EXPONENT_STARTS)


def _grid(*axes) -> np.ndarray:
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


# --- the two forms: names, objective, grid, law ------------------------------------------------

@dataclass(frozen=True)
class Form:
    name: str
    theta_names: tuple[str, ...]
    objective: Callable
    start_grid: Callable[[], np.ndarray]
    law_of: Callable[[np.ndarray], object]

    @property
    def n_params(self) -> int:
        return len(self.theta_names)


def _exp(v) -> float:
    with np.errstate(over="ignore"):
        return float(np.exp(v))  # inf, not OverflowError, for a degenerate end point


def _chinchilla_law(theta_P) -> ChinchillaLaw:
    log_a, log_b, log_e, alpha, beta = (float(v) for v in theta_P)
    return ChinchillaLaw(E=_exp(log_e), A=_exp(log_a), B=_exp(log_b), alpha=alpha, beta=beta)


def _subscaling_law(theta_P) -> SubScalingLaw:
    log_a, log_b, log_e, alpha, beta, log_kd, log_kn = (float(v) for v in theta_P)
    return SubScalingLaw(E=_exp(log_e), A=_exp(log_a), B=_exp(log_b), alpha=alpha, beta=beta,
                         k_D=_exp(log_kd), k_N=_exp(log_kn))


def _kaplan_law(theta_P) -> KaplanLaw:
    log_nc, log_dc, alpha_n, alpha_d = (float(v) for v in theta_P)
    return KaplanLaw(N_c=_exp(log_nc), D_c=_exp(log_dc), alpha_N=alpha_n, alpha_D=alpha_d)


CHINCHILLA = Form("chinchilla", ("log_A", "log_B", "log_E", "alpha", "beta"),
                  chinchilla_objective, chinchilla_start_grid, _chinchilla_law)
SUBSCALING = Form("subscaling", ("log_A", "log_B", "log_E", "alpha", "beta", "log_k_D", "log_k_N"),
                  subscaling_objective, subscaling_start_grid, _subscaling_law)
KAPLAN = Form("kaplan", ("log_N_c", "log_D_c", "alpha_N", "alpha_D"), kaplan_objective, kaplan_start_grid,
              _kaplan_law)
FORMS = {form.name: form for form in (CHINCHILLA, SUBSCALING)}  # the laws fitted, bootstrapped, suggested from
COMPARED_FORMS = {**FORMS, KAPLAN.name: KAPLAN}  # and those also fitted for the held-out comparison alone


# --- fitting -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LawFit:
    """The best of the grid: its law, objective (summed Huber) and convergence."""

    form: str  # chinchilla | subscaling | kaplan
    law: ChinchillaLaw | SubScalingLaw | KaplanLaw
    objective: float
    converged: bool
    reason: str  # gtol | ftol | max_iter | line_search (see sweep.fit.lbfgs)
    n_iter: int
    n_runs: int
    n_starts: int
    start_index: int  # row of the start grid that won
    start: dict[str, float]  # its values, by theta name
    n_converged_starts: int
    theta_P: np.ndarray = field(repr=False)
    optima_OxP: np.ndarray = field(repr=False)  # different local optima of the grid, best first
    N_R: np.ndarray = field(repr=False)
    tokens_R: np.ndarray = field(repr=False)
    loss_R: np.ndarray = field(repr=False)
    weights_R: np.ndarray = field(repr=False)
    fixed: dict[str, float] = field(default_factory=dict)  # parameters held at a value (E, alpha, beta)

    def predict(self, N, tokens) -> np.ndarray:
        return self.law.predict(N, tokens)

    def params(self) -> dict[str, float]:
        return self.law.params()

    def summary(self) -> str:
        params = " ".join(f"{name}={value:.4g}" for name, value in self.params().items())
        if isinstance(self.law, ChinchillaLaw):
            params += f" (a={self.law.a:.4g}, b={self.law.b:.4g})"
        status = ("converged" if self.converged else "NOT converged") + f" ({self.reason})"
        return (f"{self.form}: {params}; {status} after {self.n_iter} iterations; best of "
                f"{self.n_starts:,} starts (start {self.start_index}); {self.n_runs} runs, "
                f"summed Huber {self.objective:.4g}")


def minimize_form(form: Form, runs: LogRuns, theta0_SxP: np.ndarray, w_SxR=None, held_P=None,
                  log_loss_SxR=None, on_iteration=None):
    """One batched L-BFGS call over S problems; w_SxR (optional) weighs the runs per problem;
    held_P (optional, bool per theta column) holds those columns at their start values: their
    gradient is zeroed, so L-BFGS never moves them (every step is a combination of gradients);
    log_loss_SxR (optional) gives each problem its own log losses of the runs (a residual
    bootstrap's), in place of runs.log_loss_R; on_iteration: see sweep.fit.lbfgs.minimize.

    The objective is evaluated in blocks of rows (BLOCK_ELEMENTS cells each, so the W x R
    temporaries stay in cache), spread over THREADS threads: numpy's exp and log release the
    GIL, and each block writes its own rows, so the result does not depend on the threads."""
    n_runs = len(runs.log_loss_R)
    block = max(1, BLOCK_ELEMENTS // n_runs)

    def fun(theta_WxP, idx_W):
        f_W = np.empty(len(idx_W))
        grad_WxP = np.empty_like(theta_WxP)

        def evaluate(rows: slice) -> None:
            w_WxR = None if w_SxR is None else w_SxR[idx_W[rows]]
            rows_runs = runs if log_loss_SxR is None else replace(runs, log_loss_R=log_loss_SxR[idx_W[rows]])
            with np.errstate(all="ignore"):  # per thread; the line search rejects inf / NaN
                f_W[rows], grad_WxP[rows] = form.objective(theta_WxP[rows], rows_runs, w_WxR)
            if held_P is not None:
                grad_WxP[rows, held_P] = 0.0

        blocks = [slice(lo, lo + block) for lo in range(0, len(idx_W), block)]
        if len(blocks) > 1 and THREADS > 1:
            list(_thread_pool().map(evaluate, blocks))
        else:
            for rows in blocks:
                evaluate(rows)
        return f_W, grad_WxP

    return minimize(fun, theta0_SxP, max_iter=MAX_ITER, on_iteration=on_iteration)


_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (pid that made it, pool)


def _thread_pool() -> ThreadPoolExecutor:
    """One pool per process (a forked child gets a new one: the parent's threads are not
    there)."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=THREADS,
                                                 thread_name_prefix="sweep-fit"))
    return _POOL[1]


def fit_law(form: Form | str, N, tokens, loss, weights=None, fix: dict[str, float] | None = None,
            show_progress: bool = True) -> LawFit:
    """Fit `form` (chinchilla | subscaling) from its full start grid, keep the best start.

    `weights` (optional, one per run, >= 0) multiply each run's Huber term in the sum. `fix`
    (optional) holds parameters at values, e.g. {"E": 1.69}: the grid's rows take those values
    (duplicates dropped) and L-BFGS never moves them, so the other parameters are the best fit
    given them. show_progress: a bar of the starts stopped once it has taken PROGRESS_DELAY_S (the
    numbers are the same without)."""
    form = form_named(form)
    N_R, tokens_R, loss_R = validate_runs(N, tokens, loss, n_params=form.n_params, weights=weights,
                                  law=form.name)
    fixed = check_fix(fix, loss_R)
    w_R = np.ones_like(loss_R) if weights is None else np.asarray(weights, dtype=np.float64)
    theta0_SxP = hold(form, form.start_grid(), fixed)
    w_SxR = None if weights is None else np.broadcast_to(w_R, (len(theta0_SxP), len(w_R)))
    with progress(len(theta0_SxP), f"{form.name} fit", unit="starts stopped", enabled=show_progress,
                  delay_s=PROGRESS_DELAY_S) as bar:
        result = minimize_form(form, LogRuns.of(N_R, tokens_R, loss_R), theta0_SxP, w_SxR,
                               held_mask(form, fixed), on_iteration=lambda n: bar.update(done=n))
    f_S = np.where(np.isfinite(result.f_S), result.f_S, np.inf)
    best = int(np.argmin(f_S))
    return LawFit(
        form=form.name,
        law=form.law_of(result.x_SxP[best]),
        objective=float(result.f_S[best]),
        converged=bool(result.converged_S[best]),
        reason=str(result.reason_S[best]),
        n_iter=int(result.n_iter_S[best]),
        n_runs=len(loss_R),
        n_starts=len(theta0_SxP),
        start_index=best,
        start=dict(zip(form.theta_names, theta0_SxP[best].tolist())),
        n_converged_starts=int(result.converged_S.sum()),
        theta_P=result.x_SxP[best].copy(),
        optima_OxP=distinct_optima(form, N_R, tokens_R, result.x_SxP, f_S),
        N_R=N_R, tokens_R=tokens_R, loss_R=loss_R, weights_R=w_R, fixed=fixed,
    )


def fit_chinchilla(N, tokens, loss, weights=None, fix: dict[str, float] | None = None) -> LawFit:
    """Chinchilla Approach 3: E + A/N^alpha + B/T^beta from the 4,500-start grid."""
    return fit_law(CHINCHILLA, N, tokens, loss, weights, fix)


def fit_subscaling(N, tokens, loss, weights=None, fix: dict[str, float] | None = None) -> LawFit:
    """The sub-scaling law (README "The science: Sub-scaling and data density"), 1,296 starts."""
    return fit_law(SUBSCALING, N, tokens, loss, weights, fix)


# --- parameters held at a value (--fix E=VALUE) ---------------------------------------------------

# a fixable parameter -> (its theta column, the map from its value to that column)
FIXABLE: dict[str, tuple[str, Callable[[float], float]]] = {
    "E": ("log_E", np.log), "alpha": ("alpha", float), "beta": ("beta", float)}


def check_fix(fix: dict[str, float] | None, loss_R: np.ndarray) -> dict[str, float]:
    """`fix` as {name: float}, or a ConfigError naming the bad name or value and what is accepted:
    names E, alpha, beta; 0 < E < the lowest loss (the law is E plus positive terms); exponents
    finite and > 0."""
    fixed: dict[str, float] = {}
    for name, value in (fix or {}).items():
        if name not in FIXABLE:
            raise ConfigError(f"--fix {name}={value}: {name!r} cannot be held; accepted: "
                              f"{', '.join(FIXABLE)} (e.g. --fix E=1.69 or --fix E=true)")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"--fix {name}={value!r}: accepted is a number") from None
        lowest = float(np.min(loss_R))
        if name == "E" and not (np.isfinite(value) and 0 < value < lowest):
            raise ConfigError(f"--fix E={value:g}: accepted is 0 < E < the lowest loss of the runs "
                              f"({lowest:.4g}): E is the loss no size or data can go below")
        if name != "E" and not (np.isfinite(value) and value > 0):
            raise ConfigError(f"--fix {name}={value:g}: accepted is a finite exponent > 0")
        fixed[name] = value
    return fixed


def held_mask(form: Form, fixed: dict[str, float]) -> np.ndarray | None:
    """(P,) True for the theta columns held at a value; None when nothing is held."""
    if not fixed:
        return None
    return np.array([name in {FIXABLE[k][0] for k in fixed} for name in form.theta_names])


def hold(form: Form, theta_SxP: np.ndarray, fixed: dict[str, float]) -> np.ndarray:
    """The starts with the held columns set to their values, duplicate rows dropped (first kept)."""
    if not fixed:
        return theta_SxP
    theta_SxP = theta_SxP.copy()
    for name, value in fixed.items():
        column, to_theta = FIXABLE[name]
        theta_SxP[:, form.theta_names.index(column)] = to_theta(value)
    _, first_S = np.unique(theta_SxP, axis=0, return_index=True)
    return theta_SxP[np.sort(first_S)]


def distinct_optima(form: Form, N_R, tokens_R, x_SxP: np.ndarray, f_S: np.ndarray,
                    keep: int = 1 + MAX_EXTRA_OPTIMA) -> np.ndarray:
    """Up to `keep` end points of the grid, best first, that are different fits of the runs:
    each predicts some run's log loss more than DISTINCT_FIT away from every one kept before
    it, and has an objective within OPTIMUM_SLACK x the best. (End points that differ only
    along a flat direction, such as log E -> -inf, count as one.)"""
    order_S = np.argsort(f_S, kind="stable")
    f_best = f_S[order_S[0]]
    kept: list[int] = []
    kept_logL: list[np.ndarray] = []
    for s in order_S[:MAX_OPTIMA_CHECKED]:
        if not f_S[s] <= OPTIMUM_SLACK * f_best:
            break
        with np.errstate(all="ignore"):  # an end point whose loss overflows: inf - inf is NaN, not distinct
            log_loss_R = np.log(form.law_of(x_SxP[s]).predict(N_R, tokens_R))
            distinct = all(np.max(np.abs(log_loss_R - other)) > DISTINCT_FIT for other in kept_logL)
        if distinct:
            kept.append(s)
            kept_logL.append(log_loss_R)
            if len(kept) == keep:
                break
    return x_SxP[kept]


def form_named(form: Form | str) -> Form:
    """A law's Form given itself or its name (chinchilla, subscaling, kaplan); ConfigError naming the others."""
    if isinstance(form, Form):
        return form
    if form not in COMPARED_FORMS:
        raise ConfigError(f"law={form!r} is not known; accepted: {', '.join(COMPARED_FORMS)}")
    return COMPARED_FORMS[form]
