"""launch/queue.py: the sweep manifest and Slurm job states."""

from launch.queue import (MANIFEST, NodeRequest, Partitions, append_manifest, job_states, latest_jobs,
                          pending_reasons, slurm_partitions, unmet_requests)
from tests.helpers import slurm_tools


def test_the_manifest_keeps_the_latest_job_of_each_run(tmp_path):
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "1_0", "bucket": "small"},
                               {"run": "b", "path": "/x/b", "job_id": "1_1", "bucket": "small"}])
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "7_0", "bucket": "small"}])
    latest = latest_jobs(tmp_path)
    assert latest["a"]["job_id"] == "7_0" and latest["b"]["job_id"] == "1_1"
    assert "submitted" in latest["a"]
    assert latest_jobs(tmp_path / "nothing-here") == {}


def test_without_slurm_no_state_is_known(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct, no squeue
    assert job_states(["1_0"]) == {} and pending_reasons(["1_0"]) == {}


def test_a_task_s_own_line_wins_over_the_line_of_its_array_s_tasks_left(tmp_path, monkeypatch):
    """After `scancel 214_2` (pending), sacct's line 214_[1-2%2]|CANCELLED covered 214_1, which had
    completed: `sweep status` showed its finished run CANCELLED (and a running task PENDING)."""
    for name, text in (("sacct", "214_0|COMPLETED\n214_1|COMPLETED\n214_[1-2%2]|CANCELLED by 0\n"), ("squeue", "")):
        (tmp_path / name).write_text(f"#!/bin/sh\ncat <<'END'\n{text}END\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert job_states(["214_0", "214_1", "214_2"]) == {"214_0": "COMPLETED", "214_1": "COMPLETED",
                                                       "214_2": "CANCELLED"}


def test_a_job_that_ended_without_a_result_shows_as_failed_with_its_log(tmp_path, monkeypatch):
    import launch.queue

    rows = [{"run": "a", "status": "started"}, {"run": "b", "status": "pending"},
            {"run": "c", "status": "complete"}, {"run": "d", "status": "pending"}]
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"5_{i}", "bucket": "s",
                                "log": f"/logs/5_{i}_0_log.out"} for i, r in enumerate("abc")])
    monkeypatch.setattr(launch.queue, "job_states",
                        lambda ids: {"5_0": "OUT_OF_MEMORY", "5_1": "PENDING", "5_2": "COMPLETED"})
    launch.queue.attach_queue_state(rows, tmp_path)
    a, b, c, d = rows
    assert a["status"] == "failed" and "OUT_OF_MEMORY" in a["error"] and "/logs/5_0_0_log.out" in a["error"]
    assert b["status"] == "queued" and b["job_id"] == "5_1"
    assert c["status"] == "complete" and c["job_state"] == "COMPLETED"
    assert d == {"run": "d", "status": "pending"}


def test_a_failed_job_s_row_quotes_the_last_line_of_its_log(tmp_path, monkeypatch):
    """Was: only the log's path; a setup line that failed (a venv not there) was one `cat` away."""
    import launch.queue

    log = tmp_path / "7_0_log.out"
    log.write_text("x" * 9000 + "\nslurm_script: line 17: /venv/bin/activate: No such file or directory\n\n")
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "7_0", "bucket": "s", "log": str(log)},
                               {"run": "b", "path": "/x/b", "job_id": "7_1", "bucket": "s", "log": "/gone.out"}])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"7_0": "FAILED", "7_1": "FAILED"})
    rows = [{"run": "a", "status": "started"}, {"run": "b", "status": "started"}]
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["error"] == (f"Slurm job 7_0 ended FAILED without a result; its log ends: slurm_script: line 17: "
                                f"/venv/bin/activate: No such file or directory; log: {log}")
    assert rows[1]["error"] == "Slurm job 7_1 ended FAILED without a result; log: /gone.out"


