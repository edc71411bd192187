"""Hyperparameter laws (DeepSeek LLM 2024): per compute budget (or per model size), the optimal
learning rate or batch size from a sweep, then power laws of compute: lr_opt = c C^e,
B_opt = c C^e (DeepSeek's data: eta_opt = 0.3118 C^-0.125, B_opt = 0.292 C^0.3271), and for the
batch size Kaplan's form against the loss, B_opt = B* / loss^(1/alpha_B).

Per group (runs grouped by FLOPs as in sweep/fit/isoflop.py, or by n_params), at each distinct
value of the swept hyperparameter the lowest loss stands (the other hyperparameters free). A
parabola of loss in ln(value) is fitted to the best value and up to `neighbours` (conf/fit.yaml: 2)
values on each side of it (at least 3 values; at an edge of the grid, more from the other side).
Its vertex is the optimum (`status` "vertex"); a vertex outside the sampled values is clipped to
the nearest end ("clipped"), a parabola opening downward gives the best sampled value
("no_curvature"). Only "vertex" groups enter the power laws unless include_flagged=True. Groups
with fewer than 3 distinct values are skipped and reported; none left is an error.

The near-optimal band of a group: its runs within `band` (conf/fit.yaml: 0.25%) of its best loss, i.e.
loss <= best * (1 + band), with the learning rates and batch sizes they span.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G groups
(budgets or sizes), X the distinct values of the swept hyperparameter. B_opt is a batch size
(B, sequences, as the runs table gives it); B_star and alpha_B are Kaplan's constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.isoflop import PowerLaw, best_per_value, fit_parabola, fit_power_law, group_budgets
from sweep.fit.table import RunsTable, jsonable, validate

PARAMS = ("lr", "batch_size")
BY = ("flops", "n_params")
STATUSES = ("vertex", "clipped", "no_curvature", "skipped")
MIN_VALUES = 3


@dataclass(frozen=True)
class NearOptimalBand:
    """The runs of one group with loss <= loss_max = best loss x (1 + band)."""

    runs: tuple[str, ...]
    loss_max: float
    lr_range: tuple[float, float] | None
    batch_size_range: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


@dataclass(frozen=True)
class HyperparamGroup:
    """One compute budget (or model size) `key`: the sampled values of the hyperparameter, the
    best run, and the optimum (None when skipped; `note` says why, or what was flagged)."""

    key: float
    n_runs: int
    n_values: int
    value_min: float
    value_max: float
    best_run: str
    best_value: float
    best_loss: float
    band: NearOptimalBand
    status: str
    opt_value: float | None = None
    opt_loss: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return jsonable({**self.__dict__, "band": self.band.to_dict()})


@dataclass(frozen=True)
class HyperparamLaw:
    """`param`_opt = law.coefficient * `by`^law.exponent over the groups used; for the batch
    size also `loss_law`: B_opt = B_star * loss^(-1/alpha_B), the loss at the optimum."""

    param: str
    by: str
    law: PowerLaw
    groups: list[HyperparamGroup]
    band: float
    include_flagged: bool
    loss_law: PowerLaw | None = None
    excluded_runs: dict[str, int] = field(default_factory=dict)

    @property
    def used(self) -> list[HyperparamGroup]:
        return [g for g in self.groups if _usable(g, self.include_flagged)]

    @property
    def alpha_B(self) -> float | None:
        return -1.0 / self.loss_law.exponent if self.loss_law else None

    @property
    def B_star(self) -> float | None:
        return self.loss_law.coefficient if self.loss_law else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"param": self.param, "by": self.by, "coefficient": self.law.coefficient,
                               "exponent": self.law.exponent, "exponent_stderr": self.law.exponent_stderr,
                               "groups_used": len(self.used), "power_law": self.law.to_dict(), "band": self.band,
                               "include_flagged": self.include_flagged,
                               "groups": [g.to_dict() for g in self.groups],
                               "excluded_runs": dict(self.excluded_runs)}
        if self.loss_law is not None:
            e = self.loss_law.exponent
            out["loss_law"] = {"B_star": self.B_star, "alpha_B": self.alpha_B,
                               "alpha_B_stderr": self.loss_law.exponent_stderr / e**2, **self.loss_law.to_dict()}
        return jsonable(out)


def fit_hyperparameter_law(table: RunsTable, param: str = "lr", by: str = "flops", rel_tol: float | None = None,
                           budgets: Sequence[float] | None = None, band: float | None = None,
                           neighbours: int | None = None, include_flagged: bool = False) -> HyperparamLaw:
    """The optimal `param` (lr | batch_size) per group of `by` (flops | n_params) and its power
    law; `budgets`: explicit group centres (FLOPs or sizes), as in isoflop.group_budgets. rel_tol,
    band, neighbours left at None are conf/fit.yaml's budget_tolerance, band and neighbours."""
    defaults = fit_defaults()
    band = defaults.band if band is None else band
    neighbours = defaults.neighbours if neighbours is None else neighbours
    if param not in PARAMS:
        raise ConfigError(f"param {param!r}: the hyperparameter laws are for {' or '.join(PARAMS)}")
    if by not in BY:
        raise ConfigError(f"by {by!r}: runs are grouped by {' or '.join(BY)}")
    if neighbours < 1:
        raise ConfigError(f"neighbours {neighbours!r}: the parabola takes at least 1 value on each side of the best")
    validate(table, MIN_VALUES, f"a {param} law")
    values_R = table.column(param)
    missing_R = ~(np.isfinite(values_R) & (values_R > 0))
    if missing_R.any():
        i = int(np.argmax(missing_R))
        raise ConfigError(f"run {table.names[i]!r}: {param} = {float(values_R[i])!r}; must be finite and positive")
    key_G, group_R = group_budgets(table.flops_R if by == "flops" else table.n_params_R, rel_tol, budgets)
    bands = near_optimal_bands(table, key_G, group_R, band)
    groups = [fit_group(table, values_R, group_R == g, key, bands[g], neighbours)
              for g, key in enumerate(key_G) if (group_R == g).any()]
    used = [g for g in groups if _usable(g, include_flagged)]
    if len(used) < 2:
        notes = "; ".join(f"{by}={g.key:.3g}: {g.status}" + (f" ({g.note})" if g.note else "") for g in groups)
        raise ConfigError(f"a {param} law needs at least 2 {by} groups with an optimum inside at least {MIN_VALUES} "
                          f"distinct {param} values; {len(used)} of {len(groups)} qualify ({notes})")
    law = fit_power_law([g.key for g in used], [g.opt_value for g in used])
    loss_law = None
    if param == "batch_size" and len({g.opt_loss for g in used}) >= 2:
        loss_law = fit_power_law([g.opt_loss for g in used], [g.opt_value for g in used])
    return HyperparamLaw(param, by, law, groups, band, include_flagged, loss_law, dict(table.excluded))


