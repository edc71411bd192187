"""`sweep predict`: every run of a sweep folder or a W&B group, finished or still training, with
its final eval loss predicted by the loss-curve law (sweep/fit/curve_law.py) from the records it
has so far.

A run is read through one interface (RunSource): a run folder (FolderRun: config.yaml,
metrics.jsonl, result.json) or a W&B run (sweep/wandb_records.py: its logged config, its sampled
train and eval loss history, its state and summary). From there one path: the config becomes a
TrainConfig (train_config), the records a Curve, the runs are grouped. A W&B history is sampled
(rows dropped), so there each train record is fitted against its own window of train.log_every
updates (Curve.train_window), not the updates since the previous row seen.

Each run's schedule is its own: the learning rate of every update up to its budget, from its
config (sweep/run/optim.py lr_at; a ladder member's warmup is its trunk's, as in training).
`at_fraction` f replays the past: each run's records are cut at f of its steps first (what the
predictor would have said then); a finished run then gets its actual final eval loss and the error.

The runs of one budget group (sweep/rundir.py group_key: the same model, tokens, data and
seed; learning rate, batch size or weight decay differ) are fitted together, sharing the law's
alpha, A and C (sweep/fit/curve_law.py predict_final_losses); `shared=False` fits each alone.

With a floor E (`floor`: a number, 'true' for the corpus's true entropy rate, or 'auto' for E
calibrated on the finished runs of two smaller sizes: collapse.calibrate_floor), a run with
finished runs of another size at its settings but the learning rate (sweep/rundir.py reference_key)
is predicted from them instead, by the collapse of loss curves across sizes, the reference matched
by its summed learning rate (sweep/fit/collapse.py; with_references); the others keep the curve law.

The curve law's intervals are calibrated (sweep/fit/calibration.py) on the law's errors on the
sweep's finished smaller runs replayed at the run's fraction (calibrated_by_smaller), or, with no
finished smaller run, on its budget group's own first halves (calibrated_by_own_halves); the
collapse's bands on the finished runs of the nearest smaller size, each predicted from its own
smaller partner at the run's fraction (with_references).

A run that cannot be predicted is kept with a one-line `skipped` reason: a ladder's trunk (no final
loss of its own: its branches are the runs), a diverged run, no records yet, too few records after
the warmup, still in its initial descent, no eval record yet, no annealing seen yet (wsd before
its cooldown), an unreadable folder, a W&B run without the config training logs or whose history
cannot be read.

Letters: S a run's steps, f the fraction of them seen, J a run's eval records.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from sweep.config import train_config
from sweep.errors import ConfigError, DamagedFile
from sweep.fit.collapse import (AUTO_FLOOR, TRUE_FLOOR, CollapseError, CollapsePrediction, EvalCurve,
                                FloorCalibration, area_matched, calibrate_floor, check_floor, predict_by_collapse)
from sweep.fit.calibration import OWN_HALVES, PAIRS, SMALLER, Calibration, calibration, gap_calibration
from sweep.fit.curve_law import Curve, CurveFitError, FinalLossPrediction, decay_for, predict_final_losses
from sweep.fit.defaults import fit_defaults

SWEPT = ("d", "l", "tokens_per_param", "batch_size", "lr", "weight_decay")  # a run's coordinates, in this order
SETTING_OF = {"d": ("model", "d"), "l": ("model", "l"), "tokens_per_param": ("budget", "tokens_per_param"),
              "batch_size": ("train", "batch_size"), "lr": ("optim", "lr"), "weight_decay": ("optim", "weight_decay")}
REPORT_FRACTION = 0.5  # `sweep report`'s predicted-against-actual figure replays each run at half its steps


@dataclass(frozen=True)
class RunPrediction:
    """One run: its predicted final eval loss (None with a `skipped` reason), the actual one where
    it finished, and `error` = predicted - actual."""

    run: str
    status: str
    coordinates: dict[str, Any] = field(default_factory=dict)
    prediction: FinalLossPrediction | CollapsePrediction | None = None
    actual: float | None = None
    skipped: str | None = None
    collapse_skipped: str | None = None  # with a floor: why a run with a reference is not predicted from it

    @property
    def predicted(self) -> float | None:
        return None if self.prediction is None else self.prediction.predicted

    @property
    def error(self) -> float | None:
        return None if self.predicted is None or self.actual is None else self.predicted - self.actual

    @property
    def relative_error(self) -> float | None:
        return None if self.error is None else self.error / self.actual

    @property
    def covered(self) -> bool | None:
        """Whether the interval holds the actual final loss (None without both)."""
        if self.prediction is None or self.actual is None:
            return None
        lo, hi = self.prediction.interval
        return bool(lo <= self.actual <= hi)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"run": self.run, "status": self.status, **self.coordinates}
        if self.prediction is not None:
            out.update(self.prediction.to_dict())
        out.update(actual=self.actual, error=self.error, relative_error=self.relative_error, covered=self.covered,
                   skipped=self.skipped)
        if self.collapse_skipped is not None:
            out["collapse_skipped"] = self.collapse_skipped
        return out


def check_fraction(at_fraction: float | None) -> None:
    if at_fraction is None:
        return
    if isinstance(at_fraction, bool) or not isinstance(at_fraction, (int, float)) or \
            not (math.isfinite(at_fraction) and 0 < at_fraction <= 1):
        raise ConfigError(f"--at-fraction {at_fraction!r}: accepted is a fraction of each run's steps in (0, 1]")


def predict_sweep(source: str | os.PathLike, at_fraction: float | None = None, *, n_resamples: int | None = None,
                  level: float | None = None, seed: int | None = None, shared: bool = True,
                  floor: float | str | None = None, margin: float = 0.0) -> list[RunPrediction]:
    """Every run folder of the sweep folder `source`, or every train run of the W&B group
    `source` = wandb:[ENTITY/]PROJECT/GROUP, predicted (or skipped with its reason), the runs of a
    budget group together unless `shared` is False; with a `floor` (check_floor), a run with a
    finished run of another size at its settings but the lr is predicted from it (sweep/fit/collapse.py).
    The gaps between two such predictions are calibrated for early_stop.margin `margin`.
    Bootstrap resamples, level and seed default to conf/fit.yaml's. ConfigError for a folder that
    does not exist or holds no run, a W&B group that holds no train runs or cannot be read, a
    fraction outside (0, 1], fewer than 1 resample, a floor that is not a number >= 0, 'true' or
    'auto', or a margin outside [0, 1)."""
    from sweep.rundir import iter_run_dirs, no_run_folders

    check_fraction(at_fraction)
    floor = check_floor(floor)
    if not 0 <= margin < 1:
        raise ConfigError(f"--margin {margin!r}: accepted is a relative margin in [0, 1), as early_stop.margin")
    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)
    fit_defaults().check_resamples(n_resamples, "--bootstrap", 1)
    text = str(source)
    options = dict(shared=shared, n_resamples=n_resamples, level=level, seed=seed, floor=floor, margin=margin)
    if text.startswith("wandb:"):
        from sweep.wandb_records import wandb_run_sources
        from sweep.wandb_runs import parse_source

        return predict_sources(wandb_run_sources(parse_source(text)), None, at_fraction, **options)
    if not Path(text).is_dir():
        is_file = ("is a file: sweep predict reads each run's curve (metrics.jsonl or its W&B history), "
                   "not a runs table; "
                   "give the sweep folder or wandb:[ENTITY/]PROJECT/GROUP")
        raise ConfigError(f"sweep folder {text} {is_file if Path(text).exists() else 'does not exist'}")
    runs = list(iter_run_dirs(text))
    if not runs:
        raise ConfigError(no_run_folders(text))
    if floor == TRUE_FLOOR and not any(_reads_synthetic(run) for run in runs):
        raise ConfigError(f"--floor {TRUE_FLOOR}: each reference's true entropy rate, which only data=synthetic "
                          f"records; no run of {text} reads it: give --floor E (a number, e.g. a Chinchilla fit's E) "
                          f"or --floor {AUTO_FLOOR} (calibrated on the finished runs of two smaller sizes)")
    return predict_runs(runs, None, at_fraction, **options)


def _reads_synthetic(run: Any) -> bool:
    try:
        return (run.read_config().get("data") or {}).get("source") == "synthetic"
    except DamagedFile:
        return False


class RunSource(Protocol):
    """A run as the predictor reads it, wherever it is: a run folder (FolderRun) or a W&B run
    (sweep/wandb_records.py WandbRun). A method may raise ConfigError (DamagedFile included): the
    run is then skipped with that message."""

    name: str
    sampled: bool  # rows may be missing from records(): each train record's window is train.log_every

    @property
    def where(self) -> str:
        """Where the config is (named in a config's error)."""

    @property
    def remedy(self) -> str:
        """What to do about a config this version cannot read."""

    def status(self) -> str:
        """complete | diverged | failed | running | started | pending (sweep/record.py)."""

    def config(self) -> dict[str, Any]:
        """The run's config as a plain mapping (to_plain(cfg), as training wrote it)."""

    def result(self) -> dict[str, Any]:
        """The run's result (result.json's fields: status, final_eval_loss ...), {} while it runs."""

    def records(self) -> list[dict[str, Any]]:
        """Its records: each with a `step`, and train_loss and / or eval_loss."""


@dataclass(frozen=True)
class FolderRun:
    """A run folder (RunDir) as a RunSource: metrics.jsonl holds every record."""

    run: Any
    sampled = False

    @property
    def name(self) -> str:
        return self.run.path.name

    @property
    def where(self) -> str:
        return str(self.run.config_file)

    @property
    def remedy(self) -> str:
        from sweep.rundir import CONFIG_REMEDY

        return CONFIG_REMEDY

    def status(self) -> str:
        return self.run.state()

    def config(self) -> dict[str, Any]:
        return self.run.read_config()

    def result(self) -> dict[str, Any]:
        return self.run.read_result() or {}

    def records(self) -> list[dict[str, Any]]:
        return self.run.read_metrics()


def actual_final_loss(result: dict[str, Any]) -> float | None:
    """A complete run's final eval loss from its result (None for any other run or a non-finite loss)."""
    actual = result.get("final_eval_loss") if result.get("status") == "complete" else None
    return float(actual) if isinstance(actual, (int, float)) and math.isfinite(actual) else None


def learning_rates(cfg: Any) -> tuple[np.ndarray, int]:
    """The learning rate of every update of the run's budget, as training sets it, and its warmup."""
    from sweep.budget import compute_budget
    from sweep.ladder import is_member, ladder_steps
    from sweep.run.optim import lr_at, warmup_steps

    steps = compute_budget(cfg).steps
    warmup_of = ladder_steps(cfg) if is_member(cfg) else None
    lr_S = np.array([lr_at(i, cfg.optim, steps, warmup_of) for i in range(steps)])
    return lr_S, warmup_steps(cfg.optim, steps if warmup_of is None else warmup_of)


def predict_runs(runs: Sequence[Any], until_steps: Sequence[int | None] | None = None,
                 at_fraction: float | None = None, *, shared: bool = True, n_resamples: int | None = None,
                 level: float | None = None, seed: int | None = None, floor: float | str | None = None,
                 references: Sequence[Any] = (), calibrators: Sequence[Any] = (),
                 margin: float = 0.0) -> list[RunPrediction]:
    """Run folders (RunDirs) predicted, in order, or skipped with their reasons; each from its
    records up to its `until_steps` entry (None: all of them) and `at_fraction` of its steps.
    shared: the runs of one budget group (sweep/rundir.py group_key: they differ only in lr,
    batch size and weight decay) are fitted together, sharing alpha, A and C (sweep/fit/curve_law.py
    predict_final_losses), each keeping its own L0 and gap; a run that cannot be fitted is
    skipped and leaves the others' fit alone. With a `floor` (check_floor), a run that has a
    finished run of another size at its settings but the lr is predicted from it instead (with_references),
    among `runs` and `references` (run folders only read as such: not predicted). The curve law's
    intervals are calibrated on the finished runs among `runs`, `references` and `calibrators`
    (calibrated_by_smaller); the collapse's gaps at early_stop.margin `margin` (with_references).
    Bootstrap resamples, level and seed default to conf/fit.yaml's."""
    return predict_sources([FolderRun(run) for run in runs], until_steps, at_fraction, shared=shared,
                           n_resamples=n_resamples, level=level, seed=seed, floor=floor,
                           references=[FolderRun(run) for run in references],
                           calibrators=[FolderRun(run) for run in calibrators], margin=margin)


def predict_sources(runs: Sequence[RunSource], until_steps: Sequence[int | None] | None = None,
                    at_fraction: float | None = None, *, shared: bool = True, n_resamples: int | None = None,
                    level: float | None = None, seed: int | None = None, floor: float | str | None = None,
                    references: Sequence[RunSource] = (), calibrators: Sequence[RunSource] = (),
                    margin: float = 0.0) -> list[RunPrediction]:
    """predict_runs for runs from any source (RunSource: folders, W&B runs)."""
    from sweep.rundir import group_key

    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)

    until_steps = [None] * len(runs) if until_steps is None else list(until_steps)
    if len(until_steps) != len(runs):
        raise ValueError(f"predict_runs: {len(runs)} runs and {len(until_steps)} until_steps")
    # each source read once: predicted, then read whole as a reference or a calibrator
    runs, references, calibrators = ([_Remembered(s) for s in sources] for sources in (runs, references, calibrators))
    read = [_read_run(run, at_fraction, until) for run, until in zip(runs, until_steps)]
    out: list[RunPrediction | None] = [r if isinstance(r, RunPrediction) else None for r in read]
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(read):
        if not isinstance(r, RunPrediction):
            groups.setdefault(group_key(r[1]) if shared else str(i), []).append(i)
    for members in groups.values():
        results = predict_final_losses([read[i][2] for i in members], n_resamples=n_resamples, level=level, seed=seed)
        for i, result in zip(members, results):
            p = read[i][0]
            out[i] = replace(p, skipped=str(result)) if isinstance(result, CurveFitError) else \
                replace(p, prediction=result)
    out = calibrated_by_smaller(out, read, [*runs, *references, *calibrators], shared=shared, level=level, seed=seed)
    out = calibrated_by_own_halves(out, read, shared=shared, level=level, seed=seed)
    if floor is None:
        return out
    return with_references(out, [*read, *(_read_run(r, None, None) for r in references)], until_steps, floor, level,
                           margin)


