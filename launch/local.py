"""Running grid points on this machine, each in its own process (submitit's LocalExecutor):
at most `parallelism` runs at once, each given its own GPUs, with the same skip-if-finished
rule and manifest as on Slurm, and the same job plan (launch/jobs.py): a ladder's trunk
segments and branches start once the job they wait for is done, an early-stopped group's rests
once all its probes are; a failed segment or probe leaves its dependants not run (`cancelled`),
and running the sweep again runs them. A damaged run (a file of it cannot be read) is skipped
with its one line and every other run goes on. The command waits until every run has ended.
Ctrl-C stops the sweep cleanly: the runs ignore the terminal's SIGINT and are sent SIGTERM by the
launcher instead, so each finishes its step and saves its checkpoint (a second Ctrl-C stops waiting
for them); a run stopped by a signal is `interrupted`, and running the sweep again resumes it.
CPU runs trained at once share the cores: each process gets its part of them as torch threads
(`torch_threads_per_run`), unless the user set OMP_NUM_THREADS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import submitit

from launch.eta import JobTimes, JobWork, eval_flops
from launch.grid import GridPoint
from launch.job import INTERRUPTED, TrainJob
from launch.jobs import PARTIAL, Job, job_plan
from launch.launcher_names import aliased_value, check_whole_numbers
from launch.local_queue import announced
from launch.queue import LOCAL_BUCKET, append_manifest
from sweep.early_stop import is_settled
from sweep.errors import ConfigError, DamagedFile, StorageError
from sweep.progress import progress
from sweep.record import DAMAGED, FAILED, STOPPED_EARLY
from sweep.rundir import RunDir, describe_holder, last_step
from sweep.storage import describe_bytes, free_bytes, output_failed, tail_lines

log = logging.getLogger("sweep.launch")

PLAIN_EVERY_S = 60  # off a terminal, a progress line a minute while runs train (spacing out: sweep/progress.py)
NEARLY_FULL_BYTES = 1 << 20  # a run that ended without a result on a disk with less free than this: said so
CANCELLED = "cancelled"  # a job not run because the one it waits for did not end well (as `sweep status` says)
HELD = "running"  # the outcome of a run another live process trains (held_outcome): not started here


class RunFailed(Exception):
    """A run of a local sweep failed in its own process (a bug, a lost DDP peer): the message names
    it, the last line of its error and its log, where the whole traceback is; the job's error is
    the cause (HYDRA_FULL_ERROR=1 shows it)."""


def run_failed(outcome: Outcome, log_file: str | None) -> RunFailed:
    """The one-line RunFailed of an Outcome whose job raised something other than a user's mistake."""
    lines = [line.strip() for line in str(outcome.error).strip().splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Exit)\b", line)]  # the trace's last:
    last = (raised or lines or [type(outcome.error).__name__])[-1]  # submitit adds the log paths after it
    where = f"; its log: {log_file}" if log_file else ""
    failed = RunFailed(f"{outcome.point.run.path.name}: {last}{where}")
    failed.__cause__ = outcome.error
    return failed


class SweepInterrupted(Exception):
    """Runs of the sweep were stopped by a signal (Ctrl-C, SIGTERM, a kill before they wrote a result):
    the message names them, where each stopped, and says how to resume."""


@dataclass
class LocalOptions:
    """`hydra.launcher.*` of conf/hydra/launcher/local.yaml (the defaults live there)."""

    folder: str  # submitit's job files and logs
    dry_run: bool
    parallelism: int  # runs at once
    gpus_per_run: int  # 0: CPU
    visible_gpus: list[int] | None  # GPUs to share out; null: 0 .. runs at once x gpus_per_run - 1
    tasks_per_run: int | None  # null: one per GPU (DDP ranks), 1 on CPU
    timeout_min: int  # a run still going after this is stopped (it checkpoints first)
    poll_s: float  # how often to look at running jobs
    submitit_folder: str | None  # hydra-submitit-launcher's name for folder

    def with_aliases(self, given: set[str]) -> "LocalOptions":
        """`submitit_folder`, when given, is `folder` (launch/launcher_names.py); `timeout_min`
        has hydra-submitit-launcher's name and meaning already. An option of the wrong kind is
        refused here, at the launcher's setup: before the grid is composed or multirun.yaml written."""
        options = dataclasses.replace(self, folder=aliased_value(self, "submitit_folder", "folder", given))
        check_option_values(options)
        return options


