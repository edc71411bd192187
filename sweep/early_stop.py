"""Early stopping (README "Early stopping"): the runs of a budget group that cannot win it stop at a
set fraction of their training, and their predicted final loss stands for them.

A budget group is the runs of a grid that differ only in learning rate, batch size and weight
decay: same model, same tokens, same data and seed (`group_key`). With `early_stop.enabled`, each
run of a group of two or more trains first to its probe step P = `probe_step(cfg)` (F of its steps,
rounded down to a log step, F = early_stop.fraction) and keeps its checkpoint there. Once every
member has, the group is decided (`decide_group`): each member's final eval loss is predicted
from its records up to its P by the loss-curve law (sweep/fit/curve_law.py), a finished member
stands with its actual final loss; then a member is stopped when

    lo_r > (1 + margin) * hi_b

where [lo_r, hi_r] is its interval and hi_b the k-th lowest high end among the other members,
k = early_stop.beaten_by (or all of them, where fewer have a loss): b is that member (both
intervals at early_stop.level; a finished member's is its actual loss). A stopped run is then, at
that level, worse than k runs that go on (b itself cannot be stopped: its lo is below its own hi,
at most the k-th lowest of the others'). Comparing with the members whose losses the group is
surest of, rather than with the lowest prediction, matters where the lowest prediction is also the
least certain: on the early-stopping benchmark's wide grid (benchmarks/RESULTS.md) the d32 group's
lowest prediction at 25% had the interval [-1.49, 8.26], under which nothing could be stopped,
while runs ending 35-52% above the best were clearly above another member's [3.46, 3.81]. k = 2
by default because the surest interval is also the likeliest to be over-sure (the lowest of several
high ends): on that benchmark at batch size 4 the d48 group's surest member at 25%, a low learning
rate late in its initial descent, was [3.372, 3.415] and ended at 3.459, and with k = 1 runs that
ended below it (0.1-0.6% above the best) were stopped; with k = 2 they go on. The group's best
(lowest predicted) is never stopped either: its lo is at most its prediction, at most b's, at most
hi_b. With early_stop.gaps, two members both predicted by the collapse with calibrated gaps are
compared by the gap between their predictions instead, P_r > (1 + q)(1 + margin) P_b (clearly_worse;
q from the size below: the predicted gap beyond the margin past which no pair of its runs would
have been stopped wrongly, sweep/fit/calibration.py gap_calibration), which on real text at 10% of
a d64 run asks a gap of 1-9% where two calibrated bands ask 47-55%; a run is then stopped only
while `beaten_by` members it is clearly worse than go on (decide). A run that cannot be predicted
(too few records, a diverged or failed run) is never stopped and is no comparator either; no run
is stopped before its P. Members then go on: a stopped one records `status: stopped_early` at its
checkpoint with the prediction (result.json and W&B: sweep/run/loop.py), the others train to their end,
or, with `early_stop.again_at` (later fractions: rungs, as in successive halving), to the next
decision step, where the runs still going are decided again against every member (a run stopped at
an earlier one standing with the prediction it was stopped with): `decision_steps`. A run predicted
only once its initial descent is over, or a member left inside the comparator's interval by the
first decision, can still be stopped at a later one, at the cost of the compute up to it.

The decisions of a group are one JSON file, `<out_dir>/.early_stop/<group_key>.json` (each rung's
decisions, and each member's latest), written under a lock by whichever job decides a rung first;
decisions in it are never changed (members added to the
grid later are decided then, against all members). With early stopping off, re-launching a sweep
resumes its stopped runs to their end (`is_settled`).

Letters: S a run's steps, F the fraction, P the probe step (the first decision step).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from sweep.budget import compute_budget
from sweep.config import TrainConfig
from sweep.errors import ConfigError, DamagedFile
from sweep.fit.calibration import Calibration
from sweep.fit.collapse import CollapsePrediction, check_floor
from sweep.record import COMPLETE, DIVERGED, FINISHED, STOPPED_EARLY
from sweep.rundir import RunDir, group_key, reference_key  # group_key: importable from here too
from sweep.storage import atomic_write

log = logging.getLogger("sweep.early_stop")

STOP, CONTINUE, UNDECIDED = "stop", "continue", "undecided"  # a member's action
DECISIONS_DIR = ".early_stop"  # under out_dir


def decision_steps(cfg: TrainConfig) -> list[int]:
    """P_0 < P_1 < ...: the steps at which a run's budget group is decided, one per rung: the
    fraction early_stop.fraction, then each of early_stop.again_at, of its steps, rounded down to a
    multiple of train.log_every (so a record stands there). [] when the first leaves no step before
    its end or none at all (the run is not early-stopped: it just trains). ConfigError when two
    rungs fall on the same log step (a run of too few steps for fractions that close)."""
    steps = compute_budget(cfg).steps
    every = cfg.train.log_every
    e = cfg.early_stop
    fractions = (e.fraction, *e.again_at)
    at = [int(math.floor(f * steps / every)) * every for f in fractions]
    if not 0 < at[0] < steps:
        return []
    for (f, a), (g, b) in zip(zip(fractions, at), zip(fractions[1:], at[1:])):
        if b <= a:
            raise ConfigError(f"early_stop.again_at={list(e.again_at)}: a run of {steps} steps logging every {every} "
                              f"is decided at the same step {a} at fractions {f:g} and {g:g}; accepted are fractions "
                              f"at least train.log_every / steps = {every / steps:.3g} apart for this run")
    return at


def records_at_last_decision(cfg: TrainConfig) -> int | None:
    """How many train-loss records past its warmup a run holds at its last decision step (about what the
    curve law fits; it needs MIN_POINTS); None for a run that is not early-stopped."""
    from sweep.run.optim import warmup_steps

    at = decision_steps(cfg)
    if not at:
        return None
    every = cfg.train.log_every
    return max(0, at[-1] // every - warmup_steps(cfg.optim, compute_budget(cfg).steps) // every)


def probe_step(cfg: TrainConfig) -> int | None:
    """P: the step a run of an early-stopped group trains to before its group is first decided
    (decision_steps' first); None when the run is not early-stopped."""
    at = decision_steps(cfg)
    return at[0] if at else None


def probe_eval_steps(cfg: TrainConfig) -> frozenset[int]:
    """The steps at which a run evaluates besides every train.eval_every (with early_stop.enabled,
    any run of the grid): each decision step P (decision_steps), where its group is decided from its
    eval loss, and the log steps either side of P, where a larger run's decision reads it as a
    reference (early_stop.floor): a run of S' > S steps reads it at P'/S' of its steps, within one
    of its own log steps below F, which these records bracket:
    P - log_every <= F S - log_every < P' S / S' <= F S < P + log_every."""
    every, steps = cfg.train.log_every, compute_budget(cfg).steps
    return frozenset(step for at in decision_steps(cfg) for step in (at - every, at, at + every) if 0 < step <= steps)


def is_settled(cfg: TrainConfig, state: str) -> bool:
    """Whether a run in `state` (sweep/record.py) is not run again: finished, or stopped early while
    early stopping is on (with it off, a stopped run is resumed to its end)."""
    return state in FINISHED or (state == STOPPED_EARLY and cfg.early_stop.enabled)


def early_stopped_groups(cfgs: Sequence[TrainConfig]) -> dict[str, list[int]]:
    """The groups of a grid that early stopping applies to, as group_key -> indices into `cfgs`:
    early_stop.enabled, two members or more, each with a probe step, and, with early_stop.floor,
    none of them a reference: a run that a larger run of the grid at its settings is predicted
    from (the collapse of curves) trains whole, since a run stopped early has no final loss to
    predict from. On the early-stopping benchmark's three-width grid, with decisions from 10% to
    50%, stopping the d16 and d32 runs that could be stopped (at 15-30%) left the d48 runs at
    those learning rates to the curve law, which could not stop them at 10%: the launcher saved 22%
    of the compute, against 29% with the references trained whole (benchmarks/RESULTS.md
    "Deciding again later"). Other runs just train."""
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        if cfg.early_stop.enabled and probe_step(cfg) is not None:
            groups.setdefault(group_key(cfg), []).append(i)
    references = _references(cfgs)
    return {key: members for key, members in groups.items()
            if len(members) >= 2 and not any(i in references for i in members)}


def _references(cfgs: Sequence[TrainConfig]) -> set[int]:
    """The indices of the runs with early_stop.floor that a larger run of the grid with it, at the
    same settings but the learning rate (sweep/rundir.py reference_key), would be predicted from."""
    floored = [(i, reference_key(cfg), compute_budget(cfg).n_params) for i, cfg in enumerate(cfgs)
               if cfg.early_stop.enabled and cfg.early_stop.floor is not None]
    largest: dict[str, int] = {}
    for _, key, n in floored:
        largest[key] = max(largest.get(key, 0), n)
    return {i for i, key, n in floored if n < largest[key]}


@dataclass(frozen=True)
class MemberDecision:
    """One member of a group: its action, the loss it stood with (predicted, or actual for a
    finished run) and interval, what the action compared it with, and why."""

    run: str
    action: str  # stop | continue | undecided
    predicted: float | None = None
    interval: tuple[float, float] | None = None
    predicted_at_step: int | None = None  # P (None: a finished run's actual loss)
    steps: int | None = None
    best_run: str | None = None  # the member compared with: the beaten_by-th lowest high end of the others (decide)
    best_predicted: float | None = None
    best_interval: tuple[float, float] | None = None
    reason: str = ""
    predicted_from: str | None = None  # "curve law", or "collapse from <run>, E = ..." (early_stop.floor)
    rung: int = 0  # the decision step it was taken at: 0 at early_stop.fraction, k at early_stop.again_at[k - 1]

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("interval", "best_interval"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MemberDecision":
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in raw.items() if k in known}
        for key in ("interval", "best_interval"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        return cls(**fields)


@dataclass(frozen=True)
class Standing:
    """What `decide` knows of a member: a loss with its interval (an actual loss: lo = hi = loss),
    or None with the reason it cannot be compared; whether it may still be stopped (a finished
    run may not)."""

    run: str
    loss: float | None
    interval: tuple[float, float] | None
    stoppable: bool
    reason: str = ""
    at_step: int | None = None
    steps: int | None = None
    predicted_from: str | None = None  # MemberDecision.predicted_from
    compares: bool = True  # whether it may be a comparator (steadied: not one first predicted at a later decision)
    not_collapsed: str = ""  # with early_stop.floor, a member not predicted by the collapse: why (collapse_note)
    gaps: Calibration | None = None  # with early_stop.gaps, a collapse prediction's calibrated gaps (calibration.GAPS)
    span: tuple[float, float] | None = None  # the lowest and highest of its predictions at this decision step and the
    # one before (steadied; None: its loss alone), what a comparison of gaps reads

    @property
    def low(self) -> float:
        return self.loss if self.span is None else self.span[0]

    @property
    def high(self) -> float:
        return self.loss if self.span is None else self.span[1]


def steadied(standings: Sequence[Standing], previous: dict[str, MemberDecision]) -> list[Standing]:
    """The standings at a later decision step (early_stop.again_at), each checked against the
    member's decision at the one before (`previous`, by run): a prediction that moved since is as
    uncertain as its move (its interval widened to hold the previous prediction, its `span` the two
    predictions, which a comparison of gaps reads), and a member
    predicted now but not then may be stopped but stops no other (no comparator). On the
    early-stopping benchmark's three-width grid the curve law, decided at 10, 15, 20, ... 50%, first
    predicted d48's two highest learning rates at 20%, 9% and 22% below their final losses inside
    intervals that missed them ([2.98, 3.30], [2.39, 3.03]), and as the two comparators they stopped
    d48 lr 1.6e-2, the width's best; at 30% lr 6.4e-2 was again 11% low, [2.84, 3.29], having been
    3.505 at 25% (benchmarks/RESULTS.md). A run that stands with an actual or an earlier stopping
    loss is left as it is."""
    out = []
    for s in standings:
        before = previous.get(s.run)
        if s.loss is None or not s.stoppable:
            out.append(s)
        elif before is None or before.predicted is None:
            out.append(dataclasses.replace(s, compares=False))
        else:
            lo, hi = s.interval
            out.append(dataclasses.replace(s, interval=(min(lo, before.predicted), max(hi, before.predicted)),
                                           span=(min(s.loss, before.predicted), max(s.loss, before.predicted))))
    return out


def gap_band(s: Standing, o: Standing) -> float | None:
    """q for comparing s with o by the gap between their predictions: the larger of their calibrated
    gaps' quantiles, at least 0 (early_stop.gaps); None where either has none measured (a
    member predicted by the curve law, a finished or an earlier-stopped one, a grid with no size
    below its smaller one to calibrate on), so the two are compared by their intervals."""
    if s.gaps is None or o.gaps is None or not (s.gaps.measured and o.gaps.measured):
        return None
    return max(0.0, s.gaps.quantile, o.gaps.quantile)


def clearly_worse(s: Standing, o: Standing, margin: float) -> bool:
    """Whether member s's final loss is, at the level of their calibrations, above (1 + margin) times
    member o's: by the gap between their predictions where both have calibrated gaps (gap_band),

        P_s > (1 + q) (1 + margin) P_o,

    each prediction the one least in s's favour where it moved since the decision step before
    (Standing.low, .high); else by their intervals, lo_s > (1 + margin) hi_o."""
    q = gap_band(s, o)
    if q is None:
        return s.interval[0] > (1 + margin) * o.interval[1]
    return s.low > (1 + q) * (1 + margin) * o.high


def decide(standings: Sequence[Standing], margin: float, beaten_by: int) -> list[MemberDecision]:
    """The rule, pure: each stoppable member with a loss is stopped when it is clearly worse
    (clearly_worse) than `beaten_by` other members that go on (than every other member with a loss,
    where there are fewer); the `beaten_by`-th of those, by high end, is the decision's `best_run`.
    By intervals alone that is: the low end of its interval above (1 + margin) times the
    beaten_by-th lowest high end among the others. With beaten_by = 1 that is the member whose loss the group is surest of;
    with 2, one member's over-sure interval cannot stop a run alone. The lowest predicted loss is
    never stopped; members without a loss stay undecided and are never stopped; a member whose
    `compares` is false (steadied) is no comparator. A member's `not_collapsed` (why
    early_stop.floor's collapse did not predict it) ends its reason."""
    if not 0 <= margin < 1:
        raise ConfigError(f"early_stop.margin={margin}: accepted is a relative margin in [0, 1)")
    if isinstance(beaten_by, bool) or not isinstance(beaten_by, int) or beaten_by < 1:
        raise ConfigError(f"early_stop.beaten_by={beaten_by!r}: accepted is an integer >= 1 (how many members a "
                          "stopped run must be clearly worse than)")
    ranked = [s for s in standings if s.loss is not None]
    best = min(ranked, key=lambda s: s.loss) if ranked else None
    others = {s.run: sorted((o for o in ranked if o is not s and o.compares), key=lambda o: (o.interval[1], o.loss))
              for s in ranked}
    beaten = {s.run: min(beaten_by, len(others[s.run])) for s in ranked}  # the members it must be clearly worse than
    beating = {s.run: [o for o in others[s.run] if clearly_worse(s, o, margin)] for s in ranked
               if s.stoppable and s is not best and others[s.run]}
    stopped = {run for run, by in beating.items() if len(by) >= beaten[run]}
    while True:  # a run stops only while beaten_by members it is clearly worse than go on (by intervals alone they
        # always do: the beaten_by-th lowest high end cannot be stopped; comparing gaps, one could be)
        short = {run for run in stopped if sum(o.run not in stopped for o in beating[run]) < beaten[run]}
        if not short:
            break
        stopped -= short
    decisions = []
    for s in standings:
        common = dict(run=s.run, predicted=s.loss, interval=s.interval, predicted_at_step=s.at_step, steps=s.steps,
                      predicted_from=s.predicted_from)
        if s.loss is None:
            decisions.append(MemberDecision(action=UNDECIDED, reason=s.reason or "not predicted", **common))
            continue
        if not others[s.run]:  # every other member unpredicted, or first predicted at this decision step (steadied)
            alone = "no member to compare it with: the others are not predicted, or first predicted at this " \
                    "decision step (a comparator from the next one on)"
            decisions.append(MemberDecision(action=CONTINUE, reason=(s.reason or "finished") if not s.stoppable
                                            else alone, **common))
            continue
        k = beaten[s.run]
        if s.run in stopped:
            against = [o for o in beating[s.run] if o.run not in stopped][k - 1]
            also = f", as above {k - 1} other member{'s' if k > 2 else ''} with a lower high end" if k > 1 else ""
            decisions.append(MemberDecision(action=STOP, **common, **_versus(against),
                                            reason=_stop_reason(s, against, margin) + also))
            continue
        against = others[s.run][k - 1]
        if not s.stoppable:
            reason = s.reason or "finished"
        elif s is best:
            reason = "the group's best"
        else:
            reason = f"not clearly worse than {k} member{'s' if k > 1 else ''} (up to {against.run})"
        decisions.append(MemberDecision(action=CONTINUE, reason=reason, **common, **_versus(against)))
    return [dataclasses.replace(d, reason=f"{d.reason}; {s.not_collapsed}") if s.not_collapsed else d
            for d, s in zip(decisions, standings)]


def _versus(against: Standing) -> dict[str, Any]:
    return dict(best_run=against.run, best_predicted=against.loss, best_interval=against.interval)


def _stop_reason(s: Standing, against: Standing, margin: float) -> str:
    q = gap_band(s, against)
    if q is None:
        return (f"its interval [{s.interval[0]:.4f}, {s.interval[1]:.4f}] lies above {against.run}'s "
                f"[{against.interval[0]:.4f}, {against.interval[1]:.4f}] by more than {margin:.2%}")
    return (f"its predicted loss {s.low:.4f} lies {s.low / against.high - 1:.2%} above {against.run}'s "
            f"{against.high:.4f}, more than the gaps' calibrated {q:+.2%} and the margin {margin:.2%} together "
            f"({s.gaps.describe()})")


def decisions_file(cfg: TrainConfig) -> Path:
    return Path(cfg.out_dir) / DECISIONS_DIR / f"{group_key(cfg)}.json"


def read_rungs(cfg: TrainConfig) -> list[dict[str, MemberDecision]]:
    """The decisions taken for the group of `cfg` at each rung so far, by run folder name ([]
    before any). A file written before rungs existed holds one."""
    path = decisions_file(cfg)
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text())
        rungs = raw["rungs"] if "rungs" in raw else [raw["members"]]
        return [{name: MemberDecision.from_dict(d) for name, d in members.items()} for members in rungs]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DamagedFile(path, f"not an early-stopping decision file ({type(err).__name__}: {err})",
                          "delete it: the group is decided again from its runs' records") from None


def read_decisions(cfg: TrainConfig) -> dict[str, MemberDecision]:
    """Each member's latest decision for the group of `cfg` (a run stopped at a rung keeps its
    stop), by run folder name ({} before any)."""
    return latest_decisions(read_rungs(cfg))


def latest_decisions(rungs: Sequence[dict[str, MemberDecision]]) -> dict[str, MemberDecision]:
    """Each member's decision at the last rung that decided it; a stop is never followed by another."""
    latest: dict[str, MemberDecision] = {}
    for members in rungs:
        latest.update({name: d for name, d in members.items() if not _stopped(latest.get(name))})
    return latest


def _stopped(decision: MemberDecision | None) -> bool:
    return decision is not None and decision.action == STOP


def decision_for(cfg: TrainConfig) -> MemberDecision | None:
    """This run's latest decision, if its group was decided with it."""
    return read_decisions(cfg).get(RunDir.for_config(cfg).path.name)


def decided_past(cfg: TrainConfig, step: int) -> bool:
    """Whether this run's group has decided it at a decision step at or past `step` (so the run
    reached that step; a run stopped at an earlier one has not: the job that goes on from there
    records its stop)."""
    decision = decision_for(cfg)
    if decision is None:
        return False
    at = decision_steps(cfg)
    return decision.rung < len(at) and at[decision.rung] >= step


@contextlib.contextmanager
def _group_lock(cfg: TrainConfig) -> Iterator[None]:
    path = decisions_file(cfg).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held for the seconds a group's predictions take
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def decide_group(cfgs: Sequence[TrainConfig], rung: int = 0) -> dict[str, MemberDecision]:
    """Decide, at decision step `rung` (decision_steps), the members of one budget group that have
    no decision there yet and were not stopped at an earlier one (every member past that step, or
    finished or stopped), against all members; write them to the group's decisions file (under a
    lock: the first job of a group to call this decides, the others read) and return each member's
    latest decision by run folder name. Decisions already taken stand."""
    if not cfgs:
        return {}
    keys = {group_key(c) for c in cfgs}
    if len(keys) != 1:
        raise ValueError(f"decide_group: the runs span {len(keys)} budget groups: {sorted(keys)}")
    first = cfgs[0]
    with _group_lock(first):
        rungs = read_rungs(first)
        rungs += [{} for _ in range(rung + 1 - len(rungs))]
        before, taken = latest_decisions(rungs[:rung]), rungs[rung]
        names = [RunDir.for_config(c).path.name for c in cfgs]
        if all(n in taken or _stopped(before.get(n)) for n in names):
            return latest_decisions(rungs)
        standings = group_standings(cfgs, {**before, **taken}, rung)
        if rung:
            standings = steadied(standings, before)
        new = {d.run: dataclasses.replace(d, rung=rung)
               for d in decide(standings, first.early_stop.margin, first.early_stop.beaten_by)
               if d.run not in taken and not _stopped(before.get(d.run))}
        rungs[rung] = {**taken, **new}
        e = first.early_stop
        body = {"group": group_key(first), "fraction": e.fraction, "again_at": list(e.again_at), "margin": e.margin,
                "beaten_by": e.beaten_by, "floor": check_floor(e.floor, "early_stop.floor"), "level": e.level,
                "gaps": e.gaps,
                "members": {n: d.to_dict() for n, d in latest_decisions(rungs).items()},
                "rungs": [{n: d.to_dict() for n, d in members.items()} for members in rungs]}
        atomic_write(decisions_file(first), lambda f: f.write(json.dumps(body, indent=1).encode()))
    for d in new.values():
        log.info("%s: early stopping at decision step %d: %s (%s)", d.run, rung, d.action, d.reason)
    return latest_decisions(rungs)


def _recorded_standing(cfg: TrainConfig, taken: MemberDecision | None) -> Standing | None:
    """A member's standing from what it recorded (finished, diverged, stopped earlier, a damaged
    result); None when it is to be predicted."""
    run = RunDir.for_config(cfg)
    name = run.path.name
    try:
        result = run.read_result() or {}
    except DamagedFile as err:
        return Standing(name, None, None, False, str(err))
    status = result.get("status")
    if status == COMPLETE and isinstance(result.get("final_eval_loss"), (int, float)):
        loss = float(result["final_eval_loss"])
        return Standing(name, loss, (loss, loss), False, "finished")
    if status == DIVERGED:
        return Standing(name, None, None, False, "diverged")
    if (status == STOPPED_EARLY or _stopped(taken)) and taken is not None and taken.predicted is not None:
        return Standing(name, taken.predicted, taken.interval, False, "stopped earlier",
                        taken.predicted_at_step, taken.steps, taken.predicted_from)
    return None


def predicted_standing(p: Any, at: int | None, gaps: bool = False) -> Standing:
    """A member's standing from its prediction (a sweep.fit.predict.RunPrediction) at its decision
    step `at`. The curve law's interval is acted on as calibrated on the sweep's finished smaller
    runs (sweep/fit/calibration.py), or, where the sweep has no finished smaller run, as calibrated
    on the group's own first halves (the bootstrap's, where none of those can be predicted:
    sweep/fit/predict.py calibrated_by_own_halves); where it has some but the law can predict none
    of them at that fraction of their steps, the interval has no measure of the law's error there
    and stands for nothing: the member is not stopped and is no comparator. On the early-stopping
    benchmark's six grids the law at 10% could predict no smaller run, its intervals held the final
    loss for 62% of the runs, and one of them, too sure, made a width's best learning rate look
    beaten (benchmarks/RESULTS.md "Calibrated on the finished smaller runs"). The collapse's band
    alike: calibrated on the sweep's finished pairs of smaller sizes where it has some, and not
    acted on where it has some but none could be predicted at that fraction. With `gaps`
    (early_stop.gaps) a collapse prediction also brings the calibration of the gaps between two
    predictions (decide compares two members that both have one by it)."""
    from sweep.fit.curve_law import FinalLossPrediction

    name = p.run
    compared_by = None  # the collapse's calibrated gaps, with early_stop.gaps
    if p.prediction is None:
        return Standing(name, None, None, False, f"not predicted: {p.skipped}")
    seen = p.prediction.steps_seen
    if at is None or seen < at:
        return Standing(name, None, None, False, f"not predicted: records only up to step {seen} of decision step {at}")
    if isinstance(p.prediction, FinalLossPrediction):
        calibration = p.prediction.calibration
        if calibration is not None and not calibration.measured:
            return Standing(name, None, None, False, f"not acted on: the curve law's interval is {calibration.describe()}")
        source = f"curve law, {calibration.describe()}" if calibration is not None else \
            "curve law, the bootstrap's interval (not calibrated: no finished smaller run, and none of the group's " \
            "first halves could be predicted; such intervals held 27-85% of final losses on the benchmark)"
    else:
        calibration = p.prediction.calibration
        if calibration is not None and not calibration.measured:
            return Standing(name, None, None, False, f"not acted on: the collapse's band is {calibration.describe()}")
        source = f"collapse from {p.prediction.reference}, E = {p.prediction.floor:.4g}" + (
            f" {p.prediction.floor_from}" if p.prediction.floor_from else "") + (
            f", its band {calibration.describe()}" if calibration is not None else "")
        if gaps and p.prediction.gaps is not None:
            compared_by = p.prediction.gaps
            source = f"{source}; the gaps {compared_by.describe()}"
    return Standing(name, p.prediction.predicted, tuple(p.prediction.interval), True, "", at, p.prediction.steps,
                    source, gaps=compared_by)


def result_fields(decision: MemberDecision, level: float) -> dict[str, Any]:
    """What result.json (and the W&B summary) of a decided run records: for a stopped one its
    predicted final eval loss, its interval and the interval's level (early_stop.level) at top level
    (what the lr / batch laws read: the level turns the interval into a standard error), and the
    whole decision under `early_stop`."""
    out: dict[str, Any] = {"early_stop": decision.to_dict()}
    if decision.action == STOP:
        out.update(predicted_final_eval_loss=decision.predicted,
                   predicted_interval=list(decision.interval) if decision.interval else None,
                   predicted_interval_level=level)
    return out


def finished_elsewhere(cfgs: Sequence[TrainConfig]) -> list[RunDir]:
    """The complete runs of the group's sweep folder outside the group at a member's learning
    rate, batch size, weight decay and tokens per parameter (as their result.json records them):
    where its members find a finished run of another size at their settings (early_stop.floor;
    sweep/fit/collapse.py, which checks the rest of the settings). Only these are read whole."""
    members = {RunDir.for_config(c).path.name for c in cfgs}
    settings = {(c.optim.lr, c.train.batch_size, c.optim.weight_decay, c.budget.tokens_per_param) for c in cfgs}
    return [run for run, result in _complete_runs(cfgs[0].out_dir) if run.path.name not in members
            and tuple(result.get(k) for k in ("lr", "batch_size", "weight_decay", "tokens_per_param")) in settings]


def finished_smaller(cfgs: Sequence[TrainConfig]) -> list[RunDir]:
    """The complete runs of the group's sweep folder with fewer parameters than its members (as
    their result.json records N): what the curve law's intervals of the members are calibrated on
    (sweep/fit/predict.py calibrated_by_smaller), as a sweep's smaller runs finish first."""
    n_params = compute_budget(cfgs[0]).n_params
    return [run for run, result in _complete_runs(cfgs[0].out_dir)
            if isinstance(result.get("n_params"), (int, float)) and result["n_params"] < n_params]


def _complete_runs(out_dir: str) -> Iterator[tuple[RunDir, dict[str, Any]]]:
    """(run folder, its result) for each complete run of the sweep folder; a damaged result is
    passed over (it is neither a reference nor a calibrator; its own job reports it)."""
    from sweep.rundir import iter_run_dirs

    for run in iter_run_dirs(out_dir):
        try:
            result = run.read_result() or {}
        except DamagedFile:
            continue
        if result.get("status") == COMPLETE:
            yield run, result


def group_standings(cfgs: Sequence[TrainConfig], taken: dict[str, MemberDecision], rung: int = 0) -> list[Standing]:
    """What every member of one budget group brings to its decision, in order: a finished run its
    actual final eval loss, a run stopped earlier the prediction it was stopped with (`taken`: each
    member's latest decision); the members to be predicted are predicted together, each from its
    records up to its decision step `rung` (decision_steps), sharing the curve law's alpha,
    A and C (sweep/fit/predict.py predict_runs): at the probe step each member has seen little
    annealing, and the group's runs at their different learning rates pin it down together. With
    early_stop.floor, a member with finished runs of another size at its settings but the learning
    rate in the sweep folder is predicted from them instead (the collapse of curves, matched by the
    summed learning rate: sweep/fit/collapse.py). The curve
    law's intervals are calibrated on the sweep's finished smaller runs (finished_smaller)."""
    from sweep.fit.predict import predict_runs

    out = [_recorded_standing(c, taken.get(RunDir.for_config(c).path.name)) for c in cfgs]
    todo = [i for i, s in enumerate(out) if s is None]
    if todo:
        e = cfgs[todo[0]].early_stop
        floor = check_floor(e.floor, "early_stop.floor")
        at = [decision_steps(cfgs[i])[rung] for i in todo]
        predictions = predict_runs([RunDir.for_config(cfgs[i]) for i in todo], at,
                                   n_resamples=e.resamples, level=e.level, seed=cfgs[todo[0]].seed, floor=floor,
                                   references=[] if floor is None else finished_elsewhere(cfgs),
                                   calibrators=finished_smaller(cfgs), margin=e.margin)
        for i, p, step in zip(todo, predictions, at):
            out[i] = dataclasses.replace(predicted_standing(p, step, e.gaps),
                                         not_collapsed="" if floor is None else collapse_note(p))
    return out


def collapse_note(p: Any) -> str:
    """Why a member of a group decided with early_stop.floor is not predicted by the collapse from
    a finished run of another size (p: a sweep.fit.predict.RunPrediction); "" where it is. Its
    reason said only the curve law's ('still in its initial descent'), not that its reference was
    still on its initial plateau at that fraction, or that the sweep held none at its settings."""
    if isinstance(p.prediction, CollapsePrediction):
        return ""
    why = p.collapse_skipped or ("the sweep folder holds no finished run of another size at its settings but the "
                                 "learning rate (batch size, weight decay, tokens per parameter, ...) to predict it "
                                 "from")
    return f"not from the collapse (early_stop.floor): {why}"
