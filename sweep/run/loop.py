"""One training run end to end (the Hydra entry point `python -m sweep.train` is launch/entry.py).

`train(cfg)` is the whole run: budget, data, model, AdamW + warmup and the schedule's decay,
periodic held-out eval, divergence detection, checkpoints (wall-clock cadence and SIGUSR2/SIGTERM),
and the run folder (sweep/rundir.py). Re-running a finished grid point does nothing and says so;
re-running an interrupted one resumes from its checkpoint and ends exactly where an uninterrupted
run ends.

The members of a cooldown-branch ladder (sweep/ladder.py) are runs too. `train(trunk, until_step)`
trains a trunk up to a segment end (at most its own end, its cooldown start), keeps its checkpoint
there (`RunDir.kept_checkpoint`) and returns `{"status": SEGMENT_DONE, "run", "step"}`; at its end
it writes result.json (role trunk). A branch without a checkpoint of its own starts from its
trunk's kept checkpoint at its cooldown start, with the trunk's metrics records up to there, and
ends as any run does (role branch, parent, branched_at_step, own_flops, shared_flops).

A run of an early-stopped budget group (sweep/early_stop.py) trains in two calls:
`train(cfg, until_step=P)` to its probe step P, where it saves its checkpoint and returns
`{"status": SEGMENT_DONE, ...}` (no result.json); then, once its group is decided, `train(cfg)`:
a run the decision stops records `status: stopped_early` at its checkpoint with its predicted final
loss (result.json and the tracker's summary) and trains no further; any other trains to its end
and records its decision beside its result. With early_stop.again_at, the calls between are
`train(cfg, until_step=P_k)` to each later decision step, each after its group's decision at the
one before, and stop the run there as above if that decision did. With early stopping off,
`train(cfg)` resumes a run stopped early from its checkpoint to its end.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from model import Transformer
from model.arithmetic import flops_per_token
from sweep.run import distributed, progress
from sweep.budget import Budget, compute_budget, model_shape
from sweep.run.checkpoint import (check_room_for_checkpoint, checkpoint_step, load_checkpoint, save_checkpoint,
                                  saved_at_or_past)
from sweep.config import TrainConfig, to_typed, validate
from sweep.errors import ConfigError, StorageError
from sweep.data import TrainReader, eval_batches
from sweep.data.access import check_epochs, corpus_facts, open_corpus
from sweep.data.checks import check_data
from sweep.data.prefetch import Prefetcher
from sweep.run.device import Placement, resolve_placement
from sweep.run.distributed import World, world_from_env
from sweep.run.optim import build_optimizer, lr_at
from sweep.early_stop import (STOP, MemberDecision, decided_past, decision_for, decision_steps, is_settled,
                              probe_eval_steps, result_fields)
from sweep.ladder import (RETRAIN_TRUNK, SEGMENT_DONE, branch_step, check_planned, check_trunk_checkpoint, is_member,
                          ladder_steps, member_result_fields, trunk_config)
from sweep.record import (BRANCH, COMPLETE, DIVERGED, FAILED, FINISHED, STOPPED_EARLY, TRUNK, Coordinates, run_role,
                          training_flops)
from sweep.run.preempt import StopRequest
from sweep.rundir import RunDir, RunHeld, last_step
from sweep.storage import atomic_write
from sweep.run.state import RunState
from sweep.run.loss import step_loss
from sweep.run.step import TrainStep
from sweep.run.throughput import Speed, run_peak, startup_origin
from sweep.tracking import Tracker, open_tracker

log = logging.getLogger("sweep.train")

class RunInterrupted(Exception):
    """A stop signal arrived: the checkpoint is saved and the run can be resumed."""

    def __init__(self, run: RunDir, step: int, signal_name: str):
        then = ("a Slurm job that timed out is requeued while it has requeues left (hydra.launcher.max_requeues), "
                "else re-run the same command to resume" if os.environ.get("SLURM_JOB_ID")
                else "re-run the same command to resume")
        super().__init__(f"{signal_name} received: saved {run.checkpoint_file} at step {step}; {then}")
        self.run, self.step, self.signal_name = run, step, signal_name


@dataclass(frozen=True)
class RunSetup:
    """What a run trains and where, fixed once its folder is known: the config, the budget and the
    run folder, the ranks and the device, the corpus (its train tokens memory-mapped once) and what
    the result records of it, when the process started, and the step this call trains to
    (`stop_step`: the run's last step, or a ladder trunk's segment end)."""

    cfg: TrainConfig
    budget: Budget
    run: RunDir
    world: World
    placement: Placement
    corpus: Any  # sweep.data.access.open_corpus(...)
    train_T: Any  # corpus.train_tokens()
    facts: dict[str, Any]  # sweep.data.access.corpus_facts: epochs, density, true entropy
    started_at: float  # throughput.startup_origin()
    stop_step: int

    @property
    def writes(self) -> bool:
        """Rank 0 alone writes the run folder (and tracks)."""
        return self.world.is_main


def train(cfg: TrainConfig | DictConfig, until_step: int | None = None) -> dict[str, Any]:
    """Run one grid point to its budget; returns the dict written to result.json. A ladder's
    trunk, or an early-stopped run at its probe step, stops at min(`until_step`, its end) and,
    before its end, returns `{"status": SEGMENT_DONE, "run": <folder name>, "step": <step>}` (no
    result.json)."""
    started_at = startup_origin()  # the process start, for the first run of a process
    cfg = to_typed(cfg)
    validate(cfg)
    check_planned(cfg)
    role = run_role(cfg)
    if until_step is not None and (until_step < 1 or not (role == TRUNK or (role is None and cfg.early_stop.enabled))):
        raise ValueError(f"until_step={until_step}: only a ladder's trunk or an early-stopped run stops at a step "
                         ">= 1 before its end")
    check_data(cfg.data)
    world = world_from_env()
    if cfg.train.batch_size % world.world_size:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size} is not divisible by the "
                          f"{world.world_size} data-parallel ranks: use a multiple of {world.world_size}")
    budget = compute_budget(cfg)
    run = RunDir.for_config(cfg)
    if role == TRUNK:
        stop_step = min(branch_step(cfg), budget.steps if until_step is None else until_step)
    else:
        stop_step = budget.steps if until_step is None else min(until_step, budget.steps)
    if segment_kept(cfg, run, stop_step):
        log.info("%s: already at step %d (its checkpoint there is kept): nothing to do", run.path, stop_step)
        return segment_done(run, stop_step)
    if is_settled(cfg, run.state()):  # a damaged result.json or metrics.jsonl raises its one line here
        previous = run.read_result()
        log.info("%s: already %s (final eval loss %s): nothing to do",
                 run.path, previous["status"], previous.get("final_eval_loss"))
        return previous
    if (stop_step < budget.steps and role is None and decided_past(cfg, stop_step)
            and saved_at_or_past(run.checkpoint_file, stop_step)):  # without it: trained again to there
        log.info("%s: its budget group decided it at or past step %d: nothing to do", run.path, stop_step)
        return segment_done(run, stop_step)
    if role == BRANCH and not run.checkpoint_file.exists():
        check_trunk_checkpoint(cfg)
    cache = open_corpus(cfg.data, cfg.model.seq_len)
    train_T = cache.train_tokens()  # memory-mapped once (a prepared corpus: every shard)
    check_epochs(cfg.data, len(train_T), budget.tokens, cfg.model.seq_len, run.path.name)
    placement = resolve_placement(cfg.train, local_rank=world.local_rank)
    distributed.init(world, placement.device)
    facts = corpus_facts(cache, budget.tokens, n_train_tokens=len(train_T))
    setup = RunSetup(cfg, budget, run, world, placement, cache, train_T, facts, started_at, stop_step)
    with hold_run(run, world, placement.device):
        return _train_holding(setup)


def segment_kept(cfg: TrainConfig, run: RunDir, stop_step: int) -> bool:
    """Whether `cfg` is a ladder's trunk whose segment ending at `stop_step`, before its own end, is
    done: its checkpoint there is kept (a trunk that diverged before has none)."""
    return run_role(cfg) == TRUNK and stop_step < branch_step(cfg) and run.kept_checkpoint(stop_step).exists()


def segment_done(run: RunDir, step: int) -> dict[str, Any]:
    """What a trunk returns when it has stopped at a segment end (step) before its own end."""
    return {"status": SEGMENT_DONE, "run": run.path.name, "step": step}


def trunk_checkpoint(cfg: TrainConfig) -> tuple[RunDir, Path]:
    """A branch's trunk folder and the trunk's kept checkpoint it starts from."""
    trunk = RunDir.for_config(trunk_config(cfg))
    return trunk, trunk.kept_checkpoint(branch_step(cfg))


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


def _train_holding(setup: RunSetup) -> dict[str, Any]:
    """The run, once this process holds its folder: nothing is written to it before."""
    cfg, run, world = setup.cfg, setup.run, setup.world
    previous = run.read_result()  # the previous holder may have finished it
    if segment_kept(cfg, run, setup.stop_step):
        log.info("%s: already at step %d by another process: nothing to do", run.path, setup.stop_step)
        return segment_done(run, setup.stop_step)
    if previous is not None and is_settled(cfg, previous.get("status")):
        log.info("%s: already %s by another process: nothing to do", run.path, previous["status"])
        return previous
    decision = decision_for(cfg) if cfg.early_stop.enabled and run_role(cfg) is None else None
    if decision is not None and decision.action == STOP and not trains_again_to_its_stop(setup, decision):
        return record_stop(setup, decision)
    if previous is not None and previous.get("status") == STOPPED_EARLY:  # early stopping is off now
        log.info("%s: stopped early at step %s; early stopping is off: resuming it to its end", run.path.name,
                 previous.get("steps_done"))  # its result stays until its first new step (drop_stopped_result)
    if world.is_main:
        for stale in run.remove_stale_temporaries():
            log.info("%s: removed %s, left by a process killed mid-write", run.path.name, stale.name)
        run.write_config(cfg)
    tracker = open_tracker(cfg, coordinates(cfg, setup.budget), world.is_main)
    try:
        return _train(setup, tracker)
    except RunInterrupted:
        tracker.interrupted()
        raise
    except BaseException as err:
        if world.is_main and isinstance(err, Exception):
            recorded = record_failure(cfg, f"{type(err).__name__}: {err}", traceback.format_exc())
            tracker.finish(recorded)
            if recorded.get("status") == STOPPED_EARLY and isinstance(err, ConfigError):  # one line: say so in it
                err.args = (f"{err}; its stopped_early result (step {recorded.get('steps_done')}, its prediction "
                            "and decision) is kept as it was, this failure under its resume_failed",)
        else:
            tracker.interrupted()  # KeyboardInterrupt, SystemExit: not the run's failure
        raise


def trains_again_to_its_stop(setup: RunSetup, decision: MemberDecision) -> bool:
    """Whether this call trains a run its group stopped at decision step D to D once more: it is
    the call that ends at D (its probe's or rung's job), and the run's checkpoint is not there (its
    write failed, a full disk, after the metrics record the group was decided from). The stop is
    recorded by the call after, at the checkpoint this one saves."""
    at = decision_steps(setup.cfg)
    if decision.rung >= len(at) or setup.stop_step != at[decision.rung]:
        return False
    return not saved_at_or_past(setup.run.checkpoint_file, at[decision.rung])


def record_failure(cfg: TrainConfig, error: str, trace: str | None = None) -> dict[str, Any]:
    """Write result.json with status failed (a re-launch resumes the run from its checkpoint),
    and config.yaml if the run failed before writing it, so `sweep status` lists the run; a run
    stopped early whose resumption failed keeps its result, the failure under `resume_failed`. Best
    effort: where even that cannot be written (a full disk), the log says so."""
    run = RunDir.for_config(cfg)
    previous = run.read_result()
    if previous is not None and previous.get("status") in FINISHED:
        return previous  # it ended before the error (e.g. a signal while W&B was closing): keep it
    fields = {"error": error, **({"traceback": trace} if trace else {})}
    if previous is not None and previous.get("status") == STOPPED_EARLY:
        # resuming a stopped run failed (a damaged checkpoint): its decision and predicted loss stay
        result = {**previous, "resume_failed": fields}
    else:
        result = _result(cfg, compute_budget(cfg), FAILED, steps_done=last_step(run.metrics_file), **fields)
    try:
        if not run.config_file.exists():
            run.write_config(cfg)
        run.write_result(result)
    except StorageError as err:
        log.error("%s: the failure could not be recorded either: %s", run.path.name, err)
    return result


NOTHING_TO_DO = "nothing to do"  # `restore`: the run's checkpoint is already at its probe step


def restore(setup: RunSetup, model: Transformer, optimizer: torch.optim.Optimizer, state: RunState,
            tracker: Tracker) -> str | None:
    """Where the run starts: from its checkpoint (its metrics.jsonl cut back to the checkpoint's
    step, the tracker caught up on what it may not hold), from its trunk's kept checkpoint (a
    branch without one of its own), or from step 0 (a metrics.jsonl left by an attempt that never
    reached a checkpoint removed). NOTHING_TO_DO where the checkpoint is already at the run's
    probe step; ConfigError where it is past the run's last step (not this run's checkpoint)."""
    cfg, run, budget = setup.cfg, setup.run, setup.budget
    saved = load_checkpoint(run.checkpoint_file, model, optimizer, run=run.path.name)
    if saved is None:
        if run_role(cfg) == BRANCH:
            start_from_trunk(setup, model, optimizer, state, tracker)
        elif run.metrics_file.exists() and setup.writes:
            run.metrics_file.unlink()  # a run that never reached a checkpoint starts over
        return None
    state.load_state_dict(saved)
    if state.step >= setup.stop_step and run_role(cfg) is None and setup.stop_step < budget.steps:
        log.info("%s: its checkpoint is at step %d, at or past its probe step %d: nothing to do",
                 run.path.name, state.step, setup.stop_step)
        return NOTHING_TO_DO
    if state.step > setup.stop_step and run_role(cfg) != TRUNK:  # no run of this config gets there
        raise ConfigError(f"{run.checkpoint_file} is at step {state.step}, past this run's last step "
                          f"{setup.stop_step}: not its checkpoint; move it away to restart the run from step 0")
    if state.step > setup.stop_step:  # a trunk past a segment end whose checkpoint it did not keep
        raise ConfigError(f"{run.checkpoint_file} is at step {state.step}, past step {setup.stop_step} where "
                          f"this trunk should have kept {run.kept_checkpoint(setup.stop_step).name}: its "
                          "branches from there cannot start; move the trunk's folder away to run it again")
    if setup.writes:
        logged = run.read_metrics()  # what the interrupted attempt logged, here and to the tracker
        tracker.catch_up(r for r in logged if r["step"] <= state.step)  # what W&B may not hold
        run.truncate_metrics(after_step=state.step)
    log.info("%s: resuming from step %d of %d", run.path.name, state.step, budget.steps)
    return None


def _train(setup: RunSetup, tracker: Tracker) -> dict[str, Any]:
    cfg, budget, run, placement, world, writes = (setup.cfg, setup.budget, setup.run, setup.placement, setup.world,
                                                  setup.writes)
    shape = model_shape(cfg)
    t = cfg.train
    peak = run_peak(placement.device, placement.bf16, world.world_size, t.peak_tflops)
    torch.manual_seed(cfg.seed)
    model = Transformer(shape).to(placement.device)
    optimizer = build_optimizer(model, cfg.optim)
    # Each rank reads its slice of the global batch: together the ranks read exactly the
    # windows one process would, so the run is the same whatever the number of GPUs.
    reader = TrainReader(setup.train_T, cfg.model.seq_len, t.batch_size // world.world_size,
                         cfg.seed, rank=world.rank, world_size=world.world_size)
    eval_tokens = setup.corpus.eval_tokens()

    state = RunState.start(t.log_every, placement.device, origin=setup.started_at)
    if restore(setup, model, optimizer, state, tracker) == NOTHING_TO_DO:
        tracker.interrupted()
        return segment_done(run, setup.stop_step)
    if writes:
        check_room_for_checkpoint(run.checkpoint_file, model)  # before any compute is spent
    if placement.compile:  # the whole forward as one graph, in place (state_dict keys unchanged): on an H200 at
        model.compile()  # D=1024 L=8 a run trained 1.55x faster than with each block compiled (RESULTS)
    ddp = None
    if world.distributed:
        device_ids = [placement.device.index] if placement.device.type == "cuda" else None
        ddp = partial(torch.nn.parallel.DistributedDataParallel, device_ids=device_ids)
    train_step = TrainStep(step_loss(model, placement, t.loss_chunk_tokens, ddp), model, optimizer, cfg.optim)
    timer = state.timer
    speed = Speed(timer, peak, budget.tokens_per_step, flops_per_token(shape), placement.compile)

    if writes:
        log.info("%s: %s on %s%s; %.2f epochs over %s unique train tokens; MFU against %.3g TFLOP/s (%s)",
                 run.path.name, budget.summary(), placement.describe(),
                 f" x {world.world_size} ranks" if world.distributed else "", setup.facts["epochs"],
                 f"{len(setup.train_T):,}", peak.flops / 1e12, peak.source)

    def save() -> None:
        if writes:
            save_checkpoint(run.checkpoint_file, model, optimizer, state.state_dict(), run=run.path.name)

    divergence_limit = t.divergence_factor * math.log(shape.vocab_size)
    # With early stopping on, every run also evaluates at its probe step P and the log steps either
    # side (sweep/early_stop.py probe_eval_steps): a decided run is predicted from its eval loss at P,
    # a finished run that is a larger run's reference (early_stop.floor) is read near the same fraction.
    eval_at_probe = probe_eval_steps(cfg) if cfg.early_stop.enabled else frozenset()
    last_checkpoint = time.perf_counter()
    first_step = state.step
    # The stop request is held until the run has ended: a signal at the last step or while the
    # result is written does not interrupt a finished run (nor reach a launcher's handler).
    with (StopRequest() as stop,
          Prefetcher(reader, state.step, setup.stop_step, placement.device) as batches,
          progress.bar(setup.stop_step, run.path.name, start=state.step, enabled=writes) as bar):
        timer.attempt_starts()
        warmup_of_steps = ladder_steps(cfg) if is_member(cfg) else None  # a ladder's warmup is its trunk's
        while state.step < setup.stop_step:
            lr = lr_at(state.step, cfg.optim, budget.steps, warmup_of_steps)
            loss, grad_norm = train_step(batches.take(state.step), lr)
            state.losses.add(loss)
            state.step += 1
            step = state.step
            bar.advance()
            if step == first_step + 1:
                timer.first_step_done(step)
                if writes:
                    log.info("%s: first step done in %.1f s, %.1f s after the start", run.path.name,
                             timer.first_step_seconds, timer.startup_seconds)
                    drop_stopped_result(run)

            last = step == budget.steps
            stops = step == setup.stop_step  # the run's last step, or a trunk's segment end (logged as any step)
            log_step = step % t.log_every == 0 or last
            if log_step:
                train_loss, = distributed.mean([state.losses.take_mean()], world, placement.device)  # syncs
                steps_per_second = timer.pause(step)
                record = state.record = {
                    "step": step,
                    "tokens": step * budget.tokens_per_step,
                    "flops": training_flops(budget.n_params, step * budget.tokens_per_step),
                    "lr": lr,
                    "train_loss": train_loss,
                    "grad_norm": grad_norm.item(),
                    **speed.of_interval(steps_per_second),
                    "wall_seconds": state.clock.seconds,
                }
                if not math.isfinite(train_loss) or train_loss > divergence_limit:
                    if writes:
                        run.append_metrics(record)
                        tracker.log(record)
                    return _finish(setup, state, speed, tracker, DIVERGED,
                                   reason=f"train loss {train_loss} at step {step} is not below "
                                   f"{divergence_limit:.3f} = divergence_factor x ln(V)")
                if step % t.eval_every == 0 or last or step in eval_at_probe:
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
                if (stopping or checkpoint_due) and not stops:
                    timer.pause(step)
                    save()
                    distributed.barrier(world)  # nobody exits before the checkpoint is whole
                    last_checkpoint = time.perf_counter()
                    timer.resume(step)
                if stopping and not stops:  # at the last step the run simply finishes
                    raise RunInterrupted(run, step, (stop.signal or signal.SIGTERM).name)
            if log_step:
                timer.resume(step)  # evals, logging and checkpoints are not training time
        if setup.stop_step < budget.steps and run_role(cfg) is None:
            return _end_probe(setup, state, tracker, save)
        if setup.stop_step < budget.steps:
            return _end_segment(setup, state, speed, tracker, save)
        if state.record.get("step") != state.step:  # resumed at its last step (result.json deleted): nothing trained
            state.record = last_record(setup, state.step, lambda: evaluate(model, eval_tokens, cfg, placement))
        # the last log_every steps
        state.record["train_loss"], = distributed.mean([state.losses.final()], world, placement.device)
        result = _finish(setup, state, speed, tracker, COMPLETE)  # the result first: a few hundred bytes that a
        try:  # nearly full disk still takes, where the checkpoint before it had failed and the run was lost
            save()
        except StorageError as err:  # a finished run needs its result, not a checkpoint to resume from
            log.warning("%s: the final checkpoint was not written (%s); the run is complete and its result is "
                        "written: nothing to re-run", run.path.name, str(err).split(". Free space")[0])
        if stop.signal is not None and writes:
            log.info("%s: %s after the last step: ignored, the run is complete", run.path.name, stop.signal.name)
        return result


def drop_stopped_result(run: RunDir) -> None:
    """A run stopped early, resumed with early stopping off, is past its stop once its first new step
    is done: its stopped_early result.json goes then, not before, so a failure before that step (no
    room for its checkpoint, a damaged one) leaves that record as it was (record_failure)."""
    previous = run.read_result()
    if previous is not None and previous.get("status") == STOPPED_EARLY:
        run.result_file.unlink()


def last_record(setup: RunSetup, step: int, evaluate_now: Any) -> dict[str, Any]:
    """The metrics record of a run that resumed with nothing left to train (its checkpoint at its
    last step, its result.json deleted): metrics.jsonl's record at that step, its eval loss
    measured again (`evaluate_now`: (loss, stderr)) where the record is gone or lacks it; so the
    result written again holds the run's final losses, never None."""
    records = [r for r in setup.run.read_metrics() if r["step"] == step] if setup.writes else []
    budget = setup.budget
    record = dict(records[-1]) if records else {"step": step, "tokens": step * budget.tokens_per_step,
                                                 "flops": training_flops(budget.n_params, step * budget.tokens_per_step)}
    if record.get("eval_loss") is None:
        record["eval_loss"], record["eval_loss_stderr"] = evaluate_now()
    return record


