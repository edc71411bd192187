"""The runs `sweep suggest` chooses among: the candidate set of a source.

A sweep folder or a W&B group knows its runs' configs. The candidates then take the config of
the best complete run of the largest N (the base: its learning rate, batch size and weight decay
are the ones the sweep tuned) and vary three axes:

- model.d: every multiple of model.head_dim from the sweep's smallest width to twice its largest
  (more than conf/fit.yaml's suggest_max_widths of them: that many spread geometrically over the
  range, rounded to multiples of head_dim, and the sweep's own widths);
- model.l: the sweep's depths;
- budget.tokens_per_param: the sweep's values.

Each point is the base config with those three set; sweep/budget.py gives its N, tokens, steps
and FLOPs. A point that fails sweep/config.py `validate` or the budget (fewer tokens than one
step) is left out, and counted. Its command line is the base run's own overrides (its
overrides.yaml) with the three axes replaced, on the config they were applied to (`--config-name
demo` for a `sweep demo` run: overrides.yaml names it), when they rebuild its config from that
file; otherwise (none recorded, as for a W&B run, or a config file changed since the run) every
setting of its config that differs from conf/train.yaml's.

`--candidates "model.d=64,96,128 model.l=2,4 budget.tokens_per_param=10,20,40"` replaces any of
the three axes; the others keep the set above.

A table file (.csv / .parquet) has no configs: its candidates are on N only, the table's distinct
N (to 3 significant digits: copies of one model that differ in the last digits are one size) and
2 x and 4 x the largest, each with every tokens-per-param value of the table (tokens / N to 3
significant digits, values within 5% of each other one; past conf/fit.yaml's suggest_max_ratios of
them, that many spread geometrically over their range; a table at one ratio r: r / 4, r / 2, r,
2 r and 4 r, since its law needs runs at other ratios to set N_opt), less the pairs with fewer tokens than any run of the table (left out and counted,
unless --candidates gives both axes): a small size at the table's smallest ratio would be a run
far below every token count the law was fitted on, whose loss the bootstrap laws disagree on most
and which the law is not known to describe. They have no overrides: no command line can be given.
`--candidates` there accepts n_params and budget.tokens_per_param.

Letters: N parameters, D width (model.d), L depth (model.l).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from sweep.budget import compute_budget
from sweep.config import TrainConfig, to_plain, validate
from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.design import Candidate
from sweep.fit.runs_file import is_table_file
from sweep.fit.table import RunsTable, load_runs_table
from sweep.record import COMPLETE

WIDTH, DEPTH, RATIO = "model.d", "model.l", "budget.tokens_per_param"
SWEEP_AXES = (WIDTH, DEPTH, RATIO)  # what --candidates may set for a sweep folder or W&B group
N_PARAMS = "n_params"
TABLE_AXES = (N_PARAMS, RATIO)  # ... and for a table file
TABLE_SIZE_FACTORS = (2, 4)  # a table's candidate sizes beyond its largest N
RATIO_SAME = 1.05  # a table's tokens per parameter within this factor of a group's first are one ratio (rounding)
ONE_RATIO_FACTORS = (0.25, 0.5, 1, 2, 4)  # a table at one ratio r: candidates at these multiples of r
RATIO_QUANTILES = (0.05, 0.95)  # past suggest_max_ratios, a table's candidate ratios span these quantiles of its runs'
NO_CONFIGS = "a table file has no configs, so no command line can be given"


@dataclass(frozen=True)
class BaseRun:
    """The run whose config the candidates take: its name, typed config, and the overrides that
    trained it, applied to conf/<config_name>.yaml (None, with `why_no_command`, when they cannot be
    given)."""

    name: str
    cfg: TrainConfig
    overrides: tuple[str, ...] | None
    why_no_command: str | None = None
    config_name: str = "train"


@dataclass(frozen=True)
class CandidateSet:
    """The candidates of a source with what made them: the axes' values, the base run (None for a
    table file), the points left out with the first reason, and each candidate's config by label
    (empty for a table file)."""

    candidates: tuple[Candidate, ...]
    axes: dict[str, tuple[float, ...]]
    base: BaseRun | None = None
    left_out: int = 0
    left_out_reason: str | None = None
    configs: dict[str, TrainConfig] = field(default_factory=dict)

    @property
    def why_no_command(self) -> str | None:
        """None when every candidate has its command line; else why none has."""
        return NO_CONFIGS if self.base is None else self.base.why_no_command


def candidate_set(source: str, axes_text: str | None = None, *, table: RunsTable | None = None,
                  api: Any = None, recipe: str | None = None) -> CandidateSet:
    """The candidates of `source` (module docstring); `axes_text` is --candidates. `table`: the
    source's runs table when read already (a table file's, of `recipe`); `api`: a W&B public API
    (tests); `recipe`: the recipe whose runs the candidates follow (None: every run)."""
    source = str(source)
    if is_table_file(source):
        axes = parse_axes(axes_text, TABLE_AXES, "a table file (it has no configs)")
        if table is None:
            table = load_runs_table(source).only_recipe(recipe, "candidates follow")
        return table_candidates(table, axes)
    axes = parse_axes(axes_text, SWEEP_AXES, "a sweep folder or W&B group")
    rows, base = sweep_base(source, api, recipe)
    return config_candidates(base, sweep_axes(rows), axes)


def parse_axes(text: str | None, accepted: Sequence[str], of: str) -> dict[str, tuple[float, ...]]:
    """`"model.d=64,96 model.l=2"` -> {"model.d": (64, 96), "model.l": (2,)}; one ConfigError naming
    the first bad part and what is accepted."""
    axes: dict[str, tuple[float, ...]] = {}
    for part in (text or "").split():
        key, eq, values = part.partition("=")
        if not eq or key not in accepted or not values:
            raise ConfigError(f"--candidates {part!r}: accepted for {of} are {', '.join(accepted)}, each as "
                              f"KEY=V1,V2,... (e.g. {accepted[-1]}=10,20,40), separated by spaces")
        if key in axes:
            raise ConfigError(f"--candidates: {key} is given twice; give it once with all its values")
        numbers = []
        for value in values.split(","):
            number = _number(value)
            whole = key in (WIDTH, DEPTH)
            if number is None or number <= 0 or (whole and not number.is_integer()):
                kind = "a whole number >= 1" if whole else "a number > 0"
                raise ConfigError(f"--candidates {key}={value!r}: accepted is {kind} (e.g. {key}="
                                  f"{'64,128' if key == WIDTH else '2,4' if key == DEPTH else '10,20'})")
            numbers.append(int(number) if whole else number)
        axes[key] = tuple(sorted(set(numbers)))
    return axes


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def sweep_base(source: str, api: Any = None, recipe: str | None = None) -> tuple[list[dict[str, Any]], BaseRun]:
    """The source's runs (rows, as sweep/results.py gives them; of `recipe` only, where given) and its
    base run: the complete run of the largest N with the lowest final eval loss."""
    from sweep.wandb_runs import parse_source

    wandb_sweep = parse_source(source)
    if wandb_sweep is None:
        from sweep.results import load_source

        rows, runs = load_source(source), None
    else:
        from sweep.wandb_runs import train_runs, wandb_row

        runs = train_runs(wandb_sweep, api)
        rows = [wandb_row(run) for run in runs]
    complete = [(i, r) for i, r in enumerate(rows) if r.get("status") == COMPLETE and _positive(r.get("n_params"))
                and _finite(r.get("final_eval_loss")) and (recipe is None or (r.get("recipe") or "") == recipe)]
    if not complete:
        raise ConfigError(f"{source} has no complete run{f' of recipe {recipe!r}' if recipe is not None else ''} "
                          "with a final eval loss: no config to build candidates on")
    i, row = max(complete, key=lambda ir: (float(ir[1]["n_params"]), -float(ir[1]["final_eval_loss"])))
    if runs is None:
        return [r for _, r in complete], folder_base(row)
    return [r for _, r in complete], wandb_base(runs[i], str(row.get("run") or runs[i].name))


def folder_base(row: dict[str, Any]) -> BaseRun:
    from sweep.config import train_config
    from sweep.rundir import RunDir

    run = RunDir(row["path"])
    cfg = train_config(run.read_config(), str(run.config_file), "re-run the sweep's command to rewrite it")
    overrides = run.read_overrides()
    if overrides is None:  # a run from before overrides.yaml: its settings that differ from conf/'s
        return _rebuilt(run.path.name, cfg, f"{run.path.name} recorded no overrides")
    config_name = run.read_config_name() or "train"  # overrides.yaml names the config they applied to
    if not rebuilds(cfg, overrides, config_name):  # e.g. a config file changed since, or an entry from
        # before overrides.yaml named its config (conf/demo.yaml's runs were recorded as conf/train.yaml's)
        return _rebuilt(run.path.name, cfg, f"{run.path.name}'s overrides do not rebuild its config from "
                                            f"conf/{config_name}.yaml")
    return BaseRun(run.path.name, cfg, tuple(overrides), config_name=config_name)


def rebuilds(cfg: TrainConfig, overrides: Sequence[str], config_name: str = "train") -> bool:
    """Whether conf/<config_name>.yaml composed with `overrides` is `cfg`, setting for setting."""
    from sweep.results import flatten

    try:
        composed = composed_config(overrides, config_name)
    except Exception:  # noqa: BLE001 (an override the config does not take, a config that is gone: no rebuild)
        return False
    return flatten(to_plain(composed)) == flatten(to_plain(cfg))


def wandb_base(run: Any, name: str) -> BaseRun:
    from sweep.config import train_config

    plain = dict(run.config).get("config")
    where = f"the config of W&B run {run.id} ({name})"
    if not isinstance(plain, dict):
        raise ConfigError(f"W&B run {run.id} ({name}) has no full config (config.config, which sweep/tracking.py "
                          "logs): the candidates need its model and budget settings; read the sweep from its folder")
    cfg = train_config(plain, where, "read the sweep from its folder")
    return _rebuilt(name, cfg, f"W&B run {name} logged no overrides")


def _rebuilt(name: str, cfg: TrainConfig, why: str) -> BaseRun:
    try:
        return BaseRun(name, cfg, tuple(differing_overrides(cfg)))
    except ConfigError as err:
        return BaseRun(name, cfg, None, f"{why} and its config could not be set against conf/'s defaults ({err}): "
                                        "no command line can be given")


def differing_overrides(cfg: TrainConfig) -> list[str]:
    """`key=value` for every setting of `cfg` that differs from conf/train.yaml's composed defaults."""
    from sweep.results import flatten

    mine, default = flatten(to_plain(cfg)), flatten(to_plain(composed_config()))
    return [f"{key}={override_value(value)}" for key, value in mine.items() if default.get(key, object()) != value]