@dataclass
class Outcome:
    point: GridPoint
    result: dict[str, Any] | None  # result.json of the run, when the job returned
    error: BaseException | None  # what the job raised


def ranks_per_run(options: LocalOptions) -> int:
    """The processes of one run: tasks_per_run, else one per GPU (at least one)."""
    return options.tasks_per_run or max(1, options.gpus_per_run)


def check_local_options(points: Sequence[GridPoint], options: LocalOptions) -> list[list[int]]:
    """The GPUs of each run that may train at once (`runs_at_once` slots, each gpus_per_run GPUs,
    empty on CPU); ConfigError for a parallelism below 1, runs x GPUs that do not fit in
    visible_gpus (or, without visible_gpus, in the CUDA GPUs this machine has), or a batch that the
    ranks of a run cannot split; an option of the wrong kind (`check_option_values`). Before any
    run starts, and in a dry run too."""
    check_option_values(options)
    runs, todo = runs_at_once(points, options)
    needed = runs * options.gpus_per_run
    asked = (f"gpus_per_run={options.gpus_per_run} x {runs} runs at once (parallelism={options.parallelism}; "
             f"the grid has {todo} to run) need {needed} GPUs")
    if options.visible_gpus is None and needed:
        import torch

        found = torch.cuda.device_count()
        if found < needed:
            also = f", or parallelism x gpus_per_run <= {found}" if found else ""
            raise ConfigError(f"hydra.launcher: {asked}; this machine has {found} CUDA GPU(s): accepted is "
                              f"gpus_per_run=0 (CPU){also}")
    gpus = list(options.visible_gpus if options.visible_gpus is not None else range(needed))
    if needed > len(gpus):
        raise ConfigError(f"hydra.launcher: {asked}, more than visible_gpus={gpus}")
    tasks = ranks_per_run(options)
    for point in points:
        if point.cfg.train.batch_size % tasks:
            raise ConfigError(f"{' '.join(point.overrides)}: train.batch_size={point.cfg.train.batch_size} is "
                              f"not divisible by the {tasks} ranks of each run")
    g = options.gpus_per_run
    return [gpus[i * g:(i + 1) * g] for i in range(runs)]


def runs_at_once(points: Sequence[GridPoint], options: LocalOptions) -> tuple[int, int]:
    """(the most runs the launcher trains at once, the grid's runs to train): `parallelism`, or fewer
    where fewer runs are left (parallelism=8 on a 2-run grid trains 2 at once, on 2 GPUs of
    gpus_per_run=1). A run's jobs (a probe and its rest, a trunk's segments) train one after
    another, so the runs not settled bound the jobs at once, without planning the jobs again."""
    todo = sum(not is_settled(point.cfg, point.state()) for point in points)
    return min(options.parallelism, todo), todo


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity: a Slurm or taskset share), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_threads_per_run(processes: int, options: LocalOptions) -> int | None:
    """The torch threads of each run's process where `processes` CPU processes train at once (the runs
    at once x the ranks of each): the cores shared out, at least one each. None (torch's default:
    every core) for one process at a time, for GPU runs, and where the user set OMP_NUM_THREADS
    (the runs inherit it: theirs is kept). Two d16 runs at once on 2 cores, each at torch's 2
    threads, took 70-111 s for 400 steps against 9 s at one thread each (a grid both ways:
    benchmarks/local_threads.py)."""
    if options.gpus_per_run or processes <= 1 or os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, usable_cores() // processes)


