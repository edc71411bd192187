"""Slurm's view of submitted jobs (sacct, with squeue as a fallback), and the sweep manifest:
which job last ran each run folder.

The manifest is `out_dir/sweep_manifest.jsonl`, one line per submitted job (appended, never
rewritten): {"run", "path", "job_id", "bucket", "submitted"}; a ladder's jobs (launch/jobs.py) add
"segment" (a trunk segment: the step it ends at) and "after" (the job id it waits for); an
early-stopped run's probe adds "probe" (its probe step), a rung (early_stop.again_at) "rung" (the
next decision step, where it ends) and "after", its rest "after" (the ids of its group's jobs
that end where it decides, ':'-joined).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Iterator

from launch.local_queue import runs_queued_locally
from sweep.storage import tail_lines

log = logging.getLogger("sweep.launch")

MANIFEST = "sweep_manifest.jsonl"
SUBMIT_LOCK = ".submit.lock"
POLL_INTERVAL_S = 10.0  # seconds between looks at a sweep's runs and jobs while waiting (`sweep status --wait`,
# `sweep suggest --rounds` waiting for a round's runs)

# States in which a job still holds (or waits for) its run: do not submit the run again.
ACTIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED",
                 "RESIZING", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}
RUNNING_STATES = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"}  # the rest of ACTIVE_STATES: queued

# An array's tasks that have not started are listed as one line: `11_[0-2%3]`, `11_[3,5-7]`.
ARRAY_RANGE = re.compile(r"^(?P<job>\d+)_\[(?P<tasks>[^\]]*)\]$")


def expand_job_ids(job_id: str) -> list[str]:
    """`11_[0-2%3]` -> ['11_0', '11_1', '11_2'] (`%3`: at most 3 at once); `11_[3,5-7]` ->
    ['11_3', '11_5', '11_6', '11_7']; `0-15:4` steps by 4; any other id as it is."""
    match = ARRAY_RANGE.match(job_id.strip())
    if match is None:
        return [job_id.strip()]
    ids = []
    for part in match["tasks"].split("%")[0].split(","):
        first, _, rest = part.partition("-")
        last, _, step = rest.partition(":")
        ids += [f"{match['job']}_{i}" for i in range(int(first), int(last or first) + 1, int(step or 1))]
    return ids


@contextlib.contextmanager
def submission_lock(out_dirs: Iterable[Path]) -> Iterator[None]:
    """Held while a command plans and submits runs of these sweep folders (flock on
    `out_dir/.submit.lock`, released when the process ends): a second identical command waits,
    then sees the first one's jobs and submits nothing twice."""
    with contextlib.ExitStack() as stack:
        for out_dir in sorted({Path(d) for d in out_dirs}):  # always in the same order: no deadlock
            out_dir.mkdir(parents=True, exist_ok=True)
            f = stack.enter_context(open(out_dir / SUBMIT_LOCK, "a"))
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("%s: another command is submitting runs of this sweep: waiting for it", out_dir)
                fcntl.flock(f, fcntl.LOCK_EX)
        yield


