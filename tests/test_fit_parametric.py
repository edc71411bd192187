"""sweep/fit/parametric.py: Chinchilla Approach 3 and the sub-scaling law recover the parameters
of synthetic runs drawn from known laws; bootstrap intervals, held-out comparison, bad input."""

import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.record import training_flops
from sweep.fit import parametric
from sweep.fit.parametric import (CHINCHILLA, SUBSCALING, ChinchillaLaw, LogRuns, SubScalingLaw,
                                  bootstrap, chinchilla_start_grid, compare_laws,
                                  fit_chinchilla, fit_subscaling, subscaling_start_grid)

TRUE_CHINCHILLA = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
# Chen et al.'s reported fit (README "The science: Sub-scaling and data density")
TRUE_SUBSCALING = SubScalingLaw(E=1.372, A=455.345, B=61.929, alpha=0.289, beta=0.272,
                                k_D=0.00810, k_N=0.00114)


def runs_grid(tokens_per_param=(0.5, 2.5), n_sizes=8, n_ratios=6):
    """N over 2.7 decades (1e7 .. 5e9) x tokens per parameter log-spaced in the given decades."""
    n_NxT, tpp_NxT = np.meshgrid(np.logspace(7, 9.7, n_sizes),
                                 np.logspace(*tokens_per_param, n_ratios), indexing="ij")
    return n_NxT.ravel(), (n_NxT * tpp_NxT).ravel()


def noisy(law, N_R, tokens_R, noise, seed=0):
    """The law's loss times exp(noise x standard normal): ~noise relative scatter."""
    return law.predict(N_R, tokens_R) * np.exp(noise * np.random.default_rng(seed).normal(size=N_R.size))


@pytest.fixture(scope="module")
def chinchilla_runs():
    N_R, tokens_R = runs_grid()  # 48 runs, 20 .. 320 tokens per parameter
    return N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.01, seed=1)


@pytest.fixture(scope="module")
def chinchilla_fit(chinchilla_runs):
    return fit_chinchilla(*chinchilla_runs)


@pytest.fixture(scope="module")
def subscaling_runs():
    N_R, tokens_R = runs_grid(tokens_per_param=(0.0, 3.3))  # OTR 1 .. 2000
    return N_R, tokens_R, noisy(TRUE_SUBSCALING, N_R, tokens_R, 0.003, seed=1)


# --- Chinchilla ------------------------------------------------------------------------------

def test_noise_free_runs_are_recovered_almost_exactly_from_one_batched_call(monkeypatch):
    calls = []
    real = parametric.minimize

    def counting(fun, x0_SxP, **kw):
        calls.append(np.shape(x0_SxP))
        return real(fun, x0_SxP, **kw)

    monkeypatch.setattr(parametric, "minimize", counting)
    N_R, tokens_R = runs_grid(n_sizes=6, n_ratios=5)
    fit = fit_chinchilla(N_R, tokens_R, TRUE_CHINCHILLA.predict(N_R, tokens_R))
    assert calls == [(4500, 5)]  # the whole grid, one L-BFGS call
    assert fit.n_starts == 4500
    assert fit.start == dict(zip(CHINCHILLA.theta_names, chinchilla_start_grid()[fit.start_index]))
    assert fit.converged and fit.reason in ("gtol", "ftol")
    for name, truth in TRUE_CHINCHILLA.params().items():
        assert fit.params()[name] == pytest.approx(truth, rel=1e-4), name
    assert fit.objective < 1e-15


