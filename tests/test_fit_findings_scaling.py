"""The scaling findings (sweep/fit/findings/scaling.py): density_subscaling and otr each come out
held, did not hold and cannot tell on tables built here (losses drawn from known laws, with eval
standard errors set), recover the numbers they were drawn from, and are absent when their runs
are absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from sweep.fit.findings import scaling
from sweep.fit.findings.scaling import assess_density_subscaling, assess_otr
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD
from sweep.fit.parametric import ChinchillaLaw, SubScalingLaw
from sweep.fit.table import from_rows

STDERR = 0.004
CHINCHILLA = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
# more tokens per parameter raise the data term (R_D = 1 + sigmoid(k_D T / N)): the token gain shrinks
SUBSCALING = SubScalingLaw(E=1.7, A=410.0 / 1.5, B=400.0 / 1.5, alpha=0.28, beta=0.34, k_D=0.15, k_N=0.001)
SIZES = (1e6, 2e6, 4e6, 8e6)
RATIOS = (5, 10, 20, 40)


def corpus_rows(rate, law, sizes=SIZES, ratios=RATIOS, noise=0.0, seed=0, stderr=STDERR):
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        for ratio in ratios:
            loss = float(law.predict(n, ratio * n)) * float(np.exp(noise * rng.normal()))
            rows.append({"status": "complete", "run": f"dup{rate}-{n:g}-{ratio}", "n_params": n, "tokens": ratio * n,
                         "loss": loss, "loss_stderr": stderr, "duplicate_rate": rate})
    return rows


def density_table(laws, **kwargs):
    """One corpus per (duplicate rate, law)."""
    return from_rows([row for rate, law in laws.items() for row in corpus_rows(rate, law, **kwargs)])


@pytest.fixture
def subscaling_predicts_better(monkeypatch):
    """Part 2 stubbed (the real comparison fits two laws: test_density_held_on_a_sub_scaling_corpus)."""
    monkeypatch.setattr(scaling, "held_out_comparison",
                        lambda cells: (None, "sub-scaling predicts better (stub)", True))


def test_density_bending_and_better_held_out_prediction_holds(subscaling_predicts_better):
    finding = assess_density_subscaling(density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}), resamples=50, seed=0)
    assert finding.verdict == HELD
    assert finding.details["least_redundant"] == 0.0 and finding.details["most_redundant"] == 0.3
    gain = finding.details["gains"]["0.30"][0]
    assert gain["tokens"] == pytest.approx([5e6, 40e6])
    assert gain["gain"] == pytest.approx(float(SUBSCALING.predict(1e6, 5e6) - SUBSCALING.predict(1e6, 40e6)))
    assert gain["stderr"] == pytest.approx(np.hypot(STDERR, STDERR))
    assert finding.details["bends_at"] == [1e6, 2e6, 4e6, 8e6]
    assert "(stub)" in finding.because
    assert len(finding.rows) == 8 and len(finding.rows[0]) == len(finding.header)


def test_density_larger_gain_on_the_redundant_corpus_did_not_hold(subscaling_predicts_better):
    finding = assess_density_subscaling(density_table({0.0: SUBSCALING, 0.3: CHINCHILLA}), resamples=50, seed=0)
    assert finding.verdict == NOT_HELD
    assert "larger on the more redundant corpus" in finding.because


def test_density_alike_corpora_cannot_tell_and_say_which_part(subscaling_predicts_better):
    finding = assess_density_subscaling(density_table({0.0: CHINCHILLA, 0.3: CHINCHILLA}), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL
    assert "part 1 (bending" in finding.because and "undecided: the gain is not lower" in finding.because


def test_density_bending_without_the_held_out_win_cannot_tell(monkeypatch):
    monkeypatch.setattr(scaling, "held_out_comparison", lambda cells: (None, "Chinchilla predicts better", False))
    finding = assess_density_subscaling(density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL and "part 1 (bending" in finding.because


def test_density_held_out_comparison_that_cannot_run_says_so():
    table = density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}, sizes=(1e6, 2e6))  # 4 runs below the largest N
    finding = assess_density_subscaling(table, resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL
    assert "part 2 (held-out) undecided: the held-out comparison cannot run" in finding.because
    assert finding.details["subscaling_wins"] is None


@pytest.mark.slow  # the real held-out comparison fits both laws: about 10 s
def test_density_held_on_a_sub_scaling_corpus():
    table = density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}, noise=0.002, ratios=(5, 10, 20, 40, 80, 160))
    finding = assess_density_subscaling(table, resamples=50, seed=0)
    assert finding.verdict == HELD
    errors = finding.details["held_out"]["held_out_errors"]
    assert errors["subscaling"]["mean_abs_rel"] < errors["chinchilla"]["mean_abs_rel"]
    json.dumps(finding.to_dict())  # fits.json takes it as it is
    # 4 held-out runs: sub-scaling lower (0.50% against 1.05%), but within their spread: part 2 decides
    # nothing (was: held, on any lower error)
    fewer = assess_density_subscaling(density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}, noise=0.002),
                                      resamples=50, seed=0)
    assert fewer.verdict == CANNOT_TELL and fewer.details["subscaling_wins"] is None
    assert "better: subscaling, not clearly" in fewer.because


def test_density_absent_with_one_corpus_or_no_duplicate_rates():
    one = from_rows(corpus_rows(0.3, CHINCHILLA) + corpus_rows(0.301, CHINCHILLA, seed=1))  # one rate to 0.01
    assert assess_density_subscaling(one, resamples=50, seed=0) is None
    unmeasured = from_rows([{k: v for k, v in row.items() if k != "duplicate_rate"}
                            for row in corpus_rows(0.3, CHINCHILLA)])
    assert assess_density_subscaling(unmeasured, resamples=50, seed=0) is None


def test_density_runs_without_a_duplicate_rate_are_not_in_it(subscaling_predicts_better):
    rows = corpus_rows(0.0, CHINCHILLA) + corpus_rows(0.3, SUBSCALING)
    rows += [{**row, "run": row["run"] + "-x", "loss": 1.0, "duplicate_rate": None} for row in corpus_rows(0.0, CHINCHILLA)]
    finding = assess_density_subscaling(from_rows(rows), resamples=50, seed=0)
    assert finding.verdict == HELD and len(finding.details["cells"]) == 32


def test_density_figure_has_one_colour_per_corpus():
    fig = assess_density_subscaling(density_table({0.0: CHINCHILLA, 0.3: SUBSCALING}, sizes=(1e6, 2e6)),
                                    resamples=50, seed=0).draw()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "duplicate rate 0.00" in labels and "duplicate rate 0.30" in labels
    assert ax.get_xlabel() == "tokens T"


OTR_SIZES = (1e6, 3e6, 1e7, 3e7)


def otr_table(alphas, noise=0.002, seed=0, sizes=OTR_SIZES, excess=(0, 0, 0, 0), stderr=STDERR):
    """Per ratio r (alphas: r -> alpha_C) and size: loss = 60 C^-alpha_C times log-normal noise;
    the tokens of size i are r N (1 + excess[i]) (rounded up to whole steps); each loss's standard
    error `stderr` (None: no column)."""
    rng = np.random.default_rng(seed)
    rows = []
    for ratio, alpha in alphas.items():
        for n, more in zip(sizes, excess):
            tokens = ratio * n * (1 + more)
            loss = 60.0 * (6 * n * tokens) ** -alpha * float(np.exp(noise * rng.normal()))
            rows.append({"status": "complete", "run": f"r{ratio}-{n:g}", "n_params": n, "tokens": tokens,
                         "loss": loss, **({"loss_stderr": stderr} if stderr is not None else {})})
    return from_rows(rows)


SHRINKING = {5: 0.10, 10: 0.08, 20: 0.06, 50: 0.055, 100: 0.055}


def test_otr_exponent_shrinking_then_flat_holds_and_is_recovered():
    finding = assess_otr(otr_table(SHRINKING), resamples=50, seed=0)
    assert finding.verdict == HELD
    ratios = finding.details["ratios"]
    assert [r["ratio"] for r in ratios] == [5, 10, 20, 50, 100]
    for fitted, truth in zip(ratios, SHRINKING.values()):
        assert fitted["alpha"] == pytest.approx(truth, abs=0.003)
        assert fitted["interval"] == [None, None]  # 4 sizes: no bootstrap (3 gave [0.122, 0.122]); JSON null
    assert ratios[0]["lambda"] == pytest.approx(60.0, rel=0.2)
    json.dumps(finding.to_dict())  # fits.json takes it as it is
    assert "r = 5" in finding.because and "r = 20" in finding.because and "not tested" not in finding.because
    assert finding.details["plateau_tested"] is True
    five = assess_otr(otr_table(SHRINKING, sizes=(*OTR_SIZES, 1e8), excess=(0,) * 5), resamples=50, seed=0)
    for fitted in five.details["ratios"]:
        lo, hi = fitted["interval"]
        assert lo <= fitted["alpha"] <= hi and hi > lo


def test_otr_held_without_two_ratios_past_the_plateau_says_the_plateau_was_not_tested():
    finding = assess_otr(otr_table({5: 0.10, 10: 0.08, 20: 0.06}), resamples=50, seed=0)
    assert finding.verdict == HELD  # the "(Mis)Fitting" table: held, silently on half of the claim
    assert "whether it then stays constant is not tested: 0 ratio(s) >= 50 with 3 sizes, 2 needed" in finding.because
    assert finding.details["plateau_tested"] is False  # fits.json says so too, not only the sentence


def test_otr_ratios_a_little_above_the_one_asked_for_are_one_ratio():
    finding = assess_otr(otr_table(SHRINKING, excess=(0, 0.03, 0.06, 0.01)), resamples=50, seed=0)  # 20 -> 21.2
    assert [r["ratio"] for r in finding.details["ratios"]] == [5, 10, 20, 50, 100]  # each group's least
    assert all(r["sizes"] == 4 for r in finding.details["ratios"]) and finding.verdict == HELD


def test_otr_says_when_its_standard_errors_rest_on_the_assumed_ones():
    """Was: a noise-free table without standard errors read "within noise: alpha_C = 0.1 ± 0.00031", the whole
    ± from the assumed 0.2% of each loss, and said nothing of it (the other findings do)."""
    finding = assess_otr(otr_table({5: 0.1, 10: 0.0998, 20: 0.0995}, noise=0.0, stderr=None), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL
    assert "have no recorded eval standard error and count with 0.2% of the loss" in finding.because
    assert "rests on them" in finding.because and all(row[2].endswith("*") for row in finding.rows)
    measured = assess_otr(otr_table({5: 0.1, 10: 0.0998, 20: 0.0995}, noise=0.0), resamples=50, seed=0)
    assert "no recorded eval standard error" not in measured.because
    assert not any(row[2].endswith("*") for row in measured.rows)


def test_otr_exponent_growing_did_not_hold():
    finding = assess_otr(otr_table({5: 0.05, 10: 0.06, 20: 0.08}), resamples=50, seed=0)
    assert finding.verdict == NOT_HELD


def test_otr_constant_exponent_cannot_tell():
    finding = assess_otr(otr_table({5: 0.07, 10: 0.07, 20: 0.07, 50: 0.07}), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL and "within noise" in finding.because


def test_otr_exponent_still_moving_past_50_cannot_tell():
    finding = assess_otr(otr_table({5: 0.10, 20: 0.07, 50: 0.06, 100: 0.03}), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL and "does not settle" in finding.because


def test_otr_without_a_ratio_of_20_or_more_cannot_tell():
    finding = assess_otr(otr_table({2: 0.1, 5: 0.08, 10: 0.06}), resamples=50, seed=0)
    assert finding.verdict == CANNOT_TELL and "no ratio >= 20" in finding.because


def test_otr_absent_with_too_few_ratios_or_sizes():
    assert assess_otr(otr_table({5: 0.1, 20: 0.06}), resamples=50, seed=0) is None
    assert assess_otr(otr_table(SHRINKING, sizes=(1e6, 3e6)), resamples=50, seed=0) is None


def test_otr_ratio_with_too_few_sizes_is_left_out_and_named():
    table = otr_table(SHRINKING)
    thin = table.select(~((np.round(table.tokens_R / table.n_params_R) == 10) & (table.n_params_R > 3e6)))
    finding = assess_otr(thin, resamples=50, seed=0)  # ratio 10 keeps 2 sizes
    assert finding.details["ratios_left_out"] == [10]
    assert [r["ratio"] for r in finding.details["ratios"]] == [5, 20, 50, 100]
    assert "left out: 10" in finding.because


def test_otr_bootstrap_is_seeded():
    a = assess_otr(otr_table(SHRINKING), resamples=50, seed=3).details["ratios"]
    b = assess_otr(otr_table(SHRINKING), resamples=50, seed=3).details["ratios"]
    assert [r["interval"] for r in a] == [r["interval"] for r in b]


def test_otr_figure_has_the_exponents_and_the_fitted_lines():
    fig = assess_otr(otr_table(SHRINKING), resamples=50, seed=0).draw()
    left, right = fig.axes
    assert left.get_xscale() == "log" and left.get_xlabel() == "over-training ratio r = T / N"
    assert right.get_xlabel() == "ln C (FLOPs)" and len(right.get_legend().get_texts()) == 5


def test_otr_on_a_table_of_two_corpora_takes_the_larger_one_alone():
    table = otr_table(SHRINKING)
    other = [{"status": "complete", "run": f"other-{i}", "n_params": n, "tokens": t, "loss": 0.5 * loss,
              "duplicate_rate": 0.3} for i, (n, t, loss) in enumerate(zip(table.n_params_R, table.tokens_R,
                                                                            table.loss_R)) if i % 2]
    rows = [{"status": "complete", "run": name, "n_params": n, "tokens": t, "loss": loss, "loss_stderr": STDERR,
             "duplicate_rate": 0.0}
            for name, n, t, loss in zip(table.names, table.n_params_R, table.tokens_R, table.loss_R)]
    finding = assess_otr(from_rows(rows + other), resamples=50, seed=0)
    assert finding.details["group"] == "recipe (none), duplicate rate 0.00"
    assert finding.verdict == HELD and finding.details["ratios"][0]["alpha"] == pytest.approx(0.10, abs=0.003)


def test_otr_exponent_stderr_is_at_least_the_eval_stderr_carried_through_the_fit():
    finding = assess_otr(otr_table(SHRINKING, noise=0.0), resamples=50, seed=0)  # exact lines: no residuals
    first = finding.details["ratios"][0]
    lnC_X, lnL_X = np.array(first["lnC"]), np.array(first["lnL"])
    dx_X = lnC_X - lnC_X.mean()
    carried = np.sqrt(np.sum((dx_X * STDERR / np.exp(lnL_X)) ** 2)) / np.sum(dx_X**2)
    assert first["stderr"] == pytest.approx(carried)


def test_density_reads_a_sweep_s_rows_stderr_and_density_report(subscaling_predicts_better):
    """As sweep/results.py gives them: final_eval_loss, final_eval_loss_stderr, data_density."""
    rows = [{"status": "complete", "run": row["run"], "n_params": row["n_params"], "tokens": row["tokens"],
             "final_eval_loss": row["loss"], "final_eval_loss_stderr": 0.002,
             "data_density": {"near_or_exact_duplicate_rate": row["duplicate_rate"] + 0.001}}
            for row in corpus_rows(0.0, CHINCHILLA) + corpus_rows(0.5, SUBSCALING)]
    finding = assess_density_subscaling(from_rows(rows), resamples=50, seed=0)
    assert finding.details["duplicate_rates"] == [0.0, 0.5] and finding.verdict == HELD
    assert finding.details["gains"]["0.50"][0]["stderr"] == pytest.approx(np.hypot(0.002, 0.002))


def test_density_gains_are_compared_between_the_budgets_both_corpora_have(subscaling_predicts_better):
    rows = corpus_rows(0.0, CHINCHILLA, ratios=(5, 10, 20)) + corpus_rows(0.3, SUBSCALING, ratios=(5, 10, 20, 40))
    finding = assess_density_subscaling(from_rows(rows), resamples=50, seed=0)
    assert all(g["tokens"] == pytest.approx([5 * g["n_params"], 20 * g["n_params"]])
               for g in finding.details["gains"]["0.30"])  # not to 40 N, which the other corpus lacks
