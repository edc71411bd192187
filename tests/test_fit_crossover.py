"""sweep/fit/crossover.py: the compute where two recipes' fitted laws cross, or which wins."""

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.crossover import (crossover_of_fits, crossovers_of_fits, find_crossover, find_crossovers,
                                  law_crossings, recipes_kept)
from sweep.fit.parametric import ChinchillaLaw, fit_chinchilla

# X is better at small compute; Y (lower E, larger A and B) wins from C = 1.56e19 on
LAW_X = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
LAW_Y = ChinchillaLaw(E=1.4, A=500.0, B=512.5, alpha=0.34, beta=0.28)
LAW_WORSE = ChinchillaLaw(E=1.8, A=450.0, B=450.0, alpha=0.34, beta=0.28)  # X wins throughout


def recipe_runs(laws: dict, noise=0.005, seed=1):
    """30 runs per recipe: N 1e7 .. 3e9 x 5 .. 200 tokens per parameter (C 3e15 .. 1e22).
    (With noise seed 0 the fitted x, y cross at 1.5 x the truth, just outside the interval;
    seeds 1 .. 3 land within 1.15 x.)"""
    n_XxY, tpp_XxY = np.meshgrid(  # X sizes x Y tokens-per-parameter ratios
        np.logspace(7, 9.5, 6), np.logspace(0.7, 2.3, 5), indexing="ij")
    N_R, tokens_R = n_XxY.ravel(), (n_XxY * tpp_XxY).ravel()
    rng = np.random.default_rng(seed)
    parts = [(N_R, tokens_R, law.predict(N_R, tokens_R) * np.exp(noise * rng.normal(size=N_R.size)),
              np.full(N_R.size, name)) for name, law in laws.items()]
    return tuple(np.concatenate(column) for column in zip(*parts))


def test_the_crossing_of_two_known_laws():
    (truth,) = law_crossings(LAW_X, LAW_Y, (1e15, 1e23))
    assert truth == pytest.approx(1.5638e19, rel=1e-3)
    assert LAW_X.loss_opt(truth / 2) < LAW_Y.loss_opt(truth / 2)
    assert LAW_X.loss_opt(truth * 2) > LAW_Y.loss_opt(truth * 2)
    assert law_crossings(LAW_X, LAW_WORSE, (1e15, 1e23)) == []


@pytest.fixture(scope="module")
def xy_result():
    return find_crossover(*recipe_runs({"x": LAW_X, "y": LAW_Y}), n_resamples=200, seed=0)


@pytest.fixture(scope="module")
def fits(xy_result):
    """Chinchilla fits of the recipes x, y (from find_crossover) and worse."""
    N_R, tokens_R, loss_R, tag_R = recipe_runs({"x": LAW_X, "y": LAW_Y, "worse": LAW_WORSE})
    worse_R = tag_R == "worse"
    return {**xy_result.fits, "worse": fit_chinchilla(N_R[worse_R], tokens_R[worse_R], loss_R[worse_R])}


def test_find_crossover_fits_each_recipe_and_finds_the_crossing(xy_result):
    truth = law_crossings(LAW_X, LAW_Y, (1e15, 1e23))[0]
    result = xy_result
    assert result.recipes == ("x", "y")
    assert {name: fit.n_runs for name, fit in result.fits.items()} == {"x": 30, "y": 30}
    assert result.crosses and len(result.crossings) == 1
    first = result.first
    assert first.compute == pytest.approx(truth, rel=0.5)
    assert first.better_below == "x"
    lo, hi = result.compute_interval
    assert lo < truth < hi
    assert result.compute_range[0] == pytest.approx(6 * 1e7 * 10**7.7 / 10)
    assert result.compute_range[1] == pytest.approx(6 * 10**9.5 * 10**11.8 * 10)


def test_the_crossing_of_the_fitted_laws_with_its_interval(fits):
    truth = law_crossings(LAW_X, LAW_Y, (1e15, 1e23))[0]
    result = crossover_of_fits({"x": fits["x"], "y": fits["y"]}, n_resamples=200, seed=1)
    first = result.first
    assert first.compute == pytest.approx(truth, rel=0.5)  # within a factor 1.5
    assert first.n_opt["x"] == pytest.approx(fits["x"].law.n_opt(first.compute))
    assert fits["x"].law.loss_opt(first.compute) == pytest.approx(
        fits["y"].law.loss_opt(first.compute), rel=1e-9)
    assert first.loss == pytest.approx(LAW_X.loss_opt(truth), rel=0.03)
    lo, hi = result.compute_interval
    assert lo < truth < hi and hi / lo < 20
    assert result.cross_fraction > 0.9
    range_lo, range_hi = result.compute_range  # was "... resamples cross in C = [2.7e+13, 4.32e+20] FLOPs": an interval?
    assert (f"of 200 bootstrap resamples cross somewhere in the search range C = [{range_lo:.3g}, {range_hi:.3g}] FLOPs"
            in result.summary())
    n_lo, n_hi = result.n_opt_intervals["y"]
    assert n_lo < first.n_opt["y"] < n_hi
    assert result.winner is None
    assert result.summary().startswith("'x' has the lower compute-optimal loss below C = 1.")


