"""A multirun grid: expand the command line's sweep overrides into grid points, compose each
one, and validate ALL of them before any is trained. Points asking for cooldown branches
(`budget.branch=true`) become their ladders' trunk and branch points (sweep/ladder.py).

Used by `sweep plan` and by the grid sweeper (every `python -m sweep.train -m ...`), which hands
the validated grid to the project's launchers (launch/hydra_plugins/sweep_launchers).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType
from omegaconf import DictConfig, OmegaConf

from sweep.budget import Budget, compute_budget
from sweep.config import (TrainConfig, check_bool, check_key, check_not_null, check_not_section, section_keys, to_typed,
                          validate)
from sweep.data.checks import check_data
from sweep.errors import ConfigError, DamagedFile
from sweep.ladder import BRANCH, TRUNK, is_member, ladder_key, lost_trunk_checkpoint, plan_ladders, with_budget
from sweep.record import DAMAGED, FINISHED
from sweep.rundir import RunDir

log = logging.getLogger("sweep.grid")

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
NAMED_POINTS = 3  # an error shared by several grid points names this many of them


def split_grid(overrides: Sequence[str], config_loader: ConfigLoader | None = None) -> list[list[str]]:
    """['model.d=64,96', 'seed=0'] -> [['model.d=64', 'seed=0'], ['model.d=96', 'seed=0']],
    in the order Hydra's basic sweeper launches them. `glob(...)` sweeps list a config group's
    options, so they need Hydra's config loader (the sweeper's, or GlobalHydra's); `range(...)`
    and `choice(...)` do not."""
    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(list(overrides))
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
    config_name: str = "train"  # the config the overrides apply to (conf/<name>.yaml: --config-name)

    @functools.cached_property
    def run(self) -> RunDir:
        return RunDir.for_config(self.cfg)

    @property
    def role(self) -> str | None:
        """`trunk` or `branch` for the members of a cooldown-branch ladder; None for a plain run."""
        if not is_member(self.cfg):
            return None
        return TRUNK if self.cfg.budget.trunk else BRANCH

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


def rewrite_damaged_configs(grid: Sequence[GridPoint]) -> list[str]:
    """For each run that ended (result.json says so) but whose config.yaml cannot be read or is gone, the
    config written again from its grid point (the run folder's name is that config's hash), as
    CONFIG_REMEDY tells the user: a finished run is not run again, so nothing else rewrites it.
    Returns the runs rewritten."""
    rewritten = []
    for point in grid:
        if point.state() in FINISHED:  # a config.yaml missing too: the folder is still shown (as damaged)
            try:
                point.run.read_config()
            except DamagedFile:
                point.run.write_config(point.cfg)
                rewritten.append(point.run.path.name)
    return rewritten


def build_grid(points: Sequence[Sequence[str]], compose: Callable[[list[str]], DictConfig | TrainConfig],
               config_name: str = "train") -> list[GridPoint]:
    """Compose and validate every point (each overrides of the config `config_name`); raise one
    ConfigError naming every invalid point."""
    check_override_keys({o for overrides in points for o in overrides})
    grid, errors = [], []
    fixed = _fixed_overrides(points)
    for overrides in points:
        where = " ".join(o for o in overrides if o not in fixed) or "(defaults)"
        try:
            cfg = to_typed(compose(list(overrides)))
            validate(cfg)
            check_data(cfg.data)
            grid.append(GridPoint(list(overrides), cfg, compute_budget(cfg), config_name))
        except ConfigError as err:
            errors.append((where, str(err)))
        except Exception as err:  # Hydra / OmegaConf composition errors: wrong types, unknown choices
            errors.append((where, composition_error(err)))
    if len(points) == 1 and errors:  # no label: its overrides are the whole command line
        raise ConfigError(f"the grid's one point is invalid; nothing was run: {errors[0][1]}")
    if errors:
        raise ConfigError(f"{len(errors)} of {len(points)} grid points are invalid; nothing was run:\n"
                          + "\n".join(_grouped(errors, len(points))))
    return expand_ladders(one_point_per_run(grid), fixed)


def one_point_per_run(grid: Sequence[GridPoint]) -> list[GridPoint]:
    """The grid with points of one run folder and one config kept once (`optim.lr=3e-3,0.003`); a
    ConfigError where points share a run folder but differ in settings that do not change what is
    trained (`logger=glob(*)`, `train.log_every=5,10`): one folder cannot hold both, and the second
    was skipped as "already complete" while the plan counted it twice."""
    from sweep.config import to_plain
    from sweep.results import flatten

    kept: dict[Path, GridPoint] = {}
    clashes: list[str] = []
    for point in grid:
        first = kept.setdefault(point.run.path, point)
        if first is point:
            continue
        a, b = flatten(to_plain(first.cfg)), flatten(to_plain(point.cfg))
        differ = [f"{k}={a.get(k)!r} / {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        if differ:
            clashes.append(f"  {point.run.path.name}: {', '.join(differ)}")
    if clashes:
        raise ConfigError(f"{len(clashes)} grid point(s) are the run of another point, differing only in settings "
                          "that do not change what is trained (so they share its run folder, which holds one of "
                          "them); give one value of each:\n" + "\n".join(clashes))
    return list(kept.values())


def _grouped(errors: Sequence[tuple[str, str]], n_points: int) -> list[str]:
    """One line per distinct error, in order of first appearance, naming the points it holds for:
    a bad setting that every point shares (early_stop.fraction=1.5 on a 400-point grid) is said
    once, not 400 times."""
    where_of: dict[str, list[str]] = {}
    for where, message in errors:
        where_of.setdefault(message, []).append(where)
    lines = []
    for message, wheres in where_of.items():
        if len(wheres) == 1:
            lines.append(f"  {wheres[0]}: {message}")
            continue
        named = "; ".join(wheres[:NAMED_POINTS]) + ("; ..." if len(wheres) > NAMED_POINTS else "")
        which = "every point" if len(wheres) == n_points else f"{len(wheres)} points ({named})"
        lines.append(f"  {which}: {message}")
    return lines


def expand_ladders(grid: Sequence[GridPoint], fixed: Iterable[str] = ()) -> list[GridPoint]:
    """The grid with its `budget.branch=true` points replaced by their ladders (sweep/ladder.py
    plan_ladders): per ladder its trunk, then one branch per budget, where the ladder's first
    point stood; plain points stay as they are. Each new point's overrides reproduce it: a
    branch's are its point's plus the planner's `budget.ladder_tokens_per_param`; the trunk's are
    those of the ladder's largest budget plus the planner's and `budget.trunk=true`.
    plan_ladders' ConfigError (a ladder of one budget, a budget the trunk cannot reach)
    names the points by their overrides that differ."""
    asking = [p for p in grid if p.cfg.budget.branch and not is_member(p.cfg)]
    if not asking:
        return list(grid)
    fixed = set(fixed)
    labels = [" ".join(o for o in p.overrides if o not in fixed) or "(defaults)" for p in asking]
    asking_ids = {id(p) for p in asking}
    ladders = {ladder_key(with_budget(ladder.trunk, ladder_tokens_per_param=None, trunk=False)): ladder
               for ladder in plan_ladders([p.cfg for p in asking], labels)}
    expanded: list[GridPoint] = []
    for point in grid:
        if id(point) not in asking_ids:
            expanded.append(point)
            continue
        key = ladder_key(point.cfg)
        ladder = ladders.pop(key, None)
        if ladder is None:  # its ladder stands where its first point stood
            continue
        members = [p for p in asking if ladder_key(p.cfg) == key]
        by_budget = {p.cfg.budget.tokens_per_param: p for p in reversed(members)}  # the first of each budget
        top = ladder.trunk.budget.tokens_per_param
        planner = f"budget.ladder_tokens_per_param={top:g}"
        trunk_overrides = [*with_override(by_budget[top].overrides, planner), "budget.trunk=true"]
        expanded.append(GridPoint(trunk_overrides, ladder.trunk, compute_budget(ladder.trunk), members[0].config_name))
        for branch in ladder.branches:
            overrides = with_override(by_budget[branch.budget.tokens_per_param].overrides, planner)
            expanded.append(GridPoint(overrides, branch, compute_budget(branch), members[0].config_name))
    return expanded


def config_name_argument(config_name: str) -> list[str]:
    """`--config-name NAME` for `python -m sweep.train`, nothing for conf/train.yaml."""
    return [] if config_name == "train" else ["--config-name", config_name]


def with_override(overrides: Sequence[str], override: str) -> list[str]:
    """`overrides` with `override` set: replacing one of the same key, else appended."""
    key = override.split("=", 1)[0]
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+") != key]
    return [*kept, override]


def check_override_keys(overrides: Iterable[str]) -> None:
    """Every plain `key=value` override names a key of the schema (sweep/config.py check_key):
    a typo is refused with the accepted keys, never with Hydra's advice to add it with `+`. A
    character Hydra's grammar reads only quoted is refused first (check_override_characters), a
    removal (`~model.d`) next; a section given a value (`model=big`) is refused with its keys."""
    for override in overrides:
        check_override_characters(override)
        check_not_removed(override)
        key = override.split("=", 1)[0]
        if ("=" in override and not key.startswith(("+", "~", "hydra")) and "@" not in key
                and "/" not in key and not (CONF_DIR / key).is_dir()):
            check_key(key)
            check_not_section(key, override.split("=", 1)[1])
            check_bool(key, override.split("=", 1)[1])
            if override.split("=", 1)[1].strip() == "null":
                check_not_null(key)
        elif "=" in override and (CONF_DIR / key).is_dir() and override.split("=", 1)[1].strip() in ("null", ""):
            raise ConfigError(f"{override}: {key} is a config group; accepted: {', '.join(group_options(key))}")


def check_not_removed(override: str) -> None:
    """ConfigError for `~key` (was OmegaConf's "ModelConfig (DictConfig) does not support deletion", and a
    KeyError traceback for `~model`): every setting has a value, so a setting is set, never removed.
    Hydra's own keys (`~hydra.sweeper.params`) are Hydra's to remove."""
    key = override.split("=", 1)[0].lstrip("~")
    if not override.startswith("~") or key.startswith("hydra"):
        return
    if (CONF_DIR / key).is_dir():
        accepted = f"{key}=NAME, accepted: {', '.join(group_options(key))}"
    else:
        check_key(key)
        keys = section_keys(key)
        accepted = (f"{key}.{keys[0]}=..., {key}.{keys[1]}=...; accepted keys of {key}: {', '.join(keys)}" if keys
                    else f"{key}=VALUE")
    raise ConfigError(f"{override}: settings cannot be removed, only set ({accepted})")


def group_options(group: str) -> list[str]:
    """The options of a config group of the tree (conf/GROUP/NAME.yaml)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


