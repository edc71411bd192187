"""sweep/fit/isoflop.py: Approach 2 recovers the compute-optimal exponents of a known Chinchilla
law (with sizes far from the optimum too, through a window around each budget's best size),
gives the exponent an interval that holds the truth, reports and excludes budgets without a
usable minimum, and refuses designs and tunables it cannot fit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.isoflop import fit_isoflop, fit_power_law, group_budgets, size_window, t_quantile
from sweep.fit.table import RunsTable

# Hoffmann et al. 2022's fit: a = beta / (alpha + beta) = 0.4516, b = alpha / (alpha + beta) = 0.5484
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
BUDGETS = np.logspace(18, 21, 5)


def chinchilla(n, d):
    return E + A / n**ALPHA + B / d**BETA


def n_opt_true(c):
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    return g * (c / 6) ** (BETA / (ALPHA + BETA))


def table_of(points, losses=None):
    """points: (N, C) pairs; T = C / (6 N); loss from the law unless given."""
    n_R = np.array([p[0] for p in points], dtype=float)
    flops_R = np.array([p[1] for p in points], dtype=float)
    tokens_R = flops_R / (6 * n_R)
    loss_R = chinchilla(n_R, tokens_R) if losses is None else np.asarray(losses, dtype=float)
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, tokens_R, loss_R, flops_R)


def isoflop_points(budgets=BUDGETS, sizes=7, spread=1.5):
    """`sizes` N per budget, log-spaced by +-spread (in ln N) around a 20-tokens-per-parameter
    guess (not the true optimum)."""
    return [(np.sqrt(c / 120) * np.exp(x), c) for c in budgets for x in np.linspace(-spread, spread, sizes)]


def test_recovers_the_known_exponents():
    rng = np.random.default_rng(0)
    points = isoflop_points()
    table = table_of(points)
    noisy = table_of(points, table.loss_R * (1 + 1e-3 * rng.standard_normal(len(points))))  # 0.1% noise
    fit = fit_isoflop(noisy)
    assert len(fit.used) == 5
    assert fit.a == pytest.approx(BETA / (ALPHA + BETA), abs=0.01)
    assert fit.b == pytest.approx(ALPHA / (ALPHA + BETA), abs=0.01)
    assert 0 < fit.n_opt.exponent_stderr < 0.01
    assert fit.n_opt(1e20) == pytest.approx(n_opt_true(1e20), rel=0.05)
    for budget in fit.used:
        assert budget.d_opt == pytest.approx(budget.flops / (6 * budget.n_opt))
    json.dumps(fit.to_dict())


def test_flops_counted_from_another_n_than_the_one_fitted_are_flagged_as_setting_t_opt_off():
    """The status CSV's flops (total N) with --column n_params=n_params_nonembedding: T_opt = C / (6 N_opt)
    came out 1.5x the best run's tokens and b 0.43 for 0.49, silently."""
    table = table_of(isoflop_points())
    assert fit_isoflop(table).flags() == []
    counted_otherwise = dataclasses.replace(table, n_params_R=table.n_params_R / np.linspace(1.2, 2.3, len(table)))
    (flag,) = fit_isoflop(counted_otherwise).flags()
    assert flag.parameter == "b" and flag.problem.startswith("the runs' flops are 1.2 .. 2.3 x 6 N T (median 1.7")
    nominal = dataclasses.replace(table, flops_R=table.flops_R * np.linspace(0.97, 1.03, len(table)))
    assert fit_isoflop(nominal).flags() == []  # a nominal budget a few % off each run's 6 N T: no matter


def test_a_size_s_seeds_are_averaged_before_its_budget_s_parabola():
    """Two seeds per (N, C), one the law's loss x (1 + delta), the other x (1 - delta): averaged they
    give the noise-free profiles exactly; read as a grid, the lesser of each pair is noise."""
    points = isoflop_points()
    exact = table_of(points)
    delta_R = 0.01 * np.random.default_rng(0).uniform(0.2, 1.0, len(points))
    pairs = table_of(points + points, np.concatenate([exact.loss_R * (1 + delta_R), exact.loss_R * (1 - delta_R)]))
    seeded = dataclasses.replace(pairs, seed=("0",) * len(points) + ("1",) * len(points))
    truth, averaged, least = fit_isoflop(exact), fit_isoflop(seeded), fit_isoflop(pairs)
    assert averaged.runs == 2 * len(points) and averaged.used[0].n_runs == 7
    assert averaged.a == pytest.approx(truth.a, rel=1e-9) and averaged.b == pytest.approx(truth.b, rel=1e-9)
    assert abs(least.a - truth.a) > 1e-3