def start_from_trunk(setup: RunSetup, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: RunState,
                     tracker: Tracker) -> None:
    """A branch's first attempt: the trunk's kept checkpoint at the branch's cooldown start
    (model, optimizer, RNG, run state) and the trunk's metrics records up to there, written into
    the branch's metrics.jsonl and sent to its tracker (its curve is whole, as a resumed run's)."""
    trunk, path = trunk_checkpoint(setup.cfg)
    try:
        saved = load_checkpoint(path, model, optimizer, run=trunk.path.name)
    except ConfigError as err:  # the trunk's file, not this run's: moving it away would not restart anything
        raise ConfigError(f"{str(err).split('; ')[0]}; this cooldown branch starts from it, and "
                          + RETRAIN_TRUNK.format(trunk=trunk.path)) from err
    if saved is None:
        check_trunk_checkpoint(setup.cfg)  # removed since the check before the start: raises
    start = branch_step(setup.cfg)
    if saved["step"] != start:
        raise ConfigError(f"{path} is at step {saved['step']}, not at step {start}: it is damaged; "
                          + RETRAIN_TRUNK.format(trunk=trunk.path))
    state.load_state_dict(saved)
    state.trunk_seconds = state.clock.prior_seconds
    if setup.writes:
        shared = [r for r in trunk.read_metrics() if r["step"] <= start]
        setup.run.write_metrics(shared)
        tracker.catch_up(shared)
    log.info("%s: starts from step %d of its trunk %s", setup.run.path.name, start, trunk.path.name)


