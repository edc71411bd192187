"""launch/sync.py and `sweep sync`: a sweep's offline W&B runs uploaded several at once, each
run's attempts in order, resumable, failures reported. The upload command is a small fake that
records what it was given (no W&B server here); the real command line is checked against
`wandb sync --help`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import launch.sync
from launch.cli import main
from launch.sync import find_uploads, is_synced, sync_sweep, wandb_sync_command
from sweep.errors import ConfigError
from sweep.rundir import RunDir

# The fake `wandb sync`: records (attempt, start, end, how many uploads were running), waits a
# moment for company so that parallel uploads overlap, writes W&B's .synced marker; an attempt
# listed in the `fail` file exits 1 with a message instead.
FAKE = textwrap.dedent("""
    import json, os, sys, time
    attempt, state = sys.argv[1], sys.argv[2]
    running = os.path.join(state, "running")
    os.makedirs(running, exist_ok=True)
    me = os.path.join(running, os.path.basename(attempt))
    open(me, "w").close()
    start = time.time()
    while len(os.listdir(running)) < 2 and time.time() - start < 1:
        time.sleep(0.02)
    together = len(os.listdir(running))
    time.sleep(0.1)
    failing = open(os.path.join(state, "fail")).read().split() if os.path.exists(os.path.join(state, "fail")) else []
    os.remove(me)
    with open(os.path.join(state, "calls.jsonl"), "a") as out:
        out.write(json.dumps({"attempt": attempt, "together": together}) + "\\n")
    if os.path.basename(attempt) in failing:
        print("wandb: ERROR HTTP 500: upload refused (simulated)")
        sys.exit(1)
    (wandb_file,) = [f for f in os.listdir(attempt) if f.endswith(".wandb")]
    open(os.path.join(attempt, wandb_file + ".synced"), "w").close()
    print("synced", attempt)
""")


def offline_attempt(run_folder: Path, stamp: str, run_id: str, synced: bool = False) -> Path:
    attempt = run_folder / "wandb" / f"offline-run-{stamp}-{run_id}"
    attempt.mkdir(parents=True)
    (attempt / f"run-{run_id}.wandb").write_bytes(b":W&B")
    if synced:
        (attempt / f"run-{run_id}.wandb.synced").touch()
    return attempt


def run_folder(sweep: Path, name: str) -> Path:
    folder = sweep / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("seed: 0\n")
    return folder


@pytest.fixture
def sweep(tmp_path):
    """Three runs: `a` requeued twice (3 attempts, written out of name order), `b` one attempt,
    `c` one attempt already synced; and a report logged offline into the sweep's own wandb/."""
    root = tmp_path / "runs"
    a = run_folder(root, "d64-l2-aaaa1111")
    for stamp in ("20260102_030405", "20260101_120000", "20260103_000000"):
        offline_attempt(a, stamp, "aaaa1111")
    offline_attempt(run_folder(root, "d96-l2-bbbb2222"), "20260101_120000", "bbbb2222")
    offline_attempt(run_folder(root, "d128-l2-cccc3333"), "20260101_120000", "cccc3333", synced=True)
    run_folder(root, "d32-l1-dddd4444")  # logged online: nothing to upload
    offline_attempt(root, "20260104_000000", "rep0rt01")
    return root


@pytest.fixture
def fake_wandb_sync(tmp_path):
    state = tmp_path / "fake-state"
    state.mkdir()
    script = tmp_path / "fake_wandb_sync.py"
    script.write_text(FAKE)

    def command(attempt: Path) -> list[str]:
        return [sys.executable, str(script), str(attempt), str(state)]

    def calls() -> list[dict]:
        path = state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    command.calls, command.fail = calls, lambda *names: (state / "fail").write_text(" ".join(names))
    return command


def names(paths) -> list[str]:
    return [Path(p).name for p in paths]


def test_every_offline_run_of_a_sweep_is_found_with_its_attempts_in_order_of_start(sweep):
    uploads = {u.label: u for u in find_uploads(sweep)}
    assert sorted(uploads) == ["d128-l2-cccc3333", "d64-l2-aaaa1111", "d96-l2-bbbb2222", "wandb/rep0rt01"]
    assert names(uploads["d64-l2-aaaa1111"].attempts) == [
        "offline-run-20260101_120000-aaaa1111", "offline-run-20260102_030405-aaaa1111",
        "offline-run-20260103_000000-aaaa1111"]
    with pytest.raises(ConfigError, match="nowhere does not exist; accepted: a sweep folder"):
        find_uploads(sweep / "nowhere")


