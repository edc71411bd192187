"""`sweep predict`: every run of a sweep folder, finished or still training, with its final eval
loss predicted by the loss-curve law (sweep/fit/curve_law.py) from the records it has so far.

Each run's schedule is its own: the learning rate of every update up to its budget, from its
config.yaml (sweep/run/optim.py lr_at; a ladder member's warmup is its trunk's, as in training).
`at_fraction` F replays the past: each run's records are cut at F of its steps first (what the
predictor would have said then); a finished run then gets its actual final eval loss and the error.

The runs of one budget group (sweep/rundir.py group_key: the same model, tokens, data and
seed; learning rate, batch size or weight decay differ) are fitted together, sharing the law's
alpha, A and C (sweep/fit/curve_law.py predict_final_losses); `shared=False` fits each alone.

A run that cannot be predicted is kept with a one-line `skipped` reason: a ladder's trunk (no final
loss of its own: its branches are the runs), a diverged run, no records yet, too few records after
the warmup, still in its initial descent, no eval record yet, no annealing seen yet (wsd before
its cooldown), an unreadable folder.

Letters: S a run's steps, F the fraction of them seen.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError, DamagedFile
from sweep.fit.curve_law import Curve, CurveFitError, FinalLossPrediction, predict_final_losses

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
    prediction: FinalLossPrediction | None = None
    actual: float | None = None
    skipped: str | None = None

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
        return out


def check_fraction(at_fraction: float | None) -> None:
    if at_fraction is None:
        return
    if isinstance(at_fraction, bool) or not isinstance(at_fraction, (int, float)) or \
            not (math.isfinite(at_fraction) and 0 < at_fraction <= 1):
        raise ConfigError(f"--at-fraction {at_fraction!r}: accepted is a fraction of each run's steps in (0, 1]")


def predict_sweep(source: str | os.PathLike, at_fraction: float | None = None, *, n_resamples: int | None = None,
                  level: float | None = None, seed: int | None = None, shared: bool = True) -> list[RunPrediction]:
    """Every run folder of the sweep folder `source`, predicted (or skipped with its reason), the
    runs of a budget group together unless `shared` is False.
    Bootstrap resamples, level and seed default to conf/fit.yaml's. ConfigError for a W&B group, a
    folder that does not exist or holds no run, a fraction outside (0, 1] or fewer than 1 resample."""
    from sweep.fit.defaults import fit_defaults
    from sweep.rundir import iter_run_dirs

    check_fraction(at_fraction)
    n_resamples, level, seed = fit_defaults().resolve_bootstrap(n_resamples, level, seed)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"--bootstrap {n_resamples!r}: accepted is an integer >= 1 (the resamples of each run's "
                          "interval)")
    text = str(source)
    if text.startswith("wandb:"):
        raise ConfigError(f"{text}: sweep predict reads a sweep folder (each run's config.yaml gives its "
                          "learning-rate schedule); give the folder the runs were trained into")
    if not Path(text).is_dir():
        raise ConfigError(f"sweep folder {text} does not exist")
    runs = list(iter_run_dirs(text))
    if not runs:
        raise ConfigError(f"{text} holds no run folders (folders with a config.yaml)")
    return predict_runs(runs, None, at_fraction, shared=shared, n_resamples=n_resamples, level=level, seed=seed)


def run_config(run: Any):
    """A run folder's config.yaml as a TrainConfig; a setting it lacks (a run from before the
    setting existed) takes its default in conf/train.yaml."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    from sweep.config import TrainConfig, to_typed
    from sweep.rundir import CONFIG_REMEDY

    plain = run.read_config()
    defaults = OmegaConf.create(files("conf").joinpath("train.yaml").read_text())
    defaults = {k: v for k, v in defaults.items() if k not in ("defaults", "hydra")}
    try:
        return to_typed(OmegaConf.merge(OmegaConf.structured(TrainConfig), defaults, plain))
    except Exception as err:  # a setting the schema does not know, a value of the wrong type
        raise DamagedFile(run.config_file, f"not a config of this version ({type(err).__name__}: "
                          f"{str(err).splitlines()[0]})", CONFIG_REMEDY) from None


def learning_rates(cfg: Any) -> tuple[np.ndarray, int]:
    """The learning rate of every update of the run's budget, as training sets it, and its warmup."""
    from sweep.budget import compute_budget
    from sweep.ladder import is_member, ladder_steps
    from sweep.run.optim import lr_at, warmup_steps

    steps = compute_budget(cfg).steps
    warmup_of = ladder_steps(cfg) if is_member(cfg) else None
    lr_S = np.array([lr_at(i, cfg.optim, steps, warmup_of) for i in range(steps)])
    return lr_S, warmup_steps(cfg.optim, steps if warmup_of is None else warmup_of)


