"""sweep/run/loop.py: one run end to end on a tiny CPU config."""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import sweep.run.checkpoint as checkpoint_module
import sweep.run.loop as train_module
from sweep.errors import ConfigError, DamagedFile, StorageError
from sweep.results import load_runs
from sweep.rundir import RunDir
from sweep.budget import compute_budget
from sweep.config import to_typed
from sweep.run.loop import RunInterrupted, evaluate, train
from tests.helpers import TINY, HostReads, StopAtStep, compose_config, node_lost_at, train_until_sigusr2

REPO = Path(__file__).resolve().parent.parent

RESULT_FIELDS = {"status", "final_train_loss", "final_eval_loss", "n_params", "n_params_nonembedding",
                 "n_params_total", "tokens", "flops", "steps", "wall_seconds", "tokens_per_second",
                 "d", "l", "batch_size", "lr", "weight_decay", "seed", "epochs", "train_tokens_per_second",
                 "mfu", "peak_flops", "peak_flops_source", "first_step_seconds", "startup_seconds"}
METRIC_FIELDS = {"step", "tokens", "flops", "lr", "train_loss", "grad_norm", "tokens_per_second", "mfu"}


def test_a_run_trains_to_its_budget_and_writes_its_folder(tiny_config):
    cfg = tiny_config()
    result = train(cfg)
    run = RunDir.for_config(cfg)
    assert result["status"] == "complete"
    assert RESULT_FIELDS <= set(result)
    assert json.loads(run.result_file.read_text()) == result
    assert (result["d"], result["l"], result["batch_size"], result["lr"]) == (32, 1, 4, 3e-3)
    assert result["tokens"] == result["steps"] * 4 * 32 >= 0.5 * result["n_params"]
    assert result["flops"] == 6 * result["n_params"] * result["tokens"]
    assert yaml.safe_load(run.config_file.read_text())["model"]["d"] == 32
    metrics = run.read_metrics()
    assert all(METRIC_FIELDS <= set(m) for m in metrics)
    assert all(0 < m["mfu"] < 1 and m["tokens_per_second"] > 0 for m in metrics)
    assert [m["step"] for m in metrics][-1] == result["steps"]
    evals = [m["step"] for m in metrics if "eval_loss" in m]
    assert evals[-1] == result["steps"] and all(s % 4 == 0 for s in evals[:-1])
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert result["final_eval_loss"] == metrics[-1]["eval_loss"]


def test_re_running_a_complete_point_does_nothing_and_says_so(tiny_config, caplog):
    cfg = tiny_config()
    first = train(cfg)
    run = RunDir.for_config(cfg)
    mtime = run.result_file.stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="sweep.train"):
        again = train(cfg)
    assert again == first
    assert run.result_file.stat().st_mtime_ns == mtime
    assert "already complete" in caplog.text


def test_a_finished_run_whose_result_was_deleted_is_written_again_with_its_final_losses(tiny_config):
    # the README's remedy for a damaged result.json: delete it and re-run; the checkpoint is at the last step
    cfg = tiny_config()
    first = train(cfg)
    run = RunDir.for_config(cfg)
    run.result_file.unlink()
    again = train(cfg)
    assert again["status"] == "complete" and again["final_eval_loss"] == first["final_eval_loss"]  # was: None
    assert again["steps_done"] == first["steps_done"] and again["final_train_loss"] == first["final_train_loss"]
    run.result_file.unlink()
    lines = run.metrics_file.read_text().splitlines()
    run.metrics_file.write_text("\n".join(lines[:-1]) + "\n")  # the last record gone too: measured again
    third = train(cfg)
    assert third["final_eval_loss"] == pytest.approx(first["final_eval_loss"], rel=1e-6)


def interrupted_by_a_signal(cfg, monkeypatch) -> RunDir:
    """Train `cfg` until a SIGUSR2 'arrives' during step StopAtStep.at; its run folder."""
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAtStep)
        with pytest.raises(RunInterrupted, match="SIGUSR2"):
            train(cfg)
    return RunDir.for_config(cfg)


