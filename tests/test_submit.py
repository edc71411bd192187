"""launch/submit.py: planning a grid, and what gets submitted (with a stand-in executor)."""

import contextlib
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from submitit.slurm.slurm import SlurmExecutor, _make_sbatch_string

from launch.jobs import BRANCH, PROBE, REST, RUNG, SEGMENT
from launch.submit import (SlurmOptions, early_stop_bound, ladder_saving, plan_grid, plan_totals, print_plan,
                           refresh_states, slurm_executor, submissions, submit_grid)
from launch.queue import NodeRequest, Partitions, latest_job_entries, latest_jobs
from launch.grid import split_grid
from sweep.early_stop import decision_steps, group_key, probe_step
from sweep.errors import ConfigError
from sweep.rundir import RunDir
from tests.helpers import TINY, compose_config, slurm_tools


def options(tmp_path, **kw) -> SlurmOptions:
    base = dict(folder=str(tmp_path / "submitit"), dry_run=False, partition=None, account=None, qos=None,
                constraint=None, gpus_per_node=1, cpus_per_task=1, mem_gb=1, nodes=1, tasks_per_node=None,
                setup=[], additional_parameters={}, array_parallelism=2, max_requeues=1, signal_delay_s=30,
                assumed_mfu=0.5, device="a100", max_array_size=3, exclude=None, gres=None, comment=None,
                mem_per_gpu=None, mem_per_cpu=None, cpus_per_gpu=None, gpus_per_task=None, srun_args=None,
                name=None, stderr_to_stdout=True, submitit_folder=None, max_num_timeout=None, timeout_min=None,
                buckets=[{"name": "tiny", "max_hours": 1e-9, "time_min": 2},
                         {"name": "rest", "max_hours": 1, "time_min": 5}])
    return SlurmOptions(**{**base, **kw})


class FakeExecutor:
    """Records batches as submitit.SlurmExecutor would submit them."""

    arrays: list = []
    batches: list = []  # (bucket, the job id it waits for, its jobs), in submission order
    ids = itertools.count(100)

    def __init__(self, options, bucket, after=None):
        self.bucket, self.after, self.jobs = bucket, after, []

    @contextlib.contextmanager
    def batch(self):
        yield
        array = next(self.ids)
        for i, job in enumerate(self.jobs):
            job.job_id = f"{array}_{i}"
        FakeExecutor.arrays.append((self.bucket.name, len(self.jobs)))
        FakeExecutor.batches.append((self.bucket.name, self.after, self.jobs))

    def submit(self, fn):
        job = type("Job", (), {"fn": fn, "job_id": None})()
        self.jobs.append(job)
        return job


def plan(tmp_path, shared_cache_dir, *grid, options_for=lambda o: o, base=TINY, **kw):
    points = split_grid([*base, *grid, f"out_dir={tmp_path / 'runs'}", f"data.cache_dir={shared_cache_dir}"])
    return plan_grid(points, lambda o: compose_config(*o), options_for(options(tmp_path, **kw)), slurm_states=False)


def test_runs_are_bucketed_by_cost_and_arrays_split_at_max_array_size(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "model.d=16,32", "seed=0,1,2,3")
    assert {(p.point.cfg.model.d, p.bucket.name) for p in planned} == {(16, "tiny"), (32, "rest")}
    assert all(p.gpu_hours > 0 for p in planned)
    FakeExecutor.arrays = []
    entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    assert FakeExecutor.arrays == [("tiny", 3), ("tiny", 1), ("rest", 3), ("rest", 1)]  # max_array_size=3
    assert len(entries) == 8
    manifest = latest_jobs(tmp_path / "runs")
    assert set(manifest) == {p.point.run.path.name for p in planned}
    assert all((p.point.run.path / "config.yaml").exists() for p in planned)  # `sweep status` lists queued runs


def test_an_array_sbatch_refuses_is_one_error_and_the_arrays_queued_before_it_stay_tracked(tmp_path, shared_cache_dir):
    import submitit

    class RefusingRest(FakeExecutor):
        @contextlib.contextmanager
        def batch(self):
            if self.bucket.name == "rest":
                raise submitit.core.utils.FailedJobError("sbatch: error: Batch job submission failed: Invalid "
                                                         "partition name specified")
            with super().batch():
                yield

    planned = plan(tmp_path, shared_cache_dir, "model.d=16,32")
    with pytest.raises(ConfigError, match=r"sbatch refused bucket rest's job array: sbatch: error: .*Invalid partition "
                                          r"name specified; 1 job\(s\) before it were queued"):  # was: a traceback
        submit_grid(planned, options(tmp_path), make_executor=RefusingRest)
    assert set(latest_jobs(tmp_path / "runs")) == {p.point.run.path.name for p in planned if p.bucket.name == "tiny"}
    for p in planned:  # the refused array's run records no launch (overrides.yaml said one happened)
        queued = p.bucket.name == "tiny"
        assert (p.point.run.read_overrides() is not None) == queued == (p.point.run.path / "config.yaml").exists()


def test_each_submitted_run_records_the_overrides_of_its_grid_point(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "model.d=16,32")
    submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    for p in planned:
        assert p.point.run.read_overrides() == p.point.overrides
        assert f"model.d={p.point.cfg.model.d}" in p.point.run.read_overrides()


