"""sweep/rundir.py: run identity, folder names, atomic result files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.rundir import RunDir, atomic_write_text, run_name


def test_name_is_readable_coordinates_plus_hash(tiny_config):
    name = run_name(tiny_config("model.d=64", "model.l=2", "optim.lr=3e-3", "optim.weight_decay=0.1"))
    prefix, digest = name.rsplit("-", 1)
    assert prefix == "d64-l2-b4-lr3.0e-03-wd0.1"
    assert len(digest) == 8 and int(digest, 16) >= 0


def test_identity_ignores_where_and_how_often_but_not_what_is_trained(tiny_config):
    base = run_name(tiny_config())
    assert run_name(tiny_config("out_dir=/elsewhere", "train.eval_every=7", "train.log_every=3",
                                "train.checkpoint_every_minutes=1", "train.device=auto",
                                "data.cache_dir=/c")) == base
    for changed in ("seed=1", "optim.b2=0.99", "optim.warmup_steps=3", "data.tokenizer=bpe",
                    "model.rope_base=500", "budget.tokens_per_param=1"):
        assert run_name(tiny_config(changed)) != base, changed


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


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"


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
