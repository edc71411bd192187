"""The loss-curve law of Tissue et al. 2024 (arXiv 2408.11029), fitted to one run's curve so far,
and its prediction of the run's final eval loss with a bootstrap interval: what `sweep predict`
(sweep/fit/predict.py) gives per run, and what an early-stopping rule can compare.

    L(s) = L0 + A * S1(s)^(-alpha) - C * S2(s)

s counts optimizer updates; eta_i is the learning rate of update i (i = 1..s), the run's own
schedule from its config (sweep/run/optim.py lr_at, every step up to its budget), so the law
predicts the run's final loss under its own schedule, cosine or wsd, a ladder's branch too.

- S1(s) = sum_{i<=s} eta_i, the forward area (warmup included: it is ground the weights covered).
- S2(s) = sum_{i<=s} m_i, the annealing area, in the paper's momentum form
  m_i = lambda m_{i-1} + max(0, eta_{i-1} - eta_i). Only decreases anneal: the warmup's rises are
  no negative annealing (the paper fits after the warmup). lambda = DECAY = 0.999, the paper's
  value: its annealing lags by about 1 / (1 - lambda) = 1000 updates, which the paper found to
  fit runs of 10^4 - 10^5 steps; for runs much shorter than that the momentum barely decays and
  S2 is the plain area between the peak and the schedule (the paper's lambda -> 1 limit). It is
  an argument, not a fitted parameter: one curve does not pin it down.

Fit. The law is linear in (L0, A, C) for a fixed alpha, so alpha is searched on a fine grid
(ALPHAS: 480 values, log-spaced over [0.02, 3], 1.05% apart) and, for each alpha, (L0, A, C) are the
least-squares solution with L0, A, C >= 0 (a loss is not negative; it falls with the forward area
and with annealing) in closed form; the best alpha wins. No start points, no local optima: the same answer
every time, and a bootstrap costs array operations only.

What is fitted, and how the eval loss is predicted. A run logs train_loss every log_every steps
(the mean of the batch losses since the previous log: update i's loss is taken with the weights
after i - 1 updates) and eval_loss every eval_every steps (after that many updates). The train
records are many times more numerous, so the law is fitted to them, each record compared with the
law's mean over its own window (exact, not its end point). The eval loss sits above (or below) the
train loss by a gap that changes slowly (held-out data, the eval set's own difficulty); the
prediction is the law at the run's last update S plus that gap, measured as the mean of
eval_loss(k) - L(k) at the last GAP_POINTS eval records seen. Fitting the eval points alone would
leave a 4-parameter law a handful of points at 25-50% of a run. Records in the warmup (and the
first, whose window starts from the untrained weights, S1 = 0) are not fitted: the law describes
training after it.

Interval: a moving-block residual bootstrap (Kuensch 1989). The fitted curve stays, its residuals
(in step order) are redrawn in blocks of b = ceil(n^(1/3)) consecutive records (the rate that
is optimal for a block bootstrap's variance, Hall, Horowitz and Jing 1995), which keeps the
correlation of neighbouring residuals that a misfit of the curve's shape leaves; each resample is
refitted (alpha included) and predicts the final loss, with the gap redrawn from the resample's
own gaps. The interval is the percentile interval of these predictions at `level`. It measures the
fit's uncertainty given the law; it cannot see the law being wrong beyond the data.

Not done: exponents shared across the runs of a sweep (each run is fitted alone); a wsd run seen
only before its cooldown has S2 = 0 so far and C is not identified: it raises CurveFitError
(`sweep predict` shows it as the run's skip reason).

Letters: S a run's updates (its budget's steps), P fitted records, E eval records, G the alpha grid,
B bootstrap resamples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError

DECAY = 0.999  # lambda of the annealing momentum (Tissue et al. 2024)
ALPHAS = np.geomspace(0.02, 3.0, 480)  # the alpha grid
MIN_POINTS = 8  # fitted train records needed: 4 parameters and as many degrees of freedom left
GAP_POINTS = 3  # the eval-train gap is the mean over the last this many eval records


class CurveFitError(ConfigError):
    """A curve the law cannot be fitted to or cannot predict from (its message says why)."""


def schedule_areas(lr_S: np.ndarray, decay: float = DECAY) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2), each of shape (S + 1,): the forward and the annealing area after s = 0..S updates,
    lr_S[i] being the learning rate of update i + 1."""
    lr_S = np.asarray(lr_S, dtype=float)
    if lr_S.ndim != 1 or len(lr_S) == 0 or not np.isfinite(lr_S).all() or (lr_S < 0).any():
        raise CurveFitError("a learning-rate schedule is a non-empty list of finite rates >= 0")
    if not 0 <= decay < 1:
        raise CurveFitError(f"decay={decay!r}: accepted is 0 <= decay < 1")
    drop_S = np.concatenate([[0.0], np.maximum(0.0, lr_S[:-1] - lr_S[1:])])
    momentum_S = np.empty_like(drop_S)
    # m_i = decay m_{i-1} + drop_i, in chunks short enough that decay^-k stays within float range
    chunk = len(drop_S) if decay == 0 else max(1, min(len(drop_S), int(30 / -math.log(decay))))
    carry = 0.0
    for start in range(0, len(drop_S), chunk):
        drop_K = drop_S[start:start + chunk]
        k_K = np.arange(len(drop_K), dtype=float)
        if decay == 0:
            m_K = drop_K.copy()
        else:
            power_K = decay ** k_K
            m_K = power_K * (np.cumsum(drop_K / power_K) + decay * carry)
        momentum_S[start:start + len(drop_K)] = m_K
        carry = m_K[-1]
    s1 = np.concatenate([[0.0], np.cumsum(lr_S)])
    s2 = np.concatenate([[0.0], np.cumsum(momentum_S)])
    return s1, s2


