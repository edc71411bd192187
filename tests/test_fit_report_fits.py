"""sweep/fit/report_fits.py: which runs each of the report's fits sees (one recipe's for sections 1-5,
the best run of each (N, T) for the parametric laws), what is skipped and why, and a recipe the table
lacks refused before any fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.report_fits import ANALYSES, fit_all
from sweep.fit.curves import Curve, Curves
from tests.test_fit_report import BUDGETS, isoflop_rows, make_table


@pytest.fixture(scope="module")
def two_recipes():
    return make_table(isoflop_rows(budgets=BUDGETS[:3]))  # 2 recipes x 3 budgets x 5 sizes x 3 lr x 3 batch sizes


def test_sections_1_to_5_fit_the_first_recipe_and_the_parametric_laws_its_best_run_per_n_and_t(two_recipes):
    table = two_recipes
    fits = fit_all(table, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    recipe_R = np.array(table.recipe)
    assert fits.recipe == "x" and (fits.main_R == (recipe_R == "x")).all()
    points = fits.points
    assert len(points) == 3 * 5 and set(points.names) <= {n for n, r in zip(table.names, table.recipe) if r == "x"}
    for i, name in enumerate(points.names):  # each point is the lowest loss of the 9 runs of its (N, T)
        same_R = (table.n_params_R == points.n_params_R[i]) & (table.tokens_R == points.tokens_R[i]) & (recipe_R == "x")
        assert same_R.sum() == 9 and points.loss_R[i] == table.loss_R[same_R].min()
    assert fits.compute == table.flops_R[recipe_R == "x"].max()
    assert set(fits.laws()) == {"chinchilla", "subscaling"} and set(fits.recipe_fits) == {"x", "y"}
    assert fits.crossover is not None and set(fits.hyper) == {"lr", "batch_size"}
    assert set(fits.skipped) == {"envelope"} and "no loss curves were given" in fits.skipped["envelope"]
    assert set(fits.skipped) <= set(ANALYSES)


@pytest.mark.parametrize("column, compared", [("experiment", False), ("experiment (--column)", True)])
def test_recipes_that_are_separate_studies_are_fitted_alone_and_never_crossed(two_recipes, column, compared):
    # a table gathering published studies (an `experiment` column): their losses are on different data
    studies = dataclasses.replace(two_recipes, columns_read={"recipe": column})
    fits = fit_all(studies, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    assert set(fits.recipe_fits) == ({"x", "y"} if compared else set())
    assert (fits.crossover is not None) == compared
    if not compared:
        assert fits.skipped["crossover"].startswith("the recipes are separate studies (column 'experiment')")


def test_a_recipe_the_table_lacks_is_refused_naming_its_recipes(two_recipes):
    with pytest.raises(ConfigError, match=r"recipe='z' is not in the runs table of synthetic; its recipes: 'x', 'y'"):
        fit_all(two_recipes, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe="z")


def test_the_envelope_reads_the_main_recipes_curves_only(two_recipes):
    fits = fit_all(two_recipes, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe="y")
    curves = Curves([Curve(name, 1e6, np.array([1e6, 2e6]), np.array([6e12, 1.2e13]), np.array([3.0, 2.9]))
                     for name in two_recipes.names[:: 9]], "eval_loss")
    kept = fits.main_curves(curves)
    assert {c.name for c in kept.runs} == {n for n, r in zip(two_recipes.names, two_recipes.recipe) if r == "y"} & \
        {c.name for c in curves.runs}
    assert 0 < len(kept.runs) < len(curves.runs)


def test_sections_1_to_5_fit_one_corpus_density_the_one_with_the_most_runs(two_recipes):
    """Two corpora (duplicate rates 0.0 and 0.9) at the same (N, T), no recipe to tell them apart: each
    point was the lower loss of the two, a law of neither."""
    from sweep.fit.table import from_rows
    from tests.test_fit_laws import rows

    plain = [{**r, "data_density": {"near_or_exact_duplicate_rate": 0.0}} for r in rows()]
    dense = [{**r, "run": r["run"] + "-dense", "data_density": {"near_or_exact_duplicate_rate": 0.9}}
             for r in rows(seed=2, E=1.4) if r["tokens"] / r["n_params"] != 40]  # 24 runs, fewer than plain's 32
    table = from_rows(plain + dense)
    fits = fit_all(table, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    assert fits.density == 0.0 and int(fits.main_R.sum()) == 32 and len(fits.main) == 32
    assert len(fits.points) == 32 and set(fits.points.names) == {r["run"] for r in plain}
    assert fits.chinchilla.law.E == pytest.approx(1.7, rel=0.05)  # plain's law, not the mixture's

