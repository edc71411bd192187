"""The fits' defaults, from conf/fit.yaml (their one home, as conf/ is for every default).

A fitting function whose argument is left at None takes the value from here; `sweep fit`,
`sweep report` and `sweep demo` take their --bootstrap and --seed defaults from here too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files

import numpy as np
import yaml

from sweep.errors import ConfigError


@dataclass(frozen=True)
class FitDefaults:
    bootstrap: int  # resamples of `sweep report` and `sweep fit --law crossover`
    bootstrap_method: str  # residual | case: what a parametric fit's bootstrap resamples
    seed: int  # seed of the bootstrap
    level: float  # probability of the percentile intervals
    max_resamples: int  # most resamples of any bootstrap (memory grows with them)
    budget_tolerance: float  # relative FLOPs tolerance within one compute budget
    band: float  # near-optimal: within this relative margin of a budget's best loss
    neighbours: int  # values each side of the best in the lr / batch parabolas
    isoflop_neighbours: int  # model sizes each side of a budget's best in the IsoFLOP parabolas
    isoflop_min_span: float  # decades of N an IsoFLOP window spans at least, widened where its sizes are dense
    min_log_spread: float  # Step Law: least RMS spread of the cells' (ln N, ln D) off one line
    resample_e_fractions: tuple[float, ...]  # bootstrap starts: E as fractions of the lowest loss
    resample_exponents: tuple[float, ...]  # bootstrap starts: alpha, beta values
    e_floor_fraction: float  # E below this fraction of the lowest loss is at its bound 0
    exponent_floor: float  # an exponent below this is at its bound 0
    exponent_ceiling: float  # an exponent above this is implausibly steep
    log_coefficient_max: float  # log A, log B above this: a coefficient running off to infinity
    max_orders: float  # an interval spanning more orders of magnitude than this is flagged
    compute_extrapolation: float  # N_opt at a compute over this many times the largest run's: flagged
    subscaling_min_r_spread: float  # sub-scaling's R = 1 + sigmoid(k T/N) spreading less over the runs: k not pinned
    min_converged_fraction: float  # fewer bootstrap resamples converged than this is flagged
    suggest_count: int  # sweep suggest: runs proposed when no --count nor --budget is given
    suggest_noise_floor: float  # sweep suggest: least scatter of a new run's log loss about the law
    suggest_max_extrapolation: float  # sweep suggest: the target compute over the largest run's, at most
    suggest_max_widths: int  # sweep suggest: candidate widths spread geometrically past this many
    suggest_max_ratios: int  # sweep suggest: a table file's tokens per parameter spread past this many
    suggest_max_candidates: int  # sweep suggest: runs scored at once at most (memory)
    suggest_cost_exponent: float  # sweep suggest --budget: each pick the most variance removed per FLOPs^this
    suggest_expect_draws: int  # sweep suggest: refits of the table with the proposals added, for "expected after"
    replay_growth: float  # sweep suggest --replay: each round's budget over the compute spent so far
    replay_holdout: int  # sweep suggest --replay: the largest sizes held out
    replay_resamples: int  # sweep suggest --replay: bootstrap resamples of each fit
    collapse_min_band: float  # sweep predict --floor: the collapse prediction's least half-width, relative

    def __post_init__(self) -> None:
        for name in ("resample_e_fractions", "resample_exponents"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    def check_resamples(self, n_resamples, name: str, least: int, accepted_also: str = "") -> None:
        """ConfigError naming `name` (`--bootstrap`, `early_stop.resamples`) unless `n_resamples` is a
        whole number from `least` to max_resamples: more resamples' arrays did not fit in memory, after
        the fits or the probes had run (`accepted_also`: another accepted value, said first)."""
        whole = isinstance(n_resamples, (int, np.integer)) and not isinstance(n_resamples, bool)
        if not whole or not least <= n_resamples <= self.max_resamples:
            given = f"{name} {n_resamples!r}" if name.startswith("--") else f"{name}={n_resamples!r}"
            raise ConfigError(f"{given}: accepted is {accepted_also}a whole number >= {least}, at most "
                              f"{self.max_resamples} (conf/fit.yaml max_resamples; more only outgrow memory: the intervals' "
                              "Monte Carlo error is already negligible)")

    def resolve_bootstrap(self, n_resamples: int | None, level: float | None,
                          seed: int | None) -> tuple[int, float, int]:
        """A bootstrap's (resamples, level, seed), each None replaced by its value here."""
        return (self.bootstrap if n_resamples is None else n_resamples,
                self.level if level is None else level, self.seed if seed is None else seed)


@functools.cache
def fit_defaults() -> FitDefaults:
    """conf/fit.yaml of the installed `conf` package, read once per process."""
    return FitDefaults(**yaml.safe_load(files("conf").joinpath("fit.yaml").read_text()))
