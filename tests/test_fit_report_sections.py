"""sweep/fit/report_sections.py: report.md's text from the fits: the header says what was fitted to
which runs, each section the table cannot support says why, each figure is saved and linked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sweep.fit.report_fits import fit_all
from sweep.fit.report_sections import report_markdown
from sweep.fit.table import from_rows
from tests.test_fit_points import law_rows
from tests.test_fit_report import BUDGETS, PNG_SIGNATURE, isoflop_rows, make_table, sections


def test_the_header_says_which_runs_were_fitted_and_skipped_sections_say_why(tmp_path):
    table = make_table(isoflop_rows(budgets=BUDGETS[:3]), {"diverged": 2})
    fits = fit_all(table, None, n_resamples=10, seed=3, cutoff=None, compute=None, recipe=None)
    figures = {}
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=3,
                           out_dir=tmp_path, figures=figures)
    header = text.split("\n## ")[0]
    assert "- Runs used: 270 complete runs; excluded: 2 diverged" in header
    assert "- Recipes: 'x' (135 runs), 'y' (135 runs)" in header
    assert "- Sections 1-5 fit the 135 runs of recipe 'x'" in header
    assert "see one point per (N, T): the best setting of the runs sharing them (the lowest loss of a " \
           "hyperparameter grid): 15 points from 135 runs" in header
    assert "- Bootstrap (section 1): 10 resamples of" in header and "seed 3" in header
    assert "skipped: envelope" in header
    by_number = sections(text)
    assert by_number["4"].strip().endswith("Skipped: no loss curves were given: Approach 1 reads every run's "
                                           "loss-vs-FLOPs curve (metrics.jsonl), so it needs a sweep folder")
    assert {"loss_vs_n", "loss_vs_flops", "residuals", "isoflop", "lr_ucurves", "batch_ucurves", "crossover"} <= \
        set(figures)
    for name, path in figures.items():
        assert path.parent == tmp_path and path.read_bytes()[:8] == PNG_SIGNATURE
        assert f"]({name}.png)" in text


def test_the_header_names_the_column_the_recipes_were_read_from(tmp_path):
    table = make_table(isoflop_rows(budgets=BUDGETS[:3]))
    studies = replace(table, columns_read={"recipe": "experiment"})
    fits = fit_all(studies, None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=0,
                           out_dir=tmp_path, figures={})
    assert "- Recipes (column 'experiment'): 'x' (135 runs), 'y' (135 runs)" in text
    assert "- Columns read: recipe from experiment" in text
    assert "No setting was trained at several seeds" in text
    assert "Repeated data" not in text
    epochs_R = np.where(np.arange(len(table)) < 3, 20.0, 1.0)  # three runs read their data 20 times over
    fits = fit_all(replace(table, epochs_R=epochs_R), None, n_resamples=10, seed=0, cutoff=None, compute=None,
                   recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=0,
                           out_dir=tmp_path, figures={})
    assert "- **Repeated data**: 3 run(s) read their training data more than 4 times over (up to 20 epochs)" in text


def test_the_header_says_a_setting_s_seeds_were_averaged_into_one_point(tmp_path):
    table = from_rows(law_rows(seeds=2, noise=0.01, rng=np.random.default_rng(0)))
    fits = fit_all(table, None, n_resamples=5, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=5, seed=0,
                           out_dir=tmp_path, figures={})
    assert "grid; the seeds of a setting averaged into one point, 64 runs in the 32): 32 points from 64 runs" in text
    noise = next(line for line in text.splitlines() if line.startswith("Noise:"))
    assert "32 settings were trained at 2 seeds" in noise and "F on 27 and 32 degrees of freedom" in noise


def test_a_law_with_no_compute_optimal_allocation_is_reported_as_such_and_the_report_is_written(tmp_path):
    rows = law_rows(seeds=1, noise=0.0, rng=np.random.default_rng(0))
    for r in rows:  # the loss rising with tokens at a fixed N: the fitted beta below 0
        r["final_eval_loss"] = 2.0 + 400.0 / r["n_params"] ** 0.34 + 0.05 * np.log2(r["tokens"] / r["n_params"])
    fits = fit_all(from_rows(rows), None, n_resamples=5, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=5, seed=0,
                           out_dir=tmp_path, figures={})  # was: TypeError on a complex N_opt, no report
    chinchilla = sections(text)["1"]
    assert "No compute-optimal allocation at C = " in chinchilla and "beta = -" in chinchilla
    assert "| n_opt | n/a | [n/a, n/a] |" in chinchilla
    assert "- **Loss rising with tokens**: at a fixed N, 24 of 24 steps" in text


def test_the_header_names_the_corpus_density_sections_1_to_5_fit_when_the_runs_hold_several(tmp_path):
    from tests.test_fit_laws import rows

    plain = [{**r, "data_density": {"near_or_exact_duplicate_rate": 0.0}} for r in rows()]
    dense = [{**r, "run": r["run"] + "-dense", "data_density": {"near_or_exact_duplicate_rate": 0.9}}
             for r in rows(seed=2, E=1.4)[:20]]
    fits = fit_all(from_rows(plain + dense), None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=0,
                           out_dir=tmp_path, figures={})
    header = text.split("\n## ")[0]
    assert "- Corpora of 2 densities (duplicate rate: 0.00 (32 runs), 0.90 (20 runs)): sections 1-5 fit the 32 " \
           "runs of duplicate rate 0.00, the most" in header


def test_an_allocation_the_runs_do_not_set_is_stated_as_the_law_s_and_flagged(tmp_path):
    """Cerebras-GPT's 7 sizes at 20 tokens per parameter: was "Compute-optimal allocation ...: N_opt = 4.318e+20
    parameters, T_opt = 8.878 tokens, 0.0 tokens per parameter", as if the runs had set it."""
    from tests.test_fit_laws import TRUE

    n_R = np.geomspace(1.1e8, 1.3e10, 7)
    rows = [{"run": f"r{i}", "status": "complete", "n_params": n, "tokens": 20 * n,
             "final_eval_loss": TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / (20 * n) ** TRUE["beta"]}
            for i, n in enumerate(n_R)]
    fits = fit_all(from_rows(rows), None, n_resamples=10, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=0,
                           out_dir=tmp_path, figures={})
    (line,) = [ln for ln in sections(text)["1"].splitlines() if "compute-optimal allocation" in ln.lower()]
    assert line.startswith("The fitted law's compute-optimal allocation at C = ") and "which the runs do not set " \
        "(flagged below: G, a," in line
    assert "every run is at about one tokens per parameter (20 .. 20)" in sections(text)["1"]


