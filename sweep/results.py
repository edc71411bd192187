"""The runs table of a sweep folder: one row per run folder, from its config.yaml,
result.json and metrics.jsonl. What `sweep status`, the plots and (later) the fits read."""

from __future__ import annotations

import os
from typing import Any

import yaml

from sweep.rundir import RunDir, iter_run_dirs

COORDINATES = ("d", "l", "batch_size", "lr", "weight_decay", "seed", "recipe")


def run_row(run: RunDir) -> dict[str, Any]:
    """The run's coordinates and outcome. `status` is complete | diverged | failed from
    result.json, or started (checkpoint / metrics but no result) or pending."""
    cfg = yaml.safe_load(run.config_file.read_text())
    row: dict[str, Any] = {
        "run": run.path.name,
        "path": str(run.path),
        "d": cfg["model"]["d"],
        "l": cfg["model"]["l"],
        "batch_size": cfg["train"]["batch_size"],
        "lr": cfg["optim"]["lr"],
        "weight_decay": cfg["optim"]["weight_decay"],
        "seed": cfg["seed"],
        "recipe": cfg.get("recipe"),
    }
    result = run.read_result()
    if result is not None:
        return {**row, **result, "run": row["run"], "path": row["path"]}
    metrics = run.read_metrics()
    last = metrics[-1] if metrics else {}
    evals = [r for r in metrics if r.get("eval_loss") is not None]
    return {
        **row,
        "status": "started" if metrics or run.checkpoint_file.exists() else "pending",
        "steps_done": last.get("step", 0),
        "final_train_loss": last.get("train_loss"),
        "final_eval_loss": evals[-1]["eval_loss"] if evals else None,
        "wall_seconds": last.get("wall_seconds"),
    }


def load_runs(sweep_dir: str | os.PathLike) -> list[dict[str, Any]]:
    return [run_row(run) for run in iter_run_dirs(sweep_dir)]
