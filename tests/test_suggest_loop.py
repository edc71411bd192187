"""launch/suggest_loop.py: rounds of suggest -> train -> refit on a sweep folder, recorded in
suggest/rounds.jsonl; stopping after N rounds or once L*'s interval is narrow enough; a resumed
loop finishes an interrupted round without choosing again; a failed proposal is recorded, not
fatal; proposals trained through the sweep's own launcher with the sweep's settings; the report's
"Active rounds" section; one clear error for each bad option or source.

Most tests train nothing: their sweep folder holds run folders written as a run would (composed
config, result.json) with losses from a known law, and `train` is a stand-in that writes the
proposals' results the same way. Two slow tests train for real: with the local launcher and on Slurm."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from launch.commands.suggest import add_loop_options, loop_requested
from launch.grid import compose_grid
from launch.suggest_loop import check_loop_options, launch_settings, run_from_args, run_rounds
from sweep.errors import ConfigError
from sweep.fit.design import Candidate
from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.report import write_report
from sweep.fit.rounds import read_rounds, rounds_path
from sweep.fit.table import load_runs_table
from sweep.rundir import RunDir, iter_run_dirs
from tests.helpers import TINY

REPO = Path(__file__).resolve().parent.parent
LAW = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
OPTIONS = {"law": "chinchilla", "count": 1, "resamples": 20, "seed": 0}


def base_overrides(sweep_dir: Path, cache: Path) -> list[str]:
    return [*TINY, f"out_dir={sweep_dir}", f"data.cache_dir={cache}"]


def law_loss(n_params: float, tokens: float) -> float:
    """LAW's loss with a 1% scatter fixed by (N, T): noise-free losses leave every bootstrap law the
    same, and then no run can narrow anything."""
    scatter = np.random.default_rng(int(n_params + 7 * tokens) % 2 ** 32).normal()
    return float(LAW.predict(n_params, tokens)) * float(np.exp(0.01 * scatter))


def write_complete(point, loss: float | None = None, status: str = "complete") -> None:
    """A finished run folder of a grid point, as a run writes it (config.yaml, overrides.yaml,
    result.json), its loss from law_loss unless given."""
    run, budget = point.run, point.budget
    run.write_config(point.cfg)
    run.record_overrides(point.overrides)
    loss = law_loss(budget.n_params, budget.tokens) if loss is None and status == "complete" else loss
    run.write_result({"status": status, "n_params": budget.n_params, "tokens": budget.tokens, "flops": budget.flops,
                      "steps": budget.steps, "final_eval_loss": loss})


@pytest.fixture
def law_sweep(tmp_path, shared_cache_dir):
    """A sweep folder of 8 complete runs (d 16..64 x 2 token budgets) whose losses follow LAW (1% scatter)."""
    sweep_dir = tmp_path / "sweep"
    for point in compose_grid([*base_overrides(sweep_dir, shared_cache_dir), "model.d=16,32,48,64",
                               "budget.tokens_per_param=1,4"]):
        write_complete(point)
    return sweep_dir


def candidates_of(sweep_dir: Path, cache: Path, *axes: str) -> list[Candidate]:
    """Candidates built by hand: the base overrides with the given axes, one per grid point."""
    out = []
    for point in compose_grid([*base_overrides(sweep_dir, cache), *axes]):
        b = point.budget
        out.append(Candidate(b.n_params, b.tokens, b.flops, point.run.path.name, tuple(point.overrides), b.steps))
    return out


class StandIn:
    """`train`: writes each point's run as complete with LAW's loss (or as failed for the runs in
    `fail`), recording the points it was given."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def __call__(self, sweep_dir, points):
        self.calls.append([p.run.path.name for p in points])
        for point in points:
            failed = any(f in point.run.path.name for f in self.fail)
            write_complete(point, status="failed" if failed else "complete")


def target_of(sweep_dir: Path) -> float:
    return 10 * float(load_runs_table(sweep_dir).flops_R.max())


