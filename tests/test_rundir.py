"""sweep/rundir.py: run identity, folder names, atomic result files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.errors import ConfigError, DamagedFile, StorageError
from sweep.rundir import RunDir, last_step, legacy_run_name, run_name, reference_key


def test_name_is_readable_coordinates_plus_hash(tiny_config):
    name = run_name(tiny_config("model.d=64", "model.l=2", "optim.lr=3e-3", "optim.weight_decay=0.1",
                                "budget.tokens_per_param=5"))
    prefix, digest = name.rsplit("-", 1)
    assert prefix == "d64-l2-b4-lr3.0e-03-wd0.1-tpp5"
    assert len(digest) == 8 and int(digest, 16) >= 0


def test_settings_a_run_does_not_use_leave_its_name_as_it_was_before_they_existed(tiny_config):
    """The schedule's and the ladder's settings joined the config after sweeps were run: while
    unused (cosine, no branching) they are not part of the identity, so those runs keep their
    folders. The hashes are the ones the code gave before they existed."""
    from sweep.rundir import run_hash

    assert run_hash(tiny_config()) == "deb91728"
    assert run_hash(tiny_config("optim.lr=1e-2", "budget.tokens_per_param=5")) == "4e60a459"
    assert run_hash(tiny_config("optim.cooldown_fraction=0.5")) == "deb91728"  # unused by cosine
    assert run_hash(tiny_config("optim.schedule=wsd")) != "deb91728"
    wsd = run_hash(tiny_config("optim.schedule=wsd"))
    assert run_hash(tiny_config("optim.schedule=wsd", "optim.cooldown_shape=linear")) != wsd
    assert run_hash(tiny_config("optim.schedule=wsd", "budget.branch=true")) != wsd


def test_runs_of_one_size_at_several_token_budgets_have_names_that_say_which_budget(tiny_config):
    names = [run_name(tiny_config(f"budget.tokens_per_param={tpp}")) for tpp in (5, 10, 20, 2.5)]
    assert [name.rsplit("-", 2)[1] for name in names] == ["tpp5", "tpp10", "tpp20", "tpp2.5"]


def test_a_run_started_under_its_legacy_name_is_found_there_and_not_started_again(tiny_config):
    """A sweep started before tokens per parameter joined the name: re-running its command finds
    each run's folder under the old name (same hash), so finished runs are skipped and started
    ones resume, instead of new folders being trained from scratch."""
    cfg = tiny_config("model.d=64", "optim.lr=3e-3", "budget.tokens_per_param=5")
    assert legacy_run_name(cfg) == run_name(cfg).replace("-tpp5-", "-")
    old = RunDir(Path(cfg.out_dir) / legacy_run_name(cfg))
    old.write_config(cfg)
    old.write_result({"status": "complete", "final_eval_loss": 3.0})
    found = RunDir.for_config(cfg)
    assert found.path == old.path and found.state() == "complete"
    other_budget = tiny_config("model.d=64", "optim.lr=3e-3", "budget.tokens_per_param=10")
    assert RunDir.for_config(other_budget).path.name == run_name(other_budget)  # a new run: the new name


def test_a_folder_under_the_new_name_wins_over_a_legacy_one(tiny_config):
    cfg = tiny_config("budget.tokens_per_param=5")
    RunDir(Path(cfg.out_dir) / legacy_run_name(cfg)).write_config(cfg)
    RunDir(Path(cfg.out_dir) / run_name(cfg)).write_config(cfg)
    assert RunDir.for_config(cfg).path.name == run_name(cfg)


def test_identity_ignores_where_and_how_often_but_not_what_is_trained(tiny_config):
    base = run_name(tiny_config())
    assert run_name(tiny_config("out_dir=/elsewhere", "train.eval_every=7", "train.log_every=3",
                                "train.checkpoint_every_minutes=1", "train.device=auto",
                                "data.cache_dir=/c")) == base
    for changed in ("seed=1", "optim.b2=0.99", "optim.warmup_steps=3", "data.tokenizer=bpe",
                    "model.rope_base=500", "budget.tokens_per_param=1"):
        assert run_name(tiny_config(changed)) != base, changed


def test_a_runs_collapse_references_differ_from_it_only_in_width_depth_and_learning_rate(tiny_config):
    base = tiny_config()
    same = [tiny_config("model.d=48"), tiny_config("model.l=2"), tiny_config("model.d=64", "model.l=3"),
            tiny_config("train.log_every=4"), tiny_config("optim.lr=1e-2"), tiny_config("model.d=48", "optim.lr=3e-3")]
    other = [tiny_config("train.batch_size=8"), tiny_config("optim.weight_decay=0.3"),
             tiny_config("budget.tokens_per_param=1"), tiny_config("seed=1"), tiny_config("optim.warmup_steps=3")]
    assert all(reference_key(c) == reference_key(base) for c in same)
    assert all(reference_key(c) != reference_key(base) for c in other)


def test_name_has_no_timestamp_and_is_stable(tiny_config):
    assert run_name(tiny_config()) == run_name(tiny_config())


def test_result_is_written_atomically_and_needs_a_known_status(tmp_path):
    run = RunDir(tmp_path / "r")
    run.write_result({"status": "complete", "final_eval_loss": float("nan")})
    assert json.loads(run.result_file.read_text()) == {"status": "complete", "final_eval_loss": None}
    assert [p.name for p in run.path.iterdir()] == ["result.json"]  # no temporary left behind
    with pytest.raises(ValueError, match="running"):
        run.write_result({"status": "running"})


def test_truncate_metrics_drops_steps_after_the_checkpoint(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    for step in (2, 4, 6):
        run.append_metrics({"step": step, "train_loss": 1.0})
    run.truncate_metrics(after_step=4)
    assert [r["step"] for r in run.read_metrics()] == [2, 4]


def test_metrics_can_be_replaced_whole(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.append_metrics({"step": 9, "train_loss": 1.0})
    run.write_metrics([{"step": 2, "train_loss": float("nan")}, {"step": 4, "train_loss": 2.0}])
    assert run.read_metrics() == [{"step": 2, "train_loss": None}, {"step": 4, "train_loss": 2.0}]


def test_temporaries_of_kept_checkpoints_are_stale_temporaries_too(tmp_path):
    run = RunDir(tmp_path / "r")
    run.checkpoint_dir.mkdir(parents=True)
    stale = run.checkpoint_dir / ".step-00000033.pt.x1y2.tmp"
    stale.write_bytes(b"half")
    run.kept_checkpoint(33).write_bytes(b"whole")
    assert run.remove_stale_temporaries() == [stale]
    assert not stale.exists() and run.kept_checkpoint(33).exists()


@pytest.mark.parametrize("text, problem", [
    ("", "empty"),
    ('{"status": "compl', "not valid JSON"),
    ("[1, 2]", "holds a list, not a JSON object"),
    ('{"final_eval_loss": 3.1}', "status None is not one of"),
    ('{"status": "running"}', "status 'running' is not one of"),
    ('{"status": "complete", "final_eval_loss": "abc"}', "final_eval_loss = 'abc' is not a number"),  # a traceback
    ('{"status": "complete", "n_params": true}', "n_params = True is not a number"),
    ('{"status": "complete", "steps": 140, "steps_done": 35}',  # was read as complete, its loss at 35 as final
     "status complete, but steps_done 35 is below its steps 140 (a complete run trained them all)"),
    ('{"status": "stopped_early", "early_stop": "garbage"}', "early_stop = 'garbage' is not an early-stopping decision"),
    ('{"status": "stopped_early", "early_stop": {"predicted": 5.3884}}',  # was shown as "predicted final eval loss -"
     "status stopped_early without its predicted_final_eval_loss, which its early_stop decision holds (5.3884)"),
])
def test_a_damaged_result_is_one_error_naming_the_file_and_the_fix(tmp_path, text, problem):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.result_file.write_text(text)
    with pytest.raises(DamagedFile) as caught:
        run.read_result()
    message = str(caught.value)
    assert isinstance(caught.value, ConfigError) and "\n" not in message
    assert message.startswith(f"{run.result_file}: ") and problem in message
    assert "delete it and re-run the command" in message


def test_a_result_that_ended_short_of_its_steps_for_a_reason_it_says_is_not_damaged(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    for result in ({"status": "complete", "role": "trunk", "steps": 130, "steps_done": 65},  # its cooldown start
                   {"status": "diverged", "steps": 140, "steps_done": 12},
                   {"status": "stopped_early", "steps": 140, "steps_done": 35, "early_stop": {"action": "stop"}},
                   {"status": "complete", "steps": 140, "steps_done": 140}, {"status": "complete"}):
        run.write_result(result)
        assert run.read_result() == result


@pytest.mark.parametrize("text, problem", [
    ("model: [d: 1\n", "not YAML"),
    ("- 1\n- 2\n", "holds a list, not a mapping"),
    ("", "holds nothing, not a mapping"),
])
def test_a_damaged_config_is_one_error_naming_the_file(tmp_path, text, problem):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.config_file.write_text(text)
    with pytest.raises(DamagedFile, match=problem) as caught:
        run.read_config()
    assert str(caught.value).startswith(f"{run.config_file}: ") and "\n" not in str(caught.value)


def test_a_config_edited_to_settings_its_folder_name_does_not_have_is_damaged(tiny_config):
    """A complete run's config.yaml edited to lr 0.01 in a folder lr3.0e-03: `sweep status` showed 0.01,
    the fits took it, `sweep suggest` proposed runs at it."""
    import yaml

    cfg = tiny_config("optim.lr=3e-3")
    run = RunDir.for_config(cfg)
    run.write_config(cfg)
    assert run.read_config()["optim"]["lr"] == 3e-3
    edited = yaml.safe_load(run.config_file.read_text())
    edited["optim"]["lr"] = 0.01
    run.config_file.write_text(yaml.safe_dump(edited))
    with pytest.raises(DamagedFile, match=r"config.yaml: does not match its run folder's name: its settings read "
                                          r"d\d+-l\d+-b\d+-lr1.0e-02-.*\(edited after the run was made\?\); re-run"):
        run.read_config()
    legacy = RunDir(run.path.parent / legacy_run_name(cfg))  # an old folder's name without -tpp: its settings match
    legacy.write_config(cfg)
    assert legacy.read_config()["optim"]["lr"] == 3e-3
    elsewhere = RunDir(run.path.parent / "my-copy")  # not a run's name: nothing to compare with
    elsewhere.path.mkdir()
    elsewhere.config_file.write_text(yaml.safe_dump(edited))
    assert elsewhere.read_config()["optim"]["lr"] == 0.01


def test_a_torn_last_metrics_line_was_never_acknowledged_and_is_dropped(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    for step in (2, 4):
        run.append_metrics({"step": step, "train_loss": 1.0})
    with open(run.metrics_file, "a") as f:
        f.write('{"step": 6, "train_lo')  # killed mid-write
    assert [r["step"] for r in run.read_metrics()] == [2, 4]
    run.truncate_metrics(after_step=4)
    assert run.metrics_file.read_text().endswith('"train_loss": 1.0}\n')


@pytest.mark.parametrize("bad_line", ['{"step": 4, "train_lo', "[4]", '{"train_loss": 1.0}',
                                      '{"step": 4, "train_loss": "x"}'])  # the last: a traceback in predict, report
def test_a_bad_metrics_line_in_the_middle_means_the_file_is_damaged(tmp_path, bad_line):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.append_metrics({"step": 2, "train_loss": 1.0})
    with open(run.metrics_file, "a") as f:
        f.write(bad_line + "\n")
    run.append_metrics({"step": 6, "train_loss": 1.0})
    with pytest.raises(DamagedFile, match="line 2(:.*)? is not") as caught:
        run.read_metrics()
    assert str(caught.value).startswith(f"{run.metrics_file}: ")


def test_a_run_with_a_damaged_file_is_in_state_damaged_only_where_the_file_is_read(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.metrics_file.write_text("garbage\n")
    assert run.state() == "started"  # no checkpoint: a fresh start deletes metrics.jsonl
    run.checkpoint_dir.mkdir()
    run.checkpoint_file.write_bytes(b"checkpoint")
    with pytest.raises(DamagedFile, match="metrics.jsonl: line 1 is not JSON"):
        run.state()  # a resume would read it
    run.write_result({"status": "complete"})
    assert run.state() == "complete"
    run.result_file.write_text("")
    with pytest.raises(DamagedFile, match="result.json: empty"):
        run.state()

def test_a_failed_metrics_append_names_the_file(tmp_path):
    run = RunDir(tmp_path / "run")
    run.metrics_file.mkdir(parents=True)  # appending to it fails like a read-only or broken file
    with pytest.raises(StorageError, match=f"cannot write {run.metrics_file}: .*Is a directory"):
        run.append_metrics({"step": 1})
def test_a_run_folder_is_held_by_one_holder_at_a_time_which_is_named(tmp_path):
    from sweep.rundir import RunHeld

    run = RunDir(tmp_path / "run")
    assert run.holder() is None
    with run.hold():
        assert run.holder()["pid"] == os.getpid()
        with pytest.raises(RunHeld, match=f"held by pid {os.getpid()} on "):
            with RunDir(tmp_path / "run").hold():
                pass
    assert run.holder() is None and run.lock_file.exists()  # released, never deleted
    with run.hold():
        pass


def test_a_holder_killed_with_sigkill_does_not_block_the_run(tmp_path):
    run = RunDir(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sweep.rundir import RunDir\n"
         f"with RunDir({str(run.path)!r}).hold():\n    print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run.holder()["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert run.holder() is None
    with run.hold():
        assert run.holder()["pid"] == os.getpid()


def test_each_launch_s_overrides_are_recorded_and_the_latest_read_back(tiny_config):
    run = RunDir.for_config(tiny_config())
    assert run.read_overrides() is None and run.read_overrides_history() == []  # a run from before the record
    run.record_overrides(["optim.lr=0.003", "model.d=32"])
    run.record_overrides(["optim.lr=3e-3", "model.d=32"])  # the same run, written another way
    history = run.read_overrides_history()
    assert [entry["overrides"] for entry in history] == [["optim.lr=0.003", "model.d=32"],
                                                        ["optim.lr=3e-3", "model.d=32"]]
    assert all("T" in entry["at"] and entry["at"].endswith("+00:00") for entry in history)
    assert run.read_overrides() == ["optim.lr=3e-3", "model.d=32"]


def test_the_record_says_which_config_the_overrides_apply_to_and_an_older_record_stays_readable(tiny_config):
    """Was: a `--config-name demo` run recorded `model.d=16, ...` alone: composed with conf/train.yaml,
    the recorded overrides make another run."""
    run = RunDir.for_config(tiny_config())
    run.path.mkdir(parents=True)
    run.overrides_file.write_text("- at: '2026-12-02T09:58:59+00:00'\n  overrides:\n  - model.d=32\n")  # before
    assert run.read_overrides() == ["model.d=32"] and run.read_config_name() is None
    run.record_overrides(["model.d=16", "budget.tokens_per_param=5"], "demo")
    assert run.read_overrides() == ["model.d=16", "budget.tokens_per_param=5"] and run.read_config_name() == "demo"
    assert "\n  config_name: demo\n  overrides:\n  - model.d=16\n" in run.overrides_file.read_text()
    run.record_overrides(["model.d=32"])  # the project's default config
    assert run.read_config_name() == "train"
    assert [e.get("config_name") for e in run.read_overrides_history()] == [None, "demo", "train"]


@pytest.mark.parametrize("text", ["- [unclosed", "a: mapping\n", "- at: x\n  overrides: model.d=32\n"])
def test_a_damaged_overrides_record_is_named_with_what_to_do(tiny_config, text):
    run = RunDir.for_config(tiny_config())
    run.path.mkdir(parents=True)
    run.overrides_file.write_text(text)
    with pytest.raises(DamagedFile) as err:
        run.read_overrides()
    assert "overrides.yaml" in str(err.value) and "delete" in str(err.value)


@pytest.mark.parametrize("where", ["run folder", "checkpoints", "parent"])
def test_a_file_where_a_folder_of_the_run_goes_is_one_error_before_anything_is_written(tmp_path, where):
    run = RunDir(tmp_path / "sweep" / "r")
    if where == "run folder":  # was: FileExistsError's traceback
        run.path.parent.mkdir()
        run.path.write_text("x")
    elif where == "checkpoints":  # was: 20 steps trained, then the checkpoint could not be written
        run.path.mkdir(parents=True)
        run.checkpoint_dir.write_text("x")
    else:
        (tmp_path / "sweep").write_text("x")
    with pytest.raises(ConfigError, match="is a file where a folder of the run goes|a file stands where one of its "
                                          "folders goes"):
        run.make_folder()
    with pytest.raises(ConfigError):
        with run.hold():
            pass


def test_the_last_step_is_read_from_the_last_whole_line_of_the_metrics(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    assert last_step(metrics) == 0  # no file yet
    metrics.write_text("".join(json.dumps({"step": s, "train_loss": 1.0, "pad": "x" * 300}) + "\n"
                               for s in range(1, 40)) + '{"step": 40, "tra')  # a torn last line
    assert last_step(metrics) == 39


def test_a_folder_holding_only_its_overrides_is_removed_and_no_other(tmp_path):
    """What a launch that failed before its run started leaves; never a folder holding anything else."""
    unstarted, configured = RunDir(tmp_path / "unstarted"), RunDir(tmp_path / "configured")
    for run in (unstarted, configured):
        run.record_overrides(["model.d=32"])
    configured.config_file.write_text("model: {d: 32}\n")
    assert unstarted.remove_if_unstarted() and not unstarted.path.exists()
    assert not configured.remove_if_unstarted() and configured.overrides_file.exists()
    assert not RunDir(tmp_path / "never-made").remove_if_unstarted()