UNREADABLE_CHARACTER = re.compile(r"token recognition error at: '(?P<character>.+)'")  # Hydra's lexer


def check_override_characters(override: str) -> None:
    """ConfigError for a value holding a character Hydra's override grammar reads only in quotes
    (`logger.group=run#1`), saying how to quote it (was: Hydra's "LexerNoViableAltException")."""
    try:
        OverridesParser.create().parse_override(override)
    except Exception as err:
        if "=" not in override:  # no override at all: composing names it
            return
        key, value = override.split("=", 1)
        unreadable = UNREADABLE_CHARACTER.search(str(err))
        if unreadable is not None:
            character = unreadable["character"]
            raise ConfigError(f"{override}: {character!r} is read only inside quotes; quote the value, the double "
                              f"quotes for Hydra inside single quotes for the shell: "
                              f"'{key}={_quote_items(value, character)}'") from None
        raise ConfigError(f"{override}: Hydra's override grammar cannot read the value ({err}); a text holding = [ ] "
                          f"{{ }} , or : is read only inside quotes, the double quotes for Hydra inside single quotes "
                          f"for the shell: '{key}={_quoted(value)}'") from None


def _quoted(value: str) -> str:
    """`value` with its text in double quotes: a list's items each (`[--a=1,b]` -> `["--a=1","b"]`),
    else the whole (`node3,node[5-7]` -> `"node3,node[5-7]"`)."""
    listed = value.startswith("[") and value.endswith("]")
    if not listed:
        return f'"{value}"'
    return "[" + ",".join(item if item.startswith('"') else f'"{item}"' for item in value[1:-1].split(",")) + "]"


