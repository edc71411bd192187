"""sweep/wandb_records.py: `sweep predict` on a W&B group, on the public API's own Run objects whose
history queries are answered by the fake sampledHistory transport of tests/test_wandb_curves.py
(no network). The group's loss curves are drawn from a known curve law under each run's own
schedule; W&B answers a history longer than `samples` rows with rows dropped, and the
predictions must still be the ones the same records give read whole from run folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wandb.apis.public import Run

import sweep.wandb_records
from launch.cli import main
from sweep.budget import compute_budget
from sweep.config import to_plain
from sweep.errors import ConfigError
from sweep.fit.curve_law import CurveLaw, decay_for, schedule_areas
from sweep.fit.predict import learning_rates, predict_sources, predict_sweep
from sweep.rundir import RunDir
from sweep.wandb_records import wandb_run_sources
from sweep.wandb_runs import WandbSweep
from tests.test_wandb_curves import FakeServiceApi
from tests.test_wandb_runs import FakeApi

SWEEP = WandbSweep("team", "scaling", "demo")
LRS = (1e-3, 2e-3, 4e-3)  # one budget group: the runs differ only in learning rate
# 1603 steps, a train record every 10 (160 + the last), an eval every 100
SETTINGS = ("budget.tokens_per_param=10", "optim.warmup_steps=50", "train.log_every=10", "train.eval_every=100")
SAMPLES = 40  # W&B keeps every 4th of the 161 train rows: each covers 10 of the 40 updates since the last one kept
LAW = CurveLaw(L0=2.0, A=1.0, alpha=0.5, C=0.6)  # per run L0 + 0.05 per lr (its noise floor)
GAP = 0.05  # the eval loss sits this far above the train-loss law


def law_records(cfg, l0: float) -> tuple[list[dict], float]:
    """The records training logs (sweep/run/loop.py) when the loss follows LAW with floor l0: every
    train.log_every steps and at the last, the mean loss since the previous record;
    every train.eval_every steps and at the last, the eval loss (the law + GAP); and the true final
    eval loss."""
    lr_S, _ = learning_rates(cfg)
    steps = len(lr_S)
    s1, s2 = schedule_areas(lr_S, decay_for(steps))
    law_S = CurveLaw(l0, LAW.A, LAW.alpha, LAW.C).loss(np.maximum(s1, 1e-12), s2)
    records, last = [], 0
    for k in range(1, steps + 1):
        if k % cfg.train.log_every and k < steps:
            continue
        record = {"step": k, "train_loss": float(law_S[last:k].mean())}
        if k % cfg.train.eval_every == 0 or k == steps:
            record["eval_loss"] = float(law_S[k] + GAP)
        records.append(record)
        last = k
    return records, float(law_S[steps] + GAP)


def history_rows(records: list[dict]) -> list[dict]:
    """The W&B history rows sweep/tracking.py logs for these records (step=record["step"])."""
    return [{"_step": r["step"], "step": r["step"], "train/loss": r["train_loss"],
             **({"eval/loss": r["eval_loss"]} if "eval_loss" in r else {})} for r in records]


def api_run(service, run_id: str, state: str, cfg=None, name: str | None = None, summary: dict | None = None,
            full_config: bool = True) -> Run:
    """A Run as `Api.runs` yields it: its coordinates and (full_config) its whole config as
    sweep/tracking.py logs them, wrapped as {"value": ...}; summary and listing fields."""
    coords = {"run": name or run_id}
    if cfg is not None:
        coords.update(d=cfg.model.d, l=cfg.model.l, lr=cfg.optim.lr)
    if cfg is not None and full_config:
        coords["config"] = to_plain(cfg)
    config = {k: {"value": v, "desc": None} for k, v in coords.items()}
    attrs = {"id": run_id, "name": run_id, "displayName": coords["run"], "state": state, "group": "demo",
             "jobType": "train", "config": json.dumps(config), "summaryMetrics": json.dumps(summary or {}),
             "systemMetrics": "{}", "tags": [], "historyLineCount": len(service.histories.get(run_id, [])),
             "heartbeatAt": "2026-01-01T10:00:00"}
    return Run(service, "team", "scaling", run_id, attrs, lazy=False)


@pytest.fixture
def group(tiny_config, tmp_path):
    """The same three finished runs as run folders (every record) and as a W&B group (their
    histories), plus a W&B run still training: the first half of the middle lr's records."""
    folder, histories, runs, truths = tmp_path / "runs", {}, [], {}
    for i, lr in enumerate(LRS):
        cfg = tiny_config(*SETTINGS, f"optim.lr={lr}")
        run = RunDir.for_config(cfg)
        records, truth = law_records(cfg, LAW.L0 + 0.05 * i)
        run.write_config(cfg)
        run.write_metrics(records)
        budget = compute_budget(cfg)
        result = {"status": "complete", "final_eval_loss": truth, "n_params": budget.n_params, "tokens": budget.tokens,
                  "flops": budget.flops}
        run.write_result(result)
        histories[f"r{i}"] = history_rows(records)
        truths[run.path.name] = truth
        runs.append((f"r{i}", cfg, run.path.name, result))
    cfg = runs[1][1]
    records, _ = law_records(cfg, LAW.L0 + 0.05)
    histories["live"] = history_rows(records[:len(records) // 2])
    service = FakeServiceApi(histories)
    api = FakeApi([api_run(service, run_id, "finished", cfg, name, summary) for run_id, cfg, name, summary in runs] +
                  [api_run(service, "live", "running", cfg, "live", {"train/loss": 3.5, "eval/loss": 3.6})])
    return folder, service, api, truths


def by_run(predictions):
    return {p.run: p for p in predictions}


@pytest.mark.parametrize("fraction", [0.5, None])
def test_a_sampled_wandb_history_predicts_what_the_whole_folder_records_predict(group, tmp_path, fraction):
    """W&B sends every 4th train row (SAMPLES); each row is taken to cover its own log_every
    updates. The records lie exactly on the law, so any subset of them pins the same law: the
    predictions are the folders' (every record) within 0.1%, what is left being the alpha grid
    (1.05% apart) and where the fit starts (measured at 25%: 0.06% at most)."""
    folder, service, api, truths = group
    from_folders = by_run(predict_sweep(folder, fraction, n_resamples=20))
    sources = wandb_run_sources(SWEEP, api=api, cache_dir=tmp_path / "cache", samples=SAMPLES)
    from_wandb = by_run(predict_sources(sources, at_fraction=fraction, n_resamples=20))
    for name, truth in truths.items():
        w, f = from_wandb[name], from_folders[name]
        assert w.prediction.n_points < f.prediction.n_points / 3  # the rows W&B sent
        assert w.predicted == pytest.approx(f.predicted, rel=1e-3)
        assert w.prediction.steps_seen == f.prediction.steps_seen
        assert w.actual == f.actual == truth and w.status == "complete" and w.coordinates == f.coordinates


def test_taking_a_sampled_rows_window_from_the_previous_row_seen_would_predict_otherwise(group, tmp_path):
    """What the window is for: at half of the runs the previous row seen (40 updates back) as each
    row's start moves the predictions by up to 0.35% (measured), 3.5 times the tolerance above (1.4%
    at 25%, where the rows seen are now too few, all at the peak rate, for a prediction)."""
    folder, _, api, truths = group
    from_folders = by_run(predict_sweep(folder, 0.5, n_resamples=20))
    sources = wandb_run_sources(SWEEP, api=api, cache_dir=tmp_path / "cache", samples=SAMPLES)
    for source in sources:
        source.sampled = False  # records taken as contiguous, as a folder's are
    windowless = by_run(predict_sources(sources, at_fraction=0.5, n_resamples=20))
    worst = max(abs(windowless[name].predicted / from_folders[name].predicted - 1) for name in truths
                if windowless[name].prediction is not None)  # a run of 8 sampled rows all at the peak: too few
    assert worst > 0.003


def test_the_histories_are_read_once_per_metric_and_then_from_the_cache(group, tmp_path):
    folder, service, api, _ = group
    wandb_run_sources(SWEEP, api=api, cache_dir=tmp_path / "cache")
    assert len(service.queries) == 2 * 4  # train/loss and eval/loss of each run
    asked = {(v["name"], tuple(json.loads(spec)["keys"])) for _, v in service.queries for spec in v["specs"]}
    assert asked == {(run, ("_step", key)) for run in ("r0", "r1", "r2", "live") for key in ("train/loss", "eval/loss")}
    again = wandb_run_sources(SWEEP, api=api, cache_dir=tmp_path / "cache")
    assert len(service.queries) == 8 and len(again[0].records()) == 161


def test_status_actual_and_fraction_come_from_wandb(group, tmp_path):
    """A running run has no actual loss; --at-fraction cuts every run at its own step."""
    _, _, api, truths = group
    sources = wandb_run_sources(SWEEP, api=api, cache_dir=tmp_path)
    predictions = by_run(predict_sources(sources, at_fraction=0.5, n_resamples=20))
    live = predictions["live"]
    assert live.status == "running" and live.actual is None and live.error is None
    assert live.prediction.fraction_seen == pytest.approx(0.5, abs=0.01)
    for name, truth in truths.items():
        p = predictions[name]
        assert p.actual == truth and 0.45 < p.prediction.fraction_seen <= 0.5 and abs(p.relative_error) < 0.05


def test_a_run_without_usable_config_or_readable_history_is_skipped_with_its_reason(group, tmp_path):
    """Each skipped with one line; the rest of the group is predicted."""
    _, service, api, _ = group
    runs = api.runs_[:2]
    runs.append(api_run(service, "old", "finished", None, summary={"status": "complete", "final_eval_loss": 3.1}))
    runs.append(api_run(service, "crash", "crashed", None))
    runs.append(api_run(service, "odd", "running", None))
    plain = json.loads(json.dumps(runs[0].config["config"]))
    plain["model"]["wings"] = 2  # a setting this version does not know
    runs[-1].config["config"] = plain
    service.histories.update(old=[], crash=[], odd=service.histories["r0"])
    asked = service.execute_graphql

    def r1_offline(query, variables):
        if variables["name"] == "r1":
            raise ConnectionError("no network")
        return asked(query, variables)

    service.execute_graphql = r1_offline
    predictions = by_run(predict_sources(wandb_run_sources(WandbSweep("team", "scaling", "demo"), api=FakeApi(runs),
                                                           cache_dir=tmp_path), n_resamples=10))
    assert predictions["old"].skipped.startswith("W&B run old has no full config (config.config")
    assert predictions["old"].status == "complete" and predictions["old"].actual == 3.1
    assert predictions["crash"].status == "failed" and "no full config" in predictions["crash"].skipped
    assert predictions["odd"].skipped.startswith("the config of W&B run odd (odd): not a config of this version")
    assert predictions["odd"].skipped.endswith("predict the run from its sweep folder, whose config.yaml can be "
                                                "rewritten by re-running the sweep")
    r1 = predictions[dict(runs[1].config)["run"]]
    assert r1.skipped.startswith("could not read the history of W&B run r1") and "no network" in r1.skipped
    assert r1.status == "complete" and r1.actual is not None and r1.prediction is None
    assert sum(p.prediction is not None for p in predictions.values()) == 1  # r0 alone


def test_an_empty_or_unreachable_group_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="holds no train runs"):
        wandb_run_sources(SWEEP, api=FakeApi([]), cache_dir=tmp_path)

    class Offline:
        def runs(self, *args, **kwargs):
            raise ConnectionError("no network")

    with pytest.raises(ConfigError, match="could not read the runs of wandb:team/scaling/demo"):
        wandb_run_sources(SWEEP, api=Offline(), cache_dir=tmp_path)


@pytest.fixture
def cli_group(group, tmp_path, monkeypatch):
    """`sweep predict wandb:...` reaching the fake group (the disk cache under tmp_path)."""
    _, _, api, truths = group
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sweep.wandb_records, "train_runs", lambda source, api_=None: api.runs_)
    return truths