def composed_config(overrides: Sequence[str] = (), config_name: str = "train") -> TrainConfig:
    """conf/<config_name>.yaml composed with `overrides` (none: its defaults), typed."""
    from importlib.resources import files

    from hydra import compose, initialize_config_dir

    from sweep.config import to_typed

    try:
        with initialize_config_dir(config_dir=str(files("conf")), version_base=None):
            return to_typed(compose(config_name, overrides=list(overrides)))
    except ValueError:  # Hydra is initialized already (inside a Hydra app): compose there
        return to_typed(compose(config_name, overrides=list(overrides)))


def override_value(value: Any) -> str:
    """A value as Hydra's command line reads it back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    text = str(value)
    if re.fullmatch(r"[A-Za-z_/.][\w./:-]*", text) and text not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sweep_axes(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[float, ...]]:
    """The sweep's own widths, depths and tokens per parameter (of its complete runs)."""
    axes = {}
    for key, column in ((WIDTH, "d"), (DEPTH, "l"), (RATIO, "tokens_per_param")):
        values = sorted({r[column] for r in rows if _positive(r.get(column))})
        if not values:
            raise ConfigError(f"the complete runs carry no {column} ({key}): no candidates can be built")
        axes[key] = tuple(values)
    return axes


def candidate_widths(sweep_widths: Sequence[int], head_dim: int, max_widths: int) -> tuple[int, ...]:
    """Multiples of head_dim from the smallest sweep width to twice the largest; past max_widths of
    them, max_widths spread geometrically (rounded to multiples) and the sweep's own widths."""
    lo, hi = min(sweep_widths), 2 * max(sweep_widths)
    lo = max(head_dim, head_dim * math.ceil(lo / head_dim))
    every = list(range(lo, hi + 1, head_dim))
    if len(every) <= max_widths:
        return tuple(every)
    spread = {max(head_dim, head_dim * round(d / head_dim)) for d in np.geomspace(lo, hi, max_widths)}
    return tuple(sorted(spread | {int(d) for d in sweep_widths}))