def test_slurm_is_asked_only_about_its_own_jobs_not_the_local_launcher_s_pids(tmp_path, monkeypatch):
    """Was: `sweep status` on a local sweep asked sacct and squeue about every pid (9 s on this host)."""
    import launch.queue

    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "4242", "bucket": "local"},
                               {"run": "b", "path": "/x/b", "job_id": "5_0", "bucket": "small"}])
    asked = []
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: asked.extend(ids) or {})
    rows = [{"run": "a", "status": "started"}, {"run": "b", "status": "started"}]
    launch.queue.attach_queue_state(rows, tmp_path)
    assert asked == ["5_0"] and rows[0]["job_id"] == "4242" and rows[0]["status"] == "started"


def test_a_bad_manifest_line_is_skipped_with_one_warning_naming_file_and_line(tmp_path, caplog):
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "1_0", "bucket": "small"}])
    with open(tmp_path / MANIFEST, "a") as f:
        f.write('{"run": "b", "job_id": "1_1"\n["not", "an", "entry"]\n{"run": "c"}\n')
    append_manifest(tmp_path, [{"run": "d", "path": "/x/d", "job_id": "2_0", "bucket": "small"}])
    with open(tmp_path / MANIFEST, "a") as f:
        f.write('{"run": "e", "path": "/x/e", "jo')  # a submit killed mid-write
    latest = latest_jobs(tmp_path)
    assert sorted(latest) == ["a", "d"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert [w.split(": line ")[1].split(" ")[0] for w in warnings] == ["2", "3", "4", "6"]
    assert all(w.startswith(f"{tmp_path / MANIFEST}: line ") and "skipped" in w for w in warnings)


def test_pending_array_ranges_are_expanded_to_their_tasks():
    from launch.queue import expand_job_ids

    assert expand_job_ids("11_[0-2%3]") == ["11_0", "11_1", "11_2"]
    assert expand_job_ids("11_[3,5-7]") == ["11_3", "11_5", "11_6", "11_7"]
    assert expand_job_ids("11_[0-8:4%2]") == ["11_0", "11_4", "11_8"]
    assert expand_job_ids("11_4") == ["11_4"] and expand_job_ids("12") == ["12"]


def test_a_pending_job_carries_the_reason_slurm_gives_and_which_reasons_waiting_will_not_resolve(
        tmp_path, monkeypatch, capsys):
    import launch.queue

    rows = [{"run": "a", "status": "pending"}, {"run": "b", "status": "pending"}]
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"5_{i}", "bucket": "s"}
                               for i, r in enumerate("ab")])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"5_0": "PENDING", "5_1": "PENDING"})
    monkeypatch.setattr(launch.queue, "pending_reasons", lambda ids: {"5_0": "PartitionConfig", "5_1": "Priority"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert [r["job_reason"] for r in rows] == ["PartitionConfig", "Priority"]
    assert "PartitionConfig" in launch.queue.STUCK_REASONS and "Priority" not in launch.queue.STUCK_REASONS


def test_a_job_its_partition_cannot_hold_names_each_request_past_the_partition_s_nodes(tmp_path, monkeypatch):
    """`hydra.launcher.nodes=2` with the default cpus_per_task=8, mem_gb=64 on the one-node, 2-CPU, 24 GB testbed:
    pending PartitionConfig forever, and the remedy named cpus_per_task / mem_gb but never nodes."""
    slurm_tools(tmp_path, monkeypatch, squeue="debug|2|16|64G|gres:gpu:1\n", sinfo="1|2|24105|gpu:1\n")
    assert unmet_requests("513_0") == [
        "nodes=2 where partition debug has 1 node: lower hydra.launcher.nodes",
        "8 CPUs per node where its nodes have 2: lower hydra.launcher.cpus_per_task (or cpus_per_gpu)",
        "64 GiB of memory per node where its nodes have 23.5: lower hydra.launcher.mem_gb (or mem_per_gpu / "
        "mem_per_cpu)"]
    slurm_tools(tmp_path, monkeypatch, squeue="gpu|1|2|8G|gres:gpu:a100:4\n", sinfo="3|64|512000|gpu:a100:2(S:0)\n")
    assert unmet_requests("7") == ["4 GPUs per node where its nodes have 2: lower hydra.launcher.gpus_per_node "
                                   "(or gres, a bucket's gpus_per_node)"]
    slurm_tools(tmp_path, monkeypatch, squeue="debug|1|1|100M|N/A\n")
    assert unmet_requests("8") == []  # fits (and sinfo printed nothing): nothing to name
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert unmet_requests("8") == []  # no Slurm: the reason's general remedy stands


def test_the_partitions_are_sinfo_s_each_with_what_its_nodes_hold_and_the_default_is_the_one_marked(
        tmp_path, monkeypatch):
    slurm_tools(tmp_path, monkeypatch, sinfo="debug*|1|2|24105|gpu:1\ngpu|1|64|512000|gpu:a100:8(S:0-1)\n"
                                             "gpu|1|32|256000|(null)\nodd|?|?|?|?\n")
    assert slurm_partitions() == Partitions({"debug": NodeRequest(1, 2, 24105, 1), "gpu": NodeRequest(2, 64, 512000, 8),
                                             "odd": None}, default="debug")  # odd: its line does not read
    slurm_tools(tmp_path, monkeypatch, sinfo="debug|1|2|N/A|(null)\n")
    assert slurm_partitions() == Partitions({"debug": NodeRequest(1, 2, None, 0)}, default=None)  # memory unknown
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert slurm_partitions() is None  # no sinfo: nothing is known, nothing refused


def test_a_job_pending_for_its_size_carries_what_it_asks_beyond_the_partition(tmp_path, monkeypatch):
    import launch.queue

    rows = [{"run": r, "status": "pending"} for r in "abc"]
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"5_{i}", "bucket": "s"}
                               for i, r in enumerate("abc")])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: dict.fromkeys(ids, "PENDING"))
    monkeypatch.setattr(launch.queue, "pending_reasons",
                        lambda ids: {"5_0": "PartitionConfig", "5_1": "PartitionConfig", "5_2": "Priority"})
    asked = []
    monkeypatch.setattr(launch.queue, "unmet_requests", lambda job_id: asked.append(job_id) or ["nodes=2 ..."])
    launch.queue.attach_queue_state(rows, tmp_path)
    assert [r.get("job_unmet") for r in rows] == [["nodes=2 ..."], ["nodes=2 ..."], None]
    assert asked == ["5_0"]  # once per array: its tasks ask for the same


