"""The figures of the fits, each drawn onto a caller's axes or a fresh figure, returned as a
matplotlib Figure: what `sweep report` saves (sweep/fit/report.py) and what a notebook shows
(launch/api.py).

    draw_loss_vs_n(points, law)              final loss against N with the fitted law
    draw_loss_vs_flops(points, law, C)       against compute, with the law's frontier loss*(C)
    draw_residuals(points, {name: law})      each law's log residual against N
    draw_isoflop(runs, iso, chinchilla)      IsoFLOP parabolas | N_opt(C)                 (2 axes)
    draw_frontier(curves, envelope)          loss curves and their envelope | N_opt(C)   (2 axes)
    draw_ucurves(runs, optima, law, step)    lr / batch U-curves | optimum against C      (2 axes);
                                             runs stopped early: hollow, bars their interval
    draw_crossover(points, crossovers)       each recipe's points and loss*(C), the crossings
    draw_best_loss_by_recipe(series)         findings: each recipe's best loss against N, error bars
    draw_recipe_difference(x, series, diff)  findings: two recipes' losses | their difference, +-Z band  (2 axes)
    draw_loss_vs_tokens_by_corpus(series)    findings: loss against T per size, a colour per corpus
    draw_otr(r, alpha, interval, lines)      findings: alpha_C against T / N | ln L against ln C   (2 axes)
    draw_predicted_vs_actual(predictions)    each finished run's predicted final loss (its curve cut
                                             short, sweep/fit/predict.py) against the actual one
    draw_finding_ucurves(curves, param)      a finding's U-curves: loss against lr / batch size per
                                             (N, tokens) cell, bars its stderr, the optimum's interval
    draw_batch_vs_loss(curves, fit)          each cell's optimal batch size (its interval) against its
                                             best loss, with the fitted ln B_opt = c + s ln L

`ax` (one Axes) or `axes` (a pair, left and right) are the caller's; None draws onto a fresh
`matplotlib.figure.Figure` of the report's size. Nothing here uses pyplot or switches the
backend: a fresh Figure is not shown by pyplot (display it in a notebook as the cell's value, or
save it with `save`), and the caller's backend stays the caller's.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; G groups, X
distinct values of a swept quantity.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

from sweep.errors import ConfigError
from sweep.fit.crossover import RecipeCrossovers
from sweep.fit.defaults import fit_defaults
from sweep.fit.envelope import EnvelopeFit
from sweep.fit.hyperparams import parabola_window, ucurve_table
from sweep.fit.isoflop import IsoFlopFit, best_per_value, fit_parabola, group_budgets
from sweep.fit.predict import RunPrediction, swept_axis
from sweep.fit.curves import Curves
from sweep.fit.table import LOSS_UNIT, RunsTable
from sweep.record import training_flops
from sweep.storage import atomic_write

DPI = 110  # the report's PNGs
MAX_SERIES = 10  # loss_vs_n draws one line per budget / tokens-per-parameter group up to this many
PARAM_LABEL = {"lr": "learning rate", "batch_size": "batch size"}
PREDICTED_LABEL = "predicted (stopped early)"  # the U-curves' legend entry for a run stopped early
NO_U_LABEL = "no U: its parabola opens downward, points only"  # the U-curves' cells without a curve
VIRIDIS = colormaps["viridis"]


def new_axes(ax: Any, n: int, figsize: tuple[float, float], **subplots: Any) -> tuple[Figure, list[Any]]:
    """The figure and the `n` axes to draw on: the caller's (`ax`: one Axes, or a sequence of n),
    or a fresh Figure of `figsize` with n axes side by side (`subplots`: Figure.subplots' options,
    sharey=True). ConfigError for another count of axes, or for something that is not one."""
    if ax is None:
        fig = Figure(figsize=figsize)
        axes = fig.subplots(1, n, **subplots)
        return fig, list(np.atleast_1d(axes))
    axes = list(np.ravel(np.asarray(ax, dtype=object))) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if len(axes) != n or not all(hasattr(a, "figure") and hasattr(a, "plot") for a in axes):
        wanted = "one panel: give ax=one Axes" if n == 1 else f"{n} panels (left, right): give ax=[left, right]"
        given = f"{len(axes)} Axes" if all(hasattr(a, "plot") for a in axes) else f"{type(ax).__name__} {ax!r:.60}"
        raise ConfigError(f"this figure draws {wanted}; given {given}")
    return axes[0].figure, axes


def save(fig: Figure, path: str | os.PathLike, dpi: int = DPI) -> None:
    """Lay the figure out and write it (PNG by the suffix), without pyplot, all at once: a full disk
    leaves the old file (or none), not a cut PNG, and is one StorageError naming it."""
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=path.suffix.lstrip(".") or "png"))


def point_series(points: RunsTable) -> tuple[np.ndarray, np.ndarray, str]:
    """(key_G, group_R, kind): the series loss_vs_n and residuals draw, one per compute budget
    (kind "C") or per tokens-per-parameter ratio ("T/N"), whichever the design has fewer of."""
    by_c, by_t = group_budgets(points.flops_R), group_budgets(points.tokens_R / points.n_params_R)
    return (*by_c, "C") if len(by_c[0]) <= len(by_t[0]) else (*by_t, "T/N")


def series_label(key: float, kind: str) -> str:
    """A point_series group's legend entry."""
    return f"C = {key:.2g} FLOPs" if kind == "C" else f"T/N = {key:.3g}"


def series_colours(n: int) -> np.ndarray:
    """The colours of n point_series groups, in increasing key."""
    return VIRIDIS(np.linspace(0, 0.9, n))