def test_a_file_or_a_folder_without_runs_is_one_error_saying_which(tmp_path):
    """Was: "sweep folder afile does not exist" for a file, and "0 synced" (rc 0) for an empty folder."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="afile is a file; accepted: a sweep folder"):
        find_uploads(tmp_path / "afile")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="empty holds no run folders"):
        find_uploads(tmp_path / "empty")


def test_runs_upload_in_parallel_each_runs_attempts_one_after_the_other_in_order(sweep, fake_wandb_sync):
    results = []
    summary = sync_sweep(sweep, jobs=2, command=fake_wandb_sync, on_result=lambda r, done, total: results.append(
        (r.label, done, total)))
    calls = fake_wandb_sync.calls()
    attempts_of_a = [c["attempt"] for c in calls if c["attempt"].endswith("aaaa1111")]
    assert names(attempts_of_a) == names(find_uploads(sweep)[1].attempts)  # in order of start, one at a time
    assert len(calls) == 5  # c's synced attempt skipped
    assert max(c["together"] for c in calls) == 2  # two runs at once, never more
    assert {c["together"] for c in calls} <= {1, 2}
    assert sorted(r.label for r in summary.of("synced")) == ["d64-l2-aaaa1111", "d96-l2-bbbb2222", "wandb/rep0rt01"]
    assert [r.label for r in summary.of("skipped")] == ["d128-l2-cccc3333"] and not summary.of("failed")
    assert sorted(done for _, done, _ in results) == [1, 2, 3, 4] and {total for *_, total in results} == {4}
    assert all(is_synced(a) for u in find_uploads(sweep) for a in u.attempts)


def test_an_interrupted_or_failed_sync_run_again_uploads_only_what_is_left(sweep, fake_wandb_sync, capsys,
                                                                            monkeypatch):
    fake_wandb_sync.fail("offline-run-20260102_030405-aaaa1111")  # a's second attempt fails
    summary = sync_sweep(sweep, jobs=3, command=fake_wandb_sync)
    (failed,) = summary.of("failed")
    assert failed.label == "d64-l2-aaaa1111" and failed.synced == 1
    assert "exit code 1" in failed.log and "upload refused (simulated)" in failed.log and "sweep-sync.log" in failed.log
    called = names(c["attempt"] for c in fake_wandb_sync.calls())
    assert "offline-run-20260103_000000-aaaa1111" not in called  # a later attempt never goes before an earlier one

    fake_wandb_sync.fail()
    first_round = len(fake_wandb_sync.calls())
    monkeypatch.setattr(launch.sync, "wandb_sync_command", fake_wandb_sync)
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert main(["sync", str(sweep), "--jobs", "2"]) == 0
    again = names(c["attempt"] for c in fake_wandb_sync.calls()[first_round:])
    assert again == ["offline-run-20260102_030405-aaaa1111", "offline-run-20260103_000000-aaaa1111"]
    out = capsys.readouterr().out
    assert "d64-l2-aaaa1111: synced (2 attempts" in out and "1 synced, 3 skipped, 0 failed W&B runs" in out


def test_a_failed_upload_is_a_nonzero_exit_with_its_log(sweep, fake_wandb_sync, capsys, monkeypatch):
    fake_wandb_sync.fail("offline-run-20260101_120000-bbbb2222")
    monkeypatch.setattr(launch.sync, "wandb_sync_command", fake_wandb_sync)
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert main(["sync", str(sweep), "--jobs", "4"]) == 1
    out = capsys.readouterr().out
    assert "2 synced, 1 skipped, 1 failed W&B runs" in out
    assert "failed: d96-l2-bbbb2222" in out and "upload refused (simulated)" in out
    assert main(["sync", str(sweep), "--jobs", "0"]) == 2
    assert "--jobs 0: accepted is an integer >= 1" in capsys.readouterr().err


def test_a_run_still_training_is_left_for_later(sweep, fake_wandb_sync):
    with RunDir(sweep / "d96-l2-bbbb2222").hold():
        summary = sync_sweep(sweep, jobs=2, command=fake_wandb_sync)
    assert [r.label for r in summary.of("held")] == ["d96-l2-bbbb2222"]
    assert not any(c["attempt"].endswith("bbbb2222") for c in fake_wandb_sync.calls())


def test_the_real_upload_command_is_wandb_sync_with_options_it_has(tmp_path):
    attempt = tmp_path / "offline-run-20260101_120000-aaaa1111"
    command = wandb_sync_command(attempt)
    assert command[:4] == [sys.executable, "-m", "wandb", "sync"] and command[-1] == str(attempt)
    help_text = subprocess.run([*command[:4], "--help"], capture_output=True, text=True, timeout=120).stdout
    assert "Usage: " in help_text and "sync [OPTIONS] [PATHS]" in help_text
    for option in (arg for arg in command[4:] if arg.startswith("-")):
        assert option in help_text, option


def test_an_upload_that_hangs_is_killed_after_the_time_limit_and_counted_failed(sweep, tmp_path):
    def hangs(attempt):
        return [sys.executable, "-c", "import time; print('setting up run', flush=True); time.sleep(60)"]

    summary = sync_sweep(sweep, jobs=4, command=hangs, timeout_s=0.5)
    assert {r.label for r in summary.of("failed")} == {"d64-l2-aaaa1111", "d96-l2-bbbb2222", "wandb/rep0rt01"}
    assert all("no upload within 0.5 s (killed)" in r.log for r in summary.of("failed"))
    assert not any(is_synced(a) for u in find_uploads(sweep) if u.label != "d128-l2-cccc3333" for a in u.attempts)


def test_without_a_wandb_login_sync_starts_nothing_and_says_once_how_to_log_in(sweep, fake_wandb_sync, tmp_path,
                                                                             capsys, monkeypatch):
    """Was: one `wandb sync` per run, each failing `Error: No API key configured` (400 runs, 400 failures)."""
    import wandb

    wandb.teardown()  # W&B's settings as a new `sweep sync` process reads them (an earlier test had a key)
    monkeypatch.setattr(launch.sync, "wandb_sync_command", fake_wandb_sync)
    assert main(["sync", str(sweep), "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("error: no W&B login for http://127.0.0.1:9: nothing uploaded; log in with `wandb login` "
                           "(or set WANDB_API_KEY; WANDB_BASE_URL for another server), then run sweep sync again")
    assert fake_wandb_sync.calls() == []

    netrc = tmp_path / "netrc"  # what `wandb login` writes
    netrc.write_text("machine 127.0.0.1:9\n  login user\n  password " + "y" * 40 + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert main(["sync", str(sweep), "--jobs", "2"]) == 0 and len(fake_wandb_sync.calls()) == 5

    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert main(["sync", str(sweep), "--jobs", "2"]) == 0  # all synced: no login needed to skip them
