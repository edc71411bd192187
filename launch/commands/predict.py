"""`sweep predict`: each run's final eval loss predicted from its curve so far, as a table or JSON."""

from __future__ import annotations

import json

from rich.table import Table

from launch.commands.printing import console, num
from sweep.fit.defaults import fit_defaults


def predict(source: str, at_fraction: float | None, as_json: bool, bootstrap: int | None, seed: int,
            floor: str | None = None, margin: float = 0.0) -> int:
    """`sweep predict`: each run's final eval loss predicted from its loss curve so far (or, with
    `at_fraction`, from the first part of it), with its interval; the error of the finished ones.
    With `floor`, a run with finished runs of another size at its settings but the learning rate is
    predicted from them (sweep/fit/collapse.py), the gaps between two such predictions calibrated for
    early_stop.margin `margin` (in the JSON)."""
    from sweep.fit.collapse import check_floor
    from sweep.fit.predict import partly_seen_caution, predict_sweep, summarize
    from sweep.jsonable import jsonable

    floor = check_floor(floor)
    predictions = predict_sweep(source, at_fraction, n_resamples=bootstrap, seed=seed, floor=floor, margin=margin)
    summary = summarize(predictions)
    level = next((p.prediction.level for p in predictions if p.prediction is not None), fit_defaults().level)
    caution = partly_seen_caution(predictions, level)
    if as_json:
        print(json.dumps(jsonable({"source": str(source), "at_fraction": at_fraction, "floor": floor, "margin": margin,
                                   "summary": summary, "caution": caution,
                                   "runs": [p.to_dict() for p in predictions]}), indent=2, allow_nan=False))
        return 0
    cut = f", each cut at {at_fraction:g} of its steps" if at_fraction is not None else ""
    how = "the loss curve" if floor is None else f"the loss curve or a finished run of another size (floor E = {floor})"
    table = Table(title=f"{source}: final eval loss predicted from {how}{cut}")
    calibrated = any(getattr(p.prediction, "calibration", None) is not None for p in predictions)
    columns = ("run", "status", "seen", *(("from",) if floor is not None else ()), "predicted",
               f"{level:.0%} interval", *(("holds at",) if calibrated else ()), "actual", "error")
    for col in columns:
        table.add_column(col, justify="left" if col in ("run", "status", "from") else "right")
    for p in predictions:
        if p.prediction is None:
            continue
        lo, hi = p.prediction.interval
        error = "-" if p.error is None else f"{p.error:+.4f} ({p.relative_error:+.2%})"
        source_of = (getattr(p.prediction, "reference", None) or "curve law",) if floor is not None else ()
        holds = (holds_at(getattr(p.prediction, "calibration", None)),) if calibrated else ()
        table.add_row(p.run, p.status, f"{p.prediction.fraction_seen:.0%} ({p.prediction.steps_seen:,}/"
                      f"{p.prediction.steps:,})", *source_of, f"{p.predicted:.4f}", f"{lo:.4f} .. {hi:.4f}",
                      *holds, num(p.actual, ".4f"), error)
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
    if summary["unscored_seen_whole"]:
        line += (f"; {summary['unscored_seen_whole']} finished run(s) predicted from a smaller one with their own "
                 "curve seen whole are not scored (that gives back their own final loss: give --at-fraction F to "
                 "test the prediction)")
    console.print(line, highlight=False)
    if caution:
        console.print(f"caution: {caution}", highlight=False)
    return 0


def holds_at(found) -> str:
    """The level a run's calibrated interval holds at, in a cell: what the calibration measured (n / (n + 1)
    where its runs are too few for the level asked), "not measured" where it could measure nothing, "-" where
    no calibration touched the interval (the bootstrap's, at its nominal level)."""
    if found is None:
        return "-"
    return f"{found.level:.0%}" if found.measured else "not measured"