def describe_threads(runs: int, tasks: int, options: LocalOptions) -> str | None:
    """The launcher's line on the torch threads of CPU runs trained at once: '2 CPU runs at once: 1
    torch thread each (2 cores)', or that the user's OMP_NUM_THREADS is kept; None where one
    process trains at a time or the runs are on GPUs."""
    processes = runs * tasks
    if options.gpus_per_run or processes <= 1:
        return None
    at_once = f"{runs} CPU run{'s' if runs > 1 else ''} at once" + (f" x {tasks} ranks" if tasks > 1 else "")
    threads = torch_threads_per_run(processes, options)
    if threads is None:
        return f"{at_once}: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} kept as set"
    return f"{at_once}: {threads} torch thread{'s' if threads > 1 else ''} each ({usable_cores()} cores)"


WHOLE_OPTIONS = {"parallelism": 1, "gpus_per_run": 0, "timeout_min": 1}  # hydra.launcher.* counts, their least


def check_option_values(options: LocalOptions) -> None:
    """ConfigError naming an option of the wrong kind or range, and what is accepted."""
    from sweep.preflight import check_writable_dir

    check_whole_numbers(options, WHOLE_OPTIONS)
    if not isinstance(options.dry_run, bool):
        raise ConfigError(f"hydra.launcher.dry_run={options.dry_run!r}: accepted is true or false")
    gpus = options.visible_gpus
    if gpus is not None and (not isinstance(gpus, list) or any(
            isinstance(g, bool) or not isinstance(g, int) or g < 0 for g in gpus) or len(set(gpus)) != len(gpus)):
        raise ConfigError(f"hydra.launcher.visible_gpus={gpus!r}: accepted is a list of distinct GPU indices >= 0 "
                          "(e.g. [0,1,2,3]), or null (0 .. runs at once x gpus_per_run - 1)")
    tasks = options.tasks_per_run
    if tasks is not None and (isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1):
        raise ConfigError(f"hydra.launcher.tasks_per_run={tasks!r}: accepted is a whole number >= 1, or null (one "
                          "rank per GPU)")
    poll = options.poll_s
    if isinstance(poll, bool) or not isinstance(poll, (int, float)) or not 0 <= poll < float("inf"):
        raise ConfigError(f"hydra.launcher.poll_s={poll!r}: accepted is a number of seconds >= 0")
    check_writable_dir("hydra.launcher.folder", options.folder)


