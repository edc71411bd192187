"""Approach 2 on synthetic IsoFLOP tables from a known Chinchilla law: bias of the exponent a and
coverage of its bootstrap interval, all sizes per budget (the old estimator) against the window
around each budget's best size (sweep/fit/isoflop.py).

    nice -n 10 python benchmarks/isoflop_coverage.py --seeds 100 --resamples 200

The design (the kind that biased the old estimator on published data): a fixed ladder of
`--sizes` model sizes log-spaced over `--decades` decades of N, the same for every budget, and
`--budgets` budgets log-spaced over 3 decades of C (1e18 .. 1e21), the ladder centred on their true
optima, which move 1.35 decades of N across the budgets (a quarter of the way up the ladder at the
smallest budget, three quarters at the largest, for 2.5 decades); each budget trains every ladder
size (T = C / (6 N)), so sizes reach far to both sides of the optimum, down to well under one
token per parameter. Loss: the law's, times
exp(noise * standard normal), one run per size. True a = beta / (alpha + beta); true N_opt at
the largest budget from ChinchillaLaw.n_opt.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.isoflop import fit_isoflop
from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.table import RunsTable

LAW = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # Hoffmann et al. 2022, a = 0.4516


def design(n_sizes: int, decades: float, n_budgets: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_X ladder, flops_G): `decades` of N centred (in log N) on the budgets' optima."""
    budget_G = np.logspace(18, 21, n_budgets)
    centre = np.log10(LAW.n_opt(budget_G[[0, -1]])).mean()
    return np.logspace(centre - decades / 2, centre + decades / 2, n_sizes), budget_G


def table_of(n_X: np.ndarray, budget_G: np.ndarray, noise: float, rng: np.random.Generator) -> RunsTable:
    n_R = np.tile(n_X, len(budget_G))
    flops_R = np.repeat(budget_G, len(n_X))
    tokens_R = flops_R / (6 * n_R)
    loss_R = LAW.predict(n_R, tokens_R) * np.exp(noise * rng.standard_normal(len(n_R)))
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, tokens_R, loss_R, flops_R)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--sizes", type=int, default=16)
    parser.add_argument("--decades", type=float, default=2.5)
    parser.add_argument("--budgets", type=int, default=6)
    parser.add_argument("--noise", type=float, default=0.003, help="relative loss noise (sd of ln loss)")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--windows", default="all,2,3,4", help="neighbours to compare ('all': every size)")
    parser.add_argument("--min-span", type=float, default=None,
                        help="decades of N a window spans at least (default: conf/fit.yaml's isoflop_min_span)")
    args = parser.parse_args()
    n_X, budget_G = design(args.sizes, args.decades, args.budgets)
    true_a, top = LAW.a, budget_G[-1]
    true_n_opt = float(LAW.n_opt(top))
    where = (np.log(LAW.n_opt(budget_G)) - np.log(n_X[0])) / np.log(n_X[-1] / n_X[0])
    print(f"law {LAW}, true a = {true_a:.4f}; ladder {args.sizes} sizes {n_X[0]:.3g} .. {n_X[-1]:.3g} "
          f"({np.log10(n_X[-1] / n_X[0]):.2f} decades); {args.budgets} budgets {budget_G[0]:.2g} .. {top:.2g}; "
          f"optimum at {', '.join(f'{w:.2f}' for w in where)} of the ladder (log N); tokens per parameter "
          f"{budget_G[0] / (6 * n_X[-1] ** 2):.2g} .. {top / (6 * n_X[0] ** 2):.3g}; noise {args.noise}; "
          f"{args.seeds} seeds x {args.resamples} resamples, level {args.level}; windows span at least "
          f"{'conf/fit.yaml' if args.min_span is None else args.min_span}'s decades of N")
    windows = [None if w == "all" else int(w) for w in args.windows.split(",")]
    rows = []
    for k in windows:
        a_S, width_S, cover_a, cover_n, failed, excluded = [], [], 0, 0, 0, 0
        start = time.perf_counter()
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            table = table_of(n_X, budget_G, args.noise, np.random.default_rng(seed))
            try:
                fit = fit_isoflop(table, neighbours=k if k is not None else args.sizes,
                                  n_resamples=args.resamples, level=args.level, seed=seed, min_span=args.min_span)
            except ConfigError:
                failed += 1
                continue
            excluded += len(fit.budgets) - len(fit.used)
            lo, hi = fit.bootstrap.intervals["a"]
            n_lo, n_hi = fit.bootstrap.intervals["n_opt"]
            a_S.append(fit.a)
            width_S.append(hi - lo)
            cover_a += lo <= true_a <= hi
            cover_n += n_lo <= true_n_opt <= n_hi
        fitted = len(a_S)
        a_S = np.array(a_S)
        rows.append((("all sizes" if k is None else f"k = {k} ({2 * k + 1} sizes)"), fitted, a_S.mean() - true_a,
                     a_S.std(ddof=1), np.median(width_S), cover_a / max(fitted, 1), cover_n / max(fitted, 1),
                     excluded, failed, time.perf_counter() - start))
    print("| parabola through | fits | bias of a (mean - true) | sd of a | median interval width | "
          f"coverage of a ({args.level:.0%}) | coverage of N_opt(C_max) | budgets excluded | fits failed | s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, fitted, bias, sd, width, cov_a, cov_n, excluded, failed, seconds in rows:
        print(f"| {name} | {fitted} | {bias:+.4f} | {sd:.4f} | {width:.4f} | {cov_a:.2f} | {cov_n:.2f} | "
              f"{excluded} | {failed} | {seconds:.1f} |")
    print(f"(coverage over n seeds has a binomial sd of about sqrt(p (1 - p) / n): "
          f"{np.sqrt(args.level * (1 - args.level) / args.seeds):.3f} at p = {args.level})")


if __name__ == "__main__":
    main()
