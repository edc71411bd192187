"""Closing the loop of `sweep suggest`: rounds of suggest -> train -> refit on a sweep folder.

    sweep suggest runs/demo --target-compute 1e15 --count 2 --rounds 3 --until-width 0.05

Each round (`run_rounds`): load the folder's runs table, fit the law at the target compute (L*(C),
N_opt(C) with their bootstrap intervals: the fit before), choose the proposals
(sweep/fit/suggest.py `suggest`), record them (`proposed` in `<sweep_dir>/suggest/rounds.jsonl`,
sweep/fit/rounds.py: its one writer and reader), train them through the sweep's own launcher with
the sweep's own settings, wait until they end, refit and record the fit after with each run's
outcome (`ended`). The loop stops once the folder has `rounds` rounds recorded, or once the
relative width of L*'s interval ((hi - lo) / L*) is below `until_width` (checked before each
round, so a sweep already that sharp trains nothing), or when no candidate is left; it records
why (`stopped`). A proposal that fails is recorded as failed, not fatal: the refit takes what
finished, and a later round may propose it again.

The sweep's own launcher and settings: a proposal's overrides are the base run's own overrides
(sweep/fit/candidates.py: the run's overrides.yaml with model.d / model.l /
budget.tokens_per_param replaced), so it trains with the sweep's data, lr, out_dir...; the
launcher's settings are the Hydra overrides (`hydra/launcher=...`, `hydra.launcher.*`) of the
sweep's latest multirun, which Hydra's grid sweeper saved in `<sweep_dir>/multirun.yaml`
(hydra.overrides.hydra). Without that file (runs started one by one) the launcher is local with
its defaults, unless the sweep manifest shows Slurm jobs (then a ConfigError: the Slurm settings
are not recorded). Each proposal is run as a one-point grid, `python -m sweep.train
[--config-name NAME] -m <launcher overrides> <its overrides>` (NAME the config the base run's
overrides applied to), one after another (the project's launchers take a grid
of a command line, whose points are a product of values; proposals are single points): the
whole grid path runs (validation, data checks, skip-if-finished, the manifest, overrides.yaml).
A streamed corpus is first extended to what the proposals read (as `sweep prepare`). Local: the
command returns once the run ended. Slurm: it returns once queued; the loop then waits like
`sweep status --wait` (the runs' states from their folders and Slurm's jobs) until none of the
round's runs is queued or running. Before the first fit the launch is tried as a dry run of one
of the sweep's runs with those settings (`check_launch_accepts`), so a setting it would refuse is
one error with nothing fitted or recorded.

Resuming: nothing is lost or done twice. Every event is a line written and fsynced before the
loop goes on; run folders are named by their identity. A loop started again on the same folder
reads rounds.jsonl: an interrupted round (a `proposed` line without `ended`) is finished first
by training its recorded proposals again (a run already complete is skipped by the launcher, a
failed one resumes from its checkpoint, one still held by a job is not started twice), without
choosing again; then rounds go on until the folder holds `rounds` rounds. `--rounds` counts the
folder's rounds, not this command's: the same command again after it finished trains nothing;
to go further give a larger N.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from omegaconf import OmegaConf

from launch.command_line import check_command_line
from launch.grid import GridPoint, compose_grid, config_name_argument, with_override
from launch.prepare import corpus_needs
from launch.queue import POLL_INTERVAL_S, attach_queue_state, manifest_entries
from sweep.data.streamed import is_streamed, prepare_streamed
from sweep.errors import ConfigError, DamagedFile
from sweep.fit.design import Candidate
from sweep.fit.rounds import ENDED, PROPOSED, STOPPED, Round, append_event, read_rounds, relative_width
from sweep.fit.suggest import TargetFit, fit_at_target, suggest
from sweep.preflight import check_writable_dir
from sweep.fit.table import RunsTable, load_runs_table
from sweep.record import COMPLETE
from sweep.results import load_runs
from sweep.rundir import RunDir, iter_run_dirs

log = logging.getLogger("sweep.suggest")

REPO = Path(__file__).resolve().parent.parent
MULTIRUN_FILE = "multirun.yaml"
LOCK_FILE = ".rounds.lock"  # in the folder's suggest/: held by the loop running there
ACTIVE = ("queued", "running")  # a run's status while its job has not ended (launch/queue.py attach_queue_state)
FIT_OPTIONS = ("target_compute", "law", "resamples", "seed", "level")  # what the fit before / after takes


@dataclass(frozen=True)
class LaunchSettings:
    """How the sweep's runs were launched: the Hydra overrides of its launcher, its name (local,
    slurm, ...), and where that was read."""

    hydra_overrides: tuple[str, ...]
    launcher: str
    source: str

    @property
    def queued(self) -> bool:
        """Slurm: the launch command returns once the jobs are queued."""
        return self.launcher == "slurm"


@dataclass(frozen=True)
class LoopResult:
    rounds: int  # rounds recorded in the folder when the loop stopped
    ran: int  # rounds of them trained by this call (0: a re-run after the loop had stopped)
    reason: str  # rounds | width | no_candidate (sweep/fit/rounds.py STOP_REASONS)
    detail: str  # one line saying why
    width: float  # L*'s relative interval width then (NaN where unknown)


Train = Callable[[Path, Sequence[GridPoint]], Optional[dict[str, str]]]  # -> {run: why its launch failed}


def run_from_args(args: argparse.Namespace, candidates_for: Callable[[RunsTable], Sequence[Candidate]],
                  train: Train | None = None) -> int:
    """`sweep suggest SWEEP_DIR --rounds N [--until-width W]` with `sweep suggest`'s options
    (args.sweep, target_compute, law, count, budget, bootstrap, seed); prints how it stopped."""
    check_loop_options(getattr(args, "rounds", None), getattr(args, "until_width", None))
    if getattr(args, "target_compute", None) is None:
        raise ConfigError("--rounds needs --target-compute C (the compute whose L*(C) and N_opt(C) the rounds sharpen)")
    options = {"target_compute": args.target_compute, "law": getattr(args, "law", "chinchilla"),
               "count": getattr(args, "count", None), "budget": getattr(args, "budget", None),
               "resamples": getattr(args, "bootstrap", None), "seed": getattr(args, "seed", None)}
    result = run_rounds(args.sweep, candidates_for=candidates_for, suggest_options=options, rounds=args.rounds,
                        until_width=getattr(args, "until_width", None), train=train)
    print(f"stopped: {result.detail}; {result.ran} round(s) run by this command, {result.rounds} recorded in "
          f"{Path(args.sweep) / 'suggest' / 'rounds.jsonl'} (`sweep report {args.sweep}`: Active rounds)")
    return 0


def check_loop_options(rounds: Any, until_width: Any) -> None:
    if until_width is not None and rounds is None:
        raise ConfigError(f"--until-width {until_width!r} needs --rounds N: the most rounds to run")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"--rounds {rounds!r}: accepted is a whole number of rounds >= 1")
    if until_width is not None and not (isinstance(until_width, (int, float)) and 0 < until_width < 1):
        raise ConfigError(f"--until-width {until_width!r}: accepted is a relative width of L*(C)'s interval "
                          "between 0 and 1 (0.05: narrower than 5% of L*)")


def check_sweep_source(source: Any) -> Path:
    """A sweep folder with run folders; a table file or a W&B group cannot train."""
    text = str(source)
    path = Path(text)
    if text.startswith("wandb:") or not path.is_dir() or next(iter(iter_run_dirs(path)), None) is None:
        raise ConfigError(f"--rounds trains runs, which needs a sweep folder (the out_dir holding the sweep's run "
                          f"folders); {text!r} is not one (a runs table or a W&B group cannot train: use "
                          "`sweep suggest` without --rounds there)")
    return path


def run_rounds(sweep_dir: str | os.PathLike, *, candidates_for: Callable[[RunsTable], Sequence[Candidate]],
               suggest_options: dict[str, Any], rounds: int, until_width: float | None = None,
               train: Train | None = None) -> LoopResult:
    """Rounds of suggest -> train -> refit until the folder holds `rounds` rounds or L*'s relative
    interval width is below `until_width` (module docstring; how a resumed loop goes on too).
    `suggest_options`: keyword arguments of sweep.fit.suggest.suggest (target_compute required);
    `train(sweep_dir, points)`: trains the points and returns once they ended (default:
    `train_points`, the sweep's own launcher)."""
    check_loop_options(rounds, until_width)
    sweep_dir = check_sweep_source(sweep_dir)
    if suggest_options.get("target_compute") is None:
        raise ConfigError("the loop needs a target compute (--target-compute C)")
    # its rounds are recorded in the sweep folder and its runs trained there: a read-only one was found
    # only after the first fit (25 s), when the round could not be recorded
    check_writable_dir("the rounds' record", Path(sweep_dir) / "suggest")
    if train is None:  # the sweep's own launcher: its recorded settings checked before any fit or record
        check_launch_settings(launch_settings(sweep_dir))
        check_launch_accepts(sweep_dir)
    train = train or train_points
    with loop_lock(sweep_dir):
        return _loop(sweep_dir, candidates_for, suggest_options, rounds, until_width, train)


@contextlib.contextmanager
def loop_lock(sweep_dir: Path) -> Iterator[None]:
    """Held while a loop runs on the folder (flock on suggest/.rounds.lock, released when the
    process ends); ConfigError when another loop holds it: two loops at once recorded one round
    twice, the second calling the run the first was training failed."""
    path = Path(sweep_dir) / "suggest" / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another `sweep suggest --rounds` is running on {sweep_dir} (it holds {path}): let it "
                              "end, or stop it and run this command again (its rounds are recorded)") from None
        yield


