"""sweep/fit/identify.py: what a parametric fit's data cannot pin down, each flag with its numbers
and a remedy, on tables drawn from a known law where the answer is known."""

import dataclasses

import numpy as np
import pytest

from sweep.fit.identify import Flag, identifiability_flags, one_per_parameter
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import fit_chinchilla
from tests.parametric_runs import TRUE_CHINCHILLA, TRUE_SUBSCALING, noisy, pinned_runs, runs_grid, subscaling_runs


@pytest.fixture(scope="module")
def well_sampled():
    """48 runs over 2.7 decades of N, 20 .. 320 tokens per parameter, 1% noise: every parameter
    is pinned down."""
    N_R, tokens_R = runs_grid()
    return fit_chinchilla(N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.01, seed=1))


@pytest.fixture(scope="module")
def pinned():
    return fit_chinchilla(*pinned_runs())


def by_parameter(flags):
    return {f.parameter: f for f in flags}


def test_a_well_sampled_fit_inside_its_range_has_no_flag(well_sampled):
    C = 6 * 1e9 * 1e11  # N_opt, T_opt and their ratio lie inside the sampled ranges
    assert identifiability_flags(well_sampled, None, C) == []


def test_two_model_sizes_are_flagged_as_too_few_for_e_and_the_size_term_unless_e_is_held():
    """Was: E 0.17 and alpha 0.09 for the truth's 1.69 and 0.34, N_opt 3.6x off, and no flag."""
    N_R, tokens_R = runs_grid(n_sizes=2)
    loss_R = TRUE_CHINCHILLA.predict(N_R, tokens_R)
    flags = by_parameter(identifiability_flags(fit_chinchilla(N_R, tokens_R, loss_R)))
    assert flags["alpha"].problem.startswith("the runs have 2 distinct model sizes N (1e+07, 5.01e+09): E, alpha and "
                                             "its coefficient need at least 3")
    assert flags["alpha"].remedy.startswith("more model sizes")
    held = identifiability_flags(fit_chinchilla(N_R, tokens_R, loss_R, fix={"E": TRUE_CHINCHILLA.E}))
    assert not any("distinct" in f.problem for f in held)


def test_runs_all_at_about_one_tokens_per_parameter_are_flagged_as_not_setting_the_allocation():
    """Cerebras-GPT's published table: 7 sizes at 19.6 .. 20.2 tokens per parameter. A known law sampled
    so, noise-free, gave N_opt 5.8x off with only the extrapolation flagged."""
    N_R = np.geomspace(1.1e8, 1.3e10, 7)
    tokens_R = 20 * N_R * np.linspace(0.98, 1.01, 7)
    flags = by_parameter(identifiability_flags(fit_chinchilla(N_R, tokens_R, TRUE_CHINCHILLA.predict(N_R, tokens_R))))
    assert flags["a"].problem.startswith("every run is at about one tokens per parameter (19.6 .. 20.2): N and T grow "
                                         "together")
    assert "other tokens per parameter" in flags["a"].remedy
    N2_R = np.concatenate([N_R, N_R])
    tokens2_R = np.concatenate([tokens_R, 2 * tokens_R])  # and twice as many tokens: separable
    two_ratios = identifiability_flags(fit_chinchilla(N2_R, tokens2_R, TRUE_CHINCHILLA.predict(N2_R, tokens2_R)))
    assert not any("one tokens per parameter" in f.problem for f in two_ratios)


def test_e_collapsed_to_zero_is_flagged_with_its_number_and_the_remedy(pinned):
    flag = by_parameter(identifiability_flags(pinned))["E"]
    assert "collapsed to its bound 0" in flag.problem and f"{pinned.law.E:.3g}" in flag.problem
    assert "longer runs" in flag.remedy and "--fix E=VALUE" in flag.remedy
    assert flag.line().startswith("warning: E: ")


