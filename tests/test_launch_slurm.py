"""The Slurm launcher end to end on the project's own single-node Slurm (tests/slurm_cluster.py):
submit-and-exit, a job on a (fake) GPU falling back to CPU, a run that hits its time limit and
is requeued and resumes to exactly the loss of an uninterrupted run, a crash shown as failed,
no double submission (pending array tasks, two submits at once), a cancel shown as cancelled, and
hydra-submitit-launcher's option names in a real sbatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch.queue import latest_jobs
from tests.slurm_cluster import slurm

REPO = Path(__file__).resolve().parent.parent
RUN = ["model.l=1", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4", "data.eval_tokens=2048",
       "train.device=auto", "train.precision=fp32", "train.compile=false", "logger=none"]
CLUSTER = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
           "hydra.launcher.array_parallelism=2", "hydra.launcher.max_array_size=null"]


def submit(out: Path, cache: Path, *overrides: str, buckets: str,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sweep.train", "-m", *CLUSTER, f"hydra.launcher.buckets={buckets}", *RUN,
           f"data.cache_dir={cache}", f"out_dir={out}", *overrides]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)


def status(out: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch.cli", "status", str(out), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}


def test_a_grid_is_submitted_and_the_command_returns_then_runs_finish(slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    buckets = "[{name:cpu,max_hours:1e-9,time_min:5,gpus_per_node:0},{name:gpu,max_hours:1,time_min:5,gpus_per_node:1}]"
    started = time.time()
    sub = submit(out, shared_cache_dir, "model.d=16,32", "budget.tokens_per_param=0.5", buckets=buckets)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    assert time.time() - started < 60, "submission returns without waiting for the jobs"
    manifest = latest_jobs(out)
    assert {e["bucket"] for e in manifest.values()} == {"cpu", "gpu"}  # d=16 is cheap, d=32 is not

    again = submit(out, shared_cache_dir, "model.d=16,32", "budget.tokens_per_param=0.5", buckets=buckets)
    assert "finished, queued, running or damaged: not submitted again" in again.stdout + again.stderr
    assert latest_jobs(out) == manifest

    done = status(out, "--wait", "--interval", "2")
    assert done.returncode == 0, done.stdout + done.stderr + slurm_cluster.diagnose()
    assert sorted(r["status"] for r in results(out).values()) == ["complete", "complete"]
    assert "2 complete" in done.stdout
    # a run's result.json is written a moment before its job ends: the job column says COMPLETED
    # once Slurm has seen the job end
    assert {slurm_cluster.final_state(e["job_id"]) for e in manifest.values()} == {"COMPLETED"}
    assert status(out).stdout.count("COMPLETED") == 2
    gpu_log = Path(next(e for e in manifest.values() if e["bucket"] == "gpu")["log"]).read_text()
    assert "on cpu" in gpu_log  # the test cluster's GPU is fake: the run fell back to the CPU


@pytest.mark.slow  # about 6 minutes: Slurm's time limit is whole minutes, then the requeued job runs
def test_a_run_past_its_time_limit_is_requeued_and_ends_as_if_uninterrupted(slurm_cluster, tmp_path, shared_cache_dir):
    # 80-200 s of training (a fast idle CPU trains 80 tokens/param in 37 s): more than the ~30-60 s
    # from a 2-minute job's start to Slurm's SIGUSR2 (sent signal_delay_s=60 before the limit, on
    # slurmctld's 30 s timer; a 1-minute bucket leaves no room for start-up and is refused), so it
    # is requeued at least once; on a slow or busy machine it takes more attempts: max_requeues is
    # generous
    run = [*RUN, "model.d=32", "budget.tokens_per_param=200", "train.log_every=10", "train.eval_every=1000",
           f"data.cache_dir={shared_cache_dir}"]

    def submit_run(out: Path, time_min: int) -> None:
        sub = subprocess.run([sys.executable, "-m", "sweep.train", "-m", *CLUSTER, *run, f"out_dir={out}",
                              f"hydra.launcher.buckets=[{{name:b,max_hours:1,time_min:{time_min},gpus_per_node:0}}]",
                              "hydra.launcher.signal_delay_s=60", "hydra.launcher.max_requeues=30"],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        assert sub.returncode == 0, sub.stdout + sub.stderr

    out, reference = tmp_path / "sweep", tmp_path / "reference"
    submit_run(out, time_min=2)
    submit_run(reference, time_min=10)  # the same run, uninterrupted, in the same job environment
    assert status(out, "--wait", "--interval", "3", timeout=1500).returncode == 0, slurm_cluster.diagnose()
    assert status(reference, "--wait", "--interval", "3").returncode == 0

    (result,), (expected,) = results(out).values(), results(reference).values()
    assert result["status"] == "complete", result
    log = Path(next(iter(latest_jobs(out).values()))["log"]).read_text()
    assert "resuming from step" in log, "the run was requeued and resumed from its checkpoint"
    assert "resuming" not in Path(next(iter(latest_jobs(reference).values()))["log"]).read_text()
    assert result["final_eval_loss"] == expected["final_eval_loss"]
    assert result["final_train_loss"] == expected["final_train_loss"]


def test_a_crashing_job_shows_as_failed_with_its_traceback(slurm_cluster, tmp_path, shared_cache_dir):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a small corpus that will be gone when the job starts. " * 200)
    out = tmp_path / "sweep"
    sub = submit(out, tmp_path / "cache", "data=files", f"data.paths=[{corpus}]", "data.tokenizer=byte",
                 "data.eval_tokens=100", "model.d=16", "budget.tokens_per_param=0.5",
                 "+hydra.launcher.additional_parameters.begin=now+5",
                 buckets="[{name:cpu,max_hours:1,time_min:5,gpus_per_node:0}]")
    assert sub.returncode == 0, sub.stdout + sub.stderr
    corpus.unlink()  # valid when submitted, missing when the job runs
    done = status(out, "--wait", "--interval", "2")
    (result,) = results(out).values()
    assert result["status"] == "failed" and "corpus.txt" in result["error"]
    assert "1 failed" in done.stdout and "traceback:" in done.stdout
    (job,) = latest_jobs(out).values()
    assert slurm_cluster.final_state(job["job_id"]) == "FAILED"


def test_sweep_prepare_runs_as_its_own_slurm_job(slurm_cluster, tmp_path):
    data = ["data=synthetic", "data.vocab_size=64", "data.synthetic.documents_per_shard=200",
            "data.density_documents=500"]
    prepare = [sys.executable, "-m", "launch.cli", "prepare", *CLUSTER, *RUN, *data, "model.d=16,32",
               "budget.tokens_per_param=0.5", f"data.cache_dir={tmp_path / 'cache'}", f"out_dir={tmp_path / 'sweep'}",
               "--slurm", "--wait", "--workers", "1", "--time-min", "5"]
    done = subprocess.run(prepare, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + slurm_cluster.diagnose()
    assert "submitted as Slurm job" in done.stdout and "true entropy rate" in done.stdout
    (entry,) = (tmp_path / "cache").glob("synthetic-*")
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["n_train_tokens"] > 0 and manifest["true_entropy_nats"] > 0


HELD = "+hydra.launcher.additional_parameters.hold=true"  # sbatch --hold: the array stays PENDING, cheap


def test_a_pending_array_is_not_submitted_again_is_waited_for_and_a_cancel_shows_as_cancelled(
        slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    buckets = "[{name:cpu,max_hours:1,time_min:5,gpus_per_node:0}]"
    grid = ("model.d=16", "seed=0,1,2", "budget.tokens_per_param=0.5", HELD)
    sub = submit(out, shared_cache_dir, *grid, buckets=buckets)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    manifest = latest_jobs(out)
    array = next(iter(manifest.values()))["job_id"].split("_")[0]
    assert slurm("squeue", "-h", "-o", "%i", "-j", array).strip().startswith(f"{array}_[")  # e.g. 11_[0-2%2]
    waiter = subprocess.Popen([sys.executable, "-m", "launch.cli", "status", str(out), "--wait", "--interval", "1"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        again = submit(out, shared_cache_dir, *grid, buckets=buckets)
        assert "3 of 3 runs are finished, queued, running or damaged: not submitted again" in again.stdout + again.stderr
        assert latest_jobs(out) == manifest
        shown = status(out)
        assert "3 queued" in shown.stdout and "PENDING" in shown.stdout, shown.stdout + shown.stderr
        assert waiter.poll() is None, "--wait waits for pending array tasks"
    finally:
        slurm("scancel", array)
    waited = waiter.communicate(timeout=120)[0]
    assert "3 cancelled" in waited, waited
    assert "failed" not in status(out).stdout


def test_two_identical_submits_at_the_same_moment_submit_each_run_once(slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", *CLUSTER, "hydra.launcher.buckets=[{name:cpu,max_hours:1,"
           "time_min:5,gpus_per_node:0}]", *RUN, "model.d=16", "seed=0,1", "budget.tokens_per_param=0.5", HELD,
           f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    both = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in both]
    manifest_lines = (out / "sweep_manifest.jsonl").read_text().splitlines()
    arrays = {e["job_id"].split("_")[0] for e in latest_jobs(out).values()}
    slurm("scancel", *arrays)
    assert [p.returncode for p in both] == [0, 0], outputs
    assert len(manifest_lines) == 2 and len(arrays) == 1, manifest_lines


def test_hydra_submitit_launcher_s_names_reach_a_real_sbatch(slurm_cluster, tmp_path, shared_cache_dir):
    out, logs = tmp_path / "sweep", tmp_path / "logs"
    cmd = [sys.executable, "-m", "sweep.train", "-m", *CLUSTER, *RUN, "model.d=16", "budget.tokens_per_param=0.5",
           HELD, "hydra.launcher.timeout_min=7", "hydra.launcher.max_num_timeout=1", "hydra.launcher.gres=gpu:1",
           "hydra.launcher.comment=scaling-ladder", "hydra.launcher.name=ladder",
           f"hydra.launcher.submitit_folder={logs}/%j", f"data.cache_dir={shared_cache_dir}", f"out_dir={out}"]
    sub = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    entry, = latest_jobs(out).values()
    try:
        job = slurm("scontrol", "show", "job", entry["job_id"])
        assert "JobName=ladder" in job and "Comment=scaling-ladder" in job and "TimeLimit=00:07:00" in job
        assert "gres/gpu=1" in job or "gres:gpu:1" in job or "gres/gpu:1" in job, job
        assert entry["bucket"] == "timeout_min" and Path(entry["log"]).is_relative_to(logs)
    finally:
        slurm("scancel", entry["job_id"].split("_")[0])


LADDER = ("optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=0.5,1", "optim.warmup_steps=2")
CPU = "[{name:cpu,max_hours:1,time_min:5,gpus_per_node:0}]"


@pytest.mark.slow  # about 30 s on the testbed; the ladder's segments and re-run are test_local.py's, Slurm submission the grid tests'
def test_a_two_budget_ladder_ends_with_both_branches_complete_each_segment_run_once_and_a_rerun_submits_nothing(
        slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    started = time.time()
    sub = submit(out, shared_cache_dir, "model.d=16", *LADDER, buckets=CPU)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    assert time.time() - started < 60, "submission returns once all is queued, without waiting for the jobs"
    entries = [json.loads(line) for line in (out / "sweep_manifest.jsonl").read_text().splitlines()]
    segments = [e for e in entries if "segment" in e]
    branches = [e for e in entries if "segment" not in e]
    assert len(segments) == 2 and len(branches) == 2
    assert "after" not in segments[0] and segments[1]["after"] == segments[0]["job_id"]  # afterok chain
    assert sorted(b["after"] for b in branches) == sorted(s["job_id"] for s in segments)

    again = submit(out, shared_cache_dir, "model.d=16", *LADDER, buckets=CPU)
    assert "4 of 4 jobs are finished, queued, running or damaged: not submitted again" in again.stdout + again.stderr
    assert len((out / "sweep_manifest.jsonl").read_text().splitlines()) == 4

    done = status(out, "--wait", "--interval", "2")
    assert done.returncode == 0, done.stdout + done.stderr + slurm_cluster.diagnose()
    finished = results(out)
    assert sorted((r["role"], r["status"]) for r in finished.values()) == [
        ("branch", "complete"), ("branch", "complete"), ("trunk", "complete")]
    assert {slurm_cluster.final_state(e["job_id"]) for e in entries} == {"COMPLETED"}
    trunk_log = "".join(Path(s["log"]).read_text() for s in segments)
    assert trunk_log.count("first step done") == 2  # each segment trained its own steps, once

    after = submit(out, shared_cache_dir, "model.d=16", *LADDER, buckets=CPU)
    assert after.returncode == 0 and "not submitted again" in after.stdout + after.stderr
    assert len((out / "sweep_manifest.jsonl").read_text().splitlines()) == 4  # a re-run submits nothing


@pytest.mark.slow  # about a minute: a failed segment, then the whole ladder again (test_queue, test_local cover the rules)
def test_a_failed_segment_leaves_its_dependants_cancelled_and_a_rerun_resubmits_them(slurm_cluster, tmp_path):
    corpus = tmp_path / "corpus.jsonl"  # one document a line
    text = "".join(json.dumps({"text": f"document {i} of a small corpus, gone when the first segment starts. " * 8})
                   + "\n" for i in range(60))
    corpus.write_text(text)
    out = tmp_path / "sweep"
    grid = ("data=files", f"data.paths=[{corpus}]", "data.tokenizer=byte", "data.eval_tokens=100", "model.d=16",
            *LADDER)
    sub = submit(out, tmp_path / "cache", *grid, "+hydra.launcher.additional_parameters.begin=now+5", buckets=CPU)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    corpus.unlink()  # valid when submitted, missing when the first segment runs
    done = status(out, "--wait", "--interval", "2")
    assert "1 failed" in done.stdout and "2 cancelled" in done.stdout, done.stdout + slurm_cluster.diagnose()
    assert "which did not complete; running the sweep again submits it again" in " ".join(done.stdout.split())
    corpus.write_text(text)
    again = submit(out, tmp_path / "cache", *grid, buckets=CPU)
    assert again.returncode == 0, again.stdout + again.stderr
    done = status(out, "--wait", "--interval", "2")
    assert sorted(r["status"] for r in results(out).values()) == ["complete"] * 3, \
        again.stdout + again.stderr + done.stdout


EARLY_STOP = ("model.d=32", "budget.tokens_per_param=4", "train.log_every=2", "train.eval_every=8",
              "optim.warmup_steps=2", "early_stop.enabled=true", "early_stop.fraction=0.5", "early_stop.resamples=50",
              "optim.lr=1e-2,3e-1")  # 3e-1: far too high, it levels off high (test_local's grid)


@pytest.mark.slow  # about 70 s: four jobs, two in a row (test_local covers the same grid, test_submit the afterok)
def test_early_stopping_on_slurm_stops_the_hopeless_run_after_afterok_on_both_probes_and_a_rerun_submits_nothing(
        slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    sub = submit(out, shared_cache_dir, *EARLY_STOP, buckets=CPU)
    assert sub.returncode == 0, sub.stdout + sub.stderr
    entries = [json.loads(line) for line in (out / "sweep_manifest.jsonl").read_text().splitlines()]
    probes = [e for e in entries if "probe" in e]
    rests = [e for e in entries if "probe" not in e]
    assert len(probes) == len(rests) == 2 and not any("after" in e for e in probes)
    assert all(sorted(r["after"].split(":")) == sorted(p["job_id"] for p in probes) for r in rests)

    done = status(out, "--wait", "--interval", "2")
    assert done.returncode == 0, done.stdout + done.stderr + slurm_cluster.diagnose()
    by_lr = {r["lr"]: r for r in results(out).values()}
    assert by_lr[3e-1]["status"] == "stopped_early" and by_lr[1e-2]["status"] == "complete"
    assert by_lr[3e-1]["predicted_final_eval_loss"] > by_lr[1e-2]["final_eval_loss"]
    assert "1 complete, 1 stopped_early" in done.stdout and "stopped early:" in done.stdout
    assert {slurm_cluster.final_state(e["job_id"]) for e in entries} == {"COMPLETED"}

    again = submit(out, shared_cache_dir, *EARLY_STOP, buckets=CPU)
    assert again.returncode == 0 and "not submitted again" in again.stdout + again.stderr
    assert len((out / "sweep_manifest.jsonl").read_text().splitlines()) == 4  # a re-run submits nothing


def test_a_partition_the_cluster_lacks_is_refused_before_anything_is_written(slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    for dry in (["--dry-run"], []):  # was: the dry run passed; the launch wrote multirun.yaml, .submitit/ and
        sub = submit(out, shared_cache_dir, "model.d=16", "budget.tokens_per_param=0.5",  # the manifest, then
                     "hydra.launcher.partition=nosuch", *dry, buckets=CPU)  # sbatch refused it
        assert sub.returncode == 2, sub.stdout + sub.stderr
        assert (f"error: hydra.launcher.partition=nosuch: the cluster has no partition 'nosuch'; accepted: "
                f"{slurm_cluster.partition}") in sub.stderr, sub.stderr
        assert not out.exists()


def test_a_request_no_node_of_the_partition_holds_is_refused_before_anything_is_written(
        slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    for dry in (["--dry-run"], []):  # was: submitted, then pending forever (PartitionNodeLimit, PartitionConfig)
        cpus = slurm_cluster.cpus
        for ask, words in (("nodes=2", "has 1 node (sinfo); accepted: 1..1"),
                           (f"cpus_per_task={cpus + 1}",
                            f"has at most {cpus} CPUs per node (sinfo); accepted: 1..{cpus}")):
            sub = submit(out, shared_cache_dir, "model.d=16", "budget.tokens_per_param=0.5", f"hydra.launcher.{ask}",
                         *dry, buckets=CPU)
            assert sub.returncode == 2, sub.stdout + sub.stderr
            assert (f"error: hydra.launcher.{ask}: the partition '{slurm_cluster.partition}' (the default) "
                    f"{words}") in sub.stderr, sub.stderr
            assert not out.exists()


def test_a_job_asking_for_more_nodes_than_the_partition_has_is_told_to_lower_nodes(
        slurm_cluster, tmp_path, shared_cache_dir):
    out = tmp_path / "sweep"
    no_sinfo = tmp_path / "bin"  # where sinfo does not say what the nodes hold, the request is not refused
    no_sinfo.mkdir()
    (no_sinfo / "sinfo").write_text("#!/bin/sh\nexit 1\n")
    (no_sinfo / "sinfo").chmod(0o755)
    sub = submit(out, shared_cache_dir, "model.d=16", "budget.tokens_per_param=0.5", "hydra.launcher.nodes=2",
                 buckets=CPU, env={**os.environ, "PATH": f"{no_sinfo}:{os.environ['PATH']}"})
    assert sub.returncode == 0, sub.stdout + sub.stderr
    entry, = latest_jobs(out).values()
    try:
        deadline = time.monotonic() + 60  # the controller gives the reason once its scheduler has looked at the job
        while "which waiting will not resolve" not in (shown := " ".join(status(out).stdout.split())) and \
                time.monotonic() < deadline:
            time.sleep(2)
        assert "PENDING (Partition" in shown and "which waiting will not resolve" in shown, shown  # NodeLimit or Config
        assert "nodes=2 where partition" in shown and "lower hydra.launcher.nodes" in shown, shown
    finally:
        slurm("scancel", entry["job_id"].split("_")[0])
