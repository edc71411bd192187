"""The points a parametric law is fitted to: the best setting of each (recipe, N, T), one point each.

A setting is the runs of one (recipe, N, T) with the same hyperparameters (lr, batch_size,
weight_decay, d, l) that differ only in their seed: replicates. Its loss is their mean loss, so that
seeds tighten a point instead of lowering it: the least of J seeds' losses lies below their mean by
about the seeds' spread (0.85 standard deviations for 3), a bias the law would carry into every
prediction. A sweep folder's or a W&B group's runs also carry their whole config but the seed,
hashed (the table's `setting`, sweep/rundir.py `seedless_setting`), so runs that differ in a setting
no column shows (a warmup, a schedule) are never replicates. Runs with no seed column, or with a
seed that repeats among runs alike in every recorded hyperparameter (they differ in something the
table does not say), are each a setting of their own; so are runs alike without a seed. One run
without a seed among seeded runs alike in every recorded hyperparameter is one more replicate (a
published table often gives a seed only to the repeats of a setting's first run). Of the settings sharing a
(recipe, N, T) (a hyperparameter grid) the one of lowest loss is the point: the tuned run, as
Hoffmann et al. and DeepSeek fit, so that a learning-rate grid does not pull a law up by its worse
runs.

`seed_spread` says how far seeds move a run, `misfit_test` whether a law's points scatter by more:
what a law can be asked to fit within.

Letters: R runs, P points, G groups of runs, J the replicates (seeds) of one setting, Z the settings
trained at several seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Hashable, Sequence

import numpy as np

from sweep.fit.table import HYPERPARAMETERS, RunsTable


NO_SEED = "no seed"  # a replicate without a seed, in its setting's joined seed labels


@dataclass(frozen=True)
class SeedSpread:
    """The seed-to-seed spread of the Z settings trained at J >= 2 seeds: each one's sample standard
    deviation over its mean loss (`relative_Z`) and its number of seeds (`seeds_Z`)."""

    relative_Z: np.ndarray
    seeds_Z: np.ndarray

    @property
    def pooled(self) -> float:
        """The relative standard deviation of one run, pooled over the settings (their variances
        weighted by their J - 1 degrees of freedom: with 2 seeds each, a median of the settings'
        own estimates would read low)."""
        dof_Z = self.seeds_Z - 1
        return float(np.sqrt(np.sum(dof_Z * self.relative_Z ** 2) / np.sum(dof_Z)))

    @property
    def of_a_point(self) -> float:
        """The relative standard error of a point, the mean of its setting's J seeds, pooled likewise."""
        dof_Z = self.seeds_Z - 1
        return float(np.sqrt(np.sum(dof_Z * self.relative_Z ** 2 / self.seeds_Z) / np.sum(dof_Z)))

    @property
    def dof(self) -> int:
        """The degrees of freedom the pooled estimates rest on: the seeds beyond each setting's first."""
        return int(np.sum(self.seeds_Z - 1))

    def to_dict(self) -> dict[str, float | int]:
        return {"settings": len(self.relative_Z), "seeds_median": float(np.median(self.seeds_Z)), "dof": self.dof,
                "relative_sd_pooled": self.pooled, "relative_sd_max": float(self.relative_Z.max()),
                "point_relative_se": self.of_a_point}


MISFIT_P = 0.01  # a misfit test's p below this: the points scatter about the law by more than the seeds move


@dataclass(frozen=True)
class MisfitTest:
    """Do the points scatter about a law by more than the seeds move a point? F = the residuals'
    variance (their sum of squares over P - the law's parameters) over a point's variance from the
    seeds (`SeedSpread.of_a_point` squared), against F(P - parameters, the seeds' dof): `p`, the
    chance of an F this large were the law exact and the points off it by seed noise alone."""

    rms: float  # of the P log residuals
    f: float
    dof_residual: int
    dof_seeds: int
    p: float

    @property
    def beyond_seeds(self) -> bool:
        """Whether the points scatter about the law by more than the seeds move a point (p < MISFIT_P)."""
        return self.p < MISFIT_P

    @property
    def p_text(self) -> str:
        """"p = 0.003", or "p < 5e-06" where no F draw reached this F (the least p the draws can give)."""
        floor = 1 / (F_DRAWS + 1)
        return f"p < {floor:.1g}" if self.p <= floor * (1 + 1e-9) else f"p = {self.p:.2g}"

    def warning(self) -> str:
        """The warning `sweep fit` and `sweep suggest` print where `beyond_seeds`, without its consequence."""
        return (f"the points scatter about the law by an rms {self.rms:.2%}, more than the seeds move a point (F = "
                f"{self.f:.3g} on {self.dof_residual} and {self.dof_seeds} degrees of freedom, {self.p_text})")


F_DRAWS = 200_000  # draws of the F distribution the test's p is read from (numpy's, seeded: the same p each time)


