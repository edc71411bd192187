"""A multirun grid: expand the command line's sweep overrides into grid points, compose each
one, and validate ALL of them before any is trained.

Used by `sweep plan` and, through `ValidateGridCallback` (registered in conf/train.yaml), by
every `python -m sweep.train -m ...` before its launcher starts the first job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from omegaconf import DictConfig, OmegaConf

from sweep.budget import Budget, compute_budget
from sweep.config import TrainConfig, to_typed, validate
from sweep.errors import ConfigError
from sweep.rundir import RunDir

log = logging.getLogger("sweep.grid")

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def split_grid(overrides: Sequence[str]) -> list[list[str]]:
    """['model.d=64,96', 'seed=0'] -> [['model.d=64', 'seed=0'], ['model.d=96', 'seed=0']],
    in the order Hydra's basic sweeper launches them."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [list(point) for batch in BasicSweeper.split_arguments(parsed, None) for point in batch]


@dataclass
class GridPoint:
    overrides: list[str]
    cfg: TrainConfig
    budget: Budget

    @property
    def run(self) -> RunDir:
        return RunDir.for_config(self.cfg)

    def state(self) -> str:
        """complete | diverged | failed (from result.json), started (a checkpoint or metrics
        exist), or pending."""
        run = self.run
        result = run.read_result()
        if result is not None:
            return result["status"]
        if run.checkpoint_file.exists() or run.metrics_file.exists():
            return "started"
        return "pending"


def build_grid(points: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig]) -> list[GridPoint]:
    """Compose and validate every point; raise one ConfigError naming every invalid point."""
    grid, errors = [], []
    for overrides in points:
        where = " ".join(_coordinates(overrides, points)) or "(defaults)"
        try:
            cfg = to_typed(compose(list(overrides)))
            validate(cfg)
            grid.append(GridPoint(list(overrides), cfg, compute_budget(cfg)))
        except ConfigError as err:
            errors.append(f"  {where}: {err}")
        except Exception as err:  # Hydra / OmegaConf composition errors: typos, wrong types
            errors.append(f"  {where}: {type(err).__name__}: {err}")
    if errors:
        raise ConfigError(
            f"{len(errors)} of {len(points)} grid points are invalid; nothing was run:\n" + "\n".join(errors)
        )
    return grid


def _coordinates(overrides: Sequence[str], points: Sequence[Sequence[str]]) -> list[str]:
    """The overrides of one point that vary across the grid (all of them for a single point)."""
    if len(points) < 2:
        return list(overrides)
    fixed = set(points[0]).intersection(*map(set, points[1:]))
    return [o for o in overrides if o not in fixed]


def compose_grid(overrides: Sequence[str], config_name: str = "train") -> list[GridPoint]:
    """The grid of a command line, composed with the project's config tree (for `sweep plan`)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        base = compose(config_name, overrides=[], return_hydra_config=True)
        params = _config_sweep_params(base)
        return build_grid(split_grid(params + list(overrides)),
                          lambda point: compose(config_name, overrides=point))


def _config_sweep_params(config: DictConfig) -> list[str]:
    """Sweep dimensions a config itself declares in `hydra.sweeper.params` (the demo does)."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [f"{key}={value}" for key, value in params.items()]


class ValidateGridCallback(Callback):
    """Before a multirun launches anything: expand, compose and validate every grid point, and
    stop the whole multirun with one message if any is invalid."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        loader = GlobalHydra.instance().config_loader()
        points = split_grid(_config_sweep_params(config) + list(config.hydra.overrides.task))
        try:
            grid = build_grid(points, lambda point: loader.load_sweep_config(config, point))
        except ConfigError as err:
            log.error("%s", err)
            # Hydra reports and then ignores exceptions from callbacks; SystemExit is not one.
            raise SystemExit(2) from err
        done = sum(point.state() in ("complete", "diverged") for point in grid)
        log.info("grid of %d runs validated (%d already finished, skipped when reached)", len(grid), done)