def _loop(sweep_dir: Path, candidates_for: Callable[[RunsTable], Sequence[Candidate]], suggest_options: dict[str, Any],
          rounds: int, until_width: float | None, train: Train) -> LoopResult:
    """run_rounds once its checks have passed and its lock is held."""
    fit_options = {k: suggest_options[k] for k in FIT_OPTIONS if suggest_options.get(k) is not None}
    record = read_rounds(sweep_dir)
    ran = 0
    if record.open_round is not None:
        log.info("round %d was interrupted: training its proposals (finished runs are skipped)",
                 record.open_round.number)
        finish_round(sweep_dir, record.open_round, recorded_points(sweep_dir, record.open_round), train, fit_options)
        ran += 1
    while True:
        record = read_rounds(sweep_dir)
        last = record.rounds[-1] if record.rounds else None
        before = None
        if last is not None and last.ended is not None and has_same_runs(sweep_dir, last) \
                and asked_the_same(last, suggest_options):
            width = relative_width(last.after("loss"))
        else:  # no round yet, or runs came since: fit the folder as it is
            before = fit_at_target(load_runs_table(sweep_dir), **fit_options)
            width = relative_width(before.now["loss"])
        if until_width is not None and width < until_width:
            return stop(sweep_dir, record, ran, "width", f"L*(C)'s interval is {width:.3g} of L*, narrower "
                        f"than the {until_width:g} asked", width)
        if record.done >= rounds:
            return stop(sweep_dir, record, ran, "rounds", f"{record.done} of {rounds} rounds done"
                        + (f" (L*(C)'s interval is {width:.3g} of L*, not yet below {until_width:g})"
                           if until_width is not None else ""), width)
        table = load_runs_table(sweep_dir)
        if before is None:
            before = fit_at_target(table, **fit_options)
        try:
            suggestion = suggest(table, list(candidates_for(table)), **suggest_options)
        except ConfigError as err:
            if str(err).startswith("no candidate left"):
                return stop(sweep_dir, record, ran, "no_candidate", str(err), width)
            raise
        points = [proposal_points(sweep_dir, p.candidate) for p in suggestion.proposals]
        number = (last.number if last is not None else 0) + 1
        proposed = append_event(sweep_dir, PROPOSED, number, suggestion=suggestion.to_dict(), params=before.params,
                                runs=[p.run.path.name for ps in points for p in ps])
        log.info("round %d: %d run(s) proposed (%.3g FLOPs): %s", number, len(points), suggestion.flops,
                 ", ".join(p.candidate.label for p in suggestion.proposals))
        finish_round(sweep_dir, Round(number, proposed), [p for ps in points for p in ps], train, fit_options,
                     before)
        ran += 1