def run_locally(points: Sequence[GridPoint], options: LocalOptions) -> list[Outcome]:
    """Run the jobs of every point that is not settled (launch/jobs.py job_plan: a ladder's
    trunk segments and branches, an early-stopped group's probes and rests, each started once
    the jobs it waits for are done); returns one Outcome per point (settled ones, finished or
    stopped early, without running them again). A job whose dependency did not end well (failed,
    damaged, held elsewhere) is not run: its point is `cancelled`, and running the sweep again
    runs it."""
    free = check_local_options(points, options)  # one GPU slot per run training at once
    tasks = ranks_per_run(options)
    threads = torch_threads_per_run(len(free) * tasks, options)
    said = describe_threads(len(free), tasks, options)
    if said is not None:
        log.info("%s", said)
    outcomes = {id(p): Outcome(p, p.run.read_result(), None) for p in points if is_settled(p.cfg, p.state())}
    if len(outcomes):
        stopped = any((o.result or {}).get("status") == STOPPED_EARLY for o in outcomes.values())
        log.info("%d of %d runs are finished%s: not run again", len(outcomes), len(points),
                 " or stopped early" if stopped else "")
    for point in points:
        damage = point.damage()
        if damage is not None:
            log.warning("skipped: %s", damage)
            outcomes[id(point)] = Outcome(point, None, damage)
    for point in points:
        holder = None if id(point) in outcomes else point.run.holder()
        if holder is not None:
            outcomes[id(point)] = held_outcome(point, holder)
    jobs = job_plan(points)
    ended_well = {id(j) for j in jobs if j.kind in PARTIAL and j.point.state() != DAMAGED
                  and j.done()}  # a finished trunk's segments too: its branches may not be
    pending = [j for j in jobs if id(j.point) not in outcomes and id(j) not in ended_well]
    running: list[tuple[Job, Any, list[int]]] = []
    times = JobTimes()
    to_train: dict[Path, set[str]] = {}  # what `sweep status` shows queued while this runs
    for job in pending:
        to_train.setdefault(Path(job.point.cfg.out_dir), set()).add(job.point.run.path.name)
    refused: str | None = None  # a run's files could not be written (a full disk): no run starts after it
    with progress(len(points), "sweep", unit="runs ended", start=len(outcomes), every_s=PLAIN_EVERY_S) as bar, \
            stopping_on_ctrl_c(running, pending), announced({d: sorted(r) for d, r in to_train.items()}):
        report_sweep(bar, jobs, ended_well, outcomes, [], None)  # the runs settled already, counted by status
        eta_s = None

        def ready(job: Job) -> bool:  # every job it waits for ended well
            return all(id(a) in ended_well for a in job.after)

        while pending or running:
            running_before = len(running)
            for job in pending[:]:
                failed = next((a for a in job.after if not waits_well(a, ended_well, outcomes, running, pending)),
                              None)
                if failed is not None:
                    pending.remove(job)
                    if id(job.point) not in outcomes:
                        outcomes[id(job.point)] = cancelled_outcome(job, failed, outcomes)
            for job in [j for j in pending if ready(j)]:
                if id(job.point) in outcomes:  # its run ended in an earlier job (e.g. diverged before its probe step)
                    pending.remove(job)
                    continue
                if not free:
                    break
                pending.remove(job)
                holder = job.point.run.holder()
                if holder is not None:  # another command started it meanwhile
                    outcomes[id(job.point)] = held_outcome(job.point, holder)
                    continue
                slot = free.pop(0)
                try:
                    submitted = start_job(job, options, tasks, slot, threads)
                except (StorageError, OSError) as err:  # its config.yaml, submitit's files, the manifest
                    refused = refused_write(err)
                    if refused is None:
                        raise
                    free.append(slot)
                    pending.clear()  # the runs training go on to their end; none starts
                    break
                running.append((job, submitted, slot))
                times.start(id(job), steps_fraction(job))
            if len(running) > running_before:  # off a terminal, a line naming the runs training now
                report_sweep(bar, jobs, ended_well, outcomes, [e[0] for e in running], eta_s, event=True)
            time.sleep(options.poll_s)
            ended_now = [r for r in running if r[1].done()]
            for entry in ended_now:
                job, submitted, slot = entry
                running.remove(entry)
                free.append(slot)
                ended = end_job(job, submitted, outcomes, ended_well)
                times.end(id(job), timed_work(job), ended.result or {})
                if id(job.point) in outcomes:  # its run ended (stopped at a rung, diverged): its later jobs are done,
                    ended_well.update(id(j) for j in pending  # and its group's next ones (and, as a reference,
                                      if j.point is job.point and j.done())  # a larger group's) wait on them
            eta_s = times.seconds_left([(id(j), timed_work(j), steps_fraction(j)) for j, _, _ in running],
                                       [timed_work(j) for j in pending], options.parallelism)
            if not (ended_now and free and any(ready(j) for j in pending)):
                report_sweep(bar, jobs, ended_well, outcomes, [e[0] for e in running], eta_s)
            # else a job starts at once in the freed slot: its line (event) says both, not two lines 5 ms apart
    if refused is not None:
        raise StorageError(stopped_by_full_disk(refused, outcomes.values(), len(points)))
    interrupted = [o for o in outcomes.values() if (o.result or {}).get("status") == INTERRUPTED]
    if interrupted:
        raise SweepInterrupted(f"{len(interrupted)} run(s) stopped by a signal{saved(interrupted)}: "
                               f"{where_stopped(interrupted)}; re-run the same command to resume them")
    return [outcomes[id(p)] for p in points]