def test_a_stop_signal_saves_a_checkpoint_and_the_resumed_run_ends_exactly_the_same(
        tiny_config, tmp_path, monkeypatch):
    reference = train(tiny_config(f"out_dir={tmp_path / 'uninterrupted'}"))

    cfg = tiny_config()
    run = interrupted_by_a_signal(cfg, monkeypatch)
    assert run.checkpoint_file.exists() and not run.result_file.exists()
    assert [p.name for p in run.checkpoint_dir.iterdir()] == ["latest.pt"]  # nothing half-written
    assert run.read_metrics()[-1]["step"] <= StopAtStep.at

    resumed = train(cfg)
    assert resumed["final_train_loss"] == reference["final_train_loss"]
    assert resumed["final_eval_loss"] == reference["final_eval_loss"]
    steps = [m["step"] for m in run.read_metrics()]
    assert steps == sorted(set(steps)), "metrics.jsonl has each logged step once"


def test_a_crash_is_recorded_as_failed_and_the_rerun_resumes_from_the_last_checkpoint(
        tiny_config, tmp_path, monkeypatch):
    reference = train(tiny_config(f"out_dir={tmp_path / 'uninterrupted'}"))
    cfg = tiny_config("train.checkpoint_every_minutes=1e-9")  # checkpoint after every step
    run = RunDir.for_config(cfg)
    with node_lost_at(7, monkeypatch):
        with pytest.raises(RuntimeError, match="node lost"):
            train(cfg)
    failed = run.read_result()
    assert failed["status"] == "failed" and "node lost" in failed["error"] and "Traceback" in failed["traceback"]
    assert failed["steps_done"] == run.read_metrics()[-1]["step"] > 0  # where it got to (sweep status showed 0)

    resumed = train(cfg)
    assert resumed["status"] == "complete"
    assert resumed["final_eval_loss"] == reference["final_eval_loss"]


def test_a_checkpoint_copied_in_from_another_run_is_refused_before_any_step(tiny_config, tmp_path):
    """Another run of the same shape's checkpoint resumed this one into that run's loss, with exit code 0."""
    other = tiny_config("optim.lr=1e-2", "train.checkpoint_every_minutes=1e-9")
    train(other)
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.checkpoint_file.parent.mkdir(parents=True)
    shutil.copy(RunDir.for_config(other).checkpoint_file, run.checkpoint_file)
    with pytest.raises(ConfigError, match=rf"written by the run {RunDir.for_config(other).path.name}, not by "
                                          rf"{run.path.name}: copied in from another run"):
        train(cfg)
    assert not run.metrics_file.exists() and "copied in from another run" in run.read_result()["error"]
    run.checkpoint_file.unlink()  # moved away, as the message says: the run trains from step 0
    assert train(cfg)["status"] == "complete"


def test_a_torn_last_metrics_line_is_dropped_and_the_run_resumes_exactly_the_same(
        tiny_config, tmp_path, monkeypatch):
    reference = train(tiny_config(f"out_dir={tmp_path / 'uninterrupted'}"))
    cfg = tiny_config()
    run = interrupted_by_a_signal(cfg, monkeypatch)
    with open(run.metrics_file, "a") as f:
        f.write('{"step": 99, "tokens": 12')  # the process was killed mid-line

    resumed = train(cfg)
    assert resumed["status"] == "complete"
    assert resumed["final_eval_loss"] == reference["final_eval_loss"]
    steps = [m["step"] for m in run.read_metrics()]
    assert steps == sorted(set(steps)) and 99 not in steps


def test_a_run_with_a_damaged_file_stops_with_one_line_before_any_compute(tiny_config, monkeypatch):
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.path.mkdir(parents=True)
    run.result_file.write_text('{"status": "complete", "final_ev')
    monkeypatch.setattr(train_module, "open_corpus", lambda *a: pytest.fail("compute started"))
    with pytest.raises(DamagedFile, match="result.json: not valid JSON"):
        train(cfg)
    run.result_file.unlink()
    run.checkpoint_dir.mkdir()
    run.checkpoint_file.write_bytes(b"a checkpoint to resume from")
    run.metrics_file.write_text('{"step": 2}\nnot json\n{"step": 6}\n')
    with pytest.raises(DamagedFile, match="metrics.jsonl: line 2 is not JSON"):
        train(cfg)
    assert sorted(p.name for p in run.path.iterdir()) == ["checkpoints", "metrics.jsonl"]