def _end_probe(setup: RunSetup, state: RunState, tracker: Tracker, save: Any) -> dict[str, Any]:
    """An early-stopped run at its probe step: its checkpoint saved there, no result.json (an
    earlier attempt's failure is resolved); its group's decision comes next (sweep/early_stop.py)."""
    run = setup.run
    save()
    distributed.barrier(setup.world)
    if setup.writes:
        run.result_file.unlink(missing_ok=True)
    tracker.interrupted()  # the rest of the run resumes its W&B run
    log.info("%s: at its probe step %d: checkpoint saved; its budget group is decided next", run.path.name, state.step)
    return segment_done(run, state.step)


def record_stop(setup: RunSetup, decision: MemberDecision) -> dict[str, Any]:
    """A run its group's decision stops: result.json with status stopped_early at its checkpoint,
    from its last metrics record there, with the prediction (sweep/early_stop.py result_fields),
    and the same as the tracker's summary. Nothing is trained; the checkpoint stays, so the run
    can be resumed to its end (early stopping off)."""
    cfg, run, budget = setup.cfg, setup.run, setup.budget
    step = checkpoint_step(run.checkpoint_file)
    if step is None:
        raise ConfigError(f"{run.checkpoint_file} does not exist: this run was decided stopped at step "
                          f"{decision.predicted_at_step} but its checkpoint is gone; set early_stop.enabled=false "
                          "to train it from the start")
    records = [r for r in run.read_metrics() if r["step"] <= step] if setup.writes else []
    last = records[-1] if records else {}
    evals = [r for r in records if r.get("eval_loss") is not None]
    result = _result(cfg, budget, STOPPED_EARLY,
                     final_train_loss=last.get("train_loss"),
                     final_eval_loss=evals[-1]["eval_loss"] if evals else None,
                     final_eval_loss_stderr=evals[-1].get("eval_loss_stderr") if evals else None,
                     steps_done=step,
                     trained_flops=training_flops(budget.n_params, step * budget.tokens_per_step),
                     wall_seconds=last.get("wall_seconds"),
                     reason=f"stopped early at step {step} of {budget.steps}: {decision.reason}",
                     **setup.facts, **result_fields(decision, cfg.early_stop.level))
    if not setup.writes:
        return result
    run.truncate_metrics(after_step=step)
    tracker = open_tracker(cfg, coordinates(cfg, budget), True)
    run.write_result(result)
    tracker.finish(result)
    log.warning("%s: stopped early at step %d of %d: predicted final eval loss %.4f [%.4f, %.4f]; %s", run.path.name,
                step, budget.steps, decision.predicted, *decision.interval, decision.reason)
    return result


