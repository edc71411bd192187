"""The Python API: a sweep from a notebook, as pandas DataFrames, fit objects and matplotlib
figures (the `sweep` command, launch/cli.py, is the same from a shell).

    from launch import api

    api.plan(["model.d=64,128", "optim.lr=1e-3,3e-3"])     # DataFrame: one row per grid point
    runs = api.load("runs/demo")                          # DataFrame: one row per run, nested fields dotted
    runs = api.load("wandb:my-team/scaling-sweep/demo")   # ... or a W&B group, or a .csv / .tsv / .json file
    fitted = api.fit(runs[runs["lr"] == 3e-3], "chinchilla", bootstrap=100)
    fitted.fit.law.E, fitted.predict(1e8, 2e9)            # the typed fit (a LawFit) and its loss at (N, T)
    fitted.summary                                        # the dict `sweep fit --json` prints
    fig, (left, right) = plt.subplots(1, 2)
    api.draw("loss_vs_n", fitted, ax=left)                # a report figure onto your axes
    api.draw("loss_vs_size", runs, ax=[left, right])      # `sweep status --plot`'s two panels
    api.draw("isoflop", api.fit(runs, "isoflop"))         # no axes: a fresh Figure (shown as a cell's value)

Nothing here switches matplotlib's backend or uses pyplot's state: a notebook's inline display
keeps working, and a fresh Figure is the caller's to show or `savefig`. A mistake (a bad
override, a missing folder or column, a figure of another law) is a sweep.errors.ConfigError
naming the value and what is accepted.

Here, not in sweep/: planning composes the grid with Hydra (launch/grid.py), and the library
never imports launch/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from sweep.errors import ConfigError

# each figure of `sweep report` (by its PNG's name) and `sweep status --plot`'s, with the law it draws
FIGURES = {"loss_vs_n": ("chinchilla", "subscaling"), "loss_vs_flops": ("chinchilla",),
           "residuals": ("chinchilla", "subscaling"), "isoflop": ("isoflop",), "frontier": ("envelope",),
           "lr_ucurves": ("lr",), "batch_ucurves": ("batch",), "crossover": ("crossover",), "loss_vs_size": ()}


def plan(overrides: Sequence[str] = (), config_name: str = "train"):
    """The grid of `python -m sweep.train -m OVERRIDES` as a DataFrame, one row per point in launch
    order: its coordinates (d, l, batch_size, lr, weight_decay, seed, tokens_per_param, recipe), its
    budget (n_params, tokens, steps, flops), its `role` (`trunk` / `branch` for the runs of a
    cooldown-branch ladder, None for a plain run), its state (complete, pending, ...; `sweep plan`'s),
    run folder (`run`, `path`) and overrides. Every point is composed and validated first: one
    ConfigError naming each invalid point, as `sweep plan` gives."""
    import pandas as pd

    from launch.grid import compose_grid
    from sweep.record import SETTINGS, setting_value
    from sweep.results import ROW_COORDINATES

    if isinstance(overrides, str) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"overrides={overrides!r}: accepted is a list of override strings, as on the command line: "
                          "[\"model.d=64,128\", \"optim.lr=1e-3,3e-3\"]")
    flags = [o for o in overrides if o.startswith("-")]
    if flags:
        raise ConfigError(f"overrides: {', '.join(map(repr, flags))} is a command-line flag, not an override; accepted "
                          "are overrides (KEY=VALUE), with the config as api.plan(overrides, config_name=\"demo\")")
    rows = []
    for point in compose_grid(list(overrides), config_name):
        b = point.budget
        rows.append({**{name: setting_value(point.cfg, SETTINGS[name]) for name in ROW_COORDINATES},
                     "n_params": b.n_params, "tokens": b.tokens, "steps": b.steps, "flops": b.flops,
                     "role": point.role, "state": point.state(), "run": point.run.path.name,
                     "path": str(point.run.path),
                     "overrides": " ".join(point.overrides)})
    return pd.DataFrame(rows)


def load(source: str | os.PathLike):
    """The runs of a sweep folder (with each run's Slurm job state, as `sweep status` shows), a
    W&B group (`wandb:[ENTITY/]PROJECT/GROUP`) or a runs file (.csv, .tsv, .json, .jsonl, .parquet),
    as a DataFrame:
    one row per run, nested fields as dotted columns (`data_density.exact_duplicate_rate`),
    the columns of `sweep status --csv`. ConfigError for a missing folder or file."""
    from sweep.fit.runs_file import is_table_file, read_frame

    text = str(source)
    if is_table_file(text):
        return read_frame(text)
    return runs_frame(runs_of(text))


def runs_of(source: str) -> list[dict[str, Any]]:
    """The runs-table rows of a sweep folder (with Slurm's state of each run's latest job) or of a
    W&B group."""
    from launch.queue import attach_queue_state
    from sweep.results import load_source
    from sweep.wandb_runs import parse_source

    rows = load_source(source)
    if parse_source(source) is None:
        attach_queue_state(rows, Path(source))
    return rows


def flat_rows(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The rows flattened (sweep/results.py flatten) and their columns, sorted, without the
    traceback (kept in result.json): what `sweep status --csv`, `--json` and `--parquet` write."""
    from sweep.results import flatten

    flat = [flatten(r) for r in rows]
    return sorted({k for r in flat for k in r if k != "traceback"}), flat


def runs_frame(rows: Sequence[dict[str, Any]]):
    """The runs-table rows as a DataFrame of `flat_rows`' columns (None where a run lacks one); a
    column mixing text with numbers (a setting that is a number in one run, a word in another) is
    text, so that parquet can hold it."""
    import pandas as pd

    columns, flat = flat_rows(rows)
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in flat], columns=columns)
    for column in columns:
        kinds = {type(v) for v in frame[column] if v is not None and v == v}
        if len(kinds) > 1 and kinds - {int, float} or kinds & {list, tuple, dict}:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    return frame


