"""What a run is on a scaling plot, defined once: the run record every reader of runs shares.

- `Coordinates`: what identifies a run on a scaling plot, its grid coordinates and its size. Each
  field says where it comes from: a config setting (its path in config.yaml), the budget
  (sweep/budget.py) or the run folder. They head every result.json (`as_dict()`, in field order)
  and are the W&B run's config; the runs table and W&B read-back read the same names.
- `run_name_prefix(cfg)`: the readable start of a run folder's name, `d512-l8-b256-lr3.0e-03-wd0.1-tpp20`
  (the identity hash that ends it is sweep/rundir.py's); `legacy_run_name_prefix(cfg)` the name runs
  had before tokens per parameter joined it (`d512-l8-b256-lr3.0e-03-wd0.1`), under which a sweep
  started then still finds its folders.
- `run_tags(coordinates, extra)`: a run's W&B tags, the same grid labels plus data, tokenizer, recipe.
- The status vocabulary and `run_status`, how a run's status follows from its result.json, the
  process holding its folder and what it left; `STATUS_OF_WANDB_STATE` for a run W&B still tracks.
- `training_flops(n_params, tokens)` is the compute C = 6·N·T of a run with N parameters trained on
  T tokens (forward and backward of every weight once per token; attention's share is left out, as
  the scaling-law papers do), for one run or element-wise for arrays of runs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Iterable, Optional, TypeVar

if TYPE_CHECKING:
    from sweep.config import TrainConfig

Number = TypeVar("Number")


def training_flops(n_params: Number, tokens: Number) -> Number:
    """C = 6·N·T: the compute of training N parameters on T tokens (scalars or arrays)."""
    return 6.0 * n_params * tokens


# A run's status. result.json records one of STATUSES; the others say where a run without a
# finished result stands (sweep status, the runs table, the launchers' plans).
COMPLETE = "complete"  # trained to its budget
DIVERGED = "diverged"  # stopped: its train loss went above divergence_factor x ln(V)
FAILED = "failed"  # an error; re-launching resumes it from its checkpoint
STOPPED_EARLY = "stopped_early"  # its budget group's best beat its predicted final loss (sweep/early_stop.py)
RUNNING = "running"  # a live process holds its folder
STARTED = "started"  # it left a checkpoint or metrics, and no process holds it
PENDING = "pending"  # nothing trained yet
QUEUED = "queued"  # a scheduler (Slurm, W&B) has it waiting to start
DAMAGED = "damaged"  # a file of the run cannot be read (DamagedFile says which and what to do)
STATUSES = (COMPLETE, DIVERGED, FAILED, STOPPED_EARLY)  # what result.json records
FINISHED = (COMPLETE, DIVERGED)  # never run again; a failed run is retried when re-launched
# A run stopped early is not run again while early stopping is on; with it off, re-launching
# resumes it from its checkpoint to its end (sweep/early_stop.py is_settled)

# result.json `role` of a cooldown-branch ladder's members (sweep/ladder.py; plain runs have none).
# A trunk is no point of a scaling plot or fit: it stops before any cooldown. A branch is one.
TRUNK, BRANCH = "trunk", "branch"


def run_role(cfg: TrainConfig) -> str | None:
    """TRUNK or BRANCH for a planned ladder member (its ladder budget is set), else None."""
    if not (cfg.budget.branch and cfg.budget.ladder_tokens_per_param is not None):
        return None
    return TRUNK if cfg.budget.trunk else BRANCH


def is_fit_point(row: dict[str, Any]) -> bool:
    """Whether a runs-table row or result.json may be a point of a plot or fit: any run but a
    ladder's trunk (its status aside)."""
    return row.get("role") != TRUNK


def run_status(recorded: str | None, held: bool, started: bool) -> str:
    """A run's status from its result.json's `recorded` status (None: no result), whether a live
    process `held` its folder and whether it `started` (left a checkpoint or metrics): a finished
    result stands; else a held run is running (a failed one being retried too); else the failure
    recorded; else started or pending."""
    if recorded in FINISHED:
        return recorded
    if held:
        return RUNNING
    if recorded is not None:
        return recorded
    return STARTED if started else PENDING


# W&B run state (while its summary holds no result.json) -> the run's status
STATUS_OF_WANDB_STATE = {"running": RUNNING, "pending": QUEUED, "preempting": STARTED, "preempted": STARTED,
                         "finished": STARTED, "crashed": FAILED, "failed": FAILED, "killed": FAILED}


def _setting(path: str, grid_axis: bool = False) -> Any:
    return field(metadata={"setting": path, "grid_axis": grid_axis})


def _budget() -> Any:
    return field(metadata={"budget": True})


