"""launch/job.py: the callable a submitit job runs."""

import pytest

from launch.job import TrainJob
from sweep.rundir import RunDir
from sweep.run.loop import record_failure


def test_a_job_runs_its_training_run(tiny_config):
    result = TrainJob(tiny_config())()
    assert result["status"] == "complete"


def test_a_job_that_fails_before_training_is_recorded_as_failed(tiny_config, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("text " * 1000)
    cfg = tiny_config("data=files", f"data.paths=[{corpus}]", "data.tokenizer=byte", "data.eval_tokens=100")
    corpus.unlink()  # valid when submitted, gone when the job starts
    with pytest.raises(Exception, match="corpus.txt"):
        TrainJob(cfg)()
    run = RunDir.for_config(cfg)
    result = run.read_result()
    assert result["status"] == "failed" and "corpus.txt" in result["error"] and "Traceback" in result["traceback"]
    assert run.config_file.exists()  # so `sweep status` lists it


def test_a_job_of_a_damaged_run_leaves_its_damaged_file_as_it_is(tiny_config):
    from sweep.errors import DamagedFile

    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.path.mkdir(parents=True)
    run.result_file.write_text('{"status": "complete", "final_ev')  # damaged after submission
    with pytest.raises(DamagedFile, match="result.json: not valid JSON"):
        TrainJob(cfg)()
    assert run.result_file.read_text() == '{"status": "complete", "final_ev'


def test_a_job_whose_run_is_held_elsewhere_returns_running_and_records_nothing(tiny_config):
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    with run.hold():
        assert TrainJob(cfg)()["status"] == "running"
    assert run.read_result() is None


def test_a_finished_run_is_never_requeued(tiny_config):
    cfg = tiny_config()
    job = TrainJob(cfg)
    assert job.checkpoint() is not None  # unfinished: submitit requeues the same job
    job()
    assert job.checkpoint() is None  # submitit: "not requeued: checkpoint function returned None"


def test_an_error_after_the_run_finished_keeps_its_result(tiny_config):
    cfg = tiny_config()
    result = TrainJob(cfg)()
    assert record_failure(cfg, "SIGUSR2 while W&B was closing the run") == result
    assert RunDir.for_config(cfg).read_result()["status"] == "complete"


def test_a_failed_resumption_of_a_run_stopped_early_keeps_its_decision_and_says_why(tiny_config):
    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    stopped = {"status": "stopped_early", "steps_done": 4, "predicted_final_eval_loss": 3.1,
               "predicted_interval": [3.0, 3.2], "early_stop": {"best_run": "other"}}
    run.write_result(stopped)
    result = record_failure(cfg, "ConfigError: checkpoint latest.pt cannot be loaded", "Traceback ...")
    assert result == {**stopped, "resume_failed": {"error": "ConfigError: checkpoint latest.pt cannot be loaded",
                                                   "traceback": "Traceback ..."}}
    assert run.read_result() == result  # was: status failed, the prediction and decision gone


def test_a_trunk_segment_job_stops_at_its_segment_end_and_is_requeued_as_the_same_segment(tmp_path,
                                                                                           shared_cache_dir):
    from launch.grid import compose_grid
    from launch.jobs import SEGMENT, job_plan
    from sweep.ladder import SEGMENT_DONE
    from tests.helpers import TINY

    base = [o for o in TINY if not o.startswith("budget.tokens_per_param=")]
    grid = compose_grid([*base, "optim.schedule=wsd", "budget.branch=true", "budget.tokens_per_param=0.5,1",
                         f"out_dir={tmp_path}", f"data.cache_dir={shared_cache_dir}"])
    first = next(j for j in job_plan(grid) if j.kind == SEGMENT)
    job = TrainJob(first.point.cfg, until_step=first.until_step)
    requeued = job.checkpoint()
    assert requeued.function.until_step == first.until_step  # a requeued segment resumes to the same end
    assert job() == {"status": SEGMENT_DONE, "run": first.point.run.path.name, "step": first.last_step}
    assert first.done() and first.point.run.read_result() is None


def test_a_local_job_stopped_while_it_starts_stops_there_not_after_its_whole_budget(tiny_config, monkeypatch):
    """submitit's SIGTERM handler only logs the signal: before the training loop held it, a local job sent
    SIGTERM (the launcher's Ctrl-C) trained its whole budget. Now it stops there, as interrupted."""
    import os
    import signal

    import launch.job

    def starting(cfg, until_step=None):  # the signal arrives while the run loads its data
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the job")
    monkeypatch.setattr(launch.job, "_cluster", lambda: "local")
    monkeypatch.setattr(launch.job, "train", starting)
    before = signal.getsignal(signal.SIGTERM)
    result = TrainJob(tiny_config())()
    assert result["status"] == "interrupted" and result["step"] is None
    assert signal.getsignal(signal.SIGTERM) is before  # submitit's handler back once the job ends
    assert RunDir.for_config(tiny_config()).read_result() is None  # no failure recorded


def test_a_job_given_threads_trains_at_that_many_torch_threads_and_one_without_at_torch_s_default(
        tiny_config, monkeypatch):
    import torch

    seen = []
    monkeypatch.setattr("launch.job.train", lambda cfg, until_step=None: seen.append(torch.get_num_threads()) or {})
    default = torch.get_num_threads()
    try:
        TrainJob(tiny_config(), threads=default + 1)()
        torch.set_num_threads(default)
        TrainJob(tiny_config())()
    finally:
        torch.set_num_threads(default)
    assert seen == [default + 1, default]
