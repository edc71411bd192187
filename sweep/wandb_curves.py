"""A sweep's loss curves read back from W&B, for Approach 1 (sweep/fit/envelope.py), as
sweep/fit/curves.py read_curves gives them from run folders' metrics.jsonl:

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
- The reader (HistoryReader: any metrics, one cached sampled request per run and set of keys) is
  also how `sweep predict wandb:...` reads each run's train and eval loss (sweep/wandb_records.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from sweep.errors import ConfigError
from sweep.fit.curves import LOSS_KEYS, Curve, Curves, excluded_text
from sweep.record import COMPLETE, TRUNK, is_fit_point, training_flops
from sweep.storage import atomic_write
from sweep.tracking import METRICS
from sweep.wandb_runs import WandbSweep, train_runs, wandb_row

log = logging.getLogger("sweep.fit")

PROGRESS_EVERY = 25
T, U = TypeVar("T"), TypeVar("U")


def history_defaults() -> dict[str, Any]:
    """conf/wandb_history.yaml."""
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("conf").joinpath("wandb_history.yaml").read_text())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scaling-sweep" / "wandb-history"


def history_reader(cache_dir: Path | None = None, samples: int | None = None) -> HistoryReader:
    """A HistoryReader with conf/wandb_history.yaml's samples, cache folder and workers where not given."""
    defaults = history_defaults()
    samples = defaults["samples"] if samples is None else samples
    return HistoryReader(Path(cache_dir or defaults["cache_dir"] or default_cache_dir()), samples, defaults["workers"])


def read_wandb_curves(sweep: WandbSweep, loss: str = "auto", api: Any = None, cache_dir: Path | None = None,
                      samples: int | None = None) -> Curves:
    """Each complete train run's loss-vs-FLOPs curve from its W&B history. loss = "auto" takes
    eval/loss where every complete run has at least two eval points, else train/loss for all."""
    if loss not in LOSS_KEYS:
        raise ConfigError(f"loss {loss!r} is not one of {', '.join(LOSS_KEYS)}")
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
        raise ConfigError(f"{sweep} holds no complete runs" + (f" ({excluded_text(excluded)})" if excluded else ""))
    reader = history_reader(cache_dir, samples)
    keys = ("eval_loss",) if loss == "auto" else (loss,)
    curves = reader.curves(complete, keys[0])
    if loss == "auto" and not all(c is not None and len(c.loss_S) >= 2 for c in curves):
        keys, curves = ("train_loss",), reader.curves(complete, "train_loss")
    loss_key = keys[0]
    if None in curves:
        excluded[f"no {loss_key} records"] = curves.count(None)
    log.info("%s: %d loss curves (%s), %d runs' histories from W&B, %d from the cache %s", sweep,
             sum(c is not None for c in curves), loss_key, reader.fetched, reader.cached, reader.cache_dir)
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
            rows = self.history(run, ["tokens", "flops", METRICS[loss_key]])
            return to_curve(row["run"], float(row["n_params"]), rows, loss_key)

        return self.each(curve, runs)

    def each(self, read: Callable[[T], U], items: Sequence[T]) -> list[U]:
        """read(item) for every item, in their order, `workers` at once (each makes its history
        requests), with a progress line every PROGRESS_EVERY items."""
        out = []
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for i, result in enumerate(pool.map(read, items)):
                out.append(result)
                if (i + 1) % PROGRESS_EVERY == 0 and i + 1 < len(items):
                    log.info("histories: %d/%d runs read (%d from W&B, %d cached)", i + 1, len(items), self.fetched,
                             self.cached)
        return out

    def history(self, run: Any, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The run's sampled history of the W&B metrics `keys`: the rows holding every one of them
        (and `_step`), as W&B's sampledHistory answers; ConfigError when it cannot be read."""
        keys = list(keys)
        key = {"run": f"{run.entity}/{run.project}/{run.id}", "state": run.state, "keys": keys,
               "samples": self.samples, "history_line_count": _attr(run, "history_line_count"),
               "heartbeat_at": _attr(run, "heartbeat_at")}
        names = "+".join(k.replace("/", "_") for k in keys)
        path = self.cache_dir / f"{run.entity}--{run.project}--{run.id}--{names}.json"
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