def predict_run(run: Any, at_fraction: float | None = None, *, until_step: int | None = None, n_resamples: int = 200,
                level: float = 0.95, seed: int = 0) -> RunPrediction:
    """One run folder (a RunDir) predicted alone, or skipped with its reason; from its records up to
    `at_fraction` of its steps, or up to step `until_step` (early stopping's probe step), or all."""
    (prediction,) = predict_runs([run], [until_step], at_fraction, n_resamples=n_resamples, level=level, seed=seed)
    return prediction


def predict_runs(runs: Sequence[Any], until_steps: Sequence[int | None] | None = None,
                 at_fraction: float | None = None, *, shared: bool = True, n_resamples: int = 200,
                 level: float = 0.95, seed: int = 0) -> list[RunPrediction]:
    """Run folders (RunDirs) predicted, in order, or skipped with their reasons; each from its
    records up to its `until_steps` entry (None: all of them) and `at_fraction` of its steps.
    shared: the runs of one budget group (sweep/rundir.py group_key: they differ only in lr,
    batch size and weight decay) are fitted with one alpha (sweep/fit/curve_law.py
    predict_final_losses), each keeping its own L0, A, C and gap; a run that cannot be fitted is
    skipped and leaves the others' fit alone."""
    from sweep.rundir import group_key

    until_steps = [None] * len(runs) if until_steps is None else list(until_steps)
    if len(until_steps) != len(runs):
        raise ValueError(f"predict_runs: {len(runs)} runs and {len(until_steps)} until_steps")
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
    return out


def _read_run(run: Any, at_fraction: float | None, until_step: int | None):
    """(the run's RunPrediction without a prediction yet, its config, its Curve), or the
    RunPrediction skipped with its reason."""
    from sweep.record import DIVERGED, PENDING, TRUNK, run_role

    name, status, coordinates, actual = run.path.name, "damaged", {}, None

    def skip(reason: str) -> RunPrediction:
        return RunPrediction(name, status, coordinates, actual=actual, skipped=reason)

    try:
        status = run.state()
        cfg = run_config(run)
        coordinates = {key: getattr(getattr(cfg, section), setting) for key, (section, setting) in SETTING_OF.items()}
        result = run.read_result() or {}
        actual = result.get("final_eval_loss") if result.get("status") == "complete" else None
        actual = float(actual) if isinstance(actual, (int, float)) and math.isfinite(actual) else None
        if run_role(cfg) == TRUNK:
            return skip("a ladder's trunk: it has no final loss of its own (its branches are predicted)")
        if status == DIVERGED:
            return skip("diverged: no final loss to predict")
        if status == PENDING:
            return skip("no records yet")
        lr_S, warmup = learning_rates(cfg)
        records = sorted({r["step"]: r for r in run.read_metrics() if "step" in r}.values(), key=lambda r: r["step"])
        if at_fraction is not None:
            records = [r for r in records if r["step"] <= at_fraction * len(lr_S)]
        if until_step is not None:
            records = [r for r in records if r["step"] <= until_step]
        train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
        evals = [(r["step"], r["eval_loss"]) for r in records if r.get("eval_loss") is not None]
        if not train:
            return skip("no train_loss records" + (f" in the first {at_fraction:g} of its steps" if at_fraction else ""))
        curve = Curve(lr_S, *zip(*train), *(zip(*evals) if evals else ((), ())), warmup=warmup)
        return RunPrediction(name, status, coordinates, actual=actual), cfg, curve
    except (DamagedFile, ConfigError) as err:
        return skip(str(err))


def summarize(predictions: list[RunPrediction]) -> dict[str, Any]:
    """Over the finished runs predicted: how many, the median and worst |relative error|, and the
    fraction whose interval holds the actual loss; and how many runs were predicted and skipped."""
    scored = [p for p in predictions if p.error is not None]
    rel = np.abs([p.relative_error for p in scored])
    return {"runs": len(predictions), "predicted": sum(p.prediction is not None for p in predictions),
            "skipped": sum(p.skipped is not None for p in predictions), "finished_predicted": len(scored),
            "median_abs_relative_error": float(np.median(rel)) if len(rel) else None,
            "max_abs_relative_error": float(rel.max()) if len(rel) else None,
            "coverage": float(np.mean([p.covered for p in scored])) if scored else None}


def swept_axis(predictions: list[RunPrediction]) -> str | None:
    """The first coordinate (SWEPT order: width first) whose value differs between the runs, None if none."""
    for key in SWEPT:
        values = {p.coordinates.get(key) for p in predictions if p.coordinates}
        if len(values) > 1:
            return key
    return None
