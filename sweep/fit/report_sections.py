"""report.md of `sweep report` (sweep/fit/report.py): its header and sections, numbers as Markdown
tables, figures drawn by sweep/fit/figures.py, saved beside it as PNG and linked relatively, from
the fits of sweep/fit/report_fits.py. A section whose analysis was skipped says why.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; and here G groups
(budgets, ratios, recipes), X distinct values of a swept quantity, S the points of a curve.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

from sweep.errors import DamagedFile
from sweep.fit.defaults import fit_defaults
from sweep.fit.figures import (PARAM_LABEL, draw_crossover, draw_frontier, draw_isoflop, draw_loss_vs_flops,
                               draw_loss_vs_n, draw_predicted_vs_actual, draw_residuals, draw_ucurves, save)
from sweep.fit.findings import needs_line
from sweep.fit.findings.verdict import Finding
from sweep.fit.hyperparams import HyperparamGroup, near_optimal_bands, ucurve_table, upper_bound_cells, upper_bound_text
from sweep.fit.identify import Flag, identifiability_flags, one_per_parameter
from sweep.fit.isoflop import MIN_USED_BUDGETS, IsoFlopBudget, IsoFlopFit, group_budgets
from sweep.fit.laws import truth_to_dict
from sweep.fit.points import loss_rises, loss_rises_text
from sweep.fit.predict import RunPrediction, summarize
from sweep.fit.report_fits import ANALYSES, HyperFit, ReportFits
from sweep.fit.rounds import STOP_REASONS, read_rounds, rounds_path
from sweep.fit.curves import Curves
from sweep.fit.table import copied_losses_text, flops_spread_text, repeated_data_text
from sweep.record import STOPPED_EARLY

MAX_HELD_OUT_ROWS = 50  # section 2 lists the held-out points up to this many
FIGURE_OF = {"lr": "lr_ucurves", "batch_size": "batch_ucurves"}


def report_markdown(fits: ReportFits, *, curves: Curves | None, predictions: Sequence[RunPrediction] | None,
                    prediction_fraction: float | None, n_resamples: int, seed: int, out_dir: Path,
                    figures: dict[str, Path]) -> str:
    """report.md's text: the header, the findings, sections 1-6, section 7 where `predictions` are
    given and section 8 where the source holds active rounds; each figure drawn is saved in
    `out_dir` and recorded in `figures` (name -> PNG)."""
    sections = [_section_findings(fits.findings, n_resamples, seed, out_dir, figures),
                _section_chinchilla(fits, out_dir, figures), _section_subscaling(fits),
                _section_isoflop(fits, out_dir, figures), _section_envelope(fits, curves, out_dir, figures),
                _section_hyperparameters(fits, out_dir, figures), _section_crossover(fits, out_dir, figures)]
    if predictions is not None:
        sections.append(_section_prediction(predictions, prediction_fraction, out_dir, figures))
    active = _section_active_rounds(fits.table.source)
    if active is not None:
        sections.append(active)
    return "\n\n".join([_header(fits, n_resamples, seed), *sections]) + "\n"


# --- the sections ------------------------------------------------------------------------------

def _header(fits: ReportFits, n_resamples: int, seed: int) -> str:
    table = fits.table
    excluded = (", ".join(f"{n} {status}" for status, n in sorted(table.excluded.items()))
                if table.excluded else "none")
    lines = ["# Scaling-law report", "",
             f"- Source: `{table.source or 'a runs table'}`",
             f"- Runs used: {len(table)} complete runs; excluded: {excluded}"]
    if table.columns_read:
        lines.append("- Columns read: " + ", ".join(f"{name} from {read}" for name, read in table.columns_read.items()))
    if table.repeated_data() is not None:
        lines.append(f"- **Repeated data**: {repeated_data_text(table.repeated_data())}")
    if table.copied_losses() is not None:
        lines.append(f"- **Copied losses**: {copied_losses_text(table.copied_losses())}")
    if table.flops_spread() is not None:
        lines.append(f"- **FLOPs**: {flops_spread_text(table.flops_spread())}")
    rising = loss_rises(table)
    if rising is not None:
        lines.append(f"- **Loss rising with tokens**: {loss_rises_text(rising)}")
    untuned = _untuned_points(fits)
    if untuned is not None:
        lines.append(f"- **Untuned points** (sections 1, 2): {upper_bound_text(untuned)}")
    if STOPPED_EARLY in table.excluded:
        predicted = len(table.stopped) if table.stopped is not None else 0
        lines.append(f"- Runs stopped early ({table.excluded[STOPPED_EARLY]}): in no fit but the learning-rate and "
                     f"batch-size laws (section 5), where the {predicted} with a predicted final loss stand with it, "
                     "marked as predicted")
    if fits.min_tokens_per_param is not None:
        lines.append(f"- Filter: runs with tokens / N < {fits.min_tokens_per_param:g} left out of every fit")
    if fits.tags_R is not None:
        counts = {n: int((fits.tags_R == n).sum()) for n in sorted(set(fits.tags_R.tolist()))}
        column = table.columns_read.get("recipe")
        lines.append(f"- Recipes{f' (column {column!r})' if column else ''}: "
                     + ", ".join(f"{n!r} ({k} runs)" for n, k in counts.items()))
        if fits.recipe is not None:
            lines.append(f"- Sections 1-5 fit the {int(fits.main_R.sum())} runs of recipe {fits.recipe!r} "
                         "(one law over several recipes would describe neither); section 6 fits each recipe")
    if fits.density is not None:
        rates = (table if fits.recipe is None else table.of_recipe(fits.recipe)).densities()
        lines.append(f"- Corpora of {len(rates)} densities (duplicate rate: "
                     + ", ".join(f"{rate:.2f} ({k} runs)" for rate, k in rates.items())
                     + f"): sections 1-5 fit the {int(fits.main_R.sum())} runs of duplicate rate {fits.density:.2f}, "
                     "the most (one law over two corpora would describe neither; label each corpus recipe=NAME to "
                     "choose); the Findings compare them")
    n_main, n_points = int(fits.main_R.sum()), len(fits.points)
    n_averaged = int((fits.main_R & fits.point_R).sum())  # the runs of the points' settings, every seed
    if n_points < n_main:
        seeds = (f"; the seeds of a setting averaged into one point, {n_averaged} runs in the {n_points}"
                 if n_averaged > n_points else "")
        lines.append(f"- The parametric fits (sections 1, 2, 6) see one point per (N, T): the best setting of the "
                     f"runs sharing them (the lowest loss of a hyperparameter grid{seeds}): {n_points} points from "
                     f"{n_main} runs")
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


def _section_chinchilla(fits: ReportFits, out_dir: Path, figures: dict[str, Path]) -> str:
    title = "## 1. Chinchilla Approach 3: loss(N, T) = E + A / N^alpha + B / T^beta"
    if fits.chinchilla is None or fits.boot is None:
        return _skipped(title, fits.skipped["chinchilla"])
    fit, boot, C = fits.chinchilla, fits.boot, fits.compute
    law = fit.law
    point = {**fit.params(), "a": law.a, "b": law.b, "G": law.G, "n_opt": float(law.n_opt(C)),
             "d_opt": float(law.d_opt(C)), "tokens_per_param": float(law.tokens_per_param(C))}
    meaning = {"E": f"irreducible loss ({fits.main.loss_unit})", "A": "size term coefficient", "B": "data term coefficient",
               "alpha": "size exponent", "beta": "data exponent", "a": "N_opt grows as C^a",
               "b": "T_opt grows as C^b", "G": "allocation constant", "n_opt": f"N_opt at C = {C:.3g}",
               "d_opt": f"T_opt at C = {C:.3g} (tokens)", "tokens_per_param": f"T_opt / N_opt at C = {C:.3g}"}
    rows = [(name, _g(point[name]), _interval(boot.intervals.get(name)), meaning[name]) for name in point]
    flags = identifiability_flags(fit, boot, C)
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
             _allocation(law, point, C, flags),
             "", _noise(fits)]
    truth = truth_to_dict(fits.main, boot)
    if truth:
        lo, hi = boot.intervals["E"]
        lines += ["", f"True entropy of the synthetic corpus: {truth['true_entropy_nats']:.4g} nats/token, beside the "
                      f"fitted E = {_g(law.E)} [{_g(lo)}, {_g(hi)}]: "
                      + ("inside E's interval." if truth["E_interval_contains_truth"] else "**outside E's interval**.")]
    lines += ["", _cannot_pin_down(flags, fit.fixed)]
    points = fits.points
    lines += ["", _figure(figures, out_dir, "loss_vs_n", "Final loss against N with the fitted law",
                          lambda: draw_loss_vs_n(points, law)),
              _figure(figures, out_dir, "loss_vs_flops", "Final loss against compute with the fitted frontier loss*(C)",
                      lambda: draw_loss_vs_flops(points, law, C)),
              _figure(figures, out_dir, "residuals", "Log residual of each point against N",
                      lambda: draw_residuals(points, fits.laws()))]
    return "\n".join(lines)


def _noise(fits: ReportFits) -> str:
    """How far the points lie from the law, beside how far seeds move a point: what the law can be
    asked to fit within (sweep/fit/points.py `misfit_test`)."""
    rms, spread, test = fits.scatter()
    head = f"Noise: the {len(fits.points)} points scatter about the law by an rms {rms:.2%} (log residual)."
    if spread is None:
        return (f"{head} No setting was trained at several seeds, so how much of that a rerun would move is not "
                "measured here; train a few points again (seed=1,2): their spread is what a law can be asked to fit "
                "within.")
    summary = spread.to_dict()
    seeds = (f"{summary['settings']} settings were trained at {summary['seeds_median']:g} seeds (median): a run's "
             f"loss moves by {spread.pooled:.2%} from seed to seed (sd, pooled over {spread.dof} degrees of freedom; "
             f"the largest setting's {summary['relative_sd_max']:.2%}), a point's, the mean of its seeds, by "
             f"{spread.of_a_point:.2%}.")
    if test is None:
        return f"{head} {seeds} Too few points beyond the law's parameters to test the scatter against it."
    verdict = ("more than the seeds move: the law's misfit, or noise the seeds do not vary" if test.beyond_seeds
               else "within what the seeds move")
    return (f"{head} {seeds} The residuals' variance is {test.f:.3g} times a point's from the seeds (F on "
            f"{test.dof_residual} and {test.dof_seeds} degrees of freedom, {test.p_text}): {verdict}.")


def _section_subscaling(fits: ReportFits) -> str:
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
    lines += ["", f"Held-out comparison: each law ({', '.join(cmp.fits)}; Kaplan et al.'s is ((N_c / N)^(alpha_N / "
                  f"alpha_D) + D_c / T)^alpha_D, no floor) fitted on the {cmp.n_train} points with {cmp.by} < "
                  f"{cmp.cutoff:.4g}, judged on the {cmp.n_held_out} at or above it.", "",
              _md_table(("law", "mean abs rel error", "max abs rel error", "RMS log error"),
                        [(name, _pct(e.mean_abs_rel), _pct(e.max_abs_rel), _g(e.rms_log))
                         for name, e in cmp.errors.items()]), "",
              f"Lower held-out error: **{cmp.verdict()}**."]
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
    """The identifiability flags as a short Markdown list (sweep/fit/identify.py), one entry per
    parameter (`one_per_parameter`: E collapsed to 0 and its interval reaching 0 are one entry)."""
    held = f" ({', '.join(f'{k} held at {v:.6g}' for k, v in fixed.items())})" if fixed else ""
    if not flags:
        return f"What the data cannot pin down{held}: nothing flagged."
    return "\n".join([f"What the data cannot pin down{held}:", ""] +
                     [f"- **{f.parameter}**: {f.problem}. Remedy: {f.remedy}." for f in one_per_parameter(flags)])


def _isoflop_law(iso: IsoFlopFit) -> str:
    """Section 3's law: N_opt = c C^a, T_opt = c C^b with standard errors over the used budgets; from
    fewer than MIN_USED_BUDGETS, the fit's headline (two digits, and that it is a line, not a law)."""
    if len(iso.used) < MIN_USED_BUDGETS:
        headline = iso.headline()
        return headline[0].upper() + headline[1:]
    return (f"N_opt = {iso.n_opt.coefficient:.4g} C^a with a = {iso.a:.4g} +- {_g(iso.n_opt.exponent_stderr)}; "
            f"T_opt = {iso.d_opt.coefficient:.4g} C^b with b = {iso.b:.4g} +- {_g(iso.d_opt.exponent_stderr)} "
            f"over {len(iso.used)} budgets")