def _quote_items(value: str, character: str) -> str:
    """`value` with each item holding `character` in double quotes: `a#1` -> `"a#1"`, a list's or a
    sweep's items one by one (`[a#1,b]` -> `["a#1",b]`)."""
    listed = value.startswith("[") and value.endswith("]")
    items = (value[1:-1] if listed else value).split(",")
    quoted = ",".join(f'"{item}"' if character in item else item for item in items)
    return f"[{quoted}]" if listed else quoted


WRONG_TYPE = re.compile(r"Value '(?P<value>.*)' (?:of type '\w+' could not be converted to (?P<kind>\w+)|is not a "
                        r"valid (?P<bool>bool)) .*?full_key: (?P<key>\S+)")
ACCEPTED_TYPE = {"Float": "a number", "Integer": "a whole number", "Boolean": "true or false"}  # OmegaConf's types
NOT_A_LIST = re.compile(r"Error merging override [^=\s]+=(?P<value>.*?);? Invalid value assigned: \w+ is not a "
                        r"ListConfig.*?full_key: (?P<key>\S+)")
NO_CONFIG = re.compile(r"Cannot find primary config '(?P<name>[^']*)'")
NOT_IN_DEFAULTS = re.compile(r"Could not override '(?P<group>[^']+)'\. No match in the defaults list")
NOT_IN_STRUCT = re.compile(r"Could not override '(?P<key>[^']+)'\. To append to your config use \+(?P=key)="
                           r"(?P<value>.*?) Key '(?P<sub>[^']+)' is not in struct")
