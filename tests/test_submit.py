"""launch/submit.py: planning a grid, and what gets submitted (with a stand-in executor)."""

import contextlib
import itertools

import pytest

from launch.submit import SlurmOptions, plan_grid, refresh_states, submit_grid
from launch.queue import latest_jobs
from launch.grid import split_grid
from sweep.errors import ConfigError
from sweep.rundir import RunDir
from tests.helpers import TINY, compose_config


def options(tmp_path, **kw) -> SlurmOptions:
    base = dict(folder=str(tmp_path / "submitit"), dry_run=False, partition=None, account=None, qos=None,
                constraint=None, gpus_per_node=1, cpus_per_task=1, mem_gb=1, nodes=1, tasks_per_node=None,
                setup=[], additional_parameters={}, array_parallelism=2, max_requeues=1, signal_delay_s=30,
                assumed_mfu=0.5, device="a100", max_array_size=3,
                buckets=[{"name": "tiny", "max_hours": 1e-9, "time_min": 2},
                         {"name": "rest", "max_hours": 1, "time_min": 5}])
    return SlurmOptions(**{**base, **kw})


class FakeExecutor:
    """Records batches as submitit.SlurmExecutor would submit them."""

    arrays: list = []
    ids = itertools.count(100)

    def __init__(self, options, bucket):
        self.bucket, self.jobs = bucket, []

    @contextlib.contextmanager
    def batch(self):
        yield
        array = next(self.ids)
        for i, job in enumerate(self.jobs):
            job.job_id = f"{array}_{i}"
        FakeExecutor.arrays.append((self.bucket.name, len(self.jobs)))

    def submit(self, fn):
        job = type("Job", (), {"fn": fn, "job_id": None})()
        self.jobs.append(job)
        return job


def plan(tmp_path, shared_cache_dir, *grid, **kw):
    points = split_grid([*TINY, *grid, f"out_dir={tmp_path / 'runs'}", f"data.cache_dir={shared_cache_dir}"])
    return plan_grid(points, lambda o: compose_config(*o), options(tmp_path, **kw), slurm_states=False)


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


def test_runs_held_by_a_live_job_or_process_are_not_submitted_again(tmp_path, shared_cache_dir):
    planned = plan(tmp_path, shared_cache_dir, "seed=0,1")
    with planned[0].point.run.hold():
        refresh_states(planned)
        assert [p.state for p in planned] == ["running", "pending"]
        FakeExecutor.arrays = []
        entries = submit_grid(planned, options(tmp_path), make_executor=FakeExecutor)
    assert [e["run"] for e in entries] == [planned[1].point.run.path.name]