def misfit_test(residual_P: np.ndarray, n_parameters: int, spread: SeedSpread) -> MisfitTest | None:
    """The test for the P log residuals of a law of `n_parameters` fitted to points whose seeds spread
    as `spread`; None when P <= n_parameters (no residual degree of freedom) or the seeds did not move."""
    dof_residual = len(residual_P) - n_parameters
    if dof_residual < 1 or spread.of_a_point <= 0:
        return None
    f = float(np.sum(residual_P ** 2) / dof_residual / spread.of_a_point ** 2)
    draws = np.random.default_rng(0).f(dof_residual, spread.dof, F_DRAWS)
    return MisfitTest(float(np.sqrt(np.mean(residual_P ** 2))), f, dof_residual, spread.dof,
                      float((np.sum(draws >= f) + 1) / (F_DRAWS + 1)))


def law_scatter(predict, points: RunsTable, n_parameters: int,
                spread: SeedSpread | None) -> tuple[float, MisfitTest | None]:
    """The rms log residual of the `points` about a law (`predict(N, T)`, with `n_parameters` free) and
    the misfit test against `spread` (None without seeds, or with too few points)."""
    residual_P = np.log(points.loss_R / predict(points.n_params_R, points.tokens_R))
    test = None if spread is None else misfit_test(residual_P, n_parameters, spread)
    return float(np.sqrt(np.mean(residual_P ** 2))), test


def noise_to_dict(rms: float, spread: SeedSpread | None, test: MisfitTest | None) -> dict[str, Any]:
    """`sweep fit --json`'s and fits.json's figures of `law_scatter` and `seed_spread`."""
    return {"rms_log_residual": rms, "seed_spread": None if spread is None else spread.to_dict(),
            "misfit_test": None if test is None else dict(test.__dict__)}


def seed_spread(table: RunsTable, tags_R: Sequence[Hashable] | None = None) -> SeedSpread | None:
    """The spread of the table's settings of several seeds (`settings`); None when there is none."""
    groups = [runs for runs in settings(table, tags_R) if len(runs) > 1]
    if not groups:
        return None
    return SeedSpread(np.array([table.loss_R[runs].std(ddof=1) / table.loss_R[runs].mean() for runs in groups]),
                      np.array([len(runs) for runs in groups], dtype=float))


def settings(table: RunsTable, tags_R: Sequence[Hashable] | None = None) -> list[list[int]]:
    """The runs' indices grouped by setting (the module's docstring), in the order of each
    setting's first run. `tags_R`: each run's recipe tag, or any group key (None: the table's recipe
    labels). A run standing with its predicted loss (stopped early) is no replicate of a run that
    finished."""
    tags_R = _tags(table) if tags_R is None else tags_R
    groups: dict[tuple, list[int]] = {}
    columns = [getattr(table, f"{h}_R") for h in HYPERPARAMETERS if getattr(table, f"{h}_R") is not None]
    predicted_R = table.is_predicted()
    for i in range(len(table)):
        hyper = tuple(None if math.isnan(c[i]) else float(c[i]) for c in columns)
        setting = table.setting[i] if table.setting is not None else None
        key = (tags_R[i], bool(predicted_R[i]), float(table.n_params_R[i]), float(table.tokens_R[i]), *hyper, setting)
        groups.setdefault(key, []).append(i)
    out = []
    for runs in groups.values():
        seeds = [table.seed[i] for i in runs] if table.seed is not None else [None] * len(runs)
        if len(runs) > 1 and seeds.count(None) < len(runs) and len(set(seeds)) == len(runs):  # one blank at most
            out.append(runs)
        else:
            out.extend([i] for i in runs)
    return sorted(out, key=lambda runs: runs[0])


def setting_table(table: RunsTable, tags_R: Sequence[Hashable] | None = None) -> RunsTable:
    """One row per setting: the table itself where no setting has several seeds (`averaged`)."""
    return averaged(table, settings(table, tags_R))


def _best(table: RunsTable, tags_R: Sequence[Hashable] | None) -> list[list[int]]:
    """The setting of lowest mean loss of each (tag, N, T); the first of equals."""
    tags_R = _tags(table) if tags_R is None else tags_R
    best: dict[tuple, list[int]] = {}
    for runs in settings(table, tags_R):
        i = runs[0]
        key = (tags_R[i], float(table.n_params_R[i]), float(table.tokens_R[i]))
        if key not in best or table.loss_R[runs].mean() < table.loss_R[best[key]].mean():
            best[key] = runs
    return sorted(best.values(), key=lambda runs: runs[0])


def best_points(table: RunsTable, tags_R: Sequence[Hashable] | None = None) -> np.ndarray:
    """(R,) True for the runs of the best setting of their (recipe tag, N, T): every seed of it."""
    keep_R = np.zeros(len(table), dtype=bool)
    for runs in _best(table, tags_R):
        keep_R[runs] = True
    return keep_R


