"""The project's Hydra plugins: the grid sweeper (the default), the local launcher
(`hydra/launcher=local`: the runs on this machine) and the Slurm launcher. Hydra
instantiates plugins only from the `hydra_plugins` namespace, so pyproject.toml installs this
folder as `hydra_plugins.sweep_launchers`, where Hydra's own plugin scan finds them (under
editable and regular installs). Configs: conf/hydra/{sweeper,launcher}/*.yaml. The logic
lives in launch/grid.py (the grid), launch/local.py (where a local run's process is started) and
launch/submit.py (the plans, and the Slurm jobs submitted)."""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from launch.grid import (CONF_DIR, GridComposer, GridPoint, build_grid, check_data_ready, check_jobs_in_order,
                         grid_points, rewrite_damaged_configs)
from launch.launcher_names import given_options
from launch.local import LocalOptions, RunFailed, SweepInterrupted, check_local_options, run_locally
from launch.queue import submission_lock
from launch.submit import (PlannedRun, SlurmOptions, check_planned_requests, plan_local, plan_slurm, print_not_ready,
                           print_plan, refresh_states, submit_grid)
from sweep.errors import ConfigError, DamagedFile, exit_on_user_error
from sweep.record import DAMAGED, FINISHED

log = logging.getLogger("sweep.grid")


@contextlib.contextmanager
def user_errors_exit() -> Iterator[None]:
    """A user's mistake ends the command with its message alone (`error: ...`, exit code 2),
    as a single run's does, not with the traceback Hydra prints for errors in plugins
    (HYDRA_FULL_ERROR=1 shows it)."""
    try:
        yield
    except ConfigError as err:
        exit_on_user_error(err)


def grid_composer(hydra_context: HydraContext, config: DictConfig) -> GridComposer:
    loader = hydra_context.config_loader
    return GridComposer(lambda point: loader.load_sweep_config(config, point), loader.repository.group_exists)


class GridSweeper(Sweeper):
    """`hydra/sweeper=grid` (the default): Hydra's basic grid, except that every point is
    composed and validated before the launcher sees any (one invalid point stops the whole
    multirun, naming each bad point), and all points go to the launcher in one batch: the
    project's launchers get the validated grid itself (`launch_grid`), any other launcher the
    override lists (`launch`). `hydra.sweeper.params` may declare grid dimensions in a config
    (conf/demo.yaml does). `dry_run` (`--dry-run`; or the project launchers' own `dry_run`):
    print the plan and launch nothing, whatever the launcher."""

    def __init__(self, params: Any = None, dry_run: bool = False) -> None:
        if not isinstance(dry_run, bool):
            with user_errors_exit():
                raise ConfigError(f"hydra.sweeper.dry_run={dry_run!r}: accepted is true or false (--dry-run sets it)")
        self.dry_run = dry_run
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        assert self.hydra_context is not None and self.config is not None and self.launcher is not None
        with user_errors_exit():
            points = grid_points(self.config, arguments, self.hydra_context.config_loader)
        # a project launcher by what it can do: Hydra's plugin scan executes this module again, so
        # the launcher's class may come from another copy of it than this sweeper's
        ours = callable(getattr(self.launcher, "launch_grid", None))
        dry_run = self.dry_run or (ours and self.launcher.options.dry_run)
        with user_errors_exit():
            grid = build_grid(points, grid_composer(self.hydra_context, self.config),
                              self.config.hydra.job.config_name)
            if not dry_run:
                if not ours:  # what Hydra's own launchers cannot run (a dry run's plan says it too), before
                    check_jobs_in_order(grid)  # the data: preparing it would not make the grid run there
                # prepared corpora hold every run's tokens, files are readable, folders writable;
                # the device only where the runs start on this machine (not Slurm's login node)
                check_data_ready(grid, runs_here=getattr(self.launcher, "runs_here", True))
        done = sum(point.state() in FINISHED for point in grid)
        log.info("grid of %d runs validated (%d already finished, skipped when reached)", len(grid), done)
        if dry_run:  # the plan, as the launcher would run it; nothing is written or launched
            with user_errors_exit():
                planned = launcher_plan(self.launcher, grid)
            console = Console(width=200, markup=False)
            print_plan(planned, console)
            with user_errors_exit():
                print_not_ready(grid, getattr(self.launcher, "runs_here", True), console)
            return [[]]
        if ours:  # what the launcher would refuse of this grid (GPUs, ranks, buckets), before anything is written
            with user_errors_exit():
                self.launcher.check(grid)
        rewritten = rewrite_damaged_configs(grid)
        if rewritten:
            log.info("config.yaml written again for %d finished run(s) it was damaged in: %s", len(rewritten),
                     ", ".join(rewritten))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        results = self.launcher.launch_grid(grid) if ours else self.launcher.launch(points, initial_job_idx=0)
        with user_errors_exit():  # a run's ConfigError (a full disk, ...): one line, after every run
            raise_failures(results)
        return [results]