TWO_CHOICES = re.compile(r"Multiple values for (?P<group>[\w/]+)\.")
RUN_CONFIGS = ("train", "demo")  # the configs a run or sweep starts from (conf/*.yaml; the others are parts)


def composition_error(err: Exception) -> str:
    """Hydra's or OmegaConf's error as one line: its message without the advice to append a key
    with `+` and without OmegaConf's internal object type."""
    lines = [line.strip() for line in str(err).splitlines()]
    if err.__cause__ is not None and str(err.__cause__) != "None":  # "Error merging override": the reason is
        lines += [line.strip() for line in str(err.__cause__).splitlines()]  # the cause (a parser's: no words)
    if "Config search path:" in lines:
        lines = lines[:lines.index("Config search path:")]
    new_key = NOT_IN_STRUCT.search(" ".join(lines))
    if new_key is not None:  # `hydra.launcher.additional_parameters={exclusive:true}`: a key the mapping lacks
        return _new_keys_error(new_key["key"], new_key["value"], new_key["sub"])
    twice = TWO_CHOICES.search(" ".join(lines))
    if twice is not None and (CONF_DIR / twice["group"]).is_dir():  # `+experiment=a +experiment=b`
        group = twice["group"]
        return (f"+{group}=...: given twice; a command takes one {group} (one command per {group}); "
                f"accepted: {', '.join(group_options(group))}")
    kept = [line for line in lines if line and not line.startswith(("To append", "object_type", "reference_type", "Set the env"))]
    typed = WRONG_TYPE.search(" ".join(kept))
    if typed is not None:  # "Value 'abc' of type 'str' could not be converted to Float; full_key: optim.lr"
        kind = "Boolean" if typed["bool"] else typed["kind"]
        return f"{typed['key']}={typed['value']}: accepted is {ACCEPTED_TYPE.get(kind, kind)}"
    listed = NOT_A_LIST.search(" ".join(kept))
    if listed is not None:  # "Invalid value assigned: str is not a ListConfig, list or tuple. full_key: data.paths"
        key, value = listed["key"], listed["value"]
        return f"{key}={value}: accepted is a list, {key}=[{value}] (several: {key}=[a,b])"
    absent = NOT_IN_DEFAULTS.search(" ".join(kept))
    if absent is not None and (CONF_DIR / absent["group"]).is_dir():  # `experiment=otr`: Hydra adds it only with +
        group = absent["group"]
        return (f"{group}=...: {group} is not in the config's defaults list, so it is added with a leading +: "
                f"+{group}=NAME; accepted: {', '.join(group_options(group))}")
    missing = NO_CONFIG.search(" ".join(kept))
    if missing is not None:  # "Cannot find primary config 'nope'. Check that it's in your config search path."
        return f"Cannot find primary config {missing['name']!r}; accepted config names: {', '.join(RUN_CONFIGS)}"
    return " ".join(line if line.endswith((":", ".", ";")) else line + ";" for line in kept).rstrip(";") \
        or type(err).__name__