def table_of(runs: Any, columns: dict[str, str] | None = None):
    """A RunsTable (sweep/fit/table.py) from a DataFrame (`load`'s, filtered), a source (sweep folder,
    wandb: group, runs file: .csv, .tsv, .json, .jsonl, .parquet) or a RunsTable: its complete runs, the
    others counted. `columns`: a DataFrame's or runs file's {name: its column} read as that name
    (`sweep fit --column NAME=COLUMN`)."""
    from sweep.fit.table import RunsTable, from_frame, load_runs_table

    if isinstance(runs, RunsTable):
        return runs
    if isinstance(runs, (str, os.PathLike)):
        return load_runs_table(runs, columns)
    if hasattr(runs, "columns"):
        return from_frame(runs, "a DataFrame", columns)
    raise ConfigError(f"runs of type {type(runs).__name__}: accepted are a DataFrame, a sweep folder, a wandb: group, "
                      "a runs file (.csv, .tsv, .json, .jsonl, .parquet) or a RunsTable")


FIT_OPTIONS = ("compute", "cutoff", "by", "recipe", "fix", "min_tokens_per_param", "bootstrap_method", "level")


def fit(runs: Any, law: str = "chinchilla", *, bootstrap: int | None = None, seed: int | None = None,
        columns: dict[str, str] | None = None, **options: Any):
    """Fit `law` (sweep/fit/laws.py LAWS: chinchilla, subscaling, compare, isoflop, envelope, lr,
    batch, crossover) to `runs` (see `table_of`; envelope reads the loss curves, so it needs a
    sweep folder) and return its FittedLaw: `.fit` the typed result (LawFit, IsoFlopFit, ...),
    `.predict(N, T)`, `.summary` the dict `sweep fit --json` prints, `.table` the runs fitted.
    `bootstrap` resamples (default as `sweep fit`: none, crossover conf/fit.yaml's), `seed`
    (conf/fit.yaml's), `columns` as `table_of`'s; other options as fit_result's (compute, cutoff, by,
    recipe, fix, min_tokens_per_param, bootstrap_method, level)."""
    from sweep.fit.defaults import fit_defaults
    from sweep.fit.laws import fit_result
    from sweep.fit.curve_reader import read_curves

    unknown = sorted(set(options) - set(FIT_OPTIONS))
    if unknown:
        raise ConfigError(f"fit(..., {', '.join(f'{k}=' for k in unknown)}): not an option of fit; accepted: "
                          f"bootstrap, seed, columns, {', '.join(FIT_OPTIONS)}")
    defaults = fit_defaults()
    if bootstrap is None:
        bootstrap = defaults.bootstrap if law == "crossover" else 0
    curves = None
    if law == "envelope" and isinstance(runs, (str, os.PathLike)) and Path(runs).is_dir():
        curves = read_curves(runs)
    return fit_result(law, table_of(runs, columns), curves=curves, bootstrap=bootstrap,
                      seed=defaults.seed if seed is None else seed, **options)


def draw(figure: str, what: Any, ax: Any = None):
    """Draw `figure` (one of FIGURES) onto `ax` (one Axes; a pair for isoflop, frontier, the
    U-curves and loss_vs_size) or a fresh Figure, and return the Figure. `what`: the FittedLaw of
    the law the figure draws (`fit`), or for loss_vs_size the runs (`load`'s DataFrame, a source).
    ConfigError naming the law a figure needs."""
    from sweep.fit import figures
    from sweep.plots import draw_loss_vs_size

    if figure not in FIGURES:
        raise ConfigError(f"figure {figure!r}: accepted are {', '.join(FIGURES)}")
    if figure == "loss_vs_size":
        if isinstance(what, (str, os.PathLike)):
            what = load(what)  # a sweep folder, a wandb: group or a runs file
        if not hasattr(what, "to_dict") and not (isinstance(what, (list, tuple)) and all(isinstance(r, dict)
                                                                                          for r in what)):
            raise ConfigError(f"figure 'loss_vs_size' draws runs (api.load(source), a sweep folder, a wandb: group or "
                              f"a runs file); given a {type(what).__name__}")
        rows = what.to_dict("records") if hasattr(what, "to_dict") else what
        return draw_loss_vs_size([{k: _plain(v) for k, v in r.items()} for r in rows], ax)
    laws = FIGURES[figure]
    law = getattr(what, "law", None)
    if law not in laws:
        given = f"{'an' if law[:1] in ('i', 'e') else 'a'} {law} fit" if isinstance(law, str) else \
            f"a {type(what).__name__}"
        raise ConfigError(f"figure {figure!r} draws a fit of {' or '.join(laws)} (api.fit(runs, {laws[0]!r})); "
                          f"given {given}")
    fit, table = what.fit, what.table
    if figure == "loss_vs_n":
        return figures.draw_loss_vs_n(table, fit.law, ax)
    if figure == "loss_vs_flops":
        return figures.draw_loss_vs_flops(table, fit.law, what.compute, ax)
    if figure == "residuals":
        return figures.draw_residuals(table, {law: fit}, ax)
    if figure == "isoflop":
        return figures.draw_isoflop(table, fit, axes=ax)
    if figure == "frontier":
        return figures.draw_frontier(what.curves, fit, ax)
    if figure in ("lr_ucurves", "batch_ucurves"):
        return figures.draw_ucurves(table, what.optima, fit, fit.step_law, ax)
    return figures.draw_crossover(table, fit, ax)


def _plain(value: Any) -> Any:
    """A DataFrame's missing value (NaN) as None, as in the runs-table rows."""
    return None if isinstance(value, float) and value != value else value