def test_budgets_without_a_minimum_are_reported_and_excluded():
    points = isoflop_points()
    losses = list(table_of(points).loss_R)
    down = [(n, 1e22) for n in np.logspace(9, 10, 5)]
    losses += [3.0 - 0.1 * (np.log(n) - np.log(10**9.5)) ** 2 for n, _ in down]  # opens downward
    edge = [(n, 1e23) for n in np.logspace(9, 10, 5)]
    losses += [3.0 - 0.1 * np.log(n / 1e9) + 0.01 * np.log(n / 1e9) ** 2 for n, _ in edge]  # minimum past 1e10
    fit = fit_isoflop(table_of(points + down + edge, losses))
    reasons = {round(np.log10(b.flops)): b.excluded for b in fit.budgets}
    assert "opens downward" in reasons[22]
    assert "outside the sampled range" in reasons[23]
    assert len(fit.used) == 5 and fit.to_dict()["budgets_used"] == 5
    assert fit.a == pytest.approx(BETA / (ALPHA + BETA), abs=0.01)


def test_a_fixed_tokens_per_parameter_sweep_is_told_it_needs_an_isoflop_design():
    points = [(n, 120 * n * n) for n in np.logspace(6, 8, 8) for _ in range(3)]  # T = 20 N, 3 lrs each
    with pytest.raises(ConfigError, match="needs an IsoFLOP design.*one or two sizes per budget .* to set N_opt it "
                                          "too needs runs at 2 or more tokens per parameter"):
        fit_isoflop(table_of(points))  # was: "(Approach 3 ... suits such a sweep)", which it does not


def test_one_usable_budget_and_too_few_runs_are_errors():
    with pytest.raises(ConfigError, match="at least 2 usable compute budgets; 1 of 2"):
        fit_isoflop(table_of(isoflop_points(budgets=[1e18]) + isoflop_points(budgets=[1e20], sizes=2)))
    with pytest.raises(ConfigError, match="needs at least 6 complete runs; the runs table has 5"):
        fit_isoflop(table_of(isoflop_points(budgets=[1e18], sizes=5)))


def test_budgets_group_runs_within_the_tolerance():
    budget_G, group_R = group_budgets(np.array([2.0, 1.0, 1.05, 1.09, 2.1, 10.0]), rel_tol=0.1)
    assert group_R.tolist() == [1, 0, 0, 0, 1, 2]
    assert budget_G[1] == pytest.approx(np.sqrt(2.0 * 2.1))
    budget_G, group_R = group_budgets(np.array([1.0, 1.05, 3.0, 9.5]), rel_tol=0.1, budgets=[1.0, 10.0])
    assert group_R.tolist() == [0, 0, -1, 1]
    with pytest.raises(ConfigError, match="rel_tol 1.5"):
        group_budgets(np.ones(3), rel_tol=1.5)


def test_two_sizes_each_shared_by_several_runs_are_never_one_group():
    # "(Mis)Fitting Scaling Laws": two sizes 8% apart, each in a learning-rate grid, were one lr cell
    n_R = np.array([57.2e6, 57.2e6, 62.1e6, 62.1e6, 58.0e6, 62.5e6])
    assert group_budgets(n_R, rel_tol=0.1, designs_apart=0.01)[1].tolist() == [0, 0, 1, 1, 0, 1]  # a value of
    assert group_budgets(n_R, rel_tol=0.1)[1].tolist() == [0] * 6  # one run joins the size it is near; budgets chain
    chained = np.repeat([1.000e6, 1.006e6, 1.012e6], 3)  # each 0.6% from the next, the ends 1.2% apart
    assert group_budgets(chained, rel_tol=0.1, designs_apart=0.01)[1].tolist() == [0] * 6 + [1] * 3
    extracted = np.array([73824672.0, 73824672.0, 73824689.0, 73824689.0])  # Epoch's, differing in the 7th digit
    assert group_budgets(extracted, rel_tol=0.1, designs_apart=0.01)[1].tolist() == [0, 0, 0, 0]