def _new_keys_error(key: str, value: str, missing: str) -> str:
    """A mapping given whole whose key `missing` the config's mapping at `key` lacks: each key added
    with a leading + instead, one override each (`+hydra.launcher.additional_parameters.exclusive=true`)."""
    try:
        given = OverridesParser.create().parse_override(f"{key}={value}").value()
    except Exception:  # noqa: BLE001 (the value is Hydra's own echo of the override: it parsed once)
        given = None
    adds = ([f"+{key}.{k}={json.dumps(v) if isinstance(v, bool) or v is None else v}" for k, v in given.items()]
            if isinstance(given, dict) else [f"+{key}.{missing}=VALUE"])
    return (f"{key}={value}: {missing!r} is not a key of {key}, and a mapping given whole sets only the keys it "
            f"has; add a new key with a leading +, one override each: {' '.join(adds)}")


def _fixed_overrides(points: Sequence[Sequence[str]]) -> set[str]:
    """Overrides shared by every point (none for a single point): not worth naming in errors."""
    if len(points) < 2:
        return set()
    return set(points[0]).intersection(*map(set, points[1:]))


def compose_grid(overrides: Sequence[str], config_name: str = "train") -> list[GridPoint]:
    """The grid of a command line, composed with the project's config tree (for `sweep plan`)."""
    return compose_sweep(overrides, config_name)[1]


def compose_sweep(overrides: Sequence[str], config_name: str = "train") -> tuple[DictConfig, list[GridPoint]]:
    """A command line's multirun config, as Hydra composes it before the sweep (with its hydra
    config: `hydra.launcher` is the launcher chosen), and its grid."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    check_override_keys(overrides)  # a misspelt key: the accepted ones and a guess, before Hydra's own words
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        try:
            base = compose(config_name, overrides=fixed_overrides(overrides), return_hydra_config=True)
        except ConfigError:
            raise
        except Exception as err:  # Hydra's: a preset or config group option that does not exist, a bad type
            raise ConfigError(composition_error(err)) from err
        loader = GlobalHydra.instance().config_loader()
        composer = GridComposer(lambda point: compose(config_name, overrides=point), loader.repository.group_exists)
        return base, build_grid(grid_points(base, overrides, loader), composer, config_name)


def fixed_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides that are not sweeps: what Hydra composes a multirun's config with."""
    parser = OverridesParser.create()
    try:
        return [o for o in overrides if not parser.parse_override(o).is_sweep_override()]
    except Exception as err:  # a malformed override: one error, as composing it would give
        raise ConfigError(composition_error(err)) from err


def grid_points(config: DictConfig, arguments: Sequence[str], config_loader: ConfigLoader | None = None
                ) -> list[list[str]]:
    """The points of a multirun: each of the config's own grids (`config_grids`) with the command
    line's `arguments` after it (a key given on the command line replaces the config's), expanded;
    their union, in order, a point listed by two grids once."""
    check_sweeps(arguments)
    points: list[list[str]] = []
    for grid in config_grids(config):
        for point in split_grid([*grid, *arguments], config_loader):
            if point not in points:
                points.append(point)
    return points


