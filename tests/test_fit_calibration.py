"""sweep/fit/calibration.py: the split-conformal quantile of known errors, which holds a new
exchangeable error with probability at least its stated level."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sweep.fit.calibration import (GAPS, OWN_HALVES, PAIRS, SMALLER, Calibration, calibration, conformal_quantile,
                                   gap_calibration, gap_scores)


def test_the_quantile_is_the_ceil_level_n_plus_1_th_smallest_score():
    scores = list(range(39, 0, -1))  # 1 .. 39, in any order
    assert conformal_quantile(scores, 0.95) == (38, 0.95)  # ceil(0.95 * 40) = 38
    assert conformal_quantile(scores, 0.9) == (36, 0.9)
    assert conformal_quantile(list(range(1, 20)), 0.95) == (19, 0.95)  # n = 19: the largest, at the level asked


def test_too_few_scores_give_the_largest_and_the_level_it_holds_at():
    assert conformal_quantile([0.3, 0.1, 0.2], 0.95) == (0.3, 0.75)  # n / (n + 1)
    assert conformal_quantile([0.02], 0.95) == (0.02, 0.5)


def test_a_new_exchangeable_score_falls_under_the_quantile_at_the_stated_level():
    """20,000 draws of 40 scores from one law: the 41st is under the quantile of the first 40 for
    ceil(0.9 x 41) / 41 = 37 / 41 = 90.2% of the draws (exactly, for continuous scores); one rank
    lower would hold 36 / 41 = 87.8%, 0.024 below, eleven standard errors (0.0021) away."""
    rng = np.random.default_rng(0)
    held = [rng_draw[-1] <= conformal_quantile(rng_draw[:-1], 0.9)[0]
            for rng_draw in np.abs(rng.standard_t(3, size=(20_000, 41)))]
    assert np.mean(held) == pytest.approx(37 / 41, abs=0.007)
    few = [draw[-1] <= conformal_quantile(draw[:-1], 0.95)[0] for draw in rng.exponential(size=(20_000, 5))]
    assert np.mean(few) == pytest.approx(4 / 5, abs=0.01)  # n = 4: the largest holds at 4 / 5, as stated


def test_an_interval_is_widened_to_the_quantile_never_narrowed():
    c = Calibration(fraction=0.25, tried=12, n=10, quantile=0.05, level=10 / 11)
    assert c.widen(4.0, (3.9, 4.1)) == pytest.approx((3.8, 4.2))
    assert c.widen(4.0, (3.5, 4.1)) == pytest.approx((3.5, 4.2))  # the bootstrap's low end was wider already
    assert "calibrated on 10 finished smaller runs at 25.0%: +-5.00%, holds at 91%" == c.describe()
    assert c.to_dict() == {"fraction": 0.25, "tried": 12, "runs": 10, "relative_half_width": 0.05, "level": 10 / 11,
                           "on": SMALLER}
    assert c.measured


def test_runs_tried_but_none_predicted_measure_nothing_and_a_level_outside_0_1_is_refused():
    none = calibration([], 0.95, 0.1, tried=20)
    assert none == Calibration(0.1, 20, 0, None, None) and not none.measured
    assert none.widen(4.0, (3.9, 4.1)) == (3.9, 4.1)
    assert none.describe() == "not calibrated: none of the 20 finished smaller runs could be predicted at 10.0%"
    assert calibration([0.01, 0.03], 0.95, 0.5, tried=3) == Calibration(0.5, 3, 2, 0.03, 2 / 3)
    with pytest.raises(ValueError, match="no scores"):
        conformal_quantile([], 0.95)
    for level in (0, 1, 1.5):
        with pytest.raises(ValueError, match="accepted is 0 < level < 1"):
            conformal_quantile([0.1], level)


def test_a_calibration_on_the_group_s_own_first_halves_says_so():
    own = calibration([0.02, 0.08], 0.95, 0.25, tried=3, on=OWN_HALVES)
    assert (own.n, own.quantile, own.level, own.on) == (2, 0.08, pytest.approx(2 / 3), OWN_HALVES)
    assert own.describe() == "calibrated on its group's 2 curves, each predicted at 25.0% from its first half: " \
                             "+-8.00%, holds at 67%"
    assert own.to_dict()["on"] == "own first halves"
    nothing = calibration([], 0.95, 0.1, tried=3, on=OWN_HALVES)
    assert not nothing.measured and nothing.describe() == ("not calibrated: none of its group's 3 curves could be "
                                                           "predicted at 10.0% from their first halves")


def test_a_calibration_on_finished_pairs_of_smaller_sizes_says_so():
    """The collapse's bands (sweep/fit/predict.py with_references): each finished run of fewer
    parameters predicted from its finished smaller partner."""
    pairs = calibration([0.03, 0.07], 0.95, 0.25, tried=2, on=PAIRS)
    assert pairs.describe() == ("calibrated on 2 finished smaller runs, each predicted from its smaller partner at "
                                "25.0%: +-7.00%, holds at 67%")
    assert pairs.to_dict()["on"] == "finished pairs of smaller sizes"
    nothing = calibration([], 0.95, 0.1, tried=10, on=PAIRS)
    assert not nothing.measured and nothing.describe() == ("not calibrated: none of the 10 finished smaller runs "
                                                           "could be predicted from its smaller partner at 10.0%")


def test_a_gap_score_is_how_far_apart_two_predictions_were_where_stopping_the_higher_would_have_been_wrong():
    """(predicted, final) pairs: the higher prediction over the lower where the higher did not end
    more than the margin above the lower; 0 where it did, however far the gap was overstated (a stop
    there is right); the predicted ratio counted beyond the margin, and never below 0."""
    assert gap_scores([(2.2, 2.0), (3.3, 3.0)]) == [0.0]  # both 10% high, ended in the predicted order
    assert gap_scores([(2.0, 2.0), (2.4, 2.2)]) == [0.0]  # predicted 20% apart, ended 10%: stopping 2.4 is right
    assert gap_scores([(2.0, 2.2), (2.4, 2.2)]) == [pytest.approx(0.2)]  # predicted 20% apart, ended level
    assert gap_scores([(2.0, 2.3), (2.2, 2.2)]) == [pytest.approx(0.1)]  # predicted 10% apart, ended the other way
    assert gap_scores([(2.2, 2.2), (2.0, 2.3)]) == gap_scores([(2.0, 2.3), (2.2, 2.2)])  # the order given is no matter
    assert gap_scores([(2.0, 2.0), (2.4, 2.08)], margin=0.05) == [pytest.approx(1.2 / 1.05 - 1)]  # 4% apart: within
    assert gap_scores([(2.0, 2.2), (2.02, 2.0)], margin=0.05) == [0.0]  # wrong way round, but predicted within it
    assert len(gap_scores([(float(i), float(i)) for i in range(1, 11)])) == 45  # two at a time
    assert gap_scores([(2.0, 2.0)]) == []
    with pytest.raises(ValueError, match="margin=1.5"):
        gap_scores([(2.0, 2.0), (2.4, 2.2)], margin=1.5)


def test_the_gaps_bound_holds_at_its_level_on_gaps_drawn_from_a_known_law():
    """Runs whose predictions err by a factor all of them share and one of each run's own, their
    final losses 10% apart at most (the truth known, and close enough that pairs end in the other
    order): with the gaps between 10 calibration runs, a new draw's pairs are stopped wrongly
    (predicted more than q apart, the higher not ending above the lower) less often than the stated
    10 / 11 allows; the stop is never asked a wider gap than the bound on how far a predicted ratio
    overstates the final one, and acts on more pairs; the error all share cancels: the gap asked is
    far narrower than the single predictions' band."""
    rng = np.random.default_rng(0)

    def draw(n):
        shared = rng.normal(0, 0.05)
        return [(f * (1 + shared + rng.normal(0, 0.03)), f) for f in rng.uniform(2.0, 2.2, n)]

    def stops(pairs, q):  # (acted on, of them stopped wrongly)
        ordered = [sorted(two, reverse=True) for two in itertools.combinations(pairs, 2)]
        acted = [(h, low) for h, low in ordered if h[0] > (1 + q) * low[0]]
        return len(acted), sum(h[1] <= low[1] for h, low in acted)

    held = tried = wrong = acted = acted_overstated = 0
    for _ in range(500):
        calibrating = draw(10)
        gaps = gap_calibration(calibrating, 0.95, 0.25, tried=10)
        assert (gaps.n, gaps.level, gaps.on) == (10, pytest.approx(10 / 11), GAPS)
        overstated = max(0.0, *((h[0] / low[0]) / (h[1] / low[1]) - 1 for h, low in
                                (sorted(two, reverse=True) for two in itertools.combinations(calibrating, 2))))
        assert gaps.quantile <= overstated
        new = draw(10)
        held += sum(s <= gaps.quantile for s in gap_scores(new))
        tried += 45
        n_acted, n_wrong = stops(new, gaps.quantile)
        acted, wrong = acted + n_acted, wrong + n_wrong
        acted_overstated += stops(new, overstated)[0]
    assert held / tried >= 10 / 11 and wrong / tried <= 1 / 11
    assert acted > 1.5 * acted_overstated
    band = calibration([abs(p - f) / p for p, f in draw(10)], 0.95, 0.25, tried=10, on=PAIRS)
    assert gaps.quantile < band.quantile / 2


