"""sweep/fit/figures.py: each figure drawn onto the caller's axes (returning their figure) or a
fresh Figure of the report's size, without pyplot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sweep.errors import ConfigError
from sweep.fit.figures import (MAX_SERIES, NO_U_LABEL, PREDICTED_LABEL, draw_best_loss_by_recipe, draw_crossover, draw_isoflop,
                               draw_loss_vs_flops, draw_loss_vs_n, draw_loss_vs_tokens_by_corpus, draw_otr, draw_predicted_vs_actual,
                               draw_recipe_difference, draw_residuals, draw_ucurves, save)
from sweep.fit.hyperparams import find_optima
from sweep.fit.isoflop import fit_isoflop
from sweep.fit.table import from_frame, load_runs_table
from tests.test_fit_hyperparams import write_lr_sweep
from tests.test_fit_report import LAW_X, PNG_SIGNATURE, fabricated_predictions, isoflop_rows, make_table


@pytest.fixture(scope="module")
def table():
    """One recipe's IsoFLOP design drawn from LAW_X (4 budgets x 5 sizes x an lr / batch grid)."""
    return make_table([r for r in isoflop_rows() if r["recipe"] == "x"])


def test_a_figure_is_drawn_onto_the_axes_it_is_given(table):
    user = Figure()
    left, right = user.subplots(1, 2)
    assert draw_loss_vs_n(table, LAW_X, ax=left) is user
    assert draw_residuals(table, {"true law": LAW_X}, ax=right) is user
    assert "E = 1.7, alpha = 0.34" in left.get_title() and left.get_xscale() == "log"
    (points,) = right.collections
    assert len(points.get_offsets()) == len(table)  # one residual per run, the true law's: small
    assert np.abs(points.get_offsets()[:, 1]).max() < 5  # % (noise and the lr / batch grid's U-terms)
    assert len(user.axes) == 2  # nothing added beside the user's axes


def test_residuals_are_coloured_by_the_series_of_loss_vs_n_with_the_legend_beside_the_axes(table):
    """Every residual was one colour (loss_vs_n beside it: a colour per budget or T / N)."""
    by_n = draw_loss_vs_n(table, LAW_X).axes[0]
    series = {label: tuple(c.get_facecolor()[0][:3]) for c, label in zip(by_n.collections, by_n.get_legend_handles_labels()[1])}
    ax = draw_residuals(table, {"true law": LAW_X, "again": LAW_X}).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert [label for label in labels if label.startswith("C = ")] == list(series)  # the same groups, same order
    for label, line in zip(labels, ax.get_legend_handles_labels()[0]):
        if label in series:
            assert tuple(line.get_color()[:3]) == series[label]  # the same colour as there
    drawn = {tuple(c[:3]) for c in ax.collections[0].get_facecolors()}
    assert drawn == set(series.values())  # each run in its series' colour
    assert ax.get_xlabel() == "parameters N" and "log residual" in ax.get_ylabel()
    assert ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted()).x0 > 1  # beside the axes


def test_a_u_curve_cell_without_a_u_is_its_points_only_and_no_curve_dips_below_a_cell_s_best():
    """Two cells of 5 lrs: one a U, one a hump (its parabola opens downward: no_curvature), which
    was drawn as a parabola opening downward, reaching below the cell's best."""
    lr_X = np.array([1e-3, 3e-3, 1e-2, 3e-2, 1e-1])
    u_X = 3.0 + 0.03 * np.log(lr_X / 1e-2) ** 2
    hump_X = 3.5 + np.array([0.0, 0.015, 0.02, 0.015, 0.001])
    frame = pd.DataFrame({"n_params": [1e6] * 5 + [4e6] * 5, "tokens": [2e7] * 5 + [8e7] * 5,
                          "loss": np.r_[u_X, hump_X], "lr": np.r_[lr_X, lr_X]})
    runs = from_frame(frame)
    optima = find_optima(runs, "lr", by="cell")
    assert [g.status for g in optima.groups] == ["vertex", "no_curvature"]
    ax = draw_ucurves(runs, optima).axes[0]
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "-" and len(line.get_xdata()) > 5]
    assert len(curves) == 1  # the U's parabola alone
    star = min(line.get_ydata()[0] for line in ax.get_lines() if line.get_marker() == "*")
    assert np.nanmin(curves[0].get_ydata()) >= star - 1e-9  # not below its optimum
    (joined,) = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    np.testing.assert_allclose(joined.get_xdata(), lr_X)
    np.testing.assert_allclose(joined.get_ydata(), 100 * (hump_X / hump_X.min() - 1))
    assert [label for label in ax.get_legend_handles_labels()[1] if NO_U_LABEL in label] == [
        f"N = 4e+06, T = 8e+07 ({NO_U_LABEL})"]