def test_a_cancelled_job_shows_as_cancelled_not_failed(tmp_path, monkeypatch):
    import launch.queue

    rows = [{"run": "a", "status": "started"}, {"run": "b", "status": "pending"}]
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"5_{i}", "bucket": "s",
                                "log": f"/logs/5_{i}_0_log.out"} for i, r in enumerate("ab")])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"5_0": "CANCELLED", "5_1": "RUNNING"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["status"] == "cancelled" and "5_0" in rows[0]["error"]
    assert rows[1]["status"] == "running"


def ladder_manifest(tmp_path):
    """A trunk `t` in two segments (to steps 10 and 20) and a branch `b` after the second."""
    append_manifest(tmp_path, [{"run": "t", "path": "/x/t", "job_id": "8", "bucket": "s", "segment": 10},
                               {"run": "t", "path": "/x/t", "job_id": "9", "bucket": "s", "segment": 20, "after": "8"},
                               {"run": "b", "path": "/x/b", "job_id": "10", "bucket": "s", "after": "9"}])


def test_each_trunk_segment_is_a_job_of_its_own_in_the_manifest(tmp_path):
    from launch.queue import latest_job_entries

    ladder_manifest(tmp_path)
    append_manifest(tmp_path, [{"run": "t", "path": "/x/t", "job_id": "11", "bucket": "s", "segment": 20}])
    jobs = latest_job_entries(tmp_path)
    assert {key: e["job_id"] for key, e in jobs.items()} == {("t", 10): "8", ("t", 20): "11", ("b", None): "10"}
    assert latest_jobs(tmp_path)["t"]["job_id"] == "11"


