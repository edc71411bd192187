"""How long Chinchilla Approach 3 takes: the full 4,500-start grid on a few hundred runs, and a
1,000-resample bootstrap (targets: seconds, and about a minute, on 2 cores); with --chunking, the
bootstrap run in chunks (to show progress) against the same bootstrap in one batched call.

    python benchmarks/fit_time.py [--runs 300] [--resamples 1000] [--chunking]

Runs are drawn from a known law (E=1.7, A=400, B=410, alpha=0.34, beta=0.28) with 1% noise, so
the printout also says how close the fit came.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sweep.fit import law_bootstrap, parametric
from sweep.fit.law_bootstrap import bootstrap
from sweep.fit.parametric import fit_chinchilla, fit_subscaling


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--chunking", action="store_true", help="time the chunked bootstrap against one call")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    N = np.exp(rng.uniform(np.log(1e7), np.log(1e9), args.runs))
    tokens = N * np.exp(rng.uniform(np.log(5), np.log(200), args.runs))
    loss = (1.7 + 400 / N**0.34 + 410 / tokens**0.28) * np.exp(rng.normal(0, 0.01, args.runs))
    print(f"{args.runs} runs, {os.cpu_count()} CPUs")

    start = time.perf_counter()
    fit = fit_chinchilla(N, tokens, loss)
    print(f"chinchilla, {fit.n_starts:,} starts in one batched L-BFGS: {time.perf_counter() - start:.1f} s; "
          f"{fit.summary()}")
    start = time.perf_counter()
    boot = bootstrap(fit, n_resamples=args.resamples, compute=1e21)
    print(f"bootstrap, {args.resamples} resamples: {time.perf_counter() - start:.1f} s; "
          f"E in [{boot.intervals['E'][0]:.3f}, {boot.intervals['E'][1]:.3f}], "
          f"{boot.converged_fraction:.0%} converged")
    if args.chunking:
        compare_chunking(fit, args.resamples)
    start = time.perf_counter()
    sub = fit_subscaling(N, tokens, loss)
    print(f"subscaling, {sub.n_starts:,} starts: {time.perf_counter() - start:.1f} s")


def compare_chunking(fit, n_resamples: int) -> None:
    """The bootstrap's resamples in chunks (as `bootstrap` runs them) against one batched call,
    alternated twice each; the same seed, so the same draws."""
    seconds: dict[str, list[float]] = {"one call": [], "chunks": []}
    thetas = {}
    for _ in range(2):
        for name, chunks in (("one call", 1), ("chunks", law_bootstrap.BOOTSTRAP_CHUNKS)):
            start = time.perf_counter()
            thetas[name] = law_bootstrap.bootstrap_thetas(fit, n_resamples, np.random.default_rng(0),
                                                       chunks=chunks, show_progress=False)[0]
            seconds[name].append(time.perf_counter() - start)
    k = len(fit.optima_OxP[: 1 + parametric.MAX_EXTRA_OPTIMA]) + len(law_bootstrap.resample_start_grid(fit))
    size = max(-(-n_resamples // law_bootstrap.BOOTSTRAP_CHUNKS), -(-law_bootstrap.MIN_CHUNK_PROBLEMS // k))
    for name, s in seconds.items():
        print(f"bootstrap {name}: {' '.join(f'{x:.1f}' for x in s)} s")
    print(f"chunks of {size} resamples x {k} starts: {min(seconds['chunks']) / min(seconds['one call']):.3f} x "
          f"the time of one call (best of 2 each); largest |theta difference| "
          f"{np.abs(thetas['chunks'] - thetas['one call']).max():.2g}")


if __name__ == "__main__":
    main()
