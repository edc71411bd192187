"""Where a job is submitted: `submit_grid` turns validated grid points into submitit job arrays.

    plan_slurm  a validated grid's jobs (launch/jobs.py: a plain run is one job, a ladder its trunk
                segments and branches, an early-stopped group its probes and rests): estimate
                GPU-hours, pick a bucket, read state (plan_grid: compose + validate the points
                first; plan_local: a plan without Slurm)
    print_plan  the dry-run table (one row per job, plus totals; with ladders, the same grid's
                cost as cosine runs from scratch and the saving; with early stopping, the grid's
                cost with every run to its end and the most early stopping can save)
    submit_grid skip finished and queued jobs, then one job array per bucket and dependency set
                (split at the cluster's MaxArraySize; a job waiting for others gets
                `--dependency=afterok:<id>:<id>... --kill-on-invalid-dep=yes`), and the sweep manifest
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import submitit
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from launch.grid import GridPoint, build_grid, data_problems
from launch.job import TrainJob
from launch.jobs import BRANCH, PARTIAL, PROBE, REST, RUN, SEGMENT, Job, job_plan
from launch.launcher_names import aliased_value, check_whole_numbers
from launch.queue import (ACTIVE_STATES, RUNNING_STATES, NodeRequest, Partitions, append_manifest, job_states,
                          latest_job_entries, max_array_size, memory_mb, slurm_job_ids, slurm_partitions)
from launch.resources import Bucket, check_attempts, check_signal_delay, estimate_gpu_hours, pick_bucket
from sweep.config import Schedule
from sweep.early_stop import early_stopped_groups, is_settled, probe_step, records_at_last_decision
from sweep.fit.curve_law import MIN_POINTS as CURVE_MIN_POINTS
from sweep.errors import ConfigError
from sweep.preflight import check_writable_dir
from sweep.record import COMPLETE, DAMAGED, FINISHED
from sweep.rundir import WSD_ONLY

log = logging.getLogger("sweep.launch")

# hydra.launcher.* counts, each a whole number at least this (check_values); the second set may be null
WHOLE_OPTIONS = {"gpus_per_node": 0, "cpus_per_task": 1, "nodes": 1, "array_parallelism": 1, "max_requeues": 0}
NULLABLE_WHOLE_OPTIONS = {"tasks_per_node": 1, "cpus_per_gpu": 1, "gpus_per_task": 1, "max_array_size": 1,
                          "max_num_timeout": 0, "timeout_min": 1}
TEXT_OPTIONS = ("partition", "account", "qos", "constraint", "exclude", "gres", "comment", "name", "mem_per_gpu",
                "mem_per_cpu")  # sbatch's words: a string or null (a list reached sbatch as its Python repr)
SLURM_MEMORY = re.compile(r"\d+([KMGT]B?)?", re.IGNORECASE)  # --mem-per-gpu / --mem-per-cpu: 8G, 80g, 4096M, 16000
GRES_ITEM = re.compile(r"[A-Za-z_][\w.-]*(:[\w.-]+)?(:\d+)?")  # name[:type][:count]: gpu, gpu:2, gpu:a100:2
BUCKET_KEYS = {"name", "max_hours", "time_min"}  # every bucket's; gpus_per_node may be added


@dataclass
class SlurmOptions:
    """`hydra.launcher.*` of conf/hydra/launcher/slurm.yaml (the defaults live there); with
    hydra-submitit-launcher's names of some options (`with_aliases` resolves them)."""

    folder: str  # submitit's job files and logs
    dry_run: bool
    partition: str | None
    account: str | None
    qos: str | None
    constraint: str | None
    exclude: str | None
    gres: str | None  # a GPU count there is every job's GPU count
    comment: str | None
    mem_per_gpu: str | None  # replaces mem_gb
    mem_per_cpu: str | None  # replaces mem_gb
    cpus_per_gpu: int | None  # replaces cpus_per_task
    gpus_per_task: int | None
    srun_args: list[str] | None
    name: str | None  # job name; None: sweep-<bucket>
    stderr_to_stdout: bool
    gpus_per_node: int
    cpus_per_task: int
    mem_gb: float | None
    nodes: int
    tasks_per_node: int | None  # null: one task per GPU
    setup: list[str]
    additional_parameters: dict[str, Any]
    array_parallelism: int
    max_requeues: int
    signal_delay_s: int
    assumed_mfu: float
    device: str  # key of model.PEAK_FLOPS_BF16
    max_array_size: int | None  # null: read MaxArraySize from the cluster
    submitit_folder: str | None  # hydra-submitit-launcher's name for folder
    max_num_timeout: int | None  # hydra-submitit-launcher's name for max_requeues
    timeout_min: int | None  # hydra-submitit-launcher's single time limit: one bucket for all runs
    buckets: list[dict[str, Any]] = field(default_factory=list)

    def setup_lines(self) -> list[str]:
        """`setup` as the batch script runs it: under `set -e`, so that a line that fails (a
        `module load` of a missing module, a `source` of a missing venv) ends the job there, its
        error the log's last words, instead of the job going on to fail later on a missing
        interpreter or library; `set +e` after it leaves submitit's own lines as they were."""
        return ["set -e", *self.setup, "set +e"] if self.setup else []

    def with_aliases(self, given: set[str]) -> "SlurmOptions":
        """The options once hydra-submitit-launcher's names are resolved (`given`: the options set
        away from their defaults, launch/launcher_names.py given_options): `submitit_folder` is
        `folder`, `max_num_timeout` is `max_requeues`; `timeout_min` makes one bucket, named
        `timeout_min`, that every run goes to (a run longer than one attempt continues over
        requeues, within max_requeues); a GPU count in `gres` is `gpus_per_node`. ConfigError
        where an alias and ours disagree."""
        self.check_values()
        self = dataclasses.replace(self, **{key: str(getattr(self, key)) for key in TEXT_OPTIONS  # sbatch's text
                                            if isinstance(getattr(self, key), int)})
        changes: dict[str, Any] = {"folder": aliased_value(self, "submitit_folder", "folder", given),
                                   "max_requeues": aliased_value(self, "max_num_timeout", "max_requeues", given)}
        if self.timeout_min is not None:
            if "buckets" in given:
                raise ConfigError(f"hydra.launcher.timeout_min={self.timeout_min} and hydra.launcher.buckets "
                                  "are both given: timeout_min is one bucket for every run; give one of them")
            changes["buckets"] = [{"name": "timeout_min", "max_hours": 0, "time_min": self.timeout_min}]
        gpus = gres_gpus(self.gres)
        if gpus is not None:
            if "gpus_per_node" in given and self.gpus_per_node != gpus:
                raise ConfigError(f"hydra.launcher.gres={self.gres} asks for {gpus} GPUs per node but "
                                  f"hydra.launcher.gpus_per_node={self.gpus_per_node}: give one of them")
            changes["gpus_per_node"] = gpus
            for bucket in changes.get("buckets", self.buckets):
                if bucket.get("gpus_per_node", gpus) != gpus:
                    raise ConfigError(f"hydra.launcher.gres={self.gres} asks for {gpus} GPUs per node but bucket "
                                      f"{bucket['name']!r} has gpus_per_node={bucket['gpus_per_node']}")
        # Slurm takes one memory option and one CPU option: the more specific replaces ours,
        # unless ours was given too
        memory = [f"{key}={getattr(self, key)}" for key in ("mem_per_gpu", "mem_per_cpu")
                  if getattr(self, key) is not None]
        if memory and "mem_gb" in given and self.mem_gb is not None:  # mem_gb=null: no --mem
            memory.insert(0, f"mem_gb={self.mem_gb}")
        if len(memory) > 1:
            raise ConfigError(f"hydra.launcher.{' and hydra.launcher.'.join(memory)}: Slurm takes one of them")
        if self.cpus_per_gpu is not None and "cpus_per_task" in given:
            raise ConfigError(f"hydra.launcher.cpus_per_gpu={self.cpus_per_gpu} and hydra.launcher.cpus_per_task="
                              f"{self.cpus_per_task}: Slurm takes one of them")
        # submitit writes each array's job files there before sbatch: /proc/x was its traceback, after the plan
        check_writable_dir("hydra.launcher.folder", changes["folder"])
        return dataclasses.replace(self, **changes)

    def check_values(self) -> None:
        """ConfigError for a count or size that is not a number of the kind it must be, or a bucket
        without its keys (Hydra does not type a launcher's options: `mem_gb=lots` reached sbatch)."""
        check_whole_numbers(self, WHOLE_OPTIONS)
        check_whole_numbers(self, NULLABLE_WHOLE_OPTIONS, or_null="the default")
        for key in TEXT_OPTIONS:  # a number is sbatch's text too (mem_per_cpu=4096, account=12345)
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
                raise ConfigError(f"hydra.launcher.{key}={value!r}: accepted is text (sbatch's value, e.g. "
                                  f"a comma-separated list, quoted on the command line), or null")
        for key in ("mem_per_gpu", "mem_per_cpu"):
            if getattr(self, key) is not None and not SLURM_MEMORY.fullmatch(str(getattr(self, key))):
                raise ConfigError(f"hydra.launcher.{key}={getattr(self, key)!r}: accepted is a size as sbatch takes it "
                                  "(8G, 4096M, 16000), or null")
        if self.gres is not None and not all(GRES_ITEM.fullmatch(item.strip()) for item in str(self.gres).split(",")):
            raise ConfigError(f"hydra.launcher.gres={self.gres!r}: accepted is sbatch's --gres, name[:type][:count] "
                              "items joined by commas (gpu:2, gpu:a100:2), or null")
        for key, kind, what in (("stderr_to_stdout", bool, "true or false"), ("dry_run", bool, "true or false"),
                                ("setup", list, "a list of shell lines"),
                                ("additional_parameters", dict, "a mapping of sbatch options to values"),
                                ("srun_args", (list, type(None)), "a list of srun arguments, or null")):
            value = getattr(self, key)
            if not isinstance(value, kind) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
                raise ConfigError(f"hydra.launcher.{key}={value!r}: accepted is {what}")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, (int, float))
                                        or not self.mem_gb > 0):
            raise ConfigError(f"hydra.launcher.mem_gb={self.mem_gb!r}: accepted is a number of GiB > 0, or null "
                              "(mem_per_gpu / mem_per_cpu, or the partition's default)")
        for bucket in self.buckets:
            keys = set(bucket) if isinstance(bucket, dict) else set()
            if not BUCKET_KEYS <= keys or keys - BUCKET_KEYS - {"gpus_per_node"} or not all(
                    isinstance(bucket[k], (int, float)) and not isinstance(bucket[k], bool)
                    for k in keys - {"name"}):
                raise ConfigError(f"hydra.launcher.buckets: {bucket!r}: each bucket is {{name, max_hours, time_min}} "
                                  "(+ gpus_per_node), numbers but the name, e.g. {name: small, max_hours: 1, "
                                  "time_min: 90}")
        check_bucket_values(self.buckets)

    def tasks_per_job(self, bucket: Bucket) -> int:
        """Tasks per node: one per GPU (DDP ranks), unless set."""
        return self.tasks_per_node or max(1, bucket.gpus_per_node)

    def bucket_specs(self) -> list[Bucket]:
        return [Bucket(name=b["name"], max_hours=float(b["max_hours"]), time_min=int(b["time_min"]),
                       gpus_per_node=int(b.get("gpus_per_node", self.gpus_per_node))) for b in self.buckets]