def test_one_round_records_the_proposal_the_fit_before_and_after_and_why_it_stopped(law_sweep, shared_cache_dir):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    train = StandIn()
    result = run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
                        suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=train)
    assert (result.rounds, result.reason) == (1, "rounds")
    lines = [json.loads(line) for line in rounds_path(law_sweep).read_text().splitlines()]
    assert [line["event"] for line in lines] == ["proposed", "ended", "stopped"]
    proposed, ended, stopped = lines
    (proposal,) = proposed["suggestion"]["proposals"]
    assert proposal["label"] in {c.label for c in cands} and proposed["runs"] == [proposal["label"]]
    assert train.calls == [proposed["runs"]]  # the proposal was trained, as its own run folder
    assert set(proposed["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert proposed["suggestion"]["now"]["loss"]["interval"][0] <= proposed["suggestion"]["now"]["loss"]["value"]
    assert ended["outcomes"] == [{"run": proposal["label"], "status": "complete", "error": None,
                                  "final_eval_loss": pytest.approx(law_loss(proposal["n_params"], proposal["tokens"]))}]
    assert ended["after"]["n_points"] == 9 and set(ended["after"]) >= {"loss", "n_opt", "params"}
    assert stopped["reason"] == "rounds" and stopped["round"] == 1
    again = StandIn()  # the same command again: the folder holds its 1 round, nothing is trained
    assert run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
                      suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=again).reason == "rounds"
    assert again.calls == [] and len(rounds_path(law_sweep).read_text().splitlines()) == 3  # no second stop line


def test_a_sweep_whose_interval_is_already_narrow_enough_trains_nothing(law_sweep, shared_cache_dir):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96")
    train = StandIn()
    result = run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=3, until_width=0.999,
                        suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=train)
    assert result.reason == "width" and result.rounds == 0 and result.width < 0.999
    assert train.calls == []
    assert read_rounds(law_sweep).stopped["reason"] == "width"


@pytest.mark.slow  # about 20 s (two loops' fits); the one-round test covers the record it reuses
def test_the_last_round_s_fit_after_stands_for_now_only_at_the_same_target_compute(law_sweep, shared_cache_dir,
                                                                                   monkeypatch):
    import launch.suggest_loop as loop

    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96")
    options = {**OPTIONS, "target_compute": target_of(law_sweep)}
    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, suggest_options=options, train=StandIn())
    fitted_at = []
    real_fit = loop.fit_at_target
    monkeypatch.setattr(loop, "fit_at_target", lambda table, **kw: fitted_at.append(kw["target_compute"])
                        or real_fit(table, **kw))
    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, until_width=0.5, suggest_options=options,
               train=StandIn())
    assert fitted_at == []  # the recorded fit after is the fit now
    other = {**options, "target_compute": 100 * options["target_compute"]}
    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, until_width=0.5, suggest_options=other,
               train=StandIn())
    assert fitted_at == [other["target_compute"]]  # another C: fitted again


@pytest.mark.slow  # about 25 s; suggest's own "no candidate left" error is covered by test_fit_suggest.py
def test_no_candidate_left_stops_the_loop_and_says_so(law_sweep, shared_cache_dir):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96")
    result = run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=3,
                        suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=StandIn())
    assert result.rounds == 1 and result.reason == "no_candidate"  # round 2: its only candidate was run
    assert "no candidate left" in result.detail


@pytest.mark.slow  # about 25 s (two rounds' fits); the round record it checks is the one-round test's, the resume the interrupted-round test's
def test_a_failed_proposal_is_recorded_and_the_loop_goes_on(law_sweep, shared_cache_dir):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    train = StandIn(fail=("-",))  # every run fails
    result = run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=2,
                        suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=train)
    assert result.reason == "rounds" and len(train.calls) == 2
    record = read_rounds(law_sweep)
    assert [o["status"] for r in record.rounds for o in r.ended["outcomes"]] == ["failed", "failed"]
    assert record.rounds[0].ended["after"]["n_points"] == 8  # the refit took what finished


