"""`sweep report`: every fit of sweep/fit/ that a runs table supports, written as one self-contained
folder: report.md (numbers as Markdown tables, figures linked relatively), the figures (PNG),
runs.csv (each run with each fitted law's prediction and log residual) and fits.json. The fits
themselves are made in sweep/fit/report_fits.py, report.md's text in sweep/fit/report_sections.py;
this module checks the arguments, runs both and writes the folder.

Sections, each skipped with the fit's own ConfigError message when the table cannot support it:

       Findings: each finding of the papers whose runs     finding_NAME
       are present (sweep/fit/findings/), its verdict,
       the numbers behind it and the rule; none present:
       which runs each needs
    1  Chinchilla Approach 3 with bootstrap intervals      loss_vs_n, loss_vs_flops, residuals
    2  the sub-scaling law and the held-out comparison
    3  Approach 2 (IsoFLOP parabolas)                      isoflop
    4  Approach 1 (lower envelope of loss curves)          frontier
    5  optimal lr / batch size laws (DeepSeek's in C, Step  lr_ucurves, batch_ucurves
       Law's in N and D), near-optimal band
    6  crossover of the recipes (every pair)               crossover
    7  final loss predicted from each run's curve cut      predicted_vs_actual
       short (sweep/fit/predict.py; only when the caller
       gives the predictions: a sweep folder's runs)
    8  active rounds (`sweep suggest --rounds`: a sweep
       folder with suggest/rounds.jsonl, sweep/fit/rounds.py):
       per round the runs proposed, their FLOPs, the L*(C)
       and N_opt(C) intervals before -> after; why the loop
       stopped

Which runs each fit sees:
- With several recipes (the `recipe` column), sections 1-5 use one recipe's runs (`recipe`,
  default the first labelled one in sorted order): one law fitted to two recipes at once
  describes neither.
  Section 6 fits each recipe.
- The parametric fits (sections 1, 2, 6) see one point per (recipe, N, T): the best setting of
  the runs that share them (sweep/fit/points.py: the lowest loss of a hyperparameter grid, as
  Hoffmann et al. and DeepSeek fit tuned runs, a setting's seeds averaged); a learning-rate grid
  would otherwise pull the law up by its worse runs, and the least of several seeds down.
  Approaches 1, 2 and the hyperparameter laws read every run (they pick the best per size / value
  themselves, Approach 2 and the hyperparameter laws after averaging seeds too).
- Runs stopped early (status stopped_early) are in no fit but the hyperparameter laws (section
  5), whose U-curves take them with their predicted final loss, marked as predicted (the table's
  `predicted` column, hollow markers with the prediction's interval in the figures).
- The findings see every run of every recipe, the stopped ones with their predicted loss (each
  check keeps recipes apart where it must); their redraws use the report's `bootstrap_resamples`
  and `seed`.
- The hyperparameter laws (section 5) take each compute budget's optimum, or, where some budget
  holds several (N, tokens) cells (an IsoFLOP design with a grid per size, several token budgets),
  each cell's (`by="cell"`: the optima of different (N, D) are not merged); Step Law's forms are
  fitted on the cells either way.

Only when no section can run and no finding is present is the first section's ConfigError raised,
before anything is written.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G groups
(budgets, ratios, recipes), X distinct values of a swept quantity, S the points of a curve.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.findings import assess_findings
from sweep.fit.law_bootstrap import check_bootstrap_args, check_bootstrap_method
from sweep.fit.law_comparison import check_cutoff
from sweep.fit.laws import bootstrap_to_dict, comparison_to_dict, crossovers_to_dict, fit_to_dict, truth_to_dict
from sweep.fit.parametric import PROGRESS_DELAY_S
from sweep.fit.predict import RunPrediction, summarize
from sweep.fit.points import noise_to_dict
from sweep.fit.report_fits import ANALYSES, ReportFits, fit_all
from sweep.fit.report_sections import report_markdown
from sweep.fit.curves import Curves
from sweep.fit.table import LABELS, OPTIONAL, RunsTable, of_source, validate
from sweep.jsonable import jsonable
from sweep.progress import progress
from sweep.storage import atomic_write


@dataclass
class ReportResult:
    """What write_report wrote: `figures` maps a figure's name (loss_vs_n, ...) to its PNG,
    `fits` is fits.json's content, `skipped` maps each analysis that could not run (see
    ANALYSES; lr_law / batch_size_law: U-curves drawn, no power law) to the reason."""

    out_dir: Path
    markdown: Path
    figures: dict[str, Path]
    fits: dict[str, Any]
    skipped: dict[str, str]
    csv: Path
    json: Path
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def rows_with_predictions(self) -> list[dict[str, Any]]:
        """runs.csv's rows as dicts (numbers as floats, a missing value as None)."""
        return [dict(row) for row in self.rows]