def config_candidates(base: BaseRun, sweep: dict[str, tuple[float, ...]],
                      given: dict[str, tuple[float, ...]]) -> CandidateSet:
    """Every (D, L, tokens per parameter) on the base config (module docstring)."""
    head_dim = base.cfg.model.head_dim
    bad = [d for d in given.get(WIDTH, ()) if d % head_dim]
    if bad:
        raise ConfigError(f"--candidates {WIDTH}={bad[0]}: not a multiple of model.head_dim={head_dim} (the base run "
                          f"{base.name}'s); accepted are widths in {{{head_dim}, {2 * head_dim}, {3 * head_dim}, ...}}")
    axes = {WIDTH: given.get(WIDTH) or candidate_widths([int(d) for d in sweep[WIDTH]], head_dim,
                                                           fit_defaults().suggest_max_widths),
            DEPTH: given.get(DEPTH) or tuple(int(v) for v in sweep[DEPTH]),
            RATIO: given.get(RATIO) or tuple(sweep[RATIO])}
    candidates, configs, left_out, reason = [], {}, 0, None
    for d in axes[WIDTH]:
        for l in axes[DEPTH]:
            for ratio in axes[RATIO]:
                cfg = dataclasses.replace(base.cfg, model=dataclasses.replace(base.cfg.model, d=int(d), l=int(l)),
                                          budget=dataclasses.replace(base.cfg.budget, tokens_per_param=ratio))
                try:
                    validate(cfg)
                    budget = compute_budget(cfg)
                except ConfigError as err:
                    left_out, reason = left_out + 1, reason or f"d={d}, l={l}, tokens/param={ratio:g}: {err}"
                    continue
                label = f"d{d}-l{l}-tpp{ratio:g}"
                values = {WIDTH: int(d), DEPTH: int(l), RATIO: ratio}
                overrides = () if base.overrides is None else replaced(base.overrides, values)
                candidates.append(Candidate(float(budget.n_params), float(budget.tokens), float(budget.flops), label,
                                            overrides, budget.steps, base.config_name))
                configs[label] = cfg
    return CandidateSet(tuple(candidates), axes, base, left_out, reason, configs)