@pytest.mark.slow  # about 16 s (two fits); the open round read back is test_fit_rounds.py's
def test_an_interrupted_round_is_finished_from_its_record_without_choosing_again(law_sweep, shared_cache_dir):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    options = {**OPTIONS, "target_compute": target_of(law_sweep)}

    def interrupted(sweep_dir, points):
        raise KeyboardInterrupt  # the loop is killed while round 1 trains

    with pytest.raises(KeyboardInterrupt):
        run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, suggest_options=options, train=interrupted)
    (open_round,) = read_rounds(law_sweep).rounds
    assert open_round.ended is None

    def no_choice(table):
        raise AssertionError("the interrupted round's proposals are recorded: nothing is chosen again")

    train = StandIn()
    result = run_rounds(law_sweep, candidates_for=no_choice, rounds=1, suggest_options=options, train=train)
    assert result.reason == "rounds" and train.calls == [open_round.runs]
    events = [json.loads(line)["event"] for line in rounds_path(law_sweep).read_text().splitlines()]
    assert events == ["proposed", "ended", "stopped"]


def test_launcher_settings_the_launch_would_refuse_stop_the_loop_in_one_error_before_any_fit(
        law_sweep, shared_cache_dir):
    """A misspelt hydra.launcher.* in multirun.yaml, or a value only the launch refuses: was a fit,
    a proposal recorded, then the launch's refusal, which named nothing the user could fix there."""
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    options = {**OPTIONS, "target_compute": target_of(law_sweep)}
    saved = {"hydra": {"overrides": {"hydra": ["hydra/launcher=local", "hydra.launcher.parallelizm=1"], "task": []},
                       "runtime": {"choices": {"hydra/launcher": "local"}}}}
    (law_sweep / "multirun.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(saved)))
    with pytest.raises(ConfigError, match=r"hydra.launcher.parallelizm: not an option of hydra/launcher=local; "
                                          r"accepted: .* \(the sweep's launcher settings, read from .*multirun.yaml"):
        run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, suggest_options=options)
    assert not rounds_path(law_sweep).exists()  # before any fit or record
    saved["hydra"]["overrides"]["hydra"][1] = "hydra.launcher.parallelism=0"  # a value only the launch refuses
    (law_sweep / "multirun.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(saved)))
    with pytest.raises(ConfigError, match=r"^hydra.launcher.parallelism=0: accepted is a whole number >= 1 \(a dry "
                                          r"run of d.*'s overrides with the sweep's launcher settings, read from "
                                          r".*multirun.yaml: the rounds launch the same way"):
        run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, suggest_options=options)
    assert not rounds_path(law_sweep).exists()


def test_a_proposal_the_launch_refuses_stops_the_loop_with_its_round_left_open(law_sweep, shared_cache_dir,
                                                                               monkeypatch):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    options = {**OPTIONS, "target_compute": target_of(law_sweep)}
    refused = subprocess.CompletedProcess([], 2, "", "error: data.paths: /gone does not exist\n")
    monkeypatch.setattr("launch.suggest_loop.check_launch_accepts", lambda sweep_dir: None)
    monkeypatch.setattr("launch.suggest_loop.subprocess.run", lambda *a, **k: refused)
    with pytest.raises(ConfigError, match=r": the launch refused it: data.paths: /gone does not exist; fix it and "
                                          r"run the same command again"):
        run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1, suggest_options=options)
    (open_round,) = read_rounds(law_sweep).rounds
    assert open_round.ended is None  # left open: the same command, fixed, trains its recorded proposal


def test_a_sweep_folder_the_rounds_cannot_be_recorded_in_is_one_error_before_any_fit(law_sweep, monkeypatch):
    import sweep.preflight

    def fit_reached(*args, **kwargs):
        raise AssertionError("a fit was reached")

    monkeypatch.setattr(sweep.preflight.os, "access", lambda path, mode: Path(path) != law_sweep)  # read-only
    monkeypatch.setattr("launch.suggest_loop.suggest", fit_reached)
    monkeypatch.setattr("launch.suggest_loop.fit_at_target", fit_reached)
    with pytest.raises(ConfigError, match=r"the rounds' record=.*suggest' cannot be created: .* is read-only"):
        run_rounds(law_sweep, candidates_for=lambda table: [], rounds=1,
                   suggest_options={**OPTIONS, "target_compute": 1e15}, train=lambda *a: None)


