"""The findings on how loss scales (Chen et al. 2025, sub-scaling; README "The science"): data density bends the
loss curve and the sub-scaling law predicts held-out runs better (density_subscaling), and the
compute exponent shrinks with the over-training ratio up to a threshold (otr).

Each (group, N, tokens) cell stands by its best run with its eval standard error
(sweep/fit/findings/cells.py); losses differ by sweep/fit/noise.py's rule, and two fitted
exponents differ when they are more than Z combined standard errors apart.

Letters (README "The science: Letters"): N parameters, T tokens, C compute, R runs; here X the
cells of one group, K the over-training ratios, Q bootstrap resamples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.defaults import fit_defaults
from sweep.fit.findings.cells import (Cell, best_cells, by_tokens_per_param, fallback_note, plus_minus,
                                      ratio_key)
from sweep.fit.findings.verdict import CANNOT_TELL, HELD, NOT_HELD, Finding
from sweep.fit.law_bootstrap import percentile_interval
from sweep.fit.law_comparison import compare_laws
from sweep.fit.laws import comparison_to_dict
from sweep.fit.noise import Z, combined, lower_by
from sweep.fit.table import RATE_DIGITS, RunsTable
from sweep.jsonable import jsonable

MIN_RATIOS, MIN_SIZES = 3, 3  # otr: ratios needed, each with this many sizes
MIN_BOOTSTRAP_CELLS = 5  # otr: a ratio's bootstrap interval needs this many cells (3 on a line gave [0.122, 0.122])
OTR_THRESHOLD, OTR_PLATEAU = 20.0, 50.0  # the paper's threshold range of the over-training ratio

DENSITY_CLAIM = ("as data density (redundancy) rises the loss curve bends: more tokens buy less (sub-scaling), and "
                 "the sub-scaling law predicts held-out larger runs better than Chinchilla's on the redundant corpus")
DENSITY_RULE = (f"corpora told apart by their near-or-exact duplicate rate (to 0.01). Part 1, bending: per size N "
                f"with two or more token budgets, the token gain g = loss(smallest T) - loss(largest T) with its "
                f"combined standard error (between the budgets the least and the most redundant corpus share); it "
                f"bends when the most redundant corpus's gain is lower than the least redundant's by more than "
                f"Z = {Z:g} combined standard errors at every N both have. Part 2, "
                f"held-out: on the most redundant corpus, the Chinchilla and sub-scaling laws fitted below its "
                f"largest N predict the largest-N runs; sub-scaling wins when it predicts them better beyond their "
                f"spread (`sweep fit --law compare`'s rule: 3 or more held-out runs, a lower mean |log error| by 2 "
                f"standard errors of the paired differences, an RMS log error 10% lower). Held when both parts "
                f"hold; did not hold when the gain is larger on the most redundant corpus by the noise rule at every "
                f"shared N; otherwise cannot tell")
OTR_CLAIM = ("per over-training ratio r = tokens per parameter, the loss follows L = lambda_C C^-alpha_C; alpha_C "
             "shrinks as r grows, up to a threshold (20-50), then stays about constant")
OTR_RULE = (f"per ratio r (ratios within the fits' budget tolerance are one) with {MIN_SIZES} or more sizes, least squares of ln L on ln C "
            f"gives alpha_C with its standard error (from the residuals, at least the losses' eval standard "
            f"errors carried through the fit) and a bootstrap interval over the ratio's runs; held when "
            f"alpha_C at the smallest ratio exceeds alpha_C at the first ratio >= {OTR_THRESHOLD:g} by more than "
            f"Z = {Z:g} combined standard errors and (with two or more ratios >= {OTR_PLATEAU:g}) those differ "
            f"from each other by no more than Z combined standard errors; did not hold when alpha_C at the "
            f"smallest ratio is below that at the first ratio >= {OTR_THRESHOLD:g} by more than Z combined "
            f"standard errors; otherwise cannot tell")


# --- density_subscaling ---------------------------------------------------------------------------

def assess_density_subscaling(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """As data density rises the loss curve bends, and the sub-scaling law predicts larger runs better.

    None unless the runs come from two or more corpora of different duplicate rates (runs without
    a duplicate rate are not in it)."""
    if table.duplicate_rate_R is None:
        return None
    rate_R = [round(float(r), RATE_DIGITS) if math.isfinite(r) else None for r in table.duplicate_rate_R]
    rates = sorted({r for r in rate_R if r is not None})
    if len(rates) < 2:
        return None
    cells = best_cells(table, rate_R)
    least, most = rates[0], rates[-1]
    budgets = {rate: _budgets([c for c in cells if c.group == rate]) for rate in rates}
    common = {n: sorted(set(budgets[least][n]) & set(budgets[most][n]))
              for n in set(budgets[least]) & set(budgets[most])}
    ends = {n: (tokens[0], tokens[-1]) for n, tokens in common.items() if len(tokens) >= 2}
    gains = {rate: _token_gains(budgets[rate], ends) for rate in rates}
    shared = sorted(ends)
    bends = [lower_by(gains[most][n]["gain"], gains[most][n]["stderr"], gains[least][n]["gain"],
                      gains[least][n]["stderr"]) for n in shared]
    steeper = [lower_by(gains[least][n]["gain"], gains[least][n]["stderr"], gains[most][n]["gain"],
                        gains[most][n]["stderr"]) for n in shared]
    comparison, held_out_text, wins = held_out_comparison([c for c in cells if c.group == most])
    header = ("duplicate rate", "N", "tokens (smallest - largest)", "loss at smallest T", "loss at largest T",
              "token gain g")
    rows = [(f"{rate:.2f}", f"{n:.3g}", f"{g['tokens'][0]:.3g} - {g['tokens'][1]:.3g}",
             plus_minus(g["first"].loss, g["first"].stderr, g["first"].fallback),
             plus_minus(g["last"].loss, g["last"].stderr, g["last"].fallback),
             plus_minus(g["gain"], g["stderr"]))
            for rate in rates for n, g in sorted(gains[rate].items())]
    details: dict[str, Any] = {
        "z": Z, "duplicate_rates": rates, "least_redundant": least, "most_redundant": most,
        "gains": {f"{rate:.2f}": [{"n_params": n, "tokens": list(g["tokens"]), "gain": g["gain"], "stderr": g["stderr"]}
                                  for n, g in sorted(gains[rate].items())] for rate in rates},
        "shared_n_params": shared, "bends_at": [n for n, b in zip(shared, bends) if b],
        "held_out": comparison, "held_out_summary": held_out_text, "subscaling_wins": wins,
        "cells": [c.to_dict() for c in cells]}
    series = []
    for rate in rates:
        for n in sorted({c.n_params for c in cells if c.group == rate}):
            mine = sorted((c for c in cells if c.group == rate and c.n_params == n), key=lambda c: c.tokens)
            series.append((rate, n, [c.tokens for c in mine], [c.loss for c in mine], [c.stderr for c in mine]))

    def draw():
        from sweep.fit.figures import draw_loss_vs_tokens_by_corpus

        return draw_loss_vs_tokens_by_corpus(series, unit=table.loss_unit)

    gains_text = ", ".join(f"N = {n:.3g}: g = {gains[most][n]['gain']:.3g} ± {gains[most][n]['stderr']:.2g} vs "
                           f"{gains[least][n]['gain']:.3g} ± {gains[least][n]['stderr']:.2g}" for n in shared)
    pair = f"duplicate rate {most:.2f} against {least:.2f}"
    note = fallback_note(cells)
    if shared and all(steeper):
        verdict = NOT_HELD
        because = f"the token gain is larger on the more redundant corpus at every shared size ({pair}; {gains_text})"
    elif shared and all(bends) and wins:
        verdict = HELD
        because = f"the token gain is lower on the more redundant corpus at every shared size ({pair}; {gains_text}) and {held_out_text}"
    else:
        part1 = ("bends (the gain is lower at every shared size" + f": {gains_text})" if shared and all(bends) else
                 f"undecided: no size has two or more token budgets in both corpora ({pair})" if not shared else
                 f"undecided: the gain is not lower by the noise rule at every shared size ({gains_text})")
        part2 = held_out_text if wins is not None else f"undecided: {held_out_text}"
        verdict, because = CANNOT_TELL, f"part 1 (bending, {pair}) {part1}; part 2 (held-out) {part2}"
    return Finding(name="density_subscaling", claim=DENSITY_CLAIM, rule=DENSITY_RULE, verdict=verdict,
                   because=because + note, header=header, rows=tuple(rows), draw=draw, details=jsonable(details))


def _budgets(cells: list[Cell]) -> dict[float, dict[float, Cell]]:
    """{N: {T: cell}} (each to 3 significant digits)."""
    out: dict[float, dict[float, Cell]] = {}
    for c in cells:
        out.setdefault(ratio_key(c.n_params, 3), {})[ratio_key(c.tokens, 3)] = c
    return out


def _token_gains(budgets: dict[float, dict[float, Cell]],
                 ends: dict[float, tuple[float, float]]) -> dict[float, dict[str, Any]]:
    """{N: the gain from its smallest to its largest token budget} over the sizes with two or more
    budgets; at a size in `ends` ({N: (T_lo, T_hi)}, the budgets the compared corpora share) the
    gain over those two where this corpus has both."""
    gains = {}
    for n, by_tokens in budgets.items():
        lo, hi = ends[n] if n in ends and set(ends[n]) <= set(by_tokens) else (min(by_tokens), max(by_tokens))
        if lo == hi:
            continue
        first, last = by_tokens[lo], by_tokens[hi]
        gains[n] = {"first": first, "last": last, "tokens": (first.tokens, last.tokens), "gain": first.loss - last.loss,
                    "stderr": combined(first.stderr, last.stderr)}
    return gains


def held_out_comparison(cells: list[Cell]) -> tuple[dict | None, str, bool | None]:
    """Chinchilla and sub-scaling fitted below the largest N of one corpus's cells, judged on its
    largest-N cells (law_comparison.compare_laws, as `sweep report` section 2): (the comparison as a
    dict, a sentence, whether sub-scaling predicts them better beyond their spread (`best_is_clear`);
    None: it cannot run, or neither law is clearly better)."""
    if not cells:
        return None, "the held-out comparison cannot run: the corpus has no runs", None
    N_X = np.array([c.n_params for c in cells])
    try:
        cmp = compare_laws(N_X, [c.tokens for c in cells], [c.loss for c in cells], cutoff=float(N_X.max()),
                           flops=[c.flops for c in cells], names=[c.run for c in cells],
                           laws=("chinchilla", "subscaling"))  # the finding's two
    except ConfigError as err:
        return None, f"the held-out comparison cannot run ({err})", None
    chin, sub = cmp.errors["chinchilla"].mean_abs_rel, cmp.errors["subscaling"].mean_abs_rel
    # better beyond the held-out runs' spread, as `--law compare` ranks laws (was: sub < chin, 0.11% against
    # 0.14% on 4 runs of 0.2% noise called a win); a difference within it decides nothing
    wins = (cmp.best == "subscaling") if cmp.best_is_clear else None
    text = (f"on the {cmp.n_held_out} largest-N runs the sub-scaling law's mean abs relative error is {sub:.2%} "
            f"against Chinchilla's {chin:.2%}; better: {cmp.verdict()}")
    return comparison_to_dict(cmp), text, wins


# --- otr -----------------------------------------------------------------------------------------

def assess_otr(table: RunsTable, *, resamples: int, seed: int) -> Finding | None:
    """Per over-training ratio the compute exponent alpha_C shrinks as the ratio grows, up to a threshold.

    None unless MIN_RATIOS or more over-training ratios each have MIN_SIZES sizes. A
    table of several recipes or corpora is checked on its largest (recipe, corpus) group alone (a
    law per ratio over mixed recipes or corpora would mix their levels)."""
    group_R, group = largest_group(table)
    cells = best_cells(table, group_R)
    by_ratio = by_tokens_per_param(cells)
    fitted = {r: mine for r, mine in by_ratio.items()
              if len({ratio_key(c.n_params, 3) for c in mine}) >= MIN_SIZES}
    if len(fitted) < MIN_RATIOS:
        return None
    level = fit_defaults().level
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(fitted))]
    fits = {r: _power_law(mine, resamples, rng, level) for (r, mine), rng in zip(fitted.items(), rngs)}
    ratio_K = list(fits)
    header = ("ratio T/N", "sizes", "alpha_C", f"{level:.0%} bootstrap interval", "lambda_C")
    rows = [(f"{r:g}", f"{f['sizes']}", plus_minus(f["alpha"], f["stderr"], _on_fallback(f)),
             f"[{f['interval'][0]:.3g}, {f['interval'][1]:.3g}]" if math.isfinite(f["interval"][0])
             else f"none (< {MIN_BOOTSTRAP_CELLS} cells)",
             f"{f['lambda']:.4g}") for r, f in fits.items()]
    left_out = sorted(set(by_ratio) - set(fitted))
    details: dict[str, Any] = {"z": Z, "level": level, "resamples": resamples, "seed": seed, "group": group,
                               "ratios": [{"ratio": r, **{k: v for k, v in f.items() if k != "cells"}}
                                          for r, f in fits.items()],
                               "ratios_left_out": left_out}
    lines = [(r, f["lnC"], f["lnL"], f["intercept"], -f["alpha"]) for r, f in fits.items()]

    def draw():
        from sweep.fit.figures import draw_otr

        return draw_otr(ratio_K, [fits[r]["alpha"] for r in ratio_K], [fits[r]["interval"] for r in ratio_K], lines,
                        unit=table.loss_unit, stderr_K=[fits[r]["stderr"] for r in ratio_K])

    def shown(r: float) -> str:
        return f"alpha_C = {fits[r]['alpha']:.3g} ± {fits[r]['stderr']:.2g} at r = {r:g}"

    smallest = ratio_K[0]
    threshold = next((r for r in ratio_K if r >= OTR_THRESHOLD), None)
    plateau = [r for r in ratio_K if r >= OTR_PLATEAU]
    if threshold is None or threshold == smallest:
        verdict = CANNOT_TELL
        because = (f"no ratio >= {OTR_THRESHOLD:g} to compare with the smallest ({shown(smallest)})" if threshold is None
                   else f"no ratio below {OTR_THRESHOLD:g}: the smallest ratio is {smallest:g}")
    else:
        drop = fits[smallest]["alpha"] - fits[threshold]["alpha"]
        se = combined(fits[smallest]["stderr"], fits[threshold]["stderr"])
        spread = [(a, b) for i, a in enumerate(plateau) for b in plateau[i + 1:]
                  if abs(fits[a]["alpha"] - fits[b]["alpha"]) > Z * combined(fits[a]["stderr"], fits[b]["stderr"])]
        compared = f"{shown(smallest)} against {shown(threshold)} (difference {drop:+.3g} ± {se:.2g})"
        flat = (f"; the ratios >= {OTR_PLATEAU:g} ({', '.join(f'{r:g}' for r in plateau)}) agree within noise"
                if len(plateau) >= 2 and not spread else "")
        untested = (f"; whether it then stays constant is not tested: {len(plateau)} ratio(s) >= {OTR_PLATEAU:g} "
                    f"with {MIN_SIZES} sizes, 2 needed" if len(plateau) < 2 else "")
        if drop > Z * se and not spread:
            verdict, because = HELD, f"alpha_C shrinks: {compared}{flat}{untested}"
        elif -drop > Z * se:
            verdict, because = NOT_HELD, f"alpha_C grows with the ratio: {compared}"
        elif drop > Z * se:
            a, b = spread[0]
            verdict = CANNOT_TELL
            because = (f"alpha_C shrinks ({compared}) but does not settle past {OTR_PLATEAU:g}: {shown(a)} against "
                       f"{shown(b)}")
        else:
            verdict, because = CANNOT_TELL, f"within noise: {compared}"
    assumed = [c for r, f in fits.items() if _on_fallback(f) for c in fitted[r]]
    if assumed:  # alpha_C's standard error rests on the losses' standard errors, and those were assumed
        because += (fallback_note(assumed) + ": alpha_C's standard error (marked *) rests on them, not on the "
                    "scatter about the line")
    if group is not None:
        because += f" (on the runs of {group}, the largest of the table's recipe / corpus groups)"
    if left_out:
        because += f" (ratios with fewer than {MIN_SIZES} sizes left out: {', '.join(f'{r:g}' for r in left_out)})"
    details["plateau_tested"] = len(plateau) >= 2  # held with it untested says so here too, not only in `because`
    return Finding(name="otr", claim=OTR_CLAIM, rule=OTR_RULE, verdict=verdict, because=because, header=header,
                   rows=tuple(rows), draw=draw, details=jsonable(details))


def _on_fallback(fit: dict[str, Any]) -> bool:
    """Whether a ratio's alpha_C standard error is its losses' (larger than the scatter about the
    line) and some of those losses count with the fallback standard error."""
    return fit["stderr_from"] == "evals" and fit["fallback"]


def largest_group(table: RunsTable) -> tuple[list[str | None], str | None]:
    """Each run's (recipe, corpus) group key, None for the runs outside the group with the most
    runs (ties: the first in sorted order), and that group's description; (every run's key, None)
    when the table is one group."""
    recipe = table.recipe or (None,) * len(table)
    rate_R = table.duplicate_rate_R if table.duplicate_rate_R is not None else np.full(len(table), np.nan)
    key_R = [f"recipe {r or '(none)'}" + (f", duplicate rate {d:.2f}" if math.isfinite(d) else "")
             for r, d in zip(recipe, np.round(rate_R, RATE_DIGITS))]
    keys = sorted(set(key_R))
    if len(keys) == 1:
        return key_R, None
    largest = max(keys, key=key_R.count)
    return [k if k == largest else None for k in key_R], largest


def _power_law(cells: list[Cell], resamples: int, rng: np.random.Generator, level: float) -> dict[str, Any]:
    """Least squares of ln L on ln C over one ratio's cells: alpha_C (minus the slope), its
    standard error (the larger of the residuals' and of the losses' eval standard errors carried
    through the fit: a near-perfect line of few points does not claim more than the evals allow), lambda_C, and the percentile interval of alpha_C over `resamples` resamples of
    the cells drawn with replacement (a resample of one C only is left out; none below
    MIN_BOOTSTRAP_CELLS cells, whose few resamples give an interval of no width)."""
    lnC_X = np.log([c.flops for c in cells])
    lnL_X = np.log([c.loss for c in cells])
    slope, intercept = np.polyfit(lnC_X, lnL_X, 1)
    dof = len(cells) - 2
    residual_X = lnL_X - (intercept + slope * lnC_X)
    sxx = float(((lnC_X - lnC_X.mean()) ** 2).sum())
    scatter = math.sqrt(float((residual_X**2).sum()) / dof / sxx) if dof > 0 else math.inf
    se_lnL_X = np.array([c.stderr / c.loss for c in cells])  # each loss's eval standard error, in ln L
    measured = math.sqrt(float((((lnC_X - lnC_X.mean()) * se_lnL_X) ** 2).sum())) / sxx
    stderr = max(scatter, measured)
    interval = (math.nan, math.nan)
    if resamples >= 2 and len(cells) >= MIN_BOOTSTRAP_CELLS:
        pick_QxX = rng.integers(0, len(cells), size=(resamples, len(cells)))
        x_QxX, y_QxX = lnC_X[pick_QxX], lnL_X[pick_QxX]
        dx_QxX = x_QxX - x_QxX.mean(axis=1, keepdims=True)
        sxx_Q = (dx_QxX**2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope_Q = (dx_QxX * (y_QxX - y_QxX.mean(axis=1, keepdims=True))).sum(axis=1) / sxx_Q
        slope_Q = np.where(sxx_Q > 1e-12 * max(sxx, 1e-300), slope_Q, np.nan)
        if np.isfinite(slope_Q).any():
            interval = percentile_interval(-slope_Q, level)
    return {"alpha": float(-slope), "stderr": stderr, "stderr_from": "evals" if measured > scatter else "scatter",
            "fallback": any(c.fallback for c in cells), "lambda": float(np.exp(intercept)), "intercept": float(intercept),
            "interval": interval, "sizes": len({ratio_key(c.n_params, 3) for c in cells}),
            "lnC": lnC_X.tolist(), "lnL": lnL_X.tolist(), "cells": [c.to_dict() for c in cells]}