@dataclass(frozen=True)
class NodeAsk:
    """What one setting asks of each node of a job (of its partition, for `nodes`): `amount` of
    `resource` (a launch.queue.NodeRequest field: nodes, cpus, mem_mb, gpus), the setting's value
    times `per` (`per_what`: tasks per node, GPUs per node, CPUs per node) times `mb_per_unit`."""

    setting: str  # as given: "hydra.launcher.cpus_per_task=999", "bucket 'big' has gpus_per_node=8"
    resource: str
    amount: float
    per: int = 1
    per_what: str = ""
    mb_per_unit: float = 1  # memory: MB per unit of the setting's value (mem_gb: 1024)


def check_partition(partition: str | None, asks: Sequence[NodeAsk] = (),
                    partitions: Callable[[], Partitions | None] = slurm_partitions) -> None:
    """ConfigError for a partition (or one of a comma-separated list, as sbatch takes it) the
    cluster does not have, or for a request (`asks`) more than any node of it holds (nodes: more
    than it has), before anything is written: sbatch refused the one after the sweep's files were,
    and took the other, to pend forever (PartitionConfig). No partition given: the cluster's
    default (sinfo's `*`). One sinfo call, none when there is neither a partition nor a request;
    nothing refused where Slurm does not say (no sinfo, a line it does not read, unknown memory)."""
    if partition is None and not asks:
        return
    known = partitions()
    if known is None:
        return
    names = [name.strip() for name in str(partition).split(",")] if partition is not None else [known.default]
    unknown = [name for name in names if partition is not None and name not in known.nodes]
    if unknown:
        raise ConfigError(f"hydra.launcher.partition={partition}: the cluster has no partition "
                          f"{', '.join(map(repr, unknown))}; accepted: {', '.join(known.nodes)} (sinfo)")
    held = most_held([known.nodes.get(name) for name in names if name is not None])
    where = (f"the partition {names[0]!r}{' (the default)' * (partition is None)} has" if len(names) == 1
             else f"the partitions {', '.join(map(repr, names))} have")
    for ask in asks:
        if held is not None and getattr(held, ask.resource) is not None and ask.amount > getattr(held, ask.resource):
            raise ConfigError(unheld(ask, held, where))