def test_a_stop_signal_under_slurm_says_the_job_is_requeued_else_to_re_run(tmp_path, monkeypatch):
    """A timed-out Slurm job's log said to re-run the command while submitit requeued it 20 s later."""
    run = RunDir(tmp_path / "r")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert str(RunInterrupted(run, 9, "SIGUSR2")).endswith("at step 9; re-run the same command to resume")
    monkeypatch.setenv("SLURM_JOB_ID", "212")
    assert "requeued while it has requeues left (hydra.launcher.max_requeues), else re-run" in str(
        RunInterrupted(run, 9, "SIGUSR2"))


def test_a_real_sigusr2_interrupts_a_training_process_which_then_resumes(tmp_path, shared_cache_dir):
    overrides = [*TINY, "budget.tokens_per_param=1", "train.log_every=1", "train.eval_every=50",
                 f"data.cache_dir={shared_cache_dir}", f"out_dir={tmp_path / 'runs'}"]
    cfg = to_typed(compose_config(*overrides))
    run = RunDir.for_config(cfg)
    returncode, output = train_until_sigusr2(overrides, run.metrics_file)
    assert returncode == 128 + signal.SIGUSR2, output
    assert "re-run the same command to resume" in output
    assert "tokens=" in output and "steps=" in output and "FLOPs=" in output  # budget printed at start
    assert "epochs over" in output
    stopped_at = run.read_metrics()[-1]["step"]
    assert run.checkpoint_file.exists() and not run.result_file.exists()

    result = train(cfg)
    assert result["status"] == "complete" and stopped_at < result["steps"]
    reference = train(to_typed(compose_config(*overrides[:-1], f"out_dir={tmp_path / 'reference'}")))
    assert result["final_train_loss"] == reference["final_train_loss"]
    assert result["final_eval_loss"] == reference["final_eval_loss"]


def trained_values(metrics: list[dict]) -> list[dict]:
    """metrics.jsonl without its timings: what must be the same however often a run was stopped."""
    return [{k: v for k, v in m.items() if k in ("step", "lr", "train_loss", "grad_norm", "eval_loss")}
            for m in metrics]


def test_a_stop_signal_at_any_step_leaves_that_step_or_a_complete_run_and_the_resume_ends_the_same(
        tiny_config, tmp_path, monkeypatch):
    few_steps = "budget.tokens_per_param=0.06"
    reference_cfg = tiny_config(few_steps, f"out_dir={tmp_path / 'uninterrupted'}")
    reference = train(reference_cfg)
    reference_metrics = RunDir.for_config(reference_cfg).read_metrics()
    steps = reference["steps"]
    assert 6 <= steps <= 14
    for k in range(1, steps + 1):
        cfg = tiny_config(few_steps, f"out_dir={tmp_path / f'stopped-at-{k}'}")
        run = RunDir.for_config(cfg)
        with monkeypatch.context() as patch:
            patch.setattr(StopAtStep, "at", k)
            patch.setattr(train_module, "StopRequest", StopAtStep)
            if k < steps:
                with pytest.raises(RunInterrupted, match=f"at step {k};") as stopped:
                    train(cfg)
                assert stopped.value.step == k
                assert not run.result_file.exists()
            else:
                assert train(cfg)["status"] == "complete"  # at the last step the run simply finishes
        assert torch.load(run.checkpoint_file, weights_only=True)["step"] == k
        result = train(cfg)
        assert (result["status"], result["final_train_loss"], result["final_eval_loss"]) == (
            "complete", reference["final_train_loss"], reference["final_eval_loss"]), f"stopped at step {k}"
        assert trained_values(run.read_metrics()) == trained_values(reference_metrics), f"stopped at step {k}"


def test_a_stop_signal_while_the_result_is_written_leaves_the_run_complete(tiny_config, monkeypatch):
    cfg = tiny_config()
    real_write_result = RunDir.write_result

    def signalled_while_writing(self, result):
        os.kill(os.getpid(), signal.SIGUSR2)  # e.g. Slurm's time-limit warning
        real_write_result(self, result)

    passed_on = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: passed_on.append(signum))  # a launcher's
    try:
        monkeypatch.setattr(RunDir, "write_result", signalled_while_writing)
        result = train(cfg)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert result["status"] == "complete" and RunDir.for_config(cfg).read_result()["status"] == "complete"
    assert passed_on == [], "the finished run was handed to the launcher's requeue handler"


