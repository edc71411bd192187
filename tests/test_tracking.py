"""sweep/tracking.py: every run is one W&B run (offline here, read back from the files W&B
wrote), resumed rather than duplicated, and W&B never stops training."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

import sweep.run.loop as train_module
import sweep.tracking as tracking_module
from sweep.config import LoggerMode
from sweep.rundir import RunDir, run_hash
from sweep.config import WandbStartConfig
from sweep.ladder import plan_ladders
from sweep.tracking import Tracker, open_tracker, resolve_mode, schedule_config, start_run, upload_report
from sweep.run.loop import RunInterrupted, train
from tests.helpers import StopAtStep
from tests.wandb_servers import SERVERS
from tests.wandb_offline import read_offline_run, read_unfinished_offline_run, records_with_ends

WANDB = ["logger=wandb", "logger.mode=offline", "logger.project=tests"]


def offline_runs(run: RunDir):
    """The run's W&B runs, oldest first (one per training attempt)."""
    return [read_offline_run(p) for p in sorted((run.path / "wandb").glob("offline-run-*"))]


def test_the_wandb_config_of_a_wsd_run_says_its_schedule_and_of_a_ladder_member_its_role(tiny_config):
    assert schedule_config(tiny_config()) == {}  # cosine runs: as before
    assert schedule_config(tiny_config("optim.schedule=wsd")) == {"schedule": "wsd"}
    ladder, = plan_ladders([tiny_config("optim.schedule=wsd", "budget.branch=true", f"budget.tokens_per_param={b}")
                            for b in (0.25, 0.5)])
    assert schedule_config(ladder.trunk) == {"schedule": "wsd", "role": "trunk"}
    assert {schedule_config(b)["role"] for b in ladder.branches} == {"branch"}


def test_a_run_is_one_wandb_run_named_by_its_identity_with_its_coordinates(tiny_config):
    cfg = tiny_config(*WANDB, "logger.tags=[width]")
    result = train(cfg)
    run = RunDir.for_config(cfg)
    (tracked,) = offline_runs(run)
    assert tracked.id == run_hash(cfg) and run.path.name.endswith(tracked.id)
    assert (tracked.name, tracked.group, tracked.job_type, tracked.project) == (run.path.name, "runs", "train", "tests")
    assert {"d32", "l1", "b4", "lr3.0e-03", "wd0.1", "data:embedded", "tokenizer:byte", "width"} <= set(tracked.tags)
    for key in ("d", "l", "batch_size", "lr", "weight_decay", "n_params", "tokens", "flops", "tokens_per_param",
                "data", "tokenizer"):
        assert tracked.config[key] == result[key], key
    assert tracked.config["config"]["model"]["d"] == 32  # the whole resolved config too
    assert tracked.summary["status"] == "complete"
    for key in ("final_train_loss", "final_eval_loss", "n_params", "tokens", "flops", "steps_done",
                "train_tokens_per_second", "mfu", "peak_flops", "peak_flops_source", "first_step_seconds"):
        assert tracked.summary[key] == result[key], key
    assert tracked.exit_code == 0

    metrics = run.read_metrics()
    assert [h["step"] for h in tracked.history] == [m["step"] for m in metrics]
    assert [h["train/loss"] for h in tracked.history] == [m["train_loss"] for m in metrics]
    evals = [h for h in tracked.history if "eval/loss" in h]
    assert evals[-1]["eval/loss"] == result["final_eval_loss"]
    assert {"tokens", "flops", "train/lr", "train/grad_norm", "perf/tokens_per_second",
            "perf/mfu"} <= set(tracked.history[-1])
    assert {"step", "tokens", "flops"} <= set(tracked.metrics)  # the axes
    assert tracked.metrics["train/*"] == "tokens"