def test_an_interval_reaching_e_zero_is_flagged_with_the_share_of_resamples_at_the_bound(pinned):
    boot = bootstrap(pinned, n_resamples=20, seed=0)
    flags = [f for f in identifiability_flags(pinned, boot) if f.parameter == "E"]
    assert any("reaches the bound E = 0" in f.problem and f"{boot.at_bound['E']:.0%} of resamples" in f.problem
               for f in flags)


def test_a_parameter_flagged_twice_is_one_flag_with_both_problems_and_each_remedy_once(pinned):
    boot = bootstrap(pinned, n_resamples=20, seed=0)
    flags = identifiability_flags(pinned, boot)
    twice = [f for f in flags if f.parameter == "E"]
    assert len(twice) == 2  # collapsed to 0, and its interval reaching 0: one remedy, given twice
    merged = one_per_parameter(flags)
    assert [f.parameter for f in merged] == list(dict.fromkeys(f.parameter for f in flags))
    (e,) = [f for f in merged if f.parameter == "E"]
    assert e.problem == f"{twice[0].problem}; and {twice[1].problem}" and e.remedy == twice[0].remedy
    other = one_per_parameter([Flag("G", "wide", "more sizes"), Flag("G", "wider", "longer runs")])
    assert other == [Flag("G", "wide; and wider", "more sizes; also longer runs")]


def test_an_interval_over_more_orders_of_magnitude_than_conf_allows_is_flagged(well_sampled):
    boot = bootstrap(well_sampled, n_resamples=5, seed=0)
    wide = dataclasses.replace(boot, intervals={**boot.intervals, "G": (1e-3, 10.0), "A": (100.0, 900.0)})
    flags = by_parameter(identifiability_flags(well_sampled, wide))
    assert "spans 4.0 orders of magnitude (more than 2)" in flags["G"].problem  # conf/fit.yaml max_orders
    assert "A" not in flags  # under one order
    # more sizes and longer runs are there already (2.7 decades of N, 2 of tokens per parameter): the
    # remedy says so and names what else would pin G (was: "more model sizes ... and longer runs")
    assert flags["G"].remedy.startswith("the runs already span 2.7 decades of N and tokens per parameter 3.16 .. 316")
    assert "scatter about the law by an rms 0.8%" in flags["G"].remedy and "--law compare" in flags["G"].remedy
    runaway = dataclasses.replace(boot, intervals={**boot.intervals, "B": (7.76, 1.67e15)},
                                  at_bound={**boot.at_bound, "B": 0.005})
    assert "0.5% of resamples run off to infinity" in by_parameter(identifiability_flags(well_sampled, runaway))[
        "B"].problem  # 1 of 200: was "0% of resamples run off"
    none = dataclasses.replace(boot, intervals={**boot.intervals, "G": (float("nan"), float("nan"))})
    assert by_parameter(identifiability_flags(well_sampled, none))["G"].problem == (
        "no 95% interval: no resample gave it a finite value")  # was: "its 95% interval [nan, nan] is not ..."


def test_an_exponent_interval_reaching_below_zero_says_the_loss_rises_in_some_resamples(well_sampled):
    boot = bootstrap(well_sampled, n_resamples=5, seed=0)
    negative = dataclasses.replace(boot, intervals={**boot.intervals, "beta": (-2.15, 489.0)},
                                   at_bound={**boot.at_bound, "beta": 0.28})  # OLMo's ladder on its C4 loss
    problem = by_parameter(identifiability_flags(well_sampled, negative))["beta"].problem
    assert "(28% of resamples below 0.02); below 0 in some: the loss rising with more tokens" in problem
    assert "at the bound" not in problem  # was: as if beta were held at a bound


def test_n_opt_beyond_the_sampled_sizes_is_an_extrapolation_by_a_stated_factor(well_sampled):
    C = 1e26
    flags = by_parameter(identifiability_flags(well_sampled, None, C))
    n_opt, largest = float(well_sampled.law.n_opt(C)), well_sampled.N_R.max()
    assert f"is {n_opt / largest:.3g}x the largest sampled N" in flags["n_opt"].problem
    assert "d_opt" in flags