def test_a_trunk_shows_its_current_segment_and_a_dependant_of_a_failed_segment_shows_as_cancelled(tmp_path,
                                                                                                 monkeypatch):
    import launch.queue

    ladder_manifest(tmp_path)
    rows = [{"run": "t", "status": "started"}, {"run": "b", "status": "pending"}]
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"8": "COMPLETED", "9": "RUNNING", "10": "PENDING"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert (rows[0]["status"], rows[0]["job_id"], rows[0]["segment"]) == ("running", "9", 20)
    assert rows[1]["status"] == "queued"

    rows = [{"run": "t", "status": "failed"}, {"run": "b", "status": "pending"}]
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"8": "COMPLETED", "9": "FAILED", "10": "CANCELLED"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["status"] == "failed" and rows[0]["job_id"] == "9"
    assert rows[1]["status"] == "cancelled"
    assert "waited for job 9 (FAILED), which did not complete; running the sweep again submits it again" in rows[1][
        "error"]

    rows = [{"run": "t", "status": "started"}, {"run": "b", "status": "pending"}]  # the user's scancel of b
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"8": "COMPLETED", "9": "COMPLETED", "10": "CANCELLED"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[1]["status"] == "cancelled"  # was blamed on job 9, which had completed
    assert "(not for a job it waited for: 9 completed; running the sweep again" in rows[1]["error"]


def test_a_failed_run_submitted_again_is_queued_then_running_while_its_new_job_lives(tmp_path, monkeypatch):
    import launch.queue

    append_manifest(tmp_path, [{"run": "r", "path": "/x/r", "job_id": "55_1", "bucket": "s"}])
    append_manifest(tmp_path, [{"run": "r", "path": "/x/r", "job_id": "56_1", "bucket": "s"}])  # sweep run again
    for state, shown in (("PENDING", "queued"), ("RUNNING", "running"), ("FAILED", "failed")):
        rows = [{"run": "r", "status": "failed", "error": "time limit reached and not requeued"}]
        monkeypatch.setattr(launch.queue, "job_states", lambda ids, state=state: {"55_1": "TIMEOUT", "56_1": state})
        launch.queue.attach_queue_state(rows, tmp_path)
        assert (rows[0]["status"], rows[0]["job_id"]) == (shown, "56_1")  # was: failed, and --wait stopped
        assert ("error" in rows[0]) == (shown == "failed")


def test_a_trunk_between_two_segments_stays_started(tmp_path, monkeypatch):
    import launch.queue

    append_manifest(tmp_path, [{"run": "t", "path": "/x/t", "job_id": "8", "bucket": "s", "segment": 10}])
    rows = [{"run": "t", "status": "started"}]
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"8": "COMPLETED"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["status"] == "started" and rows[0]["segment"] == 10


def test_a_trunk_whose_jobs_slurm_does_not_know_shows_its_last_segment(tmp_path, monkeypatch):
    import launch.queue

    ladder_manifest(tmp_path)  # e.g. the local launcher's process ids
    rows = [{"run": "t", "status": "complete"}]
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert (rows[0]["job_id"], rows[0]["segment"]) == ("9", 20)


def early_stop_manifest(tmp_path):
    """Runs `a` and `b` of one budget group: each a probe (to step 20), then a rest after both probes."""
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"12_{i}", "bucket": "s", "probe": 20}
                               for i, r in enumerate("ab")])
    append_manifest(tmp_path, [{"run": r, "path": f"/x/{r}", "job_id": f"13_{i}", "bucket": "s", "after": "12_0:12_1"}
                               for i, r in enumerate("ab")])