def point_table(table: RunsTable, tags_R: Sequence[Hashable] | None = None) -> RunsTable:
    """The P points (P <= R): the best setting of each (recipe tag, N, T), one row each (`averaged`)."""
    return averaged(table, _best(table, tags_R))


RISE_TOLERANCE = 0.005  # at one N, a point of more tokens above one of fewer by more than this is a rise


def loss_rises(table: RunsTable) -> dict[str, Any] | None:
    """{"rises", "steps", "example"}: at one (recipe, N), the steps from one token budget's point to the
    next larger one's whose loss rises by more than RISE_TOLERANCE, of all such steps; None where
    none does. Every law here has the loss falling with tokens: OLMo's ladder's C4 loss column rose
    9.36 -> 9.56 from 5x to 10x Chinchilla at 190M, a column that is not these runs' loss."""
    points = point_table(table)
    tags_R = _tags(points)
    sizes: dict[tuple, list[int]] = {}  # (recipe tag, N) -> its points
    for i in range(len(points)):
        sizes.setdefault((tags_R[i], float(points.n_params_R[i])), []).append(i)
    rises, steps, example = 0, 0, None
    for at_P in sizes.values():
        at_P = sorted(at_P, key=lambda i: points.tokens_R[i])
        for a, b in zip(at_P, at_P[1:]):
            steps += 1
            if points.loss_R[b] > points.loss_R[a] * (1 + RISE_TOLERANCE):
                rises += 1
                example = example or {"n_params": float(points.n_params_R[a]),
                                      "tokens": [float(points.tokens_R[a]), float(points.tokens_R[b])],
                                      "loss": [float(points.loss_R[a]), float(points.loss_R[b])]}
    return {"rises": rises, "steps": steps, "example": example} if rises else None


def loss_rises_text(rising: dict[str, Any]) -> str:
    """The warning for `loss_rises`: what it means for the fits, and what to check."""
    e = rising["example"]
    return (f"at a fixed N, {rising['rises']} of {rising['steps']} steps to more tokens raise the best loss by more than "
            f"{RISE_TOLERANCE:.1%} (e.g. N = {e['n_params']:.3g}: {e['loss'][0]:.4g} at T = {e['tokens'][0]:.3g}, "
            f"{e['loss'][1]:.4g} at T = {e['tokens'][1]:.3g}); every law here has the loss falling with tokens, so "
            "these runs are not one law's (a loss column of something else, data repeated for many epochs, a "
            "schedule cut short, runs that diverged?)")


def averaged(table: RunsTable, groups: list[list[int]]) -> RunsTable:
    """One row per group of run indices (a setting's replicates, each group in increasing order), in
    the order of their first runs: a group of J > 1 seeds stands as its first run with the mean loss,
    its seeds' labels joined by "," and the name "FIRST +J-1 seeds"; its loss_stderr is the mean's
    (`_stderr_of_mean`)."""
    groups = sorted(groups, key=lambda runs: runs[0])
    first_R = np.zeros(len(table), dtype=bool)
    first_R[[runs[0] for runs in groups]] = True
    rows = table.select(first_R)  # in the order of their first runs, as `groups` is
    if all(len(runs) == 1 for runs in groups):
        return rows
    loss_G = np.array([table.loss_R[runs].mean() for runs in groups])
    names = tuple(name if len(runs) == 1 else f"{name} +{len(runs) - 1} seeds"
                  for name, runs in zip(rows.names, groups))
    seed = tuple(table.seed[runs[0]] if len(runs) == 1 else ",".join(table.seed[i] or NO_SEED for i in runs)
                 for runs in groups) if table.seed is not None else None
    stderr_R = table.loss_stderr_R if table.loss_stderr_R is not None else np.full(len(table), np.nan)
    stderr_G = np.array([_stderr_of_mean(table.loss_R[runs], stderr_R[runs]) for runs in groups])
    return replace(rows, names=names, loss_R=loss_G, seed=seed, loss_stderr_R=stderr_G)


def _tags(table: RunsTable) -> np.ndarray:
    """(R,) each run's recipe label, "" where none."""
    return np.array([r or "" for r in table.recipe] if table.recipe is not None else [""] * len(table))


def _stderr_of_mean(loss_J: np.ndarray, stderr_J: np.ndarray) -> float:
    """The standard error of the mean of J >= 1 replicates' final eval losses: the seeds' spread over
    sqrt(J) (what training again would move; J > 1) and the eval sample's error, which the seeds
    share (they are evaluated on the same held-out tokens, so averaging does not shrink it: their
    eval standard errors' mean), added in quadrature; the spread alone where no eval error was
    recorded, NaN for one run without one."""
    if len(loss_J) == 1:
        return float(stderr_J[0])
    recorded_J = stderr_J[np.isfinite(stderr_J)]
    shared = float(recorded_J.mean()) if len(recorded_J) else 0.0
    return float(np.sqrt(loss_J.var(ddof=1) / len(loss_J) + shared ** 2))
