"""Reading a sweep's loss-vs-FLOPs curves (sweep/fit/curves.py's types), the input of Approach 1
(sweep/fit/envelope.py): `read_curves` reads each complete run's metrics.jsonl from run folders,
or hands a `wandb:` source to sweep/wandb_curves.py (each run's history).

Letters (README "The science: Letters"): N parameters, T tokens, C compute; S the records of one
run's curve.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sweep.errors import ConfigError, DamagedFile
from sweep.fit.curves import LOSS_KEYS, Curve, Curves, excluded_text
from sweep.record import COMPLETE, DAMAGED, TRUNK, is_fit_point, training_flops

log = logging.getLogger("sweep.fit")


def read_curves(sweep_dir: str | os.PathLike, loss: str = "auto") -> Curves:
    """Each complete run's metrics.jsonl (a W&B group: its history) as a loss-vs-FLOPs curve. loss = "auto" takes the
    eval_loss records where every complete run has at least two of them, else every run's
    train_loss records (one kind of loss for all runs: the two are not comparable). A record's C
    is its `flops` (6 N tokens where absent)."""
    from sweep.rundir import iter_run_dirs

    text = str(sweep_dir)
    if loss not in LOSS_KEYS:
        raise ConfigError(f"loss {loss!r} is not one of {', '.join(LOSS_KEYS)}")
    if text.startswith("wandb:"):  # the runs' W&B histories (one sampled request per run, cached)
        from sweep.wandb_curves import read_wandb_curves
        from sweep.wandb_runs import parse_source

        return read_wandb_curves(parse_source(text), loss)
    if not Path(text).is_dir():
        is_file = ("is a file: the loss curves are read from run folders (metrics.jsonl) or W&B histories, "
                   "not a runs table; "
                   "give the sweep folder or wandb:[ENTITY/]PROJECT/GROUP")
        raise ConfigError(f"sweep folder {text} {is_file if Path(text).exists() else 'does not exist'}")
    runs, excluded = [], {}
    for run in iter_run_dirs(text):
        try:
            status, curve = _complete_run(run)
        except DamagedFile as err:
            log.warning("left out: %s", err)
            status, curve = DAMAGED, None
        if curve is None:
            excluded[status] = excluded.get(status, 0) + 1
            continue
        runs.append(curve)
    if not runs:
        raise ConfigError(f"{text} holds no complete runs{f' ({excluded_text(excluded)})' if excluded else ''}")
    if loss == "auto":
        enough_evals = all(sum(r.get("eval_loss") is not None for r in records) >= 2 for _, _, records in runs)
        loss = "eval_loss" if enough_evals else "train_loss"
    curves = [_curve(name, n_params, records, loss) for name, n_params, records in runs]
    if None in curves:
        excluded[f"no {loss} records"] = curves.count(None)
    return Curves([c for c in curves if c is not None], loss, excluded, text)


def _complete_run(run) -> tuple[str, tuple[str, float, list[dict[str, Any]]] | None]:
    """The run's status, and its (name, N, records by step) when complete; DamagedFile when its
    result.json or metrics.jsonl cannot be read."""
    from sweep.rundir import RESUME_REMEDY

    result = run.read_result() or {}
    status = result.get("status", "unfinished") if is_fit_point(result) else TRUNK
    if status != COMPLETE:
        return status, None
    n_params = result.get("n_params")
    if isinstance(n_params, bool) or not isinstance(n_params, (int, float)):
        raise DamagedFile(run.result_file, f"n_params = {n_params!r} is not a number", RESUME_REMEDY)
    return status, (run.path.name, float(n_params), _by_step(run.read_metrics()))


def _by_step(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per step (the last written), in step order."""
    return sorted({r["step"]: r for r in records if "step" in r}.values(), key=lambda r: r["step"])


def _curve(name: str, n_params: float, records: Sequence[dict[str, Any]], loss_key: str) -> Curve | None:
    points = [r for r in records if r.get(loss_key) is not None and r.get("tokens")]
    if not points:
        return None
    tokens_S = np.array([r["tokens"] for r in points], dtype=float)
    flops_S = np.array([r.get("flops") or training_flops(n_params, r["tokens"]) for r in points], dtype=float)
    loss_S = np.array([r[loss_key] for r in points], dtype=float)
    return Curve(name, n_params, tokens_S, flops_S, loss_S)
