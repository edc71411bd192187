"""launch/commands/plan.py: `sweep plan` lists a grid's runs (or jobs) with their budgets, without training."""

import re

import pytest

from launch.cli import main
from tests.helpers import slurm_tools


def test_plan_lists_every_point_with_its_budget_without_training(tmp_path, capsys, wide_console):
    assert main(["plan", "model.d=64,128", "model.l=1,2", f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "plan: 4 runs" in out
    assert f"{12 * 64**2 * 1 + 64 * 257:,}" in out  # N of d=64, l=1
    assert "total: 4 runs (4 pending)" in out
    assert not any(tmp_path.iterdir())


def test_plan_names_what_would_stop_the_launch(tmp_path, capsys, wide_console):
    cache = tmp_path / "cache"
    assert main(["plan", "model.d=64,128", "data=synthetic", f"data.cache_dir={cache}", f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "plan: 2 runs" in out and "not ready to launch" in out and "data=synthetic is not prepared" in out
    assert not any(tmp_path.iterdir())


def test_plan_of_a_bad_grid_is_one_clear_error(tmp_path, capsys):
    assert main(["plan", "model.d=64,100", f"out_dir={tmp_path}"]) == 2
    assert "model.d=100 is not a multiple" in capsys.readouterr().err
    assert main(["plan", "modle.d=64", f"out_dir={tmp_path}"]) == 2  # as sweep.train says it (was: Hydra's words)
    assert "unknown key 'modle' in the config; accepted keys: model" in capsys.readouterr().err
    assert main(["plan", "+experiment=nope", f"out_dir={tmp_path}"]) == 2  # was: Hydra's 50-line traceback
    assert "Could not find 'experiment/nope'; Available options in 'experiment': batch_ucurve" in capsys.readouterr().err


def test_plan_marks_a_damaged_point_and_names_its_file(tmp_path, capsys, wide_console):
    from launch.grid import compose_grid

    run = compose_grid(["model.d=64", f"out_dir={tmp_path}"])[0].run
    run.path.mkdir()
    run.result_file.write_text('{"status": "done"}')
    assert main(["plan", "model.d=64,128", f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "total: 2 runs (1 damaged, 1 pending)" in out
    assert f"damaged: {run.result_file}: status 'done' is not one of complete, diverged, failed" in out


def test_plan_of_an_early_stopped_grid_lists_probe_and_rest_jobs_and_the_bound_on_the_saving(tmp_path, capsys,
                                                                                          wide_console):
    grid = ["model.d=64", "optim.lr=1e-3,3e-3,1e-2", "early_stop.enabled=true", "hydra/launcher=local"]
    assert main(["plan", *grid, f"out_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert "plan: 6 jobs" in out and out.count("│ probe ") == 3 and out.count("│ rest ") == 3
    saving = re.search(r"if all but each group's best stop at their probe step: saving at most (\d+)% of the compute "
                       r"\(a bound", out)
    assert saving and 50 <= int(saving[1]) <= 55  # 1 - (3 x 1/4 + 3/4) / 3, each P rounded down to a log step
    assert not any(tmp_path.iterdir())


def test_plan_of_an_early_stopped_grid_whose_probes_are_too_short_to_fit_says_so(tmp_path, capsys, wide_console):
    grid = ["optim.lr=1e-3,3e-3,1e-2", "early_stop.enabled=true", "hydra/launcher=local", f"out_dir={tmp_path}"]
    assert main(["plan", "model.d=512", *grid]) == 0  # 2,901 steps, a probe at 720: 43 records past the warmup
    assert "train-loss records past" not in capsys.readouterr().out
    assert main(["plan", "model.d=64", *grid]) == 0  # 48 steps, a probe at 10: one record past the warmup
    out = " ".join(capsys.readouterr().out.split())
    assert "but 3 of 3 runs hold only 1 train-loss record past their warmup at their last decision step, where " \
           "the curve law needs 8: they cannot be stopped by it" in out


def test_a_wsd_key_given_to_cosine_runs_is_said_to_change_nothing(tmp_path, capsys, wide_console):
    """Was: silent, the runs being the default's (the same folder) whatever the value."""
    assert main(["plan", "model.d=64,128", "optim.cooldown_fraction=0.3", f"out_dir={tmp_path}"]) == 0
    assert ("note: optim.cooldown_fraction=0.3 (2 runs): read by optim.schedule=wsd alone; with cosine it changes "
            "nothing") in capsys.readouterr().out
    assert main(["plan", "optim.schedule=wsd", "optim.cooldown_fraction=0.3", f"out_dir={tmp_path}"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_early_stopping_settings_that_stop_nothing_are_said_in_the_plan(tmp_path, capsys, wide_console):
    """Was silent: a fraction before the first log step (the demo's 35-step runs logging every 10 at
    the default 0.25, or early_stop.fraction=0.001, again_at dropped with it), or early_stop keys
    given without early_stop.enabled=true, planned plain runs with no word."""
    grid = ["model.d=64", "optim.lr=1e-3,3e-3", f"out_dir={tmp_path}"]  # 48 steps, train.log_every=10
    assert main(["plan", *grid, "hydra/launcher=local", "early_stop.enabled=true", "early_stop.fraction=0.001",
                 "early_stop.again_at=[0.5]"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("note: early_stop.enabled=true, but 2 of 2 runs are not early-stopped: early_stop.fraction=0.001 of "
            "their 48 steps falls before their first log step (train.log_every=10), so they train to their end, "
            "early_stop.again_at's decisions dropped too; accepted: a fraction of at least train.log_every / steps "
            "= 0.208, or a smaller train.log_every") in out
    assert main(["plan", *grid, "early_stop.fraction=0.9", "early_stop.again_at=[0.95]"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("note: early_stop.fraction=0.9 (2 runs), early_stop.again_at=[0.95] (2 runs): read with "
            "early_stop.enabled=true alone; without it every run trains to its end") in out
    assert main(["plan", *grid, "hydra/launcher=local", "early_stop.enabled=true", "early_stop.fraction=0.5"]) == 0  # probed at 20
    assert "note:" not in capsys.readouterr().out


def test_plan_under_slurm_gives_each_jobs_gpu_hours_and_bucket_as_the_dry_run_does(tmp_path, capsys, wide_console,
                                                                                  monkeypatch):
    """Was: always planned as local runs (no GPU-h, no bucket, the ladder's saving without GPU-hours)."""
    import launch.submit

    monkeypatch.setattr(launch.submit, "job_states", lambda ids: pytest.fail("sweep plan asked Slurm"))
    slurm_tools(tmp_path / "bin", monkeypatch, sinfo="")  # planned for a GPU cluster, not this machine's Slurm
    grid = ["model.d=64,128", "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=5,10"]
    assert main(["plan", *grid, "hydra/launcher=slurm", f"out_dir={tmp_path / 'sweep'}"]) == 0
    out = capsys.readouterr().out
    assert "GPU-h" in out and "│ small " in out and "GPU-hours estimated" in out and str(tmp_path / "sweep") in out
    assert re.search(r"as planned \(cooldown branches\): [\d.e+]+ FLOPs, [\d.e+-]+ GPU-hours", out)
    assert not (tmp_path / "sweep").exists()


def test_plan_under_slurm_refuses_a_request_no_node_of_the_partition_holds(tmp_path, capsys, monkeypatch):
    """As the dry run and the launch do (was: planned, then submitted to pend forever, PartitionConfig)."""
    slurm_tools(tmp_path / "bin", monkeypatch, sinfo="debug*|1|2|24105|gpu:1\n")  # the single-node testbed
    assert main(["plan", "model.d=64,128", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=999",
                 f"out_dir={tmp_path / 'sweep'}"]) == 2
    assert ("error: hydra.launcher.cpus_per_task=999: the partition 'debug' (the default) has at most 2 CPUs per node "
            "(sinfo); accepted: 1..2") in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_plan_refuses_what_the_chosen_launcher_would(tmp_path, capsys):
    """Was: rc 0 for a grid Hydra's basic launcher cannot run, which the dry run and the launch refuse."""
    grid = ["model.d=64", "optim.lr=1e-3,3e-3", "early_stop.enabled=true", f"out_dir={tmp_path}"]
    assert main(["plan", *grid]) == 2
    assert "only the project's launchers do: add hydra/launcher=local" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ended:  # the launcher's setup ends the command, as under python -m sweep.train
        main(["plan", *grid, "hydra/launcher=local", "hydra.launcher.parallelism=0"])
    assert ended.value.code == 2 and "hydra.launcher.parallelism=0: accepted is a whole number >= 1" in capsys.readouterr().err


def test_plan_of_a_folder_says_it_takes_the_sweeps_overrides(tmp_path, capsys):
    """Was Hydra's `missing EQUAL at '<EOF>'` (sweep status takes a folder, sweep plan the overrides)."""
    assert main(["plan", str(tmp_path)]) == 2
    assert (f"{tmp_path}: sweep plan takes the sweep's overrides (KEY=VALUE, as python -m sweep.train -m takes them), "
            f"not a folder: e.g. sweep plan --config-name demo model.d=16,32 (sweep status {tmp_path} lists") \
        in " ".join(capsys.readouterr().err.split())
    assert main(["plan", "model.d=64", "demo"]) == 2
    assert "demo: sweep plan takes the sweep's overrides" in capsys.readouterr().err
