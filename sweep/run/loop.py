"""One training run end to end (the Hydra entry point `python -m sweep.train` is launch/entry.py).

`train(cfg)` is the whole run: budget, data, model, AdamW + warmup/cosine, periodic held-out
eval, divergence detection, checkpoints (wall-clock cadence and SIGUSR2/SIGTERM), and the run
folder (sweep/rundir.py). Re-running a finished grid point does nothing and says so; re-running
an interrupted one resumes from its checkpoint and ends exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from model import Transformer
from model.arithmetic import flops_per_token
from sweep.run import distributed, progress
from sweep.budget import Budget, compute_budget, model_shape
from sweep.run.checkpoint import check_room_for_checkpoint, load_checkpoint, save_checkpoint
from sweep.config import TrainConfig, to_typed, validate
from sweep.errors import ConfigError, StorageError
from sweep.data import TrainReader, eval_batches
from sweep.data.access import check_epochs, corpus_facts, open_corpus
from sweep.data.checks import check_data
from sweep.data.prefetch import Prefetcher
from sweep.run.device import Placement, resolve_placement
from sweep.run.distributed import World, world_from_env
from sweep.run.optim import build_optimizer, lr_at
from sweep.run.preempt import StopRequest
from sweep.rundir import FINISHED, RunDir, RunHeld
from sweep.run.step import TrainStep
from sweep.run.throughput import Speed, StepTimer, run_peak, startup_origin
from sweep.tracking import Tracker, open_tracker

log = logging.getLogger("sweep.train")

class RunInterrupted(Exception):
    """A stop signal arrived: the checkpoint is saved and the run can be resumed."""

    def __init__(self, run: RunDir, step: int, signal_name: str):
        super().__init__(f"{signal_name} received: saved {run.checkpoint_file} at step {step}; "
                         "re-run the same command to resume")
        self.run, self.step, self.signal_name = run, step, signal_name


class LossTracker:
    """Train losses between log lines, kept on the device (no host sync per step), and the
    last `window` losses for the final train loss. Its state goes into checkpoints, so a
    resumed run logs exactly what an uninterrupted one logs."""

    def __init__(self, window: int, device: torch.device):
        self.device = device
        self.since_log: list[torch.Tensor] = []
        self.recent: collections.deque[torch.Tensor] = collections.deque(maxlen=window)

    def add(self, loss: torch.Tensor) -> None:
        self.since_log.append(loss.detach())
        self.recent.append(loss.detach())

    def take_mean(self) -> float:
        """Mean loss since the last call (one host sync), then start a new interval."""
        mean = torch.stack(self.since_log).mean().item()
        self.since_log.clear()
        return mean

    def final(self) -> float:
        return torch.stack(list(self.recent)).mean().item()

    def state(self) -> dict[str, list[float]]:
        return {"since_log": [x.item() for x in self.since_log], "recent": [x.item() for x in self.recent]}

    def load(self, state: dict[str, list[float]]) -> None:
        as_tensor = lambda x: torch.tensor(x, device=self.device)  # noqa: E731
        self.since_log = [as_tensor(x) for x in state["since_log"]]
        self.recent.extend(as_tensor(x) for x in state["recent"])


@dataclass
class Clock:
    """Wall time of the run across attempts (restored from the checkpoint on resume)."""

    prior_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def seconds(self) -> float:
        return self.prior_seconds + time.perf_counter() - self.started


def train(cfg: TrainConfig | DictConfig) -> dict[str, Any]:
    """Run one grid point to its budget; returns the dict written to result.json."""
    started_at = startup_origin()  # the process start, for the first run of a process
    cfg = to_typed(cfg)
    validate(cfg)
    check_data(cfg.data)
    world = world_from_env()
    if cfg.train.batch_size % world.world_size:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} is not divisible by the "
                          f"{world.world_size} data-parallel ranks: use a multiple of {world.world_size}")
    budget = compute_budget(cfg)
    run = RunDir.for_config(cfg)
    if run.state() in FINISHED:  # a damaged result.json or metrics.jsonl raises its one line here
        previous = run.read_result()
        log.info("%s: already %s (final eval loss %s): nothing to do",
                 run.path, previous["status"], previous.get("final_eval_loss"))
        return previous
    cache = open_corpus(cfg.data, cfg.model.seq_len)
    train_T = cache.train_tokens()  # memory-mapped once (a prepared corpus: every shard)
    check_epochs(cfg.data, len(train_T), budget.tokens, cfg.model.seq_len, run.path.name)
    placement = resolve_placement(cfg.train, local_rank=world.local_rank)
    distributed.init(world, placement.device)
    with hold_run(run, world, placement.device):
        return _train_holding(cfg, budget, run, cache, train_T, placement, world, started_at)


@contextlib.contextmanager
def hold_run(run: RunDir, world: World, device: torch.device) -> Iterator[None]:
    """Rank 0 holds the run folder (sweep/rundir.py) until the run ends; every rank raises
    `RunHeld` when another process holds it, so all ranks take the same branch."""
    with contextlib.ExitStack() as holding:
        held: RunHeld | None = None
        if world.is_main:
            try:
                holding.enter_context(run.hold())
            except RunHeld as err:
                held = err
        held_anywhere, = distributed.any_true([held is not None], world, device)
        if held_anywhere:
            raise held or RunHeld(run.path, None)
        yield


def _train_holding(cfg: TrainConfig, budget: Budget, run: RunDir, cache, train_T, placement: Placement,
                   world: World, started_at: float) -> dict[str, Any]:
    """The run, once this process holds its folder: nothing is written to it before."""
    previous = run.read_result()  # the previous holder may have finished it
    if previous is not None and previous.get("status") in FINISHED:
        log.info("%s: already %s by another process: nothing to do", run.path, previous["status"])
        return previous
    if world.is_main:
        for stale in run.remove_stale_temporaries():
            log.info("%s: removed %s, left by a process killed mid-write", run.path.name, stale.name)
        run.write_config(cfg)
    tracker = open_tracker(cfg, coordinates(cfg, budget), world.is_main)
    try:
        return _train(cfg, budget, run, cache, train_T, placement, world, tracker, started_at)
    except RunInterrupted:
        tracker.interrupted()
        raise
    except BaseException as err:
        if world.is_main and isinstance(err, Exception):
            tracker.finish(record_failure(cfg, f"{type(err).__name__}: {err}", traceback.format_exc()))
        else:
            tracker.interrupted()  # KeyboardInterrupt, SystemExit: not the run's failure
        raise


def record_failure(cfg: TrainConfig, error: str, trace: str | None = None) -> dict[str, Any]:
    """Write result.json with status failed (a re-launch resumes the run from its checkpoint),
    and config.yaml if the run failed before writing it, so `sweep status` lists the run. Best
    effort: where even that cannot be written (a full disk), the log says so."""
    run = RunDir.for_config(cfg)
    previous = run.read_result()
    if previous is not None and previous.get("status") in FINISHED:
        return previous  # it ended before the error (e.g. a signal while W&B was closing): keep it
    fields = {"error": error, **({"traceback": trace} if trace else {})}
    result = _result(cfg, compute_budget(cfg), "failed", **fields)
    try:
        if not run.config_file.exists():
            run.write_config(cfg)
        run.write_result(result)
    except StorageError as err:
        log.error("%s: the failure could not be recorded either: %s", run.path.name, err)
    return result


def _train(cfg: TrainConfig, budget: Budget, run: RunDir, cache, train_T, placement: Placement,
           world: World, tracker: Tracker, started_at: float) -> dict[str, Any]:
    shape = model_shape(cfg)
    t = cfg.train
    peak = run_peak(placement.device, placement.bf16, world.world_size, t.peak_tflops)
    torch.manual_seed(cfg.seed)
    model = Transformer(shape).to(placement.device)
    optimizer = build_optimizer(model, cfg.optim)
    # Each rank reads its slice of the global batch: together the ranks read exactly the
    # windows one process would, so the run is the same whatever the number of GPUs.
    reader = TrainReader(train_T, cfg.model.seq_len, t.batch_size // world.world_size,
                         cfg.seed, rank=world.rank, world_size=world.world_size)
    eval_tokens = cache.eval_tokens()
    writes = world.is_main  # rank 0 alone writes the run folder

    step, clock, losses = 0, Clock(), LossTracker(t.log_every, placement.device)
    timer = StepTimer(placement.device, origin=started_at)
    resumed = load_checkpoint(run.checkpoint_file, model, optimizer)
    if resumed is not None:
        step, extra = resumed
        clock.prior_seconds = extra["wall_seconds"]
        losses.load(extra["losses"])
        if "timer" in extra:
            timer.load(extra["timer"])
        if writes:
            logged = run.read_metrics()  # what the interrupted attempt logged, here and to the tracker
            tracker.catch_up(r for r in logged if r["step"] <= step)  # what W&B may not hold
            run.truncate_metrics(after_step=step)
        log.info("%s: resuming from step %d of %d", run.path.name, step, budget.steps)
    elif run.metrics_file.exists() and writes:
        run.metrics_file.unlink()  # a run that never reached a checkpoint starts over
    if writes:
        check_room_for_checkpoint(run.checkpoint_file, model)  # before any compute is spent
    if placement.compile:
        model.compile_blocks()
    forward = model
    if world.distributed:
        device_ids = [placement.device.index] if placement.device.type == "cuda" else None
        forward = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    train_step = TrainStep(forward, model, optimizer, placement, cfg.optim)
    speed = Speed(timer, peak, budget.tokens_per_step, flops_per_token(shape), placement.compile)

    facts = corpus_facts(cache, budget.tokens, n_train_tokens=len(train_T))
    if writes:
        log.info("%s: %s on %s%s; %.2f epochs over %s unique train tokens; MFU against %.3g TFLOP/s (%s)",
                 run.path.name, budget.summary(), placement.describe(),
                 f" x {world.world_size} ranks" if world.distributed else "", facts["epochs"],
                 f"{len(train_T):,}", peak.flops / 1e12, peak.source)

    def save() -> None:
        if writes:
            save_checkpoint(run.checkpoint_file, model, optimizer, step,
                            {"wall_seconds": clock.seconds, "losses": losses.state(), "timer": timer.state()})

    divergence_limit = t.divergence_factor * math.log(shape.vocab_size)
    last_checkpoint = time.perf_counter()
    first_step = step
    record: dict[str, Any] = {}
    # The stop request is held until the run has ended: a signal at the last step or while the
    # result is written does not interrupt a finished run (nor reach a launcher's handler).
    with (StopRequest() as stop,
          Prefetcher(reader, step, budget.steps, placement.device) as batches,
          progress.bar(budget.steps, run.path.name, start=step, enabled=writes) as bar):
        timer.attempt_starts()
        while step < budget.steps:
            lr = lr_at(step, cfg.optim, budget.steps)
            loss, grad_norm = train_step(batches.take(step), lr)
            losses.add(loss)
            step += 1
            bar.advance()
            if step == first_step + 1:
                timer.first_step_done(step)
                if writes:
                    log.info("%s: first step done in %.1f s, %.1f s after the start", run.path.name,
                             timer.first_step_seconds, timer.startup_seconds)

            last = step == budget.steps
            log_step = step % t.log_every == 0 or last
            if log_step:
                train_loss, = distributed.mean([losses.take_mean()], world, placement.device)  # syncs
                steps_per_second = timer.pause(step)
                record = {
                    "step": step,
                    "tokens": step * budget.tokens_per_step,
                    "flops": 6.0 * budget.n_params * step * budget.tokens_per_step,
                    "lr": lr,
                    "train_loss": train_loss,
                    "grad_norm": grad_norm.item(),
                    **speed.of_interval(steps_per_second),
                    "wall_seconds": clock.seconds,
                }
                if not math.isfinite(train_loss) or train_loss > divergence_limit:
                    if writes:
                        run.append_metrics(record)
                        tracker.log(record)
                    return _finish(run, cfg, budget, "diverged", record, clock, facts, speed, writes,
                                   tracker, reason=f"train loss {train_loss} at step {step} is not below "
                                   f"{divergence_limit:.3f} = divergence_factor x ln(V)")
                if step % t.eval_every == 0 or last:
                    record["eval_loss"], record["eval_loss_stderr"] = evaluate(
                        model, eval_tokens, cfg, placement)
                if writes:
                    run.append_metrics(record)
                    tracker.log(record)
                bar.log(record)

            # Ranks agree on stopping and checkpointing (at log steps only, to keep collectives
            # off the other steps); a single process decides at every step.
            if log_step or not world.distributed:
                checkpoint_due = time.perf_counter() - last_checkpoint > 60 * t.checkpoint_every_minutes
                stopping, checkpoint_due = distributed.any_true([stop.requested, checkpoint_due], world,
                                                                placement.device)
                if (stopping or checkpoint_due) and not last:
                    timer.pause(step)
                    save()
                    distributed.barrier(world)  # nobody exits before the checkpoint is whole
                    last_checkpoint = time.perf_counter()
                    timer.resume(step)
                if stopping and not last:  # at the last step the run simply finishes
                    raise RunInterrupted(run, step, (stop.signal or signal.SIGTERM).name)
            if log_step:
                timer.resume(step)  # evals, logging and checkpoints are not training time
        try:
            save()
        except StorageError as err:  # a finished run needs its result, not a checkpoint to resume from
            log.warning("%s: the final checkpoint was not written: %s", run.path.name, err)
        record["train_loss"], = distributed.mean([losses.final()], world, placement.device)  # last log_every steps
        result = _finish(run, cfg, budget, "complete", record, clock, facts, speed, writes, tracker)
        if stop.signal is not None and writes:
            log.info("%s: %s after the last step: ignored, the run is complete", run.path.name, stop.signal.name)
        return result


@torch.no_grad()
def evaluate(model: torch.nn.Module, tokens, cfg: TrainConfig, placement: Placement) -> tuple[float, float]:
    """Mean next-token loss over the whole held-out split, and its standard error over
    sequences."""
    was_training = model.training
    model.eval()
    per_seq = []
    B = cfg.train.batch_size
    for batch_bxT1 in eval_batches(tokens, cfg.model.seq_len, B):
        b = len(batch_bxT1)  # the last batch may be short: padded to B, so compiled blocks see one shape
        batch_BxT1 = torch.cat([batch_bxT1, batch_bxT1[:1].expand(B - b, -1)]).to(placement.device)
        with placement.autocast():
            logits_BxTxV = model(batch_BxT1[:, :-1])
        loss_BxT = F.cross_entropy(logits_BxTxV.float().transpose(1, 2), batch_BxT1[:, 1:], reduction="none")
        per_seq.append(loss_BxT[:b].mean(dim=1))
    model.train(was_training)
    losses = torch.cat(per_seq).double()
    stderr = losses.std().item() / math.sqrt(len(losses)) if len(losses) > 1 else float("nan")
    return losses.mean().item(), stderr


def coordinates(cfg: TrainConfig, budget: Budget) -> dict[str, Any]:
    """What identifies a run on a scaling plot: its grid coordinates and its size. Heads every
    result.json and the W&B run's config."""
    return {
        "run": RunDir.for_config(cfg).path.name,
        "d": cfg.model.d,
        "l": cfg.model.l,
        "batch_size": cfg.train.batch_size,
        "lr": cfg.optim.lr,
        "weight_decay": cfg.optim.weight_decay,
        "weight_decay_mode": cfg.optim.weight_decay_mode.value,
        "seed": cfg.seed,
        "recipe": cfg.recipe,
        "seq_len": cfg.model.seq_len,
        "data": cfg.data.source.value,
        "tokenizer": cfg.data.tokenizer.value,
        "vocab_size": model_shape(cfg).vocab_size,
        "tokens_per_param": cfg.budget.tokens_per_param,
        "n_params": budget.n_params,
        "n_params_nonembedding": budget.n_params_nonembedding,
        "n_params_embedding": budget.n_params_embedding,
        "n_params_total": budget.n_params_total,
        "tokens": budget.tokens,
        "flops": budget.flops,
        "steps": budget.steps,
    }