@pytest.mark.parametrize("rounds, width, message", [
    (0, None, "--rounds 0: accepted is a whole number of rounds >= 1"),
    (2.5, None, "--rounds 2.5"),
    (2, 1.5, "--until-width 1.5: accepted is a relative width"),
    (2, 0, "--until-width 0:"),
    (None, 0.1, "--until-width 0.1 needs --rounds N"),
])
def test_bad_loop_options_are_one_error_naming_the_value(rounds, width, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        check_loop_options(rounds, width)


@pytest.mark.parametrize("source", ["runs.csv", "wandb:team/project/group", "missing-folder"])
def test_a_source_that_cannot_train_is_one_error(tmp_path, source):
    (tmp_path / "runs.csv").write_text("n_params,tokens,loss\n1e6,2e7,3\n")
    given = str(tmp_path / source) if not source.startswith("wandb:") else source
    with pytest.raises(ConfigError, match="needs a sweep folder.*a runs table or a W&B group cannot train"):
        run_rounds(given, candidates_for=lambda t: [], rounds=1, suggest_options={"target_compute": 1e15})


def test_the_command_line_options_ask_for_the_loop_and_reach_it(law_sweep, shared_cache_dir, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("sweep")
    for name in ("--target-compute", "--budget"):
        parser.add_argument(name, type=float)
    parser.add_argument("--count", type=int)
    parser.add_argument("--bootstrap", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--law", default="chinchilla")
    add_loop_options(parser)
    assert not loop_requested(parser.parse_args([str(law_sweep)]))
    args = parser.parse_args([str(law_sweep), "--target-compute", str(target_of(law_sweep)), "--count", "1",
                              "--bootstrap", "20", "--rounds", "1", "--until-width", "0.01"])
    assert loop_requested(args)
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96")
    assert run_from_args(args, lambda table: cands, train=StandIn()) == 0
    assert "1 round(s) run by this command, 1 recorded" in capsys.readouterr().out
    assert run_from_args(args, lambda table: cands, train=StandIn()) == 0  # the loop had stopped: nothing run
    said = capsys.readouterr().out
    assert said.startswith("stopped: 1 of 1 rounds done") and "0 round(s) run by this command, 1 recorded" in said


def test_a_round_s_end_is_said_with_its_runs_and_l_star_before_and_after(law_sweep, shared_cache_dir, caplog):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    with caplog.at_level("INFO", logger="sweep.suggest"):
        run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
                   suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=StandIn())
    ended = [r.getMessage() for r in caplog.records if r.getMessage().startswith("round 1 ended: ")]
    assert len(ended) == 1
    proposed = json.loads(rounds_path(law_sweep).read_text().splitlines()[0])["runs"]
    assert all(f"{run}: complete, loss " in ended[0] for run in proposed)
    assert "L*(C) " in ended[0] and " -> " in ended[0] and "of L*)" in ended[0]
    assert not [r for r in caplog.records if r.getMessage().startswith("stopped")]  # said once, by the command


def test_the_launcher_settings_are_the_sweep_s_latest_multirun_s(tmp_path):
    (tmp_path / "multirun.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": {
        "overrides": {"hydra": ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.mode=MULTIRUN"],
                      "task": ["model.d=64,128"]},
        "runtime": {"choices": {"hydra/launcher": "slurm"}}}})))
    settings = launch_settings(tmp_path)
    assert settings.hydra_overrides == ("hydra/launcher=slurm", "hydra.launcher.partition=gpu")
    assert settings.queued  # Slurm: the loop waits for the jobs


def test_a_launcher_chosen_by_the_sweep_s_config_file_is_named_on_the_command_line(tmp_path):
    """`python -m sweep.train -m --config-name demo` picks the local launcher in conf/demo.yaml's
    defaults: no hydra/launcher override was saved, only Hydra's runtime choice."""
    (tmp_path / "multirun.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": {
        "overrides": {"hydra": ["hydra.mode=MULTIRUN"], "task": ["model.d=64,128"]},
        "runtime": {"choices": {"hydra/launcher": "local"}}}})))
    assert launch_settings(tmp_path).hydra_overrides == ("hydra/launcher=local",)


def test_without_multirun_yaml_the_launcher_is_local_unless_the_manifest_shows_slurm_jobs(tmp_path):
    assert launch_settings(tmp_path).hydra_overrides == ("hydra/launcher=local",)
    (tmp_path / "sweep_manifest.jsonl").write_text(json.dumps({"run": "a", "job_id": "12_0", "bucket": "small"}) + "\n")
    with pytest.raises(ConfigError, match="Slurm jobs in its manifest but no multirun.yaml"):
        launch_settings(tmp_path)