def draw_loss_vs_n(points: RunsTable, law: Any, ax: Any = None) -> Figure:
    """One series per compute budget or per tokens-per-parameter ratio (whichever the design has
    fewer of: `point_series`), each with the law along it; else points coloured by T / N and the
    law's values. `law`: a ChinchillaLaw or SubScalingLaw (a LawFit's `.law`)."""
    N, tokens, loss = points.n_params_R, points.tokens_R, points.loss_R
    tpp = tokens / N
    fig, (ax,) = new_axes(ax, 1, (7.5, 4.8))
    key_G, group_R, kind = point_series(points)
    if len(key_G) <= MAX_SERIES:
        colours = series_colours(len(key_G))
        for g, key in enumerate(key_G):
            in_R = group_R == g
            ax.scatter(N[in_R], loss[in_R], color=colours[g], s=22, zorder=3, label=series_label(key, kind))
            n_x = np.geomspace(N[in_R].min(), N[in_R].max(), 60) if np.ptp(N[in_R]) else N[in_R][:1]
            t_x = key / training_flops(n_x, 1.0) if kind == "C" else key * n_x
            ax.plot(n_x, law.predict(n_x, t_x), color=colours[g], lw=1.2)
        ax.legend(fontsize=7, title=f"points; lines: fitted law at fixed {kind}", title_fontsize=7)
    else:
        sc = ax.scatter(N, loss, c=tpp, norm=LogNorm(), cmap="viridis", s=22, zorder=3, label="final loss")
        ax.scatter(N, law.predict(N, tokens), marker="x", color="k", s=18, label="fitted law")
        fig.colorbar(sc, ax=ax, label="tokens per parameter T / N")
        ax.legend(fontsize=8)
    log_axes(ax, "parameters N", f"final loss ({points.loss_unit})")
    ax.set_title(f"Loss against model size: Approach 3 fit (E = {law.E:.3g}, alpha = {law.alpha:.3g}, "
                 f"beta = {law.beta:.3g})", fontsize=9)
    return fig


def draw_loss_vs_flops(points: RunsTable, law: Any, compute: float, ax: Any = None) -> Figure:
    """The points against C coloured by N, the fitted ChinchillaLaw's frontier loss*(C), and its
    N_opt and T / N at `compute`."""
    fig, (ax,) = new_axes(ax, 1, (7.5, 4.8))
    sc = ax.scatter(points.flops_R, points.loss_R, c=points.n_params_R, norm=LogNorm(), cmap="viridis", s=22,
                    zorder=3)
    fig.colorbar(sc, ax=ax, label="parameters N")
    lo, hi = min(points.flops_R.min(), compute) / 3, max(points.flops_R.max(), compute) * 3
    c_x = np.geomspace(lo, hi, 200)
    ax.plot(c_x, law.loss_opt(c_x), color="C3", lw=1.5, label="compute-optimal frontier loss*(C) of the fit")
    ax.axvline(compute, color="0.4", ls=":", lw=1,
               label=f"C = {compute:.3g}: N_opt = {float(law.n_opt(compute)):.3g}, "
                     f"T/N = {float(law.tokens_per_param(compute)):.3g}")
    ax.legend(fontsize=8)
    log_axes(ax, "training compute C (FLOPs)", f"final loss ({points.loss_unit})")
    ax.set_title("Loss against compute with the fitted compute-optimal frontier", fontsize=9)
    return fig


RESIDUAL_MARKERS = ("o", "^", "s", "D")


def draw_residuals(points: RunsTable, laws: Mapping[str, Any], ax: Any = None) -> Figure:
    """Each law's log residual ln(loss / predicted) in % against N, with its RMS; `laws` maps a
    name (chinchilla, subscaling) to a law or fit with `predict(N, T)`. A marker per law, a colour
    per series of loss_vs_n (`point_series`: its colours and legend entries, so a trend in one
    budget's or ratio's residuals reads against that figure); more series than MAX_SERIES: coloured
    by T / N with a colour bar, as there. The legend beside the axes."""
    fig, (ax,) = new_axes(ax, 1, (9.5, 4.2))  # room for the legend beside the axes
    key_G, group_R, kind = point_series(points)
    labelled = len(key_G) <= MAX_SERIES
    colours = series_colours(len(key_G))
    colour = (dict(color=colours[group_R]) if labelled else
              dict(c=points.tokens_R / points.n_params_R, norm=LogNorm(), cmap=VIRIDIS))
    for (name, law), marker in zip(laws.items(), RESIDUAL_MARKERS):
        resid = np.log(points.loss_R / law.predict(points.n_params_R, points.tokens_R))
        rms = float(np.sqrt(np.mean(resid**2)))
        drawn = ax.scatter(points.n_params_R, 100 * resid, marker=marker, s=22, alpha=0.8, zorder=3, **colour)
        ax.plot([], [], marker, color="0.3", ls="none", label=f"{name} (RMS {100 * rms:.2g}%)")
    if labelled:
        for key, c in zip(key_G, colours):
            ax.plot([], [], "s", color=c, ls="none", label=series_label(key, kind))
    elif laws:
        fig.colorbar(drawn, ax=ax, label="tokens per parameter T / N")
    ax.axhline(0, color="0.3", lw=0.8)
    log_axes(ax, "parameters N", "log residual ln(loss / loss_fit) (%)", y_log=False)
    title = "marker: law; colour: " + (f"{kind}, as in loss_vs_n" if labelled else "T / N (the colour bar)")
    if labelled:  # beside the axes, off the points
        ax.legend(fontsize=7, title=title, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0)
    else:  # the colour bar is beside them: the legend under the axes
        ax.legend(fontsize=7, title=title, title_fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  ncol=len(laws))
    ax.set_title("Residuals of the fitted laws (in-sample)", fontsize=9)
    return fig


