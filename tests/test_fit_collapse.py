"""sweep/fit/collapse.py: a run's final eval loss from a finished run of another size, by the
collapse of their curves above the floor E; the band's parts; what cannot be predicted."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.errors import ConfigError
from sweep.fit.collapse import (MIN_FLOOR_PAIRS, CollapseError, EvalCurve, area_matched, calibrate_floor, check_floor,
                                collapse_ratio, predict_by_collapse)

E = 3.0


def universal(f):
    """The shape every size shares: (L(f) - E) / (L(1) - E), 1 at the end of training."""
    return 1 + 2.0 * (1 - np.asarray(f, dtype=float)) ** 2


def run_of(name, steps, reducible, every=25, until=None, noise=0.0, seed=0):
    """A run of `steps` whose reducible loss ends at `reducible`, eval every `every` steps."""
    steps_J = np.arange(every, steps + 1, every)
    loss_J = E + reducible * universal(steps_J / steps)
    loss_J = loss_J + np.random.default_rng(seed).normal(0, noise, len(loss_J))
    final = float(E + reducible)
    if until is not None:
        keep = steps_J <= until
        return EvalCurve(name, steps_J[keep].tolist(), loss_J[keep].tolist(), steps, None)
    return EvalCurve(name, steps_J.tolist(), loss_J.tolist(), steps, final)


def test_on_curves_that_collapse_exactly_the_final_loss_is_recovered_from_a_quarter():
    reference = run_of("d32", 640, 0.8)
    seen = run_of("d48", 1300, 0.5, until=325)
    p = predict_by_collapse(seen, reference, E, min_band=0.01, level=0.95)
    assert p.predicted == pytest.approx(E + 0.5, rel=1e-4)  # the reference read linearly between its records
    assert p.ratio == pytest.approx(0.5 / 0.8, rel=1e-3)
    assert p.steps_seen == 325 and p.fraction_seen == pytest.approx(0.25)
    assert p.band_from == "min_band"  # no drift: the ratio is the same at every record
    assert p.interval == pytest.approx((p.predicted * 0.99, p.predicted * 1.01))
    assert p.to_dict()["method"] == "collapse" and p.to_dict()["reference"] == "d32"
    # seen up to a step past its last eval record (a probe step between two evals): seen there, read at the eval
    later = predict_by_collapse(seen, reference, E, min_band=0.01, level=0.95, seen_until=330)
    assert later.steps_seen == 330 and later.ratio_step == 325 and later.predicted == p.predicted


def test_a_floor_below_the_truth_biases_the_prediction_and_the_ratio_drifts():
    reference = run_of("d32", 640, 0.8)
    seen = run_of("d48", 1300, 0.5, until=325)
    exact = predict_by_collapse(seen, reference, E, min_band=0.0, level=0.95)
    plain = predict_by_collapse(seen, reference, 0.0, min_band=0.0, level=0.95)
    # with E = 0 the ratio of whole losses falls as the curves do: not constant, so it drifts
    assert plain.predicted != pytest.approx(exact.predicted, rel=1e-3)
    assert plain.band_from == "drift" and plain.interval[1] - plain.interval[0] > 0
    k_last, last, ks = collapse_ratio(seen, reference, 0.0)
    assert last == 325 and ks[-1] == k_last and len(ks) == len([s for s in range(25, 326, 25) if s >= 162.5])


def test_the_error_one_size_down_sets_the_band_where_it_is_larger():
    smallest = run_of("d16", 200, 1.6)
    reference = run_of("d32", 640, 0.8)
    # the reference lags the shape early on: predicted from d16 at 25% it comes out 3% high
    bent = EvalCurve("d32", reference.steps_J, [loss * (1.03 if step <= 200 else 1.0)
                                                   for step, loss in zip(reference.steps_J, reference.loss_J)],
                     640, reference.final)
    seen = run_of("d48", 1300, 0.5, until=325)
    p = predict_by_collapse(seen, bent, E, min_band=0.01, level=0.95, reference_of_reference=smallest)
    assert p.band_from == "one size down" and p.one_size_down > 0.01
    lo, hi = p.interval
    assert hi - p.predicted == pytest.approx(p.one_size_down * p.predicted)


def test_where_the_smallest_size_is_still_warming_up_the_error_one_size_down_is_read_later_and_widens_the_band():
    """The d32 reference runs 3% above the shared shape until step 200: from d16 (warming up for 50
    of its 200 steps) it comes out 3% high at 25%, where d16 can first be read. A d48 run seen at 10%
    gets that error as its band, not the 1% a band without it would claim."""
    from dataclasses import replace

    d16 = replace(run_of("d16", 200, 1.6, every=5), warmup=50)
    reference = run_of("d32", 640, 0.8, every=5)
    bent = EvalCurve("d32", reference.steps_J, [loss * (1.03 if step <= 200 else 1.0)
                                                   for step, loss in zip(reference.steps_J, reference.loss_J)],
                     640, reference.final, warmup=50)
    seen = replace(run_of("d48", 1300, 0.5, every=5, until=130), warmup=50)
    p = predict_by_collapse(seen, bent, E, min_band=0.01, level=0.95, reference_of_reference=d16)
    assert p.one_size_down_at == 0.25 and p.band_from == "one size down"
    d32_at, d16_at = 1.03 * (E + 0.8 * universal(0.25)), E + 1.6 * universal(0.25)  # both read at 25%
    assert p.one_size_down == pytest.approx((E + (d32_at - E) / (d16_at - E) * 1.6) / (E + 0.8) - 1, rel=1e-3)
    assert p.interval[1] - p.predicted == pytest.approx(p.one_size_down * p.predicted)
    assert p.one_size_down > 0.015  # against the 1% of min_band that the band would be without it
    assert p.to_dict()["one_size_down_at"] == 0.25


def test_a_curve_not_yet_below_a_uniform_guess_is_on_its_plateau_and_neither_predicts_nor_is_predicted():
    """ln V (`uniform`) of 4.5: at 25% the d32 reference's eval loss is 4.7, still on the plateau
    from which runs leave at different times; the d48 run (4.06) is below it."""
    from dataclasses import replace

    reference = replace(run_of("d32", 640, 0.8), uniform=4.5)
    seen = replace(run_of("d48", 1300, 0.5, until=325), uniform=4.5)
    with pytest.raises(CollapseError, match=r"d32 has not left its initial plateau at 25.0% of its 640 steps: its eval "
                                            r"loss there, 4.70\d*, is not below ln V = 4.5"):
        predict_by_collapse(seen, reference, E, min_band=0.01, level=0.95)
    with pytest.raises(CollapseError, match="d48 has not left its initial plateau"):
        predict_by_collapse(replace(seen, uniform=4.0), replace(reference, uniform=None), E, min_band=0.01, level=0.95)
    later = replace(run_of("d48", 1300, 0.5, until=650), uniform=4.5)  # at 50% the reference is at 4.2
    assert predict_by_collapse(later, reference, E, min_band=0.01, level=0.95).predicted == pytest.approx(3.5, rel=1e-4)


def test_a_smaller_run_still_on_its_plateau_measures_no_error_one_size_down():
    """d16 ends on its plateau (above ln V all along): its error predicting d32, however large, is
    not the method's error for d48 from d32, which have both learned; the band is the drift or 1%."""
    from dataclasses import replace

    smallest = replace(run_of("d16", 200, 1.6), uniform=4.5)  # 4.6 at its end, 6.4 at 25%
    reference = replace(run_of("d32", 640, 0.8), uniform=6.0)
    bent = replace(reference, loss_J=[loss * (1.03 if step <= 200 else 1.0)
                                      for step, loss in zip(reference.steps_J, reference.loss_J)])
    seen = replace(run_of("d48", 1300, 0.5, until=325), uniform=6.0)
    p = predict_by_collapse(seen, bent, E, min_band=0.01, level=0.95, reference_of_reference=smallest)
    assert p.one_size_down is None and p.band_from == "min_band"
    counted = predict_by_collapse(seen, bent, E, min_band=0.01, level=0.95,
                                  reference_of_reference=replace(smallest, uniform=None))
    assert counted.band_from == "one size down"  # the same smaller run, not known to be on its plateau


