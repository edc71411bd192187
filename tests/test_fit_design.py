"""sweep/fit/design.py: the criterion that chooses the next runs. On the bootstrap laws of a fit
whose runs lack large N it asks for large N; a target already known adds nothing; a run that
repeats one already chosen adds (almost) nothing; the set is chosen jointly, within its count and
its budget; the expected variance is the Gaussian posterior's; the optimum at C is the law's own.

Letters: Q bootstrap laws, M candidates, T targets."""

import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit import design
from sweep.fit.design import Candidate, choose, optimum_at
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import ChinchillaLaw, fit_law
from tests.known_law_tables import TRUE_LAW, law_table

FITTED_SIZES = np.geomspace(1e7, 1e8, 4)
TARGET_COMPUTE = 1e21  # N_opt ~ 3e9 under TRUE_LAW: 30x the largest fitted size
SAME_COST = 1e18  # every candidate's FLOPs, so that cost does not decide


@pytest.fixture(scope="module")
def laws():
    """30 bootstrap laws of a Chinchilla fit to 4 sizes (1e7 .. 1e8) x 3 token budgets (~10 s)."""
    table = law_table(FITTED_SIZES, (5, 20, 80))
    fit = fit_law("chinchilla", table.n_params_R, table.tokens_R, table.loss_R, show_progress=False)
    return bootstrap(fit, n_resamples=30, seed=0, show_progress=False).laws()


def small_and_large():
    """Unrun candidates at the fitted sizes (40 tokens per parameter) and at 10, 30, 100x the
    largest fitted size (20 tokens per parameter), all at the same cost."""
    small = [Candidate(n, 40 * n, flops=SAME_COST, label="small") for n in FITTED_SIZES]
    large = [Candidate(n, 20 * n, flops=SAME_COST, label="large") for n in FITTED_SIZES[-1] * np.array([10, 30, 100])]
    return small + large


def samples(laws, candidates, compute=TARGET_COMPUTE):
    return design.target_samples(laws, compute), design.candidate_samples(laws, candidates)


# --- what the criterion prefers ---------------------------------------------------------------

def test_a_fit_without_large_runs_asks_for_large_runs(laws):
    candidates = small_and_large()
    target_QxT, cand_QxM = samples(laws, candidates)
    choice = choose(target_QxT, cand_QxM, [c.flops for c in candidates], 1e-4, count=2)
    assert candidates[choice.picked[0]].label == "large"
    assert len(set(choice.picked)) == 2 and choice.gain[0] > choice.gain[1] > 0
    assert all(r < 1 for r in choice.width_ratio.values())  # both targets' intervals narrow


def test_each_large_candidate_alone_tells_more_than_any_small_one(laws):
    candidates = small_and_large()
    target_QxT, cand_QxM = samples(laws, candidates)
    gain_M = [choose(target_QxT, cand_QxM[:, [m]], [SAME_COST], 1e-4, count=1).total_gain
              for m in range(len(candidates))]
    assert min(gain_M[4:]) > max(gain_M[:4])


def test_a_target_whose_variance_is_already_zero_adds_nothing(laws):
    candidates = small_and_large()
    target_QxT, cand_QxM = samples(laws, candidates)
    known_QxT = target_QxT.copy()
    known_QxT[:, 1] = np.log(3e9)  # N_opt known exactly: every law agrees
    both = choose(known_QxT, cand_QxM, [c.flops for c in candidates], 1e-4, count=2)
    loss_only = choose(target_QxT[:, :1], cand_QxM, [c.flops for c in candidates], 1e-4, count=2,
                       targets=("loss",))
    assert both.picked == loss_only.picked
    assert both.gain == pytest.approx([g / 2 for g in loss_only.gain])  # the mean over 2 targets, one adding 0
    assert both.width_ratio["n_opt"] == 1.0
    assert both.variance_now["n_opt"] == pytest.approx(0.0, abs=1e-20)


def test_nothing_is_picked_when_every_target_is_already_known(laws):
    candidates = small_and_large()
    _, cand_QxM = samples(laws, candidates)
    known_QxT = np.tile(np.log([2.3, 3e9]), (len(laws), 1))
    choice = choose(known_QxT, cand_QxM, [c.flops for c in candidates], 1e-4, count=3)
    assert choice.picked == () and choice.total_gain == 0.0
    assert choice.width_ratio == {"loss": 1.0, "n_opt": 1.0}


