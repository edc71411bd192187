"""sweep/fit/lbfgs.py: batched L-BFGS on problems with known minima, each problem on its own."""

import warnings

import numpy as np
import pytest

from sweep.fit.lbfgs import History, minimize


def quadratics(conditions, p=6, seed=0):
    """One quadratic 0.5 (x - c)' H (x - c) per condition number, and its objective."""
    rng = np.random.default_rng(seed)
    h_SxPxP, c_SxP = [], []
    for cond in conditions:
        q, _ = np.linalg.qr(rng.normal(size=(p, p)))
        h_SxPxP.append(q @ np.diag(np.logspace(0, np.log10(cond), p)) @ q.T)
        c_SxP.append(rng.normal(size=p))
    h_SxPxP, c_SxP = np.array(h_SxPxP), np.array(c_SxP)

    def fun(x_KxP, idx_K):
        r_KxP = x_KxP - c_SxP[idx_K]
        hr_KxP = np.einsum("kij,kj->ki", h_SxPxP[idx_K], r_KxP)
        return 0.5 * np.einsum("ki,ki->k", r_KxP, hr_KxP), hr_KxP

    return fun, c_SxP


def rosenbrock(a_S, b_S):
    """(a - x)^2 + b (y - x^2)^2 per problem: minimum at (a, a^2)."""

    def fun(x_Kx2, idx_K):
        a, b = a_S[idx_K], b_S[idx_K]
        x, y = x_Kx2[:, 0], x_Kx2[:, 1]
        f = (a - x) ** 2 + b * (y - x**2) ** 2
        g = np.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)], axis=1)
        return f, g

    return fun


def test_batched_quadratics_of_any_condition_reach_their_minima():
    conditions = [1, 10, 1e3, 1e5, 1e6]
    fun, c_SxP = quadratics(conditions)
    result = minimize(fun, np.zeros_like(c_SxP))
    assert result.converged_S.all()
    assert set(result.reason_S) <= {"gtol", "ftol"}
    np.testing.assert_allclose(result.x_SxP, c_SxP, atol=1e-6)
    assert result.n_iter_S[0] <= 3  # a round quadratic needs one or two steps
    assert result.n_iter_S[-1] > result.n_iter_S[0]  # the ill-conditioned ones need more


def test_rosenbrock_from_several_starts():
    starts_Sx2 = np.array([[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0], [-3.0, 5.0]])
    fun = rosenbrock(np.ones(4), np.full(4, 100.0))
    result = minimize(fun, starts_Sx2)
    assert result.converged_S.all()
    np.testing.assert_allclose(result.x_SxP, 1.0, atol=1e-6)
    assert np.all(result.f_S < 1e-12)


def test_problems_in_a_batch_do_not_influence_each_other():
    a_S = np.array([1.0, -0.5, 2.0, 0.3])
    b_S = np.array([100.0, 5.0, 50.0, 1.0])
    starts_Sx2 = np.array([[-1.2, 1.0], [2.0, -1.0], [0.0, 0.0], [3.0, 3.0]])
    batch = minimize(rosenbrock(a_S, b_S), starts_Sx2)
    for s in range(4):
        alone = minimize(rosenbrock(a_S[[s]], b_S[[s]]), starts_Sx2[[s]])
        assert alone.n_iter_S[0] == batch.n_iter_S[s]
        np.testing.assert_allclose(alone.x_SxP[0], batch.x_SxP[s], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(batch.x_SxP, np.stack([a_S, a_S**2], axis=1), atol=1e-6)


def test_max_iter_is_reported_as_not_converged():
    result = minimize(rosenbrock(np.ones(1), np.full(1, 100.0)), np.array([[-1.2, 1.0]]),
                      max_iter=3)
    assert result.n_iter_S.tolist() == [3]
    assert result.reason_S.tolist() == ["max_iter"]
    assert not result.converged_S[0]


def test_a_wrong_gradient_ends_in_a_failed_line_search():
    def uphill(x_KxP, idx_K):  # the gradient's sign is wrong: no step decreases f
        return 0.5 * np.sum(x_KxP**2, axis=1), -x_KxP

    result = minimize(uphill, np.array([[1.0, 2.0], [0.0, 0.0]]))
    assert result.reason_S.tolist() == ["line_search", "gtol"]
    assert result.converged_S.tolist() == [False, True]


def test_a_start_where_the_objective_is_not_finite_is_refused():
    def log_barrier(x_KxP, idx_K):
        with np.errstate(invalid="ignore"):
            return -np.log(x_KxP[:, 0]), -1 / x_KxP

    with pytest.raises(ValueError, match="not finite at the starting points"):
        minimize(log_barrier, np.array([[1.0], [-1.0]]))


def test_each_iteration_reports_the_problems_stopped_and_changes_nothing():
    conditions = [1, 10, 1e3, 1e5, 1e6]
    fun, c_SxP = quadratics(conditions)
    stopped = []
    watched = minimize(fun, np.zeros_like(c_SxP), on_iteration=stopped.append)
    quiet = minimize(fun, np.zeros_like(c_SxP))
    np.testing.assert_array_equal(watched.x_SxP, quiet.x_SxP)
    assert stopped == sorted(stopped) and stopped[-1] == len(conditions)
    assert len(stopped) == quiet.n_iter_S.max() + 1  # one per iteration, and the end


def test_a_pair_whose_y_dot_y_underflows_is_skipped_without_a_warning():
    """y = 1e-170: y.y underflows to 0 while s.y = 1e-170 > 0. The pair's scale s.y / y.y would be inf
    (the next direction inf or nan: the problem stopped by its line search), and numpy warned 'divide by
    zero' with the source line in `sweep experiment otr`'s output. It is skipped as a non-positive
    curvature is (rho 0, the scale unchanged); the other problem's pair is kept."""
    history = History.empty(m=2, p=1, k=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history.push(0, np.array([[1.0, 1.0]]), np.array([[1e-170, 2.0]]))
        direction = history.direction(np.array([[1.0, 1.0]]), 1)
    np.testing.assert_array_equal(history.rho_MxW[0], [0.0, 0.5])
    np.testing.assert_array_equal(history.gamma_W, [1.0, 0.5])
    assert np.all(np.isfinite(direction))
