"""sweep/fit/points.py: the point a parametric law sees for each (recipe, N, T): the best setting, its
seeds averaged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweep.fit.laws import fit_law
from sweep.fit.points import SeedSpread, best_points, misfit_test, point_table, seed_spread, settings
from sweep.fit.table import from_frame, from_rows

TRUE = dict(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)


def run(name, loss, lr=1e-3, seed=None, n=1e6, tokens=2e7, **extra):
    row = {"run": name, "status": "complete", "n_params": n, "tokens": tokens, "final_eval_loss": loss, "lr": lr}
    return {**row, **({} if seed is None else {"seed": seed}), **extra}


def test_a_setting_s_seeds_are_one_point_at_their_mean_loss_not_their_least():
    table = from_rows([run("a0", 3.00, seed=0), run("a1", 3.10, seed=1), run("a2", 3.20, seed=2)])
    points = point_table(table)
    assert len(points) == 1 and points.loss_R[0] == pytest.approx(3.10)
    assert points.names == ("a0 +2 seeds",) and points.seed == ("0,1,2",)
    assert best_points(table).tolist() == [True, True, True]


def test_the_best_setting_of_a_grid_is_chosen_by_its_mean_not_by_its_luckiest_seed():
    table = from_rows([run("lo-0", 3.00, lr=1e-3, seed=0), run("lo-1", 3.30, lr=1e-3, seed=1),  # mean 3.15
                       run("hi-0", 3.10, lr=4e-3, seed=0), run("hi-1", 3.12, lr=4e-3, seed=1)])  # mean 3.11
    assert best_points(table).tolist() == [False, False, True, True]
    assert point_table(table).loss_R.tolist() == pytest.approx([3.11])


def test_without_seeds_or_with_a_seed_repeated_the_runs_are_a_grid_and_the_lowest_loss_stands():
    """Runs alike in every recorded hyperparameter but sharing a seed differ in something the table
    does not record: each is a setting of its own, as is every run of a table without seeds."""
    no_seeds = from_rows([run("x", 3.2), run("y", 3.0)])
    repeated = from_rows([run("x", 3.2, seed=0), run("y", 3.0, seed=0), run("z", 3.1, seed=1)])
    for table in (no_seeds, repeated):
        assert point_table(table).loss_R.tolist() == [3.0]
        assert settings(table) == [[i] for i in range(len(table))]


def test_one_run_without_a_seed_among_its_setting_s_seeded_repeats_is_one_more_replicate():
    """A published table gives seeds to the repeats of a setting only (datablations: seeds 1-4 and the
    first run blank); runs of other settings have no seed at all. Was: a TypeError joining the labels,
    or (blank beside seeds) every run its own setting and the luckiest seed the point."""
    table = from_frame(pd.DataFrame({
        "n_params": [1e6] * 5 + [2e6, 2e6], "tokens": [2e7] * 5 + [4e7, 4e7], "loss": [3.0, 3.1, 3.2, 3.3, 3.4, 2.9, 2.8],
        "lr": [1e-3] * 5 + [1e-3, 2e-3], "seed": [None, 1, 2, 3, 4, None, None]}))
    assert settings(table) == [[0, 1, 2, 3, 4], [5], [6]]
    points = point_table(table)
    assert points.loss_R.tolist() == pytest.approx([3.2, 2.8]) and points.seed == ("no seed,1,2,3,4", None)
    assert seed_spread(table).seeds_Z.tolist() == [5]
    two_blanks = from_frame(pd.DataFrame({"n_params": [1e6] * 3, "tokens": [2e7] * 3, "loss": [3.0, 3.1, 3.2],
                                          "seed": [None, None, 1]}))
    assert settings(two_blanks) == [[0], [1], [2]]  # which blank is which seed? each a setting of its own


def test_runs_of_a_sweep_that_differ_in_a_setting_no_column_shows_are_no_replicates():
    """A sweep folder's rows carry their config but the seed, hashed (`setting`): two warmups at one lr
    are two settings even with different seeds, and the better one is the point."""
    table = from_rows([run("warm-0", 3.0, seed=0, setting="aaa"), run("warm-1", 3.2, seed=1, setting="aaa"),
                       run("cold-2", 3.05, seed=2, setting="bbb")])
    assert settings(table) == [[0, 1], [2]]
    assert point_table(table).names == ("cold-2",)


def test_points_of_other_sizes_and_recipes_stay_apart_and_keep_the_runs_order():
    table = from_rows([run("big-0", 2.5, n=4e6, tokens=8e7, seed=0), run("small-0", 3.0, seed=0),
                       run("big-1", 2.7, n=4e6, tokens=8e7, seed=1), run("small-1", 3.2, seed=1),
                       run("other", 2.0, seed=0, recipe="b")])
    tags_R = np.array([r or "" for r in table.recipe])
    points = point_table(table, tags_R)
    assert points.names == ("big-0 +1 seeds", "small-0 +1 seeds", "other")
    assert points.loss_R.tolist() == pytest.approx([2.6, 3.1, 2.0])


def test_the_mean_s_standard_error_adds_the_seeds_spread_and_the_eval_error_they_share():
    """The seeds are evaluated on the same held-out tokens: the eval sample's error is common to them
    and does not shrink with J; what training again would move does."""
    apart = from_rows([run("a", 3.0, seed=0, final_eval_loss_stderr=0.03),
                       run("b", 3.2, seed=1, final_eval_loss_stderr=0.04)])
    alike = from_rows([run("a", 3.0, seed=0, final_eval_loss_stderr=0.03),
                       run("b", 3.001, seed=1, final_eval_loss_stderr=0.04)])
    unrecorded = from_rows([run("a", 3.0, seed=0), run("b", 3.2, seed=1)])
    assert point_table(apart).loss_stderr_R.tolist() == pytest.approx([np.hypot(0.1, 0.035)])  # sd 0.141 / sqrt(2)
    assert point_table(alike).loss_stderr_R.tolist() == pytest.approx([0.035], rel=1e-3)
    assert point_table(unrecorded).loss_stderr_R.tolist() == pytest.approx([0.1])


def test_a_runs_file_s_seed_column_is_read_under_its_usual_names():
    frame = pd.DataFrame({"N": [1e6, 1e6], "D": [2e7, 2e7], "loss": [3.0, 3.4], "Random Seed": [1.0, 2.0]})
    table = from_frame(frame, "runs.csv")
    assert table.seed == ("1", "2") and table.columns_read["seed"] == "Random Seed"
    assert point_table(table).loss_R.tolist() == pytest.approx([3.2])


def law_rows(seeds, noise, rng):
    out = []
    for i, n in enumerate(np.geomspace(1e6, 1e8, 8)):
        for tpp in (5, 10, 20, 40):
            d = n * tpp
            loss = TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]
            out += [run(f"r{i}-{tpp}-s{s}", loss * np.exp(rng.normal(0, noise)), n=n, tokens=d, seed=s)
                    for s in range(seeds)]
    return out


def test_a_law_fitted_to_three_seeds_per_point_is_not_pulled_below_the_truth():
    """With 1% noise, the least of 3 seeds lies 0.85 standard deviations under their mean: a law fitted
    to it predicts about 0.85% low everywhere. Averaged, the fit's predictions straddle the truth."""
    rows = law_rows(seeds=3, noise=0.01, rng=np.random.default_rng(0))
    grid = [{k: v for k, v in r.items() if k != "seed"} for r in rows]  # the same runs read as a grid
    N = np.geomspace(1e6, 1e8, 8)[:, None] * np.ones(4)
    T = N * np.array([5, 10, 20, 40])
    truth = TRUE["E"] + TRUE["A"] / N ** TRUE["alpha"] + TRUE["B"] / T ** TRUE["beta"]
    bias = {}
    for name, source in (("seeds", rows), ("grid", grid)):
        out = fit_law("chinchilla", from_rows(source), bootstrap=0)
        assert out["n_points"] == 32
        if name == "seeds":  # the truth's own form: the points scatter by what the seeds move
            assert out["seed_spread"]["dof"] == 64 and out["misfit_test"]["p"] > 0.01
        else:
            assert out["seed_spread"] is None and out["misfit_test"] is None
        law = {k: out[k] for k in TRUE}
        fitted = law["E"] + law["A"] / N ** law["alpha"] + law["B"] / T ** law["beta"]
        bias[name] = float(np.mean(np.log(fitted / truth)))
    assert abs(bias["seeds"]) < 0.002
    assert bias["grid"] < -0.006