def check_sweeps(arguments: Sequence[str]) -> None:
    """ConfigError for a sweep over what takes one value per command: a preset or its scale
    (`+experiment=a,b`, `experiment.scale=cpu,paper`: the chosen preset's scale gives the grid once,
    for the whole command, so the points were the default run, or one grid under two scales,
    refused as points that differ only in settings that do not change what is trained); Hydra's own
    settings (`hydra.launcher.parallelism=2,3`: Hydra's "Sweeping over Hydra's configuration is not
    supported", exit code 1, with its advice on tracebacks)."""
    parser = OverridesParser.create()
    for argument in arguments:
        try:
            override = parser.parse_override(argument)
        except Exception:  # noqa: BLE001 (a malformed override: composing names it)
            continue
        key = override.key_or_group
        preset, hydra = key == "experiment" or key.startswith("experiment."), key.startswith("hydra.")
        if not override.is_sweep_override() or not (preset or hydra):
            continue
        one_by_one = ", then ".join(f"{argument.split('=', 1)[0]}={v}" for v in override.sweep_string_iterator())
        if preset:
            raise ConfigError(f"{argument}: a command runs one +experiment at one experiment.scale (the preset's "
                              f"scale gives the whole command its grid); run one command per value: {one_by_one}")
        raise ConfigError(f"{argument}: Hydra's own settings (hydra.*) take one value per command, Hydra sweeps "
                          f"only the run's; run one command per value: {one_by_one}")