def test_a_resumed_run_continues_the_same_wandb_run(tiny_config, monkeypatch):
    cfg = tiny_config(*WANDB)
    run = RunDir.for_config(cfg)
    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAtStep)
        with pytest.raises(RunInterrupted):
            train(cfg)
    train(cfg)
    first, second = offline_runs(run)
    assert first.id == second.id == run_hash(cfg)  # `wandb sync` appends the second to the first
    assert first.exit_code != 0 and "status" not in first.summary  # preempted, not finished
    assert second.summary["status"] == "complete" and second.exit_code == 0
    # disjoint histories that together are the whole run: `wandb sync` appends one to the other
    assert first.history[-1]["step"] < second.history[0]["step"]
    assert [h["step"] for h in first.history + second.history] == [m["step"] for m in run.read_metrics()]


def cut_after_first_history_record(folder: Path) -> None:
    """What a killed W&B writer leaves: the run's file ends after its first logged step."""
    (path,) = folder.glob("run-*.wandb")
    end = next(end for end, record in records_with_ends(path) if record.WhichOneof("record_type") == "history")
    os.truncate(path, end)


def test_steps_a_killed_wandb_writer_never_wrote_are_logged_again_by_the_next_attempt(tiny_config, monkeypatch):
    import wandb

    cfg = tiny_config(*WANDB)
    run = RunDir.for_config(cfg)
    real_finish = wandb.Run.finish

    def writer_killed(self, *args, **kwargs):  # scancel / scontrol requeue: W&B's writer dies too
        real_finish(self, *args, **kwargs)
        raise OSError("wandb-core went away")

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "StopRequest", StopAtStep)
        patch.setattr(wandb.Run, "finish", writer_killed)
        with pytest.raises(RunInterrupted):
            train(cfg)
    (folder,) = (run.path / "wandb").glob("offline-run-*")
    read_offline_run(folder)  # W&B is done writing it
    cut_after_first_history_record(folder)
    train(cfg)

    first = read_unfinished_offline_run(folder)
    (second,) = [read_offline_run(p) for p in (run.path / "wandb").glob("offline-run-*") if p != folder]
    metrics = {m["step"]: m for m in run.read_metrics()}
    assert [h["step"] for h in first.history] == [2]  # the killed attempt logged 2 and 4, wrote only 2
    assert {h["step"] for h in first.history + second.history} == set(metrics)  # no gap
    for logged in second.history:
        assert logged["train/loss"] == metrics[logged["step"]]["train_loss"]  # logged again, identical
    assert second.summary["status"] == "complete" and second.exit_code == 0


def test_a_stop_signal_while_wandb_finishes_leaves_the_summary_and_a_normal_exit(tiny_config, monkeypatch):
    import wandb

    cfg = tiny_config(*WANDB)
    real_finish = wandb.Run.finish

    def signalled_while_finishing(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGUSR2)  # Slurm's time-limit warning, just as W&B finishes
        real_finish(self, *args, **kwargs)

    def scheduler_requeues(signum, frame):  # what submitit's handler does: requeue, exit non-zero
        raise SystemExit(1)

    monkeypatch.setattr(wandb.Run, "finish", signalled_while_finishing)
    previous = signal.signal(signal.SIGUSR2, scheduler_requeues)
    try:
        result = train(cfg)
        assert signal.getsignal(signal.SIGUSR2) is scheduler_requeues  # put back once W&B has finished
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert result["status"] == "complete"
    (tracked,) = offline_runs(RunDir.for_config(cfg))
    assert tracked.summary["status"] == "complete" and tracked.exit_code == 0