def stop(sweep_dir: Path, record, ran: int, reason: str, detail: str, width: float) -> LoopResult:
    """Record why the loop stopped (once: the same stop again, on a re-run, is not written twice);
    the caller says it."""
    seen = record.stopped
    if seen is None or seen.get("reason") != reason or seen.get("round") != record.done:
        append_event(sweep_dir, STOPPED, record.done, reason=reason, detail=detail, width=width)
    return LoopResult(record.done, ran, reason, detail, width)


def finish_round(sweep_dir: Path, round_: Round, points: Sequence[GridPoint], train: Train,
                 fit_options: dict[str, Any], before: TargetFit | None = None) -> None:
    """Train the round's points, wait, refit; record the outcomes and the fit after (`ended`) and
    say them (`round_ended_line`; `before`: the fit the round was chosen on, None for a round
    resumed from its record)."""
    reasons = train(sweep_dir, points) or {}  # run -> why its launch command failed (train_points)
    outcomes = [outcome(p, reasons.get(p.run.path.name)) for p in points]
    failed = [o["run"] for o in outcomes if o["status"] != COMPLETE]
    if failed:
        log.warning("round %d: %d of %d run(s) did not complete (%s): the refit takes the others",
                    round_.number, len(failed), len(outcomes), ", ".join(failed))
    after = fit_at_target(load_runs_table(sweep_dir), **fit_options)
    append_event(sweep_dir, ENDED, round_.number, outcomes=outcomes, after=after.to_dict(),
                 n_complete=complete_runs(sweep_dir))
    log.info("%s", round_ended_line(round_.number, outcomes, before, after))


