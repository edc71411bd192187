"""Crossover among three recipes drawn from known laws (issue 15): over several noise seeds, how
often each pair's bootstrap interval holds the true crossing, how far the fitted crossing lands
from it, how often the order of the lowest recipe along C (x, then z, then y) is recovered, and
the wall time of one `find_crossovers` call (each recipe bootstrapped once, reused by its pairs).

    python benchmarks/crossover_pairs.py [--seeds 10] [--resamples 200] [--noise 0.005]

Design: per recipe 30 runs, N 1e7 .. 3e9 (6 sizes) x 5 .. 200 tokens per parameter (5 ratios),
the law's loss x exp(noise x standard normal). Laws (tests/test_fit_crossover.py): x E=1.7,
A=400, B=410; y E=1.4, A=500, B=512.5; z E=1.51, A=442.5, B=453.5625; alpha=0.34, beta=0.28
for all. True crossings: x/y 1.56e19, x/z 1.16e18, y/z 2.93e20 FLOPs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sweep.fit.crossover import find_crossovers, law_crossings
from sweep.fit.parametric import ChinchillaLaw

LAWS = {"x": ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28),
        "y": ChinchillaLaw(E=1.4, A=500.0, B=512.5, alpha=0.34, beta=0.28),
        "z": ChinchillaLaw(E=1.51, A=442.5, B=453.5625, alpha=0.34, beta=0.28)}


def runs(noise: float, seed: int):
    n_XxY, tpp_XxY = np.meshgrid(np.logspace(7, 9.5, 6), np.logspace(0.7, 2.3, 5), indexing="ij")
    N_R, tokens_R = n_XxY.ravel(), (n_XxY * tpp_XxY).ravel()
    rng = np.random.default_rng(seed)
    parts = [(N_R, tokens_R, law.predict(N_R, tokens_R) * np.exp(noise * rng.normal(size=N_R.size)),
              np.full(N_R.size, name)) for name, law in LAWS.items()]
    return tuple(np.concatenate(column) for column in zip(*parts))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.005)
    args = parser.parse_args()
    print(f"{args.seeds} seeds, {args.resamples} resamples, noise {args.noise}, {os.cpu_count()} CPUs")
    covered, ratio, order, seconds = {}, {}, 0, []
    for seed in range(args.seeds):
        start = time.perf_counter()
        result = find_crossovers(*runs(args.noise, seed), n_resamples=args.resamples, seed=seed)
        seconds.append(time.perf_counter() - start)
        for pair in result.pairs:
            x, y = pair.recipes
            (truth,) = law_crossings(LAWS[x], LAWS[y], result.compute_range)
            key = f"{x}/{y}"
            inside = pair.compute_interval is not None and pair.compute_interval[0] < truth < pair.compute_interval[1]
            covered.setdefault(key, []).append(inside)
            ratio.setdefault(key, []).append(pair.first.compute / truth if pair.crossings else np.nan)
        order += [s.recipe for s in result.lowest] == ["x", "z", "y"]
    print("| pair | true C | interval holds truth | fitted / true C: median [min, max] |")
    print("|---|---:|---:|---|")
    for key in covered:
        r = np.array(ratio[key])
        (truth,) = law_crossings(LAWS[key[0]], LAWS[key[2]], (1e14, 1e24))
        print(f"| {key} | {truth:.3g} | {sum(covered[key])} / {args.seeds} | {np.nanmedian(r):.2f} "
              f"[{np.nanmin(r):.2f}, {np.nanmax(r):.2f}] |")
    print(f"lowest recipe order x, z, y recovered: {order} / {args.seeds}")
    print(f"find_crossovers wall time: median {np.median(seconds):.1f} s [{min(seconds):.1f}, {max(seconds):.1f}]")


if __name__ == "__main__":
    main()
