"""sweep/fit/defaults.py: the fits' defaults have one home, conf/fit.yaml."""

import dataclasses

import numpy as np
import pytest

from sweep.fit import isoflop
from sweep.errors import ConfigError
from sweep.fit.defaults import FitDefaults, fit_defaults


def test_conf_fit_yaml_holds_every_default_the_readme_names():
    assert fit_defaults() == FitDefaults(bootstrap=200, bootstrap_method="case", seed=0, level=0.95, budget_tolerance=0.1, band=0.0025,
                                         neighbours=2, isoflop_neighbours=3, isoflop_min_span=1.0, min_log_spread=0.1,
                                         resample_e_fractions=(0.0001, 0.3, 0.6, 0.9),
                                         resample_exponents=(0.15, 0.4, 1.0), e_floor_fraction=0.001,
                                         exponent_floor=0.02, exponent_ceiling=3.0, log_coefficient_max=50,
                                         max_orders=2, compute_extrapolation=3.0,
                                         subscaling_min_r_spread=0.05, min_converged_fraction=0.9, suggest_count=4,
                                         suggest_noise_floor=0.003, suggest_max_extrapolation=1e6,
                                         suggest_max_widths=10, suggest_max_ratios=10, suggest_max_candidates=5000,
                                         suggest_cost_exponent=0.4, suggest_expect_draws=3, replay_growth=1.0,
                                         replay_holdout=1, replay_resamples=60, collapse_min_band=0.01,
                                         max_resamples=10000)


def test_an_argument_left_at_none_takes_the_value_of_conf_fit_yaml(monkeypatch):
    flops_R = np.array([1.0, 1.3, 2.0])
    assert isoflop.group_budgets(flops_R)[1].tolist() == [0, 1, 2]  # 10%: three budgets
    wider = dataclasses.replace(fit_defaults(), budget_tolerance=0.5)
    monkeypatch.setattr(isoflop, "fit_defaults", lambda: wider)
    assert isoflop.group_budgets(flops_R)[1].tolist() == [0, 0, 1]
    assert isoflop.group_budgets(flops_R, rel_tol=0.1)[1].tolist() == [0, 1, 2]  # an explicit value wins


def test_a_bootstrap_left_at_none_takes_resamples_level_and_seed_from_conf_fit_yaml():
    defaults = fit_defaults()
    assert defaults.resolve_bootstrap(None, None, None) == (200, 0.95, 0)
    assert defaults.resolve_bootstrap(20, 0.5, 7) == (20, 0.5, 7)  # explicit values win


@pytest.mark.parametrize("n_resamples", [0, 10001, 10**9, 2.5, True, "20"])
def test_a_resample_count_past_max_resamples_or_not_whole_is_one_error_naming_the_range(n_resamples):
    """Was: 1e9 resamples accepted, then numpy's 67 GiB allocation traceback after the fits."""
    with pytest.raises(ConfigError, match=rf"^--bootstrap {n_resamples!r}: accepted is a whole number >= 1, at "
                                          r"most 10000 \(conf/fit.yaml max_resamples"):
        fit_defaults().check_resamples(n_resamples, "--bootstrap", 1)
    fit_defaults().check_resamples(10000, "--bootstrap", 1)
    fit_defaults().check_resamples(np.int64(1), "early_stop.resamples", 1)