def test_a_probe_and_its_rest_are_two_jobs_and_the_run_is_at_the_first_not_completed(tmp_path, monkeypatch):
    import launch.queue
    from launch.queue import latest_job_entries

    early_stop_manifest(tmp_path)
    assert {key: e["job_id"] for key, e in latest_job_entries(tmp_path).items()} == {
        ("a", 20): "12_0", ("b", 20): "12_1", ("a", None): "13_0", ("b", None): "13_1"}
    rows = [{"run": "a", "status": "running"}, {"run": "b", "status": "started"}]
    monkeypatch.setattr(launch.queue, "job_states",
                        lambda ids: {"12_0": "RUNNING", "12_1": "COMPLETED", "13_0": "PENDING", "13_1": "PENDING"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert (rows[0]["job_id"], rows[0]["probe"]) == ("12_0", 20)  # still probing
    assert (rows[1]["status"], rows[1]["job_id"]) == ("queued", "13_1")  # its rest waits for a's probe

    rows = [{"run": "a", "status": "failed"}, {"run": "b", "status": "started"}]
    monkeypatch.setattr(launch.queue, "job_states",
                        lambda ids: {"12_0": "FAILED", "12_1": "COMPLETED", "13_0": "CANCELLED", "13_1": "CANCELLED"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["status"] == "failed" and rows[0]["job_id"] == "12_0"  # the probe that failed
    assert rows[1]["status"] == "cancelled"
    assert ("waited for job 12_0 (FAILED), which did not complete; running the sweep again submits it again"
            in rows[1]["error"])

    rows = [{"run": "b", "status": "started"}]  # between its probe and its rest, before the rest is submitted
    append_manifest(tmp_path / "one", [{"run": "b", "path": "/x/b", "job_id": "12_1", "bucket": "s", "probe": 20}])
    launch.queue.attach_queue_state(rows, tmp_path / "one")
    assert rows[0]["status"] == "started"


def test_a_rung_is_a_job_of_its_own_between_the_probe_and_the_rest(tmp_path, monkeypatch):
    import launch.queue
    from launch.queue import latest_job_entries

    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "12_0", "bucket": "s", "probe": 20},
                               {"run": "a", "path": "/x/a", "job_id": "13_0", "bucket": "s", "rung": 40,
                                "after": "12_0"},
                               {"run": "a", "path": "/x/a", "job_id": "14_0", "bucket": "s", "after": "13_0"}])
    assert {key: e["job_id"] for key, e in latest_job_entries(tmp_path).items()} == {
        ("a", 20): "12_0", ("a", 40): "13_0", ("a", None): "14_0"}
    rows = [{"run": "a", "status": "started"}]
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"12_0": "COMPLETED", "13_0": "RUNNING",
                                                                 "14_0": "PENDING"})
    launch.queue.attach_queue_state(rows, tmp_path)
    assert (rows[0]["job_id"], rows[0]["rung"], rows[0]["status"]) == ("13_0", 40, "running")  # training to step 40