def append_manifest(out_dir: Path, entries: Iterable[dict]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with open(out_dir / MANIFEST, "a") as f:
        for entry in entries:
            f.write(json.dumps({**entry, "submitted": now}) + "\n")


def latest_jobs(out_dir: Path) -> dict[str, dict]:
    """run name -> its most recent manifest entry (for a ladder's trunk: its latest segment's).
    A line that is not an entry (torn by a kill, edited by hand) is skipped with one warning
    naming the file and the line."""
    return {entry["run"]: entry for entry in manifest_entries(out_dir)}


def latest_job_entries(out_dir: Path) -> dict[tuple[str, int | None], dict]:
    """(run name, trunk segment end or probe or rung step or None) -> the most recent manifest entry
    of that job (launch/jobs.py Job.key): each segment of a trunk apart, a probe and each rung apart
    from its rest."""
    return {job_key(entry): entry for entry in manifest_entries(out_dir)}


def job_key(entry: dict) -> tuple[str, int | None]:
    """The job a manifest entry ran: its run, and for a trunk segment the step the segment ends
    at, for a probe its probe step, for a rung the next decision step."""
    return entry["run"], part_end(entry)


def part_end(entry: dict) -> int | None:
    """The step a job that trains part of a run (a trunk segment, a probe, a rung) ends at; None
    for a job that trains its run to the end (a plain run, a branch, a rest)."""
    return entry.get("segment", entry.get("probe", entry.get("rung")))


def manifest_entries(out_dir: Path) -> Iterator[dict]:
    """The manifest's entries in the order they were appended (unreadable lines skipped, each
    with a warning)."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            entry = _manifest_entry(line)
            if entry is None:
                log.warning("%s: line %d is not a manifest entry (JSON with run and job_id): skipped",
                            path, number)
            else:
                yield entry


def _manifest_entry(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("run", "job_id")):
        return None
    return entry


LOCAL_BUCKET = "local"  # the manifest's bucket of a job the local launcher started: its job id is a pid


def slurm_job_ids(entries: Iterable[dict]) -> list[str]:
    """The job ids of the manifest entries Slurm ran (not the local launcher's pids, which Slurm
    does not know: asking about them costs sacct and squeue a call each, seconds on a busy host)."""
    return [e["job_id"] for e in entries if e.get("bucket") != LOCAL_BUCKET]


def job_states(job_ids: Iterable[str], timeout_s: float = 30) -> dict[str, str]:
    """job id (e.g. '123_4' for an array task) -> Slurm state ('RUNNING', 'TIMEOUT', ...).
    Jobs Slurm does not know are left out. Empty when no Slurm client is installed."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    arrays = sorted({i.split("_")[0] for i in ids if "_" in i})  # an array cancelled before any task
    try:                                                        # started is one line: its job id
        out = subprocess.run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(ids + arrays)],
                             capture_output=True, text=True, timeout=timeout_s)
        states, ranged = _sacct_states(out.stdout if out.returncode == 0 else "", ids)
        # not in accounting (it lags, or is off), or PENDING on the line of an array's tasks left, which
        # sacct does not update when one of them is cancelled (`308_[1-2%3]|PENDING` after `scancel 308_2`)
        unsure = [i for i in ids if i not in states or (i in ranged and states[i] == "PENDING")]
        if unsure:  # the controller knows what is pending or running now
            live = squeue_states(unsure, timeout_s)
            for i in unsure:
                if i in (live or {}):
                    states[i] = live[i]
                elif live is not None and i in states:
                    del states[i]  # cancelled since: Slurm no longer knows it as pending
    except FileNotFoundError:
        return {}
    return {i: s for i, s in states.items() if i in ids}


def _sacct_states(lines: str, ids: list[str]) -> tuple[dict[str, str], set[str]]:
    """task id -> state from sacct's lines (a task with no line of its own takes its array's), and the
    tasks whose state came from a line of the array's tasks left (`11_[2-5%3]`), not their own."""
    states = _by_task(lines, lambda state: state.split()[0] if state else "UNKNOWN")
    for i in ids:
        if i not in states and i.split("_")[0] in states:
            states[i] = states[i.split("_")[0]]
    own = {job_id for job_id, _, _ in (line.partition("|") for line in lines.splitlines()) if "[" not in job_id}
    return states, {i for i in states if i not in own}


def squeue_states(job_ids: list[str], timeout_s: float = 30) -> dict[str, str] | None:
    """job id -> state of the jobs the Slurm controller lists as pending or running (an ended job
    is not listed); None when it did not answer (no squeue, a time-out, an error). squeue exits 1
    with `Invalid job id specified` when it knows none of them: an answer, all gone."""
    try:
        out = subprocess.run(["squeue", "-h", "-o", "%i|%T", "-j", ",".join(job_ids)],
                             capture_output=True, text=True, timeout=timeout_s)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return {} if "Invalid job id" in out.stderr else None
    return _by_task(out.stdout, lambda state: state)


def _by_task(lines: str, state_of: Callable[[str], str]) -> dict[str, str]:
    """task id -> state from sacct's or squeue's `ID|STATE` lines; a task's own line wins over a
    line of the array's tasks left (`214_[1-2%2]|CANCELLED by 0` after `scancel 214_2`: its finished
    214_1 read CANCELLED, and a running task PENDING)."""
    own: dict[str, str] = {}
    ranged: dict[str, str] = {}
    for line in lines.splitlines():
        job_id, _, state = line.partition("|")
        for task in expand_job_ids(job_id) if job_id else []:
            (ranged if "[" in job_id else own)[task] = state_of(state)
    return {**ranged, **own}


