"""Chinchilla Approach 1: the lower envelope of the runs' loss-vs-FLOPs curves. At each compute C
of a log-spaced grid, every run whose curve spans C gives its loss there (linear interpolation
in log C, never extrapolated past its first or last record); the lowest is the envelope, its run's
N is N_opt(C) and T_opt(C) = C / (6 N_opt). N_opt = c_N C^a and T_opt = c_T C^b are then
fitted over the envelope points as in Approach 2 (sweep/fit/isoflop.py).

Envelope points won by the smallest or the largest model of the sweep are reported but left out
of the power laws: there the optimum may lie beyond the sampled sizes (at small C the smallest
model wins by default, at the largest C only the largest model is still training).

Caveats, as in Hoffmann et al.: N_opt(C) is one of the sampled sizes (a staircase, so dense sizes
help); a run's loss partway through a cosine schedule is above what a run decayed at that point
would reach; the grid points are not independent, so the standard errors are optimistic.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here S the records
of one run's curve, G the points of the log-spaced grid of C, U the envelope points the power
laws use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.curves import Curve, Curves
from sweep.fit.isoflop import AllocationExponents, PowerLaw, fit_power_law
from sweep.jsonable import jsonable
from sweep.record import training_flops

MIN_SIZES = 3


@dataclass(frozen=True)
class EnvelopePoint:
    flops: float
    n_opt: float
    d_opt: float
    loss: float
    run: str
    at_edge: bool  # won by the smallest or largest model: left out of the power laws

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass(frozen=True)
class EnvelopeFit(AllocationExponents):
    """N_opt = n_opt.coefficient * C^a, T_opt = d_opt.coefficient * C^b over the envelope points
    not at an edge; `loss_key` says which loss the curves hold."""

    n_opt: PowerLaw
    d_opt: PowerLaw
    points: list[EnvelopePoint]
    loss_key: str
    curves: int
    excluded_runs: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"approach": 1, "a": jsonable(self.a), "a_stderr": jsonable(self.n_opt.exponent_stderr),
                "b": jsonable(self.b), "b_stderr": jsonable(self.d_opt.exponent_stderr),
                "points_used": sum(not p.at_edge for p in self.points), "n_opt": self.n_opt.to_dict(),
                "d_opt": self.d_opt.to_dict(), "points": [p.to_dict() for p in self.points],
                "loss_key": self.loss_key, "curves": self.curves, "excluded_runs": dict(self.excluded_runs)}


def fit_envelope(curves: Curves, n_points: int = 40) -> EnvelopeFit:
    """Approach 1 over `n_points` log-spaced C from the first to the last FLOPs of any curve."""
    if n_points < 2:
        raise ConfigError(f"n_points {n_points!r}: the compute grid needs at least 2 points")
    runs = [_checked(c) for c in curves.runs]
    sizes = sorted({c.n_params for c in runs})
    if len(sizes) < MIN_SIZES:
        raise ConfigError(f"Approach 1 needs curves of at least {MIN_SIZES} model sizes; "
                          f"{curves.source or 'the curves'} hold {len(sizes)} ({len(runs)} runs)")
    points = envelope(runs, n_points, (sizes[0], sizes[-1]))
    used = [p for p in points if not p.at_edge]
    if len({p.n_opt for p in used}) < 2:
        raise ConfigError(f"the lower envelope picks fewer than 2 model sizes other than the smallest and largest "
                          f"({len(used)} of {len(points)} points are inside): add model sizes between "
                          f"N = {sizes[0]:.4g} and {sizes[-1]:.4g}, or longer runs")
    flops_U = [p.flops for p in used]
    return EnvelopeFit(fit_power_law(flops_U, [p.n_opt for p in used]),
                       fit_power_law(flops_U, [p.d_opt for p in used]),
                       points, curves.loss_key, len(runs), dict(curves.excluded))


def envelope(runs: list[Curve], n_points: int, edges: tuple[float, float]) -> list[EnvelopePoint]:
    """The lowest interpolated loss at each grid C that some curve spans."""
    logc_G = np.linspace(min(np.log(c.flops_S[0]) for c in runs), max(np.log(c.flops_S[-1]) for c in runs),
                         n_points)
    loss_GxR = np.full((n_points, len(runs)), np.inf)
    for r, curve in enumerate(runs):
        logf_S = np.log(curve.flops_S)
        inside_G = (logc_G >= logf_S[0]) & (logc_G <= logf_S[-1])
        loss_GxR[inside_G, r] = np.interp(logc_G[inside_G], logf_S, curve.loss_S)
    points = []
    for g in np.flatnonzero(np.isfinite(loss_GxR).any(axis=1)):
        best = runs[int(np.argmin(loss_GxR[g]))]
        C = float(np.exp(logc_G[g]))
        tokens = C / training_flops(best.n_params, 1.0)
        points.append(EnvelopePoint(C, best.n_params, tokens, float(loss_GxR[g].min()), best.name,
                                    best.n_params in edges))
    return points


def _checked(curve: Curve) -> Curve:
    """The curve sorted by FLOPs, or a ConfigError naming the run and its bad value."""
    if not (np.isfinite(curve.n_params) and curve.n_params > 0):
        raise ConfigError(f"run {curve.name!r}: n_params = {curve.n_params!r}; must be finite and positive")
    if len(curve.flops_S) < 2 or curve.flops_S.shape != curve.loss_S.shape:
        raise ConfigError(f"run {curve.name!r}: a curve needs at least 2 (flops, loss) points of equal count; "
                          f"got {len(curve.flops_S)} flops and {len(curve.loss_S)} losses")
    for column, values_S in (("flops", curve.flops_S), ("loss", curve.loss_S)):
        bad_S = ~(np.isfinite(values_S) & (values_S > 0))
        if bad_S.any():
            raise ConfigError(f"run {curve.name!r}: {column} = {float(values_S[np.argmax(bad_S)])!r} at point "
                              f"{int(np.argmax(bad_S))}; must be finite and positive")
    order_S = np.argsort(curve.flops_S, kind="stable")
    return Curve(curve.name, curve.n_params, curve.tokens_S[order_S], curve.flops_S[order_S], curve.loss_S[order_S])
