"""launch/local.py through `hydra/launcher=local`: runs in their own processes, skip-if-done,
failures reported after every run, and data-parallel runs with two processes on CPU; the
sweep's progress (runs ended, counts, an ETA from planned FLOPs)."""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from launch.local import LocalOptions, Outcome, RunFailed, describe_runs, report_sweep
from launch.queue import latest_jobs
from sweep.errors import ConfigError, DamagedFile
from sweep.progress import progress
from sweep.rundir import RunDir, iter_run_dirs

REPO = Path(__file__).resolve().parent.parent


def multirun(out: Path, cache: Path, *overrides: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=local", "hydra.launcher.poll_s=0.2",
           "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4",
           "budget.tokens_per_param=0.5", "data.eval_tokens=2048", "train.device=cpu", "logger=none",
           f"data.cache_dir={cache}", f"out_dir={out}", *overrides]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}


def test_local_launcher_runs_each_point_in_its_own_process_and_skips_finished_ones(tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    first = multirun(out, shared_cache_dir, "model.d=16,32")
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(r["status"] for r in results(out).values()) == ["complete", "complete"]
    manifest = latest_jobs(out)
    assert len(manifest) == 2 and all(Path(e["log"]).exists() for e in manifest.values())
    again = multirun(out, shared_cache_dir, "model.d=16,32")
    assert again.returncode == 0 and "2 of 2 runs are finished: not run again" in again.stdout + again.stderr
    assert "sweep: 2/2 runs ended (100%), 2 complete" in first.stdout + first.stderr  # the progress line


@pytest.mark.slow
def test_two_processes_per_run_train_as_one(tmp_path, shared_cache_dir):
    single = multirun(tmp_path / "single", shared_cache_dir, "model.d=32")
    ddp = multirun(tmp_path / "ddp", shared_cache_dir, "model.d=32", "hydra.launcher.tasks_per_run=2")
    assert single.returncode == 0 and ddp.returncode == 0, ddp.stdout + ddp.stderr
    (one,), (two,) = results(tmp_path / "single").values(), results(tmp_path / "ddp").values()
    assert abs(one["final_eval_loss"] - two["final_eval_loss"]) < 1e-4 * one["final_eval_loss"]
    log = Path(next(iter(latest_jobs(tmp_path / "ddp").values()))["log"]).read_text()
    assert "x 2 ranks" in log


@pytest.mark.slow  # about 16 s; a run held by another process is skipped, not trained twice: test_rundir.py's hold tests
def test_two_identical_sweeps_started_together_train_each_run_exactly_once(tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=local", "hydra.launcher.poll_s=0.2",
           "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4", "model.d=16", "seed=0,1",
           "budget.tokens_per_param=2", "data.eval_tokens=2048", "train.device=cpu", "train.precision=fp32",
           "logger=none",
           f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    both = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    logs = "".join(path.read_text() for path in (out / ".submitit").glob("*.out"))
    for name, result in results(out).items():
        assert result["status"] == "complete"
        steps = [json.loads(line)["step"] for line in (out / name / "metrics.jsonl").read_text().splitlines()]
        assert steps == sorted(set(steps)) and steps[-1] == result["steps"]  # each step once, in order
        assert logs.count(f"{name}: first step done") == 1, logs  # trained by one process
        assert logs.count(f"{name}: complete, train loss") == 1, logs  # result written once
    assert len(results(out)) == 2


def test_a_local_run_records_its_overrides_and_takes_hydra_submitit_launcher_s_folder_name(tmp_path, shared_cache_dir):
    out, logs = tmp_path / "sweep", tmp_path / "job-logs"
    proc = multirun(out, shared_cache_dir, "model.d=16", f"hydra.launcher.submitit_folder={logs}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run, = iter_run_dirs(out)
    assert "model.d=16" in run.read_overrides() and f"out_dir={out}" in run.read_overrides()
    entry, = latest_jobs(out).values()
    assert Path(entry["log"]).parent == logs


def test_an_option_of_the_wrong_kind_is_refused_before_the_sweeps_multirun_yaml_is_written_over(tmp_path,
                                                                                                shared_cache_dir):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "multirun.yaml").write_text("the last launch's settings, read by sweep suggest --rounds\n")
    proc = multirun(out, shared_cache_dir, "model.d=16", "hydra.launcher.parallelism=two")
    assert proc.returncode == 2 and "hydra.launcher.parallelism='two': accepted is" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "validated" not in proc.stdout + proc.stderr
    assert (out / "multirun.yaml").read_text().startswith("the last launch's")  # was: written over, then refused


def test_local_options_take_submitit_folder_for_folder_unless_both_disagree():
    options = LocalOptions(folder="runs/.submitit", dry_run=False, parallelism=1, gpus_per_run=0, visible_gpus=None,
                           tasks_per_run=None, timeout_min=60, poll_s=1.0, submitit_folder="/shared/logs")
    assert options.with_aliases(set()).folder == "/shared/logs"
    with pytest.raises(ConfigError, match="submitit_folder=/shared/logs.*folder=runs/.submitit"):
        options.with_aliases({"folder"})


@pytest.mark.parametrize("found, options, words", [
    (0, dict(gpus_per_run=1), r"gpus_per_run=1 x 1 runs at once \(parallelism=1; the grid has 2 to run\) need 1 GPUs; "
                              r"this machine has 0 CUDA GPU\(s\): accepted is gpus_per_run=0 \(CPU\)"),  # was: trained
    # on the CPU, silently
    (2, dict(gpus_per_run=2, parallelism=2), r"need 4 GPUs; this machine has 2"),
    (2, dict(parallelism=0), r"hydra.launcher.parallelism=0: accepted is a whole number >= 1"),
    (0, dict(gpus_per_run=2, visible_gpus=[0]), r"gpus_per_run=2 x 1 runs at once .* need 2 GPUs, more than "
                                                r"visible_gpus=\[0\]"),
    # each was a raw traceback (submitit's int('abc'), a str < int) or accepted in silence
    (0, dict(parallelism="two"), r"hydra.launcher.parallelism='two': accepted is a whole number >= 1"),
    (0, dict(timeout_min="abc"), r"hydra.launcher.timeout_min='abc': accepted is a whole number >= 1"),
    (0, dict(timeout_min=0), r"hydra.launcher.timeout_min=0: accepted is a whole number >= 1"),
    (0, dict(gpus_per_run=-1), r"hydra.launcher.gpus_per_run=-1: accepted is a whole number >= 0"),
    (0, dict(gpus_per_run=1.5), r"hydra.launcher.gpus_per_run=1.5: accepted is a whole number >= 0"),
    (0, dict(tasks_per_run=0), r"hydra.launcher.tasks_per_run=0: accepted is a whole number >= 1, or null"),
    (0, dict(poll_s=-1), r"hydra.launcher.poll_s=-1: accepted is a number of seconds >= 0"),
    (0, dict(folder="/dev/null/x"), r"hydra.launcher.folder='/dev/null/x' is under /dev/null, which is a file"),
    (0, dict(visible_gpus=-1), r"hydra.launcher.visible_gpus=-1: accepted is a list of distinct GPU indices >= 0"),
    (0, dict(visible_gpus=[0, 0]), r"visible_gpus=\[0, 0\]: accepted is a list of distinct GPU indices"),
    (0, dict(dry_run="maybe"), r"hydra.launcher.dry_run='maybe': accepted is true or false"),
])
def test_local_options_a_launch_would_refuse_are_refused_before_any_run(monkeypatch, tmp_path, found, options, words):
    import torch

    from launch.grid import compose_grid
    from launch.local import check_local_options

    grid = compose_grid(["model.d=64,128", f"out_dir={tmp_path}"])

    monkeypatch.setattr(torch.cuda, "device_count", lambda: found)
    chosen = {**dict(folder="f", dry_run=True, parallelism=1, gpus_per_run=0, visible_gpus=None, tasks_per_run=None,
                     timeout_min=60, poll_s=1.0, submitit_folder=None), **options}
    with pytest.raises(ConfigError, match=words):
        check_local_options(grid, LocalOptions(**chosen))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    if set(options) <= {"gpus_per_run", "parallelism", "visible_gpus"} and options.get("parallelism", 1) != 0 \
            and isinstance(options.get("gpus_per_run", 0), int) and options.get("gpus_per_run", 0) >= 0 \
            and isinstance(options.get("parallelism", 1), int):
        g = chosen["gpus_per_run"]
        assert check_local_options(grid, LocalOptions(**{**chosen, "visible_gpus": None})) == [
            list(range(i * g, (i + 1) * g)) for i in range(chosen["parallelism"])]


def test_gpus_are_counted_for_the_runs_that_train_at_once_not_for_parallelism_alone(monkeypatch, tmp_path):
    """Was: parallelism=8 x gpus_per_run=1 on a 2-run grid needed 8 GPUs, named "8 runs"."""
    import torch

    from launch.grid import compose_grid
    from launch.local import check_local_options

    grid = compose_grid(["model.d=64,128", f"out_dir={tmp_path}"])
    options = LocalOptions(folder=str(tmp_path / "f"), dry_run=True, parallelism=8, gpus_per_run=1, visible_gpus=None,
                           tasks_per_run=None, timeout_min=60, poll_s=1.0, submitit_folder=None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_local_options(grid, options) == [[0], [1]]  # a slot per run
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=r"hydra.launcher: gpus_per_run=1 x 2 runs at once \(parallelism=8; the grid "
                                          r"has 2 to run\) need 2 GPUs; this machine has 1 CUDA GPU"):
        check_local_options(grid, options)
    grid[0].run.path.mkdir(parents=True)
    grid[0].run.result_file.write_text(json.dumps({"status": "complete"}))
    assert check_local_options(grid, options) == [[0]]  # one run left: one GPU


def test_a_runs_own_user_error_comes_back_from_its_job_as_one_line_not_the_jobs_trace():
    from launch.local import user_error_in

    trace = ("Job (task=0) failed during processing with trace:\n----------------------\nTraceback (most recent "
             "call last):\n  File \"loop.py\", line 1, in run\nsweep.errors.ConfigError: checkpoint runs/a/latest.pt "
             "cannot be loaded (RuntimeError: PytorchStreamReader failed reading zip archive); move it away\n")
    err = user_error_in(RuntimeError(trace))
    assert isinstance(err, ConfigError) and str(err).startswith("checkpoint runs/a/latest.pt cannot be loaded")
    other = RuntimeError("Traceback ...\nZeroDivisionError: division by zero")
    assert user_error_in(other) is other  # a bug stays a bug, with its trace


# --- the sweep's progress: runs ended of all, counts, running runs, ETA from planned FLOPs -------

class FakePoint:
    """What the progress of a local sweep reads of a GridPoint: its run folder and budget."""

    def __init__(self, folder: Path, flops: float, steps: int):
        self.run = RunDir(folder)
        self.budget = SimpleNamespace(flops=flops, steps=steps)


def test_the_sweep_reports_runs_ended_and_an_eta_from_the_flops_done(tmp_path):
    ended, running, waiting = (FakePoint(tmp_path / name, flops, 10) for name, flops in
                               (("ended", 1e15), ("running", 2e15), ("waiting", 1e15)))
    (tmp_path / "running").mkdir()
    (tmp_path / "running" / "metrics.jsonl").write_text('{"step": 5}\n')  # half its 10 steps
    jobs = [SimpleNamespace(point=p, flops=p.budget.flops, first_step=0, last_step=10)
            for p in (ended, running, waiting)]
    outcomes = {id(ended): Outcome(ended, {"status": "complete"}, None)}
    with progress(3, "sweep", enabled=False) as bar:
        report_sweep(bar, jobs, {id(jobs[0])}, outcomes, [jobs[1]])
    assert bar.done == 1
    assert bar.work == (2e15, 4e15)  # the ended run's 1e15 and half of the running one's 2e15
    assert bar.info == "1 complete, 1 running: running"


def test_a_ladder_s_eta_counts_each_job_s_own_steps_once(tmp_path):
    """A branch's metrics.jsonl begins with its trunk's records up to its start c: only its steps after c
    are its own work (was: its whole budget's FLOPs, half of them reached the moment it started)."""
    trunk, branch = FakePoint(tmp_path / "trunk", 0, 100), FakePoint(tmp_path / "branch", 0, 100)
    (tmp_path / "branch").mkdir()
    (tmp_path / "branch" / "metrics.jsonl").write_text('{"step": 80}\n')  # the trunk's records, to c = 80
    segment = SimpleNamespace(point=trunk, flops=8e14, first_step=0, last_step=80)
    cooldown = SimpleNamespace(point=branch, flops=2e14, first_step=80, last_step=100)
    with progress(2, "sweep", enabled=False) as bar:
        report_sweep(bar, [segment, cooldown], {id(segment)}, {}, [cooldown])
    assert bar.work == (8e14, 1e15)  # the segment, and none of the branch's own 20 steps yet


def test_failed_damaged_and_held_runs_are_counted_apart(tmp_path):
    def outcome(result, error=None):
        return Outcome(None, result, error)
    text = describe_runs([outcome({"status": "complete"}), outcome(None, RuntimeError("boom")),
                          outcome({"status": "failed"}, RuntimeError("nan")), outcome({"status": "diverged"}),
                          outcome({"status": "running", "held_by": {}}),
                          outcome(None, DamagedFile(tmp_path / "result.json", "holds status 'compleet'", "delete it"))],
                         [])
    assert text == "1 complete, 1 damaged, 1 diverged, 2 failed, 1 training in another process"  # damaged: skipped


def test_a_run_another_process_trains_is_not_counted_as_ended(tmp_path):
    """Was "sweep: 2/2 runs ended (100%)", exit 0, while an orphaned run still trained."""
    point = FakePoint(tmp_path / "a", 0, 100)
    job = SimpleNamespace(point=point, flops=1e14, first_step=0, last_step=100)
    held = Outcome(point, {"status": "running", "held_by": {}}, None)
    with progress(1, "sweep", enabled=False) as bar:
        report_sweep(bar, [job], set(), {id(point): held}, [])
    assert bar.done == 0 and "1 training in another process" in bar.info


def test_a_job_waiting_on_a_run_another_process_trains_says_so_not_that_it_failed():
    """Was: 'not run: ... did not end well' for a trunk whose segment another launcher was still training."""
    from launch.local import cancelled_outcome

    trunk, branch = SimpleNamespace(label="trunk [steps 225 -> 449]"), SimpleNamespace(label="branch tpp10")
    trunk.point, branch.point = SimpleNamespace(run=SimpleNamespace(path=Path("d16-trunk"))), SimpleNamespace()
    held = {id(trunk.point): Outcome(trunk.point, {"status": "running", "held_by": {"pid": 7, "host": "n1"}}, None)}
    reason = cancelled_outcome(branch, trunk, held).result["error"]
    assert reason == ("not run: d16-trunk is training in another process (pid 7 on n1 since None); "
                      "running the sweep again once it has ended runs it")


def test_a_job_waiting_on_a_run_killed_before_its_result_claims_no_checkpoint_it_may_not_have():
    from launch.local import cancelled_outcome

    trunk, branch = SimpleNamespace(label="trunk [steps 56 -> 112]"), SimpleNamespace(label="branch tpp1")
    trunk.point, branch.point = SimpleNamespace(run=SimpleNamespace(path=Path("d16-trunk"))), SimpleNamespace()
    killed = {id(trunk.point): Outcome(trunk.point, {"status": "interrupted", "signalled": True, "log": None}, None)}
    reason = cancelled_outcome(branch, trunk, killed).result["error"]  # was: "(its checkpoint is saved)", none was
    assert "was interrupted (it resumes from its last checkpoint, if it kept one)" in reason
    assert reason.startswith("not run: d16-trunk was") and "56 -> 112" not in reason  # [0 -> 56] was, not that


# --- a cooldown-branch ladder: its jobs in dependency order -------------------------------------

LADDER = ["model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4",
          "optim.warmup_steps=2", "data.eval_tokens=2048", "train.device=cpu", "logger=none", "optim.schedule=wsd",
          "budget.branch=true", "budget.tokens_per_param=0.5,1,2"]


class FakeSubmitted:
    """A job that ended at once (or raised, when failing; or was stopped by a signal before its
    end, when `interrupted`): a ladder segment keeps its checkpoint, an early-stopped run's probe or
    rung logs records up to its end step, a job that trains to its run's end writes a complete
    result; when stopping, a rung or rest records its run stopped early at its first step instead."""

    def __init__(self, job, failing: bool, stopping: bool = False, interrupted: bool = False):
        self.job, self.paths = job, SimpleNamespace(stdout="log", result_pickle=SimpleNamespace(exists=lambda: True))
        self.error = RuntimeError(f"{job.label} failed") if failing else None
        self.interrupted = interrupted
        if self.error is None and not interrupted:
            run = job.point.run
            run.path.mkdir(parents=True, exist_ok=True)
            if job.kind == "segment":
                run.kept_checkpoint(job.last_step).parent.mkdir(parents=True, exist_ok=True)
                run.kept_checkpoint(job.last_step).write_bytes(b"")
            if stopping:
                run.write_result({"status": "stopped_early", "steps_done": job.first_step})
            elif job.kind in ("probe", "rung"):
                steps = range(2, job.last_step + 1, 2)
                run.metrics_file.write_text("".join(json.dumps({"step": s}) + "\n" for s in steps))
                run.checkpoint_dir.mkdir(parents=True, exist_ok=True)  # saved after its record at its end step
                torch.save({"step": job.last_step}, run.checkpoint_file)
            if job.until_step is None and not stopping:
                run.write_result({"status": "complete"})
        self.stopping = stopping

    def done(self):
        return True

    def results(self):
        if self.error:
            raise self.error
        if self.interrupted:
            return [{"status": "interrupted", "step": self.job.first_step + 1, "error": "SIGTERM received"}]
        if self.stopping or self.job.until_step is None:
            return [self.job.point.run.read_result()]
        return [{"status": "segment"}]


def run_fake_ladder(tmp_path, monkeypatch, failing_segment=None):
    """run_locally on a 3-budget ladder with jobs that end at once; returns the jobs started, in order."""
    from launch.grid import compose_grid
    from launch.jobs import job_plan

    grid = compose_grid([*LADDER, f"out_dir={tmp_path / 'sweep'}"])
    segments = [j for j in job_plan(grid) if j.kind == "segment"]
    failing = {s.key for s in segments[failing_segment:failing_segment + 1]} if failing_segment is not None else set()
    started, outcomes = run_with_fake_jobs(grid, tmp_path, monkeypatch, lambda job: job.key in failing)
    return grid, started, outcomes


def run_with_fake_jobs(grid, tmp_path, monkeypatch, fails, stops=lambda job: False, interrupts=lambda job: False,
                       parallelism=2, threads_given=None):
    """run_locally on `grid` with FakeSubmitted jobs (failing where `fails(job)`, stopping its run
    where `stops(job)`, stopped by a signal where `interrupts(job)`), `parallelism` at a time;
    returns the jobs started, in order, and the outcomes; `threads_given` (a list): each job's torch
    threads appended to it."""
    from launch.local import run_locally

    started = []

    def start(job, options, tasks, slot, threads=None):
        started.append(job)
        if threads_given is not None:
            threads_given.append(threads)
        return FakeSubmitted(job, fails(job), stops(job), interrupts(job))
    monkeypatch.setattr("launch.local.start_job", start)
    options = LocalOptions(folder=str(tmp_path / "submitit"), dry_run=False, parallelism=parallelism, gpus_per_run=0,
                           visible_gpus=None, tasks_per_run=None, timeout_min=1, poll_s=0, submitit_folder=None)
    return started, run_locally(grid, options)


def test_a_ladder_runs_each_job_after_its_dependency_and_a_failed_segment_leaves_its_dependants_cancelled(
        tmp_path, monkeypatch):
    grid, started, outcomes = run_fake_ladder(tmp_path, monkeypatch, failing_segment=1)
    assert [(j.kind, j.point.cfg.budget.tokens_per_param) for j in started] == [
        ("segment", 2), ("branch", 0.5), ("segment", 2)]  # the second segment failed
    trunk, *branches = outcomes
    assert isinstance(trunk.error, RunFailed) and isinstance(trunk.error.__cause__, RuntimeError)  # one line, its log
    assert [o.result["status"] for o in branches] == ["complete", "cancelled", "cancelled"]
    assert "did not end well; running the sweep again runs it" in branches[1].result["error"]

    _, again, outcomes = run_fake_ladder(tmp_path, monkeypatch)  # running it again runs what was left
    assert [(j.kind, j.point.cfg.budget.tokens_per_param, j.first_step) for j in again] == [
        ("segment", 2, started[2].first_step), ("branch", 1, started[2].last_step),
        ("segment", 2, started[2].last_step), ("branch", 2, again[2].last_step)]
    assert all(o.result["status"] == "complete" for o in outcomes)

    grid[1].run.result_file.unlink()  # a branch of the finished trunk is missing: it alone runs
    _, last, outcomes = run_fake_ladder(tmp_path, monkeypatch)
    assert [(j.kind, j.point.run.path) for j in last] == [("branch", grid[1].run.path)]
    assert all(o.result["status"] == "complete" for o in outcomes)


def test_while_the_launcher_runs_sweep_status_reads_the_runs_it_has_still_to_train_as_queued(tmp_path, monkeypatch):
    """Their folders say only pending: `sweep status --wait` took them for runs nobody would train."""
    from launch.grid import compose_grid
    from launch.local_queue import runs_queued_locally

    grid = compose_grid([*LADDER, f"out_dir={tmp_path / 'sweep'}"])
    seen = []
    monkeypatch.setattr("launch.local.time.sleep", lambda s: seen.append(runs_queued_locally(tmp_path / "sweep")))
    run_with_fake_jobs(grid, tmp_path, monkeypatch, fails=lambda job: False)
    assert seen[0] == {p.run.path.name for p in grid}
    assert runs_queued_locally(tmp_path / "sweep") == set()  # it ended: none


def test_a_re_run_of_a_finished_sweep_ends_on_its_counts_by_status(tmp_path, monkeypatch, caplog):
    """Nothing to run: its last line was `sweep: 4/4 runs ended (100%)` without them."""
    import logging

    run_fake_ladder(tmp_path, monkeypatch)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _, started, _ = run_fake_ladder(tmp_path, monkeypatch)
    assert started == []
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("sweep:")][-1] == \
        "sweep: 4/4 runs ended (100%), 4 complete"


def test_a_segment_stopped_by_a_signal_is_interrupted_not_failed_and_the_sweep_says_how_to_resume(
        tmp_path, monkeypatch, caplog):
    from launch.grid import compose_grid
    from launch.local import SweepInterrupted

    grid = compose_grid([*LADDER, f"out_dir={tmp_path / 'sweep'}"])
    with pytest.raises(SweepInterrupted, match=r"1 run\(s\) stopped by a signal, each with its checkpoint saved: "
                                               r"d16-\S+ \(step \d+\); re-run the same command to resume them"):
        run_with_fake_jobs(grid, tmp_path, monkeypatch, fails=lambda job: False,
                           interrupts=lambda job: job.kind == "segment" and job.first_step > 0)
    assert "was interrupted (its checkpoint is saved); running the sweep again runs it" in caplog.text
    assert "failed" not in caplog.text  # was: the segment failed, then submitit's UncompletedJobError traceback


def test_ctrl_c_stops_a_local_sweep_s_runs_at_a_checkpoint_in_one_line_and_a_re_run_finishes_them(
        tmp_path, shared_cache_dir):
    """The terminal's Ctrl-C reaches the whole process group; only the launcher takes it, and stops its
    run with SIGTERM (was: three KeyboardInterrupt tracebacks, and the run killed before its checkpoint)."""
    import os
    import signal
    import time

    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=local", "hydra.launcher.poll_s=0.2",
           "model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4",
           "budget.tokens_per_param=40", "data.eval_tokens=2048", "train.device=cpu", "logger=none",
           f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and not any(
            len(p.read_text().splitlines()) >= 3 for p in out.glob("*/metrics.jsonl")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    assert "interrupted: Ctrl-C: 1 run(s) stopped, each with its checkpoint saved" in output
    assert "Traceback" not in output
    (run,) = list(iter_run_dirs(out))
    assert run.checkpoint_file.exists() and run.read_result() is None
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert run.read_result()["status"] == "complete"
    logs = (run.path / ".." / ".submitit").resolve()
    assert any("resum" in p.read_text().lower() for p in logs.glob("*_log.out"))


def test_a_run_sigtermed_while_its_process_starts_is_interrupted_at_once_not_failed_with_a_traceback(tmp_path):
    """Before a run's handlers are set, SIGTERM ends its process with no result written: submitit
    waited 15 s, then its UncompletedJobError came back as the sweep's traceback (exit code 1)."""
    import os
    import re
    import signal

    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=local", "hydra.launcher.poll_s=0.1",
           "model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4",
           "budget.tokens_per_param=2", "train.device=cpu", "logger=none", f"out_dir={out}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        started = re.search(r"started \S+ \(pid (\d+)", line)
        if started:
            os.kill(int(started.group(1)), signal.SIGTERM)  # its job's controller, which passes it on
    output = "".join(lines)
    assert proc.wait(timeout=60) == 130, output
    assert re.search(r"interrupted: 1 run\(s\) stopped by a signal: d16-\S+ \(ended by a signal or a crash before it "
                     r"wrote a result(: \S+_log.out|, before its log was opened)\); re-run the same command to resume "
                     r"them", output), output
    assert "Traceback" not in output and "failed" not in output


def test_a_ladder_trains_locally_each_segment_once_and_a_re_run_trains_nothing(tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    ladder = [o for o in LADDER if not o.startswith("budget.tokens_per_param")] + ["budget.tokens_per_param=0.5,1"]
    first = multirun(out, shared_cache_dir, *ladder)
    assert first.returncode == 0, first.stdout + first.stderr
    done = results(out)
    assert sorted((r.get("role"), r["status"]) for r in done.values()) == [
        ("branch", "complete"), ("branch", "complete"), ("trunk", "complete")]
    entries = [json.loads(line) for line in (out / "sweep_manifest.jsonl").read_text().splitlines()]
    assert len(entries) == 4
    segments = [e["segment"] for e in entries if "segment" in e]
    assert len(segments) == len(set(segments)) == 2  # each trunk segment trained once
    trunk = next(r for r in iter_run_dirs(out) if r.read_result().get("role") == "trunk")
    assert len(trunk.read_overrides_history()) == 1  # one launch, one entry (was: one per segment)
    again = multirun(out, shared_cache_dir, *ladder)
    assert again.returncode == 0 and "3 of 3 runs are finished: not run again" in again.stdout + again.stderr
    assert len((out / "sweep_manifest.jsonl").read_text().splitlines()) == 4


# --- early stopping: each group's probes, then its rests ----------------------------------------

EARLY_STOP = [o for o in LADDER if not o.startswith(("optim.schedule", "budget."))] + [
    "budget.tokens_per_param=1", "train.log_every=2", "early_stop.enabled=true", "model.d=16,32", "optim.lr=1e-3,3e-3"]


def run_fake_early_stop(tmp_path, monkeypatch, failing_probe=None):
    """run_locally on two budget groups of two runs each, with jobs that end at once; returns the
    grid, the jobs started in order, and the outcomes."""
    from launch.grid import compose_grid

    grid = compose_grid([*EARLY_STOP, f"out_dir={tmp_path / 'sweep'}"])
    started, outcomes = run_with_fake_jobs(
        grid, tmp_path, monkeypatch, lambda job: job.kind == "probe" and job.point.run.path == failing_probe)
    return grid, started, outcomes


def test_an_early_stopped_group_runs_all_its_probes_before_any_rest_and_a_failed_probe_cancels_its_group_s_rests(
        tmp_path, monkeypatch):
    grid, started, outcomes = run_fake_early_stop(tmp_path, monkeypatch)
    for group in (grid[:2], grid[2:]):
        order = [j.kind for j in started if j.point in group]
        assert order == ["probe", "probe", "rest", "rest"]
        rests = [j for j in started if j.kind == "rest" and j.point in group]
        assert all(r.group == tuple(p.cfg for p in group) for r in rests)  # each decides its group first
    assert [o.result["status"] for o in outcomes] == ["complete"] * 4

    for point in grid:
        point.run.result_file.unlink()
        point.run.metrics_file.unlink()
        point.run.checkpoint_file.unlink(missing_ok=True)  # a probe is done by its checkpoint at P
    _, started, outcomes = run_fake_early_stop(tmp_path, monkeypatch, failing_probe=grid[2].run.path)
    assert [o.result["status"] for o in outcomes[:2]] == ["complete", "complete"]  # the other group goes on
    assert isinstance(outcomes[2].error.__cause__, RuntimeError) and outcomes[3].result["status"] == "cancelled"
    assert "[probe: steps 0 -> " in outcomes[3].result["error"]  # names the probe that did not end well
    assert not any(j.kind == "rest" and j.point.run.path in (grid[2].run.path, grid[3].run.path) for j in started)

    _, again, outcomes = run_fake_early_stop(tmp_path, monkeypatch)  # running it again runs what was left
    assert [(j.kind, j.point.run.path) for j in again] == [
        ("probe", grid[2].run.path), ("rest", grid[2].run.path), ("rest", grid[3].run.path)]
    assert [o.result["status"] for o in outcomes] == ["complete"] * 4


def test_off_a_terminal_each_run_s_start_logs_a_progress_line_naming_it(tmp_path, monkeypatch, caplog):
    """One run at a time in a log file: no progress line until the first run ended (minutes of silence
    on the demo), though README shows `..., 1 running: RUN` lines; a run's end and the next run's start
    in the same poll are one line (were two, 5 ms apart)."""
    import logging

    from launch.grid import compose_grid

    grid = compose_grid(["model.d=16", "model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4",
                         "data.eval_tokens=2048", "train.device=cpu", "logger=none", "budget.tokens_per_param=0.5",
                         "optim.lr=1e-3,3e-3", f"out_dir={tmp_path / 'sweep'}"])
    first, second = (p.run.path.name for p in grid)
    with caplog.at_level(logging.INFO):
        run_with_fake_jobs(grid, tmp_path, monkeypatch, fails=lambda job: False, parallelism=1)
    lines = [re.sub(r"ETA [^,]+, ", "", r.getMessage()) for r in caplog.records if r.getMessage().startswith("sweep:")]
    assert lines == [f"sweep: 0/2 runs ended (0%), 1 running: {first}",
                     f"sweep: 1/2 runs ended (50%), 1 complete, 1 running: {second}",  # one line: an end, the next start
                     "sweep: 2/2 runs ended (100%), 2 complete"]


def test_a_run_stopped_at_a_rung_trains_no_further_and_its_group_goes_on(tmp_path, monkeypatch):
    from launch.grid import compose_grid

    grid = compose_grid([*EARLY_STOP, "early_stop.fraction=0.25", "early_stop.again_at=[0.5,0.75]",
                         f"out_dir={tmp_path / 'sweep'}"])
    stopped = grid[1].run.path  # d16, lr 3e-3: stopped by the first decision (its first rung records it)
    started, outcomes = run_with_fake_jobs(grid, tmp_path, monkeypatch, lambda job: False,
                                           lambda job: job.kind == "rung" and job.rung == 0 and job.point.run.path == stopped)
    order = [(j.kind, j.rung, j.point.run.path == stopped) for j in started if j.point in grid[:2]]
    assert order == [("probe", 0, False), ("probe", 0, True), ("rung", 0, False), ("rung", 0, True),
                     ("rung", 1, False), ("rest", 2, False)]  # its later jobs, done, are not run; the others' wait no more
    assert [o.result["status"] for o in outcomes] == ["complete", "stopped_early", "complete", "complete"]

    for point in grid:
        point.run.result_file.unlink()
        point.run.metrics_file.unlink()
        point.run.checkpoint_file.unlink(missing_ok=True)  # a probe is done by its checkpoint at P
    floor = compose_grid([*EARLY_STOP, "early_stop.fraction=0.25", "early_stop.again_at=[0.5,0.75]",
                          "early_stop.floor=auto", f"out_dir={tmp_path / 'sweep'}"])
    stopped = floor[3].run.path  # with early_stop.floor the d16 runs are the d32 runs' references: they train whole
    started, outcomes = run_with_fake_jobs(floor, tmp_path, monkeypatch, lambda job: False,
                                           lambda job: job.kind == "rung" and job.rung == 0 and job.point.run.path == stopped)
    assert [(j.kind, j.point.cfg.model.d) for j in started][:2] == [("run", 16), ("run", 16)]
    assert [(j.kind, j.rung) for j in started if j.point is floor[2]] == [
        ("probe", 0), ("rung", 0), ("rung", 1), ("rest", 2)]
    assert [o.result["status"] for o in outcomes] == ["complete", "complete", "complete", "stopped_early"]


def test_stopped_runs_are_counted_apart():
    text = describe_runs([Outcome(None, {"status": "complete"}, None), Outcome(None, {"status": "stopped_early"}, None),
                          Outcome(None, {"status": "stopped_early"}, None)], [])
    assert text == "1 complete, 2 stopped_early"


@pytest.mark.slow  # about 50 s (a sweep of real runs, then two re-runs); the stopping rule, the probe step's record and the resume to the same loss are covered by test_loop.py and test_early_stop.py
def test_early_stopping_stops_the_hopeless_run_at_its_probe_step_a_re_run_trains_nothing_and_turned_off_it_resumes(
        tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    grid = ["model.d=32", "budget.tokens_per_param=4", "train.log_every=2", "optim.warmup_steps=2",
            "train.eval_every=8", "train.precision=fp32", "early_stop.enabled=true", "early_stop.fraction=0.5",
            "early_stop.resamples=50", "optim.lr=1e-2,3e-1"]  # 3e-1: far too high, it levels off high
    first = multirun(out, shared_cache_dir, *grid)
    assert first.returncode == 0, first.stdout + first.stderr
    by_lr = {r["lr"]: r for r in results(out).values()}
    stopped, best = by_lr[3e-1], by_lr[1e-2]
    assert stopped["status"] == "stopped_early" and best["status"] == "complete"
    lo, hi = stopped["predicted_interval"]
    assert lo <= stopped["predicted_final_eval_loss"] <= hi
    # compared with the other member (a group of two), its interval lies above the best run's
    assert stopped["early_stop"]["best_run"] == best["run"] and lo > best["early_stop"]["interval"][1]
    assert stopped["early_stop"]["action"] == "stop" and best["early_stop"]["action"] == "continue"
    steps = [json.loads(line)["step"] for line in (out / stopped["run"] / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == stopped["early_stop"]["predicted_at_step"] < stopped["steps"]  # trained to P only
    assert len(list((out / ".early_stop").glob("*.json"))) == 1  # the group's decisions
    manifest = (out / "sweep_manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 4  # two probes, two rests

    again = multirun(out, shared_cache_dir, *grid)
    assert again.returncode == 0
    assert "2 of 2 runs are finished or stopped early: not run again" in again.stdout + again.stderr
    assert len((out / "sweep_manifest.jsonl").read_text().splitlines()) == 4  # trained nothing

    resumed = multirun(out, shared_cache_dir, *grid, "early_stop.enabled=false")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = {r["lr"]: r for r in results(out).values()}
    assert after[3e-1]["status"] == "complete" and after[3e-1]["steps"] == stopped["steps"]
    assert after[1e-2] == best  # the finished run is not touched
    steps = [json.loads(line)["step"] for line in (out / stopped["run"] / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == stopped["steps"]  # from its checkpoint on, each step once


def test_a_run_that_ended_without_a_result_on_a_full_disk_is_said_to_have_one():
    from launch.local import stopped_at

    crashed = {"status": "interrupted", "signalled": True, "log": "/x/1_0_log.out"}
    assert stopped_at({**crashed, "free_bytes": 50 << 30}) == ("ended by a signal or a crash before it wrote a result: "
                                                              "/x/1_0_log.out")
    # its result.json, submitit's result and its log all refused: was said to be a signal or a crash
    assert stopped_at({**crashed, "free_bytes": 16 << 10}) == ("ended without a result, with 16.0 KiB free on its disk: "
                                                              "a full disk? (free space; its log may be cut: "
                                                              "/x/1_0_log.out)")


def test_a_runs_end_line_gives_its_loss_to_4_decimals_as_the_log_and_status_do():
    """Was `complete, eval loss 5.728483255952597`."""
    from launch.local import how_it_ended

    assert how_it_ended({"status": "complete", "final_eval_loss": 5.728483255952597}) == "complete, eval loss 5.7285"
    assert how_it_ended({"status": "interrupted", "step": 130}) == "interrupted, at step 130"
    assert how_it_ended({}) == "failed"
class NoPickleJob:
    """A local job that ended without submitit's result pickle (on a full disk with its run): its
    submitted pickle, its log (`log` written to it) and no result pickle."""

    def __init__(self, folder: Path, log: str = ""):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "1_submitted.pkl").write_bytes(b"")
        (folder / "1_0_log.out").write_text(log)
        self.paths = SimpleNamespace(result_pickle=folder / "1_0_result.pkl", submitted_pickle=folder / "1_submitted.pkl",
                                     stdout=str(folder / "1_0_log.out"))


FULL = "cannot write runs/a/metrics.jsonl: [Errno 28] No space left on device; 0 B free on its file system"


def test_a_job_that_left_no_result_pickle_on_a_full_disk_ends_with_its_run_s_own_error_not_interrupted(tmp_path):
    """submitit's result pickle is on the run's full disk too: the run's failure read `interrupted`, its
    reason lost (its result.json, or the job's log, held it)."""
    import os

    from launch.local import job_outcome

    point = SimpleNamespace(run=RunDir(tmp_path / "run"))
    point.run.path.mkdir()
    trace = f"Traceback (most recent call last):\n  File \"loop.py\"\nsweep.errors.StorageError: {FULL}\n"
    in_log = job_outcome(point, NoPickleJob(tmp_path / "a", f"...\n{trace}"))  # no result.json: no room for it
    assert isinstance(in_log.error, ConfigError) and str(in_log.error) == FULL and in_log.result is None
    job = NoPickleJob(tmp_path / "b")  # submitted, then its run wrote its result.json
    point.run.write_result({"status": "failed", "error": f"StorageError: {FULL}", "traceback": trace})
    recorded = job_outcome(point, job)  # its log cut: its result.json says why
    assert str(recorded.error) == FULL and recorded.result["status"] == "failed"
    job = NoPickleJob(tmp_path / "c")
    point.run.write_result({"status": "failed", "error": "RuntimeError: boom", "traceback": "RuntimeError: boom\n"})
    bug = job_outcome(point, job)
    assert isinstance(bug.error, RunFailed) and str(bug.error) == f"run: RuntimeError: boom; its log: {tmp_path}/c/1_0_log.out"
    job = NoPickleJob(tmp_path / "d")
    point.run.write_result({"status": "complete", "final_eval_loss": 3.0})
    complete = job_outcome(point, job)  # it ended, then its pickle found no room
    assert complete.error is None and complete.result["status"] == "complete"
    earlier = NoPickleJob(tmp_path / "e")
    os.utime(point.run.result_file, (1, 1))  # an earlier attempt's result: not this job's
    killed = job_outcome(point, earlier)
    assert killed.error is None and killed.result["status"] == "interrupted" and killed.result["signalled"]


def test_a_job_that_ended_without_a_result_on_a_full_disk_says_so_in_its_own_line(tmp_path, monkeypatch, caplog):
    """Said only in the sweep's summary, which a full disk kept from printing."""
    import logging

    from launch.local import end_job

    point = SimpleNamespace(run=RunDir(tmp_path / "run"))
    job = SimpleNamespace(point=point, kind="rest", label="run [rest: steps 35 -> 140]")
    monkeypatch.setattr("launch.local.free_bytes", lambda path: 4096)
    with caplog.at_level(logging.INFO, logger="sweep.launch"):
        end_job(job, NoPickleJob(tmp_path / "a"), {}, set())
    assert f"run [rest: steps 35 -> 140]: interrupted, ended without a result, with 4.0 KiB free on its disk: a full " \
           f"disk? (free space; its log may be cut: {tmp_path}/a/1_0_log.out) (log {tmp_path}/a/1_0_log.out)" in caplog.text


def test_a_full_disk_refusing_the_next_run_s_files_ends_the_sweep_in_one_line_saying_what_ended(tmp_path, monkeypatch):
    """It stopped on the next run's config.yaml with that line alone, before the sweep's summary."""
    import errno
    import os

    from launch.grid import compose_grid
    from launch.local import refused_write, run_locally
    from sweep.errors import StorageError
    from sweep.storage import write_failed

    plain = [o for o in LADDER if not o.startswith(("optim.schedule", "budget."))]
    grid = compose_grid([*plain, "optim.lr=1e-3,2e-3,3e-3", f"out_dir={tmp_path / 'sweep'}"])
    started = []

    def start(job, options, tasks, slot, threads=None):
        if len(started) == 2:
            raise write_failed(job.point.run.config_file, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        started.append(job)
        return FakeSubmitted(job, False)

    monkeypatch.setattr("launch.local.start_job", start)
    options = LocalOptions(folder=str(tmp_path / "submitit"), dry_run=False, parallelism=2, gpus_per_run=0,
                           visible_gpus=None, tasks_per_run=None, timeout_min=1, poll_s=0, submitit_folder=None)
    with pytest.raises(StorageError) as stopped:
        run_locally(grid, options)
    assert re.fullmatch(r"cannot write \S+/config.yaml: \[Errno 28\] No space left on device; .* free on its file "
                        r"system. The sweep started no more runs: runs ended: 2 complete \(kept as they are\); 1 of 3 "
                        r"left to train. Free space and re-run the same command: it goes on from there \(a run resumes "
                        r"from its last checkpoint\)", str(stopped.value))
    assert [RunDir(p.run.path).state() for p in grid[:2]] == ["complete", "complete"]
    pickle = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "1_submitted.pkl"))  # submitit's own
    assert refused_write(pickle).startswith(f"cannot write {tmp_path}/1_submitted.pkl: [Errno 28] No space left")
    assert refused_write(OSError(errno.EBADF, "Bad file descriptor")) is None  # not the disk's: raised as it is


def run_three_fake_runs_at_parallelism(parallelism, tmp_path, monkeypatch):
    """The torch threads each job of a 3-run CPU grid got, `parallelism` at a time, on 4 cores."""
    from launch.grid import compose_grid

    plain = [o for o in LADDER if not o.startswith(("optim.schedule", "budget."))]
    grid = compose_grid([*plain, "optim.lr=1e-3,2e-3,3e-3", f"out_dir={tmp_path / 'sweep'}"])
    monkeypatch.setattr("launch.local.usable_cores", lambda: 4)
    threads = []
    run_with_fake_jobs(grid, tmp_path, monkeypatch, lambda job: False, parallelism=parallelism, threads_given=threads)
    return threads


def test_cpu_runs_trained_at_once_share_the_cores_as_torch_threads_and_the_launcher_says_so(
        tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with caplog.at_level("INFO", logger="sweep.launch"):
        assert run_three_fake_runs_at_parallelism(2, tmp_path, monkeypatch) == [2, 2, 2]
    assert caplog.text.count("2 CPU runs at once: 2 torch threads each (4 cores)") == 1


def test_omp_num_threads_set_by_the_user_is_kept_for_cpu_runs_at_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with caplog.at_level("INFO", logger="sweep.launch"):
        assert run_three_fake_runs_at_parallelism(2, tmp_path, monkeypatch) == [None, None, None]
    assert "2 CPU runs at once: OMP_NUM_THREADS=3 kept as set" in caplog.text


def test_one_cpu_run_at_a_time_and_gpu_runs_keep_torch_s_default_threads(tmp_path, monkeypatch, caplog):
    from launch.local import torch_threads_per_run

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with caplog.at_level("INFO", logger="sweep.launch"):
        assert run_three_fake_runs_at_parallelism(1, tmp_path, monkeypatch) == [None, None, None]
    assert "torch thread" not in caplog.text
    gpus = LocalOptions(folder=str(tmp_path), dry_run=False, parallelism=2, gpus_per_run=1, visible_gpus=None,
                        tasks_per_run=None, timeout_min=1, poll_s=0, submitit_folder=None)
    assert torch_threads_per_run(2, gpus) is None
    cpu = dataclasses.replace(gpus, gpus_per_run=0)
    monkeypatch.setattr("launch.local.usable_cores", lambda: 16)
    assert torch_threads_per_run(2 * 2, cpu) == 4  # 2 runs at once x 2 ranks each
    monkeypatch.setattr("launch.local.usable_cores", lambda: 2)
    assert torch_threads_per_run(3, cpu) == 1  # more processes than cores: one each


def test_each_process_of_cpu_runs_trained_at_once_trains_at_its_share_of_the_cores(tmp_path, shared_cache_dir,
                                                                                   monkeypatch):
    from launch.local import usable_cores

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the launcher's subprocess inherits the environment
    out = tmp_path / "sweep"
    ran = multirun(out, shared_cache_dir, "model.d=16", "optim.lr=1e-3,2e-3", "hydra.launcher.parallelism=2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    share = max(1, usable_cores() // 2)
    assert f"2 CPU runs at once: {share} torch thread" in ran.stdout + ran.stderr
    logs = [Path(e["log"]).read_text() for e in latest_jobs(out).values()]
    assert len(logs) == 2 and all(f"torch threads: {share} " in text for text in logs)