def _end_segment(setup: RunSetup, state: RunState, speed: Speed, tracker: Tracker,
                 save: Any) -> dict[str, Any]:
    """A trunk at a segment end: its checkpoint saved and kept there (where branches start), then
    result.json at the trunk's end (its FLOPs as trained: 6 N x the tokens of its steps), else
    SEGMENT_DONE."""
    run, budget, step = setup.run, setup.budget, state.step
    save()
    if setup.writes:
        kept = run.kept_checkpoint(step)
        with open(run.checkpoint_file, "rb") as latest:
            atomic_write(kept, lambda f: shutil.copyfileobj(latest, f, 1 << 20))
    distributed.barrier(setup.world)
    if step < branch_step(setup.cfg):
        if setup.writes:
            run.result_file.unlink(missing_ok=True)  # an earlier attempt's failure: it is resolved
        tracker.interrupted()  # the next segment resumes its W&B run
        log.info("%s: segment done at step %d; kept %s", run.path.name, step, run.kept_checkpoint(step).name)
        return segment_done(run, step)
    if state.losses.recent:
        state.record["train_loss"], = distributed.mean([state.losses.final()], setup.world, setup.placement.device)
    tokens = step * budget.tokens_per_step
    read = {k: setup.facts[k] * tokens / budget.tokens for k in ("epochs", "unique_epochs") if k in setup.facts}
    return _finish(setup, state, speed, tracker, COMPLETE, steps_done=step, tokens=tokens,
                   flops=training_flops(budget.n_params, tokens), **read)  # epochs of what it read, not of B


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