CALIBRATION_STEP = 0.005  # a run seen at f of its steps is calibrated at f rounded down to this


def calibrated_by_smaller(predictions: list[RunPrediction], read: Sequence[Any], pool: Sequence[RunSource], *,
                          shared: bool, level: float, seed: int) -> list[RunPrediction]:
    """Each run the curve law predicted, its interval widened (never narrowed) to the conformal
    quantile at `level` (sweep/fit/calibration.py) of the curve law's relative errors on the
    finished runs of `pool` with fewer parameters than it, each replayed at the fraction of its
    steps the run was seen at, rounded down to CALIBRATION_STEP (replayed_errors; the rounding
    bounds the replays of a sweep whose runs are at many fractions, and it only widens: less of a
    curve seen, a larger error): a sweep's smaller runs finish first, so they are there to calibrate
    a larger run's prediction while it trains, and a replay (--at-fraction) calibrates each run as it
    could have been then. A run with no finished smaller run keeps the bootstrap's interval (its
    `calibration` None), as does one none of whose finished smaller runs the law can predict at its
    fraction (`calibration.n` 0: no measure of the law's error there). `read` holds _read_run's
    result for each prediction's run."""
    from sweep.budget import compute_budget

    def n_params(cfg: Any) -> int | None:
        try:
            return compute_budget(cfg).n_params
        except ConfigError:  # a config whose budget cannot be planned: no size to compare
            return None

    targets = {}  # prediction index -> (its N, the fraction it is calibrated at)
    for i, p in enumerate(predictions):
        if isinstance(p.prediction, FinalLossPrediction) and (n := n_params(read[i][1])) is not None:
            targets[i] = (n, math.floor(p.prediction.fraction_seen / CALIBRATION_STEP + 1e-9) * CALIBRATION_STEP)
    if not targets:
        return predictions
    sources = list({source.name: source for source in pool}.values())  # a run both a reference and a calibrator: once
    finished = {}  # run name -> N, for each finished run of the pool whose size is known
    for source in sources:
        r = _read_run(source, None, None)
        if not isinstance(r, RunPrediction) and r[0].actual is not None and (n := n_params(r[1])) is not None:
            finished[source.name] = n
    errors = {}  # fraction -> [(a finished run's N, its relative error there)]
    for fraction in sorted({f for _, f in targets.values()}):
        largest = max(n for n, f in targets.values() if f == fraction)
        replayed = [source for source in sources if finished.get(source.name, largest) < largest]
        errors[fraction] = [(finished[name], e) for name, e in
                            replayed_errors(replayed, fraction, shared=shared, seed=seed).items()]
    out = list(predictions)
    for i, (n, fraction) in targets.items():
        tried = sum(m < n for m in finished.values())
        if not tried:
            continue
        out[i] = _with_calibration(predictions[i], calibration([e for m, e in errors[fraction] if m < n], level,
                                                               fraction, tried))
    return out