def refused_write(err: Exception) -> str | None:
    """What a write refused by the file system says (a full disk: a StorageError, or an OSError of
    DISK_ERRNOS from submitit's own files), less its advice; None for another error."""
    said = str(err) if isinstance(err, StorageError) else output_failed(err) if isinstance(err, OSError) else None
    return None if said is None else said.split(". Free space")[0]


def stopped_by_full_disk(refused: str, outcomes: Any, n_points: int) -> str:
    """The one line that ends a sweep whose next run's files could not be written: why, what ended
    (kept as it is) and what is left, and how to go on."""
    ended = list(outcomes)
    done = describe_runs(ended, []) if ended else "none"
    return (f"{refused}. The sweep started no more runs: runs ended: {done} (kept as they are); "
            f"{n_points - len(ended)} of {n_points} left to train. Free space and re-run the same command: "
            "it goes on from there (a run resumes from its last checkpoint)")


def saved(interrupted: Sequence[Outcome]) -> str:
    """', each with its checkpoint saved' unless one ended before it could save."""
    return "" if any((o.result or {}).get("signalled") for o in interrupted) else ", each with its checkpoint saved"


def where_stopped(interrupted: Sequence[Outcome], names_shown: int = 3) -> str:
    """'NAME (step 12), NAME (before its first step) and 2 more'."""
    parts = [f"{o.point.run.path.name} ({stopped_at(o.result or {})})" for o in interrupted[:names_shown]]
    return ", ".join(parts) + (f" and {len(interrupted) - names_shown} more" if len(interrupted) > names_shown else "")


def stopped_at(result: dict[str, Any]) -> str:
    """Where an interrupted run stopped: its step, before its first step, or, for a process that wrote
    no result (job_outcome), that and its log."""
    if result.get("signalled"):
        log_file = f": {result['log']}" if result.get("log") else ", before its log was opened"
        free = result.get("free_bytes")
        if free is not None and free < NEARLY_FULL_BYTES:  # its result, submitit's and its log all refused
            return (f"ended without a result, with {describe_bytes(free)} free on its disk: a full disk? (free space; "
                    f"its log may be cut{log_file})")
        return f"ended by a signal or a crash before it wrote a result{log_file}"
    return "before its first step" if result.get("step") is None else f"step {result['step']}"


@contextlib.contextmanager
def stopping_on_ctrl_c(running: list[tuple[Job, Any, list[int]]], pending: list[Job]) -> Any:
    """Ctrl-C while runs train: start no more jobs, send each running job SIGTERM (its controller
    passes it to the run, which saves its checkpoint at the end of its step), wait for them, and say
    how each ended; a second Ctrl-C stops waiting (the runs still save)."""
    try:
        yield
    except KeyboardInterrupt:
        pending.clear()
        names = ", ".join(dict.fromkeys(job.point.run.path.name for job, _, _ in running))
        log.warning("Ctrl-C: stopping %d running run(s) at the end of their step, each saving its checkpoint%s",
                    len(running), f": {names}" if names else "")
        for _, submitted, _ in running:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(submitted.job_id), signal.SIGTERM)
        try:
            while any(not submitted.done() for _, submitted, _ in running):
                time.sleep(0.2)
        except KeyboardInterrupt:
            raise SweepInterrupted("stopped waiting: the runs stopped by Ctrl-C save their checkpoints on their own; "
                                   "re-run the same command to resume them") from None
        ended = [job_outcome(job.point, submitted) for job, submitted, _ in running]
        stopped = [o for o in ended if (o.result or {}).get("status") == INTERRUPTED]
        finished = [o for o in ended if (o.result or {}).get("status") != INTERRUPTED]
        also = f"; {len(finished)} ended before it could stop: " + ", ".join(
            f"{o.point.run.path.name} ({(o.result or {}).get('status', 'failed')})" for o in finished) if finished else ""
        raise SweepInterrupted(f"Ctrl-C: {len(stopped)} run(s) stopped{saved(stopped)}"
                               f"{': ' + where_stopped(stopped) if stopped else ''}{also}; re-run the same command "
                               "to go on") from None