def test_temporary_files_left_by_a_killed_process_are_removed_when_the_run_starts(tiny_config):
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.checkpoint_dir.mkdir(parents=True)
    stale = [run.checkpoint_dir / ".latest.pt.4242.tmp", run.path / ".result.json.k2j3.tmp",
             run.path / ".config.yaml.x8a1.tmp", run.path / ".metrics.jsonl.q0w9.tmp"]
    for tmp in stale:
        tmp.write_bytes(b"half written")
    assert train(cfg)["status"] == "complete"
    assert not any(tmp.exists() for tmp in stale)
    assert sorted(p.name for p in run.path.rglob("*") if p.is_file()) == [
        ".lock", "config.yaml", "latest.pt", "metrics.jsonl", "result.json"]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs folder where this machine allows mounting one (root with CAP_SYS_ADMIN), else None."""
    path = tmp_path / "small-disk"
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)],
                             capture_output=True).returncode == 0 if shutil.which("mount") else False
    yield path if mounted else None
    if mounted:
        subprocess.run(["umount", "--lazy", str(path)], check=True)  # lazy: a leaked open file does not block it


def fail_after_first_save(real_save):
    """torch.save that fails like a full disk (part written, then ENOSPC) after its first call."""
    calls = []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            f.write(b"part of a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, f, *args, **kwargs)

    return save


def test_a_full_disk_is_one_clear_error_recorded_as_failed_and_the_rerun_resumes_from_the_last_checkpoint(
        tiny_config, tmp_path, small_disk, monkeypatch, caplog):
    reference_cfg = tiny_config(f"out_dir={tmp_path / 'uninterrupted'}")
    reference = train(reference_cfg)
    checkpoint_size = RunDir.for_config(reference_cfg).checkpoint_file.stat().st_size
    out_dir = small_disk or tmp_path / "disk"
    cfg = tiny_config(f"out_dir={out_dir}", "train.checkpoint_every_minutes=1e-9")  # after every step
    run = RunDir.for_config(cfg)
    filler = out_dir / "filler"
    with monkeypatch.context() as patch:
        if small_disk:  # room for the first checkpoint, not for a second one written next to it
            filler.write_bytes(bytes(shutil.disk_usage(small_disk).free - int(1.5 * checkpoint_size) - 2 ** 16))
        else:
            patch.setattr(torch, "save", fail_after_first_save(torch.save))
        with pytest.raises(StorageError) as failed:
            train(cfg)
    message = str(failed.value)
    assert str(run.checkpoint_file) in message and "No space left on device" in message
    assert "free on its file system" in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__  # one error, no chain
    recorded = run.read_result()
    assert recorded["status"] == "failed" and "No space left on device" in recorded["error"]
    assert load_runs(out_dir)[0]["status"] == "failed"  # what `sweep status` shows
    assert [p.name for p in run.checkpoint_dir.iterdir()] == ["latest.pt"]  # no temporary file left
    assert torch.load(run.checkpoint_file, weights_only=True)["step"] == 1  # the previous one, whole

    filler.unlink(missing_ok=True)
    with caplog.at_level(logging.INFO, logger="sweep.train"):
        resumed = train(cfg)
    assert "resuming from step 1 of" in caplog.text
    assert resumed["status"] == "complete" and resumed["final_eval_loss"] == reference["final_eval_loss"]


def test_a_run_that_trained_to_its_budget_is_complete_even_if_its_final_checkpoint_cannot_be_written(
        tiny_config, monkeypatch, caplog):
    cfg = tiny_config()  # the default cadence: the only checkpoint is the final one

    def disk_full(obj, f, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    with caplog.at_level(logging.WARNING, logger="sweep.train"):
        result = train(cfg)
    assert result["status"] == "complete" and RunDir.for_config(cfg).read_result()["status"] == "complete"
    assert "the final checkpoint was not written" in caplog.text and "No space left on device" in caplog.text
    assert "nothing to re-run" in caplog.text and "re-run the same command" not in caplog.text


def test_a_finished_run_writes_its_result_before_its_final_checkpoint_which_may_fill_the_disk(tiny_config,
                                                                                              monkeypatch):
    import sweep.rundir
    from sweep.storage import atomic_write

    cfg = tiny_config()
    full = []

    def checkpoint_fills_the_disk(obj, f, *args, **kwargs):
        full.append(True)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def refused_once_full(path, data):
        if full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        atomic_write(path, data)

    monkeypatch.setattr(torch, "save", checkpoint_fills_the_disk)
    monkeypatch.setattr(sweep.rundir, "atomic_write", refused_once_full)
    assert train(cfg)["status"] == "complete" and full  # was: the checkpoint first, then no room for the result
    assert RunDir.for_config(cfg).read_result()["status"] == "complete"


def test_a_disk_without_room_for_a_checkpoint_fails_the_run_before_its_first_step(tiny_config, monkeypatch):
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    monkeypatch.setattr(checkpoint_module, "free_bytes", lambda path: 10_000)
    with pytest.raises(StorageError, match=r"no room for checkpoint .*latest.pt: it needs about .* 9.8 KiB free"):
        train(cfg)
    assert not run.metrics_file.exists() and not run.checkpoint_file.exists()  # nothing trained
    assert run.read_result()["status"] == "failed"


def test_the_loop_reads_values_back_to_the_host_only_at_log_steps(tiny_config, monkeypatch):
    cfg = tiny_config("train.log_every=5", "train.eval_every=10")
    reads = HostReads()

    def lr_at_and_mark(step, *args):
        reads.step = step
        return train_module.lr_at.__wrapped__(step, *args)

    lr_at_and_mark.__wrapped__ = train_module.lr_at
    monkeypatch.setattr(train_module, "lr_at", lr_at_and_mark)
    with reads:
        result = train(cfg)
    steps = result["steps"]
    assert steps > 15
    in_steps = {step for step, _ in reads.reads if step is not None}
    log_steps = {s - 1 for s in range(1, steps + 1) if s % 5 == 0 or s == steps}  # 0-based step indices
    assert in_steps and in_steps <= log_steps, sorted(in_steps - log_steps)


def test_a_compiled_run_compiles_the_model_once_and_evals_do_not_recompile(tiny_config, monkeypatch):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    graphs_at_eval = []

    def evaluate_and_count(*args):
        out = evaluate(*args)
        graphs_at_eval.append(counters["stats"]["unique_graphs"])
        return out

    monkeypatch.setattr(train_module, "evaluate", evaluate_and_count)
    result = train(tiny_config("model.l=2", "train.compile=true"))
    # one graph for the forward while training, one for the loss, one for the forward under
    # no_grad in eval (its short last batch padded to the training batch size)
    assert len(graphs_at_eval) > 3 and set(graphs_at_eval) == {3}
    assert counters["stats"]["unique_graphs"] == 3
    assert result["compile_seconds"] > 0 and result["first_step_seconds"] >= result["compile_seconds"]


def test_the_result_carries_tokens_per_second_and_mfu_with_the_peak_used(tiny_config):
    measured = train(tiny_config())
    assert measured["peak_flops"] > 0 and measured["peak_flops_source"].startswith("measured: float32")
    given = train(tiny_config("train.peak_tflops=0.5", "seed=1"))
    assert given["peak_flops"] == 0.5e12 and "train.peak_tflops" in given["peak_flops_source"]
    for result in (measured, given):
        expected_mfu = result["train_tokens_per_second"] * result["model_flops_per_token"] / result["peak_flops"]
        assert result["mfu"] == pytest.approx(expected_mfu)
        # steady training is faster than the whole run's average (first step, evals, start-up)
        assert result["train_tokens_per_second"] > result["tokens_per_second"] > 0
        assert 0 < result["first_step_seconds"] < result["startup_seconds"] < 600
        assert result["compile_seconds"] is None  # an eager run


def test_a_diverging_run_ends_with_status_diverged_instead_of_crashing(tiny_config):
    result = train(tiny_config("optim.lr=100", "optim.grad_clip=null", "optim.warmup_steps=0"))
    assert result["status"] == "diverged"
    assert "divergence_factor" in result["reason"]


@pytest.mark.parametrize("mode", ["independent", "l2"])
def test_every_weight_decay_mode_trains(tiny_config, mode):
    result = train(tiny_config(f"optim.weight_decay_mode={mode}"))
    assert result["status"] == "complete" and result["final_train_loss"] < 5.0


@pytest.mark.parametrize("override,message", [
    ("model.d=40", "model.d=40"),
    ("budget.tokens_per_param=0.0001", "smaller than one step"),
])
def test_bad_input_fails_before_anything_is_written(tiny_config, tmp_path, override, message):
    cfg = tiny_config(override)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (tmp_path / "runs").exists() or not any(p.name.startswith("d") for p in (tmp_path / "runs").iterdir())


def test_missing_data_files_fail_before_training(tiny_config, tmp_path):
    cfg = tiny_config("data=files", f"data.paths=[{tmp_path / 'missing.txt'}]")
    with pytest.raises(ConfigError, match="missing.txt"):
        train(cfg)
    assert not RunDir.for_config(cfg).path.exists()


@pytest.mark.slow  # about 11 s; a grid trained and its finished points skipped is test_local.py's launcher test
def test_hydra_multirun_trains_the_grid_and_skips_finished_points(tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "model.d=16,32", "model.l=1", "model.head_dim=16",
           "model.seq_len=32", "train.batch_size=4", "budget.tokens_per_param=0.5", "train.device=cpu",
           "data.eval_tokens=2048", "logger=none", f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    runs = sorted(p.name for p in out.iterdir() if (p / "result.json").exists())
    assert [r.split("-")[0] for r in runs] == ["d16", "d32"]
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0
    assert (again.stdout + again.stderr).count("already complete") == 2


def test_an_invalid_grid_point_stops_the_multirun_before_any_training(tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "model.d=64,100", f"out_dir={out}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "1 of 2 grid points are invalid" in proc.stdout + proc.stderr
    assert "model.d=100 is not a multiple of model.head_dim=64" in proc.stdout + proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_run_held_by_another_process_is_skipped_with_nothing_written(tiny_config):
    from sweep.rundir import RunHeld

    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    with run.hold():  # as another process would (flock: another open of the lock file)
        with pytest.raises(RunHeld, match="held by pid"):
            train(cfg)
        assert sorted(p.name for p in run.path.iterdir()) == [".lock"]  # no config, metrics, result
    assert train(cfg)["status"] == "complete"


EARLY_STOP = ("early_stop.enabled=true", "early_stop.fraction=0.5", "early_stop.resamples=50")
# A group the predictor can decide: runs of 641 steps, evals every 8, probed at step 320 (at 81
# steps the runs are still in their first fall from ln V at half their steps: not predicted)
DECIDABLE = (*EARLY_STOP, "budget.tokens_per_param=4", "train.eval_every=8")


def probe_and_decide(tiny_config, *lrs: str) -> list:
    """A budget group trained to its probe step (320 of 641) and decided (sweep/early_stop.py)."""
    from sweep.early_stop import decide_group, probe_step

    cfgs = [tiny_config(*DECIDABLE, f"optim.lr={lr}") for lr in lrs]
    for cfg in cfgs:
        assert train(cfg, until_step=probe_step(cfg)) == {"status": "segment", "run": RunDir.for_config(cfg).path.name,
                                                          "step": 320}
    decide_group(cfgs)
    return cfgs


def test_an_early_stopped_run_stops_at_its_probe_step_with_its_checkpoint_and_no_result(tiny_config):
    from sweep.run.checkpoint import checkpoint_step

    cfg = tiny_config(*EARLY_STOP)
    run = RunDir.for_config(cfg)
    assert train(cfg, until_step=40)["step"] == 40
    assert checkpoint_step(run.checkpoint_file) == 40 and not run.result_file.exists()
    assert run.read_metrics()[-1]["step"] == 40
    assert train(cfg, until_step=40)["step"] == 40  # again: nothing to do
    with pytest.raises(ValueError, match="only a ladder's trunk or an early-stopped run"):
        train(tiny_config(), until_step=40)


def decide_stop(cfg, step: int) -> None:
    """The run's budget group decided it stopped at `step` (its decisions file, as decide_group writes it)."""
    from sweep.early_stop import STOP, MemberDecision, decisions_file

    run = RunDir.for_config(cfg)
    decision = MemberDecision(run=run.path.name, action=STOP, predicted=5.0, interval=(4.9, 5.1),
                              predicted_at_step=step, steps=compute_budget(cfg).steps, reason="worse than the best")
    decisions_file(cfg).parent.mkdir(parents=True, exist_ok=True)
    decisions_file(cfg).write_text(json.dumps({"members": {run.path.name: decision.to_dict()}}))


