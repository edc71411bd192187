"""Runs tables drawn from a known Chinchilla law, for the tests of the active choice of runs
(tests/test_fit_design.py, test_fit_suggest.py, test_fit_replay.py): every run complete, its loss
the law's times exp(noise x standard normal), seeded."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sweep.fit.parametric import ChinchillaLaw
from sweep.fit.table import RunsTable, from_rows

TRUE_LAW = ChinchillaLaw(E=1.7, A=400.0, B=410.0, alpha=0.34, beta=0.28)


def law_table(sizes: Sequence[float], tokens_per_param: Sequence[float], noise: float = 0.01,
              seed: int = 0) -> RunsTable:
    """One run per (size, tokens per parameter), named n<N>-r<ratio>."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        for ratio in tokens_per_param:
            tokens = float(n) * ratio
            loss = float(TRUE_LAW.predict(n, tokens)) * float(np.exp(noise * rng.normal()))
            rows.append({"status": "complete", "run": f"n{n:.3g}-r{ratio:g}", "n_params": float(n),
                         "tokens": tokens, "loss": loss})
    return from_rows(rows)