def job_outcome(point: GridPoint, submitted: Any) -> Outcome:
    """How a job that has ended ended: rank 0's result; a run's own failure, with the job's traceback
    (submitit pickles what a run raises); or, where the process wrote no result at all (a SIGTERM or
    Ctrl-C in its first seconds, before its handlers are set; the OOM killer; a crash of the
    interpreter), `interrupted` at once, not submitit's UncompletedJobError after 15 s: running the
    sweep again resumes the run from its last checkpoint, if it kept one."""
    if not submitted.paths.result_pickle.exists():
        left = failure_left_by(point, submitted)
        if left is not None:
            return left
        log_file = Path(submitted.paths.stdout)
        return Outcome(point, {"status": INTERRUPTED, "signalled": True,
                               "log": str(log_file) if log_file.exists() else None,
                               "free_bytes": free_bytes(point.run.path)}, None)
    try:
        return Outcome(point, submitted.results()[0], None)  # rank 0 wrote it
    except Exception as err:  # noqa: BLE001 (the run's own failure, named by its log and `sweep status`)
        outcome = Outcome(point, point.run.read_result(), user_error_in(err))
        if isinstance(outcome.error, ConfigError):
            return outcome
        return dataclasses.replace(outcome, error=run_failed(outcome, str(submitted.paths.stdout)))


def failure_left_by(point: GridPoint, submitted: Any) -> Outcome | None:
    """How a job that left no result pickle ended, where its run says so: submitit writes the pickle
    beside the job's log, most often on the run's disk, so a full disk loses it after the run's own
    error (which read `interrupted`, its reason lost). The run's result.json written since the job
    was submitted (a failure: its error, one line where it is a user's; an end: as it is), else a
    user's error (a full disk's StorageError) last in the job's log; None where neither says (a
    signal or a kill before the run wrote anything)."""
    result = result_since(point.run, Path(submitted.paths.submitted_pickle))
    failure = None if result is None else result.get("resume_failed") or (
        result if result.get("status") == FAILED else None)
    if result is not None and failure is None:
        return Outcome(point, result, None)
    tail = b"\n".join(tail_lines(submitted.paths.stdout)).decode(errors="replace")
    said = user_error_in(Exception(f"{(failure or {}).get('traceback') or ''}\n{tail}"))
    if isinstance(said, ConfigError):
        return Outcome(point, result, said)
    if failure is None:
        return None
    error = Exception(failure.get("traceback") or failure.get("error") or "failed")
    return Outcome(point, result, run_failed(Outcome(point, result, error), str(submitted.paths.stdout)))


def result_since(run: RunDir, submitted_pickle: Path) -> dict[str, Any] | None:
    """The run's result.json where it was written after the job's submission (not an earlier
    attempt's), else None; None too where it cannot be read (its damage is said where it is read)."""
    try:
        if run.result_file.stat().st_mtime < submitted_pickle.stat().st_mtime:
            return None
        return run.read_result()
    except (OSError, DamagedFile):
        return None


def waits_well(after: Job, ended_well: set[int], outcomes: dict[int, Outcome], running: Sequence[tuple],
               pending: Sequence[Job]) -> bool:
    """Whether a job's dependency has ended well, or still may: it is running or waiting to run."""
    return (id(after) in ended_well or any(r[0] is after for r in running)
            or (after in pending and id(after.point) not in outcomes))


