"""sweep/fit/findings/ucurves.py: the U-curve findings on tables built from known U-curves (a
parabola of the loss in ln lr or ln batch size around a chosen optimum): each verdict comes out
each way (held / did not hold / cannot tell), a finding is absent when its runs are, the optimum's
interval covers the true vertex, and a run without an eval standard error counts with the
fallback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.figure import Figure

from sweep.fit.defaults import fit_defaults
from sweep.fit.findings import ucurves as ucurves_module
from sweep.fit.findings.ucurves import (EDGE, FLAT, U, assess_batch_ucurve, assess_batch_vs_loss,
                                        assess_lr_ucurve, ucurves)
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD, VERDICTS
from sweep.fit.hyperparams import find_optima
from sweep.fit.noise import FALLBACK_RELATIVE_STDERR
from sweep.fit.table import RunsTable

LRS = np.geomspace(1e-3, 3e-2, 6)
BATCHES = np.array([32.0, 64, 128, 256, 512, 1024])
STDERR = 1e-3
FAST = dict(resamples=50, seed=0)


def u_losses(values, opt, base=3.0, curvature=0.05):
    """A noiseless U: base + curvature (ln value - ln opt)^2."""
    return base + curvature * np.log(np.asarray(values) / opt) ** 2


def make_table(cells, param="lr", stderr=STDERR):
    """cells: (N, values, losses) each, trained on 20 N tokens; the other hyperparameter fixed.
    stderr None: no loss_stderr column."""
    n_R = np.concatenate([np.full(len(v), n, dtype=float) for n, v, _ in cells])
    value_R = np.concatenate([np.asarray(v, dtype=float) for _, v, _ in cells])
    loss_R = np.concatenate([np.asarray(loss, dtype=float) for _, _, loss in cells])
    other_R = np.full(len(n_R), 1e-3 if param == "batch_size" else 64.0)
    columns = {"lr_R": value_R, "batch_size_R": other_R} if param == "lr" else {"lr_R": other_R,
                                                                                "batch_size_R": value_R}
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, 20 * n_R, loss_R, 120 * n_R**2,
                     loss_stderr_R=None if stderr is None else np.full(len(n_R), stderr), source="test", **columns)


def lr_cells(opts, base=3.0):
    return [(n, LRS, u_losses(LRS, opt, base)) for n, opt in opts]


# --- lr_ucurve --------------------------------------------------------------------------------

def test_lr_ucurve_holds_when_every_size_is_a_u_and_the_optimum_moves():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2), (1e8, 3e-3)])), **FAST)
    assert finding.name == "lr_ucurve" and finding.verdict == HELD
    assert "moves with size" in finding.because and "N=1e+07" in finding.because
    assert [row[-1] for row in finding.rows] == [U, U]
    assert "Z = 2" in finding.rule and "4x" in finding.rule


def test_lr_ucurve_did_not_hold_where_the_loss_is_flat_in_lr():
    flat = (1e8, LRS, 3.0 + 1e-4 * (np.arange(len(LRS)) % 2))  # within noise over 30x
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2)]) + [flat]), **FAST)
    assert finding.verdict == NOT_HELD
    assert "N=1e+08" in finding.because and "does not depend on the learning rate" in finding.because
    assert [row[-1] for row in finding.rows] == [U, FLAT]


def test_lr_ucurve_cannot_tell_from_one_size():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2)])), **FAST)
    assert finding.verdict == CANNOT_TELL and "one model size only" in finding.because


def test_lr_ucurve_cannot_tell_when_the_grid_does_not_bracket_the_optimum():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2), (1e8, 1e-1)])), **FAST)
    assert finding.verdict == CANNOT_TELL
    assert "does not bracket the optimum at N=1e+08" in finding.because and "extend lr above 0.03" in finding.because
    assert finding.rows[1][-1] == f"{EDGE} (open above)"
    edge = max(finding.details["cells"], key=lambda c: c["n_params"])
    low, high = edge["optimum_interval"]
    assert edge["optimum"] == pytest.approx(LRS[-1]) and low <= edge["optimum"] and high is None
    assert edge["optimum_interval_open"] == "above"
    assert "(at the grid's end: the optimum may lie beyond)" in finding.rows[1][4]


def test_an_edge_cell_s_interval_is_open_beyond_the_grid_not_of_zero_width():
    """misfit.csv's report printed '0.004 [0.004, 0.004] (at the grid's end: the optimum may lie beyond)' for 15
    cells: a 95% interval of no width beside 'may lie beyond'. The side the grid leaves open is open."""
    lrs = np.array([1e-3, 2e-3, 4e-3])
    table = make_table([(7.68e7, lrs, [4.7698, 4.5198, 4.4432])], stderr=None)
    (curve,) = ucurves(table, "lr", **FAST)
    assert curve.shape == EDGE and curve.open_side == "above"
    assert curve.interval == (0.004, np.inf) and curve.interval_open == "above"
    row = curve.row()[4]
    assert row.startswith("0.004 [>= 0.004]") and "[0.004, 0.004]" not in row
    assert curve.to_dict()["optimum_interval"] == [0.004, None]
    flat = make_table([(1e8, LRS, 3.0 + 1e-4 * (np.arange(len(LRS)) % 2))])
    (curve,) = ucurves(flat, "lr", **FAST)
    assert curve.shape == FLAT and curve.interval_open == "both" and curve.row()[4].startswith("0.001 [-]")


def test_redraws_that_lose_a_bracket_open_the_interval_on_that_side():
    """misfit.csv's 1.18B cell (lr 0.0004, 0.001, 0.004; losses 2.7044, 2.6851, 2.9692; no stderr: 0.2% each):
    29% of redraws lose the lower bracket and were recorded at 0.001, the interval's top, so the interval read
    [0.000693, 0.001], mixing the vertex with the best sampled value. More than 2.5% open below: open below."""
    (curve,) = ucurves(make_table([(1.18e9, [4e-4, 1e-3, 4e-3], [2.7044, 2.6851, 2.9692])], stderr=None), "lr",
                       resamples=2000, seed=0)
    assert curve.shape == U and curve.is_vertex and curve.opt_value == pytest.approx(7.042e-4, rel=1e-3)
    assert curve.interval_open == "below" and curve.interval[1] >= curve.opt_value
    assert curve.row()[4].startswith("0.000704") and "[<= " in curve.row()[4]
    (steep,) = ucurves(make_table(lr_cells([(1e7, 5e-3)])), "lr", **FAST)  # no redraw loses a bracket: closed
    assert steep.interval_open is None and steep.interval[0] < 5e-3 < steep.interval[1]


def table_of_cells(cells, stderr=None):
    """cells: (N, tokens, lrs, losses) each; no loss_stderr column (stderr None)."""
    n_R = np.concatenate([np.full(len(v), n, dtype=float) for n, _, v, _ in cells])
    t_R = np.concatenate([np.full(len(v), t, dtype=float) for _, t, v, _ in cells])
    lr_R = np.concatenate([np.asarray(v, dtype=float) for _, _, v, _ in cells])
    loss_R = np.concatenate([np.asarray(loss, dtype=float) for _, _, _, loss in cells])
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, t_R, loss_R, 6 * n_R * t_R, lr_R=lr_R,
                     batch_size_R=np.full(len(n_R), 64.0),
                     loss_stderr_R=None if stderr is None else np.full(len(n_R), stderr), source="test")


def test_a_flat_cell_resting_on_copied_losses_cannot_decide_lr_ucurve():
    """misfit.csv: the only FLAT cell (62M, 1.57B tokens) held lr 0.002 and 0.004 at one copied loss 3.83661234,
    and lr_ucurve read 'did not hold' off it, the same sentence calling its losses copies."""
    u = (1e7, 2e8, [1e-3, 3e-3, 1e-2], [3.1201234, 3.0001234, 3.1301234])
    copied = (6.2e7, 1.57e9, [2e-3, 4e-3, 8e-3], [3.83661234, 3.83661234, 3.84411234])
    finding = assess_lr_ucurve(table_of_cells([u, copied]), **FAST)
    assert finding.verdict == CANNOT_TELL
    assert "2 of its 3 losses are copies of another run's" in finding.because
    assert "cannot decide the claim" in finding.because
    measured = (1e8, 2e9, [1e-3, 2e-3, 4e-3], [3.50012, 3.50034, 3.50056])
    finding = assess_lr_ucurve(table_of_cells([u, copied, measured]), **FAST)
    assert finding.verdict == NOT_HELD and "N=1e+08" in finding.because
    assert "(1 FLAT cell(s) resting on copied losses left out)" in finding.because


def test_lr_ucurve_quotes_the_flat_cell_nearest_chinchilla_s_twenty_tokens_per_parameter():
    """oellm's table: 'did not hold' quoted a cell at 126 tokens per parameter, while the claim is about
    Chinchilla-optimal training and a FLAT cell at 20 existed."""
    flat = [1e-3, 2e-3, 4e-3]
    far = (4.76e7, 6e9, flat, [3.50012, 3.50034, 3.50056])  # 126 tokens per parameter, first in the table
    near = (5.88e8, 1.2e10, flat, [3.10012, 3.10034, 3.10056])  # 20
    finding = assess_lr_ucurve(table_of_cells([far, near]), **FAST)
    assert finding.verdict == NOT_HELD
    assert finding.because.startswith("at N=5.88e+08, T=1.2e+10 (20.4 tokens per parameter) every learning rate")
    assert "(1 more FLAT cell(s) in the table)" in finding.because


def test_a_flat_verdict_says_when_the_noise_was_assumed():
    """The verdict's "within noise" rested on an assumed 0.2% per run (no stderr in the table), unsaid."""
    flat = (1e8, 2e9, [1e-3, 2e-3, 4e-3], [3.50012, 3.50034, 3.50056])
    because = assess_lr_ucurve(table_of_cells([flat]), **FAST).because
    assert "(loss 3.5001 +- 0.007; Z = 2 combined standard errors, each assumed 0.2% of the run's loss: none" in because
    because = assess_lr_ucurve(table_of_cells([flat], stderr=1e-3), **FAST).because
    assert "(loss 3.5001 +- 0.001; Z = 2 combined standard errors)" in because


def test_a_best_value_at_the_grid_s_end_stands_inside_its_own_interval():
    """The vertex of a U whose optimum (0.025) lies between the grid's last two values (best: 0.03, the
    end): the estimate is the end, as hyperparams clips it, and the redraws were not (0.01 [0.0062,
    0.0066] in a real sweep's report)."""
    (curve,) = ucurves(make_table([(1e8, LRS, u_losses(LRS, 0.025))]), "lr", **FAST)
    low, high = curve.interval
    assert curve.opt_value == pytest.approx(LRS[-1]) and low <= curve.opt_value <= high


def test_the_findings_and_the_lr_law_give_one_verdict_on_a_grid_end_within_noise():
    """/work/audit_predict/es2's cell: lr 0.01, 0.03, 0.3, the best 0.03 and 0.3 only 1.5 standard
    errors above it. Was: the Findings said EDGE ("extend lr above 0.3") while section 5 (find_optima)
    said 'vertex' at 0.0896, a parabola whose vertex lay 2.1% below every measured loss."""
    table = RunsTable(("a", "b", "c"), np.full(3, 20480.0), np.full(3, 102400.0),
                      np.array([3.8211, 3.5969, 3.6131]), np.full(3, 1.258e10), lr_R=np.array([0.01, 0.03, 0.3]),
                      batch_size_R=np.full(3, 8.0), loss_stderr_R=np.array([0.0079, 0.0078, 0.0081]), source="es2")
    (cell,) = ucurves(table, "lr", **FAST)
    (group,) = find_optima(table, "lr").groups
    assert cell.shape == EDGE and cell.open_side == "above"
    assert group.status == cell.optimum.status == "clipped" and group.opt_value == cell.opt_value == 0.03
    assert "0.3 (loss 3.613) is within noise of the best 3.597 at 0.03" in group.note
    assert "not bracketed above; the parabola's vertex 0.08964, 2.1% below the best loss, is not taken" in group.note
    low, high = cell.interval
    assert low <= cell.opt_value <= high  # the redraws take the same rule
    apart = replace(table, loss_stderr_R=np.full(3, 0.002))  # the end 8 standard errors above: a U
    (cell,) = ucurves(apart, "lr", **FAST)
    assert cell.shape == U and find_optima(apart, "lr").groups[0].status == cell.optimum.status == "vertex"


def test_lr_ucurve_cannot_tell_when_the_optimum_intervals_overlap():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 5e-3), (1e8, 5e-3)])), **FAST)
    assert finding.verdict == CANNOT_TELL and "overlap" in finding.because