def test_what_cannot_be_predicted_says_why():
    reference = run_of("d32", 640, 0.8)
    with pytest.raises(CollapseError, match="no eval_loss record yet"):
        predict_by_collapse(EvalCurve("d48", [], [], 1300), reference, E, min_band=0.01, level=0.95)
    seen = run_of("d48", 1300, 0.5, until=325)
    with pytest.raises(CollapseError, match="floor E = 3.9: accepted is 0 <= E < the reference's final"):
        predict_by_collapse(seen, reference, 3.9, min_band=0.01, level=0.95)
    running = run_of("d32", 640, 0.8, until=300)
    with pytest.raises(CollapseError, match="reference d32 has no final eval loss"):
        predict_by_collapse(seen, running, E, min_band=0.01, level=0.95)
    early = run_of("d48", 1300, 0.5, every=10, until=20)  # f = 1.5%: before the reference's first eval record
    with pytest.raises(CollapseError, match=r"reference d32 has no eval record by step 10 \(1.5% of its 640 steps"):
        predict_by_collapse(early, reference, E, min_band=0.01, level=0.95)


@pytest.mark.parametrize("bad", ["abc", -1.0, float("nan"), True, "inf"])
def test_a_floor_is_a_number_at_least_0_or_true(bad):
    with pytest.raises(ConfigError, match="--floor .*accepted is the irreducible loss E in nats/token"):
        check_floor(bad)
    with pytest.raises(ConfigError, match="early_stop.floor=.*accepted is the irreducible loss E"):
        check_floor(bad, "early_stop.floor")
    assert check_floor("2.5") == 2.5 and check_floor(0) == 0.0 and check_floor("true") == "true"
    assert check_floor("auto") == "auto" and check_floor(" Auto ") == "auto"
    assert check_floor(None) is None


