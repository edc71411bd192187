"""`sweep suggest`'s answer: the next runs that most sharpen what a fit is asked at a target compute.

The law is fitted to the finished runs (the point of each (N, T), sweep/fit/points.py, as every
parametric fit here) and bootstrapped; sweep/fit/design.py scores the candidates against the
bootstrap's laws and chooses the set. The answer holds the intervals now (the bootstrap's
percentile intervals of L*(C) and N_opt(C)), the set chosen with each run's gain, the intervals
expected after it (the table refitted with the runs added, sweep/fit/expected.py), and whether the
points scatter about the law by more than seeds move a point (sweep/fit/points.py `misfit_test`: the
intervals assume the law's form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit import design
from sweep.fit.defaults import fit_defaults
from sweep.fit.expected import check_draws, or_linear, refit_width_ratio, shrunk_interval, target_intervals
from sweep.fit.identify import no_allocation_flag
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import FORMS, check_enough_points, fit_law
from sweep.fit.points import MisfitTest, law_scatter, loss_rises, loss_rises_text, point_table, seed_spread
from sweep.fit.table import RunsTable, validate

# A candidate within this of a fitted point in both N and tokens is that point, already run: a table's
# candidates are its sizes and ratios to 3 significant digits, a few tenths of a percent off its runs.
ALREADY_RUN_REL = 0.01
ALREADY_RAN, OVER_TARGET = "already run", "cost more than the target compute"  # why a candidate is left out


@dataclass(frozen=True)
class Proposal:
    candidate: design.Candidate
    gain: float  # the mean fraction of the targets' variance this run removes, given the ones before it


@dataclass(frozen=True)
class Suggestion:
    law: str
    target_compute: float
    targets: tuple[str, ...]
    criterion: str
    n_points: int  # the (N, T) points fitted
    level: float
    resamples: int
    seed: int
    now: dict[str, tuple[float, float, float]]  # target -> (fit's value, interval lo, hi)
    expected: dict[str, tuple[float, float]]  # target -> the interval expected after the proposals
    proposals: tuple[Proposal, ...]
    n_candidates: int
    count: int | None
    budget: float | None
    misfit: MisfitTest | None = None  # the points' scatter against the seeds' (None: no seeds, or too few points)
    left_out: dict[str, int] = field(default_factory=dict)  # candidates not in the pool, by why (LEFT_OUT)
    n_opt_edge: str | None = None  # the warning when N_opt(C) is the search's end, not an optimum (`edge_warning`)
    warnings: tuple[str, ...] = ()  # what the runs or the fitted law say against the fit (`fit_warnings`)
    # target -> expected.REFIT (the table refitted with the proposals added, sweep/fit/expected.py) or
    # expected.LINEAR (every refit failed: the criterion's linear-Gaussian update); {} with no proposal
    expected_from: dict[str, str] = field(default_factory=dict)

    @property
    def flops(self) -> float:
        return float(sum(p.candidate.flops for p in self.proposals))

    def to_dict(self) -> dict:
        return {
            "law": self.law, "target_compute": self.target_compute, "targets": list(self.targets),
            "misfit_test": None if self.misfit is None else dict(self.misfit.__dict__),
            "criterion": self.criterion, "n_points": self.n_points, "level": self.level,
            "resamples": self.resamples, "seed": self.seed, "n_candidates": self.n_candidates,
            "candidates_left_out": dict(self.left_out), "n_opt_edge": self.n_opt_edge, "warnings": list(self.warnings),
            "count": self.count, "budget": self.budget, "flops": self.flops,
            "now": {t: {"value": v, "interval": [lo, hi]} for t, (v, lo, hi) in self.now.items()},
            "expected": {t: {"interval": list(iv), "from": self.expected_from.get(t)} for t, iv in self.expected.items()},
            "proposals": [{"label": p.candidate.label, "n_params": p.candidate.n_params,
                           "tokens": p.candidate.tokens, "tokens_per_param": p.candidate.tokens_per_param,
                           "flops": p.candidate.flops, "steps": p.candidate.steps, "gain": p.gain,
                           "overrides": list(p.candidate.overrides), "config_name": p.candidate.config_name}
                          for p in self.proposals],
        }


def check_target_compute(compute: float, table: RunsTable) -> float:
    """C must be a finite number of FLOPs between the smallest run's and max_extrapolation x the largest's."""
    limit = fit_defaults().suggest_max_extrapolation
    lo, hi = float(table.flops_R.min()), float(table.flops_R.max())
    if isinstance(compute, bool) or not isinstance(compute, (int, float)) or not math.isfinite(compute) \
            or not lo <= compute <= limit * hi:
        raise ConfigError(f"--target-compute {compute!r}: accepted is a number of FLOPs from the smallest run's "
                          f"({lo:.3g}) to {limit:g} x the largest run's ({hi:.3g}), {limit * hi:.3g}")
    return float(compute)


def already_run(candidate: design.Candidate, table: RunsTable) -> bool:
    """Whether a fitted point of `table` has the candidate's N and tokens, each within ALREADY_RUN_REL."""
    near_R = ((np.abs(table.n_params_R / candidate.n_params - 1) <= ALREADY_RUN_REL)
              & (np.abs(table.tokens_R / candidate.tokens - 1) <= ALREADY_RUN_REL))
    return bool(near_R.any())


