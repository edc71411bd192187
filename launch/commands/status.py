"""`sweep status`: the runs of a sweep folder or W&B group as a table (and CSV, parquet, JSON, a plot,
W&B), and `--wait` following them until none is queued or running."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from launch.commands.printing import console, duration, num
from launch.commands.wandb_target import report_target
from launch.queue import POLL_INTERVAL_S, STUCK_REASONS
from sweep.errors import ConfigError
from sweep.progress import progress
from sweep.record import TRUNK
from sweep.results import flatten
from sweep.storage import atomic_write


STATUS_ORDER = ("complete", "diverged", "stopped_early", "failed", "cancelled", "running", "queued", "started",
                "pending", "damaged")


ENDED = ("complete", "diverged", "stopped_early", "failed", "cancelled")


# the settings `sweep status` always shows (its first columns)
STATUS_SETTINGS = ("model.d", "model.l", "train.batch_size", "optim.lr", "optim.weight_decay", "seed",
                   "budget.tokens_per_param")


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
    """Follow a sweep until no run is queued or running (but for jobs pending for a reason waiting will not
    resolve, STUCK_REASONS, which the table after names): on a terminal a bar of the runs ended
    with the counts by status and an ETA from the steps done; otherwise a plain line per change."""

    def summary() -> tuple[list[dict[str, Any]], str, bool]:
        rows = runs_table(source)
        counts = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
        # a job pending for a reason waiting will not resolve (PartitionConfig: more CPUs than the node has)
        # is not waited for: the table after says what to change (it hung here, silent)
        stuck = sum(r["status"] == "queued" and r.get("job_reason") in STUCK_REASONS for r in rows)
        active = counts["running"] + counts["queued"] - stuck
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


def print_whole(table: Table) -> None:
    """The table with every value and heading whole: on a console narrower than the table, rich
    cut them (lr `3.0…`, status `com…`, two settings both `optim.wa…`); the lines wrap instead."""
    from rich.console import Console
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum  # not capped at the width
    wide = console if natural <= console.width else Console(width=natural, markup=False, file=console.file,
                                                           force_terminal=console.is_terminal)
    wide.print(table)


def run_fraction_done(row: dict[str, Any]) -> float:
    """1 for a run that has ended; its steps done of its steps where the row has both; else 0."""
    if row["status"] in ENDED:
        return 1.0
    steps, done = row.get("steps"), row.get("steps_done")
    return min(1.0, done / steps) if steps and done else 0.0


def status(source: str | Path, plot: Path | None, csv_path: Path | None, follow: bool = False,
           interval_s: float = POLL_INTERVAL_S, upload: bool = False, as_json: bool = False,
           parquet: Path | None = None) -> int:
    """`sweep status`: the runs table printed, and written as CSV / parquet / a plot where asked;
    with `as_json` the rows are printed as JSON on stdout, everything else goes to stderr."""
    if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not 0 < interval_s < float("inf"):
        raise ConfigError(f"--interval {interval_s!r}: accepted is a number of seconds > 0 (between checks with --wait)")
    if not as_json:
        return _status(str(source), plot, csv_path, follow, interval_s, upload, False, parquet)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # the console's lines too: stdout holds only the JSON
        rows = _status(str(source), plot, csv_path, follow, interval_s, upload, True, parquet)
    print(json_rows(rows), file=stdout)
    return 0


def _status(source: str, plot: Path | None, csv_path: Path | None, follow: bool, interval_s: float, upload: bool,
            rows_only: bool, parquet: Path | None) -> Any:
    from sweep.preflight import check_writable_dir
    from sweep.results import differing_settings

    for option, path in (("--plot", plot), ("--csv", csv_path), ("--parquet", parquet)):
        if path is not None:  # before the table is read (or waited for): one line, not a traceback at the end
            if Path(path).is_dir():
                raise ConfigError(f"{option} {path}: is a folder; accepted: a file path")
            check_writable_dir(f"{option} {path}: its folder", Path(path).parent)
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
        steps = _steps_text(r)
        table.add_row(num(r["d"], ""), num(r["l"], ""), num(r["batch_size"], ""), num(r["lr"], ".2e"),
                      num(r["weight_decay"], "g"), num(r["seed"], ""), num(r.get("tokens_per_param"), "g"),
                      *(_setting_text(values[i]) for values in differing.values()), r["status"], steps,
                      num(r.get("final_train_loss"), ".4f"),
                      num(r.get("final_eval_loss"), ".4f"), *((_predicted_text(r),) if predicted else ()),
                      num(r.get("n_params"), ","),
                      num(r.get("tokens"), ","), duration(r.get("wall_seconds")),
                      _job_text(r))
    if not rows_only:
        print_whole(table)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUS_ORDER}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for r in rows:
        if r.get("job_reason") in STUCK_REASONS:
            remedy = (f"the job asks for {'; '.join(r['job_unmet'])}" if r.get("job_unmet")
                      else STUCK_REASONS[r["job_reason"]])
            console.print(f"queued: {r['path']}: job {r['job_id']} waits for {r['job_reason']}, which waiting will "
                          f"not resolve: {remedy}; scancel it and submit again", highlight=False)
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
            console.print(f"damaged: {r['error']}", highlight=False, soft_wrap=True)
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


def _steps_text(row: dict[str, Any]) -> str:
    """The status table's `steps` column: steps done / the run's steps. A ladder's trunk ends where
    its longest branch's cooldown starts, short of its budget's steps: a finished one reads
    `56/56 trunk` (its `56/70` beside `complete` read as unfinished)."""
    done = row.get("steps_done") or 0
    if row.get("role") == TRUNK and row["status"] == "complete":
        return f"{done}/{done} trunk"
    return f"{done}/{row['steps']}" if row.get("steps") else str(row.get("steps_done", "-"))


def _job_text(row: dict[str, Any]) -> str:
    """The status table's `job` column: the run's current Slurm job and its state; for a ladder's
    trunk, the step its current segment ends at; for an early-stopped run's probe or rung, the step
    it ends at."""
    if not row.get("job_id"):
        return ""
    part = next((f" ({name} to step {row[name]})" for name in ("segment", "probe", "rung")
                 if row.get(name) is not None), "")
    reason = f" ({row['job_reason']})" if row.get("job_reason") else ""  # why a pending job waits
    return f"{row['job_id']} {row['job_state'] or ''}".strip() + reason + part


def _predicted_text(row: dict[str, Any]) -> str:
    """The status table's `predicted` column: a run stopped early's predicted final eval loss and
    its interval (its eval loss column holds its last eval, at its probe step)."""
    predicted, interval = row.get("predicted_final_eval_loss"), row.get("predicted_interval")
    if not isinstance(predicted, (int, float)):
        return ""
    if isinstance(interval, (list, tuple)) and len(interval) == 2:
        return f"{predicted:.4f} [{num(interval[0], '.4f')}, {num(interval[1], '.4f')}]"
    return f"{predicted:.4f}"


def _setting_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    return num(value, "g") if isinstance(value, (int, float)) else str(value)


def json_rows(rows: list[dict[str, Any]]) -> str:
    """The rows flattened like the CSV (every column in every row, null where a run lacks it) as
    a JSON list, one row per line."""
    from launch.api import flat_rows
    from sweep.jsonable import jsonable

    columns, flat = flat_rows(rows)
    lines = [json.dumps(jsonable({c: r.get(c) for c in columns}), allow_nan=False) for r in flat]
    return "[" + ",\n ".join(lines) + "]"