def test_explicit_budgets_count_the_runs_outside_them():
    points = isoflop_points(budgets=[1e18, 1e20]) + [(1e8, 1e19)]
    fit = fit_isoflop(table_of(points), budgets=[1e18, 1e20])
    assert fit.runs_outside_budgets == 1 and len(fit.used) == 2


def test_power_law_standard_errors():
    x_P = np.logspace(0, 3, 6)
    exact = fit_power_law(x_P, 2.0 * x_P**0.5)
    assert exact.coefficient == pytest.approx(2.0) and exact.exponent == pytest.approx(0.5)
    assert exact.exponent_stderr < 1e-9
    two = fit_power_law([1.0, 10.0], [1.0, 3.0])
    assert np.isnan(two.exponent_stderr) and two.to_dict()["exponent_stderr"] is None
    with pytest.raises(ConfigError, match="at least 2 points at distinct x"):
        fit_power_law([5.0, 5.0], [1.0, 2.0])


def ladder_points(budgets=np.logspace(18, 21, 6), sizes=16, decades=2.5):
    """The same `sizes` N (log-spaced over `decades`, centred on the budgets' optima) at every
    budget: the optima move 1.35 decades across the ladder, so each budget samples far more on
    one side of its optimum than on the other, down to 0.004 tokens per parameter."""
    centre = np.log10(n_opt_true(np.array([budgets[0], budgets[-1]]))).mean()
    ladder = np.logspace(centre - decades / 2, centre + decades / 2, sizes)
    return [(n, c) for c in budgets for n in ladder]


def test_a_window_around_each_best_size_recovers_the_exponent_that_a_parabola_through_all_sizes_misses():
    table = table_of(ladder_points())
    true_a = BETA / (ALPHA + BETA)
    windowed = fit_isoflop(table)  # conf/fit.yaml: the best size and 3 each side
    every = fit_isoflop(table, neighbours=16)
    assert windowed.a == pytest.approx(true_a, abs=0.002)
    assert abs(every.a - true_a) > 0.01  # -0.016: the far sizes pull each vertex towards the ladder's middle
    assert windowed.n_opt(1e21) == pytest.approx(n_opt_true(1e21), rel=0.03)
    assert windowed.neighbours == 3 and every.to_dict()["neighbours"] == 16


def test_each_budget_records_the_sizes_its_parabola_took():
    points = ladder_points(budgets=[1e18, 1e21])
    few = [(n, 1e20) for n in np.logspace(8, 9, 5)]
    fit = fit_isoflop(table_of(points + few))
    ladder = np.unique([n for n, _ in points])
    small, middle, large = sorted(fit.budgets, key=lambda b: b.flops)
    for budget in (small, large):
        best = int(np.argmin(np.abs(np.log(ladder / n_opt_true(budget.flops)))))
        assert budget.n_sizes == 16 and budget.n_sizes_fitted == 7
        assert budget.window_n_min == pytest.approx(ladder[best - 3])
        assert budget.window_n_max == pytest.approx(ladder[best + 3])
        assert budget.window == "the best size and 3 each side: 7 of 16 sizes"
    assert middle.n_sizes_fitted == 5 and middle.window == "all 5 sizes (at most 2 x 3 + 1)"
    assert (middle.window_n_min, middle.window_n_max) == pytest.approx((1e8, 1e9))
    listed = json.loads(json.dumps(fit.to_dict()))["budgets"][0]
    assert listed["n_sizes_fitted"] == 7 and listed["window"].startswith("the best size and 3 each side")


def test_the_window_keeps_its_width_at_an_edge_and_takes_a_small_budget_whole():
    logn_16, logn_7, logn_5 = (np.log(np.logspace(7, 9.5, n)) for n in (16, 7, 5))  # 2.5 decades
    assert size_window(best=8, logn_X=logn_16, neighbours=3) == (5, 12)
    assert size_window(best=1, logn_X=logn_16, neighbours=3) == (0, 7)  # shifted inward
    assert size_window(best=15, logn_X=logn_16, neighbours=3) == (9, 16)
    assert size_window(best=0, logn_X=logn_7, neighbours=3) == (0, 7)
    assert size_window(best=2, logn_X=logn_5, neighbours=3) == (0, 5)
    assert size_window(best=8, logn_X=logn_16, neighbours=3, min_span=0.5) == (5, 12)  # 7 sizes span 1 decade