def coordinates(cfg: TrainConfig, budget: Budget) -> Coordinates:
    """The run's coordinates (sweep/record.py): they head every result.json and are the W&B run's config."""
    return Coordinates.of(cfg, budget, run=RunDir.for_config(cfg).path.name, vocab_size=model_shape(cfg).vocab_size)


def _result(cfg: TrainConfig, budget: Budget, status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, **coordinates(cfg, budget).as_dict(), **member_result_fields(cfg), **fields}


def _finish(setup: RunSetup, state: RunState, speed: Speed, tracker: Tracker, status: str,
            reason: str | None = None, **trained: Any) -> dict[str, Any]:
    """Record how the run ended, from its last metrics record: result.json and the tracker's
    summary. `trained`: fields that say what it trained when that is not its budget (a trunk)."""
    run, record = setup.run, state.record
    wall = state.clock.seconds
    own = {"own_wall_seconds": wall - state.trunk_seconds} if run_role(setup.cfg) == BRANCH else {}
    result = _result(
        setup.cfg, setup.budget, status,
        final_train_loss=record.get("train_loss"),
        final_eval_loss=record.get("eval_loss"),
        final_eval_loss_stderr=record.get("eval_loss_stderr"),
        steps_done=record.get("step"),
        wall_seconds=wall,
        tokens_per_second=record.get("tokens", 0) / wall if wall > 0 else None,  # evals, start-up included
        **speed.of_run(),  # steady training tokens/s, MFU and its peak, first step, start-up
        **setup.facts,  # epochs over the corpus, its density, the synthetic source's true entropy
        **({"reason": reason} if reason else {}),
    )
    result.update(own, **trained, **decision_fields(setup))
    if not setup.writes:
        return result
    run.write_result(result)
    tracker.finish(result)
    (log.warning if status != COMPLETE else log.info)(
        "%s: %s, train loss %s, eval loss %s, %.0f s, %s training tokens/s, MFU %s%s", run.path.name,
        status, _fmt(result["final_train_loss"]), _fmt(result["final_eval_loss"]), wall,
        _fmt(result["train_tokens_per_second"], ",.0f"), _fmt(result["mfu"], ".1%"),
        f" ({reason})" if reason else "")
    return result


def decision_fields(setup: RunSetup) -> dict[str, Any]:
    """The early-stopping decision of a run that has one (it went on, or was resumed after its
    stop), under `early_stop`; nothing for other runs. A damaged decisions file costs the run
    this record, not its result."""
    if run_role(setup.cfg) is not None:
        return {}
    try:
        decision = decision_for(setup.cfg)
    except Exception as err:  # DamagedFile: said in the log; the result is what matters here
        log.warning("%s: its early-stopping decision is not recorded: %s", setup.run.path.name, err)
        return {}
    return {} if decision is None else {"early_stop": decision.to_dict()}


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)
