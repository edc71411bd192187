"""sweep/results.py: the runs table of a sweep folder."""

from pathlib import Path

from sweep.results import differing_settings, load_runs
from sweep.rundir import RunDir, run_name
from sweep.run.loop import train


def test_rows_carry_coordinates_and_outcome(tiny_config, tmp_path):
    finished = train(tiny_config("optim.lr=1e-3"))
    pending = tiny_config("optim.lr=2e-3")
    RunDir.for_config(pending).write_config(pending)
    rows = {r["lr"]: r for r in load_runs(tmp_path / "runs")}
    assert set(rows) == {1e-3, 2e-3}
    done = rows[1e-3]
    assert done["status"] == "complete" and done["final_eval_loss"] == finished["final_eval_loss"]
    assert (done["d"], done["l"], done["batch_size"], done["seed"]) == (32, 1, 4, 0)
    assert rows[2e-3]["status"] == "pending" and rows[2e-3]["final_eval_loss"] is None


def test_a_started_run_shows_its_planned_size_tokens_and_steps_a_pending_one_does_not(tiny_config, tmp_path):
    from sweep.budget import compute_budget

    started, pending = tiny_config("optim.lr=1e-3"), tiny_config("optim.lr=2e-3")
    run = RunDir.for_config(started)
    run.write_config(started)
    run.append_metrics({"step": 2, "train_loss": 4.0, "wall_seconds": 1.0})  # metrics, no result yet
    RunDir.for_config(pending).write_config(pending)
    rows = {r["lr"]: r for r in load_runs(tmp_path / "runs")}
    budget = compute_budget(started)
    assert rows[1e-3]["status"] == "started" and rows[1e-3]["steps_done"] == 2
    assert (rows[1e-3]["n_params"], rows[1e-3]["tokens"], rows[1e-3]["steps"]) == (budget.n_params, budget.tokens,
                                                                                    budget.steps)
    assert rows[2e-3]["status"] == "pending" and "n_params" not in rows[2e-3]


def test_a_started_run_shows_the_step_its_checkpoint_resumes_from_not_its_last_metrics_record(tiny_config, tmp_path):
    """After SIGTERM the launcher said `checkpoint saved ... (step 131)` and `sweep status` showed
    `started 130/200`: its last metrics record's step (train.log_every 10), not where it resumes."""
    import torch

    from sweep.run.checkpoint import save_checkpoint

    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    run.append_metrics({"step": 2, "train_loss": 4.0, "wall_seconds": 1.0})
    model = torch.nn.Linear(2, 2)
    save_checkpoint(run.checkpoint_file, model, torch.optim.AdamW(model.parameters()), {"step": 3},
                    run=run.path.name)
    [row] = load_runs(tmp_path / "runs")
    assert (row["status"], row["steps_done"], row["final_train_loss"]) == ("started", 3, 4.0)
    run.checkpoint_file.write_bytes(b"damaged")  # resuming names it; the table falls back to the metrics
    [row] = load_runs(tmp_path / "runs")
    assert (row["status"], row["steps_done"]) == ("started", 2)


def test_folders_without_a_config_are_not_runs(tmp_path):
    (tmp_path / "token_cache").mkdir()
    assert load_runs(tmp_path) == []
    assert load_runs(tmp_path / "missing") == []


def test_a_damaged_run_is_a_row_of_its_own_and_the_other_runs_are_read(tiny_config, tmp_path):
    healthy = tiny_config("optim.lr=1e-3")
    RunDir.for_config(healthy).write_config(healthy)
    damaged = {}
    for lr, damage in ((2e-3, "truncated result"), (3e-3, "list result"), (4e-3, "garbage config"),
                       (5e-3, "config without model.d"), (6e-3, "config gone")):
        cfg = tiny_config(f"optim.lr={lr}")
        run = RunDir.for_config(cfg)
        run.write_config(cfg)
        damaged[run.path.name] = damage
        if damage == "truncated result":
            run.result_file.write_text('{"status": "complete", "final_eval')
        elif damage == "list result":
            run.result_file.write_text("[]")
        elif damage == "garbage config":
            run.config_file.write_text("\x00\x01: : [")
        elif damage == "config gone":  # a finished run: was dropped from every table without a word
            run.result_file.write_text('{"status": "complete", "final_eval_loss": 3.0}')
            run.config_file.unlink()
        else:
            run.config_file.write_text(run.config_file.read_text().replace("  d: 32\n", ""))
    rows = {r["run"]: r for r in load_runs(tmp_path / "runs")}
    assert rows[RunDir.for_config(healthy).path.name]["status"] == "pending"
    for name, damage in damaged.items():
        row = rows[name]
        assert row["status"] == "damaged", damage
        assert row["error"].startswith(str(tmp_path / "runs" / name)) and "\n" not in row["error"], damage
    errors = sorted(rows[name]["error"] for name in damaged)
    assert any("result.json: not valid JSON" in e for e in errors)
    assert any("result.json: holds a list, not a JSON object" in e for e in errors)
    assert any("config.yaml: not YAML" in e for e in errors)
    assert any("config.yaml: lacks the setting model.d" in e for e in errors)
    assert any("config.yaml: is missing; re-run the sweep's command to rewrite it" in e for e in errors)