def launcher_plan(launcher: Launcher, grid: Sequence[GridPoint], query: bool = True) -> list[PlannedRun]:
    """`grid` planned as `launcher` would run it (ConfigError for what it would refuse): a project
    launcher's own plan (`query`: with the runs Slurm holds queued or running; False: the run
    folders alone say, nothing is asked); under any other launcher (Hydra's basic one) the runs one
    after another on this machine, a grid whose jobs must run in order refused."""
    if callable(getattr(launcher, "launch_grid", None)):  # a project launcher, by what it can do (see sweep)
        return launcher.plan(grid, query)
    check_jobs_in_order(grid)
    return plan_local(grid)


def configured_launcher(config: DictConfig) -> Launcher:
    """The launcher `config` (a multirun's, composed with its hydra config) chooses, instantiated
    and set up as Hydra does it for a multirun (its options checked), to plan with (`sweep plan`)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from hydra.errors import InstantiationException

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=None)  # no job runs
        try:
            return Plugins.instance().instantiate_launcher(hydra_context=context, task_function=lambda cfg: None,
                                                           config=config)
        except InstantiationException as err:  # an option it does not know (`+hydra.launcher.foo=1`): its words
            if isinstance(err.__cause__, ConfigError):
                raise err.__cause__ from None
            raise


def raise_failures(results: Sequence[JobReturn]) -> None:
    """After every job has run: name the damaged runs the launcher skipped (exit code 2 when
    nothing else failed); the runs that failed in their own processes (RunFailed), one line each
    naming its log, exit code 1 (HYDRA_FULL_ERROR=1: the first one's traceback); else raise the
    first failure of a run, if any."""
    skipped, failed, failure = [], [], None
    for result in results:
        try:
            _ = result.return_value
        except DamagedFile as err:
            skipped.append(err)
        except RunFailed as err:
            failed.append(err)
        except Exception as err:  # noqa: BLE001 (raised below, once every result is seen)
            failure = failure or err
    if skipped:
        log.error("%d of %d runs were skipped as damaged (every other run went on):\n%s", len(skipped),
                  len(results), "\n".join(f"  {err}" for err in skipped))
    if failure is not None:
        raise failure
    if failed:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise failed[0].__cause__ or failed[0]
        print(f"error: {len(failed)} of {len(results)} runs failed (every other run went on; each traceback is in "
              "its log; re-run the same command to resume them from their checkpoints):\n"
              + "\n".join(f"  {err}" for err in failed), file=sys.stderr)
        raise SystemExit(1)
    if skipped:
        raise SystemExit(2)


def launcher_options(cls: type, options: dict[str, Any]) -> Any:
    """`hydra.launcher.*` as the launcher's options dataclass; an unknown key names the accepted."""
    plain = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
             for k, v in options.items()}
    accepted = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(plain) - accepted)
    if unknown:
        raise ConfigError(f"hydra.launcher: unknown option(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(sorted(accepted))}")
    return cls(**plain)


class ProjectLauncher(Launcher):
    """A launcher of this project: `launch_grid` takes a grid the sweeper already composed and
    validated; Hydra's `launch(job_overrides)` composes and validates the grid first (for any
    other caller) and then does the same."""

    options_class: type
    conf_name: str  # conf/hydra/launcher/<conf_name>.yaml holds its defaults
    runs_here = True  # runs start on this machine: its device is checked before any starts

    def __init__(self, **options: Any) -> None:
        self.options = launcher_options(self.options_class, options)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keeps the config; resolves hydra-submitit-launcher's option names (launch/launcher_names.py)."""
        self.hydra_context, self.config = hydra_context, config
        with user_errors_exit():
            self.options = self.options.with_aliases(given_options(config.hydra.launcher, self.conf_name))

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.hydra_context is not None and self.config is not None
        with user_errors_exit():
            grid = build_grid(job_overrides, grid_composer(self.hydra_context, self.config),
                              self.config.hydra.job.config_name)
        return self.launch_grid(grid)

    @abc.abstractmethod
    def plan(self, grid: Sequence[GridPoint], query: bool = True) -> list[PlannedRun]:
        """What `launch_grid` would do with each point (the dry-run table); `query`: ask the
        scheduler which runs it holds (Slurm), else the run folders alone say (`sweep plan`)."""

    @abc.abstractmethod
    def check(self, grid: Sequence[GridPoint]) -> None:
        """ConfigError for what `launch_grid` would refuse of `grid`; writes and submits nothing."""

    @abc.abstractmethod
    def launch_grid(self, grid: Sequence[GridPoint]) -> Sequence[JobReturn]:
        """Run or submit a validated grid (`options.dry_run`: print its plan and return none)."""