def _section_isoflop(fits: ReportFits, out_dir: Path, figures: dict[str, Path]) -> str:
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
                 f" {boot.level:.0%} intervals ({boot.n_resamples} resamples): n/a, {boot.no_width}."
                 if boot.no_width else
                 f" {boot.level:.0%} intervals ({boot.n_resamples} resamples; a residual bootstrap of the parabolas, "
                 f"the sizes fixed, the windows chosen again): a in {_interval(boot.intervals['a'])}, b in {_interval(boot.intervals['b'])}; "
                 f"at C = {boot.compute:.3g}, N_opt in {_interval(boot.intervals['n_opt'])}, "
                 f"T_opt in {_interval(boot.intervals['d_opt'])}."
                 + (f" {1 - boot.accepted_fraction:.0%} of the budgets' resampled parabolas opened downward or had "
                    "their minimum outside the sizes fitted, and were left out of that resample, as the fit leaves "
                    "such a budget out." if boot.accepted_fraction < 1 else "")
                 + (f" {1 - boot.valid_fraction:.0%} of resamples kept fewer than 2 budgets (no value)."
                    if boot.valid_fraction < 1 else "")
                 + (f" {boot.budgets_without_residuals} budget(s) fitted to exactly 3 sizes add no spread."
                    if boot.budgets_without_residuals else "")
                 + (f" Widened to the power law's own t interval ({', '.join(boot.widened)}): the budgets' N_opt lie "
                    "further off the law than their parabolas' noise explains." if boot.widened else ""))
    lines = [title, "",
             f"Per compute budget, a parabola of final loss in ln N through its best size and {iso.neighbours} "
             f"sizes on each side ({2 * iso.neighbours + 1}; a budget of fewer is fitted whole), widened where "
             f"they span less than {iso.min_span:g} decade{'' if iso.min_span == 1 else 's'} of N (conf/fit.yaml "
             "isoflop_neighbours, isoflop_min_span); its minimum is N_opt(C), T_opt = C / (6 N_opt).",
             "", _md_table(("C (FLOPs)", "runs", "sizes", "sizes fitted (N range)", "N_opt", "T_opt",
                            "loss at minimum", "status"), rows), "",
             f"{_isoflop_law(iso)}{compare}.{intervals}", "",
             _cannot_pin_down(iso.flags(), {}), "",
             _figure(figures, out_dir, "isoflop", "IsoFLOP parabolas and N_opt(C)",
                     lambda: draw_isoflop(fits.main, iso, chin))]
    return "\n".join(lines)