# Pending reasons waiting will not resolve (a group limit, Resources or Priority do resolve), each
# with what to change before submitting again.
STUCK_REASONS = {
    "PartitionConfig": "the job asks for more nodes, CPUs, memory, GPUs or time than the partition allows: lower "
                       "hydra.launcher.nodes / cpus_per_task / mem_gb / gpus_per_node or a bucket's time_min",
    "PartitionNodeLimit": "the job asks for more nodes than the partition allows: lower hydra.launcher.nodes",
    "PartitionTimeLimit": "the job's time limit is above the partition's: lower the bucket's time_min",
    "InvalidAccount": "the account is not valid: give hydra.launcher.account one that is",
    "InvalidQOS": "the QOS is not valid: give hydra.launcher.qos one that is",
}


# Reasons whose remedy `unmet_requests` can name from the job's request and the partition's nodes
SIZE_REASONS = ("PartitionConfig", "PartitionNodeLimit")
GPU_COUNT = re.compile(r"gpu(?::[^:,(]+)?:(\d+)")  # gres:gpu:2, gres/gpu:a100:2, gpu:1(S:0)
MEMORY = re.compile(r"(\d+(?:\.\d+)?)([KMGT]?)", re.IGNORECASE)
MB_PER_UNIT = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 ** 2}


@dataclasses.dataclass(frozen=True)
class NodeRequest:
    """Nodes, and what each node holds (or must hold): CPUs, memory in MB (None: unknown), GPUs."""

    nodes: int
    cpus: int
    mem_mb: float | None
    gpus: int


def gpu_count(gres: str) -> int:
    return max((int(n) for n in GPU_COUNT.findall(gres)), default=0)


def memory_mb(text: str) -> float | None:
    match = MEMORY.fullmatch(text.strip().rstrip("+"))
    return None if match is None else float(match[1]) * MB_PER_UNIT[match[2].upper()]


