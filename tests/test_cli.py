"""launch/cli.py: `sweep plan` and `sweep status` (tables, CSV, plot)."""

import csv
import json
import re
import shutil

import pytest

from launch.cli import main, report_target
from sweep.fit.calibration import OWN_HALVES, SMALLER
from sweep.rundir import RunDir, iter_run_dirs
from sweep.run.loop import train


@pytest.fixture
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    import launch.cli

    monkeypatch.setattr(launch.cli.console, "width", 250)


def test_plan_lists_every_point_with_its_budget_without_training(tmp_path, capsys, wide_console):
    assert main(["plan", "model.d=64,128", "model.l=1,2", f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "plan: 4 runs" in out
    assert f"{12 * 64**2 * 1 + 64 * 257:,}" in out  # N of d=64, l=1
    assert "total: 4 runs (4 pending)" in out
    assert not any(tmp_path.iterdir())


def test_plan_of_a_bad_grid_is_one_clear_error(tmp_path, capsys):
    assert main(["plan", "model.d=64,100", f"out_dir={tmp_path}"]) == 2
    assert "model.d=100 is not a multiple" in capsys.readouterr().out


def test_status_shows_finished_started_and_failed_runs(tiny_config, tmp_path, capsys, wide_console):
    done = tiny_config("seed=1")
    train(done)
    started = RunDir.for_config(tiny_config("seed=2"))
    started.write_config(tiny_config("seed=2"))
    started.append_metrics({"step": 2, "train_loss": 4.0, "wall_seconds": 1.0})
    failed = RunDir.for_config(tiny_config("seed=3"))
    failed.write_config(tiny_config("seed=3"))
    failed.write_result({"status": "failed", "error": "RuntimeError: boom", "steps": 9, "d": 32})

    plot, table = tmp_path / "scaling.png", tmp_path / "runs.csv"
    assert main(["status", str(tmp_path / "runs"), "--plot", str(plot), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "3 runs" in out
    assert "1 complete, 1 failed, 1 started" in out
    assert "RuntimeError: boom" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(table.open()))
    assert sorted(r["status"] for r in rows) == ["complete", "failed", "started"]
    assert {"n_params", "flops", "final_eval_loss", "lr", "d"} <= set(rows[0])


def test_status_shows_a_damaged_run_with_its_one_line_and_every_other_run(
        tiny_config, tmp_path, capsys, wide_console):
    runs = {}
    for seed in (1, 2, 3):
        cfg = tiny_config(f"seed={seed}")
        runs[seed] = RunDir.for_config(cfg)
        runs[seed].write_config(cfg)
    runs[1].write_result({"status": "failed", "error": "RuntimeError: boom"})
    runs[2].result_file.write_text("")  # truncated by a full disk
    table = tmp_path / "runs.csv"
    assert main(["status", str(tmp_path / "runs"), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "1 failed, 1 pending, 1 damaged" in out
    assert f"damaged: {runs[2].result_file}: empty; delete it and re-run the command" in out
    rows = {r["run"]: r for r in csv.DictReader(table.open())}
    assert rows[runs[2].path.name]["status"] == "damaged"
    assert [rows[runs[s].path.name]["status"] for s in (1, 3)] == ["failed", "pending"]


def test_plan_marks_a_damaged_point_and_names_its_file(tmp_path, capsys, wide_console):
    from launch.grid import compose_grid

    run = compose_grid(["model.d=64", f"out_dir={tmp_path}"])[0].run
    run.path.mkdir()
    run.result_file.write_text('{"status": "done"}')
    assert main(["plan", "model.d=64,128", f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "total: 2 runs (1 damaged, 1 pending)" in out
    assert f"damaged: {run.result_file}: status 'done' is not one of complete, diverged, failed" in out


def test_status_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().out


def test_status_upload_logs_the_table_and_plot_to_the_sweep_s_wandb_group(tiny_config, tmp_path, capsys):
    train(tiny_config("logger.mode=offline"))  # logger=none: W&B settings are still recorded
    plot = tmp_path / "scaling.png"
    assert main(["status", str(tmp_path / "runs"), "--plot", str(plot), "--upload"]) == 0
    assert "runs table and plot logged to W&B: offline in" in capsys.readouterr().out
    (report,) = (tmp_path / "runs" / "wandb").glob("offline-run-*")
    assert any((report / "files" / "media" / "table").glob("runs_*.table.json"))


def test_a_report_from_a_wandb_group_goes_back_to_that_group():
    target = report_target("wandb:team/scaling/width", rows=[])
    assert (target["entity"], target["project"], target["group"]) == ("team", "scaling", "width")


def test_an_upload_takes_its_wandb_settings_from_a_run_that_is_not_damaged(tiny_config, tmp_path):
    from sweep.results import load_runs

    cfg = tiny_config("logger.project=my-project")
    RunDir.for_config(cfg).write_config(cfg)
    broken = tmp_path / "runs" / "a-broken"
    broken.mkdir()
    (broken / "config.yaml").write_text("logger: [project")
    rows = load_runs(tmp_path / "runs")
    assert rows[0]["status"] == "damaged"
    assert report_target(str(tmp_path / "runs"), rows)["project"] == "my-project"


def test_uploading_runs_without_wandb_settings_is_a_clear_error(tiny_config, tmp_path, capsys):
    import yaml

    cfg = tiny_config()
    train(cfg)
    config_file = RunDir.for_config(cfg).config_file
    old = yaml.safe_load(config_file.read_text())
    del old["logger"]  # as written before runs were tracked
    config_file.write_text(yaml.safe_dump(old))
    assert main(["status", str(tmp_path / "runs"), "--upload"]) == 2
    assert "has no logger settings" in capsys.readouterr().out


def test_status_json_prints_only_the_flattened_rows_on_stdout_and_parquet_writes_them(small_sweep, tmp_path,
                                                                                     capsys):
    import pandas as pd

    parquet = tmp_path / "runs.parquet"
    assert main(["status", str(small_sweep), "--json", "--parquet", str(parquet)]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)  # nothing but the JSON on stdout
    assert len(rows) == 6 and {r["status"] for r in rows} == {"complete"}
    assert len({tuple(r) for r in rows}) == 1  # every row has every column, like the CSV
    assert {"n_params", "flops", "final_eval_loss", "lr", "d"} <= set(rows[0]) and "traceback" not in rows[0]
    assert not any(isinstance(v, dict) for r in rows for v in r.values())  # nested fields dotted
    assert "6 complete" in captured.err and f"runs table written to {parquet}" in captured.err
    frame = pd.read_parquet(parquet)
    assert sorted(frame.columns) == sorted(rows[0]) and len(frame) == 6
    assert sorted(frame["n_params"]) == sorted(r["n_params"] for r in rows)


def test_fit_of_a_runs_table_prints_the_estimates_as_json(tmp_path, capsys):
    from tests.test_fit_laws import rows

    table = tmp_path / "runs.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, ["run", "n_params", "tokens", "final_eval_loss"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows())
    assert main(["fit", "--runs-table", str(table), "--law", "chinchilla", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["E"] == pytest.approx(1.7, rel=0.05) and out["n_runs"] == 32 and out["converged"]


def test_fit_prints_identifiability_warnings_after_the_yaml_or_on_stderr_with_json(tmp_path, capsys):
    from tests.test_fit_laws import synthetic_rows

    table = tmp_path / "runs.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, ["run", "n_params", "tokens", "final_eval_loss", "true_entropy_nats"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(synthetic_rows(1.69))
    assert main(["fit", "--runs-table", str(table), "--compute", "1e23", "--fix", "E=true"]) == 0
    out = capsys.readouterr().out
    assert "fixed:\n  E: 1.69" in out and out.index("identifiability:") < out.index("warning: n_opt: N_opt = ")
    assert "true entropy of the synthetic corpus: 1.69 nats/token beside fitted E = 1.69" in out
    assert main(["fit", "--runs-table", str(table), "--compute", "1e23", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["identifiability"] and "warning: n_opt: " in captured.err
    assert main(["fit", "--runs-table", str(table), "--fix", "E=0"]) == 2
    assert "--fix E=0: accepted is 0 < E < the lowest loss" in capsys.readouterr().out


@pytest.mark.slow
def test_the_fits_bootstrap_default_has_one_home_in_conf_fit_yaml(tmp_path, monkeypatch, capsys):
    """`sweep report`'s resamples and seed are conf/fit.yaml's: the command line repeats no number."""
    import dataclasses

    import launch.cli
    from sweep.fit.defaults import fit_defaults
    from tests.test_fit_laws import rows

    assert (fit_defaults().bootstrap, fit_defaults().seed) == (200, 0)  # README: 200 resamples, seed 0
    monkeypatch.setattr(launch.cli, "fit_defaults", lambda: dataclasses.replace(fit_defaults(), bootstrap=7, seed=3))
    table = tmp_path / "runs.csv"
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, ["run", "n_params", "tokens", "final_eval_loss"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows())
    assert main(["report", "--runs-table", str(table), "--out", str(tmp_path / "report")]) == 0
    boot = json.loads((tmp_path / "report" / "fits.json").read_text())["chinchilla"]["bootstrap"]
    assert (boot["n_resamples"], boot["seed"]) == (7, 3)


def test_fit_without_a_source_or_with_too_few_runs_is_one_clear_error(tmp_path, capsys):
    assert main(["fit", "--law", "chinchilla"]) == 2
    assert "a sweep folder or W&B group, or a .csv / .parquet runs file (or --runs-table FILE)" in capsys.readouterr().out
    table = tmp_path / "runs.csv"
    table.write_text("n_params,tokens,loss\n1e6,2e7,3.1\n2e6,4e7,2.9\n")
    assert main(["fit", "--runs-table", str(table)]) == 2
    assert "at least 6" in capsys.readouterr().out
    assert main(["report", "--runs-table", str(table), "--upload"]) == 2  # said before any fit
    assert "--upload logs to the sweep's W&B group" in capsys.readouterr().out


def test_fit_upload_logs_the_runs_with_their_predictions(small_sweep, capsys):
    assert main(["fit", str(small_sweep), "--law", "chinchilla", "--upload"]) == 0
    out = capsys.readouterr().out
    assert "n_runs: 6" in out and "runs table with the chinchilla fit logged to W&B: offline in" in out
    reports = sorted((small_sweep / "wandb").glob("offline-run-*"))
    (table_file,) = (reports[-1] / "files" / "media" / "table").glob("runs_*.table.json")
    logged = json.loads(table_file.read_text())
    assert "pred_chinchilla" in logged["columns"] and len(logged["data"]) == 6
    from tests.wandb_offline import read_offline_run

    summary = read_offline_run(reports[-1]).summary
    fitted = summary.get("fits") or {k.split("/", 1)[1]: v for k, v in summary.items() if k.startswith("fits/")}
    assert "chinchilla" in json.dumps(fitted) and "alpha" in json.dumps(fitted)
    artifacts = [a for r in reports for a in read_offline_run(r).artifacts if a["type"] == "scaling-fit-chinchilla"]
    assert artifacts and all(list(a["files"]) == ["fits.json"] for a in artifacts)  # versions of <group>-fit-chinchilla


def test_fits_leave_out_a_damaged_run_with_one_line(small_sweep, tmp_path, capsys, caplog):
    import shutil

    from sweep.fit.table import read_curves

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


def test_a_small_real_sweep_runs_through_sweep_report(small_sweep, capsys):
    out_dir = small_sweep / "report"
    assert main(["report", str(small_sweep), "--bootstrap", "20", "--upload"]) == 0
    out = capsys.readouterr().out
    assert f"report written to {out_dir / 'report.md'}" in out and "skipped isoflop" in out
    markdown = (out_dir / "report.md").read_text()
    assert "Approach 3" in markdown and "![" in markdown
    for figure in ("loss_vs_n.png", "loss_vs_flops.png", "residuals.png", "predicted_vs_actual.png"):
        assert (out_dir / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## 7. Final loss predicted from the first part of each curve" in markdown
    with open(out_dir / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and all(float(r["pred_chinchilla"]) > 0 for r in rows)
    assert json.loads((out_dir / "fits.json").read_text())["chinchilla"]
    assert "runs with predictions, figures and fits logged to W&B: offline in" in out
    reports = sorted((small_sweep / "wandb").glob("offline-run-*"))
    assert any((reports[-1] / "files" / "media" / "images").glob("loss_vs_n_*.png"))
    from tests.wandb_offline import read_offline_run

    (artifact,) = [a for r in reports for a in read_offline_run(r).artifacts if a["type"] == "scaling-report"]
    assert artifact["name"] == f"{small_sweep.name}-report"
    assert {"report.md", "runs.csv", "fits.json", "loss_vs_n.png", "residuals.png"} <= set(artifact["files"])


def test_the_demo_runs_the_grid_and_folder_of_conf_demo_yaml(monkeypatch, tmp_path):
    """`sweep demo` names conf/demo.yaml and takes its out_dir from there: no grid or folder in code."""
    import launch.cli

    calls = []
    conf_file = launch.cli.conf_file
    monkeypatch.setattr(launch.cli, "conf_file", lambda name: {"out_dir": str(tmp_path / "demo-runs")}
                        if name == "demo.yaml" else conf_file(name))
    monkeypatch.setattr(launch.cli, "prepare", lambda overrides, config_name, **kwargs:
                        calls.append((config_name, overrides)) or 0)
    monkeypatch.setattr(launch.cli.subprocess, "call", lambda cmd: calls.append(cmd) or 1)
    monkeypatch.setattr(launch.cli, "status", lambda out_dir, **kwargs: calls.append(out_dir))
    assert main(["demo"]) == 1
    assert calls[0] == ("demo", [f"out_dir={tmp_path / 'demo-runs'}"])  # its synthetic corpus, generated first
    assert calls[1][-3:] == ["--config-name", "demo", f"out_dir={tmp_path / 'demo-runs'}"]
    assert calls[2] == tmp_path / "demo-runs"


def test_status_shows_tokens_per_param_and_its_csv_flattens_nested_fields(tiny_config, tmp_path, capsys,
                                                                          wide_console):
    run = RunDir.for_config(tiny_config("budget.tokens_per_param=7"))
    run.write_config(tiny_config("budget.tokens_per_param=7"))
    run.write_result({"status": "failed", "error": "RuntimeError: boom", "tokens_per_param": 7,
                      "data_density": {"exact_duplicate_rate": 0.25, "near_duplicate_rate": 0.5}})
    table = tmp_path / "runs.csv"
    assert main(["status", str(tmp_path / "runs"), "--csv", str(table)]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "status" in line and "seed" in line)
    assert "tokens/param" in header
    row, = csv.DictReader(table.open())
    assert row["tokens_per_param"] == "7"
    assert (row["data_density.exact_duplicate_rate"], row["data_density.near_duplicate_rate"]) == ("0.25", "0.5")
    assert "data_density" not in row  # numbers, not a Python dict's text


def write_runs(path, rows, columns=("run", "n_params", "tokens", "final_eval_loss")):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


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


def test_status_has_a_column_for_every_other_setting_that_differs_among_the_runs(tiny_config, tmp_path, capsys,
                                                                                 wide_console):
    """Two runs alike in the fixed columns but for their warmup and recipe: status shows both
    settings, so no two rows look alike; settings all runs share, and where runs go or how often
    they log, get no column."""
    configs = [tiny_config("optim.warmup_steps=2", "recipe=short", "train.log_every=3"),
               tiny_config("optim.warmup_steps=5", "recipe=long", "train.log_every=7")]
    for cfg in configs:
        RunDir.for_config(cfg).write_config(cfg)
    assert main(["status", str(tmp_path / "runs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "status" in line and "seed" in line)
    assert "optim.warmup_steps" in header and "recipe" in header
    assert "train.log_every" not in header and "model.seq_len" not in header and "out_dir" not in header
    columns = [cell.strip() for cell in header.split("┃")]
    rows = [[cell.strip() for cell in line.split("│")] for line in lines if "pending" in line and "│" in line]
    assert sorted((row[columns.index("optim.warmup_steps")], row[columns.index("recipe")]) for row in rows) == [
        ("2", "short"), ("5", "long")]


def test_the_demo_is_a_grid_of_3_widths_by_3_token_budgets_on_the_synthetic_corpus(tmp_path):
    """What the README says of `sweep demo`: 3 widths x 3 token budgets (5, 10, 20 tokens per
    parameter) on data=synthetic, whose entropy rate is known, with fixed seeds (reproducible),
    on the CPU, each run's folder named with its width and token budget."""
    from launch.grid import compose_grid
    from sweep.data.synthetic import entropy_rate, synthetic_spec

    grid = compose_grid([f"out_dir={tmp_path}"], config_name="demo")
    assert sorted((p.cfg.model.d, p.cfg.budget.tokens_per_param) for p in grid) == [
        (d, tpp) for d in (32, 48, 64) for tpp in (5, 10, 20)]
    assert {p.cfg.data.source.value for p in grid} == {"synthetic"}
    assert {(p.cfg.seed, p.cfg.data.synthetic.seed, p.cfg.train.device.value) for p in grid} == {(0, 0, "cpu")}
    assert len({entropy_rate(synthetic_spec(p.cfg.data)) for p in grid}) == 1
    assert len({p.run.path.name.rsplit("-", 1)[0] for p in grid}) == 9  # no two runs' names look alike
    assert all(f"d{p.cfg.model.d}-" in p.run.path.name and f"-tpp{p.cfg.budget.tokens_per_param:g}-" in p.run.path.name
               for p in grid)


def test_the_demo_s_last_line_sets_the_fitted_e_beside_the_corpus_s_true_entropy():
    from launch.cli import entropy_line

    law = {"E": 3.41, "bootstrap": {"intervals": {"E": [3.37, 3.44]}}}
    synthetic = [{"true_entropy_nats": 3.394}] * 2
    assert entropy_line(law, synthetic) == ("fitted E = 3.410 [3.370, 3.440] nats/token; true entropy rate of the "
                                            "corpus h = 3.394 (inside E's interval), E - h = +0.016")
    assert "(outside E's interval)" in entropy_line({**law, "E": 3.5, "bootstrap": {"intervals": {"E": [3.45, 3.6]}}},
                                                    synthetic)
    assert entropy_line({"E": 1.2}, [{"true_entropy_nats": None}]) == "fitted E = 1.200 nats/token"  # a real corpus


def test_sweep_predict_tables_each_run_s_predicted_final_loss(small_sweep, capsys, wide_console):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "final eval loss predicted from the loss curve, each cut at 0.5 of its steps" in out
    assert "95% interval" in out and "50% (312/625)" in out  # the longest run: d=48, 2 tokens per parameter
    assert "5 of 6 runs predicted; over the 5 finished: median |error|" in out  # d16 at 2 tokens/param: still in
    # its initial descent at half its 113 steps
    assert "caution: " in out and "have intervals calibrated on the finished smaller runs" in out  # d32, d48
    assert "have the bootstrap's interval only" in out and "with no finished smaller run" in out  # d16


def test_sweep_predict_with_a_floor_says_which_run_each_prediction_came_from(small_sweep, capsys, wide_console):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20", "--floor", "0"]) == 0
    out = capsys.readouterr().out
    assert "from the loss curve or a finished run of another size (floor E = 0.0)" in out and "┃ from " in out
    assert out.count("d16-l1-b4-lr3.0e-03") >= 2  # the d32 runs' reference (the nearest smaller size)
    assert "predicted from a finished run of another size: on that benchmark their bands held it" in out
    assert main(["predict", str(small_sweep), "--floor", "-1"]) == 2
    assert "--floor '-1': accepted is the irreducible loss E in nats/token" in capsys.readouterr().out
    # an 'auto' floor with too few finished pairs: one line per reason, naming the runs it holds for
    assert main(["predict", str(small_sweep), "--at-fraction", "0.5", "--bootstrap", "20", "--floor", "auto"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("not from a reference")]
    assert len(lines) == 2, lines  # found 0 pairs (d16, d32: 4 runs), found 2 pairs (the 2 d48 runs)
    assert any(line.startswith("not from a reference, 4 runs (d") and "found 0 finished pairs" in line for line in lines)
    assert any(line.count("d48-") == 2 and "found 2 finished pairs" in line for line in lines)


def test_sweep_predict_cautions_about_intervals_only_where_part_of_a_curve_was_seen(small_sweep, capsys):
    assert main(["predict", str(small_sweep), "--json", "--bootstrap", "20"]) == 0
    assert json.loads(capsys.readouterr().out)["caution"] is None  # finished runs, seen whole
    assert main(["predict", str(small_sweep), "--at-fraction", "0.3", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    seen = [r["fraction_seen"] for r in result["runs"] if not r["skipped"]]
    assert seen and all(f < 1 for f in seen)
    calibration = [r["calibration"] for r in result["runs"] if not r["skipped"]]
    calibrated = sum(c is not None and c["runs"] > 0 and c["on"] == SMALLER for c in calibration)
    own = sum(c is not None and c["runs"] > 0 and c["on"] == OWN_HALVES for c in calibration)
    unmeasured = sum(c is not None and c["runs"] == 0 for c in calibration)
    alone = sum(c is None for c in calibration)
    assert calibrated + own + unmeasured + alone == len(seen) and calibrated >= 1
    assert (f"{calibrated} predicted by the curve law from part of their steps have intervals calibrated on the "
            "finished smaller runs" in result["caution"]) == (calibrated > 0)
    assert (f"{own} predicted by the curve law from part of their steps, with no finished smaller run, have intervals "
            "calibrated on their group's own first halves" in result["caution"]) == (own > 0)
    assert (f"{unmeasured + alone} predicted by the curve law from part of their steps have the bootstrap's interval "
            f"only ({unmeasured} because the law could predict none of the finished smaller runs at that fraction, "
            f"{alone} with no finished smaller run and no first half it could predict)" in result["caution"]) == \
        (unmeasured + alone > 0)


def test_sweep_predict_of_one_width_cautions_that_its_intervals_are_calibrated_on_their_own_first_halves(
        small_sweep, tmp_path, capsys):
    for run in iter_run_dirs(small_sweep):
        if run.path.name.startswith("d48-"):
            shutil.copytree(run.path, tmp_path / run.path.name)
    assert main(["predict", str(tmp_path), "--at-fraction", "0.5", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["calibration"]["on"] for r in result["runs"]] == [OWN_HALVES, OWN_HALVES]
    assert result["caution"].startswith("2 predicted by the curve law from part of their steps, with no finished "
                                        "smaller run, have intervals calibrated on their group's own first halves")


def test_sweep_predict_json_holds_every_run_and_the_summary(small_sweep, capsys):
    assert main(["predict", str(small_sweep), "--at-fraction", "0.05", "--json", "--bootstrap", "20"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["at_fraction"] == 0.05 and len(result["runs"]) == 6
    skipped = [r for r in result["runs"] if r["skipped"]]
    assert skipped and all("the curve law needs at least 8" in r["skipped"] for r in skipped)
    assert all(r["actual"] is not None for r in result["runs"])  # finished runs: the actual loss beside
    predicted = [r for r in result["runs"] if not r["skipped"]]
    assert all(len(r["interval"]) == 2 and r["error"] == pytest.approx(r["predicted"] - r["actual"])
               for r in predicted)
    assert result["summary"]["skipped"] == len(skipped)


@pytest.mark.parametrize("args, message", [
    (["--at-fraction", "0"], "--at-fraction 0.0: accepted is a fraction of each run's steps in (0, 1]"),
    (["--at-fraction", "1.2"], "--at-fraction 1.2: accepted is a fraction"),
    (["--bootstrap", "0"], "--bootstrap 0: accepted is an integer >= 1"),
])
def test_sweep_predict_bad_input_is_one_clear_error(tmp_path, capsys, args, message):
    assert main(["predict", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().out
    assert main(["predict", str(tmp_path)]) == 2
    assert "holds no run folders" in capsys.readouterr().out


def test_sweep_help_says_how_to_train_and_each_subcommand_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    page = capsys.readouterr().out
    assert "python -m sweep.train" in page and "sweep-train" in page and "python -m sweep.train --help" in page
    for name in ("plan", "prepare", "status", "fit", "report", "predict", "sync", "demo", "completion"):
        with pytest.raises(SystemExit):
            main([name, "--help"])
        examples = capsys.readouterr().out.split("examples:\n")[1]
        assert examples.strip() and all(f"sweep {name}" in line for line in examples.strip().splitlines())


# --- sweep status --wait: follows a sweep until no run is queued or running ---------------------

def polls(monkeypatch, *tables):
    """runs_table answers each table in turn (the last one again after that)."""
    import launch.cli

    answers = list(tables)
    monkeypatch.setattr(launch.cli, "runs_table", lambda source: answers.pop(0) if len(answers) > 1 else answers[0])


def rows(*statuses, steps_done=0):
    return [{"status": s, "steps": 10, "steps_done": 10 if s == "complete" else steps_done} for s in statuses]


def test_waiting_off_a_terminal_prints_a_line_per_change(monkeypatch, capsys, wide_console):
    from launch.cli import wait

    polls(monkeypatch, rows("running", "queued"), rows("running", "queued"), rows("complete", "running"),
          rows("complete", "complete"))
    wait("sweep", interval_s=0)
    assert capsys.readouterr().out.splitlines() == ["sweep: 1 running, 1 queued", "sweep: 1 complete, 1 running"]


def test_waiting_on_a_terminal_draws_a_bar_of_runs_ended_with_the_counts(monkeypatch):
    import io

    from rich.console import Console

    import launch.cli
    from launch.cli import run_fraction_done, wait

    out = io.StringIO()
    monkeypatch.setattr(launch.cli, "console", Console(force_terminal=True, file=out, width=150))
    polls(monkeypatch, rows("running", "queued", steps_done=5), rows("complete", "running", steps_done=5),
          rows("complete", "failed"))
    wait("sweep", interval_s=0)
    text = out.getvalue()
    assert "2/2 runs ended" in text and "1 complete, 1 failed" in text and "━" in text
    assert [run_fraction_done(r) for r in rows("running", "failed", "pending", steps_done=5)] == [0.5, 1.0, 0.5]


def test_status_shows_a_run_stopped_early_with_its_predicted_final_loss_and_counts_it_as_ended(
        tiny_config, tmp_path, capsys, wide_console):
    from launch.cli import run_fraction_done

    stopped_cfg = tiny_config("early_stop.enabled=true", "optim.lr=1e-5")
    stopped = RunDir.for_config(stopped_cfg)
    stopped.write_config(stopped_cfg)
    decision = {"run": stopped.path.name, "action": "stop", "predicted": 5.4321, "interval": [5.1, 5.7],
                "reason": "its interval [5.1000, 5.7000] lies above the best's by more than 0.00%"}
    stopped.write_result({"status": "stopped_early", "steps": 80, "steps_done": 20, "final_eval_loss": 6.0,
                          "predicted_final_eval_loss": 5.4321, "predicted_interval": [5.1, 5.7],
                          "early_stop": decision})
    assert main(["status", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "stopped_early" in out and "1 stopped_early" in out
    assert "5.4321 [5.1000, 5.7000]" in out and "predicted" in out  # the column, shown when a run was stopped
    assert f"stopped early: {stopped.path}: predicted final eval loss 5.4321 [5.1000, 5.7000]; its interval" in out
    assert run_fraction_done({"status": "stopped_early", "steps": 80, "steps_done": 20}) == 1.0  # ended


def test_plan_of_an_early_stopped_grid_lists_probe_and_rest_jobs_and_the_bound_on_the_saving(tmp_path, capsys,
                                                                                          wide_console):
    grid = ["model.d=64", "optim.lr=1e-3,3e-3,1e-2", "early_stop.enabled=true"]
    assert main(["plan", *grid, f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "plan: 6 jobs" in out and out.count("│ probe ") == 3 and out.count("│ rest ") == 3
    saving = re.search(r"if all but each group's best stop at their probe step: saving at most (\d+)% of the compute "
                       r"\(a bound", out)
    assert saving and 50 <= int(saving[1]) <= 55  # 1 - (3 x 1/4 + 3/4) / 3, each P rounded down to a log step
    assert not any(tmp_path.iterdir())


# `sweep suggest`: the next runs (sweep/fit/suggest.py) on the candidates of sweep/fit/candidates.py

@pytest.fixture
def law_table(tmp_path):
    """32 runs of a known Chinchilla law with 0.2% noise (tests/test_fit_laws.py), as a CSV file."""
    from tests.test_fit_laws import rows

    return write_runs(tmp_path / "runs.csv", rows(), ("run", "n_params", "tokens", "flops", "final_eval_loss"))


def test_suggest_tables_the_runs_proposed_and_says_a_table_file_gives_no_command(law_table, capsys, wide_console):
    assert main(["suggest", str(law_table), "--target-compute", "1e21", "--count", "2", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "criterion: the most of the targets' variance removed by 2 runs; targets: log L*(C), log N_opt(C)" in out
    (loss_row,) = [line for line in out.splitlines() if "L*(C)" in line and ".." in line]
    assert loss_row.count("..") == 2 and "x 0." in loss_row  # now, expected after, a narrower width
    assert "2 runs proposed of" in out and "GPU-hours*" in out
    assert "assumed MFU 0.35 x the h100-sxm bf16 peak" in out  # conf/hydra/launcher/slurm.yaml's
    labels = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ N") and "-tpp" in line]
    assert len(labels) == 2 and all(label.startswith("N") for label in labels)
    assert "no command line: a table file has no configs" in out and "python -m sweep.train" not in out


def test_suggest_json_gives_each_proposal_its_gpu_hours_and_command(law_table, capsys):
    assert main(["suggest", str(law_table), "--target-compute", "1e21", "--budget", "2e19", "--bootstrap", "20",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == 2e19 and 0 < out["flops"] <= 2e19 and "within the budget" in out["criterion"]
    assert set(out["now"]) == set(out["expected"]) == {"loss", "n_opt"}
    assert out["proposals"] and all(p["gpu_hours"] > 0 and p["command"] is None for p in out["proposals"])
    assert out["gpu_hours"] == pytest.approx(sum(p["gpu_hours"] for p in out["proposals"]))
    assert out["no_command"].startswith("a table file has no configs")


@pytest.mark.slow  # about 15 s (a sweep trained for it); the proposals' commands are test_suggest_json_gives_each_proposal_its_gpu_hours_and_command's, a folder's candidates test_fit_suggest.py's
def test_suggest_on_a_sweep_folder_prints_the_command_that_trains_each_run(tiny_config, tmp_path, capsys,
                                                                           wide_console):
    from tests.test_fit_candidates import finished_run

    for d in (16, 32, 48, 64):
        for tokens_per_param in (1, 2, 4):
            cfg = tiny_config(f"model.d={d}", "model.head_dim=16", f"budget.tokens_per_param={tokens_per_param}")
            from sweep.budget import compute_budget

            b = compute_budget(cfg)
            loss = 1.7 + 400 / b.n_params ** 0.34 + 410 / b.tokens ** 0.28
            finished_run(tiny_config, d, tokens_per_param, loss * (1 + 0.002 * ((d + tokens_per_param) % 3 - 1)))
    assert main(["suggest", str(tmp_path / "runs"), "--target-compute", "1e13", "--count", "2", "--bootstrap", "20",
                 "--candidates", "model.d=80,96 budget.tokens_per_param=2,4"]) == 0
    out = capsys.readouterr().out
    assert "candidates: the config of d64-" in out and "model.d=80,96" in out
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("python -m sweep.train")]
    assert len(commands) == 2
    for command in commands:
        assert "model.head_dim=16" in command and re.search(r"model\.d=(80|96)\b", command)
        assert re.search(r"budget\.tokens_per_param=[24]\.0\b", command)


@pytest.mark.slow  # about 19 s; the replay itself (rounds, baselines at the same compute, held-out runs) is test_fit_replay.py's
def test_suggest_replay_compares_the_active_choice_with_the_usual_designs(tmp_path, capsys, wide_console):
    table = known_law_table(tmp_path)
    assert main(["suggest", "--replay", str(table), "--bootstrap", "20", "--growth", "10"]) == 0
    out = capsys.readouterr().out
    assert "replay of the active choice, chinchilla law, 20 bootstrap resamples (seed 0)" in out
    assert "seed design (7 runs): n0-t0, n0-t1, n1-t0, n0-t2, n1-t1, n2-t0, n1-t2" in out  # the cheapest corner
    assert "held out (3 runs): n3-t0, n3-t1, n3-t2" in out
    assert "target compute: 1.08e+17 FLOPs (the held-out runs' median)" in out
    for design in ("active", "random", "grid", "spread", "oracle"):
        assert re.search(rf"│ {design} +│", out)
    assert "expected / whole" in out
    assert "the whole pool: held-out error" in out
    assert "within 10% of the whole pool's held-out error from then on, from: active " in out
    assert re.search(r"the oracle expects to be within 10% of the whole pool's error from \d+% of its compute: no design "
                     "can expect it for less", out)


@pytest.mark.slow  # about 15 s (a replay); the record is test_fit_replay.py's to_dict test, the command the replay test above
def test_suggest_replay_json_is_the_replay_s_record_with_conf_s_replay_resamples(tmp_path, capsys, monkeypatch):
    import dataclasses

    import sweep.fit.replay
    from sweep.fit.defaults import fit_defaults

    table = known_law_table(tmp_path)
    fewer = dataclasses.replace(fit_defaults(), replay_resamples=20)
    monkeypatch.setattr(sweep.fit.replay, "fit_defaults", lambda: fewer)
    assert main(["suggest", "--replay", str(table), "--growth", "10", "--json"]) == 0  # no --bootstrap: replay_resamples
    out = json.loads(capsys.readouterr().out)
    assert out["growth"] == 10 and out["resamples"] == 20 and len(out["heldout"]) == 3
    assert set(out["rounds"][0]["evaluations"]) == {"active", "random", "grid", "spread", "oracle"}
    assert set(out["reached_full_error_at"]) == {"active", "random", "grid", "spread", "oracle"}
    assert 0 < out["oracle_within"] <= 1 and out["full"]["expected_vs_full"] == 1.0


def known_law_table(tmp_path):
    """4 sizes x 3 token budgets of a known Chinchilla law, without noise."""
    rows = [{"run": f"n{i}-t{j}", "n_params": n, "tokens": n * r,
             "final_eval_loss": 1.7 + 400 / n ** 0.34 + 410 / (n * r) ** 0.28}
            for i, n in enumerate((1e6, 3e6, 1e7, 3e7)) for j, r in enumerate((5, 20, 80))]
    return write_runs(tmp_path / "known.csv", rows)


@pytest.mark.parametrize("args, message", [
    (["--target-compute", "1e30"], "--target-compute 1e+30: accepted is a number of FLOPs from the smallest run's"),
    (["--target-compute", "1e21", "--budget", "1e10"], "--budget 1e+10 FLOPs is smaller than the cheapest candidate"),
    (["--target-compute", "1e21", "--count", "0"], "--count 0: accepted is a whole number >= 1"),
    (["--target-compute", "1e21", "--candidates", "n_params=1e6 budget.tokens_per_param=5"],
     "no candidate left to propose"),  # the only candidate was run already
    (["--target-compute", "1e21", "--candidates", "model.d=64"], "--candidates 'model.d=64': accepted for a table"),
    (["--target-compute", "1e21", "--candidates", "n_params=many"], "n_params='many': accepted is a number > 0"),
    ([], "--target-compute C is required"),
    (["--target-compute", "1e21", "--growth", "2"], "--growth: taken only with --replay TABLE"),
])
def test_suggest_s_bad_inputs_are_one_clear_error(law_table, capsys, wide_console, args, message):
    assert main(["suggest", str(law_table), "--bootstrap", "20", *args]) == 2
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_suggest_with_too_few_runs_says_what_the_fit_needs(tmp_path, capsys):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "few.csv", rows()[:3])
    assert main(["suggest", str(table), "--target-compute", "1e16"]) == 2
    assert "the 3 runs give 3 points to fit (the best run of each model size and token count): the chinchilla law " \
           "(5 parameters) needs at least 6" in capsys.readouterr().out


def test_an_experiment_preset_runs_end_to_end_at_a_tiny_size_and_states_its_verdict(tmp_path, capsys, wide_console):
    """`sweep experiment lr_ucurve` with tiny overrides: its corpus prepared, its grid trained here
    (each run in its own process), its report opening with the finding's verdict."""
    out_dir = tmp_path / "lr"
    tiny = ["model.d=16", "model.l=1", "model.seq_len=32", "budget.tokens_per_param=2", "optim.warmup_steps=2",
            "optim.lr=1e-3,1e-2,1e-1", "train.log_every=4", "train.eval_every=20", "train.precision=fp32",
            "data.eval_tokens=2048", "logger=none", f"out_dir={out_dir}"]
    assert main(["experiment", "lr_ucurve", *tiny]) == 0
    out = capsys.readouterr().out
    assert "lr_ucurve: cannot tell from these runs: " in out  # one size: whether the optimum moves is untested
    report = (out_dir / "report" / "report.md").read_text()
    assert "## Findings" in report and "### lr_ucurve: cannot tell from these runs" in report
    assert (out_dir / "report" / "finding_lr_ucurve.png").is_file()
    assert len(list(out_dir.glob("d16-l1-b8-lr*"))) == 3


def test_an_unknown_experiment_is_one_error_naming_the_presets(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["experiment", "lr_ucurves"])
    assert stop.value.code == 2
    assert "invalid choice: 'lr_ucurves' (choose from 'batch_ucurve', 'batch_vs_loss'" \
        in capsys.readouterr().err


def test_overrides_after_an_option_are_overrides_and_anything_else_is_refused(tmp_path, capsys, wide_console):
    assert main(["plan", "--config-name", "demo", "model.d=32", f"out_dir={tmp_path}", "--config-name", "demo",
                 "optim.lr=2e-3"]) == 0
    out = capsys.readouterr().out
    assert "2.00e-03" in out and "total: 3 runs" in out  # d32 x the demo's 3 token budgets, at the lr given last
    with pytest.raises(SystemExit) as stop:
        main(["plan", "--config-name", "demo", "--bogus", "model.d=32"])
    assert stop.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_sweep_experiment_without_a_name_names_the_presets(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["experiment"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "sweep experiment NAME: give a preset's NAME; accepted: batch_ucurve" in err
    assert "overrides" not in err.splitlines()[-1]