def test_a_run_that_repeats_one_already_picked_adds_almost_nothing(laws):
    candidates = small_and_large()
    target_QxT, cand_QxM = samples(laws, candidates)
    best = choose(target_QxT, cand_QxM, [SAME_COST] * len(candidates), 1e-4, count=1).picked[0]
    twice = [candidates[best], candidates[best]]
    twice_QxM = cand_QxM[:, [best, best]]
    choice = choose(target_QxT, twice_QxM, [SAME_COST] * 2, 1e-4, count=2)
    assert len(choice.picked) == 2 and choice.gain[1] < 0.05 * choice.gain[0]
    # joint, not K times the best: among all the candidates plus the copy, the copy is not picked next
    with_copy = candidates + [twice[1]]
    joint = choose(target_QxT, np.concatenate([cand_QxM, cand_QxM[:, [best]]], axis=1),
                   [c.flops for c in with_copy], 1e-4, count=2)
    assert joint.picked[0] in (best, len(candidates))
    assert set(joint.picked) != {best, len(candidates)}
    assert joint.total_gain > choice.total_gain


# --- the bounds: count and budget -------------------------------------------------------------

def priced(candidates):
    """The same candidates at their own cost, 6 N T (the large ones cost more)."""
    return [Candidate(c.n_params, c.tokens, label=c.label) for c in candidates]


@pytest.mark.parametrize("budget_over_cheapest", [1.0, 3.0, 30.0, 300.0, 1e5])
def test_the_chosen_set_costs_at_most_the_budget(laws, budget_over_cheapest):
    candidates = priced(small_and_large())
    cost_M = np.array([c.flops for c in candidates])
    budget = budget_over_cheapest * cost_M.min()
    choice = choose(*samples(laws, candidates), cost_M, 1e-4, budget=budget)
    assert choice.picked
    assert choice.flops == pytest.approx(cost_M[list(choice.picked)].sum())
    assert choice.flops <= budget


def test_a_count_bounds_the_set_as_well_as_a_budget(laws):
    candidates = priced(small_and_large())
    cost_M = np.array([c.flops for c in candidates])
    choice = choose(*samples(laws, candidates), cost_M, 1e-4, count=2, budget=cost_M.sum())
    assert len(choice.picked) == 2 and choice.flops <= cost_M.sum()


def test_a_budget_below_the_cheapest_candidate_is_one_clear_error(laws):
    candidates = priced(small_and_large())
    cost_M = np.array([c.flops for c in candidates])
    budget = 0.5 * cost_M.min()
    with pytest.raises(ConfigError, match=re.escape(f"--budget {budget:.3g} FLOPs")) as err:
        choose(*samples(laws, candidates), cost_M, 1e-4, budget=budget)
    assert f"{cost_M.min():.3g}" in str(err.value)


@pytest.mark.parametrize("count", [0, -2])
def test_a_count_below_one_is_one_clear_error(laws, count):
    candidates = small_and_large()
    with pytest.raises(ConfigError, match=f"--count {count}: accepted is a whole number >= 1"):
        choose(*samples(laws, candidates), [SAME_COST] * len(candidates), 1e-4, count=count)


def test_neither_a_count_nor_a_budget_is_one_clear_error(laws):
    candidates = small_and_large()
    with pytest.raises(ConfigError, match="give a count of runs, a budget of FLOPs, or both"):
        choose(*samples(laws, candidates), [SAME_COST] * len(candidates), 1e-4)


def test_an_unknown_target_is_one_clear_error(laws):
    with pytest.raises(ConfigError, match="target 'tokens': accepted are loss, n_opt"):
        design.target_samples(laws, TARGET_COMPUTE, ("loss", "tokens"))


# --- the cost exponent: gain per FLOPs^p within a budget ---------------------------------------

def cheap_weak_and_dear_strong():
    """Samples of one target and two candidates: the cheap one (1 FLOP) tells about a ninth of what
    the dear one (100 FLOPs) tells about the target."""
    rng = np.random.default_rng(7)
    target_Q = rng.normal(size=2000)
    noise_var = 1.0
    # a candidate x = c * target + unit noise removes c^2 var / (c^2 var + 1 + noise_var) of the target's variance
    strong_Q = 3.0 * target_Q + rng.normal(size=2000)
    weak_Q = 0.45 * target_Q + rng.normal(size=2000)
    return target_Q[:, None], np.stack([weak_Q, strong_Q], axis=1), np.array([1.0, 100.0]), noise_var


