"""Where a job is submitted: `submit_grid` turns validated grid points into submitit job arrays.

    plan_slurm  a validated grid: estimate GPU-hours, pick a bucket, read state (plan_grid:
                compose + validate the points first; plan_local: a plan without Slurm)
    print_plan  the dry-run table (one row per run, plus totals)
    submit_grid skip finished and queued runs, then one job array per bucket (split at the
                cluster's MaxArraySize), and the sweep manifest
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import submitit
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from launch.grid import GridPoint, build_grid
from launch.job import TrainJob
from launch.launcher_names import aliased_value
from launch.queue import ACTIVE_STATES, RUNNING_STATES, append_manifest, job_states, latest_jobs, max_array_size
from launch.resources import Bucket, check_signal_delay, estimate_gpu_hours, pick_bucket
from sweep.errors import ConfigError
from sweep.record import DAMAGED, FINISHED

log = logging.getLogger("sweep.launch")

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

    def with_aliases(self, given: set[str]) -> "SlurmOptions":
        """The options once hydra-submitit-launcher's names are resolved (`given`: the options set
        away from their defaults, launch/launcher_names.py given_options): `submitit_folder` is
        `folder`, `max_num_timeout` is `max_requeues`; `timeout_min` makes one bucket, named
        `timeout_min`, that every run goes to (a run longer than one attempt continues over
        requeues, within max_requeues); a GPU count in `gres` is `gpus_per_node`. ConfigError
        where an alias and ours disagree."""
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
        if memory and "mem_gb" in given:
            memory.insert(0, f"mem_gb={self.mem_gb}")
        if len(memory) > 1:
            raise ConfigError(f"hydra.launcher.{' and hydra.launcher.'.join(memory)}: Slurm takes one of them")
        if self.cpus_per_gpu is not None and "cpus_per_task" in given:
            raise ConfigError(f"hydra.launcher.cpus_per_gpu={self.cpus_per_gpu} and hydra.launcher.cpus_per_task="
                              f"{self.cpus_per_task}: Slurm takes one of them")
        return dataclasses.replace(self, **changes)

    def tasks_per_job(self, bucket: Bucket) -> int:
        """Tasks per node: one per GPU (DDP ranks), unless set."""
        return self.tasks_per_node or max(1, bucket.gpus_per_node)

    def bucket_specs(self) -> list[Bucket]:
        return [Bucket(name=b["name"], max_hours=float(b["max_hours"]), time_min=int(b["time_min"]),
                       gpus_per_node=int(b.get("gpus_per_node", self.gpus_per_node))) for b in self.buckets]


@dataclass
class PlannedRun:
    point: GridPoint
    gpu_hours: float | None  # None when run locally
    bucket: Bucket | None
    state: str  # complete | diverged | failed | started | pending | queued | running (a live job or holder) | damaged
    job_id: str | None = None
    job_bucket: str | None = None  # the bucket its live job was submitted to

    @property
    def to_submit(self) -> bool:
        """Neither finished, held by a live job or process, nor damaged."""
        return self.state not in FINISHED and self.state not in ("queued", "running", DAMAGED)


def plan_grid(points: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig],
              options: SlurmOptions, slurm_states: bool = True) -> list[PlannedRun]:
    """Compose and validate every point (launch/grid.py build_grid), then plan it for Slurm."""
    return plan_slurm(build_grid(points, compose), options, slurm_states)


def plan_local(grid: Sequence[GridPoint]) -> list[PlannedRun]:
    """A validated grid planned to run on this machine: no GPU-hour estimate, no bucket."""
    return [PlannedRun(point, None, None, point.state()) for point in grid]


def plan_slurm(grid: Sequence[GridPoint], options: SlurmOptions, slurm_states: bool = True) -> list[PlannedRun]:
    """A validated grid planned for Slurm: each run's estimated GPU-hours, bucket and state
    (`slurm_states`: queued or running from its latest job); one ConfigError naming every point
    whose batch does not split over its bucket's ranks, before anything is submitted."""
    buckets = options.bucket_specs()
    check_signal_delay(buckets, options.signal_delay_s)
    planned, errors = [], []
    for point in grid:
        hours = estimate_gpu_hours(point.cfg, point.budget, options.assumed_mfu, options.device)
        bucket = pick_bucket(hours, buckets, options.max_requeues)
        ranks = options.nodes * options.tasks_per_job(bucket)
        if point.cfg.train.batch_size % ranks:
            errors.append(f"  {' '.join(point.overrides)}: train.batch_size={point.cfg.train.batch_size} is "
                          f"not divisible by the {ranks} ranks of bucket {bucket.name!r}")
        planned.append(PlannedRun(point, hours, bucket, point.state()))
    if errors:
        raise ConfigError(f"{len(errors)} of {len(grid)} grid points are invalid; nothing was submitted:\n"
                          + "\n".join(errors))
    if slurm_states:
        _mark_queued(planned)
    return planned


def refresh_states(planned: Sequence[PlannedRun]) -> None:
    """Read each run's state again (run folder, then Slurm): under the submission lock, what
    another command submitted meanwhile is seen."""
    for p in planned:
        p.state, p.job_id, p.job_bucket = p.point.state(), None, None
    _mark_queued(list(planned))