def test_finished_runs_are_not_submitted_again(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "seed=0,1")
    done = planned[0].point
    RunDir.for_config(done.cfg).write_result({"status": "complete"})
    planned = plan(tmp_path, shared_cache_dir, "seed=0,1")
    assert [p.state for p in planned] == ["complete", "pending"]
    FakeExecutor.arrays = []
    entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    assert [e["run"] for e in entries] == [planned[1].point.run.path.name]


def test_a_damaged_run_is_planned_as_damaged_and_not_submitted(tmp_path, shared_cache_dir, caplog):
    damaged = plan(tmp_path, shared_cache_dir, "seed=0")[0].point.run
    damaged.path.mkdir(parents=True)
    damaged.result_file.write_text('{"status": "complete", "n_p')
    planned = plan(tmp_path, shared_cache_dir, "seed=0,1")
    assert [p.state for p in planned] == ["damaged", "pending"]
    FakeExecutor.arrays = []
    entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    assert [e["run"] for e in entries] == [planned[1].point.run.path.name]
    assert f"skipped: {damaged.result_file}: not valid JSON" in caplog.text


def test_a_batch_that_does_not_split_over_a_bucket_s_ranks_is_refused_before_submitting(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "seed=0", gpus_per_node=2)  # batch 4 over 2 ranks: fine
    assert planned[0].bucket.gpus_per_node == 2
    with pytest.raises(ConfigError, match="train.batch_size=4 is not divisible by the 3 ranks"):
        plan(tmp_path, shared_cache_dir, "seed=0", gpus_per_node=3)


def test_a_signal_delay_that_does_not_fit_a_bucket_is_refused_before_submitting(tmp_path, shared_cache_dir):
    with pytest.raises(ConfigError, match=r"signal_delay_s=100 .*'tiny' \(time_min=2\)"):
        plan(tmp_path, shared_cache_dir, "seed=0", signal_delay_s=100)
    assert not (tmp_path / "runs").exists()


def test_a_bucket_whose_attempts_cannot_hold_its_runs_is_refused_before_submitting(tmp_path, shared_cache_dir):
    # every run fits bucket `slow`'s max_hours, but at this MFU one needs ~8 minutes, 4 attempts of 2 minutes; 2
    # (max_requeues=1) would end it timed out; it was accepted (checked only for runs past the last bucket)
    slow = dict(assumed_mfu=1e-8, buckets=[{"name": "slow", "max_hours": 1, "time_min": 2}])
    with pytest.raises(ConfigError, match=r"bucket 'slow': d32-\S+ \(and 1 more of its jobs\), estimated at .* "
                                          r"GPU-hours = \d+ min on 1 GPU, needs \d+ attempts but time_min=2 x "
                                          r"\(max_requeues=1 \+ 1\) = 4 min allows 2: give bucket 'slow' time_min >= "):
        plan(tmp_path, shared_cache_dir, "seed=0,1", **slow)
    assert not (tmp_path / "runs").exists()
    plan(tmp_path, shared_cache_dir, "seed=0,1", **{**slow, "max_requeues": 3})


def test_a_partition_the_cluster_lacks_is_refused_naming_those_it_has():
    from launch.submit import check_partition

    cluster = lambda: Partitions({"debug": TESTBED_NODE, "gpu": GPU_NODES}, default="debug")  # noqa: E731
    with pytest.raises(ConfigError, match=r"partition=nosuch: the cluster has no partition 'nosuch'; accepted: "
                                          r"debug, gpu \(sinfo\)"):
        check_partition("nosuch", partitions=cluster)
    with pytest.raises(ConfigError, match="no partition 'cpu'; accepted: debug, gpu"):
        check_partition("gpu,cpu", partitions=cluster)  # sbatch takes a list
    check_partition("debug,gpu", partitions=cluster)
    check_partition("anything", partitions=lambda: None)  # Slurm did not say (no sinfo): sbatch decides, as before
    check_partition(None, partitions=lambda: pytest.fail("no partition given, nothing asked: Slurm is not asked"))


TESTBED_NODE = NodeRequest(nodes=1, cpus=2, mem_mb=24105, gpus=1)  # the single-node testbed's partition, debug
GPU_NODES = NodeRequest(nodes=3, cpus=64, mem_mb=512000, gpus=8)
TWO_PARTITIONS = Partitions({"debug": TESTBED_NODE, "gpu": GPU_NODES}, default="debug")


