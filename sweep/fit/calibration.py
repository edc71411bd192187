"""Split-conformal calibration of a predictor's intervals against runs whose answer is known.

The curve law's bootstrap interval (sweep/fit/curve_law.py) measures how well the law fits the
records seen, not how far the law's extrapolation can miss: from 10-50% of a run it held the final
loss for 53-80% of the runs on the early-stopping benchmark's six grids (benchmarks/RESULTS.md
"Calibrated on the finished smaller runs"). Finished runs say how far it misses: replayed at the same fraction of
their steps, each gives a score s = |predicted - actual| / predicted. With n scores, the
k-th smallest, k = ceil(level (n + 1)), is a relative half-width q such that a new run whose score
is exchangeable with them has |predicted - actual| <= q predicted with probability at least level
(Vovk et al. 2005; Angelopoulos and Bates 2021, "A gentle introduction to conformal prediction").
With too few scores for that k (n < level / (1 - level): 19 at 95%) the largest is used, which
holds with probability at least n / (n + 1), the level that is then stated.

Which runs are exchangeable with which is the caller's claim (sweep/fit/predict.py: a sweep's
finished smaller runs, which in a sweep finish first). Where there are such runs but the predictor
can predict none of them at that fraction, there is no measure of its error there, and the
Calibration says so (n = 0) rather than leaving the interval as if nothing had been tried.

Early stopping compares two runs, so what it needs is how far the gap between two predictions can
overstate the gap between their final losses (gap_scores): errors that two runs share (a reference
size's own noise, a plateau both pass at about the same time) cancel in it, and only one side of it
can stop a run wrongly. Two bands q that must not overlap ask a gap of (1 + q) / (1 - q) - 1; on
real text at 10% of a d64 run that is 47-55%, where this bound is 9-15% (benchmarks/RESULTS.md "Two
members compared by their calibrated gap").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


SMALLER = "finished smaller runs"  # Calibration.on: the sweep's finished runs of fewer parameters, replayed
OWN_HALVES = "own first halves"  # the budget group's curves, each predicting its own loss at F from its first F / 2
PAIRS = "finished pairs of smaller sizes"  # the collapse's: finished runs of fewer parameters, each predicted from
# its finished smaller partner (sweep/fit/predict.py with_references)
GAPS = "gaps between finished runs of a smaller size"  # the same runs' predictions taken two at a time: how far the
# predicted ratio of the higher to the lower overstates the final one (gap_scores)


@dataclass(frozen=True)
class Calibration:
    """Of `tried` finished runs replayed at `fraction` of their steps, the `n` the predictor could
    predict give the relative half-width `quantile`, which holds with probability at least `level`
    (n / (n + 1) where n is too small for the level asked). n = 0: none could be predicted, no
    quantile, no level: the interval has no measure of the predictor's error. `on` says what was
    replayed: SMALLER, or OWN_HALVES (`tried` curves of the run's budget group, each predicting its
    eval loss at `fraction` of its steps from the records up to half of that), or PAIRS (`tried`
    finished runs of fewer parameters than the run, each predicted by the collapse from its finished
    smaller partner, seen up to `fraction` of its steps), or GAPS (the gaps between the predictions of
    `n` such runs, two at a time: gap_calibration; `quantile` bounds, one-sided, how far a predicted
    ratio of a higher to a lower prediction overstates the final ratio, and may be negative where
    every pair understated it)."""

    fraction: float
    tried: int
    n: int
    quantile: float | None
    level: float | None
    on: str = SMALLER

    @property
    def measured(self) -> bool:
        return self.n > 0

    def widen(self, predicted: float, interval: tuple[float, float]) -> tuple[float, float]:
        """`interval` widened, never narrowed, to hold predicted (1 -+ quantile); as it is with n = 0."""
        if self.quantile is None:
            return interval
        return (min(interval[0], predicted * (1 - self.quantile)), max(interval[1], predicted * (1 + self.quantile)))

    def to_dict(self) -> dict:
        return {"fraction": self.fraction, "tried": self.tried, "runs": self.n, "relative_half_width": self.quantile,
                "level": self.level, "on": self.on}

    def describe(self) -> str:
        if self.on == OWN_HALVES:
            if not self.measured:
                return (f"not calibrated: none of its group's {self.tried} curves could be predicted at "
                        f"{self.fraction:.1%} from their first halves")
            return (f"calibrated on its group's {self.n} curve{'s' if self.n != 1 else ''}, each predicted at "
                    f"{self.fraction:.1%} from its first half: +-{self.quantile:.2%}, holds at {self.level:.0%}")
        if self.on == GAPS:
            if not self.measured:
                return (f"not calibrated: fewer than two of the {self.tried} finished smaller runs could be predicted "
                        f"from their smaller partners at {self.fraction:.1%}")
            return (f"calibrated on the gaps between {self.n} finished smaller runs, each predicted from its smaller "
                    f"partner at {self.fraction:.1%}: a predicted ratio overstates the final one by at most "
                    f"{self.quantile:+.2%}, holds at {self.level:.0%}")
        if self.on == PAIRS:
            if not self.measured:
                runs = f"finished smaller run{'s' if self.tried != 1 else ''}"
                return (f"not calibrated: none of the {self.tried} {runs} could be predicted from its smaller partner "
                        f"at {self.fraction:.1%}")
            return (f"calibrated on {self.n} finished smaller run{'s' if self.n != 1 else ''}, each predicted from its "
                    f"smaller partner at {self.fraction:.1%}: +-{self.quantile:.2%}, holds at {self.level:.0%}")
        if not self.measured:
            return (f"not calibrated: none of the {self.tried} finished smaller run{'s' if self.tried != 1 else ''} "
                    f"could be predicted at {self.fraction:.1%}")
        return (f"calibrated on {self.n} finished smaller run{'s' if self.n != 1 else ''} at {self.fraction:.1%}: "
                f"+-{self.quantile:.2%}, holds at {self.level:.0%}")


def conformal_quantile(scores: Sequence[float], level: float) -> tuple[float, float]:
    """(q, the level q holds at): the ceil(level (n + 1))-th smallest of the n `scores`, or the
    largest with n / (n + 1) where n is too small. ValueError for no scores or a level outside (0, 1)."""
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: accepted is 0 < level < 1")
    ordered = sorted(float(s) for s in scores)
    n = len(ordered)
    if n == 0:
        raise ValueError("conformal_quantile: no scores")
    k = math.ceil(level * (n + 1) - 1e-12)
    return (ordered[k - 1], level) if k <= n else (ordered[-1], n / (n + 1))


def calibration(scores: Sequence[float], level: float, fraction: float, tried: int, on: str = SMALLER) -> Calibration:
    """The Calibration from the `scores` of the runs predicted among `tried` replayed (n = 0 for none)."""
    if not scores:
        return Calibration(fraction, tried, 0, None, None, on)
    quantile, holds = conformal_quantile(scores, level)
    return Calibration(fraction, tried, len(scores), quantile, holds, on)


def gap_scores(pairs: Sequence[tuple[float, float]]) -> list[float]:
    """For each two of the (predicted, final) `pairs`, the higher prediction h and the lower l: how far
    their predicted ratio overstates their final one, (P_h / P_l) / (F_h / F_l) - 1 (negative where
    it understates it). A quantile q of these (gap_calibration) bounds one-sided how far a new pair's
    predicted ratio overstates its final one: P_s / P_b > (1 + q) (1 + m) says F_s / F_b > 1 + m."""
    out = []
    for a, (p_a, f_a) in enumerate(pairs):
        for p_b, f_b in pairs[a + 1:]:
            (p_h, f_h), (p_l, f_l) = ((p_a, f_a), (p_b, f_b)) if p_a >= p_b else ((p_b, f_b), (p_a, f_a))
            out.append((p_h / p_l) / (f_h / f_l) - 1)
    return out


def gap_calibration(replayed: Sequence[tuple[float, float]], level: float, fraction: float, tried: int) -> Calibration:
    """The calibration of the gaps between two predictions (GAPS) from the (predicted, final) of the
    runs replayed: the quantile of their gap_scores at k / (m + 1), k = ceil(level (m + 1)), m the
    runs (not the m (m - 1) / 2 pairs: pairs of the same runs are not independent, and counted as
    exchangeable scores they hold less often than they claim); where k > m, the largest score,
    holding at m / (m + 1). On gaps drawn from a known law (two errors, one shared by all runs and
    one of each run's own; 2000 draws of 10 runs, tests/test_fit_calibration.py) the largest of the
    45 gaps held 95.4% of a new draw's, the 2nd largest (the pairs' own 95% quantile) 93.3%."""
    scores = sorted(gap_scores(replayed))
    if not scores:
        return Calibration(fraction, tried, 0, None, None, GAPS)
    m = len(replayed)
    k = math.ceil(level * (m + 1) - 1e-12)
    if k > m:
        return Calibration(fraction, tried, m, scores[-1], m / (m + 1), GAPS)
    return Calibration(fraction, tried, m, scores[math.ceil(k / (m + 1) * len(scores) - 1e-12) - 1], level, GAPS)