class LocalLauncher(ProjectLauncher):
    """`hydra/launcher=local`: every run in its own process on this machine, `parallelism` at
    a time; waits for all of them."""

    options_class = LocalOptions
    conf_name = "local"

    def check(self, grid: Sequence[GridPoint]) -> None:
        check_local_options(grid, self.options)

    def plan(self, grid: Sequence[GridPoint], query: bool = True) -> list[PlannedRun]:
        check_local_options(grid, self.options)  # what the launch would refuse, the dry run refuses too
        return plan_local(grid)  # a run held by a live process is `running` from its folder: nothing to query

    def launch_grid(self, grid: Sequence[GridPoint]) -> Sequence[JobReturn]:
        with user_errors_exit():
            planned = self.plan(grid)
        print_plan(planned, Console(width=200, markup=False))
        if self.options.dry_run:
            return []
        with user_errors_exit():
            for point in {id(p.point): p.point for p in planned if p.to_submit}.values():  # once per run, not
                point.run.write_config(point.cfg)  # per job (a trunk's segments): `sweep status` lists it (pending)
                # from now on, as Slurm's; and what made it (the overrides of --config-name's config)
                point.run.record_overrides(point.overrides, point.config_name)
            try:
                outcomes = run_locally(grid, self.options)
            except SweepInterrupted as stop:  # Ctrl-C or a run's SIGTERM: one line, exit code 130
                print(f"interrupted: {stop}", file=sys.stderr)
                raise SystemExit(130) from None
        return [JobReturn(overrides=list(o.point.overrides),
                          status=JobStatus.FAILED if o.error else JobStatus.COMPLETED,
                          _return_value=o.error or (o.result or {}).get("final_eval_loss")) for o in outcomes]


class SlurmLauncher(ProjectLauncher):
    """`hydra/launcher=slurm`: plan the whole validated grid (buckets, ranks), then one submitit
    job array per resource bucket; returns after submission (the jobs run on their own)."""

    options_class = SlurmOptions
    conf_name = "slurm"
    runs_here = False  # jobs start on compute nodes: no device check on the submitting machine

    def check(self, grid: Sequence[GridPoint]) -> None:
        planned = plan_slurm(grid, self.options, slurm_states=False)  # buckets, ranks, signal delay: no Slurm query
        check_planned_requests(planned, self.options)  # one sinfo: the partition, and what its nodes hold

    def plan(self, grid: Sequence[GridPoint], query: bool = True) -> list[PlannedRun]:
        """With each run's Slurm state (queued or running from its latest job) when `query`."""
        planned = plan_slurm(grid, self.options, slurm_states=query)
        check_planned_requests(planned, self.options)  # what the launch would refuse, the dry run refuses too
        return planned

    def launch_grid(self, grid: Sequence[GridPoint]) -> Sequence[JobReturn]:
        with user_errors_exit():
            planned = plan_slurm(grid, self.options, slurm_states=self.options.dry_run)
        if self.options.dry_run:
            print_plan(planned, Console(width=200, markup=False))
            return []
        with submission_lock(Path(p.point.cfg.out_dir) for p in planned):  # one submitter per sweep
            refresh_states(planned)
            print_plan(planned, Console(width=200, markup=False))
            with user_errors_exit():  # sbatch refusing an array (a partition, an account): one line
                job_of = {e["run"]: e["job_id"] for e in submit_grid(planned, self.options)}
        return [submitted(p, job_of) for p in planned]


def submitted(p: PlannedRun, job_of: dict[str, str]) -> JobReturn:
    """A submitted (or skipped) run as Hydra's job return: failed with its DamagedFile when damaged."""
    damage = p.point.damage() if p.state == DAMAGED else None
    if damage is not None:
        return JobReturn(overrides=list(p.point.overrides), status=JobStatus.FAILED, _return_value=damage)
    return JobReturn(overrides=list(p.point.overrides), status=JobStatus.COMPLETED,
                     _return_value=job_of.get(p.point.run.path.name, p.state))