@pytest.mark.parametrize("kw, message", [
    (dict(cpus_per_task=999), "hydra.launcher.cpus_per_task=999: the partition 'debug' (the default) has at most 2 "
                              "CPUs per node (sinfo); accepted: 1..2"),
    (dict(mem_gb=100000), "hydra.launcher.mem_gb=100000: the partition 'debug' (the default) has at most 23.5 GiB "
                          "of memory per node (sinfo); accepted: up to 23.5 (GiB), or null"),
    (dict(gpus_per_node=8), "hydra.launcher.gpus_per_node=8: the partition 'debug' (the default) has at most 1 GPU "
                            "per node (sinfo); accepted: 0..1"),
    (dict(nodes=5), "hydra.launcher.nodes=5: the partition 'debug' (the default) has 1 node (sinfo); accepted: 1..1"),
    (dict(partition="gpu", nodes=5), "hydra.launcher.nodes=5: the partition 'gpu' has 3 nodes (sinfo); accepted: 1..3"),
    (dict(partition="debug,gpu", gpus_per_node=10), "hydra.launcher.gpus_per_node=10: the partitions 'debug', 'gpu' "
                                                   "have at most 8 GPUs per node (sinfo); accepted: 0..8"),
    (dict(tasks_per_node=2, cpus_per_task=2), "hydra.launcher.cpus_per_task=2 (x 2 tasks per node): the partition "
                                              "'debug' (the default) has at most 2 CPUs per node (sinfo); "
                                              "accepted: 1..1"),
    (dict(mem_gb=None, mem_per_gpu="32G"), "hydra.launcher.mem_per_gpu=32G: the partition 'debug' (the default) has at "
                                           "most 23.5 GiB of memory per node (sinfo); accepted: up to 24105M"),
    (dict(buckets=[{"name": "tiny", "max_hours": 1e-9, "time_min": 2},
                   {"name": "rest", "max_hours": 1, "time_min": 5, "gpus_per_node": 2}]),
     "hydra.launcher.buckets: bucket 'rest' has gpus_per_node=2: the partition 'debug' (the default) has at most 1 GPU "
     "per node (sinfo); accepted: 0..1"),
])
def test_a_request_no_node_of_its_partition_holds_is_refused_naming_the_setting_and_the_most(
        tmp_path, shared_cache_dir, kw, message):
    """Was: submitted, then pending forever (PartitionConfig / PartitionNodeLimit); only `sweep status` said why."""
    from launch.submit import check_planned_requests

    planned = plan(tmp_path, shared_cache_dir, "model.d=16,32", "train.batch_size=40", **kw)  # a batch for every
    # count of ranks asked here; d=16 goes to bucket tiny, d=32 to rest
    with pytest.raises(ConfigError) as err:
        check_planned_requests(planned, options(tmp_path, **kw), lambda: TWO_PARTITIONS)
    assert str(err.value) == message
    assert not (tmp_path / "runs").exists()


def test_what_the_partition_holds_is_refused_only_where_slurm_says_and_a_bucket_with_no_job_asks_nothing(
        tmp_path, shared_cache_dir):
    from launch.submit import check_planned_requests

    buckets = [{"name": "tiny", "max_hours": 1e-9, "time_min": 2}, {"name": "huge", "max_hours": 1, "time_min": 5,
                                                                     "gpus_per_node": 8}]
    planned = plan(tmp_path, shared_cache_dir, "model.d=16", buckets=buckets)  # every job in tiny: huge asks nothing
    check_planned_requests(planned, options(tmp_path, buckets=buckets), lambda: TWO_PARTITIONS)
    big = options(tmp_path, cpus_per_task=999, mem_gb=100000)
    planned = plan(tmp_path, shared_cache_dir, "model.d=16", cpus_per_task=999, mem_gb=100000)
    for unknown in (None, Partitions({"debug": None}, default="debug"), Partitions({"debug": TESTBED_NODE}, None)):
        check_planned_requests(planned, big, lambda: unknown)  # no sinfo, a line it does not read, no default
    big = options(tmp_path, mem_gb=100000)
    no_memory = Partitions({"debug": NodeRequest(1, 2, None, 1)}, default="debug")
    check_planned_requests(planned, big, lambda: no_memory)  # memory unknown: not refused
    fits = options(tmp_path, partition="debug,gpu", cpus_per_task=64, gpus_per_node=8, mem_gb=500)
    check_planned_requests(planned, fits, lambda: TWO_PARTITIONS)  # sbatch picks the partition that holds it


def test_runs_held_by_a_live_job_or_process_are_not_submitted_again(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "seed=0,1")
    with planned[0].point.run.hold():
        refresh_states(planned)
        assert [p.state for p in planned] == ["running", "pending"]
        FakeExecutor.arrays = []
        entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    assert [e["run"] for e in entries] == [planned[1].point.run.path.name]


@pytest.fixture
def no_slurm_needed(monkeypatch):
    """submitit's SlurmExecutor refuses to be built where `srun` is missing; its sbatch text needs none."""
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))


def sbatch_text(options: SlurmOptions) -> str:
    """The sbatch script submitit would write for the first bucket's job array."""
    executor = slurm_executor(options, options.bucket_specs()[0])
    return _make_sbatch_string(command="python -m x", folder=options.folder, **executor.parameters)


def test_hydra_submitit_launcher_s_slurm_options_reach_sbatch(tmp_path, no_slurm_needed):
    text = sbatch_text(options(tmp_path, exclude="node3", comment="scaling sweep", gres="gpu:a100:2",
                               mem_per_gpu="80G", cpus_per_gpu=4, gpus_per_task=1, srun_args=["--cpu-bind=none"],
                               name="ladder", partition="gpu").with_aliases({"gres"}))
    for line in ("#SBATCH --exclude=node3", "#SBATCH --comment='scaling sweep'", "#SBATCH --gres=gpu:a100:2",
                 "#SBATCH --mem-per-gpu=80G", "#SBATCH --cpus-per-gpu=4", "#SBATCH --gpus-per-task=1",
                 "#SBATCH --job-name=ladder", "#SBATCH --partition=gpu", "--cpu-bind=none"):
        assert line in text
    # Slurm takes one of each pair: the more specific option given replaces ours
    assert "--mem=" not in text and "--cpus-per-task" not in text and "--gpus-per-node" not in text
    assert "--ntasks-per-node=2" in text  # one task per GPU of the gres


