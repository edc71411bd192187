"""The `sweep` command: plan a grid, prepare its data, show a sweep's status, run the demo.

    sweep plan model.d=64,128 model.l=1,2 optim.lr=1e-3,3e-3   # N, tokens, steps, FLOPs per point
    sweep prepare data=c4 model.d=256,512 model.l=4,8 --workers 16  # tokenize what the grid needs
    sweep status runs/                                          # table of runs in a sweep folder
    sweep status wandb:my-team/scaling-sweep/runs               # ... or in a W&B project's group
    sweep status runs/ --plot runs/scaling.png --csv runs.csv
    sweep fit runs/ --law chinchilla --bootstrap 1000 --json        # a scaling law fitted to a sweep
    sweep fit runs.csv --law chinchilla --json                      # ... or to your own table
    sweep report runs/                                          # every fit: report.md, figures, CSV
    sweep predict runs/ --at-fraction 0.25                      # each run's final loss from its first 25%
    sweep predict wandb:my-team/scaling-sweep/runs              # ... of the runs of a W&B group
    sweep suggest runs/ --target-compute 1e21 --count 4         # the next runs that most sharpen L*(C), N_opt(C)
    sweep suggest --replay runs.csv                             # ... replayed on a finished table
    sweep sync runs/ --jobs 8                                   # upload its offline W&B runs
    sweep demo                                                  # a small local scaling sweep
    sweep completion bash                                       # bash completion of this command
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

from launch.completion import SHELLS, bash_completion
from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.laws import LAWS
from sweep.fit.parametric import BOOTSTRAP_METHODS
from sweep.progress import progress
from sweep.results import flatten
from sweep.storage import atomic_write

# Tables are wide: outside a terminal (logs, CI) do not cut them at 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)

STATUS_ORDER = ("complete", "diverged", "stopped_early", "failed", "cancelled", "running", "queued", "started",
                "pending", "damaged")


def _num(x: Any, fmt: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, fmt)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


def plan(overrides: Sequence[str], config_name: str) -> int:
    from launch.grid import compose_grid
    from launch.jobs import RUN
    from launch.submit import plan_local, plan_notes

    grid = compose_grid(overrides, config_name)
    planned = plan_local(grid)  # a ladder's trunk segments and branches, early stopping's probes and rests: jobs
    ladders = any(p.job.kind != RUN for p in planned)
    unit = "jobs" if ladders else "runs"
    table = Table(title=f"plan: {len(planned)} {unit}", show_lines=False)
    for col in ("d", "l", "batch", "lr", "wd", "N", *(("job",) if ladders else ()), "tokens", "steps", "FLOPs",
                "state", "run folder"):
        table.add_column(col, justify="left" if col in ("job", "state", "run folder") else "right")
    states: dict[str, int] = {}
    for p in planned:
        job, cfg, b, state = p.job, p.point.cfg, p.point.budget, p.state
        states[state] = states.get(state, 0) + 1
        kind = (job.role,) if ladders else ()
        steps = f"{job.first_step:,} -> {job.last_step:,}" if job.kind != RUN else f"{b.steps:,}"
        table.add_row(str(cfg.model.d), str(cfg.model.l), str(cfg.train.batch_size), f"{cfg.optim.lr:.2e}",
                      f"{cfg.optim.weight_decay:g}", f"{b.n_params:,}", *kind, f"{b.tokens:,}", steps,
                      f"{job.flops:.2e}", state, str(p.point.run.path))
    console.print(table)
    total_flops = sum(p.job.flops for p in planned)
    total_tokens = sum((p.job.last_step - p.job.first_step) * p.point.budget.tokens_per_step for p in planned)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    console.print(f"total: {len(planned)} {unit} ({counts}), {total_tokens:,} tokens, {total_flops:.3e} FLOPs")
    for line in plan_notes(planned):
        console.print(line, highlight=False)
    for point in grid:
        damage = point.damage()
        if damage is not None:
            console.print(f"damaged: {damage}", highlight=False)
    return 0


def prepare(overrides: Sequence[str], config_name: str, workers: int, slurm: bool, time_min: int,
            wait: bool) -> int:
    from launch.prepare import prepare_grid, submit_prepare

    if slurm:
        job = submit_prepare(overrides, config_name, workers, time_min)
        console.print(f"sweep prepare submitted as Slurm job {job.job_id}; log: {job.paths.stdout}")
        if not wait:
            return 0
        summaries = job.result()
    else:
        summaries = prepare_grid(overrides, config_name, workers)
    ready = True
    for s in summaries:
        console.print(f"[bold]{s['path']}[/bold] ({s['runs']} runs)", highlight=False)
        console.print(f"  {s['train_tokens']:,} train tokens in {s['shards']} shard(s), {s['eval_tokens']:,} eval "
                      f"tokens, V = {s['vocab_size']:,}; the largest run reads {s['largest_run_tokens']:,} "
                      f"tokens = {s['largest_run_epochs']:.3g} epochs", highlight=False)
        if s.get("worker_tokens_per_second"):
            console.print(f"  tokenized at {s['worker_tokens_per_second']:,.0f} tokens/s per worker")
        if s.get("true_entropy_nats") is not None:
            console.print(f"  true entropy rate of the source: {s['true_entropy_nats']:.4f} nats/token")
        density = s.get("density")
        if density:
            console.print("  density (" + ", ".join(f"{k} {density[k]:.4g}" for k in DENSITY_SHOWN if k in density)
                          + ")", highlight=False)
        if not s["ready"]:
            ready = False
            console.print(f"  [red]not enough:[/red] {s['problem']}", highlight=False)
    return 0 if ready else 1


DENSITY_SHOWN = ("documents_examined", "exact_duplicate_rate", "near_duplicate_rate", "unique_token_fraction")


def runs_table(source: str) -> list[dict[str, Any]]:
    """The runs table of a sweep folder (with Slurm's state of each run's latest job), or of a
    W&B group (`wandb:[ENTITY/]PROJECT/GROUP`)."""
    from launch.queue import attach_queue_state
    from sweep.results import load_source
    from sweep.wandb_runs import parse_source

    rows = load_source(source)
    if parse_source(source) is None:
        attach_queue_state(rows, Path(source))
    return rows


def wait(source: str, interval_s: float) -> None:
    """Follow a sweep until no run is queued or running: on a terminal a bar of the runs ended
    with the counts by status and an ETA from the steps done; otherwise a plain line per change."""

    def summary() -> tuple[list[dict[str, Any]], str, bool]:
        rows = runs_table(source)
        counts = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
        active = counts["running"] + counts["queued"]
        return rows, ", ".join(f"{n} {s}" for s, n in counts.items() if n), active > 0

    rows, counts, active = summary()
    if not console.is_terminal:
        printed = None
        while active:
            if counts != printed:
                console.print(f"{source}: {counts}")
                printed = counts
            time.sleep(interval_s)
            rows, counts, active = summary()
        return
    with progress(len(rows), source, unit="runs ended", console=console) as bar:
        while active:
            bar.update(done=sum(r["status"] in ENDED for r in rows), total=len(rows), info=counts,
                       work=(sum(run_fraction_done(r) for r in rows), len(rows)))
            time.sleep(interval_s)
            rows, counts, active = summary()
        bar.update(done=sum(r["status"] in ENDED for r in rows), total=len(rows), info=counts)


ENDED = ("complete", "diverged", "stopped_early", "failed", "cancelled")


def run_fraction_done(row: dict[str, Any]) -> float:
    """1 for a run that has ended; its steps done of its steps where the row has both; else 0."""
    if row["status"] in ENDED:
        return 1.0
    steps, done = row.get("steps"), row.get("steps_done")
    return min(1.0, done / steps) if steps and done else 0.0


def status(source: str | Path, plot: Path | None, csv_path: Path | None, follow: bool = False,
           interval_s: float = 10.0, upload: bool = False, as_json: bool = False, parquet: Path | None = None) -> int:
    """`sweep status`: the runs table printed, and written as CSV / parquet / a plot where asked;
    with `as_json` the rows are printed as JSON on stdout, everything else goes to stderr."""
    if not as_json:
        return _status(str(source), plot, csv_path, follow, interval_s, upload, False, parquet)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # the console's lines too: stdout holds only the JSON
        rows = _status(str(source), plot, csv_path, follow, interval_s, upload, True, parquet)
    print(json_rows(rows), file=stdout)
    return 0


def _job_text(row: dict[str, Any]) -> str:
    """The status table's `job` column: the run's current Slurm job and its state; for a ladder's
    trunk, the step its current segment ends at; for an early-stopped run's probe or rung, the step
    it ends at."""
    if not row.get("job_id"):
        return ""
    part = next((f" ({name} to step {row[name]})" for name in ("segment", "probe", "rung")
                 if row.get(name) is not None), "")
    return f"{row['job_id']} {row['job_state'] or ''}".strip() + part


def _predicted_text(row: dict[str, Any]) -> str:
    """The status table's `predicted` column: a run stopped early's predicted final eval loss and
    its interval (its eval loss column holds its last eval, at its probe step)."""
    predicted, interval = row.get("predicted_final_eval_loss"), row.get("predicted_interval")
    if not isinstance(predicted, (int, float)):
        return ""
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        return f"{predicted:.4f} [{_num(interval[0], '.4f')}, {_num(interval[1], '.4f')}]"
    return f"{predicted:.4f}"


def json_rows(rows: list[dict[str, Any]]) -> str:
    """The rows flattened like the CSV (every column in every row, null where a run lacks it) as
    a JSON list, one row per line."""
    from launch.api import flat_rows
    from sweep.fit.table import jsonable

    columns, flat = flat_rows(rows)
    lines = [json.dumps(jsonable({c: r.get(c) for c in columns}), allow_nan=False) for r in flat]
    return "[" + ",\n ".join(lines) + "]"


def _status(source: str, plot: Path | None, csv_path: Path | None, follow: bool, interval_s: float, upload: bool,
            rows_only: bool, parquet: Path | None) -> Any:
    from sweep.results import differing_settings

    if follow:
        wait(source, interval_s)
    rows = runs_table(source)
    rows.sort(key=lambda r: (r["status"] == "damaged", r.get("n_params") or 0,
                             *(r.get(k) or 0 for k in ("d", "l", "lr", "batch_size", "seed", "tokens_per_param")),
                             r["run"]))
    # a column for every other setting whose value differs among the runs (recipe, warmup, data, ...)
    differing = differing_settings(rows, shown=STATUS_SETTINGS)
    table = Table(title=f"{source}: {len(rows)} runs")
    predicted = any(_predicted_text(r) for r in rows)  # a column only when a run was stopped early
    for col in ("d", "l", "batch", "lr", "wd", "seed", "tokens/param", *differing, "status", "steps", "train loss",
                "eval loss", *(("predicted",) if predicted else ()), "N", "tokens", "wall", "job"):
        table.add_column(col, justify="left" if col in ("status", "job") else "right")
    for i, r in enumerate(rows):
        steps = f"{r.get('steps_done') or 0}/{r['steps']}" if r.get("steps") else str(r.get("steps_done", "-"))
        table.add_row(_num(r["d"], ""), _num(r["l"], ""), _num(r["batch_size"], ""), _num(r["lr"], ".2e"),
                      _num(r["weight_decay"], "g"), _num(r["seed"], ""), _num(r.get("tokens_per_param"), "g"),
                      *(_setting_text(values[i]) for values in differing.values()), r["status"], steps,
                      _num(r.get("final_train_loss"), ".4f"),
                      _num(r.get("final_eval_loss"), ".4f"), *((_predicted_text(r),) if predicted else ()),
                      _num(r.get("n_params"), ","),
                      _num(r.get("tokens"), ","), _duration(r.get("wall_seconds")),
                      _job_text(r))
    if not rows_only:
        console.print(table)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for r in rows:
        if r["status"] == "cancelled":
            console.print(f"cancelled: {r['path']}: {r.get('error', '')}")
        if r["status"] == "stopped_early":
            decision = r.get("early_stop") if isinstance(r.get("early_stop"), dict) else {}
            console.print(f"stopped early: {r['path']}: predicted final eval loss {_predicted_text(r) or '-'}; "
                          f"{decision.get('reason', '')}", highlight=False)
        if r["status"] == "failed":
            where = "" if not r.get("traceback") else " (traceback: in the W&B run's summary)" \
                if r.get("wandb_id") else f" (traceback: {r['path']}/result.json)"
            console.print(f"failed: {r['path']}: {r.get('error', '')}{where}")
        elif r["status"] == "damaged":
            console.print(f"damaged: {r['error']}", highlight=False)
    if csv_path is not None:
        flat = [flatten(r) for r in rows]
        columns = sorted({k for r in flat for k in r if k != "traceback"})
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(flat)
        atomic_write(Path(csv_path), text.getvalue())
        console.print(f"runs table written to {csv_path}")
    if parquet is not None:
        from launch.api import runs_frame

        frame = runs_frame(rows)
        atomic_write(Path(parquet), lambda f: frame.to_parquet(f, index=False))
        console.print(f"runs table written to {parquet}")
    if plot is not None:
        from sweep.plots import plot_loss_vs_size

        plotted = plot_loss_vs_size(rows, plot)
        console.print(f"plot of {plotted} complete runs written to {plot}")
    if upload:
        from sweep.tracking import upload_report

        where = upload_report(rows, {"scaling": plot} if plot is not None else {}, **report_target(source, rows))
        console.print(f"runs table{' and plot' if plot is not None else ''} logged to W&B: {where}")
    return rows if rows_only else 0


# the settings `sweep status` always shows (its first columns)
STATUS_SETTINGS = ("model.d", "model.l", "train.batch_size", "optim.lr", "optim.weight_decay", "seed",
                   "budget.tokens_per_param")


def _setting_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    return _num(value, "g") if isinstance(value, (int, float)) else str(value)


def table_source(source: str | None, runs_file: Path | None) -> tuple[str | None, Path | None]:
    """(source, runs_file) with a .csv / .parquet file given as the source taken as --runs-table."""
    from sweep.fit.table import is_table_file

    if (source is None) == (runs_file is None):
        raise ConfigError("give a sweep folder or W&B group, or a .csv / .parquet runs file (or --runs-table "
                          "FILE): one of them")
    return (None, Path(source)) if source is not None and is_table_file(source) else (source, runs_file)


def load_table(source: str | None, runs_file: Path | None, upload: bool = False):
    """The runs table of a sweep folder / W&B group (with its rows) or of a CSV / parquet file."""
    from sweep.fit.table import from_file, from_rows

    source, runs_file = table_source(source, runs_file)
    if runs_file is not None:
        if upload:
            raise ConfigError("--upload logs to the sweep's W&B group: give the sweep folder or wandb: group, "
                              "not --runs-table")
        return from_file(runs_file), None
    rows = runs_table(source)
    return from_rows(rows, source=source), rows


def fit(source: str | None, runs_file: Path | None, law: str, as_json: bool, bootstrap: int, seed: int,
        compute: float | None, cutoff: float | None, by: str | None, upload: bool, recipe: str | None = None,
        fix: Sequence[str] | None = None,
        min_tokens_per_param: float | None = None, bootstrap_method: str | None = None) -> int:
    import yaml

    from sweep.fit.laws import ALL_RECIPES, fit_law
    from sweep.fit.table import read_curves

    table, rows = load_table(source, runs_file, upload)
    if upload and recipe == ALL_RECIPES:
        raise ConfigError(f"--upload logs one fit with its runs' predictions: give --recipe NAME, not "
                          f"--recipe {ALL_RECIPES}")
    curves = read_curves(source) if law == "envelope" and source and has_curves(source) else None
    result = fit_law(law, table, curves=curves, bootstrap=bootstrap, seed=seed, compute=compute, cutoff=cutoff, by=by,
                     recipe=recipe, fix=fix,
                     min_tokens_per_param=min_tokens_per_param, bootstrap_method=bootstrap_method)
    if as_json:
        print(json.dumps(result, indent=2))
    elif "recipes" in result and isinstance(result["recipes"], dict):  # --recipe all
        head = {k: v for k, v in result.items() if k not in ("recipes", "skipped")}
        console.print(yaml.safe_dump(head, sort_keys=False), highlight=False)
        console.print(recipes_side_by_side(result["recipes"]))
        for name, why in result["skipped"].items():
            console.print(f"recipe {name!r} skipped: {why}", highlight=False)
    elif law == "compare":
        console.print(yaml.safe_dump({k: v for k, v in result.items() if k != "per_run"}, sort_keys=False),
                      highlight=False)
        console.print(held_out_table(result))
    else:
        console.print(yaml.safe_dump(result, sort_keys=False), highlight=False)
    for line in fit_warnings(result):  # after the YAML; with --json on stderr, so stdout stays JSON
        print(line, file=sys.stderr if as_json else sys.stdout)
    if upload:
        from sweep.tracking import upload_report

        where = upload_report(table_rows(table, result), {}, fits={law: result}, kind=f"fit-{law}",
                              **report_target(source, rows))
        console.print(f"runs table with the {law} fit logged to W&B: {where}")
    return 0


def fit_warnings(result: dict[str, Any], prefix: str = "") -> list[str]:
    """Plain lines for a fit's identifiability flags (`warning: E: ...`; a fit inside compare /
    crossover prefixed by its name, one of --recipe all by its recipe) and, where the runs carry
    it, the true entropy beside E."""
    lines = [f"warning: {prefix}{flag['parameter']}: {flag['problem']} (remedy: {flag['remedy']})"
             for flag in result.get("identifiability") or []]
    for name, fit_dict in (result.get("fits") or {}).items():
        lines += fit_warnings(fit_dict, f"{prefix}{name}: ")
    recipes = result.get("recipes")
    for name, recipe_result in (recipes.items() if isinstance(recipes, dict) else ()):
        lines += fit_warnings(recipe_result, f"{prefix}recipe {name}: ")
    if result.get("true_entropy_nats") is not None and result.get("E") is not None:
        inside = result.get("E_interval_contains_truth")
        where = ("" if inside is None else "; inside E's interval" if inside else "; OUTSIDE E's interval")
        lines.append(f"{prefix}true entropy of the synthetic corpus: {result['true_entropy_nats']:.4g} nats/token "
                     f"beside fitted E = {result['E']:.4g}{where}")
    return lines


def recipes_side_by_side(results: dict[str, dict[str, Any]]) -> Table:
    """--recipe all: one column per recipe, one row per number or word of the fits (nested fields
    dotted; lists, the per-recipe fits of compare and the run counts by status left to --json)."""
    skip = ("law", "source", "recipe", "fits.", "per_run", "excluded", "start.", "budgets", "groups")
    flat = {name: {k: v for k, v in flatten(result).items() if not k.startswith(skip)
                   and (v is None or isinstance(v, (int, float, str, bool)))} for name, result in results.items()}
    keys = list(dict.fromkeys(k for fields in flat.values() for k in fields))
    table = Table(title="each recipe fitted alone (--json: every field)")
    table.add_column("")
    for name in results:
        table.add_column(name, justify="right")
    for key in keys:
        table.add_row(key, *(_cell(flat[name].get(key)) for name in results))
    return table


def held_out_table(result: dict[str, Any]) -> Table:
    """--law compare: each held-out run with every law's prediction and relative error."""
    laws = list(result["held_out_errors"])
    table = Table(title=f"held-out runs ({result['by']} >= {result['cutoff']:.4g}); rel error = pred / loss - 1")
    for column in ("run", "N", "tokens", "C (FLOPs)", "loss"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for law in laws:
        table.add_column(f"pred {law}", justify="right")
        table.add_column("rel error", justify="right")
    for run in result["per_run"]:
        if run["held_out"]:
            table.add_row(run["name"], *(_num(run[k], ".4g") for k in ("n_params", "tokens", "flops", "loss")),
                          *(cell for law in laws for cell in (_num(run[f"pred_{law}"], ".4g"),
                                                              _num(run[f"rel_error_{law}"], "+.2%"))))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _num(value, ".4g")
    return "-" if value is None else str(value)


def report(source: str | None, runs_file: Path | None, out: Path | None, bootstrap: int, seed: int,
           compute: float | None, cutoff: float | None, recipe: str | None, upload: bool,
           fix: Sequence[str] | None = None,
           min_tokens_per_param: float | None = None, bootstrap_method: str | None = None) -> int:
    """`sweep report`: every fit the runs support, as a folder of Markdown, figures and CSV."""
    from sweep.fit.report import write_report
    from sweep.fit.table import read_curves

    source, runs_file = table_source(source, runs_file)  # a runs file given as the source: its report beside it
    table, rows = load_table(source, runs_file, upload)
    if out is None:
        base = Path(source) if source and Path(source).is_dir() else Path(runs_file or "wandb").parent
        out = base / "report"
    curves = None
    if source and has_curves(source):
        try:
            curves = read_curves(source)
        except ConfigError as err:  # Approach 1 is then skipped, with the reason, like any other fit
            console.print(f"loss curves not read: {err}", highlight=False)
    predictions = fraction = None
    if source and has_curves(source):  # a folder's or a W&B group's runs: their curves and configs
        from sweep.fit.predict import REPORT_FRACTION, predict_sweep

        try:
            fraction = REPORT_FRACTION
            predictions = predict_sweep(source, fraction, n_resamples=bootstrap, seed=seed)
        except ConfigError as err:
            console.print(f"final losses not predicted: {err}", highlight=False)
    result = write_report(table, out, curves=curves, bootstrap_resamples=bootstrap, seed=seed, cutoff=cutoff,
                          compute=compute, recipe=recipe, fix=fix, min_tokens_per_param=min_tokens_per_param,
                          bootstrap_method=bootstrap_method, predictions=predictions,
                          prediction_fraction=fraction)
    console.print(f"report written to {result.markdown} ({len(result.figures)} figures, runs.csv, fits.json)")
    for analysis, reason in result.skipped.items():
        console.print(f"  skipped {analysis}: {reason}", highlight=False)
    if upload:
        from sweep.tracking import upload_report

        where = upload_report(result.rows_with_predictions(), result.figures, fits=result.fits,
                              files=[result.markdown, result.csv, result.json], kind="report",
                              **report_target(source, rows))
        console.print(f"runs with predictions, figures and fits logged to W&B: {where}")
    return 0


def predict(source: str, at_fraction: float | None, as_json: bool, bootstrap: int | None, seed: int,
            floor: str | None = None) -> int:
    """`sweep predict`: each run's final eval loss predicted from its loss curve so far (or, with
    `at_fraction`, from the first part of it), with its interval; the error of the finished ones.
    With `floor`, a run with a finished run of another size at its settings is predicted from it
    (sweep/fit/collapse.py)."""
    from sweep.fit.collapse import check_floor
    from sweep.fit.predict import partly_seen_caution, predict_sweep, summarize
    from sweep.fit.table import jsonable

    floor = check_floor(floor)
    predictions = predict_sweep(source, at_fraction, n_resamples=bootstrap, seed=seed, floor=floor)
    summary = summarize(predictions)
    level = next((p.prediction.level for p in predictions if p.prediction is not None), fit_defaults().level)
    caution = partly_seen_caution(predictions, level)
    if as_json:
        print(json.dumps(jsonable({"source": str(source), "at_fraction": at_fraction, "floor": floor,
                                   "summary": summary, "caution": caution,
                                   "runs": [p.to_dict() for p in predictions]}), indent=2, allow_nan=False))
        return 0
    cut = f", each cut at {at_fraction:g} of its steps" if at_fraction is not None else ""
    how = "the loss curve" if floor is None else f"the loss curve or a finished run of another size (floor E = {floor})"
    table = Table(title=f"{source}: final eval loss predicted from {how}{cut}")
    columns = ("run", "status", "seen", *(("from",) if floor is not None else ()), "predicted",
               f"{level:.0%} interval", "actual", "error")
    for col in columns:
        table.add_column(col, justify="left" if col in ("run", "status", "from") else "right")
    for p in predictions:
        if p.prediction is None:
            continue
        lo, hi = p.prediction.interval
        error = "-" if p.error is None else f"{p.error:+.4f} ({p.relative_error:+.2%})"
        source_of = (getattr(p.prediction, "reference", None) or "curve law",) if floor is not None else ()
        table.add_row(p.run, p.status, f"{p.prediction.fraction_seen:.0%} ({p.prediction.steps_seen:,}/"
                      f"{p.prediction.steps:,})", *source_of, f"{p.predicted:.4f}", f"{lo:.4f} .. {hi:.4f}",
                      _num(p.actual, ".4f"), error)
    console.print(table)
    for p in predictions:
        if p.skipped is not None:
            console.print(f"skipped {p.run}: {p.skipped}", highlight=False)
    by_reason: dict[str, list[str]] = {}  # one line per reason: an 'auto' floor's is often every run's
    for p in predictions:
        if p.collapse_skipped is not None:
            by_reason.setdefault(p.collapse_skipped, []).append(p.run)
    for reason, runs in by_reason.items():
        named = ", ".join(runs) if len(runs) <= 3 else f"{len(runs)} runs ({', '.join(runs[:2])}, ...)"
        console.print(f"not from a reference, {named}: {reason}", highlight=False)
    line = f"{summary['predicted']} of {summary['runs']} runs predicted"
    if summary["finished_predicted"]:
        line += (f"; over the {summary['finished_predicted']} finished: median |error| "
                 f"{summary['median_abs_relative_error']:.2%}, worst {summary['max_abs_relative_error']:.2%}, "
                 f"the interval holds the actual loss for {summary['coverage']:.0%}")
    console.print(line, highlight=False)
    if caution:
        console.print(f"caution: {caution}", highlight=False)
    return 0


def suggest(source: str, target_compute: float | None, law: str, budget: float | None, count: int | None,
            candidates_text: str | None, bootstrap: int | None, seed: int, as_json: bool) -> int:
    """`sweep suggest`: the runs that most narrow the bootstrap intervals of L*(C) and N_opt(C) at
    the target compute (sweep/fit/suggest.py), each with its cost and the command that trains it."""
    from sweep.fit.candidates import candidate_set
    from sweep.fit.suggest import suggest as propose
    from sweep.fit.table import is_table_file, jsonable, load_runs_table

    if target_compute is None:
        raise ConfigError("--target-compute C is required (FLOPs, e.g. 1e21), unless --replay TABLE is given")
    if count is not None and count < 1:
        raise ConfigError(f"--count {count}: accepted is a whole number >= 1")
    table = load_runs_table(source)
    cands = candidate_set(source, candidates_text, table=table if is_table_file(source) else None)
    if not cands.candidates:
        raise ConfigError(f"no candidate left: each of the {cands.left_out} points fails its config's checks, e.g. "
                          f"{cands.left_out_reason}; give other values with --candidates")
    result = propose(table, cands.candidates, target_compute=target_compute, law=law, count=count, budget=budget,
                     resamples=bootstrap, seed=seed)
    launcher = conf_file("hydra/launcher/slurm.yaml")
    mfu, device = launcher["assumed_mfu"], launcher["device"]
    hours = [proposal_gpu_hours(p.candidate, cands.configs.get(p.candidate.label), mfu, device)
             for p in result.proposals]
    commands = [train_command(p.candidate.overrides) if cands.why_no_command is None else None
                for p in result.proposals]
    if as_json:
        out = result.to_dict()
        for proposal, h, command in zip(out["proposals"], hours, commands):
            proposal.update(gpu_hours=h, command=command)
        out.update(source=str(source), base_run=cands.base.name if cands.base else None,
                   no_command=cands.why_no_command, gpu_hours=float(sum(hours)),
                   gpu_hours_assumed={"assumed_mfu": mfu, "device": device})
        print(json.dumps(jsonable(out), indent=2))
        return 0
    print_suggestion(result, cands, hours, commands, source, mfu, device)
    return 0


def proposal_gpu_hours(candidate, cfg, mfu: float, device: str) -> float:
    """launch/resources.py's estimate for a candidate with a config; a table file's (no config): its
    6 N T FLOPs over the same assumed MFU x peak."""
    from launch.resources import estimate_gpu_hours
    from model import peak_flops
    from sweep.budget import compute_budget

    if cfg is not None:
        return estimate_gpu_hours(cfg, compute_budget(cfg), mfu, device)
    return candidate.flops / (mfu * peak_flops(device)) / 3600


def train_command(overrides: Sequence[str]) -> str:
    import shlex

    return " ".join(["python -m sweep.train", *(shlex.quote(o) for o in overrides)])


TARGET_NAMES = {"loss": "L*(C)", "n_opt": "N_opt(C)"}


def print_suggestion(result, cands, hours: Sequence[float], commands: Sequence[str | None], source: str,
                     mfu: float, device: str) -> None:
    level = f"{result.level:.0%}"
    console.print(f"{source}: {result.law} law fitted to {result.n_points} (N, tokens) points, {result.resamples} "
                  f"bootstrap resamples (seed {result.seed}); target compute C = {result.target_compute:.3g} FLOPs",
                  highlight=False)
    console.print(f"criterion: {result.criterion}; targets: "
                  + ", ".join(f"log {TARGET_NAMES[t]}" for t in result.targets), highlight=False)
    intervals = Table(title=f"at C: the fit's value, its {level} interval now and the one expected after the runs")
    for column in ("", "fit", f"{level} interval now", "expected after", "width after / now"):
        intervals.add_column(column, justify="left" if not column else "right")
    for t in result.targets:
        value, lo, hi = result.now[t]
        new_lo, new_hi = result.expected[t]
        ratio = (new_hi - new_lo) / (hi - lo) if hi > lo else float("nan")
        intervals.add_row(TARGET_NAMES[t], _num(value, ".4g"), f"{_num(lo, '.4g')} .. {_num(hi, '.4g')}",
                          f"{_num(new_lo, '.4g')} .. {_num(new_hi, '.4g')}", f"x {_num(ratio, '.2f')}")
    console.print(intervals)
    configs = bool(cands.configs)
    table = Table(title=f"{len(result.proposals)} runs proposed of {result.n_candidates} candidates "
                        f"({result.flops:.3g} FLOPs, {sum(hours):.3g} GPU-hours*)")
    columns = ("run", *(("d", "l") if configs else ()), "tokens/param", "N", "tokens", "steps", "FLOPs",
               "GPU-hours*", "gain")
    for column in columns:
        table.add_column(column, justify="left" if column == "run" else "right")
    for p, h in zip(result.proposals, hours):
        c = p.candidate
        cfg = cands.configs.get(c.label)
        shape = (str(cfg.model.d), str(cfg.model.l)) if configs else ()
        table.add_row(c.label, *shape, _num(c.tokens_per_param, ".3g"), f"{c.n_params:,.0f}", f"{c.tokens:,.0f}",
                      "-" if c.steps is None else f"{c.steps:,}", f"{c.flops:.3g}", _num(h, ".3g"),
                      f"{p.gain:.1%}")
    console.print(table)
    how = ("FLOPs per token (attention included) x tokens" if configs else "6 N T (a table file: no shape, attention "
           "left out)")
    console.print(f"* GPU-hours: {how} / (assumed MFU {mfu:g} x the {device} bf16 peak): conf/hydra/launcher/"
                  "slurm.yaml's assumed_mfu and device. gain: the fraction of the targets' variance (mean over "
                  "them) each run removes, given the runs above it.", highlight=False)
    if cands.base is not None:
        left = f"; {cands.left_out} points left out (first: {cands.left_out_reason})" if cands.left_out else ""
        console.print(f"candidates: the config of {cands.base.name} (the best complete run of the largest N) with "
                      + ", ".join(f"{k}={','.join(f'{v:g}' for v in vs)}" for k, vs in cands.axes.items())
                      + left, highlight=False)
    if cands.why_no_command is not None:
        console.print(f"no command line: {cands.why_no_command}", highlight=False)
        return
    console.print("commands:", highlight=False)
    for command in commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True)