def test_a_window_of_densely_sampled_sizes_is_widened_to_its_least_span_the_nearer_side_first():
    # 24 sizes over half a decade: 7 of them span 0.13 decades, too flat for a parabola
    logn_X = np.log(np.logspace(8, 8.5, 24))
    lo, hi = size_window(best=12, logn_X=logn_X, neighbours=3, min_span=0.25)
    assert logn_X[hi - 1] - logn_X[lo] >= 0.25 * np.log(10) - 1e-12 and hi - lo == 13  # 12 steps of 0.0217
    assert 12 - lo == hi - 1 - 12  # the best in the middle
    assert size_window(best=1, logn_X=logn_X, neighbours=3, min_span=0.25) == (0, 13)  # at an edge: one side
    assert size_window(best=12, logn_X=logn_X, neighbours=3, min_span=5.0) == (0, 24)  # no more sizes: all


def test_densely_sampled_noisy_budgets_are_fitted_over_a_wider_window_and_say_so():
    # 24 sizes over 1.5 decades per budget at 0.5% noise: 7 sizes span 0.39 decades
    rng = np.random.default_rng(3)
    points = isoflop_points(sizes=24, spread=1.7)
    table = table_of(points)
    noisy = table_of(points, table.loss_R * (1 + 5e-3 * rng.standard_normal(len(points))))
    narrow, wide = fit_isoflop(noisy, min_span=0.0), fit_isoflop(noisy)  # conf/fit.yaml: a decade
    assert all(b.n_sizes_fitted == 7 for b in narrow.budgets)
    assert all(b.n_sizes_fitted > 7 and b.window.startswith("the best size and 3 each side, widened to span 1 "
                                                            "decade of N") for b in wide.budgets)
    assert all(np.log10(b.window_n_max / b.window_n_min) >= 1 - 1e-9 for b in wide.budgets)
    true_a = BETA / (ALPHA + BETA)
    assert len(wide.used) == 5 and abs(wide.a - true_a) < abs(narrow.a - true_a)
    assert wide.to_dict()["min_span"] == 1.0
    boot = fit_isoflop(noisy, n_resamples=100, seed=0).bootstrap
    assert boot.valid_fraction == 1.0 and boot.intervals["a"][0] < true_a < boot.intervals["a"][1]


def test_a_budget_whose_best_is_its_largest_size_is_excluded_with_the_reason():
    points = ladder_points(budgets=[1e18, 1e21])
    edge = [(n, 1e23) for n in np.logspace(8, 10, 12)]  # the loss still falls at the largest size
    x = np.log(np.array([n for n, _ in edge]) / 1e8)
    for edge_losses, reason in ((3.0 - 0.1 * x, "opens downward"),
                                (3.0 - 0.1 * x + 0.003 * x**2, "outside the sampled range [1e+08, 1e+10]")):
        fit = fit_isoflop(table_of(points + edge, list(table_of(points).loss_R) + list(edge_losses)))
        excluded = [b for b in fit.budgets if b.excluded]
        assert len(excluded) == 1 and reason in excluded[0].excluded
        assert excluded[0].window == "the best size and 3 each side: 7 of 12 sizes (shifted at an edge)"
        assert excluded[0].window_n_max == pytest.approx(1e10) and len(fit.used) == 2
        (flag,) = fit.to_dict()["identifiability"]  # two budgets left: said (was: a = 0.27 in [-3.4, 0.44], silent)
        assert flag["parameter"] == "a" and flag["problem"].startswith("N_opt(C) is a power law through 2 compute "
                                                                       "budget(s) (of 3; left out: C = 1e+23: ")
        assert "at least 3 compute budgets" in flag["remedy"]


