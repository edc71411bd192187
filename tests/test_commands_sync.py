"""launch/commands/sync.py: `sweep sync`'s defaults from conf/sync.yaml and what it prints (the uploads
themselves: tests/test_sync.py)."""

from pathlib import Path

import launch.sync
from launch.commands.conf_tree import conf_file
from launch.commands.sync import sync
from sweep.rundir import RunDir


def offline_run(sweep: Path, name: str, run_id: str, synced: bool) -> RunDir:
    folder = sweep / name
    attempt = folder / "wandb" / f"offline-run-20260101_120000-{run_id}"
    attempt.mkdir(parents=True)
    (folder / "config.yaml").write_text("seed: 0\n")
    (attempt / f"run-{run_id}.wandb").write_bytes(b":W&B")
    if synced:
        (attempt / f"run-{run_id}.wandb.synced").touch()
    return RunDir(folder)


def test_sync_takes_its_jobs_and_time_limit_from_conf_and_says_a_run_still_training_is_left(
        tmp_path, capsys, monkeypatch):
    offline_run(tmp_path, "d64-l2-aaaa1111", "aaaa1111", synced=True)
    training = offline_run(tmp_path, "d96-l2-bbbb2222", "bbbb2222", synced=False)
    given = {}
    real = launch.sync.sync_sweep

    def recording(source, jobs, **kwargs):
        given.update(jobs=jobs, timeout_s=kwargs["timeout_s"])
        return real(source, jobs, **kwargs)

    monkeypatch.setattr(launch.sync, "sync_sweep", recording)
    defaults = conf_file("sync.yaml")
    with training.hold():  # nothing to upload: no W&B login asked for
        assert sync(tmp_path, None) == 0
        assert given == {"jobs": defaults["jobs"], "timeout_s": defaults["timeout_s"]}
        out = capsys.readouterr().out
        assert sync(tmp_path, 3) == 0 and given["jobs"] == 3  # --jobs given: taken as it is
    assert "d64-l2-aaaa1111: skipped" in out
    assert f"{tmp_path}: 0 synced, 1 skipped, 1 held, 0 failed W&B runs" in out
    assert "held: d96-l2-bbbb2222 is still training; sync it when it stops" in out


def test_a_sweep_without_offline_runs_says_there_is_nothing_to_sync(tmp_path, capsys):
    """Was: "0 synced, 0 failed W&B runs", as if uploads had been tried."""
    (tmp_path / "d64-l2-aaaa1111").mkdir()
    (tmp_path / "d64-l2-aaaa1111" / "config.yaml").write_text("seed: 0\n")
    assert sync(tmp_path, None) == 0
    assert "nothing to sync: no run holds an offline W&B run" in capsys.readouterr().out
