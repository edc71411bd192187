"""sweep/fit/parametric.py: Chinchilla Approach 3 and the sub-scaling law recover the parameters
of synthetic runs drawn from known laws; held parameters; bad input (the bootstrap:
test_fit_law_bootstrap.py; the held-out comparison: test_fit_law_comparison.py)."""

import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit import parametric
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import (CHINCHILLA, KAPLAN, SUBSCALING, ChinchillaLaw, LogRuns, chinchilla_start_grid, fit_chinchilla,
                                  fit_subscaling, subscaling_start_grid)
from tests import parametric_runs
from tests.parametric_runs import TRUE_CHINCHILLA, TRUE_SUBSCALING, runs_grid


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


@pytest.mark.parametrize("alpha, beta", [(0.3, -0.1), (-0.1, 0.3), (-0.2, -0.1), (0.3, 0.0)])
def test_a_law_whose_loss_does_not_fall_with_both_n_and_tokens_has_no_allocation_not_a_complex_one(alpha, beta):
    law = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=alpha, beta=beta)
    assert np.isnan(law.G) and isinstance(law.G, float)  # was complex for a negative base: a TypeError downstream
    assert np.isnan(law.n_opt(1e21)) and np.isnan(law.d_opt(1e21)) and np.isnan(law.loss_opt(1e21))
    G_Q = parametric.allocation_constant(np.full(2, 400.0), np.full(2, 410.0), np.array([0.34, alpha]),
                                         np.array([0.28, beta]))
    assert G_Q[0] == pytest.approx(TRUE_CHINCHILLA.G) and np.isnan(G_Q[1])  # resampled laws: the same rule


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


@pytest.mark.parametrize("form", [CHINCHILLA, SUBSCALING, KAPLAN], ids=lambda f: f.name)
def test_objective_gradient_matches_finite_differences(chinchilla_runs, form):
    runs = LogRuns.of(*chinchilla_runs)
    rng = np.random.default_rng(3)
    centre = [20.0, 22.0, 0.6, 0.8] if form is KAPLAN else [6.0, 6.0, 0.5, 0.3, 0.3, -4.0, -6.0][: form.n_params]
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


# --- progress -------------------------------------------------------------------------------------


def test_a_fit_shows_its_starts_stopped_and_finds_the_same_law(chinchilla_runs, chinchilla_fit, caplog,
                                                                monkeypatch):
    monkeypatch.setattr(parametric, "PROGRESS_DELAY_S", 0.0)  # a fit this small shows nothing otherwise
    with caplog.at_level("INFO", logger="sweep.progress"):
        shown = fit_chinchilla(*chinchilla_runs)
    np.testing.assert_array_equal(shown.theta_P, chinchilla_fit.theta_P)
    lines = [r.message for r in caplog.records]
    assert lines[-1] == "chinchilla fit: 4,500/4,500 starts stopped (100%)" and len(lines) <= 21


# --- the sub-scaling law --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def subscaling_fit():
    """The sub-scaling law fitted to the 36 runs below N = 1e9."""
    N_R, tokens_R, loss_R = parametric_runs.subscaling_runs()
    below_R = N_R < 1e9
    return fit_subscaling(N_R[below_R], tokens_R[below_R], loss_R[below_R])


def test_subscaling_law_recovers_its_parameters(subscaling_fit):
    fit = subscaling_fit
    assert fit.converged and fit.n_starts == 1296 and fit.n_runs == 36
    law = fit.law
    # 0.3% noise, N 1e7 .. 8e8, OTR 1 .. 2000
    assert law.E == pytest.approx(TRUE_SUBSCALING.E, rel=0.05)
    assert law.alpha == pytest.approx(TRUE_SUBSCALING.alpha, abs=0.05)
    assert law.beta == pytest.approx(TRUE_SUBSCALING.beta, abs=0.05)
    # k: the right order of magnitude
    assert TRUE_SUBSCALING.k_D / 3 < law.k_D < TRUE_SUBSCALING.k_D * 3
    assert TRUE_SUBSCALING.k_N / 10 < law.k_N < TRUE_SUBSCALING.k_N * 10


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


def test_bad_weights_are_refused():
    with pytest.raises(ConfigError, match=re.escape("weights of shape (5,): accepted is one "
                                                    "weight per run, shape (6,)")):
        fit_chinchilla(GOOD_N, GOOD_T, GOOD_LOSS, weights=np.ones(5))
    with pytest.raises(ConfigError, match="weight -1.0 at run row 2: accepted are finite "
                                          "weights >= 0"):
        fit_chinchilla(GOOD_N, GOOD_T, GOOD_LOSS, weights=[1, 1, -1, 1, 1, 1])


# --- held parameters ------------------------------------------------------------------------------


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
