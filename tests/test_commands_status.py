"""launch/commands/status.py: `sweep status` (tables, CSV, JSON, parquet, plot) and `--wait`."""

import csv
import json

from launch.cli import main
from sweep.rundir import RunDir
from sweep.run.loop import train


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


def test_status_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["status", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_status_waits_between_checks_a_positive_number_of_seconds(tmp_path, capsys):
    assert main(["status", str(tmp_path), "--wait", "--interval", "-1"]) == 2
    assert "--interval -1.0: accepted is a number of seconds > 0" in capsys.readouterr().err


def test_status_output_paths_that_cannot_be_written_are_one_line_before_the_table(tmp_path, capsys):
    """Was: a NotADirectoryError traceback for --plot, and the training runs' disk advice for --csv."""
    (tmp_path / "afile").write_text("")
    assert main(["status", str(tmp_path), "--plot", str(tmp_path / "afile" / "x.png")]) == 2
    assert f"--plot {tmp_path / 'afile' / 'x.png'}: its folder" in capsys.readouterr().err
    assert main(["status", str(tmp_path), "--csv", str(tmp_path)]) == 2
    assert "is a folder; accepted: a file path" in capsys.readouterr().err


def test_status_upload_logs_the_table_and_plot_to_the_sweep_s_wandb_group(tiny_config, tmp_path, capsys):
    train(tiny_config("logger.mode=offline"))  # logger=none: W&B settings are still recorded
    plot = tmp_path / "scaling.png"
    assert main(["status", str(tmp_path / "runs"), "--plot", str(plot), "--upload"]) == 0
    assert "runs table and plot logged to W&B: offline in" in capsys.readouterr().out
    (report,) = (tmp_path / "runs" / "wandb").glob("offline-run-*")
    assert any((report / "files" / "media" / "table").glob("runs_*.table.json"))


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


def polls(monkeypatch, *tables):
    """runs_table answers each table in turn (the last one again after that)."""
    import launch.commands.status

    answers = list(tables)
    monkeypatch.setattr(launch.commands.status, "runs_table", lambda source: answers.pop(0) if len(answers) > 1 else answers[0])


def rows(*statuses, steps_done=0):
    return [{"status": s, "steps": 10, "steps_done": 10 if s == "complete" else steps_done} for s in statuses]


def test_waiting_off_a_terminal_prints_a_line_per_change(monkeypatch, capsys, wide_console):
    from launch.commands.status import wait

    polls(monkeypatch, rows("running", "queued"), rows("running", "queued"), rows("complete", "running"),
          rows("complete", "complete"))
    wait("sweep", interval_s=0)
    assert capsys.readouterr().out.splitlines() == ["sweep: 1 running, 1 queued", "sweep: 1 complete, 1 running"]


def test_waiting_stops_at_jobs_pending_for_a_reason_waiting_will_not_resolve(monkeypatch, capsys, wide_console):
    from launch.commands.status import wait

    stuck = [{**row, "job_reason": "PartitionConfig"} for row in rows("queued")]  # more CPUs than the node has
    polls(monkeypatch, rows("complete") + stuck)
    wait("sweep", interval_s=0)  # was: waited forever, silent
    assert capsys.readouterr().out.splitlines() == []
    polls(monkeypatch, rows("queued") + stuck, rows("complete") + stuck)  # a job that will start is waited for
    wait("sweep", interval_s=0)
    assert capsys.readouterr().out.splitlines() == ["sweep: 2 queued"]


def test_waiting_on_a_terminal_draws_a_bar_of_runs_ended_with_the_counts(monkeypatch):
    import io

    from rich.console import Console

    import launch.commands.status
    from launch.commands.status import run_fraction_done, wait

    out = io.StringIO()
    monkeypatch.setattr(launch.commands.status, "console", Console(force_terminal=True, file=out, width=150))
    polls(monkeypatch, rows("running", "queued", steps_done=5), rows("complete", "running", steps_done=5),
          rows("complete", "failed"))
    wait("sweep", interval_s=0)
    text = out.getvalue()
    assert "2/2 runs ended" in text and "1 complete, 1 failed" in text and "━" in text
    assert [run_fraction_done(r) for r in rows("running", "failed", "pending", steps_done=5)] == [0.5, 1.0, 0.5]


def test_status_shows_a_run_stopped_early_with_its_predicted_final_loss_and_counts_it_as_ended(
        tiny_config, tmp_path, capsys, wide_console):
    from launch.commands.status import run_fraction_done

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


def test_a_pending_jobs_column_gives_the_reason_slurm_gives_and_a_reason_waiting_will_not_resolve_is_said(
        tiny_config, tmp_path, capsys, wide_console, monkeypatch):
    import launch.queue
    from launch.queue import append_manifest

    folders = []
    for seed in (1, 2):
        cfg = tiny_config(f"seed={seed}")
        RunDir.for_config(cfg).write_config(cfg)
        folders.append(RunDir.for_config(cfg).path)
    append_manifest(tmp_path / "runs", [{"run": f.name, "path": str(f), "job_id": f"5_{i}", "bucket": "s"}
                                        for i, f in enumerate(folders)])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"5_0": "PENDING", "5_1": "PENDING"})
    monkeypatch.setattr(launch.queue, "pending_reasons", lambda ids: {"5_0": "PartitionConfig", "5_1": "Priority"})
    assert main(["status", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "5_0 PENDING (PartitionConfig)" in out and "5_1 PENDING (Priority)" in out  # was: "5_0 PENDING", forever
    assert "2 queued" in out
    assert f"queued: {folders[0]}: job 5_0 waits for PartitionConfig, which waiting will not resolve" in out
    assert "job 5_1 waits" not in out  # Priority: waiting resolves it


def test_a_job_pending_past_its_partition_s_nodes_is_told_which_option_to_lower(
        tiny_config, tmp_path, capsys, wide_console, monkeypatch):
    import launch.queue
    from launch.queue import append_manifest

    cfg = tiny_config()
    RunDir.for_config(cfg).write_config(cfg)
    folder = RunDir.for_config(cfg).path
    append_manifest(tmp_path / "runs", [{"run": folder.name, "path": str(folder), "job_id": "5_0", "bucket": "s"}])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"5_0": "PENDING"})
    monkeypatch.setattr(launch.queue, "pending_reasons", lambda ids: {"5_0": "PartitionConfig"})
    monkeypatch.setattr(launch.queue, "unmet_requests",
                        lambda job_id: ["nodes=2 where partition debug has 1 node: lower hydra.launcher.nodes"])
    assert main(["status", str(tmp_path / "runs")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("job 5_0 waits for PartitionConfig, which waiting will not resolve: the job asks for nodes=2 where "
            "partition debug has 1 node: lower hydra.launcher.nodes; scancel it and submit again") in out
    assert "cpus_per_task" not in out  # was: lower cpus_per_task / mem_gb / gpus_per_node, never nodes


def test_on_a_console_narrower_than_the_table_every_value_is_printed_whole(tiny_config, tmp_path, capsys,
                                                                            monkeypatch):
    """At 100 columns lr printed as `3.0…`, status `com…`, N `7,1…`."""
    from launch.commands.printing import console

    cfg = tiny_config("seed=1")
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    run.write_result({"status": "complete", "steps": 9, "steps_done": 9, "final_eval_loss": 3.1234,
                      "n_params": 71234, "tokens": 123456})
    monkeypatch.setattr(console, "width", 60)
    assert main(["status", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and "complete" in out and "3.00e-03" in out and "71,234" in out


def test_status_wait_and_the_suggest_loop_poll_at_the_one_interval(monkeypatch, tmp_path):
    """Was: 10 s written in launch/cli.py, launch/commands/status.py and launch/suggest_loop.py."""
    import inspect

    import launch.cli
    from launch.commands.status import status
    from launch.queue import POLL_INTERVAL_S
    from launch.suggest_loop import train_points

    asked = []
    monkeypatch.setattr(launch.cli, "status", lambda *args: asked.append(args[4]) or 0)
    assert main(["status", str(tmp_path), "--wait"]) == 0 and asked == [POLL_INTERVAL_S]
    assert inspect.signature(status).parameters["interval_s"].default == POLL_INTERVAL_S
    assert inspect.signature(train_points).parameters["wait_interval_s"].default == POLL_INTERVAL_S


def test_a_finished_trunk_shows_its_own_steps_not_its_longest_branch_s(tiny_config, tmp_path, capsys, wide_console):
    """Was `complete │ 56/70`: a ladder's trunk ends where its longest branch's cooldown starts."""
    cfg = tiny_config("seed=1")
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    run.write_result({"status": "complete", "role": "trunk", "steps": 70, "steps_done": 56, "n_params": 71234})
    assert main(["status", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "56/56 trunk" in out and "56/70" not in out