def near_optimal_bands(table: RunsTable, key_G: np.ndarray, group_R: np.ndarray,
                       band: float | None = None) -> list[NearOptimalBand]:
    """Per group g: the runs with loss <= (1 + band) x the group's lowest loss (band None:
    conf/fit.yaml's)."""
    band = fit_defaults().band if band is None else band
    if not (np.isfinite(band) and band >= 0):
        raise ConfigError(f"band {band!r}: the near-optimal band is a relative loss margin >= 0 (0.0025 = 0.25%)")
    bands = []
    for g in range(len(key_G)):
        in_group_R = group_R == g
        if not in_group_R.any():
            bands.append(NearOptimalBand((), float("nan"), None, None))
            continue
        loss_max = float(table.loss_R[in_group_R].min() * (1 + band))
        near_R = in_group_R & (table.loss_R <= loss_max)
        bands.append(NearOptimalBand(tuple(n for n, k in zip(table.names, near_R) if k), loss_max,
                                     _span(table.lr_R, near_R), _span(table.batch_size_R, near_R)))
    return bands


def fit_group(table: RunsTable, values_R: np.ndarray, in_group_R: np.ndarray, key: float,
               band: NearOptimalBand, neighbours: int) -> HyperparamGroup:
    members = np.flatnonzero(in_group_R)
    value_X, loss_X, best_X = best_per_value(values_R[members], table.loss_R[members])
    i = int(np.argmin(loss_X))
    base = dict(key=float(key), n_runs=len(members), n_values=len(value_X), value_min=float(value_X[0]),
                value_max=float(value_X[-1]), best_run=table.names[members[best_X[i]]],
                best_value=float(value_X[i]), best_loss=float(loss_X[i]), band=band)
    if len(value_X) < MIN_VALUES:
        return HyperparamGroup(**base, status="skipped", note=f"{len(value_X)} distinct value(s), needs {MIN_VALUES}")
    lo, hi = parabola_window(i, len(value_X), neighbours)
    logv_X = np.log(value_X)
    parabola = fit_parabola(logv_X[lo:hi], loss_X[lo:hi])
    if not parabola.opens_upward:
        return HyperparamGroup(**base, status="no_curvature", opt_value=float(value_X[i]), opt_loss=float(loss_X[i]),
                               note="the parabola around the best opens downward: the best sampled value stands")
    x = parabola.vertex
    clipped = float(np.clip(x, logv_X[0], logv_X[-1]))
    if clipped != x:
        return HyperparamGroup(**base, status="clipped", opt_value=float(np.exp(clipped)),
                               opt_loss=float(parabola(clipped)),
                               note=f"the vertex {np.exp(x):.4g} lies outside the sampled "
                                    f"[{value_X[0]:.4g}, {value_X[-1]:.4g}]: clipped")
    return HyperparamGroup(**base, status="vertex", opt_value=float(np.exp(x)), opt_loss=float(parabola(x)))


def parabola_window(i: int, n: int, neighbours: int) -> tuple[int, int]:
    """[lo, hi): up to `neighbours` values each side of i, widened to at least 3 at an edge."""
    lo, hi = max(0, i - neighbours), min(n, i + neighbours + 1)
    while hi - lo < MIN_VALUES:
        lo, hi = (lo - 1, hi) if hi == n else (lo, hi + 1)
    return lo, hi


def _span(values_R: np.ndarray | None, keep_R: np.ndarray) -> tuple[float, float] | None:
    if values_R is None:
        return None
    kept = values_R[keep_R & np.isfinite(values_R)]
    return (float(kept.min()), float(kept.max())) if len(kept) else None


def _usable(group: HyperparamGroup, include_flagged: bool) -> bool:
    return group.status == "vertex" or (include_flagged and group.status in ("clipped", "no_curvature"))