@pytest.mark.slow  # about 30 s (a whole report); the rounds record it renders is the one-round test's
def test_the_report_of_a_folder_with_rounds_has_an_active_rounds_section(law_sweep, shared_cache_dir, tmp_path):
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")
    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
               suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=StandIn())

    def launch_failed(sweep_dir, points):
        return {p.run.path.name: "the launch command exited 1: out of memory" for p in points}

    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=2,
               suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=launch_failed)
    report = write_report(load_runs_table(law_sweep), tmp_path / "report", bootstrap_resamples=20)
    text = report.markdown.read_text()
    section = text[text.index("## 8. Active rounds"):]
    r, failed = read_rounds(law_sweep).rounds
    assert f"`{r.runs[0]}` (complete)" in section and " -> " in section
    assert f"(expected [{r.expected('loss')[0]:.4g}, " in section  # the interval sweep suggest expected after
    assert f"- `{failed.runs[0]}` (round 2): the launch command exited 1: out of memory" in section
    assert "The loop stopped after 2 round(s): the rounds asked for are done" in section


def test_a_proposal_on_a_sweep_of_another_config_file_is_composed_and_launched_on_that_file(
        tmp_path, monkeypatch, shared_cache_dir):
    """A `sweep demo` run's overrides apply to conf/demo.yaml (its overrides.yaml says so): the
    round composes the proposal there and launches it with `--config-name demo`; on conf/train.yaml
    the same overrides would train another model (its width, batch, data...)."""
    from launch import suggest_loop
    from launch.suggest_loop import proposal_points, train_points
    from sweep.fit.candidates import composed_config

    overrides = ("model.d=48", "model.l=1", "budget.tokens_per_param=1", f"out_dir={tmp_path}",
                 f"data.cache_dir={shared_cache_dir}")
    b = compose_grid(list(overrides), "demo")[0].budget
    (point,) = proposal_points(tmp_path, Candidate(b.n_params, b.tokens, b.flops, "d48-l1-tpp1", overrides, b.steps,
                                                   config_name="demo"))
    assert point.config_name == "demo" and point.cfg == composed_config(overrides, "demo")
    launched = []
    monkeypatch.setattr(suggest_loop, "prepare_streamed_data", lambda points: None)
    monkeypatch.setattr(suggest_loop.subprocess, "run",
                        lambda cmd, **kw: launched.append(cmd) or subprocess.CompletedProcess(cmd, 0, "", ""))
    assert train_points(tmp_path, [point]) == {}
    (cmd,) = launched
    assert cmd[1:6] == ["-m", "sweep.train", "--config-name", "demo", "-m"] and set(overrides) <= set(cmd[6:])


# --- for real: the local launcher, a tiny sweep ----------------------------------------------------

def multirun(sweep_dir: Path, cache: Path, *overrides: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sweep.train", "-m", "hydra/launcher=local", "hydra.launcher.poll_s=0.2",
           "model.d=16", "model.head_dim=16", "model.seq_len=32", "train.batch_size=4", "budget.count_embedding=false",
           "optim.warmup_steps=2", "optim.lr=3e-3", "train.log_every=4", "train.eval_every=8", "data.eval_tokens=512",
           "train.device=cpu", "train.precision=fp32", "train.compile=false", "logger=none",
           f"data.cache_dir={cache}", f"out_dir={sweep_dir}", *overrides]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)