def test_lr_ucurve_is_absent_without_three_learning_rates_in_a_cell():
    two = [(1e7, LRS[:2], u_losses(LRS[:2], 1e-2)), (1e8, LRS[2:4], u_losses(LRS[2:4], 1e-2))]
    assert assess_lr_ucurve(make_table(two), **FAST) is None
    assert assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2)]), param="batch_size"), **FAST) is None


def test_the_interval_covers_the_true_vertex_of_a_noiseless_u():
    (curve,) = ucurves(make_table(lr_cells([(1e7, 5e-3)])), "lr", **FAST)
    assert curve.shape == U and curve.is_vertex
    assert curve.opt_value == pytest.approx(5e-3, rel=1e-6)
    lo, hi = curve.interval
    assert lo < 5e-3 < hi and hi / lo < 2


def test_the_intervals_are_at_conf_fit_yamls_level_and_say_it(monkeypatch):
    """Was: LEVEL = 0.95 in the module, so conf/fit.yaml's `level` changed otr's intervals but not these."""
    monkeypatch.setattr(ucurves_module, "fit_defaults", lambda: replace(fit_defaults(), level=0.5))
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2), (1e8, 3e-3)])), **FAST)
    assert finding.details["level"] == 0.5 and "optimum [50%]" in finding.header and "its 50% interval" in finding.rule
    (curve,) = ucurves(make_table(lr_cells([(1e7, 5e-3)])), "lr", **FAST)
    assert curve.interval == tuple(np.percentile(curve.opt_draws_K, [25, 75]))
    table = make_table(loss_cells(lambda loss: 100 * (loss / 3.0) ** -4), "batch_size")
    finding = assess_batch_vs_loss(table, **FAST)
    assert "50% redraw interval" in finding.because and "its 50% interval" in finding.rule
    assert finding.details["level"] == 0.5 and "optimum [50%]" in finding.header