def _mark_queued(planned: list[PlannedRun]) -> None:
    """Runs whose latest job (from each sweep folder's manifest) is still alive are `queued`, or
    `running` once Slurm runs it."""
    latest: dict[str, dict] = {}
    for out_dir in {Path(p.point.cfg.out_dir) for p in planned}:
        latest.update(latest_jobs(out_dir))
    open_runs = [p for p in planned if p.state not in FINISHED and p.point.run.path.name in latest]
    states = job_states(latest[p.point.run.path.name]["job_id"] for p in open_runs)
    for p in open_runs:
        job_id = latest[p.point.run.path.name]["job_id"]
        if states.get(job_id) in ACTIVE_STATES:
            p.state = "running" if states[job_id] in RUNNING_STATES else "queued"
            p.job_id, p.job_bucket = job_id, latest[p.point.run.path.name].get("bucket")


def print_plan(planned: Sequence[PlannedRun], console: Console) -> None:
    table = Table(title=f"plan: {len(planned)} runs")
    for col in ("d", "l", "batch", "lr", "wd", "N", "tokens", "steps", "FLOPs", "GPU-h", "bucket", "state"):
        table.add_column(col, justify="left" if col in ("bucket", "state") else "right")
    for p in planned:
        cfg, b = p.point.cfg, p.point.budget
        table.add_row(str(cfg.model.d), str(cfg.model.l), str(cfg.train.batch_size), f"{cfg.optim.lr:.2e}",
                      f"{cfg.optim.weight_decay:g}", f"{b.n_params:,}", f"{b.tokens:,}", f"{b.steps:,}",
                      f"{b.flops:.2e}", "-" if p.gpu_hours is None else f"{p.gpu_hours:.3g}",
                      p.job_bucket or (p.bucket.name if p.bucket else "local"),
                      p.state + (f" ({p.job_id})" if p.job_id else ""))
    console.print(table)
    counts: dict[str, int] = {}
    for p in planned:
        counts[p.state] = counts.get(p.state, 0) + 1
    todo = [p for p in planned if p.to_submit]
    hours = lambda runs: sum(p.gpu_hours or 0.0 for p in runs)  # noqa: E731
    console.print(
        f"total: {len(planned)} runs ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}); "
        f"{sum(p.point.budget.flops for p in planned):.3e} FLOPs, {hours(planned):.3g} GPU-hours estimated; "
        f"to run: {len(todo)} runs, {hours(todo):.3g} GPU-hours")


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


def slurm_executor(options: SlurmOptions, bucket: Bucket) -> submitit.SlurmExecutor:
    """The executor of one bucket's job array (`options` with its aliases resolved). Slurm takes
    one of --mem / --mem-per-gpu / --mem-per-cpu, one of --cpus-per-task / --cpus-per-gpu, and
    GPUs from --gres or --gpus-per-node: the more specific one given replaces ours."""
    executor = submitit.SlurmExecutor(folder=options.folder, max_num_timeout=options.max_requeues)
    params: dict[str, Any] = dict(
        job_name=options.name or f"sweep-{bucket.name}",
        time=bucket.time_min,
        nodes=options.nodes,
        ntasks_per_node=options.tasks_per_job(bucket),
        setup=list(options.setup),
        additional_parameters=dict(options.additional_parameters),
        array_parallelism=options.array_parallelism,
        signal_delay_s=options.signal_delay_s,
        stderr_to_stdout=options.stderr_to_stdout,
    )
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


def submit_grid(planned: Sequence[PlannedRun], options: SlurmOptions,
                make_executor: Callable[[SlurmOptions, Bucket], Any] = slurm_executor) -> list[dict]:
    """Submit every run that is neither finished, queued, running nor damaged; returns the
    manifest entries. Call it under `launch.queue.submission_lock`, after `refresh_states`."""
    todo = [p for p in planned if p.to_submit]
    skipped = len(planned) - len(todo)
    if skipped:
        log.info("%d of %d runs are finished, queued, running or damaged: not submitted again", skipped,
                 len(planned))
    for p in planned:
        damage = p.point.damage() if p.state == DAMAGED else None
        if damage is not None:
            log.warning("skipped: %s", damage)
    if not todo:
        return []
    limit = options.max_array_size or max_array_size()
    entries: list[dict] = []
    for bucket in options.bucket_specs():
        runs = [p for p in todo if p.bucket == bucket]
        for start in range(0, len(runs), limit):
            chunk = runs[start:start + limit]
            for p in chunk:  # the run folder exists from submission on, so `sweep status` lists it
                p.point.run.write_config(p.point.cfg)
                p.point.run.record_overrides(p.point.overrides)
            executor = make_executor(options, bucket)
            with executor.batch():
                jobs = [executor.submit(TrainJob(p.point.cfg)) for p in chunk]
            for p, job in zip(chunk, jobs):
                paths = getattr(job, "paths", None)
                entries.append({"run": p.point.run.path.name, "path": str(p.point.run.path),
                                "job_id": str(job.job_id), "bucket": bucket.name,
                                "log": str(paths.stdout) if paths is not None else None})
            log.info("bucket %s: submitted %d runs as job array %s (time limit %d min, %d GPU each)",
                     bucket.name, len(chunk), str(jobs[0].job_id).split("_")[0], bucket.time_min,
                     bucket.gpus_per_node)
    for out_dir in {Path(p.point.cfg.out_dir) for p in todo}:
        append_manifest(out_dir, [e for e in entries if Path(e["path"]).parent == out_dir])
    return entries
