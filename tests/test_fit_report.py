"""sweep/fit/report.py: the report folder of runs drawn from known laws: every section, its
figures (valid PNGs), runs.csv predictions and fits.json; sections the table cannot support say
why; a table no analysis can use is refused before anything is written."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.report import write_report
from sweep.fit.curves import Curve, Curves
from sweep.fit.table import RunsTable, from_rows

# recipe x is better at small compute, y (lower E, larger A and B) from C = 1.56e19 on; both have
# the same N_opt(C), so one IsoFLOP design brackets both optima
LAW_X = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
LAW_Y = ChinchillaLaw(E=1.4, A=500.0, B=512.5, alpha=0.34, beta=0.28)
CROSSING = 1.5638e19
BUDGETS = np.logspace(17.5, 20.5, 4)
SIZE_FACTORS = (1 / 6, 1 / 2.5, 1.0, 2.5, 6.0)  # x N_opt(C)
GRID = (1 / 3, 1.0, 3.0)  # x the optimal lr / batch size
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # the first 8 bytes of every PNG file


def lr_opt(c):
    return 0.3118 * c**-0.125  # DeepSeek LLM's law


def batch_opt(c):
    return 0.292 * c**0.3271


def u_term(value, opt):
    return 0.02 * np.log(value / opt) ** 2


def make_table(rows, excluded=None):
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    opt = {k: np.array(columns[k], dtype=float) for k in ("lr", "batch_size") if k in columns}
    return RunsTable(tuple(columns["name"]), *(np.array(columns[k], dtype=float)
                                               for k in ("n_params", "tokens", "loss", "flops")),
                     recipe=tuple(columns["recipe"]) if "recipe" in columns else None,
                     lr_R=opt.get("lr"), batch_size_R=opt.get("batch_size"), excluded=excluded or {},
                     source="synthetic")


def isoflop_rows(recipes=(("x", LAW_X), ("y", LAW_Y)), budgets=BUDGETS, noise=1e-3, seed=0):
    """Per recipe, budget and size (5 around N_opt(C)), a 3 x 3 grid of lr and batch size: the
    law's loss x exp(noise) plus a U in ln lr and in ln batch size (0 at the optimum)."""
    rng = np.random.default_rng(seed)
    rows = []
    for recipe, law in recipes:
        for c in budgets:
            for k, f in enumerate(SIZE_FACTORS):
                n = float(LAW_X.n_opt(c)) * f
                d = c / (6 * n)
                for i, lr_f in enumerate(GRID):
                    for j, b_f in enumerate(GRID):
                        lr, batch = lr_opt(c) * lr_f, batch_opt(c) * b_f
                        loss = (float(law.predict(n, d)) * np.exp(noise * rng.standard_normal())
                                + u_term(lr, lr_opt(c)) + u_term(batch, batch_opt(c)))
                        rows.append(dict(name=f"{recipe}-C{c:.2g}-n{k}-lr{i}-b{j}", n_params=n, tokens=d, flops=c,
                                         loss=loss, recipe=recipe, lr=lr, batch_size=batch))
    return rows


def curves_of(rows):
    """The loss-vs-FLOPs curve of each recipe-x run at the optimal lr and batch size (its law's
    loss along its tokens)."""
    runs = []
    for r in rows:
        if r["recipe"] == "x" and r["name"].endswith("lr1-b1"):
            tokens_S = np.geomspace(r["tokens"] / 50, r["tokens"], 25)
            runs.append(Curve(r["name"], r["n_params"], tokens_S, 6 * r["n_params"] * tokens_S,
                              LAW_X.predict(r["n_params"], tokens_S)))
    return Curves(runs, "eval_loss", source="synthetic")