def fake_slurm(folder, monkeypatch, sacct: str, squeue: str, squeue_exit: int = 0, squeue_error: str = ""):
    """sacct and squeue that print these lines (squeue exiting `squeue_exit` with `squeue_error` on stderr)."""
    for name, text, code, error in (("sacct", sacct, 0, ""), ("squeue", squeue, squeue_exit, squeue_error)):
        (folder / name).write_text(f"#!/bin/sh\ncat <<'END'\n{text}END\necho '{error}' >&2\nexit {code}\n")
        (folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def manifest_submitted(out_dir, entries, seconds_ago: float) -> None:
    """The manifest's lines as a submission `seconds_ago` wrote them."""
    import datetime
    import json

    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    with open(out_dir / MANIFEST, "a") as f:
        for entry in entries:
            f.write(json.dumps({**entry, "submitted": when.isoformat(timespec="seconds")}) + "\n")


def test_a_pending_task_cancelled_before_it_started_shows_as_cancelled_not_pending_forever(tmp_path, monkeypatch):
    """`scancel 308_2` while pending leaves no sacct record and no squeue line: status said `pending`
    forever. Right after submission (accounting lags) or where squeue does not answer it stays pending."""
    import launch.queue

    bin_dir, out_dir = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir(), out_dir.mkdir()
    entries = [{"run": f"r{i}", "path": f"/x/r{i}", "job_id": f"308_{i}", "bucket": "s",
                "log": str(tmp_path / f"308_{i}_0_log.out")} for i in range(3)]
    (tmp_path / "308_0_0_log.out").write_text("done\n")

    def status_of(seconds_ago, **slurm):
        (out_dir / MANIFEST).unlink(missing_ok=True)
        manifest_submitted(out_dir, entries, seconds_ago)
        fake_slurm(bin_dir, monkeypatch, **slurm)
        rows = [{"run": "r0", "status": "complete"}, {"run": "r1", "status": "pending"},
                {"run": "r2", "status": "pending"}]
        launch.queue.attach_queue_state(rows, out_dir)
        return rows

    rows = status_of(3600, sacct="308_0|COMPLETED\n", squeue="308_1|PENDING\n")
    assert [r["status"] for r in rows] == ["complete", "queued", "cancelled"]
    assert rows[2]["error"] == ("Slurm job 308_2 was cancelled before it started: Slurm no longer knows it and it "
                                "wrote no log; running the sweep again submits it again")
    rows = status_of(3600, sacct="308_0|COMPLETED\n", squeue="", squeue_exit=1,
                     squeue_error="slurm_load_jobs error: Invalid job id specified")  # knows none of them
    assert [r["status"] for r in rows] == ["complete", "cancelled", "cancelled"]
    rows = status_of(5, sacct="", squeue="")  # just submitted: accounting lags, a controller may too
    assert [r["status"] for r in rows] == ["complete", "pending", "pending"]
    rows = status_of(3600, sacct="308_0|COMPLETED\n", squeue="", squeue_exit=1,
                     squeue_error="slurm_load_jobs error: Unable to contact slurm controller")
    assert [r["status"] for r in rows] == ["complete", "pending", "pending"]  # no answer: nothing concluded


def test_a_task_cancelled_while_its_array_s_line_in_sacct_still_says_pending_is_not_pending(tmp_path, monkeypatch):
    """sacct does not update the line of an array's tasks left: after `scancel 308_2` it still read
    `308_[1-2%3]|PENDING`, and status showed 308_2 PENDING; the controller (squeue) knows better."""
    fake_slurm(tmp_path, monkeypatch, sacct="308_0|RUNNING\n308_[1-2%3]|PENDING\n", squeue="308_[1%3]|PENDING\n")
    assert job_states(["308_0", "308_1", "308_2"]) == {"308_0": "RUNNING", "308_1": "PENDING"}
    fake_slurm(tmp_path, monkeypatch, sacct="308_0|RUNNING\n308_[1-2%3]|PENDING\n", squeue="", squeue_exit=1,
               squeue_error="slurm_load_jobs error: Socket timed out")  # no answer: sacct's word stands
    assert job_states(["308_0", "308_1", "308_2"]) == {"308_0": "RUNNING", "308_1": "PENDING", "308_2": "PENDING"}


def test_a_job_cancelled_before_it_started_says_so_instead_of_naming_a_log_never_written(tmp_path, monkeypatch):
    """Was: `Slurm job 209_0 was cancelled; log: .../209_0_0_log.out`, a file that does not exist."""
    import launch.queue

    log = tmp_path / "209_1_0_log.out"
    log.write_text("2026-12-06 06:23:12,799 sweep.job SIGTERM received: saved /x/b/checkpoints/latest.pt at step 91\n")
    append_manifest(tmp_path, [{"run": "a", "path": "/x/a", "job_id": "209_0", "bucket": "s",
                                "log": str(tmp_path / "209_0_0_log.out")},
                               {"run": "b", "path": "/x/b", "job_id": "209_1", "bucket": "s", "log": str(log)}])
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"209_0": "CANCELLED", "209_1": "CANCELLED"})
    rows = [{"run": "a", "status": "pending"}, {"run": "b", "status": "started"}]
    launch.queue.attach_queue_state(rows, tmp_path)
    assert rows[0]["error"] == "Slurm job 209_0 was cancelled; it never started (no log)"
    assert rows[1]["error"] == ("Slurm job 209_1 was cancelled; its log ends: 2026-12-06 06:23:12,799 sweep.job "
                                f"SIGTERM received: saved /x/b/checkpoints/latest.pt at step 91; log: {log}")


