"""The findings that compare training recipes (Xiao 2024; README "The science"): explicit L2 regularisation
against weight decay (l2_vs_decay) and a constant learning rate against one scaled as 2/D
(lr_crossover), each checked on the runs its preset labels with those recipes.

Each (recipe, N, tokens) cell stands by its best run (over the learning rates and weight decays
tried) with that run's eval standard error (sweep/fit/findings/cells.py); two recipes' losses
differ by the noise rule of sweep/fit/noise.py (more than Z combined standard errors).

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; here X the
(N, tokens) cells compared.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.crossover import find_crossovers
from sweep.fit.findings.cells import Cell, best_cells, by_tokens_per_param, fallback_note, plus_minus
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD, Finding
from sweep.fit.laws import crossovers_to_dict
from sweep.fit.noise import Z, combined, lower_by
from sweep.fit.points import point_table
from sweep.fit.table import RunsTable
from sweep.jsonable import jsonable

L2, NO_REGULARISATION = "l2", "none"
L2_ARMS = (L2, NO_REGULARISATION, "coupled", "independent")  # coupled, independent: the weight-decay arms
LR_CONSTANT, LR_SCALED = "lr-constant", "lr-2-over-d"
PAPER_TOKENS_PER_PARAM = 20.0  # among matched ratios of equal width count, the one nearest this is compared

L2_CLAIM = ("explicit L2 regularisation does not help pretraining: it is no better than no regularisation or "
            "weight decay")
L2_RULE = (f"per (N, tokens) cell each recipe's best loss (over its learning rates and weight decays) with its "
           f"eval standard error; held when at every cell the l2 arm is not lower than the best other arm "
           f"(none, coupled, independent) by more than Z = {Z:g} combined standard errors; did not hold when at "
           f"the largest cell (by compute) l2 is lower than every other arm by that margin; otherwise (l2 "
           f"lower at a smaller cell only) cannot tell")
LR_CLAIM = ("a constant learning rate (2/1024 in the paper) and one scaled as 2/D are alike at small width; past a "
            "width the 2/D rule wins by a widening margin: the recipes cross")
LR_RULE = (f"per width at matched tokens per parameter, diff = best loss(lr-constant) - best loss(lr-2-over-d) "
           f"with its combined standard error; held when at the largest width lr-2-over-d is lower by more than "
           f"Z = {Z:g} combined standard errors AND the diff at the largest width exceeds the diff at the "
           f"smallest by more than Z combined standard errors (a widening margin); did not hold when at the "
           f"largest width lr-constant is lower by that margin; otherwise cannot tell. The Chinchilla law of "
           f"each recipe and where their compute-optimal losses cross (bootstrap interval) are stated beside it")


def assess_l2_vs_decay(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """Explicit L2 regularisation does not help pretraining: no better than none or weight decay.

    None when the runs carry no recipes `l2` and `none`."""
    labels = set(table.recipe or ())
    if not {L2, NO_REGULARISATION} <= labels:
        return None
    arms = [a for a in L2_ARMS if a in labels]
    cells = best_cells(table, [r if r in arms else None for r in table.recipe])
    by_cell: dict[tuple[float, float], dict[str, Cell]] = {}
    for c in cells:
        by_cell.setdefault((c.n_params, c.tokens), {})[c.group] = c
    compared = sorted(((key, arm_cells) for key, arm_cells in by_cell.items()
                       if L2 in arm_cells and len(arm_cells) >= 2), key=lambda kv: kv[0][0] * kv[0][1])
    header = ("N", "tokens", *(f"{a} loss" for a in arms), "l2 - best other", "l2 lower (noise rule)")
    rows, per_cell = [], []
    for (n, t), arm_cells in compared:
        l2 = arm_cells[L2]
        best = min((c for a, c in arm_cells.items() if a != L2), key=lambda c: c.loss)
        lower = lower_by(l2.loss, l2.stderr, best.loss, best.stderr)
        se = combined(l2.stderr, best.stderr)
        per_cell.append({"n_params": n, "tokens": t, "best_other": best.group, "l2_minus_best_other": l2.loss - best.loss,
                         "stderr": se, "l2_lower": lower,
                         "arms": {a: c.to_dict() for a, c in arm_cells.items()}})
        rows.append((f"{n:.3g}", f"{t:.3g}",
                     *(plus_minus(arm_cells[a].loss, arm_cells[a].stderr, arm_cells[a].fallback)
                       if a in arm_cells else "-" for a in arms),
                     f"{l2.loss - best.loss:+.3g} ± {se:.2g} ({best.group})", "yes" if lower else "no"))
    details: dict[str, Any] = {"arms": arms, "z": Z, "cells": per_cell}
    series = {}
    for a in arms:
        mine = [c for c in cells if c.group == a]
        series[a] = ([c.n_params for c in mine], [c.loss for c in mine], [c.stderr for c in mine])

    def draw():
        from sweep.fit.figures import draw_best_loss_by_recipe

        return draw_best_loss_by_recipe(series, title="l2_vs_decay: best loss per recipe against N",
                                        unit=table.loss_unit)

    note = fallback_note(cells)
    if not compared:
        verdict, because = CANNOT_TELL, (f"no (N, tokens) cell has runs of l2 and of another arm "
                                         f"({', '.join(a for a in arms if a != L2)}): nothing to compare{note}")
    elif not any(p["l2_lower"] for p in per_cell):
        worst = min(per_cell, key=lambda p: p["l2_minus_best_other"] / p["stderr"])
        verdict = HELD
        because = (f"at none of the {len(per_cell)} cells is l2 lower than the best other arm by the noise rule "
                   f"(closest: N = {worst['n_params']:.3g}, l2 - {worst['best_other']} = "
                   f"{worst['l2_minus_best_other']:+.3g} ± {worst['stderr']:.2g}){note}")
    else:
        (n, t), arm_cells = compared[-1]
        l2 = arm_cells[L2]
        beats = [lower_by(l2.loss, l2.stderr, c.loss, c.stderr) for a, c in arm_cells.items() if a != L2]
        largest = per_cell[-1]
        if all(beats):
            verdict = NOT_HELD
            because = (f"at the largest cell (N = {n:.3g}, T = {t:.3g}) l2 is lower than every other arm by the "
                       f"noise rule: l2 - {largest['best_other']} = {largest['l2_minus_best_other']:+.3g} ± "
                       f"{largest['stderr']:.2g}{note}")
        else:
            lower_at = ", ".join(f"N = {p['n_params']:.3g}" for p in per_cell if p["l2_lower"])
            verdict = CANNOT_TELL
            because = (f"l2 is lower by the noise rule at {lower_at} but not below every other arm at the largest "
                       f"cell (N = {n:.3g}: l2 - {largest['best_other']} = {largest['l2_minus_best_other']:+.3g} ± "
                       f"{largest['stderr']:.2g}){note}")
    return Finding(name="l2_vs_decay", claim=L2_CLAIM, rule=L2_RULE, verdict=verdict, because=because, header=header,
                   rows=tuple(rows), draw=draw, details=jsonable(details))


def assess_lr_crossover(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """A constant learning rate and one scaled as 2/D are alike at small width, then 2/D wins by a widening margin.

    None when the runs carry no recipes `lr-constant` and `lr-2-over-d`."""
    labels = set(table.recipe or ())
    if not {LR_CONSTANT, LR_SCALED} <= labels:
        return None
    recipes = (LR_CONSTANT, LR_SCALED)
    cells = best_cells(table, [r if r in recipes else None for r in table.recipe])
    by_cell: dict[tuple[float, float], dict[str, Cell]] = {}
    for c in cells:
        by_cell.setdefault((c.n_params, c.tokens), {})[c.group] = c
    paired = [pair for pair in by_cell.values() if len(pair) == 2]
    pair_of = {id(pair[LR_CONSTANT]): pair for pair in paired}
    by_ratio = {r: [pair_of[id(c)] for c in constant]
                for r, constant in by_tokens_per_param([p[LR_CONSTANT] for p in paired]).items()}
    ratio = max(by_ratio, key=lambda r: (len(by_ratio[r]), -abs(math.log(r / PAPER_TOKENS_PER_PARAM))),
                default=None)
    pairs = sorted(by_ratio.get(ratio, []), key=lambda p: p[LR_CONSTANT].n_params)
    use_width = bool(pairs) and all(math.isfinite(p[LR_CONSTANT].width) for p in pairs)
    x_label = "width d" if use_width else "parameters N"

    def size(pair: dict[str, Cell]) -> float:
        return pair[LR_CONSTANT].width if use_width else pair[LR_CONSTANT].n_params

    diffs = [(p[LR_CONSTANT].loss - p[LR_SCALED].loss, combined(p[LR_CONSTANT].stderr, p[LR_SCALED].stderr))
             for p in pairs]
    header = ("d" if use_width else "N", "N", "tokens", f"{LR_CONSTANT} loss", f"{LR_SCALED} loss",
              "diff (constant - 2/D)", "lower (noise rule)")
    rows = []
    for p, (diff, se) in zip(pairs, diffs):
        const, scaled = p[LR_CONSTANT], p[LR_SCALED]
        lower = (LR_SCALED if lower_by(scaled.loss, scaled.stderr, const.loss, const.stderr) else
                 LR_CONSTANT if lower_by(const.loss, const.stderr, scaled.loss, scaled.stderr) else "neither")
        rows.append((f"{size(p):.4g}", f"{const.n_params:.3g}", f"{const.tokens:.3g}",
                     plus_minus(const.loss, const.stderr, const.fallback),
                     plus_minus(scaled.loss, scaled.stderr, scaled.fallback), f"{diff:+.3g} ± {se:.2g}", lower))
    crossover, crossover_text = _crossover(table, recipes, resamples, seed)
    details: dict[str, Any] = {
        "z": Z, "tokens_per_param": ratio, "x": "d" if use_width else "n_params",
        "widths": [{"x": size(p), "diff": d, "stderr": se, **{r: p[r].to_dict() for r in recipes}}
                   for p, (d, se) in zip(pairs, diffs)],
        "crossover": crossover, "crossover_summary": crossover_text}
    series = {r: ([size(p) for p in pairs], [p[r].loss for p in pairs], [p[r].stderr for p in pairs])
              for r in recipes}
    diff_series = ([size(p) for p in pairs], [d for d, _ in diffs], [se for _, se in diffs])

    def draw():
        from sweep.fit.figures import draw_recipe_difference

        return draw_recipe_difference(x_label, series, diff_series, Z, "loss(lr-constant) - loss(lr-2-over-d)",
                                      unit=table.loss_unit)

    note = fallback_note([c for p in pairs for c in p.values()])
    if not pairs:
        verdict, because = CANNOT_TELL, "no (N, tokens) cell has runs of both lr-constant and lr-2-over-d"
    else:
        (diff_l, se_l), (diff_s, se_s) = diffs[-1], diffs[0]
        at_largest = f"at the largest {x_label} {size(pairs[-1]):.4g} diff = {diff_l:+.3g} ± {se_l:.2g}"
        if diff_l > Z * se_l and len(pairs) >= 2 and diff_l - diff_s > Z * combined(se_l, se_s):
            verdict = HELD
            because = (f"{at_largest} (2/D lower by the noise rule), widening from {diff_s:+.3g} ± {se_s:.2g} at "
                       f"{size(pairs[0]):.4g}")
        elif -diff_l > Z * se_l:
            verdict, because = NOT_HELD, f"{at_largest}: the constant rate is lower by the noise rule"
        elif diff_l > Z * se_l and len(pairs) < 2:
            verdict, because = CANNOT_TELL, f"{at_largest} (2/D lower), but one width only: no widening to see"
        elif diff_l > Z * se_l:
            verdict = CANNOT_TELL
            because = (f"{at_largest} (2/D lower) but the margin does not widen beyond noise from {diff_s:+.3g} ± "
                       f"{se_s:.2g} at {size(pairs[0]):.4g}")
        else:
            verdict, because = CANNOT_TELL, f"{at_largest}: within noise, neither recipe is lower"
        because += f" (T/N = {ratio:g}){note}"
    because += f"; crossover fit: {crossover_text}"
    return Finding(name="lr_crossover", claim=LR_CLAIM, rule=LR_RULE, verdict=verdict, because=because,
                   header=header, rows=tuple(rows), draw=draw, details=jsonable(details))


def _crossover(table: RunsTable, recipes: tuple[str, ...], resamples: int, seed: int) -> tuple[dict | None, str]:
    """The two recipes' Chinchilla laws and their crossing (crossover.py, on each (recipe, N, T)'s
    best run, `resamples` bootstrap resamples), as a dict and its summary; (None, why) when the
    fit cannot run on these runs."""
    runs = table.select(np.array([r in recipes for r in table.recipe], dtype=bool))
    runs = point_table(runs, np.array(runs.recipe))
    try:
        result = find_crossovers(runs.n_params_R, runs.tokens_R, runs.loss_R, np.array(runs.recipe),
                                 n_resamples=resamples, seed=seed)
    except ConfigError as err:
        return None, f"cannot run ({err})"
    pair = result.pairs[0]
    return crossovers_to_dict(result), pair.summary()