def test_a_loss_axis_names_nats_per_token_only_for_losses_a_sweep_recorded(tmp_path):
    published = tmp_path / "published.csv"  # a runs file's own `loss` column: bits, nats, per byte, who knows
    published.write_text("loss,n_params,tokens\n3.1,1e6,2e7\n2.9,2e6,4e7\n")
    fig = draw_loss_vs_n(load_runs_table(published), LAW_X)
    assert fig.axes[0].get_ylabel() == "final loss (the runs file's unit)"
    swept = tmp_path / "status.csv"  # what `sweep status --csv` writes: final_eval_loss, in nats/token
    swept.write_text("final_eval_loss,n_params,tokens\n3.1,1e6,2e7\n2.9,2e6,4e7\n")
    assert draw_loss_vs_n(load_runs_table(swept), LAW_X).axes[0].get_ylabel() == "final loss (nats/token)"


def test_a_two_panel_figure_takes_a_pair_of_axes(table):
    iso = fit_isoflop(table)
    user = Figure()
    pair = user.subplots(1, 2)
    assert draw_isoflop(table, iso, axes=pair) is user
    assert pair[0].get_title() == "IsoFLOP profiles" and pair[1].get_title() == "Compute-optimal model size"
    with pytest.raises(ConfigError, match=r"draws 2 panels \(left, right\): give ax=\[left, right\]; given 1 Axes"):
        draw_isoflop(table, iso, axes=pair[0])


def test_isoflop_profiles_of_many_budgets_are_coloured_by_a_colour_bar_not_a_legend_entry_each(table):
    # a published table's runs scattered over N and T (no IsoFLOP design) fall into dozens of budgets
    rng = np.random.default_rng(0)
    n_R, t_R = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 240)), np.exp(rng.uniform(np.log(5e9), np.log(5e11), 240))
    scattered = from_frame(pd.DataFrame({"n_params": n_R, "tokens": t_R, "loss": 1.82 + 482 / n_R ** 0.35 + 2085 / t_R ** 0.37}))
    iso = fit_isoflop(scattered)
    assert len(iso.budgets) > MAX_SERIES
    fig = draw_isoflop(scattered, iso)
    assert not any(label.startswith("C = ") for label in fig.axes[0].get_legend_handles_labels()[1])
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "compute budget C (FLOPs)"  # the colour bar
    designed = draw_isoflop(table, fit_isoflop(table))  # 4 budgets: one legend entry each, no colour bar
    assert sum(label.startswith("C = ") for label in designed.axes[0].get_legend_handles_labels()[1]) == 4
    assert len(designed.axes) == 2


def test_without_axes_a_fresh_figure_of_the_report_s_size_is_returned_and_saved(table, tmp_path):
    fig = draw_loss_vs_flops(table, LAW_X, 1e20)
    assert isinstance(fig, Figure) and tuple(fig.get_size_inches()) == (7.5, 4.8)
    assert fig.canvas.manager is None  # not a pyplot figure: nothing to close, no window
    save(fig, tmp_path / "loss_vs_flops.png")
    assert (tmp_path / "loss_vs_flops.png").read_bytes()[:8] == PNG_SIGNATURE


def test_predicted_against_actual_is_one_series_per_width_with_its_intervals():
    user = Figure()
    ax = user.subplots()
    assert draw_predicted_vs_actual(fabricated_predictions(), ax=ax) is user
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["predicted = actual", "width d = 32", "width d = 64"]
    assert "actual final eval loss" in ax.get_xlabel() and "first 50%" in ax.get_ylabel()
    assert "4 finished runs" in ax.get_title()
    assert ax.get_xlim() == ax.get_ylim()  # one scale on both axes (was: x 3.6-3.95 beside y 2.1-4.0)
    scored = fabricated_predictions()
    predicted = [p.predicted for p in scored if p.predicted is not None]
    assert ax.get_ylim()[0] < min(predicted) and ax.get_ylim()[1] > max(predicted)
    with pytest.raises(ValueError, match="no finished run was predicted"):
        draw_predicted_vs_actual(fabricated_predictions()[-1:])


