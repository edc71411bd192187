"""`sweep report`: every fit of sweep/fit/ that a runs table supports, written as one self-contained
folder: report.md (numbers as Markdown tables, figures linked relatively), the figures (PNG),
runs.csv (each run with each fitted law's prediction and log residual) and fits.json.

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
- The parametric fits (sections 1, 2, 6) see one point per (recipe, N, T): the lowest loss of
  the runs that share them, as Hoffmann et al. and DeepSeek fit tuned runs; a learning-rate grid
  would otherwise pull the law up by its worse runs. Approaches 1, 2 and the hyperparameter
  laws read every run (they pick the best per size / value themselves).
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
from typing import Any, Callable, Sequence

import numpy as np

from sweep.errors import ConfigError, DamagedFile
from sweep.fit.crossover import RecipeCrossovers, crossovers_of_fits
from sweep.fit.defaults import fit_defaults
from sweep.fit.envelope import EnvelopeFit, fit_envelope
from sweep.fit.figures import (PARAM_LABEL, draw_crossover, draw_frontier, draw_isoflop, draw_loss_vs_flops,
                               draw_loss_vs_n, draw_predicted_vs_actual, draw_residuals, draw_ucurves, save)
from sweep.fit.findings import assess_findings, needs_line
from sweep.fit.findings.verdict import Finding
from sweep.fit.fixed import fix_values
from sweep.fit.hyperparams import (MIN_VALUES, HyperparamGroup, HyperparamLaw, StepLaw,
                                   find_optima, fit_laws, fit_step_law, near_optimal_bands)
from sweep.fit.identify import Flag, identifiability_flags
from sweep.fit.isoflop import IsoFlopBudget, IsoFlopFit, fit_isoflop, group_budgets
from sweep.fit.law_bootstrap import BootstrapResult, bootstrap, check_bootstrap_args, check_bootstrap_method
from sweep.fit.law_comparison import LawComparison, compare_laws
from sweep.fit.laws import (bootstrap_to_dict, comparison_to_dict, crossovers_to_dict, fit_to_dict,
                            truth_to_dict)
from sweep.fit.parametric import PROGRESS_DELAY_S, LawFit, fit_chinchilla, fit_subscaling
from sweep.fit.predict import RunPrediction, summarize
from sweep.fit.rounds import STOP_REASONS, read_rounds, rounds_path
from sweep.fit.table import OPTIONAL, Curves, RunsTable, best_points, jsonable, validate
from sweep.progress import progress
from sweep.record import STOPPED_EARLY
from sweep.storage import atomic_write

MAX_HELD_OUT_ROWS = 50  # section 2 lists the held-out points up to this many
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ANALYSES = ("chinchilla", "subscaling", "held_out", "isoflop", "envelope", "lr", "batch_size", "crossover")
FIGURE_OF = {"lr": "lr_ucurves", "batch_size": "batch_ucurves"}


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


# --- the fits --------------------------------------------------------------------------------

@dataclass
class _Hyper:
    """One hyperparameter's groups (by compute budget, or by (N, tokens) cell), the runs whose
    U-curve gave each group's optimum, and, where fittable, its power law of C and Step Law's form."""

    param: str
    by: str
    groups: list[HyperparamGroup]
    group_runs: list[np.ndarray]
    law: HyperparamLaw | None
    step_law: StepLaw | None
    step_law_skipped: str | None = None
    law_error: str | None = None  # why there is no power law


@dataclass
class _Fits:
    table: RunsTable  # every run
    tags_R: np.ndarray | None  # recipe of each run (None: no recipe column)
    recipe: str | None  # the recipe of sections 1-5 when the table has several
    main_R: np.ndarray  # runs of that recipe (all runs without recipes)
    point_R: np.ndarray  # the lowest loss of its (recipe, N, T): what the parametric fits see
    compute: float
    cutoff: float | None
    skipped: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)  # --fix: parameters held in sections 1, 2
    chinchilla: LawFit | None = None
    boot: BootstrapResult | None = None
    subscaling: LawFit | None = None
    comparison: LawComparison | None = None
    isoflop: IsoFlopFit | None = None
    envelope: EnvelopeFit | None = None
    hyper: dict[str, _Hyper] = field(default_factory=dict)
    recipe_fits: dict[str, LawFit] = field(default_factory=dict)
    crossover: RecipeCrossovers | None = None
    findings: list[Finding] = field(default_factory=list)  # the papers' findings whose runs are present
    min_tokens_per_param: float | None = None  # runs below it were left out of every fit
    bar: Any = None  # the report's progress (sweep/progress.py): one step per fit attempted

    @property
    def main(self) -> RunsTable:
        """The runs of sections 1-5 (the stopped ones set aside with them: of that recipe)."""
        return self.table if self.recipe is None else self.table.of_recipe(self.recipe)

    @property
    def points(self) -> RunsTable:
        return self.table.select(self.main_R & self.point_R)

    def attempt(self, analysis: str, make: Callable[[], Any]) -> Any:
        """make(), or None with the ConfigError's message recorded as why `analysis` was skipped."""
        if self.bar is not None:
            self.bar.update(info=analysis)
        try:
            return make()
        except ConfigError as err:
            self.skipped[analysis] = str(err)
            return None
        finally:
            if self.bar is not None:
                self.bar.advance()