def test_the_seeds_spread_is_pooled_over_their_degrees_of_freedom():
    """Two settings: 3 seeds (2 degrees of freedom) and 2 seeds (1). A run's relative sd pools their
    variances by degrees of freedom; a point's divides each by its seeds."""
    table = from_rows([run("a0", 3.0, seed=0), run("a1", 3.03, seed=1), run("a2", 2.97, seed=2),
                       run("b0", 2.0, seed=0, n=4e6, tokens=8e7), run("b1", 2.04, seed=1, n=4e6, tokens=8e7),
                       run("c", 1.0, n=8e6, tokens=1.6e8)])  # one seed: no spread
    spread = seed_spread(table)
    rel_a, rel_b = 0.03 / 3.0, np.std([2.0, 2.04], ddof=1) / 2.02
    assert spread.dof == 3 and spread.relative_Z.tolist() == pytest.approx([rel_a, rel_b])
    assert spread.pooled == pytest.approx(np.sqrt((2 * rel_a ** 2 + rel_b ** 2) / 3))
    assert spread.of_a_point == pytest.approx(np.sqrt((2 * rel_a ** 2 / 3 + rel_b ** 2 / 2) / 3))
    assert seed_spread(from_rows([run("x", 3.0), run("y", 3.1)])) is None


def test_the_misfit_test_finds_a_scatter_beyond_the_seeds_and_not_one_within_them():
    spread = SeedSpread(np.full(30, 0.01), np.full(30, 2.0))  # a point's relative se: 0.01 / sqrt(2)
    rng = np.random.default_rng(0)
    within = misfit_test(rng.normal(0, 0.01 / np.sqrt(2), 40), 5, spread)
    beyond = misfit_test(rng.normal(0, 0.03, 40), 5, spread)
    assert within.p > 0.05 and beyond.p < 1e-4 and beyond.f > 10
    assert (within.dof_residual, within.dof_seeds) == (35, 30)
    assert within.p_text == f"p = {within.p:.2g}"
    assert beyond.p_text == "p < 5e-06" and "p < 5e-06)" in beyond.warning()  # no F draw as large: a bound, not a value
    assert misfit_test(np.zeros(5), 5, spread) is None  # no residual degree of freedom


def test_a_best_loss_rising_with_more_tokens_at_one_size_is_counted_for_the_warning():
    from sweep.fit.points import loss_rises, loss_rises_text

    falling = [run("a", 3.3, tokens=1e7), run("b", 3.1, tokens=2e7), run("c", 3.0, tokens=4e7),
               run("c-bad-lr", 3.4, lr=1e-1, tokens=4e7)]  # a worse lr at the larger budget: not the point
    assert loss_rises(from_rows(falling)) is None
    rising = from_rows([*falling, run("d", 3.2, tokens=8e7)])  # OLMo's C4 column: 9.36 -> 9.56 at 190M
    found = loss_rises(rising)
    assert found == {"rises": 1, "steps": 3, "example": {"n_params": 1e6, "tokens": [4e7, 8e7], "loss": [3.0, 3.2]}}
    assert loss_rises_text(found).startswith("at a fixed N, 1 of 3 steps to more tokens raise the best loss by more "
                                             "than 0.5% (e.g. N = 1e+06: 3 at T = 4e+07, 3.2 at T = 8e+07)")
