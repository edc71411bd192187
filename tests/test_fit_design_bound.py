"""sweep/fit/design_bound.py: the expected held-out error of a design of a table's cells, linearised
at a law, and the search for the lowest one within a compute. The table: 8 sizes 1e6 .. 3e8 x 5
token budgets (5 .. 80 per parameter) of the known law (tests/known_law_tables.py), the largest
size held out, as the replay holds it out. No fitting here: every test is instant."""

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.design_bound import DesignBound, log_loss_jacobian, smallest_share_within
from tests.known_law_tables import TRUE_LAW

SIZES = np.geomspace(1e6, 3e8, 8)
RATIOS = (5, 10, 20, 40, 80)
N_G = np.repeat(SIZES, len(RATIOS))
T_G = N_G * np.tile(RATIOS, len(SIZES))
COST_G = 6 * N_G * T_G
HELDOUT_G = N_G == SIZES[-1]
POOL = [int(g) for g in np.flatnonzero(~HELDOUT_G)]
SEED_DESIGN = [g for g in POOL if N_G[g] <= SIZES[2] and RATIOS.index(round(T_G[g] / N_G[g])) <= 1]  # 3 x 2, cheapest
THETA = np.array([np.log(TRUE_LAW.A), np.log(TRUE_LAW.B), np.log(TRUE_LAW.E), TRUE_LAW.alpha, TRUE_LAW.beta])


@pytest.fixture(scope="module")
def bound():
    return DesignBound.at("chinchilla", THETA, N_G, T_G, HELDOUT_G)


def test_the_jacobian_is_the_log_loss_derivative_in_the_fitting_parameters():
    law = TRUE_LAW
    a, b = law.A * N_G ** -law.alpha, law.B * T_G ** -law.beta
    loss = law.E + a + b
    d_GxP = np.stack([a, b, np.full_like(N_G, law.E), -a * np.log(N_G), -b * np.log(T_G)], axis=1)  # d L / d theta
    analytic_GxP = d_GxP / loss[:, None]
    np.testing.assert_allclose(log_loss_jacobian("chinchilla", THETA, N_G, T_G), analytic_GxP, rtol=1e-6, atol=1e-9)


def test_a_design_with_fewer_cells_than_parameters_cannot_fit(bound):
    assert bound.expected_error(POOL[:4]) == np.inf
    assert np.isfinite(bound.expected_error(SEED_DESIGN))


def test_another_run_never_raises_the_expected_error(bound):
    chosen = list(SEED_DESIGN)
    for g in [p for p in POOL if p not in SEED_DESIGN]:
        before = bound.expected_error(chosen)
        chosen.append(g)
        assert bound.expected_error(chosen) <= before * (1 + 1e-9)


def test_the_best_design_holds_the_required_cells_and_keeps_within_the_budget(bound):
    pool_flops = COST_G[POOL].sum()
    rng = np.random.default_rng(0)
    for share in (0.02, 0.1, 0.3):
        chosen, err = bound.best(COST_G, POOL, SEED_DESIGN, share * pool_flops, rng)
        assert set(SEED_DESIGN) <= set(chosen) <= set(POOL)
        assert COST_G[chosen].sum() <= share * pool_flops * (1 + 1e-9)
        assert err == pytest.approx(bound.expected_error(chosen))


def test_the_best_design_is_never_worse_than_a_start_it_is_given(bound):
    pool_flops = COST_G[POOL].sum()
    bottom_up = [g for g in sorted(POOL, key=lambda g: (N_G[g], T_G[g])) if COST_G[g] < 0.01 * pool_flops]
    budget = COST_G[bottom_up + SEED_DESIGN].sum()
    _, err = bound.best(COST_G, POOL, SEED_DESIGN, budget, np.random.default_rng(0), restarts=0,
                        starts=[sorted(set(bottom_up + SEED_DESIGN))])
    assert err <= bound.expected_error(sorted(set(bottom_up + SEED_DESIGN)))


def test_a_design_lacking_large_sizes_is_sharpened_most_by_a_large_one(bound):
    """Given the small sizes, the one cell that lowers the extrapolation error most is of the
    largest sizes in the pool: the held-out run is larger still."""
    small = [g for g in POOL if N_G[g] <= SIZES[3]]
    errors = {g: bound.expected_error(small + [g]) for g in POOL if g not in small}
    assert N_G[min(errors, key=errors.get)] == SIZES[-2]


def test_the_whole_pool_is_the_best_design_of_the_whole_compute_and_the_bound_falls_with_compute(bound):
    pool_flops = COST_G[POOL].sum()
    rng = np.random.default_rng(0)
    full = bound.expected_error(POOL)
    errors = [bound.best(COST_G, POOL, SEED_DESIGN, s * pool_flops, rng)[1] for s in (0.02, 0.1, 0.3, 0.6, 1.0)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] == pytest.approx(full)
    assert errors[2] > 1.1 * full  # on this table no design of 30% of the compute expects the whole pool's error


def test_the_smallest_share_within_tolerance_is_a_step_and_grows_as_the_tolerance_shrinks(bound):
    rng = np.random.default_rng(0)
    loose = smallest_share_within(bound, COST_G, POOL, SEED_DESIGN, rng, tolerance=0.5)
    tight = smallest_share_within(bound, COST_G, POOL, SEED_DESIGN, rng, tolerance=0.1)
    assert 0 < loose <= tight <= 1.0
    assert round(tight / 0.05) * 0.05 == pytest.approx(tight)
    assert smallest_share_within(bound, COST_G, POOL, SEED_DESIGN, rng, tolerance=0.0) == 1.0


def test_a_law_with_non_finite_derivatives_is_one_clear_error():
    with pytest.raises(ConfigError, match="not finite"):
        DesignBound.at("chinchilla", np.array([np.log(400), np.log(410), np.log(1.7), np.nan, 0.28]), N_G, T_G,
                       HELDOUT_G)
