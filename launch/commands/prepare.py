"""`sweep prepare`: the data a grid needs, tokenized once (here, or as one Slurm CPU job)."""

from __future__ import annotations

from typing import Sequence

from launch.commands.printing import console, styled
from sweep.errors import ConfigError


SLURM_TIME_MIN = 1440  # the --slurm job's time limit, minutes, unless --time-min is given


def check_slurm_options(slurm: bool, time_min: int | None, wait: bool) -> None:
    """--time-min and --wait are the Slurm job's: without --slurm they were ignored without a word."""
    loose = [name for name, given in (("--time-min", time_min is not None), ("--wait", wait)) if given]
    if loose and not slurm:
        raise ConfigError(f"{' and '.join(loose)}: taken only with --slurm (the Slurm job's time limit, waiting for "
                          "it); here sweep prepare runs in this process and returns when the data is ready")
    if time_min is not None and time_min < 1:
        raise ConfigError(f"--time-min {time_min}: accepted is a whole number of minutes >= 1")


def prepare(overrides: Sequence[str], config_name: str, workers: int, slurm: bool, time_min: int | None,
            wait: bool) -> int:
    from launch.prepare import prepare_grid, submit_prepare
    from sweep.data.streamed import check_workers

    check_slurm_options(slurm, time_min, wait)
    if slurm:
        time_min = SLURM_TIME_MIN if time_min is None else time_min
        if workers < 1:  # the cores the job asks for: the node's limit is Slurm's to say
            raise ConfigError(f"--workers {workers}: accepted is a whole number >= 1 (the job's CPUs, one tokenizer "
                              "process each)")
        job = submit_prepare(overrides, config_name, workers, time_min)
        console.print(f"sweep prepare submitted as Slurm job {job.job_id}; log: {job.paths.stdout}")
        if not wait:
            return 0
        summaries = job.result()
    else:
        check_workers(workers)  # before the grid is composed (again where the tokenizing starts)
        summaries = prepare_grid(overrides, config_name, workers)
    ready = True
    for s in summaries:
        console.print(styled("bold", str(s["path"]), f" ({s['runs']} runs)"), highlight=False)
        console.print(f"  {s['train_tokens']:,} train tokens in {s['shards']} shard(s), {s['eval_tokens']:,} eval "
                      f"tokens, V = {s['vocab_size']:,}; the largest run reads {s['largest_run_tokens']:,} "
                      f"tokens = {s['largest_run_epochs']:.3g} epochs", highlight=False)
        if s.get("worker_tokens_per_second"):
            console.print(f"  tokenized at {s['worker_tokens_per_second']:,.0f} tokens/s per worker")
        if s.get("true_entropy_nats") is not None:
            console.print(f"  true entropy rate of the source: {s['true_entropy_nats']:.4f} nats/token")
        density = s.get("density")
        if density:
            console.print("  density (" + ", ".join(f"{k} {density[k]:.4g}" for k in DENSITY_SHOWN if k in density)
                          + ")", highlight=False)
        if not s["ready"]:
            ready = False
            console.print(styled("red", "  not enough:", f" {s['problem']}"), highlight=False)
    return 0 if ready else 1


DENSITY_SHOWN = ("documents_examined", "exact_duplicate_rate", "near_duplicate_rate", "unique_token_fraction")