def replay(source: str, law: str, growth: float | None, count: int | None, holdout: int | None,
           bootstrap: int | None, seed: int, as_json: bool) -> int:
    """`sweep suggest --replay TABLE`: would the active choice have reached the table's answer for
    less compute than random, bottom-up grid and spread designs (sweep/fit/replay.py)?"""
    from sweep.fit.replay import DESIGNS, ORACLE, replay as replay_choice
    from sweep.fit.table import jsonable, load_runs_table

    result = replay_choice(load_runs_table(source), law=law, growth=growth, count=count, holdout=holdout, seed=seed,
                           resamples=bootstrap)  # None: conf/fit.yaml's replay_* defaults
    if as_json:
        print(json.dumps(jsonable(result.to_dict()), indent=2))
        return 0
    console.print(f"{source}: replay of the active choice, {result.law} law, {result.resamples} bootstrap "
                  f"resamples (seed {result.seed}); each round's budget {result.growth:g} x the compute spent"
                  + (f", at most {result.count} runs a round" if result.count else ""), highlight=False)
    console.print(f"seed design ({len(result.seed_design)} runs): {', '.join(result.seed_design)}", highlight=False)
    console.print(f"held out ({len(result.heldout)} runs): {', '.join(result.heldout)}", highlight=False)
    console.print(f"target compute: {result.target_compute:.3g} FLOPs (the held-out runs' median); pool: "
                  f"{result.pool_flops:.3g} FLOPs", highlight=False)
    table = Table(title="each round: the active design and the others at the same compute")
    for column in ("round", "design", "picked", "compute", "held-out error", "expected / whole", "L* width",
                   "N_opt factor"):
        table.add_column(column, justify="left" if column in ("design", "picked") else "right")
    for r in result.rounds:
        shown = [s for s in DESIGNS if s in r.evaluations]
        for s in shown:
            e = r.evaluations[s]
            table.add_row(str(r.round) if s == "active" else "", s, ", ".join(r.picked) if s == "active" else "",
                          f"{e.fraction:.1%}", _num(e.heldout_error, ".2%"), _num(e.expected_vs_full, ".2f"),
                          _num(e.width_loss, ".2%"), _num(e.width_n_opt, ".3g"), end_section=(s == shown[-1]))
    console.print(table)
    if result.oracle_within is not None:
        console.print("expected / whole: a design's expected held-out error over the whole pool's, linearised at the "
                      f"whole pool's fit; {ORACLE}: the design of the round's compute the whole pool's fit expects to "
                      "err least (it knows every run: what no design can expect to beat)", highlight=False)
    console.print(f"the whole pool: held-out error {_num(result.full.heldout_error, '.2%')}, L* width "
                  f"{_num(result.full.width_loss, '.2%')}, N_opt factor {_num(result.full.width_n_opt, '.3g')}",
                  highlight=False)
    reached = {s: result.reached(s) for s in DESIGNS if s in result.rounds[0].evaluations}
    console.print("within 10% of the whole pool's held-out error from then on, from: " + ", ".join(
        f"{s} {'never' if f is None else f'{f:.1%} of the pool' + chr(39) + 's compute'}" for s, f in reached.items()),
        highlight=False)
    if result.oracle_within is not None:
        console.print(f"the {ORACLE} expects to be within 10% of the whole pool's error from "
                      f"{result.oracle_within:.0%} of its compute: no design can expect it for less", highlight=False)
    else:
        console.print("no expected errors: the whole pool's fit failed, or cannot be linearised", highlight=False)
    return 0