def write_report(table: RunsTable, out_dir: str | Path, *, curves: Curves | None = None,
                 bootstrap_resamples: int, seed: int = 0, cutoff: float | None = None,
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
    not accepted."""
    table = validate(table.with_min_tokens_per_param(min_tokens_per_param), 1, "a report")
    check_bootstrap_args(bootstrap_resamples, fit_defaults().level)
    if compute is not None and not (math.isfinite(compute) and compute > 0):
        raise ConfigError(f"compute={compute!r}: accepted is a number of FLOPs > 0")
    if bootstrap_method is not None:
        check_bootstrap_method(bootstrap_method)
    # one step per fit: chinchilla, its bootstrap, subscaling, held_out, isoflop, envelope, lr,
    # batch_size, crossover; shown once the report has taken PROGRESS_DELAY_S
    with progress(9, "sweep report", unit="fits", delay_s=PROGRESS_DELAY_S) as bar:
        fits = _fit_all(table, curves, bootstrap_resamples, seed, cutoff, compute, recipe, fix, bootstrap_method,
                        bar)
        fits.findings = assess_findings(table, resamples=bootstrap_resamples, seed=seed)
        bar.update(done=bar.total, info="writing the report")
    fits.min_tokens_per_param = min_tokens_per_param
    ran = [a for a in ANALYSES if a not in fits.skipped]
    if not ran and not fits.findings:  # a finding alone (l2_vs_decay's 2 sizes x 4 recipes) is a report
        reasons = "; ".join(f"{a}: {fits.skipped[a]}" for a in ANALYSES[1:])
        raise ConfigError(f"no analysis can run on the runs table{_of(table.source)}: "
                          f"{fits.skipped['chinchilla']} (and {reasons})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Path] = {}
    sections = [_section_findings(fits.findings, bootstrap_resamples, seed, out_dir, figures),
                _section_chinchilla(fits, out_dir, figures), _section_subscaling(fits),
                _section_isoflop(fits, out_dir, figures), _section_envelope(fits, curves, out_dir, figures),
                _section_hyperparameters(fits, out_dir, figures), _section_crossover(fits, out_dir, figures)]
    if predictions is not None:
        sections.append(_section_prediction(predictions, prediction_fraction, out_dir, figures))
    active = _section_active_rounds(table.source)
    if active is not None:
        sections.append(active)
    markdown = out_dir / "report.md"
    atomic_write(markdown, "\n\n".join([_header(fits, bootstrap_resamples, seed), *sections]) + "\n")
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
    return ReportResult(out_dir, markdown, figures, fits_dict, dict(fits.skipped), csv_path, json_path, rows)


def _fit_all(table: RunsTable, curves: Curves | None, n_resamples: int, seed: int, cutoff: float | None,
             compute: float | None, recipe: str | None, fix: Any = None,
             bootstrap_method: str | None = None, bar: Any = None) -> _Fits:
    tags_R = None if table.recipe is None else np.array([r if r is not None else "" for r in table.recipe])
    main_R = np.ones(len(table), dtype=bool)
    names = sorted(set(tags_R.tolist())) if tags_R is not None else []
    if recipe is not None and recipe not in names:
        raise ConfigError(f"recipe={recipe!r} is not in the runs table{_of(table.source)}; its recipes: "
                          f"{', '.join(repr(n) for n in names) or 'none (no recipe column)'}")
    chosen = None
    if len(names) > 1:  # by default the first labelled recipe
        chosen = recipe if recipe is not None else next(n for n in names if n)
        main_R = tags_R == chosen
    point_R = best_points(table, tags_R)
    main_flops = table.flops_R[main_R]
    fits = _Fits(table, tags_R, chosen, main_R, point_R,
                 compute=float(main_flops.max()) if compute is None else float(compute), cutoff=cutoff, bar=bar)
    points, main = fits.points, fits.main
    N, tokens, loss = points.n_params_R, points.tokens_R, points.loss_R
    fits.fixed = fix_values(fix, main)  # a bad --fix is the user's mistake: raised, nothing fitted

    fits.chinchilla = fits.attempt("chinchilla", lambda: fit_chinchilla(N, tokens, loss, fix=fits.fixed))
    if fits.chinchilla is not None:
        fits.boot = fits.attempt("chinchilla", lambda: bootstrap(
            fits.chinchilla, n_resamples=n_resamples, seed=seed, compute=fits.compute, method=bootstrap_method))
    elif bar is not None:
        bar.advance()  # no bootstrap without a fit
    fits.subscaling = fits.attempt("subscaling", lambda: fit_subscaling(N, tokens, loss, fix=fits.fixed))
    if fits.cutoff is None and len(points):
        fits.cutoff = float(np.unique(N)[-1])  # hold out the largest size
    fits.comparison = fits.attempt("held_out", lambda: compare_laws(
        N, tokens, loss, cutoff=fits.cutoff, flops=points.flops_R, names=points.names))
    if len(points) < len(main):  # say that the fits saw points, not runs
        for analysis in ("chinchilla", "subscaling", "held_out"):
            if analysis in fits.skipped:
                fits.skipped[analysis] = (f"{len(points)} distinct (N, T) points among {len(main)} runs: "
                                          f"{fits.skipped[analysis]}")
    fits.isoflop = fits.attempt("isoflop", lambda: fit_isoflop(main, n_resamples=n_resamples, seed=seed))
    if curves is None:
        fits.skipped["envelope"] = ("no loss curves were given: Approach 1 reads every run's loss-vs-FLOPs "
                                    "curve (metrics.jsonl), so it needs a sweep folder")
        if bar is not None:
            bar.advance()
    else:
        fits.envelope = fits.attempt("envelope", lambda: fit_envelope(_main_curves(curves, main)))
    for param in ("lr", "batch_size"):
        hyper = fits.attempt(param, lambda: _fit_hyper(main, param))
        if hyper is not None:
            fits.hyper[param] = hyper
            if hyper.law_error is not None:
                fits.skipped[f"{param}_law"] = hyper.law_error
    fits.crossover = fits.attempt("crossover", lambda: _fit_crossover(fits, names, n_resamples, seed))
    return fits


def _main_curves(curves: Curves, main: RunsTable) -> Curves:
    """The curves of the main recipe's runs when the names match (else all of them)."""
    names = set(main.names)
    kept = [c for c in curves.runs if c.name in names]
    if not kept or len(kept) == len(curves.runs):
        return curves
    return Curves(kept, curves.loss_key, curves.excluded, curves.source)


def _fit_hyper(main: RunsTable, param: str) -> _Hyper:
    """The groups (per budget, or per cell where a budget holds several cells), the power law and
    Step Law's form where fittable; ConfigError when no group has at least MIN_VALUES distinct
    values of `param`."""
    optima = find_optima(main, param)  # ConfigError when the table has no such column
    if any(g.n_cells > 1 for g in optima.groups):
        optima = find_optima(main, param, by="cell")
    if all(g.status == "skipped" for g in optima.cells):
        most = max(g.n_values for g in optima.cells)
        raise ConfigError(f"no (N, tokens) cell has {MIN_VALUES} distinct {param} values (at most {most} in each of "
                          f"{len(optima.cells)} cell(s)): a {param} law needs a {param} grid per cell")
    law, law_error = None, None
    try:
        law = fit_laws(optima)
    except ConfigError as err:
        law_error = str(err)
    if law is not None:
        step_law, step_law_skipped = law.step_law, law.step_law_skipped
    else:
        step_law, step_law_skipped = None, None
        try:
            step_law = fit_step_law(param, [g for g in optima.cells if g.status == "vertex"], len(optima.cells))
        except ConfigError as err:
            step_law_skipped = str(err)
    return _Hyper(param, optima.by, optima.groups, optima.group_runs, law, step_law, step_law_skipped, law_error)


def _fit_crossover(fits: _Fits, names: list[str], n_resamples: int, seed: int) -> RecipeCrossovers:
    if fits.tags_R is None:
        raise ConfigError("the runs table has no recipe column: a crossover compares two or more recipes (train them "
                          "with recipe=NAME, or give a table with a recipe column)")
    if "" in names:
        raise ConfigError(f"{int((fits.tags_R == '').sum())} runs have no recipe label")
    if len(names) < 2:
        raise ConfigError(f"a crossover compares 2 or more recipes; the runs are tagged with {len(names)}: "
                          f"{', '.join(repr(n) for n in names)}")
    for name in names:
        if name == fits.recipe and fits.chinchilla is not None:
            fits.recipe_fits[name] = fits.chinchilla
            continue
        points = fits.table.select((fits.tags_R == name) & fits.point_R)
        try:
            fits.recipe_fits[name] = fit_chinchilla(points.n_params_R, points.tokens_R, points.loss_R)
        except ConfigError as err:
            raise ConfigError(f"recipe {name!r}: {err}") from None
    return crossovers_of_fits({name: fits.recipe_fits[name] for name in names}, n_resamples=n_resamples,
                              seed=seed)


# --- the sections ------------------------------------------------------------------------------

def _header(fits: _Fits, n_resamples: int, seed: int) -> str:
    table = fits.table
    excluded = (", ".join(f"{n} {status}" for status, n in sorted(table.excluded.items()))
                if table.excluded else "none")
    lines = ["# Scaling-law report", "",
             f"- Source: `{table.source or 'a runs table'}`",
             f"- Runs used: {len(table)} complete runs; excluded: {excluded}"]
    if STOPPED_EARLY in table.excluded:
        predicted = len(table.stopped) if table.stopped is not None else 0
        lines.append(f"- Runs stopped early ({table.excluded[STOPPED_EARLY]}): in no fit but the learning-rate and "
                     f"batch-size laws (section 5), where the {predicted} with a predicted final loss stand with it, "
                     "marked as predicted")
    if fits.min_tokens_per_param is not None:
        lines.append(f"- Filter: runs with tokens / N < {fits.min_tokens_per_param:g} left out of every fit")
    if fits.tags_R is not None:
        counts = {n: int((fits.tags_R == n).sum()) for n in sorted(set(fits.tags_R.tolist()))}
        lines.append("- Recipes: " + ", ".join(f"{n!r} ({k} runs)" for n, k in counts.items()))
        if fits.recipe is not None:
            lines.append(f"- Sections 1-5 fit the {int(fits.main_R.sum())} runs of recipe {fits.recipe!r} "
                         "(one law over two recipes would describe neither); section 6 fits each recipe")
    n_main, n_points = int(fits.main_R.sum()), int((fits.main_R & fits.point_R).sum())
    if n_points < n_main:
        lines.append(f"- The parametric fits (sections 1, 2, 6) see one point per (N, T): the lowest loss of the "
                     f"runs sharing them (a hyperparameter grid, seeds): {n_points} points from {n_main} runs")
    if fits.boot is not None:
        what = ("the fit's log residuals, the points kept where the grid put them" if fits.boot.method == "residual"
                else "the points")
        lines.append(f"- Bootstrap (section 1): {n_resamples} resamples of {what}, seed {seed}, "
                     f"{fits.boot.level:.0%} percentile intervals; each resample keeps the best of "
                     f"{fits.boot.n_starts_per_resample} starts (the full-data optimum, the grid's other optima and a "
                     "small grid scaled to the runs)")
    if fits.fixed:
        held = ", ".join(f"{k} = {v:.6g}" for k, v in fits.fixed.items())
        lines.append(f"- Held (--fix, sections 1 and 2): {held}; the other parameters are the best fit given it")
    lines.append("- Files: `runs.csv` (every run with each law's prediction and log residual), `fits.json` "
                 "(every fit's numbers)")
    ran = [a for a in ANALYSES if a not in fits.skipped]
    lines.append(f"- Analyses run: {', '.join(ran)}; skipped: "
                 f"{', '.join(a for a in ANALYSES if a in fits.skipped) or 'none'}")
    return "\n".join(lines)


def _section_findings(findings: Sequence[Finding], n_resamples: int, seed: int, out_dir: Path,
                      figures: dict[str, Path]) -> str:
    """Per finding present: its verdict, claim, the sentence that decided it, its rule, its numbers
    and its figure (finding_NAME.png); none present: the runs each one needs."""
    title = "## Findings"
    if not findings:
        return f"{title}\n\n{needs_line()[0].upper()}{needs_line()[1:]}"
    parts = [title, "",
             "Each finding of the papers whose runs are present, checked on every run (runs stopped early stand "
             "with their predicted loss): held, did not hold, or cannot tell from these runs. Uncertainties: each "
             f"run's eval standard error, and intervals from {n_resamples} redraws (seed {seed})."]
    for f in findings:
        parts += ["", f"### {f.name}: {f.verdict}", "", f"Claim: {f.claim}", "",
                  f"**{f.verdict[0].upper()}{f.verdict[1:]}: {f.because.rstrip('.')}.**", "", f"Rule: {f.rule}"]
        if f.rows:
            parts += ["", _md_table(f.header, f.rows)]
        if f.draw is not None:
            parts += ["", _figure(figures, out_dir, f"finding_{f.name}", f"{f.name}: {f.verdict}", f.draw)]
    return "\n".join(parts)


def _section_chinchilla(fits: _Fits, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 1. Chinchilla Approach 3: loss(N, T) = E + A / N^alpha + B / T^beta"
    if fits.chinchilla is None or fits.boot is None:
        return _skipped(title, fits.skipped["chinchilla"])
    fit, boot, C = fits.chinchilla, fits.boot, fits.compute
    law = fit.law
    point = {**fit.params(), "a": law.a, "b": law.b, "G": law.G, "n_opt": float(law.n_opt(C)),
             "d_opt": float(law.d_opt(C)), "tokens_per_param": float(law.tokens_per_param(C))}
    meaning = {"E": "irreducible loss (nats/token)", "A": "size term coefficient", "B": "data term coefficient",
               "alpha": "size exponent", "beta": "data exponent", "a": "N_opt grows as C^a",
               "b": "T_opt grows as C^b", "G": "allocation constant", "n_opt": f"N_opt at C = {C:.3g}",
               "d_opt": f"T_opt at C = {C:.3g} (tokens)", "tokens_per_param": f"T_opt / N_opt at C = {C:.3g}"}
    rows = [(name, _g(point[name]), _interval(boot.intervals.get(name)), meaning[name]) for name in point]
    status = "converged" if fit.converged else "**NOT converged**"
    lines = [title, "",
             f"Fitted on {fit.n_runs} points by minimising the summed Huber loss (delta 1e-3) of log-loss residuals "
             f"with L-BFGS from {fit.n_starts:,} starts, keeping the best.", "",
             _md_table(("parameter", "estimate", f"{boot.level:.0%} interval", "meaning"), rows), "",
             _md_table(("convergence", "value"), [
                 ("status", f"{status} ({fit.reason}) after {fit.n_iter} iterations"),
                 ("starts converged", f"{fit.n_converged_starts:,} of {fit.n_starts:,}"),
                 ("objective (summed Huber)", _g(fit.objective)),
                 ("bootstrap resamples converged", f"{boot.converged_fraction:.0%} of {boot.n_resamples}")]), "",
             f"Compute-optimal allocation at C = {C:.3g} FLOPs: N_opt = {_g(point['n_opt'])} parameters, "
             f"T_opt = {_g(point['d_opt'])} tokens, {point['tokens_per_param']:.1f} tokens per parameter."]
    truth = truth_to_dict(fits.main, boot)
    if truth:
        lo, hi = boot.intervals["E"]
        lines += ["", f"True entropy of the synthetic corpus: {truth['true_entropy_nats']:.4g} nats/token, beside the "
                      f"fitted E = {_g(law.E)} [{_g(lo)}, {_g(hi)}]: "
                      + ("inside E's interval." if truth["E_interval_contains_truth"] else "**outside E's interval**.")]
    lines += ["", _cannot_pin_down(identifiability_flags(fit, boot, C), fit.fixed)]
    points = fits.points
    lines += ["", _figure(figures, out_dir, "loss_vs_n", "Final loss against N with the fitted law",
                          lambda: draw_loss_vs_n(points, law)),
              _figure(figures, out_dir, "loss_vs_flops", "Final loss against compute with the fitted frontier loss*(C)",
                      lambda: draw_loss_vs_flops(points, law, C)),
              _figure(figures, out_dir, "residuals", "Log residual of each point against N",
                      lambda: draw_residuals(points, _laws(fits)))]
    return "\n".join(lines)


def _section_subscaling(fits: _Fits) -> str:
    title = "## 2. Sub-scaling law and held-out comparison"
    lines = [title, "",
             "loss(N, T) = A R_D / T^alpha + B R_N / N^beta + E, R_x = 1 + 1 / (1 + exp(-k_x T / N)) "
             "(Chen et al. 2025; A, alpha go with the tokens T, their D)."]
    if fits.subscaling is None:
        lines += ["", f"Sub-scaling fit skipped: {fits.skipped['subscaling']}"]
    else:
        fit = fits.subscaling
        lines += ["", _md_table(("parameter", "estimate"), [(k, _g(v)) for k, v in fit.params().items()]), "",
                  f"Fitted on {fit.n_runs} points from {fit.n_starts:,} starts: "
                  f"{'converged' if fit.converged else '**NOT converged**'} ({fit.reason}) after {fit.n_iter} "
                  f"iterations, {fit.n_converged_starts:,} starts converged, objective {_g(fit.objective)}.", "",
                  _cannot_pin_down(identifiability_flags(fit), fit.fixed)]
    if fits.comparison is None:
        lines += ["", f"Held-out comparison skipped: {fits.skipped['held_out']}"]
        if fits.subscaling is None:
            return _skipped(title, f"sub-scaling fit: {fits.skipped['subscaling']}; held-out comparison: "
                                   f"{fits.skipped['held_out']}")
        return "\n".join(lines)
    cmp = fits.comparison
    lines += ["", f"Held-out comparison: both laws fitted on the {cmp.n_train} points with {cmp.by} < "
                  f"{cmp.cutoff:.4g}, judged on the {cmp.n_held_out} at or above it.", "",
              _md_table(("law", "mean abs rel error", "max abs rel error", "RMS log error"),
                        [(name, _pct(e.mean_abs_rel), _pct(e.max_abs_rel), _g(e.rms_log))
                         for name, e in cmp.errors.items()]), "",
              f"Lower held-out error: **{cmp.best}**."]
    held_out = cmp.per_run()
    shown = (f"the first {MAX_HELD_OUT_ROWS} of the {len(held_out)} held-out points"
             if len(held_out) > MAX_HELD_OUT_ROWS else "each held-out point")
    rows = [(run["name"], _g(run["n_params"]), _g(run["tokens"]), _g(run["flops"]), _g(run["loss"]),
             *(f"{_g(run[f'pred_{name}'])} ({run[f'rel_error_{name}']:+.2%})" for name in cmp.fits))
            for run in held_out[:MAX_HELD_OUT_ROWS]]
    lines += ["", f"Predictions of {shown} (relative error pred / loss - 1; every run's in fits.json "
                  "`held_out.per_run`):", "",
              _md_table(("run", "N", "T", "C (FLOPs)", "loss", *(f"pred {name} (rel error)" for name in cmp.fits)),
                        rows)]
    return "\n".join(lines)


def _cannot_pin_down(flags: list[Flag], fixed: dict[str, float]) -> str:
    """The identifiability flags as a short Markdown list (sweep/fit/identify.py)."""
    held = f" ({', '.join(f'{k} held at {v:.6g}' for k, v in fixed.items())})" if fixed else ""
    if not flags:
        return f"What the data cannot pin down{held}: nothing flagged."
    return "\n".join([f"What the data cannot pin down{held}:", ""] +
                     [f"- **{f.parameter}**: {f.problem}. Remedy: {f.remedy}." for f in flags])


def _section_isoflop(fits: _Fits, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 3. Approach 2: IsoFLOP profiles"
    if fits.isoflop is None:
        return _skipped(title, fits.skipped["isoflop"])
    iso = fits.isoflop
    rows = [(f"{b.flops:.3g}", b.n_runs, b.n_sizes, _window_cell(b), _g(b.n_opt), _g(b.d_opt), _g(b.loss_opt),
             b.excluded or "used") for b in iso.budgets]
    chin = fits.chinchilla
    compare = (f" (Approach 3: a = {chin.law.a:.4g}, b = {chin.law.b:.4g})" if chin is not None else "")
    boot = iso.bootstrap
    intervals = ("" if boot is None else
                 f" {boot.level:.0%} intervals ({boot.n_resamples} resamples; a residual bootstrap of the parabolas, "
                 f"the sizes fixed, the windows chosen again): a in {_interval(boot.intervals['a'])}, b in {_interval(boot.intervals['b'])}; "
                 f"at C = {boot.compute:.3g}, N_opt in {_interval(boot.intervals['n_opt'])}, "
                 f"T_opt in {_interval(boot.intervals['d_opt'])}."
                 + (f" {1 - boot.valid_fraction:.0%} of resamples had a parabola opening downward (no value)."
                    if boot.valid_fraction < 1 else "")
                 + (f" {boot.budgets_without_residuals} budget(s) fitted to exactly 3 sizes add no spread."
                    if boot.budgets_without_residuals else ""))
    lines = [title, "",
             f"Per compute budget, a parabola of final loss in ln N through its best size and {iso.neighbours} "
             f"sizes on each side ({2 * iso.neighbours + 1}; a budget of fewer is fitted whole; conf/fit.yaml "
             "isoflop_neighbours); its minimum is N_opt(C), T_opt = C / (6 N_opt).",
             "", _md_table(("C (FLOPs)", "runs", "sizes", "sizes fitted (N range)", "N_opt", "T_opt",
                            "loss at minimum", "status"), rows), "",
             f"N_opt = {iso.n_opt.coefficient:.4g} C^a with a = {iso.a:.4g} +- {_g(iso.n_opt.exponent_stderr)}; "
             f"T_opt = {iso.d_opt.coefficient:.4g} C^b with b = {iso.b:.4g} +- {_g(iso.d_opt.exponent_stderr)} "
             f"over {len(iso.used)} budgets{compare}.{intervals}", "",
             _figure(figures, out_dir, "isoflop", "IsoFLOP parabolas and N_opt(C)",
                     lambda: draw_isoflop(fits.main, iso, chin))]
    return "\n".join(lines)


def _window_cell(budget: IsoFlopBudget) -> str:
    if budget.n_sizes_fitted is None:
        return "-"
    return f"{budget.n_sizes_fitted} ({_g(budget.window_n_min)} .. {_g(budget.window_n_max)})"


def _section_envelope(fits: _Fits, curves: Curves | None, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 4. Approach 1: lower envelope of the loss curves"
    if fits.envelope is None:
        return _skipped(title, fits.skipped["envelope"])
    env = fits.envelope
    used = [p for p in env.points if not p.at_edge]
    chin = fits.chinchilla
    compare = (f" (Approach 3: a = {chin.law.a:.4g}, b = {chin.law.b:.4g})" if chin is not None else "")
    lines = [title, "",
             f"The lowest {env.loss_key} over {env.curves} runs at each of {len(env.points)} log-spaced C; "
             f"{len(used)} points are won by a size other than the smallest or largest and enter the power laws.",
             "",
             f"N_opt = {env.n_opt.coefficient:.4g} C^a with a = {env.a:.4g} +- {_g(env.n_opt.exponent_stderr)}; "
             f"T_opt = {env.d_opt.coefficient:.4g} C^b with b = {env.b:.4g} +- {_g(env.d_opt.exponent_stderr)}"
             f"{compare}. (Standard errors are optimistic: the grid points are not independent.)", "",
             _figure(figures, out_dir, "frontier", "Loss curves and their lower envelope",
                     lambda: draw_frontier(_main_curves(curves, fits.main), env))]
    return "\n".join(lines)


def _section_hyperparameters(fits: _Fits, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 5. Hyperparameters: optimal learning rate and batch size"
    parts = [title]
    for param in ("lr", "batch_size"):
        label = PARAM_LABEL[param]
        sub = f"### {label[0].upper()}{label[1:]}"
        if param not in fits.hyper:
            parts.append(f"{sub}\n\nSkipped: {fits.skipped[param]}")
            continue
        hyper = fits.hyper[param]
        rows = [(f"{g.key:.3g}", _g(g.n_params), _g(g.tokens), g.n_runs, g.n_values, _predicted_points(g),
                 g.best_run + (" (predicted)" if g.best_predicted else ""), _g(g.best_loss), _g(g.opt_value),
                 g.status, g.note or "")
                for g in sorted(hyper.groups, key=lambda g: (round(math.log(g.key), 1), g.n_params or 0))]
        if hyper.by == "cell":
            what = (f"Per (N, tokens) cell (some compute budget holds several cells, whose optima are not merged), a "
                    f"parabola of the best loss at each {label} in ln({param}); its vertex is the optimum (only "
                    "'vertex' cells enter the laws).")
        else:
            what = (f"Per compute budget, a parabola of the best loss at each {label} in ln({param}); its vertex is "
                    "the optimum (only 'vertex' budgets enter the laws).")
        predicted = sum(g.n_predicted for g in hyper.groups)
        if predicted:
            what += (f" {predicted} points are runs stopped early, standing with their predicted final loss "
                     "(`predicted`; hollow markers, bars: the prediction's interval); a best run marked (predicted) "
                     "is one such.")
        lines = [sub, "", what, "",
                 _md_table(("C (FLOPs)", "N", "tokens", "runs", "values", "predicted", "best run", "best loss",
                            f"{param}_opt", "status", "note"), rows), ""]
        law_rows = _law_rows(hyper)
        if law_rows:
            lines += [_md_table(("law", "form", "c", "exponents", "stderr", "points", "rms ln residual"), law_rows),
                      "", "The rms ln residual is the scatter of the optima about each law: a law in C alone "
                          "scatters where optima at one C differ with (N, D).", ""]
        if hyper.law is None:
            lines.append(f"Power law not fitted: {fits.skipped[f'{param}_law']}")
        if hyper.step_law is None:
            lines.append(f"Step Law not fitted: {hyper.step_law_skipped}")
        grouped = "(N, tokens) cell" if hyper.by == "cell" else "compute budget"
        lines += ["", _figure(figures, out_dir, FIGURE_OF[param], f"Loss against {label} per {grouped}",
                              lambda h=hyper: draw_ucurves(fits.main, h, h.law, h.step_law))]
        parts.append("\n".join(lines))
    if fits.hyper:
        parts.append(_near_optimal_band(fits))
    return "\n\n".join(parts)


def _predicted_points(group: HyperparamGroup) -> str:
    """How many of a U-curve's points are predicted losses: "0", or "2 of 5"."""
    return f"{group.n_predicted} of {group.n_values}" if group.n_predicted else "0"


def _law_rows(hyper: _Hyper) -> list[tuple[Any, ...]]:
    """The table of section 5's laws: DeepSeek's power law in C, Step Law's form in N and D,
    Kaplan's batch size against the loss; each where fitted."""
    rows = []
    if hyper.law is not None:
        law = hyper.law.law
        rows.append(("DeepSeek (2024), in C", f"{hyper.param}_opt = c C^e", _g(law.coefficient),
                     f"e = {law.exponent:.4g}", f"e +- {_g(law.exponent_stderr)}", law.n_points,
                     _g(law.rms_log_residual)))
    step = hyper.step_law
    if step is not None:
        names = [("a" if v == "n_params" else "b") for v in step.variables]
        variables = ", ".join("N" if k == "a" else "D" for k in names)
        rows.append((f"Step Law (Li et al. 2025), in {variables}", step.form, _g(step.coefficient),
                     ", ".join(f"{k} = {e:.4g}" for k, e in zip(names, step.exponents)),
                     ", ".join(f"{k} +- {_g(se)}" for k, se in zip(names, step.exponent_stderrs)), step.n_points,
                     _g(step.rms_log_residual)))
    if hyper.law is not None and hyper.law.loss_law is not None:
        loss_law = hyper.law.loss_law
        rows.append(("Kaplan (2020), in the loss", "B_opt = B* / loss^(1/alpha_B)", _g(hyper.law.B_star),
                     f"alpha_B = {hyper.law.alpha_B:.4g}",
                     f"alpha_B +- {_g(loss_law.exponent_stderr / loss_law.exponent**2)}", loss_law.n_points,
                     _g(loss_law.rms_log_residual)))
    return rows


def _near_optimal_band(fits: _Fits) -> str:
    main = fits.main.with_stopped()
    key_G, group_R = group_budgets(main.flops_R)
    band = fit_defaults().band
    bands = near_optimal_bands(main, key_G, group_R, band)
    rows = [(f"{key:.3g}", f"{len(b.runs)} of {int((group_R == g).sum())}", _g(b.loss_max), _span(b.lr_range),
             _span(b.batch_size_range)) for g, (key, b) in enumerate(zip(key_G, bands))]
    return "\n".join([f"### Near-optimal band (within {band:.2%} of the best loss of each budget)", "",
                      _md_table(("C (FLOPs)", "runs in band", "loss <=", "lr range", "batch size range"), rows)])


def _section_crossover(fits: _Fits, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 6. Crossover of the recipes"
    if fits.crossover is None:
        return _skipped(title, fits.skipped["crossover"])
    result = fits.crossover
    rows = [(name, f.n_runs, *(_g(v) for v in f.params().values()), _g(f.law.a), _g(f.law.b),
             "yes" if f.converged else "**no**") for name, f in result.fits.items()]
    lines = [title, "",
             "A Chinchilla law per recipe, compared along each one's compute-optimal frontier "
             "loss*(C) = loss(N_opt(C), T_opt(C)); every pair of recipes, each recipe's bootstrap "
             f"({result.n_resamples} resamples) shared by its pairs.", "",
             _md_table(("recipe", "points", "E", "A", "B", "alpha", "beta", "a", "b", "converged"), rows), "",
             "Lowest compute-optimal loss:", "",
             _md_table(("C from (FLOPs)", "C to (FLOPs)", "lowest loss*"),
                       [(f"{s.compute_from:.4g}", f"{s.compute_to:.4g}", s.recipe) for s in result.lowest]), ""]
    for pair in result.pairs:
        x, y = pair.recipes
        lines += [f"### {x} / {y}", "", f"**{pair.summary()}**."]
        if pair.crossings:
            lines += ["", _md_table(("C (FLOPs)", "loss", f"N_opt {x}", f"N_opt {y}", "better below"),
                                    [(f"{c.compute:.4g}", _g(c.loss), _g(c.n_opt[x]), _g(c.n_opt[y]),
                                      c.better_below) for c in pair.crossings])]
        lines.append("")
    lines.append(_figure(figures, out_dir, "crossover", "Compute-optimal loss per recipe",
                         lambda: draw_crossover(fits.table.select(fits.point_R), result)))
    return "\n".join(lines)


def _section_prediction(predictions: Sequence[RunPrediction], fraction: float | None, out_dir: Path,
                        figures: dict[str, Path]) -> str:
    title = "## 7. Final loss predicted from the first part of each curve"
    cut = f"{fraction:.0%} of its steps" if fraction is not None else "what it has logged"
    summary = summarize(list(predictions))
    lines = [title, "",
             f"Each run's final eval loss predicted by the curve law of Tissue et al. 2024 (L = L0 + A S1^-alpha - "
             f"C S2, S1 and S2 the forward and annealing areas of the run's own learning-rate schedule) fitted to its "
             f"train loss up to {cut} (`sweep predict`). {summary['predicted']} of {summary['runs']} runs predicted."]
    if summary["finished_predicted"]:
        level = next(p.prediction.level for p in predictions if p.prediction is not None)
        lines += ["", _md_table(("finished runs predicted", "median absolute relative error", "worst absolute relative error",
                                 f"{level:.0%} intervals holding the actual loss"),
                                [(summary["finished_predicted"], _pct(summary["median_abs_relative_error"]),
                                  _pct(summary["max_abs_relative_error"]), _pct(summary["coverage"]))]),
                  "", _figure(figures, out_dir, "predicted_vs_actual", "Predicted against actual final loss",
                              lambda: draw_predicted_vs_actual(predictions))]
    skipped = [p for p in predictions if p.skipped is not None]
    if skipped:
        lines += ["", "Not predicted:", ""] + [f"- `{p.run}`: {p.skipped}" for p in skipped]
    return "\n".join(lines)


def _section_active_rounds(source: str) -> str | None:
    """Section 8 when the source is a sweep folder whose loop recorded rounds (sweep/fit/rounds.py)."""
    if not source or not Path(source).is_dir() or not rounds_path(source).exists():
        return None
    title = "## 8. Active rounds"
    try:
        record = read_rounds(source)
    except DamagedFile as err:
        return _skipped(title, str(err))
    if not record.rounds:
        return None
    first = record.rounds[0].proposed["suggestion"]
    rows = []
    for r in record.rounds:
        status = {o["run"]: o["status"] for o in (r.ended or {}).get("outcomes") or []}
        runs = ", ".join(f"`{name}` ({status.get(name, 'training')})" for name in r.runs) or "none"
        rows.append((r.number, runs, _g(r.flops), *(f"{_triple(r.before(t))} -> {_triple(r.after(t))}"
                                                   for t in ("loss", "n_opt"))))
    level = first.get("level")
    lines = [title, "",
             f"`sweep suggest --rounds`: each round proposed the runs that most narrow the "
             f"{_pct(level) if level else ''} bootstrap intervals of L*(C) and N_opt(C) at C = "
             f"{_g(first.get('target_compute'))} FLOPs ({first.get('law')} law; {first.get('criterion')}), trained "
             "them with the sweep's own launcher and refitted. Before -> after: the value [interval] of the fit "
             "the round chose from and of the refit once its runs ended (\"training\": not ended).", "",
             _md_table(("round", "runs proposed (outcome)", "FLOPs", "L*(C) before -> after",
                        "N_opt(C) before -> after"), rows), ""]
    if record.stopped is not None:
        reason = record.stopped.get("reason")
        lines.append(f"The loop stopped after {record.stopped.get('round')} round(s): "
                     f"{STOP_REASONS.get(reason, reason)} ({record.stopped.get('detail')}).")
    else:
        lines.append(f"The loop has not stopped: round {record.rounds[-1].number} is training or was interrupted "
                     "(the same `sweep suggest --rounds` command resumes it).")
    return "\n".join(lines)


def _triple(entry: tuple[float, float, float] | None) -> str:
    """value [lo, hi] of a (value, lo, hi); n/a where none."""
    return "n/a" if entry is None else f"{_g(entry[0])} {_interval(entry[1:])}"


def _skipped(title: str, reason: str) -> str:
    return f"{title}\n\nSkipped: {reason}"


def _figure(figures: dict[str, Path], out_dir: Path, name: str, caption: str, draw: Callable[[], Any]) -> str:
    """Draw a figure (sweep/fit/figures.py), save it as out_dir/NAME.png and link it."""
    path = out_dir / f"{name}.png"
    save(draw(), path)
    figures[name] = path
    return f"![{caption}]({path.name})"


def _laws(fits: _Fits) -> dict[str, LawFit]:
    """The parametric fits made, by name: the residuals figure's laws."""
    made = {"chinchilla": fits.chinchilla, "subscaling": fits.subscaling}
    return {name: fit for name, fit in made.items() if fit is not None}


# --- runs.csv and fits.json ---------------------------------------------------------------------

def _rows(fits: _Fits) -> list[dict[str, Any]]:
    """Every run: its numbers, the optional columns present, and each law's prediction (a run of
    another recipe: its own recipe's Chinchilla law, from section 6)."""
    table = fits.table
    optional = [c for c in OPTIONAL if c != "flops" and
                (table.recipe if c == "recipe" else getattr(table, f"{c}_R")) is not None]
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
            row[column] = table.recipe[i] if column == "recipe" else _num(getattr(table, f"{column}_R")[i])
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


def _fits_dict(fits: _Fits) -> dict[str, Any]:
    out: dict[str, Any] = {**fits.table.summary(), "min_tokens_per_param": fits.min_tokens_per_param,
                           "recipe": fits.recipe,
                           "points": int((fits.main_R & fits.point_R).sum()),
                           "compute": fits.compute, "cutoff": fits.cutoff}
    if fits.chinchilla is not None:
        law, C = fits.chinchilla.law, fits.compute
        out["chinchilla"] = {**fit_to_dict(fits.chinchilla, fits.boot, C), "compute": C, "n_opt": law.n_opt(C),
                             "d_opt": law.d_opt(C), "tokens_per_param": law.tokens_per_param(C),
                             **truth_to_dict(fits.main, fits.boot)}
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


# --- formatting ---------------------------------------------------------------------------------

def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _g(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.4g}"


def _pct(value: float) -> str:
    return f"{100 * value:.3g}%"


def _interval(pair: tuple[float, float] | None) -> str:
    return "" if pair is None else f"[{_g(pair[0])}, {_g(pair[1])}]"


def _span(pair: tuple[float, float] | None) -> str:
    return "n/a" if pair is None else (_g(pair[0]) if pair[0] == pair[1] else f"{_g(pair[0])} .. {_g(pair[1])}")


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _of(source: str) -> str:
    return f" of {source}" if source else ""