def test_a_damaged_run_s_unknown_settings_are_not_settings_that_differ(tiny_config, tmp_path):
    # a damaged row knows only its coordinates: the other settings are unknown for it, not different
    for lr in (1e-3, 2e-3, 3e-3):
        cfg = tiny_config(f"optim.lr={lr}", "optim.warmup_steps=3" if lr == 2e-3 else "optim.warmup_steps=2")
        RunDir.for_config(cfg).write_config(cfg)
    rows = load_runs(tmp_path / "runs")
    assert set(differing_settings(rows)) == {"optim.lr", "optim.warmup_steps"}
    broken = next(r for r in rows if r["lr"] == 3e-3)
    (Path(broken["path"]) / "result.json").write_text('{"status": "complete", "final_eval')
    rows = load_runs(tmp_path / "runs")
    assert set(differing_settings(rows)) == {"optim.lr", "optim.warmup_steps"}


def test_a_run_held_by_a_live_process_is_running_also_when_an_earlier_attempt_failed(tiny_config, tmp_path):
    fresh, retried = tiny_config("optim.lr=1e-3"), tiny_config("optim.lr=2e-3")
    for cfg in (fresh, retried):
        RunDir.for_config(cfg).write_config(cfg)
    RunDir.for_config(retried).write_result({"status": "failed", "error": "node lost"})
    with RunDir.for_config(fresh).hold(), RunDir.for_config(retried).hold():
        assert {r["lr"]: r["status"] for r in load_runs(tmp_path / "runs")} == {1e-3: "running", 2e-3: "running"}
    assert {r["lr"]: r["status"] for r in load_runs(tmp_path / "runs")} == {1e-3: "pending", 2e-3: "failed"}


def test_every_row_carries_its_tokens_per_param_also_before_it_has_a_result(tiny_config, tmp_path):
    for ratio in (5, 20):
        pending = tiny_config(f"budget.tokens_per_param={ratio}")
        RunDir.for_config(pending).write_config(pending)
    rows = load_runs(tmp_path / "runs")
    assert sorted(r["tokens_per_param"] for r in rows) == [5, 20]
    assert {r["status"] for r in rows} == {"pending"}


def test_runs_that_differ_only_in_their_seed_share_a_setting_and_no_others_do(tiny_config, tmp_path):
    """The row's `setting` (sweep/rundir.py seedless_setting) is what the fits average seeds over:
    a warmup no table column shows tells runs apart; where they log or evaluate does not."""
    runs = {"seed 0": ("seed=0",), "seed 1": ("seed=1",), "seed 2, logged more": ("seed=2", "train.log_every=3"),
            "seed 0, warmup 7": ("seed=0", "optim.warmup_steps=7")}
    for overrides in runs.values():
        pending = tiny_config(*overrides)
        RunDir.for_config(pending).write_config(pending)
    by_run = {r["run"]: r for r in load_runs(tmp_path / "runs")}
    setting = {name: by_run[run_name(tiny_config(*overrides))]["setting"] for name, overrides in runs.items()}
    assert setting["seed 0"] == setting["seed 1"] == setting["seed 2, logged more"]
    assert setting["seed 0, warmup 7"] != setting["seed 0"] and len(setting["seed 0"]) == 12


def test_a_folder_of_sweep_folders_is_refused_naming_a_few_of_them_to_give_one(tmp_path):
    """Was: `runs holds no run folders`, of a runs/ holding runs/mini, runs/one, ..."""
    import pytest

    from sweep.errors import ConfigError
    from sweep.results import load_source

    for sweep in ("mini", "one", "two", "zeta", "big"):
        (tmp_path / "runs" / sweep / "d16-l1-aaaa").mkdir(parents=True)
        (tmp_path / "runs" / sweep / "d16-l1-aaaa" / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "runs" / "notes").mkdir()  # a folder without run folders is not a sweep folder
    runs = tmp_path / "runs"
    with pytest.raises(ConfigError) as err:
        load_source(str(runs))
    assert str(err.value) == (f"{runs} holds no run folders (folders with a config.yaml); it holds sweep folders: "
                              f"{runs / 'big'}, {runs / 'mini'}, {runs / 'one'} and 2 more; give one of them")
    with pytest.raises(ConfigError) as err:
        load_source(str(runs / "notes"))
    assert str(err.value) == f"{runs / 'notes'} holds no run folders (folders with a config.yaml)"
