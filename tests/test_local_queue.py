import json
import os
import socket

from launch.local_queue import QUEUE_DIR, announced, runs_queued_locally


def test_while_a_local_launcher_runs_its_runs_read_queued_and_after_it_none_do(tmp_path):
    with announced({tmp_path: ["run-a", "run-b"]}):
        assert runs_queued_locally(tmp_path) == {"run-a", "run-b"}
    assert runs_queued_locally(tmp_path) == set()
    assert list((tmp_path / QUEUE_DIR).iterdir()) == []  # its file removed


def test_a_file_left_by_a_launcher_that_died_queues_nothing(tmp_path):
    """Its lock went with its process: no reader may take its runs for queued."""
    stale = tmp_path / QUEUE_DIR / f"{socket.gethostname()}-999999.json"
    stale.parent.mkdir()
    stale.write_text(json.dumps({"pid": 999999, "runs": ["run-a"]}))
    assert runs_queued_locally(tmp_path) == set()


def test_two_launchers_on_one_sweep_folder_queue_both_their_runs(tmp_path):
    with announced({tmp_path: ["run-a"]}):
        other = tmp_path / QUEUE_DIR / "elsewhere-1.json"
        import fcntl

        with open(other, "w") as held:  # a second launcher, in this process's stead
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            held.write(json.dumps({"pid": os.getpid(), "runs": ["run-c"]}))
            held.flush()
            assert runs_queued_locally(tmp_path) == {"run-a", "run-c"}


def test_a_sweep_folder_that_cannot_be_written_is_passed_over(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the folder would be
    with announced({blocked: ["run-a"], tmp_path: ["run-b"]}):
        assert runs_queued_locally(tmp_path) == {"run-b"}