def most_held(held: Sequence[NodeRequest | None]) -> NodeRequest | None:
    """The most any node of several partitions holds of each (sbatch takes the first partition of
    a list that can run the job); None where one of them is not known."""
    known = [h for h in held if h is not None]
    if not known or len(known) < len(held):
        return None
    mems = [h.mem_mb for h in known]
    return NodeRequest(max(h.nodes for h in known), max(h.cpus for h in known),
                       max(m for m in mems if m is not None) if None not in mems else None, max(h.gpus for h in known))


def unheld(ask: NodeAsk, held: NodeRequest, where: str) -> str:
    """'hydra.launcher.cpus_per_task=999: the partition 'debug' has at most 2 CPUs per node
    (sinfo); accepted: 1..2', for an ask past what `held` holds."""
    given = ask.setting + (f" (x {ask.per} {ask.per_what})" if ask.per > 1 else "")
    if ask.resource == "nodes":
        return f"{given}: {where} {held.nodes} node{'s' * (held.nodes != 1)} (sinfo); accepted: 1..{held.nodes}"
    if ask.resource == "mem_mb":
        most = held.mem_mb / ask.per / ask.mb_per_unit
        accepted = f"up to {math.floor(most * 10) / 10:g} (GiB), or null" if ask.mb_per_unit == 1024 else \
            f"up to {math.floor(most)}M"
        return (f"{given}: {where} at most {held.mem_mb / 1024:.3g} GiB of memory per node (sinfo); "
                f"accepted: {accepted}")
    has, least, what = (held.cpus, 1, "CPU") if ask.resource == "cpus" else (held.gpus, 0, "GPU")
    most = has // ask.per
    accepted = f"{least}..{most}" if most >= least else f"none with {ask.per} {ask.per_what} (fewer of them)"
    return f"{given}: {where} at most {has} {what}{'s' * (has != 1)} per node (sinfo); accepted: {accepted}"


def node_asks(options: SlurmOptions, buckets: Sequence[Bucket]) -> list[NodeAsk]:
    """What the jobs of `buckets` ask of their partition and its nodes, setting by setting: sbatch's
    --nodes, then each bucket's GPUs, --cpus-per-task (or --cpus-per-gpu) and --mem (or
    --mem-per-gpu / --mem-per-cpu), as `slurm_executor` passes them."""
    asks = [NodeAsk(f"hydra.launcher.nodes={options.nodes}", "nodes", options.nodes)]
    for bucket in buckets:
        asks += bucket_asks(options, bucket)
    return asks


def bucket_asks(options: SlurmOptions, bucket: Bucket) -> list[NodeAsk]:
    """What each job of one bucket asks of a node: GPUs, CPUs, memory."""
    gpus, tasks = bucket.gpus_per_node, options.tasks_per_job(bucket)
    if gres_gpus(options.gres) is not None:
        gpu_setting = f"hydra.launcher.gres={options.gres}"
    elif gpus != options.gpus_per_node:
        gpu_setting = f"hydra.launcher.buckets: bucket {bucket.name!r} has gpus_per_node={gpus}"
    else:
        gpu_setting = f"hydra.launcher.gpus_per_node={gpus}"
    asks = [NodeAsk(gpu_setting, "gpus", gpus)]
    if options.cpus_per_gpu is None:
        cpus = options.cpus_per_task * tasks
        asks.append(NodeAsk(f"hydra.launcher.cpus_per_task={options.cpus_per_task}", "cpus", cpus, tasks,
                            "tasks per node"))
    else:
        cpus = options.cpus_per_gpu * gpus  # no GPU: none asked this way
        asks.append(NodeAsk(f"hydra.launcher.cpus_per_gpu={options.cpus_per_gpu}", "cpus", cpus, gpus,
                            "GPUs per node"))
    for key, per, per_what in (("mem_per_gpu", gpus, "GPUs per node"), ("mem_per_cpu", cpus, "CPUs per node")):
        value = getattr(options, key)
        mb = None if value is None else memory_mb(str(value))
        if mb is not None and per:
            asks.append(NodeAsk(f"hydra.launcher.{key}={value}", "mem_mb", mb * per, per, per_what))
    if options.mem_per_gpu is None and options.mem_per_cpu is None and options.mem_gb is not None:
        asks.append(NodeAsk(f"hydra.launcher.mem_gb={options.mem_gb}", "mem_mb", options.mem_gb * 1024,
                            mb_per_unit=1024))
    return asks