def test_when_one_recipe_dominates_there_is_no_crossing_and_a_winner(fits):
    result = crossover_of_fits({"x": fits["x"], "worse": fits["worse"]}, n_resamples=100)
    assert not result.crosses and result.first is None
    assert result.winner == "x"
    assert result.cross_fraction < 0.05 and result.compute_interval is None
    assert result.summary().startswith("no crossing in C = [")
    assert "'x' has the lower compute-optimal loss throughout" in result.summary()


def test_two_recipes_of_one_law_cross_within_the_noise_and_no_crossing_is_claimed():
    """Was: "'a' has the lower compute-optimal loss below C = 3.47e+15, 'b' above it; 82% of resamples
    cross", for two recipes drawn from one law, in every seed tried."""
    result = find_crossover(*recipe_runs({"a": LAW_X, "b": LAW_X}, seed=2), n_resamples=100, seed=0)
    assert result.lower_beyond_noise == () and not result.supported
    assert result.summary().startswith("no crossing the data support in C = [") if result.crosses else \
        "but not beyond the noise" in result.summary()
    assert "the data do not tell the two recipes apart" in result.summary()


def test_a_real_crossing_is_beyond_the_noise_on_both_sides(xy_result):
    assert xy_result.supported and set(xy_result.lower_beyond_noise) == {"x", "y"}
    assert xy_result.summary().startswith("'x' has the lower compute-optimal loss below C = ")


def test_a_range_that_excludes_the_crossing_names_the_winner_there(fits):
    pair = {"x": fits["x"], "y": fits["y"]}
    above = crossover_of_fits(pair, compute_range=(1e21, 1e23), n_resamples=20)
    below = crossover_of_fits(pair, compute_range=(1e15, 1e18), n_resamples=20)
    assert (above.crosses, above.winner, below.crosses, below.winner) == (False, "y", False, "x")


def test_every_crossing_in_range_is_reported():
    # along the frontier loss* = E + c C^-gamma; U (larger E and gamma) is worse at both ends of
    # the range and better in between
    law_u = ChinchillaLaw(E=1.8, A=400.0, B=410.0, alpha=0.34, beta=0.28)
    law_v = ChinchillaLaw(E=1.5, A=60.0, B=62.0, alpha=0.2, beta=0.21)
    crossings = law_crossings(law_u, law_v, (1e12, 1e28))
    assert len(crossings) == 2 and crossings[0] < crossings[1]
    for c in crossings:
        assert law_u.loss_opt(c) == pytest.approx(law_v.loss_opt(c), rel=1e-9)


@pytest.mark.parametrize("tags, message", [
    (["a"] * 60, "exactly 2 recipes; the runs are tagged with 1: 'a'"),
    (["a"] * 20 + ["b"] * 20 + ["c"] * 20, "tagged with 3: 'a', 'b', 'c'"),
    (["a"] * 55 + ["b"] * 5, "recipe 'b': 5 runs are too few"),
    (["a"] * 59, "recipe must tag every run"),
])
def test_bad_recipe_tags_are_refused(tags, message):
    N_R, tokens_R, loss_R, _ = recipe_runs({"x": LAW_X, "y": LAW_Y})
    with pytest.raises(ConfigError, match=message):
        find_crossover(N_R, tokens_R, loss_R, tags, n_resamples=10)


def test_bad_settings_are_refused_before_any_fit(fits):
    N_R, tokens_R, loss_R, tag_R = recipe_runs({"x": LAW_X, "y": LAW_Y})
    with pytest.raises(ConfigError, match=r"compute_range=\(1e\+22, 1e\+20\): accepted is"):
        find_crossover(N_R, tokens_R, loss_R, tag_R, compute_range=(1e22, 1e20))
    with pytest.raises(ConfigError, match="extend=0.5: accepted is a factor >= 1"):
        find_crossover(N_R, tokens_R, loss_R, tag_R, extend=0.5)
    with pytest.raises(ConfigError, match="n_resamples=0: accepted is a whole number >= 2"):
        find_crossover(N_R, tokens_R, loss_R, tag_R, n_resamples=0)
    with pytest.raises(ConfigError, match="compares 2 Chinchilla fits"):
        crossover_of_fits({"x": fits["x"]})


# a third recipe between the two: Z is lowest from C = 1.16e18 (crossing X) to 2.93e20 (crossing Y)
LAW_Z = ChinchillaLaw(E=1.51, A=442.5, B=453.5625, alpha=0.34, beta=0.28)


def test_the_pairwise_crossings_of_three_known_laws():
    assert law_crossings(LAW_X, LAW_Z, (1e15, 1e23)) == [pytest.approx(1.164e18, rel=1e-3)]
    assert law_crossings(LAW_Z, LAW_Y, (1e15, 1e23)) == [pytest.approx(2.929e20, rel=1e-3)]


@pytest.fixture(scope="module")
def xyz_result():
    return find_crossovers(*recipe_runs({"x": LAW_X, "y": LAW_Y, "z": LAW_Z}), n_resamples=100, seed=0)