def test_predicted_against_actual_shows_each_interval_whole_or_marks_where_it_is_cut():
    from dataclasses import replace
    user = Figure()
    ax = user.subplots()
    draw_predicted_vs_actual(fabricated_predictions(), ax=ax)  # intervals +-0.03 round points 2.6 .. 3.02
    low, high = ax.get_ylim()
    assert low < 2.62 - 0.03 and high > 3.02 + 0.03  # every bar whole (they ran off the axes)
    wide = [replace(p, prediction=replace(p.prediction, interval=(1.0, 9.0))) if p.run == "a" else p
            for p in fabricated_predictions()]
    ax = Figure().subplots()
    draw_predicted_vs_actual(wide, ax=ax)
    low, high = ax.get_ylim()
    assert 1.0 < low < 2.6 and 3.02 < high < 9.0  # a bar wider than the points' span does not squash them
    marks = {line.get_marker(): list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() in "^v"}
    assert marks == {"^": [3.0], "v": [3.0]}  # at run a's actual loss, on both edges
    assert "interval runs past the axes" in ax.get_legend_handles_labels()[1]


def test_u_curves_draw_runs_stopped_early_hollow_with_their_interval(tmp_path):
    """2 widths x 7 lrs, the 4 far ones of each stopped early (predicted +-0.02)."""
    write_lr_sweep(tmp_path)
    runs = load_runs_table(tmp_path)
    optima = find_optima(runs, "lr")
    user = Figure()
    ax, ax_law = user.subplots(1, 2)
    assert draw_ucurves(runs, optima, axes=(ax, ax_law)) is user
    points = [line for line in ax.get_lines() if line.get_marker() == "o" and len(line.get_xdata())]
    filled = [line for line in points if line.get_markerfacecolor() != "none"]
    hollow = [line for line in points if line.get_markerfacecolor() == "none"]
    assert [len(line.get_xdata()) for line in filled] == [3, 3]  # each width's complete runs
    assert [len(line.get_xdata()) for line in hollow] == [4, 4]  # its runs stopped early
    for group, line in zip(optima.groups, hollow):
        np.testing.assert_allclose(sorted(line.get_xdata()), sorted(runs.stopped.lr_R[runs.stopped.d_R == (
            32 if group.n_params < 2e6 else 64)]))
    bars = [c for c in ax.containers if c.has_yerr]
    assert len(bars) == 2
    for group, container in zip(optima.groups, bars):
        (segments,) = [c.get_segments() for c in container.lines[2]]
        heights = [s[1][1] - s[0][1] for s in segments]
        np.testing.assert_allclose(heights, 100 * 0.04 / group.best_loss, rtol=1e-6)  # the interval, in % of best
    handles, labels = ax.get_legend_handles_labels()
    assert labels.count(PREDICTED_LABEL) == 1
    assert handles[labels.index(PREDICTED_LABEL)].get_markerfacecolor() == "none"
    assert ax.get_xlabel() == "learning rate" and "above the budget's best" in ax.get_ylabel()
    assert PREDICTED_LABEL not in ax_law.get_legend_handles_labels()[1]


def test_findings_best_loss_by_recipe_is_one_line_per_recipe_with_error_bars():
    user = Figure()
    ax = user.subplots()
    series = {"l2": ([1e6, 4e6], [3.1, 2.8], [0.01, 0.01]), "coupled": ([4e6, 1e6], [2.7, 3.0], [0.01, 0.02])}
    assert draw_best_loss_by_recipe(series, ax=ax, title="l2 against decay") is user
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["l2", "coupled"]
    assert ax.get_xlabel() == "parameters N" and ax.get_title() == "l2 against decay"
    coupled = ax.containers[1]
    assert coupled.get_label() == "coupled" and list(coupled.lines[0].get_xdata()) == [1e6, 4e6]  # in order of N


def test_a_narrow_loss_axis_labels_no_two_ticks_alike():
    user = Figure()
    ax = user.subplots()
    series = {"none": ([1e4, 2e4], [3.4637, 3.4704], [0.004, 0.004]), "l2": ([1e4, 2e4], [3.4677, 3.4645], [0.004, 0.004])}
    draw_best_loss_by_recipe(series, ax=ax)
    user.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and len(set(labels)) == len(labels)  # 3.465, 3.47 (not 3.46, 3.46, 3.47)