def test_a_compute_far_beyond_every_run_is_flagged_even_with_n_opt_and_t_opt_inside_their_ranges(well_sampled):
    # a large N on few tokens and a small N on many (an IsoFLOP table's corners): each of N_opt(1e22) = 5e9 and
    # T_opt = 3.3e11 inside the runs' range, but no run within 16x of that compute (CS336's table at 1e23)
    corners = dataclasses.replace(well_sampled, N_R=np.array([1e8, 1e10]), tokens_R=np.array([1e12, 1e9]),
                                  loss_R=np.array([2.5, 2.5]))
    def beyond_design(compute):  # two runs: the design flags of two sizes, and of two token counts, aside
        return [f for f in identifiability_flags(corners, None, compute) if "distinct" not in f.problem]

    assert beyond_design(1.8e21) == []  # 3x the largest run's 6e20: conf's compute_extrapolation
    flags = by_parameter(beyond_design(1e22))
    assert list(flags) == ["compute"]
    assert flags["compute"].problem.startswith("C = 1e+22 is 16.7x the largest run's 6 N T (6e+20): N_opt, T_opt")


def test_a_sub_scaling_k_whose_sigmoid_is_flat_over_every_run_is_flagged():
    from sweep.fit.parametric import fit_law

    N_R, tokens_R = runs_grid()
    fit = fit_law("subscaling", N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.01, seed=1), show_progress=False)
    ratio_R = tokens_R / N_R
    for k, bound in ((0.001 / ratio_R.max(), "only an upper bound"), (10 / ratio_R.min(), "only a lower bound")):
        flat = dataclasses.replace(fit, law=dataclasses.replace(fit.law, k_D=float(k)))
        flag = by_parameter(identifiability_flags(flat))["k_D"]
        assert bound in flag.problem and flag.remedy == "more token-per-parameter ratios, from under- to over-trained"


def test_a_sub_scaling_k_saturated_over_the_runs_is_flagged_though_k_t_over_n_stays_under_5_at_one():
    """The published law at 5 .. 600 tokens per parameter, 0.3% noise: the fit's k_D 0.936 for the
    truth's 0.0081, R_D 1.991 .. 2.000 at every run, and `identifiability: []` (k_D T/N 4.68 at the
    smallest ratio passed the old check, k_D T/N above 5 at every run)."""
    from sweep.fit.parametric import fit_law

    N_R = np.repeat(np.logspace(7.3, 9.8, 8), 5)
    tokens_R = N_R * np.tile([5.0, 20.0, 60.0, 200.0, 600.0], 8)
    loss_R = TRUE_SUBSCALING.predict(N_R, tokens_R) * (1 + 0.003 * np.random.default_rng(0).standard_normal(40))
    fit = fit_law("subscaling", N_R, tokens_R, loss_R, show_progress=False)
    assert fit.law.k_D > 0.5  # two orders of magnitude off: the data cannot tell it
    flag = by_parameter(identifiability_flags(fit))["k_D"]
    assert flag.problem.startswith(f"k_D = {fit.law.k_D:.3g}: its R_D = 1 + sigmoid(k_D T/N) is 1.991 .. 2.000 over "
                                   "the runs (k_D T/N 4.68 .. 562), a spread under 0.05: saturated at 2, so the runs "
                                   "give only a lower bound on it")


def test_a_sub_scaling_k_the_runs_reach_is_not_flagged():
    """The published law at 1 .. 2000 tokens per parameter, 0.3% noise: R_D runs from 1.5 to 2 and
    R_N from 1.5 to 1.87 over the runs, and the fit finds both k."""
    from sweep.fit.parametric import fit_law

    fit = fit_law("subscaling", *subscaling_runs(), show_progress=False)
    assert fit.law.k_D == pytest.approx(TRUE_SUBSCALING.k_D, rel=0.1)
    assert fit.law.k_N == pytest.approx(TRUE_SUBSCALING.k_N, rel=0.3)
    assert not {"k_D", "k_N"} & set(by_parameter(identifiability_flags(fit)))


