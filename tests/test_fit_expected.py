"""sweep/fit/expected.py: the intervals of L*(C) and N_opt(C) expected after proposed runs, read from the
table refitted with the runs added at the law's loss and its scatter. Informative runs narrow both
intervals; the scatter assumed for them counts (the larger it is, the less they narrow); the answer is
the same for a seed; a refit that fails leaves no number; a bad draws setting is one ConfigError."""

import math

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit import design, expected
from sweep.fit.expected import interval_width, refit_width_ratio, shrunk_interval, target_intervals
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import fit_law
from tests.known_law_tables import law_table

SIZES = np.geomspace(1e7, 1e8, 4)
TARGET_COMPUTE = 1e21  # N_opt ~ 3e9: 30x the largest run
LARGE_N = np.array([1e9, 2e9])  # two runs an order of magnitude past the table's largest, at 20 tokens per param
RESAMPLES = 20


@pytest.fixture(scope="module")
def fitted():
    table = law_table(SIZES, (5, 20, 80))
    fit = fit_law("chinchilla", table.n_params_R, table.tokens_R, table.loss_R, show_progress=False)
    laws = bootstrap(fit, n_resamples=RESAMPLES, seed=0, level=0.95, show_progress=False).laws()
    now = target_intervals(fit, design.target_samples(laws, TARGET_COMPUTE), TARGET_COMPUTE, design.TARGETS, 0.95)
    return table, fit, now


def ratio_after(fitted, n_params_K, noise_var=1e-4, draws=2):
    table, fit, now = fitted
    return refit_width_ratio("chinchilla", table.n_params_R, table.tokens_R, table.loss_R, fit, now, n_params_K,
                             20 * n_params_K, noise_var, target_compute=TARGET_COMPUTE, resamples=RESAMPLES,
                             seed=0, level=0.95, draws=draws)


def test_the_interval_now_holds_the_fit_s_value(fitted):
    _, fit, now = fitted
    point, _ = design.optimum_at(fit.law, TARGET_COMPUTE)
    value, lo, hi = now["loss"]
    assert value == point and lo < value < hi
    value, lo, hi = now["n_opt"]
    assert lo < value < hi


def test_runs_far_past_the_table_are_expected_to_narrow_both_intervals(fitted):
    ratio = ratio_after(fitted, LARGE_N)
    assert set(ratio) == {"loss", "n_opt"}
    assert 0 < ratio["loss"] < 0.9 and 0 < ratio["n_opt"] < 0.9


def test_the_more_the_added_runs_scatter_the_less_they_are_expected_to_narrow(fitted):
    sure, loose = ratio_after(fitted, LARGE_N, noise_var=1e-4), ratio_after(fitted, LARGE_N, noise_var=0.05 ** 2)
    assert loose["loss"] > sure["loss"]


def test_the_same_seed_gives_the_same_expectation(fitted):
    assert ratio_after(fitted, LARGE_N) == ratio_after(fitted, LARGE_N)


def test_a_refit_that_fails_leaves_no_number(fitted, monkeypatch):
    def failing(*args, **kwargs):
        raise ConfigError("too few points")

    monkeypatch.setattr(expected, "fit_law", failing)
    assert all(math.isnan(r) for r in ratio_after(fitted, LARGE_N).values())


@pytest.mark.parametrize("draws", [0, -1, 1.5, True])
def test_draws_must_be_a_whole_number_of_refits(fitted, draws):
    with pytest.raises(ConfigError, match=rf"suggest_expect_draws {draws!r} \(conf/fit.yaml\): accepted is a whole "
                                          "number >= 1"):
        ratio_after(fitted, LARGE_N, draws=draws)


def test_widths_are_l_star_s_relative_and_n_opt_s_in_log():
    assert interval_width("loss", 2.0, 1.8, 2.4) == pytest.approx(0.3)
    assert interval_width("n_opt", 1e9, 1e8, 1e10) == pytest.approx(math.log(100))
    assert math.isnan(interval_width("loss", 2.0, float("nan"), 2.4))
    assert math.isnan(interval_width("n_opt", 1e9, 0.0, 1e10))


def test_an_interval_is_shrunk_about_its_point_in_log_for_n_opt():
    assert shrunk_interval(2.0, 1.8, 2.4, 0.5, log_scale=False) == pytest.approx((1.9, 2.2))
    assert shrunk_interval(1e9, 1e8, 1e10, 0.5, log_scale=True) == pytest.approx((10 ** 8.5, 10 ** 9.5))
    assert shrunk_interval(2.0, float("nan"), 2.4, 0.5, log_scale=False)[1] == 2.4  # no interval: as it was
    assert shrunk_interval(2.0, 1.8, 2.4, float("nan"), log_scale=False) == (1.8, 2.4)  # no ratio: as it was