def start_job(job: Job, options: LocalOptions, tasks: int, slot: list[int], threads: int | None = None) -> Any:
    """Start one job in its own process on `slot`'s GPUs, at `threads` torch threads (None: torch's
    default); its manifest entry names it."""
    point = job.point
    point.run.write_config(point.cfg)
    executor = submitit.LocalExecutor(folder=options.folder, max_num_timeout=0)
    executor.update_parameters(timeout_min=options.timeout_min, tasks_per_node=tasks,
                               gpus_per_node=len(slot), visible_gpus=slot, stderr_to_stdout=True)
    with sigint_ignored():  # the terminal's Ctrl-C is the launcher's to pass on (stopping_on_ctrl_c)
        submitted = executor.submit(TrainJob(point.cfg, until_step=job.until_step, group=job.group, rung=job.rung,
                                             threads=threads))
    entry = {"run": point.run.path.name, "path": str(point.run.path), "job_id": str(submitted.job_id),
             "bucket": LOCAL_BUCKET, "log": str(submitted.paths.stdout)}
    if job.kind in PARTIAL:
        entry[job.kind] = job.last_step
    append_manifest(Path(point.cfg.out_dir), [entry])
    log.info("started %s (pid %s%s)", job.label, submitted.job_id, f", GPUs {slot}" if slot else "")
    return submitted