def round_ended_line(number: int, outcomes: Sequence[dict[str, Any]], before: TargetFit | None,
                     after: TargetFit) -> str:
    """'round 2 ended: d96-...: complete, loss 3.4121; L*(C) 3.2 [3.1, 3.4] -> 3.25 [3.2, 3.3] (its
    interval 9.4% -> 3.1% of L*)': what `sweep report`'s section 8 says of the round, on the console."""
    runs = "; ".join(f"{o['run']}: {o['status']}" + (f", loss {o['final_eval_loss']:.4f}"
                                                      if isinstance(o.get("final_eval_loss"), (int, float)) else "")
                     for o in outcomes)

    def loss_star(fit: TargetFit) -> str:
        value, lo, hi = fit.now["loss"]
        return f"{value:.4g} [{lo:.4g}, {hi:.4g}]"

    width_after = relative_width(after.now["loss"])
    if before is None:
        return f"round {number} ended: {runs}; L*(C) now {loss_star(after)} (its interval {width_after:.1%} of L*)"
    return (f"round {number} ended: {runs}; L*(C) {loss_star(before)} -> {loss_star(after)} (its interval "
            f"{relative_width(before.now['loss']):.1%} -> {width_after:.1%} of L*)")


def outcome(point: GridPoint, launch_error: str | None = None) -> dict[str, Any]:
    """A proposal's run once its job ended: complete, diverged, or failed (no result, or a failed
    one), with its final eval loss and, failed, why: its result's error, else its launch command's
    (`launch_error`), else that it wrote no result (the error was null, the cause only on the console)."""
    result = point.run.read_result() or {}
    status = result.get("status") or "failed"
    error = result.get("error") or (launch_error if status != COMPLETE else None)
    if status == "failed" and error is None and not result:
        error = f"no result.json in {point.run.path}: the run did not end (its log, or the launch's output, says why)"
    return {"run": point.run.path.name, "status": status, "final_eval_loss": result.get("final_eval_loss"),
            "error": error}


def has_same_runs(sweep_dir: Path, last: Round) -> bool:
    """Whether the folder's complete runs are those the last round's refit saw (no run came since)."""
    seen = (last.ended or {}).get("n_complete")
    return seen is None or seen == complete_runs(sweep_dir)