def check_planned_requests(planned: Sequence[PlannedRun], options: SlurmOptions,
                           partitions: Callable[[], Partitions | None] = slurm_partitions) -> None:
    """check_partition of the options' partition with what the planned jobs' buckets ask of it (a
    bucket no job goes to asks nothing)."""
    buckets = list({p.bucket.name: p.bucket for p in planned}.values())
    check_partition(options.partition, node_asks(options, buckets), partitions)


def check_bucket_values(buckets: Sequence[dict[str, Any]]) -> None:
    """ConfigError for a bucket whose max_hours is not a finite number >= 0, whose time_min or
    gpus_per_node is not a whole number (>= 1, >= 0), whose name another bucket has, or whose
    max_hours does not exceed the one before it (a run goes to the first bucket that covers it:
    a later bucket with less would never get one)."""
    for bucket in buckets:
        hours = bucket["max_hours"]
        if not (math.isfinite(hours) and hours >= 0):
            raise ConfigError(f"hydra.launcher.buckets: bucket {bucket['name']!r} has max_hours={hours}: accepted is "
                              "a finite number of GPU-hours >= 0 (the largest estimate of a run it takes)")
        for key, least in (("time_min", 1), ("gpus_per_node", 0)):
            value = bucket.get(key, least)
            if not (math.isfinite(value) and value == int(value) and value >= least):
                raise ConfigError(f"hydra.launcher.buckets: bucket {bucket['name']!r} has {key}={value}: accepted "
                                  f"is a whole number >= {least}")
    names = [bucket["name"] for bucket in buckets]
    twice = sorted({repr(name) for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"hydra.launcher.buckets: the name {', '.join(twice)} is given to more than one bucket: "
                          "accepted is a name of its own for each (each bucket is its own job array)")
    for before, after in zip(buckets, buckets[1:]):
        if not after["max_hours"] > before["max_hours"]:
            raise ConfigError(
                f"hydra.launcher.buckets: bucket {after['name']!r} (max_hours={after['max_hours']}) comes after "
                f"{before['name']!r} (max_hours={before['max_hours']}): max_hours must increase from one bucket to "
                "the next (a run goes to the first bucket whose max_hours covers it); list them by max_hours")


@dataclass
class PlannedRun:
    """One planned job (launch/jobs.py Job): a plain run, a ladder's branch or trunk segment, an
    early-stopped run's probe or rest."""

    job: Job
    gpu_hours: float | None  # of the job's own steps; None when run locally
    bucket: Bucket | None
    state: str  # complete | diverged | failed | started | pending | queued | running (a live job or holder) | damaged
    job_id: str | None = None
    job_bucket: str | None = None  # the bucket its live job was submitted to
    run_gpu_hours: float | None = None  # of its point trained as a run from scratch (all S steps)

    @property
    def point(self) -> GridPoint:
        return self.job.point

    @property
    def to_submit(self) -> bool:
        """Neither settled (finished, or stopped early while early stopping is on), held by a live
        job or process, nor damaged."""
        return not is_settled(self.point.cfg, self.state) and self.state not in ("queued", "running", DAMAGED)


def job_state(job: Job) -> str:
    """A trunk segment is complete once the trunk kept its checkpoint there, a probe once its run
    is past its probe step; otherwise, and for every other job, its run's state."""
    if job.kind in PARTIAL and job.done():
        return COMPLETE
    return job.point.state()


def plan_grid(points: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig],
              options: SlurmOptions, slurm_states: bool = True) -> list[PlannedRun]:
    """Compose and validate every point (launch/grid.py build_grid), then plan it for Slurm."""
    return plan_slurm(build_grid(points, compose), options, slurm_states)


def plan_local(grid: Sequence[GridPoint]) -> list[PlannedRun]:
    """A validated grid's jobs planned to run on this machine: no GPU-hour estimate, no bucket."""
    return [PlannedRun(job, None, None, job_state(job)) for job in job_plan(grid)]


def plan_slurm(grid: Sequence[GridPoint], options: SlurmOptions, slurm_states: bool = True) -> list[PlannedRun]:
    """A validated grid's jobs planned for Slurm: each job's estimated GPU-hours (of its own
    steps), bucket and state (`slurm_states`: queued or running from its latest job); one
    ConfigError naming each bucket too short for its longest job's attempts, or every point whose
    batch does not split over its bucket's ranks, before anything is submitted."""
    buckets = options.bucket_specs()
    check_signal_delay(buckets, options.signal_delay_s)
    planned, errors = [], []
    for job in job_plan(grid):
        point = job.point
        run_hours = estimate_gpu_hours(point.cfg, point.budget, options.assumed_mfu, options.device)
        hours = run_hours * job.share
        bucket = pick_bucket(hours, buckets)
        ranks = options.nodes * options.tasks_per_job(bucket)
        if point.cfg.train.batch_size % ranks:
            errors.append(f"  {' '.join(point.overrides)}: train.batch_size={point.cfg.train.batch_size} is "
                          f"not divisible by the {ranks} ranks of bucket {bucket.name!r}")
        planned.append(PlannedRun(job, hours, bucket, job_state(job), run_gpu_hours=run_hours))
    check_attempts([(p.job.label, p.gpu_hours, p.bucket) for p in planned], options.max_requeues, options.nodes)
    if errors:
        raise ConfigError(f"{len(errors)} of {len(planned)} jobs are invalid; nothing was submitted:\n"
                          + "\n".join(dict.fromkeys(errors)))
    if slurm_states:
        _mark_queued(planned)
    return planned