def test_an_auto_floor_is_the_e_that_best_predicts_the_finished_pairs_one_size_down():
    """Four settings (say learning rates) whose d16 and d32 runs finished: each d32 predicted from
    its d16 partner at a quarter is exact only at the true E = 3, so calibration finds it; then
    the d48 runs are predicted with it as with the true E."""
    pairs = [(run_of(f"d32-{i}", 640, reducible, seed=i), run_of(f"d16-{i}", 200, 1.6 * reducible, seed=i))
             for i, reducible in enumerate((0.5, 0.7, 0.9, 1.2))]
    calibration = calibrate_floor(pairs, 0.25)
    assert calibration.floor == pytest.approx(E, abs=0.01) and calibration.pairs == 4
    assert calibration.fraction == 0.25 and calibration.median_error < 1e-3
    assert "calibrated on 4 finished pairs one size down at 25%" in calibration.describe()
    seen = run_of("d48", 1300, 0.4, until=325)
    p = predict_by_collapse(seen, pairs[0][0], calibration.floor, min_band=0.0, level=0.95)
    assert p.predicted == pytest.approx(E + 0.4, rel=1e-3)


def test_an_auto_floor_is_calibrated_where_every_pair_has_a_record_and_needs_enough_pairs():
    pairs = [(run_of(f"d32-{i}", 640, r), run_of(f"d16-{i}", 200, 1.6 * r, every=50)) for i, r in enumerate((0.5, 1.0, 2.0))]
    assert calibrate_floor(pairs, 0.1).fraction == 0.25  # d16's first eval record is at step 50 of 200
    assert calibrate_floor(pairs, 0.1).floor == pytest.approx(E, abs=0.01)
    unfinished = run_of("d32-x", 640, 0.5, until=300)
    with pytest.raises(CollapseError,
                       match=f"found 2 finished pairs one size down, at least {MIN_FLOOR_PAIRS} are needed"):
        calibrate_floor([*pairs[:2], (unfinished, pairs[2][1])], 0.25)


def test_a_run_or_reference_still_in_its_warmup_where_the_run_is_read_is_not_predicted_there():
    """Warmups of 50 steps: at 10% a d16 run of 200 steps is still in its warmup, a d32 one of 640
    past it; the d32 run is not predicted from d16 there, and d16 -> d32 measures the error one
    size down for d48 at the first of d32's eval records where d16 is past its warmup (25%)."""
    from dataclasses import replace

    d16 = replace(run_of("d16", 200, 1.0, every=5), warmup=50)
    d32 = replace(run_of("d32", 640, 0.8, every=5), warmup=50)
    d32_seen = replace(run_of("d32", 640, 0.8, every=5, until=60), warmup=50)
    with pytest.raises(CollapseError, match=r"reference d16 is still in its warmup \(50 steps\) at 9.4% of its 200"):
        predict_by_collapse(d32_seen, d16, E, min_band=0.01, level=0.95)
    d48_seen = replace(run_of("d48", 1300, 0.5, every=5, until=130), warmup=50)
    p = predict_by_collapse(d48_seen, d32, E, min_band=0.01, level=0.95, reference_of_reference=d16)
    assert p.predicted == pytest.approx(E + 0.5, rel=1e-3)
    assert p.one_size_down == pytest.approx(0.0, abs=1e-9) and p.one_size_down_at == 0.25
    with pytest.raises(CollapseError, match="the run is still in its warmup"):
        predict_by_collapse(replace(d48_seen, warmup=200), d32, E, min_band=0.01, level=0.95)
    pairs = [(replace(run_of(f"d32-{i}", 640, r, every=5), warmup=50),
              replace(run_of(f"d16-{i}", 200, 1.6 * r, every=5), warmup=50)) for i, r in enumerate((0.5, 1.0, 2.0))]
    assert calibrate_floor(pairs, 0.1).fraction == 0.25  # past d16's warmup: step 50 of 200


