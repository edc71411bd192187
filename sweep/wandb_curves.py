"""A sweep's loss curves read back from W&B, for Approach 1 (sweep/fit/envelope.py), as
sweep/fit/table.py read_curves gives them from run folders' metrics.jsonl:

    sweep fit wandb:ENTITY/PROJECT/GROUP --law envelope      sweep report wandb:ENTITY/PROJECT/GROUP

- Each complete train run's loss history against tokens and FLOPs (the W&B metrics of
  sweep/tracking.py: eval/loss or train/loss, tokens, flops) comes from ONE sampled-history
  request (`Run.history(keys=..., samples=...)`, GraphQL `sampledHistory`): a run's eval points
  (tens to a few thousand) fit in one answer, where the paged scan (`Run.scan_history`) costs a
  `lastHistoryStep` query plus one request per page and reads every train-loss row too. W&B
  samples a history longer than `samples` (conf/wandb_history.yaml) down to that many rows;
  the envelope is read at 40 points of C, so that loses nothing it uses.
- Each answer is cached on disk (`cache_dir`), keyed by the run's id, state, history length
  (historyLineCount) and last heartbeat, which come with the runs' listing: a second read of
  finished runs makes no history request; a run that logged more since is read again.
- `workers` (conf/wandb_history.yaml) requests at once: thousands of runs read one by one take
  long. Progress: a line every PROGRESS_EVERY runs, and a summary.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.curves import LOSS_KEYS, Curve, Curves
from sweep.record import COMPLETE, TRUNK, is_fit_point, training_flops
from sweep.storage import atomic_write
from sweep.tracking import METRICS
from sweep.wandb_runs import WandbSweep, train_runs, wandb_row

log = logging.getLogger("sweep.fit")

PROGRESS_EVERY = 25


def history_defaults() -> dict[str, Any]:
    """conf/wandb_history.yaml."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("conf").joinpath("wandb_history.yaml").read_text())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scaling-sweep" / "wandb-history"


def read_wandb_curves(sweep: WandbSweep, loss: str = "auto", api: Any = None, cache_dir: Path | None = None,
                      samples: int | None = None) -> Curves:
    """Each complete train run's loss-vs-FLOPs curve from its W&B history. loss = "auto" takes
    eval/loss where every complete run has at least two eval points, else train/loss for all."""
    if loss not in LOSS_KEYS:
        raise ConfigError(f"loss {loss!r} is not one of {', '.join(LOSS_KEYS)}")
    defaults = history_defaults()
    samples = defaults["samples"] if samples is None else samples
    cache_dir = Path(cache_dir or defaults["cache_dir"] or default_cache_dir())
    complete, excluded = [], {}
    for run in train_runs(sweep, api):
        row = wandb_row(run)
        if row.get("status") != COMPLETE or not row.get("n_params") or not is_fit_point(row):
            status = (TRUNK if not is_fit_point(row) else row.get("status") if row.get("status") != COMPLETE
                      else "no n_params")
            excluded[status] = excluded.get(status, 0) + 1
            continue
        complete.append((run, row))
    if not complete:
        raise ConfigError(f"{sweep} holds no complete runs" + (f" ({_counts(excluded)})" if excluded else ""))
    reader = HistoryReader(cache_dir, samples, defaults["workers"])
    keys = ("eval_loss",) if loss == "auto" else (loss,)
    curves = reader.curves(complete, keys[0])
    if loss == "auto" and not all(c is not None and len(c.loss_S) >= 2 for c in curves):
        keys, curves = ("train_loss",), reader.curves(complete, "train_loss")
    loss_key = keys[0]
    if None in curves:
        excluded[f"no {loss_key} records"] = curves.count(None)
    log.info("%s: %d loss curves (%s), %d runs' histories from W&B, %d from the cache %s", sweep,
             sum(c is not None for c in curves), loss_key, reader.fetched, reader.cached, cache_dir)
    return Curves([c for c in curves if c is not None], loss_key, excluded, str(sweep))


class HistoryReader:
    """Sampled histories, from the disk cache when the run has not changed since."""

    def __init__(self, cache_dir: Path, samples: int, workers: int = 1):
        self.cache_dir, self.samples, self.workers = cache_dir, samples, workers
        self.fetched = self.cached = 0
        self.lock = threading.Lock()

    def curves(self, runs: list[tuple[Any, dict[str, Any]]], loss_key: str) -> list[Curve | None]:
        """The runs' curves, in their order; `workers` history requests at once."""
        def curve(item: tuple[Any, dict[str, Any]]) -> Curve | None:
            run, row = item
            return to_curve(row["run"], float(row["n_params"]), self.history(run, loss_key), loss_key)

        out = []
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for i, result in enumerate(pool.map(curve, runs)):
                out.append(result)
                if (i + 1) % PROGRESS_EVERY == 0 and i + 1 < len(runs):
                    log.info("histories: %d/%d runs read (%d from W&B, %d cached)", i + 1, len(runs), self.fetched,
                             self.cached)
        return out

    def history(self, run: Any, loss_key: str) -> list[dict[str, Any]]:
        keys = ["tokens", "flops", METRICS[loss_key]]
        key = {"run": f"{run.entity}/{run.project}/{run.id}", "state": run.state, "keys": keys,
               "samples": self.samples, "history_line_count": _attr(run, "history_line_count"),
               "heartbeat_at": _attr(run, "heartbeat_at")}
        path = self.cache_dir / f"{run.entity}--{run.project}--{run.id}--{METRICS[loss_key].replace('/', '_')}.json"
        try:
            cached = json.loads(path.read_text())
            if cached["key"] == key:
                with self.lock:
                    self.cached += 1
                return cached["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            rows = run.history(keys=keys, samples=self.samples, pandas=False)
        except Exception as err:  # no network, no permission
            raise ConfigError(f"could not read the history of W&B run {run.id} ({run.name}): "
                              f"{type(err).__name__}: {err}") from err
        with self.lock:
            self.fetched += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps({"key": key, "rows": rows}))
        except OSError as err:  # read again next time: nothing lost
            log.warning("could not cache the history of %s in %s (%s)", run.id, path, err)
        return rows


def to_curve(name: str, n_params: float, rows: list[dict[str, Any]], loss_key: str) -> Curve | None:
    """The rows holding the loss and tokens, one per tokens value (the last), in order of tokens."""
    metric = METRICS[loss_key]
    points = {r["tokens"]: r for r in rows if _number(r.get(metric)) and _number(r.get("tokens")) and r["tokens"] > 0}
    if not points:
        return None
    ordered = [points[t] for t in sorted(points)]
    tokens_S = np.array([r["tokens"] for r in ordered], dtype=float)
    flops_S = np.array([r["flops"] if _number(r.get("flops")) else training_flops(n_params, r["tokens"])
                        for r in ordered], dtype=float)
    return Curve(name, n_params, tokens_S, flops_S, np.array([r[metric] for r in ordered], dtype=float))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _attr(run: Any, name: str) -> Any:
    """A listing field of a public-API Run (None when the server did not send it)."""
    try:
        return getattr(run, name)
    except AttributeError:
        return None


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