def refresh_states(planned: Sequence[PlannedRun]) -> None:
    """Read each job's state again (run folder, then Slurm): under the submission lock, what
    another command submitted meanwhile is seen."""
    for p in planned:
        p.state, p.job_id, p.job_bucket = job_state(p.job), None, None
    _mark_queued(list(planned))


def _mark_queued(planned: list[PlannedRun]) -> None:
    """Jobs whose latest Slurm job (from each sweep folder's manifest) is still alive are
    `queued`, or `running` once Slurm runs it."""
    latest: dict[tuple[str, int | None], dict] = {}
    for out_dir in {Path(p.point.cfg.out_dir) for p in planned}:
        latest.update(latest_job_entries(out_dir))
    open_jobs = [p for p in planned if not is_settled(p.point.cfg, p.state) and p.job.key in latest]
    states = job_states(slurm_job_ids(latest[p.job.key] for p in open_jobs))
    for p in open_jobs:
        entry = latest[p.job.key]
        if states.get(entry["job_id"]) in ACTIVE_STATES:
            p.state = "running" if states[entry["job_id"]] in RUNNING_STATES else "queued"
            p.job_id, p.job_bucket = entry["job_id"], entry.get("bucket")


def print_plan(planned: Sequence[PlannedRun], console: Console, folders: bool = False) -> None:
    """One row per job (a trunk segment's, branch's, probe's or rest's steps `first -> last`,
    with the FLOPs and GPU-hours of those steps alone; `folders`: and its run folder, as `sweep
    plan` shows it), then the totals; with ladders also the line of `ladder_saving`, with early
    stopping that of `early_stop_saving`."""
    jobs = any(p.job.kind != RUN for p in planned)
    unit = "jobs" if jobs else "runs"
    table = Table(title=f"plan: {len(planned)} {unit}")
    columns = ("d", "l", "batch", "lr", "wd", "N", *(("job",) if jobs else ()), "tokens", "steps", "FLOPs",
               "GPU-h", "bucket", "state", *(("run folder",) if folders else ()))
    for col in columns:
        table.add_column(col, justify="left" if col in ("job", "bucket", "state", "run folder") else "right")
    for p in planned:
        cfg, b, job = p.point.cfg, p.point.budget, p.job
        steps = f"{job.first_step:,} -> {job.last_step:,}" if job.kind != RUN else f"{b.steps:,}"
        kind = ((job.role,) if jobs else ())
        table.add_row(str(cfg.model.d), str(cfg.model.l), str(cfg.train.batch_size), f"{cfg.optim.lr:.2e}",
                      f"{cfg.optim.weight_decay:g}", f"{b.n_params:,}", *kind, f"{b.tokens:,}", steps,
                      f"{job.flops:.2e}", "-" if p.gpu_hours is None else f"{p.gpu_hours:.3g}",
                      p.job_bucket or (p.bucket.name if p.bucket else "local"),
                      p.state + (f" ({p.job_id})" if p.job_id else ""), *((str(p.point.run.path),) if folders else ()))
    console.print(table)
    counts: dict[str, int] = {}
    for p in planned:
        counts[p.state] = counts.get(p.state, 0) + 1
    todo = [p for p in planned if p.to_submit]
    hours = lambda runs: sum(p.gpu_hours or 0.0 for p in runs)  # noqa: E731
    estimated = any(p.gpu_hours is not None for p in planned)  # Slurm's buckets; not this machine's runs
    tokens = sum((p.job.last_step - p.job.first_step) * p.point.budget.tokens_per_step for p in planned)
    console.print(
        f"total: {len(planned)} {unit} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}); "
        f"{tokens:,} tokens, {sum(p.job.flops for p in planned):.3e} FLOPs"
        + (f", {hours(planned):.3g} GPU-hours estimated" if estimated else "")
        + f"; to run: {len(todo)} {unit}" + (f", {hours(todo):.3g} GPU-hours" if estimated else ""))
    for line in plan_notes(planned):
        console.print(line, highlight=False)


def print_not_ready(grid: Sequence[GridPoint], runs_here: bool, console: Console) -> None:
    """After a dry run's plan: what would stop the grid from starting (a corpus not prepared or
    too small, files missing, a folder that cannot be written), as the launch would refuse it,
    so that it can be put right before the launch; the plan itself stands."""
    problems = data_problems(grid, runs_here)
    if problems:
        console.print("not ready to launch (the launch would refuse it, nothing would run):", markup=False)
        for problem in problems:
            console.print(f"  {problem}", markup=False, soft_wrap=True)


def plan_notes(planned: Sequence[PlannedRun]) -> list[str]:
    """The lines under a plan's totals: `ladder_saving` when it has ladders, `early_stop_saving`
    when it has early-stopped groups, `unused_wsd_keys` when a cosine run was given a wsd key,
    `unused_early_stop_keys` when early_stop.* was given without early_stop.enabled=true, and
    `runs_without_a_decision_step` when early stopping is on for runs too short to be decided."""
    kinds = {p.job.kind for p in planned}
    return ([ladder_saving(planned)] if kinds & {SEGMENT, BRANCH} else []) + (
        [early_stop_saving(planned)] if kinds & {PROBE, REST} else []) + unused_wsd_keys(planned) + (
        unused_early_stop_keys(planned) + runs_without_a_decision_step(planned))


WSD_KEYS = tuple(f"optim.{k}" for k in WSD_ONLY if k != "schedule")  # read by optim.schedule=wsd alone


def unused_wsd_keys(planned: Sequence[PlannedRun]) -> list[str]:
    """A note where runs of optim.schedule=cosine were given a wsd key on the command line: it changes
    nothing there (the run is the default's, the same folder), which was said nowhere."""
    shown = overrides_unread(planned, lambda point: point.cfg.optim.schedule is Schedule.cosine,
                             lambda key: key in WSD_KEYS)
    return [f"note: {shown}: read by optim.schedule=wsd alone; with cosine it changes nothing (the run is the "
            "default's); add optim.schedule=wsd for a cooldown"] if shown else []