@pytest.mark.slow  # about 60 s (7 real runs, each its own process); the loop itself is covered with a stand-in trainer above
def test_a_round_trains_its_proposal_with_the_sweep_s_own_launcher_and_settings(tmp_path, shared_cache_dir):
    """6 runs of 6-36 steps (one multirun, 2 at once), then the loop's one run of 24 steps: about 3 minutes
    on this 2-core machine under load (the run startups dominate)."""
    sweep_dir = tmp_path / "sweep"
    proc = multirun(sweep_dir, shared_cache_dir, "hydra.launcher.parallelism=2", "model.l=1,2,3",
                    "budget.tokens_per_param=0.25,0.5")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    base = next(iter_run_dirs(sweep_dir))
    proposal = [o for o in base.read_overrides() if not o.startswith(("model.l=", "budget.tokens_per_param="))]
    (point,) = compose_grid([*proposal, "model.l=4", "budget.tokens_per_param=0.25"])
    b = point.budget
    cands = [Candidate(b.n_params, b.tokens, b.flops, "d16-l4", tuple(point.overrides), b.steps)]
    target = 10 * float(load_runs_table(sweep_dir).flops_R.max())
    result = run_rounds(sweep_dir, candidates_for=lambda table: cands, rounds=1,
                        suggest_options={**OPTIONS, "target_compute": target})
    assert result.reason == "rounds"
    (r,) = read_rounds(sweep_dir).rounds
    assert r.runs == [point.run.path.name] and r.ended["outcomes"][0]["status"] == "complete"
    trained = RunDir(sweep_dir / r.runs[0])
    assert trained.read_result()["status"] == "complete"
    base_cfg, new_cfg = base.read_config(), trained.read_config()
    for key in ("out_dir", "data", "optim", "train", "seed"):  # the sweep's own settings
        assert new_cfg[key] == base_cfg[key], key
    assert new_cfg["model"]["l"] == 4
    manifest = [json.loads(line) for line in (sweep_dir / "sweep_manifest.jsonl").read_text().splitlines()]
    assert manifest[-1]["run"] == r.runs[0] and manifest[-1]["bucket"] == "local"  # through the local launcher
    launcher = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.hydra  # the proposal's launch saved it again
    assert "hydra/launcher=local" in launcher and "hydra.launcher.parallelism=2" in launcher


@pytest.mark.slow  # a Slurm testbed and one tiny job: about a minute once the testbed is up
def test_on_slurm_the_proposals_are_submitted_as_jobs_and_waited_for(slurm_cluster, law_sweep, shared_cache_dir):
    cluster = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
               "hydra.launcher.max_array_size=null",
               "hydra.launcher.buckets=[{name:cpu,max_hours:1,time_min:5,gpus_per_node:0}]"]
    (law_sweep / "multirun.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": {
        "overrides": {"hydra": cluster}, "runtime": {"choices": {"hydra/launcher": "slurm"}}}})))
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=16", "budget.tokens_per_param=0.25")
    result = run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
                        suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)})
    assert result.reason == "rounds"
    (r,) = read_rounds(law_sweep).rounds
    assert r.ended["outcomes"][0]["status"] == "complete", slurm_cluster.diagnose()
    entry = [json.loads(line) for line in (law_sweep / "sweep_manifest.jsonl").read_text().splitlines()][-1]
    assert entry["run"] == r.runs[0] and entry["bucket"] == "cpu"  # a Slurm job of the sweep's bucket
    assert slurm_cluster.final_state(entry["job_id"]) == "COMPLETED"


def test_a_proposal_whose_launch_failed_is_recorded_failed_with_why(law_sweep, shared_cache_dir):
    """Its error was null in rounds.jsonl while the console printed the cause."""
    cands = candidates_of(law_sweep, shared_cache_dir, "model.d=96,128", "budget.tokens_per_param=1,4")

    def launch_failed(sweep_dir, points):
        return {p.run.path.name: "the launch command exited 1: NameError: name 're' is not defined" for p in points}

    run_rounds(law_sweep, candidates_for=lambda table: cands, rounds=1,
               suggest_options={**OPTIONS, "target_compute": target_of(law_sweep)}, train=launch_failed)
    (record,) = read_rounds(law_sweep).rounds
    (failed,) = record.ended["outcomes"]
    assert failed["status"] == "failed" and failed["error"].endswith("NameError: name 're' is not defined")


def test_a_second_loop_on_the_same_folder_is_refused_while_the_first_runs(law_sweep):
    """Two loops at once recorded round 4 twice, and the second called the run the first was training failed."""
    import fcntl

    from launch.suggest_loop import LOCK_FILE

    lock = law_sweep / "suggest" / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first loop, in this process's stead
        with pytest.raises(ConfigError, match=r"another `sweep suggest --rounds` is running on .*sweep \(it holds "
                                              r".*\.rounds\.lock\): let it end"):
            run_rounds(law_sweep, candidates_for=lambda table: [], rounds=1,
                       suggest_options={**OPTIONS, "target_compute": 1e15}, train=lambda *a: None)
    assert not rounds_path(law_sweep).exists()