def test_what_the_data_cannot_pin_down_lists_each_parameter_once_with_its_remedy_once(tmp_path):
    """A law without a floor: E collapsed to 0 and its interval reaching 0 were two entries of E, the
    same remedy twice."""
    rng = np.random.default_rng(1)
    rows = [{"run": f"r{i}-{j}", "status": "complete", "n_params": n, "tokens": r * n,
             "final_eval_loss": (30 / n ** 0.15 + 40 / (r * n) ** 0.12) * np.exp(0.01 * rng.standard_normal())}
            for i, n in enumerate([1e6, 3e6, 1e7, 3e7, 1e8]) for j, r in enumerate([2, 5, 10, 20, 50])]
    fits = fit_all(from_rows(rows), None, n_resamples=20, seed=0, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=20, seed=0,
                           out_dir=tmp_path, figures={})
    entries = [line for line in sections(text)["1"].splitlines() if line.startswith("- **E**")]
    assert len(entries) == 1
    assert "collapsed to its bound 0" in entries[0] and "reaches the bound E = 0" in entries[0]
    assert entries[0].count("Remedy:") == 1 and entries[0].count("--fix E=VALUE") == 1


def test_an_isoflop_interval_of_no_width_reads_n_a_with_why(tmp_path):
    from tests.test_fit_isoflop import three_sizes_at_two_budgets
    fits = fit_all(three_sizes_at_two_budgets(), None, n_resamples=10, seed=3, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=3,
                           out_dir=tmp_path, figures={})
    isoflop = sections(text)["3"]
    assert "95% intervals (10 resamples): n/a, 2 of the used budgets were fitted to exactly 3 sizes" in isoflop
    assert " in [" not in isoflop  # was: a in [0.4516, 0.4516]
    assert "From 2 compute budgets only, a line through 2 points, not a law" in isoflop  # was: a = 0.4516 +- n/a
    assert "+- n/a" not in isoflop


def test_section_5_names_its_grouping_and_flags_a_law_on_a_censored_sample(tmp_path):
    """Was silent on both: misfit.csv's law in C was fitted per cell here and per budget by `sweep fit`,
    on 22 of 78 cells (54 open above) with nothing said beside its exponents."""
    from tests.test_fit_hyperparams import open_above_sweep
    fits = fit_all(open_above_sweep(2, 3), None, n_resamples=10, seed=3, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=3,
                           out_dir=tmp_path, figures={})
    lr = sections(text)["5"]
    assert "Per compute budget (as `sweep fit --law lr`, --by flops)" in lr
    assert "| DeepSeek (2024), in C, per compute budget | lr_opt = c C^e |" in lr
    assert "- **exponent**: fitted on 2 of the 5 compute budgets with 3 or more lr values" in lr
    assert "3 open above" in lr


def test_the_header_says_when_the_points_come_from_lr_grids_that_do_not_bracket_the_optimum(tmp_path):
    """Was silent: misfit.csv's header said "the best setting of the runs sharing them" while 56 of its
    81 points' lr grids left the optimum open: upper bounds on the tuned loss."""
    from tests.test_fit_hyperparams import GRID_CELLS, cell_table, step_lr
    table = cell_table(GRID_CELLS, step_lr, grid=range(-7, -3))  # every grid below its optimum
    fits = fit_all(table, None, n_resamples=10, seed=3, cutoff=None, compute=None, recipe=None)
    text = report_markdown(fits, curves=None, predictions=None, prediction_fraction=None, n_resamples=10, seed=3,
                           out_dir=tmp_path, figures={})
    header = text.split("\n## ")[0]
    assert ("- **Untuned points** (sections 1, 2): in 9 of the 9 (N, tokens) cells with 3 or more lr values (of 9 "
            "cells) the grid does not bracket the optimum (open 9 above): those points' best loss is an upper bound"
            in header)
