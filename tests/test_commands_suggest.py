"""launch/commands/suggest.py: `sweep suggest` (proposals, commands, GPU-hours) and `--replay`."""

import json
import re

import numpy as np
import pytest

from launch.cli import main
from tests.helpers import write_runs


@pytest.fixture
def law_table(tmp_path):
    """32 runs of a known Chinchilla law with 0.2% noise (tests/test_fit_laws.py), as a CSV file."""
    from tests.test_fit_laws import rows

    return write_runs(tmp_path / "runs.csv", rows(), ("run", "n_params", "tokens", "flops", "final_eval_loss"))


def test_suggest_tables_the_runs_proposed_and_says_a_table_file_gives_no_command(law_table, capsys, wide_console):
    assert main(["suggest", str(law_table), "--target-compute", "1e21", "--count", "2", "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "criterion: the most of the targets' variance removed by 2 runs; targets: log L*(C), log N_opt(C)" in out
    (loss_row,) = [line for line in out.splitlines() if "L*(C)" in line and ".." in line]
    assert loss_row.count("..") == 2 and "x 0." in loss_row  # now, expected after, a narrower width
    assert ("expected after (L*(C), N_opt(C)): the fit redone with the proposed runs added at the law's loss and its "
            "scatter") in out
    assert re.search(r"2 runs proposed \(\S+ FLOPs, \S+ GPU-hours\*\) of \d+ candidates", out)
    assert "assumed MFU 0.35 x the h100-sxm bf16 peak" in out  # conf/hydra/launcher/slurm.yaml's
    labels = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ N") and "-tpp" in line]
    assert len(labels) == 2 and all(label.startswith("N") for label in labels)
    assert "no command line: a table file has no configs" in out and "python -m sweep.train" not in out


def test_suggest_on_a_table_names_its_candidates_and_those_left_out_below_its_fewest_tokens(tmp_path, capsys,
                                                                                            wide_console):
    """A table whose smallest model never trained at its smallest ratio (as Chinchilla's): that pair
    would be a run below every token count fitted, left out and said so, as text and JSON."""
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "runs.csv", [r for r in rows() if not (r["n_params"] < 1.5e6 and r["tokens"] < 1e7)],
                       ("run", "n_params", "tokens", "flops", "final_eval_loss"))
    assert main(["suggest", str(table), "--target-compute", "1e21", "--count", "1", "--bootstrap", "20"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the line as one, however the console wrapped it
    assert re.search(r"candidates: n_params=1e\+06,.*budget.tokens_per_param=5,10,20,40; 1 point left out \(first: "
                     r"N1e6-tpp5: 5e\+06 tokens, fewer than any run of the table \(9.65e\+06\)", out)
    assert main(["suggest", str(table), "--target-compute", "1e21", "--count", "1", "--bootstrap", "20", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["invalid_points"] == 1  # 1e6 at 5 tokens per parameter, not 1.93e6
    assert printed["candidates_left_out"]["already run"] > 0  # the fitted points' own (N, T), counted apart


def test_suggest_json_gives_each_proposal_its_gpu_hours_and_command(law_table, capsys):
    assert main(["suggest", str(law_table), "--target-compute", "1e21", "--budget", "2e19", "--bootstrap", "20",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == 2e19 and 0 < out["flops"] <= 2e19 and "within the budget" in out["criterion"]
    assert set(out["now"]) == set(out["expected"]) == {"loss", "n_opt"}
    assert out["proposals"] and all(p["gpu_hours"] > 0 and p["command"] is None for p in out["proposals"])
    assert out["gpu_hours"] == pytest.approx(sum(p["gpu_hours"] for p in out["proposals"]))
    assert out["no_command"].startswith("a table file has no configs")


@pytest.mark.slow  # about 15 s (a sweep trained for it); the proposals' commands are test_suggest_json_gives_each_proposal_its_gpu_hours_and_command's, a folder's candidates test_fit_suggest.py's
def test_suggest_on_a_sweep_folder_prints_the_command_that_trains_each_run(tiny_config, tmp_path, capsys,
                                                                           wide_console):
    from tests.test_fit_candidates import finished_run

    for d in (16, 32, 48, 64):
        for tokens_per_param in (1, 2, 4):
            cfg = tiny_config(f"model.d={d}", "model.head_dim=16", f"budget.tokens_per_param={tokens_per_param}")
            from sweep.budget import compute_budget

            b = compute_budget(cfg)
            loss = 1.7 + 400 / b.n_params ** 0.34 + 410 / b.tokens ** 0.28
            finished_run(tiny_config, d, tokens_per_param, loss * (1 + 0.002 * ((d + tokens_per_param) % 3 - 1)))
    assert main(["suggest", str(tmp_path / "runs"), "--target-compute", "1e13", "--count", "2", "--bootstrap", "20",
                 "--candidates", "model.d=80,96 budget.tokens_per_param=2,4"]) == 0
    out = capsys.readouterr().out
    assert "candidates: the config of d64-" in out and "model.d=80,96" in out
    commands = [line.strip() for line in out.splitlines() if line.strip().startswith("python -m sweep.train")]
    assert len(commands) == 2
    for command in commands:
        assert "model.head_dim=16" in command and re.search(r"model\.d=(80|96)\b", command)
        assert re.search(r"budget\.tokens_per_param=[24]\.0\b", command)


@pytest.mark.slow  # about 19 s; the replay itself (rounds, baselines at the same compute, held-out runs) is test_fit_replay.py's
def test_suggest_replay_compares_the_active_choice_with_the_usual_designs(tmp_path, capsys, wide_console):
    table = known_law_table(tmp_path, noise=0.01)  # without noise the designs cannot be told apart (exact)
    assert main(["suggest", "--replay", str(table), "--bootstrap", "20", "--growth", "10"]) == 0
    out = capsys.readouterr().out
    assert "replay of the active choice, chinchilla law, 20 bootstrap resamples (seed 0)" in out
    assert "seed design (7 runs): n0-t0, n0-t1, n1-t0, n0-t2, n1-t1, n2-t0, n1-t2" in out  # the cheapest corner
    assert "held out (3 runs): n3-t0, n3-t1, n3-t2" in out
    assert "target compute: 1.08e+17 FLOPs (the held-out runs' median)" in out
    for design in ("active", "random", "grid", "spread", "oracle"):
        assert re.search(rf"│ {design} +│", out)
    assert "expected / whole" in out
    assert "the whole pool: held-out error" in out
    assert re.search(r"L\*\(C\)'s interval, after each round's picks over before them \(median over \d+ rounds\): x "
                     r"\d\.\d\d expected \('expected after'\), x \d\.\d\d realised; realised at most the expected in \d+% "
                     "of them", out)
    assert "N_opt(C)'s interval (in log), after each round's picks" in out
    assert "within 10% of the whole pool's held-out error from then on, from: active " in out
    assert re.search(r"the oracle expects to be within 10% of the whole pool's error from \d+% of its compute: no design "
                     "can expect it for less", out)


@pytest.mark.slow  # about 15 s (a replay); the record is test_fit_replay.py's to_dict test, the command the replay test above
def test_suggest_replay_json_is_the_replay_s_record_with_conf_s_replay_resamples(tmp_path, capsys, monkeypatch):
    import dataclasses

    import sweep.fit.replay
    from sweep.fit.defaults import fit_defaults

    table = known_law_table(tmp_path)
    fewer = dataclasses.replace(fit_defaults(), replay_resamples=20)
    monkeypatch.setattr(sweep.fit.replay, "fit_defaults", lambda: fewer)
    assert main(["suggest", "--replay", str(table), "--growth", "10", "--json"]) == 0  # no --bootstrap: replay_resamples
    out = json.loads(capsys.readouterr().out)
    assert out["growth"] == 10 and out["resamples"] == 20 and len(out["heldout"]) == 3
    assert set(out["rounds"][0]["evaluations"]) == {"active", "random", "grid", "spread", "oracle"}
    assert set(out["reached_full_error_at"]) == {"active", "random", "grid", "spread", "oracle"}
    assert 0 < out["oracle_within"] <= 1 and out["full"]["expected_vs_full"] == 1.0


def known_law_table(tmp_path, noise=0.0):
    """4 sizes x 3 token budgets of a known Chinchilla law, without noise (or with log-normal `noise`)."""
    rng = np.random.default_rng(0)
    rows = [{"run": f"n{i}-t{j}", "n_params": n, "tokens": n * r,
             "final_eval_loss": (1.7 + 400 / n ** 0.34 + 410 / (n * r) ** 0.28) * float(np.exp(noise * rng.normal()))}
            for i, n in enumerate((1e6, 3e6, 1e7, 3e7)) for j, r in enumerate((5, 20, 80))]
    return write_runs(tmp_path / "known.csv", rows)


def test_suggest_on_a_noise_free_table_says_why_it_proposes_no_run(tmp_path, capsys, wide_console):
    from tests.test_fit_laws import rows

    exact = [{**r, "final_eval_loss": 1.7 + 400 / r["n_params"] ** 0.34 + 410 / r["tokens"] ** 0.28} for r in rows()]
    table = write_runs(tmp_path / "exact.csv", exact, ("run", "n_params", "tokens", "flops", "final_eval_loss"))
    assert main(["suggest", str(table), "--target-compute", "1e21", "--count", "2", "--bootstrap", "20"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "0 runs proposed" in out  # was: an empty table, nothing said why
    assert "no run is proposed: none removes any of the targets' variance" in out


@pytest.mark.parametrize("args, message", [
    (["--target-compute", "1e30"], "--target-compute 1e+30: accepted is a number of FLOPs from the smallest run's "
     "(3e+13) to 1e+06 x the largest run's (2.4e+18), 2.4e+24"),  # was '... largest run's (2.4e+24)': the product
    (["--target-compute", "1e21", "--budget", "1e10"], "--budget 1e+10 FLOPs is smaller than the cheapest candidate"),
    (["--target-compute", "1e21", "--count", "0"], "--count 0: accepted is a whole number >= 1"),
    (["--target-compute", "1e21", "--candidates", "n_params=1e6 budget.tokens_per_param=5"],
     "no candidate left to propose"),  # the only candidate was run already
    (["--target-compute", "1e21", "--candidates", "model.d=64"], "--candidates 'model.d=64': accepted for a table"),
    (["--target-compute", "1e21", "--candidates", "n_params=many"], "n_params='many': accepted is a number > 0"),
    ([], "--target-compute C is required"),
    (["--target-compute", "1e21", "--growth", "2"], "--growth: taken only with --replay TABLE"),
    (["--target-compute", "1e21", "--bootstrap", "0"], "--bootstrap 0: accepted is a whole number >= 2"),
])
def test_suggest_s_bad_inputs_are_one_clear_error(law_table, capsys, wide_console, args, message):
    assert main(["suggest", str(law_table), "--bootstrap", "20", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_suggest_with_too_few_runs_says_what_the_fit_needs(tmp_path, capsys):
    from tests.test_fit_laws import rows

    table = write_runs(tmp_path / "few.csv", rows()[:3])
    assert main(["suggest", str(table), "--target-compute", "1e16"]) == 2
    assert "the 3 runs give 3 points to fit (the best run of each model size and token count): the chinchilla law " \
           "(5 parameters) needs at least 6" in capsys.readouterr().err


def test_suggest_on_a_table_of_several_studies_asks_for_one_and_follows_its_runs(tmp_path, capsys, wide_console):
    """A public collection of studies (an 'experiment' column): suggesting from all of them at once would
    fit one law over several; --recipe picks one, whose runs alone give the candidates."""
    from tests.test_fit_laws import rows

    studies = [{**r, "experiment": "small"} for r in rows() if r["n_params"] < 2e7] + \
        [{**r, "run": f"{r['run']}-big", "experiment": "big"} for r in rows(seed=2)]
    table = write_runs(tmp_path / "studies.csv", studies,
                       ("run", "n_params", "tokens", "flops", "final_eval_loss", "experiment"))
    assert main(["suggest", str(table), "--target-compute", "1e21", "--bootstrap", "20"]) == 2
    assert "the runs belong to 2 recipes (column 'experiment': big, small): a suggestion fits one recipe's runs; " \
           "give --recipe NAME" in " ".join(capsys.readouterr().err.split())
    assert main(["suggest", str(table), "--target-compute", "1e21", "--bootstrap", "20", "--count", "1",
                 "--recipe", "small", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    alone = write_runs(tmp_path / "small.csv", [r for r in studies if r["experiment"] == "small"],
                       ("run", "n_params", "tokens", "flops", "final_eval_loss"))
    assert main(["suggest", str(alone), "--target-compute", "1e21", "--bootstrap", "20", "--count", "1", "--json"]) == 0
    assert out == {**json.loads(capsys.readouterr().out), "source": str(table)}  # as if the table held its runs alone
    assert main(["suggest", str(table), "--target-compute", "1e21", "--recipe", "small", "--rounds", "1"]) == 2
    assert "--recipe: not taken with --rounds" in capsys.readouterr().err


def test_a_proposal_s_command_names_the_config_file_its_overrides_apply_to():
    from launch.commands.suggest import train_command

    assert train_command(["model.d=64", "out_dir=runs/my demo"], "demo") == \
        "python -m sweep.train --config-name demo model.d=64 'out_dir=runs/my demo'"
    assert train_command(["model.d=64"]) == "python -m sweep.train model.d=64"


def test_a_sweep_folder_s_proposal_trains_into_that_folder_from_wherever_it_is_pasted(tmp_path, monkeypatch):
    """The base run's out_dir was relative (`out_dir=runs/demo`): pasted elsewhere, it started a new sweep."""
    from launch.commands.suggest import in_sweep_folder

    (tmp_path / "runs" / "demo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert in_sweep_folder(["model.d=64", "out_dir=runs/demo"], "runs/demo") == [
        "model.d=64", f"out_dir={tmp_path / 'runs' / 'demo'}"]
    assert in_sweep_folder(["model.d=64"], "wandb:team/project/group") == ["model.d=64"]


def test_suggest_names_a_runs_state_as_sweep_fit_does(tmp_path, capsys, monkeypatch):
    """Was: on two Slurm-cancelled runs `sweep fit` said "2 cancelled left out", `sweep suggest` "2 pending"
    (it read the folders without Slurm's state)."""
    import launch.queue
    from sweep.config import to_typed
    from sweep.rundir import RunDir
    from tests.helpers import TINY, compose_config

    cfg = to_typed(compose_config(*TINY, f"out_dir={tmp_path}"))
    RunDir.for_config(cfg).write_config(cfg)  # never started: its folder alone says pending
    monkeypatch.setattr(launch.queue, "attach_queue_state",
                        lambda rows, sweep_dir: [row.update(status="cancelled") for row in rows])
    for command in (["fit"], ["suggest", "--target-compute", "1e15"], ["suggest", "--replay"]):
        where = len(command) if command[-1] == "--replay" else 1
        assert main([*command[:where], str(tmp_path), *command[where:]]) == 2
        assert "(1 cancelled left out;" in capsys.readouterr().err