@dataclass(frozen=True)
class CurveLaw:
    """L(s) = L0 + A S1(s)^-alpha - C S2(s)."""

    L0: float
    A: float
    alpha: float
    C: float

    def loss(self, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
        return self.L0 + self.A * np.asarray(s1, dtype=float) ** -self.alpha - self.C * np.asarray(s2, dtype=float)


@dataclass(frozen=True)
class FinalLossPrediction:
    """A run's predicted final eval loss at its last update S, with the percentile interval at
    `level`; `law` fitted on `n_points` train records up to `steps_seen`; `gap` the eval - train
    law gap added; `block` the bootstrap's block length."""

    predicted: float
    interval: tuple[float, float]
    level: float
    law: CurveLaw
    gap: float
    steps_seen: int
    steps: int
    n_points: int
    n_resamples: int
    block: int
    rmse: float

    @property
    def fraction_seen(self) -> float:
        return self.steps_seen / self.steps

    def to_dict(self) -> dict:
        return {"predicted": self.predicted, "interval": list(self.interval), "level": self.level,
                "L0": self.law.L0, "A": self.law.A, "alpha": self.law.alpha, "C": self.law.C, "gap": self.gap,
                "steps_seen": self.steps_seen, "steps": self.steps, "fraction_seen": self.fraction_seen,
                "n_points": self.n_points, "n_resamples": self.n_resamples, "block": self.block,
                "rmse": self.rmse}


def window_means(values_S: np.ndarray, starts_P: np.ndarray, ends_P: np.ndarray) -> np.ndarray:
    """The mean of values_S[start:end] for each record (end > start)."""
    cum = np.concatenate([[0.0], np.cumsum(values_S)])
    return (cum[ends_P] - cum[starts_P]) / (ends_P - starts_P)


def _features(s1: np.ndarray, s2: np.ndarray, starts_P: np.ndarray, ends_P: np.ndarray, at_E: np.ndarray,
              last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every alpha: the train records' window means of S1^-alpha (P, G), at the eval steps
    (E, G) and at S (G,); and S2's window means (P,), at the eval steps (E,) and at S."""
    top = int(ends_P.max()) if len(ends_P) else 1
    s1_window = s1[:top].copy()
    s1_window[0] = 1.0  # S1(0) = 0: in no window (the records fitted start after the first update)
    x_PxG = np.empty((len(starts_P), len(ALPHAS)))
    for g, alpha in enumerate(ALPHAS):
        x_PxG[:, g] = window_means(s1_window ** -alpha, starts_P, ends_P)
    x_ExG = s1[at_E][:, None] ** -ALPHAS[None, :]
    x_G = s1[last] ** -ALPHAS
    return x_PxG, window_means(s2[:top], starts_P, ends_P), x_ExG, s2[at_E], x_G, np.asarray(s2[last])


def _solve(x_PxG: np.ndarray, z_P: np.ndarray, y_BxP: np.ndarray):
    """For each resample b and alpha g, the least-squares (L0, A, C) >= 0 of y = L0 + A x - C z and
    its sum of squares, each (B, G): every subset of the three kept free (the others at their bound
    0) solved in closed form, the best feasible one kept (a non-negative least-squares problem of
    three unknowns has its optimum on one of these faces)."""
    n_points, n_alphas = x_PxG.shape
    design_GxPx3 = np.stack([np.ones((n_alphas, n_points)), x_PxG.T,
                             np.broadcast_to(-z_P, (n_alphas, n_points))], axis=-1)
    gram_Gx3x3 = np.einsum("gpi,gpj->gij", design_GxPx3, design_GxPx3)
    rhs_BxGx3 = np.stack([np.broadcast_to(y_BxP.sum(1)[:, None], (len(y_BxP), n_alphas)), y_BxP @ x_PxG,
                          np.broadcast_to(-(y_BxP @ z_P)[:, None], (len(y_BxP), n_alphas))], axis=-1)  # (B, G, 3)
    yy_B = (y_BxP ** 2).sum(1)
    best_sse = np.full(rhs_BxGx3.shape[:2], np.inf)
    best_BxGx3 = np.zeros(rhs_BxGx3.shape)
    for free in ((0, 1, 2), (0, 1), (0, 2), (1, 2), (0,), (1,), (2,)):
        idx = np.array(free)
        sub_GxKxK = gram_Gx3x3[:, idx[:, None], idx[None, :]]
        scale_GxK = np.sqrt(np.maximum(np.einsum("gkk->gk", sub_GxKxK), 1e-300))
        # scaled to unit diagonal so that the determinant test means "the columns are independent"
        unit_GxKxK = sub_GxKxK / (scale_GxK[:, :, None] * scale_GxK[:, None, :])
        solvable_G = np.abs(np.linalg.det(unit_GxKxK)) > 1e-12
        unit_GxKxK = np.where(solvable_G[:, None, None], unit_GxKxK, np.eye(len(idx)))
        rhs_BxGxK = rhs_BxGx3[:, :, idx] / scale_GxK
        coef_BxGxK = np.linalg.solve(unit_GxKxK[None], rhs_BxGxK[..., None])[..., 0] / scale_GxK
        coef_BxGx3 = np.zeros(best_BxGx3.shape)
        coef_BxGx3[:, :, idx] = coef_BxGxK
        sse = yy_B[:, None] - 2 * (coef_BxGx3 * rhs_BxGx3).sum(-1) + \
            np.einsum("bgi,gij,bgj->bg", coef_BxGx3, gram_Gx3x3, coef_BxGx3)
        better = solvable_G[None] & (coef_BxGxK >= 0).all(-1) & (sse < best_sse)
        best_sse = np.where(better, sse, best_sse)
        best_BxGx3 = np.where(better[..., None], coef_BxGx3, best_BxGx3)
    return best_BxGx3[..., 0], best_BxGx3[..., 1], best_BxGx3[..., 2], np.maximum(best_sse, 0.0)


def predict_final_loss(lr_S: Sequence[float], train_steps: Sequence[int], train_loss: Sequence[float],
                       eval_steps: Sequence[int], eval_loss: Sequence[float], *, warmup: int = 0,
                       n_resamples: int = 200, level: float = 0.95, seed: int = 0,
                       decay: float = DECAY) -> FinalLossPrediction:
    """Fit the law to a run's records so far and predict its eval loss after its last update.

    lr_S: the learning rate of every update of the run's budget (S of them). train_steps /
    train_loss: the train_loss records (step k: the mean loss of the updates since the previous
    record); eval_steps / eval_loss: the eval records (the loss after k updates); steps beyond
    S are an error. warmup: records up to this step are not fitted. CurveFitError when too few
    records remain, no eval record was seen, or the annealing term cannot be identified."""
    if not 0 < level < 1:
        raise CurveFitError(f"level={level!r}: accepted is 0 < level < 1")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise CurveFitError(f"n_resamples={n_resamples!r}: accepted is an integer >= 1")
    s1, s2 = schedule_areas(lr_S, decay)
    steps = len(s1) - 1
    t_steps = np.asarray(train_steps, dtype=int)
    t_loss = np.asarray(train_loss, dtype=float)
    e_steps = np.asarray(eval_steps, dtype=int)
    e_loss = np.asarray(eval_loss, dtype=float)
    if len(t_steps) != len(t_loss) or len(e_steps) != len(e_loss):
        raise CurveFitError("steps and losses differ in length")
    if (t_steps > steps).any() or (e_steps > steps).any():
        raise CurveFitError(f"records beyond the schedule's {steps} steps: the curve is not this schedule's")
    order = np.argsort(t_steps)
    t_steps, t_loss = t_steps[order], t_loss[order]
    starts_all = np.concatenate([[0], t_steps[:-1]]) if len(t_steps) else t_steps
    keep = (starts_all >= max(1, warmup)) & (t_steps > starts_all) & np.isfinite(t_loss)
    starts_P, ends_P, y_P = starts_all[keep], t_steps[keep], t_loss[keep]
    if len(y_P) < MIN_POINTS:
        raise CurveFitError(f"{len(y_P)} train_loss records after the warmup (step {warmup}); the curve law "
                            f"needs at least {MIN_POINTS}")
    seen = int(max(t_steps.max(), e_steps.max() if len(e_steps) else 0))
    e_keep = (e_steps >= max(1, warmup)) & (e_steps <= seen) & np.isfinite(e_loss)
    at_E, ye_E = e_steps[e_keep][-GAP_POINTS:], e_loss[e_keep][-GAP_POINTS:]
    if len(at_E) == 0:
        raise CurveFitError(f"no eval_loss record after the warmup (step {warmup}) yet: the eval - train gap "
                            "is not known")
    x_PxG, z_P, x_ExG, z_E, x_G, z_last = _features(s1, s2, starts_P, ends_P, at_E, steps)
    if float(np.ptp(z_P)) <= 1e-12 * max(1.0, float(z_last)) and float(z_last) > float(z_P.max()) * (1 + 1e-9):
        raise CurveFitError(f"no annealing seen yet (the learning rate has not decayed by step {seen}, a wsd run "
                            "before its cooldown): the law's annealing term C cannot be fitted")

    def fit(y_BxP: np.ndarray):
        l0, a, c, sse = _solve(x_PxG, z_P, y_BxP)
        g = np.argmin(sse, axis=1)
        rows = np.arange(len(y_BxP))
        return l0[rows, g], a[rows, g], c[rows, g], g

    l0, a, c, g = fit(y_P[None, :])
    law = CurveLaw(float(l0[0]), float(a[0]), float(ALPHAS[g[0]]), float(c[0]))
    fitted_P = l0[0] + a[0] * x_PxG[:, g[0]] - c[0] * z_P
    residual_P = y_P - fitted_P
    gaps_E = ye_E - (l0[0] + a[0] * x_ExG[:, g[0]] - c[0] * z_E)
    gap = float(gaps_E.mean())
    final = float(l0[0] + a[0] * x_G[g[0]] - c[0] * z_last)

    n = len(y_P)
    block = max(1, math.ceil(n ** (1 / 3)))
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(n / block)
    starts_BxK = rng.integers(0, n - block + 1, size=(n_resamples, n_blocks))
    index_BxP = (starts_BxK[:, :, None] + np.arange(block)).reshape(n_resamples, -1)[:, :n]
    y_BxP = fitted_P[None, :] + residual_P[index_BxP]
    bl0, ba, bc, bg = fit(y_BxP)
    law_E_B = bl0[:, None] + ba[:, None] * x_ExG[:, bg].T - bc[:, None] * z_E[None, :]
    gap_draw_BxE = rng.integers(0, len(ye_E), size=(n_resamples, len(ye_E)))
    rows = np.arange(n_resamples)[:, None]
    gap_B = (ye_E[gap_draw_BxE] - law_E_B[rows, gap_draw_BxE]).mean(1)
    final_B = bl0 + ba * x_G[bg] - bc * z_last + gap_B
    tail = (1 - level) / 2
    lo, hi = np.quantile(final_B, [tail, 1 - tail])
    return FinalLossPrediction(
        predicted=final + gap, interval=(float(lo), float(hi)), level=level, law=law, gap=gap, steps_seen=seen,
        steps=steps, n_points=n, n_resamples=n_resamples, block=block,
        rmse=float(np.sqrt(np.mean(residual_P ** 2))))
