"""Where `--upload` (of `sweep status`, `fit`, `report`) logs: the W&B group read from, or the one the
sweep folder's runs were trained with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweep.errors import ConfigError


def report_target(source: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where `--upload` logs: the W&B group read from, or the W&B settings (logger.*) the sweep
    folder's runs were trained with."""
    import tempfile

    from sweep.config import LoggerMode
    from sweep.rundir import RunDir
    from sweep.tracking import sweep_group
    from sweep.wandb_runs import parse_source

    wandb_sweep = parse_source(source)
    if wandb_sweep is not None:
        return dict(project=wandb_sweep.project, entity=wandb_sweep.entity, group=wandb_sweep.group,
                    mode=LoggerMode.auto, folder=Path(tempfile.gettempdir()) / "sweep-wandb-reports")
    run = RunDir(next((r for r in rows if r["status"] != "damaged"), rows[0])["path"])
    config_file, cfg = run.config_file, run.read_config()
    if "logger" not in cfg:
        raise ConfigError(f"{config_file} has no logger settings (a run trained before W&B tracking): "
                          "re-run the sweep's command once to rewrite it, or read the sweep from W&B")
    logger = cfg["logger"]
    return dict(project=logger["project"], entity=logger["entity"], group=sweep_group(logger["group"], source),
                mode=LoggerMode[logger["mode"]], folder=Path(source))

