"""Does `--law crossover` claim a crossing only where the data support one? 20 seeds of two recipes
drawn from one law (any crossing is noise) and 20 of two laws that truly cross (tests/test_fit_crossover.py
LAW_X, LAW_Y: 30 runs each, 0.5% noise, 200 resamples): how often the fitted laws cross, and how often
the crossing is `supported` (each recipe lower than the other beyond the bootstrap's noise on its side).

    python benchmarks/crossover_noise.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweep.fit.crossover import find_crossover  # noqa: E402
from tests.test_fit_crossover import LAW_X, LAW_Y, recipe_runs  # noqa: E402

SEEDS = 20


def main() -> None:
    for name, laws in (("one law", {"a": LAW_X, "b": LAW_X}), ("two laws crossing", {"x": LAW_X, "y": LAW_Y})):
        results = [find_crossover(*recipe_runs(laws, seed=seed), n_resamples=200, seed=0) for seed in range(SEEDS)]
        print(f"{name}: the fitted laws cross in {sum(r.crosses for r in results)} of {SEEDS} seeds; the crossing "
              f"is supported in {sum(r.supported for r in results)} of {SEEDS}", flush=True)


if __name__ == "__main__":
    main()
