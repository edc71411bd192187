"""What a table of runs all at about one tokens per parameter lets a Chinchilla fit say (Cerebras-GPT's
published table: 7 models, 111M .. 13B, at 19.6 .. 20.2 tokens per parameter). Tables drawn from a
known law (Besiroglu et al.'s replication of Hoffmann et al.: E 1.82, A 482, B 2085, alpha 0.35,
beta 0.37) at those 7 sizes, 1% log-normal noise, seeds 0 .. S-1, fitted by `sweep fit --law
chinchilla`'s code: the relative error of N_opt at C = 1e23 and of the exponents, and whether the
fit is flagged (sweep/fit/identify.py: "every run is at about one tokens per parameter"). The same
sizes at 10 and 40 tokens per parameter besides (21 runs) for comparison.

    python benchmarks/one_ratio.py [--seeds 20] [--noise 0.01]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweep.fit.identify import identifiability_flags  # noqa: E402
from sweep.fit.parametric import ChinchillaLaw, fit_chinchilla  # noqa: E402

TRUTH = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.35, beta=0.37)
SIZES = np.array([1.11e8, 2.56e8, 5.9e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10])  # Cerebras-GPT's
RATIOS = np.array([19.8, 19.6, 20.2, 19.9, 20.0, 19.8, 20.0])  # theirs, as published (tokens / N)
COMPUTE = 1e23


def table(ratios_per_size: list[np.ndarray], noise: float, seed: int):
    n_R = np.concatenate([SIZES] * len(ratios_per_size))
    tokens_R = np.concatenate([SIZES * r for r in ratios_per_size])
    loss_R = TRUTH.predict(n_R, tokens_R) * np.exp(noise * np.random.default_rng(seed).standard_normal(len(n_R)))
    return n_R, tokens_R, loss_R


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.01)
    args = parser.parse_args()
    truth = float(TRUTH.n_opt(COMPUTE))
    for name, design in (("one ratio (Cerebras-GPT's)", [RATIOS]),
                         ("the same sizes at 0.5x, 1x and 2x", [RATIOS / 2, RATIOS, RATIOS * 2])):
        errors, alphas, flagged = [], [], 0
        for seed in range(args.seeds):
            fit = fit_chinchilla(*table(design, args.noise, seed))
            errors.append(float(fit.law.n_opt(COMPUTE)) / truth)
            alphas.append(fit.law.alpha)
            flagged += any("one tokens per parameter" in f.problem for f in identifiability_flags(fit))
        ratio = np.array(errors)
        finite = ratio[np.isfinite(ratio) & (ratio > 0)]  # a fit with no allocation (an exponent at 0): none
        off = np.maximum(finite, 1 / finite)
        print(f"{name}: N_opt(1e23) / truth median {np.median(finite):.3g} (min {finite.min():.3g}, max "
              f"{finite.max():.3g}) over the {len(finite)} fits with an allocation, off by more than 2x in "
              f"{int((off > 2).sum())}; no allocation in {args.seeds - len(finite)} of {args.seeds} seeds; alpha "
              f"median {np.median(alphas):.3g} (truth {TRUTH.alpha}); flagged as one ratio in {flagged} of "
              f"{args.seeds}", flush=True)


if __name__ == "__main__":
    main()
