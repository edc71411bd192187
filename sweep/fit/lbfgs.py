"""Batched L-BFGS in float64: S independent minimisation problems solved side by side.

The problems share one objective function that is called on the rows still running, so a
grid of thousands of starts (or a thousand bootstrap resamples) costs a few hundred numpy
calls instead of thousands of Python loops. Every problem keeps its own history (m pairs,
two-loop recursion), its own weak-Wolfe line search and its own stopping test; nothing of one
problem reaches another (a problem solved alone or in a batch takes the same steps).

Stopping, per problem, first of:
    "gtol"        max |gradient| <= gtol
    "ftol"        f_prev - f <= ftol * max(|f_prev|, |f|)  (relative with no floor at 1, unlike
                  scipy's: the fits here minimise sums of Huber losses that are small numbers)
    "max_iter"    max_iter iterations done (not converged)
    "line_search" no step along steepest descent decreases f, not even by rounding (not
                  converged; after a failure along an L-BFGS direction the history is dropped
                  and steepest descent is tried first)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# fun(x_WxP, idx_W) -> (f_W, grad_WxP): the objective of problems idx_W at points x_WxP.
Objective = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# Letters: S problems, W the problems still working (not yet stopped), J those of them still in a
# line search, P parameters, M history slots. Inside, vectors are stored P x W (a parameter's
# values of all W problems contiguous), so the per-problem dot products and updates run along
# long rows; fun still sees W x P.

ARMIJO_C1 = 1e-4
WOLFE_C2 = 0.9
EXPAND = 4.0
MAX_LINE_SEARCH = 20


@dataclass(frozen=True)
class LBFGSResult:
    x_SxP: np.ndarray
    f_S: np.ndarray
    grad_SxP: np.ndarray
    n_iter_S: np.ndarray
    n_eval_S: np.ndarray
    converged_S: np.ndarray  # bool: stopped by gtol or ftol
    reason_S: np.ndarray  # str: gtol | ftol | max_iter | line_search

    @property
    def n_problems(self) -> int:
        return len(self.f_S)


def dot(a_PxW: np.ndarray, b_PxW: np.ndarray) -> np.ndarray:
    return np.einsum("pw,pw->w", a_PxW, b_PxW)


def evaluate(fun: Objective, x_PxW: np.ndarray, idx_W: np.ndarray):
    f_W, grad_WxP = fun(np.ascontiguousarray(x_PxW.T), idx_W)
    return np.asarray(f_W, dtype=np.float64), np.ascontiguousarray(np.asarray(grad_WxP).T)


def two_loop_direction(g_PxW: np.ndarray, s_MxPxW: np.ndarray, y_MxPxW: np.ndarray,
                       rho_MxW: np.ndarray, gamma_W: np.ndarray, order: list[int]) -> np.ndarray:
    """-H g by the two-loop recursion over the history slots in `order` (newest first). Empty
    or skipped slots have rho = 0 and change nothing; gamma_W scales the initial Hessian."""
    q_PxW = g_PxW.copy()
    alpha_MxW = np.zeros_like(rho_MxW)
    for i in order:
        alpha_MxW[i] = rho_MxW[i] * dot(s_MxPxW[i], q_PxW)
        q_PxW -= alpha_MxW[i] * y_MxPxW[i]
    q_PxW *= gamma_W
    for i in reversed(order):
        beta_W = rho_MxW[i] * dot(y_MxPxW[i], q_PxW)
        q_PxW += s_MxPxW[i] * (alpha_MxW[i] - beta_W)
    return -q_PxW


def wolfe_search(fun: Objective, idx_W: np.ndarray, x_PxW: np.ndarray, f_W: np.ndarray,
                 gd_W: np.ndarray, d_PxW: np.ndarray, t_W: np.ndarray):
    """Weak Wolfe line search by bracketing (Lewis & Overton): find t with
    f(x + t d) <= f + c1 t g.d (sufficient decrease) and g(x + t d).d >= c2 g.d (curvature).

    A step that decreases enough but still descends steeply is made EXPAND x longer (so flat
    directions get long steps); one that does not decrease enough becomes the bracket's upper
    end, and the next trial is the minimum of the quadratic through f and f' at the lower end
    and f at the upper end, kept within 10% .. 50% of the bracket (10% if f was not finite).
    If the trials run out, the longest step with sufficient decrease is taken. Returns (ok_W,
    t_W, f_new_W, g_new_PxW, n_eval_W); rows with ok False found no step that decreases f."""
    p, k = x_PxW.shape
    lo_W, hi_W, t_W = np.zeros(k), np.full(k, np.inf), t_W.copy()
    f_lo_W, gd_lo_W, f_hi_W = f_W.copy(), gd_W.copy(), np.full(k, np.inf)
    ok_W = np.zeros(k, bool)  # has a point with sufficient decrease (at lo)
    f_new_W = np.full(k, np.inf)
    g_new_PxW = np.zeros((p, k))
    n_eval_W = np.zeros(k, int)
    todo_J = np.arange(k)
    for _ in range(MAX_LINE_SEARCH):
        if todo_J.size == 0:
            break
        t_J = t_W[todo_J]
        d_PxJ = d_PxW[:, todo_J]
        with np.errstate(all="ignore"):
            f_J, g_PxJ = evaluate(fun, x_PxW[:, todo_J] + t_J * d_PxJ, idx_W[todo_J])
            finite_J = np.isfinite(f_J) & np.all(np.isfinite(g_PxJ), axis=0)
            decrease_J = (finite_J & (f_J <= f_W[todo_J] + ARMIJO_C1 * t_J * gd_W[todo_J])
                          & (f_J < f_W[todo_J]))  # and not a step lost in rounding
            slope_J = dot(g_PxJ, d_PxJ)
            curvature_J = slope_J >= WOLFE_C2 * gd_W[todo_J]
        n_eval_W[todo_J] += 1
        good_J = todo_J[decrease_J]
        ok_W[good_J] = True
        lo_W[good_J] = t_J[decrease_J]
        f_new_W[good_J] = f_lo_W[good_J] = f_J[decrease_J]
        gd_lo_W[good_J] = slope_J[decrease_J]
        g_new_PxW[:, good_J] = g_PxJ[:, decrease_J]
        bad_J = todo_J[~decrease_J]
        hi_W[bad_J] = t_J[~decrease_J]
        f_hi_W[bad_J] = np.where(finite_J[~decrease_J], f_J[~decrease_J], np.inf)
        todo_J = todo_J[~(decrease_J & curvature_J)]
        t_W[todo_J] = next_trial(lo_W[todo_J], hi_W[todo_J], f_lo_W[todo_J], gd_lo_W[todo_J],
                                 f_hi_W[todo_J])
    return ok_W, lo_W, f_new_W, g_new_PxW, n_eval_W


def next_trial(lo_J, hi_J, f_lo_J, gd_lo_J, f_hi_J) -> np.ndarray:
    """Lengthen an unbounded step; else interpolate inside the bracket [lo, hi]."""
    width_J = hi_J - lo_J
    with np.errstate(all="ignore"):
        curve_J = f_hi_J - f_lo_J - gd_lo_J * width_J
        step_J = -gd_lo_J * width_J**2 / (2 * curve_J)
    step_J = np.where(np.isfinite(step_J) & (curve_J > 0), step_J, 0.1 * width_J)
    inside_J = lo_J + np.clip(step_J, 0.1 * width_J, 0.5 * width_J)
    return np.where(np.isinf(hi_J), EXPAND * lo_J, inside_J)


@dataclass
class History:
    """The last m (s, y) pairs of the W running problems, in a ring of m slots shared by all:
    every iteration writes one slot per problem, an empty pair (rho = 0, a no-op in the
    two-loop recursion) where the step failed, the curvature s.y was not positive, or 1 / s.y or
    s.y / y.y is not finite."""

    s_MxPxW: np.ndarray
    y_MxPxW: np.ndarray
    rho_MxW: np.ndarray
    gamma_W: np.ndarray  # s.y / y.y of the newest kept pair: the initial Hessian's scale

    @classmethod
    def empty(cls, m: int, p: int, k: int) -> History:
        return cls(np.zeros((m, p, k)), np.zeros((m, p, k)), np.zeros((m, k)), np.ones(k))

    def direction(self, g_PxW: np.ndarray, it: int) -> np.ndarray:
        m = len(self.rho_MxW)
        order = [(it - 1 - i) % m for i in range(m)]  # newest slot first
        return two_loop_direction(g_PxW, self.s_MxPxW, self.y_MxPxW, self.rho_MxW,
                                  self.gamma_W, order)

    def has_pairs(self) -> np.ndarray:
        return np.any(self.rho_MxW > 0, axis=0)

    def push(self, it: int, step_PxW: np.ndarray, dy_PxW: np.ndarray) -> None:
        sy_W, yy_W = dot(step_PxW, dy_PxW), dot(dy_PxW, dy_PxW)
        # A pair is kept where its curvature s.y is positive against y.y and both 1 / s.y and the
        # scale s.y / y.y are finite: y.y underflows to 0 where y is below ~1e-162 though s.y > 0
        # (seen in `sweep experiment otr`'s subscaling fit), and such a pair, whose scale would be
        # inf and the next direction inf or nan, is skipped as a non-positive curvature is.
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            rho_W, gamma_W = 1.0 / sy_W, sy_W / yy_W
        keep_W = (sy_W > 1e-12 * yy_W) & (yy_W > 0) & np.isfinite(rho_W) & np.isfinite(gamma_W)
        slot = it % len(self.rho_MxW)
        self.s_MxPxW[slot] = step_PxW
        self.y_MxPxW[slot] = dy_PxW
        self.rho_MxW[slot] = np.where(keep_W, rho_W, 0.0)
        self.gamma_W = np.where(keep_W, gamma_W, self.gamma_W)

    def forget(self, rows_W: np.ndarray) -> None:
        self.rho_MxW[:, rows_W] = 0.0
        self.gamma_W[rows_W] = 1.0

    def keep(self, rows_W: np.ndarray) -> History:
        return History(self.s_MxPxW[:, :, rows_W], self.y_MxPxW[:, :, rows_W],
                       self.rho_MxW[:, rows_W], self.gamma_W[rows_W])


def stop_reasons(ok_W, fresh_W, f_old_W, f_W, g_PxW, gtol: float, ftol: float) -> np.ndarray:
    """Per problem after a step: "" (go on), gtol, ftol or line_search."""
    reason_W = np.full(len(f_W), "", dtype=object)
    small_f_W = (f_old_W - f_W) <= ftol * np.maximum(np.abs(f_old_W), np.abs(f_W))
    reason_W[ok_W & small_f_W] = "ftol"
    reason_W[ok_W & (np.max(np.abs(g_PxW), axis=0) <= gtol)] = "gtol"
    reason_W[~ok_W & fresh_W] = "line_search"
    return reason_W


def minimize(fun: Objective, x0_SxP: np.ndarray, *, history: int = 10, max_iter: int = 1000,
             gtol: float = 1e-10, ftol: float = 1e-10,
             on_iteration: Callable[[int], None] | None = None) -> LBFGSResult:
    """Minimise S problems from x0_SxP; `fun(x_WxP, idx_W)` evaluates problems idx_W.

    Only the running problems are evaluated: finished ones are dropped from every array.
    on_iteration (optional) is told after each iteration how many problems have stopped (S at
    the end), e.g. for a progress bar; it sees nothing of the numbers."""
    x_PxS = np.array(x0_SxP, dtype=np.float64).T.copy()
    if x_PxS.ndim != 2:
        raise ValueError(f"x0 must be S x P, got shape {np.shape(x0_SxP)}")
    p, n_problems = x_PxS.shape
    f_S, g_PxS = evaluate(fun, x_PxS, np.arange(n_problems))
    if not (np.all(np.isfinite(f_S)) and np.all(np.isfinite(g_PxS))):
        raise ValueError("the objective is not finite at the starting points")
    n_iter_S = np.zeros(n_problems, int)
    n_eval_S = np.ones(n_problems, int)
    reason_S = np.full(n_problems, "", dtype=object)
    reason_S[np.max(np.abs(g_PxS), axis=0) <= gtol] = "gtol"

    idx_W = np.flatnonzero(reason_S == "")
    x_PxW, f_W, g_PxW = x_PxS[:, idx_W], f_S[idx_W], g_PxS[:, idx_W]
    hist = History.empty(history, p, idx_W.size)
    for it in range(max_iter):
        if idx_W.size == 0:
            break
        d_PxW = hist.direction(g_PxW, it)
        gd_W = dot(g_PxW, d_PxW)
        fresh_W = ~(gd_W < 0) | ~hist.has_pairs()
        d_PxW[:, fresh_W] = -g_PxW[:, fresh_W]  # no history, or not a descent direction
        gd_W[fresh_W] = -dot(g_PxW[:, fresh_W], g_PxW[:, fresh_W])
        t_W = np.where(fresh_W, np.minimum(1.0, 1.0 / np.sqrt(-gd_W)), 1.0)
        ok_W, t_W, f_new_W, g_new_PxW, n_eval_W = wolfe_search(fun, idx_W, x_PxW, f_W, gd_W,
                                                                d_PxW, t_W)
        n_eval_S[idx_W] += n_eval_W
        n_iter_S[idx_W] += 1

        step_PxW = np.where(ok_W, t_W * d_PxW, 0.0)
        hist.push(it, step_PxW, np.where(ok_W, g_new_PxW - g_PxW, 0.0))
        hist.forget(~ok_W & ~fresh_W)  # retry from steepest descent next time
        f_old_W = f_W
        x_PxW = x_PxW + step_PxW
        f_W = np.where(ok_W, f_new_W, f_W)
        g_PxW = np.where(ok_W, g_new_PxW, g_PxW)

        reason_W = stop_reasons(ok_W, fresh_W, f_old_W, f_W, g_PxW, gtol, ftol)
        done_W = reason_W != ""
        if done_W.any():
            done = idx_W[done_W]
            x_PxS[:, done], g_PxS[:, done] = x_PxW[:, done_W], g_PxW[:, done_W]
            f_S[done] = f_W[done_W]
            reason_S[done] = reason_W[done_W]
            run_W = ~done_W
            idx_W, f_W = idx_W[run_W], f_W[run_W]
            x_PxW, g_PxW = x_PxW[:, run_W], g_PxW[:, run_W]
            hist = hist.keep(run_W)
        if on_iteration is not None:
            on_iteration(n_problems - idx_W.size)
    if on_iteration is not None:
        on_iteration(n_problems)
    x_PxS[:, idx_W], f_S[idx_W], g_PxS[:, idx_W] = x_PxW, f_W, g_PxW
    reason_S[idx_W] = "max_iter"
    reason_S = reason_S.astype(str)
    return LBFGSResult(x_SxP=x_PxS.T.copy(), f_S=f_S, grad_SxP=g_PxS.T.copy(),
                       n_iter_S=n_iter_S, n_eval_S=n_eval_S,
                       converged_S=np.isin(reason_S, ("gtol", "ftol")), reason_S=reason_S)