def has_curves(source: str) -> bool:
    """Whether a source has loss curves (Approach 1): a sweep folder, or a W&B group."""
    return source.startswith("wandb:") or Path(source).is_dir()


def table_rows(table, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The fitted runs, with the law's prediction of each (chinchilla, subscaling)."""
    rows = [{"run": name, "n_params": float(n), "tokens": float(t), "flops": float(c), "loss": float(loss)}
            for name, n, t, c, loss in zip(table.names, table.n_params_R, table.tokens_R, table.flops_R,
                                           table.loss_R)]
    if result.get("form") in ("chinchilla", "subscaling"):
        from sweep.fit.parametric import ChinchillaLaw, SubScalingLaw

        names = ("E", "A", "B", "alpha", "beta") + (("k_D", "k_N") if result["form"] == "subscaling" else ())
        law = (SubScalingLaw if result["form"] == "subscaling" else ChinchillaLaw)(**{k: result[k] for k in names})
        for row in rows:
            row[f"pred_{result['form']}"] = float(law.predict(row["n_params"], row["tokens"]))
    return rows


def report_target(source: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where `--upload` logs: the W&B group read from, or the W&B settings (logger.*) the sweep
    folder's runs were trained with."""
    import tempfile

    from sweep.config import LoggerMode
    from sweep.rundir import RunDir
    from sweep.tracking import sweep_group
    from sweep.wandb_runs import parse_source

    wandb_sweep = parse_source(source)
    if wandb_sweep is not None:
        return dict(project=wandb_sweep.project, entity=wandb_sweep.entity, group=wandb_sweep.group,
                    mode=LoggerMode.auto, folder=Path(tempfile.gettempdir()) / "sweep-wandb-reports")
    run = RunDir(next((r for r in rows if r["status"] != "damaged"), rows[0])["path"])
    config_file, cfg = run.config_file, run.read_config()
    if "logger" not in cfg:
        raise ConfigError(f"{config_file} has no logger settings (a run trained before W&B tracking): "
                          "re-run the sweep's command once to rewrite it, or read the sweep from W&B")
    logger = cfg["logger"]
    return dict(project=logger["project"], entity=logger["entity"], group=sweep_group(logger["group"], source),
                mode=LoggerMode[logger["mode"]], folder=Path(source))


def sync(source: Path, jobs: int | None) -> int:
    """`sweep sync`: upload the sweep's offline W&B runs, `jobs` runs at once; 1 when any failed."""
    from launch.sync import sync_sweep

    defaults = conf_file("sync.yaml")
    jobs = defaults["jobs"] if jobs is None else jobs

    def progress(result, done: int, total: int) -> None:
        attempts = f" ({result.synced} attempt{'s' * (result.synced != 1)}, {result.seconds:.1f} s)" \
            if result.synced else ""
        console.print(f"[{done}/{total}] {result.label}: {result.outcome}{attempts}", highlight=False)

    summary = sync_sweep(source, jobs, on_result=progress, timeout_s=defaults["timeout_s"])
    console.print(f"{source}: {summary.line()} W&B runs", highlight=False)
    for result in summary.of("held"):
        console.print(f"held: {result.label} is still training; sync it when it stops", highlight=False)
    for result in summary.of("failed"):
        console.print(f"failed: {result.label}: {result.log}", highlight=False)
    return 1 if summary.of("failed") else 0


def conf_file(name: str) -> dict[str, Any]:
    """A file of the config tree (the installed `conf` package), as plain YAML."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("conf").joinpath(name).read_text())


def demo(out_dir: Path | None) -> int:
    """The synthetic-corpus scaling sweep of conf/demo.yaml (its grid, and its out_dir unless one is
    given): its corpus generated (`sweep prepare`), its runs, then their table, plot and fit, whose
    irreducible loss E is set beside the corpus's known entropy rate."""
    out_dir = Path(conf_file("demo.yaml")["out_dir"]) if out_dir is None else out_dir
    code = prepare_train_report([f"out_dir={out_dir}"], "demo", out_dir)
    if code == 0:
        law = json.loads((out_dir / "report" / "fits.json").read_text()).get("chinchilla")
        if law:
            console.print(f"Chinchilla fit: loss(N, T) = {law['E']:.3g} + {law['A']:.3g} / N^{law['alpha']:.3g} + "
                          f"{law['B']:.3g} / T^{law['beta']:.3g}; report in {out_dir / 'report' / 'report.md'}")
            console.print(entropy_line(law, runs_table(str(out_dir))), highlight=False)
    return code


def experiment(name: str, overrides: Sequence[str]) -> int:
    """`sweep experiment NAME [OVERRIDES]`: the preset conf/experiment/NAME.yaml run here as the demo
    runs (its corpus prepared, its grid trained, its report written), then each finding's verdict."""
    from launch.grid import compose_grid

    overrides = [f"+experiment={name}", *overrides]
    grid = compose_grid(overrides)  # every point valid (and its out_dir known) before anything runs
    out_dir = Path(grid[0].cfg.out_dir)
    code = prepare_train_report(overrides, "train", out_dir)
    if code == 0:
        findings = json.loads((out_dir / "report" / "fits.json").read_text()).get("findings") or []
        for finding in findings:
            console.print(f"{finding['name']}: {finding['verdict']}: {finding['because']}", highlight=False)
        console.print(f"report: {out_dir / 'report' / 'report.md'}", highlight=False)
    return code


def experiment_presets() -> list[str]:
    """The experiment presets of the installed config tree (conf/experiment/NAME.yaml)."""
    from importlib.resources import files

    return sorted(p.name.removesuffix(".yaml") for p in files("conf").joinpath("experiment").iterdir()
                  if p.name.endswith(".yaml"))


def prepare_train_report(overrides: Sequence[str], config_name: str, out_dir: Path) -> int:
    """A local sweep end to end: its corpus prepared (`sweep prepare`), its grid trained
    (`python -m sweep.train -m`, each run in its own process), its table and plot (`sweep
    status`), then, when every run ended well, its report in out_dir/report."""
    shown = " ".join([*(["--config-name", config_name] if config_name != "train" else []), *overrides])
    console.print(f"preparing the corpus: sweep prepare {shown}", highlight=False)
    code = prepare(overrides, config_name, workers=1, slurm=False, time_min=0, wait=False)
    cmd = [sys.executable, "-m", "sweep.train", "--multirun", "--config-name", config_name, *overrides]
    if code == 0:
        console.print("running: " + " ".join(cmd[1:]), highlight=False)
        code = subprocess.call(cmd)
    status(out_dir, plot=out_dir / "scaling.png", csv_path=out_dir / "runs.csv")
    if code == 0:
        defaults = fit_defaults()
        report(str(out_dir), None, out_dir / "report", bootstrap=defaults.bootstrap, seed=defaults.seed,
               compute=None, cutoff=None, recipe=None, upload=False)
    return code


def entropy_line(law: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The fitted E, with its bootstrap interval, beside the corpus's true entropy rate h (the
    runs' `true_entropy_nats`), when the corpus has one."""
    truths = {r["true_entropy_nats"] for r in rows if r.get("true_entropy_nats") is not None}
    interval = (law.get("bootstrap") or {}).get("intervals", {}).get("E")
    fitted = f"fitted E = {law['E']:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
    if len(truths) != 1:
        return fitted + " nats/token"
    (h,) = truths
    where = "" if not interval else (" (inside E's interval)" if interval[0] <= h <= interval[1]
                                     else " (outside E's interval)")
    return f"{fitted} nats/token; true entropy rate of the corpus h = {h:.3f}{where}, E - h = {law['E'] - h:+.3f}"


TRAINING_HELP = """\
training (Hydra's command line, not a subcommand; `sweep-train` is the same command):
    python -m sweep.train model.d=128 model.l=2 optim.lr=3e-3           # one run, here
    python -m sweep.train -m hydra/launcher=local model.d=64,128 optim.lr=1e-3,3e-3   # a grid, here
    python -m sweep.train -m hydra/launcher=slurm model.d=256,512 model.l=4,8 --dry-run  # plan a Slurm grid
    python -m sweep.train --help          # its main keys and defaults, launchers, examples

`sweep SUBCOMMAND --help`: that subcommand's options and examples.
"""

SUBCOMMAND_EXAMPLES = {
    "plan": """\
    sweep plan model.d=64,128 model.l=1,2 optim.lr=1e-3,3e-3
    sweep plan --config-name demo                      # the demo's grid (conf/demo.yaml)""",
    "prepare": """\
    sweep prepare --config-name demo                   # the demo's synthetic corpus
    sweep prepare data=c4 model.d=256,512 model.l=4,8 --workers 16""",
    "status": """\
    sweep status runs/demo
    sweep status runs/demo --plot scaling.png --csv runs.csv
    sweep status runs/width-depth --wait               # until no run is queued or running
    sweep status wandb:my-team/scaling-sweep/demo      # the runs of a W&B group""",
    "fit": """\
    sweep fit runs/demo                                # loss(N, T) = E + A/N^alpha + B/T^beta
    sweep fit runs/demo --law chinchilla --bootstrap 200 --json
    sweep fit runs/demo --law compare                  # fit the smaller runs, predict the largest
    sweep fit --runs-table runs.csv --law isoflop""",
    "report": """\
    sweep report runs/demo                             # runs/demo/report/report.md and figures
    sweep report runs/demo --out demo-report --bootstrap 200""",
    "predict": """\
    sweep predict runs/demo                            # every run, finished or training, from its curve so far
    sweep predict runs/demo --at-fraction 0.25         # replay: what it would have said at 25% of each run
    sweep predict runs/demo --json --bootstrap 500
    sweep predict runs/demo --at-fraction 0.25 --floor true   # ... from a finished smaller size where there is one
    sweep predict runs/demo --at-fraction 0.25 --floor auto   # ... E calibrated on the two sizes below each run
    sweep predict wandb:my-team/scaling-sweep/demo     # ... or the runs of a W&B group (sampled histories)""",
    "suggest": """\
    sweep suggest runs/demo --target-compute 1e15                 # 4 runs that most narrow L*(C), N_opt(C)
    sweep suggest runs/demo --target-compute 1e15 --budget 3e14   # the best set within 3e14 FLOPs
    sweep suggest runs/demo --target-compute 1e15 --candidates "model.d=64,96,128 budget.tokens_per_param=10,40"
    sweep suggest runs.csv --target-compute 1e21 --json           # a table file: candidates on N only
    sweep suggest --replay runs.csv --bootstrap 50                # active vs random / grid / spread on a table""",
    "sync": """\
    sweep sync runs/demo                               # every offline W&B run of the sweep, 8 at once
    sweep sync runs/width-depth --jobs 32              # again after an interruption: skips what was synced""",
    "demo": """\
    sweep demo
    sweep demo --out-dir runs/my-demo""",
    "experiment": """\
    sweep experiment lr_ucurve                          # conf/experiment/lr_ucurve.yaml at its CPU scale, here
    sweep experiment otr out_dir=runs/otr-again         # with Hydra overrides""",
    "completion": """\
    source <(sweep completion bash)""",
}


class SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: its examples (SUBCOMMAND_EXAMPLES) after its options, as written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        examples = SUBCOMMAND_EXAMPLES.get(str(kwargs.get("prog", "")).split()[-1])
        if examples and "epilog" not in kwargs:
            kwargs["epilog"] = "examples:\n" + examples
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    """`sweep suggest`'s options that close the loop (launch/suggest_loop.py runs it)."""
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="close the loop on a sweep folder: train the proposals with the sweep's own launcher and "
                             "settings, wait, refit, suggest again, until the folder holds N rounds "
                             "(recorded in SWEEP_DIR/suggest/rounds.jsonl; the same command again resumes)")
    parser.add_argument("--until-width", type=float, metavar="W",
                        help="with --rounds: stop earlier once L*(C)'s interval is narrower than W x L*(C) "
                             "(0 < W < 1)")


def loop_requested(args: argparse.Namespace) -> bool:
    return getattr(args, "rounds", None) is not None or getattr(args, "until_width", None) is not None


def suggest_command(args: argparse.Namespace) -> int:
    """`sweep suggest`'s arguments to `suggest` or `replay` (one source: SOURCE or --replay TABLE)."""
    if (args.sweep is None) == (args.replay is None):
        raise ConfigError("give a SOURCE to suggest runs for, or --replay TABLE (one of them)")
    if args.replay is not None:
        loose = [f"--{k.replace('_', '-')}" for k in ("target_compute", "budget", "candidates")
                 if getattr(args, k) is not None]
        if loose:
            raise ConfigError(f"{', '.join(loose)}: not taken by --replay (its target compute is the held-out runs' "
                              "median; accepted: --law, --growth, --count, --holdout, --bootstrap, --seed, --json)")
        return replay(args.replay, args.law, args.growth, args.count, args.holdout, args.bootstrap, args.seed,
                      args.json)
    loose = [f"--{k}" for k in ("growth", "holdout") if getattr(args, k) is not None]
    if loose:
        raise ConfigError(f"{', '.join(loose)}: taken only with --replay TABLE")
    if loop_requested(args):
        from launch.suggest_loop import run_from_args  # hydra and the launchers: only when the loop runs
        from sweep.fit.candidates import candidate_set

        return run_from_args(args, lambda table: candidate_set(args.sweep, args.candidates).candidates)
    return suggest(args.sweep, args.target_compute, args.law, args.budget, args.count, args.candidates,
                   args.bootstrap, args.seed, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    defaults = fit_defaults()
    parser = argparse.ArgumentParser(prog="sweep", description=__doc__, epilog=TRAINING_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=SubcommandParser)
    p = sub.add_parser("plan", help="list a grid's runs with N, tokens, steps and FLOPs, without training")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, as for python -m sweep.train -m")
    p.add_argument("--config-name", default="train")
    r = sub.add_parser("prepare", help="tokenize, once, the data a grid needs (streamed corpora: up to the "
                                       "largest run's tokens)")
    r.add_argument("overrides", nargs="*", help="the sweep's Hydra overrides (data=c4 model.d=256,512 ...)")
    r.add_argument("--config-name", default="train")
    r.add_argument("--workers", type=int, default=1, help="tokenizer processes (one unit, a data file, each)")
    r.add_argument("--slurm", action="store_true",
                   help="run as one Slurm CPU job with the overrides' hydra/launcher=slurm settings")
    r.add_argument("--time-min", type=int, default=1440, help="time limit of the --slurm job, minutes")
    r.add_argument("--wait", action="store_true", help="with --slurm: wait for the job and print its summary")
    s = sub.add_parser("status", help="table of the runs in a sweep folder or a W&B group")
    s.add_argument("sweep", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP")
    s.add_argument("--plot", type=Path, help="write a PNG of final loss against N and FLOPs")
    s.add_argument("--csv", type=Path, help="write the runs table as CSV")
    s.add_argument("--json", action="store_true",
                   help="print the runs table as JSON rows (nested fields dotted, as in the CSV) on stdout; the "
                        "rest goes to stderr")
    s.add_argument("--parquet", type=Path, metavar="FILE", help="write the runs table as parquet")
    s.add_argument("--wait", action="store_true", help="follow the sweep until no run is queued or running")
    s.add_argument("--interval", type=float, default=10.0, help="seconds between checks with --wait")
    s.add_argument("--upload", action="store_true",
                   help="log the runs table (and --plot's figure) to the sweep's W&B group")
    f = sub.add_parser("fit", help="fit a scaling law to a sweep's complete runs")
    f.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    f.add_argument("--runs-table", type=Path, help="a CSV / parquet file with n_params, tokens, loss columns")
    f.add_argument("--law", default="chinchilla", choices=LAWS)
    f.add_argument("--json", action="store_true", help="print the estimates as JSON")
    f.add_argument("--bootstrap", type=int, help="resamples for confidence intervals (default: none; --law "
                                                  f"crossover: {defaults.bootstrap}, conf/fit.yaml)")
    f.add_argument("--bootstrap-method", choices=BOOTSTRAP_METHODS,
                   help="chinchilla / subscaling intervals: resample the fit's log residuals, the runs staying where "
                        f"the grid put them (residual), or the runs (case); default {defaults.bootstrap_method}, "
                        "conf/fit.yaml")
    f.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    f.add_argument("--compute", type=float, help="C at which N_opt, T_opt, tokens/param are given (default: the "
                                                 "largest run's)")
    f.add_argument("--cutoff", type=float, help="--law compare: fit below this N (or C), predict above "
                                                "(default: the largest size is held out)")
    f.add_argument("--by", choices=("n_params", "flops", "cell"),
                   help="--law compare: what --cutoff cuts (n_params, default, or flops: the table's flops column where "
                        "given, else 6 N T); --law lr / batch: optimum "
                        "per compute budget (flops, default; a budget of several (N, tokens) cells takes its "
                        "lowest-loss cell's), per model size (n_params), or per (N, tokens) cell (cell: Step Law's "
                        "lr_opt = c N^a D^b, B_opt = c D^b required); each beside Step Law's form over the cells")
    f.add_argument("--recipe", help="fit the runs of this recipe (runs trained with recipe=NAME); 'all': every "
                                    "recipe fitted alone, side by side")
    f.add_argument("--min-tokens-per-param", type=float, metavar="X",
                   help="leave out runs with tokens / N < X from the fit (counted in excluded)")
    f.add_argument("--fix", action="append", metavar="NAME=VALUE",
                   help="hold a parameter of the chinchilla / subscaling fit at a value: E=VALUE (nats/token), "
                        "E=true (the runs' true_entropy_nats, data=synthetic), alpha=VALUE, beta=VALUE; repeatable")
    f.add_argument("--upload", action="store_true", help="log the runs with predictions and the fit to W&B")
    rp = sub.add_parser("report", help="write every fit the runs support as Markdown + figures + CSV")
    rp.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    rp.add_argument("--runs-table", type=Path, help="a CSV / parquet file with n_params, tokens, loss columns")
    rp.add_argument("--out", type=Path, help="report folder (default: SWEEP_DIR/report)")
    rp.add_argument("--bootstrap", type=int, default=defaults.bootstrap,
                    help="resamples for the confidence intervals (default: conf/fit.yaml)")
    rp.add_argument("--bootstrap-method", choices=BOOTSTRAP_METHODS,
                    help="section 1's intervals: resample the fit's log residuals (residual) or the runs (case); "
                         f"default {defaults.bootstrap_method}, conf/fit.yaml")
    rp.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    rp.add_argument("--compute", type=float, help="C at which N_opt, T_opt, tokens/param are given")
    rp.add_argument("--cutoff", type=float, help="held-out comparison: fit below this N (default: the largest "
                                                "size is held out)")
    rp.add_argument("--recipe", help="the recipe sections 1-5 use (default: the first); crossover uses all")
    rp.add_argument("--fix", action="append", metavar="NAME=VALUE",
                    help="hold a parameter of the chinchilla / subscaling fit at a value: E=VALUE (nats/token), "
                         "E=true (the runs' true_entropy_nats, data=synthetic), alpha=VALUE, beta=VALUE; repeatable")
    rp.add_argument("--min-tokens-per-param", type=float, metavar="X",
                    help="leave out runs with tokens / N < X from every fit (counted in excluded)")
    rp.add_argument("--upload", action="store_true", help="log the runs with predictions, the figures and the "
                                                         "fits to the sweep's W&B group")
    pr = sub.add_parser("predict", help="predict each run's final eval loss from its loss curve so far (the "
                                        "Tissue et al. 2024 curve law), with an interval")
    pr.add_argument("sweep", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP")
    pr.add_argument("--at-fraction", type=float, metavar="F",
                    help="cut each run's curve at this fraction (0, 1] of its steps first: what the prediction "
                         "would have been then (finished runs: against their actual final loss)")
    pr.add_argument("--json", action="store_true", help="print the predictions as JSON")
    pr.add_argument("--bootstrap", type=int, help=f"resamples of each run's interval (default {defaults.bootstrap}, "
                                                  "conf/fit.yaml)")
    pr.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap")
    pr.add_argument("--floor", metavar="E|true|auto",
                    help="predict each run that has a finished run of another size at its settings (lr, batch, "
                         "weight decay, tokens per parameter, schedule, data, seed) from that run, by the collapse of "
                         "loss curves above the irreducible loss E: a number (nats/token), 'true' for the "
                         "corpus's true entropy rate (data=synthetic), or 'auto': E calibrated on the finished runs "
                         "of the two sizes below the run (at least 3 pairs at the same settings)")
    sg = sub.add_parser("suggest", help="propose the next runs that most narrow the intervals of L*(C) and N_opt(C) "
                                        "at a target compute, with their cost and command line")
    sg.add_argument("sweep", nargs="?", metavar="SWEEP_DIR | wandb:[ENTITY/]PROJECT/GROUP | RUNS.csv")
    sg.add_argument("--target-compute", type=float, metavar="C",
                    help="FLOPs at which L* and N_opt are asked (e.g. 1e21); required unless --replay")
    sg.add_argument("--law", default="chinchilla", choices=("chinchilla", "subscaling"))
    sg.add_argument("--budget", type=float, metavar="FLOPS", help="total FLOPs of the runs proposed, chosen jointly")
    sg.add_argument("--count", type=int, metavar="K",
                    help=f"runs proposed (default {defaults.suggest_count} without --budget, conf/fit.yaml; with "
                         "--budget: no cap)")
    sg.add_argument("--candidates", metavar='"KEY=V1,V2 ..."',
                    help="the candidate axes' values (each replaces the sweep's; a table file: n_params, "
                         "budget.tokens_per_param)")
    sg.add_argument("--bootstrap", type=int, metavar="K",
                    help=f"bootstrap resamples (default {defaults.bootstrap}; --replay: each round's fits', default "
                         f"{defaults.replay_resamples}; conf/fit.yaml)")
    sg.add_argument("--seed", type=int, default=defaults.seed, help="seed of the bootstrap (and of --replay's "
                                                                     "random design)")
    sg.add_argument("--json", action="store_true", help="print the proposals (or the replay) as JSON")
    sg.add_argument("--replay", metavar="TABLE", help="replay the choice on a finished runs table (any source) "
                                                      "against random, grid and spread designs")
    sg.add_argument("--growth", type=float, metavar="G", help="--replay: each round's budget over the compute spent "
                                                              f"(default {defaults.replay_growth:g}, conf/fit.yaml)")
    sg.add_argument("--holdout", type=int, metavar="H", help="--replay: the largest sizes held out (default "
                                                             f"{defaults.replay_holdout}, conf/fit.yaml)")
    add_loop_options(sg)  # closing the loop: --rounds, --until-width
    sy = sub.add_parser("sync", help="upload a sweep's offline W&B runs, several at once, skipping what was synced")
    sy.add_argument("sweep", type=Path, metavar="SWEEP_DIR")
    sy.add_argument("--jobs", type=int, help="W&B runs uploaded at once (default: conf/sync.yaml)")
    d = sub.add_parser("demo", help="run the small local scaling sweep of conf/demo.yaml")
    d.add_argument("--out-dir", type=Path, help="where the runs go (default: conf/demo.yaml's out_dir)")
    e = sub.add_parser("experiment", help="run a paper's finding (conf/experiment/NAME.yaml) here: prepare, "
                                          "train, report with its verdict")
    e.add_argument("name", nargs="?", choices=experiment_presets(), metavar="NAME",
                   help=f"the preset conf/experiment/NAME.yaml: {', '.join(experiment_presets())}")
    e.add_argument("overrides", nargs="*", help="Hydra overrides (e.g. out_dir=...)")
    c = sub.add_parser("completion", help="print the bash completion script of this command")
    c.add_argument("shell", choices=SHELLS)
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "overrides", None) is not None and all("=" in x and not x.startswith("-") for x in extra):
        args.overrides += extra  # overrides after an option (`sweep prepare data=c4 --workers 8 out_dir=...`)
    elif extra:
        parser.parse_args(argv)  # argparse's own error for what is not an override
    if args.command == "experiment" and args.name is None:
        parser.error(f"sweep experiment NAME: give a preset's NAME; accepted: {', '.join(experiment_presets())}")
    if args.command == "completion":
        sys.stdout.write(bash_completion(parser))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "plan":
            return plan(args.overrides, args.config_name)
        if args.command == "prepare":
            return prepare(args.overrides, args.config_name, args.workers, args.slurm, args.time_min, args.wait)
        if args.command == "fit":
            bootstrap = args.bootstrap if args.bootstrap is not None else \
                defaults.bootstrap if args.law == "crossover" else 0
            return fit(args.sweep, args.runs_table, args.law, args.json, bootstrap, args.seed, args.compute,
                       args.cutoff, args.by, args.upload, args.recipe, args.fix,
                       args.min_tokens_per_param, args.bootstrap_method)
        if args.command == "report":
            return report(args.sweep, args.runs_table, args.out, args.bootstrap, args.seed, args.compute,
                          args.cutoff, args.recipe, args.upload, args.fix,
                          args.min_tokens_per_param, args.bootstrap_method)
        if args.command == "predict":
            return predict(args.sweep, args.at_fraction, args.json, args.bootstrap, args.seed, args.floor)
        if args.command == "status":
            return status(args.sweep, args.plot, args.csv, args.wait, args.interval, args.upload, args.json,
                          args.parquet)
        if args.command == "suggest":
            return suggest_command(args)
        if args.command == "sync":
            return sync(args.sweep, args.jobs)
        if args.command == "experiment":
            return experiment(args.name, args.overrides)
        return demo(args.out_dir)
    except ConfigError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