@pytest.mark.parametrize("cost_exponent, first", [(1.0, 0), (0.4, 1), (0.0, 1)])
def test_the_cost_exponent_sets_how_much_a_runs_cost_weighs_against_its_gain(cost_exponent, first):
    """Gains about 0.09 (cheap, 1 FLOP) and 0.81 (dear, 100 FLOPs): per FLOP the cheap run wins
    (0.09 against 0.0081), per FLOPs^0.4 the dear one (0.81 / 100^0.4 = 0.13 against 0.09), outright
    the dear one."""
    target_QxT, candidate_QxM, cost_M, noise_var = cheap_weak_and_dear_strong()
    choice = choose(target_QxT, candidate_QxM, cost_M, noise_var, count=1, budget=101.0,
                    targets=("loss",), cost_exponent=cost_exponent)
    assert choice.picked == (first,)
    assert f"per FLOPs^{cost_exponent:g}" in choice.criterion


def test_without_a_cost_exponent_the_one_of_conf_fit_yaml_is_taken():
    from sweep.fit.defaults import fit_defaults

    target_QxT, candidate_QxM, cost_M, noise_var = cheap_weak_and_dear_strong()
    p = fit_defaults().suggest_cost_exponent
    default = choose(target_QxT, candidate_QxM, cost_M, noise_var, budget=101.0, targets=("loss",))
    given = choose(target_QxT, candidate_QxM, cost_M, noise_var, budget=101.0, targets=("loss",), cost_exponent=p)
    assert default == given and f"per FLOPs^{p:g}" in default.criterion


@pytest.mark.parametrize("cost_exponent", [-0.1, 1.5, float("nan"), True, "0.4"])
def test_a_cost_exponent_outside_0_to_1_is_one_clear_error(cost_exponent):
    target_QxT, candidate_QxM, cost_M, noise_var = cheap_weak_and_dear_strong()
    message = f"suggest_cost_exponent {cost_exponent!r} (conf/fit.yaml): accepted is a number from 0"
    with pytest.raises(ConfigError, match=re.escape(message)):
        choose(target_QxT, candidate_QxM, cost_M, noise_var, budget=101.0, targets=("loss",),
               cost_exponent=cost_exponent)


# --- the arithmetic ---------------------------------------------------------------------------

def test_the_expected_variance_is_the_gaussian_posterior_of_the_picks():
    """Picked one at a time by rank-one updates, the targets' variance after the picks is the
    Schur complement of the picks' noisy covariance: S_tt - S_tP (S_PP + s^2 I)^-1 S_Pt."""
    rng = np.random.default_rng(3)
    latent_QxF = rng.normal(size=(400, 3))
    mix_FxV = rng.normal(size=(3, 6))
    samples_QxV = latent_QxF @ mix_FxV  # 2 targets, 4 candidates, correlated
    noise_var = 0.3
    choice = choose(samples_QxV[:, :2], samples_QxV[:, 2:], np.ones(4), noise_var, count=2)
    cov = design.clipped_covariance(samples_QxV)
    p = [2 + i for i in choice.picked]
    after = cov[:2, :2] - cov[:2, p] @ np.linalg.solve(cov[np.ix_(p, p)] + noise_var * np.eye(2), cov[p, :2])
    for t, name in enumerate(("loss", "n_opt")):
        assert choice.variance_now[name] == pytest.approx(cov[t, t])
        assert choice.width_ratio[name] ** 2 == pytest.approx(after[t, t] / cov[t, t], rel=1e-9)
    # the gains add up to the mean fraction of the variance removed
    removed = np.mean([1 - choice.width_ratio[n] ** 2 for n in ("loss", "n_opt")])
    assert choice.total_gain == pytest.approx(removed, rel=1e-9)


def test_the_first_pick_is_the_one_of_the_largest_single_run_gain():
    rng = np.random.default_rng(4)
    samples_QxV = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 5))
    cov = design.clipped_covariance(samples_QxV)
    gain_M = [np.mean([cov[t, v] ** 2 / (cov[v, v] + 0.1) / cov[t, t] for t in (0, 1)]) for v in range(2, 5)]
    choice = choose(samples_QxV[:, :2], samples_QxV[:, 2:], np.ones(3), 0.1, count=1)
    assert choice.picked == (int(np.argmax(gain_M)),)
    assert choice.gain[0] == pytest.approx(max(gain_M))


def test_a_run_away_bootstrap_law_is_clipped_and_does_not_decide():
    rng = np.random.default_rng(5)
    samples_QxV = rng.normal(size=(200, 3))
    wild_QxV = samples_QxV.copy()
    wild_QxV[0] = [1e6, 0.0, 1e6]  # one resample ran off, in a target and a candidate together
    cov = design.clipped_covariance(wild_QxV)
    assert np.all(np.abs(cov) < 2)
    lo, hi = np.percentile(wild_QxV, [2.5, 97.5], axis=0)
    assert np.allclose(cov, np.cov(np.clip(wild_QxV, lo, hi), rowvar=False))