@dataclass(frozen=True)
class Coordinates:
    """A run's coordinates, in result.json's order. `setting`: the config.yaml path a field is read
    from; `grid_axis`: a numeric grid coordinate every run folder's row carries (sweep/results.py);
    `budget`: a field of the run's Budget. `run` is the folder's name, `vocab_size` the model's V."""

    run: str
    d: int = _setting("model.d", grid_axis=True)  # width
    l: int = _setting("model.l", grid_axis=True)  # depth (blocks)
    batch_size: int = _setting("train.batch_size", grid_axis=True)  # sequences per step
    lr: float = _setting("optim.lr", grid_axis=True)
    weight_decay: float = _setting("optim.weight_decay", grid_axis=True)
    weight_decay_mode: str = _setting("optim.weight_decay_mode")
    seed: int = _setting("seed", grid_axis=True)
    recipe: Optional[str] = _setting("recipe")
    seq_len: int = _setting("model.seq_len")
    data: str = _setting("data.source")
    tokenizer: str = _setting("data.tokenizer")
    vocab_size: int = field()
    tokens_per_param: float = _setting("budget.tokens_per_param")
    n_params: int = _budget()
    n_params_nonembedding: int = _budget()
    n_params_embedding: int = _budget()
    n_params_total: int = _budget()
    tokens: int = _budget()
    flops: float = _budget()
    steps: int = _budget()

    @classmethod
    def of(cls, cfg: TrainConfig, budget: Any, *, run: str, vocab_size: int) -> "Coordinates":
        """The coordinates of the run `cfg` configures, with its sweep.budget.Budget (which imports
        this module: hence no annotation), its folder's name and its V."""
        values: dict[str, Any] = {"run": run, "vocab_size": vocab_size}
        for f in fields(cls):
            if "setting" in f.metadata:
                values[f.name] = setting_value(cfg, f.metadata["setting"])
            elif f.metadata.get("budget"):
                values[f.name] = getattr(budget, f.name)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COORDINATES = tuple(f.name for f in fields(Coordinates))
SETTINGS = {f.name: f.metadata["setting"] for f in fields(Coordinates) if "setting" in f.metadata}
GRID_AXES = tuple(f.name for f in fields(Coordinates) if f.metadata.get("grid_axis"))  # d, l, batch_size, lr, weight_decay, seed


def setting_value(cfg: Any, path: str) -> Any:
    """The setting at `path` ("model.d") of a typed config, an enum as its value."""
    value = cfg
    for part in path.split("."):
        value = getattr(value, part)
    return value.value if isinstance(value, enum.Enum) else value


def _grid_labels(d: int, l: int, batch_size: int, lr: float, weight_decay: float, tokens_per_param: float) -> list[str]:
    return [f"d{d}", f"l{l}", f"b{batch_size}", f"lr{lr:.1e}", f"wd{weight_decay:g}", f"tpp{tokens_per_param:g}"]


def _config_labels(cfg: TrainConfig) -> list[str]:
    return _grid_labels(cfg.model.d, cfg.model.l, cfg.train.batch_size, cfg.optim.lr, cfg.optim.weight_decay,
                        cfg.budget.tokens_per_param)


def run_name_prefix(cfg: TrainConfig) -> str:
    """The readable start of a run folder's name: its grid coordinates and tokens per parameter,
    `d512-l8-b256-lr3.0e-03-wd0.1-tpp20` (runs of one size and lr at several token budgets differ)."""
    return "-".join(_config_labels(cfg))


def settings_prefixes(config: dict[str, Any]) -> tuple[str, str] | None:
    """(run_name_prefix, legacy_run_name_prefix) of a config.yaml read as a plain mapping; None where
    a setting they name is missing or not a number (the reader of that file says so)."""
    try:
        labels = _grid_labels(config["model"]["d"], config["model"]["l"], config["train"]["batch_size"],
                              config["optim"]["lr"], config["optim"]["weight_decay"],
                              config["budget"]["tokens_per_param"])
    except (KeyError, TypeError, ValueError):
        return None
    return "-".join(labels), "-".join(labels[:-1])


def legacy_run_name_prefix(cfg: TrainConfig) -> str:
    """The prefix run folders had before tokens per parameter joined it, `d512-l8-b256-lr3.0e-03-wd0.1`:
    sweep/rundir.py finds a run started then under it (the hash that follows is the same)."""
    return "-".join(_config_labels(cfg)[:-1])


def run_tags(coordinates: Coordinates, extra: Iterable[str] = ()) -> list[str]:
    """A run's W&B tags: its grid labels, data and tokenizer, the `extra` tags (logger.tags) and its
    recipe, each cut to W&B's 64 characters."""
    c = coordinates
    tags = [*_grid_labels(c.d, c.l, c.batch_size, c.lr, c.weight_decay, c.tokens_per_param), f"data:{c.data}",
            f"tokenizer:{c.tokenizer}", *extra]
    if c.recipe:
        tags.append(f"recipe:{c.recipe}")
    return [t[:64] for t in tags]  # W&B's limit on a tag's length
