"""How well Step Law's forms (lr_opt = c N^a D^b, B_opt = c D^b; sweep/fit/hyperparams.py) are
recovered from noisy U-curves, and whether their standard errors are honest: over many seeds,
tables drawn from Li et al. 2025's published law, fitted per (N, tokens) cell.

    pip install -e '.[bench]'   # scipy, for the t quantiles (the project itself does not need it)
    python benchmarks/step_law_recovery.py [--seeds 200] [--noise 0.002]

Each table: 3 sizes (1e7, 1e8, 1e9) x 3 tokens per parameter (5, 20, 80) = 9 cells; per cell 5
values a factor 2 apart, the grid shifted from the optimum by a uniform draw within +-1/2 of a
step; loss = 1.7 + 400 N^-0.34 + 410 D^-0.28 + 0.02 ln(value / opt)^2 + noise (sd --noise: a
value a factor 2 from the optimum costs 0.0096). Prints, per exponent, the mean and standard
deviation of the estimate over the seeds, the median reported standard error, and how often the
95% t-interval (estimate +- t(0.975, points - variables - 1) x stderr) holds the true value.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import stats

from sweep.errors import ConfigError
from sweep.fit.hyperparams import fit_hyperparameter_law
from sweep.fit.table import RunsTable

TRUE = {"lr": (1.79, {"n_params": -0.713, "tokens": 0.307}), "batch_size": (0.58, {"tokens": 0.571})}
SIZES = (1e7, 1e8, 1e9)
RATIOS = (5.0, 20.0, 80.0)


def optimum(param: str, n: float, d: float) -> float:
    c, exponents = TRUE[param]
    return c * np.prod([{"n_params": n, "tokens": d}[v] ** e for v, e in exponents.items()])


def draw(param: str, noise: float, rng: np.random.Generator) -> RunsTable:
    n_R, d_R, values, losses = [], [], [], []
    for n in SIZES:
        for r in RATIOS:
            d, opt = r * n, optimum(param, n, r * n)
            shift = rng.uniform(-0.5, 0.5)
            for k in range(-2, 3):
                value = opt * 2.0 ** (k + shift)
                n_R.append(n)
                d_R.append(d)
                values.append(value)
                losses.append(1.7 + 400 * n**-0.34 + 410 * d**-0.28 + 0.02 * np.log(value / opt) ** 2
                              + noise * rng.standard_normal())
    n_R, d_R = np.array(n_R), np.array(d_R)
    return RunsTable(tuple(f"run{i}" for i in range(len(n_R))), n_R, d_R, np.array(losses), 6 * n_R * d_R,
                     **{f"{param}_R": np.array(values)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.002)
    args = parser.parse_args()
    print(f"{args.seeds} seeds, loss noise sd {args.noise}, {os.cpu_count()} CPUs")
    for param in ("lr", "batch_size"):
        start = time.perf_counter()
        c_true, exponents = TRUE[param]
        estimates = {v: [] for v in exponents}
        stderrs = {v: [] for v in exponents}
        covered = {v: 0 for v in exponents}
        log_c, points, failed = [], [], 0
        for seed in range(args.seeds):
            try:
                step = fit_hyperparameter_law(draw(param, args.noise, np.random.default_rng(seed)), param,
                                              by="cell").step_law
            except ConfigError:
                failed += 1
                continue
            if step is None:
                failed += 1
                continue
            t = stats.t.ppf(0.975, step.n_points - len(step.variables) - 1)
            for v in exponents:
                e, se = step.exponent(v), step.exponent_stderrs[step.variables.index(v)]
                estimates[v].append(e)
                stderrs[v].append(se)
                covered[v] += abs(e - exponents[v]) <= t * se
            log_c.append(np.log(step.coefficient / c_true))
            points.append(step.n_points)
        fitted = len(log_c)
        print(f"{param}: {fitted} of {args.seeds} fitted ({failed} without a Step Law), median "
              f"{np.median(points):.0f} of 9 cells used, {time.perf_counter() - start:.1f} s")
        for v, truth in exponents.items():
            e = np.array(estimates[v])
            print(f"  exponent on {'N' if v == 'n_params' else 'D'}: true {truth:+.3f}, mean {e.mean():+.4f}, "
                  f"sd {e.std(ddof=1):.4f}, median stderr {np.median(stderrs[v]):.4f}, "
                  f"95% t-interval holds the truth in {covered[v] / fitted:.1%}")
        print(f"  ln(c / c_true): mean {np.mean(log_c):+.3f}, sd {np.std(log_c, ddof=1):.3f}")


if __name__ == "__main__":
    main()