def test_with_enough_runs_the_gaps_bound_is_the_quantile_at_the_runs_level_not_the_largest():
    replayed = [(2.0 + 0.01 * i, 2.0 + 0.01 * i * (1 + 0.1 * (i % 3))) for i in range(1, 41)]  # 40 runs, 780 gaps
    gaps = gap_calibration(replayed, 0.95, 0.5, tried=40)
    scores = sorted(gap_scores(replayed))
    k = math.ceil(0.95 * 41)  # 39 of 41
    assert (gaps.n, gaps.level) == (40, 0.95)
    assert gaps.quantile == scores[math.ceil(k / 41 * len(scores)) - 1] < scores[-1]
    assert not gap_calibration([(2.0, 2.1)], 0.95, 0.5, tried=3).measured  # one run: no gap


def test_a_calibration_of_gaps_says_what_it_bounds_and_where_it_could_not():
    gaps = gap_calibration([(2.0, 2.1), (2.2, 2.1), (2.5, 2.4)], 0.95, 0.25, tried=3)  # 2.2 ended level with 2.0
    assert gaps.quantile == pytest.approx(max(gap_scores([(2.0, 2.1), (2.2, 2.1), (2.5, 2.4)]))) == pytest.approx(0.1)
    assert gaps.describe() == ("calibrated on the gaps between 3 finished smaller runs, each predicted from its smaller "
                               f"partner at 25.0%: two predicted more than {gaps.quantile:+.2%} apart end in that order, "
                               "holds at 75%")
    at_margin = gap_calibration([(2.0, 2.0), (2.2, 2.09), (2.5, 2.4)], 0.95, 0.25, tried=3, margin=0.05)
    assert at_margin.quantile == pytest.approx(2.2 / 2.0 / 1.05 - 1)  # 2.2 ends 4.5% above 2.0: within the margin
    assert "more than +4.76% beyond the margin 5.00% apart end more than the margin apart" in at_margin.describe()
    assert at_margin.to_dict()["margin"] == 0.05 and "margin" not in calibration([0.1], 0.9, 0.25, 1).to_dict()
    assert gaps.to_dict()["on"] == "gaps between finished runs of a smaller size"
    nothing = gap_calibration([], 0.95, 0.1, tried=10)
    assert not nothing.measured and nothing.describe() == ("not calibrated: fewer than two of the 10 finished smaller "
                                                           "runs could be predicted from their smaller partners at 10.0%")
