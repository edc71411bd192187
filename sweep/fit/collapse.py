"""A run's final eval loss predicted from a finished run of another model size: the collapse of
loss curves across sizes (Qiu et al. 2025, arXiv 2507.02119, "scaling collapse").

Runs that differ only in model size (width, depth), trained at the same tokens per parameter, with
the same batch size, weight decay, schedule, data and seed, and learning rates matched so that
each has summed as much learning rate by each fraction of its steps (area_matched; the runs a run
can be matched with: sweep/rundir.py reference_key), trace one curve once each run's loss above
the irreducible loss E is divided by its final value and its steps by its own steps. So a run
seen up to a fraction f of its steps, with finished runs of another size at its settings (its
reference: the one matched to it, interpolated between two of them), is predicted as

    L(1) = E + k (L_ref(1) - E),    k = (L(f) - E) / (L_ref(f) - E)

L(f): the run's last eval record seen (step s, f = s / S); L_ref(f): the reference's eval loss at
f of its own steps (linear between its records). Both must be past their warmups at f: a warmup is
not the same fraction of every run (min(optim.warmup_steps, warmup_max_fraction x S): the demo's
runs warm up for 20 of d16's 200 steps, 50 of d32's 640), and where one of the two is still
warming up the curves do not collapse (d32 read at 9.4% from d16, at step 19 of its 20: the
learning rates up to 8e-3 came out 5-37% high, inside bands of 1-3%; benchmarks/RESULTS.md).
Both must also have left the initial plateau at f, their eval loss below ln V (`EvalCurve.uniform`,
the loss of a uniform guess; plateau_error): a run leaves it later the narrower the model and the
slower its learning rate, or not within its budget, so a curve still on it does not collapse with
one that has left it (d64 from a d32 still above ln V at 10%: 4-28% too high).
E (`floor`) is the caller's: the corpus's true entropy rate where data=synthetic records it
(`--floor true`), a value from an earlier fit, 0 (the plain ratio of the losses), or `auto`: calibrated one size down (`calibrate_floor`), the E whose prediction of
the finished runs below the run's size from their own finished smaller partners, made at the
same fraction, has the smallest median error relative to the descent still to come. On the
early-stopping benchmark's grids (d48 runs from their d32 references at their own learning rate,
before area_matched; 82 runs, 9 grids; benchmarks/RESULTS.md) the median |error| at 25% of a run
was 0.28% with E the true entropy rate, 0.47% and 0.73% with E 5% and 10% below it, and 1.3%
with E = 0; the loss-curve law (sweep/fit/curve_law.py) gave 1.8% on the runs it could predict.
Twice the width (d64 from d32, E 'auto') was no worse: 0.32% at 25%, 0.42% at 10%. A reference
that has not learned at a setting (d16 at learning rates up to 4e-3, still on its plateau at its
end) predicts nothing there: d32 from it erred up to 27% at 25%, and its error one size down
widened d64's bands to 17-35% around predictions that erred under 1%, until plateau_error refused
such pairs.

The interval is a band about the prediction, not a bootstrap: its half-width is the largest of
- the ratio's drift: how far k, read at each eval record in [s/2, s], moves the prediction;
- one size down: where the reference has a finished reference of its own, the relative error of
  this same prediction made for the reference at the same f (the method's error, measured out of
  sample at this learning rate and schedule), scaled to this prediction; where the smallest of the
  three cannot be read at f (still in its warmup), at the first of the reference's eval records
  where it can (error_one_size_down): a band without it claimed 2-4% at 10% for runs that missed by
  10-28%, narrower than the same runs' bands at 15%;
- `min_band` x the prediction (conf/fit.yaml collapse_min_band).
These parts say how far the ratio has moved and how far the method missed at this learning rate;
not how far it misses at others. On real text they held the final loss for 22 of 30 runs at 25%
(d64 from d48, d48 from d32 below; benchmarks/RESULTS.md "The collapse's bands calibrated"). So
where the sweep has finished runs of fewer parameters than the run, each with a finished smaller
partner, the band is widened (never narrowed) to the conformal quantile of the errors of those of
the nearest such size (sweep/fit/calibration.py; sweep/fit/predict.py with_references), each
predicted from its partner at the fraction the run was seen at: `calibration`, which states the
level it holds at (n / (n + 1) for n < 19 pairs at 95%). Without such pairs the band is the parts'
alone, and how often it holds is measured, not assumed (README "Predicting a run's final loss");
`level` is the curve law's, so that both read alike.

Letters: S a run's steps, f the fraction of them seen, J a run's eval records (EvalCurve's
steps_J, loss_J, as in the curve law's arrays), P the finished pairs and G the candidate floors of
calibrate_floor; E is the floor alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.calibration import Calibration

TRUE_FLOOR = "true"  # a floor of 'true': each reference's true_entropy_nats (data=synthetic records it)
AUTO_FLOOR = "auto"  # a floor of 'auto': E calibrated on finished pairs of smaller sizes (calibrate_floor)
MIN_FLOOR_PAIRS = 3  # finished (run, smaller partner) pairs that an 'auto' floor is calibrated on, at least
DRIFT_FROM = 0.5  # the drift is read over the eval records from this fraction of the records' last step on


def check_floor(floor: float | str | None, name: str = "--floor") -> float | str | None:
    """The floor E as given (`sweep predict --floor`, early_stop.floor): None (not used), 'true'
    (each reference's true_entropy_nats), 'auto' (calibrate_floor) or a number >= 0 in nats/token;
    ConfigError naming `name` otherwise."""
    if floor is None:
        return None
    if isinstance(floor, str) and floor.strip().lower() == TRUE_FLOOR:  # early_stop.floor=true reads as 'True'
        return TRUE_FLOOR
    if isinstance(floor, str) and floor.strip().lower() == AUTO_FLOOR:
        return AUTO_FLOOR
    try:
        value = float(floor)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(floor, bool) or not (math.isfinite(value) and value >= 0):
        sep = "=" if name.startswith("early_stop") else " "
        raise ConfigError(f"{name}{sep}{floor!r}: accepted is the irreducible loss E in nats/token (a number >= 0, "
                          f"e.g. from a Chinchilla fit; 0: the plain ratio of the losses) or '{TRUE_FLOOR}' (the "
                          f"corpus's true entropy rate, data=synthetic) or '{AUTO_FLOOR}' (calibrated on the finished "
                          "runs of two smaller sizes)")
    return value


class CollapseError(ValueError):
    """Why a run cannot be predicted from its reference: no eval record yet, a floor not below the
    losses, a reference that has no eval record at the fraction seen."""


@dataclass(frozen=True)
class EvalCurve:
    """A run's eval records (steps_J ascending, loss_J) and its budget's steps S; `final` its final
    eval loss where it finished (None while it trains); `warmup` its warmup's steps; `uniform` ln V:
    where its eval loss is not below it, it has not begun to learn (plateau_error)."""

    name: str
    steps_J: Sequence[int]
    loss_J: Sequence[float]
    steps: int
    final: float | None = None
    warmup: int = 0  # its warmup's steps
    uniform: float | None = None  # ln V, the loss of a uniform guess over its vocabulary (None: not checked)

    def has_record_by(self, fraction: float) -> bool:
        return len(self.steps_J) > 0 and fraction * self.steps >= self.steps_J[0]

    def past_warmup_at(self, fraction: float) -> bool:
        return fraction * self.steps >= self.warmup

    def loss_at(self, fraction: float) -> float:
        """The eval loss at `fraction` of its steps, linear between records; CollapseError before its first."""
        if not self.has_record_by(fraction):
            raise CollapseError(f"reference {self.name} has no eval record by step {fraction * self.steps:.0f} "
                                f"({fraction:.1%} of its {self.steps} steps, as far as the run was seen)")
        return float(np.interp(fraction * self.steps, np.asarray(self.steps_J, dtype=float),
                               np.asarray(self.loss_J, dtype=float)))


@dataclass(frozen=True)
class CollapsePrediction:
    """A run's final eval loss predicted from `reference` (a finished run of another size) with the
    floor E; `ratio` k; the band's half-width and which of its parts set it (`band_from`: drift,
    one size down, or min_band). Reads like the curve law's FinalLossPrediction where a caller
    only needs the prediction: predicted, interval, level, steps_seen, steps, fraction_seen."""

    predicted: float
    interval: tuple[float, float]
    level: float
    reference: str
    floor: float
    ratio: float
    band_from: str
    steps_seen: int  # the run's records seen up to this step (train or eval): as the curve law's
    steps: int
    one_size_down: float | None = None  # the relative error one size down, where measured
    one_size_down_at: float | None = None  # the fraction of the reference's steps it was measured at
    ratio_step: int | None = None  # the eval record k was read at (<= steps_seen)
    floor_from: str | None = None  # where E came from when calibrated (floor 'auto')
    measured_below: bool = False  # one_size_down measured on a third size below the reference, itself below the
    # run: the chain whose bands the benchmarks' coverage figures are of (sweep/fit/predict.py partly_seen_caution)
    calibration: Calibration | None = None  # set by sweep/fit/predict.py where finished pairs of smaller sizes
    # widened the band (calibration.PAIRS)
    gaps: Calibration | None = None  # set with it: the same runs' predictions two at a time (calibration.GAPS), what
    # early stopping compares two runs predicted alike by (sweep/early_stop.py decide)

    @property
    def fraction_seen(self) -> float:
        return self.steps_seen / self.steps

    def to_dict(self) -> dict:
        return {"method": "collapse", "predicted": self.predicted, "interval": list(self.interval),
                "level": self.level, "reference": self.reference, "floor": self.floor, "ratio": self.ratio,
                "band_from": self.band_from, "one_size_down": self.one_size_down,
                "one_size_down_at": self.one_size_down_at, "measured_below": self.measured_below,
                "ratio_step": self.ratio_step, "floor_from": self.floor_from, "steps_seen": self.steps_seen,
                "steps": self.steps, "fraction_seen": self.fraction_seen,
                "calibration": None if self.calibration is None else self.calibration.to_dict(),
                "gaps": None if self.gaps is None else self.gaps.to_dict()}


def collapse_ratio(run: EvalCurve, reference: EvalCurve, floor: float,
                   until_step: int | None = None) -> tuple[float, int, list[float]]:
    """(k at the run's last eval record up to `until_step`, that record's step, k at each record
    of [s/2, s]); CollapseError when the run has no eval record yet or a loss is not above the floor."""
    steps_J = np.asarray(run.steps_J, dtype=int)
    loss_J = np.asarray(run.loss_J, dtype=float)
    seen = np.isfinite(loss_J) & (steps_J > 0) & ((steps_J <= until_step) if until_step is not None else True)
    steps_J, loss_J = steps_J[seen], loss_J[seen]
    if len(steps_J) == 0:
        raise CollapseError("no eval_loss record yet")
    last = int(steps_J[-1])
    for curve in (run, reference):
        if not curve.past_warmup_at(last / run.steps):  # warmups differ in fraction: in one, curves do not collapse
            raise CollapseError(f"{'the run' if curve is run else 'reference ' + curve.name} is still in its warmup "
                                f"({curve.warmup} steps) at {last / run.steps:.1%} of its {curve.steps} steps, where "
                                "the run is read: the curves of two sizes collapse past their warmups")
    for curve, loss in ((run, float(loss_J[-1])), (reference, reference.loss_at(last / run.steps))):
        if (why := plateau_error(curve, loss, last / run.steps)) is not None:
            raise CollapseError(why)
    window = steps_J >= DRIFT_FROM * last
    ratios = []
    for step, loss in zip(steps_J[window], loss_J[window]):
        at = step / run.steps
        readable = reference.has_record_by(at) and run.past_warmup_at(at) and reference.past_warmup_at(at)
        if step < last and not readable:
            continue  # the drift is read where the reference has records, past both warmups; the last must be
        ref = reference.loss_at(at)
        if not (loss > floor and ref > floor):
            raise CollapseError(f"floor E = {floor:.4g} is not below the eval loss at step {step} ({loss:.4g}) and "
                                f"the reference's there ({ref:.4g}): accepted is a floor below both")
        ratios.append((loss - floor) / (ref - floor))
    return ratios[-1], last, ratios


def area_matched(references: Sequence[tuple[float, EvalCurve]], lr: float, steps: int) -> tuple[EvalCurve, float]:
    """(the reference curve whose summed learning rate by each fraction of its steps is the run's,
    that learning rate): the run trains `steps` steps at peak `lr`; `references` are (peak lr,
    finished curve) of one other size at the run's other settings, so of one number of steps S_ref
    and one schedule's shape. The summed learning rate by a fraction f (the "forward area" S1 of
    Tissue et al. 2024, the variable their loss-curve law reads; sweep/fit/curve_law.py) is
    lr f S under one shape, so the reference that has summed as much by each fraction is the one at
    lr_ref = lr S / S_ref: a larger run is matched with a smaller run at a higher learning rate.
    Its curve is interpolated between the two references whose lrs bracket lr_ref (log loss linear
    in log lr, record by record, and its final loss alike); where lr_ref lies outside their lrs,
    the nearest reference is taken as it is (no extrapolation). Of one reference alone, that one.

    Why: at one learning rate the two sizes' curves do not collapse where the learning rate is
    slow: a run leaves its initial plateau, and its loss falls fastest, after a summed learning
    rate that is about the same at every size, which a larger run's longer budget reaches at an
    earlier fraction of its steps. On real text (benchmarks/RESULTS.md "The reference matched by
    its summed learning rate") d48 predicted from d32 at 25% of its steps erred by a median 3.1-4.5%
    read at one learning rate, 2.0-2.2% matched."""
    if not references:
        raise CollapseError("no finished reference at the run's other settings")
    ordered = sorted(references, key=lambda pair: pair[0])
    lrs = [ref_lr for ref_lr, _ in ordered]
    target = lr * steps / ordered[0][1].steps
    for ref_lr, reference in ordered:
        if math.isclose(ref_lr, target, rel_tol=1e-6):
            return reference, ref_lr
    upper = int(np.searchsorted(lrs, target))
    if upper in (0, len(lrs)):
        nearest_lr, nearest = ordered[min(upper, len(lrs) - 1)]
        return nearest, nearest_lr
    (lr_a, a), (lr_b, b) = ordered[upper - 1], ordered[upper]
    w = math.log(target / lr_a) / math.log(lr_b / lr_a)
    steps_J = np.asarray(a.steps_J, dtype=float)
    steps_J = steps_J[(steps_J >= b.steps_J[0]) & (steps_J <= b.steps_J[-1])] if len(b.steps_J) else steps_J[:0]
    log_a = np.log(np.interp(steps_J, np.asarray(a.steps_J, dtype=float), np.asarray(a.loss_J, dtype=float)))
    log_b = np.log(np.interp(steps_J, np.asarray(b.steps_J, dtype=float), np.asarray(b.loss_J, dtype=float)))
    final = None
    if a.final is not None and b.final is not None:
        final = float(math.exp((1 - w) * math.log(a.final) + w * math.log(b.final)))
    curve = EvalCurve(f"{a.name} and {b.name} interpolated at lr {target:.3g}", [int(s) for s in steps_J],
                      np.exp((1 - w) * log_a + w * log_b).tolist(), a.steps, final, a.warmup, a.uniform)
    return curve, target


def plateau_error(curve: EvalCurve, loss: float, fraction: float) -> str | None:
    """Why `curve`, at eval loss `loss` at `fraction` of its steps, cannot be collapsed with another
    size's curve: its loss is not yet below ln V (curve.uniform), the loss of a uniform guess, so it
    is still on the initial plateau from which runs leave at different times (a slow learning rate,
    a narrow model: later, or never within the budget); None when it is below (or uniform unknown).
    On the early-stopping benchmark's six grids at 10% (benchmarks/RESULTS.md "Not from a curve
    still on its plateau") the references above ln V predicted their larger runs 4-28% too high, and
    their own references' errors widened the bands of runs they told nothing about."""
    if curve.uniform is None or loss < curve.uniform:
        return None
    return (f"{curve.name} has not left its initial plateau at {fraction:.1%} of its {curve.steps} steps: its eval "
            f"loss there, {loss:.4g}, is not below ln V = {curve.uniform:.4g} (a uniform guess); a curve that has not "
            "begun to learn does not collapse with another size's")


def predict_by_collapse(run: EvalCurve, reference: EvalCurve, floor: float, *, min_band: float, level: float,
                        until_step: int | None = None, reference_of_reference: EvalCurve | None = None,
                        seen_until: int | None = None) -> CollapsePrediction:
    """`run`'s final eval loss from its eval records (up to `until_step`) and the finished
    `reference`, with the band described in the module docstring; `reference_of_reference`, a
    finished run of a third size at the same settings, measures the error one size down.
    `seen_until`: the last step of the run's records (its train records may run past its last
    eval record: a probe step between two evals), reported as steps_seen (default: that eval's).
    CollapseError when it cannot be predicted (no eval record, a floor not below the losses, a
    reference without a final loss)."""
    if reference.final is None or not math.isfinite(reference.final):
        raise CollapseError(f"reference {reference.name} has no final eval loss")
    if not (math.isfinite(floor) and 0 <= floor < reference.final):
        raise CollapseError(f"floor E = {floor!r}: accepted is 0 <= E < the reference's final eval loss "
                            f"({reference.final:.4g})")
    ratio, last, ratios = collapse_ratio(run, reference, floor, until_step)
    reducible = reference.final - floor
    predicted = floor + ratio * reducible
    parts = {"drift": max(abs(k - ratio) for k in ratios) * reducible, "min_band": min_band * predicted}
    down = down_at = None
    if reference_of_reference is not None and reference_of_reference.final is not None:
        measured = error_one_size_down(reference, reference_of_reference, floor, last / run.steps)
        if measured is not None:
            down, down_at = measured
            parts["one size down"] = down * predicted
    band_from = max(parts, key=parts.get)
    half = parts[band_from]
    return CollapsePrediction(predicted=predicted, interval=(predicted - half, predicted + half), level=level,
                              reference=reference.name, floor=floor, ratio=ratio, band_from=band_from,
                              steps_seen=max(last, seen_until or 0), steps=run.steps, one_size_down=down,
                              one_size_down_at=down_at, ratio_step=last)


def error_one_size_down(reference: EvalCurve, smaller: EvalCurve, floor: float,
                        fraction: float) -> tuple[float, float] | None:
    """(|relative error| of `reference`'s final loss predicted from the finished `smaller` run at its
    settings, the fraction of its steps it was read at): read at `fraction`, or, where the two cannot
    be read there (no eval record of the smaller run yet, either still in its warmup), at the
    reference's first eval record after it where they can. A band only widens with it, so a later
    reading (smaller errors, as a rule) is kept rather than none: at 10% of the d64 runs of the
    early-stopping benchmark's widest grid d16 is still in its warmup, and the lowest learning rates'
    bands were the drift's 2-4% against errors of 10-28% (benchmarks/RESULTS.md). None where it
    cannot be read at all or the prediction fails (a floor not below the losses, either run still
    on its plateau there: plateau_error)."""
    steps_J = np.asarray(reference.steps_J, dtype=int)
    cuts = [int(fraction * reference.steps), *steps_J[steps_J > fraction * reference.steps].tolist()]
    for cut in cuts:
        seen = steps_J[(steps_J > 0) & (steps_J <= cut)]
        if not len(seen):
            continue
        at = int(seen[-1]) / reference.steps  # the eval record the prediction is read at
        if not (smaller.has_record_by(at) and smaller.past_warmup_at(at) and reference.past_warmup_at(at)):
            continue
        try:
            own = predict_by_collapse(reference, smaller, floor, min_band=0.0, level=0.0, until_step=cut)
        except CollapseError:
            return None
        return abs(own.predicted / reference.final - 1), own.fraction_seen
    return None


@dataclass(frozen=True)
class FloorCalibration:
    """E calibrated one size down: `floor`, the number of finished pairs and the fraction it was
    calibrated on, and the median error of their predictions with it, relative to the descent still
    to come (calibrate_floor)."""

    floor: float
    pairs: int
    fraction: float
    median_error: float

    def describe(self) -> str:
        return (f"calibrated on {self.pairs} finished pairs one size down at {self.fraction:.0%} of their steps "
                f"(median error {self.median_error:.0%} of the descent still to come)")


def calibrate_floor(pairs: Sequence[tuple[EvalCurve, EvalCurve]], fraction: float,
                    points: int = 400) -> FloorCalibration:
    """The floor E that best predicts each finished run of `pairs` from its finished smaller
    partner (run, partner), both read at `fraction` of their steps (later where a curve has no eval
    record by then or is in its warmup: the first fraction at which every pair has one, past both
    warmups): over a grid of `points` values from 0 to just below the lowest loss read, the E of the
    smallest median error relative to the descent still to come, |predicted - final| / (L(f) - final)
    (pairs whose run did not descend after f are left out). The larger sizes' runs are predicted
    with it (with_references in sweep/fit/predict.py), so E need not be known.

    The error is measured against the descent, not the loss, because relative to the loss every
    error shrinks as E nears the losses (each run's reducible loss does), whether or not the
    curves collapse: on a grid of tiny runs on real text that trivial optimum was the calibration's
    at 25%. Against the descent a prediction that misses it is as wrong whatever E. On the
    early-stopping benchmark's widest grid (10 d16 -> d32 pairs calibrating the prediction of d48
    from d32; seeds 0 and 1, and seed 0 again with an eval every 10 steps; benchmarks/RESULTS.md)
    E came out 0.1-0.3% below the corpus's true entropy rate at 10-25% (0.6-2.8% below it measured
    against the loss) and the d48 runs' median error was 0.58-0.66% at 10% (0.46-0.55% with the
    true E), 0.15-0.29% at 25%. On the tiny
    real-text grid it still did worse than E = 0 at 10% (4.7% against 3.5%) and reached the lowest
    loss read at 25%: CollapseError there, as with fewer than MIN_FLOOR_PAIRS finished pairs."""
    usable = [(run, partner) for run, partner in pairs if run.final is not None and partner.final is not None
              and len(run.steps_J) and len(partner.steps_J)]
    if usable:
        first = max(max(run.steps_J[0] / run.steps, partner.steps_J[0] / partner.steps, run.warmup / run.steps,
                        partner.warmup / partner.steps) for run, partner in usable)
        at = min(max(fraction, first), 1.0)
        usable = [(run, partner) for run, partner in usable
                  if run.loss_at(at) > run.final]  # a descent to measure the error against
    if len(usable) < MIN_FLOOR_PAIRS:
        raise CollapseError(f"floor '{AUTO_FLOOR}': found {len(usable)} finished pairs one size down, at least "
                            f"{MIN_FLOOR_PAIRS} are needed (or give the floor E): finished runs below this run's size "
                            "with a finished smaller partner at their settings, their loss still falling after the "
                            "fraction read")
    seen_P = np.array([run.loss_at(at) for run, _ in usable])
    partner_seen_P = np.array([partner.loss_at(at) for _, partner in usable])
    partner_final_P = np.array([partner.final for _, partner in usable])
    final_P = np.array([run.final for run, _ in usable])
    low = min(seen_P.min(), partner_seen_P.min(), partner_final_P.min(), final_P.min())  # E below every loss read
    floor_G = np.linspace(0.0, 0.999 * low, points)[:, None]  # G candidate floors
    predicted_GxP = floor_G + (seen_P - floor_G) / (partner_seen_P - floor_G) * (partner_final_P - floor_G)
    error_G = np.median(np.abs(predicted_GxP - final_P) / (seen_P - final_P), axis=1)
    best = int(np.argmin(error_G))
    if best == points - 1:
        raise CollapseError(f"floor '{AUTO_FLOOR}': the E that best predicts the {len(usable)} pairs one size down "
                            f"runs up to the lowest loss read ({floor_G[best, 0]:.4g}): their curves do not collapse above "
                            "a floor below it; give the floor E (from a fit of earlier runs, or 0)")
    return FloorCalibration(float(floor_G[best, 0]), len(usable), float(at), float(error_G[best]))