def test_findings_recipe_difference_has_the_losses_and_the_band(tmp_path):
    series = {"a": ([128, 256], [3.0, 2.8], [0.01, 0.01]), "b": ([128, 256], [3.0, 2.7], [0.01, 0.01])}
    fig = draw_recipe_difference("width d", series, ([128, 256], [0.0, 0.1], [0.014, 0.014]), 2.0, "a - b")
    left, right = fig.axes
    assert left.get_xlabel() == right.get_xlabel() == "width d" and right.get_ylabel() == "a - b (nats/token)"
    (band,) = right.collections
    assert band.get_label() == "+-2 combined standard errors"
    save(fig, tmp_path / "difference.png")
    assert (tmp_path / "difference.png").read_bytes()[:8] == PNG_SIGNATURE


def test_findings_loss_vs_tokens_has_a_colour_per_corpus_and_a_marker_per_size():
    series = [(0.0, 1e6, [5e6, 2e7], [3.2, 3.0], [0.01, 0.01]), (0.3, 1e6, [5e6, 2e7], [3.1, 3.0], [0.01, 0.01]),
              (0.0, 4e6, [2e7, 8e7], [2.9, 2.7], [0.01, 0.01])]
    ax = draw_loss_vs_tokens_by_corpus(series).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "duplicate rate 0.00", "duplicate rate 0.30", "N = 1e+06", "N = 4e+06"]
    assert len(ax.containers) == 3  # one line with error bars per (corpus, size)


def test_findings_otr_draws_the_exponents_against_the_ratio_and_the_fitted_lines():
    lines = [(5.0, [30.0, 32.0, 34.0], [1.2, 1.0, 0.8], 7.2, -0.2), (20.0, [31.0, 33.0, 35.0], [1.1, 1.0, 0.9], 4.2, -0.1)]
    left, right = draw_otr([5.0, 20.0], [0.2, 0.1], [[0.18, 0.22], [np.nan, np.nan]], lines).axes
    assert left.get_xscale() == "log" and left.get_ylabel() == "compute exponent alpha_C"
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["r = 5: alpha_C = 0.2", "r = 20: alpha_C = 0.1"]
    fitted = right.get_lines()[1]
    assert fitted.get_ydata()[0] == pytest.approx(7.2 - 0.2 * 30.0)
    ratios = [5.0, 10.0, 20.0, 40.0]  # each swept ratio labelled (1-2-5 steps left 40 bare)
    (left, _) = draw_otr(ratios, [0.2, 0.15, 0.1, 0.08], [[np.nan, np.nan]] * 4, lines).axes
    assert list(left.get_xticks()) == ratios and [left.xaxis.get_major_formatter()(r, 0) for r in ratios] == [
        "5", "10", "20", "40"]


def test_a_log_loss_axis_over_a_factor_of_five_or_more_labels_at_least_three_ticks():
    from sweep.fit.figures import log_axes

    ax = Figure().subplots()
    ax.plot([1e15, 1e20], [2.4, 11.0])  # a crossover's frontiers: labelled 5 and 10 only
    log_axes(ax, "C", "loss")
    assert len(ax.get_yticks()) >= 3 and all(2.0 < t < 12.0 for t in ax.get_yticks())


def test_a_log_axis_wider_than_one_and_a_half_decades_with_one_power_of_ten_labels_at_least_three_ticks():
    from sweep.fit.figures import log_axes

    ax = Figure().subplots()
    ax.plot([2e6, 6e7], [0.1, -0.2])  # residuals against N: only 1e7 was labelled
    log_axes(ax, "N", "residual", y_log=False)
    lo, hi = ax.get_xlim()
    assert sum(lo <= t <= hi for t in ax.get_xticks()) >= 3
    ax = Figure().subplots()
    ax.plot([1e14, 1e19], [2.0, 3.0])  # five decades keep their powers of 10
    log_axes(ax, "C", "loss", y_log=False)
    assert all(math.log10(t) == round(math.log10(t)) for t in ax.get_xticks())


