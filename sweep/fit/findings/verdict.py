"""What a finding's check returns, and the one noise rule every verdict uses.

A finding (a claim of a paper, README "Reproducing the papers") is checked on the runs that test it
and gets one of three verdicts: it held, it did not hold, or these runs cannot tell. Each check
states its rule in words (`Finding.rule`, printed in the report) and the numbers behind the
verdict with their uncertainty.

The noise rule: two losses differ when their difference exceeds `Z` combined standard errors,
|a - b| > Z sqrt(se_a^2 + se_b^2), the standard errors being each run's eval standard error
(result.json's final_eval_loss_stderr: the spread of the held-out loss over eval batches, divided by
sqrt(batches)). A run without one counts with `FALLBACK_RELATIVE_STDERR` of its loss, said in the
finding's numbers. An interval (an optimum's, a fitted exponent's) separates two values when the
two do not overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

HELD, NOT_HELD, CANNOT_TELL = "held", "did not hold", "cannot tell from these runs"
VERDICTS = (HELD, NOT_HELD, CANNOT_TELL)
Z = 2.0  # standard errors a difference must exceed to count
FALLBACK_RELATIVE_STDERR = 0.002  # a run's eval standard error when it has none recorded: 0.2% of its loss


@dataclass(frozen=True)
class Finding:
    """One finding checked on a runs table.

    `name`: the preset's name (conf/experiment/NAME.yaml); `claim`: the paper's finding in one
    sentence; `rule`: the verdict rule in words; `verdict`: one of VERDICTS; `because`: one
    sentence with the numbers that decided it; `rows`/`header`: the numbers behind it (each with
    its uncertainty) as a table; `draw`: a function returning its figure (a matplotlib Figure, drawn as
    sweep/fit/figures.py draws: no pyplot), None when it has none; `details`: the same numbers for fits.json."""

    name: str
    claim: str
    rule: str
    verdict: str
    because: str
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    draw: Callable[[], Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: accepted: {', '.join(VERDICTS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "claim": self.claim, "rule": self.rule, "verdict": self.verdict,
                "because": self.because, "details": self.details}


def stderr_or_fallback(loss: float, stderr: float | None) -> float:
    """A run's eval standard error, or FALLBACK_RELATIVE_STDERR of its loss when none is known."""
    if stderr is None or not math.isfinite(stderr) or stderr <= 0:
        return FALLBACK_RELATIVE_STDERR * abs(loss)
    return float(stderr)


def combined(se_a: float, se_b: float) -> float:
    return math.hypot(se_a, se_b)


def lower_by(a: float, se_a: float, b: float, se_b: float) -> bool:
    """Whether loss `a` is below loss `b` beyond the noise rule (b - a > Z combined stderr)."""
    return b - a > Z * combined(se_a, se_b)


def same_within_noise(a: float, se_a: float, b: float, se_b: float) -> bool:
    return abs(a - b) <= Z * combined(se_a, se_b)


def intervals_apart(x: tuple[float, float], y: tuple[float, float]) -> bool:
    """Whether two intervals [lo, hi] do not overlap."""
    return x[1] < y[0] or y[1] < x[0]
