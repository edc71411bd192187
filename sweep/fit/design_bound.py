"""How low can any design's extrapolation error go, for a given compute? The bound that
`sweep suggest --replay` holds the active choice and the baselines against.

A design is a set of a table's cells (distinct (N, T), each with its cost). Fitted by least squares
on log losses scattered by independent noise sigma, the law's error on a held-out run h is, to
first order in the noise, Gaussian with variance

    sigma^2 g_h^T (J_S^T J_S)^-1 g_h

J_S the (S, P) derivative of the chosen cells' log loss with respect to the law's P parameters, and
g_h the held-out run's, both at a law theta. The design's expected held-out error (the mean over
held-out runs of |predicted / actual - 1|) is then sqrt(2 / pi) sigma times the mean of
sqrt(g_h^T (J_S^T J_S)^-1 g_h). Here it is given per unit sigma, and read as a ratio to the whole
pool's: sigma cancels, and so, to first order, does the project's Huber fit (a least-absolute-like
fit's standard errors are a constant multiple of least squares' for every design alike).

At the law that generated a table this is what a design can expect over noise draws; no design
chosen from the runs can expect less. On a finished table the law is not known: linearised at the
whole pool's fit (the best guess of it), the design found is an oracle's (it uses every run's
result), and its expected error the lowest any design could hope for at that compute.

The lowest expected error within a budget is searched (the exact optimum is a knapsack over
subsets): greedy additions, restart r scoring each by the error it removes / its cost^p (p = 0,
then drawn from [0, 1]), from the required cells and from each given start; then exchanges (at
most one cell out, one or two in, within the budget; one in only when more than PAIRS_UP_TO cells
are out, so a pool of hundreds of runs stays quick) until none lowers it; the best end point.

Letters: G cells, P law parameters, H held-out cells, B designs evaluated together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.parametric import FORMS

SINGULAR = 1e-10  # a design whose J^T J has eigenvalues below this fraction of its largest cannot fit the law
STEP = 1e-5  # central differences of the log loss in the law's parameters (logs and exponents)
PAIRS_UP_TO = 60  # exchanges add two cells at once only while at most this many are out of the design


def log_loss_jacobian(form: str, theta_P: np.ndarray, N, T) -> np.ndarray:
    """(len(N), P) derivative of log L(N, T) with respect to the form's fitting parameters
    (parametric.Form.theta_names: log coefficients and exponents), at theta_P; central differences."""
    law_of = FORMS[form].law_of
    N_G, T_G = np.asarray(N, dtype=np.float64), np.asarray(T, dtype=np.float64)
    theta_P = np.asarray(theta_P, dtype=np.float64)
    out_GxP = np.empty((len(N_G), len(theta_P)))
    for k in range(len(theta_P)):
        up, down = theta_P.copy(), theta_P.copy()
        up[k] += STEP
        down[k] -= STEP
        out_GxP[:, k] = (np.log(law_of(up).predict(N_G, T_G)) - np.log(law_of(down).predict(N_G, T_G))) / (2 * STEP)
    return out_GxP


@dataclass(frozen=True)
class DesignBound:
    """The expected held-out error (per unit noise) of designs of a table's cells, linearised at one law."""

    J_GxP: np.ndarray  # every cell's log-loss derivative
    heldout_G: np.ndarray  # bool: the cells the error is measured on (never chosen)

    @classmethod
    def at(cls, form: str, theta_P, N_G, T_G, heldout_G) -> "DesignBound":
        bound = cls(log_loss_jacobian(form, theta_P, N_G, T_G), np.asarray(heldout_G, dtype=bool))
        if not np.isfinite(bound.J_GxP).all():
            raise ConfigError("the law's derivatives are not finite at these runs: no design bound at this fit")
        return bound

    def expected_error(self, chosen: Sequence[int]) -> float:
        """sqrt(2 / pi) x the mean held-out standard deviation of a least-squares fit on `chosen`, per
        unit noise; inf when the design cannot fit the law."""
        return float(self._errors(self._fisher(chosen)[None])[0])

    def _errors(self, fisher_BxPxP: np.ndarray) -> np.ndarray:
        g_HxP = self.J_GxP[self.heldout_G]
        eig_BxP = np.linalg.eigvalsh(fisher_BxPxP)
        ok_B = eig_BxP[:, 0] > SINGULAR * np.maximum(eig_BxP[:, -1], 1e-300)
        out_B = np.full(len(fisher_BxPxP), np.inf)
        if ok_B.any():
            F = fisher_BxPxP[ok_B]
            sol_BxPxH = np.linalg.solve(F, np.broadcast_to(g_HxP.T, (len(F), *g_HxP.T.shape)))
            var_BxH = np.einsum("hp,bph->bh", g_HxP, sol_BxPxH)
            out_B[ok_B] = np.sqrt(2 / np.pi) * np.sqrt(np.maximum(var_BxH, 0)).mean(axis=1)
        return out_B

    def _fisher(self, chosen: Sequence[int]) -> np.ndarray:
        J_SxP = self.J_GxP[list(chosen)]
        return J_SxP.T @ J_SxP

    def _outer(self, cells: Sequence[int]) -> np.ndarray:
        """(len(cells), P, P) each cell's own contribution J_g J_g^T."""
        J = self.J_GxP[list(cells)]
        return J[:, :, None] * J[:, None, :]

    def best(self, cost_G: np.ndarray, pool: Sequence[int], required: Sequence[int], budget: float,
             rng: np.random.Generator, restarts: int = 6,
             starts: Sequence[Sequence[int]] = ()) -> tuple[list[int], float]:
        """The design within `budget` (holding `required`, drawn from `pool`) with the lowest expected
        error found (module docstring), and that error. `starts`: designs to improve on besides the
        greedy ones (those over the budget are skipped), so the result is never worse than any of them."""
        cost_G = np.asarray(cost_G, dtype=np.float64)
        budget *= 1 + 1e-9  # a budget equal to a design's own compute affords that design despite round-off
        required = [int(g) for g in required]
        candidates = [list(map(int, s)) for s in starts if cost_G[list(s)].sum() <= budget]
        for r in range(restarts):
            candidates.append(self._greedy(cost_G, pool, required, budget, 0.0 if r == 0 else float(rng.uniform())))
        best, best_err = sorted(required), self.expected_error(required)
        for chosen in candidates:
            chosen, err = self._exchange(cost_G, pool, required, chosen, budget)
            if err < best_err:
                best, best_err = sorted(chosen), err
        return best, best_err

    def _greedy(self, cost_G, pool, required, budget, p) -> list[int]:
        chosen = list(required)
        while True:
            F = self._fisher(chosen)
            now = self._errors(F[None])[0]
            left = budget - cost_G[chosen].sum()
            options = [g for g in pool if g not in chosen and cost_G[g] <= left]
            if not options:
                return chosen
            err_B = self._errors(F + self._outer(options))
            if np.isfinite(now):
                score_B = (now - err_B) / cost_G[options] ** p
            else:  # a design that cannot fit yet: the addition with the lowest error (inf for all: the cheapest)
                score_B = -err_B if np.isfinite(err_B).any() else -cost_G[options]
            chosen.append(options[int(np.argmax(score_B))])

    def _exchange(self, cost_G, pool, required, chosen, budget) -> tuple[list[int], float]:
        """Swap at most one chosen cell (not a required one) for one or two others within the budget
        (one only past PAIRS_UP_TO cells out), the swap that lowers the expected error most, until none does."""
        chosen = list(chosen)
        err = self.expected_error(chosen)
        outer_GxPxP = self._outer(range(len(self.J_GxP)))
        while True:
            out = np.array([g for g in pool if g not in chosen], dtype=int)
            first, second = np.triu_indices(len(out) if len(out) <= PAIRS_UP_TO else 0, k=1)
            move_a = np.concatenate([out, out[first]])  # a move adds cell a, and b unless b is -1
            move_b = np.concatenate([np.full(len(out), -1), out[second]])
            move_cost = cost_G[move_a] + np.where(move_b >= 0, cost_G[np.maximum(move_b, 0)], 0.0)
            move_add = outer_GxPxP[move_a] + np.where((move_b >= 0)[:, None, None],
                                                      outer_GxPxP[np.maximum(move_b, 0)], 0.0)
            best_move, best_err = None, err * (1 - 1e-9)
            for drop in [None] + [g for g in chosen if g not in required]:
                base = [g for g in chosen if g != drop]
                fits = move_cost <= budget - cost_G[base].sum()
                if not fits.any():
                    continue
                err_B = self._errors(self._fisher(base) + move_add[fits])
                i = int(np.argmin(err_B))
                if err_B[i] < best_err:
                    a, b = move_a[fits][i], move_b[fits][i]
                    best_move, best_err = base + [int(a)] + ([int(b)] if b >= 0 else []), float(err_B[i])
            if best_move is None:
                return chosen, err
            chosen, err = best_move, best_err


def smallest_share_within(bound: DesignBound, cost_G: np.ndarray, pool: Sequence[int], required: Sequence[int],
                          rng: np.random.Generator, tolerance: float = 0.1, step: float = 0.05) -> float:
    """The smallest share of the pool's compute (in steps of `step`) from which the best design found
    expects an error within `tolerance` (relative) of the whole pool's; 1.0 when only the whole pool does."""
    pool = [int(g) for g in pool]
    goal = bound.expected_error(pool) * (1 + tolerance)
    pool_flops = float(np.asarray(cost_G)[pool].sum())
    for share in np.arange(step, 1.0 - 1e-9, step):
        if bound.best(cost_G, pool, required, share * pool_flops, rng)[1] <= goal:
            return round(float(share), 9)
    return 1.0