def draw_isoflop(runs: RunsTable, iso: IsoFlopFit, chinchilla: Any = None, axes: Any = None) -> Figure:
    """Left: each budget's best loss per size, its parabola and minimum. Right: the minima against
    C with Approach 2's power law (and its bootstrap interval), beside Approach 3's N_opt(C) when
    `chinchilla` (a LawFit) is given."""
    fig, (ax, ax_opt) = new_axes(axes, 2, (11, 5.2))
    budget_G = np.array([b.flops for b in iso.budgets])
    _, group_R = group_budgets(runs.flops_R, iso.rel_tol, budget_G)
    norm = LogNorm(budget_G.min(), budget_G.max() * 1.0001)
    colours = VIRIDIS(0.9 * norm(budget_G))
    labelled = len(iso.budgets) <= MAX_SERIES  # more: a colour bar of C instead of a legend entry each
    for g, b in enumerate(iso.budgets):
        n_X, loss_X, _ = best_per_value(runs.n_params_R[group_R == g], runs.loss_R[group_R == g])
        label = (f"C = {b.flops:.2g}" + (" (excluded)" if b.excluded else "")) if labelled else None
        fitted_X = ((n_X >= b.window_n_min * (1 - 1e-9)) & (n_X <= b.window_n_max * (1 + 1e-9))
                    if b.n_sizes_fitted is not None else np.zeros(len(n_X), dtype=bool))
        ax.plot(n_X[fitted_X], loss_X[fitted_X], "o", color=colours[g], ms=4, alpha=0.5 if b.excluded else 1,
                label=label)
        ax.plot(n_X[~fitted_X], loss_X[~fitted_X], "o", mfc="none", color=colours[g], ms=4,
                alpha=0.5 if b.excluded else 1)
        if b.excluded is None:
            n_x = np.geomspace(b.window_n_min, b.window_n_max, 80)
            ax.plot(n_x, b.curvature * np.log(n_x / b.n_opt) ** 2 + b.loss_opt, color=colours[g], lw=1.2)
            ax.plot(b.n_opt, b.loss_opt, "*", color=colours[g], ms=12, mec="k", mew=0.6)
    log_axes(ax, "parameters N", f"final loss ({runs.loss_unit})")
    if not labelled:
        fig.colorbar(ScalarMappable(norm=norm, cmap=VIRIDIS), ax=ax, label="compute budget C (FLOPs)")
        if any(b.excluded for b in iso.budgets):
            ax.plot([], [], "o", color="0.3", alpha=0.5, ms=4, label="faded: budget excluded")
    # under the axes, not over them: inside, it hid a budget's parabola and its minimum (CS336's table)
    ax.legend(fontsize=7, title="stars: parabola minima; hollow: sizes outside the window", title_fontsize=7,
              loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    ax.set_title("IsoFLOP profiles", fontsize=9)
    used = iso.used
    c_x = np.geomspace(min(b.flops for b in iso.budgets) / 2, max(b.flops for b in iso.budgets) * 2, 50)
    ax_opt.plot([b.flops for b in used], [b.n_opt for b in used], "*", color="C0", ms=10, label="parabola minima")
    ax_opt.plot(c_x, iso.n_opt(c_x), color="C0", lw=1.2, label=f"Approach 2: N_opt ~ C^{iso.a:.3f}")
    if iso.bootstrap is not None and iso.bootstrap.no_width is None:  # an interval of no width: no bar, no label
        boot = iso.bootstrap
        lo, hi = boot.intervals["n_opt"]
        n_fit = float(iso.n_opt(boot.compute))
        ax_opt.errorbar([boot.compute], [n_fit], yerr=[[max(n_fit - lo, 0)], [max(hi - n_fit, 0)]], color="C0",
                        capsize=4, lw=1.2, label=f"{boot.level:.0%} interval of N_opt (bootstrap"
                        + (", widened to the law's scatter)" if "n_opt" in boot.widened else ")"))
    if chinchilla is not None:
        ax_opt.plot(c_x, chinchilla.law.n_opt(c_x), color="C3", ls="--", lw=1.2,
                    label=f"Approach 3: N_opt ~ C^{chinchilla.law.a:.3f}")
    log_axes(ax_opt, "training compute C (FLOPs)", "compute-optimal N_opt (parameters)")
    ax_opt.legend(fontsize=8)
    ax_opt.set_title("Compute-optimal model size", fontsize=9)
    return fig


def draw_frontier(curves: Curves, env: EnvelopeFit, axes: Any = None) -> Figure:
    """Left: every run's loss curve (grey) and their lower envelope. Right: the N of the
    envelope's run against C with Approach 1's power law."""
    fig, (ax, ax_opt) = new_axes(axes, 2, (11, 4.4))
    for c in curves.runs:
        ax.plot(c.flops_S, c.loss_S, color="0.6", lw=0.7, alpha=0.7)
    flops_S = np.array([p.flops for p in env.points])
    ax.plot(flops_S, [p.loss for p in env.points], color="C3", lw=2, label="lower envelope")
    edge = np.array([p.at_edge for p in env.points])
    ax.plot(flops_S[~edge], np.array([p.loss for p in env.points])[~edge], "o", color="C3", ms=3.5,
            label="envelope points fitted")
    ax.plot(flops_S[edge], np.array([p.loss for p in env.points])[edge], "o", mfc="none", color="C3", ms=3.5,
            label="won by the smallest / largest size (not fitted)")
    log_axes(ax, "training compute C (FLOPs)", f"{env.loss_key} (nats/token)")
    ax.legend(fontsize=7)
    ax.set_title(f"{env.curves} loss curves (grey) and their lower envelope", fontsize=9)
    ax_opt.plot(flops_S[~edge], [p.n_opt for p, e in zip(env.points, edge) if not e], "o", color="C3", ms=4,
                label="N of the envelope's run")
    c_x = np.geomspace(flops_S.min(), flops_S.max(), 50)
    ax_opt.plot(c_x, env.n_opt(c_x), color="C0", lw=1.2, label=f"Approach 1: N_opt ~ C^{env.a:.3f}")
    log_axes(ax_opt, "training compute C (FLOPs)", "compute-optimal N_opt (parameters)")
    ax_opt.legend(fontsize=8)
    ax_opt.set_title("Compute-optimal model size from the envelope", fontsize=9)
    return fig


def draw_ucurves(runs: RunsTable, optima: Any, law: Any = None, step_law: Any = None, axes: Any = None) -> Figure:
    """Left: per group (budget, or (N, tokens) cell), the best loss at each value relative to the
    group's best (%), the parabola fitted around the best and its optimum; the near-optimal band as
    a line. A group whose parabola opens downward (no_curvature) has no U: its points are joined by a
    dotted line and its legend entry says so; no curve is drawn below the group's lowest marked point
    (its best run, or the fitted optimum where that is lower). Right: the optima against C with the power law and Step Law's value at each group's
    (N, D). `optima`: a HyperparamOptima (param, by, groups, group_runs: sweep/fit/hyperparams.py
    find_optima); `law`: its HyperparamLaw (fit_laws) and `step_law` its StepLaw, where fitted.
    `runs`: the table find_optima was given; a point that is a run stopped early, standing with its
    predicted final loss, is drawn hollow with the prediction's interval as its bar."""
    param, label = optima.param, PARAM_LABEL[optima.param]
    runs = ucurve_table(runs)  # as find_optima took it: the indices of optima.group_runs are this table's
    values_R = runs.column(param)
    predicted_R = runs.is_predicted()
    fig, (ax, ax_law) = new_axes(axes, 2, (11, 4.4))
    keys = [g.key for g in optima.groups]
    norm = LogNorm(min(keys), max(keys) * 1.0001)
    by_cell = optima.by == "cell"
    labelled = len(optima.groups) <= MAX_SERIES
    any_predicted = no_u = False
    for group, members in zip(optima.groups, optima.group_runs):
        if group.status == "skipped":
            continue
        colour = VIRIDIS(0.9 * norm(group.key))
        value_X, loss_X, best_X = best_per_value(values_R[members], runs.loss_R[members])
        best = group.best_loss
        name = f"N = {group.n_params:.2g}, T = {group.tokens:.2g}" if by_cell else f"C = {group.key:.2g}"
        lo, hi = parabola_window(int(np.argmin(loss_X)), len(value_X), fit_defaults().neighbours)
        parabola = fit_parabola(np.log(value_X[lo:hi]), loss_X[lo:hi])
        if not parabola.opens_upward:  # no U: its points joined, never a parabola opening downward
            ax.plot(value_X, 100 * (loss_X / best - 1), ":", color=colour, lw=1.0)
            name += f" ({NO_U_LABEL})"
            no_u = True
        actual_X = ~predicted_R[members[best_X]]
        ax.plot(value_X[actual_X], 100 * (loss_X[actual_X] / best - 1), "o", color=colour, ms=4,
                label=name if labelled else None)
        if not actual_X.all():
            lo_X, hi_X = runs.interval_Rx2[members[best_X][~actual_X]].T
            loss = loss_X[~actual_X]
            yerr = 100 / best * np.nan_to_num(np.maximum([loss - lo_X, hi_X - loss], 0))  # no interval: no bar
            ax.errorbar(value_X[~actual_X], 100 * (loss / best - 1), yerr=yerr, fmt="o", mfc="none", color=colour,
                        ms=4, elinewidth=0.8, capsize=2)
            any_predicted = True
        if parabola.opens_upward:
            x = np.linspace(np.log(value_X[lo]), np.log(value_X[hi - 1]), 60)
            lowest = min(best, group.opt_loss)  # its best run, or the fitted optimum (the star) where lower
            # nothing below the lowest marked point (a best run at the grid's end, the vertex inside: not taken)
            curve = np.where(parabola(x) >= lowest * (1 - 1e-9), parabola(x), np.nan)
            ax.plot(np.exp(x), 100 * (curve / best - 1), color=colour, lw=1.1)
        if group.opt_value is not None:
            ax.plot(group.opt_value, 100 * (group.opt_loss / best - 1), "*", color=colour, ms=11, mec="k",
                    mew=0.6)
    if any_predicted:
        ax.plot([], [], "o", mfc="none", color="0.3", ms=4, label=PREDICTED_LABEL)
    if no_u and not labelled:  # labelled: the cell's own entry says so
        ax.plot([], [], "o:", color="0.3", ms=4, lw=1.0, label=f"dotted: {NO_U_LABEL}")
    band = fit_defaults().band
    ax.axhline(100 * band, color="C3", ls="--", lw=0.9, label=f"near-optimal band ({band:.2%})")
    grouped = "(N, tokens) cell" if by_cell else "compute budget"
    log_axes(ax, label, f"loss above the {'cell' if by_cell else 'budget'}'s best (%)", y_log=False)
    ax.legend(fontsize=7, title="stars: optimum", title_fontsize=7)
    if not labelled:  # more groups than legend entries: their colour is their C
        fig.colorbar(ScalarMappable(norm=norm, cmap=VIRIDIS), ax=ax, label=f"{grouped}'s compute C (FLOPs)")
    ax.set_title(f"U-curves: best loss at each {label} per {grouped}", fontsize=9)
    for status, marker in (("vertex", "o"), ("clipped", "v"), ("no_curvature", "x")):
        shown = [h for h in optima.groups if h.status == status]
        if shown:
            ax_law.plot([h.key for h in shown], [h.opt_value for h in shown], marker, ls="none", color="C0",
                        label=f"optimum ({status})")
    placed = [h for h in optima.groups if h.status != "skipped" and h.n_params is not None]
    if step_law is not None and placed:
        ax_law.plot([h.key for h in placed], step_law([h.n_params for h in placed], [h.tokens for h in placed]),
                    "s", mfc="none", color="C2", label=f"Step Law {step_law.form} at each (N, D)")
    if law is not None:
        c_x = np.geomspace(min(keys) / 2, max(keys) * 2, 50)
        power = law.law
        ax_law.plot(c_x, power(c_x), color="C3", lw=1.2,
                    label=f"{param}_opt = {power.coefficient:.3g} C^{power.exponent:.3f}")
        ax_law.set_title(f"Optimal {label} against compute", fontsize=9)
    else:
        ax_law.set_title(f"Optimal {label} per {grouped} (too few budgets for a power law)", fontsize=9)
    log_axes(ax_law, "training compute C (FLOPs)", f"optimal {label}")
    ax_law.legend(fontsize=8)
    return fig


def draw_crossover(points: RunsTable, result: RecipeCrossovers, ax: Any = None) -> Figure:
    """Every recipe's points (those of `points` with its recipe label) and frontier loss*(C);
    every pair's crossings the data support (dashed) and, with two recipes, the bootstrap interval
    of the first; the fits' crossings within the noise dotted grey, unlabelled."""
    many = len(result.recipes) > 3  # the legend beside the axes, crossings unlabelled (the report lists them)
    fig, (ax,) = new_axes(ax, 1, (10.5 if many else 7.5, 4.8))
    recipe_R = np.array([r if r is not None else "" for r in points.recipe or ("",) * len(points)])
    c_x = np.geomspace(*result.compute_range, 300)
    for k, name in enumerate(result.recipes):
        runs = points.select(recipe_R == name)
        ax.scatter(runs.flops_R, runs.loss_R, color=f"C{k}", s=14, alpha=0.5, label=name if many else f"{name}: runs")
        ax.plot(c_x, result.fits[name].law.loss_opt(c_x), color=f"C{k}", lw=1.6,
                label=None if many else f"{name}: loss*(C)")  # many: one entry a recipe, its runs and line
    (only,) = result.pairs if len(result.pairs) == 1 else (None,)
    if only is not None and only.supported and only.compute_interval is not None:
        ax.axvspan(*only.compute_interval, color="0.5", alpha=0.2,
                   label=f"{result.level:.0%} bootstrap interval of the crossing")
    middle = np.sqrt(c_x[0] * c_x[-1])
    noise_label = None if many else "fitted crossing within the noise"  # many: the legend names the recipes
    for pair in result.pairs:
        for c in pair.crossings:
            if not pair.supported:  # the fits cross, the data do not tell the recipes apart there
                ax.axvline(c.compute, color="0.6", ls=":", lw=1, label=noise_label)
                noise_label = None
                continue
            ax.axvline(c.compute, color="k", ls="--", lw=1)
            if not many:  # the label on the side with room: one past the middle runs off the axes
                left = c.compute > middle
                ax.annotate(f"{pair.recipes[0]} / {pair.recipes[1]} at C = {c.compute:.3g}", (c.compute, c.loss),
                            xytext=(-6 if left else 6, 12), textcoords="offset points", fontsize=8,
                            ha="right" if left else "left", annotation_clip=True)
    if not any(p.crossings for p in result.pairs):
        ax.text(0.02, 0.03, f"no crossing in range: {result.lowest[0].recipe!r} is lowest throughout",
                transform=ax.transAxes, fontsize=8)
    log_axes(ax, "training compute C (FLOPs)", f"final loss; lines: loss*(C) ({points.loss_unit})")
    if many:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        fig.subplots_adjust(right=0.6)
    else:
        ax.legend(fontsize=7)
    crossing = sum(p.supported for p in result.pairs)
    named = f"{len(result.recipes)} recipes" if many else ", ".join(repr(r) for r in result.recipes)
    ax.set_title(f"Crossover of {named} ({crossing} of {len(result.pairs)} pair(s) cross beyond the noise"
                 + (", dashed: where" if many and crossing else "") + ")", fontsize=9)
    return fig


def draw_best_loss_by_recipe(series: Mapping[str, tuple[Any, Any, Any]], ax: Any = None,
                             title: str = "Best loss per recipe", unit: str = LOSS_UNIT) -> Figure:
    """One line per recipe (or recipe and tokens-per-parameter group): `series` maps its label to
    (N_X, loss_X, stderr_X), the best loss of each (N, tokens) cell with its eval standard error
    as the error bar; log x."""
    fig, (ax,) = new_axes(ax, 1, (7.5, 4.8))
    for k, (label, (n_X, loss_X, se_X)) in enumerate(series.items()):
        order = np.argsort(n_X)
        ax.errorbar(np.asarray(n_X)[order], np.asarray(loss_X)[order], yerr=np.asarray(se_X)[order], fmt="o-",
                    color=f"C{k}", ms=4, lw=1.2, capsize=2, label=label)
    log_axes(ax, "parameters N", f"best final loss ({unit})")
    ax.legend(fontsize=7, title="bars: eval standard error", title_fontsize=7)
    ax.set_title(title, fontsize=9)
    return fig


def draw_recipe_difference(x_label: str, series: Mapping[str, tuple[Any, Any, Any]],
                           diff: tuple[Any, Any, Any], z: float, diff_label: str, axes: Any = None,
                           unit: str = LOSS_UNIT) -> Figure:
    """Left: each recipe's best loss (`series`: label -> (x_X, loss_X, stderr_X)) against the
    swept size x (width d or N), error bars its standard error. Right: the difference of the two
    (`diff`: (x_X, diff_X, stderr_X), `diff_label` what it is) with its band of +-z standard
    errors and the zero line; log x on both."""
    fig, (ax, ax_diff) = new_axes(axes, 2, (11, 4.4))
    for k, (label, (x_X, loss_X, se_X)) in enumerate(series.items()):
        ax.errorbar(x_X, loss_X, yerr=se_X, fmt="o-", color=f"C{k}", ms=4, lw=1.2, capsize=2, label=label)
    log_axes(ax, x_label, f"best final loss ({unit})")
    ax.legend(fontsize=8, title="bars: eval standard error", title_fontsize=7)
    ax.set_title("Best loss per recipe", fontsize=9)
    x_X, diff_X, se_X = (np.asarray(v, dtype=float) for v in diff)
    ax_diff.fill_between(x_X, diff_X - z * se_X, diff_X + z * se_X, color="C2", alpha=0.25,
                         label=f"+-{z:g} combined standard errors")
    ax_diff.plot(x_X, diff_X, "o-", color="C2", ms=4, lw=1.2, label=diff_label)
    ax_diff.axhline(0, color="0.3", lw=0.8)
    log_axes(ax_diff, x_label, f"{diff_label} ({unit})", y_log=False)
    ax_diff.legend(fontsize=8)
    ax_diff.set_title("Difference of the recipes (> 0: the second recipe is lower)", fontsize=9)
    return fig


CORPUS_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def draw_loss_vs_tokens_by_corpus(series: Sequence[tuple[float, float, Any, Any, Any]], ax: Any = None,
                                  unit: str = LOSS_UNIT) -> Figure:
    """Loss against tokens T, one line per (corpus, size N): `series` holds (duplicate rate, N,
    tokens_X, loss_X, stderr_X); one colour per corpus (its duplicate rate in the legend), one
    marker per size; bars: eval standard error; log-log."""
    fig, (ax,) = new_axes(ax, 1, (7.5, 4.8))
    rates = sorted({s[0] for s in series})
    sizes = sorted({s[1] for s in series})
    colours = VIRIDIS(np.linspace(0, 0.9, len(rates)))
    for rate, n, tokens_X, loss_X, se_X in series:
        colour = colours[rates.index(rate)]
        marker = CORPUS_MARKERS[sizes.index(n) % len(CORPUS_MARKERS)]
        ax.errorbar(tokens_X, loss_X, yerr=se_X, fmt=f"{marker}-", color=colour, ms=4, lw=1.1, capsize=2)
    for rate, colour in zip(rates, colours):
        ax.plot([], [], "-", color=colour, lw=2, label=f"duplicate rate {rate:.2f}")
    for k, n in enumerate(sizes):
        ax.plot([], [], CORPUS_MARKERS[k % len(CORPUS_MARKERS)], color="0.3", ms=5, label=f"N = {n:.3g}")
    log_axes(ax, "tokens T", f"best final loss ({unit})")
    ax.legend(fontsize=7, title="colour: corpus; marker: size", title_fontsize=7)
    ax.set_title("Loss against tokens per size and corpus (bars: eval standard error)", fontsize=9)
    return fig


def draw_otr(ratio_K: Any, alpha_K: Any, interval_Kx2: Any,
             lines: Sequence[tuple[float, Any, Any, float, float]], axes: Any = None, unit: str = LOSS_UNIT,
             stderr_K: Any = None) -> Figure:
    """Left: the compute exponent alpha_C of each over-training ratio r = T / N against r (log x),
    bars its interval (`interval_Kx2`; where it is NaN, +- 1.96 `stderr_K`). Right: ln L against
    ln C per ratio with its fitted line: `lines` holds (r, lnC_X, lnL_X, intercept, slope), one
    colour per ratio."""
    fig, (ax, ax_fit) = new_axes(axes, 2, (11, 4.4))
    ratio_K, alpha_K = np.asarray(ratio_K, dtype=float), np.asarray(alpha_K, dtype=float)
    lo_K, hi_K = np.asarray(interval_Kx2, dtype=float).reshape(-1, 2).T
    by_stderr = ~np.isfinite(lo_K) & (stderr_K is not None)
    if by_stderr.any():
        se_K = np.asarray(stderr_K, dtype=float)
        lo_K, hi_K = np.where(by_stderr, alpha_K - 1.96 * se_K, lo_K), np.where(by_stderr, alpha_K + 1.96 * se_K, hi_K)
    norm = LogNorm(ratio_K.min(), ratio_K.max() * 1.0001)
    yerr = np.nan_to_num(np.maximum([alpha_K - lo_K, hi_K - alpha_K], 0))
    # the panel spans the estimates and their typical interval: one ratio's wild bootstrap interval
    # (few sizes) would otherwise flatten every other point onto a line
    pad = max(float(np.ptp(alpha_K)) * 0.15, 2 * float(np.median(yerr)), 1e-3)
    low, high = float(alpha_K.min()) - pad, float(alpha_K.max()) + pad
    clipped = bool((alpha_K - yerr[0] < low).any() or (alpha_K + yerr[1] > high).any())
    ax.errorbar(ratio_K, alpha_K, yerr=yerr, fmt="o-", color="C0", ms=5, lw=1.2, capsize=3,
                label="alpha_C (bars: bootstrap interval" + ("; +- 1.96 s.e. for ratios of < 5 sizes"
                                                              if by_stderr.any() else "")
                + (", cut at the panel's edge)" if clipped else ")"))
    log_axes(ax, "over-training ratio r = T / N", "compute exponent alpha_C", y_log=False)
    ax.xaxis.set_major_locator(FixedLocator(ratio_K))  # the swept ratios themselves (1-2-5 steps left r = 40 bare)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(low, high)
    ax.legend(fontsize=8)
    ax.set_title("Compute exponent per over-training ratio (L = lambda_C C^-alpha_C)", fontsize=9)
    labelled = len(lines) <= MAX_SERIES  # more: a colour bar of r instead of a legend entry each
    for r, lnC_X, lnL_X, intercept, slope in lines:
        colour = VIRIDIS(0.9 * norm(r))
        lnC_X = np.asarray(lnC_X, dtype=float)
        ax_fit.plot(lnC_X, lnL_X, "o", color=colour, ms=4,
                    label=f"r = {r:g}: alpha_C = {-slope:.3g}" if labelled else None)
        x = np.linspace(lnC_X.min(), lnC_X.max(), 20)
        ax_fit.plot(x, intercept + slope * x, color=colour, lw=1.1)
    ax_fit.set_xlabel("ln C (FLOPs)")
    ax_fit.set_ylabel(f"ln L (final loss, {unit})")
    ax_fit.grid(True, alpha=0.3)
    if labelled:
        ax_fit.legend(fontsize=7)
    else:
        fig.colorbar(ScalarMappable(norm=norm, cmap=VIRIDIS), ax=ax_fit, label="over-training ratio r = T / N")
    ax_fit.set_title("ln L against ln C per ratio, with the least-squares lines", fontsize=9)
    return fig


SWEPT_LABEL = {"d": "width d", "l": "depth l", "tokens_per_param": "tokens per parameter", "batch_size": "batch size",
               "lr": "learning rate", "weight_decay": "weight decay"}


def draw_predicted_vs_actual(predictions: Sequence[RunPrediction], ax: Any = None) -> Figure:
    """The finished runs' predicted final eval loss (bars: its interval) against the actual one,
    one colour per value of the first swept coordinate (width first: sweep/fit/predict.py
    swept_axis), and the line predicted = actual. ValueError when no finished run was predicted."""
    scored = [p for p in predictions if p.predicted is not None and p.actual is not None]
    if not scored:
        raise ValueError("no finished run was predicted: nothing to draw")
    fig, (ax,) = new_axes(ax, 1, (6.4, 5.2))
    key = swept_axis(scored)
    values = sorted({p.coordinates.get(key) for p in scored}) if key else [None]
    colours = VIRIDIS(np.linspace(0, 0.9, len(values)))
    for value, colour in zip(values, colours):
        group = [p for p in scored if key is None or p.coordinates.get(key) == value]
        actual = np.array([p.actual for p in group])
        predicted = np.array([p.predicted for p in group])
        lo, hi = np.array([p.prediction.interval for p in group]).T
        label = None if key is None else f"{SWEPT_LABEL[key]} = {value:g}"
        ax.errorbar(actual, predicted, yerr=[np.maximum(predicted - lo, 0), np.maximum(hi - predicted, 0)], fmt="o",
                    ms=4, color=colour, ecolor=colour, elinewidth=1, capsize=2, alpha=0.85, label=label)
    both = [p.actual for p in scored] + [p.predicted for p in scored]  # one scale on both axes: a miss looks its size
    low, high = _interval_view(both, [p.prediction.interval for p in scored])
    ax.plot([low, high], [low, high], color="0.4", ls="--", lw=1, label="predicted = actual")
    _mark_cut_bars(ax, [(p.actual, *p.prediction.interval) for p in scored], low, high)
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal", adjustable="box")
    seen = max(p.prediction.fraction_seen for p in scored)
    ax.set_xlabel("actual final eval loss (nats/token)")
    ax.set_ylabel(f"predicted from at most the first {seen:.0%} of the curve (nats/token)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    level = scored[0].prediction.level
    runs = "1 finished run" if len(scored) == 1 else f"{len(scored)} finished runs"
    ax.set_title(f"Final loss predicted by the curve law, {runs} (bars: {level:.0%} interval)",
                 fontsize=9)
    return fig


def _interval_view(points: Sequence[float], intervals: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The axis range that shows every point and every interval, but an interval reaching more than the
    points' own span beyond them is cut at that (a bar from a curve seen in its first tenth can span
    half the loss range, and would squash every point into a corner)."""
    low, high = min(points), max(points)
    span = (high - low) or 0.05 * high
    ends = [e for interval in intervals for e in interval]
    low, high = max(min(ends + [low]), low - span), min(max(ends + [high]), high + span)
    pad = 0.05 * (high - low)
    return low - pad, high + pad


def _mark_cut_bars(ax: Any, bars: Sequence[tuple[float, float, float]], low: float, high: float) -> None:
    """A triangle at the edge of the axes where a bar (x, its low end, its high end) runs past the
    range (low, high): it is drawn cut, and the mark says so."""
    above = [x for x, _, top in bars if top > high]
    below = [x for x, bottom, _ in bars if bottom < low]
    if above:
        ax.plot(above, [high] * len(above), "^", color="0.3", ms=5, clip_on=False, label="interval runs past the axes")
    if below:
        ax.plot(below, [low] * len(below), "v", color="0.3", ms=5, clip_on=False,
                label=None if above else "interval runs past the axes")


LINE_STYLES = ("-", "--", ":", "-.")  # the cells of one size N, in increasing tokens


def draw_finding_ucurves(curves: Sequence[Any], param: str, ax: Any = None, unit: str = LOSS_UNIT) -> Figure:
    """A U-curve finding's cells (sweep/fit/findings/ucurves.py UCurve: n_params, tokens, recipe,
    value_X, loss_X, stderr_X, shape, opt_value, interval), one line per cell coloured by its size
    N: the best loss at each value with its standard error as bars, the optimum (star) with its
    interval as a horizontal bar. Log x."""
    label = PARAM_LABEL[param]
    labelled = len(curves) <= MAX_SERIES
    fig, (ax,) = new_axes(ax, 1, (10.0 if labelled else 7.5, 4.8))  # room for the legend beside the axes
    sizes = [c.n_params for c in curves]
    norm = LogNorm(min(sizes), max(sizes) * 1.0001)
    seen: dict[float, int] = {}  # cells of one size so far: their line styles tell their token budgets apart
    for c in sorted(curves, key=lambda c: (c.n_params, c.tokens)):
        colour = VIRIDIS(0.9 * norm(c.n_params))
        style = LINE_STYLES[seen.get(c.n_params, 0) % len(LINE_STYLES)]
        seen[c.n_params] = seen.get(c.n_params, 0) + 1
        name = (f"{c.recipe}: " if c.recipe else "") + f"N = {c.n_params:.2g}, T = {c.tokens:.2g} ({c.shape})"
        ax.errorbar(c.value_X, c.loss_X, yerr=c.stderr_X, fmt="o", ls=style, color=colour, ms=4, lw=1.1,
                    elinewidth=0.8, capsize=2, label=name if labelled else None)
        if c.opt_value is not None:
            loss = float(np.min(c.loss_X))
            lo, hi = np.clip(c.interval, c.value_X[0], c.value_X[-1])  # an open side: the bar stops at the grid
            ax.errorbar([c.opt_value], [loss], xerr=[[max(c.opt_value - lo, 0)], [max(hi - c.opt_value, 0)]],
                        fmt="*", color=colour, ms=11, mec="k", mew=0.6, elinewidth=1.4, capsize=3)
    log_axes(ax, label, f"final loss ({unit})", y_log=False)
    if labelled:  # beside the axes: inside, it covered a curve's points
        ax.legend(fontsize=7, title="bars: eval stderr;\nstars: optimum [interval]", title_fontsize=7,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    else:
        fig.colorbar(ScalarMappable(norm=norm, cmap=VIRIDIS), ax=ax, label="parameters N (bars: eval stderr; "
                                                                           "stars: optimum [interval])")
    ax.set_title(f"Final loss against {label} per (N, tokens) cell", fontsize=9)
    return fig


def draw_batch_vs_loss(curves: Sequence[Any], fit: Mapping[str, Any] | None, ax: Any = None,
                       unit: str = LOSS_UNIT) -> Figure:
    """Each cell's optimal batch size (bars: its interval) against its best loss (bars: its
    standard error), coloured by N, hollow where the optimum is no parabola vertex (left out of
    the fit); the fitted line B_opt = coefficient L^slope (`fit`: its dict, None: not fitted).
    Log-log."""
    fig, (ax,) = new_axes(ax, 1, (10.0, 4.8))  # room for the legend beside the axes
    sizes = [c.n_params for c in curves]
    norm = LogNorm(min(sizes), max(sizes) * 1.0001)
    for c in curves:
        colour = VIRIDIS(0.9 * norm(c.n_params))
        opt = c.opt_value if c.opt_value is not None else float(c.value_X[int(np.argmin(c.loss_X))])
        loss, lo, hi = float(np.min(c.loss_X)), *np.clip(c.interval, c.value_X[0], c.value_X[-1])  # open: grid's end
        ax.errorbar([loss], [opt], xerr=[float(c.stderr_X[int(np.argmin(c.loss_X))])],
                    yerr=[[max(opt - lo, 0)], [max(hi - opt, 0)]], fmt="o", color=colour,
                    mfc=colour if c.is_vertex else "none", ms=6, elinewidth=1, capsize=2,
                    label=f"N = {c.n_params:.2g}, T = {c.tokens:.2g}" if len(curves) <= MAX_SERIES else None)
    if len(curves) > MAX_SERIES:
        ax.plot([], [], "o", mfc="none", color="0.3", label="colour: N")
    if fit is not None:
        losses = [float(np.min(c.loss_X)) for c in curves]
        l_x = np.geomspace(min(losses) * 0.98, max(losses) * 1.02, 50)
        ax.plot(l_x, fit["coefficient"] * l_x ** fit["slope"], color="C3", lw=1.2,
                label=f"B_opt = {fit['coefficient']:.3g} L^{fit['slope']:.3g} (s +- {fit['slope_stderr']:.2g})")
    log_axes(ax, f"best final loss L ({unit})", "optimal batch size B_opt")
    ax.legend(fontsize=7, title="hollow: no vertex, not fitted", title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # beside the axes, off the points
    ax.set_title("Optimal batch size against the loss", fontsize=9)
    return fig


def log_axes(ax: Any, xlabel: str, ylabel: str, y_log: bool = True) -> None:
    """Log x (and y), labels, grid, readable ticks; call after plotting (the ticks follow the limits)."""
    ax.set_xscale("log")
    if y_log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    readable_ticks(ax.xaxis, ax.get_xlim())
    if y_log:
        readable_ticks(ax.yaxis, ax.get_ylim())


def readable_ticks(axis: Any, limits: Sequence[float]) -> None:
    """A log axis over less than 1.5 decades (a loss axis, an lr grid), or one that holds fewer than
    two powers of 10 (3e6 .. 9e7 labelled only 1e7), where the default would label one tick or none,
    or crowd its minor ones, gets a few plain ticks: linear steps (2.4, 2.8, ...) within a factor 5,
    else 1-2-5 steps per decade; a wider axis keeps its decades."""
    lo, hi = limits
    axis.set_minor_formatter(NullFormatter())
    if not lo > 0 or (hi / lo >= 10**1.5 and math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) >= 1):
        return
    if hi / lo < 5:
        ticks = MaxNLocator(nbins=5, steps=[1, 2, 5, 10]).tick_values(lo, hi)  # 3.46, 3.47 (not 3.4625)
    else:
        ticks = LogLocator(subs=(1.0, 2.0, 5.0)).tick_values(lo, hi)
        if sum(lo <= t <= hi for t in ticks) < 3:  # 2.4 .. 11 labelled only 5 and 10
            ticks = LogLocator(subs=(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)).tick_values(lo, hi)
    kept = [t for t in ticks if lo <= t <= hi]
    axis.set_major_locator(FixedLocator(kept))
    axis.set_minor_locator(NullLocator())
    digits = tick_digits(kept)
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{digits}g}"))


def tick_digits(ticks: Sequence[float]) -> int:
    """The significant digits (at least 3, at most 7) that label every one of `ticks` exactly
    (3.465, not 3.46 beside another 3.46)."""
    for digits in range(3, 8):
        if all(math.isclose(float(f"{t:.{digits}g}"), t, rel_tol=1e-9, abs_tol=1e-12) for t in ticks):
            return digits
    return 7