def unused_early_stop_keys(planned: Sequence[PlannedRun]) -> list[str]:
    """A note where runs without early_stop.enabled=true were given another early_stop key on the
    command line: it changes nothing (`early_stop.fraction=0.9` alone planned plain runs, unsaid)."""
    shown = overrides_unread(planned, lambda point: not point.cfg.early_stop.enabled,
                             lambda key: key.startswith("early_stop.") and key != "early_stop.enabled")
    return [f"note: {shown}: read with early_stop.enabled=true alone; without it every run trains to its end "
            "(add early_stop.enabled=true to early-stop the grid)"] if shown else []


def overrides_unread(planned: Sequence[PlannedRun], unread_at: Callable[[GridPoint], bool],
                     is_key: Callable[[str], bool]) -> str:
    """'KEY=VALUE (2 runs), ...': the command line's overrides of the keys `is_key` names, given to
    points where `unread_at` says nothing reads them; '' where there are none."""
    given: dict[str, int] = {}
    for point in _points(planned):
        if unread_at(point):
            for override in point.overrides:
                override = override.lstrip("+")
                if is_key(override.split("=", 1)[0]):
                    given[override] = given.get(override, 0) + 1
    return ", ".join(f"{o} ({n} run{'s' * (n != 1)})" for o, n in given.items())


def runs_without_a_decision_step(planned: Sequence[PlannedRun]) -> list[str]:
    """A note where runs with early_stop.enabled=true are not early-stopped because their first
    decision step, early_stop.fraction of their steps rounded down to a train.log_every step, is
    step 0 (sweep/early_stop.py decision_steps): they train to their end, early_stop.again_at's
    later decisions too. Was silent: `early_stop.fraction=0.001`, or the demo's 35-step runs logging
    every 10 at the default 0.25, planned plain runs."""
    short = [p for p in _points(planned) if p.cfg.early_stop.enabled and probe_step(p.cfg) is None]
    if not short:
        return []
    steps = sorted({p.budget.steps for p in short})
    every = sorted({p.cfg.train.log_every for p in short})
    fractions = sorted({p.cfg.early_stop.fraction for p in short})
    least = max(p.cfg.train.log_every / p.budget.steps for p in short)
    later = ", early_stop.again_at's decisions dropped too" if any(p.cfg.early_stop.again_at for p in short) else ""
    span = lambda v: f"{v[0]:g}" if len(v) == 1 else f"{v[0]:g}-{v[-1]:g}"  # noqa: E731
    return [f"note: early_stop.enabled=true, but {len(short)} of {len(_points(planned))} runs are not early-stopped: "
            f"early_stop.fraction={span(fractions)} of their {span(steps)} steps falls before their first log step "
            f"(train.log_every={span(every)}), so they train to their end{later}; accepted: a fraction of at least "
            f"train.log_every / steps = {least:.3g}, or a smaller train.log_every"]


def _points(planned: Sequence[PlannedRun]) -> list[GridPoint]:
    """The grid points of a plan, each once (a point may be several jobs)."""
    return list({id(p.point): p.point for p in planned}.values())


@dataclass(frozen=True)
class Totals:
    """The cost of a planned grid, and of the same grid trained as cosine runs from scratch."""

    flops: float
    cosine_flops: float
    gpu_hours: float | None  # None when planned without estimates (locally)
    cosine_gpu_hours: float | None

    @property
    def saving(self) -> float:
        """The fraction of the cosine grid's compute the plan saves."""
        return 1 - self.flops / self.cosine_flops if self.cosine_flops else 0.0


def plan_totals(planned: Sequence[PlannedRun]) -> Totals:
    """FLOPs (and GPU-hours) as planned: each job's own steps, a trunk's segments counted once;
    as cosine runs: each point of the fit (plain run or branch) from scratch, its 6 N T."""
    estimated = all(p.gpu_hours is not None for p in planned)
    points = [p for p in planned if p.job.kind not in PARTIAL]
    return Totals(flops=sum(p.job.flops for p in planned), cosine_flops=sum(p.job.cosine_flops for p in points),
                  gpu_hours=sum(p.gpu_hours for p in planned) if estimated else None,
                  cosine_gpu_hours=sum(p.run_gpu_hours or 0.0 for p in points) if estimated else None)


def ladder_saving(planned: Sequence[PlannedRun]) -> str:
    """'as planned (cooldown branches): 4.70e+15 FLOPs, 1.2 GPU-hours; the same grid as cosine
    runs from scratch: 7.50e+15 FLOPs, 1.9 GPU-hours; saving 37% of the compute'."""
    t = plan_totals(planned)
    hours = lambda h: "" if h is None else f", {h:.3g} GPU-hours"  # noqa: E731
    return (f"as planned (cooldown branches): {t.flops:.3e} FLOPs{hours(t.gpu_hours)}; the same grid as cosine "
            f"runs from scratch: {t.cosine_flops:.3e} FLOPs{hours(t.cosine_gpu_hours)}; saving "
            f"{100 * t.saving:.0f}% of the compute")


@dataclass(frozen=True)
class EarlyStopBound:
    """The cost of a grid's early-stopped groups if every run trains to its end, and the least
    early stopping can make it: in each group only one run (its best, at the least the cheapest
    to finish) trains on past its probe step P."""

    flops: float
    least_flops: float
    gpu_hours: float | None  # None when planned without estimates (locally)
    least_gpu_hours: float | None

    @property
    def saving(self) -> float:
        """The most of the groups' compute early stopping can save (a bound: which runs stop is
        known only once each group is decided)."""
        return 1 - self.least_flops / self.flops if self.flops else 0.0