def test_laws_that_give_no_finite_prediction_are_left_out_and_too_few_are_an_error():
    samples_QxV = np.random.default_rng(6).normal(size=(10, 3))
    samples_QxV[:8, 0] = np.nan
    with pytest.raises(ConfigError, match="only 2 of 10 bootstrap laws give finite predictions"):
        design.clipped_covariance(samples_QxV)


@pytest.mark.parametrize("law", [TRUE_LAW, ChinchillaLaw(E=1.8, A=482.0, B=2085.0, alpha=0.35, beta=0.37)])
@pytest.mark.parametrize("compute", [1e17, 1e20, 1e23])
def test_the_optimum_at_a_compute_is_the_chinchilla_closed_form(law, compute):
    loss, n = optimum_at(law, compute)
    assert n == pytest.approx(float(law.n_opt(compute)), rel=1e-3)
    assert loss == pytest.approx(float(law.loss_opt(compute)), rel=1e-3)


def test_the_targets_are_the_logs_of_the_optimum_under_each_law():
    laws = [TRUE_LAW, ChinchillaLaw(E=1.6, A=300.0, B=500.0, alpha=0.3, beta=0.3)]
    out_QxT = design.target_samples(laws, 1e20)
    assert out_QxT.shape == (2, 2)
    for q, law in enumerate(laws):
        assert np.exp(out_QxT[q]) == pytest.approx([float(law.loss_opt(1e20)), float(law.n_opt(1e20))], rel=1e-3)


def test_laws_with_runaway_coefficients_give_their_optimum_without_a_warning(recwarn):
    """A bootstrap resample can run off to coefficients of 1e200 and exponents of 30 (the replay's
    CPU sweep at 200 resamples did): its optimum reads inf or NaN, with no RuntimeWarning printed."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        law = ChinchillaLaw(E=float(rng.uniform(0, 3)), A=float(np.exp(rng.uniform(-50, 700))),
                            B=float(np.exp(rng.uniform(-50, 700))), alpha=float(rng.uniform(-3, 40)),
                            beta=float(rng.uniform(-3, 40)))
        optimum_at(law, 1e20)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_a_candidates_flops_are_six_n_t_unless_given():
    assert Candidate(1e8, 2e9).flops == 6 * 1e8 * 2e9
    assert Candidate(1e8, 2e9, flops=5e18).flops == 5e18
    assert Candidate(1e8, 2e9).tokens_per_param == 20


def test_the_noise_variance_is_the_fits_residual_spread_with_a_floor():
    table = law_table(FITTED_SIZES, (5, 20, 80), noise=0.02, seed=1)
    fit = fit_law("chinchilla", table.n_params_R, table.tokens_R, table.loss_R, show_progress=False)
    residual_R = np.log(table.loss_R) - np.log(fit.predict(table.n_params_R, table.tokens_R))
    assert design.noise_variance(fit, 0.0) == pytest.approx(np.sum(residual_R ** 2) / (12 - 5))
    assert design.noise_variance(fit, 0.5) == 0.25


def test_more_candidates_than_can_be_scored_at_once_is_one_clear_error(monkeypatch):
    """Their joint covariance is (M + 2)^2 x 8 bytes: 29,468 candidates took a process down (a
    segmentation fault) before suggest_max_candidates bounded them."""
    import dataclasses

    from sweep.fit.defaults import fit_defaults

    monkeypatch.setattr(design, "fit_defaults", lambda: dataclasses.replace(fit_defaults(), suggest_max_candidates=3))
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match=r"4 candidate runs: too many to score at once .* at most 3 "
                                          r"\(suggest_max_candidates in conf/fit.yaml\): give fewer values with --candidates"):
        choose(rng.normal(size=(50, 2)), rng.normal(size=(50, 4)), np.ones(4), 1e-4, count=1)
    assert len(choose(rng.normal(size=(50, 2)), rng.normal(size=(50, 3)), np.ones(3), 1e-4, count=1).picked) == 1


def test_a_count_over_the_candidates_is_said_as_the_runs_it_can_propose(laws):
    """Was: "removed by 100000 runs" above 12 runs proposed."""
    candidates = small_and_large()
    choice = choose(*samples(laws, candidates), [c.flops for c in candidates], 1e-4, count=100000)
    n = len(candidates)
    assert len(choice.picked) <= n
    assert choice.criterion == (f"the most of the targets' variance removed by {n} runs (every candidate: --count "
                                f"100000 asks for more than the {n})")
    assert choose(*samples(laws, candidates), [c.flops for c in candidates], 1e-4, count=2).criterion == \
        "the most of the targets' variance removed by 2 runs"
