"""`sweep prepare`: tokenize, once, the data a grid needs; here or as its own Slurm job.

The grid is composed from the same overrides as the sweep, so prepare knows every corpus the
sweep uses and the largest run's tokens on each. Streamed corpora (hf, c4, synthetic) are
prepared up to that (sweep/data/streamed.py), in `workers` processes; local corpora (embedded,
files) get their token cache built (sweep/data/local.py).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from launch.grid import GridPoint, compose_grid
from sweep.config import DataConfig
from sweep.data.access import check_epochs
from sweep.data.local import prepare_token_cache
from sweep.data.streamed import is_streamed, prepare_streamed, tokens_needed
from sweep.errors import ConfigError
from sweep.preflight import check_writable_dir

if TYPE_CHECKING:
    from launch.submit import NodeAsk

log = logging.getLogger("sweep.prepare")


@dataclass
class CorpusNeed:
    """One corpus of a grid: the largest run's needs on it."""

    data: DataConfig
    seq_len: int  # the longest sequence of its runs
    tokens_read: int  # the most train tokens one run reads
    runs: int

    @property
    def train_tokens(self) -> int:
        return tokens_needed(self.tokens_read, self.seq_len, self.data.max_epochs)


def corpus_needs(grid: Sequence[GridPoint]) -> list[CorpusNeed]:
    """The grid's corpora (points with the same data config share one), in first-use order."""
    needs: dict[str, CorpusNeed] = {}
    for point in grid:
        data = point.cfg.data
        key = repr(dataclasses.astuple(data))
        need = needs.setdefault(key, CorpusNeed(data, 0, 0, 0))
        need.seq_len = max(need.seq_len, point.cfg.model.seq_len)
        need.tokens_read = max(need.tokens_read, point.budget.tokens)
        need.runs += 1
    return list(needs.values())


def prepare_grid(overrides: Sequence[str], config_name: str = "train", workers: int = 1) -> list[dict[str, Any]]:
    """Prepare every corpus of the grid; one summary per corpus (also logged). Every corpus's
    data.cache_dir is checked first (sweep/preflight.py), before any is tokenized."""
    needs = corpus_needs(compose_grid(overrides, config_name))
    for need in needs:
        check_writable_dir("data.cache_dir", need.data.cache_dir)
    summaries = []
    for need in needs:
        if is_streamed(need.data):
            corpus = prepare_streamed(need.data, need.train_tokens, workers)
        else:
            corpus = prepare_token_cache(need.data, need.seq_len)
        summaries.append(_summary(need, corpus))
    return summaries


def _summary(need: CorpusNeed, corpus: Any) -> dict[str, Any]:
    manifest = corpus.manifest
    n_train = len(corpus.train_tokens())
    summary = {
        "path": str(corpus.path),
        "runs": need.runs,
        "train_tokens": n_train,
        "eval_tokens": len(corpus.eval_tokens()),
        "largest_run_tokens": need.tokens_read,
        "largest_run_epochs": need.tokens_read / max(n_train, 1),
        "shards": len(manifest.get("shards", [])) or 1,
        "vocab_size": corpus.vocab_size,
        "density": manifest.get("density"),
        "true_entropy_nats": manifest.get("true_entropy_nats"),
        "worker_tokens_per_second": manifest.get("worker_tokens_per_second"),
        "ready": True,
    }
    try:
        check_epochs(need.data, n_train, need.tokens_read, need.seq_len, "the largest run")
    except ConfigError as err:
        summary.update(ready=False, problem=str(err))
    return summary


class PrepareJob:
    """The Slurm job of `sweep prepare --slurm` (a picklable callable for submitit)."""

    def __init__(self, overrides: Sequence[str], config_name: str, workers: int):
        self.overrides, self.config_name, self.workers = list(overrides), config_name, workers

    def __call__(self) -> list[dict[str, Any]]:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return prepare_grid(self.overrides, self.config_name, self.workers)


def prepare_asks(workers: int, mem_gb: float | None) -> list[NodeAsk]:
    """What the prepare job asks of a node: a CPU per worker, and hydra.launcher.mem_gb."""
    from launch.submit import NodeAsk

    asks = [NodeAsk(f"--workers {workers}", "cpus", workers)]
    if mem_gb is not None:
        asks.append(NodeAsk(f"hydra.launcher.mem_gb={mem_gb}", "mem_mb", mem_gb * 1024, mb_per_unit=1024))
    return asks


def submit_prepare(overrides: Sequence[str], config_name: str, workers: int, time_min: int) -> Any:
    """Submit `sweep prepare` as one CPU job, with the Slurm settings of the sweep's own
    `hydra/launcher=slurm` overrides (partition, account, qos, setup, folder); returns the job."""
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from hydra_plugins.sweep_launchers import launcher_options
    from launch.grid import CONF_DIR, split_grid
    from launch.launcher_names import given_options
    from launch.submit import SlurmOptions, check_partition

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        loader = GlobalHydra.instance().config_loader()  # a glob() sweep lists its group's options
        first_point = split_grid(list(overrides), loader)[0] if overrides else []  # any one point will do
        cfg = compose(config_name, overrides=first_point, return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    if "SlurmLauncher" not in str(launcher.pop("_target_", "")):
        raise ConfigError("sweep prepare --slurm takes its Slurm settings from the sweep's "
                          "hydra/launcher=slurm overrides: add hydra/launcher=slurm (and e.g. "
                          "hydra.launcher.partition=...)")
    options: SlurmOptions = launcher_options(SlurmOptions, launcher).with_aliases(
        given_options(cfg.hydra.launcher, "slurm"))  # submitit_folder is folder
    check_partition(options.partition, prepare_asks(workers, options.mem_gb))  # before sbatch: it pended forever
    executor = submitit.SlurmExecutor(folder=options.folder)
    params: dict[str, Any] = dict(job_name="sweep-prepare", time=time_min, nodes=1, ntasks_per_node=1,
                                  cpus_per_task=workers, setup=options.setup_lines(), stderr_to_stdout=True,
                                  additional_parameters=dict(options.additional_parameters))
    if options.mem_gb is not None:
        params["mem"] = f"{int(options.mem_gb * 1024)}M"
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(options, key):
            params[key] = getattr(options, key)
    executor.update_parameters(**params)
    job = executor.submit(PrepareJob(overrides, config_name, workers))
    log.info("submitted sweep prepare as Slurm job %s (log: %s)", job.job_id, Path(job.paths.stdout))
    return job

