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

# fun(x_KxP, idx_K) -> (f_K, grad_KxP): the objective of problems idx_K at points x_KxP.
Objective = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# Inside, vectors are stored P x K (a parameter's values of all K problems contiguous), so the
# per-problem dot products and updates run along long rows; fun still sees K x P.

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


def dot(a_PxK: np.ndarray, b_PxK: np.ndarray) -> np.ndarray:
    return np.einsum("pk,pk->k", a_PxK, b_PxK)


def evaluate(fun: Objective, x_PxK: np.ndarray, idx_K: np.ndarray):
    f_K, grad_KxP = fun(np.ascontiguousarray(x_PxK.T), idx_K)
    return np.asarray(f_K, dtype=np.float64), np.ascontiguousarray(np.asarray(grad_KxP).T)


def two_loop_direction(g_PxK: np.ndarray, s_MxPxK: np.ndarray, y_MxPxK: np.ndarray,
                       rho_MxK: np.ndarray, gamma_K: np.ndarray, order: list[int]) -> np.ndarray:
    """-H g by the two-loop recursion over the history slots in `order` (newest first). Empty
    or skipped slots have rho = 0 and change nothing; gamma_K scales the initial Hessian."""
    q_PxK = g_PxK.copy()
    alpha_MxK = np.zeros_like(rho_MxK)
    for i in order:
        alpha_MxK[i] = rho_MxK[i] * dot(s_MxPxK[i], q_PxK)
        q_PxK -= alpha_MxK[i] * y_MxPxK[i]
    q_PxK *= gamma_K
    for i in reversed(order):
        beta_K = rho_MxK[i] * dot(y_MxPxK[i], q_PxK)
        q_PxK += s_MxPxK[i] * (alpha_MxK[i] - beta_K)
    return -q_PxK


def wolfe_search(fun: Objective, idx_K: np.ndarray, x_PxK: np.ndarray, f_K: np.ndarray,
                 gd_K: np.ndarray, d_PxK: np.ndarray, t_K: np.ndarray):
    """Weak Wolfe line search by bracketing (Lewis & Overton): find t with
    f(x + t d) <= f + c1 t g.d (sufficient decrease) and g(x + t d).d >= c2 g.d (curvature).

    A step that decreases enough but still descends steeply is made EXPAND x longer (so flat
    directions get long steps); one that does not decrease enough becomes the bracket's upper
    end, and the next trial is the minimum of the quadratic through f and f' at the lower end
    and f at the upper end, kept within 10% .. 50% of the bracket (10% if f was not finite).
    If the trials run out, the longest step with sufficient decrease is taken. Returns (ok_K,
    t_K, f_new_K, g_new_PxK, n_eval_K); rows with ok False found no step that decreases f."""
    p, k = x_PxK.shape
    lo_K, hi_K, t_K = np.zeros(k), np.full(k, np.inf), t_K.copy()
    f_lo_K, gd_lo_K, f_hi_K = f_K.copy(), gd_K.copy(), np.full(k, np.inf)
    ok_K = np.zeros(k, bool)  # has a point with sufficient decrease (at lo)
    f_new_K = np.full(k, np.inf)
    g_new_PxK = np.zeros((p, k))
    n_eval_K = np.zeros(k, int)
    todo_J = np.arange(k)
    for _ in range(MAX_LINE_SEARCH):
        if todo_J.size == 0:
            break
        t_J = t_K[todo_J]
        d_PxJ = d_PxK[:, todo_J]
        with np.errstate(all="ignore"):
            f_J, g_PxJ = evaluate(fun, x_PxK[:, todo_J] + t_J * d_PxJ, idx_K[todo_J])
            finite_J = np.isfinite(f_J) & np.all(np.isfinite(g_PxJ), axis=0)
            decrease_J = (finite_J & (f_J <= f_K[todo_J] + ARMIJO_C1 * t_J * gd_K[todo_J])
                          & (f_J < f_K[todo_J]))  # and not a step lost in rounding
            slope_J = dot(g_PxJ, d_PxJ)
            curvature_J = slope_J >= WOLFE_C2 * gd_K[todo_J]
        n_eval_K[todo_J] += 1
        good_J = todo_J[decrease_J]
        ok_K[good_J] = True
        lo_K[good_J] = t_J[decrease_J]
        f_new_K[good_J] = f_lo_K[good_J] = f_J[decrease_J]
        gd_lo_K[good_J] = slope_J[decrease_J]
        g_new_PxK[:, good_J] = g_PxJ[:, decrease_J]
        bad_J = todo_J[~decrease_J]
        hi_K[bad_J] = t_J[~decrease_J]
        f_hi_K[bad_J] = np.where(finite_J[~decrease_J], f_J[~decrease_J], np.inf)
        todo_J = todo_J[~(decrease_J & curvature_J)]
        t_K[todo_J] = next_trial(lo_K[todo_J], hi_K[todo_J], f_lo_K[todo_J], gd_lo_K[todo_J],
                                 f_hi_K[todo_J])
    return ok_K, lo_K, f_new_K, g_new_PxK, n_eval_K


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
    """The last m (s, y) pairs of the K running problems, in a ring of m slots shared by all:
    every iteration writes one slot per problem, an empty pair (rho = 0, a no-op in the
    two-loop recursion) where the step failed or the curvature s.y was not positive."""

    s_MxPxK: np.ndarray
    y_MxPxK: np.ndarray
    rho_MxK: np.ndarray
    gamma_K: np.ndarray  # s.y / y.y of the newest kept pair: the initial Hessian's scale

    @classmethod
    def empty(cls, m: int, p: int, k: int) -> History:
        return cls(np.zeros((m, p, k)), np.zeros((m, p, k)), np.zeros((m, k)), np.ones(k))

    def direction(self, g_PxK: np.ndarray, it: int) -> np.ndarray:
        m = len(self.rho_MxK)
        order = [(it - 1 - i) % m for i in range(m)]  # newest slot first
        return two_loop_direction(g_PxK, self.s_MxPxK, self.y_MxPxK, self.rho_MxK,
                                  self.gamma_K, order)

    def has_pairs(self) -> np.ndarray:
        return np.any(self.rho_MxK > 0, axis=0)

    def push(self, it: int, step_PxK: np.ndarray, dy_PxK: np.ndarray) -> None:
        sy_K, yy_K = dot(step_PxK, dy_PxK), dot(dy_PxK, dy_PxK)
        keep_K = (sy_K > 0) & (sy_K > 1e-12 * yy_K)
        slot = it % len(self.rho_MxK)
        self.s_MxPxK[slot] = step_PxK
        self.y_MxPxK[slot] = dy_PxK
        self.rho_MxK[slot] = np.where(keep_K, 1.0 / np.where(keep_K, sy_K, 1.0), 0.0)
        self.gamma_K = np.where(keep_K, sy_K / np.where(keep_K, yy_K, 1.0), self.gamma_K)

    def forget(self, rows_K: np.ndarray) -> None:
        self.rho_MxK[:, rows_K] = 0.0
        self.gamma_K[rows_K] = 1.0

    def keep(self, rows_K: np.ndarray) -> History:
        return History(self.s_MxPxK[:, :, rows_K], self.y_MxPxK[:, :, rows_K],
                       self.rho_MxK[:, rows_K], self.gamma_K[rows_K])


