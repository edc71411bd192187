"""sweep/wandb_curves.py: Approach 1's loss curves read from a W&B group, on the public API's own
Run objects (built from the shapes the runs listing has) whose history queries are answered by a
fake GraphQL transport in the shape W&B's `sampledHistory` answer has (no network); the second
read is served from the disk cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from wandb.apis.public import Run

import sweep.wandb_curves
import sweep.wandb_runs
from launch.cli import main
from sweep.errors import ConfigError
from sweep.fit.curve_reader import read_curves
from sweep.wandb_curves import read_wandb_curves
from sweep.wandb_runs import WandbSweep
from tests.test_fit_envelope import law_curve
from tests.test_wandb_runs import COORDS, FakeApi

SWEEP = WandbSweep("team", "scaling", "demo")


class FakeServiceApi:
    """What a public-API Run sends its GraphQL queries through (`execute_graphql`): answers the
    sampled-history query as W&B's server does, one list of rows per spec, each row holding the
    spec's keys that were logged at that step; records every query."""

    app_url = "https://wandb.example/"

    def __init__(self, histories: dict[str, list[dict]]):
        self.histories, self.queries = histories, []

    def execute_graphql(self, query: str, variables: dict) -> dict:
        self.queries.append((query, variables))
        assert "sampledHistory(specs: $specs)" in query
        answers = []
        for spec in map(json.loads, variables["specs"]):
            rows = [{k: r[k] for k in spec["keys"] if k in r} for r in self.histories[variables["name"]]]
            rows = [r for r in rows if set(spec["keys"]) - {"_step"} <= set(r)]  # rows with every key
            answers.append(rows[:: max(1, len(rows) // spec["samples"])][: spec["samples"]])
        return {"project": {"run": {"sampledHistory": answers}}}


def history_of(curve, evals_every=3) -> list[dict]:
    """W&B history rows as sweep/tracking.py logs them: every step train/loss, every third eval/loss."""
    rows = []
    for s, (tokens, flops, loss) in enumerate(zip(curve.tokens_S, curve.flops_S, curve.loss_S)):
        row = {"_step": s, "step": s, "tokens": float(tokens), "flops": float(flops), "train/loss": float(loss) + 0.01}
        if s % evals_every == 0:
            row["eval/loss"] = float(loss)
        rows.append(row)
    return rows


def api_run(service, run_id, state, n_params, heartbeat="2026-01-01T10:00:00", **summary) -> Run:
    """A Run as `Api.runs` yields it (its listing fields: historyLineCount, heartbeatAt ...)."""
    coords = {**COORDS, "run": f"N{n_params:.3g}-{run_id}", "n_params": n_params}
    config = {k: {"value": v, "desc": None} for k, v in coords.items()}
    result = {"status": "complete", **coords, "final_eval_loss": 2.0} if state == "finished" else {}
    attrs = {"id": "UnVuOnYx", "name": run_id, "displayName": coords["run"], "state": state, "group": "demo",
             "jobType": "train", "config": json.dumps(config), "summaryMetrics": json.dumps({**result, **summary}),
             "systemMetrics": "{}", "tags": [], "historyLineCount": len(service.histories.get(run_id, [])),
             "heartbeatAt": heartbeat}
    return Run(service, "team", "scaling", run_id, attrs, lazy=False)


@pytest.fixture
def group():
    """Five finished runs of sizes 1e7 .. 1e9 with curves from a known law, one crashed run."""
    sizes = np.logspace(7, 9, 5)
    histories = {f"r{i}": history_of(law_curve(n, points=30)) for i, n in enumerate(sizes)}
    service = FakeServiceApi(histories)
    runs = [api_run(service, f"r{i}", "finished", float(n)) for i, n in enumerate(sizes)]
    runs.append(api_run(service, "crash", "crashed", 5e7))
    return service, FakeApi(runs)


def test_each_complete_runs_eval_loss_history_is_its_curve_with_one_sampled_request(group, tmp_path):
    service, api = group
    curves = read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)
    assert curves.loss_key == "eval_loss" and curves.excluded == {"failed": 1} and curves.source == str(SWEEP)
    assert len(curves.runs) == 5 and len(service.queries) == 5  # one request per complete run, none for the crash
    (spec,) = map(json.loads, service.queries[0][1]["specs"])
    assert spec["keys"] == ["_step", "tokens", "flops", "eval/loss"] and spec["samples"] == 1000  # conf default
    expected = law_curve(1e7, points=30)
    first = curves.runs[0]
    assert first.n_params == 1e7 and first.name == "N1e+07-r0"
    assert first.tokens_S.tolist() == expected.tokens_S[::3].tolist()
    assert first.loss_S.tolist() == expected.loss_S[::3].tolist()
    assert first.flops_S.tolist() == expected.flops_S[::3].tolist()


def test_a_second_read_of_finished_runs_makes_no_history_request(group, tmp_path):
    service, api = group
    first = read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)
    asked = len(service.queries)
    again = read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)
    assert len(service.queries) == asked
    assert [c.loss_S.tolist() for c in again.runs] == [c.loss_S.tolist() for c in first.runs]

    service.histories["r0"] = service.histories["r0"][:10]  # r0 changed since (a resumed run, say)
    api.runs_[0] = api_run(service, "r0", "finished", 1e7, heartbeat="2026-01-02T00:00:00")
    read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)
    assert [v["name"] for _, v in service.queries[asked:]] == ["r0"]


def test_runs_with_too_few_eval_points_make_every_curve_train_loss(group, tmp_path):
    service, api = group
    service.histories["r2"] = [{k: v for k, v in r.items() if k != "eval/loss"} for r in service.histories["r2"]]
    curves = read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)
    assert curves.loss_key == "train_loss" and [len(c.loss_S) for c in curves.runs] == [30] * 5
    with pytest.raises(ConfigError, match="'val' is not one of"):
        read_wandb_curves(SWEEP, loss="val", api=api, cache_dir=tmp_path)


def test_a_history_that_cannot_be_read_is_one_clear_error(group, tmp_path):
    service, api = group

    def offline(query, variables):
        raise ConnectionError("no network")

    service.execute_graphql = offline
    with pytest.raises(ConfigError, match="could not read the history of W&B run r0 .*no network"):
        read_wandb_curves(SWEEP, api=api, cache_dir=tmp_path)


def test_sweep_fit_envelope_reads_a_wandb_group(group, tmp_path, monkeypatch, capsys):
    service, api = group
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sweep.wandb_runs, "train_runs", lambda source, api_=None: api.runs_)
    monkeypatch.setattr(sweep.wandb_curves, "train_runs", lambda source, api_=None: api.runs_)
    assert read_curves("wandb:team/scaling/demo").loss_key == "eval_loss"
    assert main(["fit", "wandb:team/scaling/demo", "--law", "envelope", "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["approach"] == 1 and fit["curves"] == 5 and fit["loss_key"] == "eval_loss"
    assert list((tmp_path / "scaling-sweep" / "wandb-history").glob("team--scaling--r0--*.json"))