def sections(markdown: str) -> dict[str, str]:
    """'## 1. ...' heading number -> that section's text."""
    parts = re.split(r"^## (\d)\. ", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    rows = isoflop_rows()
    out = tmp_path_factory.mktemp("report")
    return rows, write_report(make_table(rows, {"diverged": 3}), out, curves=curves_of(rows), bootstrap_resamples=50)


def test_every_section_and_figure_of_a_full_design(full):
    rows, result = full
    text = result.markdown.read_text()
    assert result.skipped == {}
    assert "excluded: 3 diverged" in text and "recipe 'x'" in text
    assert set(sections(text)) == {"1", "2", "3", "4", "5", "6"} and "Skipped" not in text
    names = {"loss_vs_n", "loss_vs_flops", "residuals", "isoflop", "frontier", "lr_ucurves", "batch_ucurves",
             "crossover", "finding_lr_ucurve", "finding_batch_ucurve", "finding_batch_vs_loss"}
    assert set(result.figures) == names
    for name, path in result.figures.items():
        assert path.parent == result.out_dir and path.read_bytes()[:8] == PNG_SIGNATURE
        assert f"]({name}.png)" in text  # embedded with a relative link
    assert "Lower held-out error" in sections(text)["2"]
    isoflop = sections(text)["3"]
    assert "sizes fitted (N range)" in isoflop and "95% intervals (50 resamples" in isoflop
    assert re.search(r"a in \[0\.4\d*, 0\.4\d*\]", isoflop)
    assert "cross" in sections(text)["6"] and "bootstrap interval" in sections(text)["6"]


def test_the_held_out_points_are_listed_with_each_law_s_prediction(full):
    _, result = full
    held_out = [r for r in result.fits["held_out"]["per_run"] if r["held_out"]]
    (run,) = held_out  # the largest size's point: its best lr and batch size, at the largest budget
    assert run["name"].startswith("x-C3.2e+20-n4") and run["name"].endswith("lr1-b1")
    assert run["flops"] == pytest.approx(BUDGETS[-1])
    section = sections(result.markdown.read_text())["2"]
    assert "| run | N | T | C (FLOPs) | loss | pred chinchilla (rel error) | pred subscaling (rel error) |" in section
    assert f"| {run['name']} | " in section and f"({run['rel_error_chinchilla']:+.2%})" in section
    assert len(result.fits["held_out"]["per_run"]) == 20  # the points of recipe x, training ones marked


@pytest.mark.slow
def test_recipes_are_compared_pairwise_and_runs_below_a_ratio_left_out(tmp_path):
    """Three recipes drawn from known laws (z between x and y), on a fixed grid of sizes and
    ratios; runs with 2 tokens per parameter are left out by --min-tokens-per-param 5."""
    law_z = ChinchillaLaw(E=1.51, A=442.5, B=453.5625, alpha=0.34, beta=0.28)
    rng = np.random.default_rng(2)
    rows = [dict(name=f"{recipe}-n{k}-t{t}", n_params=n, tokens=t * n, flops=6 * t * n * n, recipe=recipe,
                 loss=float(law.predict(n, t * n)) * np.exp(5e-3 * rng.standard_normal()))
            for recipe, law in (("x", LAW_X), ("y", LAW_Y), ("z", law_z))
            for k, n in enumerate(np.logspace(7, 9.5, 6)) for t in (2, 5, 20, 60, 200)]
    result = write_report(make_table(rows), tmp_path, bootstrap_resamples=20, min_tokens_per_param=5)
    assert result.fits["excluded"] == {"tokens_per_param < 5": 18} and result.fits["min_tokens_per_param"] == 5
    assert result.fits["runs"] == 72
    text = result.markdown.read_text()
    assert "- Filter: runs with tokens / N < 5 left out of every fit" in text
    crossover = result.fits["crossover"]
    assert [p["recipes"] for p in crossover["pairs"]] == [["x", "y"], ["x", "z"], ["y", "z"]]
    assert [s["recipe"] for s in crossover["lowest"]] == ["x", "z", "y"]
    section = sections(text)["6"]
    assert all(f"### {x} / {y}" in section for x, y in (("x", "y"), ("x", "z"), ("y", "z")))
    assert "| C from (FLOPs) | C to (FLOPs) | lowest loss* |" in section
    assert result.figures["crossover"].read_bytes()[:8] == PNG_SIGNATURE
    assert all(r["pred_chinchilla"] is not None for r in result.rows_with_predictions())


def test_fits_json_holds_the_true_laws(full):
    _, result = full
    fits = json.loads(result.json.read_text())
    assert fits == result.fits
    chin = fits["chinchilla"]
    assert chin["E"] == pytest.approx(LAW_X.E, abs=0.05) and chin["converged"]
    lo, hi = chin["bootstrap"]["intervals"]["alpha"]
    assert lo <= chin["alpha"] <= hi
    assert chin["tokens_per_param"] == pytest.approx(float(LAW_X.tokens_per_param(BUDGETS[-1])), rel=0.1)
    assert 0 < chin["rms_log_residual"] < 0.01 and chin["seed_spread"] is None and chin["misfit_test"] is None
    assert fits["isoflop"]["a"] == pytest.approx(LAW_X.a, abs=0.02)
    lo, hi = fits["isoflop"]["bootstrap"]["intervals"]["a"]
    assert lo < LAW_X.a < hi and fits["isoflop"]["bootstrap"]["n_resamples"] == 50
    assert 0.3 < fits["envelope"]["a"] < 0.6
    assert fits["lr"]["exponent"] == pytest.approx(-0.125, abs=0.02)
    assert fits["batch_size"]["exponent"] == pytest.approx(0.3271, abs=0.02)
    assert fits["held_out"]["n_held_out"] == 1 and set(fits["held_out"]["held_out_errors"]) == {"chinchilla", "subscaling", "kaplan"}
    lo, hi = fits["crossover"]["compute_interval"]
    assert fits["crossover"]["crossings"][0]["compute"] == pytest.approx(CROSSING, rel=0.5) and lo < CROSSING < hi


def test_runs_csv_predicts_each_run_with_its_own_recipes_law(full):
    rows, result = full
    with result.csv.open() as f:
        written = list(csv.DictReader(f))
    table_rows = result.rows_with_predictions()
    assert len(written) == len(table_rows) == len(rows) == 360
    assert [r["name"] for r in written] == [r["name"] for r in rows]
    assert {"recipe", "lr", "batch_size", "pred_chinchilla", "log_residual_chinchilla", "pred_subscaling"} <= set(
        written[0])
    for row, truth in zip(table_rows, rows):
        law = LAW_X if truth["recipe"] == "x" else LAW_Y
        assert row["pred_chinchilla"] == pytest.approx(float(law.predict(truth["n_params"], truth["tokens"])),
                                                       rel=0.01)
        assert row["log_residual_chinchilla"] == pytest.approx(np.log(row["loss"] / row["pred_chinchilla"]))
        assert (row["pred_subscaling"] is None) == (truth["recipe"] == "y")
    # the fitted point of each (recipe, N, T) is its run at the optimal lr and batch size
    assert sum(r["fitted"] for r in table_rows) == 40
    assert all(r["name"].endswith("lr1-b1") for r in table_rows if r["fitted"])


def test_sections_the_table_cannot_support_say_why(tmp_path):
    """A fixed tokens-per-parameter sweep: no IsoFLOP design, no lr or batch size column, no
    recipes, no curves; Approach 3 and the sub-scaling comparison still run."""
    rng = np.random.default_rng(1)
    rows = [dict(name=f"n{k}-t{t}", n_params=n, tokens=t * n, flops=6 * t * n * n,
                 loss=float(LAW_X.predict(n, t * n)) * np.exp(1e-3 * rng.standard_normal()))
            for k, n in enumerate(np.logspace(7, 9.5, 6)) for t in (10, 20, 40)]
    result = write_report(make_table(rows, {"diverged": 2, "failed": 1}), tmp_path / "out", bootstrap_resamples=20)
    text = result.markdown.read_text()
    assert "excluded: 2 diverged, 1 failed" in text
    assert set(result.skipped) == {"isoflop", "envelope", "lr", "batch_size", "crossover"}
    assert "IsoFLOP design" in result.skipped["isoflop"] and "no 'lr' values" in result.skipped["lr"]
    by_number = sections(text)
    for number, reason in (("3", "isoflop"), ("4", "envelope"), ("6", "crossover")):
        assert f"Skipped: {result.skipped[reason]}" in by_number[number]
    assert f"Skipped: {result.skipped['lr']}" in by_number["5"]
    assert f"Skipped: {result.skipped['batch_size']}" in by_number["5"]
    assert "Skipped" not in by_number["1"] + by_number["2"]
    # three token budgets per size over six sizes: the otr finding's runs (3 ratios x >= 3 sizes)
    assert set(result.figures) == {"finding_otr", "loss_vs_n", "loss_vs_flops", "residuals"}
    assert sorted(p.name for p in result.out_dir.glob("*.png")) == ["finding_otr.png", "loss_vs_flops.png",
                                                                    "loss_vs_n.png", "residuals.png"]
    fits = json.loads(result.json.read_text())
    assert [f["name"] for f in fits["findings"]] == ["otr"]
    assert fits["chinchilla"]["E"] == pytest.approx(LAW_X.E, abs=0.1) and "isoflop" not in fits
    assert fits["skipped"] == result.skipped
    assert all(r["pred_chinchilla"] is not None for r in result.rows_with_predictions())
    assert "## Findings\n\n" in text and "### otr: " in text  # the one finding these runs test


def test_one_analysis_is_enough_and_the_rest_say_why(tmp_path):
    """One budget of 5 sizes x 3 lr: 5 (N, T) points are too few for Approach 3, one budget too
    few for IsoFLOP and for an lr power law, but its U-curve is drawn."""
    rows = [r for r in isoflop_rows(recipes=(("x", LAW_X),), budgets=BUDGETS[:1]) if r["name"].endswith("b1")]
    for r in rows:
        del r["recipe"], r["batch_size"]
    result = write_report(make_table(rows), tmp_path, bootstrap_resamples=20)
    assert "need at least 6" in result.skipped["chinchilla"]
    assert "lr_law" in result.skipped and "at 2 or more compute budgets" in result.skipped["lr_law"]
    assert set(result.figures) == {"lr_ucurves", "finding_lr_ucurve"}
    assert result.figures["lr_ucurves"].read_bytes()[:8] == PNG_SIGNATURE
    text = result.markdown.read_text()
    assert f"Skipped: {result.skipped['chinchilla']}" in sections(text)["1"]
    assert "Power law not fitted" in sections(text)["5"]
    # one budget: its 5 cells lie on the line ln N + ln D = ln(C/6)
    step_note = "Step Law not fitted: Step Law's lr_opt = c N^a D^b needs cells spread in both N and D"
    assert step_note in sections(text)["5"]
    fits = json.loads(result.json.read_text())
    lr = fits["lr"]
    # the second size's lowest lr is 0.0225 above its best, within the noise rule (2 x 0.0113, the fallback 0.2%):
    # the Findings call it EDGE, and section 5 takes no vertex there either
    assert lr["by"] == "cell" and [g["status"] for g in lr["groups"]] == ["vertex", "clipped", "vertex", "vertex",
                                                                          "vertex"] and lr["step_law"] is None
    (finding,) = [f for f in fits["findings"] if f["name"] == "lr_ucurve"]
    assert [c["shape"] for c in finding["details"]["cells"]] == ["U", "EDGE", "U", "U", "U"]


def test_section_5_gives_step_law_beside_deepseek_per_cell(full):
    """The full design holds 5 sizes per budget, each with its own lr grid: the optima are taken
    per (N, tokens) cell, and lr_opt = 0.3118 (6 N D)^-0.125 is Step Law's form with a = b = -0.125."""
    _, result = full
    lr = result.fits["lr"]
    assert lr["by"] == "cell" and len(lr["groups"]) == 20 and lr["groups"] == lr["cells"]
    step = lr["step_law"]
    assert step["a"] == pytest.approx(-0.125, abs=0.03) and step["b"] == pytest.approx(-0.125, abs=0.03)
    # Step Law's points: the cells with a vertex, those the Findings call U (3 of recipe x's 20 have a grid end
    # within noise of the best: EDGE there, and no vertex here)
    (finding,) = [f for f in result.fits["findings"] if f["name"] == "lr_ucurve"]
    shapes = [c["shape"] for c in finding["details"]["cells"] if c["recipe"] == "x"]
    assert [g["status"] == "vertex" for g in lr["cells"]] == [shape == "U" for shape in shapes]
    assert step["c"] == pytest.approx(0.3118 * 6**-0.125, rel=0.3) and step["n_points"] == shapes.count("U") == 17
    assert result.fits["batch_size"]["step_law"]["form"] == "B_opt = c D^b"
    text = sections(result.markdown.read_text())["5"]
    assert "Per (N, tokens) cell" in text
    assert "| law | form | c | exponents | stderr | points | rms ln residual |" in text
    assert "| DeepSeek (2024), in C, per (N, tokens) cell | lr_opt = c C^e |" in text
    assert "`sweep fit --law lr --by cell` gives it; `sweep fit`'s default (--by flops) takes one" in text
    row = f"| Step Law (Li et al. 2025), in N, D | lr_opt = c N^a D^b | {step['c']:.4g} | a = {step['a']:.4g}, "
    assert row in text
    assert "| Step Law (Li et al. 2025), in D | B_opt = c D^b |" in text and "Kaplan (2020)" in text
    assert "Loss against learning rate per (N, tokens) cell" in text


def test_section_5_stays_per_budget_with_one_cell_per_budget(tmp_path):
    """One size per budget (its lr grid): the optima per compute budget, DeepSeek's law in C, and
    Step Law's form skipped because every cell lies on one line (one tokens per parameter)."""
    rows = [r for r in isoflop_rows(recipes=(("x", LAW_X),)) if "-n2-" in r["name"] and r["name"].endswith("b1")]
    for r in rows:
        del r["recipe"], r["batch_size"]
    result = write_report(make_table(rows), tmp_path, bootstrap_resamples=20)
    lr = result.fits["lr"]
    assert lr["by"] == "flops" and lr["exponent"] == pytest.approx(-0.125, abs=0.02) and lr["step_law"] is None
    text = sections(result.markdown.read_text())["5"]
    assert "Per compute budget" in text and "Step Law not fitted" in text and "one line" in text


def with_stopped_runs(rows):
    """The full design's rows as a sweep's runs table gives them (complete), and 7 runs stopped
    early, each at recipe x's N_opt size and best batch size (recipe y: the last): per budget one
    at 9 x lr_opt predicted at its true loss (+-1%); one at the first budget, 2 x lr_opt, predicted
    10% below the law (a wild prediction: were it a point of the parametric fits, it would be its
    (N, T)'s best); one at the second budget without a prediction; one of recipe y."""
    complete = [{**r, "run": r["name"], "status": "complete"} for r in rows]
    stopped = []

    def stop(recipe, law, c, lr_factor, predicted):
        n = float(LAW_X.n_opt(c))
        d, lr = c / (6 * n), lr_opt(c) * lr_factor
        loss = float(law.predict(n, d)) + u_term(lr, lr_opt(c))
        guess = None if predicted is None else predicted * loss
        stopped.append(dict(run=f"{recipe}-C{c:.2g}-n2-lr{lr_factor:g}x-b1-stopped", status="stopped_early",
                            n_params=n, tokens=d, flops=c, final_eval_loss=loss + 0.3, recipe=recipe, lr=lr,
                            batch_size=batch_opt(c), predicted_final_eval_loss=guess,
                            predicted_interval=None if guess is None else [0.99 * guess, 1.01 * guess]))

    for c in BUDGETS:
        stop("x", LAW_X, c, 9.0, 1.0)
    stop("x", LAW_X, BUDGETS[0], 2.0, 0.9)
    stop("x", LAW_X, BUDGETS[1], 27.0, None)
    stop("y", LAW_Y, BUDGETS[0], 9.0, 1.0)
    return from_rows(complete + stopped, source="synthetic")


@pytest.mark.slow  # about 16 s (a whole report); the lr law's predicted points are test_fit_hyperparams.py's, the exclusion test_fit_table.py's
def test_runs_stopped_early_are_out_of_the_parametric_fits_and_predicted_points_of_section_5(full, tmp_path):
    rows, without = full
    result = write_report(with_stopped_runs(rows), tmp_path, bootstrap_resamples=10)
    text = result.markdown.read_text()
    assert "- Runs used: 360 complete runs; excluded: 7 stopped_early" in text
    assert ("- Runs stopped early (7): in no fit but the learning-rate and batch-size laws (section 5), where the 6 "
            "with a predicted final loss stand with it, marked as predicted") in text
    for name in ("E", "A", "B", "alpha", "beta"):  # as if the stopped runs were not there at all
        assert result.fits["chinchilla"][name] == pytest.approx(without.fits["chinchilla"][name], rel=1e-9)
    assert result.fits["isoflop"]["a"] == pytest.approx(without.fits["isoflop"]["a"], rel=1e-9)
    (pair,), (same,) = result.fits["crossover"]["pairs"], without.fits["crossover"]["pairs"]
    assert pair["crossings"] == same["crossings"]
    assert not any(r["name"].endswith("stopped") for r in result.rows)
    lr = result.fits["lr"]
    assert sum(g["n_predicted"] for g in lr["groups"]) == 5  # recipe x's 5 predicted runs; y's is y's
    (wild,) = [g for g in lr["groups"] if g["best_predicted"]]
    assert wild["best_run"] == f"x-C{BUDGETS[0]:.2g}-n2-lr2x-b1-stopped" and wild["n_predicted"] == 2
    assert lr["excluded_runs"] == {"stopped_early without a predicted loss": 1}
    section = sections(text)["5"]
    assert "5 points are runs stopped early, standing with their predicted final loss" in section
    assert f"| 2 of 5 | {wild['best_run']} (predicted) |" in section
    assert "lr_ucurves" in result.figures


def test_a_table_no_analysis_can_use_is_refused_before_writing(tmp_path):
    rows = [dict(name=f"r{k}", n_params=n, tokens=20 * n, flops=120 * n * n, loss=float(LAW_X.predict(n, 20 * n)))
            for k, n in enumerate(np.logspace(7, 9, 5))]
    with pytest.raises(ConfigError, match=r"no analysis can run.*5 runs are too few to fit the chinchilla law "
                                          r"\(5 parameters\): need at least 6"):
        write_report(make_table(rows), tmp_path / "out", bootstrap_resamples=20)
    assert not (tmp_path / "out").exists()


def synthetic_corpus_table():
    """12 runs of LAW_X (E = 1.7) over one decade of N, 2% noise, each carrying the corpus's
    true_entropy_nats = 1.7: the full-data fit's E collapses to ~1e-29 (no floor in the runs)."""
    from tests.parametric_runs import pinned_runs

    N_R, tokens_R, loss_R = pinned_runs()
    return RunsTable(tuple(f"r{i}" for i in range(len(N_R))), N_R, tokens_R, loss_R, 6 * N_R * tokens_R,
                     true_entropy_nats_R=np.full(len(N_R), 1.7), source="synthetic")


@pytest.mark.slow  # about 15 s (a whole report); the flags are test_fit_identify.py's, the entropy beside E test_fit_laws.py's
def test_section_1_lists_what_the_data_cannot_pin_down_and_the_true_entropy_beside_e(tmp_path):
    result = write_report(synthetic_corpus_table(), tmp_path, bootstrap_resamples=20)
    one, two = sections(result.markdown.read_text())["1"], sections(result.markdown.read_text())["2"]
    assert "True entropy of the synthetic corpus: 1.7 nats/token, beside the fitted E = " in one
    assert "inside E's interval." in one  # the interval runs from the bound 0 past 1.7
    assert "What the data cannot pin down:" in one and "- **E**: E = " in one and "--fix E=VALUE" in one
    assert "What the data cannot pin down" in two
    chinchilla = json.loads(result.json.read_text())["chinchilla"]
    assert chinchilla["true_entropy_nats"] == 1.7 and chinchilla["E_interval_contains_truth"] is True
    assert chinchilla["bootstrap"]["intervals"]["E"][0] == 0.0 and chinchilla["bootstrap"]["at_bound"]["E"] > 0
    assert "E" in {f["parameter"] for f in chinchilla["identifiability"]}


@pytest.mark.slow  # about 11 s (two reports); a fixed E is test_fit_parametric.py's
def test_fix_e_true_holds_e_at_the_corpus_entropy_in_sections_1_and_2(tmp_path):
    result = write_report(synthetic_corpus_table(), tmp_path, bootstrap_resamples=10, fix=["E=true"])
    text = result.markdown.read_text()
    assert "- Held (--fix, sections 1 and 2): E = 1.7;" in text
    fits = json.loads(result.json.read_text())
    assert fits["chinchilla"]["E"] == pytest.approx(1.7, rel=1e-15) and fits["chinchilla"]["fixed"] == {"E": 1.7}
    assert fits["subscaling"]["E"] == pytest.approx(1.7, rel=1e-15)
    assert "E" not in {f["parameter"] for f in fits["chinchilla"]["identifiability"]}
    with pytest.raises(ConfigError, match=r"--fix E=9: accepted is 0 < E < the lowest loss"):
        write_report(synthetic_corpus_table(), tmp_path / "bad", bootstrap_resamples=10, fix=["E=9"])
    assert not (tmp_path / "bad").exists()


def test_a_report_that_takes_a_while_logs_a_line_per_fit(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("sweep.fit.report.PROGRESS_DELAY_S", 0.0)  # this small one shows nothing otherwise
    rows = [r for r in isoflop_rows(recipes=(("x", LAW_X),), budgets=BUDGETS[:1]) if r["name"].endswith("b1")]
    for r in rows:
        del r["recipe"], r["batch_size"]
    with caplog.at_level("INFO", logger="sweep.progress"):
        write_report(make_table(rows), tmp_path, bootstrap_resamples=20)
    lines = [r.message for r in caplog.records if r.name == "sweep.progress"]
    assert lines[0].startswith("sweep report: 1/9 fits (11%), ETA ") and lines[0].endswith(", chinchilla")
    assert lines[-1] == "sweep report: 9/9 fits (100%), writing the report"
    assert len(lines) == 10  # one per fit (the bootstrap's: none, its fit could not run) and the last


def fabricated_predictions():
    """Four finished runs (two widths) predicted from half their curve, and one skipped run: what
    sweep/fit/predict.py predict_sweep gives for a sweep folder."""
    from sweep.fit.curve_law import CurveLaw, FinalLossPrediction
    from sweep.fit.predict import RunPrediction

    def run(name, d, lr, predicted, actual):
        prediction = FinalLossPrediction(predicted, (predicted - 0.03, predicted + 0.03), 0.95,
                                         CurveLaw(2.0, 1.0, 0.5, 0.6), 0.02, 500, 1000, 40, 50, 4, 0.01)
        return RunPrediction(name, "complete", {"d": d, "lr": lr}, prediction, actual)

    return [run("a", 32, 1e-3, 3.02, 3.0), run("b", 32, 3e-3, 2.95, 2.9), run("c", 64, 1e-3, 2.71, 2.75),
            run("d", 64, 3e-3, 2.62, 2.6),
            RunPrediction("e", "started", {"d": 64, "lr": 1e-2}, skipped="no records yet")]


@pytest.mark.slow  # about 30 s (two whole reports); the figure is test_fit_figures.py's, the predictions test_fit_predict.py's
def test_section_7_draws_the_predicted_final_losses_against_the_actual_ones(tmp_path):
    rows = isoflop_rows(recipes=(("x", LAW_X),))
    result = write_report(make_table(rows), tmp_path, bootstrap_resamples=10, predictions=fabricated_predictions(),
                          prediction_fraction=0.5)
    assert result.figures["predicted_vs_actual"].read_bytes()[:8] == PNG_SIGNATURE
    seventh = sections(result.markdown.read_text())["7"]
    assert "up to 50% of its steps" in seventh and "4 of 5 runs predicted" in seventh
    assert "](predicted_vs_actual.png)" in seventh and "- `e`: no records yet" in seventh
    prediction = json.loads(result.json.read_text())["prediction"]
    assert prediction["at_fraction"] == 0.5 and prediction["summary"]["coverage"] == 0.5  # b, c miss by > 0.03
    assert [r["run"] for r in prediction["runs"]] == ["a", "b", "c", "d", "e"]
    without = write_report(make_table(rows), tmp_path / "without", bootstrap_resamples=10)
    assert "7" not in sections(without.markdown.read_text()) and "predicted_vs_actual" not in without.figures


def test_a_report_on_one_size_s_lr_u_curve_opens_with_its_finding(tmp_path):
    """One size, 5 learning rates around a known optimum: no law can be fitted, the report is still
    written, and its Findings section (before section 1) gives lr_ucurve's verdict: one size cannot
    tell whether the optimum moves."""
    lrs = np.geomspace(3e-4, 1e-2, 5)
    rows = [dict(name=f"lr{i}", n_params=1e8, tokens=2e9, flops=1.2e18, lr=lr,
                 loss=3.0 + 0.05 * np.log(lr / 2e-3) ** 2) for i, lr in enumerate(lrs)]
    result = write_report(make_table(rows), tmp_path, bootstrap_resamples=50, seed=3)
    text = result.markdown.read_text()
    assert text.index("## Findings") < text.index("## 1. ")
    findings = text[text.index("## Findings"):text.index("## 1. ")]
    assert "### lr_ucurve: cannot tell from these runs" in findings and "50 redraws (seed 3)" in findings
    assert "**Cannot tell from these runs: one model size only (N=1e+08)" in findings
    assert "Rule: per (N, tokens) cell" in findings and "| 1e+08 | 2e+09 |" in findings
    assert "](finding_lr_ucurve.png)" in findings
    assert result.figures["finding_lr_ucurve"].read_bytes()[:8] == PNG_SIGNATURE
    (finding,) = json.loads(result.json.read_text())["findings"]
    assert finding["name"] == "lr_ucurve" and finding["verdict"] == "cannot tell from these runs"
    assert finding["details"]["cells"][0]["optimum"] == pytest.approx(2e-3, rel=1e-3)
    assert finding["details"]["resamples"] == 50 and finding["details"]["seed"] == 3


def test_a_finding_alone_is_a_report(tmp_path):
    """l2_vs_decay's CPU design (2 sizes x 4 recipes, one run each) supports no fit, but its finding."""
    n_R = np.repeat([2e4, 3.3e4], 4)
    recipes = ("none", "coupled", "independent", "l2") * 2
    loss_R = np.array([3.508, 3.511, 3.5085, 3.5076, 3.4637, 3.4704, 3.4645, 3.4677])
    table = RunsTable(tuple(f"{r}-{n:g}" for r, n in zip(recipes, n_R)), n_R, 20 * n_R, loss_R, 120 * n_R ** 2,
                      recipe=recipes, loss_stderr_R=np.full(8, 0.004))
    result = write_report(table, tmp_path / "out", bootstrap_resamples=20)
    report = result.markdown.read_text()
    assert "### l2_vs_decay: held" in report and (tmp_path / "out" / "finding_l2_vs_decay.png").is_file()


def test_a_report_written_again_removes_the_figures_it_no_longer_draws_and_nothing_else(tmp_path):
    """A crossover.png of recipes the source no longer had stayed beside a report.md saying section 6 was
    skipped."""
    rows = isoflop_rows(budgets=BUDGETS[:3])
    first = write_report(make_table(rows), tmp_path, bootstrap_resamples=10)
    assert "crossover" in first.figures
    (tmp_path / "notes.png").write_bytes(PNG_SIGNATURE)  # the user's own file
    one_recipe = make_table([{k: v for k, v in r.items() if k != "recipe"} for r in rows if r["recipe"] == "x"])
    again = write_report(one_recipe, tmp_path, bootstrap_resamples=10)
    assert "crossover" not in again.figures and not (tmp_path / "crossover.png").exists()
    assert (tmp_path / "notes.png").exists()
    assert {p.stem for p in tmp_path.glob("*.png")} == set(again.figures) | {"notes"}
