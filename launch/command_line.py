"""The `python -m sweep.train` command line checked before Hydra runs it, so that a user's
mistake is one message (exit code 2) and Hydra never creates the run's folder for it.

A single run is composed with every override, validated and its inputs checked (device,
writable folders, corpus files, prepared shards: launch/grid.py data_problems). A multirun is
checked for what Hydra composes before the grid sweeper (the overrides that are not sweeps, and
every override's key); the sweeper then checks each grid point (launch/grid.py build_grid).
"""

from __future__ import annotations

from typing import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser

from launch.grid import (CONF_DIR, RUN_CONFIGS, GridPoint, check_override_keys, check_sweeps, composition_error,
                         data_problems, experiment_scale)
from sweep.budget import compute_budget
from sweep.config import TrainConfig, to_typed, validate
from sweep.data.checks import check_data
from sweep.errors import ConfigError
from sweep.preflight import check_writable_dir

# Hydra flags this check understands; with any other flag (--help, --cfg, --config-path, ...)
# the command line is left to Hydra alone.
MULTIRUN_FLAGS = ("-m", "--multirun")
_CONFIG_NAME_FLAGS = ("-cn", "--config-name")
PLANNER_KEYS = ("budget.trunk", "budget.ladder_tokens_per_param")  # the ladder planner's, never a grid's
DRY_RUN_OVERRIDES = ("hydra.sweeper.dry_run=true", "hydra.launcher.dry_run=true")  # --dry-run's, and the launchers'



def check_command_line(args: Sequence[str]) -> None:
    """Raise ConfigError for a mistake in `args` (sys.argv[1:] of `python -m sweep.train`)."""
    parsed = _parse_args(args)
    if parsed is None:
        return
    overrides, multirun, config_name = parsed
    check_override_keys(overrides)
    check_launcher_keys(overrides, config_name)
    if multirun:
        check_multirun(overrides, config_name)
    else:
        check_single_run(overrides, config_name)


HYDRA_MODES = ("--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")  # Hydra's: each excludes -m


def check_flags(args: Sequence[str]) -> None:
    """ConfigError for flags Hydra refuses with a traceback (-m beside --cfg / --info) or misreads
    (-cn without a name took the next override as the config's name)."""
    given = list(args)
    mode = next((a for a in given if a in HYDRA_MODES), None)
    if mode is not None and any(a in MULTIRUN_FLAGS for a in given):
        raise ConfigError(f"-m and {mode}: Hydra takes one of them; drop -m ({mode} job prints one run's config)")
    for i, arg in enumerate(given):
        if arg in _CONFIG_NAME_FLAGS and (i + 1 == len(given) or "=" in given[i + 1] or given[i + 1].startswith("-")):
            raise ConfigError(f"{arg} needs a config name after it; accepted: {', '.join(RUN_CONFIGS)}")


def flags_first(args: Sequence[str]) -> list[str]:
    """`args` with -m / --multirun and the config name's flag before the overrides: Hydra's
    argparse takes the overrides only as one run of words, so `model.d=64 -m lr=1e-3` was a usage
    error. Unchanged where another flag appears (Hydra's own, left to it)."""
    flags, overrides = [], []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in MULTIRUN_FLAGS or arg.startswith("--config-name="):
            flags.append(arg)
        elif arg in _CONFIG_NAME_FLAGS and rest:
            flags += [arg, rest.pop(0)]
        elif arg.startswith("-"):
            return list(args)
        else:
            overrides.append(arg)
    return [*flags, *overrides]


def _parse_args(args: Sequence[str]) -> tuple[list[str], bool, str] | None:
    """(overrides, multirun, config name), or None for flags this check leaves to Hydra."""
    overrides, multirun, config_name = [], False, "train"
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in MULTIRUN_FLAGS:
            multirun = True
        elif arg in _CONFIG_NAME_FLAGS and rest:
            config_name = rest.pop(0)
        elif arg.startswith("--config-name="):
            config_name = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            return None
        else:
            overrides.append(arg)
    return overrides, multirun, config_name