def test_the_bootstrap_interval_of_the_exponent_holds_the_truth_on_a_seeded_noisy_table():
    rng = np.random.default_rng(3)
    points = ladder_points()
    clean = table_of(points)
    noisy = table_of(points, clean.loss_R * np.exp(0.003 * rng.standard_normal(len(points))))
    true_a = BETA / (ALPHA + BETA)
    fit = fit_isoflop(noisy, n_resamples=200, seed=1)
    boot = fit.bootstrap
    lo, hi = boot.intervals["a"]
    assert lo < true_a < hi and lo < fit.a < hi and hi - lo < 0.1
    assert boot.intervals["b"] == pytest.approx((1 - hi, 1 - lo))
    assert boot.compute == pytest.approx(1e21)
    n_lo, n_hi = boot.intervals["n_opt"]
    assert n_lo < n_opt_true(1e21) < n_hi
    assert boot.valid_fraction == 1.0 and boot.budgets_without_residuals == 0
    assert fit_isoflop(noisy, n_resamples=200, seed=1).bootstrap == boot  # seeded
    assert fit_isoflop(noisy, n_resamples=200, seed=2).bootstrap.intervals != boot.intervals
    as_json = json.loads(json.dumps(fit.to_dict()))["bootstrap"]
    assert as_json["n_resamples"] == 200 and as_json["level"] == 0.95 and len(as_json["intervals"]["a"]) == 2
    assert fit_isoflop(noisy).bootstrap is None and "bootstrap" not in fit_isoflop(noisy).to_dict()
    assert fit_isoflop(noisy, n_resamples=None).bootstrap.n_resamples == 200  # conf/fit.yaml's


def test_budgets_whose_optima_scatter_off_the_power_law_widen_its_intervals_to_the_laws_own():
    # each budget's sizes shifted by its own factor, so its fitted optimum sits off the law by that
    # much: the parabolas' own noise (the residual bootstrap) cannot see it, the law's residuals do
    rng = np.random.default_rng(0)
    shift_G = np.exp(rng.normal(0.0, 0.25, len(BUDGETS)))
    points = [(n * shift_G[list(BUDGETS).index(c)], c) for n, c in isoflop_points()]
    table = table_of(points)
    losses = chinchilla(table.n_params_R / np.repeat(shift_G, 7) ** 2, table.tokens_R)  # optima moved off the law
    fit = fit_isoflop(table_of(points, losses * (1 + 1e-3 * rng.standard_normal(len(points)))), n_resamples=200)
    boot, law = fit.bootstrap, fit.n_opt
    t_half = t_quantile(0.95, len(fit.used) - 2) * law.exponent_stderr
    assert "a" in boot.widened and "b" in boot.widened
    assert boot.intervals["a"][0] <= fit.a - t_half + 1e-9 and boot.intervals["a"][1] >= fit.a + t_half - 1e-9
    assert boot.intervals["b"] == pytest.approx((1 - boot.intervals["a"][1], 1 - boot.intervals["a"][0]))
    assert json.loads(json.dumps(fit.to_dict()))["bootstrap"]["widened"][:2] == ["a", "b"]
    assert t_quantile(0.95, 6) == pytest.approx(2.447, rel=0.01)


