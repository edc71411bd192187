"""A sweep read back from W&B: the runs table a sweep folder gives (sweep/results.py), built
from the train runs of one W&B project and group through the public API.

    sweep status wandb:ENTITY/PROJECT/GROUP      (or wandb:PROJECT/GROUP: the API key's entity)

A finished run's summary holds its whole result.json (sweep/tracking.py), its config the
coordinates; a run still going has only its last logged metrics and W&B's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sweep.errors import ConfigError
from sweep.record import COORDINATES, FAILED, STARTED, STATUS_OF_WANDB_STATE, STATUSES
from sweep.rundir import seedless_setting

PREFIX = "wandb:"


@dataclass(frozen=True)
class WandbSweep:
    entity: str | None
    project: str
    group: str

    def __str__(self) -> str:
        return PREFIX + "/".join(p for p in (self.entity, self.project, self.group) if p)


def parse_source(text: str) -> WandbSweep | None:
    """`wandb:[ENTITY/]PROJECT/GROUP` as a WandbSweep; None for anything else (a folder)."""
    if not text.startswith(PREFIX):
        return None
    parts = text[len(PREFIX):].strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"{text!r}: a W&B sweep is wandb:ENTITY/PROJECT/GROUP or wandb:PROJECT/GROUP "
                          "(GROUP: logger.group, by default the name of the sweep's out_dir)")
    entity = parts[0] if len(parts) == 3 else None
    return WandbSweep(entity, parts[-2], parts[-1])


def load_wandb_runs(sweep: WandbSweep, api: Any = None) -> list[dict[str, Any]]:
    """One row per train run of the group, as sweep.results.run_row gives for a run folder."""
    return [wandb_row(run) for run in train_runs(sweep, api)]


def train_runs(sweep: WandbSweep, api: Any = None) -> list[Any]:
    """The public API's Run objects of the group's train runs (one listing request per page);
    ConfigError when W&B cannot be read or the group holds none."""
    path = f"{sweep.entity}/{sweep.project}" if sweep.entity else sweep.project
    try:
        if api is None:
            import wandb

            api = wandb.Api(timeout=60)  # raises without an API key
        runs = list(api.runs(path, filters={"group": sweep.group, "jobType": "train"}))
    except Exception as err:  # no key, no network, no such project
        raise ConfigError(f"could not read the runs of {sweep} from W&B: {type(err).__name__}: {err}") from err
    if not runs:
        raise ConfigError(f"{sweep} holds no train runs: check the entity, project and group "
                          "(logger.group, by default the name of the sweep's out_dir)")
    return runs


def wandb_row(run: Any) -> dict[str, Any]:
    config, summary = dict(run.config), dict(run.summary_metrics)
    row = {k: config[k] for k in COORDINATES if k in config}
    row.update(run=config.get("run", run.name), path=run.url, wandb_id=run.id, wandb_state=run.state,
               setting=seedless_setting(config.get("config")))
    if summary.get("status") in STATUSES:  # the run's result.json
        return {**row, **{k: v for k, v in summary.items() if not k.startswith("_") and "/" not in k},
                "path": run.url}
    row.update(status=STATUS_OF_WANDB_STATE.get(run.state, STARTED), steps_done=summary.get("step", 0),
               final_train_loss=summary.get("train/loss"), final_eval_loss=summary.get("eval/loss"),
               wall_seconds=summary.get("perf/wall_seconds"))
    if row["status"] == FAILED:
        row["error"] = f"W&B run {run.id} ended {run.state} without a result"
    return row