def config_grids(config: DictConfig) -> list[list[str]]:
    """The sweep dimensions a config itself declares, as one or more grids whose union is its
    sweep: `hydra.sweeper.params` (the demo's); with an experiment preset (`+experiment=NAME`,
    conf/experiment/), then the chosen scale's `overrides`, and one grid per entry of its `grids`
    (each a list of overrides: an arm of the experiment, e.g. one recipe) or one grid without."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    if not OmegaConf.is_dict(params) and not isinstance(params, dict):
        raise ConfigError(f"hydra.sweeper.params={params!r}: accepted is a mapping of override keys to their values "
                          "(as conf/demo.yaml declares its grid), or null")
    declared = [f"{key}={value}" for key, value in params.items()]
    scale = experiment_scale(config)
    if scale is None:
        return [declared]
    shared = declared + scale.get("overrides", [])
    return [shared + arm for arm in scale.get("grids") or [[]]]


SCALE_KEYS = ("overrides", "grids", "note")


def experiment_scale(config: DictConfig) -> dict[str, Any] | None:
    """The chosen scale of the config's experiment preset ({overrides: [str], grids: [[str]], note}),
    None without an experiment. ConfigError naming the scales accepted, or what is malformed."""
    name = OmegaConf.select(config, "experiment.name")
    chosen = OmegaConf.select(config, "experiment.scale")
    scales = OmegaConf.select(config, "experiment.scales") or {}
    if name is None:
        if chosen not in (None, "cpu") or scales:
            raise ConfigError(f"experiment.scale={chosen} (or experiment.scales) is set but no experiment is selected: "
                              f"add +experiment=NAME (accepted: {', '.join(experiment_names()) or 'none found'})")
        return None
    if chosen not in scales:
        raise ConfigError(f"experiment.scale={chosen}: the experiment {name} has the scales "
                          f"{', '.join(map(str, scales)) or '(none)'}")
    scale = OmegaConf.to_container(scales[chosen], resolve=False)
    where = f"experiment {name}, scale {chosen}"
    if not isinstance(scale, dict) or set(scale) - set(SCALE_KEYS):
        raise ConfigError(f"{where}: a scale is a mapping with the keys {', '.join(SCALE_KEYS)}; it has "
                          f"{', '.join(map(str, scale)) if isinstance(scale, dict) else repr(scale)}")
    overrides, grids = scale.get("overrides") or [], scale.get("grids") or []
    if not _strings(overrides) or not isinstance(grids, list) or not all(_strings(g) for g in grids):
        raise ConfigError(f"{where}: `overrides` is a list of overrides (key=value) and `grids` a list of such lists")
    return {"overrides": list(overrides), "grids": [list(g) for g in grids], "note": scale.get("note")}


def experiment_names() -> list[str]:
    """The experiment presets of the config tree (conf/experiment/NAME.yaml)."""
    return group_options("experiment")


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def check_jobs_in_order(grid: Sequence[GridPoint]) -> None:
    """ConfigError for a grid whose jobs must run in order (a cooldown-branch ladder's segments
    and branches, an early-stopped group's probes, decision and rests), for a launcher that runs
    points as it is given them (Hydra's basic launcher, any launcher not the project's). Said
    before the data is checked: preparing it would not make the grid runnable there."""
    from sweep.early_stop import early_stopped_groups

    if any(point.role is not None for point in grid):
        raise ConfigError("budget.branch=true: a cooldown-branch ladder runs as trunk segments and branches "
                          "in order, which only the project's launchers do: add hydra/launcher=local "
                          "(this machine) or hydra/launcher=slurm")
    if early_stopped_groups([point.cfg for point in grid]):
        raise ConfigError("early_stop.enabled=true: the runs of a budget group train to their probe step, "
                          "are decided together, then go on, which only the project's launchers do: add "
                          "hydra/launcher=local (this machine) or hydra/launcher=slurm")


def check_data_ready(grid: Sequence[GridPoint], runs_here: bool = True) -> None:
    """Every unfinished point can start: one ConfigError naming each problem, before any job
    starts (the problems of `data_problems`)."""
    errors = data_problems(grid, runs_here)
    if errors:
        raise ConfigError("the grid's inputs are not ready; nothing was run:\n"
                          + "\n".join(f"  {e}" for e in errors))


def data_problems(grid: Sequence[GridPoint], runs_here: bool = True) -> list[str]:
    """What stops an unfinished point from starting: a streamed corpus (hf, c4, synthetic)
    without prepared shards holding enough tokens for it; a local corpus (files) whose files are
    missing, unreadable or hold no document; train.device=cuda without CUDA (when the runs start on this machine,
    `runs_here`); an out_dir or data.cache_dir that cannot be written (sweep/preflight.py); a cooldown
    branch whose trunk ended without the checkpoint it starts from (sweep/ladder.py
    lost_trunk_checkpoint). Each problem named once."""
    from sweep.data.access import check_epochs
    from sweep.data.streamed import is_streamed, open_prepared, prepared_path
    from sweep.preflight import check_folder_path, check_run_inputs

    unfinished = [point for point in grid if point.state() not in FINISHED]
    problems: dict[tuple, str | None] = {}  # one check per distinct device, out_dir and corpus
    for point in unfinished:
        inputs = (point.cfg.train.device, point.cfg.out_dir, repr(point.cfg.data))
        if inputs not in problems:
            problems[inputs] = _input_problem(point.cfg, lambda cfg: check_run_inputs(cfg, runs_here))
    errors = list(dict.fromkeys(p for p in problems.values() if p))
    errors += [lost for point in unfinished if point.role == BRANCH and not point.run.checkpoint_file.exists()
               for lost in [lost_trunk_checkpoint(point.cfg)] if lost]
    by_entry: dict[Path, list[GridPoint]] = {}
    for point in unfinished:
        if is_streamed(point.cfg.data):
            by_entry.setdefault(prepared_path(point.cfg.data), []).append(point)
    for points in by_entry.values():
        try:  # a cache_dir that is a file: that, not "not prepared" (check_run_inputs may have said it)
            check_folder_path("data.cache_dir", points[0].cfg.data.cache_dir)
            corpus = open_prepared(points[0].cfg.data, max(p.cfg.model.seq_len for p in points))
        except ConfigError as err:
            errors.append(str(err))
            continue
        for point in points:
            try:
                check_epochs(point.cfg.data, corpus.n_train_tokens, point.budget.tokens,
                             point.cfg.model.seq_len, point.run.path.name)
            except ConfigError as err:
                errors.append(str(err))
    return list(dict.fromkeys(errors))


def _input_problem(cfg: TrainConfig, check: Callable[[TrainConfig], None]) -> str | None:
    """The first problem `check` finds with a point's inputs, or None."""
    try:
        check(cfg)
    except ConfigError as err:
        return str(err)
    return None