def test_the_start_grids():
    grid_SxP = chinchilla_start_grid()
    assert grid_SxP.shape == (4500, 5)
    values = {name: sorted(set(grid_SxP[:, j])) for j, name in enumerate(CHINCHILLA.theta_names)}
    assert values["alpha"] == values["beta"] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert values["log_E"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert values["log_A"] == values["log_B"] == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert len(np.unique(grid_SxP, axis=0)) == 4500
    sub_SxP = subscaling_start_grid()
    assert sub_SxP.shape == (1296, 7)
    assert sorted(set(np.exp(sub_SxP[:, 5]).round(6))) == [0.001, 0.01]


def test_noisy_runs_recover_the_law_within_tolerances(chinchilla_fit):
    # 1% noise on 48 runs: E within 3%, exponents within 0.05, a and b within 0.03 (over noise
    # seeds 0..4 the errors were at most 5%, 0.024, 0.023: seed 0 is a 2-sigma draw for E)
    law = chinchilla_fit.law
    assert chinchilla_fit.converged
    assert chinchilla_fit.n_runs == 48
    assert law.E == pytest.approx(TRUE_CHINCHILLA.E, rel=0.03)
    assert law.alpha == pytest.approx(TRUE_CHINCHILLA.alpha, abs=0.05)
    assert law.beta == pytest.approx(TRUE_CHINCHILLA.beta, abs=0.05)
    assert law.a == pytest.approx(TRUE_CHINCHILLA.a, abs=0.03)
    assert law.b == pytest.approx(TRUE_CHINCHILLA.b, abs=0.03)
    N_R, tokens_R, loss_R = chinchilla_fit.N_R, chinchilla_fit.tokens_R, chinchilla_fit.loss_R
    assert np.max(np.abs(chinchilla_fit.predict(N_R, tokens_R) / loss_R - 1)) < 0.04


def test_compute_optimal_allocation_minimises_loss_at_fixed_compute():
    law = TRUE_CHINCHILLA
    C = 1e21
    assert law.a + law.b == pytest.approx(1.0)
    assert law.a == pytest.approx(0.28 / 0.62)
    assert 6 * law.n_opt(C) * law.d_opt(C) == pytest.approx(C)
    assert law.tokens_per_param(C) == pytest.approx(law.d_opt(C) / law.n_opt(C))
    N_G = law.n_opt(C) * np.logspace(-0.5, 0.5, 2001)
    loss_G = law.predict(N_G, C / (6 * N_G))
    assert N_G[np.argmin(loss_G)] == pytest.approx(law.n_opt(C), rel=2e-3)
    assert law.loss_opt(C) == pytest.approx(loss_G.min(), rel=1e-9)
    # N_opt grows as C^a
    assert law.n_opt(100 * C) / law.n_opt(C) == pytest.approx(100**law.a)


def test_objective_is_the_summed_huber_of_log_residuals(chinchilla_runs):
    N_R, tokens_R, loss_R = chinchilla_runs
    law = ChinchillaLaw(E=1.6, A=300.0, B=500.0, alpha=0.3, beta=0.3)
    r_R = np.log(law.predict(N_R, tokens_R)) - np.log(loss_R)
    assert np.sum(np.abs(r_R) < 1e-3) > 0 and np.sum(np.abs(r_R) > 1e-3) > 0  # both branches
    huber_R = np.where(np.abs(r_R) <= 1e-3, 0.5 * r_R**2, 1e-3 * (np.abs(r_R) - 0.5e-3))
    theta_1xP = np.log([[300.0, 500.0, 1.6]])
    theta_1xP = np.column_stack([theta_1xP, [[0.3, 0.3]]])
    f_1, _ = CHINCHILLA.objective(theta_1xP, LogRuns.of(N_R, tokens_R, loss_R), None)
    assert f_1[0] == pytest.approx(huber_R.sum(), rel=1e-12)  # summed, delta = 1e-3


def test_weights_count_runs(chinchilla_runs):
    runs = LogRuns.of(*chinchilla_runs)
    twice = LogRuns.of(*(np.concatenate([v, v[:5]]) for v in chinchilla_runs))
    theta_KxP = chinchilla_start_grid()[::900] * 0.5 + 0.1
    w_KxR = np.ones((len(theta_KxP), 48))
    w_KxR[:, :5] = 2.0
    for form, extra in ((CHINCHILLA, []), (SUBSCALING, [-4.0, -6.0])):
        th_KxP = np.column_stack([theta_KxP] + [np.full(len(theta_KxP), e) for e in extra])
        f_w, g_w = form.objective(th_KxP, runs, w_KxR)
        f_2, g_2 = form.objective(th_KxP, twice, None)
        np.testing.assert_allclose(f_w, f_2, rtol=1e-12)
        np.testing.assert_allclose(g_w, g_2, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("form", [CHINCHILLA, SUBSCALING], ids=lambda f: f.name)
def test_objective_gradient_matches_finite_differences(chinchilla_runs, form):
    runs = LogRuns.of(*chinchilla_runs)
    rng = np.random.default_rng(3)
    centre = [6.0, 6.0, 0.5, 0.3, 0.3, -4.0, -6.0][: form.n_params]
    theta_KxP = np.array(centre) + 0.3 * rng.normal(size=(4, form.n_params))
    w_KxR = rng.random((4, 48))
    _, grad_KxP = form.objective(theta_KxP, runs, w_KxR)
    numeric_KxP = np.zeros_like(grad_KxP)
    for j in range(form.n_params):
        step = np.zeros(form.n_params)
        step[j] = 1e-6
        numeric_KxP[:, j] = (form.objective(theta_KxP + step, runs, w_KxR)[0]
                             - form.objective(theta_KxP - step, runs, w_KxR)[0]) / 2e-6
    np.testing.assert_allclose(grad_KxP, numeric_KxP, rtol=1e-5, atol=1e-9 * np.abs(grad_KxP).max())


# --- bootstrap ---------------------------------------------------------------------------------

def test_bootstrap_intervals_contain_the_truth(chinchilla_fit):
    C = 1e21
    boot = bootstrap(chinchilla_fit, n_resamples=200, seed=1, compute=C)
    assert boot.n_resamples == 200
    assert all(len(v) == 200 for v in boot.samples.values())
    assert boot.converged_fraction > 0.95
    truth = {**TRUE_CHINCHILLA.params(), "a": TRUE_CHINCHILLA.a, "b": TRUE_CHINCHILLA.b,
             "tokens_per_param": TRUE_CHINCHILLA.tokens_per_param(C)}
    for name, value in truth.items():
        lo, hi = boot.intervals[name]
        assert lo < value < hi, (name, lo, value, hi)
    lo, hi = boot.intervals["alpha"]
    assert hi - lo < 0.2  # informative, not just wide
    assert boot.intervals["n_opt"][0] < boot.intervals["n_opt"][1]


def test_bootstrap_is_deterministic_in_its_seed_and_level_is_configurable(chinchilla_fit):
    first = bootstrap(chinchilla_fit, n_resamples=20, seed=7)
    again = bootstrap(chinchilla_fit, n_resamples=20, seed=7)
    other = bootstrap(chinchilla_fit, n_resamples=20, seed=8)
    np.testing.assert_array_equal(first.samples["alpha"], again.samples["alpha"])
    assert not np.array_equal(first.samples["alpha"], other.samples["alpha"])
    narrow = bootstrap(chinchilla_fit, n_resamples=20, seed=7, level=0.5)
    assert narrow.intervals["alpha"][1] - narrow.intervals["alpha"][0] < (
        first.intervals["alpha"][1] - first.intervals["alpha"][0])


def test_a_fit_shows_its_starts_stopped_and_finds_the_same_law(chinchilla_runs, chinchilla_fit, caplog,
                                                                monkeypatch):
    monkeypatch.setattr(parametric, "PROGRESS_DELAY_S", 0.0)  # a fit this small shows nothing otherwise
    with caplog.at_level("INFO", logger="sweep.progress"):
        shown = fit_chinchilla(*chinchilla_runs)
    np.testing.assert_array_equal(shown.theta_P, chinchilla_fit.theta_P)
    lines = [r.message for r in caplog.records]
    assert lines[-1] == "chinchilla fit: 4,500/4,500 starts stopped (100%)" and len(lines) <= 21


def test_a_bootstrap_in_chunks_finds_the_fits_one_batched_call_finds(chinchilla_fit, monkeypatch):
    """Its resamples run in chunks to show progress between them: the same draws and starts. The
    batch size changes rounding (about 1e-16 in a gradient), which L-BFGS stopped at ftol carries
    to about 1e-7 in theta: far inside the interval's width, and fixed for a fixed seed."""
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    monkeypatch.setattr(parametric, "MIN_CHUNK_PROBLEMS", 1)
    one = parametric.bootstrap_thetas(chinchilla_fit, 8, rng(), chunks=1, show_progress=False)
    chunked = parametric.bootstrap_thetas(chinchilla_fit, 8, rng(), chunks=3, show_progress=False)
    np.testing.assert_allclose(one[0], chunked[0], rtol=1e-6, atol=0)
    np.testing.assert_array_equal(one[2], chunked[2])


def test_a_bootstrap_gives_the_same_intervals_with_and_without_its_progress(chinchilla_fit, caplog, monkeypatch):
    monkeypatch.setattr(parametric, "PROGRESS_DELAY_S", 0.0)  # a short one shows nothing otherwise
    monkeypatch.setattr(parametric, "MIN_CHUNK_PROBLEMS", 300)  # 20 resamples x 37 starts: 3 chunks
    with caplog.at_level("INFO", logger="sweep.progress"):
        shown = bootstrap(chinchilla_fit, n_resamples=20, seed=7)
    silent = bootstrap(chinchilla_fit, n_resamples=20, seed=7, show_progress=False)
    np.testing.assert_array_equal(shown.theta_QxP, silent.theta_QxP)
    assert shown.intervals == silent.intervals
    lines = [r.message for r in caplog.records]
    assert len(lines) == 3 and lines[0].startswith("bootstrap of the chinchilla fit: 9/20 resamples (45%), ETA ")
    assert lines[-1] == "bootstrap of the chinchilla fit: 20/20 resamples (100%)"


# --- sub-scaling law and the held-out comparison -------------------------------------------

@pytest.fixture(scope="module")
def subscaling_comparison(subscaling_runs):
    return compare_laws(*subscaling_runs, cutoff=1e9, by="n_params")


def test_subscaling_law_recovers_its_parameters(subscaling_comparison):
    fit = subscaling_comparison.fits["subscaling"]  # on the 36 runs below N = 1e9
    assert fit.converged and fit.n_starts == 1296 and fit.n_runs == 36
    law = fit.law
    # 0.3% noise, N 1e7 .. 8e8, OTR 1 .. 2000
    assert law.E == pytest.approx(TRUE_SUBSCALING.E, rel=0.05)
    assert law.alpha == pytest.approx(TRUE_SUBSCALING.alpha, abs=0.05)
    assert law.beta == pytest.approx(TRUE_SUBSCALING.beta, abs=0.05)
    # k: the right order of magnitude
    assert TRUE_SUBSCALING.k_D / 3 < law.k_D < TRUE_SUBSCALING.k_D * 3
    assert TRUE_SUBSCALING.k_N / 10 < law.k_N < TRUE_SUBSCALING.k_N * 10


def test_held_out_error_favours_the_law_that_made_the_data(subscaling_comparison):
    comparison = subscaling_comparison
    assert comparison.n_train == 36 and comparison.n_held_out == 12
    assert comparison.best == "subscaling"
    sub, chin = comparison.errors["subscaling"], comparison.errors["chinchilla"]
    assert sub.rms_log < chin.rms_log / 2
    assert sub.mean_abs_rel < 0.01
    assert set(comparison.predictions) == {"chinchilla", "subscaling"}
    assert comparison.predictions["subscaling"].shape == (12,)


def test_every_run_has_each_law_s_prediction_and_error(subscaling_comparison, subscaling_runs):
    comparison = subscaling_comparison
    held_out = comparison.per_run()
    assert [run["name"] for run in held_out] == [f"run {i}" for i in comparison.held_out_rows]
    assert all(run["held_out"] and run["n_params"] >= 1e9 for run in held_out)
    N_R, tokens_R, loss_R = subscaling_runs
    for k, (i, run) in enumerate(zip(comparison.held_out_rows, held_out)):
        assert (run["n_params"], run["tokens"], run["loss"]) == (N_R[i], tokens_R[i], loss_R[i])
        assert run["flops"] == pytest.approx(6 * N_R[i] * tokens_R[i])
        for law in ("chinchilla", "subscaling"):
            pred = comparison.predictions[law][k]
            assert run[f"pred_{law}"] == pred
            assert run[f"rel_error_{law}"] == pytest.approx(pred / loss_R[i] - 1)
            assert run[f"log_error_{law}"] == pytest.approx(np.log(pred / loss_R[i]))
    for law, err in comparison.errors.items():  # the aggregate errors are these runs' errors
        assert err.mean_abs_rel == pytest.approx(np.mean([abs(r[f"rel_error_{law}"]) for r in held_out]))
        assert err.max_abs_rel == pytest.approx(max(abs(r[f"rel_error_{law}"]) for r in held_out))
    every = comparison.per_run(include_train=True)
    assert len(every) == 48 and sum(r["held_out"] for r in every) == 12
    train = [r for r in every if not r["held_out"]]
    assert all(r["n_params"] < 1e9 for r in train)
    fitted = comparison.fits["chinchilla"]  # a training run's prediction is the fitted law's
    assert train[0]["pred_chinchilla"] == pytest.approx(fitted.predict(train[0]["n_params"], train[0]["tokens"]))


def test_by_flops_cuts_on_the_given_flops_not_on_6NT(chinchilla_runs):
    """A table whose flops column is not 6 N T (e.g. counting attention): the cut follows it."""
    N_R, tokens_R, loss_R = chinchilla_runs
    flops_R = 6 * N_R * tokens_R * (1e9 / N_R) ** 0.5  # smaller models cost relatively more
    cutoff = 3e19
    by_column_R, by_6NT_R = flops_R >= cutoff, 6 * N_R * tokens_R >= cutoff
    assert by_column_R.sum() != by_6NT_R.sum()  # the two cuts differ on this table
    names = [f"r{i}" for i in range(N_R.size)]
    comparison = compare_laws(N_R, tokens_R, loss_R, cutoff=cutoff, by="flops", flops=flops_R, names=names,
                              laws=("chinchilla",))
    assert comparison.held_out_rows.tolist() == np.flatnonzero(by_column_R).tolist()
    assert comparison.n_train == int((~by_column_R).sum())
    assert [r["name"] for r in comparison.per_run()] == [names[i] for i in np.flatnonzero(by_column_R)]
    assert [r["flops"] for r in comparison.per_run()] == flops_R[by_column_R].tolist()


def test_on_chinchilla_data_both_laws_predict_well(chinchilla_runs):
    N_R, tokens_R, loss_R = chinchilla_runs
    comparison = compare_laws(N_R, tokens_R, loss_R, cutoff=3e19, by="flops")
    held_out_R = training_flops(N_R, tokens_R) >= 3e19
    assert comparison.held_out_rows.tolist() == np.flatnonzero(held_out_R).tolist()
    for name, err in comparison.errors.items():
        assert err.mean_abs_rel < 0.03, name
    chin, sub = comparison.errors["chinchilla"], comparison.errors["subscaling"]
    assert abs(chin.rms_log - sub.rms_log) < 0.01


# --- bad input -----------------------------------------------------------------------------------

GOOD_N = np.array([1e7, 1e7, 1e8, 1e8, 1e9, 1e9])
GOOD_T = GOOD_N * np.array([10, 40, 10, 40, 10, 40])
GOOD_LOSS = TRUE_CHINCHILLA.predict(GOOD_N, GOOD_T)


@pytest.mark.parametrize("change, message", [
    (lambda N, T, loss: (N[:5], T[:5], loss[:5]),
     "5 runs are too few to fit the chinchilla law (5 parameters): need at least 6"),
    (lambda N, T, loss: (np.full(6, 1e8), T, loss),
     "every run has N=1e+08: the chinchilla law needs at least 2 distinct N and 2 distinct token counts"),
    (lambda N, T, loss: (N, np.full(6, 1e10), loss),
     "every run has tokens=1e+10"),
    (lambda N, T, loss: (N, T, np.where(np.arange(6) == 3, 0.0, loss)),
     "loss=0 at run row 3: N, tokens and loss must be > 0"),
    (lambda N, T, loss: (np.where(np.arange(6) >= 4, -N, N), T, loss),
     "N=-1e+09 at run rows 4, 5: N, tokens and loss must be > 0"),
    (lambda N, T, loss: (N, T, np.where(np.arange(6) == 2, np.nan, loss)),
     "loss is nan at run row 2: every run needs finite N, tokens and loss"),
    (lambda N, T, loss: (N, T[:5], loss),
     "one entry per run; got lengths"),
])
def test_bad_runs_are_refused_with_the_bad_value(change, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        fit_chinchilla(*change(GOOD_N, GOOD_T, GOOD_LOSS))


def test_subscaling_needs_eight_runs():
    with pytest.raises(ConfigError, match="need at least 8"):
        fit_subscaling(GOOD_N, GOOD_T, GOOD_LOSS)


def test_bad_bootstrap_and_comparison_settings_are_refused(chinchilla_fit, chinchilla_runs):
    with pytest.raises(ConfigError, match="n_resamples=1: accepted is a whole number >= 2"):
        bootstrap(chinchilla_fit, n_resamples=1)
    with pytest.raises(ConfigError, match=r"level=95: accepted is a probability in \(0, 1\)"):
        bootstrap(chinchilla_fit, level=95)
    with pytest.raises(ConfigError, match="leaves no run to predict"):
        compare_laws(*chinchilla_runs, cutoff=1e12)
    with pytest.raises(ConfigError, match="cutoff=2e\\+07 .* leaves 6 runs below it to fit on"):
        compare_laws(*chinchilla_runs, cutoff=2e7)
    with pytest.raises(ConfigError, match="by='tokens': accepted are 'n_params' and 'flops'"):
        compare_laws(*chinchilla_runs, cutoff=1e9, by="tokens")
    with pytest.raises(ConfigError, match="cutoff=-1: accepted is a number > 0"):
        compare_laws(*chinchilla_runs, cutoff=-1)
    with pytest.raises(ConfigError, match=r"flops: accepted is one finite number > 0 per run \(48\); got shape \(3,\)"):
        compare_laws(*chinchilla_runs, cutoff=1e9, flops=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="flops: accepted is one finite number > 0 per run .*, 1 bad"):
        compare_laws(*chinchilla_runs, cutoff=1e9, flops=np.r_[-1.0, np.ones(47)])
    with pytest.raises(ConfigError, match=r"names: accepted is one name per run \(48\); got 2"):
        compare_laws(*chinchilla_runs, cutoff=1e9, names=["a", "b"])


def test_bad_weights_are_refused():
    with pytest.raises(ConfigError, match=re.escape("weights of shape (5,): accepted is one "
                                                    "weight per run, shape (6,)")):
        fit_chinchilla(GOOD_N, GOOD_T, GOOD_LOSS, weights=np.ones(5))
    with pytest.raises(ConfigError, match="weight -1.0 at run row 2: accepted are finite "
                                          "weights >= 0"):
        fit_chinchilla(GOOD_N, GOOD_T, GOOD_LOSS, weights=[1, 1, -1, 1, 1, 1])


# --- honest intervals at a bound, held parameters ---------------------------------------------------

def pinned_runs():
    """12 runs of the law above (E = 1.7) over one decade of N, 2% noise: the fit's E collapses to
    about 1e-29 (the runs show no floor), though resamples of the same runs find E > 0."""
    N_R = np.repeat(np.geomspace(1e6, 1e7, 4), 3)
    tokens_R = N_R * np.tile([5.0, 20.0, 80.0], 4)
    return N_R, tokens_R, noisy(TRUE_CHINCHILLA, N_R, tokens_R, 0.02, seed=2)


@pytest.fixture(scope="module")
def pinned_fit():
    fit = fit_chinchilla(*pinned_runs())
    assert fit.law.E < 1e-20  # the premise: the full-data optimum sits at the bound E -> 0
    return fit


@pytest.mark.parametrize("method", ["residual", "case"])
def test_a_fit_pinned_at_e_zero_gets_the_bound_as_lower_end_and_a_wide_interval_not_a_zero_width_one(pinned_fit,
                                                                                                    method):
    boot = bootstrap(pinned_fit, n_resamples=20, seed=0, method=method)
    assert boot.method == method
    lo, hi = boot.intervals["E"]
    assert lo == 0.0  # the bound, not 1e-29
    assert hi > 0.5  # resamples started off the bound find a floor: the interval is honest about it
    assert 0 < boot.at_bound["E"] < 1
    assert boot.n_starts_per_resample == len(pinned_fit.optima_OxP) + 36  # conf/fit.yaml: 4 x 3 x 3 grid
    optima_only = bootstrap(pinned_fit, n_resamples=20, seed=0, grid_starts=False, method=method)
    assert optima_only.intervals["E"] == (0.0, 0.0) and optima_only.at_bound["E"] == 1.0  # as it was


def test_the_resample_start_grid_is_scaled_to_the_runs_and_reaches_low_e(pinned_fit):
    grid_KxP = parametric.resample_start_grid(pinned_fit)
    lowest = pinned_fit.loss_R.min()
    assert grid_KxP.shape == (36, 5)
    assert np.exp(grid_KxP[:, 2]).min() == pytest.approx(1e-4 * lowest)
    assert np.exp(grid_KxP[:, 2]).max() == pytest.approx(0.9 * lowest)
    law = CHINCHILLA.law_of(grid_KxP[0])  # each start predicts losses of the runs' magnitude
    pred_R = law.predict(pinned_fit.N_R, pinned_fit.tokens_R)
    assert 0.3 < np.median(pred_R / pinned_fit.loss_R) < 3


def test_fixed_e_stays_exactly_at_its_value_and_the_rest_is_the_best_fit_given_it(chinchilla_runs):
    fit = fit_chinchilla(*chinchilla_runs, fix={"E": 1.6})
    assert fit.theta_P[2] == np.log(1.6) and fit.law.E == pytest.approx(1.6, rel=1e-15)
    assert fit.fixed == {"E": 1.6} and fit.n_starts == 900  # the grid's 5 log_E values collapse to one
    runs = LogRuns.of(*chinchilla_runs)
    _, grad_1xP = CHINCHILLA.objective(fit.theta_P[None], runs, None)
    assert np.abs(grad_1xP[0, [0, 1, 3, 4]]).max() < 1e-7  # stationary in every free parameter
    free = fit_chinchilla(*chinchilla_runs)
    assert fit.objective >= free.objective  # holding E costs fit, never gains it
    boot = bootstrap(fit, n_resamples=10, seed=0)
    assert np.all(boot.samples["E"] == fit.law.E) and "E" not in boot.at_bound


def test_fix_accepts_e_between_zero_and_the_lowest_loss_and_names_the_bad_value(chinchilla_runs):
    lowest = chinchilla_runs[2].min()
    for fix, words in (({"E": 0.0}, "0 < E < the lowest loss"), ({"E": lowest}, f"{lowest:.4g}"),
                       ({"G": 1.0}, "accepted: E, alpha, beta"), ({"alpha": -0.1}, "exponent > 0")):
        with pytest.raises(ConfigError) as err:
            fit_chinchilla(*chinchilla_runs, fix=fix)
        assert words in str(err.value)


def test_a_residual_resample_keeps_every_run_and_draws_the_fits_own_scaled_residuals(chinchilla_fit):
    """The residual bootstrap keeps the grid as designed: each resample is every run's fitted log
    loss plus one of the fit's log residuals (centred, scaled by sqrt(R / (R - 5)) for the five
    fitted parameters), so no resample can lose the sizes or budgets that pin E."""
    fit = chinchilla_fit
    log_loss_QxR = parametric.residual_resamples(fit, 50, np.random.default_rng(0))
    log_pred_R = np.log(fit.predict(fit.N_R, fit.tokens_R))
    residual_R = np.log(fit.loss_R) - log_pred_R
    R = fit.n_runs
    scaled_R = (residual_R - residual_R.mean()) * np.sqrt(R / (R - 5))
    drawn_QxR = log_loss_QxR - log_pred_R
    assert log_loss_QxR.shape == (50, R)
    assert np.isin(np.round(drawn_QxR, 12), np.round(scaled_R, 12)).all()
    assert len(np.unique(np.round(drawn_QxR[0], 12))) > 1  # drawn with replacement, not one shift


@pytest.mark.parametrize("method", ["residual", "case"])
def test_both_bootstraps_hold_the_truth_and_keep_a_held_e(chinchilla_fit, chinchilla_runs, method):
    boot = bootstrap(chinchilla_fit, n_resamples=60, seed=3, method=method)
    for name in ("E", "alpha", "beta"):
        lo, hi = boot.intervals[name]
        assert lo < TRUE_CHINCHILLA.params()[name] < hi, (name, lo, hi)
    held = fit_chinchilla(*chinchilla_runs, fix={"E": 1.7})
    held_boot = bootstrap(held, n_resamples=10, seed=0, method=method)
    assert (held_boot.samples["E"] == 1.7).all()


def test_an_unknown_bootstrap_method_is_named_with_the_accepted_ones(chinchilla_fit):
    with pytest.raises(ConfigError, match="bootstrap method 'jackknife': accepted are case, residual"):
        bootstrap(chinchilla_fit, n_resamples=10, method="jackknife")


def test_an_interval_end_among_infinite_resamples_is_infinite_not_nan():
    values_Q = np.array([1.0, 2.0, 3.0] + [np.inf] * 5)
    lo, hi = parametric.percentile_interval(values_Q, 0.95)
    assert lo == pytest.approx(1.175) and hi == np.inf