def test_without_them_sbatch_gets_our_memory_cpus_gpus_and_one_log(tmp_path, no_slurm_needed):
    text = sbatch_text(options(tmp_path, stderr_to_stdout=True))
    assert "#SBATCH --mem=1024M" in text and "#SBATCH --cpus-per-task=1" in text
    assert "#SBATCH --gpus-per-node=1" in text and "#SBATCH --job-name=sweep-tiny" in text
    assert "--error" not in text  # stderr goes to the job's one log
    assert "--error" in sbatch_text(options(tmp_path, stderr_to_stdout=False))


def test_a_failing_setup_line_ends_the_job_before_its_command(tmp_path, no_slurm_needed):
    o = options(tmp_path, setup=["echo first", "false", "echo after"])
    executor = slurm_executor(o, o.bucket_specs()[0])
    parameters = {**executor.parameters, "use_srun": False}
    script = tmp_path / "job.sh"
    script.write_text(_make_sbatch_string(command="echo command", folder=o.folder, **parameters))
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert ran.returncode != 0 and ran.stdout.split() == ["first"]  # neither the line after nor the command
    o.setup = ["echo first", "echo second"]
    parameters = {**slurm_executor(o, o.bucket_specs()[0]).parameters, "use_srun": False}
    script.write_text(_make_sbatch_string(command="false; echo command", folder=o.folder, **parameters))
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert ran.stdout.split() == ["first", "second", "command"]  # submitit's own lines run as before
    assert "set -e" not in sbatch_text(options(tmp_path))  # no setup, no change


def test_hydra_submitit_launcher_names_mean_what_they_mean_there(tmp_path):
    shared = f"{tmp_path}/shared/%j"
    resolved = options(tmp_path, submitit_folder=shared, max_num_timeout=5, timeout_min=90,
                       gres="gpu:2").with_aliases(set())
    assert resolved.folder == shared and resolved.max_requeues == 5 and resolved.gpus_per_node == 2
    assert [(b.name, b.time_min, b.gpus_per_node) for b in resolved.bucket_specs()] == [("timeout_min", 90, 2)]
    unchanged = options(tmp_path).with_aliases(set())
    assert unchanged == options(tmp_path)



@pytest.mark.parametrize("name", ["folder", "submitit_folder"])
def test_a_folder_submitit_cannot_write_is_refused_with_the_options_before_anything_is_submitted(tmp_path, name):
    (tmp_path / "a_file").write_text("")
    for bad, words in ((f"{tmp_path}/a_file/%j", "which is a file"), ("/proc/x/%j", "cannot be created")):
        with pytest.raises(ConfigError) as err:
            options(tmp_path, **{name: bad}).with_aliases({name})
        assert f"hydra.launcher.folder={bad!r}" in str(err.value) and words in str(err.value)

@pytest.mark.parametrize("kw, given, words", [
    (dict(max_num_timeout=5, max_requeues=2), {"max_requeues"}, ["max_num_timeout=5", "max_requeues=2"]),
    (dict(submitit_folder="/a", folder="/b"), {"folder"}, ["submitit_folder=/a", "folder=/b"]),
    (dict(timeout_min=60), {"buckets"}, ["timeout_min=60", "buckets"]),
    (dict(gres="gpu:2", gpus_per_node=4), {"gpus_per_node"}, ["gres=gpu:2", "gpus_per_node=4"]),
    (dict(gres="gpu:2", buckets=[{"name": "big", "max_hours": 1, "time_min": 60, "gpus_per_node": 8}]), set(),
     ["gres=gpu:2", "'big'", "gpus_per_node=8"]),
    (dict(mem_per_gpu="8G", mem_per_cpu="1G"), set(), ["mem_per_gpu=8G", "mem_per_cpu=1G"]),
    (dict(mem_per_gpu="8G", mem_gb=16), {"mem_gb"}, ["mem_gb=16", "mem_per_gpu=8G"]),
    (dict(cpus_per_gpu=4, cpus_per_task=2), {"cpus_per_task"}, ["cpus_per_gpu=4", "cpus_per_task=2"]),
])
def test_an_alias_and_our_name_given_different_values_is_one_error_naming_both(tmp_path, kw, given, words):
    with pytest.raises(ConfigError) as err:
        options(tmp_path, **kw).with_aliases(given)
    assert all(word in str(err.value) for word in words)