def test_findings_otr_of_many_ratios_has_a_colour_bar_and_keeps_the_exponents_readable_past_a_wild_interval():
    ratio_K = np.geomspace(1, 1000, 14)
    alpha_K = np.full(14, 0.04)
    interval_Kx2 = np.column_stack([alpha_K - 0.01, alpha_K + 0.01])
    interval_Kx2[3] = [-2.2, 0.05]  # a ratio with three sizes: its bootstrap interval runs wild
    lines = [(r, [40.0, 45.0, 50.0], [1.2, 1.0, 0.8], 2.8, -0.04) for r in ratio_K]
    fig = draw_otr(ratio_K, alpha_K, interval_Kx2, lines)
    left, right, bar = fig.axes
    assert right.get_legend() is None and bar.get_ylabel() == "over-training ratio r = T / N"
    low, high = left.get_ylim()
    assert -0.1 < low < 0.03 and 0.05 < high < 0.1  # the points' scale, not the wild interval's
    assert "cut at the panel's edge" in left.get_legend().get_texts()[0].get_text()


def test_a_crossing_within_the_noise_is_drawn_dotted_unlabelled_and_not_counted_as_a_crossing():
    """Two recipes of one law (the report said "the data do not tell the two recipes apart") were
    drawn as "1 of 1 pair(s) cross", labelled crossings and a shaded interval."""
    from dataclasses import replace

    from sweep.fit.crossover import crossovers_of_fits
    from sweep.fit.parametric import ChinchillaLaw, fit_chinchilla

    laws = [("x", ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)),
            ("y", ChinchillaLaw(E=1.75, A=380.0, B=420.0, alpha=0.33, beta=0.29))]  # crossing in range
    runs = make_table(isoflop_rows(recipes=laws, budgets=np.logspace(17, 19, 3)))
    recipe_R = np.array(runs.recipe)
    fits = {name: fit_chinchilla(runs.n_params_R[recipe_R == name], runs.tokens_R[recipe_R == name],
                                 runs.loss_R[recipe_R == name]) for name, _ in laws}
    result = crossovers_of_fits(fits, n_resamples=5, seed=0)
    assert result.pairs[0].crossings
    within = replace(result, pairs=(replace(result.pairs[0], lower_beyond_noise=()),))
    (ax,) = draw_crossover(runs, within).axes
    assert "(0 of 1 pair(s) cross beyond the noise)" in ax.get_title()
    assert not ax.texts and not ax.patches  # no crossing labelled, no interval shaded
    assert "fitted crossing within the noise" in ax.get_legend_handles_labels()[1]
    beyond = replace(result, pairs=(replace(result.pairs[0], lower_beyond_noise=("x", "y")),))
    (ax,) = draw_crossover(runs, beyond).axes
    assert "(1 of 1 pair(s) cross beyond the noise)" in ax.get_title() and ax.texts
    for label in ax.texts:  # a label past the middle of the axes is set to the left of its line
        assert label.get_ha() == ("right" if label.xy[0] > np.sqrt(np.prod(ax.get_xlim())) else "left")


@pytest.mark.parametrize("n_recipes", [2, 4])
def test_a_crossover_of_many_recipes_has_one_legend_entry_each_beside_the_axes(n_recipes):
    from sweep.fit.crossover import crossovers_of_fits
    from sweep.fit.parametric import ChinchillaLaw, fit_chinchilla

    laws = [(f"r{k}", ChinchillaLaw(E=1.7 - 0.1 * k, A=400.0 + 50 * k, B=410.0, alpha=0.34, beta=0.28))
            for k in range(n_recipes)]
    runs = make_table(isoflop_rows(recipes=laws, budgets=np.logspace(17, 19, 3)))
    recipe_R = np.array(runs.recipe)
    fits = {name: fit_chinchilla(runs.n_params_R[recipe_R == name], runs.tokens_R[recipe_R == name],
                                 runs.loss_R[recipe_R == name]) for name, _ in laws}
    fig = draw_crossover(runs, crossovers_of_fits(fits, n_resamples=5, seed=0))
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    if n_recipes > 3:  # beside the axes: the plot stays readable
        assert labels == [name for name, _ in laws] and ax.get_position().x1 < 0.7
        assert ax.get_title().startswith(f"Crossover of {n_recipes} recipes")
    else:
        assert labels[:4] == ["r0: runs", "r0: loss*(C)", "r1: runs", "r1: loss*(C)"]



def test_an_isoflop_interval_of_no_width_is_neither_drawn_nor_in_the_legend():
    from tests.test_fit_isoflop import three_sizes_at_two_budgets
    table = three_sizes_at_two_budgets()
    iso = fit_isoflop(table, n_resamples=20, seed=0)
    assert iso.bootstrap.no_width
    labels = [t.get_text() for t in draw_isoflop(table, iso).axes[1].get_legend().get_texts()]
    assert labels and not [label for label in labels if "interval" in label]
