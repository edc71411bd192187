"""The recipe findings (sweep/fit/findings/recipes.py): l2_vs_decay and lr_crossover each come out
held, did not hold and cannot tell on tables built here (losses from a known law plus a recipe's
offset, with eval standard errors set), and are absent when their recipes are absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from sweep.fit.findings.recipes import assess_l2_vs_decay, assess_lr_crossover
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD
from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.table import from_rows

LAW = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
SIZES = (1e6, 4e6, 16e6)
STDERR = 0.004
LR_PENALTY = {1e-3: 0.05, 3e-3: 0.0}  # each recipe's best run is at lr 3e-3


def run(name, recipe, n, tokens, loss, stderr=STDERR, **extra):
    row = {"status": "complete", "run": name, "recipe": recipe, "n_params": n, "tokens": tokens, "loss": loss, **extra}
    if stderr is not None:
        row["loss_stderr"] = stderr
    return row


def l2_table(l2_offset, stderr=STDERR, arms=("none", "coupled", "l2")):
    """Per size (T = 20 N) and lr: none at the law, coupled 0.02 below it, independent 0.01
    below it, l2 at the law plus l2_offset[size index]."""
    rows = []
    for i, n in enumerate(SIZES):
        base = float(LAW.predict(n, 20 * n))
        offsets = {"none": 0.0, "coupled": -0.02, "independent": -0.01, "l2": l2_offset[i]}
        for arm in arms:
            for lr, penalty in LR_PENALTY.items():
                rows.append(run(f"{arm}-{n:g}-{lr:g}", arm, n, 20 * n, base + offsets[arm] + penalty, stderr, lr=lr))
    return from_rows(rows)


def test_l2_no_better_than_weight_decay_holds():
    finding = assess_l2_vs_decay(l2_table([0.0, 0.0, 0.0]), resamples=50, seed=0)
    assert finding.verdict == HELD
    assert finding.details["arms"] == ["l2", "none", "coupled"]
    first = finding.details["cells"][0]
    assert first["best_other"] == "coupled"
    assert first["l2_minus_best_other"] == pytest.approx(0.02)  # the best lr of each arm stands
    assert first["stderr"] == pytest.approx(np.hypot(STDERR, STDERR))
    assert len(finding.rows) == 3 and len(finding.rows[0]) == len(finding.header)


def test_l2_lower_at_the_largest_cell_did_not_hold():
    finding = assess_l2_vs_decay(l2_table([-0.05, -0.05, -0.05]), resamples=50, seed=0)
    assert finding.verdict == NOT_HELD
    assert "largest cell" in finding.because and "-0.03" in finding.because


def test_l2_lower_at_a_smaller_size_only_cannot_tell():
    finding = assess_l2_vs_decay(l2_table([-0.05, 0.0, 0.0]), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL
    assert "N = 1e+06" in finding.because


def test_l2_within_noise_of_the_best_arm_holds():
    finding = assess_l2_vs_decay(l2_table([-0.025, -0.025, -0.025]), resamples=50, seed=0)  # 0.005 below coupled
    assert finding.verdict == HELD


def test_l2_lower_than_no_regularisation_but_not_than_weight_decay_holds():
    table = l2_table([-0.015, -0.015, -0.015], arms=("none", "coupled", "independent", "l2"))
    finding = assess_l2_vs_decay(table, resamples=50, seed=0)
    assert finding.verdict == HELD
    assert finding.header[2:6] == ("l2 loss", "none loss", "coupled loss", "independent loss")
    assert json.loads(json.dumps(finding.to_dict()))["details"]["cells"][-1]["best_other"] == "coupled"


def test_l2_absent_without_the_l2_and_none_recipes():
    assert assess_l2_vs_decay(l2_table([0, 0, 0], arms=("none", "coupled")), resamples=50, seed=0) is None
    unlabelled = from_rows([run("a", None, 1e6, 2e7, 3.0)])
    assert assess_l2_vs_decay(unlabelled, resamples=50, seed=0) is None


def test_l2_without_recorded_stderr_uses_the_fallback_and_says_so():
    finding = assess_l2_vs_decay(l2_table([0.0, 0.0, 0.0], stderr=None), resamples=50, seed=0)
    assert finding.verdict == HELD
    assert "*" in finding.rows[0][2] and "no recorded eval standard error" in finding.because


def test_l2_figure_is_a_labelled_figure():
    fig = assess_l2_vs_decay(l2_table([0.0, 0.0, 0.0]), resamples=50, seed=0).draw()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "parameters N" and {t.get_text() for t in ax.get_legend().get_texts()} == {
        "l2", "none", "coupled"}


WIDTHS = (128, 256, 512, 1024)


def lr_table(gaps, ratios=(20,), stderr=0.003, excess=(0, 0, 0, 0)):
    """Per width d (N = 48 d^2, 4 layers) and ratio: lr-2-over-d at the law, lr-constant
    gaps[width index] above it; the tokens of width i are ratio N (1 + excess[i])."""
    rows = []
    for d, gap, more in zip(WIDTHS, gaps, excess):
        n = 48.0 * d * d
        for ratio in ratios:
            tokens = ratio * n * (1 + more)
            base = float(LAW.predict(n, tokens))
            rows.append(run(f"s-{d}-{ratio}", "lr-2-over-d", n, tokens, base, stderr, d=d))
            rows.append(run(f"c-{d}-{ratio}", "lr-constant", n, tokens, base + gap, stderr, d=d))
    return from_rows(rows)


def test_lr_scaled_wins_by_a_widening_margin_holds():
    finding = assess_lr_crossover(lr_table([0.0, 0.01, 0.04, 0.1]), resamples=50, seed=0)
    assert finding.verdict == HELD
    widths = finding.details["widths"]
    assert [w["x"] for w in widths] == list(WIDTHS) and finding.details["x"] == "d"
    assert [w["diff"] for w in widths] == pytest.approx([0.0, 0.01, 0.04, 0.1])
    assert "+0.1" in finding.because and "1024" in finding.because


def test_lr_widths_whose_tokens_were_rounded_up_are_compared_at_one_ratio():
    finding = assess_lr_crossover(lr_table([0.0, 0.01, 0.04, 0.1], excess=(0.04, 0, 0.02, 0)), resamples=50, seed=0)
    assert [w["x"] for w in finding.details["widths"]] == list(WIDTHS) and finding.verdict == HELD


def test_lr_constant_lower_at_the_largest_width_did_not_hold():
    finding = assess_lr_crossover(lr_table([0.0, -0.01, -0.03, -0.05]), resamples=50, seed=0)
    assert finding.verdict == NOT_HELD


def test_lr_margin_that_does_not_widen_cannot_tell():
    finding = assess_lr_crossover(lr_table([0.05, 0.05, 0.05, 0.05]), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL
    assert "does not widen" in finding.because


def test_lr_recipes_alike_everywhere_cannot_tell():
    finding = assess_lr_crossover(lr_table([0.0, 0.001, -0.001, 0.002]), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL and "neither recipe is lower" in finding.because


def test_lr_crossover_fit_that_cannot_run_says_why():
    finding = assess_lr_crossover(lr_table([0.0, 0.01, 0.04, 0.1]), resamples=50, seed=0)
    assert finding.details["crossover"] is None
    assert "crossover fit: cannot run (recipe 'lr-2-over-d': 4 runs are too few" in finding.because  # 4 points per recipe


@pytest.mark.slow  # two Chinchilla fits and their bootstrap: about 15 s
def test_lr_crossover_fit_is_stated():
    finding = assess_lr_crossover(lr_table([0.0, 0.01, 0.04, 0.1], ratios=(10, 20, 40)), resamples=20, seed=0)
    assert finding.verdict == HELD and finding.details["tokens_per_param"] == 20
    crossover = finding.details["crossover"]
    assert crossover["recipes"] == ["lr-2-over-d", "lr-constant"] and crossover["n_resamples"] == 20
    assert finding.details["crossover_summary"] in finding.because
    json.dumps(finding.to_dict())  # fits.json takes it as it is


def test_lr_absent_without_both_recipes():
    table = from_rows([run("a", "lr-constant", 1e6, 2e7, 3.0), run("b", "coupled", 1e6, 2e7, 3.0)])
    assert assess_lr_crossover(table, resamples=50, seed=0) is None


def test_lr_figure_has_the_losses_and_the_difference_band():
    fig = assess_lr_crossover(lr_table([0.0, 0.01, 0.04, 0.1]), resamples=50, seed=0).draw()
    left, right = fig.axes
    assert left.get_xlabel() == "width d" and right.get_xlabel() == "width d"
    assert any("combined standard errors" in t.get_text() for t in right.get_legend().get_texts())
