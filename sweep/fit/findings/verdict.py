"""What a finding's check returns, and the one noise rule every verdict uses.

A finding (a claim of a paper, README "Reproducing the papers") is checked on the runs that test it
and gets one of three verdicts: it held, it did not hold, or these runs cannot tell. Each check
states its rule in words (`Finding.rule`, printed in the report) and the numbers behind the
verdict with their uncertainty.

The noise rule (sweep/fit/noise.py, shared with the hyperparameter laws): two losses differ when
their difference exceeds `Z` combined standard errors, |a - b| > Z sqrt(se_a^2 + se_b^2), the
standard errors being each run's eval standard error. A run without one counts with
`FALLBACK_RELATIVE_STDERR` of its loss, said in the finding's numbers. An interval (an optimum's,
a fitted exponent's) separates two values when the two do not overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

HELD, NOT_HELD, CANNOT_TELL = "held", "did not hold", "cannot tell from these runs"
VERDICTS = (HELD, NOT_HELD, CANNOT_TELL)


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


def intervals_apart(x: tuple[float, float], y: tuple[float, float]) -> bool:
    """Whether two intervals [lo, hi] do not overlap."""
    return x[1] < y[0] or y[1] < x[0]
