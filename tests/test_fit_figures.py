"""sweep/fit/figures.py: each figure drawn onto the caller's axes (returning their figure) or a
fresh Figure of the report's size, without pyplot."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from sweep.fit.figures import (draw_isoflop, draw_loss_vs_flops, draw_loss_vs_n, draw_predicted_vs_actual,
                               draw_residuals, save)
from sweep.fit.isoflop import fit_isoflop
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


def test_a_two_panel_figure_takes_a_pair_of_axes(table):
    iso = fit_isoflop(table)
    user = Figure()
    pair = user.subplots(1, 2)
    assert draw_isoflop(table, iso, axes=pair) is user
    assert pair[0].get_title() == "IsoFLOP profiles" and pair[1].get_title() == "Compute-optimal model size"
    with pytest.raises(ValueError, match="draws onto 2 axes"):
        draw_isoflop(table, iso, axes=pair[0])


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
    with pytest.raises(ValueError, match="no finished run was predicted"):
        draw_predicted_vs_actual(fabricated_predictions()[-1:])