@pytest.mark.parametrize("kw, words", [
    (dict(mem_gb="lots"), "hydra.launcher.mem_gb='lots': accepted is a number of GiB > 0"),  # was: 'lots' x 1024
    (dict(cpus_per_task=0), "hydra.launcher.cpus_per_task=0: accepted is a whole number >= 1"),
    (dict(gpus_per_node="two"), "hydra.launcher.gpus_per_node='two': accepted is a whole number >= 0"),
    (dict(buckets=[{"name": "x", "max_hours": 1, "time_mins": 60}]),  # was: KeyError: 'time_min'
     "hydra.launcher.buckets: {'name': 'x', 'max_hours': 1, 'time_mins': 60}: each bucket is {name, max_hours, "
     "time_min}"),
    (dict(buckets=[{"name": "x", "max_hours": "1h", "time_min": 60}]), "numbers but the name"),
    # each below passed a dry run without a word (tasks_per_node=0 read as one per GPU)
    (dict(tasks_per_node=0), "hydra.launcher.tasks_per_node=0: accepted is a whole number >= 1, or null"),
    (dict(max_num_timeout=-1), "hydra.launcher.max_num_timeout=-1: accepted is a whole number >= 0, or null"),
    (dict(max_array_size=0), "hydra.launcher.max_array_size=0: accepted is a whole number >= 1, or null"),
    (dict(gpus_per_task=-1), "hydra.launcher.gpus_per_task=-1: accepted is a whole number >= 1, or null"),
    (dict(gres="gpu:a100:x"), "hydra.launcher.gres='gpu:a100:x': accepted is sbatch's --gres"),
    (dict(mem_per_cpu="-4G"), "hydra.launcher.mem_per_cpu='-4G': accepted is a size as sbatch takes it"),
    (dict(mem_per_gpu="8.5G"), "hydra.launcher.mem_per_gpu='8.5G': accepted is a size"),  # sbatch: "Invalid --mem"
    (dict(partition=["a"]), "hydra.launcher.partition=['a']: accepted is text"),
    (dict(setup="notalist"), "hydra.launcher.setup='notalist': accepted is a list of shell lines"),
    (dict(additional_parameters=5), "hydra.launcher.additional_parameters=5: accepted is a mapping"),
    (dict(stderr_to_stdout="maybe"), "hydra.launcher.stderr_to_stdout='maybe': accepted is true or false"),
    # each below passed a dry run without a word (nan, 2.5: int() of it at bucket_specs, a traceback or 2)
    (dict(buckets=[{"name": "a", "max_hours": -1, "time_min": 10}]),
     "bucket 'a' has max_hours=-1: accepted is a finite number of GPU-hours >= 0"),
    (dict(buckets=[{"name": "a", "max_hours": float("nan"), "time_min": 10}]), "bucket 'a' has max_hours=nan"),
    (dict(buckets=[{"name": "a", "max_hours": float("inf"), "time_min": 10}]), "bucket 'a' has max_hours=inf"),
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": 2.5}]),
     "bucket 'a' has time_min=2.5: accepted is a whole number >= 1"),
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": float("nan")}]), "bucket 'a' has time_min=nan"),
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": 10, "gpus_per_node": -1}]),
     "bucket 'a' has gpus_per_node=-1: accepted is a whole number >= 0"),
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": 10}, {"name": "b", "max_hours": 0.5, "time_min": 60}]),
     "bucket 'b' (max_hours=0.5) comes after 'a' (max_hours=1): max_hours must increase"),
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": 10}, {"name": "b", "max_hours": 1, "time_min": 60}]),
     "bucket 'b' (max_hours=1) comes after 'a' (max_hours=1)"),  # b would never get a run
    (dict(buckets=[{"name": "a", "max_hours": 1, "time_min": 10}, {"name": "a", "max_hours": 2, "time_min": 60}]),
     "the name 'a' is given to more than one bucket"),  # its runs were submitted once per bucket of the name
])
def test_a_slurm_option_of_the_wrong_kind_is_named_before_any_plan(tmp_path, kw, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        options(tmp_path, **kw).with_aliases(set())


@pytest.mark.parametrize("kw, given", [
    (dict(mem_per_cpu=4096), set()), (dict(account=12345), set()),  # Hydra reads them as ints: sbatch's text
    (dict(mem_per_gpu="80g"), set()), (dict(mem_per_gpu="16GB"), set()),  # sbatch takes these (--test-only)
    (dict(mem_gb=None, mem_per_gpu="80G"), {"mem_gb", "mem_per_gpu"}),  # mem_gb=null: no --mem beside it
])
def test_slurm_settings_sbatch_takes_are_accepted(tmp_path, kw, given):
    resolved = options(tmp_path, **kw).with_aliases(given)
    assert all(str(getattr(resolved, key)) == str(value) for key, value in kw.items() if value is not None)


def test_the_same_value_under_both_names_is_accepted(tmp_path):
    resolved = options(tmp_path, max_num_timeout=2, max_requeues=2).with_aliases({"max_requeues"})
    assert resolved.max_requeues == 2


def test_timeout_min_keeps_the_requeue_rule_and_the_signal_delay_check(tmp_path, shared_cache_dir):
    # one 2-minute bucket: a run needing more than max_requeues + 1 attempts is refused
    big = dict(timeout_min=2, max_requeues=0, signal_delay_s=30, assumed_mfu=1e-9)
    with pytest.raises(ConfigError, match="'timeout_min'.*max_requeues=0"):
        plan(tmp_path, shared_cache_dir, options_for=lambda o: o.with_aliases(set()), **big)
    with pytest.raises(ConfigError, match="signal_delay_s=120.*'timeout_min'"):
        plan(tmp_path, shared_cache_dir, options_for=lambda o: o.with_aliases(set()), timeout_min=2, signal_delay_s=120)


def test_a_hydra_submitit_launcher_command_line_plans_end_to_end(tmp_path, monkeypatch):
    slurm_tools(tmp_path / "bin", monkeypatch, sinfo="")  # planned for a GPU cluster, not this machine's Slurm
    out_dir = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "sweep.train", "-m", "--dry-run", "hydra/launcher=slurm", *TINY, "model.d=16,32",
           "hydra.launcher.timeout_min=60", "hydra.launcher.max_num_timeout=5", "hydra.launcher.gres=gpu:2",
           "hydra.launcher.exclude=node3", "hydra.launcher.comment=ladder",
           f"hydra.launcher.submitit_folder={tmp_path}/submitit/%j", f"out_dir={out_dir}"]
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "plan: 2 runs" in proc.stdout and proc.stdout.count("timeout_min") == 2  # the one bucket
    assert not out_dir.exists()


