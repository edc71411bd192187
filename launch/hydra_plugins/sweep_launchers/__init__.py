"""The project's Hydra launchers. Hydra instantiates launchers only from the `hydra_plugins`
namespace, so pyproject.toml installs this folder as `hydra_plugins.sweep_launchers`; their
configs are conf/hydra/launcher/*.yaml. The logic lives in launch/submit.py."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from launch.submit import SlurmOptions, plan_grid, print_plan, submit_grid
from sweep.errors import ConfigError


class SlurmLauncher(Launcher):
    """`hydra/launcher=slurm`: validate the whole grid, then one submitit job array per resource
    bucket; returns after submission (the jobs run on their own)."""

    def __init__(self, **options: Any) -> None:
        plain = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                 for k, v in options.items()}
        accepted = {f.name for f in dataclasses.fields(SlurmOptions)}
        unknown = sorted(set(plain) - accepted)
        if unknown:
            raise ConfigError(f"hydra.launcher: unknown option(s) {', '.join(unknown)}; "
                              f"accepted: {', '.join(sorted(accepted))}")
        self.options = SlurmOptions(**plain)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.hydra_context is not None and self.config is not None
        loader = self.hydra_context.config_loader
        planned = plan_grid(job_overrides, lambda point: loader.load_sweep_config(self.config, point), self.options)
        print_plan(planned, Console(width=200))
        if self.options.dry_run:
            return []
        job_of = {e["run"]: e["job_id"] for e in submit_grid(planned, self.options)}
        return [JobReturn(overrides=list(p.point.overrides), status=JobStatus.COMPLETED,
                          _return_value=job_of.get(p.point.run.path.name, p.state)) for p in planned]