def test_a_sub_scaling_k_whose_r_is_nearly_constant_mid_range_is_flagged_as_not_pinned():
    from sweep.fit.parametric import fit_law

    N_R, tokens_R, loss_R = subscaling_runs()
    fit = fit_law("subscaling", N_R, tokens_R, loss_R, show_progress=False)
    narrow = dataclasses.replace(fit, tokens_R=N_R * np.linspace(20, 25, N_R.size),
                                 law=dataclasses.replace(fit.law, k_D=0.03))  # R_D 1.646 .. 1.679
    flag = by_parameter(identifiability_flags(narrow))["k_D"]
    assert "1.646 .. 1.679 over the runs" in flag.problem and flag.problem.endswith("nearly constant, so the runs do "
                                                                                    "not pin it")


def test_exponents_at_or_beyond_their_bounds_and_huge_coefficients_are_flagged(well_sampled):
    theta_P = well_sampled.theta_P.copy()
    theta_P[[0, 3]] = 60.0, 0.01  # log A = 60 (A = 1e26), alpha = 0.01
    law = dataclasses.replace(well_sampled.law, A=float(np.exp(60.0)), alpha=0.01)
    flags = by_parameter(identifiability_flags(dataclasses.replace(well_sampled, law=law, theta_P=theta_P)))
    assert "alpha = 0.01 is at its bound 0" in flags["alpha"].problem
    assert "runs off to infinity (log A = 60.0 > 50)" in flags["A"].problem


def test_a_fitted_exponent_below_zero_says_the_loss_rises_and_that_there_is_no_allocation(well_sampled):
    law = dataclasses.replace(well_sampled.law, beta=-0.1)
    theta_P = well_sampled.theta_P.copy()
    theta_P[4] = -0.1
    flags = by_parameter(identifiability_flags(dataclasses.replace(well_sampled, law=law, theta_P=theta_P), None,
                                               1e21))
    assert flags["beta"].problem == "beta = -0.1 is below 0: the fitted loss rises with more tokens"
    assert ("N_opt, T_opt and tokens per parameter at C = 1e+21 are undefined: the law has no compute-optimal "
            "allocation (beta = -0.1 <= 0: the fitted loss does not fall with more tokens)") == flags["n_opt"].problem
    assert "d_opt" not in flags and "tokens_per_param" not in flags  # one flag, not three saying 'nan'


def test_too_few_converged_resamples_and_held_parameters(pinned):
    boot = bootstrap(pinned, n_resamples=5, seed=0)
    rough = dataclasses.replace(boot, converged_fraction=0.5)
    assert "only 50% of 5 bootstrap resamples converged" in by_parameter(identifiability_flags(pinned, rough))[
        "fit"].problem
    held = fit_chinchilla(*pinned_runs(), fix={"E": 1.7})
    assert "E" not in by_parameter(identifiability_flags(held))  # a held E is the user's, not the data's


def test_a_remedy_does_not_suggest_holding_e_when_e_is_held(pinned):
    held = fit_chinchilla(*pinned_runs(), fix={"E": 1.7})
    rough = dataclasses.replace(bootstrap(held, n_resamples=5, seed=0), converged_fraction=0.5)
    flags = identifiability_flags(held, rough, 1e30)  # a compute far beyond the runs: more flags
    assert flags and not [f.remedy for f in flags if "--fix E" in f.remedy]  # was: "(--fix E=VALUE removes ..."
    free = identifiability_flags(pinned, dataclasses.replace(bootstrap(pinned, n_resamples=5, seed=0),
                                                             converged_fraction=0.5), 1e30)
    assert [f.remedy for f in free if "--fix E" in f.remedy]
