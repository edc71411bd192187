"""launch/cli.py: the `sweep` command line (help, examples, overrides after options, presets)."""

import os
import subprocess
import sys

import pytest

from launch.cli import main


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


def test_brackets_in_an_error_are_printed_as_they_are(tmp_path, capsys, wide_console):
    """Was: rich read them as its markup tags: `[/nonexistent/x.txt]` a MarkupError traceback, and
    `[cosine, wsd]` dropped from the accepted values."""
    assert main(["plan", "logger=none", "data=files", f"data.paths=[{tmp_path}/x.txt],[{tmp_path}/y.txt]",
                 f"out_dir={tmp_path}"]) == 2  # two points: each error labelled by its override
    err = capsys.readouterr().err
    assert f"data.paths=[{tmp_path}/x.txt]: data.paths: '{tmp_path}/x.txt' does not exist" in err
    assert main(["plan", "optim.schedule=cosin", f"out_dir={tmp_path}"]) == 2
    assert "Invalid value 'cosin', expected one of [cosine, wsd]" in capsys.readouterr().err


def test_a_misspelt_option_shows_the_subcommands_usage_and_the_option_meant(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["fit", "runs.csv", "--bootstap", "50"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("usage: sweep fit ")  # was: the top level's usage
    assert "sweep fit: error: unrecognized arguments: --bootstap 50; did you mean --bootstrap?" in err


def test_an_option_is_read_by_its_whole_name_only(capsys):
    with pytest.raises(SystemExit) as stop:  # was: --round 1 taken for --rounds 1, and a run trained
        main(["suggest", "runs", "--target-compute", "1e14", "--round", "1"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --round 1; did you mean --rounds?" in capsys.readouterr().err


def test_a_negative_number_in_scientific_notation_is_an_options_value_and_checked(tmp_path, capsys):
    from launch.cli import negative_values_joined
    from tests.helpers import write_runs

    assert negative_values_joined(["suggest", "r.csv", "--target-compute", "-1e21", "--json"]) == [
        "suggest", "r.csv", "--target-compute=-1e21", "--json"]
    assert negative_values_joined(["fit", "--json", "runs"]) == ["fit", "--json", "runs"]
    rows = [{"run": f"r{i}", "n_params": n, "tokens": 20 * n, "final_eval_loss": 3.0 - 0.1 * i}
            for i, n in enumerate((1e6, 2e6, 4e6, 8e6))]
    runs = write_runs(tmp_path / "runs.csv", rows)
    assert main(["fit", str(runs), "--compute", "-1e21"]) == 2  # was: "expected one argument"
    assert "--compute -1e+21: accepted is a number of FLOPs > 0" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["fit", "RUNS", "--bootstrap", "5"], ["fit", "RUNS", "--law", "isoflop", "--bootstrap", "5"],
    ["fit", "RUNS", "--law", "crossover", "--bootstrap", "5"], ["report", "RUNS", "--out", "OUT", "--bootstrap", "5"],
    ["suggest", "RUNS", "--target-compute", "1e15"], ["predict", "OUT"]])
def test_a_negative_seed_is_one_error_before_any_fit(tmp_path, capsys, command):
    """Was: numpy's `ValueError: expected non-negative integer` traceback from the bootstrap."""
    from tests.helpers import write_runs

    rows = [{"run": f"r{i}{j}", "n_params": n, "tokens": k * n, "final_eval_loss": 2 + 400 / n ** 0.34 + 410 / (k * n) ** 0.28}
            for i, n in enumerate((1e6, 2e6, 4e6, 8e6)) for j, k in enumerate((5, 20, 80))]
    runs = write_runs(tmp_path / "runs.csv", rows)
    argv = [str(runs) if a == "RUNS" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    assert main([*argv, "--seed", "-1"]) == 2
    assert "error: --seed -1: accepted is a whole number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, least", [
    (["fit", "RUNS"], "0 (no intervals) or a whole number >= 2"), (["report", "RUNS", "--out", "OUT"], "a whole number >= 2"),
    (["predict", "OUT"], "a whole number >= 1"), (["suggest", "RUNS", "--target-compute", "1e15"], "a whole number >= 2")])
def test_a_bootstrap_past_max_resamples_is_one_error_before_the_source_is_read(tmp_path, capsys, command, least):
    """Was: numpy's 67 GiB allocation traceback after the fits (report: the OOM killer, no word)."""
    argv = [str(tmp_path / "absent.csv") if a == "RUNS" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    assert main([*argv, "--bootstrap", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert f"error: --bootstrap 1000000000: accepted is {least}, at most 10000 (conf/fit.yaml max_resamples" in err
    assert "absent" not in err and not (tmp_path / "out").exists()


def test_sweep_experiment_without_a_name_names_the_presets(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["experiment"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "sweep experiment NAME: give a preset's NAME; accepted: batch_ucurve" in err
    assert "overrides" not in err.splitlines()[-1]


def test_an_error_goes_to_stderr_so_that_json_on_stdout_stays_json(tmp_path):
    """Was: `error: ...` on stdout: `sweep fit X --json > out.json` kept the error as its result."""
    table = tmp_path / "runs.csv"
    table.write_text("n_params,tokens,loss\n" + "".join(f"{n},{20 * n},3.0\n" for n in (0.06, 0.5, 4, 16)))
    done = subprocess.run([sys.executable, "-m", "launch.cli", "fit", str(table), "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: n_params of {table} spans 0.06 .. 16") and "Traceback" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full to stand for a full disk")
def test_a_full_disk_under_a_commands_output_is_one_error_line_not_a_traceback(tmp_path):
    table = tmp_path / "runs.csv"
    table.write_text("n_params,tokens,loss\n" + "".join(f"{n},{20 * n},{2 + 400 / n ** 0.34 + 410 / (20 * n) ** 0.28}\n"
                                                       for n in (1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7, 6.4e7)))
    with open("/dev/full", "w") as full:  # `sweep fit ... --json > FILE` on a full disk
        done = subprocess.run([sys.executable, "-m", "launch.cli", "fit", str(table), "--json"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error: cannot write the output: [Errno 28] No space left on device. Free space and re-run" in done.stderr