def _window_cell(budget: IsoFlopBudget) -> str:
    if budget.n_sizes_fitted is None:
        return "-"
    return f"{budget.n_sizes_fitted} ({_g(budget.window_n_min)} .. {_g(budget.window_n_max)})"


def _section_envelope(fits: ReportFits, curves: Curves | None, out_dir: Path, figures: dict[str, Path]) -> str:
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
                     lambda: draw_frontier(fits.main_curves(curves), env))]
    return "\n".join(lines)


def _section_hyperparameters(fits: ReportFits, out_dir: Path, figures: dict[str, Path]) -> str:
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
        law_name = "lr" if param == "lr" else "batch"
        if hyper.by == "cell":
            what = (f"Per (N, tokens) cell (some compute budget holds several cells, whose optima are not merged), a "
                    f"parabola of the best loss at each {label} in ln({param}); its vertex is the optimum (only "
                    f"'vertex' cells enter the laws). The law in C is over the cells, each at its own C: "
                    f"`sweep fit --law {law_name} --by cell` gives it; `sweep fit`'s default (--by flops) takes one "
                    "optimum per compute budget, its lowest-loss cell's, and so another law.")
        else:
            what = (f"Per compute budget (as `sweep fit --law {law_name}`, --by flops), a parabola of the best loss "
                    f"at each {label} in ln({param}); its vertex is the optimum (only 'vertex' budgets enter the "
                    "laws).")
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
        if hyper.law is not None and hyper.law.flags():
            lines += [_cannot_pin_down(hyper.law.flags(), {}), ""]
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