def test_a_run_without_an_eval_stderr_counts_with_the_fallback():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2)]), stderr=None), **FAST)
    (cell,) = finding.details["cells"]
    assert cell["stderr_fallback"] == [True] * len(LRS)
    assert cell["stderrs"] == pytest.approx(FALLBACK_RELATIVE_STDERR * np.array(cell["losses"]))
    assert "(fallback)" in finding.rows[0][5]


def test_the_finding_draws_its_figure_and_says_its_numbers():
    finding = assess_lr_ucurve(make_table(lr_cells([(1e7, 1e-2), (1e8, 3e-3)])), **FAST)
    assert isinstance(finding.draw(), Figure)
    assert len(finding.header) == len(finding.rows[0])
    d = finding.to_dict()
    assert d["verdict"] in VERDICTS and d["details"]["resamples"] == 50 and len(d["details"]["cells"]) == 2
    assert finding.draw().axes[0].get_ylabel() == "final loss (nats/token)"  # a sweep's own losses
    fig = finding.draw()
    fig.canvas.draw()  # the legend beside the axes, off the curves (it covered a cell's points)
    (ax,) = fig.axes
    assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1
    from dataclasses import replace

    from sweep.fit.table import FILE_LOSS_UNIT
    published = replace(make_table(lr_cells([(1e7, 1e-2), (1e8, 3e-3)])), loss_unit=FILE_LOSS_UNIT)
    assert assess_lr_ucurve(published, **FAST).draw().axes[0].get_ylabel() == "final loss (the runs file's unit)"