def _slurm_lines(cmd: list[str], timeout_s: float) -> list[str]:
    """The lines a Slurm query prints; none when it did not answer."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return []
    return out.stdout.splitlines() if out.returncode == 0 else []


def job_request(job_id: str, timeout_s: float = 30) -> tuple[str, NodeRequest] | None:
    """A pending job's partition and request per node (squeue), or None when Slurm did not say."""
    for line in _slurm_lines(["squeue", "-h", "-j", job_id, "-o", "%P|%D|%C|%m|%b"], timeout_s):
        partition, nodes, cpus, mem, gres = (line.split("|") + [""] * 5)[:5]
        if nodes.isdigit() and cpus.isdigit():
            return partition, NodeRequest(int(nodes), -(-int(cpus) // max(1, int(nodes))), memory_mb(mem),
                                          gpu_count(gres))
    return None


def partition_nodes(partition: str, timeout_s: float = 30) -> NodeRequest | None:
    """A partition's node count and the most any of its nodes holds (sinfo), or None."""
    return nodes_held([(line.split("|") + [""] * 4)[:4]
                       for line in _slurm_lines(["sinfo", "-h", "-p", partition, "-o", "%D|%c|%m|%G"], timeout_s)])


def nodes_held(rows: list[list[str]]) -> NodeRequest | None:
    """The node count and the most any node holds of sinfo's `%D|%c|%m|%G` rows (one per group of
    nodes alike), or None when none of them reads."""
    rows = [r for r in rows if r[0].isdigit() and r[1].rstrip("+").isdigit()]
    if not rows:
        return None
    mems = [memory_mb(r[2]) for r in rows]
    return NodeRequest(sum(int(r[0]) for r in rows), max(int(r[1].rstrip("+")) for r in rows),
                       None if None in mems else max(mems), max(gpu_count(r[3]) for r in rows))


def unmet_requests(job_id: str, timeout_s: float = 30) -> list[str]:
    """What a pending job asks for that its partition does not have, each with the option to lower
    ('nodes=2 where partition debug has 1 node: lower hydra.launcher.nodes'); empty where Slurm did
    not say."""
    request = job_request(job_id, timeout_s)
    has = None if request is None else partition_nodes(request[0], timeout_s)
    if request is None or has is None:
        return []
    partition, asks = request
    unmet = []
    if asks.nodes > has.nodes:
        unmet.append(f"nodes={asks.nodes} where partition {partition} has {has.nodes} node{'s' * (has.nodes != 1)}: "
                     "lower hydra.launcher.nodes")
    if asks.cpus > has.cpus:
        unmet.append(f"{asks.cpus} CPUs per node where its nodes have {has.cpus}: lower hydra.launcher.cpus_per_task "
                     "(or cpus_per_gpu)")
    if asks.mem_mb is not None and has.mem_mb is not None and asks.mem_mb > has.mem_mb:
        unmet.append(f"{asks.mem_mb / 1024:.3g} GiB of memory per node where its nodes have "
                     f"{has.mem_mb / 1024:.3g}: lower hydra.launcher.mem_gb (or mem_per_gpu / mem_per_cpu)")
    if asks.gpus > has.gpus:
        unmet.append(f"{asks.gpus} GPUs per node where its nodes have {has.gpus}: lower hydra.launcher.gpus_per_node "
                     "(or gres, a bucket's gpus_per_node)")
    return unmet


def pending_reasons(job_ids: Iterable[str], timeout_s: float = 30) -> dict[str, str]:
    """job id -> the reason Slurm gives for a pending job (squeue's %r: Resources, Priority,
    Dependency, PartitionConfig, ...). Empty when no Slurm client is installed."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-t", "PD", "-o", "%i|%r", "-j", ",".join(ids)],
                             capture_output=True, text=True, timeout=timeout_s)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return {}
    reasons: dict[str, str] = {}
    for line in out.stdout.splitlines():
        job_id, _, reason = line.partition("|")
        for task in expand_job_ids(job_id) if job_id else []:
            reasons[task] = reason.strip()
    return {i: r for i, r in reasons.items() if i in ids}


@dataclasses.dataclass(frozen=True)
class Partitions:
    """The cluster's partitions (sinfo, hidden ones too), each with its node count and the most any
    of its nodes holds (None where sinfo's line did not read), and the default one (sinfo's `*`)."""

    nodes: dict[str, NodeRequest | None]
    default: str | None


def slurm_partitions(timeout_s: float = 10) -> Partitions | None:
    """The cluster's partitions and their nodes, in one sinfo call; None when it did not say (no
    sinfo, a time-out, an error, none listed)."""
    rows: dict[str, list[list[str]]] = {}
    default = None
    for line in _slurm_lines(["sinfo", "--all", "-N", "-h", "-o", "%P|%D|%c|%m|%G"], timeout_s):  # a line a node
        name, *row = (line.split("|") + [""] * 5)[:5]
        if name.strip().endswith("*"):
            default = name.strip().rstrip("*")
        if name.strip().rstrip("*"):
            rows.setdefault(name.strip().rstrip("*"), []).append(row)
    return Partitions({name: nodes_held(r) for name, r in rows.items()}, default) if rows else None


def max_array_size(timeout_s: float = 30) -> int:
    """The cluster's MaxArraySize (array indices run 0 .. MaxArraySize - 1)."""
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=timeout_s)
    for line in out.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "MaxArraySize":
            return int(value.strip())
    return 1001  # Slurm's default


