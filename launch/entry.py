"""The Hydra entry point of one run or a grid: `python -m sweep.train` and `sweep-train`.

    python -m sweep.train model.d=128 model.l=2            # one run
    python -m sweep.train -m model.d=64,128 model.l=1,2     # a grid (conf/hydra/launcher: local, slurm)

The command line is checked before Hydra creates any folder (launch/command_line.py); the task
function hands the composed config to the training loop (sweep/run/loop.py) and turns its
outcomes into exit codes: an interrupted run exits 128 + its signal, a run held by another
process is skipped, a user's mistake is one `error:` line.
"""

from __future__ import annotations

import logging
import signal
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from sweep.config import to_typed
from sweep.errors import ConfigError, DamagedFile, exit_on_user_error
from sweep.ladder import check_planned
from sweep.record import FINISHED, RUNNING
from sweep.rundir import RunDir, RunHeld
from sweep.run.loop import RunInterrupted, train

log = logging.getLogger("sweep.train")


@hydra.main(config_path="../conf", config_name="train", version_base=None)
def _task(cfg: DictConfig) -> float | None:
    """Hydra task: returns the final eval loss (so Hydra sweepers can optimise it)."""
    try:
        check_planned(to_typed(cfg))  # before the run's folder gets its overrides.yaml
        result = train_recorded(cfg)
    except RunInterrupted as stop:
        log.warning("%s", stop)
        sys.exit(128 + int(signal.Signals[stop.signal_name]))
    except RunHeld as held:  # another process trains it: skipped, not failed
        log.warning("%s", held)
        return None
    except ConfigError as err:  # found only once the run started (the command line was checked)
        if HydraConfig.get().mode is RunMode.MULTIRUN:
            raise  # the grid sweeper names it once every other point has run (a damaged one is skipped)
        exit_on_user_error(err)
    return result.get("final_eval_loss")


def train_recorded(cfg: DictConfig) -> dict:
    """`record_overrides`, then train; a run that fails before it starts (a corpus too small for
    its tokenizer, an interrupt while tokenizing) leaves no run folder this launch made (was: one
    holding only overrides.yaml, that `sweep status` did not list)."""
    run = RunDir.for_config(to_typed(cfg))
    made_here = not run.path.exists()
    record_overrides(cfg)
    try:
        return train(cfg)
    except BaseException:
        if made_here:
            run.remove_if_unstarted()
        raise


def record_overrides(cfg: DictConfig) -> None:
    """The run's overrides.yaml gets this command's overrides (Hydra's task overrides: a single
    run's, or a grid point's under a launcher that calls this task), unless the run is finished,
    held by another process or damaged (train() says which)."""
    run = RunDir.for_config(to_typed(cfg))
    try:
        state = run.state()
    except DamagedFile:
        return
    if state not in FINISHED and state != RUNNING:
        run.record_overrides(HydraConfig.get().overrides.task, HydraConfig.get().job.config_name)


def main() -> None:
    """`python -m sweep.train [--dry-run] [-m] OVERRIDES`: Hydra with the project's launchers.

    Hydra's own plugin scan finds the sweeper and launchers in the installed `hydra_plugins`
    namespace (pyproject.toml). `--dry-run`: see `dry_run_args`."""
    from launch.command_line import check_command_line, check_flags, check_single_dry_run, flags_first

    try:
        check_flags([arg for arg in sys.argv[1:] if arg != "--dry-run"])
        sys.argv[1:] = flags_first([arg for arg in sys.argv[1:] if arg != "--dry-run"]) + (
            ["--dry-run"] if "--dry-run" in sys.argv else [])
        if "--dry-run" in sys.argv:
            if not is_multirun(sys.argv[1:]):
                check_single_dry_run([arg for arg in sys.argv[1:] if arg != "--dry-run"])
            sys.argv[1:] = dry_run_args(sys.argv[1:])
        check_command_line(sys.argv[1:])  # before Hydra creates any folder
    except ConfigError as err:
        exit_on_user_error(err)
    _task()


def is_multirun(args: list[str]) -> bool:
    from launch.command_line import MULTIRUN_FLAGS

    return any(arg in MULTIRUN_FLAGS for arg in args)


def dry_run_args(args: list[str]) -> list[str]:
    """`--dry-run` is the grid sweeper's `hydra.sweeper.dry_run=true`: whatever the launcher,
    the plan is printed and nothing runs. Without `-m` it plans the one run (a grid of one: the
    config's own `hydra.sweeper.params`, as conf/demo.yaml's, are a multirun's and not read)."""
    args = [arg for arg in args if arg != "--dry-run"]
    if not is_multirun(args):
        args = ["-m", *args, "hydra.sweeper.params=null"]
    return [*args, "hydra.sweeper.dry_run=true"]


if __name__ == "__main__":
    main()
