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

Early stopping compares two runs, so what it needs is how far apart two predictions can be and the
higher still not end above the lower by the margin (gap_scores): errors that two runs share (a
reference size's own noise, a plateau both pass at about the same time) cancel in their ratio, and
only a pair that a stop would get wrong counts. Two bands q that must not overlap ask a gap of
(1 + q) / (1 - q) - 1; on real text at 10% of a d64 run that is 47-55%, where the bound on how far
a predicted ratio overstated the final one was 9-15% (benchmarks/RESULTS.md "Two members compared by
their calibrated gap") and the gap beyond which a stop was never wrong 1-9% ("The gaps scored by the
stops they would get wrong").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


SMALLER = "finished smaller runs"  # Calibration.on: the sweep's finished runs of fewer parameters, replayed
OWN_HALVES = "own first halves"  # the budget group's curves, each predicting its own loss at F from its first F / 2
PAIRS = "finished pairs of smaller sizes"  # the collapse's: finished runs of fewer parameters, each predicted from
# its finished smaller partner (sweep/fit/predict.py with_references)
GAPS = "gaps between finished runs of a smaller size"  # the same runs' predictions taken two at a time: how far
# apart two predictions were where stopping the higher would have been wrong (gap_scores)


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
    `n` such runs, two at a time, at early_stop.margin `margin`: gap_calibration; `quantile` is how far
    beyond the margin a predicted ratio of a higher to a lower prediction must go for stopping the
    higher to be wrong no more often than `level`)."""

    fraction: float
    tried: int
    n: int
    quantile: float | None
    level: float | None
    on: str = SMALLER
    margin: float = 0.0  # GAPS: the margin the gaps are calibrated for

    @property
    def measured(self) -> bool:
        return self.n > 0

    def widen(self, predicted: float, interval: tuple[float, float]) -> tuple[float, float]:
        """`interval` widened, never narrowed, to hold predicted (1 -+ quantile); as it is with n = 0."""
        if self.quantile is None:
            return interval
        return (min(interval[0], predicted * (1 - self.quantile)), max(interval[1], predicted * (1 + self.quantile)))

    def to_dict(self) -> dict:
        out = {"fraction": self.fraction, "tried": self.tried, "runs": self.n, "relative_half_width": self.quantile,
               "level": self.level, "on": self.on}
        return {**out, "margin": self.margin} if self.on == GAPS else out

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
            ends = (f"more than {self.quantile:+.2%} beyond the margin {self.margin:.2%} apart end more than the "
                    "margin apart") if self.margin else f"more than {self.quantile:+.2%} apart end in that order"
            return (f"calibrated on the gaps between {self.n} finished smaller runs, each predicted from its smaller "
                    f"partner at {self.fraction:.1%}: two predicted {ends}, holds at {self.level:.0%}")
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


def gap_scores(pairs: Sequence[tuple[float, float]], margin: float = 0.0) -> list[float]:
    """For each two of the (predicted, final) `pairs`, the higher prediction h and the lower l: how far
    beyond the margin their predicted ratio went where stopping h for l would have been wrong, that
    is where h did not end more than the margin above l (F_h / F_l <= 1 + margin):
    max(0, (P_h / P_l) / (1 + margin) - 1); 0 for a pair that ended as far apart as the margin asks
    (stopping h there is right at any predicted gap). A quantile q of these (gap_calibration) is the
    predicted gap beyond which a new pair is stopped wrongly no more often than its level says:
    P_s / P_b > (1 + q) (1 + margin) says F_s / F_b > 1 + margin. Only the pairs a stop would get
    wrong score: a pair predicted apart that ended apart, however far its predicted ratio overstated
    the final one, cannot stop a run wrongly (on real text at 10% of a d48 run the largest
    overstatement, 14-22% in two seeds, came from two runs predicted 1% apart on their plateau that
    ended 20% apart the other way: benchmarks/RESULTS.md "The gaps scored by the stops they would
    get wrong")."""
    if not 0 <= margin < 1:
        raise ValueError(f"margin={margin!r}: accepted is a relative margin in [0, 1)")
    out = []
    for a, (p_a, f_a) in enumerate(pairs):
        for p_b, f_b in pairs[a + 1:]:
            (p_h, f_h), (p_l, f_l) = ((p_a, f_a), (p_b, f_b)) if p_a >= p_b else ((p_b, f_b), (p_a, f_a))
            wrong = f_h <= (1 + margin) * f_l
            out.append(max(0.0, p_h / p_l / (1 + margin) - 1) if wrong else 0.0)
    return out


def gap_calibration(replayed: Sequence[tuple[float, float]], level: float, fraction: float, tried: int,
                    margin: float = 0.0) -> Calibration:
    """The calibration of the gaps between two predictions (GAPS) from the (predicted, final) of the
    runs replayed, at early_stop.margin `margin`: the quantile of their gap_scores at k / (m + 1),
    k = ceil(level (m + 1)), m the runs (not the m (m - 1) / 2 pairs: pairs of the same runs are not
    independent, and counted as exchangeable scores they hold less often than they claim); where
    k > m, the largest score, holding at m / (m + 1). On runs drawn from a known law (two errors,
    one shared by all runs and one of each run's own; tests/test_fit_calibration.py) a new draw's
    pairs were stopped wrongly less often than 1 - level."""
    scores = sorted(gap_scores(replayed, margin))
    if not scores:
        return Calibration(fraction, tried, 0, None, None, GAPS, margin)
    m = len(replayed)
    k = math.ceil(level * (m + 1) - 1e-12)
    if k > m:
        return Calibration(fraction, tried, m, scores[-1], m / (m + 1), GAPS, margin)
    return Calibration(fraction, tried, m, scores[math.ceil(k / (m + 1) * len(scores) - 1e-12) - 1], level, GAPS,
                       margin)