def attach_queue_state(rows: list[dict], out_dir: Path) -> None:
    """Add each run's current job (`job_id`, `job_state`, `log`; a ladder trunk's also `segment`,
    the step its current segment ends at; an early-stopped run's probe `probe`, its probe step) to
    its runs-table row, and let Slurm settle runs without a result.json: a live job makes the run
    `queued` or `running`; a job cancelled (scancel, or by Slurm because a job it waited for
    failed) makes it `cancelled`; any other job that ended without a result (killed, out of
    memory, node failure, time-outs past max_requeues) makes it `failed`, never complete. A trunk
    between two segments, a run between its probe and its rest, is `queued` while its next job waits
    and stays `started` where none is submitted. A `failed` run submitted again is `queued` or
    `running` while its new job is live. A `pending` or `started` run that a live local launcher
    has still to train is `queued` (launch/local_queue.py)."""
    entries_of: dict[str, list[dict]] = {}
    for entry in latest_job_entries(out_dir).values():
        entries_of.setdefault(entry["run"], []).append(entry)
    entries = [e for r in rows for e in entries_of.get(r["run"], [])]
    waited_for = [a for e in entries if e.get("bucket") != LOCAL_BUCKET  # for why a job was cancelled
                  for a in str(e.get("after") or "").split(":") if a]
    from sweep.results import planned_budget
    from sweep.rundir import RunDir

    states = job_states([*slurm_job_ids(entries), *waited_for])
    gone = gone_before_start([e for e in entries if e["job_id"] not in states and not log_written(e)])
    pending: list[dict] = []
    for row in rows:
        if row["run"] not in entries_of:
            continue
        entry = current_entry(entries_of[row["run"]], states)
        state = states.get(entry["job_id"])
        row.update(job_id=entry["job_id"], job_state=state, log=entry.get("log"))
        for part in ("segment", "probe", "rung"):
            if entry.get(part) is not None:
                row[part] = entry[part]
        if row["status"] == "failed" and state in ACTIVE_STATES:  # submitted again: its result.json is the
            row.pop("error", None)  # last attempt's, and this job resumes it (it showed failed, and --wait ended)
        elif row["status"] == "pending" and state is None and entry["job_id"] in gone:
            row["status"] = "cancelled"
            row["error"] = (f"Slurm job {entry['job_id']} was cancelled before it started: Slurm no longer knows it "
                            f"and it wrote no log; running the sweep again submits it again")
            continue
        elif row["status"] not in ("started", "pending") or state is None:
            continue
        if part_end(entry) is not None and state == "COMPLETED":  # between a trunk's segments, or probe and rest
            continue
        if state in ACTIVE_STATES:
            row["status"] = "running" if state in RUNNING_STATES else "queued"
            if row["status"] == "running" and "steps" not in row and row.get("path"):  # started, no file written yet
                row.update(planned_budget(RunDir(Path(row["path"]))))  # as a running run's (README: status)
            if state == "PENDING":
                pending.append(row)
        elif state == "CANCELLED":
            row["status"] = "cancelled"
            where = f"{log_ends(entry['log'])}; log: {entry['log']}" if log_written(entry) else \
                "; it never started (no log)"
            row["error"] = f"Slurm job {entry['job_id']} was cancelled{cancelled_why(entry, states)}{where}"
        else:
            row["status"] = "failed"
            row["error"] = (f"Slurm job {entry['job_id']} ended {state} without a result{log_ends(entry.get('log'))}; "
                            f"log: {entry.get('log')}")
    reasons = pending_reasons(row["job_id"] for row in pending)
    unmet_of: dict[str, list[str]] = {}  # by array: its tasks ask for the same
    for row in pending:
        row["job_reason"] = reasons.get(row["job_id"])
        if row["job_reason"] in SIZE_REASONS:
            array = row["job_id"].split("_")[0]
            if array not in unmet_of:
                unmet_of[array] = unmet_requests(row["job_id"])
            row["job_unmet"] = unmet_of[array]
    queued_locally = runs_queued_locally(out_dir)
    for row in rows:
        if row["status"] in ("pending", "started") and row["run"] in queued_locally:
            row["status"] = "queued"  # a live local launcher has it still to train (launch/local_queue.py)


# How long after its submission a job Slurm knows nothing of (no squeue line, no sacct record) and
# that wrote no log may be taken for one cancelled before it started: sbatch returns once the
# controller holds the job, and squeue asks the controller, but accounting (sacct) lags it.
GONE_AFTER_S = 60


def log_written(entry: dict) -> bool:
    """Whether a Slurm job's log file exists: Slurm opens it as the job starts."""
    return bool(entry.get("log")) and Path(entry["log"]).exists()


