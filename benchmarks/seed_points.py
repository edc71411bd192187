"""Seeds averaged into a point against the least of them: the bias and the intervals of a Chinchilla fit.

Tables drawn from a known law (Hoffmann et al.'s form, E 1.7, A 400, B 410, alpha 0.34, beta 0.28):
8 sizes 1e6 .. 1e8 x 5, 10, 20, 40 tokens per parameter, `--replicates` seeds per cell, each run's
loss times exp(noise), noise ~ N(0, `--noise`). Each table is fitted twice by `sweep fit`'s own path
(`fit_law`, `--bootstrap` case resamples): once with its seed column (the seeds of a cell averaged
into one point, sweep/fit/points.py), once with the seed column dropped (read as a grid: the least
run of each cell, as every fit did before). Printed per way, over `--tables` tables: the mean and
spread of the fitted law's log error at a held-out run 4x the largest size (N 4e8, 20 tokens per
parameter) and on the sampled cells, how often the 95% bootstrap interval of E holds the true E,
and how often the report's misfit test (sweep/fit/points.py `misfit_test`: the residuals' variance
against a point's from the seeds) says the points scatter beyond the seeds at p < 0.01 -- its false
alarms on the Chinchilla truth, its power with `--truth kaplan` (Kaplan et al.'s L(N, D), a form
the fit does not contain: benchmarks/active_replay.py `kaplan_loss`).

    python benchmarks/seed_points.py --tables 32

With `--sweep FOLDER` (a real sweep trained at several seeds, e.g. the demo's grid with `seed=0,1,2`)
it prints instead each cell's seeds' spread, and the Chinchilla fit both ways, its E and 95% interval
beside the corpus's true entropy rate where the runs carry one (data=synthetic).

    python -m sweep.train -m --config-name demo 'seed=0,1,2' out_dir=runs/demo-seeds
    python benchmarks/seed_points.py --sweep runs/demo-seeds
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from active_replay import kaplan_loss
from sweep.fit.laws import fit_law
from sweep.fit.points import misfit_test, point_table, seed_spread, settings
from sweep.fit.table import from_rows, load_runs_table
from sweep.results import load_source

TRUE = dict(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
SIZES, RATIOS = np.geomspace(1e6, 1e8, 8), (5, 10, 20, 40)
HELD_OUT = (4e8, 20 * 4e8)


def loss_of(law: dict, n, t):
    return law["E"] + law["A"] / np.asarray(n) ** law["alpha"] + law["B"] / np.asarray(t) ** law["beta"]


TRUTHS = {"chinchilla": lambda n, t: loss_of(TRUE, n, t), "kaplan": kaplan_loss}


def table_rows(rng: np.random.Generator, replicates: int, noise: float, truth: str = "chinchilla") -> list[dict]:
    rows = []
    for n in SIZES:
        for r in RATIOS:
            for s in range(replicates):
                loss = float(TRUTHS[truth](n, r * n) * np.exp(rng.normal(0, noise)))
                rows.append({"run": f"n{n:.3g}-r{r}-s{s}", "status": "complete", "n_params": n, "tokens": r * n,
                             "seed": s, "final_eval_loss": loss})
    return rows


def real_sweep(folder: str, bootstrap: int) -> None:
    """A real sweep's seeds: the spread per cell, then the fit with them averaged and read as a grid."""
    table = load_runs_table(folder)
    groups = sorted((runs for runs in settings(table) if len(runs) > 1),
                    key=lambda runs: (table.n_params_R[runs[0]], table.tokens_R[runs[0]]))
    print(f"{folder}: {len(table)} complete runs, {len(groups)} settings of several seeds")
    print("| N | tokens | seeds | losses | mean | sd | sd / mean |")
    print("|---:|---:|---:|---|---:|---:|---:|")
    relative = []
    for runs in groups:
        loss_J = table.loss_R[runs]
        relative.append(loss_J.std(ddof=1) / loss_J.mean())
        print(f"| {table.n_params_R[runs[0]]:,.0f} | {table.tokens_R[runs[0]]:,.0f} | {len(runs)} | "
              f"{', '.join(f'{v:.4f}' for v in loss_J)} | {loss_J.mean():.4f} | {loss_J.std(ddof=1):.4f} | "
              f"{relative[-1]:.2%} |")
    if relative:
        print(f"seeds' relative sd: median {np.median(relative):.2%}, max {np.max(relative):.2%}")
    h = table.true_entropy()
    rows = load_source(folder)
    for way, source in (("seeds averaged", rows),
                        ("least of the seeds", [{k: v for k, v in r.items() if k not in ("seed", "setting")}
                                                for r in rows])):
        out = fit_law("chinchilla", from_rows(source), bootstrap=bootstrap, seed=0)
        lo, hi = out["bootstrap"]["intervals"]["E"]
        truth = "" if h is None else f"; true entropy {h:.4f}: E - h = {out['E'] - h:+.4f}, inside: {lo <= h <= hi}"
        print(f"{way}: {out['n_points']} points, E = {out['E']:.4f} [{lo:.4f}, {hi:.4f}]{truth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=32)
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--truth", choices=tuple(TRUTHS), default="chinchilla", help="the law the tables are drawn "
                                                                                      "from")
    parser.add_argument("--sweep", help="a sweep folder trained at several seeds: its spread and fits instead")
    args = parser.parse_args()
    if args.sweep:
        return real_sweep(args.sweep, args.bootstrap)
    n_grid, t_grid = np.meshgrid(SIZES, RATIOS, indexing="ij")
    t_grid = t_grid * n_grid
    results = {"seeds averaged": [], "least of the seeds": []}
    start = time.perf_counter()
    for k in range(args.tables):
        rows = table_rows(np.random.default_rng(k), args.replicates, args.noise, args.truth)
        grid = [{c: v for c, v in r.items() if c != "seed"} for r in rows]  # the same runs read as a grid
        ways = {"seeds averaged": rows, "least of the seeds": grid}
        for way, source in ways.items():
            out = fit_law("chinchilla", from_rows(source), bootstrap=args.bootstrap, seed=k)
            law, truth = {p: out[p] for p in TRUE}, TRUTHS[args.truth]
            held = float(np.log(loss_of(law, *HELD_OUT) / truth(*HELD_OUT)))
            cells = float(np.mean(np.log(loss_of(law, n_grid, t_grid) / truth(n_grid, t_grid))))
            lo, hi = out["bootstrap"]["intervals"]["E"]
            table = from_rows(source)
            points, spread = point_table(table), seed_spread(table)
            test = None if spread is None else misfit_test(
                np.log(points.loss_R / loss_of(law, points.n_params_R, points.tokens_R)), len(TRUE), spread)
            results[way].append((held, cells, lo <= TRUE["E"] <= hi, out["n_points"],
                                 math.nan if test is None else test.p))
    print(f"{args.tables} tables drawn from the {args.truth} law, {args.replicates} seeds per cell, {args.noise:.1%} "
          f"noise, {args.bootstrap} bootstrap resamples; {time.perf_counter() - start:.0f} s")
    print("| way | points | held-out log error: mean (sd) | on the cells: mean (sd) | E's 95% interval holds E "
          "(chinchilla truth) | misfit test p < 0.01 |")
    print("|---|---:|---:|---:|---:|---:|")
    for way, rows in results.items():
        held, cells, covered, points, p = (np.array(c) for c in zip(*rows))
        tested = np.isfinite(p)
        misfit = f"{int((p[tested] < 0.01).sum())} of {int(tested.sum())}" if tested.any() else "- (no seeds)"
        print(f"| {way} | {int(points[0])} | {held.mean():+.2%} ({held.std(ddof=1):.2%}) | "
              f"{cells.mean():+.2%} ({cells.std(ddof=1):.2%}) | {int(covered.sum())} of {len(covered)} | {misfit} |")


if __name__ == "__main__":
    main()