def replaced(overrides: Sequence[str], values: dict[str, Any]) -> tuple[str, ...]:
    """The overrides with each key of `values` set to its value (added at the end when absent)."""
    out, seen = [], set()
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key in values:
            out.append(f"{key}={override_value(values[key])}")
            seen.add(key)
        else:
            out.append(override)
    return tuple(out + [f"{k}={override_value(v)}" for k, v in values.items() if k not in seen])


def table_candidates(table: RunsTable, given: dict[str, tuple[float, ...]]) -> CandidateSet:
    """N x tokens-per-param candidates of a table without configs (module docstring)."""
    n_largest = float(table.n_params_R.max())
    sizes = given.get(N_PARAMS) or tuple(sorted({float(f"{n:.3g}") for n in table.n_params_R}
                                                | {float(f"{f * n_largest:.3g}") for f in TABLE_SIZE_FACTORS}))
    ratios = given.get(RATIO) or table_ratios(table.tokens_R / table.n_params_R, fit_defaults().suggest_max_ratios)
    fewest = float(table.tokens_R.min())
    keep_all = N_PARAMS in given and RATIO in given  # both axes given: taken as they are
    candidates, below = [], []
    for n in map(float, sizes):
        for r in ratios:
            if n * r < 0.99 * fewest and not keep_all:  # 1% below: the 3-digit rounding of N and ratio is no reason
                below.append((n, r))
            else:
                candidates.append(Candidate(n, n * r, label=f"N{short(n)}-tpp{r:g}"))
    reason = None if not below else (f"N{short(below[0][0])}-tpp{below[0][1]:g}: {below[0][0] * below[0][1]:.3g} tokens, "
                                     f"fewer than any run of the table ({fewest:.3g}): the law is not known to hold there")
    return CandidateSet(tuple(candidates), {N_PARAMS: tuple(sizes), RATIO: tuple(ratios)}, left_out=len(below),
                        left_out_reason=reason)


def table_ratios(ratios_R: np.ndarray, max_ratios: int) -> tuple[float, ...]:
    """A table's distinct tokens per parameter (to 3 significant digits; ratios within
    RATIO_SAME of the next are one, their median to 2 digits: Cerebras-GPT's 19.6 .. 20.2 are its
    one nominal 20); past max_ratios of them, max_ratios spread geometrically (to 2 significant
    digits) over the middle RATIO_QUANTILES of the runs' ratios: a published table of runs at every
    ratio would otherwise give hundreds of candidates per size, and an IsoFLOP table's few runs at
    the far ends of its U-curves (Epoch's 0.036 tokens per parameter) would set the range, proposing
    runs no study would train. A table at one ratio gets ONE_RATIO_FACTORS of it besides: its law
    cannot set the allocation (sweep/fit/identify.py), and only runs at other ratios can."""
    distinct = _merged(sorted({float(f"{r:.3g}") for r in ratios_R}))
    if len(distinct) == 1:
        return tuple(sorted({float(f"{f * distinct[0]:.2g}") for f in ONE_RATIO_FACTORS}))
    if len(distinct) <= max_ratios:
        return tuple(distinct)
    low, high = np.quantile(ratios_R, RATIO_QUANTILES)
    return tuple(sorted({float(f"{r:.2g}") for r in np.geomspace(low, high, max_ratios)}))


def _merged(ratios: list[float]) -> list[float]:
    """Sorted ratios with each run of them within RATIO_SAME of its first taken as one (not chained:
    a table of ratios 2% apart keeps them 5% apart): its median to 2 significant digits (a lone
    ratio is kept as it is)."""
    runs: list[list[float]] = []
    for r in ratios:
        if runs and r <= runs[-1][0] * RATIO_SAME:
            runs[-1].append(r)
        else:
            runs.append([r])
    return [run[0] if len(run) == 1 else float(f"{float(np.median(run)):.2g}") for run in runs]


def short(number: float) -> str:
    """4e+08 -> 4e8, 1.33e+07 -> 1.33e7: a number short enough for a label."""
    return re.sub(r"e\+?0*(\d)", r"e\1", f"{number:.3g}")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _finite(value) and value > 0