@pytest.mark.parametrize("kwargs, words", [
    (dict(neighbours=0), "isoflop_neighbours 0: accepted is a whole number >= 1"),
    (dict(neighbours=2.5), "isoflop_neighbours 2.5"),
    (dict(min_span=-0.5), r"isoflop_min_span -0.5: accepted is a number of decades of N, 0 .. 10"),
    (dict(min_span="1"), "isoflop_min_span '1'"),
    (dict(n_resamples=1), "n_resamples=1: accepted is a whole number >= 2"),
    (dict(n_resamples=20, level=1.5), "level=1.5: accepted is a probability"),
])
def test_bad_tunables_are_refused_before_any_fit(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        fit_isoflop(table_of(isoflop_points()), **kwargs)


def test_a_bad_window_in_conf_fit_yaml_is_named(monkeypatch):
    from sweep.fit import isoflop

    bad = dataclasses.replace(fit_defaults(), isoflop_neighbours=-1)
    monkeypatch.setattr(isoflop, "fit_defaults", lambda: bad)
    with pytest.raises(ConfigError, match="isoflop_neighbours -1: accepted is a whole number >= 1"):
        fit_isoflop(table_of(isoflop_points()))


def noisy_chinchilla_design(seed, noise=0.01):
    """An Epoch-style IsoFLOP table: 8 budgets 6e18 .. 3e21, a ladder of 20 sizes 44M .. 16B kept
    where 1 <= T / N <= 400 (77 runs, 9-10 sizes a budget), loss x exp(noise x normal)."""
    rng, points, losses = np.random.default_rng(seed), [], []
    for c in np.geomspace(6e18, 3e21, 8):
        for n in np.geomspace(44e6, 16e9, 20):
            if 1 <= c / (6 * n) / n <= 400:
                points.append((n, c))
                losses.append(chinchilla(n, c / (6 * n)) * np.exp(rng.normal(0, noise)))
    return table_of(points, losses)


@pytest.mark.parametrize("seed", [200, 201, 208])
def test_the_bootstrap_leaves_out_a_resampled_budget_whose_minimum_the_point_fit_would_not_accept(seed):
    # 1% noise: some resamples' parabolas are nearly flat, their vertex decades outside the sizes; kept,
    # they put a's interval at [-2.0, 0.51], [-0.14, 0.59], [-0.21, 0.52] (point fits 0.40 .. 0.43 +- ~0.04)
    fit = fit_isoflop(noisy_chinchilla_design(seed), n_resamples=100, seed=0)
    lo, hi = fit.bootstrap.intervals["a"]
    true_a = BETA / (ALPHA + BETA)
    assert 0.25 < lo < true_a < hi < 0.6
    assert fit.bootstrap.valid_fraction == 1.0 and 0.5 < fit.bootstrap.accepted_fraction < 1


def test_a_bootstrap_that_leaves_out_many_resampled_budgets_says_so():
    fit = fit_isoflop(noisy_chinchilla_design(200), n_resamples=100, seed=0)
    assert fit.bootstrap.accepted_fraction < fit_defaults().min_converged_fraction
    (flag,) = [f for f in fit.flags() if "bootstrap resamples" in f.problem]
    assert flag.parameter == "a" and f"only {fit.bootstrap.accepted_fraction:.0%} gave a minimum" in flag.problem
    quiet = fit_isoflop(noisy_chinchilla_design(200, noise=0.001), n_resamples=100, seed=0)
    assert quiet.bootstrap.accepted_fraction == 1.0 and not [f for f in quiet.flags() if "bootstrap" in f.problem]


def three_sizes_at_two_budgets():
    """2 budgets of exactly 3 sizes (Pythia checkpoints' accidental budgets): a parabola through
    3 points leaves no residuals, so every bootstrap resample is the same."""
    return table_of([(n_opt_true(c) * f, c) for c in (1e19, 1e21) for f in (0.3, 1.0, 3.0)])


def test_an_interval_of_no_width_says_why_instead_of_reading_as_an_interval():
    boot = fit_isoflop(three_sizes_at_two_budgets(), n_resamples=20, seed=0).bootstrap
    lo, hi = boot.intervals["a"]
    assert lo == pytest.approx(hi) and boot.budgets_without_residuals == 2
    assert boot.no_width.startswith("2 of the used budgets were fitted to exactly 3 sizes")
    assert boot.to_dict()["no_width"] == boot.no_width
    rng = np.random.default_rng(3)
    points = ladder_points()
    noisy = table_of(points, table_of(points).loss_R * np.exp(0.003 * rng.standard_normal(len(points))))
    assert fit_isoflop(noisy, n_resamples=20, seed=0).bootstrap.no_width is None


def test_a_law_through_two_budgets_says_so_in_its_headline_and_rounds():
    """Was "a = 0.5727 +- n/a" from OpenEuroLLM's 2 budgets, four digits for a line through 2 points."""
    fit = fit_isoflop(three_sizes_at_two_budgets())
    assert fit.headline().startswith("from 2 compute budgets only, a line through 2 points, not a law (no scatter to "
                                     "judge it by; 3 or more budgets make one): N_opt ~ ")
    assert f"C^{fit.a:.2g}, T_opt ~ " in fit.headline() and fit.to_dict()["headline"] == fit.headline()
    many = fit_isoflop(table_of(ladder_points()))
    assert many.headline().startswith("N_opt = ") and f"over {len(many.used)} budgets" in many.headline()