def write_report(table: RunsTable, out_dir: str | Path, *, curves: Curves | None = None,
                 bootstrap_resamples: int, seed: int | None = None, cutoff: float | None = None,
                 compute: float | None = None, recipe: str | None = None, fix: Any = None,
                 min_tokens_per_param: float | None = None, bootstrap_method: str | None = None,
                 predictions: Sequence[RunPrediction] | None = None,
                 prediction_fraction: float | None = None) -> ReportResult:
    """Fit everything `table` supports and write report.md, the figures, runs.csv and fits.json
    into `out_dir` (created; files of the same names replaced). `compute`: the C (FLOPs) at which
    the compute-optimal allocation is reported (default: the largest run's); `cutoff`: the held-
    out comparison fits below this N and predicts the runs at or above it (default: the largest
    N); `recipe`: whose runs sections 1-5 fit when the table has several recipes; `fix`: parameters
    the Chinchilla and sub-scaling fits hold (sweep/fit/fixed.py: "E=1.69", "E=true");
    `min_tokens_per_param`: runs with tokens / N below it are left out of every fit (counted in
    `excluded`); `bootstrap_method`: residual | case (None: conf/fit.yaml's); `predictions`: the
    runs' final losses predicted from their curves cut at `prediction_fraction` of their steps
    (sweep/fit/predict.py predict_sweep), section 7 (none without them). ConfigError (nothing
    written) when no analysis can run and no finding is present, or `fix` or `bootstrap_method` is
    not accepted. `seed`: the bootstrap's (None: conf/fit.yaml's)."""
    seed = fit_defaults().seed if seed is None else seed
    table = validate(table.with_min_tokens_per_param(min_tokens_per_param), 1, "a report")
    check_bootstrap_args(bootstrap_resamples, fit_defaults().level)
    if cutoff is not None:
        check_cutoff(cutoff)
    if compute is not None and not (math.isfinite(compute) and compute > 0):
        raise ConfigError(f"compute={compute!r}: accepted is a number of FLOPs > 0")
    if bootstrap_method is not None:
        check_bootstrap_method(bootstrap_method)
    # one step per fit: chinchilla, its bootstrap, subscaling, held_out, isoflop, envelope, lr,
    # batch_size, crossover; shown once the report has taken PROGRESS_DELAY_S
    with progress(9, "sweep report", unit="fits", delay_s=PROGRESS_DELAY_S) as bar:
        fits = fit_all(table, curves, bootstrap_resamples, seed, cutoff, compute, recipe, fix, bootstrap_method, bar)
        fits.findings = assess_findings(table, resamples=bootstrap_resamples, seed=seed)
        bar.update(done=bar.total, info="writing the report")
    fits.min_tokens_per_param = min_tokens_per_param
    ran = [a for a in ANALYSES if a not in fits.skipped]
    if not ran and not fits.findings:  # a finding alone (l2_vs_decay's 2 sizes x 4 recipes) is a report
        reasons = "; ".join(f"{a}: {fits.skipped[a]}" for a in ANALYSES[1:])
        raise ConfigError(f"no analysis can run on the runs table{of_source(table.source)}: "
                          f"{fits.skipped['chinchilla']} (and {reasons})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Path] = {}
    markdown = out_dir / "report.md"
    atomic_write(markdown, report_markdown(fits, curves=curves, predictions=predictions,
                                           prediction_fraction=prediction_fraction, n_resamples=bootstrap_resamples,
                                           seed=seed, out_dir=out_dir, figures=figures))
    rows = _rows(fits)
    csv_path = out_dir / "runs.csv"
    _write_csv(rows, csv_path)
    fits_dict = _fits_dict(fits)
    if predictions is not None:
        fits_dict["prediction"] = {"at_fraction": prediction_fraction, "summary": summarize(list(predictions)),
                                   "runs": [p.to_dict() for p in predictions]}
    fits_dict = jsonable(fits_dict)
    json_path = out_dir / "fits.json"
    atomic_write(json_path, json.dumps(fits_dict, indent=2, allow_nan=False) + "\n")
    _remove_stale_figures(out_dir, figures)
    return ReportResult(out_dir, markdown, figures, fits_dict, dict(fits.skipped), csv_path, json_path, rows)


# --- runs.csv and fits.json ---------------------------------------------------------------------

REPORT_FIGURES = ("loss_vs_n", "loss_vs_flops", "residuals", "isoflop", "frontier", "lr_ucurves", "batch_ucurves",
                  "crossover", "predicted_vs_actual")  # the sections' figures (the module docstring), and finding_NAME


def _remove_stale_figures(out_dir: Path, written: dict[str, Path]) -> None:
    """Delete the report's figures an earlier report left in `out_dir` that this one did not draw
    (a crossover.png of recipes the source no longer has, beside a report.md saying none): only
    names the report writes, never another file."""
    for path in out_dir.glob("*.png"):
        ours = path.stem in REPORT_FIGURES or path.stem.startswith("finding_")
        if ours and path.stem not in written:
            path.unlink(missing_ok=True)


def _rows(fits: ReportFits) -> list[dict[str, Any]]:
    """Every run: its numbers, the optional columns present, and each law's prediction (a run of
    another recipe: its own recipe's Chinchilla law, from section 6)."""
    table = fits.table
    optional = [c for c in OPTIONAL if c != "flops" and
                (getattr(table, c) if c in LABELS else getattr(table, f"{c}_R")) is not None]
    laws: list[tuple[str, np.ndarray, Any]] = []  # (name, runs it predicts, law)
    if fits.chinchilla is not None:
        laws.append(("chinchilla", fits.main_R, fits.chinchilla.law))
    if fits.tags_R is not None:
        for name, fit in fits.recipe_fits.items():
            if name != fits.recipe:
                laws.append(("chinchilla", fits.tags_R == name, fit.law))
    if fits.subscaling is not None:
        laws.append(("subscaling", fits.main_R, fits.subscaling.law))
    pred = {"chinchilla": np.full(len(table), np.nan), "subscaling": np.full(len(table), np.nan)}
    for name, runs_R, law in laws:
        pred[name][runs_R] = law.predict(table.n_params_R[runs_R], table.tokens_R[runs_R])
    rows = []
    for i, run in enumerate(table.names):
        row: dict[str, Any] = {"name": run, "n_params": float(table.n_params_R[i]), "tokens": float(table.tokens_R[i]),
                               "flops": float(table.flops_R[i]), "loss": float(table.loss_R[i])}
        for column in optional:
            row[column] = getattr(table, column)[i] if column in LABELS else _num(getattr(table, f"{column}_R")[i])
        row["tokens_per_param"] = float(table.tokens_R[i] / table.n_params_R[i])
        row["fitted"] = bool(fits.point_R[i])
        for name in ("chinchilla", "subscaling"):
            p = _num(pred[name][i])
            row[f"pred_{name}"] = p
            row[f"log_residual_{name}"] = None if p is None else float(np.log(table.loss_R[i] / p))
        rows.append(row)
    return rows


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    atomic_write(path, text.getvalue())


def _fits_dict(fits: ReportFits) -> dict[str, Any]:
    out: dict[str, Any] = {**fits.table.summary(), "min_tokens_per_param": fits.min_tokens_per_param,
                           "recipe": fits.recipe,
                           "points": len(fits.points),
                           "compute": fits.compute, "cutoff": fits.cutoff}
    if fits.chinchilla is not None:
        law, C = fits.chinchilla.law, fits.compute
        out["chinchilla"] = {**fit_to_dict(fits.chinchilla, fits.boot, C), "compute": C, "n_opt": law.n_opt(C),
                             "d_opt": law.d_opt(C), "tokens_per_param": law.tokens_per_param(C),
                             **truth_to_dict(fits.main, fits.boot)}
        out["chinchilla"].update(noise_to_dict(*fits.scatter()))
        if fits.boot is not None:
            out["chinchilla"]["bootstrap"] = bootstrap_to_dict(fits.boot)
    if fits.subscaling is not None:
        out["subscaling"] = fit_to_dict(fits.subscaling)
    if fits.comparison is not None:
        out["held_out"] = comparison_to_dict(fits.comparison)
    if fits.isoflop is not None:
        out["isoflop"] = fits.isoflop.to_dict()
    if fits.envelope is not None:
        out["envelope"] = fits.envelope.to_dict()
    for param, hyper in fits.hyper.items():
        out[param] = (hyper.law.to_dict() if hyper.law is not None else
                      {"param": param, "by": hyper.by, "power_law": None,
                       "step_law": hyper.step_law.to_dict() if hyper.step_law else None,
                       "step_law_skipped": hyper.step_law_skipped, "groups": [g.to_dict() for g in hyper.groups]})
    if fits.crossover is not None:
        out["crossover"] = crossovers_to_dict(fits.crossover)
    out["findings"] = [f.to_dict() for f in fits.findings]
    out["skipped"] = dict(fits.skipped)
    return out


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