def suggest(table: RunsTable, candidates: Sequence[design.Candidate], *, target_compute: float,
            law: str = "chinchilla", count: int | None = None, budget: float | None = None,
            resamples: int | None = None, seed: int | None = None, level: float | None = None,
            targets: Sequence[str] = design.TARGETS, noise_floor: float | None = None,
            cost_exponent: float | None = None) -> Suggestion:
    """The runs among `candidates` that most sharpen `targets` at `target_compute` (module
    docstring). count None and budget None: conf/fit.yaml's suggest_count runs. Candidates already
    run (the same N and T as a fitted point) or costing more than the target compute are left out.
    cost_exponent: with a budget, each pick the most variance removed per FLOPs^p (None:
    conf/fit.yaml's suggest_cost_exponent)."""
    defaults = fit_defaults()
    if law not in FORMS:
        raise ConfigError(f"--law {law!r}: accepted are {', '.join(FORMS)}")
    design.check_targets(targets)
    resamples, level, seed = defaults.resolve_bootstrap(resamples, level, seed)
    noise_floor = defaults.suggest_noise_floor if noise_floor is None else noise_floor
    cost_exponent = design.check_cost_exponent(
        defaults.suggest_cost_exponent if cost_exponent is None else cost_exponent)
    if count is None and budget is None:
        count = defaults.suggest_count
    design.check_count(count)
    check_draws(defaults.suggest_expect_draws)
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                               or not math.isfinite(budget) or budget <= 0):
        raise ConfigError(f"--budget {budget!r}: accepted is a number of FLOPs > 0")
    spread = seed_spread(validate(table, 1, "sweep suggest"))
    table = fitted_points(table, law)
    target_compute = check_target_compute(target_compute, table)
    ran_C = [already_run(c, table) for c in candidates]
    left_out = {why: n for why, n in ((ALREADY_RAN, sum(ran_C)), (OVER_TARGET, sum(
        c.flops > target_compute and not ran for c, ran in zip(candidates, ran_C)))) if n}
    pool = [c for c, ran in zip(candidates, ran_C) if not ran and c.flops <= target_compute]
    if not pool:
        raise ConfigError(f"no candidate left to propose: of {len(candidates)}, every one was already run or costs "
                          f"more than the target compute ({target_compute:.3g} FLOPs); widen --candidates")
    design.check_budget(budget, [c.flops for c in pool])  # the user's mistakes before any compute
    design.check_candidate_count(len(pool), defaults.suggest_max_candidates)
    fit = fit_law(law, table.n_params_R, table.tokens_R, table.loss_R, show_progress=False)
    boot = bootstrap(fit, n_resamples=resamples, seed=seed, level=level, show_progress=False)
    laws = boot.laws()
    target_QxT = design.target_samples(laws, target_compute, targets)
    noise_var = design.noise_variance(fit, noise_floor)
    choice = design.choose(target_QxT, design.candidate_samples(laws, pool), np.array([c.flops for c in pool]),
                           noise_var, count=count, budget=budget, targets=targets, cost_exponent=cost_exponent)
    now = target_intervals(fit, target_QxT, target_compute, targets, level)
    proposals = tuple(Proposal(pool[i], g) for i, g in zip(choice.picked, choice.gain))
    ratio, expected_from = expected_width_ratio(law, table, fit, now, [p.candidate for p in proposals], choice,
                                                noise_var, target_compute=target_compute, resamples=resamples,
                                                seed=seed, level=level)
    expected = {t: shrunk_interval(*now[t], ratio[t], log_scale=(t == "n_opt")) for t in targets}
    _, misfit = law_scatter(fit.law.predict, table, len(fit.params()), spread)
    edge = edge_warning(now, target_QxT, targets, target_compute) if "n_opt" in targets else None
    return Suggestion(law, target_compute, tuple(targets), choice.criterion, len(table), level, resamples, seed,
                      now, expected, proposals, len(pool), count, budget, misfit, left_out, edge,
                      fit_warnings(table, fit, target_compute), expected_from)


