"""sweep/fit/law_bootstrap.py: percentile intervals that hold the truth of runs drawn from a known
law, honest at a bound, the same in chunks and with or without progress; case and residual
resamples; bad settings."""

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit import law_bootstrap
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import CHINCHILLA, fit_chinchilla
from tests.parametric_runs import TRUE_CHINCHILLA, pinned_runs


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


def test_a_bootstrap_in_chunks_finds_the_fits_one_batched_call_finds(chinchilla_fit, monkeypatch):
    """Its resamples run in chunks to show progress between them: the same draws and starts. The
    batch size changes rounding (about 1e-16 in a gradient), which L-BFGS stopped at ftol carries
    to about 1e-7 in theta: far inside the interval's width, and fixed for a fixed seed."""
    rng = lambda: np.random.default_rng(3)  # noqa: E731
    monkeypatch.setattr(law_bootstrap, "MIN_CHUNK_PROBLEMS", 1)
    one = law_bootstrap.bootstrap_thetas(chinchilla_fit, 8, rng(), chunks=1, show_progress=False)
    chunked = law_bootstrap.bootstrap_thetas(chinchilla_fit, 8, rng(), chunks=3, show_progress=False)
    np.testing.assert_allclose(one[0], chunked[0], rtol=1e-6, atol=0)
    np.testing.assert_array_equal(one[2], chunked[2])


def test_a_bootstrap_gives_the_same_intervals_with_and_without_its_progress(chinchilla_fit, caplog, monkeypatch):
    monkeypatch.setattr(law_bootstrap, "PROGRESS_DELAY_S", 0.0)  # a short one shows nothing otherwise
    monkeypatch.setattr(law_bootstrap, "MIN_CHUNK_PROBLEMS", 300)  # 20 resamples x 37 starts: 3 chunks
    with caplog.at_level("INFO", logger="sweep.progress"):
        shown = bootstrap(chinchilla_fit, n_resamples=20, seed=7)
    silent = bootstrap(chinchilla_fit, n_resamples=20, seed=7, show_progress=False)
    np.testing.assert_array_equal(shown.theta_QxP, silent.theta_QxP)
    assert shown.intervals == silent.intervals
    lines = [r.message for r in caplog.records]
    assert len(lines) == 3 and lines[0].startswith("bootstrap of the chinchilla fit: 9/20 resamples (45%), ETA ")
    assert lines[-1] == "bootstrap of the chinchilla fit: 20/20 resamples (100%)"


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
    grid_KxP = law_bootstrap.resample_start_grid(pinned_fit)
    lowest = pinned_fit.loss_R.min()
    assert grid_KxP.shape == (36, 5)
    assert np.exp(grid_KxP[:, 2]).min() == pytest.approx(1e-4 * lowest)
    assert np.exp(grid_KxP[:, 2]).max() == pytest.approx(0.9 * lowest)
    law = CHINCHILLA.law_of(grid_KxP[0])  # each start predicts losses of the runs' magnitude
    pred_R = law.predict(pinned_fit.N_R, pinned_fit.tokens_R)
    assert 0.3 < np.median(pred_R / pinned_fit.loss_R) < 3


def test_a_residual_resample_keeps_every_run_and_draws_the_fits_own_scaled_residuals(chinchilla_fit):
    """The residual bootstrap keeps the grid as designed: each resample is every run's fitted log
    loss plus one of the fit's log residuals (centred, scaled by sqrt(R / (R - 5)) for the five
    fitted parameters), so no resample can lose the sizes or budgets that pin E."""
    fit = chinchilla_fit
    log_loss_QxR = law_bootstrap.residual_resamples(fit, 50, np.random.default_rng(0))
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
    lo, hi = law_bootstrap.percentile_interval(values_Q, 0.95)
    assert lo == pytest.approx(1.175) and hi == np.inf


def test_an_allocation_most_resampled_laws_lack_has_no_interval_not_one_of_the_few():
    few_Q = np.array([1e9, 2e9] + [np.nan] * 18)  # 10% of the laws with an N_opt: more than 1 - 0.95 without
    assert all(np.isnan(law_bootstrap._allocation_interval(few_Q, 0.95)))
    most_Q = np.array([1e9, 2e9] * 20 + [np.nan])
    assert law_bootstrap._allocation_interval(most_Q, 0.95) == law_bootstrap.percentile_interval(most_Q, 0.95)


def test_bad_bootstrap_settings_are_refused(chinchilla_fit):
    with pytest.raises(ConfigError, match="n_resamples=1: accepted is a whole number >= 2"):
        bootstrap(chinchilla_fit, n_resamples=1)
    with pytest.raises(ConfigError, match=r"level=95: accepted is a probability in \(0, 1\)"):
        bootstrap(chinchilla_fit, level=95)
