"""The loss-curve law of Tissue et al. 2024 (arXiv 2408.11029), fitted to a run's curve so far
(alone, or with the other runs of its budget group: shared alpha, A and C), and its prediction of
the run's final eval loss with a bootstrap interval: what `sweep predict` (sweep/fit/predict.py)
gives per run, and what an early-stopping rule can compare.

    L(s) = L0 + A * S1(s)^(-alpha) - C * S2(s)

s counts optimizer updates; eta_i is the learning rate of update i (i = 1..s), the run's own
schedule from its config (sweep/run/optim.py lr_at, every step up to its budget), so the law
predicts the run's final loss under its own schedule, cosine or wsd, a ladder's branch too.

- S1(s) = sum_{i<=s} eta_i, the forward area (warmup included: it is ground the weights covered).
- S2(s) = sum_{i<=s} m_i, the annealing area, in the paper's momentum form
  m_i = lambda m_{i-1} + max(0, eta_{i-1} - eta_i). Only decreases anneal: the warmup's rises are
  no negative annealing (the paper fits after the warmup). Its annealing lags by about
  1 / (1 - lambda) updates; the paper's lambda = DECAY = 0.999 (a lag of 1000) fits its runs of
  10^4 - 10^5 steps. Here lambda = decay_for(S) makes the lag LAG_FRACTION = 1% of the run's own
  S steps (0.999 at S = 10^5): with 0.999, runs of 600-1300 steps never see their momentum
  decay, and the annealing term C S2 had to be extrapolated from a few percent of its final size
  at 25% of a run. On the replay of benchmarks/early_stop.py (seed 0, its first 8 runs) a lag of
  1% of S predicted best of 0.1%, 1% and 5% of S (median error at 25%: 2.5% against 3.8% for 5%),
  and far better than 0.999 (20%). It is an argument, not a fitted parameter: one curve does not
  pin it down.

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
training after it. Nor are the records of the initial descent from about ln V, which falls
faster and faster against S1 at first (no power law does): the fit starts after its steepest
point (plunge_end), and a run whose descent has not levelled off yet is not predicted.

A budget group. Runs that differ only in learning rate (batch size, weight decay) share the
model and the data: their curves against the forward area S1 differ mostly by the noise floor
of their learning rate. Fitted together (predict_final_losses), they share alpha, A and C (the
shape of the curve and the gain of annealing) and each keeps its own L0 and eval-train gap: a
weighted least squares, each curve weighed by 1 / its own residual variance alone, in closed
form per alpha (_solve_shared). At 25% of a run the annealing seen so far is small; the group's
runs, each at its own learning rate, pin C and the shape down together.

Interval: a moving-block residual bootstrap (Kuensch 1989). The fitted curve stays, its residuals
(in step order) are redrawn in blocks of b = ceil(n^(1/3)) consecutive records (the rate that
is optimal for a block bootstrap's variance, Hall, Horowitz and Jing 1995), which keeps the
correlation of neighbouring residuals that a misfit of the curve's shape leaves; each resample is
refitted (alpha included) and predicts the final loss, with the gap redrawn from the resample's
own gaps. The interval is the percentile interval of these predictions at `level`. It measures the
fit's uncertainty given the law; it cannot see the law being wrong beyond the data. So it is
widened to hold, mirrored about the prediction, the predictions from the first quarter, the first
half and the first 3/4 of the records seen (DRIFT_AT): how far the prediction still moves as
records arrive. The quarter matters where records are many: the bootstrap narrows with them while
the law's misfit stays (on the benchmark's grids at batch sizes 4 and 2, with the half and 3/4
only, the 95% intervals held the actual final loss for 39-50% of the runs at 50% on three of five
grids). On the replays of benchmarks/early_stop.py (9 grids of 6 or 10 learning rates at batch
sizes 8, 4, 2; the group fit) the intervals so widened hold it for 78-100% of the runs at 50% and
70-94% at 25%: still under 95% (benchmarks/RESULTS.md). What measures the law's own error is its
error on runs whose end is known: sweep/fit/predict.py widens these intervals to the conformal
quantile of the law's errors on the sweep's finished smaller runs replayed at the same fraction
(sweep/fit/calibration.py); so calibrated, they held the final loss for 249 of 252 runs at 15-50%
of six grids (benchmarks/RESULTS.md "Calibrated on the finished smaller runs"). With no finished
smaller run, on the budget group's own first halves (each run predicting its loss at its last eval
record from the records up to half of it): 217 of 229 at 15-50% of the same grids' widths, each
alone (RESULTS "Calibrated on its own first halves").

Not done: a wsd run seen
only before its cooldown has S2 = 0 so far and C is not identified: it raises CurveFitError
(`sweep predict` shows it as the run's skip reason).

Letters: S a run's updates (its budget's steps), P fitted records, J eval records, G the alpha grid,
Q bootstrap resamples, Y the blocks of one resample, I the free parameters of one subset of
(L0, A, C), U the updates of one chunk of the momentum sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.calibration import Calibration
from sweep.fit.defaults import fit_defaults

DECAY = 0.999  # lambda of the annealing momentum (Tissue et al. 2024), for runs of 10^4 - 10^5 steps
LAG_FRACTION = 0.01  # a run of S steps: lambda = 1 - 1 / (LAG_FRACTION S), an annealing lag of 1% of its steps
ALPHAS = np.geomspace(0.02, 3.0, 480)  # the alpha grid
MIN_POINTS = 8  # fitted train records needed: 4 parameters and as many degrees of freedom left
GAP_POINTS = 3  # the eval-train gap is the mean over the last this many eval records
PLUNGE_SMOOTH = 5  # records averaged to find where the initial descent ends
PLUNGE_RATE = 0.8  # ... whose steepening is looked for where the learning rate is still this near its peak
DRIFT_AT = (0.25, 0.5, 0.75)  # the interval holds the predictions from the first 1/4, 1/2, 3/4 of the records seen, mirrored


def decay_for(steps: int) -> float:
    """lambda for a run of `steps` updates: its annealing lags by LAG_FRACTION of them (the paper's
    0.999, a lag of 1000 updates, for runs of 10^5 steps)."""
    return 1 - 1 / max(1.0, LAG_FRACTION * steps)


def plunge_end(s1: np.ndarray, steps_P: np.ndarray, loss_P: np.ndarray) -> int | None:
    """The step where the loss falls fastest against the forward area (records smoothed over
    PLUNGE_SMOOTH): the end of the initial descent from about ln V, which no power law in S1
    describes; 0 when it cannot be told. Only the records where the learning rate is still at
    least PLUNGE_RATE of its peak are looked at (annealing steepens the curve against S1 too).
    None while the descent is still going on: its steepest point is in the last third of those
    records, or after it the loss falls faster in the second half of them than in the first.
    With fewer than 2 x PLUNGE_SMOOTH such records: 0 where later records (a lower rate) follow them,
    a CurveFitError where none does (the run is still where its descent would be: too few to tell). A
    run whose descent ended within its warmup (a high learning rate) leaves a flat, noisy stretch
    whose steepest point is noise and can fall late: it reads as None too, even when finished
    (the early-stopping benchmark's d32 at lr 6.4e-2 and 1.28e-1). Letting such runs through by a
    significance test was tried and predicted them worse (benchmarks/RESULTS.md)."""
    rate_P = np.diff(s1)[np.minimum(steps_P, len(s1) - 1) - 1]  # the learning rate of each record's last update
    high = rate_P >= PLUNGE_RATE * rate_P.max()
    steps_P, loss_P = steps_P[high], loss_P[high]
    if len(loss_P) < 2 * PLUNGE_SMOOTH and not high.all():  # a curve seen past its peak rate: not told, 0
        return 0
    if len(loss_P) < 2 * PLUNGE_SMOOTH:  # all at the peak: was 0 too, and 8 or 9 records still falling fast fitted
        raise CurveFitError(f"{len(loss_P)} train_loss records after the warmup at the peak learning rate (at least "
                            f"{PLUNGE_RATE:.0%} of it): at least {2 * PLUNGE_SMOOTH} are needed to tell where the "
                            "initial descent ends (later in the run, or a smaller train.log_every)")
    smooth = np.convolve(loss_P, np.ones(PLUNGE_SMOOTH) / PLUNGE_SMOOTH, mode="valid")
    at = steps_P[PLUNGE_SMOOTH // 2: PLUNGE_SMOOTH // 2 + len(smooth)]
    slope = np.diff(smooth) / np.maximum(np.diff(s1[at]), 1e-300)
    i = int(np.argmin(slope))
    if i + 1 > 2 * len(slope) / 3:
        return None
    after = steps_P > at[i + 1]
    x, y = s1[steps_P[after]], loss_P[after]
    half = len(x) // 2
    if half >= 3 and np.polyfit(x[half:], y[half:], 1)[0] < np.polyfit(x[:half], y[:half], 1)[0]:
        return None
    return int(at[i + 1])


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
        drop_U = drop_S[start:start + chunk]
        k_U = np.arange(len(drop_U), dtype=float)
        if decay == 0:
            m_U = drop_U.copy()
        else:
            power_U = decay ** k_U
            m_U = power_U * (np.cumsum(drop_U / power_U) + decay * carry)
        momentum_S[start:start + len(drop_U)] = m_U
        carry = m_U[-1]
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
    law gap added; `block` the bootstrap's block length; `calibration` what widened the interval
    beyond the bootstrap's (sweep/fit/calibration.py), None where nothing did."""

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
    calibration: Calibration | None = None  # set by sweep/fit/predict.py where finished smaller runs widened the interval

    def __post_init__(self) -> None:
        """A cross-entropy is never below 0: an interval's lower end is clipped there (a run seen to
        16% had -0.09 .. 3.23)."""
        lo, hi = self.interval
        if lo < 0:
            object.__setattr__(self, "interval", (0.0, hi))

    @property
    def fraction_seen(self) -> float:
        return self.steps_seen / self.steps

    def to_dict(self) -> dict:
        return {"method": "curve law", "predicted": self.predicted, "interval": list(self.interval), "level": self.level,
                "L0": self.law.L0, "A": self.law.A, "alpha": self.law.alpha, "C": self.law.C, "gap": self.gap,
                "steps_seen": self.steps_seen, "steps": self.steps, "fraction_seen": self.fraction_seen,
                "n_points": self.n_points, "n_resamples": self.n_resamples, "block": self.block,
                "rmse": self.rmse, "calibration": None if self.calibration is None else self.calibration.to_dict()}


def window_means(values_S: np.ndarray, starts_P: np.ndarray, ends_P: np.ndarray) -> np.ndarray:
    """The mean of values_S[start:end] for each record (end > start)."""
    cum = np.concatenate([[0.0], np.cumsum(values_S)])
    return (cum[ends_P] - cum[starts_P]) / (ends_P - starts_P)


def _features(s1: np.ndarray, s2: np.ndarray, starts_P: np.ndarray, ends_P: np.ndarray, at_J: np.ndarray,
              last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every alpha: the train records' window means of S1^-alpha (P, G), at the eval steps
    (J, G) and at S (G,); and S2's window means (P,), at the eval steps (J,) and at S."""
    top = int(ends_P.max()) if len(ends_P) else 1
    s1_window = s1[:top].copy()
    s1_window[0] = 1.0  # S1(0) = 0: in no window (the records fitted start after the first update)
    x_PxG = np.empty((len(starts_P), len(ALPHAS)))
    for g, alpha in enumerate(ALPHAS):
        x_PxG[:, g] = window_means(s1_window ** -alpha, starts_P, ends_P)
    x_JxG = s1[at_J][:, None] ** -ALPHAS[None, :]
    x_G = s1[last] ** -ALPHAS
    return x_PxG, window_means(s2[:top], starts_P, ends_P), x_JxG, s2[at_J], x_G, np.asarray(s2[last])


def _solve(x_PxG: np.ndarray, z_P: np.ndarray, y_QxP: np.ndarray):
    """For each resample b and alpha g, the least-squares (L0, A, C) >= 0 of y = L0 + A x - C z and
    its sum of squares, each (Q, G): every subset of the three kept free (the others at their bound
    0) solved in closed form, the best feasible one kept (a non-negative least-squares problem of
    three unknowns has its optimum on one of these faces)."""
    n_points, n_alphas = x_PxG.shape
    design_GxPx3 = np.stack([np.ones((n_alphas, n_points)), x_PxG.T,
                             np.broadcast_to(-z_P, (n_alphas, n_points))], axis=-1)
    gram_Gx3x3 = np.einsum("gpi,gpj->gij", design_GxPx3, design_GxPx3)
    rhs_QxGx3 = np.stack([np.broadcast_to(y_QxP.sum(1)[:, None], (len(y_QxP), n_alphas)), y_QxP @ x_PxG,
                          np.broadcast_to(-(y_QxP @ z_P)[:, None], (len(y_QxP), n_alphas))], axis=-1)  # (Q, G, 3)
    yy_Q = (y_QxP ** 2).sum(1)
    best_sse = np.full(rhs_QxGx3.shape[:2], np.inf)
    best_QxGx3 = np.zeros(rhs_QxGx3.shape)
    for free in ((0, 1, 2), (0, 1), (0, 2), (1, 2), (0,), (1,), (2,)):
        idx = np.array(free)
        sub_GxIxI = gram_Gx3x3[:, idx[:, None], idx[None, :]]
        scale_GxI = np.sqrt(np.maximum(np.einsum("gkk->gk", sub_GxIxI), 1e-300))
        # scaled to unit diagonal so that the determinant test means "the columns are independent"
        unit_GxIxI = sub_GxIxI / (scale_GxI[:, :, None] * scale_GxI[:, None, :])
        solvable_G = np.abs(np.linalg.det(unit_GxIxI)) > 1e-12
        unit_GxIxI = np.where(solvable_G[:, None, None], unit_GxIxI, np.eye(len(idx)))
        rhs_QxGxI = rhs_QxGx3[:, :, idx] / scale_GxI
        coef_QxGxI = np.linalg.solve(unit_GxIxI[None], rhs_QxGxI[..., None])[..., 0] / scale_GxI
        coef_QxGx3 = np.zeros(best_QxGx3.shape)
        coef_QxGx3[:, :, idx] = coef_QxGxI
        sse = yy_Q[:, None] - 2 * (coef_QxGx3 * rhs_QxGx3).sum(-1) + \
            np.einsum("bgi,gij,bgj->bg", coef_QxGx3, gram_Gx3x3, coef_QxGx3)
        better = solvable_G[None] & (coef_QxGxI >= 0).all(-1) & (sse < best_sse)
        best_sse = np.where(better, sse, best_sse)
        best_QxGx3 = np.where(better[..., None], coef_QxGx3, best_QxGx3)
    return best_QxGx3[..., 0], best_QxGx3[..., 1], best_QxGx3[..., 2], np.maximum(best_sse, 0.0)


@dataclass(frozen=True)
class Curve:
    """One run's records so far and its schedule. lr_S: the learning rate of every update of the
    run's budget (S of them). train_steps / train_loss: the train_loss records (step k: the mean
    loss of the updates since the previous record); eval_steps / eval_loss: the eval records (the
    loss after k updates); steps beyond S are an error. warmup: records up to this step are not
    fitted. train_window: None when the train records are all there (a run folder's
    metrics.jsonl): each one covers the updates since the previous record; k when rows may be
    missing (a W&B sampled history): a record at step k covers the updates (k - train_window, k],
    clipped at 0 (the run's train.log_every: sweep/run/loop.py logs the mean loss of the last
    log_every updates)."""

    lr_S: Sequence[float]
    train_steps: Sequence[int]
    train_loss: Sequence[float]
    eval_steps: Sequence[int]
    eval_loss: Sequence[float]
    warmup: int = 0
    train_window: int | None = None


@dataclass(frozen=True)
class _Prepared:
    """A curve ready to fit: its fitted records y_P and the law's features (sweep._features)."""

    y_P: np.ndarray
    x_PxG: np.ndarray
    z_P: np.ndarray
    x_JxG: np.ndarray
    z_J: np.ndarray
    ye_J: np.ndarray
    x_G: np.ndarray
    z_last: np.ndarray
    seen: int
    steps: int


def _prepare(curve: Curve, decay: float | None) -> _Prepared:
    """The records to fit and their features; CurveFitError when too few records remain, no eval
    record was seen, or the annealing term cannot be identified."""
    s1, s2 = schedule_areas(curve.lr_S, decay_for(len(curve.lr_S)) if decay is None else decay)
    steps, warmup = len(s1) - 1, curve.warmup
    t_steps = np.asarray(curve.train_steps, dtype=int)
    t_loss = np.asarray(curve.train_loss, dtype=float)
    e_steps = np.asarray(curve.eval_steps, dtype=int)
    e_loss = np.asarray(curve.eval_loss, dtype=float)
    if len(t_steps) != len(t_loss) or len(e_steps) != len(e_loss):
        raise CurveFitError("steps and losses differ in length")
    if (t_steps > steps).any() or (e_steps > steps).any():
        raise CurveFitError(f"records beyond the schedule's {steps} steps: the curve is not this schedule's")
    order = np.argsort(t_steps)
    t_steps, t_loss = t_steps[order], t_loss[order]
    if curve.train_window is None:  # every record there: each covers the updates since the previous one
        starts_all = np.concatenate([[0], t_steps[:-1]]) if len(t_steps) else t_steps
    elif isinstance(curve.train_window, bool) or not isinstance(curve.train_window, (int, np.integer)) or \
            curve.train_window < 1:
        raise CurveFitError(f"train_window={curve.train_window!r}: accepted is None or an integer >= 1")
    else:  # rows may be missing (sampled): each record covers its own train_window updates
        starts_all = np.maximum(t_steps - int(curve.train_window), 0)
    seen = int(max(t_steps.max() if len(t_steps) else 0, e_steps.max() if len(e_steps) else 0))
    keep = (starts_all >= max(1, warmup)) & (t_steps > starts_all) & np.isfinite(t_loss)
    # said before the descent's test, which a wsd run before its cooldown failed ("still in its initial descent")
    if keep.sum() >= MIN_POINTS and s2[seen] <= 1e-12 * s2[-1] and s2[-1] > 0:
        raise CurveFitError(f"no annealing seen yet (the learning rate has not decayed by step {seen}, a wsd run "
                            "before its cooldown): the law's annealing term C cannot be fitted")
    descent = ""
    if keep.sum() >= MIN_POINTS:
        start = plunge_end(s1, t_steps[keep], t_loss[keep])
        if start is None:
            raise CurveFitError("still in its initial descent (the loss has not yet begun to level off), or too "
                                "noisy after the warmup to tell where that descent ended: the law describes the "
                                "curve after it")
        if (t_steps[keep] <= start).any():  # said: 6 "after the warmup" where 10 were, 4 of them in the descent
            descent = f" and its initial descent (to step {start})"
        keep &= t_steps > start
    starts_P, ends_P, y_P = starts_all[keep], t_steps[keep], t_loss[keep]
    if len(y_P) < MIN_POINTS:
        raise CurveFitError(f"{len(y_P)} train_loss records after the warmup (step {warmup}){descent}; the curve "
                            f"law needs at least {MIN_POINTS}")
    e_keep = (e_steps >= max(1, warmup)) & (e_steps <= seen) & np.isfinite(e_loss)
    at_J, ye_J = e_steps[e_keep][-GAP_POINTS:], e_loss[e_keep][-GAP_POINTS:]
    if len(at_J) == 0:
        raise CurveFitError(f"no eval_loss record from the warmup's end (step {warmup}) to step {seen}: the eval - "
                            "train gap is not known (a later cut, or a run evaluating more often, train.eval_every, "
                            "has one)")
    x_PxG, z_P, x_JxG, z_J, x_G, z_last = _features(s1, s2, starts_P, ends_P, at_J, steps)
    if float(np.ptp(z_P)) <= 1e-12 * max(1.0, float(z_last)) and float(z_last) > float(z_P.max()) * (1 + 1e-9):
        raise CurveFitError(f"no annealing seen yet (the learning rate has not decayed by step {seen}, a wsd run "
                            "before its cooldown): the law's annealing term C cannot be fitted")
    return _Prepared(y_P, x_PxG, z_P, x_JxG, z_J, ye_J, x_G, z_last, seen, steps)


def predict_final_losses(curves: Sequence[Curve], *, shared: bool = True, n_resamples: int | None = None,
                         level: float | None = None, seed: int | None = None,
                         decay: float | None = None) -> list[FinalLossPrediction | CurveFitError]:
    """Each curve's predicted final eval loss (or the CurveFitError saying why it has none), in
    order. shared: the curves that can be fitted share alpha, A and C (each keeps its own L0 and
    eval-train gap): the curves of one budget group, whose learning rates differ; alone, each is
    fitted with its own four. The interval is the bootstrap's, widened where needed to hold the
    predictions that the first quarter, half and 3/4 of each curve's records give (DRIFT_AT; those
    that can be made), mirrored about it. decay: lambda, by default decay_for(S). Bootstrap
    resamples, level and seed default to conf/fit.yaml's. A curve's CurveFitError: too few records
    remain, the initial descent is not over, no eval record was seen, or the annealing term cannot
    be identified."""
    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)
    if not 0 < level < 1:
        raise CurveFitError(f"level={level!r}: accepted is 0 < level < 1")
    try:
        fit_defaults().check_resamples(n_resamples, "n_resamples", 1)
    except ConfigError as err:  # the curves' own error class, as for their other arguments
        raise CurveFitError(str(err)) from None
    out: list[FinalLossPrediction | CurveFitError | None] = []
    prepared: dict[int, _Prepared] = {}
    for i, curve in enumerate(curves):
        try:
            prepared[i] = _prepare(curve, decay)
            out.append(None)  # filled below
        except CurveFitError as err:
            out.append(err)
    for members in ([list(prepared)] if shared and prepared else [[i] for i in prepared]):
        predictions = _predict_jointly([prepared[i] for i in members], n_resamples, level, seed)
        drift = {i: 0.0 for i in members}
        for at in DRIFT_AT:
            earlier = {}
            for i, p in zip(members, predictions):
                try:
                    earlier[i] = _prepare(_cut(curves[i], int(at * p.steps_seen)), decay)
                except CurveFitError:  # too few records then
                    pass
            drifted = [i for i in members if i in earlier]
            for i, q in zip(drifted, _predict_jointly([earlier[i] for i in drifted], 1, level, seed) if drifted else []):
                drift[i] = max(drift[i], abs(predictions[members.index(i)].predicted - q.predicted))
        for i, p in zip(members, predictions):
            if p.predicted <= 0:
                out[i] = CurveFitError(f"the law extrapolates to a final loss of {p.predicted:.3g} from the "
                                       f"{p.steps_seen} of {p.steps} steps seen: too little of the curve to predict from")
                continue
            p = replace(p, interval=(min(p.interval[0], p.predicted - drift[i]),
                                     max(p.interval[1], p.predicted + drift[i])))
            out[i] = p
    return out


def _cut(curve: Curve, step: int) -> Curve:
    """The curve's records up to `step`."""
    train = [(k, v) for k, v in zip(curve.train_steps, curve.train_loss) if k <= step]
    evals = [(k, v) for k, v in zip(curve.eval_steps, curve.eval_loss) if k <= step]
    (train_steps, train_loss), (eval_steps, eval_loss) = (zip(*train) if train else ((), ())), \
        (zip(*evals) if evals else ((), ()))
    return replace(curve, train_steps=train_steps, train_loss=train_loss, eval_steps=eval_steps, eval_loss=eval_loss)


def _predict_jointly(curves: Sequence[_Prepared], n_resamples: int, level: float,
                     seed: int) -> list[FinalLossPrediction]:
    """The curves fitted together (one curve: its own law; more: alpha, A and C shared), then
    block-bootstrapped, every resample refitted the same way."""
    rng = np.random.default_rng(seed)
    if len(curves) == 1:
        def fit(y_per_curve):
            l0, a, c, sse = _solve(curves[0].x_PxG, curves[0].z_P, y_per_curve[0])
            return [(l0, a, c)], sse
    else:
        own = [_solve(c.x_PxG, c.z_P, c.y_P[None, :])[3].min() for c in curves]
        weights = [len(c.y_P) / max(sse, 1e-12) for c, sse in zip(curves, own)]  # 1 / each curve's noise variance

        def fit(y_per_curve):
            return _solve_shared(curves, y_per_curve, weights)
    params, criterion = fit([c.y_P[None, :] for c in curves])
    g = int(np.argmin(criterion[0]))
    laws, residuals, finals, gaps, blocks, resampled = [], [], [], [], [], []
    for c, (l0, a, cc) in zip(curves, params):
        l0, a, cc = float(l0[0, g]), float(a[0, g]), float(cc[0, g])
        laws.append(CurveLaw(l0, a, float(ALPHAS[g]), cc))
        fitted_P = l0 + a * c.x_PxG[:, g] - cc * c.z_P
        residuals.append(c.y_P - fitted_P)
        gaps.append(float((c.ye_J - (l0 + a * c.x_JxG[:, g] - cc * c.z_J)).mean()))
        finals.append(float(l0 + a * c.x_G[g] - cc * c.z_last))
        n = len(c.y_P)
        block = max(1, math.ceil(n ** (1 / 3)))
        starts_QxY = rng.integers(0, n - block + 1, size=(n_resamples, math.ceil(n / block)))
        index_QxP = (starts_QxY[:, :, None] + np.arange(block)).reshape(n_resamples, -1)[:, :n]
        blocks.append(block)
        resampled.append(fitted_P[None, :] + residuals[-1][index_QxP])
    bparams, bcriterion = fit(resampled)
    bg = np.argmin(bcriterion, axis=1)  # each resample's alpha
    rows = np.arange(n_resamples)
    tail = (1 - level) / 2
    out = []
    for c, law, residual_P, final, gap, block, (bl0, ba, bc) in zip(
            curves, laws, residuals, finals, gaps, blocks, bparams):
        bl0, ba, bc = bl0[rows, bg], ba[rows, bg], bc[rows, bg]
        law_QxJ = bl0[:, None] + ba[:, None] * c.x_JxG[:, bg].T - bc[:, None] * c.z_J[None, :]
        gap_draw_QxJ = rng.integers(0, len(c.ye_J), size=(n_resamples, len(c.ye_J)))
        gap_Q = (c.ye_J[gap_draw_QxJ] - law_QxJ[rows[:, None], gap_draw_QxJ]).mean(1)
        final_Q = bl0 + ba * c.x_G[bg] - bc * c.z_last + gap_Q
        lo, hi = np.quantile(final_Q, [tail, 1 - tail])
        out.append(FinalLossPrediction(
            predicted=final + gap, interval=(float(lo), float(hi)), level=level, law=law, gap=gap,
            steps_seen=c.seen, steps=c.steps, n_points=len(c.y_P), n_resamples=n_resamples, block=block,
            rmse=float(np.sqrt(np.mean(residual_P ** 2)))))
    return out


def _solve_shared(curves: Sequence[_Prepared], y_per_curve: Sequence[np.ndarray], weights: Sequence[float]):
    """One A and C for all the curves, each with its own L0, for every resample b and alpha g: the
    weighted least squares (curve r weighs weights[r]) in closed form: each curve's L0 is its mean
    residual, so (A, C) solve one 2 x 2 system of the curves' centred sums. C < 0 is clipped to 0
    (A then fitted alone); an alpha that would need A < 0 is not a solution (SSE inf). Returns per
    curve (L0, A, C), each (Q, G), and the weighted SSE (Q, G)."""
    stats = []
    for c, y_QxP, w in zip(curves, y_per_curve, weights):
        mx_G, mz, my_Q = c.x_PxG.mean(0), c.z_P.mean(), y_QxP.mean(1)
        cx_PxG, cz_P, cy_QxP = c.x_PxG - mx_G, c.z_P - mz, y_QxP - my_Q[:, None]
        stats.append(dict(w=w, mx=mx_G, mz=mz, my=my_Q, xx=(cx_PxG ** 2).sum(0), zz=float(cz_P @ cz_P),
                          xz=cz_P @ cx_PxG, xy=cy_QxP @ cx_PxG, zy=cy_QxP @ cz_P, yy=(cy_QxP ** 2).sum(1)))
    sxx = sum(t["w"] * t["xx"] for t in stats)  # (G,)
    sxz = sum(t["w"] * t["xz"] for t in stats)  # (G,)
    szz = sum(t["w"] * t["zz"] for t in stats)
    sxy = sum(t["w"] * t["xy"] for t in stats)  # (Q, G)
    szy = sum(t["w"] * t["zy"] for t in stats)[:, None]  # (Q, 1)
    det = sxx * szz - sxz ** 2
    det = np.where(np.abs(det) > 1e-12 * np.maximum(sxx * szz, 1e-300), det, np.inf)  # z no help: C = 0 below
    a_QxG = (sxy * szz - szy * sxz) / det
    minus_c = (szy * sxx - sxy * sxz) / det  # the model is y = L0 + A x - C z
    clipped = minus_c >= 0
    a_QxG = np.where(clipped, sxy / np.maximum(sxx, 1e-300), a_QxG)
    c_QxG = np.where(clipped, 0.0, -minus_c)
    out, total = [], np.zeros(a_QxG.shape)
    for t in stats:
        l0 = t["my"][:, None] - a_QxG * t["mx"] + c_QxG * t["mz"]
        sse = (t["yy"][:, None] - 2 * a_QxG * t["xy"] + 2 * c_QxG * t["zy"][:, None] + a_QxG ** 2 * t["xx"]
               - 2 * a_QxG * c_QxG * t["xz"] + c_QxG ** 2 * t["zz"])
        out.append((l0, a_QxG, c_QxG))
        total += t["w"] * np.maximum(sse, 0.0)
    return out, np.where(a_QxG >= 0, total, np.inf)