LADDER = [o for o in TINY if not o.startswith("budget.tokens_per_param=")] + [
    "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=1,2,4"]


def plan_ladder(tmp_path, shared_cache_dir, *grid, **kw):
    return plan(tmp_path, shared_cache_dir, *grid, base=LADDER, **kw)


def by_kind(planned, kind):
    return [p for p in planned if p.job.kind == kind]


def test_a_new_ladder_submits_every_segment_after_the_previous_and_each_branch_after_its_segment(tmp_path,
                                                                                              shared_cache_dir):
    planned = plan_ladder(tmp_path, shared_cache_dir)
    segments, branches = by_kind(planned, SEGMENT), by_kind(planned, BRANCH)
    assert [(p, after) for p, after in submissions(planned)] == [
        (segments[0], ()), (branches[0], (segments[0],)), (segments[1], (segments[0],)),
        (branches[1], (segments[1],)), (segments[2], (segments[1],)), (branches[2], (segments[2],))]
    FakeExecutor.batches = []
    entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    id_of = {(e["run"], e.get("segment")): e["job_id"] for e in entries}
    for bucket, after, jobs in FakeExecutor.batches:
        for job in jobs:
            p = next(p for p in planned if p.point.cfg == job.fn.cfg and p.job.until_step == job.fn.until_step)
            assert after == (None if not p.job.after else id_of[p.job.after[0].key])
    assert [e.get("segment") for e in entries if e.get("segment")] == [s.job.last_step for s in segments]
    assert [s.job.until_step for s in segments][-1] is None  # the last segment trains to the trunk's end
    assert latest_job_entries(tmp_path / "runs").keys() == {p.job.key for p in planned}


def test_done_jobs_are_skipped_and_a_dependency_on_a_done_or_queued_job_is_dropped_or_kept(tmp_path,
                                                                                           shared_cache_dir):
    planned = plan_ladder(tmp_path, shared_cache_dir)
    segments, branches = by_kind(planned, SEGMENT), by_kind(planned, BRANCH)
    segments[0].state = "complete"  # the trunk kept its checkpoint at the first branch point
    branches[0].state = "complete"
    segments[1].state, segments[1].job_id = "running", "7_0"
    assert [(p, after) for p, after in submissions(planned)] == [
        (branches[1], ("7_0",)), (segments[2], ("7_0",)), (branches[2], (segments[2],))]


def test_re_running_submits_nothing_when_every_job_is_done_or_queued(tmp_path, shared_cache_dir, monkeypatch):
    planned = plan_ladder(tmp_path, shared_cache_dir)
    entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    monkeypatch.setattr("launch.submit.job_states", lambda ids: {i: "PENDING" for i in ids})
    refresh_states(planned)
    assert {p.state for p in planned} == {"queued"} and submissions(planned) == []
    assert submit_grid(planned, options(tmp_path), make_executor=FakeExecutor) == []
    monkeypatch.setattr("launch.submit.job_states", lambda ids: {i: "CANCELLED" for i in ids})  # a segment failed
    refresh_states(planned)
    assert len(submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)) == len(entries)


def test_a_dependency_neither_done_nor_queued_nor_submitted_now_holds_its_dependants_back(tmp_path,
                                                                                         shared_cache_dir):
    planned = plan_ladder(tmp_path, shared_cache_dir)
    segments = by_kind(planned, SEGMENT)
    segments[0].state = "running"  # held by a process outside Slurm: no job id to wait for
    assert submissions(planned) == []


def test_the_totals_count_the_trunk_once_against_the_same_grid_as_cosine_runs(tmp_path, shared_cache_dir, capsys):
    planned = plan_ladder(tmp_path, shared_cache_dir)
    totals = plan_totals(planned)
    trunk_end = by_kind(planned, SEGMENT)[-1].job
    branches = [p.job for p in by_kind(planned, BRANCH)]
    assert totals.flops == pytest.approx(
        trunk_end.point.budget.flops * trunk_end.last_step / trunk_end.point.budget.steps
        + sum(b.flops for b in branches))
    assert totals.cosine_flops == sum(b.point.budget.flops for b in branches)
    assert totals.gpu_hours == pytest.approx(sum(p.gpu_hours for p in planned))
    assert totals.cosine_gpu_hours == pytest.approx(sum(p.run_gpu_hours for p in by_kind(planned, BRANCH)))
    assert 0 < totals.saving < 1 and totals.cosine_gpu_hours > totals.gpu_hours
    assert f"saving {100 * totals.saving:.0f}% of the compute" in ladder_saving(planned)