def _untuned_points(fits: ReportFits) -> dict[str, Any] | None:
    """`upper_bound_cells` of section 5's lr groups, else its batch-size groups (each group one
    (N, tokens) cell there: by cell wherever a budget holds several), where the parametric fits
    had points."""
    if fits.chinchilla is None and fits.subscaling is None:
        return None
    for param in ("lr", "batch_size"):
        counts = upper_bound_cells(param, fits.hyper[param].groups) if param in fits.hyper else None
        if counts is not None:
            return counts
    return None


def _predicted_points(group: HyperparamGroup) -> str:
    """How many of a U-curve's points are predicted losses: "0", or "2 of 5"."""
    return f"{group.n_predicted} of {group.n_values}" if group.n_predicted else "0"


def _law_rows(hyper: HyperFit) -> list[tuple[Any, ...]]:
    """The table of section 5's laws: DeepSeek's power law in C, Step Law's form in N and D,
    Kaplan's batch size against the loss; each where fitted."""
    rows = []
    if hyper.law is not None:
        law = hyper.law.law
        per = "per (N, tokens) cell" if hyper.by == "cell" else "per compute budget"
        rows.append((f"DeepSeek (2024), in C, {per}", f"{hyper.param}_opt = c C^e", _g(law.coefficient),
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


def _near_optimal_band(fits: ReportFits) -> str:
    main = ucurve_table(fits.main)  # as the U-curves read the runs
    key_G, group_R = group_budgets(main.flops_R)
    band = fit_defaults().band
    bands = near_optimal_bands(main, key_G, group_R, band)
    rows = [(f"{key:.3g}", f"{len(b.runs)} of {int((group_R == g).sum())}", _g(b.loss_max), _span(b.lr_range),
             _span(b.batch_size_range)) for g, (key, b) in enumerate(zip(key_G, bands))]
    return "\n".join([f"### Near-optimal band (within {band:.2%} of the best loss of each budget)", "",
                      _md_table(("C (FLOPs)", "runs in band", "loss <=", "lr range", "batch size range"), rows)])


def _section_crossover(fits: ReportFits, out_dir: Path, figures: dict[str, Path]) -> str:
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
             *(["Left out (too few runs to fit): " + "; ".join(f"{n!r}: {why}" for n, why in result.skipped.items()),
                "", ] if result.skipped else []),
             "Lowest compute-optimal loss of the fitted laws, over the runs' compute "
             + (f"[{result.runs_compute[0]:.3g}, {result.runs_compute[1]:.3g}] " if result.runs_compute else "")
             + "widened 10x each way; the last column says whom the leader is lower than beyond the noise "
             "anywhere in range (none: the order is the fits', within the noise):", "",
             _md_table(("C from (FLOPs)", "C to (FLOPs)", "lowest loss*", "lower beyond the noise than"),
                       [(f"{s.compute_from:.4g}", f"{s.compute_to:.4g}", s.recipe,
                         ", ".join(result.beyond_noise(s.recipe)) or "none: within the noise")
                        for s in result.lowest]), ""]
    for pair in result.pairs:
        x, y = pair.recipes
        lines += [f"### {x} / {y}", "", f"**{pair.summary()}**."]
        if pair.crossings:
            lines += ["", _md_table(("C (FLOPs)", "loss", f"N_opt {x}", f"N_opt {y}", "better below"),
                                    [(f"{c.compute:.4g}", _g(c.loss), _g(c.n_opt[x]), _g(c.n_opt[y]),
                                      c.better_below) for c in pair.crossings])]
        lines.append("")
    lines.append(_figure(figures, out_dir, "crossover", "Compute-optimal loss per recipe",
                         lambda: draw_crossover(fits.points_of(), result)))
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
        rows.append((r.number, runs, _g(r.flops), *(_before_after(r, t) for t in ("loss", "n_opt"))))
    level = first.get("level")
    lines = [title, "",
             f"`sweep suggest --rounds`: each round proposed the runs that most narrow the "
             f"{_pct(level) if level else ''} bootstrap intervals of L*(C) and N_opt(C) at C = "
             f"{_g(first.get('target_compute'))} FLOPs ({first.get('law')} law; {first.get('criterion')}), trained "
             "them with the sweep's own launcher and refitted. Before -> after: the value [interval] of the fit "
             "the round chose from and of the refit once its runs ended (\"training\": not ended); in brackets "
             "the interval `sweep suggest` expected after the round's runs.", "",
             _md_table(("round", "runs proposed (outcome)", "FLOPs", "L*(C) before -> after",
                        "N_opt(C) before -> after"), rows), ""]
    failures = [f"`{o['run']}` (round {r.number}): {o['error']}" for r in record.rounds
                for o in (r.ended or {}).get("outcomes") or [] if o.get("status") != "complete" and o.get("error")]
    if failures:
        lines += ["Runs that did not complete, and why:", "", *(f"- {f}" for f in failures), ""]
    if record.stopped is not None:
        reason = record.stopped.get("reason")
        lines.append(f"The loop stopped after {record.stopped.get('round')} round(s): "
                     f"{STOP_REASONS.get(reason, reason)} ({record.stopped.get('detail')}).")
    else:
        lines.append(f"The loop has not stopped: round {record.rounds[-1].number} is training or was interrupted "
                     "(the same `sweep suggest --rounds` command resumes it).")
    return "\n".join(lines)


def _before_after(r, target: str) -> str:
    """A round's `value [lo, hi] -> value [lo, hi] (expected [lo, hi])` of a target."""
    expected = r.expected(target)
    return (f"{_triple(r.before(target))} -> {_triple(r.after(target))}"
            + ("" if expected is None else f" (expected {_interval(expected)})"))


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


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in rows]
    return "\n".join(lines)