def early_stop_bound(planned: Sequence[PlannedRun]) -> EarlyStopBound:
    """`EarlyStopBound` of the planned grid's early-stopped groups (sweep/early_stop.py
    early_stopped_groups: finished members too), from each point's planned budget."""
    runs = list({id(p.point): p for p in planned}.values())  # one per point: its GPU-hours from scratch
    estimated = all(p.run_gpu_hours is not None for p in runs)
    full = least = hours = least_hours = 0.0
    for members in early_stopped_groups([p.point.cfg for p in runs]).values():
        costs = []  # (cost to the end, cost to P) of each member, in FLOPs and GPU-hours
        for p in (runs[i] for i in members):
            share = probe_step(p.point.cfg) / p.point.budget.steps
            h = p.run_gpu_hours or 0.0
            costs.append((p.point.budget.flops, p.point.budget.flops * share, h, h * share))
        full += sum(c[0] for c in costs)
        hours += sum(c[2] for c in costs)
        best = min(costs, key=lambda c: c[0] - c[1])  # the best may be any member: at the least the cheapest to finish
        least += sum(c[1] for c in costs) + best[0] - best[1]
        least_hours += sum(c[3] for c in costs) + best[2] - best[3]
    return EarlyStopBound(full, least, hours if estimated else None, least_hours if estimated else None)


def early_stop_saving(planned: Sequence[PlannedRun]) -> str:
    """'early stopping: its groups with every run to its end: 7.500e+15 FLOPs, 1.9 GPU-hours; at
    least 3.000e+15 FLOPs, 0.8 GPU-hours if all but each group's best stop at their probe step:
    saving at most 60% of the compute (a bound: which runs stop is known once each group is
    decided)'."""
    t = early_stop_bound(planned)
    hours = lambda h: "" if h is None else f", {h:.3g} GPU-hours"  # noqa: E731
    line = (f"early stopping: its groups with every run to its end: {t.flops:.3e} FLOPs{hours(t.gpu_hours)}; "
            f"at least {t.least_flops:.3e} FLOPs{hours(t.least_gpu_hours)} if all but each group's best stop at "
            f"their probe step: saving at most {100 * t.saving:.0f}% of the compute (a bound: which runs stop "
            f"is known once each group is decided)")
    runs = [p.point.cfg for p in {id(p.point): p for p in planned if p.job.kind in (PROBE, REST)}.values()]
    records = [n for n in map(records_at_last_decision, runs) if n is not None]
    few = [n for n in records if n < CURVE_MIN_POINTS]
    if few:  # a probe too short to fit: the bound above is not to be had (18 jobs run, nothing stopped)
        held = f"{min(few)}" if min(few) == max(few) else f"{min(few)}-{max(few)}"
        line += (f"; but {len(few)} of {len(records)} runs hold only {held} train-loss record{'s' * (held != '1')} past "
                 f"their warmup at their last decision step, where the curve law needs {CURVE_MIN_POINTS}: they "
                 "cannot be stopped by it (a smaller train.log_every, or a later early_stop.fraction / again_at)")
    return line


def gres_gpus(gres: str | None) -> int | None:
    """The GPU count of an sbatch --gres value (`gpu:2`, `gpu:a100:2`, `gpu` = 1), or None when
    it asks for no GPU."""
    for item in (gres or "").split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu":
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return None


# options passed to submitit's SlurmExecutor under their own name when set
PASSED_AS_IS = ("partition", "account", "qos", "constraint", "exclude", "gres", "comment", "mem_per_gpu",
                "mem_per_cpu", "cpus_per_gpu", "gpus_per_task", "srun_args")


def slurm_executor(options: SlurmOptions, bucket: Bucket, after: str | None = None) -> submitit.SlurmExecutor:
    """The executor of one bucket's job array (`options` with its aliases resolved). Slurm takes
    one of --mem / --mem-per-gpu / --mem-per-cpu, one of --cpus-per-task / --cpus-per-gpu, and
    GPUs from --gres or --gpus-per-node: the more specific one given replaces ours. `after`: the
    job id every job of the array waits for (`--dependency=afterok:<after>`); should that job
    not end well, Slurm cancels them (`--kill-on-invalid-dep=yes`) rather than leave them
    pending forever. `after` may name several jobs, ':'-joined (`afterok:<id>:<id>`: every one
    must end well)."""
    executor = submitit.SlurmExecutor(folder=options.folder, max_num_timeout=options.max_requeues)
    params: dict[str, Any] = dict(
        job_name=options.name or f"sweep-{bucket.name}",
        time=bucket.time_min,
        nodes=options.nodes,
        ntasks_per_node=options.tasks_per_job(bucket),
        setup=options.setup_lines(),
        additional_parameters=dict(options.additional_parameters),
        array_parallelism=options.array_parallelism,
        signal_delay_s=options.signal_delay_s,
        stderr_to_stdout=options.stderr_to_stdout,
    )
    if after is not None:
        params["dependency"] = f"afterok:{after}"
        params["additional_parameters"]["kill_on_invalid_dep"] = "yes"
    if gres_gpus(options.gres) is None and bucket.gpus_per_node:
        params["gpus_per_node"] = bucket.gpus_per_node
    if options.cpus_per_gpu is None:
        params["cpus_per_task"] = options.cpus_per_task
    if options.mem_per_gpu is None and options.mem_per_cpu is None and options.mem_gb is not None:
        params["mem"] = f"{int(options.mem_gb * 1024)}M"
    for key in PASSED_AS_IS:
        if getattr(options, key) is not None:
            params[key] = getattr(options, key)
    executor.update_parameters(**params)
    return executor


Dependency = PlannedRun | str  # a job submitted now too, or the Slurm id of one queued or running