# --- batch_ucurve -----------------------------------------------------------------------------

def batch_cells(opts):
    return [(n, BATCHES, u_losses(BATCHES, opt)) for n, opt in opts]


def test_batch_ucurve_holds_when_every_cell_is_a_u():
    finding = assess_batch_ucurve(make_table(batch_cells([(1e7, 100.0), (1e8, 300.0)]), "batch_size"), **FAST)
    assert finding.verdict == HELD and "U-shaped" in finding.because


def test_batch_ucurve_did_not_hold_where_the_smallest_batch_is_best_beyond_noise():
    finding = assess_batch_ucurve(make_table(batch_cells([(1e7, 100.0), (1e8, 8.0)]), "batch_size"), **FAST)
    assert finding.verdict == NOT_HELD
    assert "smallest batch 32 is the best" in finding.because and "N=1e+08" in finding.because
    assert "standard errors; Z = 2 combined standard errors): small batches" in finding.because
    assumed = assess_batch_ucurve(make_table(batch_cells([(1e7, 100.0), (1e8, 8.0)]), "batch_size", stderr=None), **FAST)
    assert "each assumed 0.2% of the run's loss: none in the table): small batches" in assumed.because


def test_batch_ucurve_cannot_tell_when_the_largest_batch_is_best():
    finding = assess_batch_ucurve(make_table(batch_cells([(1e7, 100.0), (1e8, 4096.0)]), "batch_size"), **FAST)
    assert finding.verdict == CANNOT_TELL and "extend batch size above 1024" in finding.because