ALLOCATION = ("a", "b", "G", "n_opt", "d_opt", "tokens_per_param")  # what a flag on any of them leaves unset


def _allocation(law: Any, point: dict[str, float], C: float, flags: Sequence[Any] = ()) -> str:
    if not math.isfinite(point["G"]):
        return (f"No compute-optimal allocation at C = {C:.3g} FLOPs: the fitted loss does not fall with both N and "
                f"tokens (alpha = {law.alpha:.3g}, beta = {law.beta:.3g}); see what the data cannot pin down below.")
    flagged = sorted({f.parameter for f in flags if f.parameter in ALLOCATION})
    said = (f"The fitted law's compute-optimal allocation at C = {C:.3g} FLOPs, which the runs do not set (flagged "
            f"below: {', '.join(flagged)})" if flagged else f"Compute-optimal allocation at C = {C:.3g} FLOPs")
    return (f"{said}: N_opt = {_g(point['n_opt'])} parameters, T_opt = {_g(point['d_opt'])} tokens, "
            f"{_g(point['tokens_per_param'])} tokens per parameter.")


def _g(value: Any) -> str:
    """A number to 4 digits; an unbounded one as inf (an interval's end no resample bounds), n/a for none."""
    if value is None or math.isnan(float(value)):
        return "n/a"
    return f"{float(value):.4g}"


def _pct(value: float) -> str:
    return f"{100 * value:.3g}%"


def _interval(pair: tuple[float, float] | None) -> str:
    return "" if pair is None else f"[{_g(pair[0])}, {_g(pair[1])}]"


def _span(pair: tuple[float, float] | None) -> str:
    return "n/a" if pair is None else (_g(pair[0]) if pair[0] == pair[1] else f"{_g(pair[0])} .. {_g(pair[1])}")


