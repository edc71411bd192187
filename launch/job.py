"""The callable a submitit job runs: one training run, and the requeue protocol.

Inside a Slurm job submitit owns SIGUSR2 (checkpoint, requeue, exit). While a run trains, the
training loop holds SIGUSR2 and SIGTERM instead (sweep/run/preempt.py) so that a signal stops it at
a step boundary, after its checkpoint is saved. When the loop reports the interruption, this
job hands the signal back to submitit's handler, which calls `checkpoint()` (the same job
again: it resumes from its own run folder) and requeues the job, counting time-outs against
`max_requeues`. A job that has used up its requeues is recorded as failed in result.json, so it
never shows as complete, and re-launching the sweep resumes it.
"""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from typing import Any, Sequence

import submitit
import torch

from sweep.config import TrainConfig
from sweep.early_stop import decide_group
from sweep.run.distributed import world_from_env
from sweep.errors import DamagedFile
from sweep.record import FAILED, FINISHED, RUNNING
from sweep.rundir import RunDir, RunHeld
from sweep.run.loop import RunInterrupted, record_failure, train

log = logging.getLogger("sweep.job")


INTERRUPTED = "interrupted"  # a local job's run stopped by a signal, its checkpoint saved (not in result.json)


def interrupted_result(stop: RunInterrupted) -> dict[str, Any]:
    """What a local job returns for a run a signal stopped: its status, step and the message."""
    return {"status": INTERRUPTED, "step": stop.step, "signal": stop.signal_name, "error": str(stop)}


class StoppedBeforeTraining(BaseException):
    """SIGTERM to a local job before its training loop holds the stop signals (while it starts,
    loads its data, builds its model): it stops there, with nothing new to save. A BaseException,
    as KeyboardInterrupt is: never recorded as the run's failure."""


def _stop_before_training(signum: int, frame: Any) -> None:
    raise StoppedBeforeTraining


def _cluster() -> str | None:
    """submitit's name for where this job runs ("local", "slurm", ...); None outside a job."""
    try:
        return submitit.JobEnvironment().cluster
    except RuntimeError:
        return None


class TrainJob(submitit.helpers.Checkpointable):
    """Picklable: holds only the typed config of its run, for a ladder's trunk segment or an
    early-stopped run's probe or rung the step it stops at (`until_step`; None: the run's end), and
    for the part of an early-stopped run after a decision step the configs of its budget group
    (`group`, itself included) and that step's index (`rung`): the group is decided there first
    (sweep/early_stop.py decide_group: the first job of the group decides, the others read its
    decisions), then the run trains on or records its stop. `threads`: the torch threads of its
    process, where the local launcher trains several CPU runs at once (None: torch's default, every
    core); not part of the config, so a run's name and results do not depend on it."""

    def __init__(self, cfg: TrainConfig, until_step: int | None = None,
                 group: Sequence[TrainConfig] | None = None, rung: int = 0, threads: int | None = None):
        self.cfg, self.until_step, self.group = cfg, until_step, tuple(group) if group else None
        self.rung, self.threads = rung, threads

    def __call__(self) -> dict[str, Any]:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
        use_threads(getattr(self, "threads", None))  # (a job pickled before threads: torch's default)
        if _num_tasks() > 1:  # one task per GPU: torch.distributed's variables, from submitit's view
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        # submitit's own SIGTERM handler only logs it: a local job stopped while it starts would train on
        previous = signal.signal(signal.SIGTERM, _stop_before_training) if _cluster() == "local" else None
        try:
            if self.group is not None:  # every rank: the first to take the lock decides, the others read
                decide_group(self.group, getattr(self, "rung", 0))  # (a job pickled before rungs: 0)
            return train(self.cfg, until_step=self.until_step)
        except StoppedBeforeTraining:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already
            result = _result_or_empty(self.cfg)
            if result.get("status") in FINISHED:  # it ended just before the signal
                return result
            log.warning("SIGTERM received before training started: nothing new to save; re-run the same command "
                        "to resume")
            return {"status": INTERRUPTED, "step": None, "signal": "SIGTERM",
                    "error": "SIGTERM received before training started"}
        except RunHeld as held:  # another process trains the run: skipped, not failed
            log.warning("%s", held)
            return held_result(held)
        except RunInterrupted as stop:
            log.warning("%s", stop)
            if _cluster() == "local":  # the local launcher reads how it ended (launch/local.py)
                return interrupted_result(stop)
            handler = signal.getsignal(signal.Signals[stop.signal_name])
            if callable(handler):  # submitit's: checkpoint() + requeue + exit, or refuse
                try:
                    handler(int(signal.Signals[stop.signal_name]), None)
                except submitit.core.utils.UncompletedJobError as refused:
                    record_failure(self.cfg, f"time limit reached and not requeued: {refused}; its last checkpoint "
                                             "is kept: run the sweep's command again (a longer time_min for its "
                                             "bucket, or more hydra.launcher.max_requeues) and it resumes there")
                    raise
            sys.exit(128 + int(signal.Signals[stop.signal_name]))  # e.g. SIGTERM on pre-emption
        except DamagedFile:
            raise  # not the run's failure: its damaged file stays as it is, named in the job's log
        except Exception as err:
            # A job fails where the submitting command could not see it (data gone, a node's
            # disk full, ...): record it, unless the training loop already did.
            run = RunDir.for_config(self.cfg)
            result = run.read_result() or {}
            if result.get("status") in FINISHED:  # e.g. a signal while W&B was closing the run
                log.warning("%s: already %s; ignoring %s: %s", run.path.name, result["status"],
                            type(err).__name__, err)
                return result
            if world_from_env().is_main and result.get("status") != FAILED \
                    and run.holder() is None:  # a live holder records its own outcome
                record_failure(self.cfg, f"{type(err).__name__}: {err}", traceback.format_exc())
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission | None:
        """Called by submitit on SIGUSR2: the same job again, to resume; None (no requeue) once
        the run's result.json says it is finished."""
        result = RunDir.for_config(self.cfg).read_result() or {}
        if result.get("status") in FINISHED:
            log.info("%s: already %s: not requeued", RunDir.for_config(self.cfg).path.name, result["status"])
            return None
        return super().checkpoint(*args, **kwargs)


def use_threads(threads: int | None) -> None:
    """Set this process's torch threads (None: leave torch's default) and log it once."""
    if threads is None:
        return
    torch.set_num_threads(threads)
    log.info("torch threads: %d (the local launcher's share of the cores for its CPU runs at once)",
             torch.get_num_threads())


def _result_or_empty(cfg: TrainConfig) -> dict[str, Any]:
    """The run's result.json, or {} where there is none or it cannot be read."""
    try:
        return RunDir.for_config(cfg).read_result() or {}
    except DamagedFile:
        return {}


def held_result(held: RunHeld) -> dict[str, Any]:
    """What a job returns for a run another process holds: `running`, with its holder (no
    result.json is written: the holder writes it)."""
    return {"status": RUNNING, "run": held.path.name, "held_by": held.holder}


def _num_tasks() -> int:
    """Tasks of this submitit job (1 when called outside one, e.g. in a test)."""
    try:
        return submitit.JobEnvironment().num_tasks
    except RuntimeError:  # not inside a Slurm or local submitit job
        return 1
