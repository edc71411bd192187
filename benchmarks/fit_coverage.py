"""Coverage of Chinchilla Approach 3's bootstrap intervals: over many seeds, tables drawn from a
known law with realistic sampling and noise are fitted and bootstrapped; the printout says how
often each nominal 95% (and 80%) interval holds the true E, alpha, beta and N_opt at C = 10x the
largest run's compute, for the bootstrap as it is (each resample keeps the best of the full-data
optimum, the grid's other optima and a small grid scaled to the runs), with resamples of the
residuals ("residual", the default) or of the runs ("case"), and as it was (the optima only,
runs resampled: "old"), and how often identify.py flags a parameter (residual bootstrap).

    nice -n 10 python benchmarks/fit_coverage.py [--seeds 60] [--resamples 100] [--noise 0.015]
                                                 [--design wide|narrow] [--methods residual,case,old]

The law: E=1.7, A=400, B=410, alpha=0.34, beta=0.28 (Hoffmann et al.'s constants, rounded),
sampled (wide) at 5 sizes 3e6 .. 1e8 x 4 tokens per parameter 5 .. 40 (20 runs) or (narrow) at
4 sizes 1e6 .. 1e7 x 5, 20, 80 tokens per parameter (12 runs, where E often collapses to 0),
loss x exp(noise x standard normal). A coverage's spread is its binomial standard error
sqrt(p (1 - p) / seeds). "old, E as fitted" is the old bootstrap without E's bound: E's
interval from the resamples' E as the optimiser left it (1e-30 rather than 0).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sweep.fit.identify import identifiability_flags
from sweep.fit.law_bootstrap import bootstrap, percentile_interval
from sweep.fit.parametric import ChinchillaLaw, fit_chinchilla
from sweep.record import training_flops

TRUE = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)
DESIGNS = {"wide": (np.logspace(np.log10(3e6), 8, 5), (5.0, 10.0, 20.0, 40.0)),
           "narrow": (np.geomspace(1e6, 1e7, 4), (5.0, 20.0, 80.0))}
LEVELS = (0.95, 0.8)
NAMES = ("E", "alpha", "beta", "n_opt")


def table(seed: int, noise: float, sizes, tokens_per_param):
    n_R, tpp_R = (a.ravel() for a in np.meshgrid(sizes, tokens_per_param, indexing="ij"))
    tokens_R = n_R * tpp_R
    rng = np.random.default_rng(seed)
    return n_R, tokens_R, TRUE.predict(n_R, tokens_R) * np.exp(noise * rng.normal(size=n_R.size))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--noise", type=float, default=0.015)
    parser.add_argument("--design", choices=tuple(DESIGNS), default="wide")
    parser.add_argument("--methods", default="residual,case,old",
                        help="bootstraps to compare: residual, case (both with the resample starts), old")
    args = parser.parse_args()
    sizes, ratios = DESIGNS[args.design]
    C = 10 * float(training_flops(sizes[-1], sizes[-1] * ratios[-1]))
    truth = {"E": TRUE.E, "alpha": TRUE.alpha, "beta": TRUE.beta, "n_opt": float(TRUE.n_opt(C))}
    known = {"residual": (True, "residual"), "case": (True, "case"), "old": (False, "case")}
    methods = {name: known[name] for name in args.methods.split(",")}
    hits = {(m, lvl, name): 0 for m in methods for lvl in LEVELS for name in NAMES}
    e_zero = {m: 0 for m in methods}
    raw_e_hits = {lvl: 0 for lvl in LEVELS}  # the old bootstrap, E as the optimiser left it
    flagged: dict[str, int] = {}
    start = time.perf_counter()
    for seed in range(args.seeds):
        n_R, tokens_R, loss_R = table(seed, args.noise, sizes, ratios)
        fit = fit_chinchilla(n_R, tokens_R, loss_R)
        for method, (grid_starts, resampled) in methods.items():
            boot = bootstrap(fit, n_resamples=args.resamples, seed=seed, compute=C, grid_starts=grid_starts,
                             method=resampled)
            e_zero[method] += boot.intervals["E"][0] == 0
            for lvl in LEVELS:
                for name in NAMES:
                    lo, hi = percentile_interval(boot.samples[name], lvl)
                    hits[method, lvl, name] += lo <= truth[name] <= hi
            if method == "old":
                for lvl in LEVELS:
                    lo, hi = percentile_interval(np.exp(boot.theta_QxP[:, 2]), lvl)
                    raw_e_hits[lvl] += lo <= TRUE.E <= hi
            if method == next(iter(methods)):
                for parameter in {f.parameter for f in identifiability_flags(fit, boot, C)}:
                    flagged[parameter] = flagged.get(parameter, 0) + 1
    seconds = time.perf_counter() - start
    n = args.seeds
    print(f"{args.design} design, {n} seeds, {args.resamples} resamples, noise {args.noise:.1%}, {sizes.size} sizes x "
          f"{len(ratios)} tokens/param = {sizes.size * len(ratios)} runs; N_opt at C = {C:.3g} "
          f"(true {truth['n_opt']:.3g}); {seconds:.0f} s")
    print("| bootstrap | level | " + " | ".join(NAMES) + " | E's lower end 0 |")
    print("|---|---|" + "---:|" * (len(NAMES) + 1))
    for method in methods:
        for lvl in LEVELS:
            cells = []
            for name in NAMES:
                p = hits[method, lvl, name] / n
                cells.append(f"{p:.0%} +- {np.sqrt(p * (1 - p) / n):.0%}")
            print(f"| {method} | {lvl:.0%} | " + " | ".join(cells) + f" | {e_zero[method] / n:.0%} |")
    for lvl in LEVELS if "old" in methods else ():
        p = raw_e_hits[lvl] / n
        print(f"| old, E as fitted | {lvl:.0%} | {p:.0%} +- {np.sqrt(p * (1 - p) / n):.0%} | | | | |")
    print(f"flagged ({next(iter(methods))} bootstrap), share of seeds: " +
          ", ".join(f"{k} {v / n:.0%}" for k, v in sorted(flagged.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