def test_a_stopped_run_whose_resumption_fails_before_its_first_step_keeps_its_stopped_result_and_says_so(
        tiny_config, monkeypatch):
    cfg = tiny_config(*EARLY_STOP)
    run = RunDir.for_config(cfg)
    train(cfg, until_step=40)
    decide_stop(cfg, 40)
    stopped = train(cfg)
    assert stopped["status"] == "stopped_early"
    off = dataclasses.replace(cfg, early_stop=dataclasses.replace(cfg.early_stop, enabled=False))
    with monkeypatch.context() as patch:  # no room for its checkpoint
        patch.setattr(checkpoint_module, "free_bytes", lambda path: 10_000)
        with pytest.raises(StorageError, match=r"no room for checkpoint .*; its stopped_early result \(step 40, its "
                                               r"prediction and decision\) is kept as it was"):
            train(off)
    kept = run.read_result()  # was: status failed, steps_done 40, the prediction and decision gone
    assert {k: v for k, v in kept.items() if k != "resume_failed"} == stopped
    assert "no room for checkpoint" in kept["resume_failed"]["error"]
    assert load_runs(run.path.parent)[0]["status"] == "stopped_early"  # what `sweep status` shows
    saved = run.checkpoint_file.read_bytes()
    run.checkpoint_file.write_bytes(saved[:100] + bytes(b ^ 0xFF for b in saved[100:200]) + saved[200:])
    with pytest.raises(ConfigError, match="is damaged: .*; its stopped_early result .* is kept as it was"):
        train(off)
    assert run.read_result()["status"] == "stopped_early"
    run.checkpoint_file.write_bytes(saved)
    resumed = train(off)  # past its first new step its stop no longer holds: complete
    assert resumed["status"] == "complete" and resumed["steps_done"] == 81 and "resume_failed" not in resumed