def stop_reasons(ok_K, fresh_K, f_old_K, f_K, g_PxK, gtol: float, ftol: float) -> np.ndarray:
    """Per problem after a step: "" (go on), gtol, ftol or line_search."""
    reason_K = np.full(len(f_K), "", dtype=object)
    small_f_K = (f_old_K - f_K) <= ftol * np.maximum(np.abs(f_old_K), np.abs(f_K))
    reason_K[ok_K & small_f_K] = "ftol"
    reason_K[ok_K & (np.max(np.abs(g_PxK), axis=0) <= gtol)] = "gtol"
    reason_K[~ok_K & fresh_K] = "line_search"
    return reason_K


def minimize(fun: Objective, x0_SxP: np.ndarray, *, history: int = 10, max_iter: int = 1000,
             gtol: float = 1e-10, ftol: float = 1e-10) -> LBFGSResult:
    """Minimise S problems from x0_SxP; `fun(x_KxP, idx_K)` evaluates problems idx_K.

    Only the running problems are evaluated: finished ones are dropped from every array."""
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

    idx_K = np.flatnonzero(reason_S == "")
    x_PxK, f_K, g_PxK = x_PxS[:, idx_K], f_S[idx_K], g_PxS[:, idx_K]
    hist = History.empty(history, p, idx_K.size)
    for it in range(max_iter):
        if idx_K.size == 0:
            break
        d_PxK = hist.direction(g_PxK, it)
        gd_K = dot(g_PxK, d_PxK)
        fresh_K = ~(gd_K < 0) | ~hist.has_pairs()
        d_PxK[:, fresh_K] = -g_PxK[:, fresh_K]  # no history, or not a descent direction
        gd_K[fresh_K] = -dot(g_PxK[:, fresh_K], g_PxK[:, fresh_K])
        t_K = np.where(fresh_K, np.minimum(1.0, 1.0 / np.sqrt(-gd_K)), 1.0)
        ok_K, t_K, f_new_K, g_new_PxK, n_eval_K = wolfe_search(fun, idx_K, x_PxK, f_K, gd_K,
                                                                d_PxK, t_K)
        n_eval_S[idx_K] += n_eval_K
        n_iter_S[idx_K] += 1

        step_PxK = np.where(ok_K, t_K * d_PxK, 0.0)
        hist.push(it, step_PxK, np.where(ok_K, g_new_PxK - g_PxK, 0.0))
        hist.forget(~ok_K & ~fresh_K)  # retry from steepest descent next time
        f_old_K = f_K
        x_PxK = x_PxK + step_PxK
        f_K = np.where(ok_K, f_new_K, f_K)
        g_PxK = np.where(ok_K, g_new_PxK, g_PxK)

        reason_K = stop_reasons(ok_K, fresh_K, f_old_K, f_K, g_PxK, gtol, ftol)
        done_K = reason_K != ""
        if done_K.any():
            done = idx_K[done_K]
            x_PxS[:, done], g_PxS[:, done] = x_PxK[:, done_K], g_PxK[:, done_K]
            f_S[done] = f_K[done_K]
            reason_S[done] = reason_K[done_K]
            run_K = ~done_K
            idx_K, f_K = idx_K[run_K], f_K[run_K]
            x_PxK, g_PxK = x_PxK[:, run_K], g_PxK[:, run_K]
            hist = hist.keep(run_K)
    x_PxS[:, idx_K], f_S[idx_K], g_PxS[:, idx_K] = x_PxK, f_K, g_PxK
    reason_S[idx_K] = "max_iter"
    reason_S = reason_S.astype(str)
    return LBFGSResult(x_SxP=x_PxS.T.copy(), f_S=f_S, grad_SxP=g_PxS.T.copy(),
                       n_iter_S=n_iter_S, n_eval_S=n_eval_S,
                       converged_S=np.isin(reason_S, ("gtol", "ftol")), reason_S=reason_S)