def asked_the_same(last: Round, suggest_options: dict[str, Any]) -> bool:
    """Whether the last round was fitted at the same target compute with the same law (its fit
    after then stands for the fit now)."""
    asked = last.proposed["suggestion"]
    return (asked.get("target_compute") == suggest_options["target_compute"]
            and asked.get("law") == suggest_options.get("law", "chinchilla"))


def complete_runs(sweep_dir: Path) -> int:
    return sum((run.read_result() or {}).get("status") == COMPLETE for run in iter_run_dirs(sweep_dir))


def proposal_points(sweep_dir: Path, candidate: Candidate) -> list[GridPoint]:
    """The proposal's grid point(s), composed and validated from its overrides, in the sweep folder."""
    if not candidate.overrides:
        raise ConfigError(f"candidate {candidate.label or candidate.n_params!r} has no overrides to train it with "
                          "(candidates of a runs table have no configs): --rounds needs a sweep folder")
    overrides = list(candidate.overrides)
    points = compose_grid(overrides, candidate.config_name)
    if any(Path(p.cfg.out_dir).resolve() != sweep_dir.resolve() for p in points):  # the base run's out_dir was relative
        points = compose_grid(with_override(overrides, f"out_dir={sweep_dir.resolve()}"), candidate.config_name)
    return points


def recorded_points(sweep_dir: Path, round_: Round) -> list[GridPoint]:
    """An interrupted round's proposals, from their recorded overrides."""
    return [p for proposal in round_.proposals for p in proposal_points(
        sweep_dir, Candidate(proposal["n_params"], proposal["tokens"], proposal["flops"], proposal.get("label", ""),
                             tuple(proposal.get("overrides") or ()), config_name=proposal.get("config_name") or "train"))]


def launch_settings(sweep_dir: Path) -> LaunchSettings:
    """The launcher overrides of the sweep's latest multirun (multirun.yaml); else local, unless
    the manifest shows Slurm jobs."""
    path = sweep_dir / MULTIRUN_FILE
    if path.is_file():
        try:
            saved = OmegaConf.load(path)
            overrides = [str(o) for o in OmegaConf.select(saved, "hydra.overrides.hydra", default=None) or []]
            launcher = OmegaConf.select(saved, "hydra.runtime.choices", default={}).get("hydra/launcher")
        except Exception as err:  # noqa: BLE001 (a damaged file is the user's to fix: one line)
            raise ConfigError(f"{path}: cannot be read as Hydra's multirun config ({err}); the loop takes the "
                              "sweep's launcher settings from it") from None
        kept = tuple(o for o in overrides if not o.startswith(("hydra.sweeper.dry_run", "hydra.mode")))
        if launcher and not any(o.startswith("hydra/launcher=") for o in kept):  # chosen by the config file
            kept = (f"hydra/launcher={launcher}", *kept)  # (conf/demo.yaml's defaults), not on the command line
        return LaunchSettings(kept, str(launcher or "basic"), str(path))
    buckets = {e.get("bucket") for e in manifest_entries(sweep_dir)}
    if buckets - {"local", None}:
        raise ConfigError(f"{sweep_dir} has Slurm jobs in its manifest but no {MULTIRUN_FILE}, where the launcher's "
                          "settings are recorded: run the sweep's multirun command again (finished runs are "
                          "skipped) so the loop can launch with the same settings")
    return LaunchSettings(("hydra/launcher=local",), "local", "default (no multirun.yaml)")


def check_launch_settings(settings: LaunchSettings) -> None:
    """ConfigError for a launcher option the launch would refuse (a misspelt `hydra.launcher.*` in
    multirun.yaml), naming where the settings were read."""
    try:
        check_command_line(["-m", *settings.hydra_overrides])
    except ConfigError as err:
        raise ConfigError(f"{err} (the sweep's launcher settings, read from {settings.source}: the rounds launch with "
                          "them)") from None