def test_a_probe_whose_checkpoint_write_failed_trains_again_to_its_probe_step_where_its_stop_is_then_recorded(
        tiny_config, monkeypatch):
    """Its metrics record at P is written before its checkpoint: a full disk at the checkpoint left
    the record, and the probe counted done; the group then stopped it and found no checkpoint."""
    import launch.jobs
    from sweep.run.checkpoint import checkpoint_step

    cfg = tiny_config(*EARLY_STOP)
    run = RunDir.for_config(cfg)

    def disk_full(obj, f, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", disk_full)
        with pytest.raises(StorageError, match="No space left on device"):
            train(cfg, until_step=40)
    assert run.read_metrics()[-1]["step"] == 40 and not run.checkpoint_file.exists()
    point = type("Point", (), {"cfg": cfg, "run": run, "state": lambda self: run.state()})()
    assert not launch.jobs.probe_done(point, 40)  # was: done, its metrics.jsonl at P
    decide_stop(cfg, 40)  # its group decided from its record at P

    assert train(cfg, until_step=40)["step"] == 40  # was: "decided at or past step 40: nothing to do"
    assert checkpoint_step(run.checkpoint_file) == 40 and launch.jobs.probe_done(point, 40)
    assert [m["step"] for m in run.read_metrics()] == list(range(2, 41, 2))  # trained again, once each
    stopped = train(cfg)  # was: "its checkpoint is gone; set early_stop.enabled=false to train it from the start"
    assert stopped["status"] == "stopped_early" and stopped["steps_done"] == 40


def test_with_early_stopping_on_every_run_evaluates_at_its_probe_step_and_the_log_steps_either_side(
        tiny_config, tmp_path):
    from sweep.early_stop import probe_step

    probe, full = tiny_config(*EARLY_STOP, "train.eval_every=1000"), tiny_config(*EARLY_STOP, "train.eval_every=1000",
                                                                                  "optim.lr=1e-2")
    at = probe_step(probe)  # 40 of 81, log every 2
    assert train(probe, until_step=at)["step"] == at < 1000  # not an eval_every step
    assert [m["step"] for m in RunDir.for_config(probe).read_metrics() if "eval_loss" in m] == [at - 2, at]
    result = train(full)  # a run trained whole (a larger run's reference): read near the same fraction
    evals = [m["step"] for m in RunDir.for_config(full).read_metrics() if "eval_loss" in m]
    assert evals == [at - 2, at, at + 2, result["steps"]]
    off = dataclasses.replace(full, early_stop=dataclasses.replace(full.early_stop, enabled=False),
                              out_dir=str(tmp_path / "plain"))
    plain = train(off)
    assert [m["step"] for m in RunDir.for_config(off).read_metrics() if "eval_loss" in m] == [plain["steps"]]
    assert plain["final_eval_loss"] == result["final_eval_loss"]  # the extra eval changes no training


def test_a_run_its_group_stops_records_its_prediction_at_its_probe_step_and_the_best_trains_on(tiny_config):
    good, bad = probe_and_decide(tiny_config, "1e-2", "3e-1")  # 3e-1: far too high, it levels off high
    stopped, complete = train(bad), train(good)
    assert stopped["status"] == "stopped_early" and stopped["steps_done"] == 320  # never before its probe step
    lo, hi = stopped["predicted_interval"]
    assert lo <= stopped["predicted_final_eval_loss"] <= hi and lo > complete["early_stop"]["interval"][1]
    assert stopped["predicted_interval_level"] == bad.early_stop.level  # what turns the interval into a stderr
    assert stopped["early_stop"]["action"] == "stop" and stopped["early_stop"]["best_run"] == complete["run"]
    assert stopped["trained_flops"] == pytest.approx(stopped["flops"] * 320 / 641)
    assert stopped["flops"] == complete["flops"]  # its coordinates stay its budget's (same group, same cell)
    assert complete["status"] == "complete" and complete["early_stop"]["action"] == "continue"
    assert RunDir.for_config(bad).read_result() == stopped
    assert train(bad) == stopped  # re-running with early stopping on: nothing to do


def test_a_stopped_run_resumed_with_early_stopping_off_ends_at_the_loss_it_would_have_reached(tiny_config, tmp_path):
    _, bad = probe_and_decide(tiny_config, "1e-2", "3e-1")
    train(bad)
    resumed = train(dataclasses.replace(bad, early_stop=dataclasses.replace(bad.early_stop, enabled=False)))
    never_stopped = train(dataclasses.replace(bad, out_dir=str(tmp_path / "plain")))
    assert resumed["status"] == "complete" and resumed["steps_done"] == 641
    assert resumed["final_eval_loss"] == never_stopped["final_eval_loss"]
    assert resumed["final_train_loss"] == never_stopped["final_train_loss"]
    assert resumed["early_stop"]["action"] == "stop"  # what was decided stays on record


def test_a_run_the_first_decision_leaves_going_trains_to_the_next_decision_step_and_is_stopped_there(tiny_config):
    """early_stop.again_at: decided at 25% (step 160 of 641) and again at 50% (320). At 160 the
    runs' intervals are too wide to part them (measured: neither stopped); at 320 the far too high
    learning rate lies clearly above the best and stops there, at the step of that decision."""
    from sweep.early_stop import decide_group, decision_steps

    cfgs = [tiny_config(*DECIDABLE, "early_stop.fraction=0.25", "early_stop.again_at=[0.5]", f"optim.lr={lr}")
            for lr in ("1e-2", "3e-1")]
    assert decision_steps(cfgs[0]) == [160, 320]
    for cfg in cfgs:
        assert train(cfg, until_step=160)["step"] == 160
    first = decide_group(cfgs, 0)
    assert [d.action for d in first.values()] == ["continue", "continue"]
    for cfg in cfgs:
        assert train(cfg, until_step=320)["step"] == 320  # decided to go on: to the next decision step
    second = decide_group(cfgs, 1)
    good, bad = cfgs
    stopped, complete = train(bad), train(good)
    assert stopped["status"] == "stopped_early" and stopped["steps_done"] == 320
    assert stopped["early_stop"]["action"] == "stop" and stopped["early_stop"]["rung"] == 1
    assert stopped["early_stop"]["predicted_at_step"] == 320
    assert complete["status"] == "complete" and complete["early_stop"]["rung"] == 1
    assert second[stopped["run"]].interval[0] > second[complete["run"]].interval[1]
    assert train(bad, until_step=320) == stopped  # its jobs run again: nothing to do