def check_launcher_keys(overrides: list[str], config_name: str = "train") -> None:
    """Every `hydra.launcher.<key>=...` names an option of the chosen launcher: a typo is refused
    with the options it accepts, never with Hydra's "not in struct". (`+hydra.launcher.<key>`
    adds a key: the launcher itself refuses one it does not know, naming the accepted.)"""
    keys = [o.split("=", 1)[0] for o in overrides if o.startswith("hydra.launcher.")]
    if not keys:
        return
    parser = OverridesParser.create()
    try:
        rest = [o for o in overrides if not o.startswith("hydra.launcher.")
                and not parser.parse_override(o).is_sweep_override()]
    except Exception as err:  # a malformed override
        raise ConfigError(composition_error(err)) from err
    hydra = _compose(rest, config_name, return_hydra_config=True).hydra
    accepted = sorted(key for key in hydra.launcher if key != "_target_")
    for key in keys:
        option = key.split(".")[2]
        if option not in hydra.launcher:
            launcher = hydra.runtime.choices.get("hydra/launcher")
            raise ConfigError(f"{key}: not an option of hydra/launcher={launcher}; accepted: "
                              + (", ".join(accepted) or "none (choose hydra/launcher=local or slurm)"))


def check_single_run(overrides: list[str], config_name: str = "train") -> None:
    """Compose, validate and check the inputs of one run, as `python -m sweep.train` would."""
    cfg = to_typed(_compose(overrides, config_name))
    check_not_a_preset(cfg, overrides)
    validate(cfg)
    check_data(cfg.data)
    problems = data_problems([GridPoint(overrides, cfg, compute_budget(cfg))])
    if problems:
        raise ConfigError(problems[0])


def check_not_a_preset(cfg: TrainConfig, overrides: Sequence[str]) -> None:
    """A paper's preset (+experiment=NAME) is a grid: one ConfigError for it as a single run."""
    if cfg.experiment.name is not None:
        raise ConfigError(f"+experiment={cfg.experiment.name} is a grid: run it with -m (python -m sweep.train -m "
                          f"{' '.join(overrides)}), or see its runs first with sweep plan {' '.join(overrides)}")


def check_single_dry_run(args: Sequence[str]) -> None:
    """What a single run's --dry-run (`args`: the command line without it) refuses as the run itself
    would, before it is planned as a grid of one (launch/entry.py dry_run_args): a preset; its
    inputs are not checked, as a dry run's are not."""
    parsed = _parse_args(args)
    if parsed is None:
        return
    overrides, _, config_name = parsed
    check_override_keys(overrides)
    check_not_a_preset(to_typed(_compose(overrides, config_name)), overrides)


def check_multirun(overrides: list[str], config_name: str = "train") -> None:
    """What Hydra composes before the grid sweeper: the config with the overrides that are not
    sweeps; and the sweep's folder (out_dir), created by the sweeper, must be creatable."""
    parser = OverridesParser.create()
    try:
        fixed = [o for o in overrides if not parser.parse_override(o).is_sweep_override()]
    except Exception as err:  # a malformed override
        raise ConfigError(composition_error(err)) from err
    check_sweeps(overrides)  # of a preset or Hydra's settings: one value per command (was Hydra's words, rc 1)
    planned = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in PLANNER_KEYS]
    if planned:  # a grid of trunks by hand would be 0 runs, silently
        raise ConfigError(f"{planned[0]}: {' and '.join(PLANNER_KEYS)} are set by the planner of a budget.branch=true "
                          "grid for the ladder members it makes; leave them out of the command line")
    base = _compose(fixed, config_name, return_hydra_config=True)
    experiment_scale(base)  # a scale the experiment lacks: one error before Hydra creates any folder
    out_dir_swept = any(o.split("=", 1)[0].lstrip("+") == "out_dir" for o in overrides if o not in fixed)
    dry_run = any(o in DRY_RUN_OVERRIDES for o in overrides)  # plans, writes nothing: its plan names the folder
    if not out_dir_swept and not dry_run:
        check_writable_dir("out_dir", base.out_dir)


def _compose(overrides: list[str], config_name: str, return_hydra_config: bool = False):
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            return compose(config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)
    except Exception as err:  # Hydra / OmegaConf: wrong types, unknown choices, bad syntax
        raise ConfigError(composition_error(err)) from err