@contextlib.contextmanager
def sigint_ignored() -> Any:
    """SIGINT ignored while a job's processes start, which inherit it: a Ctrl-C in the terminal
    then reaches only this launcher, not submitit's controller (which would kill the run a second
    later, before its checkpoint) nor the run."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def user_error_in(err: Exception) -> Exception:
    """A job's failure as the ConfigError its run raised (a damaged checkpoint or token cache: one
    line to the user, its traceback in the run's log), else as it is. submitit hands the run's
    error back as text, in a FailedJobError holding the whole trace."""
    raised = re.findall(r"^sweep\.errors\.(?:ConfigError|DamagedFile|StorageError): (.+)$", str(err), re.M)
    return ConfigError(raised[-1]) if raised else err


def end_job(job: Job, submitted: Any, outcomes: dict[int, Outcome], ended_well: set[int]) -> Outcome:
    """Record how a job ended, and return it: a segment that kept its checkpoint, or a probe past
    its probe step, has ended well (its run's outcome waits for the run's end, unless it ended
    there); any other job ends its point."""
    point = job.point
    outcome = job_outcome(point, submitted)
    if job.kind in PARTIAL and outcome.error is None and job.done():
        ended_well.add(id(job))
        if job.until_step is not None and not is_settled(point.cfg, point.state()):
            log.info("%s: %s done (log %s)", job.label, job.kind, submitted.paths.stdout)
            return outcome
    elif job.kind not in PARTIAL and outcome.error is None:
        ended_well.add(id(job))
    outcomes[id(point)] = outcome
    log.info("%s: %s (log %s)", job.label, how_it_ended(outcome.result or {}), submitted.paths.stdout)
    return outcome


def how_it_ended(result: dict[str, Any]) -> str:
    """A run's end for its launcher line: `complete, eval loss 5.7285` (4 decimals, as the training
    log and `sweep status` print it), `interrupted, at step 130`, or the status alone."""
    status, loss = result.get("status", "failed"), result.get("final_eval_loss")
    what = f"eval loss {loss:.4f}" if loss is not None else f"at step {result['step']}" if "step" in result else ""
    if result.get("signalled"):  # no result of its own: a kill, or a full disk (said here, not only at the end)
        what = stopped_at(result)
    return status + (f", {what}" if what else "")


def cancelled_outcome(job: Job, failed: Job, outcomes: dict[int, Outcome]) -> Outcome:
    """A job not run because a job it waits for (`failed`) did not end well."""
    ended = (outcomes.get(id(failed.point)) or Outcome(failed.point, None, None)).result or {}
    if ended.get("status") == HELD:
        how, then = f"is training in another process ({describe_holder(ended['held_by'])})", "once it has ended"
    elif ended.get("status") == INTERRUPTED:
        saved_or_not = "it resumes from its last checkpoint, if it kept one" if ended.get("signalled") else \
            "its checkpoint is saved"
        how, then = f"was interrupted ({saved_or_not})", ""
    else:
        how, then = "did not end well", ""
    # the run, not the segment waited for: [56 -> 112] "was interrupted" when [0 -> 56] was, and it never started
    waited = failed.label if failed.point is job.point or not ended else failed.point.run.path.name
    reason = f"not run: {waited} {how}; running the sweep again{f' {then}' if then else ''} runs it"
    log.warning("%s: cancelled: %s", job.label, reason)
    return Outcome(job.point, {"status": CANCELLED, "error": reason}, None)


def report_sweep(bar: Any, jobs: Sequence[Job], ended_well: set[int], outcomes: dict[int, Outcome],
                 running: Sequence[Job], eta_s: float | None = None, event: bool = False) -> None:
    """The bar's runs ended out of all, the counts by outcome and the runs training now; its ETA
    `eta_s` (launch/eta.py, once a job has ended; None: the last one given, counted down), before
    that from the FLOPs of the jobs' own steps (a ladder's segments and branches, an early-stopped
    run's probe and rest, each counted once): those of the jobs ended (or of runs ended, not to be
    run), and of each running job the part of its steps its run's metrics.jsonl has reached.
    `event` (a job started): off a terminal, a line now."""
    active = {id(j) for j in running}
    total = sum(j.flops for j in jobs)
    done = sum(j.flops for j in jobs
               if id(j) not in active and (id(j) in ended_well or id(j.point) in outcomes))
    for job in running:
        done += job.flops * steps_fraction(job)
    points = list({id(j.point): j.point for j in running}.values())
    ended = sum((o.result or {}).get("status") != HELD for o in outcomes.values())  # a held run trains on elsewhere
    bar.update(done=ended, info=describe_runs(outcomes.values(), points), work=(done, total), eta_s=eta_s,
               event=event)


def timed_work(job: Job) -> JobWork:
    """What a job's time is modelled on (launch/eta.py): its steps, and the FLOPs of its steps and
    of its evals."""
    cfg = job.point.cfg
    return JobWork(job.last_step - job.first_step, job.flops + eval_flops(
        job.point.budget.n_params, cfg.data.eval_tokens, job.first_step, job.last_step, cfg.train.eval_every))


def steps_fraction(job: Job) -> float:
    """The part of a running job's steps its run's metrics.jsonl has reached (0 to 1)."""
    steps = max(1, job.last_step - job.first_step)
    return min(1.0, max(0.0, (last_step(job.point.run.metrics_file) - job.first_step) / steps))


def describe_runs(outcomes: Any, running: Sequence[GridPoint], names_shown: int = 3) -> str:
    """'2 complete, 1 failed, 1 stopped_early, 2 running: d16-..., d32-...' (running names: the
    first few)."""
    counts = Counter(_outcome_status(o) for o in outcomes)
    held = counts.pop(HELD, 0)  # held by another process: ended here, training there
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    if held:
        parts.append(f"{held} training in another process")
    if running:
        names = [p.run.path.name for p in running]
        more = f" +{len(names) - names_shown}" if len(names) > names_shown else ""
        parts.append(f"{len(running)} running: {', '.join(names[:names_shown])}{more}")
    return ", ".join(parts)


def _outcome_status(outcome: Outcome) -> str:
    """An outcome's status as the progress line counts it: a damaged run was skipped, not failed."""
    if outcome.error is not None and not outcome.result:
        return "damaged" if isinstance(outcome.error, DamagedFile) else "failed"
    return (outcome.result or {}).get("status", "failed")


def held_outcome(point: GridPoint, holder: dict[str, Any]) -> Outcome:
    """A run another live process trains (sweep/rundir.py RunDir.hold): not started here."""
    log.info("%s: held by %s: not started", point.run.path.name, describe_holder(holder))
    return Outcome(point, {"status": HELD, "held_by": holder}, None)
