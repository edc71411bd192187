"""`sweep report`: every fit the runs support, written as a folder of Markdown, figures and CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from launch.commands.fit import given_columns, has_curves, load_table, table_source
from launch.commands.printing import console
from launch.commands.wandb_target import report_target
from sweep.errors import ConfigError


def report(source: str | None, runs_file: Path | None, out: Path | None, bootstrap: int, seed: int,
           compute: float | None, cutoff: float | None, recipe: str | None, upload: bool,
           fix: Sequence[str] | None = None,
           min_tokens_per_param: float | None = None, bootstrap_method: str | None = None,
           columns: Sequence[str] | None = None) -> int:
    """`sweep report`: every fit the runs support, as a folder of Markdown, figures and CSV."""
    from sweep.fit.law_comparison import check_cutoff
    from sweep.fit.report import write_report
    from sweep.fit.curve_reader import read_curves
    from sweep.preflight import check_writable_dir

    if cutoff is not None:  # before the predictions and the fits (was: "skipped held_out" after them, rc 0)
        check_cutoff(cutoff)
    source, runs_file = table_source(source, runs_file)  # a runs file given as the source: its report beside it
    table, rows = load_table(source, runs_file, upload, given_columns(columns))
    if out is None:
        base = Path(source) if source and Path(source).is_dir() else Path(runs_file or "wandb").parent
        out = base / "report"
    check_writable_dir("--out", out)  # before any fit (was: a FileExistsError traceback after the fits)
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