def test_batch_ucurve_is_absent_without_a_batch_grid():
    assert assess_batch_ucurve(make_table(lr_cells([(1e7, 1e-2)])), **FAST) is None


# --- batch_vs_loss ----------------------------------------------------------------------------

def loss_cells(b_opt_of_loss, losses=(3.6, 3.3, 3.0, 2.7)):
    """One cell per loss level: a U in ln batch size around b_opt_of_loss(level)."""
    return [(1e7 * 3**k, BATCHES, u_losses(BATCHES, b_opt_of_loss(level), base=level))
            for k, level in enumerate(losses)]


def test_batch_vs_loss_holds_when_the_optimum_grows_as_the_loss_falls():
    table = make_table(loss_cells(lambda loss: 100 * (loss / 3.0) ** -4), "batch_size")
    finding = assess_batch_vs_loss(table, **FAST)
    assert finding.verdict == HELD and "grows as L falls" in finding.because
    fit = finding.details["fit"]
    assert fit["slope"] == pytest.approx(-4, abs=0.2) and fit["n_cells"] == 4
    assert fit["slope_stderr"] >= fit["slope_stderr_regression"]
    assert isinstance(finding.draw(), Figure)


def test_batch_vs_loss_did_not_hold_when_the_optimum_shrinks_as_the_loss_falls():
    table = make_table(loss_cells(lambda loss: 100 * (loss / 3.0) ** 4), "batch_size")
    assert assess_batch_vs_loss(table, **FAST).verdict == NOT_HELD


def test_batch_vs_loss_cannot_tell_when_the_slope_is_within_noise():
    table = make_table(loss_cells(lambda loss: 100.0), "batch_size")
    finding = assess_batch_vs_loss(table, **FAST)
    assert finding.verdict == CANNOT_TELL and "slope within noise" in finding.because


def test_batch_vs_loss_cannot_tell_from_two_cells_and_is_absent_with_one():
    two = make_table(loss_cells(lambda loss: 100 * (loss / 3.0) ** -4, losses=(3.3, 3.0)), "batch_size")
    finding = assess_batch_vs_loss(two, **FAST)
    assert finding.verdict == CANNOT_TELL and "fewer than 3 cells with an interior optimum" in finding.because
    one = make_table(loss_cells(lambda loss: 100.0, losses=(3.0,)), "batch_size")
    assert assess_batch_vs_loss(one, **FAST) is None


# --- the cells --------------------------------------------------------------------------------

def test_recipes_are_kept_apart_and_a_stopped_run_stands_with_its_prediction():
    table = make_table(lr_cells([(1e7, 1e-2), (1e7, 3e-3)]))
    recipes = ("a",) * len(LRS) + ("b",) * len(LRS)
    from dataclasses import replace

    table = replace(table, recipe=recipes)
    stopped = replace(make_table([(1e7, [0.1], [3.5])]), recipe=("a",), names=("stopped",),
                      predicted_R=np.ones(1, dtype=bool), interval_Rx2=np.array([[3.3, 3.7]]))
    curves = ucurves(replace(table, stopped=stopped), "lr", **FAST)
    assert [(c.recipe, len(c.value_X)) for c in curves] == [("a", len(LRS) + 1), ("b", len(LRS))]
    a = curves[0]
    assert a.predicted_X[-1] and a.stderr_X[-1] == pytest.approx(0.4 / (2 * 1.96), rel=1e-4)  # no level recorded: 95%
    assert a.opt_value == pytest.approx(1e-2, rel=0.05)
