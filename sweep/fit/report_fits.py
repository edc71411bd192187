"""The fits of `sweep report` (sweep/fit/report.py): the runs each analysis sees (one recipe's for
sections 1-5, one point per (recipe, N, T) for the parametric laws) and every fit the runs table
supports, each analysis that cannot run skipped with its own ConfigError message.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G groups
(budgets, ratios, recipes), X distinct values of a swept quantity, S the points of a curve, P the
parametric fits' points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.crossover import RecipeCrossovers, crossovers_of_fits, recipes_kept
from sweep.fit.runs_file import STUDY_COLUMNS
from sweep.fit.envelope import EnvelopeFit, fit_envelope
from sweep.fit.findings.verdict import Finding
from sweep.fit.fixed import fix_values
from sweep.fit.hyperparams import (A_LAW, MIN_VALUES, HyperparamGroup, HyperparamLaw, StepLaw, find_optima, fit_laws,
                                   fit_step_law)
from sweep.fit.isoflop import IsoFlopFit, fit_isoflop
from sweep.fit.law_bootstrap import BootstrapResult, bootstrap
from sweep.fit.law_comparison import LawComparison, compare_laws
from sweep.fit.parametric import LawFit, fit_chinchilla, fit_subscaling
from sweep.fit.points import MisfitTest, SeedSpread, best_points, law_scatter, point_table, seed_spread
from sweep.fit.curves import Curves
from sweep.fit.table import RATE_DIGITS, RunsTable, of_source


ANALYSES = ("chinchilla", "subscaling", "held_out", "isoflop", "envelope", "lr", "batch_size", "crossover")


@dataclass
class HyperFit:
    """One hyperparameter's groups (by compute budget, or by (N, tokens) cell), the runs whose
    U-curve gave each group's optimum, and, where fittable, its power law of C and Step Law's form."""

    param: str
    by: str
    groups: list[HyperparamGroup]
    group_runs: list[np.ndarray]
    law: HyperparamLaw | None
    step_law: StepLaw | None
    step_law_skipped: str | None = None
    law_error: str | None = None  # why there is no power law


@dataclass
class ReportFits:
    """The fits of one report (None: not made, `skipped` says why) and the runs each one saw; R
    the runs of the table."""

    table: RunsTable  # every run
    tags_R: np.ndarray | None  # recipe of each run (None: no recipe column)
    recipe: str | None  # the recipe of sections 1-5 when the table has several
    main_R: np.ndarray  # runs of that recipe (all runs without recipes), of its corpus `density`
    point_R: np.ndarray  # a run of the best setting of its (recipe, N, T): what the parametric fits see (points.py)
    compute: float
    cutoff: float | None
    density: float | None = None  # the duplicate rate of sections 1-5's corpus when the recipe's runs hold several
    skipped: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)  # --fix: parameters held in sections 1, 2
    chinchilla: LawFit | None = None
    boot: BootstrapResult | None = None
    subscaling: LawFit | None = None
    comparison: LawComparison | None = None
    isoflop: IsoFlopFit | None = None
    envelope: EnvelopeFit | None = None
    hyper: dict[str, HyperFit] = field(default_factory=dict)
    recipe_fits: dict[str, LawFit] = field(default_factory=dict)
    crossover: RecipeCrossovers | None = None
    findings: list[Finding] = field(default_factory=list)  # the papers' findings whose runs are present
    min_tokens_per_param: float | None = None  # runs below it were left out of every fit
    bar: Any = None  # the report's progress (sweep/progress.py): one step per fit attempted

    @property
    def main(self) -> RunsTable:
        """The runs of sections 1-5 (the stopped ones set aside with them: of that recipe and corpus)."""
        main = self.table if self.recipe is None else self.table.of_recipe(self.recipe)
        return main if self.density is None else main.of_density(self.density)

    @property
    def points(self) -> RunsTable:
        """The main recipe's points (sweep/fit/points.py: a setting's seeds averaged into one)."""
        return self.points_of(self.main_R)

    def points_of(self, runs_R: np.ndarray | None = None) -> RunsTable:
        """The points of the runs where `runs_R` is true (None: every recipe's), one per (recipe, N, T)."""
        keep_R = self.point_R if runs_R is None else runs_R & self.point_R
        return point_table(self.table.select(keep_R), None if self.tags_R is None else self.tags_R[keep_R])

    def scatter(self) -> tuple[float, SeedSpread | None, MisfitTest | None]:
        """The rms log residual of the main recipe's points about the Chinchilla law (NaN without
        one), the seed-to-seed spread of its settings trained at several seeds (None: none was), and
        whether the points scatter by more than that (None: no law, no seeds, or too few points)."""
        points, spread = self.points, seed_spread(self.main)
        if self.chinchilla is None or not len(points):
            return math.nan, spread, None
        fit = self.chinchilla
        rms, test = law_scatter(fit.law.predict, points, len(fit.params()) - len(fit.fixed or {}), spread)
        return rms, spread, test

    def main_curves(self, curves: Curves) -> Curves:
        """The curves of the main recipe's runs when the names match (else all of them)."""
        names = set(self.main.names)
        kept = [c for c in curves.runs if c.name in names]
        if not kept or len(kept) == len(curves.runs):
            return curves
        return Curves(kept, curves.loss_key, curves.excluded, curves.source)

    def attempt(self, analysis: str, make: Callable[[], Any]) -> Any:
        """make(), or None with the ConfigError's message recorded as why `analysis` was skipped."""
        if self.bar is not None:
            self.bar.update(info=analysis)
        try:
            return make()
        except ConfigError as err:
            self.skipped[analysis] = str(err)
            return None
        finally:
            if self.bar is not None:
                self.bar.advance()

    def laws(self) -> dict[str, LawFit]:
        """The parametric fits made, by name: the residuals figure's laws."""
        made = {"chinchilla": self.chinchilla, "subscaling": self.subscaling}
        return {name: fit for name, fit in made.items() if fit is not None}


def corpus_tags(table: RunsTable, tags_R: np.ndarray | None) -> np.ndarray | None:
    """(R,) each run's recipe tag, with its corpus's duplicate rate where the table holds several
    (RunsTable.densities): the runs a point is the best of."""
    if len(table.densities()) < 2:
        return tags_R
    rate_R = np.round(table.duplicate_rate_R, RATE_DIGITS)
    recipe_R = tags_R if tags_R is not None else np.full(len(table), "")
    return np.array([f"{r}|{rate}" for r, rate in zip(recipe_R, rate_R)])


def fit_all(table: RunsTable, curves: Curves | None, n_resamples: int, seed: int, cutoff: float | None,
            compute: float | None, recipe: str | None, fix: Any = None,
            bootstrap_method: str | None = None, bar: Any = None) -> ReportFits:
    """Every fit of sections 1-6 that `table` supports (sweep/fit/report.py says which runs each
    sees); an analysis that cannot run is recorded in `skipped` with its ConfigError's message.
    ConfigError for a `recipe` not in the table or a bad `fix` (the user's mistakes, before any fit).
    `bar`: the report's progress, one step per fit attempted."""
    tags_R = None if table.recipe is None else np.array([r if r is not None else "" for r in table.recipe])
    main_R = np.ones(len(table), dtype=bool)
    names = sorted(set(tags_R.tolist())) if tags_R is not None else []
    if recipe is not None and recipe not in names:
        raise ConfigError(f"recipe={recipe!r} is not in the runs table{of_source(table.source)}; its recipes: "
                          f"{', '.join(repr(n) for n in names) or 'none (no recipe column)'}")
    chosen = None
    if len(names) > 1:  # by default the first labelled recipe
        chosen = recipe if recipe is not None else next(n for n in names if n)
        main_R = tags_R == chosen
    densities = (table if chosen is None else table.of_recipe(chosen)).densities()
    density = max(densities, key=lambda rate: (densities[rate], -rate)) if len(densities) > 1 else None
    corpus_R = corpus_tags(table, tags_R)
    if density is not None:  # one corpus: the one with the most runs (a law over two describes neither)
        main_R &= np.round(table.duplicate_rate_R, RATE_DIGITS) == density
    point_R = best_points(table, corpus_R)  # the best setting per (recipe, corpus, N, T)
    main_flops = table.flops_R[main_R]
    fits = ReportFits(table, tags_R, chosen, main_R, point_R, density=density,
                      compute=float(main_flops.max()) if compute is None else float(compute), cutoff=cutoff, bar=bar)
    points, main = fits.points, fits.main
    N, tokens, loss = points.n_params_R, points.tokens_R, points.loss_R
    fits.fixed = fix_values(fix, main)  # a bad --fix is the user's mistake: raised, nothing fitted

    fits.chinchilla = fits.attempt("chinchilla", lambda: fit_chinchilla(N, tokens, loss, fix=fits.fixed))
    if fits.chinchilla is not None:
        fits.boot = fits.attempt("chinchilla", lambda: bootstrap(
            fits.chinchilla, n_resamples=n_resamples, seed=seed, compute=fits.compute, method=bootstrap_method))
    elif bar is not None:
        bar.advance()  # no bootstrap without a fit
    fits.subscaling = fits.attempt("subscaling", lambda: fit_subscaling(N, tokens, loss, fix=fits.fixed))
    if fits.cutoff is None and len(points):
        fits.cutoff = float(np.unique(N)[-1])  # hold out the largest size
    fits.comparison = fits.attempt("held_out", lambda: compare_laws(
        N, tokens, loss, cutoff=fits.cutoff, flops=points.flops_R, names=points.names))
    if len(points) < len(main):  # say that the fits saw points, not runs
        for analysis in ("chinchilla", "subscaling", "held_out"):
            if analysis in fits.skipped:
                fits.skipped[analysis] = (f"{len(points)} distinct (N, T) points among {len(main)} runs: "
                                          f"{fits.skipped[analysis]}")
    fits.isoflop = fits.attempt("isoflop", lambda: fit_isoflop(main, n_resamples=n_resamples, seed=seed))
    if curves is None:
        fits.skipped["envelope"] = ("no loss curves were given: Approach 1 reads every run's loss-vs-FLOPs "
                                    "curve (metrics.jsonl), so it needs a sweep folder")
        if bar is not None:
            bar.advance()
    else:
        fits.envelope = fits.attempt("envelope", lambda: fit_envelope(fits.main_curves(curves)))
    for param in ("lr", "batch_size"):
        hyper = fits.attempt(param, lambda: _fit_hyper(main, param))
        if hyper is not None:
            fits.hyper[param] = hyper
            if hyper.law_error is not None:
                fits.skipped[f"{param}_law"] = hyper.law_error
    fits.crossover = fits.attempt("crossover", lambda: _fit_crossover(fits, names, n_resamples, seed))
    return fits



def _fit_hyper(main: RunsTable, param: str) -> HyperFit:
    """The groups (per budget, or per cell where a budget holds several cells), the power law and
    Step Law's form where fittable; ConfigError when no group has at least MIN_VALUES distinct
    values of `param`."""
    optima = find_optima(main, param)  # ConfigError when the table has no such column
    if any(g.n_cells > 1 for g in optima.groups):
        optima = find_optima(main, param, by="cell")
    if all(g.status == "skipped" for g in optima.cells):
        most = max(g.n_values for g in optima.cells)
        raise ConfigError(f"no (N, tokens) cell has {MIN_VALUES} distinct {param} values (at most {most} in each of "
                          f"{len(optima.cells)} cell(s)): {A_LAW[param]} needs a grid of {param} values per cell")
    law, law_error = None, None
    try:
        law = fit_laws(optima)
    except ConfigError as err:
        law_error = str(err)
    if law is not None:
        step_law, step_law_skipped = law.step_law, law.step_law_skipped
    else:
        step_law, step_law_skipped = None, None
        try:
            step_law = fit_step_law(param, [g for g in optima.cells if g.status == "vertex"], len(optima.cells))
        except ConfigError as err:
            step_law_skipped = str(err)
    return HyperFit(param, optima.by, optima.groups, optima.group_runs, law, step_law, step_law_skipped, law_error)


def _fit_crossover(fits: ReportFits, names: list[str], n_resamples: int, seed: int) -> RecipeCrossovers:
    if fits.tags_R is None:
        raise ConfigError("the runs table has no recipe column: a crossover compares two or more recipes (train them "
                          "with recipe=NAME, or give a table with a recipe column)")
    if "" in names:
        raise ConfigError(f"{int((fits.tags_R == '').sum())} runs have no recipe label")
    column = fits.table.columns_read.get("recipe")
    if column in STUDY_COLUMNS:
        raise ConfigError(f"the recipes are separate studies (column {column!r}), whose losses are measured on "
                          "different data: a crossover compares recipes evaluated alike (to compare these anyway: "
                          f"--column recipe={column})")
    if len(names) < 2:
        raise ConfigError(f"a crossover compares 2 or more recipes; the runs are tagged with {len(names)}: "
                          f"{', '.join(repr(n) for n in names)}")
    skipped = {}
    for name in names:
        if name == fits.recipe and fits.chinchilla is not None:
            fits.recipe_fits[name] = fits.chinchilla
            continue
        points = fits.points_of(fits.tags_R == name)
        try:
            fits.recipe_fits[name] = fit_chinchilla(points.n_params_R, points.tokens_R, points.loss_R)
        except ConfigError as err:
            skipped[name] = str(err)
    fitted = recipes_kept(names, skipped)  # left out while two recipes remain, as find_crossovers does
    return replace(crossovers_of_fits({name: fits.recipe_fits[name] for name in fitted}, n_resamples=n_resamples,
                                      seed=seed), skipped=skipped)