def submissions(planned: Sequence[PlannedRun]) -> list[tuple[PlannedRun, tuple[Dependency, ...]]]:
    """The jobs to submit (dependency-ordered, as planned), each with what it waits for: of each
    of its dependencies that is not done, its Slurm id when it is queued or running, or the
    dependency itself when it is submitted now too (none left: it waits for nothing). A job with
    a dependency that is neither (damaged, or held by a process outside Slurm) is left for a
    later command."""
    by_job = {id(p.job): p for p in planned}
    chosen: dict[int, PlannedRun] = {}
    plan: list[tuple[PlannedRun, tuple[Dependency, ...]]] = []
    for p in planned:
        if not p.to_submit:
            continue
        waits: list[Dependency] = []
        for after in (by_job[id(a)] for a in p.job.after):
            if after.state in FINISHED:
                continue
            if id(after.job) in chosen:
                waits.append(after)
            elif after.job_id is not None and after.state in ("queued", "running"):
                waits.append(after.job_id)
            else:
                log.info("%s waits for %s (%s): not submitted now", p.job.label, after.job.label, after.state)
                break
        else:
            plan.append((p, tuple(waits)))
            chosen[id(p.job)] = p
    return plan


def submit_grid(planned: Sequence[PlannedRun], options: SlurmOptions,
                make_executor: Callable[[SlurmOptions, Bucket, str | None], Any] = slurm_executor) -> list[dict]:
    """Submit every job that is neither finished, queued, running nor damaged (`submissions`),
    one job array per bucket and dependency set, a job after the ones it waits for; returns the
    manifest entries. Call it under `launch.queue.submission_lock`, after `refresh_states`."""
    todo = submissions(planned)
    skipped = len(planned) - len(todo)
    if skipped:
        log.info("%d of %d %s are finished, queued, running or damaged: not submitted again", skipped,
                 len(planned), "runs" if all(p.job.kind == RUN for p in planned) else "jobs")
    for p in planned:
        damage = p.point.damage() if p.state == DAMAGED else None
        if damage is not None:
            log.warning("skipped: %s", damage)
    if not todo:
        return []
    limit = options.max_array_size or max_array_size()
    submitted: dict[int, str] = {}  # id(PlannedRun) -> its Slurm job id
    recorded: set[Path] = set()  # the run folders whose launch overrides.yaml has recorded
    entries: list[dict] = []
    depth: dict[int, int] = {}
    for p, after in todo:
        depth[id(p)] = max((1 + depth[id(a)] for a in after if isinstance(a, PlannedRun)), default=0)
    for wave in sorted(set(depth.values())):  # a job's dependencies are submitted in earlier waves
        groups: dict[tuple[str, str | None], list[PlannedRun]] = {}
        for p, after in todo:
            if depth[id(p)] == wave:
                ids = [submitted[id(a)] if isinstance(a, PlannedRun) else a for a in after]
                groups.setdefault((p.bucket.name, ":".join(ids) or None), []).append(p)
        for bucket in options.bucket_specs():
            for (name, after_id), runs in groups.items():
                if name == bucket.name:
                    try:
                        entries += _submit_array(runs, bucket, after_id, options, make_executor, limit, submitted,
                                                 recorded)
                    except submitit.core.utils.FailedJobError as err:  # sbatch refused it (a partition, an account)
                        _record(todo, entries)  # the arrays queued before it stay tracked
                        queued = f"; {len(entries)} job(s) before it were queued" if entries else ""
                        raise ConfigError(f"sbatch refused bucket {bucket.name}'s job array: "
                                          f"{str(err).strip().splitlines()[-1]}{queued}") from err
    _record(todo, entries)
    return entries


def _record(todo: Sequence[tuple[PlannedRun, Any]], entries: list[dict]) -> None:
    """The submitted jobs' manifest entries, each in its sweep's out_dir/sweep_manifest.jsonl."""
    for out_dir in {Path(p.point.cfg.out_dir) for p, _ in todo}:
        append_manifest(out_dir, [e for e in entries if Path(e["path"]).parent == out_dir])


def _submit_array(runs: Sequence[PlannedRun], bucket: Bucket, after: str | None, options: SlurmOptions,
                  make_executor: Callable[[SlurmOptions, Bucket, str | None], Any], limit: int,
                  submitted: dict[int, str], recorded: set[Path]) -> list[dict]:
    """Submit jobs of one bucket waiting for the same jobs (`after`: their ids, ':'-joined) as job
    arrays of at most `limit` tasks; records each one's id in `submitted`; returns their manifest
    entries."""
    entries: list[dict] = []
    for start in range(0, len(runs), limit):
        chunk = runs[start:start + limit]
        executor = make_executor(options, bucket, after)
        with executor.batch():
            jobs = [executor.submit(TrainJob(p.point.cfg, until_step=p.job.until_step, group=p.job.group,
                                               rung=p.job.rung))
                    for p in chunk]
        for p in chunk:  # once queued (a refused sbatch recorded a launch that never was), the run folder exists,
            if p.point.run.path not in recorded:  # so `sweep status` lists it; once per run, not per job
                recorded.add(p.point.run.path)
                p.point.run.write_config(p.point.cfg)  # (the job writes the same config.yaml when it starts)
                p.point.run.record_overrides(p.point.overrides, p.point.config_name)
        for p, job in zip(chunk, jobs):
            paths = getattr(job, "paths", None)
            submitted[id(p)] = str(job.job_id)
            entry = {"run": p.point.run.path.name, "path": str(p.point.run.path), "job_id": str(job.job_id),
                     "bucket": bucket.name, "log": str(paths.stdout) if paths is not None else None}
            if p.job.kind in PARTIAL:
                entry[p.job.kind] = p.job.last_step
            if after is not None:
                entry["after"] = after
            entries.append(entry)
        log.info("bucket %s: submitted %d %s as job array %s (time limit %d min, %d GPU each%s)",
                 bucket.name, len(chunk), "runs" if all(p.job.kind == RUN for p in chunk) else "jobs",
                 str(jobs[0].job_id).split("_")[0], bucket.time_min, bucket.gpus_per_node,
                 f"; after job{'s' if ':' in after else ''} {after.replace(':', ', ')}" if after else "")
    return entries