def calibrated_by_own_halves(predictions: list[RunPrediction], read: Sequence[Any], *, shared: bool, level: float,
                             seed: int) -> list[RunPrediction]:
    """Each curve-law prediction that nothing calibrated (no finished smaller run: the smallest
    width, a sweep of one width), its interval widened (never narrowed) to the conformal quantile
    at `level` of its budget group's backtests: each member seen up to its last eval record, at
    step s, predicts its eval loss at s from its records up to s / 2 (the law fitted to the first
    half, evaluated at s under the run's own schedule and annealing lag), scored by |predicted - actual|
    / predicted. The group's curves are not finished runs, and extrapolating from s / 2 to s is not
    extrapolating from s to the end (the annealing of the schedule's end is not in it): the claim is
    measured, not guaranteed (benchmarks/RESULTS.md "Calibrated on its own first halves": on the
    early-stopping benchmark's widths, each alone, these held 91-97% of the final losses at 15-50%
    of the runs, where the bootstrap alone held 81-90% of the same runs). A group none of whose
    halves can be predicted keeps the bootstrap's interval (its `calibration` None), as before.
    `read` holds _read_run's result for each prediction's run."""
    from sweep.rundir import group_key

    groups: dict[str, list[int]] = {}
    for i, p in enumerate(predictions):
        if isinstance(p.prediction, FinalLossPrediction) and p.prediction.calibration is None:
            groups.setdefault(group_key(read[i][1]) if shared else str(i), []).append(i)
    out = list(predictions)
    for members in groups.values():
        halves: dict[int, list[tuple[Curve, float]]] = {}  # a run's steps S -> (its first half, its loss at s)
        for i in members:
            curve = read[i][2]
            last = max((s for s in curve.eval_steps if s <= len(curve.lr_S)), default=0)
            if last >= 2:
                loss_at_last = curve.eval_loss[list(curve.eval_steps).index(last)]
                halves.setdefault(len(curve.lr_S), []).append((_cut(curve, last // 2, last), loss_at_last))
        scores = []
        for steps, cut in halves.items():  # a group's batch sizes differ in S, and so in the annealing lag
            results = predict_final_losses([half for half, _ in cut], n_resamples=1, seed=seed, decay=decay_for(steps))
            scores += [abs(r.predicted - loss) / r.predicted for (_, loss), r in zip(cut, results)
                       if isinstance(r, FinalLossPrediction)]
        if not scores:
            continue
        for i in members:
            fraction = predictions[i].prediction.fraction_seen
            out[i] = _with_calibration(predictions[i], calibration(scores, level, fraction, len(members), on=OWN_HALVES))
    return out


def _with_calibration(p: RunPrediction, found: Calibration) -> RunPrediction:
    """`p` with its curve-law interval widened to what `found` measured, and `found` recorded."""
    return replace(p, prediction=replace(p.prediction, calibration=found,
                                         interval=found.widen(p.prediction.predicted, p.prediction.interval)))


def _cut(curve: Curve, upto: int, horizon: int) -> Curve:
    """`curve` with its records up to step `upto` and its schedule up to step `horizon` (the law
    then predicts the loss there)."""
    train = [(s, v) for s, v in zip(curve.train_steps, curve.train_loss) if s <= upto]
    evals = [(s, v) for s, v in zip(curve.eval_steps, curve.eval_loss) if s <= upto]
    return replace(curve, lr_S=list(curve.lr_S)[:horizon], train_steps=[s for s, _ in train],
                   train_loss=[v for _, v in train], eval_steps=[s for s, _ in evals], eval_loss=[v for _, v in evals])


def replayed_errors(finished: Sequence[RunSource], fraction: float, *, shared: bool, seed: int) -> dict[str, float]:
    """By run name, |predicted - actual| / predicted of the curve law on each of these finished runs
    it can predict from the first `fraction` of their steps (the runs of a budget group together
    where `shared`, as predict_sources fits them)."""
    from sweep.rundir import group_key

    groups: dict[str, list[tuple]] = {}
    for i, source in enumerate(finished):
        r = _read_run(source, fraction, None)
        if not isinstance(r, RunPrediction) and r[0].actual is not None:
            groups.setdefault(group_key(r[1]) if shared else str(i), []).append(r)
    errors = {}
    for members in groups.values():
        for r, result in zip(members, predict_final_losses([m[2] for m in members], n_resamples=1, seed=seed)):
            if isinstance(result, FinalLossPrediction):
                errors[r[0].run] = abs(result.predicted - r[0].actual) / result.predicted
    return errors


class _Remembered:
    """A RunSource whose reads are kept: predict_sources reads a run to predict it, whole as a
    reference, and once per fraction as a calibrator."""

    def __init__(self, source: RunSource):
        self.source, self.name, self.sampled = source, source.name, source.sampled
        self.where, self.remedy = source.where, source.remedy
        self._kept: dict[str, Any] = {}

    def _read(self, what: str) -> Any:
        if what not in self._kept:
            try:
                self._kept[what] = getattr(self.source, what)()
            except ConfigError as err:  # DamagedFile included: raised again at each read, as the source would
                self._kept[what] = err
        if isinstance(self._kept[what], ConfigError):
            raise self._kept[what]
        return self._kept[what]

    def status(self) -> str:
        return self._read("status")

    def config(self) -> dict[str, Any]:
        return self._read("config")

    def result(self) -> dict[str, Any]:
        return self._read("result")

    def records(self) -> list[dict[str, Any]]:
        return self._read("records")


def with_references(predictions: list[RunPrediction], read: Sequence[Any], until_steps: Sequence[int | None],
                    floor: float | str, level: float, margin: float = 0.0) -> list[RunPrediction]:
    """Each run that has finished runs of another size at its settings but the learning rate
    (sweep/rundir.py reference_key; that size: the nearest smaller by N, else the nearest larger)
    predicted from them by the collapse of curves (sweep/fit/collapse.py): from the reference
    that has summed as much learning rate by each fraction of its steps (collapse.area_matched),
    a third size, matched alike, measuring the error one size down; the others keep the curve
    law's prediction (or skip reason). A run the collapse cannot predict (a floor not below its
    losses, no eval record yet, it or its reference still above ln V) keeps the curve law's too,
    its `collapse_skipped` saying why. `read` holds _read_run's result for each prediction's run,
    then for each run read as a reference only. The gaps between two predictions are calibrated for
    early_stop.margin `margin` (band_calibration)."""
    sized = {i: _SizedRun.of(r) for i, r in enumerate(read) if not isinstance(r, RunPrediction)}
    sized = {i: r for i, r in sized.items() if r is not None}
    finished: dict[tuple[str, float], list[_SizedRun]] = {}  # (reference key, ln N) -> its finished runs
    for r in sized.values():
        if r.whole.final is not None:
            finished.setdefault((r.key, round(r.ln_n, 9)), []).append(r)

    def nearest_size(key: str, ln_n: float, exclude: tuple[float, ...]) -> float | None:
        """The size (ln N) with finished runs at `key` nearest to ln_n: the nearest smaller (as a
        sweep's smaller runs finish first), else the nearest larger; sizes in `exclude` left out."""
        others = [(size > ln_n, abs(size - ln_n), size) for k, size in finished
                  if k == key and all(abs(size - x) > 1e-9 for x in exclude)]
        return min(others)[2] if others else None

    def matched(key: str, size: float, lr: float, steps: int) -> tuple[EvalCurve, float]:
        return area_matched([(r.lr, r.whole) for r in finished[(key, size)]], lr, steps)

    @functools.cache
    def finished_pairs() -> dict[int, EvalCurve]:
        """Each finished run with a finished smaller size at its settings -> its matched partner (an
        interpolated curve each: built once, where a floor 'auto' or a band is calibrated on them)."""
        pairs = {}
        for j, r in sized.items():
            smaller = nearest_size(r.key, r.ln_n, (r.ln_n,))
            if r.whole.final is not None and smaller is not None and smaller < r.ln_n:
                pairs[j] = matched(r.key, smaller, r.lr, r.whole.steps)[0]
        return pairs

    calibrations: dict[tuple[float, float], FloorCalibration] = {}

    def calibrated(i: int, until_step: int | None) -> FloorCalibration:
        """floor 'auto' for run i: E calibrated on the finished pairs whose larger run is smaller
        than run i (one size down and below), at the fraction of its steps run i was read at."""
        steps_J = [s for s in sized[i].seen.steps_J if until_step is None or s <= until_step]
        if not steps_J:
            raise CollapseError("no eval_loss record yet")
        key = (round(steps_J[-1] / sized[i].seen.steps, 4), sized[i].ln_n)
        if key not in calibrations:
            below = [(sized[j].whole, partner) for j, partner in finished_pairs().items()
                     if sized[j].ln_n < sized[i].ln_n - 1e-9]
            calibrations[key] = calibrate_floor(below, key[0])
        return calibrations[key]

    bands: dict[tuple[float, float, float], tuple[Calibration, Calibration]] = {}

    def band_calibration(i: int, prediction: CollapsePrediction) -> tuple[Calibration, Calibration] | None:
        """The conformal calibrations of run i's band (sweep/fit/calibration.py, PAIRS) and of the gaps
        between two runs predicted alike (GAPS): each finished pair whose larger run is of the nearest
        size below run i that has pairs, its larger run predicted from its partner with the same
        floor, seen up to the fraction run i's ratio was read at (rounded down to CALIBRATION_STEP,
        which only widens); the band from the scores |predicted - final| / predicted, the gaps from
        those runs' (predicted, final) two at a time at `margin` (calibration.gap_calibration); None with
        no such pair.
        A sweep's smaller runs finish first, so they are there while run i trains. The nearest size
        only: a step further down the collapse errs more (on real text d32 from d16 by a median
        8.6-11.2% at 25%, d48 from d32 by 2.0-2.2%), so its errors would say little of run i's."""
        below = [j for j in finished_pairs() if sized[j].ln_n < sized[i].ln_n - 1e-9]
        if not below:
            return None
        nearest = max(sized[j].ln_n for j in below)
        below = [j for j in below if abs(sized[j].ln_n - nearest) < 1e-9]
        fraction = math.floor(prediction.ratio_step / prediction.steps / CALIBRATION_STEP + 1e-9) * CALIBRATION_STEP
        key = (fraction, round(sized[i].ln_n, 9), prediction.floor)
        if key not in bands:
            replayed = []  # (predicted, final) of each run of `below` the collapse predicts at that fraction
            for j in below:
                e_floor = sized[j].entropy if floor == TRUE_FLOOR else prediction.floor
                if e_floor is None:
                    continue
                try:
                    own = predict_by_collapse(sized[j].whole, finished_pairs()[j], e_floor, min_band=0.0, level=0.0,
                                              until_step=int(fraction * sized[j].whole.steps))
                except CollapseError:  # not predicted at that fraction (no record yet, a warmup, a plateau)
                    continue
                replayed.append((own.predicted, sized[j].whole.final))
            bands[key] = (calibration([abs(p - f) / p for p, f in replayed], level, fraction, len(below), on=PAIRS),
                          gap_calibration(replayed, level, fraction, len(below), margin))
        return bands[key]

    out = list(predictions)
    for i, run in sized.items():
        if i >= len(predictions):  # a reference only: read, not predicted
            continue
        ref_size = nearest_size(run.key, run.ln_n, (run.ln_n,))
        if ref_size is None:
            continue
        down_size = nearest_size(run.key, ref_size, (run.ln_n, ref_size))
        floor_calibration = None
        try:
            reference, ref_lr = matched(run.key, ref_size, run.lr, run.whole.steps)
            down = None if down_size is None else matched(run.key, down_size, ref_lr, reference.steps)[0]
            if floor == AUTO_FLOOR:
                floor_calibration = calibrated(i, until_steps[i])
                e_floor = floor_calibration.floor
            elif floor == TRUE_FLOOR:
                e_floor = next((r.entropy for r in finished[(run.key, ref_size)] if r.entropy is not None), None)
            else:
                e_floor = floor
            if e_floor is None:
                out[i] = replace(out[i], collapse_skipped=f"reference {reference.name} records no true_"
                                                          "entropy_nats (only data=synthetic does): give --floor E")
                continue
            prediction = predict_by_collapse(run.seen, reference, float(e_floor), level=level,
                                             min_band=fit_defaults().collapse_min_band, until_step=until_steps[i],
                                             reference_of_reference=down, seen_until=run.seen_until)
        except CollapseError as err:
            out[i] = replace(out[i], collapse_skipped=str(err))
            continue
        prediction = replace(prediction, floor_from=None if floor_calibration is None else floor_calibration.describe(),
                             measured_below=prediction.one_size_down is not None
                             and down_size < ref_size < run.ln_n)
        if (calibrated_by := band_calibration(i, prediction)) is not None:
            band, gaps = calibrated_by
            prediction = replace(prediction, calibration=band, gaps=gaps,
                                 interval=band.widen(prediction.predicted, prediction.interval))
        out[i] = replace(out[i], prediction=prediction, skipped=None)
    return out


@dataclass(frozen=True)
class _SizedRun:
    """A run read for the collapse predictor: its reference key (sweep/rundir.py), ln N and peak
    learning rate, its eval records seen (cut as the curve law's) and whole, its final eval loss
    where finished, its true_entropy_nats."""

    key: str
    ln_n: float
    lr: float
    seen: EvalCurve
    whole: EvalCurve
    entropy: float | None
    seen_until: int  # the last step of its records seen (train or eval)

    @classmethod
    def of(cls, read: tuple) -> "_SizedRun | None":
        from sweep.budget import compute_budget
        from sweep.data.tokenizer import vocab_size
        from sweep.rundir import reference_key

        p, cfg, curve, whole_evals, entropy = read
        try:
            n_params = compute_budget(cfg).n_params
            uniform = math.log(vocab_size(cfg.data))  # ln V: a curve not below it has not begun to learn
        except ConfigError:  # a config whose budget cannot be planned: no size to compare
            return None
        steps = len(curve.lr_S)
        whole = EvalCurve(p.run, [k for k, _ in whole_evals], [v for _, v in whole_evals], steps, p.actual,
                          curve.warmup, uniform)
        seen = EvalCurve(p.run, curve.eval_steps, curve.eval_loss, steps, p.actual, curve.warmup, uniform)
        last = max([*curve.train_steps, *curve.eval_steps], default=0)
        return cls(reference_key(cfg), math.log(n_params), float(cfg.optim.lr), seen, whole, entropy, int(last))


def _read_run(run: RunSource, at_fraction: float | None, until_step: int | None):
    """(the run's RunPrediction without a prediction yet, its config, its Curve, all its eval
    records (step, loss) uncut, its true_entropy_nats or None), or the RunPrediction skipped with
    its reason."""
    from sweep.record import COMPLETE, DIVERGED, PENDING, TRUNK, run_role

    name, status, coordinates, actual = run.name, "damaged", {}, None

    def skip(reason: str) -> RunPrediction:
        return RunPrediction(name, status, coordinates, actual=actual, skipped=reason)

    try:
        status = run.status()
        actual = actual_final_loss(run.result())
        cfg = train_config(run.config(), run.where, run.remedy)
        coordinates = {key: getattr(getattr(cfg, section), setting) for key, (section, setting) in SETTING_OF.items()}
        if run_role(cfg) == TRUNK:
            return skip("a ladder's trunk: it has no final loss of its own (its branches are predicted)")
        if status == DIVERGED:
            return skip("diverged: no final loss to predict")
        if status == PENDING:
            return skip("no records yet")
        lr_S, warmup = learning_rates(cfg)
        records = sorted({r["step"]: r for r in run.records() if "step" in r}.values(), key=lambda r: r["step"])
        last = records[-1]["step"] if records else 0
        if status == COMPLETE and not run.sampled and last < len(lr_S):  # a run logs its last step (loop.py):
            # was `- log_every`, and a file that lost its last line (step 135 of 140) passed for a whole curve
            if not records:
                return skip("complete, but its metrics.jsonl holds no record (empty, or lost): no curve to predict "
                            "from; its final loss stands in result.json")
            return skip(f"complete, but its metrics.jsonl ends at step {last} of its {len(lr_S)}: the file was cut "
                        "short (damaged), and a curve seen in part would pass for one seen whole")
        full_evals = [(r["step"], r["eval_loss"]) for r in records if r.get("eval_loss") is not None]
        if at_fraction is not None:
            records = [r for r in records if r["step"] <= at_fraction * len(lr_S)]
        if until_step is not None:
            records = [r for r in records if r["step"] <= until_step]
        train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
        evals = [(r["step"], r["eval_loss"]) for r in records if r.get("eval_loss") is not None]
        if not train:
            return skip("no train_loss records" + (f" in the first {at_fraction:g} of its steps" if at_fraction else ""))
        curve = Curve(lr_S, *zip(*train), *(zip(*evals) if evals else ((), ())), warmup=warmup,
                      train_window=cfg.train.log_every if run.sampled else None)
        entropy = run.result().get("true_entropy_nats")
        return RunPrediction(name, status, coordinates, actual=actual), cfg, curve, full_evals, \
            float(entropy) if isinstance(entropy, (int, float)) and math.isfinite(entropy) else None
    except (DamagedFile, ConfigError) as err:
        return skip(str(err))


def summarize(predictions: list[RunPrediction]) -> dict[str, Any]:
    """Over the finished runs predicted: how many, the median and worst |relative error|, and the
    fraction whose interval holds the actual loss; and how many runs were predicted and skipped.
    A run predicted from a smaller one with its own curve seen whole is not scored: the collapse then
    gives back its own final loss (`--floor` on a finished sweep said 0.00% error, 100% covered)."""
    finished = [p for p in predictions if p.error is not None]
    scored = [p for p in finished
              if not (isinstance(p.prediction, CollapsePrediction) and p.prediction.steps_seen >= p.prediction.steps)]
    rel = np.abs([p.relative_error for p in scored])
    return {"runs": len(predictions), "predicted": sum(p.prediction is not None for p in predictions),
            "skipped": sum(p.skipped is not None for p in predictions), "finished_predicted": len(scored),
            "unscored_seen_whole": len(finished) - len(scored),
            "median_abs_relative_error": float(np.median(rel)) if len(rel) else None,
            "max_abs_relative_error": float(rel.max()) if len(rel) else None,
            "coverage": float(np.mean([p.covered for p in scored])) if scored else None}


def partly_seen_caution(predictions: Sequence[RunPrediction], level: float) -> str | None:
    """What `sweep predict` cautions about when runs were predicted from part of their curve: the
    curve law's intervals that nothing calibrates cover less often than their level says, and
    calibrated ones hold at the level each states (on finished smaller runs) or did on the benchmark
    (on the group's own first halves). The figures are the early-stopping
    benchmark's (benchmarks/RESULTS.md, "Calibrated on the finished smaller runs", "Not from a
    curve still on its plateau" and, for the collapse's bands on real text with and without a
    third, smaller size, "Two widths on real text", "The reference matched by its summed learning
    rate" and "The collapse's bands calibrated"). None when every run predicted was seen whole."""
    partial = [p for p in predictions if p.prediction is not None and p.prediction.steps_seen < p.prediction.steps]
    if not partial:
        return None
    by_law = [p.prediction for p in partial if isinstance(p.prediction, FinalLossPrediction)]
    measured = [q.calibration for q in by_law if q.calibration is not None and q.calibration.measured]
    smaller = sum(c.on == SMALLER for c in measured)
    own = len(measured) - smaller
    unmeasured = sum(q.calibration is not None and not q.calibration.measured for q in by_law)
    alone = len(by_law) - len(measured) - unmeasured
    parts = []
    if smaller:
        parts.append(f"{smaller} predicted by the curve law from part of their steps have intervals calibrated on "
                     "the finished smaller runs (each holds at the level its `calibration` states if its error is "
                     "like theirs; on the early-stopping benchmark they held the final loss for 249 of 252 runs at "
                     "15-50%)")
    if own:
        parts.append(f"{own} predicted by the curve law from part of their steps, with no finished smaller run, have "
                     "intervals calibrated on their group's own first halves (a backtest, not a guarantee: on that "
                     "benchmark, each width alone, they held the final loss for 217 of 229 runs at 15-50%, 16 of 25 "
                     "at 10%)")
    if unmeasured or alone:
        parts.append(f"{unmeasured + alone} predicted by the curve law from part of their steps have the bootstrap's "
                     f"interval only ({unmeasured} because the law could predict none of the finished smaller runs at "
                     f"that fraction, {alone} with no finished smaller run and no first half it could predict): such "
                     f"intervals hold the final loss less often than {level:.0%} (27-85% of the runs at 10-50% on that "
                     "benchmark; README \"Calibrated on the finished smaller runs\")")
    by_collapse = [p.prediction for p in partial if isinstance(p.prediction, CollapsePrediction)]
    banded = [q for q in by_collapse if q.calibration is not None and q.calibration.measured]
    if banded:
        parts.append(f"{len(banded)} predicted from a finished run of another size have bands calibrated on the "
                     "finished runs of the nearest smaller size, each predicted from its smaller partner (each holds "
                     "at the level its `calibration` states if its error is like theirs; on real prose, d64 from "
                     "d48 calibrated on d48 from d32, 30 of 30 held at 10, 25 and 50%)")
    by_collapse = [q for q in by_collapse if q.calibration is None or not q.calibration.measured]
    below = sum(q.measured_below for q in by_collapse)
    if below:
        parts.append(f"{below} predicted from a finished smaller run, their bands holding its error measured one size "
                     "down (a third, smaller size): on that benchmark such bands held the final loss for 41 of 42 runs "
                     "at 10%, all at 15% and 25%, 58 of 60 at 50% (synthetic corpus, the reference read at the run's "
                     "own learning rate); on real prose with E = 0, 27, 22 and 26 of 30 at 10, 25 and 50% (README "
                     "\"From a finished run of another size\")")
    if len(by_collapse) > below:
        parts.append(f"{len(by_collapse) - below} predicted from a finished run of another size with no smaller third "
                     "size to measure the method's error by (a reference larger than the run, or none below the "
                     "reference): their bands are mostly the ratio's drift, which held the final loss for 70-100% of "
                     "the runs on the synthetic corpus with E known, but on real prose with E = 0 for 4-18 of 30 at "
                     "10%, 21-24 of 30 at 25%, 27-28 of 30 at 50%: read them as rough (README \"From a finished run "
                     "of another size\")")
    return "; ".join(parts)


def swept_axis(predictions: list[RunPrediction]) -> str | None:
    """The first coordinate (SWEPT order: width first) whose value differs between the runs, None if none."""
    for key in SWEPT:
        values = {p.coordinates.get(key) for p in predictions if p.coordinates}
        if len(values) > 1:
            return key
    return None
