"""hydra-submitit-launcher's option names, accepted by the project's launchers with their meaning.

Users of hydra-submitit-launcher write `submitit_folder`, `max_num_timeout` and `timeout_min`;
here they are `folder`, `max_requeues` and the time limits of `buckets` (README "Running on
Slurm" has the table). In conf/hydra/launcher/*.yaml such a name is null: not given. Given, it
takes the place of ours. Ours counts as given when its value differs from the default of the
launcher's YAML; both given with different values is one ConfigError naming both. Hydra does not
type a launcher's options either: `check_whole_numbers` refuses a count of the wrong kind.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from launch.grid import CONF_DIR
from sweep.errors import ConfigError


def given_options(launcher: DictConfig, conf_name: str) -> set[str]:
    """The keys of `hydra.launcher` (as composed, interpolations unresolved) whose values differ
    from conf/hydra/launcher/<conf_name>.yaml: set on the command line or in a config."""
    composed = OmegaConf.to_container(launcher, resolve=False)
    defaults = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "hydra" / "launcher" / f"{conf_name}.yaml"), resolve=False)
    return {key for key, value in composed.items() if key in defaults and value != defaults[key]}


def aliased_value(options: Any, alias: str, ours: str, given: set[str]) -> Any:
    """The value of option `ours` once hydra-submitit-launcher's `alias` of it is taken into
    account: the alias when it is given, ours otherwise; ConfigError when both are given and differ."""
    value, own = getattr(options, alias), getattr(options, ours)
    if value is None:
        return own
    if ours in given and own != value:
        raise ConfigError(f"hydra.launcher.{alias}={value} and hydra.launcher.{ours}={own} disagree: "
                          f"{alias} is hydra-submitit-launcher's name for {ours}; give one of them")
    return value


def check_whole_numbers(options: Any, least_of: dict[str, int], or_null: str | None = None) -> None:
    """ConfigError for an option of `least_of` that is not a whole number >= its least value
    (`timeout_min=abc` reached submitit, `parallelism=two` a comparison, `nodes=1.5` sbatch);
    `or_null`: the options may be null, which means this."""
    for key, least in least_of.items():
        value = getattr(options, key)
        if value is None and or_null is not None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            null = f", or null ({or_null})" if or_null is not None else ""
            raise ConfigError(f"hydra.launcher.{key}={value!r}: accepted is a whole number >= {least}{null}")