def test_the_issue_s_ladder_of_5_10_20_40_with_a_20_percent_cooldown_costs_47_units_instead_of_75(tmp_path,
                                                                                                shared_cache_dir):
    grid = [o for o in LADDER if not o.startswith("budget.tokens_per_param=")] + [
        "budget.tokens_per_param=5,10,20,40", "model.d=64", "model.head_dim=16", "train.batch_size=1"]
    totals = plan_totals(plan(tmp_path, shared_cache_dir, *grid, base=()))
    assert totals.flops / totals.cosine_flops == pytest.approx(47 / 75, abs=0.01)


def test_the_dry_run_table_has_trunk_segment_and_branch_rows_and_the_saving(tmp_path, shared_cache_dir):
    from rich.console import Console

    console = Console(width=250, record=True)
    print_plan(plan_ladder(tmp_path, shared_cache_dir), console)
    text = console.export_text()
    assert "plan: 6 jobs" in text and text.count("trunk tpp=4") == 3 and text.count("branch tpp=") == 3
    assert "the same grid as cosine runs from scratch" in text and "GPU-hours; saving" in text


def test_a_job_waiting_for_another_gets_afterok_and_is_cancelled_should_that_one_fail(tmp_path, no_slurm_needed):
    o = options(tmp_path)
    executor = slurm_executor(o, o.bucket_specs()[0], after="123_4")
    text = _make_sbatch_string(command="python -m x", folder=o.folder, **executor.parameters)
    assert "#SBATCH --dependency=afterok:123_4" in text and "#SBATCH --kill-on-invalid-dep=yes" in text
    plain = sbatch_text(o)
    assert "--dependency" not in plain and "--kill-on-invalid-dep" not in plain


# --- early stopping: probes, then rests after every probe of their group --------------------------

EARLY_STOP = ("early_stop.enabled=true", "model.d=16,32", "optim.lr=1e-3,3e-3")  # two groups of two


def plan_early_stop(tmp_path, shared_cache_dir, *grid, **kw):
    return plan(tmp_path, shared_cache_dir, *EARLY_STOP, *grid, **kw)


def test_a_rest_waits_with_afterok_for_every_probe_of_its_group_and_arrays_group_jobs_by_their_dependencies(
        tmp_path, shared_cache_dir):
    planned = plan_early_stop(tmp_path, shared_cache_dir)
    probes, rests = by_kind(planned, PROBE), by_kind(planned, REST)
    assert len(probes) == len(rests) == 4
    FakeExecutor.batches = []
    entries = submit_grid(planned, options(tmp_path, max_array_size=10), make_executor=FakeExecutor)
    id_of = {p.point.run.path.name: e["job_id"] for e in entries for p in probes if e.get("probe") is not None
             and e["run"] == p.point.run.path.name}
    for bucket, after, jobs in FakeExecutor.batches:
        for job in jobs:
            if job.fn.group is None:  # a probe: waits for nothing, trains to its probe step
                assert after is None and job.fn.until_step == probe_step(job.fn.cfg)
            else:  # a rest: after every probe of its group, the group's configs to decide it with
                group = [p for p in probes if group_key(p.point.cfg) == group_key(job.fn.cfg)]
                assert after == ":".join(id_of[p.point.run.path.name] for p in group)
                assert job.fn.until_step is None and list(job.fn.group) == [p.point.cfg for p in group]
    waits = [after for _, after, _ in FakeExecutor.batches]
    assert len(waits) == len(set(waits)) == 1 + 2  # the probes (one bucket: a quarter run is cheap); a rest array a group
    assert all(e["after"].count(":") == 1 for e in entries if e.get("probe") is None)


def test_with_again_at_each_rung_waits_with_afterok_for_its_group_s_jobs_ending_at_its_decision_step(
        tmp_path, shared_cache_dir):
    planned = plan_early_stop(tmp_path, shared_cache_dir, "early_stop.fraction=0.25", "early_stop.again_at=[0.5]")
    rungs = by_kind(planned, RUNG)
    assert len(rungs) == len(by_kind(planned, PROBE)) == len(by_kind(planned, REST)) == 4
    FakeExecutor.batches = []
    entries = submit_grid(planned, options(tmp_path, max_array_size=10), make_executor=FakeExecutor)
    job_id = {(e["run"], e.get("probe", e.get("rung"))): e["job_id"] for e in entries}
    for _, after, jobs in FakeExecutor.batches:
        for job in jobs:
            if job.fn.group is None:
                continue  # a probe
            group = [p for p in rungs if group_key(p.point.cfg) == group_key(job.fn.cfg)]
            ends = decision_steps(job.fn.cfg)[job.fn.rung]  # the jobs it waits for end where it decides
            assert after == ":".join(job_id[(p.point.run.path.name, ends)] for p in group)
            assert job.fn.until_step == (decision_steps(job.fn.cfg)[1] if job.fn.rung == 0 else None)
    assert sum(1 for e in entries if "rung" in e) == 4  # each rung in the manifest, apart from its probe and rest