SCANCELLED_LOG = """\
2026-12-06 06:23:12,791 sweep.tracking d16: W&B finish failed (ConnectionResetError: Connection lost); no more
2026-12-06 06:23:12,799 sweep.job SIGTERM received: saved /x/checkpoints/latest.pt at step 91; re-run to resume
submitit WARNING (2026-12-06 06:23:12,799) - Bypassing signal SIGTERM
2026-12-06 06:23:12,799 submitit Bypassing signal SIGTERM
Exception ignored in atexit callback: <function _start_and_connect_service.<locals>.teardown_atexit at 0x7fe2>
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/wandb/sdk/lib/service/service_connection.py", line 79, in teardown_atexit
    conn.teardown(hooks.exit_code)
           ^^^^^^^^^^^^^^^
  File "/python3.11/asyncio/streams.py", line 166, in _drain_helper
    raise ConnectionResetError('Connection lost')

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/python3.11/asyncio/streams.py", line 166, in _drain_helper
ConnectionResetError: Connection lost
srun: error: localhost: task 0: Exited with exit code 143
"""


def test_the_line_quoted_from_a_job_s_log_is_its_last_meaningful_one_not_an_ignored_atexit_traceback(tmp_path):
    """A scancel'd run with W&B: its log ended with W&B's atexit traceback (its service got the SIGTERM
    too) and srun's exit code; the line that says what happened is the checkpoint's."""
    from launch.queue import log_ends

    log = tmp_path / "log.out"
    log.write_text(SCANCELLED_LOG)
    assert log_ends(str(log)) == ("; its log ends: 2026-12-06 06:23:12,799 sweep.job SIGTERM received: saved "
                                  "/x/checkpoints/latest.pt at step 91; re-run to resume")
    log.write_text("Traceback (most recent call last):\n  File \"x.py\", line 1\nModuleNotFoundError: No module named "
                   "'sweep'\nsrun: error: node7: task 0: Exited with exit code 1\n")  # a real error stays the cause
    assert log_ends(str(log)) == "; its log ends: ModuleNotFoundError: No module named 'sweep'"
    log.write_text("srun: error: node7: task 0: Exited with exit code 1\n")  # nothing else: the line itself
    assert log_ends(str(log)) == "; its log ends: srun: error: node7: task 0: Exited with exit code 1"


def test_a_run_a_live_local_launcher_has_still_to_train_is_queued_not_pending(tmp_path, monkeypatch):
    """`sweep status --wait` ended at `1 complete, 3 pending` while the launcher trained the other 3."""
    import launch.queue
    from launch.local_queue import announced

    monkeypatch.setenv("PATH", str(tmp_path))  # no sacct
    rows = [{"run": "a", "status": "complete"}, {"run": "b", "status": "pending"}, {"run": "c", "status": "started"},
            {"run": "d", "status": "pending"}]
    with announced({tmp_path: ["a", "b", "c"]}):
        launch.queue.attach_queue_state(rows, tmp_path)
    assert [r["status"] for r in rows] == ["complete", "queued", "queued", "pending"]  # d: no launcher has it


def test_a_run_slurm_runs_before_it_wrote_a_file_shows_its_planned_budget(tiny_config, tmp_path, monkeypatch):
    """Was: `running │ 0 │ - │ - │ -`: the planned N, tokens and steps were read only for a folder
    whose own files said started or running, not for one that Slurm's RUNNING made running."""
    import launch.queue
    from sweep.budget import compute_budget
    from sweep.results import load_runs
    from sweep.rundir import RunDir

    cfg = tiny_config()
    run = RunDir.for_config(cfg)
    run.write_config(cfg)  # submitted: its config, no metrics, no lock yet
    append_manifest(tmp_path / "runs", [{"run": run.path.name, "path": str(run.path), "job_id": "509", "bucket": "s"}])
    rows = load_runs(tmp_path / "runs")
    monkeypatch.setattr(launch.queue, "job_states", lambda ids: {"509": "RUNNING"})
    launch.queue.attach_queue_state(rows, tmp_path / "runs")
    budget = compute_budget(cfg)
    assert rows[0]["status"] == "running"
    assert (rows[0]["n_params"], rows[0]["tokens"], rows[0]["steps"]) == (budget.n_params, budget.tokens, budget.steps)