def black_hole() -> socket.socket:
    """A loopback server that accepts TCP connections (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


@pytest.mark.parametrize("server", ["closed port", "black hole"])
def test_an_unreachable_wandb_server_does_not_delay_training_and_the_run_logs_offline(
        tiny_config, monkeypatch, caplog, server):
    hole = black_hole()
    port = 9 if server == "closed port" else hole.getsockname()[1]
    monkeypatch.setenv("WANDB_API_KEY", "local-" + "0" * 40)  # mode auto: online
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    opened_in = []

    def timed_open_tracker(*args, **kwargs):
        started = time.perf_counter()
        tracker = open_tracker(*args, **kwargs)
        opened_in.append(time.perf_counter() - started)
        return tracker

    monkeypatch.setattr(train_module, "open_tracker", timed_open_tracker)
    cfg = tiny_config("logger=wandb", "logger.project=tests")
    with caplog.at_level(logging.WARNING, logger="sweep.tracking"):
        train(cfg)
    hole.close()
    assert opened_in[0] < 1  # W&B alone waited 60 s; now it starts beside training
    assert caplog.text.count(f"127.0.0.1:{port} did not answer") == 1 and "logging offline" in caplog.text
    run = RunDir.for_config(cfg)
    (tracked,) = offline_runs(run)  # nothing lost: `wandb sync` uploads it later
    assert [h["step"] for h in tracked.history] == [m["step"] for m in run.read_metrics()]
    assert tracked.summary["status"] == "complete"


@pytest.mark.parametrize("server", ["429 always", "never starts the run"])
def test_a_server_that_answers_but_does_not_start_the_run_gets_bounded_tries_beside_training_then_offline(
        tiny_config, monkeypatch, caplog, server):
    from sweep.budget import compute_budget
    from sweep.run.loop import coordinates

    monkeypatch.setenv("WANDB_API_KEY", "local-" + "0" * 40)  # mode auto: online
    cfg = tiny_config("logger=wandb", "logger.project=tests", "logger.start.attempts=2",
                      "logger.start.init_timeout_s=1", "logger.start.backoff_s=0.2", "logger.start.max_total_s=8")
    with SERVERS[server]() as url, caplog.at_level(logging.INFO, logger="sweep.tracking"):
        monkeypatch.setenv("WANDB_BASE_URL", url)
        started = time.perf_counter()
        tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
        opened_in = time.perf_counter() - started
        for step in (1, 2):
            tracker.log({"step": step, "tokens": 64 * step, "flops": 1e6 * step, "train_loss": 5.0 / step})
        tracker.finish({"status": "complete"})
    assert opened_in < 1  # the tries (at most 8 s) go on beside training
    assert caplog.text.count("try 2 in") == 1
    assert "did not start the run online in 2 tries" in caplog.text and "sweep sync" in caplog.text
    (tracked,) = offline_runs(RunDir.for_config(cfg))  # nothing lost: `sweep sync` uploads it later
    assert [h["step"] for h in tracked.history] == [1, 2] and tracked.id == run_hash(cfg)
    assert tracked.summary["status"] == "complete"


def records(*steps: int) -> list[dict]:
    return [{"step": s, "tokens": 64 * s, "flops": 1e6 * s, "train_loss": 5.0 / s} for s in steps]


def gated_init(monkeypatch, then=None):
    """wandb.init held until the returned Event is set; then the real one (or `then()` raises)."""
    gate, real = threading.Event(), tracking_module.init_wandb

    def held(**kwargs):
        gate.wait(60)
        return real(**kwargs) if then is None else then()

    monkeypatch.setattr(tracking_module, "init_wandb", held)
    return gate


def test_training_does_not_wait_for_wandb_to_start_and_every_record_logged_meanwhile_reaches_it(
        tiny_config, monkeypatch):
    from sweep.budget import compute_budget
    from sweep.run.loop import coordinates

    gate = gated_init(monkeypatch)
    cfg = tiny_config(*WANDB)
    started = time.perf_counter()
    tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
    assert time.perf_counter() - started < 1  # W&B is still starting: training goes on
    tracker.catch_up(records(1, 2))  # a resumed run's earlier records, then this attempt's
    tracker.log(records(3)[0])
    gate.set()
    while tracker.started() is None:
        time.sleep(0.05)
    tracker.log(records(4)[0])
    tracker.finish({"status": "complete"})
    (tracked,) = offline_runs(RunDir.for_config(cfg))
    assert [h["step"] for h in tracked.history] == [1, 2, 3, 4]  # held in order, then sent
    assert [h["train/loss"] for h in tracked.history] == [5.0 / s for s in (1, 2, 3, 4)]
    assert tracked.summary["status"] == "complete" and tracked.exit_code == 0


def test_the_end_of_a_run_waits_for_a_start_under_way_and_loses_nothing(tiny_config, monkeypatch):
    from sweep.budget import compute_budget
    from sweep.run.loop import coordinates

    gate = gated_init(monkeypatch)
    cfg = tiny_config(*WANDB)
    tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
    for record in records(1, 2):
        tracker.log(record)
    threading.Timer(0.5, gate.set).start()  # W&B starts while the run is already finishing
    tracker.finish({"status": "complete"})
    (tracked,) = offline_runs(RunDir.for_config(cfg))
    assert [h["step"] for h in tracked.history] == [1, 2] and tracked.summary["status"] == "complete"


def test_a_start_that_never_ends_delays_the_end_of_a_run_only_by_its_bound(tiny_config, monkeypatch, caplog):
    from sweep.budget import compute_budget
    from sweep.run.loop import coordinates

    def gives_up():
        raise ConnectionError("never started")

    gate = gated_init(monkeypatch, then=gives_up)
    monkeypatch.setattr(tracking_module, "END_WAIT_MARGIN_S", 0)
    cfg = tiny_config(*WANDB, "logger.start.max_total_s=1")
    tracker = open_tracker(cfg, coordinates(cfg, compute_budget(cfg)), is_main=True)
    tracker.log(records(1)[0])
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="sweep.tracking"):
        tracker.finish({"status": "complete"})
    gate.set()
    assert 0.9 < time.perf_counter() - started < 5
    assert "had not started the run 1 s after the end of training" in caplog.text
    assert not (RunDir.for_config(cfg).path / "wandb").exists()  # no W&B run: metrics.jsonl has it all


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_online_starts_are_retried_with_jittered_growing_waits_within_the_bound(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    clock, tries = FakeClock(), []

    def rate_limited(mode, timeout_s):
        tries.append((mode, round(timeout_s, 6), clock.now))
        if mode == "offline":
            return "offline run"
        clock.now += timeout_s
        raise RuntimeError("HTTP 429: Too Many Requests")

    jitters = iter([0.0, 1.0, 0.5])
    start = WandbStartConfig(attempts=4, init_timeout_s=3, backoff_s=1, max_total_s=100)
    run = start_run(rate_limited, "online", start, "r", sleep=clock.sleep, jitter=lambda: next(jitters), clock=clock)
    assert run == "offline run"
    # waits 1 * 0.5, 2 * 1.5, 4 * 1.0 between 4 tries of 3 s each
    assert tries == [("online", 3, 0), ("online", 3, 3.5), ("online", 3, 9.5), ("online", 3, 16.5),
                     ("offline", 3, 19.5)]

    clock, tries = FakeClock(), []
    start = WandbStartConfig(attempts=10, init_timeout_s=3, backoff_s=1, max_total_s=11)
    start_run(rate_limited, "online", start, "r", sleep=clock.sleep, jitter=lambda: 0.5, clock=clock)
    online = [t for t in tries if t[0] == "online"]
    assert [t[2] for t in online] == [0, 4, 9] and online[-1][1] == 2  # the last try gets what is left
    assert tries[-1][2] <= start.max_total_s

    answers = iter([RuntimeError("timed out"), "online run"])

    def second_try_works(mode, timeout_s):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert start_run(second_try_works, "online", start, "r", sleep=lambda s: None) == "online run"

    def broken(mode, timeout_s):
        tries.append(mode)
        raise ValueError("offline runs are not retried")

    tries = []
    with pytest.raises(ValueError):
        start_run(broken, "offline", start, "r")
    assert tries == ["offline"]


def test_start_settings_are_checked_before_any_run(tiny_config):
    from sweep.config import validate
    from sweep.errors import ConfigError

    with pytest.raises(ConfigError, match="logger.start.attempts=0: must be > 0"):
        validate(tiny_config("logger.start.attempts=0"))
    with pytest.raises(ConfigError, match="logger.start.backoff_s=-1.0: must be >= 0"):
        validate(tiny_config("logger.start.backoff_s=-1"))


def test_several_runs_in_one_process_each_finish_their_wandb_run(tiny_config):
    results = [train(tiny_config(*WANDB, f"seed={seed}")) for seed in (0, 1)]
    ids = set()
    for result in results:
        (tracked,) = offline_runs(RunDir(Path(tiny_config().out_dir) / result["run"]))
        assert tracked.exit_code == 0 and tracked.summary["final_eval_loss"] == result["final_eval_loss"]
        ids.add(tracked.id)
    assert len(ids) == 2


def test_a_failed_run_is_a_failed_wandb_run_with_its_status(tiny_config, monkeypatch):
    cfg = tiny_config(*WANDB)

    def explode(*args, **kwargs):
        raise RuntimeError("out of memory (simulated)")

    monkeypatch.setattr(train_module, "evaluate", explode)
    with pytest.raises(RuntimeError):
        train(cfg)
    (tracked,) = offline_runs(RunDir.for_config(cfg))
    assert tracked.summary["status"] == "failed" and "out of memory" in tracked.summary["error"]
    assert tracked.exit_code == 1


def test_the_api_key_is_never_written(tiny_config, tmp_path, monkeypatch):
    secret = "local-0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("WANDB_API_KEY", secret)
    cfg = tiny_config(*WANDB)
    train(cfg)
    assert offline_runs(RunDir.for_config(cfg))
    for path in Path(cfg.out_dir).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_wandb_failing_to_start_or_to_log_never_stops_training(tiny_config, monkeypatch, caplog):
    import wandb

    reference = train(tiny_config("logger=none", "seed=3"))
    def no_server(**kwargs):
        raise ConnectionError("no route to host")

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="sweep.tracking"):
        patch.setattr(wandb, "init", no_server)
        result = train(tiny_config(*WANDB, "seed=3", "out_dir=" + str(Path(tiny_config().out_dir).parent / "b")))
    assert result["final_eval_loss"] == reference["final_eval_loss"]
    assert caplog.text.count("W&B could not start") == 1

    calls = []

    def flaky_log(self, data, step=None, commit=None):
        calls.append(step)
        raise OSError("wandb service went away")

    monkeypatch.setattr(wandb.Run, "log", flaky_log)
    caplog.clear()
    cfg = tiny_config(*WANDB, "seed=3", "out_dir=" + str(Path(tiny_config().out_dir).parent / "c"))
    with caplog.at_level(logging.WARNING, logger="sweep.tracking"):
        result = train(cfg)
    assert result["final_eval_loss"] == reference["final_eval_loss"]
    assert len(calls) == 1 and caplog.text.count("W&B log failed") == 1  # reported once, then quiet
    untracked = RunDir.for_config(tiny_config("logger=none", "seed=3"))
    assert len(RunDir.for_config(cfg).read_metrics()) == len(untracked.read_metrics())


def test_logger_none_and_other_ranks_track_nothing(tiny_config):
    cfg = tiny_config("logger=none")
    train(cfg)
    assert not (RunDir.for_config(cfg).path / "wandb").exists()
    assert type(open_tracker(tiny_config(*WANDB), {}, is_main=False)) is Tracker


def test_mode_auto_is_online_only_with_an_api_key_for_the_host_w_and_b_uses(tmp_path, monkeypatch):
    """A login is looked for as W&B looks for it: at its default host (W&B 0.31's is not
    api.wandb.ai: a key kept for api.wandb.ai alone said online, and one for its host offline)."""
    import wandb
    from wandb.sdk.lib import urls

    with monkeypatch.context() as env:
        env.delenv("WANDB_BASE_URL")
        wandb.teardown()  # W&B's settings as a new process reads them
        assert resolve_mode(LoggerMode.auto) == "offline"
        env.setenv("WANDB_API_KEY", "x" * 40)
        assert resolve_mode(LoggerMode.auto) == "online"
        env.delenv("WANDB_API_KEY")
        netrc = tmp_path / "netrc"
        env.setenv("NETRC", str(netrc))
        for host, mode in (("elsewhere.example", "offline"), (urlparse(urls.DEFAULT_BASE_URL).netloc, "online")):
            netrc.write_text(f"machine {host}\n  login user\n  password " + "y" * 40 + "\n")
            netrc.chmod(0o600)
            assert resolve_mode(LoggerMode.auto) == mode, host
    wandb.teardown()  # the other tests' settings (their unreachable WANDB_BASE_URL) again
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode(LoggerMode.auto) is None  # W&B reads WANDB_MODE itself
    assert resolve_mode(LoggerMode.offline) == "offline"


def test_a_report_logs_the_runs_table_and_figures_as_an_analysis_run(tmp_path):
    import json

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = tmp_path / "scaling.png"
    plt.plot([1, 2], [3, 4])
    plt.savefig(figure)
    plt.close()
    rows = [{"run": "a", "d": 32, "final_eval_loss": 3.5, "traceback": "not uploaded"},
            {"run": "b", "d": 64, "final_eval_loss": 3.1, "fit": {"E": 1.7}}]
    where = upload_report(rows, {"scaling": figure}, project="tests", entity=None, group="sweep",
                          mode=LoggerMode.offline, folder=tmp_path / "sweep")
    (folder,) = (tmp_path / "sweep" / "wandb").glob("offline-run-*")
    assert str(folder) in where and f"sweep sync {tmp_path / 'sweep'}" in where
    report = read_offline_run(folder)
    assert (report.job_type, report.group, report.name, report.exit_code) == ("analysis", "sweep", "sweep-report", 0)
    (logged,) = report.history
    assert logged["runs/_type"] == "table-file" and logged["scaling/_type"] == "image-file"  # nested keys, flattened
    table = json.loads((folder / "files" / logged["runs/path"]).read_text())
    assert table["columns"] == ["d", "final_eval_loss", "fit", "run"]
    assert table["data"] == [[32, 3.5, None, "a"], [64, 3.1, "{'E': 1.7}", "b"]]
    assert (folder / "files" / logged["scaling/path"]).read_bytes()[:4] == b"\x89PNG"


def test_each_report_upload_is_a_new_version_of_the_sweeps_report_artifact(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    files = [out / "report.md", out / "runs.csv", out / "fits.json"]
    for path in files:
        path.write_text(f"{path.name}\n")
    figure = out / "loss_vs_n.png"
    from PIL import Image

    Image.new("RGB", (2, 2)).save(figure)
    for _ in range(2):
        upload_report([{"run": "a"}], {"loss_vs_n": figure}, project="tests", entity=None, group="sweep",
                      mode=LoggerMode.offline, folder=tmp_path / "sweep", fits={"chinchilla": {"E": 1.7}}, files=files,
                      kind="report")
    upload_report([{"run": "a"}], {}, project="tests", entity=None, group="sweep", mode=LoggerMode.offline,
                  folder=tmp_path / "sweep", fits={"chinchilla": {"E": 1.7}}, kind="fit-chinchilla")
    runs = [read_offline_run(f) for f in (tmp_path / "sweep" / "wandb").glob("offline-run-*")]
    artifacts = sorted((a for run in runs for a in run.artifacts if a["type"].startswith("scaling-")),
                       key=lambda a: a["name"], reverse=True)  # besides W&B's own one for the runs table
    assert [(a["name"], a["type"]) for a in artifacts] == [("sweep-report", "scaling-report")] * 2 + \
        [("sweep-fit-chinchilla", "scaling-fit-chinchilla")]
    report, again, fit = artifacts
    assert report["files"] == {p.name: p.stat().st_size for p in (*files, figure)}
    assert "latest" in report["aliases"] and again["digest"] == report["digest"]  # one artifact, versioned
    assert list(fit["files"]) == ["fits.json"]  # the fit's numbers, written by the upload


def test_a_report_to_a_server_that_never_answers_is_logged_offline_within_seconds(tmp_path, monkeypatch):
    hole = black_hole()
    monkeypatch.setenv("WANDB_API_KEY", "local-" + "0" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{hole.getsockname()[1]}")
    started = time.perf_counter()
    where = upload_report([{"run": "a"}], {}, project="tests", entity=None, group="sweep", mode=LoggerMode.online,
                          folder=tmp_path / "sweep")
    hole.close()
    assert time.perf_counter() - started < 30  # W&B alone waited 60 s, then failed
    assert "offline in" in where and "sweep sync" in where


def test_a_report_that_cannot_reach_wandb_is_one_clear_error(tmp_path, monkeypatch):
    import wandb

    from sweep.errors import ConfigError

    def no_server(**kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(wandb, "init", no_server)
    with pytest.raises(ConfigError, match="could not start a W&B run in team/tests/sweep: ConnectionError"):
        upload_report([{"run": "a"}], {}, project="tests", entity="team", group="sweep", mode=LoggerMode.online,
                      folder=tmp_path)


def test_a_run_stopped_early_ends_its_wandb_run_with_the_status_and_the_predicted_loss(tiny_config):
    from sweep.early_stop import decide_group

    on = ("early_stop.enabled=true", "early_stop.fraction=0.5", "early_stop.resamples=50", "budget.tokens_per_param=4",
          "train.eval_every=8", *WANDB)  # a group the predictor decides (tests/test_loop.py DECIDABLE)
    good, bad = (tiny_config(*on, f"optim.lr={lr}") for lr in ("1e-2", "3e-1"))
    for cfg in (good, bad):
        train(cfg, until_step=320)
    decide_group([good, bad])
    result = train(bad)
    last = offline_runs(RunDir.for_config(bad))[-1]
    assert last.summary["status"] == "stopped_early" and last.exit_code == 0
    assert last.summary["predicted_final_eval_loss"] == result["predicted_final_eval_loss"]
    assert last.summary["predicted_interval"] == result["predicted_interval"]


STOPPED_SERVICE = """
import os, pathlib, signal, sys, time
import wandb
from sweep.tracking import WandbTracker

run = wandb.init(mode="offline", project="tests", dir=sys.argv[1])
tracker = WandbTracker(run, "r", pathlib.Path(sys.argv[1]) / "tracked_step.json")
tracker.log({"step": 1, "tokens": 8, "flops": 1.0, "train_loss": 5.0})
me = str(os.getpid())
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] == me:
            os.kill(int(pid), signal.SIGTERM)  # scancel's SIGTERM reaches W&B's service process too
    except OSError:
        pass
time.sleep(1)
tracker.interrupted()
print("exited normally")
"""


def test_a_scancel_that_also_stops_wandb_s_service_leaves_no_atexit_traceback_in_the_log(tmp_path):
    """Was: after the run's checkpoint line, `W&B finish failed (ConnectionResetError...)` and then a
    25-line `Exception ignored in atexit callback ... ConnectionResetError` from W&B's exit hook."""
    import subprocess
    import sys

    script = tmp_path / "stopped_service.py"
    script.write_text(STOPPED_SERVICE)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}  # its own service, not this process's
    env["PYTHONPATH"] = str(Path(tracking_module.__file__).parents[1])
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0 and "exited normally" in out.stdout, out.stderr
    assert "W&B finish failed" in out.stderr  # the one line saying W&B lost the end of this attempt
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr
