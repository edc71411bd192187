"""sweep/fit/isoflop.py: Approach 2 recovers the compute-optimal exponents of a known Chinchilla
law, reports and excludes budgets without a usable minimum, and refuses designs it cannot fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.isoflop import fit_isoflop, fit_power_law, group_budgets
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
    with pytest.raises(ConfigError, match="needs an IsoFLOP design"):
        fit_isoflop(table_of(points))


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
