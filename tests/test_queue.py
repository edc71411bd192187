"""launch/queue.py: the sweep manifest and Slurm job states."""

import shutil

import pytest

from launch.queue import append_manifest, job_states, latest_jobs


def test_the_manifest_keeps_the_latest_job_of_each_run(tmp_path):
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "1_0", "bucket": "small"},
                               {"run": "b", "path": "/x/b", "job_id": "1_1", "bucket": "small"}])
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "7_0", "bucket": "small"}])
    latest = latest_jobs(tmp_path)
    assert latest["a"]["job_id"] == "7_0" and latest["b"]["job_id"] == "1_1"
    assert "submitted" in latest["a"]
    assert latest_jobs(tmp_path / "nothing-here") == {}


@pytest.mark.skipif(shutil.which("sacct") is not None, reason="checks the behaviour without a Slurm client")
def test_without_slurm_no_state_is_known():
    assert job_states(["1_0"]) == {}