def expected_width_ratio(law: str, points: RunsTable, fit, now: dict[str, tuple[float, float, float]],
                         proposals: Sequence[design.Candidate], choice: design.Choice, noise_var: float, *,
                         target_compute: float, resamples: int, seed: int,
                         level: float) -> tuple[dict[str, float], dict[str, str]]:
    """Per target, the width after the proposals over the width now, and what it was read from: the
    points refitted with the proposals added (sweep/fit/expected.py, conf/fit.yaml's suggest_expect_draws
    draws), or, for a target no refit gave a width, the criterion's linear-Gaussian update. No proposal:
    every ratio 1 (the intervals stay), read from nothing."""
    if not proposals:
        return {t: 1.0 for t in now}, {}
    ratio = refit_width_ratio(law, points.n_params_R, points.tokens_R, points.loss_R, fit, now,
                              np.array([c.n_params for c in proposals]), np.array([c.tokens for c in proposals]),
                              noise_var, target_compute=target_compute, resamples=resamples, seed=seed, level=level,
                              draws=fit_defaults().suggest_expect_draws)
    return or_linear(ratio, choice.width_ratio)


def fit_warnings(points: RunsTable, fit, target_compute: float) -> tuple[str, ...]:
    """The points' loss rising with tokens (sweep/fit/points.py loss_rises) and a fitted Chinchilla law
    with no compute-optimal allocation: the suggestion's N_opt(C) is then no estimate."""
    out = []
    rising = loss_rises(points)
    if rising:
        out.append(f"loss rising with tokens: {loss_rises_text(rising)}")
    if fit.form == "chinchilla" and not math.isfinite(fit.law.G):
        flag = no_allocation_flag(fit.law, target_compute)
        out.append(f"{flag.problem} (remedy: {flag.remedy})")
    return tuple(out)


def edge_warning(now: dict[str, tuple[float, float, float]], target_QxT: np.ndarray, targets: Sequence[str],
                 target_compute: float) -> str | None:
    """Where the fit's N_opt(C), or a bootstrap law's, is the end of the search over tokens per
    parameter (design.RATIOS_O): the law has no compute-optimal size there (a fitted alpha or beta
    near 0), and N_opt or an end of its interval is the search's limit, not an estimate."""
    fitted = design.search_edge_share(now["n_opt"][0], target_compute)
    drawn = design.search_edge_share(np.exp(target_QxT[:, list(targets).index("n_opt")]), target_compute)
    if not fitted and drawn < 0.025:
        return None
    lo, hi = design.RATIOS_O[0], design.RATIOS_O[-1]
    which = "the fit's N_opt(C) is" if fitted else f"{drawn:.0%} of the bootstrap laws' N_opt(C) are"
    return (f"{which} at an end of the search over tokens per parameter ({lo:g} .. {hi:g}): the law has no "
            "compute-optimal size there (an exponent near 0), so N_opt(C)" + ("" if fitted else "'s interval")
            + " is the search's limit, not an estimate; runs at larger and smaller N at this compute pin it")


def fitted_points(table: RunsTable, law: str) -> RunsTable:
    """The points a suggestion fits: the best setting of each (N, T) of one recipe's complete runs,
    its seeds averaged (sweep/fit/points.py), at least one more than the `law` has parameters (else
    a ConfigError counting both)."""
    table = validate(table, 1, "sweep suggest").only_recipe(None, "a suggestion fits")
    points = point_table(table)
    check_enough_points(len(table), len(points), law)
    return points


@dataclass(frozen=True)
class TargetFit:
    """The fit of a table at a target compute: `now` maps each target to (the fit's value,
    interval lo, hi), as Suggestion.now; `params` the fitted law's parameters; `n_points` the
    (N, T) points fitted."""

    now: dict[str, tuple[float, float, float]]
    params: dict[str, float]
    n_points: int

    def to_dict(self) -> dict:
        return {**{t: {"value": v, "interval": [lo, hi]} for t, (v, lo, hi) in self.now.items()},
                "params": dict(self.params), "n_points": self.n_points}


def fit_at_target(table: RunsTable, *, target_compute: float, law: str = "chinchilla",
                  resamples: int | None = None, seed: int | None = None, level: float | None = None,
                  targets: Sequence[str] = design.TARGETS) -> TargetFit:
    """L*(C) and N_opt(C) of the law fitted to the table's best points, with the bootstrap's
    percentile intervals (what `suggest` reports as `now`, without choosing): the fit before and
    after a round of launch/suggest_loop.py."""
    if law not in FORMS:
        raise ConfigError(f"--law {law!r}: accepted are {', '.join(FORMS)}")
    design.check_targets(targets)
    resamples, level, seed = fit_defaults().resolve_bootstrap(resamples, level, seed)
    table = fitted_points(table, law)
    fit = fit_law(law, table.n_params_R, table.tokens_R, table.loss_R, show_progress=False)
    laws = bootstrap(fit, n_resamples=resamples, seed=seed, level=level, show_progress=False).laws()
    now = target_intervals(fit, design.target_samples(laws, target_compute, targets), target_compute, targets, level)
    return TargetFit(now, {k: float(v) for k, v in fit.params().items()}, len(table))