def _result(cfg: TrainConfig, budget: Budget, status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, **coordinates(cfg, budget), **fields}


def _finish(run: RunDir, cfg: TrainConfig, budget: Budget, status: str, record: dict[str, Any],
            clock: Clock, facts: dict[str, Any], speed: Speed, writes: bool, tracker: Tracker,
            reason: str | None = None) -> dict[str, Any]:
    wall = clock.seconds
    result = _result(
        cfg, budget, status,
        final_train_loss=record.get("train_loss"),
        final_eval_loss=record.get("eval_loss"),
        final_eval_loss_stderr=record.get("eval_loss_stderr"),
        steps_done=record.get("step"),
        wall_seconds=wall,
        tokens_per_second=record.get("tokens", 0) / wall if wall > 0 else None,  # evals, start-up included
        **speed.of_run(),  # steady training tokens/s, MFU and its peak, first step, start-up
        **facts,  # epochs over the corpus, its density, the synthetic source's true entropy
        **({"reason": reason} if reason else {}),
    )
    if not writes:
        return result
    run.write_result(result)
    tracker.finish(result)
    (log.warning if status != "complete" else log.info)(
        "%s: %s, train loss %s, eval loss %s, %.0f s, %s training tokens/s, MFU %s%s", run.path.name,
        status, _fmt(result["final_train_loss"]), _fmt(result["final_eval_loss"]), wall,
        _fmt(result["train_tokens_per_second"], ",.0f"), _fmt(result["mfu"], ".1%"),
        f" ({reason})" if reason else "")
    return result


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)