def check_launch_accepts(sweep_dir: Path) -> None:
    """ConfigError, before any fit or record, where the launch would refuse the sweep's launcher
    settings (a value out of range, `hydra.launcher.parallelism=0`): a dry run of one of its runs
    under those settings, the launch's own checks (it was found only at the first proposal's
    launch, after the fit and a recorded round). A folder with no run's overrides is left to them."""
    settings = launch_settings(sweep_dir)
    run, overrides = next(((run, o) for run in iter_run_dirs(sweep_dir) if (o := readable_overrides(run))),
                          (None, None))
    if overrides is None:
        return
    cmd = [sys.executable, "-m", "sweep.train", *config_name_argument(readable_config_name(run)), "-m",
           *settings.hydra_overrides, *overrides, "--dry-run"]
    proc = subprocess.run(cmd, cwd=os.getcwd(), capture_output=True, text=True)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
    if proc.returncode == 2 and tail and tail[-1].startswith("error: "):
        raise ConfigError(f"{tail[-1][len('error: '):]} (a dry run of {run.path.name}'s overrides with the sweep's "
                          f"launcher settings, read from {settings.source}: the rounds launch the same way; fix it "
                          "there or in the run's overrides.yaml)")


def readable_overrides(run: RunDir) -> list[str] | None:
    """A run's latest overrides; None where none are recorded or its overrides.yaml is damaged
    (the loop's launch names that, for the runs it trains)."""
    try:
        return run.read_overrides()
    except DamagedFile:
        return None


def readable_config_name(run: RunDir) -> str:
    """The config a run's latest overrides applied to (overrides.yaml), 'train' where unnamed."""
    try:
        return run.read_config_name() or "train"
    except DamagedFile:
        return "train"


def train_points(sweep_dir: Path, points: Sequence[GridPoint],
                 wait_interval_s: float = POLL_INTERVAL_S) -> dict[str, str]:
    """Train the points through the sweep's own launcher (module docstring) and return once each has
    ended, with {run: why its launch command failed} for those whose command failed (logged, and
    left to the run's outcome, which records it where the run wrote no error of its own); one the launch
    refuses (exit code 2: a user error, before any compute) stops the loop with its message, the
    round left open in rounds.jsonl, so that the same command, once it is fixed, trains the round's
    recorded proposals."""
    settings = launch_settings(sweep_dir)
    prepare_streamed_data(points)
    reasons: dict[str, str] = {}
    for point in points:
        cmd = [sys.executable, "-m", "sweep.train", *config_name_argument(point.config_name), "-m",
               *settings.hydra_overrides, *point.overrides]
        log.info("%s: python %s", point.run.path.name, " ".join(cmd[1:]))
        proc = subprocess.run(cmd, cwd=os.getcwd(), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            if proc.returncode == 2 and tail and tail[-1].startswith("error: "):
                raise ConfigError(f"{point.run.path.name}: the launch refused it: {tail[-1][len('error: '):]}; fix it "
                                  "and run the same command again: the round's proposals are recorded and are "
                                  "trained then")
            reasons[point.run.path.name] = f"the launch command exited {proc.returncode}: {' | '.join(tail)}"
            log.warning("%s: %s", point.run.path.name, reasons[point.run.path.name])
    if settings.queued:
        wait_for_runs(sweep_dir, [p.run.path.name for p in points], wait_interval_s)
    return reasons


def prepare_streamed_data(points: Sequence[GridPoint]) -> None:
    """Extend each streamed corpus (hf, c4, synthetic) to the tokens the points read, as `sweep
    prepare` does; local corpora are built by the runs."""
    for need in corpus_needs(points):
        if is_streamed(need.data):
            prepare_streamed(need.data, need.train_tokens)


def wait_for_runs(sweep_dir: Path, names: Sequence[str], interval_s: float) -> None:
    """Wait, as `sweep status --wait` does, until none of the named runs is queued or running
    (their folders' states, with Slurm's state of their latest jobs)."""
    wanted, printed = set(names), None
    while True:
        rows = [run_row for run_row in load_runs(sweep_dir) if run_row["run"] in wanted]
        attach_queue_state(rows, sweep_dir)
        active = [r["run"] for r in rows if r["status"] in ACTIVE]
        if not active:
            return
        counts = ", ".join(f"{sum(r['status'] == s for r in rows)} {s}" for s in ACTIVE)
        if counts != printed:
            log.info("waiting for the round's runs: %s", counts)
            printed = counts
        time.sleep(interval_s)