@pytest.mark.slow
def test_three_recipes_give_every_pair_and_who_is_lowest_where(xyz_result):
    result = xyz_result
    assert result.recipes == ("x", "y", "z")
    assert [p.recipes for p in result.pairs] == [("x", "y"), ("x", "z"), ("y", "z")]
    for x, y in (("x", "y"), ("x", "z"), ("y", "z")):
        laws = {"x": LAW_X, "y": LAW_Y, "z": LAW_Z}
        (truth,) = law_crossings(laws[x], laws[y], result.compute_range)
        pair = result.pair(y, x)
        assert pair.recipes == (x, y) and pair.compute_range == result.compute_range
        assert len(pair.crossings) == 1 and pair.first.compute == pytest.approx(truth, rel=0.6)
        lo, hi = pair.compute_interval
        assert lo < truth < hi
    assert [s.recipe for s in result.lowest] == ["x", "z", "y"]
    assert result.lowest[0].compute_from == result.compute_range[0]
    assert result.lowest[-1].compute_to == result.compute_range[1]
    # each stretch ends where the two leading fitted frontiers cross
    assert result.lowest[0].compute_to == pytest.approx(result.pair("x", "z").first.compute, rel=1e-6)
    assert result.lowest[1].compute_to == pytest.approx(result.pair("y", "z").first.compute, rel=1e-6)
    assert result.summary().startswith(f"lowest compute-optimal loss in C = [{result.compute_range[0]:.3g}, ")
    assert "'x' for C in [" in result.summary() and "3 of 3 pairs cross in range" in result.summary()


@pytest.mark.slow
def test_each_recipe_is_bootstrapped_once_and_its_resamples_reused_in_every_pair(xyz_result, monkeypatch):
    import sweep.fit.crossover as crossover

    calls = []
    real = crossover.bootstrap_thetas
    monkeypatch.setattr(crossover, "bootstrap_thetas", lambda fit, *a: calls.append(fit) or real(fit, *a))
    again = crossovers_of_fits(xyz_result.fits, n_resamples=100, seed=0)
    assert len(calls) == 3 and {id(f) for f in calls} == {id(f) for f in xyz_result.fits.values()}
    assert again.pair("x", "y").compute_interval == xyz_result.pair("x", "y").compute_interval
    # a recipe's resamples do not depend on which other recipes are compared: the pair x, y
    # alone (seed streams 0, 1) is the pair x, y of the three
    alone = crossover_of_fits({"x": xyz_result.fits["x"], "y": xyz_result.fits["y"]}, n_resamples=100, seed=0)
    assert alone.compute_interval == xyz_result.pair("x", "y").compute_interval
    assert alone.cross_fraction == xyz_result.pair("x", "y").cross_fraction


def test_a_recipe_too_few_runs_to_fit_is_left_out_while_two_remain():
    """A third recipe of one run stopped the whole comparison ("recipe 'lonely': 1 runs are too few")."""
    N_R, tokens_R, loss_R, tag_R = recipe_runs({"x": LAW_X, "y": LAW_Y})
    N3, tokens3, loss3 = (np.append(a, a[0]) for a in (N_R, tokens_R, loss_R))
    result = find_crossovers(N3, tokens3, loss3, np.append(tag_R, "lonely"), n_resamples=10, seed=0)
    assert result.recipes == ("x", "y") and list(result.skipped) == ["lonely"]
    assert result.skipped["lonely"].startswith("1 run is too few to fit the chinchilla law")
    assert "left out: 'lonely' (" in result.summary()
    assert result.runs_compute == (pytest.approx(float((6 * N_R * tokens_R).min())),
                                   pytest.approx(float((6 * N_R * tokens_R).max())))
    assert f"(the runs: [{result.runs_compute[0]:.3g}, {result.runs_compute[1]:.3g}])" in result.summary()
    with pytest.raises(ConfigError, match="recipe 'lonely'"):  # two of them, one of one run: nothing to compare
        find_crossovers(N3[-31:], tokens3[-31:], loss3[-31:], np.append(tag_R, "lonely")[-31:], n_resamples=10)


def test_the_rule_of_recipes_left_out_keeps_two_or_more_and_otherwise_names_the_first():
    """One rule for find_crossovers and the report's crossover (sweep/fit/report_fits.py)."""
    why = {"lonely": "1 run is too few", "pair": "2 runs are too few"}
    assert recipes_kept(["lonely", "x", "y"], {"lonely": why["lonely"]}) == ["x", "y"]
    assert recipes_kept(["x", "y"], {}, exactly=2) == ["x", "y"]
    with pytest.raises(ConfigError, match="^recipe 'lonely': 1 run is too few$"):  # exactly two: none left out
        recipes_kept(["lonely", "x"], {"lonely": why["lonely"]}, exactly=2)
    with pytest.raises(ConfigError, match="^recipe 'lonely': 1 run is too few$"):  # one left: nothing to compare
        recipes_kept(["lonely", "pair", "x"], why)
