"""The runs table of a sweep folder: one row per run folder, from its config.yaml,
result.json and metrics.jsonl. What `sweep status`, the plots and (later) the fits read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from sweep.errors import ConfigError, DamagedFile
from sweep.record import DAMAGED, FINISHED, GRID_AXES, RUNNING, SETTINGS, STARTED, run_status
from sweep.rundir import (CONFIG_REMEDY, RunDir, is_identity_setting, iter_run_dirs, last_step, no_run_folders,
                          seedless_setting)

ROW_COORDINATES = (*GRID_AXES, "tokens_per_param", "recipe")  # every run folder's row has them (sweep/record.py)


def run_row(run: RunDir) -> dict[str, Any]:
    """The run's coordinates and outcome. `status` (sweep/record.py run_status) is complete |
    diverged | failed from result.json, running (a live process holds the folder), started
    (checkpoint / metrics but no result) or pending; `damaged`, with the
    one-line `error` naming the file, when a file it is read from cannot be read."""
    try:
        return _read_row(run)
    except DamagedFile as err:
        return {"run": run.path.name, "path": str(run.path), **dict.fromkeys(ROW_COORDINATES),
                "status": DAMAGED, "error": str(err)}


def _coordinates(run: RunDir) -> dict[str, Any]:
    cfg = run.read_config()
    row = {name: _setting(run, cfg, SETTINGS[name]) for name in GRID_AXES}
    budget = cfg.get("budget")
    tokens_per_param = budget.get("tokens_per_param") if isinstance(budget, dict) else None
    return {**row, "tokens_per_param": tokens_per_param, "recipe": cfg.get(SETTINGS["recipe"]),
            "setting": seedless_setting(cfg)}


def _setting(run: RunDir, cfg: dict[str, Any], key: str) -> Any:
    value: Any = cfg
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise DamagedFile(run.config_file, f"lacks the setting {key}", CONFIG_REMEDY)
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DamagedFile(run.config_file, f"{key} = {value!r} is not a number", CONFIG_REMEDY)
    return value


def _read_row(run: RunDir) -> dict[str, Any]:
    row: dict[str, Any] = {"run": run.path.name, "path": str(run.path), **_coordinates(run)}
    result = run.read_result()
    recorded = None if result is None else result["status"]
    # a live process holds it: a run training now (on this machine, or a failed one being retried)
    held = recorded not in FINISHED and run.holder() is not None
    if result is not None:
        status = run_status(recorded, held, True)
        now = {"steps_done": last_step(run.metrics_file)} if status == RUNNING else {}  # a failed run resuming
        return {**row, **result, "run": row["run"], "path": row["path"], "status": status, **now}
    metrics = run.read_metrics()
    last = metrics[-1] if metrics else {}
    evals = [r for r in metrics if r.get("eval_loss") is not None]
    status = run_status(recorded, held, started=bool(metrics) or run.checkpoint_file.exists())
    # a started run's steps done: where it resumes (its checkpoint's step); else (no checkpoint yet: a branch
    # holding its trunk's records; a live run, whose checkpoint lags) its last metrics record's
    saved = saved_step(run) if status == STARTED else None
    return {
        **row,
        **(planned_budget(run) if status in (STARTED, RUNNING) else {}),
        "status": status,
        "steps_done": last.get("step", 0) if saved is None else saved,
        "final_train_loss": last.get("train_loss"),
        "final_eval_loss": evals[-1]["eval_loss"] if evals else None,
        "wall_seconds": last.get("wall_seconds"),
    }


_PLANNED: dict[tuple[str, int], dict[str, Any]] = {}  # (config file, its mtime_ns) -> planned_budget's answer


def planned_budget(run: RunDir) -> dict[str, Any]:
    """A run in progress's N, tokens and steps, from its config's budget (a finished run's come
    from its result.json; a pending run's are left out: a grid of hundreds queued would compose
    each config to show them; one that Slurm runs before its folder is written gets them in
    launch/queue.py). About 30 ms a run the first time (the config merged with its
    schema), then remembered while its config file is unchanged: `sweep status --follow` polls."""
    from sweep.budget import compute_budget
    from sweep.config import train_config

    key = (str(run.config_file), run.config_file.stat().st_mtime_ns)
    if key not in _PLANNED:
        try:
            budget = compute_budget(train_config(run.read_config(), str(run.config_file), CONFIG_REMEDY))
            _PLANNED[key] = {"n_params": budget.n_params, "tokens": budget.tokens, "steps": budget.steps}
        except ConfigError:  # a budget that cannot be planned: its run fails at start and says why
            _PLANNED[key] = {}
    return _PLANNED[key]


_CHECKPOINT_STEPS: dict[tuple[str, int], int | None] = {}  # (checkpoint file, its mtime_ns) -> its step


def saved_step(run: RunDir) -> int | None:
    """The step of the run's checkpoint, where a resume starts (None: no checkpoint, or one that
    cannot be read, which resuming names). A run stopped by a signal saves it at the step it names,
    up to train.log_every - 1 steps past its last metrics record. The checkpoint's pickle is read,
    its tensors memory-mapped, not loaded, and its step remembered while the file is unchanged."""
    try:
        key = (str(run.checkpoint_file), run.checkpoint_file.stat().st_mtime_ns)
    except FileNotFoundError:
        return None
    if key not in _CHECKPOINT_STEPS:
        from sweep.run.checkpoint import checkpoint_step

        try:
            _CHECKPOINT_STEPS[key] = checkpoint_step(run.checkpoint_file)
        except ConfigError:
            _CHECKPOINT_STEPS[key] = None
    return _CHECKPOINT_STEPS[key]


def differing_settings(rows: list[dict[str, Any]], shown: Iterable[str] = ()) -> dict[str, list[Any]]:
    """The settings (dotted config keys, `optim.warmup_steps`) whose values differ among the rows'
    runs, each with its value in every row (None where a run lacks it), in config order: what a
    table of the rows must show besides its `shown` keys so that no two rows differ unseen. Keys
    that do not change what is trained (where runs go, how often they log: sweep/rundir.py) are
    left out. A row's settings are its run folder's config.yaml, or, for a W&B run or a folder
    whose config cannot be read, the coordinates the row holds: such a row's other settings are
    unknown, not different (one damaged run does not make every setting a column)."""
    read_R = [_row_settings(row) for row in rows]
    keys = list(dict.fromkeys(k for settings, _ in read_R for k in settings))
    hidden = set(shown)
    differing = {}
    for key in keys:
        if key in hidden or not is_identity_setting(key):
            continue
        values = [settings.get(key) for settings, _ in read_R]
        known = [v for v, (settings, whole) in zip(values, read_R) if whole or key in settings]
        if any(v != known[0] for v in known[1:]):
            differing[key] = values
    return differing


def _row_settings(row: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the row's settings, whether they are its whole config: False for a W&B row or a folder
    whose config cannot be read, whose settings are the coordinates the row holds)."""
    path = Path(str(row.get("path", "")))
    if row.get("status") != DAMAGED and (path / "config.yaml").is_file():
        try:
            return flatten(RunDir(path).read_config()), True
        except DamagedFile:
            pass
    return {SETTINGS[name]: row[name] for name in SETTINGS if row.get(name) is not None}, False


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict (a run's config, a runs-table row) with its nested fields as dotted keys
    (`optim.lr`, `data_density.exact_duplicate_rate`): a CSV or a table column holds numbers, not a
    Python dict's text."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_runs(sweep_dir: str | os.PathLike) -> list[dict[str, Any]]:
    return [run_row(run) for run in iter_run_dirs(sweep_dir)]


SWEEP_SOURCES = "a sweep folder (the out_dir of a sweep, holding its run folders) or wandb:[ENTITY/]PROJECT/GROUP"


def load_source(source: str) -> list[dict[str, Any]]:
    """The runs table of a sweep folder or of a W&B group (`wandb:[ENTITY/]PROJECT/GROUP`); a
    missing folder, a file or a folder without runs is a ConfigError saying what is accepted."""
    from sweep.wandb_runs import load_wandb_runs, parse_source

    wandb_sweep = parse_source(source)
    if wandb_sweep is not None:
        return load_wandb_runs(wandb_sweep)
    if not str(source).strip():
        raise ConfigError(f"source {source!r} is empty; accepted: {SWEEP_SOURCES}")
    sweep_dir = Path(source)
    check_sweep_folder(sweep_dir)
    rows = load_runs(sweep_dir)
    if not rows:
        run = RunDir(sweep_dir)
        if run.config_file.exists() or run.result_file.exists():  # a run folder itself, not its sweep's
            raise ConfigError(f"{sweep_dir} is a run folder; accepted: {SWEEP_SOURCES}: give its sweep folder, "
                              f"{sweep_dir.resolve().parent}")
        raise ConfigError(no_run_folders(sweep_dir))
    return rows


def check_sweep_folder(sweep_dir: Path) -> None:
    """`sweep_dir` is a folder; a file or a missing path is a ConfigError saying what is accepted."""
    if sweep_dir.is_dir():
        return
    from sweep.fit.runs_file import FILE_SUFFIXES

    tables = f" (`sweep fit`, `report` and `suggest` also read a table of runs: a file ending {', '.join(FILE_SUFFIXES)})"
    raise ConfigError(f"{sweep_dir} {'is a file' if sweep_dir.exists() else 'does not exist'}; accepted: "
                      f"{SWEEP_SOURCES}{tables}")