def test_an_auto_floor_that_runs_up_to_the_lowest_loss_is_refused_and_runs_that_no_longer_fall_do_not_count():
    """Larger runs that fall by 0.1 after a quarter while their partners fall by 1.5 or more do not
    collapse onto them: the nearer E is to the losses, the smaller the error even against the
    descent, so the best E is the lowest loss read, which is no floor. Runs flat after the quarter
    have no descent to measure against and leave too few pairs."""
    def falling(name, steps, start, final):
        steps_J = list(range(25, steps + 1, 25))
        return EvalCurve(name, steps_J, np.interp(steps_J, [25, steps], [start, final]).tolist(), steps, final)

    pairs = [(falling(f"d32-{i}", 640, 3.35 + 0.1 * i, 3.2 + 0.1 * i), falling(f"d16-{i}", 200, 6.0 + i, 3.25 + 0.1 * i))
             for i in range(3)]
    with pytest.raises(CollapseError, match="runs up to the lowest loss read .*do not collapse above a floor below it"):
        calibrate_floor(pairs, 0.25)
    flat = [(falling(f"d32-{i}", 640, 3.2 + 0.1 * i, 3.2 + 0.1 * i), partner) for i, (_, partner) in enumerate(pairs)]
    with pytest.raises(CollapseError, match="found 0 finished pairs one size down"):
        calibrate_floor(flat, 0.25)


def run_by_area(name, steps, lr, reducible, every=25, until=None):
    """A run whose reducible loss falls with the learning rate summed so far, lr x step (a flat
    schedule's), from 3x its end: its shape in the fraction of its steps depends on lr x steps."""
    steps_J = np.arange(every, steps + 1, every)
    area_end = lr * steps
    shape = lambda area: 1 + 2.0 * np.exp(-area / 0.5)  # noqa: E731
    loss_J = E + reducible * shape(lr * steps_J) / shape(area_end)
    keep = steps_J <= (until if until is not None else steps)
    return EvalCurve(name, steps_J[keep].tolist(), loss_J[keep].tolist(), steps,
                     None if until is not None else float(E + reducible))


def test_the_reference_matched_by_summed_learning_rate_is_the_smaller_size_at_lr_times_the_step_ratio():
    references = [(lr, run_by_area(f"d32-lr{lr:g}", 650, lr, 0.8)) for lr in (1e-3, 2e-3, 4e-3, 8e-3)]
    curve, lr = area_matched(references, 2e-3, 1300)  # twice the steps: the reference at twice the lr
    assert lr == pytest.approx(4e-3) and curve is references[2][1]
    # between two references: log loss linear in log lr, so half way in log lr the geometric mean
    curve, lr = area_matched(references, 1e-3 * 2 ** 0.5, 1300)
    a, b = references[1][1], references[2][1]
    assert lr == pytest.approx(2e-3 * 2 ** 0.5) and "interpolated" in curve.name
    assert curve.loss_J == pytest.approx(np.sqrt(np.multiply(a.loss_J, b.loss_J)).tolist())
    assert curve.final == pytest.approx((a.final * b.final) ** 0.5) and curve.steps == 650
    # outside the references' lrs: the nearest as it is, never extrapolated
    assert area_matched(references, 8e-3, 1300) == (references[3][1], 8e-3)
    assert area_matched(references, 1e-4, 1300) == (references[0][1], 1e-3)
    with pytest.raises(CollapseError, match="no finished reference"):
        area_matched([], 1e-3, 1300)


def test_curves_that_fall_with_the_summed_learning_rate_collapse_with_the_matched_reference_not_the_same_lr():
    references = [(lr, run_by_area(f"d32-lr{lr:g}", 650, lr, 0.8)) for lr in (1e-3, 2e-3, 4e-3, 8e-3)]
    seen = run_by_area("d48-lr2e-3", 1300, 2e-3, 0.5, every=50, until=325)  # its records at the reference's fractions
    matched, _ = area_matched(references, 2e-3, 1300)
    same_lr = references[1][1]
    by_area = predict_by_collapse(seen, matched, E, min_band=0.0, level=0.95)
    by_lr = predict_by_collapse(seen, same_lr, E, min_band=0.0, level=0.95)
    assert by_area.predicted == pytest.approx(E + 0.5, rel=1e-6)
    assert by_lr.predicted < (E + 0.5) * 0.99  # at one lr the smaller run is further behind at the fraction: read low
