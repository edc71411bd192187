"""A multirun grid: expand the command line's sweep overrides into grid points, compose each
one, and validate ALL of them before any is trained.

Used by `sweep plan`, by the grid sweeper (every `python -m sweep.train -m ...`, before its
launcher starts the first job) and by the Slurm launcher.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType
from omegaconf import DictConfig, OmegaConf

from sweep.budget import Budget, compute_budget
from sweep.config import TrainConfig, to_typed, validate
from sweep.errors import ConfigError, DamagedFile
from sweep.rundir import DAMAGED, RunDir

log = logging.getLogger("sweep.grid")

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def split_grid(overrides: Sequence[str]) -> list[list[str]]:
    """['model.d=64,96', 'seed=0'] -> [['model.d=64', 'seed=0'], ['model.d=96', 'seed=0']],
    in the order Hydra's basic sweeper launches them."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [list(point) for batch in BasicSweeper.split_arguments(parsed, None) for point in batch]


class GridComposer:
    """Composes the configs of many grid points quickly (400 points in about a second): one
    full Hydra composition per distinct set of config-group choices (`data=files`, `+key=...`),
    then each point's plain `key=value` overrides set on that config the way Hydra sets them,
    so that the structured schema still rejects unknown keys and wrong types, then put back.
    Returns typed TrainConfigs."""

    def __init__(self, compose: Callable[[list[str]], DictConfig], is_group: Callable[[str], bool]):
        self._compose, self._is_group = compose, functools.lru_cache(maxsize=None)(is_group)
        self._parser = OverridesParser.create()
        self._bases: dict[tuple[str, ...], DictConfig] = {}

    @functools.lru_cache(maxsize=None)  # noqa: B019 (one composer per grid)
    def _parse(self, override: str) -> Any:
        return self._parser.parse_override(override)

    def _is_plain(self, override: Any) -> bool:
        key = override.key_or_group
        return (override.type is OverrideType.CHANGE and override.package is None
                and not key.startswith("hydra") and not self._is_group(key))

    def __call__(self, overrides: list[str]) -> TrainConfig:
        parsed = [self._parse(o) for o in overrides]
        structural = tuple(o.input_line for o in parsed if not self._is_plain(o))
        if structural not in self._bases:
            self._bases[structural] = self._compose(list(structural))
        cfg = self._bases[structural]
        previous: list[tuple[str, Any]] = []
        try:
            for override in parsed:
                if self._is_plain(override):
                    key = override.key_or_group
                    previous.append((key, _raw_value(cfg, key)))
                    OmegaConf.update(cfg, key, override.value(), merge=True)
            return to_typed(cfg)
        finally:
            for key, value in reversed(previous):
                OmegaConf.update(cfg, key, value, merge=False)


def _raw_value(cfg: DictConfig, key: str) -> Any:
    """The value at a dotted key as written (an interpolation stays a `${...}` string)."""
    *parents, leaf = key.split(".")
    node = cfg
    for part in parents:
        node = node._get_node(part)
        if node is None:
            return None
    child = node._get_node(leaf)
    if child is None:
        return None
    return OmegaConf.to_container(child) if OmegaConf.is_config(child) else child._value()


@dataclass
class GridPoint:
    overrides: list[str]
    cfg: TrainConfig
    budget: Budget

    @functools.cached_property
    def run(self) -> RunDir:
        return RunDir.for_config(self.cfg)

    def state(self) -> str:
        """complete | diverged | failed (from result.json), running (a live process holds the
        run folder), started (a checkpoint or metrics exist), pending, or damaged (a file of the run cannot be read: `damage()` says which)."""
        try:
            return self.run.state()
        except DamagedFile:
            return DAMAGED

    def damage(self) -> DamagedFile | None:
        """What makes the run damaged (one line naming the file and what to do), or None."""
        try:
            self.run.state()
        except DamagedFile as err:
            return err
        return None


def build_grid(points: Sequence[Sequence[str]],
               compose: Callable[[list[str]], DictConfig | TrainConfig]) -> list[GridPoint]:
    """Compose and validate every point; raise one ConfigError naming every invalid point."""
    grid, errors = [], []
    fixed = _fixed_overrides(points)
    for overrides in points:
        where = " ".join(o for o in overrides if o not in fixed) or "(defaults)"
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


def _fixed_overrides(points: Sequence[Sequence[str]]) -> set[str]:
    """Overrides shared by every point (none for a single point): not worth naming in errors."""
    if len(points) < 2:
        return set()
    return set(points[0]).intersection(*map(set, points[1:]))


def compose_grid(overrides: Sequence[str], config_name: str = "train") -> list[GridPoint]:
    """The grid of a command line, composed with the project's config tree (for `sweep plan`)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        base = compose(config_name, overrides=[], return_hydra_config=True)
        repository = GlobalHydra.instance().config_loader().repository
        composer = GridComposer(lambda point: compose(config_name, overrides=point), repository.group_exists)
        return build_grid(split_grid(config_sweep_params(base) + list(overrides)), composer)


def config_sweep_params(config: DictConfig) -> list[str]:
    """Sweep dimensions a config itself declares in `hydra.sweeper.params` (the demo does)."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [f"{key}={value}" for key, value in params.items()]


def check_data_ready(grid: Sequence[GridPoint]) -> None:
    """Every unfinished point on a streamed corpus (hf, c4, synthetic) finds its prepared shards,
    holding enough tokens for it: one ConfigError naming each problem, before any job starts.
    (Corpora built by the first run, embedded and files, are checked by that run.)"""
    from sweep.data.access import check_epochs
    from sweep.data.prepare import is_streamed, open_prepared, prepared_path
    from sweep.rundir import FINISHED

    by_entry: dict[Path, list[GridPoint]] = {}
    for point in grid:
        if is_streamed(point.cfg.data) and point.state() not in FINISHED:
            by_entry.setdefault(prepared_path(point.cfg.data), []).append(point)
    errors = []
    for points in by_entry.values():
        try:
            corpus = open_prepared(points[0].cfg.data, max(p.cfg.model.seq_len for p in points))
        except ConfigError as err:
            errors.append(f"  {err}")
            continue
        for point in points:
            try:
                check_epochs(point.cfg.data, corpus.n_train_tokens, point.budget.tokens,
                             point.cfg.model.seq_len, point.run.path.name)
            except ConfigError as err:
                errors.append(f"  {err}")
    if errors:
        raise ConfigError("the grid's data is not ready; nothing was run:\n"
                          + "\n".join(errors))