def test_sweep_predict_shows_a_wandb_groups_table(cli_group, capsys):
    assert main(["predict", "wandb:team/scaling/demo", "--at-fraction", "0.5", "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    assert "wandb:team/scaling/demo: final eval loss predicted" in out and "each cut at 0.5" in out
    for name in cli_group:
        assert name[:20] in out
    assert "4 of 4 runs predicted; over the 3 finished" in out.replace("\n", " ")


def test_sweep_predict_json_of_a_wandb_group(cli_group, capsys):
    assert main(["predict", "wandb:team/scaling/demo", "--json", "--bootstrap", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "wandb:team/scaling/demo" and out["summary"]["finished_predicted"] == 3
    runs = {r["run"]: r for r in out["runs"]}
    for name, truth in cli_group.items():
        assert runs[name]["actual"] == truth and runs[name]["status"] == "complete"
        assert runs[name]["relative_error"] == pytest.approx(0, abs=0.01)
    assert runs["live"]["status"] == "running" and runs["live"]["actual"] is None


def test_sweep_predict_of_an_unreachable_group_is_one_line(monkeypatch, capsys):
    def offline(source, api=None):
        raise ConfigError(f"could not read the runs of {source} from W&B: ConnectionError: no network")

    monkeypatch.setattr(sweep.wandb_records, "train_runs", offline)
    assert main(["predict", "wandb:team/scaling/demo"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: could not read the runs of wandb:team/scaling/demo from W&B: ConnectionError: " \
                          "no network"


def test_sweep_report_of_a_wandb_group_has_the_predicted_against_actual_figure(cli_group, tmp_path, monkeypatch):
    import sweep.wandb_curves
    import sweep.wandb_runs

    runs = sweep.wandb_records.train_runs(None)
    monkeypatch.setattr(sweep.wandb_runs, "train_runs", lambda source, api_=None: runs)
    monkeypatch.setattr(sweep.wandb_curves, "train_runs", lambda source, api_=None: runs)
    assert main(["report", "wandb:team/scaling/demo", "--out", str(tmp_path / "report"), "--bootstrap", "10"]) == 0
    fits = json.loads((tmp_path / "report" / "fits.json").read_text())
    assert fits["prediction"]["at_fraction"] == 0.5 and fits["prediction"]["summary"]["finished_predicted"] == 3
    assert (tmp_path / "report" / "predicted_vs_actual.png").exists()