def gone_before_start(entries: list[dict], now: datetime.datetime | None = None) -> set[str]:
    """The job ids of these Slurm jobs (with no sacct record, no log) that the controller no longer
    lists as pending or running, submitted at least GONE_AFTER_S ago: a pending array task cancelled
    with scancel leaves no record at all. Empty where squeue did not answer."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    old = [e["job_id"] for e in entries if e.get("bucket") != LOCAL_BUCKET and e.get("log")
           and _age_s(e, now) >= GONE_AFTER_S]
    live = squeue_states(old) if old else None
    return set() if live is None else {i for i in old if i not in live}


def _age_s(entry: dict, now: datetime.datetime) -> float:
    """Seconds since the manifest entry's submission; 0 where it has no readable time."""
    try:
        return (now - datetime.datetime.fromisoformat(entry["submitted"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return 0.0


# Lines a log may end with that say nothing of why the job ended: submitit passing a signal on, srun's
# exit code (the lines before it say why), W&B's service stopped by the same signal.
LOG_NOISE = re.compile(r"^(submitit WARNING .*Bypassing signal|\S+ \S+ submitit Bypassing signal|srun: error: "
                       r"\S+: tasks? [\d,-]+: Exited with exit code|wandb: )")


def log_ends(log: str | None) -> str:
    """`; its log ends: LINE` with the last line of a job's log that says something (a setup line
    that failed, an out-of-memory kill, a Python error, a stop signal's checkpoint), or "" where the
    log is missing or empty. Skipped: what Python prints as `Exception ignored in ...` with its
    traceback (an atexit callback of W&B's whose service a scancel stopped too) and LOG_NOISE."""
    lines = [line.decode("utf-8", "replace").rstrip() for line in tail_lines(log)] if log else []
    meaningful = [line for line in _without_ignored_exceptions(lines) if line.strip() and not LOG_NOISE.match(line)]
    last = (meaningful or [line for line in lines if line.strip()] or [""])[-1].strip()
    return f"; its log ends: {last[:500]}" if last else ""


CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def _without_ignored_exceptions(lines: list[str]) -> list[str]:
    """The lines but for each `Exception ignored in ...` block: that line, its traceback (indented
    lines) and the exception's line that ends it."""
    kept, skipping = [], False
    for line in lines:
        if line.startswith("Exception ignored in"):
            skipping = True
        elif skipping and line.strip() and not line.startswith((" ", "Traceback", *CHAINED)):
            skipping = False  # the exception's own line ends the block
            continue
        if not skipping:
            kept.append(line)
    return kept


def cancelled_why(entry: dict, states: dict[str, str]) -> str:
    """Why a cancelled job was cancelled, where its manifest entry and Slurm tell: a job it waited for
    (`after`) that ended other than COMPLETED (Slurm cancels a job whose dependency cannot be met);
    that none did, where every one of those completed (a user's scancel: it was blamed on a job that had
    COMPLETED); that it may have been one, where Slurm no longer knows them."""
    after = [a for a in str(entry.get("after") or "").split(":") if a]
    if not after:
        return ""
    again = "running the sweep again submits it again"
    failed = [f"{a} ({states[a]})" for a in after if states.get(a) not in (None, "COMPLETED")]
    if failed:
        return f" (it waited for job{'s' * (len(failed) > 1)} {', '.join(failed)}, which did not complete; {again})"
    if all(states.get(a) == "COMPLETED" for a in after):
        return f" (not for a job it waited for: {', '.join(after)} completed; {again})"
    return f" (it waited for job{'s' * (len(after) > 1)} {', '.join(after)}: if one did not complete, Slurm " \
           f"cancelled it; {again})"


def current_entry(entries: list[dict], states: dict[str, str]) -> dict:
    """The job a run is at: of a run trained in parts (a trunk's segments; an early-stopped run's
    probe, then its rest), the first whose Slurm job has a state other than COMPLETED (else, and
    where Slurm knows none of them, e.g. on this machine, the last); any other run's latest job."""
    parts = sorted((e for e in entries if part_end(e) is not None), key=part_end)
    if not parts:
        return entries[-1]
    parts += [e for e in entries if part_end(e) is None]  # a probe's rest, after it
    return next((e for e in parts if states.get(e["job_id"]) not in (None, "COMPLETED")), parts[-1])
