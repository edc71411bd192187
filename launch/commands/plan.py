"""`sweep plan`: a grid's runs (or jobs) with N, tokens, steps, FLOPs and state, planned as the
chosen launcher would run them (under `hydra/launcher=slurm` with GPU-hours and buckets), without
training, submitting or asking Slurm anything."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from launch.commands.printing import console
from sweep.errors import ConfigError


def plan(overrides: Sequence[str], config_name: str) -> int:
    from hydra_plugins.sweep_launchers import configured_launcher, launcher_plan

    from launch.command_line import check_launcher_keys
    from launch.grid import compose_sweep
    from launch.submit import print_not_ready, print_plan

    check_overrides(overrides)
    check_launcher_keys(list(overrides), config_name)  # a misspelt launcher option: the accepted ones
    config, grid = compose_sweep(overrides, config_name)
    launcher = configured_launcher(config)
    planned = launcher_plan(launcher, grid, query=False)  # what the launcher refuses, refused as in --dry-run
    print_plan(planned, console, folders=True)
    for point in grid:
        damage = point.damage()
        if damage is not None:
            console.print(f"damaged: {damage}", highlight=False, soft_wrap=True)  # one line, for grep
    # the device is checked where the runs start: on this machine, not under Slurm
    print_not_ready(grid, getattr(launcher, "runs_here", True), console)
    return 0


def check_overrides(arguments: Sequence[str]) -> None:
    """ConfigError for an argument that is no override (KEY=VALUE, or Hydra's `~KEY`): `sweep plan
    runs/x`, a folder as `sweep status` takes it, was Hydra's `missing EQUAL at '<EOF>'`."""
    for argument in arguments:
        if "=" in argument or argument.startswith("~"):
            continue
        folder = Path(argument).is_dir()
        raise ConfigError(f"{argument}: sweep plan takes the sweep's overrides (KEY=VALUE, as python -m sweep.train -m "
                          f"takes them), not {'a folder' if folder else 'a word without ='}: e.g. sweep plan "
                          "--config-name demo model.d=16,32" + (f" (sweep status {argument} lists that folder's runs)"
                                                                 if folder else ""))
