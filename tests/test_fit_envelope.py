"""sweep/fit/envelope.py: Approach 1 on synthetic training curves drawn from a known Chinchilla
law, edge points, no extrapolation past a run's end, bad curves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.envelope import fit_envelope
from sweep.fit.curve_reader import read_curves
from sweep.fit.curves import Curve, Curves
from tests.test_fit_isoflop import ALPHA, BETA, chinchilla
from tests.test_fit_table import write_run


def law_curve(n, tokens_per_param=400, points=60):
    """A run of N parameters: the law's loss at each of its logged token counts."""
    tokens_S = np.logspace(np.log10(0.5 * n), np.log10(tokens_per_param * n), points)
    return Curve(f"N{n:.3g}", float(n), tokens_S, 6 * n * tokens_S, chinchilla(n, tokens_S))


def test_recovers_the_exponent_roughly():
    """14 sizes 1.56x apart, each trained far past its optimum so the envelope is not cut short;
    N_opt(C) is a staircase over the sampled sizes, hence the tolerance of 0.03 on a = 0.452."""
    fit = fit_envelope(Curves([law_curve(n) for n in np.logspace(7, 9.5, 14)], "train_loss"))
    assert fit.a == pytest.approx(BETA / (ALPHA + BETA), abs=0.03)
    assert fit.b == pytest.approx(ALPHA / (ALPHA + BETA), abs=0.03)
    used = [p for p in fit.points if not p.at_edge]
    assert len(used) >= 10 and fit.to_dict()["points_used"] == len(used)
    json.dumps(fit.to_dict())


def test_points_won_by_the_smallest_or_largest_model_are_reported_not_fitted():
    sizes = np.logspace(7, 9.5, 14)
    fit = fit_envelope(Curves([law_curve(n) for n in sizes], "train_loss"))
    edge = [p for p in fit.points if p.at_edge]
    assert {p.n_opt for p in edge} == {sizes[0], sizes[-1]}
    assert fit.points[0].at_edge and fit.points[-1].at_edge  # smallest at small C, largest at the top


def test_a_run_counts_only_within_its_own_flops():
    """A small run that ended at C = 100 with the lowest loss does not win at C > 100."""
    flops_S = np.array([10.0, 100.0])
    short = Curve("short", 1.0, flops_S / 6, flops_S, np.array([1.0, 0.5]))
    middle = Curve("middle", 2.0, np.array([10.0, 1000.0]) / 12, np.array([10.0, 1000.0]), np.array([3.0, 1.0]))
    large = Curve("large", 3.0, np.array([10.0, 1000.0]) / 18, np.array([10.0, 1000.0]), np.array([4.0, 2.0]))
    extra = Curve("middle2", 2.5, np.array([10.0, 1000.0]) / 15, np.array([10.0, 1000.0]), np.array([3.5, 0.9]))
    fit = fit_envelope(Curves([short, middle, large, extra], "eval_loss"), n_points=5)  # C = 10^(1, 1.5, ..., 3)
    assert [p.run for p in fit.points] == ["short", "short", "short", "middle", "middle2"]
    assert fit.points[3].loss == pytest.approx(1.5)  # 3/4 of the way in log C from 3.0 to 1.0
    assert [p.at_edge for p in fit.points] == [True, True, True, False, False]


def test_too_few_sizes_and_bad_curves_are_errors():
    with pytest.raises(ConfigError, match="at least 3 model sizes; the curves hold 2"):
        fit_envelope(Curves([law_curve(1e7), law_curve(1e8), law_curve(1e8, 20)], "train_loss"))
    bad = law_curve(2e7)
    bad.loss_S[3] = np.nan
    with pytest.raises(ConfigError, match=r"run 'N2e\+07': loss = nan at point 3"):
        fit_envelope(Curves([law_curve(1e7), bad, law_curve(1e8)], "train_loss"))
    with pytest.raises(ConfigError, match="picks fewer than 2 model sizes other than the smallest and largest"):
        fit_envelope(Curves([law_curve(n, tokens_per_param=20) for n in (1e7, 1e8, 1e9)], "train_loss"))


def test_a_sweep_folder_end_to_end(tmp_path):
    for n in np.logspace(7, 9, 6):
        curve = law_curve(n, points=20)
        records = [{"step": s + 1, "tokens": float(t), "flops": float(f), "train_loss": float(loss)}
                   for s, (t, f, loss) in enumerate(zip(curve.tokens_S, curve.flops_S, curve.loss_S))]
        write_run(tmp_path, curve.name, "complete", float(n), records, loss=float(curve.loss_S[-1]))
    write_run(tmp_path, "diverged", "diverged", 1e8, [{"step": 1, "tokens": 1.0, "train_loss": 9.0}])
    fit = fit_envelope(read_curves(tmp_path))
    assert fit.loss_key == "train_loss" and fit.curves == 6 and fit.excluded_runs == {"diverged": 1}
    assert 0.3 < fit.a < 0.6
