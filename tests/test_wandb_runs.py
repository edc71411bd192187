"""sweep/wandb_runs.py: a sweep read back from W&B, tested on the public API's own Run objects
built from the shapes its GraphQL answers have (no network)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from wandb.apis.public import Run

from launch.cli import main
from sweep.errors import ConfigError
from sweep.wandb_runs import WandbSweep, load_wandb_runs, parse_source

SERVICE = SimpleNamespace(app_url="https://wandb.example/")
COORDS = {"run": "d64-l2-b16-lr3.0e-03-wd0.1-0bb08edc", "d": 64, "l": 2, "batch_size": 16, "lr": 3e-3,
          "weight_decay": 0.1, "seed": 0, "n_params": 114752, "tokens": 2295040, "flops": 1.58e12, "steps": 1121,
          "tokens_per_param": 20, "data": "embedded", "tokenizer": "byte"}


def api_run(run_id: str, state: str, summary: dict, **coords) -> Run:
    """A wandb.apis.public.Run as `Api.runs` yields it: config values wrapped as {"value": ...},
    config and summary as JSON strings."""
    config = {k: {"value": v, "desc": None} for k, v in {**COORDS, **coords}.items()}
    config["_wandb"] = {"value": {"cli_version": "0.31.0"}}
    attrs = {"id": "UnVuOnYx", "name": run_id, "displayName": config["run"]["value"], "state": state,
             "group": "demo", "jobType": "train", "config": json.dumps(config),
             "summaryMetrics": json.dumps(summary), "systemMetrics": "{}", "tags": []}
    return Run(SERVICE, "team", "scaling", run_id, attrs, lazy=False)


class FakeApi:
    def __init__(self, runs):
        self.runs_, self.calls = runs, []

    def runs(self, path, filters=None, **kwargs):
        self.calls.append((path, filters))
        return iter(self.runs_)


def test_sources_are_folders_or_wandb_groups():
    assert parse_source("runs/demo") is None
    assert parse_source("wandb:team/scaling/demo") == WandbSweep("team", "scaling", "demo")
    assert parse_source("wandb:scaling/demo") == WandbSweep(None, "scaling", "demo")
    with pytest.raises(ConfigError, match="wandb:ENTITY/PROJECT/GROUP"):
        parse_source("wandb:demo")


def test_finished_running_and_crashed_runs_become_the_same_rows_as_run_folders():
    result = {"status": "complete", **COORDS, "final_train_loss": 1.71, "final_eval_loss": 1.75,
              "steps_done": 1121, "wall_seconds": 84.0, "_step": 1121, "train/loss": 1.70, "step": 1121}
    api = FakeApi([
        api_run("0bb08edc", "finished", result),
        api_run("b8a1b81a", "running", {"step": 300, "train/loss": 2.5, "eval/loss": 2.6, "perf/wall_seconds": 20.0},
                run="d64-l2-b16-lr1.0e-02-wd0.1-b8a1b81a", lr=1e-2),
        api_run("c46dc8bd", "crashed", {"step": 100, "train/loss": 3.0}, run="d48-l2-b16-lr1.0e-02-wd0.1-c46dc8bd",
                d=48, lr=1e-2),
    ])
    done, running, crashed = load_wandb_runs(WandbSweep("team", "scaling", "demo"), api=api)
    assert api.calls == [("team/scaling", {"group": "demo", "jobType": "train"})]
    assert done["status"] == "complete" and done["final_eval_loss"] == 1.75 and done["d"] == 64
    assert done["run"] == COORDS["run"] and done["path"] == "https://wandb.example/team/scaling/runs/0bb08edc"
    assert "train/loss" not in done and "_step" not in done
    assert (running["status"], running["steps_done"], running["final_eval_loss"]) == ("running", 300, 2.6)
    assert running["lr"] == 1e-2
    assert crashed["status"] == "failed" and "crashed" in crashed["error"] and crashed["d"] == 48


def test_sweep_status_reads_a_wandb_group(monkeypatch, capsys):
    import sweep.wandb_runs

    api = FakeApi([api_run("0bb08edc", "finished", {"status": "complete", **COORDS, "final_eval_loss": 1.75,
                                                    "final_train_loss": 1.7, "steps_done": 1121})])
    real = sweep.wandb_runs.load_wandb_runs
    monkeypatch.setattr(sweep.wandb_runs, "load_wandb_runs", lambda source, api_=None: real(source, api=api))
    assert main(["status", "wandb:scaling/demo"]) == 0
    out = capsys.readouterr().out
    assert "wandb:scaling/demo: 1 runs" in out and "1.7500" in out and "1 complete" in out
    assert api.calls[0][0] == "scaling"


def test_an_empty_or_unreachable_group_is_one_clear_error():
    with pytest.raises(ConfigError, match="holds no train runs"):
        load_wandb_runs(WandbSweep(None, "scaling", "nothing"), api=FakeApi([]))

    class Offline:
        def runs(self, *args, **kwargs):
            raise ConnectionError("no network")

    with pytest.raises(ConfigError, match="could not read the runs of wandb:scaling/demo"):
        load_wandb_runs(WandbSweep(None, "scaling", "demo"), api=Offline())
    with pytest.raises(ConfigError, match="could not read the runs of wandb:scaling/demo from W&B: UsageError: No API"):
        load_wandb_runs(WandbSweep(None, "scaling", "demo"))  # no API key here (tests/conftest.py wandb_isolated)


def test_a_run_s_logged_config_but_its_seed_is_its_setting_which_its_replicates_share():
    """The config every train run logs (sweep/tracking.py: `config`, the whole TrainConfig) gives the
    row its `setting`, as config.yaml does a run folder's: seeds 0 and 1 share it, a warmup does not."""
    def config(seed, warmup=50):
        return {"seed": seed, "optim": {"lr": 3e-3, "warmup_steps": warmup}, "out_dir": f"runs/s{seed}"}

    result = {"status": "complete", **COORDS, "final_eval_loss": 1.75}
    api = FakeApi([api_run("a", "finished", result, seed=0, config=config(0)),
                   api_run("b", "finished", result, seed=1, config=config(1)),
                   api_run("c", "finished", result, seed=2, config=config(2, warmup=7)),
                   api_run("d", "finished", result)])  # logged before the config was: no setting
    a, b, c, d = load_wandb_runs(WandbSweep(None, "scaling", "demo"), api=api)
    assert a["setting"] == b["setting"] != c["setting"] and d["setting"] is None
