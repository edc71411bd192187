"""The train runs of a W&B group as `sweep predict` reads runs (sweep/fit/predict.py RunSource):

    sweep predict wandb:ENTITY/PROJECT/GROUP [--at-fraction F]

- config: the run's full config, logged by sweep/tracking.py as `config["config"]` (to_plain);
- status and result: W&B's state and the run's summary, as sweep/wandb_runs.py wandb_row reads them
  (a finished run's summary holds its result.json: status, final_eval_loss);
- records: its train/loss and eval/loss history, one sampled-history request per metric (W&B
  answers only the rows that hold every key asked, and the two are logged at different steps),
  read and cached on disk by sweep/wandb_curves.py HistoryReader (conf/wandb_history.yaml:
  samples, cache_dir, workers). A history longer than `samples` rows comes back with rows
  dropped: the records are `sampled`, so the predictor takes each train record to cover its own
  train.log_every updates.

The histories of all runs are read up front, `workers` at once; a run whose history cannot be
read keeps that error as its skip reason, the others are predicted.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from sweep.errors import ConfigError
from sweep.tracking import METRICS
from sweep.wandb_curves import HistoryReader, history_reader
from sweep.wandb_runs import WandbSweep, train_runs, wandb_row

log = logging.getLogger("sweep.fit")

LOSSES = ("train_loss", "eval_loss")  # the records the predictor reads, each its own history request


class WandbRun:
    """One W&B train run (a public-API Run) as a RunSource; its history read once (fetch)."""

    sampled = True

    def __init__(self, run: Any, reader: HistoryReader):
        self.run, self.reader = run, reader
        self.row = wandb_row(run)
        self.name = str(self.row.get("run") or run.name)
        self._records: list[dict[str, Any]] | None = None
        self._error: ConfigError | None = None

    @property
    def where(self) -> str:
        return f"the config of W&B run {self.run.id} ({self.name})"

    @property
    def remedy(self) -> str:
        return "predict the run from its sweep folder, whose config.yaml can be rewritten by re-running the sweep"

    def status(self) -> str:
        return self.row["status"]

    def config(self) -> dict[str, Any]:
        plain = dict(self.run.config).get("config")
        if not isinstance(plain, dict):
            raise ConfigError(f"W&B run {self.run.id} has no full config (config.config, which sweep/tracking.py "
                              "logs): its schedule is not known")
        return plain

    def result(self) -> dict[str, Any]:
        return self.row

    def records(self) -> list[dict[str, Any]]:
        if self._records is None and self._error is None:
            self.fetch()
        if self._error is not None:
            raise self._error
        return self._records

    def fetch(self) -> None:
        """Read the run's train and eval loss histories (or keep the error that says why not)."""
        try:
            by_step: dict[int, dict[str, Any]] = {}
            for key in LOSSES:
                for row in self.reader.history(self.run, [METRICS[key]]):
                    step, value = row.get("_step"), row.get(METRICS[key])
                    if _integer(step) and _finite(value):
                        by_step.setdefault(int(step), {"step": int(step)})[key] = float(value)
            self._records = [by_step[k] for k in sorted(by_step)]
        except ConfigError as err:
            self._error = err


def wandb_run_sources(sweep: WandbSweep, api: Any = None, cache_dir: Path | None = None,
                      samples: int | None = None) -> list[WandbRun]:
    """The group's train runs with their histories read (from the cache where a run has not
    changed); ConfigError when W&B cannot be read or the group holds no train runs."""
    reader = history_reader(cache_dir, samples)
    runs = [WandbRun(run, reader) for run in train_runs(sweep, api)]
    reader.each(WandbRun.fetch, runs)
    log.info("%s: %d runs' loss histories, %d requests to W&B, %d from the cache %s", sweep, len(runs),
             reader.fetched, reader.cached, reader.cache_dir)
    return runs


def _integer(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