def test_a_probe_already_done_is_left_out_of_its_group_s_dependency_and_a_settled_member_is_not_submitted(
        tmp_path, shared_cache_dir):
    planned = plan_early_stop(tmp_path, shared_cache_dir)
    done = by_kind(planned, PROBE)[0].point.run  # past its probe step: its rest waits only for the other probe
    done.path.mkdir(parents=True)
    p = probe_step(planned[0].point.cfg)
    done.metrics_file.write_text("".join(f'{{"step": {s}}}\n' for s in range(2, p + 1, 2)))
    done.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"step": p}, done.checkpoint_file)  # a probe is done once its checkpoint is at its step
    stopped = by_kind(planned, PROBE)[3].point.run  # stopped early: settled while early stopping is on
    stopped.path.mkdir(parents=True)
    stopped.write_result({"status": "stopped_early"})
    planned = plan_early_stop(tmp_path, shared_cache_dir)
    todo = {(p.job.kind, p.point.run.path): after for p, after in submissions(planned)}
    first, second = by_kind(planned, PROBE)[:2]
    assert ("probe", done.path) not in todo and ("rest", done.path) in todo
    assert todo[("rest", done.path)] == todo[("rest", second.point.run.path)] == (second,)
    assert not any(path == stopped.path for _, path in todo)  # not submitted at all
    assert [p.state for p in planned if p.point.run.path == stopped.path] == ["stopped_early"]


def test_a_rest_whose_group_s_probe_is_queued_waits_for_its_slurm_id_and_one_neither_done_nor_queued_holds_it_back(
        tmp_path, shared_cache_dir):
    planned = plan_early_stop(tmp_path, shared_cache_dir)
    probes = by_kind(planned, PROBE)
    probes[0].state, probes[0].job_id = "queued", "7_0"
    todo = dict((p.job, after) for p, after in submissions(planned))
    assert todo[by_kind(planned, REST)[0].job] == ("7_0", probes[1])
    probes[0].state, probes[0].job_id = "running", None  # held by a process outside Slurm: no id to wait for
    assert {p.job.kind for p, _ in submissions(planned)} == {PROBE, REST}
    assert not any(p.job.kind == REST and group_key(p.point.cfg) == group_key(probes[0].point.cfg)
                   for p, _ in submissions(planned))


def test_the_plan_shows_probe_and_rest_jobs_and_the_most_early_stopping_can_save_as_a_bound(tmp_path,
                                                                                            shared_cache_dir):
    from rich.console import Console

    planned = plan_early_stop(tmp_path, shared_cache_dir, buckets=[{"name": "small", "max_hours": 1e-9, "time_min": 2},
                                                                   {"name": "large", "max_hours": 1, "time_min": 5}])
    bound = early_stop_bound(planned)
    full = sum(p.point.budget.flops for p in by_kind(planned, REST))
    least = sum(p.job.flops for p in by_kind(planned, PROBE)) + sum(  # each group's cheapest rest finishes
        min(p.job.flops for p in by_kind(planned, REST) if p.point.cfg.model.d == d) for d in (16, 32))
    assert bound.flops == pytest.approx(full) and bound.least_flops == pytest.approx(least)
    assert bound.saving == pytest.approx(1 - least / full)
    assert 0.3 < bound.saving < 0.45  # pairs stopped at 25% of their steps: 1 - 1.25 / 2
    assert bound.least_gpu_hours < bound.gpu_hours
    console = Console(width=250, record=True)
    print_plan(planned, console)
    text = console.export_text()
    assert "plan: 8 jobs" in text and text.count("│ probe ") == 4 and text.count("│ rest ") == 4
    assert f"saving at most {100 * bound.saving:.0f}% of the compute (a bound" in text
    assert "cooldown branches" not in text
    assert totals_unchanged(planned)


def test_with_again_at_the_plan_shows_a_rung_row_per_later_decision_and_the_same_bound(tmp_path, shared_cache_dir):
    from rich.console import Console

    once = plan_early_stop(tmp_path / "once", shared_cache_dir)
    planned = plan_early_stop(tmp_path, shared_cache_dir, "early_stop.again_at=[0.5,0.75]")
    assert early_stop_bound(planned) == early_stop_bound(once)  # a bound at the first decision either way
    assert sum(p.job.flops for p in planned) == pytest.approx(sum(p.job.flops for p in once))
    console = Console(width=250, record=True)
    print_plan(planned, console)
    text = console.export_text()
    assert "plan: 16 jobs" in text and text.count("│ rung ") == 8 and text.count("│ rest ") == 4
    assert totals_unchanged(planned)


def totals_unchanged(planned):
    """A probe and its rest are one point of the fit: counted once as a run from scratch."""
    totals = plan_totals(planned)
    return totals.flops == pytest.approx(totals.cosine_flops) and totals.saving == pytest.approx(0)


def test_a_job_waiting_for_several_gets_one_afterok_naming_them_all(tmp_path, no_slurm_needed):
    o = options(tmp_path)
    executor = slurm_executor(o, o.bucket_specs()[0], after="12_0:12_1:13_0")
    text = _make_sbatch_string(command="python -m x", folder=o.folder, **executor.parameters)
    assert "#SBATCH --dependency=afterok:12_0:12_1:13_0" in text and "#SBATCH --kill-on-invalid-dep=yes" in text
