"""launch/commands/fit.py: `sweep fit` on a runs table or sweep, as YAML or JSON, with its warnings."""

import json

import pytest

from launch.cli import main
from tests.helpers import write_runs


def test_fit_of_a_runs_table_prints_the_estimates_as_json(tmp_path, capsys):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "runs.csv", rows())
    assert main(["fit", "--runs-table", str(table), "--law", "chinchilla", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["E"] == pytest.approx(1.7, rel=0.05) and out["n_runs"] == 32 and out["converged"]


def test_fit_reads_the_columns_the_user_names_and_says_so(tmp_path, capsys):
    """A table whose loss is one of several eval sets' and whose N column has its own name."""
    import csv

    from tests.test_fit_laws import rows

    with open(tmp_path / "open_lm.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["model", "params", "tokens", "c4_val", "pile_val"])
        writer.writeheader()
        writer.writerows({"model": r["run"], "params": r["n_params"], "tokens": r["tokens"],
                          "c4_val": r["final_eval_loss"] + 1, "pile_val": r["final_eval_loss"]} for r in rows())
    args = ["fit", str(tmp_path / "open_lm.csv"), "--json", "--column", "n_params=params", "--column", "loss=pile_val"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["E"] == pytest.approx(1.7, rel=0.05) and out["n_points"] == 32
    assert out["columns_read"] == {"n_params": "params (--column)", "loss": "pile_val (--column)"}


def test_fit_warns_when_the_points_scatter_about_the_law_beyond_what_the_seeds_move(tmp_path, capsys):
    """Runs drawn from a law outside the fitted form (a bump in log N of 1%) at 2 seeds of 0.1% noise."""
    import numpy as np

    rng, rows = np.random.default_rng(0), []
    for n in np.geomspace(1e6, 1e8, 8):
        for ratio in (5, 10, 20, 40):
            loss = (1.7 + 400 / n ** 0.34 + 410 / (ratio * n) ** 0.28) * (1 + 0.01 * np.sin(2 * np.log(n)))
            rows += [{"run": f"{n:.0f}-{ratio}-{s}", "n_params": n, "tokens": ratio * n, "seed": s,
                      "final_eval_loss": loss * np.exp(rng.normal(0, 0.001))} for s in (0, 1)]
    table = write_runs(tmp_path / "runs.csv", rows, ("run", "n_params", "tokens", "seed", "final_eval_loss"))
    assert main(["fit", str(table)]) == 0
    out = capsys.readouterr().out
    assert "warning: misfit: the points scatter about the law by an rms" in out and "more than the seeds move" in out
    assert main(["fit", str(table), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["misfit_test"]["p"] < 0.01


def test_fit_prints_identifiability_warnings_after_the_yaml_or_on_stderr_with_json(tmp_path, capsys):
    from tests.test_fit_laws import synthetic_rows

    table = write_runs(tmp_path / "runs.csv", synthetic_rows(1.69),
                       ("run", "n_params", "tokens", "final_eval_loss", "true_entropy_nats"))
    assert main(["fit", "--runs-table", str(table), "--compute", "1e23", "--fix", "E=true"]) == 0
    out = capsys.readouterr().out
    assert "fixed:\n  E: 1.69" in out and out.index("identifiability:") < out.index("warning: n_opt: N_opt = ")
    assert "true entropy of the synthetic corpus: 1.69 nats/token beside fitted E = 1.69" in out
    assert main(["fit", "--runs-table", str(table), "--compute", "1e23", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["identifiability"] and "warning: n_opt: " in captured.err
    assert main(["fit", "--runs-table", str(table), "--fix", "E=0"]) == 2
    assert "--fix E=0: accepted is 0 < E < the lowest loss" in capsys.readouterr().err


def test_fit_isoflop_prints_an_interval_of_no_width_as_n_a_beside_why(tmp_path, capsys):
    """Was: `a: [0.4516, 0.4516]` in the YAML beside no_width's reason; the report and its figure
    already said n/a. The JSON keeps the numbers (and no_width) for a program."""
    from tests.test_fit_isoflop import three_sizes_at_two_budgets

    fit = three_sizes_at_two_budgets()
    rows = [{"run": f"r{i}", "n_params": n, "tokens": t, "final_eval_loss": loss}
            for i, (n, t, loss) in enumerate(zip(fit.n_params_R, fit.tokens_R, fit.loss_R))]
    table = write_runs(tmp_path / "runs.csv", rows)
    assert main(["fit", str(table), "--law", "isoflop", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "  intervals:\n    a: n/a\n    b: n/a\n    n_opt: n/a\n    d_opt: n/a\n" in out
    assert "no_width: '2 of the used budgets were fitted to exactly 3 sizes" in out
    assert main(["fit", str(table), "--law", "isoflop", "--bootstrap", "20", "--json"]) == 0
    boot = json.loads(capsys.readouterr().out)["bootstrap"]
    assert boot["intervals"]["a"][0] == pytest.approx(boot["intervals"]["a"][1]) and boot["no_width"]


def test_fit_warns_when_runs_repeat_their_data_beyond_a_few_epochs(tmp_path, capsys):
    from tests.test_fit_laws import synthetic_rows

    rows = [{**row, "epochs": 1.0 if i else 12.0} for i, row in enumerate(synthetic_rows(1.69))]
    table = write_runs(tmp_path / "runs.csv", rows, ("run", "n_params", "tokens", "final_eval_loss", "epochs"))
    assert main(["fit", str(table), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["repeated_data"] == {"runs": 1, "max_epochs": 12.0, "limit": 4.0}
    assert "warning: repeated data: 1 run(s) read their training data more than 4 times over" in captured.err


def test_fit_without_a_source_or_with_too_few_runs_is_one_clear_error(tmp_path, capsys):
    assert main(["fit", "--law", "chinchilla"]) == 2
    assert "a sweep folder or W&B group, or a runs file (.csv, .tsv, .json, .jsonl, .parquet; or --runs-table FILE)" in capsys.readouterr().err
    table = tmp_path / "runs.csv"
    table.write_text("n_params,tokens,loss\n1e6,2e7,3.1\n2e6,4e7,2.9\n")
    assert main(["fit", "--runs-table", str(table)]) == 2
    assert "at least 6" in capsys.readouterr().err
    assert main(["report", "--runs-table", str(table), "--upload"]) == 2  # said before any fit
    assert "--upload logs to the sweep's W&B group" in capsys.readouterr().err


def test_fit_upload_logs_the_runs_with_their_predictions(small_sweep, capsys):
    assert main(["fit", str(small_sweep), "--law", "chinchilla", "--upload"]) == 0
    out = capsys.readouterr().out
    assert "n_runs: 6" in out and "runs table with the chinchilla fit logged to W&B: offline in" in out
    reports = sorted((small_sweep / "wandb").glob("offline-run-*"))
    (table_file,) = (reports[-1] / "files" / "media" / "table").glob("runs_*.table.json")
    logged = json.loads(table_file.read_text())
    assert "pred_chinchilla" in logged["columns"] and len(logged["data"]) == 6
    assert main(["fit", str(small_sweep), "--law", "chinchilla", "--upload", "--json"]) == 0
    captured = capsys.readouterr()  # was: the W&B line after the JSON, on stdout
    assert json.loads(captured.out)["n_runs"] == 6 and "fit logged to W&B: offline in" in captured.err
    from tests.wandb_offline import read_offline_run

    summary = read_offline_run(reports[-1]).summary
    fitted = summary.get("fits") or {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith("fits/")}
    assert "chinchilla" in json.dumps(fitted) and "alpha" in json.dumps(fitted)
    artifacts = [a for r in reports for a in read_offline_run(r).artifacts if a["type"] == "scaling-fit-chinchilla"]
    assert artifacts and all(list(a["files"]) == ["fits.json"] for a in artifacts)  # versions of <group>-fit-chinchilla


def test_fits_leave_out_a_damaged_run_with_one_line(small_sweep, tmp_path, capsys, caplog):
    import shutil

    from sweep.fit.curve_reader import read_curves

    sweep = tmp_path / "sweep"
    shutil.copytree(small_sweep, sweep, ignore=shutil.ignore_patterns("wandb", "report"))
    first = sorted(p for p in sweep.iterdir() if (p / "result.json").exists())[0]
    shutil.copytree(first, sweep / "z-bad-result")
    (sweep / "z-bad-result" / "result.json").write_text('{"status": "complete", "n_par')
    shutil.copytree(first, sweep / "z-bad-metrics")
    metrics = sweep / "z-bad-metrics" / "metrics.jsonl"
    metrics.write_text("garbage\n" + metrics.read_text())
    assert main(["fit", str(sweep), "--law", "chinchilla", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_runs"] == 7  # the runs table reads result.json only
    assert f"left out: {sweep / 'z-bad-result' / 'result.json'}: not valid JSON" in caplog.text
    curves = read_curves(sweep)
    assert len(curves.runs) == 6 and curves.excluded == {"damaged": 2}
    assert f"left out: {metrics}: line 1 is not JSON" in caplog.text


@pytest.mark.slow  # about 10 s; the comparison's numbers are test_fit_laws.py's compare tests
def test_fit_compare_prints_each_held_out_run_with_its_predictions(tmp_path, capsys, wide_console):
    from tests.test_fit_laws import rows

    flops_column = [dict(r, flops=r["flops"] * (1e8 / r["n_params"]) ** 0.5) for r in rows()]  # not 6 N T
    table = write_runs(tmp_path / "runs.csv", flops_column, ("run", "n_params", "tokens", "flops", "final_eval_loss"))
    assert main(["fit", "--runs-table", str(table), "--law", "compare", "--by", "flops",
                 "--min-tokens-per-param", "10"]) == 0
    out = capsys.readouterr().out
    assert "tokens_per_param < 10: 8" in out and "min_tokens_per_param: 10.0" in out
    assert "held-out runs (flops >= " in out and "pred chinchilla" in out and "pred subscaling" in out
    assert "per_run" not in out  # the runs are in the table, not repeated as YAML
    (held_out,) = [r for r in flops_column if r["flops"] == max(r["flops"] for r in flops_column)]
    (line,) = [line for line in out.splitlines() if f" {held_out['run']} " in line]
    assert "%" in line  # its relative errors


def test_fit_recipe_all_prints_the_recipes_side_by_side(tmp_path, capsys, wide_console):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "runs.csv", rows(recipe="a") + rows(seed=2, recipe="b", E=2.0),
                       ("run", "n_params", "tokens", "final_eval_loss", "recipe"))
    assert main(["fit", "--runs-table", str(table), "--recipe", "all", "--json"]) == 0
    fits = json.loads(capsys.readouterr().out)["recipes"]
    assert main(["fit", "--runs-table", str(table), "--recipe", "all"]) == 0
    out = capsys.readouterr().out
    (header,) = [line for line in out.splitlines() if " a " in line and " b " in line]
    (e_row,) = [line for line in out.splitlines() if line.strip(" │|").startswith("E ")]
    assert f"{fits['a']['E']:.4g}" in e_row and f"{fits['b']['E']:.4g}" in e_row
    assert header.index(" a ") < header.index(" b ")


def test_fit_warns_when_its_points_come_from_lr_grids_that_do_not_bracket_the_optimum(tmp_path, capsys):
    from tests.test_fit_hyperparams import GRID_CELLS, cell_table, step_lr

    fit = cell_table(GRID_CELLS, step_lr, grid=range(-7, -3))  # every grid below its optimum
    rows = [{"run": f"r{i}", "n_params": n, "tokens": t, "lr": lr, "final_eval_loss": loss}
            for i, (n, t, lr, loss) in enumerate(zip(fit.n_params_R, fit.tokens_R, fit.lr_R, fit.loss_R))]
    table = write_runs(tmp_path / "runs.csv", rows, ("run", "n_params", "tokens", "lr", "final_eval_loss"))
    assert main(["fit", str(table)]) == 0
    assert ("warning: untuned points: in 9 of the 9 (N, tokens) cells with 3 or more lr values (of 9 cells) the grid "
            "does not bracket the optimum (open 9 above)") in capsys.readouterr().out
